//! `wharf plan` says what `wharf run` then does, step by step: for a corpus
//! of pipelines and states (fresh, cached, inputs edited, cached outputs
//! edited or deleted by hand, `--only`/`--to`/`--from`, an unset secret, a
//! Docker image that is missing), `plan --format json` is read, the run
//! made with the same flags, and each step's verdict compared with the
//! status `show last --format json` records.
//!
//! The mapping: `cached` -> cached; `run` with a key -> succeeded; `run`
//! without a key (an upstream step runs first) -> succeeded, or cached when
//! the upstream step made the same outputs again; `skip` -> skipped;
//! `not-selected` -> not-selected; any `refused` -> the run exits 2 and
//! records nothing.

mod common;
use common::*;
use std::path::Path;

/// (step, verdict, has a key) from `wharf plan --format json`.
fn plan(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Vec<(String, String, bool, String)> {
    let out = wharf_in(dir)
        .args(["plan", "p.wharf", "--format", "json"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("plan runs");
    assert!(out.status.success(), "plan failed: {}", stderr_of(&out));
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    view["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            let d = &s["decision"];
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                d["verdict"].as_str().unwrap_or_default().to_string(),
                d["key"].is_string(),
                d["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn last_run_id(dir: &Path) -> Option<String> {
    let out = wharf_in(dir).args(["runs", "--format", "json"]).output().expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    runs.as_array()?.first()?["id"].as_str().map(String::from)
}

/// Plans, runs with the same flags, and checks they agree. Returns the
/// plan's verdicts and the run's statuses by step.
fn agree(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Vec<(String, String, String)> {
    let verdicts = plan(dir, args, env);
    let before = last_run_id(dir);
    let out = wharf_in(dir)
        .args(["run", "p.wharf"])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run runs");
    if verdicts.iter().any(|(_, v, _, _)| v == "refused") {
        assert_eq!(
            out.status.code(),
            Some(2),
            "the plan refused ({verdicts:?}) so the run must not start: {}",
            stderr_of(&out)
        );
        assert_eq!(last_run_id(dir), before, "a refused run records nothing");
        return verdicts
            .into_iter()
            .map(|(n, v, _, _)| (n, v, "not run".into()))
            .collect();
    }
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let show = show_last(dir);
    let statuses: Vec<(String, String)> = show["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap_or_default().to_string(),
                s["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut out = Vec::new();
    for (name, verdict, keyed, reason) in verdicts {
        let status = statuses
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("the run recorded no step `{name}`: {statuses:?}"));
        let agrees = match (verdict.as_str(), keyed) {
            ("cached", _) => status == "cached",
            ("run", true) => status == "succeeded",
            ("run", false) => status == "succeeded" || status == "cached",
            ("skip", _) => status == "skipped",
            ("not-selected", _) => status == "not-selected",
            _ => false,
        };
        assert!(
            agrees,
            "step `{name}`: plan said {verdict} ({reason}), the run did {status} (flags {args:?})"
        );
        out.push((name, verdict, status));
    }
    out
}

fn verdict_of<'a>(list: &'a [(String, String, String)], step: &str) -> &'a str {
    list.iter()
        .find(|(n, _, _)| n == step)
        .map(|(_, v, _)| v.as_str())
        .unwrap_or("")
}

fn status_of<'a>(list: &'a [(String, String, String)], step: &str) -> &'a str {
    list.iter()
        .find(|(n, _, _)| n == step)
        .map(|(_, _, s)| s.as_str())
        .unwrap_or("")
}

const PIPELINE: &str = r#"pipeline p {
  step prepare {
    command = ["sh", "-c", "mkdir -p $WHARF_OUTPUT_OUT/data && cp $WHARF_INPUT_RAW $WHARF_OUTPUT_OUT/data/x.csv && echo ok > $WHARF_OUTPUT_OUT/done"]
    inputs  { raw = "raw.csv" }
    outputs { out = dir() }
  }
  step train {
    command = ["sh", "-c", "cat $WHARF_INPUT_DATA/data/x.csv > $WHARF_OUTPUT_MODEL/model.txt"]
    inputs  { data = prepare.out }
    outputs { model = dir() }
  }
  step report {
    command = ["sh", "-c", "echo report > $WHARF_OUTPUT_OUT/r.txt"]
    outputs { out = dir() }
  }
}
"#;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("p.wharf"), PIPELINE).expect("write");
    std::fs::write(dir.path().join("raw.csv"), "1,2\n").expect("write");
    dir
}

/// The folder of `step`'s output `output` in the last run.
fn cached_output(dir: &Path, step: &str, output: &str) -> std::path::PathBuf {
    output_dir(dir, step, output)
}

#[test]
fn plan_agrees_with_run_through_the_cache_and_hand_edits() {
    let p = project();
    let dir = p.path();
    let fresh = agree(dir, &[], &[]);
    assert!(fresh.iter().all(|(_, v, _)| v == "run"), "{fresh:?}");
    let again = agree(dir, &[], &[]);
    assert!(again.iter().all(|(_, v, _)| v == "cached"), "{again:?}");

    // An input edited: prepare runs, train waits for it.
    std::fs::write(dir.join("raw.csv"), "1,3\n").expect("edit");
    let edited = agree(dir, &[], &[]);
    assert_eq!(
        (verdict_of(&edited, "prepare"), status_of(&edited, "train")),
        ("run", "succeeded")
    );

    // A file deleted from a cached output: its producer runs again (before,
    // the plan said cached and train ran on the damaged folder).
    let out = cached_output(dir, "prepare", "out");
    std::fs::remove_file(out.join("done")).expect("rm");
    let reasons = plan(dir, &[], &[]);
    assert!(
        reasons[0]
            .3
            .contains("its cached output `out` changed: done was deleted"),
        "{reasons:?}"
    );
    let why = wharf_in(dir).args(["why", "p.wharf", "prepare"]).output().expect("why");
    assert!(stdout_of(&why).contains("done was deleted"), "{}", stdout_of(&why));
    let deleted = agree(dir, &[], &[]);
    assert_eq!(
        (
            verdict_of(&deleted, "prepare"),
            status_of(&deleted, "prepare"),
            status_of(&deleted, "train")
        ),
        ("run", "succeeded", "cached"),
        "prepare made the same output again, so train is still cached"
    );
    assert!(out.join("done").exists() || cached_output(dir, "prepare", "out").join("done").exists());

    // A cached file edited by hand, same size: found, named, re-made.
    let x = cached_output(dir, "prepare", "out").join("data/x.csv");
    std::fs::write(&x, "9,9\n").expect("edit");
    let why = wharf_in(dir).args(["why", "p.wharf", "prepare"]).output().expect("why");
    assert!(
        stdout_of(&why).contains("data/x.csv was edited (content differs)"),
        "{}",
        stdout_of(&why)
    );
    let edited = agree(dir, &[], &[]);
    assert_eq!(status_of(&edited, "prepare"), "succeeded");
    let model = cached_output(dir, "train", "model").join("model.txt");
    assert_eq!(
        std::fs::read_to_string(model).expect("model"),
        "1,3\n",
        "train never saw the damage"
    );
}

#[test]
fn plan_agrees_with_run_on_only_to_and_from() {
    let p = project();
    let dir = p.path();
    // Nothing cached: --only and --from need upstream outputs, so both refuse.
    let only = agree(dir, &["--only", "train"], &[]);
    assert_eq!(verdict_of(&only, "prepare"), "refused", "{only:?}");
    let out = wharf_in(dir)
        .args(["run", "p.wharf", "--from", "train"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("step `prepare`") && err.contains("not in the cache"),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");

    // --to runs prepare only; train and report are not touched.
    let to = agree(dir, &["--to", "prepare"], &[]);
    assert_eq!(
        to.iter().map(|(n, _, s)| (n.as_str(), s.as_str())).collect::<Vec<_>>(),
        [
            ("prepare", "succeeded"),
            ("train", "not-selected"),
            ("report", "not-selected")
        ]
    );
    // --only runs exactly train, on prepare's cached output.
    let only = agree(dir, &["--only", "train"], &[]);
    assert_eq!(
        only.iter()
            .map(|(n, _, s)| (n.as_str(), s.as_str()))
            .collect::<Vec<_>>(),
        [
            ("prepare", "cached"),
            ("train", "succeeded"),
            ("report", "not-selected")
        ]
    );
    let from = agree(dir, &["--from", "train", "--no-cache"], &[]);
    assert_eq!(
        from.iter()
            .map(|(n, _, s)| (n.as_str(), s.as_str()))
            .collect::<Vec<_>>(),
        [
            ("prepare", "cached"),
            ("train", "succeeded"),
            ("report", "not-selected")
        ]
    );
    let all = agree(dir, &[], &[]);
    assert_eq!(status_of(&all, "report"), "succeeded");
}

#[test]
fn an_unset_secret_is_refused_by_plan_and_run_alike() {
    let (_dir, path) = temp_file(
        "p.wharf",
        r#"pipeline p {
  step fetch {
    command = ["sh", "-c", "echo $TOKEN | wc -c > $WHARF_OUTPUT_OUT/n"]
    env { TOKEN = secret("WHARF_TEST_UNSET_SECRET") }
    outputs { out = dir() }
  }
}
"#,
    );
    let dir = path.parent().expect("folder");
    let refused = agree(dir, &[], &[]);
    assert_eq!(verdict_of(&refused, "fetch"), "refused");
    let reasons = plan(dir, &[], &[]);
    assert!(
        reasons[0].3.contains("secret(\"WHARF_TEST_UNSET_SECRET\")"),
        "{reasons:?}"
    );
    let set = [("WHARF_TEST_UNSET_SECRET", "s3cr3t")];
    assert_eq!(status_of(&agree(dir, &[], &set), "fetch"), "succeeded");
    // Cached, but the secret is unset again: still refused, as the run would be.
    assert_eq!(verdict_of(&agree(dir, &[], &[]), "fetch"), "refused");
    assert_eq!(verdict_of(&agree(dir, &[], &set), "fetch"), "cached");
}

#[test]
fn a_missing_docker_image_is_refused_by_plan_and_run_alike() {
    if !docker::ready(&[docker::BUSYBOX]) {
        return;
    }
    let text = format!(
        r#"pipeline p {{
  step ok {{
    image   = "{busybox}"
    command = ["sh", "-c", "echo ok > $WHARF_OUTPUT_OUT/ok"]
    outputs {{ out = dir() }}
  }}
  step gone {{
    image   = "wharf-test/not-built-anywhere:1"
    command = ["sh", "-c", "echo never > $WHARF_OUTPUT_OUT/x"]
    inputs  {{ ok = ok.out }}
    outputs {{ out = dir() }}
  }}
}}
target local {{ backend = docker }}
"#,
        busybox = docker::BUSYBOX
    );
    let (_dir, path) = temp_file("p.wharf", &text);
    let dir = path.parent().expect("folder");
    let refused = agree(dir, &[], &[]);
    assert_eq!(verdict_of(&refused, "gone"), "refused", "{refused:?}");
    let reasons = plan(dir, &[], &[]);
    assert!(reasons[1].3.contains("wharf-test/not-built-anywhere:1"), "{reasons:?}");
    // Without the step that needs it, the rest runs, and is then cached.
    assert_eq!(status_of(&agree(dir, &["--to", "ok"], &[]), "ok"), "succeeded");
    let cached = agree(dir, &["--to", "ok"], &[]);
    assert_eq!(
        cached
            .iter()
            .map(|(n, v, _)| (n.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [("ok", "cached"), ("gone", "not-selected")]
    );
}

#[test]
fn an_export_onto_a_folder_wharf_did_not_make_is_refused_by_plan_and_run_alike() {
    let (_dir, path) = temp_file(
        "p.wharf",
        r#"pipeline p {
  param dest : string = "exports/report"
  step write {
    command = ["sh", "-c", "echo r > $WHARF_OUTPUT_OUT/r.txt"]
    outputs { out = "${params.dest}" }
  }
}
"#,
    );
    let dir = path.parent().expect("folder");
    std::fs::create_dir_all(dir.join("data")).expect("mkdir");
    std::fs::write(dir.join("data/mine.csv"), "1\n").expect("write");
    assert_eq!(status_of(&agree(dir, &[], &[]), "write"), "succeeded");
    // Cached, but now exported onto the user's folder: refused by both.
    let onto_data = ["-p", "dest=data"];
    assert_eq!(verdict_of(&agree(dir, &onto_data, &[]), "write"), "refused");
    assert_eq!(std::fs::read_to_string(dir.join("data/mine.csv")).expect("kept"), "1\n");
    // Its own earlier export is replaced: cached, and exported again.
    assert_eq!(verdict_of(&agree(dir, &[], &[]), "write"), "cached");
}

#[test]
fn a_kind_its_backend_cannot_run_is_refused_by_plan_why_and_run_alike() {
    // `check` accepts a transform on the process backend (another target of
    // the file may place it elsewhere); the run refuses it before starting,
    // and `plan` and `why` say so on the step rather than "will run".
    let (_dir, path) = temp_file(
        "p.wharf",
        r#"pipeline p {
  step prep {
    command = ["sh", "-c", "echo hi > $WHARF_OUTPUT_OUT/x"]
    outputs { out = dir() }
  }
  transform score {
    command = ["true"]
    inputs { model = prep.out, data = prep.out }
  }
}
"#,
    );
    let dir = path.parent().expect("folder");
    let verdicts = agree(dir, &[], &[]);
    assert_eq!(verdict_of(&verdicts, "score"), "refused");
    assert_eq!(verdict_of(&verdicts, "prep"), "run");
    let reasons = plan(dir, &[], &[]);
    let score = reasons.iter().find(|r| r.0 == "score").expect("score planned");
    assert!(score.3.contains("the process backend cannot run"), "{reasons:?}");
    let why = wharf_in(dir)
        .args(["why", "p.wharf", "score"])
        .output()
        .expect("why runs");
    assert!(
        stdout_of(&why).contains("the process backend cannot run"),
        "{}",
        stdout_of(&why)
    );
}
