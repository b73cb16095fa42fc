//! The compiler's only window on the outside world. The CLI implements it
//! with the file system and the process environment; tests implement it with
//! maps, so every stage can be tested without touching a disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub trait World {
    /// The text of a user file. `path` is the entry path as given, or an
    /// import path joined onto its importer's folder.
    fn read(&self, path: &Path) -> Result<String, String>;

    /// A host environment variable, for `env("NAME")` where it must be known
    /// at plan time (a target's `role`, say).
    fn env(&self, name: &str) -> Option<String>;
}

/// An in-memory [`World`] for tests, benchmarks and the fuzzer.
#[derive(Debug, Default, Clone)]
pub struct MemoryWorld {
    pub files: HashMap<PathBuf, String>,
    pub vars: HashMap<String, String>,
}

impl MemoryWorld {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_file(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.files.insert(path.into(), text.into());
        self
    }

    pub fn with_var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }
}

impl World for MemoryWorld {
    fn read(&self, path: &Path) -> Result<String, String> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| "no such file".to_string())
    }

    fn env(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

/// Removes `.` and resolves `..` lexically, so that the same file reached by
/// two spellings is recognised (for import cycles and duplicate loads).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let at_root = out.has_root() && out.parent().is_none();
                let poppable = matches!(out.components().next_back(), Some(Component::Normal(_)));
                if poppable {
                    out.pop();
                } else if !at_root {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
