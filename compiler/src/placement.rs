//! A pipeline bound to a target: which backend runs each step, and with which
//! settings. Pure data; the runtime turns it into work.

use crate::pipeline::{Pipeline, Setting, Step, Target, TargetSettings};
use crate::types::BackendKind;

/// The backend `target` gives `step`: its `step NAME { backend = ... }`
/// override, else the target's. SageMaker builds no images: a `build` step
/// placed there builds on the local Docker engine, and the SageMaker steps
/// that run its image push it to the target's ECR repository.
pub fn backend_for(target: &Target, step: &Step) -> BackendKind {
    let backend = target
        .steps
        .iter()
        .find(|o| o.step == step.base)
        .and_then(|o| o.backend)
        .unwrap_or(target.backend);
    match (backend, step.kind) {
        (BackendKind::Sagemaker, crate::types::StepKind::Build) => BackendKind::Docker,
        _ => backend,
    }
}

/// The target's settings with the step's overrides applied.
pub fn settings_for(target: &Target, step: &Step) -> TargetSettings {
    let mut merged = target.settings.clone();
    if let Some(o) = target.steps.iter().find(|o| o.step == step.base) {
        let s = &o.settings;
        let pick = |over: &Option<Setting>, base: &mut Option<Setting>| {
            if over.is_some() {
                base.clone_from(over);
            }
        };
        pick(&s.role, &mut merged.role);
        pick(&s.region, &mut merged.region);
        pick(&s.bucket, &mut merged.bucket);
        pick(&s.profile, &mut merged.profile);
        pick(&s.endpoint_url, &mut merged.endpoint_url);
        if s.instance.is_some() {
            merged.instance.clone_from(&s.instance);
        }
        if s.max_jobs.is_some() {
            merged.max_jobs = s.max_jobs;
        }
        if s.logs.is_some() {
            merged.logs = s.logs;
        }
    }
    merged
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
        .or_else(|| settings_for(target, step).instance)
        .unwrap_or_else(|| DEFAULT_INSTANCE.to_string())
}

pub const DEFAULT_INSTANCE: &str = "ml.m5.large";
