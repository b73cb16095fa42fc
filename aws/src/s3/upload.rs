//! Content-addressed uploads of local inputs.
//!
//! A file or folder goes to `<prefix>/wharf/data/<hash>/` once, where
//! `<hash>` is `wharf_runtime::hash::hash_path` (the cache's content hash):
//! a folder's files under their relative paths, a single file under its
//! name. A marker object `<prefix>/wharf/data/<hash>.complete` is written
//! last; when it exists the upload is skipped without a listing. Because a
//! key names its content, an object already there with the right size is
//! the right object, so an interrupted upload resumes by uploading only the
//! files that are missing (or short).
//!
//! Symbolic links inside a folder are refused: S3 cannot hold a link, and
//! the content hash covers the link's target path, not the target's content,
//! so uploading the content under that hash could go stale unnoticed.
//! Empty folders are not represented (S3 has no folders).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use object_store::{ObjectStoreExt, PutPayload};

use super::errors::{local, sentence};
use super::location::S3Location;
use super::progress::{Meter, OnProgress, drive};
use super::put::Target;
use super::transfers::{Transfers, object_path};

/// What an upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// The S3 prefix holding the data, ending in `/` (without it,
    /// SageMaker's `S3Prefix` would also match the `.complete` marker). For
    /// a single file too: an `S3Prefix` input then puts the file, under its
    /// name, in the channel's folder.
    pub uri: String,
    /// The content hash (hex), as `wharf_runtime::hash::hash_path` gives it.
    pub hash: String,
    /// Files and bytes of the local data.
    pub files: usize,
    pub bytes: u64,
    /// Files and bytes this call sent (less than the above when resuming).
    pub uploaded_files: usize,
    pub uploaded_bytes: u64,
    /// Whether the data was already complete on S3, so nothing was sent.
    pub skipped: bool,
}

/// A local file to upload: where it is, its key below the hash prefix, its size.
#[derive(Debug, Clone)]
pub(crate) struct LocalFile {
    pub(crate) path: PathBuf,
    pub(crate) key: String,
    pub(crate) size: u64,
}

impl Transfers {
    /// Uploads a local file or folder once, content-addressed (see the
    /// module's documentation), and returns where it is. Hashing runs on a
    /// blocking thread; up to `Limits::files` files go up at once.
    pub async fn upload(&self, path: &Path, progress: OnProgress<'_>) -> Result<Uploaded, String> {
        let (hash, files) = {
            let owned = path.to_path_buf();
            tokio::task::spawn_blocking(move || hash_and_list(&owned))
                .await
                .map_err(|e| format!("hashing `{}` ended abnormally: {e}", path.display()))??
        };
        let doing = format!("uploading `{}`", path.display());
        let base = self.location.key(&format!("{}/{hash}", super::DATA));
        let folder = S3Location {
            bucket: self.location.bucket.clone(),
            prefix: base.clone(),
        };
        let marker = S3Location {
            bucket: self.location.bucket.clone(),
            prefix: format!("{base}.complete"),
        };
        let bytes = files.iter().map(|f| f.size).sum();
        let mut uploaded = Uploaded {
            uri: format!("{}/", folder.uri("")),
            hash,
            files: files.len(),
            bytes,
            uploaded_files: 0,
            uploaded_bytes: 0,
            skipped: true,
        };
        if self.head(&marker, &doing).await?.is_some() {
            let meter = Meter::new(bytes, files.len());
            meter.add_bytes(bytes);
            (0..files.len()).for_each(|_| meter.file_done());
            progress(meter.snapshot());
            return Ok(uploaded);
        }
        uploaded.skipped = false;

        let present: HashMap<String, u64> = self
            .list(&folder, &doing)
            .await?
            .into_iter()
            .map(|o| (o.key, o.size))
            .collect();
        let (missing, there): (Vec<LocalFile>, Vec<LocalFile>) = files
            .into_iter()
            .partition(|file| present.get(&file.key) != Some(&file.size));
        let meter = Meter::new(bytes, uploaded.files);
        meter.add_bytes(there.iter().map(|f| f.size).sum());
        there.iter().for_each(|_| meter.file_done());
        uploaded.uploaded_files = missing.len();
        uploaded.uploaded_bytes = missing.iter().map(|f| f.size).sum();

        let target = Target {
            store: self.connection.store(&self.location.bucket)?,
            bucket: self.location.bucket.clone(),
            requests: self.requests.clone(),
            meter: meter.clone(),
            multipart_threshold: self.limits.multipart_threshold,
            part_size: self.limits.part_size,
            stopped: Arc::new(AtomicBool::new(false)),
        };
        self.put_files(&target, &base, missing, progress).await?;

        // Written by itself, not through `target`: its bytes are not the data's.
        let summary = format!("{{\"files\":{},\"bytes\":{}}}\n", uploaded.files, uploaded.bytes);
        let marker_key = object_path(&marker.bucket, &marker.prefix)?;
        target
            .store
            .put(&marker_key, PutPayload::from(summary))
            .await
            .map_err(|e| sentence(&doing, &marker.bucket, &marker.uri(""), &e))?;
        Ok(uploaded)
    }

    /// Uploads `files` under `base`, up to `Limits::files` at once.
    async fn put_files(
        &self,
        target: &Target,
        base: &str,
        files: Vec<LocalFile>,
        progress: OnProgress<'_>,
    ) -> Result<(), String> {
        let slots = Arc::new(Semaphore::new(self.limits.files));
        let mut tasks = JoinSet::new();
        for file in files {
            let key = object_path(&target.bucket, &format!("{base}/{}", file.key))?;
            let (target, slots) = (target.clone(), slots.clone());
            tasks.spawn(async move {
                let _slot = slots
                    .acquire_owned()
                    .await
                    .map_err(|_| "the upload was stopped".to_string())?;
                target.put_file(&file.path, file.size, &key).await?;
                target.meter.file_done();
                Ok(())
            });
        }
        let stop = || {
            slots.close();
            target.stopped.store(true, Ordering::Relaxed);
        };
        drive(tasks, &target.meter, progress, stop).await?;
        Ok(())
    }
}

/// The content hash of `path` and the files to upload for it.
fn hash_and_list(path: &Path) -> Result<(String, Vec<LocalFile>), String> {
    let hash = wharf_runtime::hash::hash_path(path).map_err(|e| local("hashing", path, &e))?;
    let files = local_files(path)?;
    Ok((hash.hex, files))
}

/// The files under `root` (or `root` itself when it is a file), in sorted
/// order, with keys made of their relative paths.
pub(crate) fn local_files(root: &Path) -> Result<Vec<LocalFile>, String> {
    let meta = std::fs::metadata(root).map_err(|e| local("reading", root, &e))?;
    if !meta.is_dir() {
        let Some(name) = root.file_name().and_then(|n| n.to_str()) else {
            return Err(format!("`{}` has no file name S3 can hold (UTF-8)", root.display()));
        };
        return Ok(vec![LocalFile {
            path: root.to_path_buf(),
            key: name.to_string(),
            size: meta.len(),
        }]);
    }
    let mut files = Vec::new();
    walk(root, "", &mut files)?;
    Ok(files)
}

fn walk(dir: &Path, relative: &str, files: &mut Vec<LocalFile>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| local("listing", dir, &e))?;
    let mut entries = entries
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| local("listing", dir, &e))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Err(format!("`{}` has a name S3 cannot hold (not UTF-8)", path.display()));
        };
        let key = if relative.is_empty() {
            name
        } else {
            format!("{relative}/{name}")
        };
        let kind = entry.file_type().map_err(|e| local("reading", &path, &e))?;
        if kind.is_symlink() {
            return Err(format!(
                "`{}` is a symbolic link; S3 cannot hold links and the content hash covers only where it points, so put a copy of the file there instead",
                path.display()
            ));
        } else if kind.is_dir() {
            walk(&path, &key, files)?;
        } else {
            let size = entry.metadata().map_err(|e| local("reading", &path, &e))?.len();
            files.push(LocalFile { path, key, size });
        }
    }
    Ok(())
}
