//! Where a run keeps its files under `.wharf/` (product surface: documented
//! in docs/runtime.md):
//!
//! ```text
//! .wharf/state.db                                the state store
//! .wharf/runs/<run>/<step>/<attempt>/            an attempt's working folder
//! .wharf/runs/<run>/<step>/<attempt>/outputs/<o> an output
//! .wharf/runs/<run>/<step>/<attempt>/log         its stdout and stderr
//! ```

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// `root` is the `.wharf` folder.
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn attempt_dir(&self, run: &str, step: &str, attempt: u32) -> PathBuf {
        self.root.join("runs").join(run).join(step).join(attempt.to_string())
    }

    pub fn log_path(&self, run: &str, step: &str, attempt: u32) -> PathBuf {
        self.attempt_dir(run, step, attempt).join("log")
    }
}
