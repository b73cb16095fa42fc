//! Programs named without a `/` (`sh`, `python`), found on `PATH` once per
//! run rather than at every spawn. Left to the spawn, the search is made in
//! the child, by trying `execve` in each `PATH` folder in turn until one
//! works: eight failed system calls per step on a usual `PATH`, for a
//! pipeline that runs the same `sh` ten thousand times.
//!
//! The answer is the one `execvp` would give: the first folder of `PATH` (the
//! `PATH` the step gets, which its `env` may set) holding an executable file
//! of that name, an empty entry meaning the step's current folder. A program
//! that is not found is left to the spawn, so that its error reads as
//! before; a found program that has gone since is searched for again.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// (program, `PATH`) -> where it was found.
#[derive(Default)]
pub(super) struct Programs {
    found: Mutex<HashMap<(String, OsString), PathBuf>>,
}

impl Programs {
    /// Where `program` is on `path` (searched from `current_dir` for an
    /// empty entry), or `None` to leave the search to the spawn.
    pub(super) fn find(&self, program: &str, path: &OsStr, current_dir: &Path) -> Option<PathBuf> {
        if program.is_empty() || program.contains('/') {
            return None;
        }
        let key = (program.to_string(), path.to_os_string());
        if let Some(found) = self.found.lock().ok()?.get(&key) {
            return Some(found.clone());
        }
        let (found, relative) = std::env::split_paths(path)
            .map(|dir| (current_dir.join(&dir).join(program), dir.is_relative()))
            .find(|(candidate, _)| is_executable(candidate))?;
        // An empty or relative entry of PATH is relative to the step's
        // folder, which differs from step to step: found, but not kept.
        if relative {
            return Some(found);
        }
        self.found.lock().ok()?.insert(key, found.clone());
        Some(found)
    }

    /// Forgets where `program` was: it could not be started from there.
    pub(super) fn forget(&self, program: &str, path: &OsStr) {
        if let Ok(mut found) = self.found.lock() {
            found.remove(&(program.to_string(), path.to_os_string()));
        }
    }
}

/// A regular file (links followed) that someone may execute. `execvp`
/// asks the kernel; a file the kernel would refuse to us (the permission
/// bits of another user) makes the spawn fail, and the search is redone
/// by the spawn itself.
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_executable_on_path_is_found_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).expect("a");
        std::fs::create_dir_all(&b).expect("b");
        // Not executable in `a`: skipped, as execvp skips it.
        std::fs::write(a.join("tool"), "").expect("write");
        std::fs::write(b.join("tool"), "").expect("write");
        std::fs::set_permissions(b.join("tool"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = std::env::join_paths([&a, &b]).expect("PATH");
        let programs = Programs::default();
        assert_eq!(programs.find("tool", &path, dir.path()), Some(b.join("tool")));
        // Remembered: found even after the file is gone, until forgotten.
        std::fs::remove_file(b.join("tool")).expect("remove");
        assert_eq!(programs.find("tool", &path, dir.path()), Some(b.join("tool")));
        programs.forget("tool", &path);
        assert_eq!(programs.find("tool", &path, dir.path()), None);
        assert_eq!(
            programs.find("./tool", &path, dir.path()),
            None,
            "a path is not searched"
        );
    }

    #[test]
    fn an_empty_entry_is_the_current_folder() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("tool"), "").expect("write");
        std::fs::set_permissions(dir.path().join("tool"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let programs = Programs::default();
        assert_eq!(
            programs.find("tool", OsStr::new(":/nonexistent"), dir.path()),
            Some(dir.path().join("tool"))
        );
    }

    #[test]
    fn a_relative_entry_is_searched_again_from_each_folder() {
        let (one, two) = (tempfile::tempdir().expect("one"), tempfile::tempdir().expect("two"));
        for dir in [one.path(), two.path()] {
            std::fs::write(dir.join("tool"), "").expect("write");
            std::fs::set_permissions(dir.join("tool"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let programs = Programs::default();
        let path = OsStr::new(":/nonexistent");
        assert_eq!(programs.find("tool", path, one.path()), Some(one.path().join("tool")));
        assert_eq!(
            programs.find("tool", path, two.path()),
            Some(two.path().join("tool")),
            "not the first step's folder, kept"
        );
    }
}
