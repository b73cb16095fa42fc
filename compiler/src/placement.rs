//! A pipeline bound to a target: which backend runs each step, and with which
//! settings. Pure data; the runtime turns it into work.

use crate::backends::BackendKind;
use crate::pipeline::{Pipeline, Step, Target, TargetSettings};

/// The backend `target` gives `step`: its `step NAME { backend = ... }`
/// override, else the target's; then, when that backend hands steps of this
/// kind to another (SageMaker builds no images: a `build` step placed there
/// builds on the local Docker engine), that one.
pub fn backend_for(target: &Target, step: &Step) -> BackendKind {
    let backend = target
        .steps
        .iter()
        .find(|o| o.step == step.base)
        .and_then(|o| o.backend)
        .unwrap_or(target.backend);
    target
        .hands_off
        .iter()
        .find(|(from, kind, _)| *from == backend && *kind == step.kind)
        .map_or(backend, |(_, _, to)| *to)
}

/// The target's settings with the step's overrides applied.
pub fn settings_for(target: &Target, step: &Step) -> TargetSettings {
    match target.steps.iter().find(|o| o.step == step.base) {
        Some(o) => target.settings.merged(&o.settings),
        None => target.settings.clone(),
    }
}

/// The target to use when the user names none: the only one, or the one
/// called `local`, or the first declared.
pub fn default_target(pipeline: &Pipeline) -> Option<&Target> {
    match pipeline.targets.as_slice() {
        [only] => Some(only),
        all => all.iter().find(|t| t.name == "local").or(all.first()),
    }
}

/// The SageMaker instance type a step gets on `target`: the step's own, the
/// target's `instance`, or SageMaker's common default.
pub fn instance_for(target: &Target, step: &Step) -> String {
    step.resources
        .instance
        .clone()
        .or_else(|| settings_for(target, step).text("instance").map(str::to_string))
        .unwrap_or_else(|| DEFAULT_INSTANCE.to_string())
}

pub const DEFAULT_INSTANCE: &str = "ml.m5.large";
