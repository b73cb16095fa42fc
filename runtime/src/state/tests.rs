//! The state store against real SQLite: records round-trip, the schema
//! migrates once, and bad databases give errors a user can act on.

use super::*;
use serde_json::json;

fn run(id: &str, started_ms: i64) -> RunRecord {
    RunRecord {
        id: id.into(),
        pipeline: "churn".into(),
        file: "pipelines/churn.wharf".into(),
        target: "local".into(),
        params: json!({"max_depth": 6}),
        status: RunStatus::Running,
        started_ms,
        finished_ms: None,
    }
}

fn artifact(run: &str) -> ArtifactRecord {
    ArtifactRecord {
        run: run.into(),
        step: "prepare".into(),
        output: "train".into(),
        uri: "file:///tmp/x".into(),
        size: 42,
        hash: "ab".repeat(32),
        file: Some("metrics.json".into()),
    }
}

#[test]
fn records_round_trip() {
    let mut store = SqliteStore::open_in_memory().expect("store");
    store.create_run(&run("r1", 10)).expect("run");
    store.create_run(&run("r2", 20)).expect("run");
    let step = StepRecord {
        run: "r1".into(),
        step: "prepare".into(),
        kind: "step".into(),
        backend: "process".into(),
        status: StepStatus::Running,
        cache_key: Some("k1".into()),
        reason: None,
        started_ms: Some(11),
        finished_ms: None,
    };
    store.put_step(&step).expect("step");
    store
        .put_step(&StepRecord {
            status: StepStatus::Succeeded,
            finished_ms: Some(15),
            ..step.clone()
        })
        .expect("update");
    let attempt = AttemptRecord {
        run: "r1".into(),
        step: "prepare".into(),
        attempt: 1,
        status: StepStatus::Failed,
        exit_code: Some(3),
        error: Some("exit code 3".into()),
        started_ms: 11,
        finished_ms: Some(12),
        log_path: Some(".wharf/runs/r1/prepare/1.log".into()),
        handle: Some("pid 123".into()),
    };
    store.put_attempt(&attempt).expect("attempt");
    store.put_artifact(&artifact("r1")).expect("artifact");
    store.finish_run("r1", RunStatus::Succeeded, 16).expect("finish");

    let runs = store.runs(10).expect("runs");
    assert_eq!(
        runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["r2", "r1"],
        "newest first"
    );
    let r1 = store.run("r1").expect("query").expect("r1");
    assert_eq!(
        (r1.status, r1.finished_ms, r1.params["max_depth"].as_i64()),
        (RunStatus::Succeeded, Some(16), Some(6))
    );
    let steps = store.steps("r1").expect("steps");
    assert_eq!(steps.len(), 1);
    assert_eq!(
        (steps[0].status, steps[0].finished_ms),
        (StepStatus::Succeeded, Some(15))
    );
    assert_eq!(store.attempts("r1", "prepare").expect("attempts"), vec![attempt]);
    assert_eq!(store.artifacts("r1").expect("artifacts"), vec![artifact("r1")]);
    assert!(store.run("nope").expect("query").is_none());
}

#[test]
fn cache_entries_are_found_by_key_and_by_step() {
    let mut store = SqliteStore::open_in_memory().expect("store");
    for (key, at) in [("old", 1), ("new", 2)] {
        store
            .put_cache(&CacheEntry {
                key: key.into(),
                pipeline: "churn".into(),
                step: "prepare".into(),
                run: "r1".into(),
                parts: json!({"command": ["python", key]}),
                outputs: vec![artifact("r1")],
                created_ms: at,
            })
            .expect("cache");
    }
    let hit = store.cache_entry("old").expect("query").expect("hit");
    assert_eq!(hit.outputs, vec![artifact("r1")]);
    assert_eq!(hit.parts["command"][1], "old");
    let latest = store
        .latest_cache_entry("churn", "prepare")
        .expect("query")
        .expect("latest");
    assert_eq!(latest.key, "new");
    assert!(store.cache_entry("missing").expect("query").is_none());
}

#[test]
fn a_file_database_uses_wal_migrates_once_and_passes_integrity_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let mut store = SqliteStore::open(dir.path()).expect("open");
        store.create_run(&run("r1", 1)).expect("run");
    }
    let store = SqliteStore::open(dir.path()).expect("reopen");
    assert_eq!(store.runs(5).expect("runs").len(), 1, "data survives reopening");
    assert_eq!(store.integrity_check().expect("check"), "ok");
    let mode: String = store
        .conn_for_tests()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let version: i64 = store
        .conn_for_tests()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, super::schema::current_version());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(SqliteStore::open(dir.path()).expect("open"));
    let conn = rusqlite::Connection::open(dir.path().join("state.db")).expect("raw open");
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    let err = SqliteStore::open(dir.path()).err().expect("refused");
    assert!(matches!(err, StateError::NewerSchema { found: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer wharf"), "{err}");
}

#[test]
fn a_corrupt_file_is_reported_as_such() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("state.db"),
        b"this is not a database, just some text that is long enough",
    )
    .expect("write");
    let err = SqliteStore::open(dir.path()).err().expect("refused");
    assert!(matches!(err, StateError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("move it aside"), "{err}");
}

#[test]
fn an_unwritable_folder_is_reported_as_such() {
    let dir = tempfile::tempdir().expect("temp dir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").expect("write");
    // A folder cannot be created under a file, whoever runs the test (root included).
    let err = SqliteStore::open(&blocker.join(".wharf")).err().expect("refused");
    assert!(matches!(err, StateError::Unwritable { .. }), "{err:?}");
}

#[test]
fn output_files_are_recorded_with_the_outcome_and_replaced_whole() {
    let mut store = SqliteStore::open_in_memory().expect("store");
    store.create_run(&run("r1", 10)).expect("run");
    let file = |path: &str, size: u64| OutputFile {
        path: path.into(),
        kind: if size == 0 { FileKind::Dir } else { FileKind::File },
        size,
        mtime_ns: 1_700_000_000_123_456_789,
        hash: if size == 0 { String::new() } else { "cd".repeat(32) },
    };
    let step = StepRecord {
        run: "r1".into(),
        step: "prepare".into(),
        kind: "step".into(),
        backend: "process".into(),
        status: StepStatus::Succeeded,
        cache_key: None,
        reason: None,
        started_ms: Some(10),
        finished_ms: Some(20),
    };
    let list = vec![file("data", 0), file("data/x.csv", 4)];
    store
        .put_outcome(
            &step,
            None,
            &[artifact("r1")],
            &[("file:///tmp/x".into(), list.clone())],
            None,
        )
        .expect("outcome");
    assert_eq!(store.output_files("file:///tmp/x").expect("files"), list);
    assert!(store.output_files("file:///tmp/other").expect("files").is_empty());
    store
        .put_output_files("file:///tmp/x", &[file("y.csv", 7)])
        .expect("replace");
    assert_eq!(store.output_files("file:///tmp/x").expect("files"), [file("y.csv", 7)]);
    store
        .put_step(&StepRecord {
            step: "other".into(),
            status: StepStatus::NotSelected,
            ..step
        })
        .expect("step");
    let statuses: Vec<StepStatus> = store.steps("r1").expect("steps").iter().map(|s| s.status).collect();
    assert!(statuses.contains(&StepStatus::NotSelected), "{statuses:?}");
}

#[test]
fn two_processes_opening_a_fresh_folder_at_once_both_migrate_it() {
    // Each round a fresh folder, eight openers released together: without
    // the write lock around the migrations, the losers failed with "table
    // runs already exists".
    for _ in 0..5 {
        let dir = tempfile::tempdir().expect("temp dir");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (dir, barrier) = (dir.path().to_path_buf(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&dir).map(|_| ()).map_err(|e| e.to_string())
                })
            })
            .collect();
        for t in threads {
            t.join().expect("joined").expect("opened and migrated");
        }
    }
}

#[test]
fn a_file_damaged_in_the_middle_fails_quick_check() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let mut store = SqliteStore::open(dir.path()).expect("store");
        for i in 0..200 {
            store.create_run(&run(&format!("r{i:04}"), i)).expect("run");
        }
    }
    let path = dir.path().join("state.db");
    let mut bytes = std::fs::read(&path).expect("read");
    assert!(bytes.len() > 4 * 4096, "several pages");
    // Page 3 onwards, header and schema page intact: it still opens.
    for b in &mut bytes[2 * 4096 + 100..3 * 4096] {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).expect("write");
    assert!(SqliteStore::open(dir.path()).is_ok(), "opens: only a check finds it");
    match SqliteStore::open_checked(dir.path()) {
        Err(StateError::Corrupt { reason, .. }) => assert!(reason.contains("quick_check"), "{reason}"),
        Err(e) => panic!("not reported as damaged: {e}"),
        Ok(_) => panic!("a damaged file passed"),
    }
}
