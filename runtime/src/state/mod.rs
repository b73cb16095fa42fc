//! The state store: every run, step, attempt, artifact and cache entry,
//! recorded as it happens so that a crash at any instant loses nothing that
//! finished and `--resume` can pick up where a run stopped.
//!
//! [`StateStore`] is the trait the scheduler and the commands use;
//! [`SqliteStore`] implements it on `.wharf/state.db` (and in memory, for
//! tests). Records are plain data; times are milliseconds since the Unix epoch.

mod digests;
mod error;
mod files;
mod records;
mod schema;
mod sqlite;

pub use error::StateError;
pub use records::{
    ArtifactRecord, AttemptRecord, CacheEntry, CachedStep, FileDigest, FileKind, FileStamp, OutputFile, RunRecord,
    RunStatus, StepRecord, StepStatus,
};
pub use sqlite::SqliteStore;

/// What the runtime records and reads back. Every method that changes state
/// commits before it returns.
pub trait StateStore: Send {
    fn create_run(&mut self, run: &RunRecord) -> Result<(), StateError>;
    fn finish_run(&mut self, run: &str, status: RunStatus, finished_ms: i64) -> Result<(), StateError>;
    /// Inserts or replaces the record of one step in one run.
    fn put_step(&mut self, step: &StepRecord) -> Result<(), StateError>;
    /// Inserts or replaces one attempt.
    fn put_attempt(&mut self, attempt: &AttemptRecord) -> Result<(), StateError>;
    fn put_artifact(&mut self, artifact: &ArtifactRecord) -> Result<(), StateError>;
    fn put_cache(&mut self, entry: &CacheEntry) -> Result<(), StateError>;
    /// An attempt that starts, with its step's record (now running), in
    /// one transaction: one commit instead of two at every start.
    fn put_started(&mut self, step: &StepRecord, attempt: &AttemptRecord) -> Result<(), StateError>;
    /// A step's end in one transaction: its last attempt's end (when it is
    /// not recorded yet), its outputs, their file lists (output URI ->
    /// entries), its cache entry (when it made one) and its record, so that
    /// none is recorded without the others.
    fn put_outcome(
        &mut self,
        step: &StepRecord,
        attempt: Option<&AttemptRecord>,
        artifacts: &[ArtifactRecord],
        files: &[(String, Vec<OutputFile>)],
        cache: Option<&CacheEntry>,
    ) -> Result<(), StateError>;

    /// Replaces the file list recorded for the output at `uri` (a cache hit
    /// that found only timestamps moved records the new ones).
    fn put_output_files(&mut self, uri: &str, files: &[OutputFile]) -> Result<(), StateError>;

    /// Several cached steps' records, outputs and refreshed file lists in one transaction (batched).
    fn put_outcomes(&mut self, outcomes: &[CachedStep]) -> Result<(), StateError>;

    /// Records who runs `run`: `host/pid/start` of the wharf process (see
    /// `crate::owner`), so that a run whose process is gone can be told apart.
    fn set_owner(&mut self, run: &str, owner: &str) -> Result<(), StateError>;
    fn owner(&self, run: &str) -> Result<Option<String>, StateError>;
    /// Runs recorded as `running`, and runs that still have attempts
    /// recorded as `running`: what a killed wharf may have left behind.
    fn unfinished_runs(&self) -> Result<Vec<RunRecord>, StateError>;

    fn run(&self, id: &str) -> Result<Option<RunRecord>, StateError>;
    /// The newest runs first.
    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError>;
    fn steps(&self, run: &str) -> Result<Vec<StepRecord>, StateError>;
    fn attempts(&self, run: &str, step: &str) -> Result<Vec<AttemptRecord>, StateError>;
    /// Every attempt of a run, by step, oldest first: one query for a summary.
    fn run_attempts(&self, run: &str) -> Result<Vec<AttemptRecord>, StateError>;
    fn artifacts(&self, run: &str) -> Result<Vec<ArtifactRecord>, StateError>;
    /// The file list recorded for the output at `uri`; empty when none was
    /// (an output recorded by an older wharf, or an empty folder).
    fn output_files(&self, uri: &str) -> Result<Vec<OutputFile>, StateError>;
    fn cache_entry(&self, key: &str) -> Result<Option<CacheEntry>, StateError>;
    /// The newest cache entry recorded for a step of a pipeline, whatever its
    /// key: what `wharf why` compares the current key with.
    fn latest_cache_entry(&self, pipeline: &str, step: &str) -> Result<Option<CacheEntry>, StateError>;

    /// The stat cache: the digests recorded for the file at `path` and for
    /// every file below it (see `crate::hash`). A store without one has none.
    fn file_digests(&self, path: &[u8]) -> Result<Vec<FileDigest>, StateError> {
        let _ = path;
        Ok(Vec::new())
    }

    /// Records `fresh` digests (replacing those of the same file and form)
    /// and forgets `gone` ones, in one transaction. Takes `&self`: the stat
    /// cache is a cache, not a record, and commands that otherwise only
    /// read (`plan`, `why`) fill it too. Callers ignore its errors (a
    /// read-only database): the next command hashes again.
    fn put_file_digests(&self, fresh: &[FileDigest], gone: &[FileDigest]) -> Result<(), StateError> {
        let _ = (fresh, gone);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
