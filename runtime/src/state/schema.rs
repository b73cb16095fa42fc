//! The database schema, as numbered migrations. The version lives in SQLite's
//! `user_version`; a database newer than the last migration is refused
//! rather than misread. Never edit a released migration: add the next one.

pub const MIGRATIONS: &[&str] = &[
    // 1: runs, steps, attempts, artifacts, cache.
    r#"
    CREATE TABLE runs (
        id          TEXT PRIMARY KEY,
        pipeline    TEXT NOT NULL,
        file        TEXT NOT NULL,
        target      TEXT NOT NULL,
        params      TEXT NOT NULL,
        status      TEXT NOT NULL,
        started_ms  INTEGER NOT NULL,
        finished_ms INTEGER
    );
    CREATE INDEX runs_by_start ON runs (started_ms DESC);
    CREATE TABLE steps (
        run         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step        TEXT NOT NULL,
        kind        TEXT NOT NULL,
        backend     TEXT NOT NULL,
        status      TEXT NOT NULL,
        cache_key   TEXT,
        reason      TEXT,
        started_ms  INTEGER,
        finished_ms INTEGER,
        PRIMARY KEY (run, step)
    );
    CREATE TABLE attempts (
        run         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step        TEXT NOT NULL,
        attempt     INTEGER NOT NULL,
        status      TEXT NOT NULL,
        exit_code   INTEGER,
        error       TEXT,
        started_ms  INTEGER NOT NULL,
        finished_ms INTEGER,
        log_path    TEXT,
        handle      TEXT,
        PRIMARY KEY (run, step, attempt)
    );
    CREATE TABLE artifacts (
        run    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step   TEXT NOT NULL,
        output TEXT NOT NULL,
        uri    TEXT NOT NULL,
        size   INTEGER NOT NULL,
        hash   TEXT NOT NULL,
        PRIMARY KEY (run, step, output)
    );
    CREATE TABLE cache (
        key        TEXT PRIMARY KEY,
        pipeline   TEXT NOT NULL,
        step       TEXT NOT NULL,
        run        TEXT NOT NULL,
        parts      TEXT NOT NULL,
        outputs    TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX cache_by_step ON cache (pipeline, step, created_ms DESC);
    "#,
    // 2: the file name of a `file("x.json")` output, so that `show` can
    // name the file and not only its folder (NULL: a `dir()` output, or a
    // record written before this migration).
    r#"
    ALTER TABLE artifacts ADD COLUMN file TEXT;
    "#,
    // 3: what each recorded output folder held, file by file (relative
    // path, kind, size, mtime, content hash), so that a cache hit can check
    // by `stat` that nobody deleted or edited a cached output, and rehash
    // only the files whose size or mtime moved. Keyed by the output's URI.
    r#"
    CREATE TABLE output_files (
        uri      TEXT NOT NULL,
        path     TEXT NOT NULL,
        kind     TEXT NOT NULL,
        size     INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        hash     TEXT NOT NULL,
        PRIMARY KEY (uri, path)
    );
    "#,
    // 4: who runs a run (`host/pid/start`, so that `runs` can tell an
    // abandoned run from a live one), and the attempts still running, found
    // quickly when a later command cleans up after a killed wharf.
    r#"
    ALTER TABLE runs ADD COLUMN owner TEXT;
    CREATE INDEX attempts_running ON attempts (run) WHERE status = 'running';
    "#,
    // 5: the stat cache: each file's content hash with what `stat` said of
    // it when it was read (device, inode, size, mtime, ctime), so that an
    // unchanged input costs a `stat` per file and not a read (see
    // `crate::hash`). Keyed by the resolved path as the OS's bytes (BLOB,
    // so that a name that is not UTF-8 is kept exactly), and by form:
    // `whole` = 1 for the hash of an input that is one file, 0 for the
    // BLAKE3 of a file's bytes as a folder's hash holds it.
    r#"
    CREATE TABLE file_digests (
        path     BLOB NOT NULL,
        whole    INTEGER NOT NULL,
        dev      INTEGER NOT NULL,
        ino      INTEGER NOT NULL,
        size     INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        ctime_ns INTEGER NOT NULL,
        hash     BLOB NOT NULL,
        PRIMARY KEY (path, whole)
    ) WITHOUT ROWID;
    "#,
];

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}
