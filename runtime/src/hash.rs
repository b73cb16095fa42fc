//! Content hashes of files and folders, for cache keys and artifact records.
//!
//! BLAKE3: it hashes at several GB/s on one core (SHA-256 manages a few
//! hundred MB/s without special instructions), so hashing a data set costs
//! less than reading it, and its 256-bit output leaves no practical chance of
//! a collision. S3 ETags (MD5, or per-part MD5s) cannot serve instead, so
//! nothing is lost by not using SHA-256 or MD5.
//!
//! A folder's hash covers each entry's relative path, kind and content, in
//! sorted order, so it does not depend on the order the file system lists
//! them, on timestamps, or on where the folder is. A file's content enters
//! it as the BLAKE3 of its bytes (and its size), so the folder's hash is
//! composed from per-file digests; a file hashed alone is hashed with a
//! prefix (`wharf-file-v1`), so it differs from a folder holding it.
//!
//! The stat cache ([`DigestCache`], kept in the state database): a file's
//! digest is recorded with its [`FileStamp`] (device, inode, size, mtime,
//! ctime), and a later hash of the same path takes the digest from the
//! record when `stat` gives the same stamp, so an unchanged data set costs
//! a `stat` per file instead of a read. Only digests of files that had
//! settled when the walk began are recorded: a file modified within
//! [`RACY_WINDOW_NS`] of its reading could be modified again within the
//! same tick of the file system's clock and keep its stamp (git's "racily
//! clean" files), so it is read again next time. The files that must be
//! read are hashed on every core: in parallel over files, and a large file
//! mapped and split across threads (BLAKE3's tree makes the digest the same
//! however the bytes are fed).

use crate::state::{FileDigest, FileStamp};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A content hash (hex) and the number of bytes it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentHash {
    pub hex: String,
    pub size: u64,
}

/// How close to the start of a walk a file's mtime or ctime may be for its
/// digest to be recorded: above any file system's timestamp grain (a
/// kernel tick of 1-10 ms on local Linux file systems; 2 s on FAT and some
/// network shares). A file younger than this is read again next time,
/// which costs little: it was just written.
pub const RACY_WINDOW_NS: i64 = 2_000_000_000;

/// Files from this size on are hashed on several threads, a large block at
/// a time; smaller ones are read and hashed on the walk's thread (splitting
/// costs more than it saves).
const SPLIT_FROM: u64 = 128 * 1024;

/// How much of a large file is read at once: big enough for BLAKE3 to
/// spread one block over every core, small enough to keep two in memory.
const BLOCK: usize = 8 * 1024 * 1024;

/// Where digests of files are kept between commands: the stat cache.
/// Failures to read or write it are not errors (the file is hashed).
pub trait DigestCache {
    /// The digests recorded for the file at `path` and for every file below it.
    fn recorded(&self, path: &Path) -> Vec<FileDigest>;
    /// Records fresh digests (each of a settled file) and forgets gone ones.
    fn record(&self, fresh: &[FileDigest], gone: &[FileDigest]);
}

/// No stat cache: every file is read.
pub struct NoCache;

impl DigestCache for NoCache {
    fn recorded(&self, _: &Path) -> Vec<FileDigest> {
        Vec::new()
    }

    fn record(&self, _: &[FileDigest], _: &[FileDigest]) {}
}

/// The stamp of a file from its metadata (of the file, not of a link to it).
pub fn stamp(meta: &std::fs::Metadata) -> FileStamp {
    FileStamp {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.len(),
        mtime_ns: meta
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.mtime_nsec()),
        ctime_ns: meta
            .ctime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.ctime_nsec()),
    }
}

/// Nanoseconds since the Unix epoch, by the system clock.
pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Whether a file with this stamp had settled at `began` (ns): neither
/// modified nor changed within [`RACY_WINDOW_NS`] before it.
pub fn settled(stamp: &FileStamp, began: i64) -> bool {
    stamp.mtime_ns.max(stamp.ctime_ns) < began.saturating_sub(RACY_WINDOW_NS)
}

/// Hashes a file or a folder (recursively), reading every file.
///
/// Symbolic links: a link whose target lies inside the folder being hashed
/// is hashed as a link (its target path; what it points to is hashed where
/// it lives). A link that leads outside the folder (a data folder linking
/// to a shared data set) is followed and hashed as what it points to, so a
/// change behind it is seen; a followed link that leads back into a folder
/// it is in is an error naming the link. A link that leads nowhere is
/// hashed as a link. `path` itself may be a link.
pub fn hash_path(path: &Path) -> std::io::Result<ContentHash> {
    hash_path_with(path, &NoCache)
}

/// [`hash_path`], taking the digest of each file whose stamp is unchanged
/// from `cache`, and recording there the digests of the files it read
/// (those that had settled). The result is the same as [`hash_path`]'s.
pub fn hash_path_with(path: &Path, cache: &dyn DigestCache) -> std::io::Result<ContentHash> {
    hash_path_at(path, cache, now_ns())
}

/// [`hash_path_with`] for a walk that began at `began` (ns; tests set it
/// later than now, as if the files had been written long ago).
fn hash_path_at(path: &Path, cache: &dyn DigestCache, began: i64) -> std::io::Result<ContentHash> {
    let (hash, fresh, gone) = hash_inner(path, cache)?;
    let lasting: Vec<FileDigest> = fresh.into_iter().filter(|d| settled(&d.stamp, began)).collect();
    cache.record(&lasting, &gone);
    Ok(hash)
}

/// [`hash_path`], and the digest of every file it read, for a listing of
/// the same files made right after (see `decide::manifest::scan_with`).
pub fn hash_path_digests(path: &Path) -> std::io::Result<(ContentHash, Vec<FileDigest>)> {
    let (hash, fresh, _) = hash_inner(path, &NoCache)?;
    Ok((hash, fresh))
}

/// The hash, the digests read fresh, and the recorded digests of files
/// no longer in the folder.
fn hash_inner(
    path: &Path,
    cache: &dyn DigestCache,
) -> std::io::Result<(ContentHash, Vec<FileDigest>, Vec<FileDigest>)> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        return whole_file(&std::fs::canonicalize(path)?, cache);
    }
    let root = std::fs::canonicalize(path)?;
    let mut listing = Listing {
        root: root.clone(),
        followed: vec![root.clone()],
        roots: vec![root.clone()],
        entries: Vec::new(),
        files: Vec::new(),
    };
    listing.dir(&root, Path::new(""))?;
    let mut known: HashMap<Vec<u8>, FileDigest> = HashMap::new();
    for looked in &listing.roots {
        for digest in cache.recorded(looked) {
            if !digest.whole {
                known.insert(digest.path.clone(), digest);
            }
        }
    }
    let digests = listing
        .files
        .par_iter()
        .map(|full| part(full, &known))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"wharf-dir-v1\0");
    let mut size = 0;
    for entry in &listing.entries {
        match entry {
            Entry::Dir(child) => {
                hasher.update(b"d\0");
                hasher.update(child.to_string_lossy().as_bytes());
                hasher.update(b"\0");
            }
            Entry::Link(child, target) => {
                hasher.update(b"l\0");
                hasher.update(child.to_string_lossy().as_bytes());
                hasher.update(b"\0");
                hasher.update(target.to_string_lossy().as_bytes());
                hasher.update(b"\0");
            }
            Entry::File(child, index) => {
                let (digest, bytes, _) = &digests[*index];
                size += bytes;
                hasher.update(b"f\0");
                hasher.update(child.to_string_lossy().as_bytes());
                hasher.update(b"\0");
                hasher.update(&bytes.to_le_bytes());
                hasher.update(digest);
            }
        }
    }
    let seen: HashSet<&[u8]> = listing.files.iter().map(|f| f.as_os_str().as_bytes()).collect();
    let gone = known
        .into_values()
        .filter(|d| !seen.contains(d.path.as_slice()))
        .collect();
    let fresh = digests.into_iter().filter_map(|(_, _, fresh)| fresh).collect();
    Ok((
        ContentHash {
            hex: hasher.finalize().to_hex().to_string(),
            size,
        },
        fresh,
        gone,
    ))
}

/// A file hashed alone: `wharf-file-v1` and its bytes.
fn whole_file(
    resolved: &Path,
    cache: &dyn DigestCache,
) -> std::io::Result<(ContentHash, Vec<FileDigest>, Vec<FileDigest>)> {
    let key = resolved.as_os_str().as_bytes();
    let recorded = cache.recorded(resolved).into_iter().find(|d| d.whole && d.path == key);
    if let Some(digest) = recorded
        && stamp(&std::fs::metadata(resolved)?) == digest.stamp
    {
        let hash = ContentHash {
            hex: blake3::Hash::from_bytes(digest.hash).to_hex().to_string(),
            size: digest.stamp.size,
        };
        return Ok((hash, Vec::new(), Vec::new()));
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"wharf-file-v1\0");
    let (hash, size, stamped) = digest_file(resolved, hasher)?;
    let fresh = (size == stamped.size).then(|| FileDigest {
        path: key.to_vec(),
        whole: true,
        stamp: stamped,
        hash: *hash.as_bytes(),
    });
    Ok((
        ContentHash {
            hex: hash.to_hex().to_string(),
            size,
        },
        fresh.into_iter().collect(),
        Vec::new(),
    ))
}

/// One file of a folder: its digest and size, from the record when its
/// stamp is unchanged, else read (and then the fresh digest to record).
fn part(full: &Path, known: &HashMap<Vec<u8>, FileDigest>) -> std::io::Result<([u8; 32], u64, Option<FileDigest>)> {
    let key = full.as_os_str().as_bytes();
    if let Some(digest) = known.get(key)
        && stamp(&std::fs::metadata(full)?) == digest.stamp
    {
        return Ok((digest.hash, digest.stamp.size, None));
    }
    let (hash, size, stamped) = digest_file(full, blake3::Hasher::new())?;
    // A file that changed size while it was read is not recorded: its
    // stamp says nothing about the bytes hashed.
    let fresh = (size == stamped.size).then(|| FileDigest {
        path: key.to_vec(),
        whole: false,
        stamp: stamped,
        hash: *hash.as_bytes(),
    });
    Ok((*hash.as_bytes(), size, fresh))
}

/// Feeds the bytes of the file at `path` to `hasher`: the digest, the
/// bytes hashed, and the file's stamp taken before it was read (from the
/// file opened, so a rename in between cannot pair one file's stamp with
/// another's bytes).
fn digest_file(path: &Path, mut hasher: blake3::Hasher) -> std::io::Result<(blake3::Hash, u64, FileStamp)> {
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let stamped = stamp(&meta);
    if meta.is_file() && meta.len() >= SPLIT_FROM {
        return digest_large(file, meta.len(), hasher, stamped);
    }
    let mut buffer = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok((hasher.finalize(), total, stamped));
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
}

/// A large file: one block hashed on every core while the next is read.
/// Read, not mapped: a mapped file that another process truncates makes
/// the read fault (SIGBUS) and kills wharf, where a read just sees the
/// file end, and the changed file gets a different stamp next time.
fn digest_large(
    mut file: std::fs::File,
    len: u64,
    mut hasher: blake3::Hasher,
    stamped: FileStamp,
) -> std::io::Result<(blake3::Hash, u64, FileStamp)> {
    // A file smaller than a block gets buffers of its size (and one byte,
    // to see its end in one read), not two blocks' worth per file.
    let block = usize::try_from(len.saturating_add(1)).map_or(BLOCK, |len| len.min(BLOCK));
    let mut current = vec![0u8; block];
    let mut next = vec![0u8; block];
    let mut filled = fill(&mut file, &mut current)?;
    let mut total = 0u64;
    while filled > 0 {
        let (_, read) = rayon::join(
            || {
                hasher.update_rayon(&current[..filled]);
            },
            || fill(&mut file, &mut next),
        );
        total += filled as u64;
        filled = read?;
        std::mem::swap(&mut current, &mut next);
    }
    Ok((hasher.finalize(), total, stamped))
}

/// Reads until `buffer` is full or the file ends: the bytes read.
fn fill(file: &mut std::fs::File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// BLAKE3 of a file's bytes (hex), as a folder's hash holds it.
pub(crate) fn file_digest(path: &Path) -> std::io::Result<String> {
    let (hash, _, _) = digest_file(path, blake3::Hasher::new())?;
    Ok(hash.to_hex().to_string())
}

/// Where a link inside folder `root` leads: `None` when it should be
/// hashed (or staged) as a link, because its target is inside `root` or
/// does not exist; `Some(target)`, resolved, when it leads outside.
pub(crate) fn outside_target(link: &Path, root: &Path) -> Option<std::path::PathBuf> {
    let target = std::fs::canonicalize(link).ok()?;
    (!target.starts_with(root)).then_some(target)
}

/// The error for a followed link that leads back into a folder it is in.
pub(crate) fn link_loop(link: &Path, target: &Path) -> std::io::Error {
    std::io::Error::other(format!(
        "the link {} leads to {}, a folder it is itself in (a loop); remove or replace the link",
        link.display(),
        target.display()
    ))
}

/// One entry of a folder's hash, in the order the hash takes them.
enum Entry {
    Dir(PathBuf),
    /// A link hashed as a link: its relative path and its target.
    Link(PathBuf, PathBuf),
    /// A file: its relative path and its index in [`Listing::files`].
    File(PathBuf, usize),
}

/// A folder's entries, walked in sorted order, before any file is read.
struct Listing {
    /// The folder being hashed, resolved.
    root: PathBuf,
    /// The folders being walked that were reached through links (and the
    /// root): following a link into one of them again would never end.
    followed: Vec<PathBuf>,
    /// Where the stat cache is asked for records: the root, and each
    /// place outside it a followed link leads to.
    roots: Vec<PathBuf>,
    entries: Vec<Entry>,
    /// The files to read, resolved.
    files: Vec<PathBuf>,
}

impl Listing {
    /// Lists folder `dir` on disk, whose entries are named `relative/...`.
    fn dir(&mut self, dir: &Path, relative: &Path) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let child = relative.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                self.enter(&entry.path(), child)?;
            } else if kind.is_symlink() {
                match outside_target(&entry.path(), &self.root) {
                    Some(target) if target.is_dir() => {
                        if self.followed.iter().any(|f| f == &target) {
                            return Err(link_loop(&entry.path(), &target));
                        }
                        self.roots.push(target.clone());
                        self.followed.push(target.clone());
                        self.enter(&target, child)?;
                        self.followed.pop();
                    }
                    Some(target) => {
                        self.roots.push(target.clone());
                        self.file(target, child);
                    }
                    None => {
                        let target = std::fs::read_link(entry.path())?;
                        self.entries.push(Entry::Link(child, target));
                    }
                }
            } else {
                self.file(entry.path(), child);
            }
        }
        Ok(())
    }

    fn enter(&mut self, dir: &Path, child: PathBuf) -> std::io::Result<()> {
        self.entries.push(Entry::Dir(child.clone()));
        self.dir(dir, &child)
    }

    fn file(&mut self, full: PathBuf, child: PathBuf) {
        self.entries.push(Entry::File(child, self.files.len()));
        self.files.push(full);
    }
}

/// The bytes of a file, or of every file in a folder (recursively), as
/// [`hash_path`] counts them: links are not followed. Reads metadata only.
pub fn content_size(path: &Path) -> std::io::Result<u64> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok(if meta.is_file() { meta.len() } else { 0 });
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += content_size(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    #[test]
    fn folders_hash_by_content_and_names_not_place_or_order() {
        let a = tempfile::tempdir().expect("tmp");
        let b = tempfile::tempdir().expect("tmp");
        write(a.path(), "x.csv", "1,2\n");
        write(a.path(), "sub/y.csv", "3,4\n");
        write(b.path(), "sub/y.csv", "3,4\n");
        write(b.path(), "x.csv", "1,2\n");
        let ha = hash_path(a.path()).expect("hash");
        assert_eq!(
            ha,
            hash_path(b.path()).expect("hash"),
            "same content, other place and order"
        );
        assert_eq!(ha.size, 8);
        write(b.path(), "x.csv", "1,3\n");
        assert_ne!(ha.hex, hash_path(b.path()).expect("hash").hex, "content changed");
        write(b.path(), "x.csv", "1,2\n");
        std::fs::rename(b.path().join("x.csv"), b.path().join("z.csv")).expect("rename");
        assert_ne!(
            ha.hex,
            hash_path(b.path()).expect("hash").hex,
            "a renamed file changes the hash"
        );
    }

    #[test]
    fn a_file_and_a_folder_holding_it_differ() {
        let a = tempfile::tempdir().expect("tmp");
        write(a.path(), "x", "data");
        let file = hash_path(&a.path().join("x")).expect("file");
        let dir = hash_path(a.path()).expect("dir");
        assert_ne!(file.hex, dir.hex);
        assert_eq!(file.size, 4);
        assert!(hash_path(&a.path().join("missing")).is_err());
    }

    #[test]
    fn content_size_counts_the_bytes_the_hash_covers() {
        let a = tempfile::tempdir().expect("tmp");
        write(a.path(), "x.csv", "1,2\n");
        write(a.path(), "sub/deeper/y.csv", &"z".repeat(10_000));
        std::os::unix::fs::symlink("x.csv", a.path().join("link")).expect("link");
        let size = content_size(a.path()).expect("size");
        assert_eq!(
            size, 10_004,
            "files' bytes, not folder entries, a link inside not followed"
        );
        assert_eq!(size, hash_path(a.path()).expect("hash").size);
        assert_eq!(content_size(&a.path().join("x.csv")).expect("file"), 4);
    }

    #[test]
    fn links_out_of_the_folder_are_followed_and_links_inside_are_not() {
        let shared = tempfile::tempdir().expect("tmp");
        write(shared.path(), "big/part-0.csv", "1\n");
        write(shared.path(), "one.csv", "x\n");
        let data = tempfile::tempdir().expect("tmp");
        write(data.path(), "local.csv", "a\n");
        std::os::unix::fs::symlink(shared.path().join("big"), data.path().join("big")).expect("link");
        std::os::unix::fs::symlink(shared.path().join("one.csv"), data.path().join("one.csv")).expect("link");
        std::os::unix::fs::symlink("local.csv", data.path().join("alias.csv")).expect("link");
        std::os::unix::fs::symlink("/nowhere/at/all", data.path().join("dangling")).expect("link");
        let before = hash_path(data.path()).expect("hash");
        assert_eq!(
            before.size,
            2 + 2 + 2,
            "local.csv, big/part-0.csv and one.csv are counted"
        );
        // A change behind a followed link is seen.
        write(shared.path(), "big/part-0.csv", "2\n");
        let after = hash_path(data.path()).expect("hash");
        assert_ne!(before.hex, after.hex, "a change behind a folder link");
        write(shared.path(), "one.csv", "y\n");
        assert_ne!(
            after.hex,
            hash_path(data.path()).expect("hash").hex,
            "behind a file link"
        );
        // A followed link is hashed as what it points to: a copy hashes the same.
        let copy = tempfile::tempdir().expect("tmp");
        write(copy.path(), "big/part-0.csv", "2\n");
        write(copy.path(), "one.csv", "y\n");
        write(copy.path(), "local.csv", "a\n");
        std::os::unix::fs::symlink("local.csv", copy.path().join("alias.csv")).expect("link");
        std::os::unix::fs::symlink("/nowhere/at/all", copy.path().join("dangling")).expect("link");
        assert_eq!(
            hash_path(data.path()).expect("hash"),
            hash_path(copy.path()).expect("hash")
        );
    }

    /// A stat cache in memory, counting what it is asked.
    #[derive(Default)]
    struct Memory {
        digests: std::cell::RefCell<HashMap<(Vec<u8>, bool), FileDigest>>,
    }

    impl DigestCache for Memory {
        fn recorded(&self, path: &Path) -> Vec<FileDigest> {
            let key = path.as_os_str().as_bytes();
            self.digests
                .borrow()
                .values()
                .filter(|d| d.path == key || (d.path.starts_with(key) && d.path.get(key.len()) == Some(&b'/')))
                .cloned()
                .collect()
        }

        fn record(&self, fresh: &[FileDigest], gone: &[FileDigest]) {
            let mut digests = self.digests.borrow_mut();
            for d in gone {
                digests.remove(&(d.path.clone(), d.whole));
            }
            for d in fresh {
                digests.insert((d.path.clone(), d.whole), d.clone());
            }
        }
    }

    impl Memory {
        /// Replaces every recorded digest with a false one: a hash that
        /// comes out different proves the files were not read.
        fn falsify(&self) {
            for d in self.digests.borrow_mut().values_mut() {
                d.hash = [7; 32];
            }
        }

        fn len(&self) -> usize {
            self.digests.borrow().len()
        }
    }

    /// Long after now: every file has settled.
    fn later() -> i64 {
        now_ns() + 60 * 1_000_000_000
    }

    #[test]
    fn the_stat_cache_gives_the_same_hash_and_reads_only_changed_files() {
        let data = tempfile::tempdir().expect("tmp");
        write(data.path(), "a.csv", "1,2\n");
        write(data.path(), "sub/b.csv", &"b".repeat(300_000));
        std::os::unix::fs::symlink("a.csv", data.path().join("alias")).expect("link");
        let cache = Memory::default();
        let plain = hash_path(data.path()).expect("hash");
        assert_eq!(hash_path_at(data.path(), &cache, later()).expect("cold"), plain);
        assert_eq!(cache.len(), 2, "both files recorded");
        assert_eq!(hash_path_at(data.path(), &cache, later()).expect("warm"), plain);
        // Unchanged stamps: the recorded digests are used, the files not read.
        cache.falsify();
        assert_ne!(
            hash_path_at(data.path(), &cache, later()).expect("falsified").hex,
            plain.hex
        );
        // An edit moves the stamp: that file is read again, the other is not.
        write(data.path(), "a.csv", "1,3\n");
        let after = hash_path_at(data.path(), &cache, later()).expect("edited");
        assert_ne!(
            after.hex,
            hash_path(data.path()).expect("hash").hex,
            "b.csv still false"
        );
        let fresh = Memory::default();
        assert_eq!(
            hash_path_at(data.path(), &fresh, later()).expect("fresh"),
            hash_path(data.path()).expect("hash")
        );
    }

    #[test]
    fn a_file_written_just_before_the_walk_is_not_recorded() {
        let data = tempfile::tempdir().expect("tmp");
        write(data.path(), "a.csv", "1,2\n");
        let cache = Memory::default();
        hash_path_with(data.path(), &cache).expect("hash");
        assert_eq!(cache.len(), 0, "racy: it could change again within the same tick");
        hash_path_with(&data.path().join("a.csv"), &cache).expect("hash");
        assert_eq!(cache.len(), 0, "a whole file neither");
    }

    #[test]
    fn backdated_edits_and_replaced_files_are_read_again() {
        let data = tempfile::tempdir().expect("tmp");
        let a = data.path().join("a.csv");
        write(data.path(), "a.csv", "1,2\n");
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000);
        std::fs::File::options()
            .write(true)
            .open(&a)
            .expect("open")
            .set_modified(old)
            .expect("mtime");
        let cache = Memory::default();
        hash_path_at(data.path(), &cache, later()).expect("cold");
        cache.falsify();
        // Same size, mtime set back to what it was (`touch -m -d`): the ctime moved.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&a, "9,9\n").expect("edit");
        std::fs::File::options()
            .write(true)
            .open(&a)
            .expect("open")
            .set_modified(old)
            .expect("mtime");
        assert_eq!(
            hash_path_at(data.path(), &cache, later()).expect("backdated"),
            hash_path(data.path()).expect("hash")
        );
        // Replaced by rename, with the same size and mtime: a new inode.
        cache.falsify();
        let next = data.path().join("next.tmp");
        std::fs::write(&next, "5,5\n").expect("write");
        std::fs::File::options()
            .write(true)
            .open(&next)
            .expect("open")
            .set_modified(old)
            .expect("mtime");
        std::fs::rename(&next, &a).expect("rename");
        assert_eq!(
            hash_path_at(data.path(), &cache, later()).expect("renamed"),
            hash_path(data.path()).expect("hash")
        );
    }

    #[test]
    fn a_whole_file_is_cached_apart_from_its_digest_in_a_folder() {
        let data = tempfile::tempdir().expect("tmp");
        write(data.path(), "m.bin", &"m".repeat(200_000));
        let file = data.path().join("m.bin");
        let cache = Memory::default();
        let alone = hash_path_at(&file, &cache, later()).expect("file");
        let folder = hash_path_at(data.path(), &cache, later()).expect("folder");
        assert_eq!(alone, hash_path(&file).expect("hash"));
        assert_eq!(folder, hash_path(data.path()).expect("hash"));
        assert_eq!(cache.len(), 2, "one digest of each form");
        assert_eq!(hash_path_at(&file, &cache, later()).expect("warm"), alone);
        assert_eq!(hash_path_at(data.path(), &cache, later()).expect("warm"), folder);
    }

    #[test]
    fn deleted_files_are_forgotten_and_links_out_are_cached_where_they_lead() {
        let shared = tempfile::tempdir().expect("tmp");
        write(shared.path(), "big/part-0.csv", "1\n");
        let data = tempfile::tempdir().expect("tmp");
        write(data.path(), "local.csv", "a\n");
        write(data.path(), "old.csv", "o\n");
        std::os::unix::fs::symlink(shared.path().join("big"), data.path().join("big")).expect("link");
        let cache = Memory::default();
        hash_path_at(data.path(), &cache, later()).expect("cold");
        assert_eq!(cache.len(), 3);
        let behind = std::fs::canonicalize(shared.path().join("big/part-0.csv")).expect("resolve");
        assert_eq!(cache.recorded(&behind).len(), 1, "recorded under the path read");
        std::fs::remove_file(data.path().join("old.csv")).expect("rm");
        assert_eq!(
            hash_path_at(data.path(), &cache, later()).expect("after rm"),
            hash_path(data.path()).expect("hash")
        );
        assert_eq!(cache.len(), 2, "old.csv forgotten");
        cache.falsify();
        write(shared.path(), "big/part-0.csv", "2\n");
        assert_ne!(
            hash_path_at(data.path(), &cache, later()).expect("behind").hex,
            hash_path(data.path()).expect("hash").hex,
            "local.csv still false, but the file behind the link was read"
        );
    }

    #[test]
    fn large_files_hash_the_same_split_on_threads_as_read() {
        let data = tempfile::tempdir().expect("tmp");
        // Two whole blocks and part of a third: the hash must not see the cuts.
        let bytes: Vec<u8> = (0..(2 * BLOCK + 12_345) as u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(data.path().join("big.bin"), &bytes).expect("write");
        let mut file = blake3::Hasher::new();
        file.update(b"wharf-file-v1\0");
        file.update(&bytes);
        assert_eq!(
            hash_path(&data.path().join("big.bin")).expect("hash").hex,
            file.finalize().to_hex().to_string()
        );
        assert_eq!(
            file_digest(&data.path().join("big.bin")).expect("digest"),
            blake3::hash(&bytes).to_hex().to_string()
        );
    }

    /// The folder hash is the format every existing cache key was made
    /// with: a value computed by the hash before the stat cache.
    #[test]
    fn the_folder_hash_keeps_its_format() {
        let data = tempfile::tempdir().expect("tmp");
        write(data.path(), "x.csv", "1,2\n");
        write(data.path(), "sub/y.csv", "3,4\n");
        std::os::unix::fs::symlink("x.csv", data.path().join("alias")).expect("link");
        let mut expected = blake3::Hasher::new();
        expected.update(b"wharf-dir-v1\0");
        expected.update(b"l\0alias\0x.csv\0");
        expected.update(b"d\0sub\0");
        expected.update(b"f\0sub/y.csv\0");
        expected.update(&4u64.to_le_bytes());
        expected.update(blake3::hash(b"3,4\n").as_bytes());
        expected.update(b"f\0x.csv\0");
        expected.update(&4u64.to_le_bytes());
        expected.update(blake3::hash(b"1,2\n").as_bytes());
        assert_eq!(
            hash_path(data.path()).expect("hash").hex,
            expected.finalize().to_hex().to_string()
        );
    }

    #[test]
    fn a_link_that_loops_is_an_error_naming_it() {
        let outer = tempfile::tempdir().expect("tmp");
        write(outer.path(), "data/x.csv", "1\n");
        std::os::unix::fs::symlink(outer.path(), outer.path().join("data/up")).expect("link");
        let err = hash_path(&outer.path().join("data")).expect_err("a loop");
        assert!(err.to_string().contains("data/up"), "{err}");
        assert!(err.to_string().contains("a loop"), "{err}");
    }
}
