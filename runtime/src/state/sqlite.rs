//! [`StateStore`] on SQLite: `.wharf/state.db`, in WAL mode, one committed
//! transaction per change. WAL with `synchronous = NORMAL` survives the
//! process being killed at any instant (committed pages are in the WAL file
//! the OS already has); only a power cut may lose the last commits, which a
//! resumed run re-does.

use super::records::*;
use super::schema::{MIGRATIONS, current_version};
use super::{StateError, StateStore};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};
use std::path::{Path, PathBuf};

/// How long opening waits for other wharf processes that hold the
/// database's locks (migrating it, switching it to WAL).
const OPEN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) `dir/state.db`, migrating it to the current schema.
    pub fn open(dir: &Path) -> Result<SqliteStore, StateError> {
        SqliteStore::open_with(dir, false)
    }

    /// [`SqliteStore::open`] for a command that is about to write (a run):
    /// an existing file is checked with `PRAGMA quick_check` before anything
    /// is written to it, migrations included.
    pub fn open_checked(dir: &Path) -> Result<SqliteStore, StateError> {
        SqliteStore::open_with(dir, true)
    }

    fn open_with(dir: &Path, check: bool) -> Result<SqliteStore, StateError> {
        std::fs::create_dir_all(dir).map_err(|e| StateError::Unwritable {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        // Several wharf processes opening one folder at once: switching a
        // fresh file to WAL and migrating it take locks that SQLite may
        // refuse at once (SQLITE_BUSY without its busy handler, as when
        // another connection is mid-way through the switch). Such a refusal
        // is a wait, never an error the user must act on.
        let deadline = std::time::Instant::now() + OPEN_PATIENCE;
        let mut pause = std::time::Duration::from_millis(5);
        loop {
            match SqliteStore::open_once(dir, check) {
                Err(e) if e.is_busy() && std::time::Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }

    fn open_once(dir: &Path, check: bool) -> Result<SqliteStore, StateError> {
        let path = dir.join("state.db");
        let existed = path.is_file();
        super::files::make_writable(&path)?;
        let conn = Connection::open(&path).map_err(|e| classify(&path, e))?;
        let mut store = SqliteStore { conn, path };
        store.configure().map_err(|e| classify(&store.path, e))?;
        if check && existed {
            store.quick_check()?;
        }
        store.migrate()?;
        Ok(store)
    }

    /// A fresh database in memory, for tests.
    pub fn open_in_memory() -> Result<SqliteStore, StateError> {
        let conn = Connection::open_in_memory()?;
        let mut store = SqliteStore {
            conn,
            path: PathBuf::from(":memory:"),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn configure(&mut self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // journal_mode answers with a row, so it is read rather than executed.
        let _mode: String = self.conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
    }

    fn migrate(&mut self) -> Result<(), StateError> {
        let path = self.path.clone();
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| classify(&path, e))?;
        if version > current_version() {
            return Err(StateError::NewerSchema {
                path,
                found: version,
                supported: current_version(),
            });
        }
        if version == current_version() {
            return Ok(());
        }
        // Two wharf processes opening a fresh folder at once both see an
        // old version: the write lock (taken at BEGIN, waited for up to the
        // busy timeout) makes one migrate while the other waits, and the
        // version read again under it tells the second there is nothing left.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| classify(&path, e))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| classify(&path, e))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(sql).map_err(|e| classify(&path, e))?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(|e| classify(&path, e))?;
        }
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(())
    }

    /// `PRAGMA quick_check`, made before a run writes anything: a file
    /// damaged in the middle opens and answers some queries, and would
    /// otherwise fail half-way through a run. A damaged file is
    /// [`StateError::Corrupt`], whose message says what to do.
    pub fn quick_check(&self) -> Result<(), StateError> {
        let found: Vec<String> = (|| {
            let mut stmt = self.conn.prepare("PRAGMA quick_check(5)")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<String>>>()
        })()
        .map_err(|e| classify(&self.path, e))?;
        if found.len() == 1 && found[0] == "ok" {
            return Ok(());
        }
        Err(StateError::Corrupt {
            path: self.path.clone(),
            reason: format!("quick_check found: {}", found.join("; ")),
        })
    }

    #[cfg(test)]
    pub(super) fn conn_for_tests(&self) -> &Connection {
        &self.conn
    }

    /// `PRAGMA integrity_check`: `ok`, or what SQLite found wrong.
    pub fn integrity_check(&self) -> Result<String, StateError> {
        Ok(self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
    }
}

/// Maps SQLite's errors on opening to what the user can act on.
fn classify(path: &Path, e: rusqlite::Error) -> StateError {
    if let rusqlite::Error::SqliteFailure(code, message) = &e {
        let reason = message.clone().unwrap_or_else(|| code.to_string());
        match code.code {
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                return StateError::Corrupt {
                    path: path.to_path_buf(),
                    reason,
                };
            }
            ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied => {
                return StateError::Unwritable {
                    path: path.to_path_buf(),
                    reason,
                };
            }
            _ => {}
        }
    }
    StateError::Sqlite(e)
}

fn run_status(text: String) -> Result<RunStatus, StateError> {
    RunStatus::parse(&text).ok_or_else(|| StateError::Decode(format!("run status `{text}`")))
}

fn step_status(text: String) -> Result<StepStatus, StateError> {
    StepStatus::parse(&text).ok_or_else(|| StateError::Decode(format!("step status `{text}`")))
}

fn json(text: String) -> Result<serde_json::Value, StateError> {
    serde_json::from_str(&text).map_err(|e| StateError::Decode(format!("JSON: {e}")))
}

type RunRow = (String, String, String, String, String, String, i64, Option<i64>);

fn run_row(r: &Row) -> rusqlite::Result<RunRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn run_record(row: RunRow) -> Result<RunRecord, StateError> {
    let (id, pipeline, file, target, params, status, started_ms, finished_ms) = row;
    Ok(RunRecord {
        id,
        pipeline,
        file,
        target,
        params: json(params)?,
        status: run_status(status)?,
        started_ms,
        finished_ms,
    })
}

const RUN_COLUMNS: &str = "id, pipeline, file, target, params, status, started_ms, finished_ms";

impl StateStore for SqliteStore {
    fn create_run(&mut self, run: &RunRecord) -> Result<(), StateError> {
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?
            .execute(params![
                run.id,
                run.pipeline,
                run.file,
                run.target,
                run.params.to_string(),
                run.status.as_str(),
                run.started_ms,
                run.finished_ms
            ])?;
        Ok(())
    }

    fn finish_run(&mut self, run: &str, status: RunStatus, finished_ms: i64) -> Result<(), StateError> {
        self.conn
            .prepare_cached("UPDATE runs SET status = ?2, finished_ms = ?3 WHERE id = ?1")?
            .execute(params![run, status.as_str(), finished_ms])?;
        Ok(())
    }

    fn put_step(&mut self, s: &StepRecord) -> Result<(), StateError> {
        self.conn.prepare_cached(
            "INSERT OR REPLACE INTO steps (run, step, kind, backend, status, cache_key, reason, started_ms, finished_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?.execute(
            params![s.run, s.step, s.kind, s.backend, s.status.as_str(), s.cache_key, s.reason, s.started_ms, s.finished_ms],
        )?;
        Ok(())
    }

    fn put_attempt(&mut self, a: &AttemptRecord) -> Result<(), StateError> {
        self.conn.prepare_cached(
            "INSERT OR REPLACE INTO attempts (run, step, attempt, status, exit_code, error, started_ms, finished_ms, log_path, handle)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?.execute(
            params![
                a.run,
                a.step,
                a.attempt,
                a.status.as_str(),
                a.exit_code,
                a.error,
                a.started_ms,
                a.finished_ms,
                a.log_path,
                a.handle
            ],
        )?;
        Ok(())
    }

    fn put_artifact(&mut self, a: &ArtifactRecord) -> Result<(), StateError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO artifacts (run, step, output, uri, size, hash, file) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![a.run, a.step, a.output, a.uri, a.size as i64, a.hash, a.file])?;
        Ok(())
    }

    fn put_cache(&mut self, e: &CacheEntry) -> Result<(), StateError> {
        let outputs = serde_json::to_string(&e.outputs).map_err(|err| StateError::Decode(err.to_string()))?;
        self.conn.prepare_cached(
            "INSERT OR REPLACE INTO cache (key, pipeline, step, run, parts, outputs, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?.execute(
            params![e.key, e.pipeline, e.step, e.run, e.parts.to_string(), outputs, e.created_ms],
        )?;
        Ok(())
    }

    fn put_started(&mut self, step: &StepRecord, attempt: &AttemptRecord) -> Result<(), StateError> {
        self.in_transaction(|store| {
            store.put_step(step)?;
            store.put_attempt(attempt)
        })
    }

    fn put_outcome(
        &mut self,
        step: &StepRecord,
        attempt: Option<&AttemptRecord>,
        artifacts: &[ArtifactRecord],
        files: &[(String, Vec<OutputFile>)],
        cache: Option<&CacheEntry>,
    ) -> Result<(), StateError> {
        self.in_transaction(|store| {
            if let Some(attempt) = attempt {
                store.put_attempt(attempt)?;
            }
            for a in artifacts {
                store.put_artifact(a)?;
            }
            for (uri, list) in files {
                store.write_output_files(uri, list)?;
            }
            if let Some(entry) = cache {
                store.put_cache(entry)?;
            }
            store.put_step(step)
        })
    }

    fn put_outcomes(&mut self, outcomes: &[CachedStep]) -> Result<(), StateError> {
        self.in_transaction(|store| {
            for cached in outcomes {
                for a in &cached.artifacts {
                    store.put_artifact(a)?;
                }
                for (uri, list) in &cached.files {
                    store.write_output_files(uri, list)?;
                }
                store.put_step(&cached.record)?;
            }
            Ok(())
        })
    }

    fn set_owner(&mut self, run: &str, owner: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("UPDATE runs SET owner = ?2 WHERE id = ?1")?
            .execute(params![run, owner])?;
        Ok(())
    }

    fn owner(&self, run: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .conn
            .prepare_cached("SELECT owner FROM runs WHERE id = ?1")?
            .query_row([run], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    fn unfinished_runs(&self) -> Result<Vec<RunRecord>, StateError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM runs
             WHERE status = 'running' OR id IN (SELECT run FROM attempts WHERE status = 'running')
             ORDER BY started_ms DESC, id DESC"
        ))?;
        let rows = stmt.query_map([], run_row)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(run_record).collect()
    }

    fn run(&self, id: &str) -> Result<Option<RunRecord>, StateError> {
        let row = self
            .conn
            .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))?
            .query_row([id], run_row)
            .optional()?;
        row.map(run_record).transpose()
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunRecord>, StateError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_ms DESC, id DESC LIMIT ?1"
        ))?;
        let rows = stmt
            .query_map([limit as i64], run_row)?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(run_record).collect()
    }

    fn steps(&self, run: &str) -> Result<Vec<StepRecord>, StateError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT run, step, kind, backend, status, cache_key, reason, started_ms, finished_ms
             FROM steps WHERE run = ?1 ORDER BY started_ms IS NULL, started_ms, step",
        )?;
        let rows = stmt
            .query_map([run], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, Option<i64>>(8)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(run, step, kind, backend, status, cache_key, reason, started_ms, finished_ms)| {
                    Ok(StepRecord {
                        run,
                        step,
                        kind,
                        backend,
                        status: step_status(status)?,
                        cache_key,
                        reason,
                        started_ms,
                        finished_ms,
                    })
                },
            )
            .collect()
    }

    fn attempts(&self, run: &str, step: &str) -> Result<Vec<AttemptRecord>, StateError> {
        self.attempt_query("WHERE run = ?1 AND step = ?2 ORDER BY attempt", &[run, step])
    }

    fn run_attempts(&self, run: &str) -> Result<Vec<AttemptRecord>, StateError> {
        self.attempt_query("WHERE run = ?1 ORDER BY step, attempt", &[run])
    }

    fn artifacts(&self, run: &str) -> Result<Vec<ArtifactRecord>, StateError> {
        let mut stmt = self.conn.prepare(
            "SELECT step, output, uri, size, hash, file FROM artifacts WHERE run = ?1 ORDER BY step, output",
        )?;
        let rows = stmt.query_map([run], |r| {
            Ok(ArtifactRecord {
                run: run.to_string(),
                step: r.get(0)?,
                output: r.get(1)?,
                uri: r.get(2)?,
                size: r.get::<_, i64>(3)? as u64,
                hash: r.get(4)?,
                file: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn put_output_files(&mut self, uri: &str, files: &[OutputFile]) -> Result<(), StateError> {
        self.in_transaction(|store| store.write_output_files(uri, files))
    }

    fn output_files(&self, uri: &str) -> Result<Vec<OutputFile>, StateError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path, kind, size, mtime_ns, hash FROM output_files WHERE uri = ?1 ORDER BY path")?;
        let rows = stmt
            .query_map([uri], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(path, kind, size, mtime_ns, hash)| {
                Ok(OutputFile {
                    kind: FileKind::parse(&kind).ok_or_else(|| StateError::Decode(format!("file kind `{kind}`")))?,
                    path,
                    size: size as u64,
                    mtime_ns,
                    hash,
                })
            })
            .collect()
    }

    fn cache_entry(&self, key: &str) -> Result<Option<CacheEntry>, StateError> {
        self.cache_query("WHERE key = ?1", &[key])
    }

    fn latest_cache_entry(&self, pipeline: &str, step: &str) -> Result<Option<CacheEntry>, StateError> {
        self.cache_query(
            "WHERE pipeline = ?1 AND step = ?2 ORDER BY created_ms DESC LIMIT 1",
            &[pipeline, step],
        )
    }

    fn file_digests(&self, path: &[u8]) -> Result<Vec<FileDigest>, StateError> {
        super::digests::under(&self.conn, path)
    }

    fn put_file_digests(&self, fresh: &[FileDigest], gone: &[FileDigest]) -> Result<(), StateError> {
        super::digests::put(&self.conn, fresh, gone)
    }
}

impl SqliteStore {
    /// The rows of one output's file list, replacing any earlier ones (no transaction of its own).
    fn write_output_files(&mut self, uri: &str, files: &[OutputFile]) -> Result<(), StateError> {
        self.conn
            .prepare_cached("DELETE FROM output_files WHERE uri = ?1")?
            .execute([uri])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO output_files (uri, path, kind, size, mtime_ns, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for f in files {
            insert.execute(params![uri, f.path, f.kind.as_str(), f.size as i64, f.mtime_ns, f.hash])?;
        }
        Ok(())
    }

    /// Runs `f` in one write transaction: the statements it runs on this
    /// connection become one commit (one WAL write, one lock), or none.
    fn in_transaction(&mut self, f: impl FnOnce(&mut Self) -> Result<(), StateError>) -> Result<(), StateError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        match f(self) {
            Ok(()) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(())
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn attempt_query(&self, clause: &str, args: &[&str]) -> Result<Vec<AttemptRecord>, StateError> {
        let sql = format!(
            "SELECT run, step, attempt, status, exit_code, error, started_ms, finished_ms, log_path, handle FROM attempts {clause}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<i32>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(
                |(run, step, attempt, status, exit_code, error, started_ms, finished_ms, log_path, handle)| {
                    Ok(AttemptRecord {
                        run,
                        step,
                        attempt,
                        status: step_status(status)?,
                        exit_code,
                        error,
                        started_ms,
                        finished_ms,
                        log_path,
                        handle,
                    })
                },
            )
            .collect()
    }

    fn cache_query(&self, clause: &str, args: &[&str]) -> Result<Option<CacheEntry>, StateError> {
        let sql = format!("SELECT key, pipeline, step, run, parts, outputs, created_ms FROM cache {clause}");
        let row = self
            .conn
            .prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .optional()?;
        let Some((key, pipeline, step, run, parts, outputs, created_ms)) = row else {
            return Ok(None);
        };
        let outputs: Vec<ArtifactRecord> =
            serde_json::from_str(&outputs).map_err(|e| StateError::Decode(format!("cache outputs: {e}")))?;
        Ok(Some(CacheEntry {
            key,
            pipeline,
            step,
            run,
            parts: json(parts)?,
            outputs,
            created_ms,
        }))
    }
}
