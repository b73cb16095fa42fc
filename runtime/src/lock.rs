//! Locks between wharf processes: OS file locks (`flock(2)`) on files under
//! `.wharf/locks/`. A lock dies with the process that holds it, so a
//! `kill -9` never leaves one stuck, and whether a lock is free tells
//! whether its holder still lives (a process id alone cannot: ids are
//! reused).
//!
//! - `run-<id>.lock` is held by the wharf process running (or resuming) run
//!   `<id>` for as long as it does: a run recorded as `running` whose lock
//!   is free was abandoned (its process is gone).
//! - `step-<key>.lock` is held while a step with cache key `<key>` runs, so
//!   two runs in one folder never execute the same work at the same time:
//!   the second waits, then takes the outputs from the cache.
//!
//! A lock file holds a line of JSON about its holder (run, pid, step), for
//! the message of whoever waits. It is removed by its holder on release;
//! taking a lock checks that the file locked is still the one at the path,
//! so a file removed under a waiter is never mistaken for the lock.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// A held lock; released (and its file removed) when dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

/// Who holds a lock, as its file says.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub run: String,
    pub pid: u32,
    #[serde(default)]
    pub step: Option<String>,
}

impl Holder {
    /// This process, running `run` (and `step`, for a step lock).
    pub fn me(run: &str, step: Option<&str>) -> Holder {
        Holder {
            run: run.to_string(),
            pid: std::process::id(),
            step: step.map(str::to_string),
        }
    }
}

impl FileLock {
    /// Takes the lock at `path` if it is free; `Ok(None)` if another process
    /// (or another `FileLock` of this one) holds it.
    pub fn try_take(path: &Path, holder: &Holder) -> std::io::Result<Option<FileLock>> {
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(path)
        };
        // A few rounds: each lost race with a holder removing its file is
        // followed by a fresh try on the new file.
        for _ in 0..16 {
            // The folder is made when the open says it is missing: a run
            // takes a lock per step, and the folder is there but the first time.
            let mut file = match open() {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    open()?
                }
                other => other?,
            };
            // SAFETY: flock takes a file descriptor we own, valid while `file` lives.
            let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
            if !taken {
                let err = std::io::Error::last_os_error();
                return match err.raw_os_error() {
                    Some(libc::EWOULDBLOCK) => Ok(None),
                    _ => Err(err),
                };
            }
            // The holder we raced with may have removed the file after we
            // opened it: then we locked a file nobody else will ever see.
            let same = match (file.metadata(), std::fs::metadata(path)) {
                (Ok(ours), Ok(there)) => ours.ino() == there.ino() && ours.dev() == there.dev(),
                _ => false,
            };
            if !same {
                continue;
            }
            file.set_len(0)?;
            let text = serde_json::to_string(holder).unwrap_or_default();
            file.write_all(format!("{text}\n").as_bytes())?;
            return Ok(Some(FileLock {
                file,
                path: path.to_path_buf(),
            }));
        }
        Ok(None)
    }

    /// Whether some live process holds the lock at `path` (a missing file is free).
    pub fn is_held(path: &Path) -> bool {
        let Ok(file) = File::open(path) else {
            return false;
        };
        // A shared lock is refused only while someone holds the exclusive one.
        // SAFETY: as in `try_take`.
        let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0;
        if free {
            // SAFETY: as above; the shared lock is dropped at once.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        }
        !free
    }

    /// What the lock file at `path` says of its holder, if it can be read.
    pub fn holder(path: &Path) -> Option<Holder> {
        let mut text = String::new();
        File::open(path).ok()?.read_to_string(&mut text).ok()?;
        serde_json::from_str(text.trim()).ok()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Removed while still held, so no one can lock the old file and
        // believe it holds the lock; closing the file then releases it.
        let _ = std::fs::remove_file(&self.path);
        // SAFETY: as in `try_take`.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Where the locks of a project live: `.wharf/locks/`.
pub fn run_lock_path(state_dir: &Path, run: &str) -> PathBuf {
    state_dir.join("locks").join(format!("run-{run}.lock"))
}

pub fn step_lock_path(state_dir: &Path, key: &str) -> PathBuf {
    state_dir.join("locks").join(format!("step-{key}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_and_freed_on_drop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("locks/x.lock");
        let me = Holder::me("r1", Some("s"));
        let first = FileLock::try_take(&path, &me).expect("lock").expect("free");
        assert!(FileLock::is_held(&path));
        assert_eq!(FileLock::holder(&path), Some(me.clone()));
        // flock locks belong to open files: a second open in this process is refused too.
        assert!(FileLock::try_take(&path, &me).expect("lock").is_none());
        drop(first);
        assert!(!path.exists(), "the holder removes its file");
        assert!(!FileLock::is_held(&path));
        assert!(FileLock::try_take(&path, &me).expect("lock").is_some());
    }

    #[test]
    fn a_lock_dies_with_its_process() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("held.lock");
        std::fs::write(&path, "").expect("write");
        // flock(1) holds the lock for as long as `sleep` runs (`-o`: in
        // itself, not in `sleep`, so killing it is killing the holder).
        let mut child = std::process::Command::new("flock")
            .arg("-o")
            .arg(&path)
            .args(["sleep", "30"])
            .spawn()
            .expect("flock(1) starts");
        let start = std::time::Instant::now();
        while !FileLock::is_held(&path) {
            assert!(start.elapsed().as_secs() < 10, "flock never took the lock");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().expect("kill -9");
        let _ = child.wait();
        // flock forks `sleep` after taking the lock, and the child closes
        // its copy of the descriptor just before exec: a kill in between
        // leaves that copy open for a moment. Free within a second, not
        // after the 30 s of `sleep`.
        let killed = std::time::Instant::now();
        while FileLock::is_held(&path) {
            assert!(killed.elapsed().as_secs() < 2, "a killed holder's lock is free");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
