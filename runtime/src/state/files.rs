//! The state database's files on disk: `state.db` and the `state.db-wal`
//! and `state.db-shm` files SQLite keeps beside it in WAL mode. A copy
//! made with `cp -r` by another user, a `chmod`, or a wharf once run with
//! `sudo` can leave them read-only, and SQLite then refuses every write
//! with a message that names none of them. Files that belong to the user
//! get their write permission back; others are explained.

use super::StateError;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Makes `db` and its `-wal` and `-shm` files writable when they are this
/// user's; a file of another user that cannot be written is an error that
/// names it, its owner and what to do.
pub(super) fn make_writable(db: &Path) -> Result<(), StateError> {
    for path in [db.to_path_buf(), with_suffix(db, "-wal"), with_suffix(db, "-shm")] {
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        // SAFETY: geteuid takes nothing and cannot fail.
        let me = unsafe { libc::geteuid() };
        // The mode, not access(2): root may write a read-only file, but the
        // next user of the folder may not.
        if meta.uid() == me && meta.mode() & 0o200 == 0 {
            let mut perms = meta.permissions();
            perms.set_mode(perms.mode() | 0o600);
            let _ = std::fs::set_permissions(&path, perms);
        }
        if writable(&path) {
            continue;
        }
        return Err(StateError::Unwritable {
            path: path.clone(),
            reason: format!(
                "the file is read-only to this user (it belongs to user id {}, mode {:o}); a wharf run as another user (sudo?) may have left it. Give the folder back with `sudo chown -R $(id -u) {}`, or run wharf as user id {}",
                meta.uid(),
                meta.mode() & 0o7777,
                path.parent().map_or_else(|| ".".into(), |p| p.display().to_string()),
                meta.uid()
            ),
        });
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access(2) only reads it.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_wal_and_shm_of_this_user_are_made_writable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("state.db");
        for name in ["state.db", "state.db-wal", "state.db-shm"] {
            let path = dir.path().join(name);
            std::fs::write(&path, "").expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).expect("chmod");
        }
        make_writable(&db).expect("recovered");
        for name in ["state.db", "state.db-wal", "state.db-shm"] {
            let mode = std::fs::metadata(dir.path().join(name)).expect("meta").mode();
            assert_eq!(mode & 0o777, 0o644, "{name} is writable again");
        }
    }
}
