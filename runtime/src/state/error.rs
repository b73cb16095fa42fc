//! Why the state store could not do what was asked, with what to do about it.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum StateError {
    /// The folder for the database cannot be created or written.
    Unwritable { path: PathBuf, reason: String },
    /// The file is not a SQLite database, or is damaged.
    Corrupt { path: PathBuf, reason: String },
    /// A newer wharf wrote this database.
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    /// Another error from SQLite.
    Sqlite(rusqlite::Error),
    /// A stored value that does not decode (a status this version does not know).
    Decode(String),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Unwritable { path, reason } => write!(
                f,
                "cannot write the state database at {}: {reason} (check the folder's permissions, or run from a writable folder)",
                path.display()
            ),
            StateError::Corrupt { path, reason } => write!(
                f,
                "the state database {} is damaged or not a wharf database ({reason}); move it aside to start afresh: run history and the cache index will be empty, outputs on disk are kept",
                path.display()
            ),
            StateError::NewerSchema { path, found, supported } => write!(
                f,
                "the state database {} was written by a newer wharf (schema {found}, this wharf knows up to {supported}); upgrade wharf, or move the file aside",
                path.display()
            ),
            StateError::Sqlite(_) if self.is_busy() => write!(
                f,
                "the state database is held by another wharf process for longer than wharf waits; let it finish, or stop it (`wharf runs` shows what is running)"
            ),
            StateError::Sqlite(e) => write!(f, "state database error: {e}"),
            StateError::Decode(what) => write!(f, "state database holds a value this wharf cannot read: {what}"),
        }
    }
}

impl StateError {
    /// Whether SQLite refused because another connection holds a lock: a
    /// reason to wait, not to move the file aside.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            StateError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

impl std::error::Error for StateError {}

impl From<rusqlite::Error> for StateError {
    fn from(e: rusqlite::Error) -> Self {
        StateError::Sqlite(e)
    }
}
