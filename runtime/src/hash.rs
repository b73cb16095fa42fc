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
//! them, on timestamps, or on where the folder is.

use std::io::Read;
use std::path::Path;

/// A content hash (hex) and the number of bytes it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentHash {
    pub hex: String,
    pub size: u64,
}

/// Hashes a file or a folder (recursively).
///
/// Symbolic links: a link whose target lies inside the folder being hashed
/// is hashed as a link (its target path; what it points to is hashed where
/// it lives). A link that leads outside the folder (a data folder linking
/// to a shared data set) is followed and hashed as what it points to, so a
/// change behind it is seen; a followed link that leads back into a folder
/// it is in is an error naming the link. A link that leads nowhere is
/// hashed as a link. `path` itself may be a link.
pub fn hash_path(path: &Path) -> std::io::Result<ContentHash> {
    let meta = std::fs::metadata(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut size = 0;
    if meta.is_dir() {
        hasher.update(b"wharf-dir-v1\0");
        let root = std::fs::canonicalize(path)?;
        let mut walk = Walk {
            root: root.clone(),
            followed: vec![root.clone()],
            hasher: &mut hasher,
            size: &mut size,
        };
        walk.dir(&root, Path::new(""))?;
    } else {
        hasher.update(b"wharf-file-v1\0");
        size += hash_file(path, &mut hasher)?;
    }
    Ok(ContentHash {
        hex: hasher.finalize().to_hex().to_string(),
        size,
    })
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

struct Walk<'a> {
    /// The folder being hashed, resolved.
    root: std::path::PathBuf,
    /// The folders being walked that were reached through links (and the
    /// root): following a link into one of them again would never end.
    followed: Vec<std::path::PathBuf>,
    hasher: &'a mut blake3::Hasher,
    size: &'a mut u64,
}

impl Walk<'_> {
    /// Hashes folder `dir` on disk, whose entries are named `relative/...`.
    fn dir(&mut self, dir: &Path, relative: &Path) -> std::io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let child = relative.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                self.enter(&entry.path(), &child)?;
            } else if kind.is_symlink() {
                match outside_target(&entry.path(), &self.root) {
                    Some(target) if target.is_dir() => {
                        if self.followed.iter().any(|f| f == &target) {
                            return Err(link_loop(&entry.path(), &target));
                        }
                        self.followed.push(target.clone());
                        self.enter(&target, &child)?;
                        self.followed.pop();
                    }
                    Some(target) => self.file(&target, &child)?,
                    None => {
                        let target = std::fs::read_link(entry.path())?;
                        self.hasher.update(b"l\0");
                        self.hasher.update(child.to_string_lossy().as_bytes());
                        self.hasher.update(b"\0");
                        self.hasher.update(target.to_string_lossy().as_bytes());
                        self.hasher.update(b"\0");
                    }
                }
            } else {
                self.file(&entry.path(), &child)?;
            }
        }
        Ok(())
    }

    fn enter(&mut self, dir: &Path, child: &Path) -> std::io::Result<()> {
        self.hasher.update(b"d\0");
        self.hasher.update(child.to_string_lossy().as_bytes());
        self.hasher.update(b"\0");
        self.dir(dir, child)
    }

    fn file(&mut self, path: &Path, child: &Path) -> std::io::Result<()> {
        let mut file_hasher = blake3::Hasher::new();
        let bytes = hash_file(path, &mut file_hasher)?;
        *self.size += bytes;
        self.hasher.update(b"f\0");
        self.hasher.update(child.to_string_lossy().as_bytes());
        self.hasher.update(b"\0");
        self.hasher.update(&bytes.to_le_bytes());
        self.hasher.update(file_hasher.finalize().as_bytes());
        Ok(())
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

fn hash_file(path: &Path, hasher: &mut blake3::Hasher) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
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
