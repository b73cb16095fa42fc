//! wharf-compiler turns Wharf source text into a checked pipeline DAG.
//!
//! Stages, each in its own module, data flowing one way:
//! `syntax` (text -> AST) -> `modules` (imports loaded through the [`World`])
//! -> `resolve` (params, loops, templates, references -> [`Pipeline`])
//! -> `dag` (petgraph, cycle check) -> `placement` (a [`Pipeline`] bound to a
//! target). The crate does no I/O of its own: files and environment
//! variables come through the [`World`] trait, and problems come back as
//! [`Diagnostic`] values for the caller to render.

pub mod backends;
pub mod code;
pub mod compile;
pub mod dag;
pub mod diagnostic;
pub mod display;
pub mod export_path;
pub mod modules;
pub mod options;
pub mod pipeline;
pub mod placement;
mod resolve;
pub mod settings;
pub mod source;
pub mod stdlib;
pub mod suggest;
pub mod syntax;
pub mod types;
pub mod value;
pub mod world;

pub use code::Code;
pub use compile::{Compilation, compile};
pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use options::Options;
pub use pipeline::{Pipeline, Step, StepId};
pub use source::{FileId, SourceFile, SourceMap, Span};
pub use world::{MemoryWorld, World};
