//! A train step's metric definitions (`metrics { NAME = "regex" }`) for a
//! recorded run. The exact ones are in the cache entry the step's key
//! names: a key's parts hold the step's kind settings, and every entry of
//! one key has the same parts. A step that made no entry (`cache = off`,
//! or it failed) has them read from the pipeline file as it is now,
//! compiled with the run's params; the caller says so.

use super::super::state::StateDb;
use crate::fs_world::FsWorld;
use std::collections::BTreeMap;
use std::path::Path;
use wharf_compiler::Options;
use wharf_compiler::pipeline::{KindSpec, Pipeline};
use wharf_runtime::state::{RunRecord, StepRecord};

/// Metric name -> regex.
pub type Regexes = BTreeMap<String, String>;

/// Where a step's definitions came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The cache entry of the step's key: what the step ran with.
    Recorded,
    /// The pipeline file as it is now.
    FileNow,
}

pub struct Definitions<'a> {
    db: &'a StateDb,
    run: &'a RunRecord,
    /// The run's pipeline file compiled now, once, when a step first needs it.
    compiled: Option<Result<Pipeline, String>>,
}

impl<'a> Definitions<'a> {
    pub fn new(db: &'a StateDb, run: &'a RunRecord) -> Definitions<'a> {
        Definitions {
            db,
            run,
            compiled: None,
        }
    }

    /// The definitions of `step` (a train step of the run). `Ok(Err(..))`:
    /// they cannot be known, and why.
    pub fn of(&mut self, step: &StepRecord) -> anyhow::Result<Result<(Regexes, Origin), String>> {
        if let Some(key) = &step.cache_key
            && let Some(entry) = self.db.cache_entry(key)?
        {
            return Ok(Ok((recorded(&entry.parts), Origin::Recorded)));
        }
        let run = self.run;
        let pipeline = match self.compiled.get_or_insert_with(|| compile_now(run)) {
            Ok(p) => p,
            Err(why) => return Ok(Err(why.clone())),
        };
        Ok(match pipeline.step(&step.step).map(|s| &s.spec) {
            Some(KindSpec::Train { metrics, .. }) => Ok((metrics.clone(), Origin::FileNow)),
            _ => Err(format!("`{}` now has no train step `{}`", run.file, step.step)),
        })
    }
}

/// The `metrics` of a key's `spec` part (`{"kind": "train", "metrics": {...}}`).
fn recorded(parts: &serde_json::Value) -> Regexes {
    parts["spec"]["metrics"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(name, regex)| Some((name.clone(), regex.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The run's pipeline file compiled as it is now, with the params the run had.
fn compile_now(run: &RunRecord) -> Result<Pipeline, String> {
    let params = run
        .params
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(name, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (name.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    let options = Options {
        params,
        allow_library: false,
        allow_missing_params: true,
        backends: wharf::backends::specs(),
    };
    let compilation = wharf_compiler::compile(&FsWorld, Path::new(&run.file), &options);
    match compilation.pipeline {
        Some(p) if p.name == run.pipeline => Ok(p),
        Some(p) => Err(format!(
            "`{}` now holds pipeline `{}`, not `{}`",
            run.file, p.name, run.pipeline
        )),
        None => Err(format!("`{}` does not compile now with the run's params", run.file)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_keys_parts_give_the_train_metrics() {
        let parts = json!({"kind": "train", "spec": {"kind": "train", "metrics": {"loss": "loss=([0-9.]+)"}, "checkpoints": false}});
        assert_eq!(
            recorded(&parts),
            BTreeMap::from([("loss".to_string(), "loss=([0-9.]+)".to_string())])
        );
        assert!(recorded(&json!({"spec": {"kind": "none"}})).is_empty());
    }
}
