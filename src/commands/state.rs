//! The state store as the history commands (`runs`, `show`, `logs`) read
//! it: `.wharf/state.db` beside where `wharf` runs, opened only if it
//! exists (reading history never creates it), every [`StateError`] turned
//! into a message that names the file and what to do, and runs found by id,
//! unique prefix or `last`.

use crate::render::history::StepHistory;
use std::path::Path;
use wharf_runtime::state::{ArtifactRecord, AttemptRecord, RunRecord, SqliteStore, StateError, StateStore, StepRecord};

/// The project's state folder (absolute): `.wharf/` in the project root,
/// or where `--state-dir`, `WHARF_STATE_DIR` or wharf.toml put it.
pub fn state_dir() -> &'static Path {
    &crate::project::get().state_dir
}

/// How many run ids an "unknown run" hint lists.
const HINT_RUNS: usize = 5;

/// An open state database, with errors that say which file they are about.
pub struct StateDb {
    store: Box<dyn StateStore>,
    path: std::path::PathBuf,
    /// The abandoned runs cleaned up on opening.
    cleaned: Vec<wharf_runtime::abandoned::CleanUp>,
}

impl StateDb {
    /// Opens `.wharf/state.db`; `None` when no run was ever recorded here.
    /// Runs whose wharf process is gone are cleaned up first (see
    /// `abandoned.rs`), so that what the command shows is true.
    pub fn open() -> anyhow::Result<Option<StateDb>> {
        let dir = state_dir();
        let path = dir.join("state.db");
        if !path.is_file() {
            return Ok(None);
        }
        let store: Box<dyn StateStore> = Box::new(SqliteStore::open(dir).map_err(|e| describe(e, &path))?);
        let runs = super::abandoned::find(&*store, None).map_err(|e| describe(e, &path))?;
        if runs.is_empty() {
            return Ok(Some(StateDb {
                store,
                path,
                cleaned: Vec::new(),
            }));
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let backends = super::abandoned::local_backends(&*store, &runs, &runtime);
        let shared: super::abandoned::Shared = std::sync::Arc::new(std::sync::Mutex::new(store));
        let cleaned = runtime.block_on(super::abandoned::clean_up(&shared, &backends, &runs));
        drop(backends);
        let store = match std::sync::Arc::try_unwrap(shared) {
            Ok(mutex) => mutex.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()),
            Err(_) => Box::new(SqliteStore::open(dir).map_err(|e| describe(e, &path))?),
        };
        Ok(Some(StateDb { store, path, cleaned }))
    }

    /// The abandoned runs this opening cleaned up after.
    pub fn cleaned(&self) -> &[wharf_runtime::abandoned::CleanUp] {
        &self.cleaned
    }

    pub fn store(&self) -> &dyn StateStore {
        &*self.store
    }

    /// Opens `.wharf/state.db`, which the command cannot do without.
    pub fn open_required() -> anyhow::Result<StateDb> {
        StateDb::open()?.ok_or_else(|| {
            let project = crate::project::get();
            let shown = project.state_dir_shown();
            let help = match &project.file {
                Some(file) => format!("`wharf run` records the runs of the project of {} in {shown}/", file.display()),
                None => format!(
                    "`wharf run` records its runs in {shown}/ of the folder it runs in; run this command from that folder, or put a wharf.toml in the project's root (`wharf init`) so that any folder of it finds them"
                ),
            };
            anyhow::anyhow!("no runs recorded here: {shown}/state.db does not exist\n  = help: {help}")
        })
    }

    /// The newest runs first, at most `limit`.
    pub fn runs(&self, limit: usize) -> anyhow::Result<Vec<RunRecord>> {
        self.store.runs(limit).map_err(|e| self.describe(e))
    }

    /// The run named by `wanted`: a whole id, a prefix of exactly one id, or `last`.
    pub fn find_run(&self, wanted: &str) -> anyhow::Result<RunRecord> {
        if wanted == "last" {
            return self
                .runs(1)?
                .into_iter()
                .next()
                .ok_or_else(|| anyhow::anyhow!("no runs recorded yet in {}", self.path.display()));
        }
        if let Some(run) = self.store.run(wanted).map_err(|e| self.describe(e))? {
            return Ok(run);
        }
        // Every id is read to match a prefix: fine for a history of thousands of runs.
        let all = self.runs(i64::MAX as usize)?;
        let mut matches: Vec<RunRecord> = if wanted.is_empty() {
            Vec::new()
        } else {
            all.iter().filter(|r| r.id.starts_with(wanted)).cloned().collect()
        };
        match matches.len() {
            1 => Ok(matches.remove(0)),
            0 if all.is_empty() => anyhow::bail!(
                "no run `{wanted}`: {} holds no runs yet\n  = help: `wharf run PIPELINE` records one",
                self.path.display()
            ),
            0 => anyhow::bail!(
                "no run `{wanted}` in {}\n  = help: the newest runs are {}; `last` names the newest",
                self.path.display(),
                ids(&all)
            ),
            n => anyhow::bail!(
                "`{wanted}` is the start of {n} run ids: {}\n  = help: give more of the id",
                ids(&matches)
            ),
        }
    }

    /// Every step of a run with its attempts and artifacts, in the order they started.
    pub fn steps(&self, run: &str) -> anyhow::Result<Vec<StepHistory>> {
        let records = self.step_records(run)?;
        // Three queries for the whole run, grouped here, rather than two per step.
        let mut artifacts: std::collections::HashMap<String, Vec<ArtifactRecord>> = Default::default();
        for a in self.store.artifacts(run).map_err(|e| self.describe(e))? {
            artifacts.entry(a.step.clone()).or_default().push(a);
        }
        let mut attempts: std::collections::HashMap<String, Vec<AttemptRecord>> = Default::default();
        for a in self.store.run_attempts(run).map_err(|e| self.describe(e))? {
            attempts.entry(a.step.clone()).or_default().push(a);
        }
        Ok(records
            .into_iter()
            .map(|record| StepHistory {
                attempts: attempts.remove(&record.step).unwrap_or_default(),
                artifacts: artifacts.remove(&record.step).unwrap_or_default(),
                record,
            })
            .collect())
    }

    pub fn step_records(&self, run: &str) -> anyhow::Result<Vec<StepRecord>> {
        self.store.steps(run).map_err(|e| self.describe(e))
    }

    /// A step's attempts, oldest first.
    pub fn attempts(&self, run: &str, step: &str) -> anyhow::Result<Vec<AttemptRecord>> {
        self.store.attempts(run, step).map_err(|e| self.describe(e))
    }

    /// The cache entry recorded under `key`, if any.
    pub fn cache_entry(&self, key: &str) -> anyhow::Result<Option<wharf_runtime::state::CacheEntry>> {
        self.store.cache_entry(key).map_err(|e| self.describe(e))
    }

    fn describe(&self, err: StateError) -> anyhow::Error {
        describe(err, &self.path)
    }
}

/// A state store error as a message that names the file. The store's own
/// messages for a damaged, newer or unwritable database already say what
/// to do; the rest get the file's name added.
pub fn describe(err: StateError, path: &Path) -> anyhow::Error {
    // Only the commands that keep state care where it goes: a state folder
    // that is a file is said so here, not by every command.
    let dir = state_dir();
    if dir.exists() && !dir.is_dir() {
        return anyhow::anyhow!(
            "cannot write the state database: the state folder {} is a file, not a folder\n  = help: move the file, or point --state-dir, WHARF_STATE_DIR or wharf.toml's `state_dir` at a folder (wharf creates it)",
            dir.display()
        );
    }
    match err {
        StateError::Corrupt { .. } | StateError::NewerSchema { .. } | StateError::Unwritable { .. } => {
            anyhow::anyhow!("{err}")
        }
        // Another wharf holds it: waiting is the advice, not moving it aside.
        StateError::Sqlite(_) if err.is_busy() => anyhow::anyhow!("{}: {err}", path.display()),
        StateError::Sqlite(_) | StateError::Decode(_) => {
            anyhow::anyhow!(
                "cannot read {}: {err}\n  = help: if this persists, move the file aside: run history and the cache index start afresh, outputs on disk are kept",
                path.display()
            )
        }
    }
}

fn ids(runs: &[RunRecord]) -> String {
    let mut list: Vec<String> = runs.iter().take(HINT_RUNS).map(|r| format!("`{}`", r.id)).collect();
    if runs.len() > HINT_RUNS {
        list.push(format!("and {} more", runs.len() - HINT_RUNS));
    }
    list.join(", ")
}

/// The state store for commands that only look (`plan`, `why`): the
/// project's database when there is one, else an empty one in memory, so
/// that looking never creates `.wharf/`. Also gives the file's path, for errors.
pub fn open_or_empty() -> anyhow::Result<(Box<dyn StateStore>, std::path::PathBuf)> {
    let dir = state_dir();
    let db = dir.join("state.db");
    let store: Box<dyn StateStore> = if db.is_file() {
        Box::new(SqliteStore::open(dir).map_err(|e| describe(e, &db))?)
    } else {
        Box::new(SqliteStore::open_in_memory().map_err(|e| describe(e, &db))?)
    };
    Ok((store, db))
}
