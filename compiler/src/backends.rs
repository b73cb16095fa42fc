//! What the compiler knows of backends: only what each one declares in a
//! [`BackendSpec`], handed to [`crate::compile`] in [`crate::Options`]. The
//! compiler cannot depend on the backends (they depend on it), so it holds no
//! list of its own: the `wharf` binary's registry (`src/backends.rs`) gives
//! it the spec of every backend it can run, and a test gives it its own.

use crate::diagnostic::Diagnostic;
use crate::pipeline::Step;
use crate::types::StepKind;
use serde::Serialize;
use std::fmt;

/// A backend's name, as a target's `backend = NAME` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendKind(&'static str);

impl BackendKind {
    pub const fn new(name: &'static str) -> BackendKind {
        BackendKind(name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for BackendKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

/// What a step of a kind that runs a program of its own needs on a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// `command`, run on this machine.
    Command,
    /// `image`, a container image.
    Image,
}

/// A target setting a backend accepts, and what its value must be.
#[derive(Debug, Clone, Copy)]
pub struct SettingSpec {
    pub name: &'static str,
    pub value: SettingType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingType {
    /// A string or `env("NAME")`, read when the run starts.
    Text,
    /// Text that must be an `s3://` URI when written literally.
    S3Uri,
    /// A SageMaker instance type such as `ml.m5.xlarge`.
    InstanceType,
    /// An int within `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    Bool,
}

/// A check of a backend's own on each step placed on it (a name its service
/// must accept): `where_` says where the step runs, for the message.
pub type StepCheck = fn(pipeline: &str, step: &Step, where_: &str) -> Option<Diagnostic>;

/// A backend as the compiler sees it.
#[derive(Debug, Clone, Copy)]
pub struct BackendSpec {
    pub kind: BackendKind,
    /// The step kinds it runs. `plan` and `run` refuse a step of another
    /// kind placed on it; `check` does not, since a file's other targets may
    /// run it (a `local` and a `cloud` target in one file).
    pub runs: &'static [StepKind],
    /// What the steps it runs that run a program (see [`runs_program`]) need.
    pub program: Program,
    /// Kinds placed on it that another backend runs instead (SageMaker's
    /// `build` steps build on the local Docker engine).
    pub hands_off: &'static [(StepKind, BackendKind)],
    /// The target settings it reads.
    pub settings: &'static [SettingSpec],
    /// Its own checks on each step placed on it.
    pub check_step: Option<StepCheck>,
}

impl BackendSpec {
    pub fn runs(&self, kind: StepKind) -> bool {
        self.runs.contains(&kind)
    }
}

/// Whether steps of `kind` run a program of their own (a command or an
/// image's entrypoint): `build` makes an image, `tune` runs its train
/// step's, `monitor` is the service's.
pub fn runs_program(kind: StepKind) -> bool {
    !matches!(kind, StepKind::Build | StepKind::Tune | StepKind::Monitor)
}

/// The spec of `kind` among `specs`.
pub fn find<'s>(specs: &[&'s BackendSpec], kind: BackendKind) -> Option<&'s BackendSpec> {
    specs.iter().copied().find(|s| s.kind == kind)
}

/// The names of `specs` in prose: `process, docker and sagemaker`.
pub fn names(specs: &[&BackendSpec]) -> String {
    let names: Vec<&str> = specs.iter().map(|s| s.kind.as_str()).collect();
    match names.split_last() {
        None => "none".into(),
        Some((last, [])) => (*last).into(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}
