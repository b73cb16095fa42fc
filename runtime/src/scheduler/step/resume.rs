//! What a resumed run takes from the run it continues: the steps that
//! finished there and whose outputs still exist.

use crate::plan::Plan;
use crate::scheduler::{Context, Produced, RunError, lock};
use crate::state::StepStatus;
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
    let mut out = Vec::new();
    for step in steps {
        if !matches!(step.status, StepStatus::Succeeded | StepStatus::Cached) {
            continue;
        }
        let Some(id) = plan.pipeline.steps.iter().position(|s| s.name == step.step) else {
            continue;
        };
        let mut produced = Produced::default();
        let mut complete = true;
        for output in &plan.pipeline.steps[id].outputs {
            let found = artifacts
                .iter()
                .find(|a| a.step == step.step && a.output == output.name);
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
