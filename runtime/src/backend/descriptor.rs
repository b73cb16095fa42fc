//! A backend's descriptor: everything wharf knows of a backend before it
//! runs anything (vector's `SinkConfig`: a pure part, checked first, and a
//! `build` that makes the backend). The compiler's [`BackendSpec`], the
//! checks `plan` and `run` make on a step placed on it, whether its steps
//! take a local `--jobs` slot, how many may run at once, what a run would
//! move for it, and how to build it. The scheduler and the CLI ask a
//! descriptor or the [`Backend`] it builds; they never ask which backend
//! they have. The `wharf` binary lists the descriptors in one registry
//! (`src/backends.rs`); docs/backends/writing-a-backend.md says how to add one.

use super::{Backend, BoxFuture};
use crate::plan::Backends;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wharf_compiler::Diagnostic;
use wharf_compiler::backends::{BackendKind, BackendSpec};
use wharf_compiler::pipeline::{Pipeline, Step, StepId, Target, TargetSettings};
use wharf_compiler::placement;

/// Every descriptor this process can run steps on.
pub type Registry = [&'static dyn Descriptor];

/// What building a backend may read.
pub struct Setup<'a> {
    /// The pipeline file's folder: commands and build contexts start here.
    pub project_dir: &'a Path,
    /// The `.wharf` folder.
    pub state_dir: &'a Path,
    /// How long a cancelled step has to stop before it is killed, when the
    /// user set it (`--stop-grace`).
    pub grace: Option<Duration>,
    pub pipeline: &'a Pipeline,
    pub target: &'a Target,
}

/// Data a run would move for a step, for `plan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// `upload`, `download`, or `push` (an image to a registry).
    pub direction: &'static str,
    /// The input, output or image it carries.
    pub what: String,
    /// Bytes, when known before the run.
    pub bytes: Option<u64>,
    pub to: String,
}

pub trait Descriptor: Send + Sync {
    /// What the compiler knows of it.
    fn spec(&self) -> &'static BackendSpec;

    fn kind(&self) -> BackendKind {
        self.spec().kind
    }

    /// Its own refusals of a selected step placed on it, found before
    /// anything starts (the kinds it runs and S3 data are checked for every
    /// backend from [`Descriptor::spec`] and [`Descriptor::moves_s3`]).
    fn check(&self, step: &Step) -> Vec<Diagnostic> {
        let _ = step;
        Vec::new()
    }

    /// Whether it reads inputs from and exports outputs to S3.
    fn moves_s3(&self) -> bool {
        false
    }

    /// Whether a step on it takes one of this machine's `--jobs` slots
    /// (a job in the cloud does not).
    fn local_slot(&self) -> bool {
        true
    }

    /// At most this many of its steps at once, from the target's settings
    /// (`None`: only `--jobs` caps them).
    fn max_jobs(&self, settings: &TargetSettings) -> Option<usize> {
        let _ = settings;
        None
    }

    /// What a run would move between this machine and elsewhere for step
    /// `id` (uploads, downloads, image pushes), for `plan`.
    fn transfers(&self, setup: &Setup<'_>, id: StepId) -> Vec<Transfer> {
        let _ = (setup, id);
        Vec::new()
    }

    /// Whether every run builds it, even when no step runs on it, so that it
    /// can clean up after runs whose wharf process died.
    fn always_built(&self) -> bool {
        false
    }

    /// Builds it for a run. An `Err` says what is missing; it stops the run
    /// only when a step runs on this backend.
    fn build(&self, setup: &Setup<'_>) -> Result<Arc<dyn Backend>, String>;

    /// Builds it to clean up after an abandoned run when no pipeline is at
    /// hand (`wharf runs`, `show`, `logs`, `stop`): `None` when it cannot be
    /// built without a target's settings; an `Err` says why what the run
    /// left on it stays.
    fn build_for_clean_up<'a>(
        &'a self,
        state_dir: &'a Path,
    ) -> Option<BoxFuture<'a, Result<Arc<dyn Backend>, String>>> {
        let _ = state_dir;
        None
    }

    /// Builds it for `plan` and `why`, which start nothing: an `Err` is the
    /// reason every step on it would be refused (the default: as for a run).
    fn build_for_plan<'a>(&'a self, setup: &'a Setup<'a>) -> BoxFuture<'a, Result<Arc<dyn Backend>, String>> {
        Box::pin(async move { self.build(setup) })
    }
}

/// The descriptor of `kind` in `registry`.
pub fn find(registry: &Registry, kind: BackendKind) -> Option<&'static dyn Descriptor> {
    registry.iter().copied().find(|d| d.kind() == kind)
}

/// The backends a run needs: every one a step runs on, and those built for
/// every run. The error of one a step runs on stops the run.
pub fn build_for_run(registry: &Registry, setup: &Setup<'_>) -> Result<Backends, String> {
    let mut backends = Backends::new();
    for d in registry {
        let used = uses(setup, d.kind());
        if !used && !d.always_built() {
            continue;
        }
        match d.build(setup) {
            Ok(backend) => {
                backends.insert(d.kind(), backend);
            }
            Err(e) if used => return Err(e),
            Err(_) => {}
        }
    }
    Ok(backends)
}

/// The backends a step runs on, built for `plan` and `why`; each one that
/// could not be built with the reason every step on it is refused.
pub async fn build_for_plan(registry: &Registry, setup: &Setup<'_>) -> (Backends, BTreeMap<BackendKind, String>) {
    let (mut backends, mut down) = (Backends::new(), BTreeMap::new());
    for d in registry.iter().filter(|d| uses(setup, d.kind())) {
        match d.build_for_plan(setup).await {
            Ok(backend) => {
                backends.insert(d.kind(), backend);
            }
            Err(e) => {
                down.insert(d.kind(), e);
            }
        }
    }
    (backends, down)
}

/// Whether the target places a step of the pipeline on `kind`.
fn uses(setup: &Setup<'_>, kind: BackendKind) -> bool {
    setup
        .pipeline
        .steps
        .iter()
        .any(|s| placement::backend_for(setup.target, s) == kind)
}

/// Every spec in `registry`, for the compiler's `Options`.
pub fn specs(registry: &Registry) -> Vec<&'static BackendSpec> {
    registry.iter().map(|d| d.spec()).collect()
}
