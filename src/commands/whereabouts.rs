//! What `wharf run` prints under its summary table about where the outputs
//! are: the steps in pipeline order, the run's folder, exported copies and
//! the URLs of endpoints. Gathered here (it reads the pipeline and the
//! `endpoint.json` files deploy steps wrote); `render::progress::summary`
//! lays it out.

use super::state::state_dir;
use crate::render::history::{StepHistory, location};
use crate::render::progress::Whereabouts;
use std::collections::HashMap;
use std::path::Path;
use wharf_compiler::pipeline::Pipeline;
use wharf_runtime::state::StepStatus;

/// Puts `steps` in the pipeline's execution order (as `plan` lists them),
/// whatever order they started or finished in; records of steps the
/// pipeline no longer has go last, by name.
pub fn in_pipeline_order(steps: &mut [StepHistory], pipeline: &Pipeline) {
    // A map, not a search per comparison: that made the summary of a
    // 100,000-step run take minutes.
    let order: HashMap<&str, usize> = pipeline
        .order
        .iter()
        .enumerate()
        .map(|(i, &id)| (pipeline.steps[id].name.as_str(), i))
        .collect();
    let position = |name: &str| order.get(name).copied().unwrap_or(usize::MAX);
    steps.sort_by(|a, b| (position(&a.record.step), &a.record.step).cmp(&(position(&b.record.step), &b.record.step)));
}

/// Where the run's outputs are: its folder under `.wharf/runs/` (when a
/// step of this run wrote there; cached outputs stay in the folders of the
/// runs that made them), the destination of every output exported by a
/// step that succeeded or came from the cache, and every endpoint.
pub fn whereabouts(run: &str, steps: &[StepHistory], pipeline: &Pipeline, project_dir: &Path) -> Whereabouts {
    let dir = state_dir().join("runs").join(run);
    let shown = crate::project::get().state_dir_shown();
    let run_dir = dir.is_dir().then(|| format!("{shown}/runs/{run}/"));
    let mut exports = Vec::new();
    let mut endpoints = Vec::new();
    let by_name: HashMap<&str, &wharf_compiler::pipeline::Step> =
        pipeline.steps.iter().map(|p| (p.name.as_str(), p)).collect();
    for s in steps {
        if !matches!(s.record.status, StepStatus::Succeeded | StepStatus::Cached) {
            continue;
        }
        if let Some(step) = by_name.get(s.record.step.as_str()) {
            for output in &step.outputs {
                if let Some(dest) = &output.export {
                    let to = if dest.contains("://") {
                        dest.clone()
                    } else {
                        let path = project_dir.join(dest);
                        // `./reports` reads as `reports` when the pipeline is here.
                        path.strip_prefix(".").unwrap_or(&path).display().to_string()
                    };
                    exports.push((format!("{}.{}", step.name, output.name), to));
                }
            }
        }
        if let Some(url) = endpoint_url(s) {
            endpoints.push((s.record.step.clone(), url));
        }
    }
    Whereabouts {
        run_dir,
        exports,
        endpoints,
    }
}

/// The URL a deploy step's `endpoint.json` gives for invocations (docker's
/// local endpoint or SageMaker's runtime URL).
fn endpoint_url(step: &StepHistory) -> Option<String> {
    let artifact = step.artifacts.iter().find(|a| a.output == "endpoint")?;
    let dir = location(&artifact.uri);
    let text = std::fs::read_to_string(Path::new(&dir).join("endpoint.json")).ok()?;
    let record: serde_json::Value = serde_json::from_str(&text).ok()?;
    record["invocations"]
        .as_str()
        .or_else(|| record["url"].as_str())
        .map(String::from)
}
