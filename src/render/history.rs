//! Recorded runs as text and JSON: the `wharf runs` table, the `wharf show`
//! header and step table, and the step table that `wharf run` ends with
//! (`render::progress::summary`). Reading the state store is the commands'
//! job; this module only lays out records it is given.

use super::table::Table;
use super::time;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write;
use wharf_runtime::state::{ArtifactRecord, AttemptRecord, RunRecord, StepRecord, StepStatus};

/// Longest reason shown in a table cell; JSON has the whole text.
const REASON_WIDTH: usize = 100;

/// One step of a run with everything recorded about it.
#[derive(Debug, Clone)]
pub struct StepHistory {
    pub record: StepRecord,
    /// Oldest first.
    pub attempts: Vec<AttemptRecord>,
    pub artifacts: Vec<ArtifactRecord>,
}

impl StepHistory {
    /// Why the step ended as it did: its own reason, else its last attempt's error.
    pub fn reason(&self) -> Option<&str> {
        self.record
            .reason
            .as_deref()
            .or_else(|| self.attempts.last().and_then(|a| a.error.as_deref()))
    }

    /// The reason, for the statuses that need one explained.
    fn shown_reason(&self) -> String {
        match self.record.status {
            StepStatus::Succeeded | StepStatus::Running | StepStatus::Pending => String::new(),
            _ => self.reason().map(one_line).unwrap_or_default(),
        }
    }
}

/// `wharf runs`: newest first, as the caller passes them.
pub fn runs_text(runs: &[RunRecord]) -> String {
    let mut table = Table::new(&["RUN", "PIPELINE", "TARGET", "STATUS", "STARTED", "DURATION"]);
    for run in runs {
        table.row(vec![
            run.id.clone(),
            run.pipeline.clone(),
            run.target.clone(),
            run.status.as_str().to_string(),
            time::local_datetime(run.started_ms),
            time::span(Some(run.started_ms), run.finished_ms),
        ]);
    }
    table.render()
}

/// A run as JSON: the record's fields plus `duration_ms` (null while it runs).
#[derive(Serialize)]
pub struct RunJson<'a> {
    #[serde(flatten)]
    pub run: &'a RunRecord,
    pub duration_ms: Option<u128>,
}

impl<'a> RunJson<'a> {
    pub fn new(run: &'a RunRecord) -> RunJson<'a> {
        RunJson {
            run,
            duration_ms: time::between(Some(run.started_ms), run.finished_ms).map(|d| d.as_millis()),
        }
    }
}

#[derive(Serialize)]
struct StepJson<'a> {
    #[serde(flatten)]
    step: &'a StepRecord,
    duration_ms: Option<u128>,
    attempts: &'a [AttemptRecord],
    artifacts: Vec<ArtifactJson<'a>>,
}

/// An output as `show --format json` gives it: `uri` is where its data is
/// (the file of a `file("x.json")` output), `folder` the output's folder.
#[derive(Serialize)]
struct ArtifactJson<'a> {
    run: &'a str,
    step: &'a str,
    output: &'a str,
    uri: String,
    folder: &'a str,
    size: u64,
    hash: &'a str,
}

impl<'a> ArtifactJson<'a> {
    fn new(a: &'a ArtifactRecord) -> ArtifactJson<'a> {
        ArtifactJson {
            run: &a.run,
            step: &a.step,
            output: &a.output,
            uri: a.file_uri(),
            folder: &a.uri,
            size: a.size,
            hash: &a.hash,
        }
    }
}

/// `wharf show --format json`: `{"run": {...}, "steps": [{..., "attempts", "artifacts"}]}`.
pub fn show_json(run: &RunRecord, steps: &[StepHistory]) -> Value {
    let steps: Vec<StepJson> = steps
        .iter()
        .map(|s| StepJson {
            step: &s.record,
            duration_ms: time::between(s.record.started_ms, s.record.finished_ms).map(|d| d.as_millis()),
            attempts: &s.attempts,
            artifacts: s.artifacts.iter().map(ArtifactJson::new).collect(),
        })
        .collect();
    serde_json::json!({ "run": RunJson::new(run), "steps": steps })
}

/// `wharf show`: the run's header, then its steps.
pub fn show_text(run: &RunRecord, steps: &[StepHistory]) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: &str| {
        let _ = writeln!(out, "{key:<10}{value}");
    };
    line("run", &run.id);
    line("pipeline", &run.pipeline);
    line("file", &run.file);
    line("target", &run.target);
    line("params", &params(&run.params));
    line("status", run.status.as_str());
    line("started", &time::local_datetime(run.started_ms));
    line("duration", &time::span(Some(run.started_ms), run.finished_ms));
    out.push('\n');
    if steps.is_empty() {
        out.push_str("no steps recorded\n");
    } else {
        out.push_str(&steps_table(steps));
    }
    if steps.iter().any(|s| !s.artifacts.is_empty()) {
        out.push('\n');
        out.push_str(&outputs_table(steps));
    }
    out
}

/// One row per recorded output, in the steps' order: `step.output`, the
/// bytes of its content, and where it is (the file of a `file()` output).
pub fn outputs_table(steps: &[StepHistory]) -> String {
    let mut table = Table::new(&["OUTPUT", "SIZE", "PATH"]);
    for s in steps {
        for a in &s.artifacts {
            table.row(vec![
                format!("{}.{}", a.step, a.output),
                wharf_runtime::size::human_bytes(a.size),
                location(&a.file_uri()),
            ]);
        }
    }
    table.render()
}

/// A local URI as the path it names; other URIs (`s3://`) as they are.
pub fn location(uri: &str) -> String {
    uri.strip_prefix("file://").unwrap_or(uri).to_string()
}

/// One row per step: name, status, attempts, duration, and why it failed,
/// was skipped or cached.
pub fn steps_table(steps: &[StepHistory]) -> String {
    let mut table = Table::new(&["STEP", "STATUS", "ATTEMPTS", "DURATION", "REASON"]);
    for s in steps {
        table.row(vec![
            s.record.step.clone(),
            s.record.status.as_str().to_string(),
            s.attempts.len().to_string(),
            time::span(s.record.started_ms, s.record.finished_ms),
            s.shown_reason(),
        ]);
    }
    table.render()
}

/// Params as `name=value` pairs; strings without their quotes.
fn params(value: &Value) -> String {
    match value {
        Value::Object(map) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(_) | Value::Null => "none".to_string(),
        other => other.to_string(),
    }
}

/// A reason on one line, cut to fit a table cell.
fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > REASON_WIDTH {
        format!("{}…", flat.chars().take(REASON_WIDTH - 1).collect::<String>())
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_read_as_assignments() {
        let value = serde_json::json!({"data": "d.csv", "max_depth": 6, "regions": ["eu", "us"]});
        assert_eq!(params(&value), r#"data=d.csv, max_depth=6, regions=["eu","us"]"#);
        assert_eq!(params(&serde_json::json!({})), "none");
    }

    #[test]
    fn long_reasons_are_cut_to_one_line() {
        assert_eq!(one_line("exit code 3:\n  Traceback"), "exit code 3: Traceback");
        let long = "x".repeat(300);
        assert_eq!(one_line(&long).chars().count(), REASON_WIDTH);
    }
}
