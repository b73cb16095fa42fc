//! What a caller tells the compiler besides the file: `-p` overrides, how
//! strict to be, and the backends it can run steps on.

use crate::backends::BackendSpec;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-p NAME=VALUE` overrides, in command-line order.
    pub params: Vec<(String, String)>,
    /// Accept a file with no pipeline (only templates and targets) as a library.
    pub allow_library: bool,
    /// Accept params that have no default and no `-p` value (for `check`,
    /// which validates a file without running it). Otherwise they are errors.
    pub allow_missing_params: bool,
    /// The backends a target may name, the first being the one a file
    /// without targets runs on. With none, such a file gets no target.
    pub backends: Vec<&'static BackendSpec>,
}
