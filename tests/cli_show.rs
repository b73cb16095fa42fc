//! `wharf show`: a run's header and steps as text and JSON, found by id,
//! prefix or `last`; unknown and ambiguous runs; unreadable databases.

mod common;
use common::history::*;
use common::*;

#[test]
fn show_text_by_prefix() {
    let h = History::churn();
    let out = h.wharf().args(["show", "20261125-1430"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    insta::assert_snapshot!(stdout_of(&out));
}

#[test]
fn a_whole_id_and_last_name_runs_too() {
    let h = History::churn();
    let out = h.wharf().args(["show", OLD_RUN]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stdout_of(&out).starts_with(&format!("run       {OLD_RUN}\n")),
        "{}",
        stdout_of(&out)
    );

    let out = h.wharf().args(["show", "last"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.starts_with(&format!("run       {RUNNING_RUN}\n")), "{stdout}");
    assert!(
        stdout.contains("status    running\n") && stdout.contains("duration  -\n"),
        "{stdout}"
    );
}

#[test]
fn show_json_has_the_run_its_steps_attempts_and_artifacts() {
    let h = History::churn();
    let out = h
        .wharf()
        .args(["show", FAILED_RUN, "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["run"]["id"], FAILED_RUN);
    assert_eq!(json["run"]["status"], "failed");
    assert_eq!(json["run"]["duration_ms"], 66_400);
    let steps = json["steps"].as_array().expect("steps");
    let names: Vec<(&str, &str)> = steps
        .iter()
        .map(|s| (s["step"].as_str().unwrap_or(""), s["status"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        names,
        [
            ("prepare", "succeeded"),
            ("fit", "failed"),
            ("evaluate", "skipped"),
            ("tools", "cached")
        ],
        "in the order they started; steps that never started last, by name"
    );
    let prepare = &steps[0];
    let outputs: Vec<&str> = prepare["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|a| a["output"].as_str())
        .collect();
    assert_eq!(outputs, ["test", "train"]);
    assert_eq!(prepare["duration_ms"], 1_230);
    let fit = &steps[1];
    let attempts = fit["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["error"], "exit code 137");
    assert_eq!(attempts[1]["log_path"], format!(".wharf/runs/{FAILED_RUN}/fit/2/log"));
    assert_eq!(fit["reason"], "exit code 3");
    assert_eq!(steps[3]["attempts"], serde_json::json!([]));
}

#[test]
fn an_unknown_run_lists_the_newest_ids() {
    let h = History::churn();
    let out = h.wharf().args(["show", "2027"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("no run `2027`"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the newest runs are `{RUNNING_RUN}`, `{FAILED_RUN}`, `{OLD_RUN}`"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("`last`"), "{stderr}");
}

#[test]
fn an_ambiguous_prefix_lists_what_it_matches() {
    let h = History::churn();
    let out = h.wharf().args(["show", "20261125"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("start of 2 run ids"), "{stderr}");
    assert!(stderr.contains(RUNNING_RUN) && stderr.contains(FAILED_RUN), "{stderr}");
    assert!(!stderr.contains(OLD_RUN), "{stderr}");
}

#[test]
fn without_history_show_says_where_runs_are_recorded() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = wharf_in(dir.path()).args(["show", "last"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(stderr.contains(".wharf/state.db does not exist"), "{stderr}");
    assert!(stderr.contains("help:"), "{stderr}");
    assert!(!dir.path().join(".wharf").exists());

    let h = History::empty();
    let out = h.wharf().args(["show", "last"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("no runs recorded yet"), "{}", stderr_of(&out));
}

#[test]
fn unreadable_databases_are_refused() {
    let h = History::churn();
    h.corrupt();
    let out = h.wharf().args(["show", "last"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(".wharf/state.db") && stderr.contains("move it aside"),
        "{stderr}"
    );

    let dir = newer_schema();
    let out = wharf_in(dir.path()).args(["show", "last"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("newer wharf"), "{}", stderr_of(&out));
}

/// What a real run records, as `show --format json` gives it: an attempt
/// that succeeded exited 0, an output's size is the bytes of its content
/// (not the folder entry's 4096), and a `file("x.json")` output's `uri`
/// names the file, its `folder` the folder. The text names the file too.
#[test]
fn show_gives_exit_code_0_content_sizes_and_the_files_uri() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("p.wharf"),
        r#"pipeline p {
  step make {
    command = ["sh", "-c", "head -c 10000 /dev/zero > \"$WHARF_OUTPUT_DATA/a.bin\"; mkdir \"$WHARF_OUTPUT_DATA/sub\"; printf 12345 > \"$WHARF_OUTPUT_DATA/sub/b.txt\"; echo '{\"auc\": 0.9}' > \"$WHARF_OUTPUT_METRICS/metrics.json\""]
    outputs { data = dir(), metrics = file("metrics.json") }
  }
}
target local { backend = process }
"#,
    )
    .expect("write pipeline");
    let out = wharf_in(dir.path()).args(["run", "p.wharf"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let show = show_last(dir.path());
    let step = &show["steps"][0];
    assert_eq!(step["attempts"][0]["status"], "succeeded");
    assert_eq!(step["attempts"][0]["exit_code"], 0, "{step}");
    let artifact = |name: &str| {
        step["artifacts"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["output"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no artifact {name}: {step}"))
    };
    let data = artifact("data");
    assert_eq!(data["size"], 10_005, "the bytes of the folder's files: {data}");
    assert_eq!(data["uri"], data["folder"], "a dir() output is its folder");
    let metrics = artifact("metrics");
    assert_eq!(metrics["size"], 13, "{metrics}");
    let uri = metrics["uri"].as_str().expect("a uri");
    let folder = metrics["folder"].as_str().expect("a folder");
    assert_eq!(uri, format!("{folder}/metrics.json"));
    let path = uri.strip_prefix("file://").expect("a local file");
    assert_eq!(
        std::fs::read_to_string(path).expect("the uri names the file"),
        "{\"auc\": 0.9}\n"
    );

    let out = wharf_in(dir.path()).args(["show", "last"]).output().expect("runs");
    let text = stdout_of(&out);
    assert!(text.contains("OUTPUT        SIZE     PATH\n"), "{text}");
    assert!(text.contains(&format!("make.metrics  13 B     {path}\n")), "{text}");
    assert!(text.contains("make.data     9.8 KiB  "), "{text}");
}
