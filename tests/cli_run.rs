//! `wharf run` end to end on the process backend: real pipelines of shell
//! commands in a temporary project, checked through exit codes, outputs on
//! disk and the state store.

mod common;
use common::*;
use std::path::Path;
use std::process::Output;

/// A temporary project holding `p.wharf`.
fn project(pipeline: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("p.wharf"), pipeline).expect("write pipeline");
    dir
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = wharf();
    cmd.current_dir(dir).arg("run").arg("p.wharf").args(args);
    cmd.output().expect("runs")
}

fn show_json(dir: &Path) -> serde_json::Value {
    let out = wharf()
        .current_dir(dir)
        .args(["show", "last", "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn step_status(show: &serde_json::Value, step: &str) -> String {
    show["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["step"] == step))
        .and_then(|s| s["status"].as_str())
        .unwrap_or("missing")
        .to_string()
}

const CHAIN: &str = r#"pipeline p {
  param word : string = "hi"
  step make {
    command = ["sh", "-c", "echo ${params.word} > \"$WHARF_OUTPUT_OUT/word.txt\"; echo made"]
    inputs  { seed = "seed.txt" }
    outputs { out = dir() }
  }
  step shout {
    command = ["sh", "-c", "tr a-z A-Z < \"$WHARF_INPUT_WORD/word.txt\" > \"$WHARF_OUTPUT_OUT/loud.txt\""]
    inputs  { word = make.out }
    outputs { out = dir() }
  }
}
target local { backend = process }
"#;

#[test]
fn a_pipeline_runs_then_comes_from_the_cache_then_reruns_when_an_input_changes() {
    let dir = project(CHAIN);
    std::fs::write(dir.path().join("seed.txt"), "1").expect("seed");
    let out = run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("make | made"),
        "live log lines are prefixed: {}",
        stderr_of(&out)
    );
    let show = show_json(dir.path());
    assert_eq!(step_status(&show, "shout"), "succeeded");
    let loud = std::fs::read_dir(dir.path().join(".wharf/runs"))
        .expect("runs folder")
        .flat_map(|run| std::fs::read_to_string(run.expect("run").path().join("shout/1/outputs/out/loud.txt")))
        .next()
        .expect("loud.txt");
    assert_eq!(loud.trim(), "HI");

    let again = run_in(dir.path(), &[]);
    assert_eq!(again.status.code(), Some(0));
    let show = show_json(dir.path());
    assert_eq!(
        (step_status(&show, "make"), step_status(&show, "shout")),
        ("cached".into(), "cached".into())
    );

    std::fs::write(dir.path().join("seed.txt"), "2").expect("seed");
    let why = wharf()
        .current_dir(dir.path())
        .args(["why", "p.wharf", "make"])
        .output()
        .expect("runs");
    assert!(why.status.success(), "{}", stderr_of(&why));
    assert!(stdout_of(&why).contains("input `seed` changed"), "{}", stdout_of(&why));
    let third = run_in(dir.path(), &[]);
    assert_eq!(third.status.code(), Some(0));
    let show = show_json(dir.path());
    assert_eq!(
        step_status(&show, "make"),
        "succeeded",
        "a changed input reruns the step"
    );
    assert_eq!(
        step_status(&show, "shout"),
        "cached",
        "same output content: the next step stays cached"
    );

    let overridden = run_in(dir.path(), &["-p", "word=yo"]);
    assert_eq!(overridden.status.code(), Some(0));
    assert_eq!(step_status(&show_json(dir.path()), "shout"), "succeeded");
}

#[test]
fn failures_retry_and_exit_one_with_the_reason() {
    let dir = project(
        r#"pipeline p {
  step flaky {
    command = ["sh", "-c", "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 2 ] && touch \"$WHARF_OUTPUT_OUT/ok\"; [ $n -ge 2 ] || { echo try $n failed; exit 7; }"]
    outputs { out = dir() }
    retry   { attempts = 2, backoff = 10ms }
  }
  step broken {
    command = ["sh", "-c", "echo nope; exit 3"]
    after   = [flaky]
  }
}
target local { backend = process }
"#,
    );
    let out = run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let show = show_json(dir.path());
    assert_eq!(step_status(&show, "flaky"), "succeeded");
    assert_eq!(step_status(&show, "broken"), "failed");
    let stderr = stderr_of(&out);
    assert!(stderr.contains("code 3") && stderr.contains("nope"), "{stderr}");
}

#[test]
fn a_timeout_fails_the_step() {
    let dir = project(
        "pipeline p { step slow { command = [\"sleep\", \"30\"] timeout = 500ms } }\ntarget local { backend = process }\n",
    );
    let started = std::time::Instant::now();
    let out = run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the timeout stopped it"
    );
    assert!(stderr_of(&out).contains("timed out after 500ms"), "{}", stderr_of(&out));
}

#[test]
fn keep_going_runs_everything_not_downstream_of_a_failure() {
    let dir = project(
        r#"pipeline p {
  step bad   { command = ["false"] outputs { out = dir() } }
  step after { command = ["true"] inputs { i = bad.out } }
  step other { command = ["sh", "-c", "echo fine"] }
}
target local { backend = process }
"#,
    );
    let out = run_in(dir.path(), &["--keep-going", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let show = show_json(dir.path());
    assert_eq!(step_status(&show, "after"), "skipped");
    assert_eq!(step_status(&show, "other"), "succeeded");
}

#[test]
fn conditions_decide_at_run_time() {
    for (auc, want) in [("0.9", "succeeded"), ("0.2", "skipped")] {
        let dir = project(&format!(
            r#"pipeline p {{
  step evaluate {{
    command = ["sh", "-c", "echo '{{\"auc\": {auc}}}' > \"$WHARF_OUTPUT_METRICS/metrics.json\""]
    outputs {{ metrics = file("metrics.json") }}
  }}
  step deploy {{ command = ["true"] }} when evaluate.metrics.auc >= 0.8
}}
target local {{ backend = process }}
"#
        ));
        let out = run_in(dir.path(), &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        assert_eq!(step_status(&show_json(dir.path()), "deploy"), want, "auc {auc}");
    }
}

#[test]
fn the_hello_example_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(root().join("pipelines/hello.wharf"), dir.path().join("p.wharf")).expect("copy");
    let out = run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let show = show_json(dir.path());
    for step in ["greet-world", "greet-wharf", "collect", "celebrate"] {
        assert_eq!(step_status(&show, step), "succeeded", "{step}");
    }
}

#[test]
fn bad_input_is_refused_before_anything_runs() {
    let dir = project(CHAIN);
    let out = run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2), "missing input file");
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("seed.txt") && stderr.contains("does not exist"),
        "{stderr}"
    );
    assert!(!dir.path().join(".wharf/runs").exists(), "nothing started");

    std::fs::write(dir.path().join("seed.txt"), "1").expect("seed");
    std::fs::create_dir_all(dir.path().join(".wharf")).expect("mkdir");
    std::fs::write(
        dir.path().join(".wharf/state.db"),
        "garbage that is not a database at all",
    )
    .expect("write");
    let out = run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("move it aside"), "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".wharf/state.db")).expect("kept"),
        "garbage that is not a database at all",
        "nothing overwritten"
    );

    let dir = project(CHAIN);
    std::fs::write(dir.path().join("seed.txt"), "1").expect("seed");
    std::fs::write(dir.path().join(".wharf"), "a file where the folder should be").expect("write");
    let out = run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("cannot write the state database: the state folder")
            && stderr_of(&out).contains("is a file, not a folder"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn resume_after_a_failure_runs_only_what_did_not_finish() {
    let dir = project(
        r#"pipeline p {
  step first {
    command = ["sh", "-c", "echo run >> first.count; echo x > \"$WHARF_OUTPUT_OUT/x\""]
    outputs { out = dir() }
    cache   = off
  }
  step second {
    command = ["sh", "-c", "[ -e fixed ] || { echo not yet; exit 1; }; echo y > \"$WHARF_OUTPUT_OUT/y\""]
    inputs  { x = first.out }
    outputs { out = dir() }
  }
}
target local { backend = process }
"#,
    );
    let out = run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::write(dir.path().join("fixed"), "").expect("fix");
    let out = run_in(dir.path(), &["--resume"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let count = std::fs::read_to_string(dir.path().join("first.count")).expect("count");
    assert_eq!(count.lines().count(), 1, "the step that succeeded did not run again");
    let show = show_json(dir.path());
    assert_eq!(step_status(&show, "second"), "succeeded");
    let runs = wharf()
        .current_dir(dir.path())
        .args(["runs", "--format", "json"])
        .output()
        .expect("runs");
    let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).expect("JSON");
    assert_eq!(
        runs["runs"].as_array().map(Vec::len),
        Some(1),
        "resume goes on with the same run"
    );
    let nothing = run_in(dir.path(), &["--resume"]);
    assert_eq!(nothing.status.code(), Some(2), "nothing left to resume");
}

#[test]
fn a_state_database_from_a_newer_wharf_is_refused() {
    let dir = project(CHAIN);
    std::fs::write(dir.path().join("seed.txt"), "1").expect("seed");
    assert_eq!(run_in(dir.path(), &[]).status.code(), Some(0));
    let db = rusqlite::Connection::open(dir.path().join(".wharf/state.db")).expect("open");
    db.pragma_update(None, "user_version", 42).expect("bump");
    drop(db);
    let out = run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("newer wharf"), "{}", stderr_of(&out));
}

#[test]
fn an_output_with_a_path_is_exported_there_and_restored_from_the_cache() {
    let dir = project(
        r#"pipeline exporting {
  step report {
    command = ["sh", "-c", "echo fresh > $WHARF_OUTPUT_SUMMARY/summary.txt"]
    outputs { summary = "exports/summary" }
  }
}
"#,
    );
    let out = run_in(dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let exported = dir.path().join("exports/summary/summary.txt");
    assert_eq!(std::fs::read_to_string(&exported).unwrap(), "fresh\n");
    std::fs::remove_dir_all(dir.path().join("exports")).unwrap();
    let again = run_in(dir.path(), &[]);
    assert!(again.status.success());
    assert_eq!(step_status(&show_json(dir.path()), "report"), "cached");
    assert_eq!(
        std::fs::read_to_string(&exported).unwrap(),
        "fresh\n",
        "a cache hit exports too"
    );
}

/// The summary lists steps in pipeline order even when cached ones finish
/// first, and says where the outputs are: the run's folder, what was
/// exported, and nothing about endpoints when there are none.
#[test]
fn the_summary_is_in_pipeline_order_and_says_where_the_outputs_are() {
    // On the second run `zeta` runs again (cache off) and takes a moment;
    // `mid` comes from the cache at once, `alpha` once `zeta` is done (same
    // output, same key). They finish mid, zeta, alpha; the pipeline's
    // order is zeta, alpha, mid.
    let dir = project(
        r#"pipeline p {
  step zeta {
    command = ["sh", "-c", "sleep 0.5; echo 1 > \"$WHARF_OUTPUT_OUT/x.txt\""]
    outputs { out = dir() }
    cache   = off
  }
  step alpha {
    command = ["sh", "-c", "cat \"$WHARF_INPUT_IN/x.txt\" > \"$WHARF_OUTPUT_OUT/x.txt\"; echo ok > \"$WHARF_OUTPUT_REPORT/r.txt\""]
    inputs  { in = zeta.out }
    outputs { out = dir(), report = "reports/alpha" }
  }
  step mid {
    command = ["sh", "-c", "echo 3 > \"$WHARF_OUTPUT_OUT/x.txt\""]
    outputs { out = dir() }
  }
}
target local { backend = process }
"#,
    );
    let out = run_in(dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = run_in(dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stderr = stderr_of(&out);
    let table = &stderr[stderr.find("STEP ").expect("the summary table")..];
    let rows: Vec<(&str, &str)> = table
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let mut cells = l.split_whitespace();
            Some((cells.next()?, cells.next()?))
        })
        .collect();
    assert_eq!(
        rows,
        [("zeta", "succeeded"), ("alpha", "cached"), ("mid", "cached")],
        "pipeline order:\n{table}"
    );
    let show = show_json(dir.path());
    let run = show["run"]["id"].as_str().expect("run id");
    assert!(
        table.contains(&format!(
            "\noutputs   .wharf/runs/{run}/ (`wharf show {run}` lists each)\n"
        )),
        "{table}"
    );
    assert!(table.contains("\nexported  alpha.report -> reports/alpha\n"), "{table}");
    assert!(!table.contains("endpoint"), "{table}");
    assert!(
        table
            .lines()
            .last()
            .is_some_and(|l| l.starts_with(&format!("run {run} succeeded"))),
        "the run's line is last:\n{table}"
    );
}

#[test]
fn what_the_target_cannot_run_is_refused_with_coded_diagnostics_before_anything_starts() {
    let dir = project(
        r#"pipeline p {
  step a { command = ["true"] inputs { d = "missing.txt" } outputs { out = dir() } }
  transform t { command = ["true"] inputs { model = a.out, data = "d.txt" } }
}
target local { backend = process }
"#,
    );
    std::fs::write(dir.path().join("d.txt"), "1").expect("write");
    let out = run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("error[input-not-found]: step `a` reads input `d` from ./missing.txt, which does not exist"),
        "{err}"
    );
    // The kinds a backend runs are one list, which `check` reads too: it
    // asks no `command` of a transform on process, and `run` refuses it.
    assert!(
        err.contains("error[unsupported-on-backend]: step `t` is a `transform` step, which the process backend cannot run yet\n  = help: place it on docker or sagemaker"),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");
    let out = run_in(dir.path(), &["--only", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("error[unknown-step]: --only nope: the pipeline has no step `nope`"),
        "{}",
        stderr_of(&out)
    );
}
