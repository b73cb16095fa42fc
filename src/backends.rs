//! The one registry of backends: every backend this wharf can run steps
//! on, by its descriptor (runtime/src/backend/descriptor.rs). Adding a
//! backend is its folder plus one line here (docs/backends/writing-a-backend.md).
//! The first one is the backend of a file that declares no target.

use wharf_compiler::backends::{BackendKind, BackendSpec};
use wharf_runtime::backend::descriptor::{self, Descriptor, Registry};

pub static REGISTRY: &Registry = &[
    &wharf_runtime::backend::process::descriptor::ProcessDescriptor,
    &wharf_runtime::backend::docker::descriptor::DockerDescriptor,
    &wharf_aws::descriptor::SagemakerDescriptor,
];

/// What the compiler is told of them.
pub fn specs() -> Vec<&'static BackendSpec> {
    descriptor::specs(REGISTRY)
}

pub fn find(kind: BackendKind) -> Option<&'static dyn Descriptor> {
    descriptor::find(REGISTRY, kind)
}
