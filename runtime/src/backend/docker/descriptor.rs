//! The docker backend's descriptor: it runs every kind but `tune` and
//! `monitor` in containers on the local engine, and is built for every run
//! (it removes the containers a dead wharf process left), though only a run
//! with a step on it needs the engine to answer.

use super::DockerBackend;
use crate::backend::descriptor::{Descriptor, Setup};
use crate::backend::{Backend, BoxFuture};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wharf_compiler::backends::{BackendKind, BackendSpec, Program};
use wharf_compiler::pipeline::{KindSpec, Step};
use wharf_compiler::types::StepKind;
use wharf_compiler::{Code, Diagnostic};

pub const KIND: BackendKind = BackendKind::new("docker");

pub const SPEC: BackendSpec = BackendSpec {
    kind: KIND,
    runs: &[
        StepKind::Step,
        StepKind::Train,
        StepKind::Transform,
        StepKind::Deploy,
        StepKind::Build,
    ],
    program: Program::Image,
    hands_off: &[],
    settings: &[],
    check_step: None,
};

/// How long `plan` waits for the engine to answer.
const PLAN_PING: Duration = Duration::from_secs(3);

/// How long a command cleaning up after an abandoned run waits for it.
const CLEAN_UP_PING: Duration = Duration::from_secs(5);

pub struct DockerDescriptor;

impl Descriptor for DockerDescriptor {
    fn spec(&self) -> &'static BackendSpec {
        &SPEC
    }

    /// What SageMaker alone does, in the kinds this backend runs.
    fn check(&self, step: &Step) -> Vec<Diagnostic> {
        let refusal = |message: String, hint: &str| {
            vec![Diagnostic::error(Code::UnsupportedOnBackend, None, message).with_hint(hint)]
        };
        match &step.spec {
            KindSpec::Deploy { multi_model: true, .. } => refusal(
                format!(
                    "step `{}` is a multi-model endpoint, which runs on SageMaker only",
                    step.name
                ),
                "place it on a sagemaker target",
            ),
            KindSpec::Transform { split, .. } if !matches!(split.as_str(), "none" | "line") => refusal(
                format!(
                    "step `{}` splits its records by `{split}`, which only SageMaker does",
                    step.name
                ),
                "use split = \"line\" or \"none\" locally",
            ),
            _ => Vec::new(),
        }
    }

    fn always_built(&self) -> bool {
        true
    }

    fn build(&self, setup: &Setup<'_>) -> Result<Arc<dyn Backend>, String> {
        let docker = DockerBackend::connect(setup.project_dir.to_path_buf(), setup.state_dir)?;
        let docker = match setup.grace {
            Some(grace) => docker.with_grace_period(grace),
            None => docker,
        };
        Ok(Arc::new(Arc::new(docker)))
    }

    /// The engine must answer (within 5 s) to stop the containers.
    fn build_for_clean_up<'a>(
        &'a self,
        state_dir: &'a Path,
    ) -> Option<BoxFuture<'a, Result<Arc<dyn Backend>, String>>> {
        Some(Box::pin(async move {
            let docker = Arc::new(DockerBackend::connect(".".into(), state_dir)?);
            tokio::time::timeout(CLEAN_UP_PING, docker.ping())
                .await
                .unwrap_or_else(|_| Err("the Docker engine did not answer within 5 s".into()))?;
            Ok(Arc::new(docker) as Arc<dyn Backend>)
        }))
    }

    /// The engine must answer (within 3 s): the run's health check would
    /// refuse every docker step otherwise.
    fn build_for_plan<'a>(&'a self, setup: &'a Setup<'a>) -> BoxFuture<'a, Result<Arc<dyn Backend>, String>> {
        Box::pin(async move {
            let docker = Arc::new(DockerBackend::connect(
                setup.project_dir.to_path_buf(),
                setup.state_dir,
            )?);
            tokio::time::timeout(PLAN_PING, docker.ping())
                .await
                .unwrap_or_else(|_| Err("the Docker engine did not answer within 3 s".into()))?;
            Ok(Arc::new(docker) as Arc<dyn Backend>)
        })
    }
}
