//! `wharf metrics [RUN] [--diff OLD]`: the metrics a recorded run's steps
//! produced (`sources.rs` says which and reads them: JSON files in
//! `json_file.rs`, train logs in `log_scan.rs` with the definitions of
//! `definitions.rs`), or how they changed from another run (`diff.rs`).
//! Rendering is `render/metrics.rs`'s. Nothing is fetched: what is not on
//! this machine is said to be so.

mod definitions;
mod diff;
mod json_file;
mod log_scan;
mod metric;
mod sources;

pub use diff::Change;
pub use metric::Metric;

use super::state::StateDb;
use crate::Outcome;
use crate::cli::{MetricsArgs, OutputFormat};
use crate::render::metrics as render;
use wharf_runtime::artifacts::LocalArtifacts;

/// Per step, the metrics its run reported, by name, for `wharf run
/// --format json` (sources that could not be read are left out there;
/// `wharf metrics` shows why). A name two sources of one step share is
/// given as `SOURCE:NAME`.
pub fn of_run(
    db: &StateDb,
    run: &wharf_runtime::state::RunRecord,
) -> anyhow::Result<std::collections::BTreeMap<String, std::collections::BTreeMap<String, serde_json::Value>>> {
    let collected = sources::collect(db, run, &LocalArtifacts::new())?;
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeMap<String, serde_json::Value>> =
        Default::default();
    for metric in &collected.metrics {
        let (Some(name), Ok(value)) = (&metric.metric, &metric.value) else {
            continue;
        };
        let step = out.entry(metric.step.clone()).or_default();
        let clash = collected
            .metrics
            .iter()
            .any(|m| m.step == metric.step && m.metric == metric.metric && m.source != metric.source);
        let key = if clash {
            format!("{}:{name}", metric.source)
        } else {
            name.clone()
        };
        step.insert(key, value.clone());
    }
    Ok(out)
}

pub fn run(args: MetricsArgs) -> anyhow::Result<Outcome> {
    let db = StateDb::open_required()?;
    let new = db.find_run(&args.run)?;
    let old = args.diff.as_deref().map(|id| db.find_run(id)).transpose()?;
    let files = LocalArtifacts::new();
    let now = sources::collect(&db, &new, &files)?;
    let Some(old) = old else {
        notes(&now.notes, None);
        if now.metrics.is_empty() {
            say!("run {} recorded no metrics\n  = help: {HELP}", new.id);
        }
        match args.format {
            OutputFormat::Text => print!("{}", render::show_text(&now.metrics)),
            OutputFormat::Json => println!(
                "{}",
                serde_json::to_string_pretty(&render::show_json(&new.id, &now.metrics))?
            ),
        }
        return Ok(outcome(now.metrics.iter().map(|m| &m.value)));
    };
    let before = sources::collect(&db, &old, &files)?;
    notes(&before.notes, Some(&old.id));
    notes(&now.notes, Some(&new.id));
    let changes = diff::pair(&before.metrics, &now.metrics);
    if changes.is_empty() {
        say!(
            "neither run {} nor run {} recorded metrics\n  = help: {HELP}",
            old.id,
            new.id
        );
    }
    match args.format {
        OutputFormat::Text => print!("{}", render::diff_text(&changes)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&render::diff_json(&old.id, &new.id, &changes))?
        ),
    }
    Ok(outcome(before.metrics.iter().chain(&now.metrics).map(|m| &m.value)))
}

const HELP: &str = "metrics are a step's output named `metrics` that is a `file(\"*.json\")`, and a train step's `metrics { NAME = \"regex\" }` read from its log (docs/language.md, \"Metrics\")";

/// 1 when a metrics file or log could not be read (each is a row saying
/// why): the command showed what it could, and found a problem.
fn outcome<'a>(values: impl IntoIterator<Item = &'a Result<serde_json::Value, String>>) -> Outcome {
    if values.into_iter().any(Result::is_err) {
        Outcome::Findings
    } else {
        Outcome::Success
    }
}

fn notes(notes: &[String], run: Option<&str>) {
    for note in notes {
        match run {
            Some(run) => say!("note: run {run}: {note}"),
            None => say!("note: {note}"),
        }
    }
}
