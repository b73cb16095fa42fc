//! The SageMaker backend's descriptor: the kinds it runs as SageMaker jobs
//! (a `build` step placed on it builds on the local Docker engine), the
//! target settings it reads, the rule its job names set on step names, its
//! refusals before a run starts, its concurrency (jobs run in the cloud and
//! take no local `--jobs` slot), what a run would move (`plan_transfers.rs`)
//! and how to build it from the target's settings.

use crate::backend::{SagemakerBackend, Settings};
use std::sync::Arc;
use wharf_compiler::backends::{BackendKind, BackendSpec, Program, SettingSpec, SettingType};
use wharf_compiler::pipeline::{Pipeline, Step, StepId, Target, TargetSettings};
use wharf_compiler::placement;
use wharf_compiler::types::StepKind;
use wharf_compiler::{Code, Diagnostic};
use wharf_runtime::backend::Backend;
use wharf_runtime::backend::contract;
use wharf_runtime::backend::descriptor::{Descriptor, Setup, Transfer};

pub const KIND: BackendKind = BackendKind::new("sagemaker");

/// Jobs at once on a target that sets no `max_jobs`.
pub const DEFAULT_JOBS: usize = 20;

pub const SPEC: BackendSpec = BackendSpec {
    kind: KIND,
    runs: &[
        StepKind::Step,
        StepKind::Train,
        StepKind::Tune,
        StepKind::Transform,
        StepKind::Deploy,
        StepKind::Monitor,
    ],
    program: Program::Image,
    hands_off: &[(StepKind::Build, wharf_runtime::backend::docker::descriptor::KIND)],
    settings: &[
        SettingSpec {
            name: "role",
            value: SettingType::Text,
        },
        SettingSpec {
            name: "region",
            value: SettingType::Text,
        },
        SettingSpec {
            name: "bucket",
            value: SettingType::S3Uri,
        },
        SettingSpec {
            name: "profile",
            value: SettingType::Text,
        },
        SettingSpec {
            name: "endpoint_url",
            value: SettingType::Text,
        },
        SettingSpec {
            name: "instance",
            value: SettingType::InstanceType,
        },
        SettingSpec {
            name: "max_jobs",
            value: SettingType::Int { min: 1, max: 1000 },
        },
        SettingSpec {
            name: "logs",
            value: SettingType::Bool,
        },
    ],
    check_step: Some(job_names),
};

/// A step's name must appear whole in its job names (`contract::job_name`).
fn job_names(pipeline: &str, step: &Step, where_: &str) -> Option<Diagnostic> {
    let name = step.name.replace('_', "-");
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid && contract::job_name_keeps(pipeline, &step.name) {
        return None;
    }
    Some(
        Diagnostic::error(
            Code::SagemakerName,
            step.span,
            format!("step `{}` cannot name a SageMaker job {where_}", step.name),
        )
        .with_hint(format!(
            "job names are `<pipeline>-<step>-<run>-<attempt>` within 63 characters: keep the pipeline's and the step's names to {} characters together, of letters, digits and inner `_`/`-`",
            contract::JOB_NAME_HEAD_ROOM - 1
        )),
    )
}

pub struct SagemakerDescriptor;

impl Descriptor for SagemakerDescriptor {
    fn spec(&self) -> &'static BackendSpec {
        &SPEC
    }

    fn check(&self, step: &Step) -> Vec<Diagnostic> {
        let mut refusals = Vec::new();
        if step.kind == StepKind::Tune && step.command.is_some() {
            refusals.push(
                Diagnostic::error(
                    Code::UnsupportedOnBackend,
                    None,
                    format!(
                        "step `{}` tunes a train step that sets `command`; SageMaker's tuning jobs run the image's own entrypoint (`IMAGE train`)",
                        step.name
                    ),
                )
                .with_hint("build the command into the image, or tune a train step without one"),
            );
        }
        // A tune step's image is its train step's, which the compiler
        // does not ask of it.
        if step.image.is_none() && step.kind != StepKind::Monitor {
            refusals.push(
                Diagnostic::error(
                    Code::MissingAttribute,
                    None,
                    format!("step `{}` runs on SageMaker and has no image", step.name),
                )
                .with_hint("give it `image = \"...\"` (an ECR image, or one on this machine or from a `build` step, which wharf pushes to ECR)"),
            );
        }
        refusals
    }

    fn moves_s3(&self) -> bool {
        true
    }

    fn local_slot(&self) -> bool {
        false
    }

    fn max_jobs(&self, settings: &TargetSettings) -> Option<usize> {
        Some(settings.int("max_jobs").map_or(DEFAULT_JOBS, |n| n as usize))
    }

    fn transfers(&self, setup: &Setup<'_>, id: StepId) -> Vec<Transfer> {
        crate::plan_transfers::transfers(setup, id)
    }

    fn build(&self, setup: &Setup<'_>) -> Result<Arc<dyn Backend>, String> {
        Ok(Arc::new(SagemakerBackend::new(settings(setup.pipeline, setup.target))))
    }
}

/// The target's AWS settings, `env("...")` values read now. The role falls
/// back to WHARF_SAGEMAKER_ROLE, as docs/language.md says.
fn settings(pipeline: &Pipeline, target: &Target) -> Settings {
    let env = |var: &str| std::env::var(var).ok();
    let read = |name: &str| target.settings.get(name).and_then(|s| s.read(env));
    Settings {
        region: read("region"),
        profile: read("profile"),
        role: read("role").or_else(|| env("WHARF_SAGEMAKER_ROLE")),
        bucket: read("bucket"),
        endpoint_url: read("endpoint_url"),
        // `logs = off` on the target or on a step's override: that step's
        // CloudWatch log is not followed.
        quiet_steps: pipeline
            .steps
            .iter()
            .filter(|s| placement::settings_for(target, s).bool("logs") == Some(false))
            .map(|s| s.name.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_compiler::{MemoryWorld, Options, Pipeline};

    fn compile(text: &str) -> (Pipeline, Vec<String>) {
        let options = Options {
            backends: vec![&SPEC],
            ..Options::default()
        };
        let c = wharf_compiler::compile(
            &MemoryWorld::new().with_file("p.wharf", text),
            "p.wharf".as_ref(),
            &options,
        );
        let codes = c.diagnostics.iter().map(|d| d.code.to_string()).collect();
        (c.pipeline.unwrap_or_else(|| panic!("{codes:?}")), codes)
    }

    #[test]
    fn tuning_a_train_step_with_a_command_is_refused() {
        let (p, _) = compile(
            r#"pipeline p {
      train fit { image = "x" command = ["python", "train.py"] inputs { d = "d" } metrics { auc = "auc=([0-9.]+)" } }
      tune search { train = fit objective { metric = "auc" } ranges { depth = int(2, 8) } }
    }
    target cloud { backend = sagemaker }"#,
        );
        let refusals = SagemakerDescriptor.check(p.step("search").expect("search"));
        assert!(
            refusals.iter().any(|d| d
                .message
                .contains("step `search` tunes a train step that sets `command`")),
            "{refusals:?}"
        );
    }

    #[test]
    fn step_names_must_fit_whole_in_the_job_names_the_contract_makes() {
        let fits = "s".repeat(contract::JOB_NAME_HEAD_ROOM - "p-".len());
        let step = |name: &str| {
            format!("pipeline p {{ step {name} {{ image = \"x\" }} }}\ntarget cloud {{ backend = sagemaker }}")
        };
        let options = Options {
            backends: vec![&SPEC],
            ..Options::default()
        };
        let codes = |text: &str| -> Vec<String> {
            let c = wharf_compiler::compile(
                &MemoryWorld::new().with_file("p.wharf", text),
                "p.wharf".as_ref(),
                &options,
            );
            c.diagnostics.iter().map(|d| d.code.to_string()).collect()
        };
        assert!(codes(&step(&fits)).is_empty());
        assert_eq!(codes(&step(&format!("{fits}s"))), ["sagemaker-name"]);
        assert_eq!(codes(&step("_prepare")), ["sagemaker-name"]);
        // The name the contract makes keeps that step's name whole.
        assert!(contract::job_name("p", &fits, "20261125-034751-ab12", 999).starts_with(&format!("p-{fits}-")));
    }
}
