//! What an output folder held when it was recorded, file by file, and the
//! check a cache hit makes against it: a `stat` of every entry, a rehash of
//! only the files whose size or mtime moved. A file deleted, added or
//! edited by hand makes the output damaged, and the step runs again instead
//! of handing the damage downstream.
//!
//! The lists live in the state database (`output_files`, keyed by the
//! output's URI). Checking an unchanged output reads no file content, so
//! large outputs stay cheap to trust.
//!
//! File systems stamp mtimes with a coarse clock (a kernel tick), so a file
//! edited within the same tick as its recording could keep its mtime and
//! size. As git does for its index, a file whose mtime is that close to the
//! moment it was listed is recorded as "racy" ([`RACY`]) and is hashed at
//! its next check, which then records its settled mtime.

use crate::state::{FileDigest, FileKind, FileStamp, OutputFile};
use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The mtime recorded for a file modified too close to its listing to be
/// trusted: the next check hashes it.
pub const RACY: i64 = -1;

/// How close to the listing an mtime must be to be racy: well above any
/// file system's timestamp grain.
const RACY_WINDOW_NS: i64 = 100_000_000;

use crate::hash::now_ns;

/// Digests of files by (device, inode): the stamp they were read with and the digest.
type Known<'a> = HashMap<(u64, u64), (FileStamp, &'a [u8; 32])>;

/// `mtime`, or [`RACY`] when it is too close to `listed` (both ns).
fn settled(mtime: i64, listed: i64) -> i64 {
    if mtime > listed - RACY_WINDOW_NS { RACY } else { mtime }
}

/// What the check found.
#[derive(Debug, Default, PartialEq)]
pub struct Verification {
    /// One phrase per damaged entry (`data/x.csv was edited (content differs)`), sorted by path.
    pub changes: Vec<String>,
    /// The list with new timestamps, when only timestamps moved (a `touch`,
    /// a copy that kept the bytes): recorded so the next check is `stat` only again.
    pub refreshed: Option<Vec<OutputFile>>,
}

/// Every entry below `root` (a folder, or a single file recorded as ``),
/// with the content hash of each file. Sorted by path.
pub fn scan(root: &Path) -> std::io::Result<Vec<OutputFile>> {
    scan_with(root, &[])
}

/// [`scan`], taking the content hash of a file from `known` (digests just
/// made by `crate::hash::hash_path_digests` of the same output) when its
/// stamp matches, so that an output is read once to be hashed and listed.
pub fn scan_with(root: &Path, known: &[FileDigest]) -> std::io::Result<Vec<OutputFile>> {
    let listed = now_ns();
    let known: Known = known
        .iter()
        .filter(|d| !d.whole)
        .map(|d| ((d.stamp.dev, d.stamp.ino), (d.stamp, &d.hash)))
        .collect();
    let mut out = Vec::new();
    let meta = std::fs::symlink_metadata(root)?;
    if meta.is_dir() {
        walk(root, "", &mut out, Some(&known))?;
    } else {
        out.push(entry(root, "", &meta, Some(&known))?);
    }
    for file in out.iter_mut().filter(|f| f.kind == FileKind::File) {
        file.mtime_ns = settled(file.mtime_ns, listed);
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Compares what is at `root` now with `recorded`, reading only the files
/// whose size or mtime differ from the record.
pub fn verify(root: &Path, recorded: &[OutputFile]) -> std::io::Result<Verification> {
    let listed = now_ns();
    let mut now = Vec::new();
    let meta = std::fs::symlink_metadata(root)?;
    if meta.is_dir() {
        walk(root, "", &mut now, None)?;
    } else {
        now.push(entry(root, "", &meta, None)?);
    }
    let mut found: BTreeMap<&str, &OutputFile> = now.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut changes = Vec::new();
    let mut refreshed = Vec::with_capacity(recorded.len());
    let mut touched = false;
    for old in recorded {
        let shown = if old.path.is_empty() {
            "the file"
        } else {
            old.path.as_str()
        };
        let Some(new) = found.remove(old.path.as_str()) else {
            changes.push(format!("{shown} was deleted"));
            continue;
        };
        if new.kind != old.kind {
            changes.push(format!(
                "{shown} was replaced (a {} became a {})",
                old.kind.as_str(),
                new.kind.as_str()
            ));
            continue;
        }
        match old.kind {
            FileKind::Dir => refreshed.push(OutputFile {
                mtime_ns: new.mtime_ns,
                ..old.clone()
            }),
            FileKind::Link => {
                let target = std::fs::read_link(root.join(&old.path))?;
                if target.to_string_lossy() != old.hash {
                    changes.push(format!("{shown} was edited (the link points elsewhere)"));
                }
                refreshed.push(old.clone());
            }
            FileKind::File if new.size != old.size => {
                changes.push(format!("{shown} was edited (size {} -> {} bytes)", old.size, new.size));
            }
            FileKind::File if new.mtime_ns != old.mtime_ns => {
                let path = if old.path.is_empty() {
                    root.to_path_buf()
                } else {
                    root.join(&old.path)
                };
                if file_hash(&path)? == old.hash {
                    touched = true;
                    refreshed.push(OutputFile {
                        mtime_ns: settled(new.mtime_ns, listed),
                        ..old.clone()
                    });
                } else {
                    changes.push(format!("{shown} was edited (content differs)"));
                }
            }
            FileKind::File => refreshed.push(old.clone()),
        }
    }
    for added in found.keys() {
        changes.push(format!("{added} was added"));
    }
    changes.sort();
    Ok(Verification {
        refreshed: (changes.is_empty() && touched).then_some(refreshed),
        changes,
    })
}

/// The changes as one phrase for a reason: the first three, then a count.
pub fn describe(changes: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut text = changes.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if changes.len() > SHOWN {
        text.push_str(&format!(" and {} more", changes.len() - SHOWN));
    }
    text
}

/// Lists the entries below `root/relative`; with `hash`, each file's
/// content hash too (from the digests given where they match).
fn walk(root: &Path, relative: &str, out: &mut Vec<OutputFile>, hash: Option<&Known>) -> std::io::Result<()> {
    let dir = if relative.is_empty() {
        root.to_path_buf()
    } else {
        root.join(relative)
    };
    for item in std::fs::read_dir(&dir)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = if relative.is_empty() {
            name
        } else {
            format!("{relative}/{name}")
        };
        let meta = std::fs::symlink_metadata(item.path())?;
        out.push(entry(&item.path(), &path, &meta, hash)?);
        if meta.is_dir() {
            walk(root, &path, out, hash)?;
        }
    }
    Ok(())
}

fn entry(full: &Path, path: &str, meta: &std::fs::Metadata, hash: Option<&Known>) -> std::io::Result<OutputFile> {
    let kind = if meta.file_type().is_symlink() {
        FileKind::Link
    } else if meta.is_dir() {
        FileKind::Dir
    } else {
        FileKind::File
    };
    let hash = match kind {
        FileKind::File => match hash {
            None => String::new(),
            Some(known) => {
                let stamped = crate::hash::stamp(meta);
                match known.get(&(stamped.dev, stamped.ino)) {
                    Some((was, digest)) if *was == stamped => blake3::Hash::from_bytes(**digest).to_hex().to_string(),
                    _ => file_hash(full)?,
                }
            }
        },
        FileKind::Link => std::fs::read_link(full)?.to_string_lossy().into_owned(),
        _ => String::new(),
    };
    Ok(OutputFile {
        path: path.to_string(),
        kind,
        size: if kind == FileKind::File { meta.len() } else { 0 },
        mtime_ns: meta
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.mtime_nsec()),
        hash,
    })
}

fn file_hash(path: &Path) -> std::io::Result<String> {
    crate::hash::file_digest(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// Sets a file's mtime, so a test does not depend on the clock's grain.
    fn set_mtime(path: &Path, secs: i64) {
        let file = std::fs::File::options().write(true).open(path).expect("open");
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
        file.set_modified(when).expect("set mtime");
    }

    /// An output written long enough ago for its mtimes to be trusted.
    fn recorded() -> (tempfile::TempDir, Vec<OutputFile>) {
        let dir = tempfile::tempdir().expect("tmp");
        for (name, text) in [("data/x.csv", "1,2\n"), ("data/y.csv", "3,4\n"), ("model.json", "{}")] {
            write(dir.path(), name, text);
            set_mtime(&dir.path().join(name), 500);
        }
        let list = scan(dir.path()).expect("scan");
        (dir, list)
    }

    #[test]
    fn a_file_written_just_before_its_listing_is_hashed_at_the_next_check() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "x.csv", "1,2\n");
        let list = scan(dir.path()).expect("scan");
        assert_eq!(list[0].mtime_ns, RACY);
        // An edit in the same clock tick keeps size and perhaps mtime: found anyway.
        std::fs::write(dir.path().join("x.csv"), "1,3\n").expect("edit");
        assert_eq!(
            verify(dir.path(), &list).expect("verify").changes,
            ["x.csv was edited (content differs)"]
        );
    }

    #[test]
    fn an_untouched_output_passes_by_stat_alone() {
        let (dir, list) = recorded();
        assert_eq!(
            list.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["data", "data/x.csv", "data/y.csv", "model.json"]
        );
        assert_eq!(verify(dir.path(), &list).expect("verify"), Verification::default());
    }

    #[test]
    fn deleted_added_and_edited_files_are_named() {
        let (dir, list) = recorded();
        std::fs::remove_file(dir.path().join("data/y.csv")).expect("rm");
        write(dir.path(), "extra.txt", "new");
        write(dir.path(), "model.json", "{\"a\": 1}");
        let found = verify(dir.path(), &list).expect("verify");
        assert_eq!(
            found.changes,
            [
                "data/y.csv was deleted",
                "extra.txt was added",
                "model.json was edited (size 2 -> 8 bytes)"
            ]
        );
        assert_eq!(found.refreshed, None);
    }

    #[test]
    fn same_size_edits_are_found_by_hash_and_touches_are_forgiven() {
        let (dir, list) = recorded();
        let x = dir.path().join("data/x.csv");
        std::fs::write(&x, "1,3\n").expect("edit");
        set_mtime(&x, 1_000);
        let found = verify(dir.path(), &list).expect("verify");
        assert_eq!(found.changes, ["data/x.csv was edited (content differs)"]);

        std::fs::write(&x, "1,2\n").expect("restore");
        set_mtime(&x, 2_000);
        let found = verify(dir.path(), &list).expect("verify");
        assert!(found.changes.is_empty(), "{:?}", found.changes);
        let refreshed = found.refreshed.expect("new timestamps to record");
        assert_eq!(verify(dir.path(), &refreshed).expect("verify"), Verification::default());
    }

    #[test]
    fn a_single_file_and_long_lists_are_described() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("m.bin");
        std::fs::write(&file, "abc").expect("write");
        let list = scan(&file).expect("scan");
        std::fs::write(&file, "abcd").expect("edit");
        assert_eq!(
            verify(&file, &list).expect("verify").changes,
            ["the file was edited (size 3 -> 4 bytes)"]
        );
        let many: Vec<String> = (0..5).map(|i| format!("f{i} was deleted")).collect();
        assert_eq!(
            describe(&many),
            "f0 was deleted, f1 was deleted, f2 was deleted and 2 more"
        );
    }
}
