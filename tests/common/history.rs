//! A temporary project folder with a `.wharf/state.db` seeded through the
//! real `SqliteStore`, for the history commands' tests (`runs`, `show`,
//! `logs`). Times are fixed UTC instants; the tests run `wharf` with `TZ=UTC`.

use super::wharf_in;
use assert_cmd::Command;
use serde_json::json;
use std::path::{Path, PathBuf};
use wharf_runtime::state::{
    ArtifactRecord, AttemptRecord, RunRecord, RunStatus, SqliteStore, StateStore, StepRecord, StepStatus,
};

/// 2026-11-24 09:00:00 UTC.
pub const DAY_1: i64 = 1_795_510_800_000;
/// 2026-11-25 14:30:12 UTC.
pub const DAY_2: i64 = 1_795_617_012_000;
/// 2026-11-25 15:00:00 UTC.
pub const DAY_2_LATER: i64 = 1_795_618_800_000;

pub const OLD_RUN: &str = "20261124-090000-ffee";
pub const FAILED_RUN: &str = "20261125-143012-a1b2";
pub const RUNNING_RUN: &str = "20261125-150000-c3d4";

pub struct History {
    pub dir: tempfile::TempDir,
    pub store: SqliteStore,
}

impl History {
    /// An empty history: `.wharf/state.db` exists and holds no runs.
    pub fn empty() -> History {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = SqliteStore::open(&dir.path().join(".wharf")).expect("a new state database");
        History { dir, store }
    }

    /// Three runs of `churn`: one that succeeded, one that failed (a cached
    /// step, a retried failure, a skipped step) and one still running.
    pub fn churn() -> History {
        let mut h = History::empty();
        h.run(OLD_RUN, RunStatus::Succeeded, DAY_1, Some(DAY_1 + 3_400));
        h.step(
            OLD_RUN,
            "prepare",
            StepStatus::Succeeded,
            Some((DAY_1, DAY_1 + 3_300)),
            None,
        );
        h.attempt(
            OLD_RUN,
            "prepare",
            1,
            StepStatus::Succeeded,
            None,
            Some("old prepare\n"),
        );

        h.run(FAILED_RUN, RunStatus::Failed, DAY_2, Some(DAY_2 + 66_400));
        h.step(
            FAILED_RUN,
            "tools",
            StepStatus::Cached,
            None,
            Some("same key as run 20261124-090000-ffee"),
        );
        h.step(
            FAILED_RUN,
            "prepare",
            StepStatus::Succeeded,
            Some((DAY_2 + 100, DAY_2 + 1_330)),
            None,
        );
        h.attempt(
            FAILED_RUN,
            "prepare",
            1,
            StepStatus::Succeeded,
            None,
            Some("reading data/churn.csv\nwrote 2 outputs\n"),
        );
        h.artifact(FAILED_RUN, "prepare", "train", 1_024);
        h.artifact(FAILED_RUN, "prepare", "test", 256);
        h.step(
            FAILED_RUN,
            "fit",
            StepStatus::Failed,
            Some((DAY_2 + 1_400, DAY_2 + 62_400)),
            Some("exit code 3"),
        );
        h.attempt(
            FAILED_RUN,
            "fit",
            1,
            StepStatus::Failed,
            Some("exit code 137"),
            Some("epoch 1/3\nKilled\n"),
        );
        h.attempt(
            FAILED_RUN,
            "fit",
            2,
            StepStatus::Failed,
            Some("exit code 3"),
            Some("epoch 1/3\nValueError: bad depth\n"),
        );
        h.step(FAILED_RUN, "evaluate", StepStatus::Skipped, None, Some("`fit` failed"));

        h.run(RUNNING_RUN, RunStatus::Running, DAY_2_LATER, None);
        h.step(
            RUNNING_RUN,
            "prepare",
            StepStatus::Running,
            Some((DAY_2_LATER, DAY_2_LATER + 10)),
            None,
        );
        h.attempt(RUNNING_RUN, "prepare", 1, StepStatus::Running, None, Some("starting\n"));
        h
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `wharf` with this folder as its current folder.
    pub fn wharf(&self) -> Command {
        wharf_in(self.path())
    }

    pub fn run(&mut self, id: &str, status: RunStatus, started_ms: i64, finished_ms: Option<i64>) {
        self.store
            .create_run(&RunRecord {
                id: id.into(),
                pipeline: "churn".into(),
                file: "pipelines/churn.wharf".into(),
                target: "local".into(),
                params: json!({"data": "data/churn.csv", "max_depth": 6}),
                status,
                started_ms,
                finished_ms,
            })
            .expect("run recorded");
        // A running run needs a live wharf, or the commands find it
        // abandoned and clean up after it: the test process stands in.
        if status == RunStatus::Running {
            self.store
                .set_owner(id, &wharf_runtime::owner::me())
                .expect("owner recorded");
        }
    }

    pub fn step(&mut self, run: &str, step: &str, status: StepStatus, span: Option<(i64, i64)>, reason: Option<&str>) {
        let finished = !matches!(status, StepStatus::Running | StepStatus::Pending);
        self.store
            .put_step(&StepRecord {
                run: run.into(),
                step: step.into(),
                kind: "step".into(),
                backend: "process".into(),
                status,
                cache_key: Some(format!("key-of-{step}")),
                reason: reason.map(String::from),
                started_ms: span.map(|s| s.0),
                finished_ms: span.filter(|_| finished).map(|s| s.1),
            })
            .expect("step recorded");
    }

    /// Records an attempt; with `log`, writes its log file under
    /// `.wharf/runs/RUN/STEP/N/` and records that path relative to the folder.
    pub fn attempt(
        &mut self,
        run: &str,
        step: &str,
        n: u32,
        status: StepStatus,
        error: Option<&str>,
        log: Option<&str>,
    ) -> PathBuf {
        let relative = PathBuf::from(format!(".wharf/runs/{run}/{step}/{n}/log"));
        if let Some(text) = log {
            let path = self.path().join(&relative);
            std::fs::create_dir_all(path.parent().expect("a log folder")).expect("log folder created");
            std::fs::write(&path, text).expect("log written");
        }
        self.put_attempt(AttemptRecord {
            run: run.into(),
            step: step.into(),
            attempt: n,
            status,
            exit_code: None,
            error: error.map(String::from),
            started_ms: DAY_2,
            finished_ms: None,
            log_path: Some(relative.display().to_string()),
            handle: Some(format!("pid {}", 1000 + n)),
        });
        self.path().join(relative)
    }

    pub fn put_attempt(&mut self, attempt: AttemptRecord) {
        self.store.put_attempt(&attempt).expect("attempt recorded");
    }

    pub fn artifact(&mut self, run: &str, step: &str, output: &str, size: u64) {
        self.store
            .put_artifact(&ArtifactRecord {
                run: run.into(),
                step: step.into(),
                output: output.into(),
                uri: format!("file:///work/.wharf/runs/{run}/{step}/1/outputs/{output}"),
                size,
                hash: "ab".repeat(32),
                file: None,
            })
            .expect("artifact recorded");
    }

    /// Replaces the database with bytes that are not SQLite.
    pub fn corrupt(&self) {
        let db = self.path().join(".wharf/state.db");
        for extra in ["state.db-wal", "state.db-shm"] {
            let _ = std::fs::remove_file(self.path().join(".wharf").join(extra));
        }
        std::fs::write(
            db,
            b"not a database at all, just some text long enough to read a header from",
        )
        .expect("garbage written");
    }
}

/// A project folder whose database a newer wharf wrote (schema 99).
pub fn newer_schema() -> tempfile::TempDir {
    let h = History::churn();
    let History { dir, store } = h;
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join(".wharf/state.db")).expect("raw open");
    conn.pragma_update(None, "user_version", 99).expect("version bumped");
    dir
}
