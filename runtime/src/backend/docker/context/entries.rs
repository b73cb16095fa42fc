//! The files of a context folder as entries, in the tar's order (parents
//! before children, siblings by name), through the `.dockerignore` rules;
//! each file hashed as it is read, here and again when it is sent.

use super::ignore::DockerIgnore;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Relative to the context folder, `/`-separated.
    pub(super) path: String,
    /// Permission bits (`0o7777`).
    pub(super) mode: u32,
    pub(super) kind: EntryKind,
}

#[derive(Debug, Clone)]
pub(super) enum EntryKind {
    Dir,
    File { size: u64, content: [u8; 32] },
    Symlink { target: PathBuf },
}

/// Appends the entries of `root/relative` that `ignore` lets through, parents
/// first, siblings sorted by name.
pub(super) fn walk(root: &Path, relative: &str, ignore: &DockerIgnore, out: &mut Vec<Entry>) -> Result<(), String> {
    let dir = root.join(relative);
    let mut children = fs::read_dir(&dir)
        .and_then(|listing| listing.collect::<Result<Vec<_>, _>>())
        .map_err(|error| cannot_read(&dir, error))?;
    children.sort_by_key(|child| child.file_name());
    for child in children {
        let name = child.file_name();
        let Some(name) = name.to_str() else {
            return Err(format!(
                "{} has a name that is not UTF-8; rename it or list it in .dockerignore",
                child.path().display()
            ));
        };
        let path = if relative.is_empty() {
            name.to_string()
        } else {
            format!("{relative}/{name}")
        };
        let meta = fs::symlink_metadata(child.path()).map_err(|error| cannot_read(&child.path(), error))?;
        let mode = meta.permissions().mode() & 0o7777;
        let excluded = ignore.excludes(&path);
        let kind = meta.file_type();
        if kind.is_dir() {
            if excluded && !ignore.may_include_below(&path) {
                continue;
            }
            let mut inside = Vec::new();
            walk(root, &path, ignore, &mut inside)?;
            if !excluded || !inside.is_empty() {
                out.push(Entry {
                    path,
                    mode,
                    kind: EntryKind::Dir,
                });
                out.append(&mut inside);
            }
        } else if excluded {
            continue;
        } else if kind.is_symlink() {
            let target = fs::read_link(child.path()).map_err(|error| cannot_read(&child.path(), error))?;
            out.push(Entry {
                path,
                mode,
                kind: EntryKind::Symlink { target },
            });
        } else if kind.is_file() {
            let file = fs::File::open(child.path()).map_err(|error| cannot_read(&child.path(), error))?;
            let mut reader = HashingReader::new(file);
            io::copy(&mut reader, &mut io::sink()).map_err(|error| cannot_read(&child.path(), error))?;
            out.push(Entry {
                path,
                mode,
                kind: EntryKind::File {
                    size: reader.count,
                    content: *reader.hasher.finalize().as_bytes(),
                },
            });
        }
    }
    Ok(())
}

pub(super) fn cannot_read(path: &Path, error: io::Error) -> String {
    format!("cannot read {}: {error}", path.display())
}

/// Reads and hashes as it goes.
pub(super) struct HashingReader<R> {
    inner: R,
    pub(super) hasher: blake3::Hasher,
    pub(super) count: u64,
}

impl<R: Read> HashingReader<R> {
    pub(super) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: blake3::Hasher::new(),
            count: 0,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}
