//! Output formats: diagnostics (text, JSON, GitHub workflow commands,
//! SARIF), plans, run history, and the progress of a run. One renderer per
//! format; the commands choose, the compiler and the runtime never print.

pub mod diagnostics;
pub mod github;
pub mod history;
pub mod metrics;
pub mod plan;
pub mod progress;
pub mod report;
pub mod report_path;
pub mod sarif;
pub mod table;
pub mod time;
