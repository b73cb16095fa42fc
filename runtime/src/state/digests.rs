//! The stat cache's table (`file_digests`, migration 5) on SQLite: the
//! digests recorded at or below a path, read with one range scan, and
//! fresh ones written in one transaction. Kept apart from `sqlite.rs`,
//! which calls these with its connection.

use super::{FileDigest, FileStamp, StateError};
use rusqlite::{Connection, params};

/// Every digest recorded for `path` or a file below it (`path/...`).
pub(super) fn under(conn: &Connection, path: &[u8]) -> Result<Vec<FileDigest>, StateError> {
    // BLOBs compare as bytes: `path/...` sorts between `path` and `path0`
    // ('0' follows '/'), along with a few siblings (`path.bak`) left out below.
    let mut end = path.to_vec();
    end.push(b'0');
    let mut stmt = conn.prepare_cached(
        "SELECT path, whole, dev, ino, size, mtime_ns, ctime_ns, hash FROM file_digests \
         WHERE path >= ?1 AND path < ?2",
    )?;
    let rows = stmt.query_map(params![path, end], |r| {
        Ok(FileDigest {
            path: r.get(0)?,
            whole: r.get(1)?,
            stamp: FileStamp {
                dev: r.get::<_, i64>(2)? as u64,
                ino: r.get::<_, i64>(3)? as u64,
                size: r.get::<_, i64>(4)? as u64,
                mtime_ns: r.get(5)?,
                ctime_ns: r.get(6)?,
            },
            hash: r.get(7)?,
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        let digest = row?;
        let inside = digest.path.len() == path.len() || digest.path.get(path.len()) == Some(&b'/');
        if inside {
            out.push(digest);
        }
    }
    Ok(out)
}

/// Writes `fresh` and deletes `gone`, in one transaction.
pub(super) fn put(conn: &Connection, fresh: &[FileDigest], gone: &[FileDigest]) -> Result<(), StateError> {
    if fresh.is_empty() && gone.is_empty() {
        return Ok(());
    }
    // `&Connection`: the store's other writes need `&mut`, but nothing else
    // is mid-transaction on this connection while a digest is written.
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO file_digests (path, whole, dev, ino, size, mtime_ns, ctime_ns, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for d in fresh {
            insert.execute(params![
                d.path,
                d.whole,
                d.stamp.dev as i64,
                d.stamp.ino as i64,
                d.stamp.size as i64,
                d.stamp.mtime_ns,
                d.stamp.ctime_ns,
                &d.hash[..],
            ])?;
        }
        let mut delete = tx.prepare_cached("DELETE FROM file_digests WHERE path = ?1 AND whole = ?2")?;
        for d in gone {
            delete.execute(params![d.path, d.whole])?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{SqliteStore, StateStore};
    use super::*;

    fn digest(path: &str, whole: bool, hash: u8) -> FileDigest {
        FileDigest {
            path: path.as_bytes().to_vec(),
            whole,
            stamp: FileStamp {
                dev: u64::MAX,
                ino: 42,
                size: 7,
                mtime_ns: 1,
                ctime_ns: 2,
            },
            hash: [hash; 32],
        }
    }

    #[test]
    fn digests_are_found_under_their_folder_only_and_replaced_by_form() {
        let store = SqliteStore::open_in_memory().expect("store");
        let written = [
            digest("/d", true, 1),
            digest("/d/a", false, 2),
            digest("/d/sub/b", false, 3),
            digest("/d.bak/c", false, 4),
            digest("/dx", false, 5),
        ];
        store.put_file_digests(&written, &[]).expect("put");
        let mut found = store.file_digests(b"/d").expect("read");
        found.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(
            found,
            written[..3].to_vec(),
            "siblings that share the prefix are left out"
        );
        store
            .put_file_digests(&[digest("/d/a", false, 9)], &[digest("/d/sub/b", false, 0)])
            .expect("replace");
        let found = store.file_digests(b"/d/a").expect("read");
        assert_eq!(found, [digest("/d/a", false, 9)], "u64 fields survive the i64 columns");
        assert!(store.file_digests(b"/d/sub").expect("read").is_empty(), "forgotten");
    }

    #[test]
    fn names_that_are_not_utf8_are_kept_exactly() {
        let store = SqliteStore::open_in_memory().expect("store");
        let mut odd = digest("/d/", false, 1);
        odd.path.extend_from_slice(&[0xff, 0xfe]);
        let mut other = digest("/d/", false, 2);
        other.path.extend_from_slice(&[0xff, 0xfd]);
        store.put_file_digests(&[odd.clone(), other.clone()], &[]).expect("put");
        let found = store.file_digests(&odd.path).expect("read");
        assert_eq!(found, [odd]);
    }
}
