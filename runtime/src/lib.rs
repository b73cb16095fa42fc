//! wharf-runtime runs a compiled pipeline: a `Plan` (a `Pipeline` bound to a
//! target, with cache decisions and data transfers) goes to a tokio
//! scheduler that hands each step to a backend (process, Docker, SageMaker)
//! and records everything in the state store.
//!
//! Nothing lives here yet: the compiler and the CLI's front half came first.
//! The runtime knows nothing of pest or the syntax tree; it starts from
//! `wharf_compiler::Pipeline` and `wharf_compiler::placement`.

pub mod abandoned;
pub mod artifacts;
pub mod backend;
pub mod cache;
pub mod clock;
pub mod condition;
pub mod decide;
pub mod events;
pub mod export;
pub mod forecast;
pub mod hash;
pub mod lock;
pub mod owner;
pub mod plan;
pub mod scheduler;
pub mod secrets;
pub mod size;
pub mod state;
