//! The metrics of one recorded run, read from what the run recorded:
//!
//! - a step's output named `metrics` that is a `file("*.json")`, read from
//!   the file its artifact points at (the rule is the artifact's own
//!   output and file names, so every recorded run describes itself, and
//!   no pipeline file has to be compiled again: docs/language.md,
//!   "Metrics");
//! - a train step's `metrics { NAME = "regex" }`, read from its last
//!   attempt's log (`log_scan.rs`), with the definitions it ran with
//!   (`definitions.rs`).
//!
//! A cached step's metrics are those of the run that made its outputs: its
//! artifacts already point into that run's folder, and its log is that
//! run's step's. Steps come by name, so that two runs line up row by row.

use super::definitions::{Definitions, Origin};
use super::json_file;
use super::log_scan::{self, Found};
use super::metric::{LOG, Metric};
use crate::commands::state::StateDb;
use crate::render::history::StepHistory;
use std::path::Path;
use wharf_runtime::artifacts::ArtifactStore;
use wharf_runtime::state::{ArtifactRecord, RunRecord, StepStatus};

/// What `wharf metrics` shows of a run, and what it says beside it on stderr.
#[derive(Debug, Default)]
pub struct Collected {
    pub metrics: Vec<Metric>,
    pub notes: Vec<String>,
}

/// The output name that marks a JSON file as metrics.
pub const OUTPUT: &str = "metrics";

/// Whether an output is a metrics file: named `metrics`, a `file("*.json")`.
pub fn is_metrics_file(artifact: &ArtifactRecord) -> bool {
    artifact.output == OUTPUT && artifact.file.as_deref().is_some_and(|f| f.ends_with(".json"))
}

/// The run and step that made a step's outputs and wrote its log.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Maker {
    run: String,
    step: String,
}

pub fn collect(db: &StateDb, run: &RunRecord, files: &dyn ArtifactStore) -> anyhow::Result<Collected> {
    let mut steps = db.steps(&run.id)?;
    steps.sort_by(|a, b| a.record.step.cmp(&b.record.step));
    let mut definitions = Definitions::new(db, run);
    let mut out = Collected::default();
    for step in &steps {
        let maker = maker(db, run, step)?;
        let from_run = match step.record.status {
            StepStatus::Cached => maker.as_ref().map(|m| m.run.clone()),
            _ => None,
        };
        let row = |source: &str, metric: Option<String>, value: Result<serde_json::Value, String>| Metric {
            step: step.record.step.clone(),
            source: source.to_string(),
            metric,
            value,
            from_run: from_run.clone(),
        };
        for artifact in step.artifacts.iter().filter(|a| is_metrics_file(a)) {
            let source = artifact.file.clone().unwrap_or_default();
            let uri = artifact.file_uri();
            let read = match files.local_path(&uri) {
                Some(path) => json_file::read(&path),
                None => Err(format!(
                    "not downloaded: {uri} is not on this machine (wharf metrics reads only local files)"
                )),
            };
            match read {
                Ok(values) => out
                    .metrics
                    .extend(values.into_iter().map(|(k, v)| row(&source, Some(k), Ok(v)))),
                Err(e) => out.metrics.push(row(&source, None, Err(e))),
            }
        }
        train_log(db, run, step, maker.as_ref(), &mut definitions, &row, &mut out)?;
    }
    Ok(out)
}

/// Makes a row of the step being read, from its source, metric and value.
type RowOf<'a> = dyn Fn(&str, Option<String>, Result<serde_json::Value, String>) -> Metric + 'a;

/// A train step's `metrics { NAME = "regex" }`, read from the last attempt's
/// log of the step that made its outputs.
fn train_log(
    db: &StateDb,
    run: &RunRecord,
    step: &StepHistory,
    maker: Option<&Maker>,
    definitions: &mut Definitions,
    row: &RowOf,
    out: &mut Collected,
) -> anyhow::Result<()> {
    // A step that never started (skipped, not selected) has no log.
    let cached = step.record.status == StepStatus::Cached;
    if step.record.kind != "train" || (!cached && step.attempts.is_empty()) {
        return Ok(());
    }
    let name = &step.record.step;
    let regexes = match definitions.of(&step.record)? {
        Ok((regexes, origin)) => {
            if origin == Origin::FileNow && !regexes.is_empty() {
                out.notes.push(format!(
                    "`{name}` made no cache entry, so its metric definitions were not recorded: they are read from `{}` as it is now",
                    run.file
                ));
            }
            regexes
        }
        Err(why) => {
            out.notes.push(format!(
                "the metric definitions of `{name}` are not known: it made no cache entry, and {why}"
            ));
            return Ok(());
        }
    };
    if regexes.is_empty() {
        return Ok(());
    }
    let attempts = match &maker {
        Some(m) if m.run == run.id && &m.step == name => step.attempts.clone(),
        Some(m) => db.attempts(&m.run, &m.step)?,
        None => {
            out.metrics.push(row(
                LOG,
                None,
                Err("the run that made this cached step's outputs is not known".into()),
            ));
            return Ok(());
        }
    };
    let Some(last) = attempts.last() else {
        out.metrics.push(row(
            LOG,
            None,
            Err("the step that made these outputs recorded no attempt".into()),
        ));
        return Ok(());
    };
    let Some(log) = &last.log_path else {
        out.metrics.push(row(
            LOG,
            None,
            Err(format!("attempt {} recorded no log file", last.attempt)),
        ));
        return Ok(());
    };
    match log_scan::scan(Path::new(log), &regexes) {
        Err(e) => out.metrics.push(row(LOG, None, Err(e))),
        Ok(found) => {
            for (metric, found) in found {
                match found {
                    Found::Value(v) => out.metrics.push(row(LOG, Some(metric), Ok(v))),
                    Found::Nothing => out.notes.push(format!(
                        "no line of the log of `{name}` matches metric `{metric}` (`{}`)",
                        regexes[&metric]
                    )),
                    Found::BadRegex(e) => out.metrics.push(row(
                        LOG,
                        Some(metric.clone()),
                        Err(format!("the regex `{}` cannot be used here: {e}", regexes[&metric])),
                    )),
                }
            }
        }
    }
    Ok(())
}

/// Who made a step's outputs: the step itself, or for a cached step the
/// run and step its cache entry names, if the entry still describes these
/// outputs (a later `--no-cache` run of the same key replaces the entry);
/// else the run and step the outputs' folder is in (`.wharf/runs/<run>/<step>/...`).
fn maker(db: &StateDb, run: &RunRecord, step: &StepHistory) -> anyhow::Result<Option<Maker>> {
    if step.record.status != StepStatus::Cached {
        return Ok(Some(Maker {
            run: run.id.clone(),
            step: step.record.step.clone(),
        }));
    }
    if let Some(key) = &step.record.cache_key
        && let Some(entry) = db.cache_entry(key)?
    {
        let uris = |list: &[ArtifactRecord]| {
            let mut uris: Vec<String> = list.iter().map(|a| a.uri.clone()).collect();
            uris.sort();
            uris
        };
        if uris(&entry.outputs) == uris(&step.artifacts) {
            return Ok(Some(Maker {
                run: entry.run,
                step: entry.step,
            }));
        }
    }
    Ok(step.artifacts.iter().find_map(|a| from_layout(&a.uri)))
}

/// The run and step of an output folder `.../.wharf/runs/<run>/<step>/<attempt>/outputs/<name>`
/// (runtime/src/scheduler/layout.rs).
fn from_layout(uri: &str) -> Option<Maker> {
    let parts: Vec<&str> = uri.trim_end_matches('/').split('/').collect();
    let n = parts.len();
    (n >= 6 && parts[n - 6] == "runs" && parts[n - 2] == "outputs").then(|| Maker {
        run: parts[n - 5].to_string(),
        step: parts[n - 4].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_folder_names_its_run_and_step() {
        assert_eq!(
            from_layout("file:///p/.wharf/runs/20261125-143012-a1b2/fit-eu/2/outputs/model"),
            Some(Maker {
                run: "20261125-143012-a1b2".into(),
                step: "fit-eu".into()
            })
        );
        assert_eq!(from_layout("s3://bucket/wharf/data/abc"), None);
    }

    #[test]
    fn only_a_json_file_named_metrics_is_a_metrics_file() {
        let artifact = |output: &str, file: Option<&str>| ArtifactRecord {
            run: "r".into(),
            step: "s".into(),
            output: output.into(),
            uri: "file:///x".into(),
            size: 0,
            hash: String::new(),
            file: file.map(String::from),
        };
        assert!(is_metrics_file(&artifact("metrics", Some("metrics.json"))));
        assert!(is_metrics_file(&artifact("metrics", Some("eval/scores.json"))));
        assert!(!is_metrics_file(&artifact("metrics", Some("metrics.csv"))));
        assert!(!is_metrics_file(&artifact("metrics", None)));
        assert!(!is_metrics_file(&artifact("report", Some("report.json"))));
    }
}
