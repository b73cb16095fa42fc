//! The records the state store keeps. Plain data, serializable for
//! `wharf runs --format json` and `wharf show --format json`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// Recorded as running, but the wharf process running it is gone
    /// (killed, or its machine went down); what it left running was stopped.
    Abandoned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// Its outputs came from the cache.
    Cached,
    /// Its `when` was false, or a step it depends on was skipped or failed.
    Skipped,
    Cancelled,
    /// Outside `--from`/`--to`/`--only`, and not needed by a step inside:
    /// not touched at all.
    #[serde(rename = "not-selected")]
    NotSelected,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text,)* }
            }

            pub fn parse(text: &str) -> Option<$ty> {
                match text { $($text => Some($ty::$variant),)* _ => None }
            }
        }
    };
}

text_enum!(RunStatus { Running = "running", Succeeded = "succeeded", Failed = "failed", Cancelled = "cancelled", Abandoned = "abandoned" });
text_enum!(StepStatus {
    Pending = "pending",
    Running = "running",
    Succeeded = "succeeded",
    Failed = "failed",
    Cached = "cached",
    Skipped = "skipped",
    Cancelled = "cancelled",
    NotSelected = "not-selected",
});

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub id: String,
    pub pipeline: String,
    /// The pipeline file, as given on the command line.
    pub file: String,
    pub target: String,
    /// Resolved params, as JSON.
    pub params: serde_json::Value,
    pub status: RunStatus,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    pub run: String,
    pub step: String,
    pub kind: String,
    pub backend: String,
    pub status: StepStatus,
    pub cache_key: Option<String>,
    /// Why it was skipped, cached or failed, in words.
    pub reason: Option<String>,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    pub run: String,
    pub step: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    pub log_path: Option<String>,
    /// What the backend calls the work (a process id, a container id, a job name),
    /// so that a resumed run can find it again.
    pub handle: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactRecord {
    pub run: String,
    pub step: String,
    pub output: String,
    /// `file://...` or `s3://...`: the output's folder, also for a
    /// `file("x.json")` output (the cache and downstream steps take folders).
    pub uri: String,
    /// Bytes of the output's content: every file in its folder.
    pub size: u64,
    /// The content hash (BLAKE3, hex).
    pub hash: String,
    /// For a `file("x.json")` output, the file's name in the folder
    /// (`ArtifactRecord::file_uri`); `None` for a `dir()` output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl ArtifactRecord {
    /// Where the output's data is: the file of a `file("x.json")` output,
    /// else the folder.
    pub fn file_uri(&self) -> String {
        match &self.file {
            Some(name) => format!("{}/{name}", self.uri.trim_end_matches('/')),
            None => self.uri.clone(),
        }
    }
}

/// A finished step's outputs, found again by the step's cache key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheEntry {
    pub key: String,
    pub pipeline: String,
    pub step: String,
    pub run: String,
    /// The parts the key was made of (definition, params, input hashes ...),
    /// with secrets left out, so `wharf why` can say which part changed.
    pub parts: serde_json::Value,
    pub outputs: Vec<ArtifactRecord>,
    pub created_ms: i64,
}

/// A step taken from the cache, recorded with others in one transaction:
/// its record, its outputs as this run's, and the file lists of outputs
/// whose files were only touched (output URI -> entries).
#[derive(Debug, Clone)]
pub struct CachedStep {
    pub record: StepRecord,
    pub artifacts: Vec<ArtifactRecord>,
    pub files: Vec<(String, Vec<OutputFile>)>,
}

/// One entry of a recorded output folder: what a cache hit checks with
/// `stat` before it trusts the output (see `decide::manifest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// Relative to the output's folder, `/`-separated.
    pub path: String,
    pub kind: FileKind,
    /// Bytes (files only; 0 otherwise).
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// BLAKE3 of a file's bytes; a link's target; empty for a folder.
    pub hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Link,
}

text_enum!(FileKind { File = "file", Dir = "dir", Link = "link" });

/// A file's content hash as the stat cache keeps it, with what `stat` said
/// of the file when it was read: the hash is trusted again only while every
/// field of the stamp is the same (see `crate::hash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// The path that was read, absolute (resolved), as the OS's bytes.
    pub path: Vec<u8>,
    /// `true`: the hash `hash_path` gives the file alone (an input that is
    /// one file); `false`: the BLAKE3 of its bytes, as a folder's hash holds it.
    pub whole: bool,
    pub stamp: FileStamp,
    pub hash: [u8; 32],
}

/// What `stat` says about a file, all of which must be unchanged for a
/// recorded digest to stand: a new inode (a file replaced by rename), a
/// new size, mtime or ctime (an edit, even one that set the mtime back:
/// that moves the ctime, which no user can set) each mean "read it again".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}
