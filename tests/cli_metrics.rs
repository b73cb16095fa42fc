//! `wharf metrics`: a real pipeline on the process backend (a fanned-out
//! train step whose log prints its loss, an evaluate step that writes a
//! metrics file), run with two sets of params and then from the cache;
//! the table, the JSON, `--diff`, cached rows naming the run they came
//! from; files that cannot be read; runs that do not exist.

mod common;
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

/// A temporary project holding `p.wharf`.
fn project(pipeline: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("p.wharf"), pipeline).expect("write pipeline");
    dir
}

/// `wharf run p.wharf ARGS` in `dir`, which must succeed; the run's id.
fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = wharf_in(dir)
        .args(["run", "p.wharf"])
        .args(args)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    show_last(dir)["run"]["id"].as_str().expect("a run id").to_string()
}

fn metrics(dir: &Path, args: &[&str]) -> Output {
    wharf_in(dir).arg("metrics").args(args).output().expect("runs")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {}", stdout_of(out)))
}

const PIPELINE: &str = r#"pipeline p {
  param loss : float = 0.25
  param auc  : float = 0.85
  for region in ["eu", "us"] {
    train fit {
      command = ["sh", "-c", "echo epoch 1 loss=0.9; echo region ${region} > \"$SM_MODEL_DIR/model.txt\"; echo epoch 2 loss=${params.loss}"]
      metrics { loss = "loss=([0-9.]+)", epoch = "epoch ([0-9]+)" }
    }
  }
  step evaluate {
    command = ["sh", "-c", "echo '{\"auc\": ${params.auc}, \"scores\": {\"f1\": 0.8}, \"per_class\": [0.7, 0.9], \"passed\": true, \"label\": \"v1\", \"note\": null}' > \"$WHARF_OUTPUT_METRICS/metrics.json\"; echo '{\"auc\": 1}' > \"$WHARF_OUTPUT_REPORT/report.json\""]
    inputs  { models = fit[*].model }
    outputs { metrics = file("metrics.json"), report = file("report.json") }
  }
}
target local { backend = process }
"#;

#[test]
fn metrics_of_a_run_then_their_changes_then_the_cache() {
    let dir = project(PIPELINE);
    let first = run_ok(dir.path(), &[]);

    let out = metrics(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        "\
STEP      SOURCE        METRIC        VALUE
evaluate  metrics.json  auc           0.85
evaluate  metrics.json  scores.f1     0.8
evaluate  metrics.json  per_class[0]  0.7
evaluate  metrics.json  per_class[1]  0.9
evaluate  metrics.json  passed        true
evaluate  metrics.json  label         v1
fit-eu    log           epoch         2
fit-eu    log           loss          0.25
fit-us    log           epoch         2
fit-us    log           loss          0.25
",
        "only the output named `metrics` is a metrics file (not `report`); null is left out"
    );
    assert_eq!(stderr_of(&out), "", "nothing to note");

    let out = metrics(dir.path(), &[&first, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let json = json_of(&out);
    assert_eq!(json["version"], 1);
    assert_eq!(json["run"], first.as_str());
    let rows = json["metrics"].as_array().expect("metrics");
    assert_eq!(rows.len(), 10);
    assert_eq!(
        rows[0],
        json!({"step": "evaluate", "source": "metrics.json", "metric": "auc", "value": 0.85, "from_run": null})
    );
    assert_eq!(rows[4]["value"], json!(true));
    assert_eq!(rows[5]["value"], json!("v1"));
    assert_eq!(
        rows[7],
        json!({"step": "fit-eu", "source": "log", "metric": "loss", "value": 0.25, "from_run": null})
    );
    assert_eq!(rows[6]["value"], json!(2), "an integer stays an integer");

    let second = run_ok(dir.path(), &["-p", "loss=0.5", "-p", "auc=0.91"]);
    let out = metrics(dir.path(), &["--diff", &first]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        "\
STEP      SOURCE        METRIC        OLD   NEW   CHANGE
evaluate  metrics.json  auc           0.85  0.91  +0.06
evaluate  metrics.json  scores.f1     0.8   0.8   0
evaluate  metrics.json  per_class[0]  0.7   0.7   0
evaluate  metrics.json  per_class[1]  0.9   0.9   0
evaluate  metrics.json  passed        true  true  -
evaluate  metrics.json  label         v1    v1    -
fit-eu    log           epoch         2     2     0
fit-eu    log           loss          0.25  0.5   +0.25
fit-us    log           epoch         2     2     0
fit-us    log           loss          0.25  0.5   +0.25
"
    );
    let out = metrics(dir.path(), &[&first, "--diff", &second, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let json = json_of(&out);
    assert_eq!(
        (json["version"].clone(), json["old"].clone()),
        (json!(1), json!(second))
    );
    assert_eq!(json["new"], first.as_str());
    assert_eq!(
        json["metrics"][0],
        json!({"step": "evaluate", "source": "metrics.json", "metric": "auc", "old": 0.91, "new": 0.85, "change": -0.06})
    );
    assert_eq!(json["metrics"][4]["change"], Value::Null, "booleans have no change");
    assert_eq!(json["metrics"][9]["change"], json!(-0.25));

    // The defaults again: every step comes from the first run's cache.
    let third = run_ok(dir.path(), &[]);
    assert_eq!(step_statuses(dir.path()), ["cached"; 3]);
    let out = metrics(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "STEP      SOURCE        METRIC        VALUE  CACHED FROM");
    assert_eq!(
        lines[1],
        format!("evaluate  metrics.json  auc           0.85   {first}")
    );
    assert_eq!(
        lines[10],
        format!("fit-us    log           loss          0.25   {first}")
    );
    assert_eq!(lines.len(), 11);
    let json = json_of(&metrics(dir.path(), &["last", "--format", "json"]));
    assert_eq!(json["run"], third.as_str());
    assert!(
        json["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .all(|m| m["from_run"] == first.as_str()),
        "{json:#}"
    );

    // Nothing changed since the first run.
    let out = metrics(dir.path(), &["--diff", &first, "--format", "json"]);
    let json = json_of(&out);
    let changes: Vec<&Value> = json["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| &m["change"])
        .collect();
    assert_eq!(changes.iter().filter(|c| c.is_number()).count(), 8);
    assert!(
        changes.iter().all(|c| c.is_null() || c.as_f64() == Some(0.0)),
        "{json:#}"
    );

    // A run without the cache replaces the cache entries of these keys; the
    // cached run still names the run whose outputs (and logs) it took.
    let fourth = run_ok(dir.path(), &["--no-cache"]);
    let json = json_of(&metrics(dir.path(), &[&third, "--format", "json"]));
    assert!(
        json["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .all(|m| m["from_run"] == first.as_str()),
        "{json:#}"
    );
    let json = json_of(&metrics(dir.path(), &[&fourth, "--format", "json"]));
    assert!(
        json["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .all(|m| m["from_run"].is_null()),
        "{json:#}"
    );
}

fn step_statuses(dir: &Path) -> Vec<String> {
    show_last(dir)["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["status"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_file_that_cannot_be_read_is_a_row_with_its_error_and_exit_one() {
    let dir = project(
        r#"pipeline p {
  step good {
    command = ["sh", "-c", "echo '{\"auc\": 0.9}' > \"$WHARF_OUTPUT_METRICS/m.json\""]
    outputs { metrics = file("m.json") }
  }
  step broken {
    command = ["sh", "-c", "printf '{\"auc\": 0.9,' > \"$WHARF_OUTPUT_METRICS/m.json\""]
    outputs { metrics = file("m.json") }
  }
  step scalar {
    command = ["sh", "-c", "echo 0.5 > \"$WHARF_OUTPUT_METRICS/m.json\""]
    outputs { metrics = file("m.json") }
  }
}
target local { backend = process }
"#,
    );
    let run = run_ok(dir.path(), &[]);
    let out = metrics(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let text = stdout_of(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "STEP    SOURCE  METRIC  VALUE");
    assert_eq!(
        lines[1..],
        [
            "broken  m.json  -       error: not valid JSON: EOF while parsing a value at line 1 column 12",
            "good    m.json  auc     0.9",
            "scalar  m.json  -       error: holds a single value; a metrics file is a JSON object, as in {\"auc\": 0.91}",
        ]
    );

    let out = metrics(dir.path(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json = json_of(&out);
    let broken = &json["metrics"][0];
    assert_eq!(
        (broken["metric"].clone(), broken["value"].clone()),
        (Value::Null, Value::Null)
    );
    assert!(
        broken["error"].as_str().is_some_and(|e| e.contains("not valid JSON")),
        "{json:#}"
    );

    // A file deleted since is an error too; the diff says which side.
    let folder = output_dir(dir.path(), "good", "metrics");
    std::fs::remove_file(folder.join("m.json")).expect("remove");
    let out = metrics(dir.path(), &["--diff", &run, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json = json_of(&out);
    let good = json["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["step"] == "good")
        .expect("a row for good");
    assert!(
        good["old_error"].as_str().is_some_and(|e| e.contains("cannot read")),
        "{json:#}"
    );
    assert!(good["new_error"].is_string() && good["change"].is_null(), "{json:#}");
}

#[test]
fn a_train_step_without_a_cache_entry_reads_its_definitions_from_the_file() {
    let dir = project(
        r#"pipeline p {
  train fit {
    command = ["sh", "-c", "echo loss=0.125; echo acc=high"]
    metrics { loss = "loss=([0-9.]+)", acc = "acc=(.+)" }
    cache   = off
  }
}
target local { backend = process }
"#,
    );
    run_ok(dir.path(), &[]);
    let out = metrics(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        "STEP  SOURCE  METRIC  VALUE\nfit   log     loss    0.125\n"
    );
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("note: `fit` made no cache entry") && stderr.contains("read from `p.wharf` as it is now"),
        "{stderr}"
    );
    assert!(
        stderr.contains("note: no line of the log of `fit` matches metric `acc`"),
        "a non-numeric value is passed over, as SageMaker does: {stderr}"
    );
}

#[test]
fn a_run_without_metrics_says_so_and_succeeds() {
    let dir = project(
        r#"pipeline p {
  step s {
    command = ["sh", "-c", "echo '{\"auc\": 1}' > \"$WHARF_OUTPUT_REPORT/report.json\""]
    outputs { report = file("report.json") }
  }
}
target local { backend = process }
"#,
    );
    let run = run_ok(dir.path(), &[]);
    let out = metrics(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "STEP  SOURCE  METRIC  VALUE\n");
    assert!(
        stderr_of(&out).contains(&format!("run {run} recorded no metrics")),
        "{}",
        stderr_of(&out)
    );
    let out = metrics(dir.path(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json_of(&out), json!({"version": 1, "run": run, "metrics": []}));
    let out = metrics(dir.path(), &["--diff", "last"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_of(&out), "STEP  SOURCE  METRIC  OLD  NEW  CHANGE\n");
}

#[test]
fn unknown_runs_and_a_missing_database_exit_two() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = metrics(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains(".wharf/state.db does not exist"),
        "{}",
        stderr_of(&out)
    );
    assert!(!dir.path().join(".wharf").exists(), "looking creates nothing");

    let h = history::History::churn();
    for args in [&["2027"][..], &["last", "--diff", "2027"]] {
        let out = h.wharf().arg("metrics").args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr_of(&out).contains("no run `2027`"), "{}", stderr_of(&out));
        assert!(out.stdout.is_empty());
    }
}
