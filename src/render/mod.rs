//! Output formats: diagnostics, plans, run history, and the progress of a
//! run. One renderer per format; the commands choose, the compiler and the
//! runtime never print.

pub mod diagnostics;
pub mod history;
pub mod metrics;
pub mod plan;
pub mod progress;
pub mod table;
pub mod time;
