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

/// Hashes a file or a folder (recursively). Symbolic links are hashed as
/// links (their target path), not followed, so a link cannot pull in a tree
/// from elsewhere or loop.
pub fn hash_path(path: &Path) -> std::io::Result<ContentHash> {
    let meta = std::fs::symlink_metadata(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut size = 0;
    if meta.is_dir() {
        hasher.update(b"wharf-dir-v1\0");
        hash_dir(path, Path::new(""), &mut hasher, &mut size)?;
    } else {
        hasher.update(b"wharf-file-v1\0");
        size += hash_file(path, &mut hasher)?;
    }
    Ok(ContentHash {
        hex: hasher.finalize().to_hex().to_string(),
        size,
    })
}

fn hash_dir(root: &Path, relative: &Path, hasher: &mut blake3::Hasher, size: &mut u64) -> std::io::Result<()> {
    let dir = root.join(relative);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let child = relative.join(&name);
        let kind = entry.file_type()?;
        let path_bytes = child.to_string_lossy();
        if kind.is_dir() {
            hasher.update(b"d\0");
            hasher.update(path_bytes.as_bytes());
            hasher.update(b"\0");
            hash_dir(root, &child, hasher, size)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            hasher.update(b"l\0");
            hasher.update(path_bytes.as_bytes());
            hasher.update(b"\0");
            hasher.update(target.to_string_lossy().as_bytes());
            hasher.update(b"\0");
        } else {
            let mut file_hasher = blake3::Hasher::new();
            let bytes = hash_file(&entry.path(), &mut file_hasher)?;
            *size += bytes;
            hasher.update(b"f\0");
            hasher.update(path_bytes.as_bytes());
            hasher.update(b"\0");
            hasher.update(&bytes.to_le_bytes());
            hasher.update(file_hasher.finalize().as_bytes());
        }
    }
    Ok(())
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
        std::os::unix::fs::symlink("/etc/passwd", a.path().join("link")).expect("link");
        let size = content_size(a.path()).expect("size");
        assert_eq!(size, 10_004, "files' bytes, not folder entries, links not followed");
        assert_eq!(size, hash_path(a.path()).expect("hash").size);
        assert_eq!(content_size(&a.path().join("x.csv")).expect("file"), 4);
    }
}
