//! The process backend's descriptor: it runs `step` and `train` steps as
//! commands on this machine, reads no target settings, and is built for
//! every run.

use super::ProcessBackend;
use crate::backend::descriptor::{Descriptor, Setup};
use crate::backend::{Backend, BoxFuture};
use std::path::Path;
use std::sync::Arc;
use wharf_compiler::backends::{BackendKind, BackendSpec, Program};
use wharf_compiler::types::StepKind;

pub const KIND: BackendKind = BackendKind::new("process");

pub const SPEC: BackendSpec = BackendSpec {
    kind: KIND,
    // The SageMaker contract of `train` (model and output folders, config
    // files) is set up by this backend; serving and building need a container.
    runs: &[StepKind::Step, StepKind::Train],
    program: Program::Command,
    hands_off: &[],
    settings: &[],
    check_step: None,
};

pub struct ProcessDescriptor;

impl Descriptor for ProcessDescriptor {
    fn spec(&self) -> &'static BackendSpec {
        &SPEC
    }

    fn always_built(&self) -> bool {
        true
    }

    fn build_for_clean_up<'a>(&'a self, _: &'a Path) -> Option<BoxFuture<'a, Result<Arc<dyn Backend>, String>>> {
        Some(Box::pin(async {
            Ok(Arc::new(ProcessBackend::new(".".into())) as Arc<dyn Backend>)
        }))
    }

    fn build(&self, setup: &Setup<'_>) -> Result<Arc<dyn Backend>, String> {
        let backend = ProcessBackend::new(setup.project_dir.to_path_buf());
        Ok(Arc::new(match setup.grace {
            Some(grace) => backend.with_grace_period(grace),
            None => backend,
        }))
    }
}
