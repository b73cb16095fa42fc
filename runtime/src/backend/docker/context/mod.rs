//! A Docker build context: the files of a folder that its `.dockerignore`
//! lets through, with a content hash and a deterministic tar of them, which is
//! what the engine's build API takes.
//!
//! The hash names the image (see `build::image_tag`), so it covers
//! everything the tar carries that can change the image (relative paths,
//! kinds, permission bits, contents, link targets) and nothing else (no
//! timestamps, owners or the folder's place). [`BuildContext::tar`] reads
//! the files again and refuses to send one that changed since
//! [`BuildContext::read`], so an image never carries a tag computed from other
//! content.
//!
//! Which files are sent is the `.dockerignore`'s say (`ignore.rs`, on the
//! glob engine in `glob.rs`). `.dockerignore` and the Dockerfile are always
//! sent, as the Docker CLI sends them. Sockets, FIFOs and devices are left
//! out.

mod entries;
mod glob;
mod ignore;

use entries::{Entry, EntryKind, HashingReader, cannot_read, walk};
use ignore::DockerIgnore;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A build context read from a folder: the files `.dockerignore` lets through.
#[derive(Debug, Clone)]
pub struct BuildContext {
    dir: PathBuf,
    dockerfile: String,
    /// Parents before children, siblings by name: the tar's order.
    entries: Vec<Entry>,
    hash: String,
    files: usize,
    bytes: u64,
}

impl BuildContext {
    /// Reads `dir` (the context folder) honouring `dir/.dockerignore`.
    /// `dockerfile` is the Dockerfile's path relative to `dir` (default
    /// `Dockerfile`); it must exist, and it is sent even if ignored.
    pub fn read(dir: &Path, dockerfile: Option<&str>) -> Result<BuildContext, String> {
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(format!("the build context {} is not a folder", dir.display())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(format!("the build context folder {} does not exist", dir.display()));
            }
            Err(error) => {
                return Err(format!(
                    "cannot read the build context folder {}: {error}",
                    dir.display()
                ));
            }
        }
        let given = dockerfile.unwrap_or("Dockerfile");
        let dockerfile = relative_path(given).ok_or_else(|| {
            format!(
                "the Dockerfile `{given}` must be a path inside the build context folder {}",
                dir.display()
            )
        })?;
        let dockerfile_path = dir.join(&dockerfile);
        match fs::metadata(&dockerfile_path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(format!("the Dockerfile {} is not a file", dockerfile_path.display())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(format!(
                    "there is no Dockerfile at {} (the build context is {})",
                    dockerfile_path.display(),
                    dir.display()
                ));
            }
            Err(error) => {
                return Err(format!(
                    "cannot read the Dockerfile {}: {error}",
                    dockerfile_path.display()
                ));
            }
        }

        let mut ignore = DockerIgnore::read(dir)?;
        ignore.always_send(".dockerignore");
        ignore.always_send(&dockerfile);
        let mut entries = Vec::new();
        walk(dir, "", &ignore, &mut entries)?;

        let mut hasher = blake3::Hasher::new();
        hasher.update(b"wharf-build-context-v1\0");
        hasher.update(dockerfile.as_bytes());
        hasher.update(b"\0");
        let (mut files, mut bytes) = (0, 0);
        for entry in &entries {
            let tag: &[u8] = match entry.kind {
                EntryKind::Dir => b"d\0",
                EntryKind::File { .. } => b"f\0",
                EntryKind::Symlink { .. } => b"l\0",
            };
            hasher.update(tag);
            hasher.update(entry.path.as_bytes());
            hasher.update(b"\0");
            hasher.update(&entry.mode.to_le_bytes());
            match &entry.kind {
                EntryKind::Dir => {}
                EntryKind::File { size, content } => {
                    files += 1;
                    bytes += size;
                    hasher.update(&size.to_le_bytes());
                    hasher.update(content);
                }
                EntryKind::Symlink { target } => {
                    files += 1;
                    hasher.update(target.as_os_str().as_bytes());
                    hasher.update(b"\0");
                }
            }
        }
        Ok(BuildContext {
            dir: dir.to_path_buf(),
            dockerfile,
            entries,
            hash: hasher.finalize().to_hex().to_string(),
            files,
            bytes,
        })
    }

    /// BLAKE3 hex hash of the context: relative paths, kinds, permission bits,
    /// contents and link targets of the included entries, in order; not
    /// timestamps or owners.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The context as an uncompressed tar, deterministic: the entries in
    /// order, mtime 0, uid/gid 0, permission bits kept, symbolic links kept as
    /// links. Fails if a file changed since [`BuildContext::read`].
    pub fn tar(&self) -> Result<Vec<u8>, String> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mode(entry.mode);
            let path = self.dir.join(&entry.path);
            let written = match &entry.kind {
                EntryKind::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    builder.append_data(&mut header, &entry.path, io::empty())
                }
                EntryKind::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, &entry.path, target)
                }
                EntryKind::File { size, content } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(*size);
                    let file = fs::File::open(&path).map_err(|error| cannot_read(&path, error))?;
                    // Stop at the recorded size: a file that grew must not
                    // overrun its header. The hash below catches any change.
                    let mut reader = HashingReader::new(file.take(*size));
                    builder
                        .append_data(&mut header, &entry.path, &mut reader)
                        .map_err(|error| format!("cannot add {} to the build context: {error}", path.display()))?;
                    if reader.count != *size || reader.hasher.finalize().as_bytes() != content {
                        return Err(format!(
                            "{} changed while wharf was sending the build context; run again",
                            path.display()
                        ));
                    }
                    Ok(())
                }
            };
            written.map_err(|error| format!("cannot add {} to the build context: {error}", path.display()))?;
        }
        builder
            .into_inner()
            .map_err(|error| format!("cannot write the build context's tar: {error}"))
    }

    /// Number of files (symbolic links included) in the context.
    pub fn files(&self) -> usize {
        self.files
    }

    /// Total size of the context's files, in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The Dockerfile's path inside the context, `/`-separated.
    pub fn dockerfile(&self) -> &str {
        &self.dockerfile
    }
}

/// `path` as a clean `/`-separated path inside the context, or `None` when it
/// is absolute, empty or leaves the context.
fn relative_path(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            _ => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, SystemTime};

    #[test]
    fn a_bad_pattern_is_reported_with_the_file_and_its_line() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        write(dir.path(), ".dockerignore", "*.log\n\n[oops\n");
        let error = BuildContext::read(dir.path(), None).expect_err("bad pattern");
        assert!(error.contains(".dockerignore, line 3: `[oops`"), "{error}");
    }

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, text).expect("write");
    }

    /// A context folder with an ignored file, an ignored folder and a link.
    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "Dockerfile", "FROM scratch\nCOPY . /app/\n");
        write(dir.path(), ".dockerignore", "# local clutter\n*.log\nsecrets/\n");
        write(dir.path(), "train.py", "print('fit')\n");
        write(dir.path(), "lib/util.py", "X = 1\n");
        write(dir.path(), "run.log", "noise\n");
        write(dir.path(), "secrets/key.txt", "hunter2\n");
        std::os::unix::fs::symlink("train.py", dir.path().join("main.py")).expect("symlink");
        dir
    }

    fn tar_listing(tar: &[u8]) -> Vec<(String, char, u32, u64, u64)> {
        let mut archive = tar::Archive::new(tar);
        let mut listing = Vec::new();
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            let header = entry.header();
            let kind = match header.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Regular => 'f',
                other => panic!("unexpected {other:?}"),
            };
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let owner = header.uid().expect("uid") + header.gid().expect("gid");
            listing.push((
                path,
                kind,
                header.mode().expect("mode"),
                header.mtime().expect("mtime"),
                owner,
            ));
        }
        listing
    }

    #[test]
    fn reads_what_dockerignore_lets_through_into_a_deterministic_tar() {
        let dir = project();
        fs::set_permissions(dir.path().join("train.py"), fs::Permissions::from_mode(0o755)).expect("chmod");
        let context = BuildContext::read(dir.path(), None).expect("read");
        assert_eq!(context.dockerfile(), "Dockerfile");
        assert_eq!(
            context.files(),
            5,
            ".dockerignore, Dockerfile, lib/util.py, main.py, train.py"
        );
        assert_eq!(context.bytes(), 31 + 26 + 13 + 6);
        let tar = context.tar().expect("tar");
        assert_eq!(tar, context.tar().expect("tar again"), "the tar is deterministic");
        let listing = tar_listing(&tar);
        let names: Vec<_> = listing
            .iter()
            .map(|(path, kind, ..)| format!("{kind} {path}"))
            .collect();
        assert_eq!(
            names,
            [
                "f .dockerignore",
                "f Dockerfile",
                "d lib",
                "f lib/util.py",
                "l main.py",
                "f train.py"
            ]
        );
        for (path, _, mode, mtime, owner) in &listing {
            assert_eq!((*mtime, *owner), (0, 0), "{path}: no timestamps, root owns it");
            if path == "train.py" {
                assert_eq!(mode & 0o777, 0o755, "the executable bit is kept");
            }
        }
        let mut archive = tar::Archive::new(&tar[..]);
        let link = archive
            .entries()
            .expect("entries")
            .map(|entry| entry.expect("entry"))
            .find(|entry| entry.path().expect("path").as_os_str() == "main.py")
            .expect("main.py");
        assert_eq!(link.link_name().expect("link").expect("target").as_os_str(), "train.py");
    }

    #[test]
    fn the_hash_follows_content_not_timestamps_or_ignored_files() {
        let dir = project();
        let first = BuildContext::read(dir.path(), None).expect("read");
        let again = BuildContext::read(dir.path(), None).expect("read");
        assert_eq!(first.hash(), again.hash(), "an unchanged folder");
        assert_eq!(first.hash().len(), 64);

        let old = SystemTime::now() - Duration::from_secs(86_400);
        fs::File::options()
            .write(true)
            .open(dir.path().join("train.py"))
            .and_then(|file| file.set_modified(old))
            .expect("touch");
        let touched = BuildContext::read(dir.path(), None).expect("read");
        assert_eq!(first.hash(), touched.hash(), "mtime only");

        write(dir.path(), "run.log", "other noise\n");
        write(dir.path(), "secrets/new.txt", "x\n");
        assert_eq!(
            first.hash(),
            BuildContext::read(dir.path(), None).expect("read").hash(),
            "ignored files"
        );

        let same_elsewhere = project();
        assert_eq!(
            first.hash(),
            BuildContext::read(same_elsewhere.path(), None).expect("read").hash(),
            "the folder's place does not count"
        );

        type Change = (&'static str, fn(&Path));
        let changes: &[Change] = &[
            ("an edit", |d| write(d, "train.py", "print('fit!')\n")),
            ("a new file", |d| write(d, "lib/extra.py", "")),
            ("a rename", |d| {
                fs::rename(d.join("lib"), d.join("pkg")).expect("rename")
            }),
            ("the executable bit", |d| {
                fs::set_permissions(d.join("train.py"), fs::Permissions::from_mode(0o755)).expect("chmod")
            }),
            ("a link's target", |d| {
                fs::remove_file(d.join("main.py")).expect("rm");
                std::os::unix::fs::symlink("lib/util.py", d.join("main.py")).expect("symlink");
            }),
            ("the .dockerignore", |d| write(d, ".dockerignore", "*.log\n")),
        ];
        for (what, change) in changes {
            let dir = project();
            change(dir.path());
            let changed = BuildContext::read(dir.path(), None).expect("read");
            assert_ne!(first.hash(), changed.hash(), "{what} changes the hash");
        }
    }

    #[test]
    fn the_dockerfile_and_dockerignore_are_sent_even_when_ignored() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "docker/train.Dockerfile", "FROM scratch\n");
        write(dir.path(), "docker/notes.txt", "skip me\n");
        write(dir.path(), "data/keep.csv", "1\n");
        write(dir.path(), "data/drop.csv", "2\n");
        write(
            dir.path(),
            ".dockerignore",
            ".dockerignore\ndocker\n**/*.Dockerfile\ndata\n!data/keep.csv\n",
        );
        let context = BuildContext::read(dir.path(), Some("./docker/train.Dockerfile")).expect("read");
        assert_eq!(context.dockerfile(), "docker/train.Dockerfile");
        let names: Vec<_> = tar_listing(&context.tar().expect("tar"))
            .into_iter()
            .map(|(path, ..)| path)
            .collect();
        assert_eq!(
            names,
            [
                ".dockerignore",
                "data",
                "data/keep.csv",
                "docker",
                "docker/train.Dockerfile"
            ]
        );
        let other = BuildContext::read(dir.path(), None).expect_err("no ./Dockerfile");
        assert!(
            other.contains(&format!("no Dockerfile at {}", dir.path().join("Dockerfile").display())),
            "{other}"
        );
    }

    #[test]
    fn clear_errors_for_a_missing_folder_a_bad_dockerfile_path_and_a_changed_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let missing = dir.path().join("nowhere");
        let error = BuildContext::read(&missing, None).expect_err("missing");
        assert_eq!(
            error,
            format!("the build context folder {} does not exist", missing.display())
        );
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        for outside in ["../Dockerfile", "/etc/passwd", "."] {
            let error = BuildContext::read(dir.path(), Some(outside)).expect_err(outside);
            assert!(error.contains("must be a path inside the build context"), "{error}");
        }
        write(dir.path(), "data.txt", "before\n");
        let context = BuildContext::read(dir.path(), None).expect("read");
        write(dir.path(), "data.txt", "after!\n");
        let error = context.tar().expect_err("changed");
        assert!(error.contains("data.txt changed while wharf was sending"), "{error}");
    }
}
