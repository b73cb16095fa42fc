//! What a resumed run takes from the run it continues: the steps that
//! finished there and whose outputs still exist.

use crate::plan::Plan;
use crate::scheduler::{Context, Produced, RunError, lock};
use crate::state::StepStatus;
use std::collections::HashMap;
use std::path::PathBuf;
use wharf_compiler::pipeline::StepId;

/// The finished steps of an earlier run whose outputs still exist.
pub(crate) async fn load_resumed(
    plan: &Plan<'_>,
    ctx: &Context,
    run: &str,
) -> Result<Vec<(StepId, Produced)>, RunError> {
    let (record, artifacts, steps) = {
        let store = lock(&ctx.state)?;
        (store.run(run)?, store.artifacts(run)?, store.steps(run)?)
    };
    let record = record.ok_or_else(|| RunError::Resume(format!("there is no run `{run}` to resume")))?;
    if record.pipeline != plan.pipeline.name {
        return Err(RunError::Resume(format!(
            "run `{run}` is of pipeline `{}`, not `{}`",
            record.pipeline, plan.pipeline.name
        )));
    }
    // Found through maps: a search per step made resuming a large run quadratic.
    let by_name = plan.pipeline.ids_by_name();
    let artifacts: HashMap<(&str, &str), &crate::state::ArtifactRecord> = artifacts
        .iter()
        .map(|a| ((a.step.as_str(), a.output.as_str()), a))
        .collect();
    let mut out = Vec::new();
    for step in steps {
        if !matches!(step.status, StepStatus::Succeeded | StepStatus::Cached) {
            continue;
        }
        let Some(&id) = by_name.get(step.step.as_str()) else {
            continue;
        };
        let mut produced = Produced::default();
        let mut complete = true;
        for output in &plan.pipeline.steps[id].outputs {
            let found = artifacts.get(&(step.step.as_str(), output.name.as_str()));
            match found.and_then(|a| {
                a.uri
                    .strip_prefix("file://")
                    .map(|p| (PathBuf::from(p), a.hash.clone()))
            }) {
                Some((path, hash)) if path.exists() => {
                    produced.dirs.insert(output.name.clone(), path);
                    produced.hashes.insert(output.name.clone(), hash);
                }
                _ => complete = false,
            }
        }
        if complete {
            out.push((id, produced));
        }
    }
    Ok(out)
}
