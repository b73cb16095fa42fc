//! The checks that refuse a step before anything starts, the same for
//! `plan`, `why` and `run`: an `env()` or `secret()` it reads that is not
//! set, an export that would leave the pipeline's folder or replace a
//! folder wharf did not export, and an image it runs that cannot be had
//! (not on this machine and not pullable, or built by wharf and since
//! removed). A refused step refuses the
//! whole run (exit 2, nothing started); the plan shows it as `refused`.
//!
//! Images are resolved here once per run: the run pulls what is missing
//! (before the first step starts, so a failed pull is a refusal, not a failed
//! run); the plan asks the same questions without pulling.

use super::inputs::OutputLookup;
use crate::backend::{Backend, ImageLookup};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wharf_compiler::pipeline::{EnvValue, ImageRef, Pipeline, Step, StepId};

/// What the run may do to have an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageMode {
    /// `wharf run`: pull what is missing.
    Resolve,
    /// `wharf plan`/`why`: look, never pull.
    Look,
}

/// The outcome of the checks for a set of steps.
#[derive(Debug, Default)]
pub struct Preflight {
    /// Step -> the identity its backend gives its named image (`None`: the
    /// backend keys images by name). A step missing here that names an image
    /// would have it pulled first, so its key is not known before the run.
    pub images: BTreeMap<StepId, Option<String>>,
    /// Step -> why it cannot start.
    pub refusals: BTreeMap<StepId, String>,
}

/// Where a run writes: exports must stay in `project_dir` and out of `state_dir`.
#[derive(Debug, Clone, Copy)]
pub struct Places<'a> {
    pub project_dir: &'a Path,
    pub state_dir: Option<&'a Path>,
}

/// Checks each of `steps` as (step, whether it is selected, its backend):
/// the environment and the exports of the selected steps, and the image of
/// every step (a step taken from the cache needs its image's identity for
/// its key).
pub async fn check(
    pipeline: &Pipeline,
    steps: &[(StepId, bool, &dyn Backend)],
    host_env: &(dyn Fn(&str) -> Option<String> + Sync),
    places: Places<'_>,
    mode: ImageMode,
) -> Preflight {
    let mut out = Preflight::default();
    // One answer per image and backend: a fan-out names the same image many times.
    let mut seen: BTreeMap<(String, &'static str), Result<ImageLookup, String>> = BTreeMap::new();
    for &(id, runs, backend) in steps {
        let step = &pipeline.steps[id];
        if runs && let Err(reason) = resolve_env(step, host_env) {
            out.refusals.insert(id, reason);
            continue;
        }
        // A selected step exports its outputs whether it runs or comes
        // from the cache.
        if runs && let Err(reason) = check_exports(step, places) {
            out.refusals.insert(id, reason);
            continue;
        }
        let Some(name) = named_image(pipeline, id) else {
            continue;
        };
        let cache_key = (name.clone(), backend.name());
        let answer = match seen.get(&cache_key) {
            Some(answer) => answer.clone(),
            None => {
                let answer = match mode {
                    ImageMode::Resolve => backend.resolve_image(&name).await.map(ImageLookup::Here),
                    ImageMode::Look => backend.look_up_image(&name).await,
                };
                seen.insert(cache_key, answer.clone());
                answer
            }
        };
        match answer {
            Ok(ImageLookup::Here(found)) => {
                out.images.insert(id, found);
            }
            Ok(ImageLookup::WouldPull) => {}
            Err(reason) => {
                out.refusals.insert(id, reason);
            }
        }
    }
    out
}

/// The first export of `step` that `crate::export` would refuse.
fn check_exports(step: &Step, places: Places<'_>) -> Result<(), String> {
    for output in &step.outputs {
        let Some(dest) = output
            .export
            .as_deref()
            .filter(|d| wharf_compiler::export_path::is_local_export(d))
        else {
            continue;
        };
        crate::export::check_destination(places.project_dir, places.state_dir, dest)
            .map_err(|why| format!("cannot export output `{}` to {dest}: {why}", output.name))?;
    }
    Ok(())
}

/// The step's environment with `env()` and `secret()` read from the host;
/// the first that is not set is the error.
pub fn resolve_env(
    step: &Step,
    host_env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<BTreeMap<String, String>, String> {
    let mut env = BTreeMap::new();
    for (name, value) in &step.env {
        let text = match value {
            EnvValue::Text(t) => t.clone(),
            EnvValue::Env(var) | EnvValue::Secret(var) => host_env(var).ok_or_else(|| {
                let what = if matches!(value, EnvValue::Secret(_)) {
                    "secret"
                } else {
                    "env"
                };
                format!("{what}(\"{var}\") for `{name}` is not set in the environment")
            })?,
        };
        env.insert(name.clone(), text);
    }
    Ok(env)
}

/// The values of the `env("NAME")` variables a step reads, for its key
/// (secrets are left out of keys).
pub fn key_env(step: &Step, host_env: &(dyn Fn(&str) -> Option<String> + Sync)) -> BTreeMap<String, String> {
    step.env
        .values()
        .filter_map(|v| match v {
            EnvValue::Env(var) => Some((var.clone(), host_env(var).unwrap_or_default())),
            _ => None,
        })
        .collect()
}

/// The image a step names, following a served model back to the step that
/// made it; `None` for no image or an image a `build` step makes.
pub fn named_image(pipeline: &Pipeline, id: StepId) -> Option<String> {
    match pipeline.image_source(id)? {
        ImageRef::Name(name) => Some(name.clone()),
        _ => None,
    }
}

/// The image a step runs and its identity for the key.
#[derive(Debug, Clone, PartialEq)]
pub enum StepImage {
    /// The step runs no image.
    None,
    /// (image to run, identity for the key).
    Known(String, String),
    /// Not known before the run, and why.
    Unknown(String),
}

/// The image a step runs: a name with the identity the preflight found
/// (`name@id`), a `build` step's tag and id from its `image.json`.
pub fn step_image(
    pipeline: &Pipeline,
    id: StepId,
    images: &BTreeMap<StepId, Option<String>>,
    outputs: OutputLookup<'_>,
) -> StepImage {
    match pipeline.image_source(id) {
        None | Some(ImageRef::FromModel(_)) => StepImage::None,
        Some(ImageRef::Name(name)) => match images.get(&id) {
            Some(Some(image_id)) => StepImage::Known(name.clone(), format!("{name}@{image_id}")),
            Some(None) => StepImage::Known(name.clone(), name.clone()),
            None => StepImage::Unknown(format!(
                "image `{name}` is not on this machine: the run pulls it first, so its identity is not known yet"
            )),
        },
        Some(ImageRef::Built(build)) => {
            let build_name = &pipeline.steps[*build].name;
            let unknown = || StepImage::Unknown(format!("`{build_name}` would build its image first"));
            let Some((dir, _)) = outputs(*build, "image") else {
                return unknown();
            };
            match built_image(&dir.join("image.json")) {
                Some((tag, key)) => StepImage::Known(tag, key),
                None => unknown(),
            }
        }
    }
}

/// A built image's tag and key (`tag@id`) from the `image.json` its build step wrote.
fn built_image(record: &PathBuf) -> Option<(String, String)> {
    let text = std::fs::read_to_string(record).ok()?;
    let record: serde_json::Value = serde_json::from_str(&text).ok()?;
    let tag = record["image"].as_str()?.to_string();
    let key = match record["id"].as_str() {
        Some(id) => format!("{tag}@{id}"),
        None => tag.clone(),
    };
    Some((tag, key))
}
