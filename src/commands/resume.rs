//! `wharf run --resume`: which run is continued, and with which params. A
//! resumed run goes on with the params it was started with (its record
//! holds them): the rest of its steps must compute what the first ones
//! did. A `-p` that agrees with the record is fine; one that differs is
//! refused, since it would make a run whose record lies.

use super::state::{StateDb, describe};
use wharf_compiler::pipeline::Pipeline;
use wharf_runtime::state::{RunRecord, RunStatus, StateStore};

/// The run to continue: `RUN` as given (an id, a prefix, `last`), or the
/// last run of `pipeline` that did not succeed. `Err` is a refusal, for the
/// user.
pub fn find(wanted: Option<&str>, pipeline: &str) -> anyhow::Result<Result<RunRecord, String>> {
    let Some(db) = StateDb::open()? else {
        return Ok(Err(format!(
            "no earlier run of `{pipeline}` to resume: no runs are recorded here"
        )));
    };
    if let Some(id) = wanted {
        return Ok(Ok(db.find_run(id)?));
    }
    Ok(last_unfinished(db.store(), pipeline)?
        .ok_or_else(|| format!("no earlier run of `{pipeline}` to resume: the last one succeeded, or there is none")))
}

fn last_unfinished(store: &dyn StateStore, pipeline: &str) -> anyhow::Result<Option<RunRecord>> {
    let runs = store
        .runs(50)
        .map_err(|e| describe(e, &super::state::state_dir().join("state.db")))?;
    Ok(runs
        .into_iter()
        .find(|r| r.pipeline == pipeline)
        .filter(|r| r.status != RunStatus::Succeeded))
}

/// The `-p` overrides that give the resumed run its recorded params. A
/// `-p` of the user's (`given`, as `pipeline` resolved it) that differs
/// from the record is a refusal.
pub fn overrides(run: &RunRecord, pipeline: &Pipeline, given: &[(String, String)]) -> Result<Vec<String>, String> {
    if run.pipeline != pipeline.name {
        return Err(format!(
            "run {} is of pipeline `{}`, not `{}`; `--resume` continues a run of the same pipeline",
            run.id, run.pipeline, pipeline.name
        ));
    }
    let recorded = run.params.as_object().cloned().unwrap_or_default();
    for (name, text) in given {
        let now = pipeline
            .params
            .iter()
            .find(|p| &p.name == name)
            .map(|p| serde_json::to_value(&p.value).unwrap_or_default());
        let then = recorded.get(name).cloned().unwrap_or(serde_json::Value::Null);
        if now.as_ref() != Some(&then) {
            return Err(format!(
                "run {} was started with {}; `--resume` goes on with the params a run started with, so `-p {name}={text}` cannot be given\n  = help: leave out `-p {name}` to resume it, or start a new run (without `--resume`) with the new value",
                run.id,
                match then {
                    serde_json::Value::Null => format!("no value for `{name}`"),
                    value => format!("`{name}` = {}", shown(&value)),
                }
            ));
        }
    }
    // A param the pipeline no longer declares cannot be given (and
    // `check_same` does not miss it: the pipeline has changed under the run).
    Ok(recorded
        .iter()
        .filter(|(name, value)| !value.is_null() && pipeline.params.iter().any(|p| &p.name == *name))
        .map(|(name, value)| format!("{name}={}", shown(value)))
        .collect())
}

/// Whether the pipeline compiled with the recorded params has them all, as
/// recorded (a param whose type changed since would not); `Err` names the first that differs.
pub fn check_same(run: &RunRecord, pipeline: &Pipeline) -> Result<(), String> {
    let recorded = run.params.as_object().cloned().unwrap_or_default();
    for param in &pipeline.params {
        let now = serde_json::to_value(&param.value).unwrap_or_default();
        // A param declared since the run started: its value is new either way.
        let Some(then) = recorded.get(&param.name).cloned() else {
            continue;
        };
        if now != then {
            return Err(format!(
                "cannot resume run {}: its param `{}` was {} and would now be {} (the pipeline changed since)\n  = help: start a new run without `--resume`",
                run.id,
                param.name,
                shown(&then),
                shown(&now)
            ));
        }
    }
    Ok(())
}

/// A recorded value as `-p` text: a string as it is, anything else as JSON.
fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
