//! Content-addressed uploads of local inputs, sending only what changed.
//!
//! A file or folder becomes the immutable snapshot
//! `<prefix>/wharf/data/<hash>/`, where `<hash>` is the cache's content hash
//! (`wharf_runtime::hash::hash_path`, computed here from the per-file hashes
//! with the same framing): a folder's files under their relative paths, a
//! single file under its name. SageMaker reads the snapshot as an `S3Prefix`.
//! A manifest `<prefix>/wharf/data/<hash>.complete` (each file's relative
//! path, size and BLAKE3) is written last; when it exists the upload is
//! skipped without a listing.
//!
//! A new snapshot is assembled from what S3 already holds: a file whose
//! content (BLAKE3) is in the previous snapshot of the same local input is
//! copied server-side (CopyObject, or UploadPartCopy beyond 5 GiB: no byte
//! of it passes through this machine); only the other files are sent. The
//! previous snapshot is named by a small pointer object,
//! `<prefix>/wharf/inputs/<BLAKE3 of the local path>`, and its manifest
//! says which file hashes it holds where: two GETs instead of a listing of
//! every snapshot. Both are hints: a copy whose source is gone (deleted in
//! S3) falls back to sending the file, so S3, not a record, decides what is
//! there. See docs/backends/sagemaker.md ("S3 layout") for why copies and
//! not a manifest input.
//!
//! An interrupted upload resumes: the new snapshot's prefix is listed and a
//! key already there with the right size is the right object (a key names
//! its content), so only the missing files are copied or sent.
//!
//! Symbolic links inside a folder are refused: S3 cannot hold a link, and
//! the content hash covers the link's target path, not the target's content,
//! so uploading the content under that hash could go stale unnoticed.
//! Empty folders are not represented (S3 has no folders).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};
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
    /// SageMaker's `S3Prefix` would also match the `.complete` manifest).
    /// For a single file too: an `S3Prefix` input then puts the file, under
    /// its name, in the channel's folder.
    pub uri: String,
    /// The content hash (hex), as `wharf_runtime::hash::hash_path` gives it.
    pub hash: String,
    /// Files and bytes of the local data.
    pub files: usize,
    pub bytes: u64,
    /// Files and bytes this call sent from this machine.
    pub uploaded_files: usize,
    pub uploaded_bytes: u64,
    /// Files and bytes copied within S3 from an earlier snapshot (no bytes
    /// through this machine).
    pub copied_files: usize,
    pub copied_bytes: u64,
    /// Whether the snapshot was already complete on S3, so nothing was sent.
    pub skipped: bool,
}

/// A local file to upload: where it is, its key below the snapshot prefix,
/// its size, and the BLAKE3 (hex) of its content when known.
#[derive(Debug, Clone)]
pub(crate) struct LocalFile {
    pub(crate) path: PathBuf,
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) blake3: Option<String>,
}

/// The `.complete` object of a snapshot: what it holds. `files` and `bytes`
/// come first, as in the markers written before manifests were.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    files: usize,
    bytes: u64,
    #[serde(default)]
    entries: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    key: String,
    size: u64,
    blake3: String,
}

/// How one file reached the new snapshot.
enum Sent {
    Put(u64),
    Copied(u64),
}

impl Transfers {
    /// Uploads a local file or folder as a content-addressed snapshot,
    /// sending only the files S3 does not already hold (see the module's
    /// documentation), and returns where it is. Hashing runs on blocking
    /// threads; up to `Limits::files` files go up or are copied at once.
    pub async fn upload(&self, path: &Path, progress: OnProgress<'_>) -> Result<Uploaded, String> {
        let (hash, files) = {
            let owned = path.to_path_buf();
            tokio::task::spawn_blocking(move || scan(&owned))
                .await
                .map_err(|e| format!("hashing `{}` ended abnormally: {e}", path.display()))??
        };
        let doing = format!("uploading `{}`", path.display());
        let base = self.location.key(&format!("{}/{hash}", super::DATA));
        let folder = self.at(&base);
        let marker = self.at(&format!("{base}.complete"));
        let pointer = self.at(&self.location.key(&format!("{}/{}", super::INPUTS, lineage(path))));
        let bytes = files.iter().map(|f| f.size).sum();
        let mut uploaded = Uploaded {
            uri: format!("{}/", folder.uri("")),
            hash: hash.clone(),
            files: files.len(),
            bytes,
            uploaded_files: 0,
            uploaded_bytes: 0,
            copied_files: 0,
            copied_bytes: 0,
            skipped: true,
        };
        if self.head(&marker, &doing).await?.is_some() {
            let meter = Meter::new(bytes, files.len());
            meter.add_bytes(bytes);
            (0..files.len()).for_each(|_| meter.file_done());
            progress(meter.snapshot());
            self.point(&pointer, &hash, &doing).await?;
            return Ok(uploaded);
        }
        uploaded.skipped = false;

        let present: HashMap<String, u64> = self
            .list(&folder, &doing)
            .await?
            .into_iter()
            .map(|o| (o.key, o.size))
            .collect();
        let (missing, there): (Vec<&LocalFile>, Vec<&LocalFile>) = files
            .iter()
            .partition(|file| present.get(&file.key) != Some(&file.size));
        let meter = Meter::new(bytes, uploaded.files);
        meter.add_bytes(there.iter().map(|f| f.size).sum());
        there.iter().for_each(|_| meter.file_done());
        let sources = if missing.is_empty() {
            HashMap::new()
        } else {
            self.sources(&pointer, &hash, &doing).await?
        };

        let target = Target {
            store: self.connection.store(&self.location.bucket)?,
            client: self.connection.client.clone(),
            bucket: self.location.bucket.clone(),
            requests: self.requests.clone(),
            meter: meter.clone(),
            multipart_threshold: self.limits.multipart_threshold,
            part_size: self.limits.part_size,
            copy_threshold: self.limits.copy_threshold,
            stopped: Arc::new(AtomicBool::new(false)),
        };
        let work = missing
            .into_iter()
            .map(|file| {
                let source = file
                    .blake3
                    .as_ref()
                    .and_then(|digest| sources.get(digest))
                    .filter(|(_, size)| *size == file.size)
                    .map(|(key, _)| key.clone());
                (file.clone(), source)
            })
            .collect();
        for sent in self.send(&target, &base, work, progress).await? {
            match sent {
                Sent::Put(size) => {
                    uploaded.uploaded_files += 1;
                    uploaded.uploaded_bytes += size;
                }
                Sent::Copied(size) => {
                    uploaded.copied_files += 1;
                    uploaded.copied_bytes += size;
                }
            }
        }

        // Written by itself, not through `target`: its bytes are not the data's.
        let manifest = Manifest {
            files: uploaded.files,
            bytes: uploaded.bytes,
            entries: files
                .iter()
                .filter_map(|f| {
                    Some(Entry {
                        key: f.key.clone(),
                        size: f.size,
                        blake3: f.blake3.clone()?,
                    })
                })
                .collect(),
        };
        let body = serde_json::to_vec(&manifest).map_err(|e| format!("{doing}: writing the manifest failed: {e}"))?;
        target
            .store
            .put(&object_path(&marker.bucket, &marker.prefix)?, PutPayload::from(body))
            .await
            .map_err(|e| sentence(&doing, &marker.bucket, &marker.uri(""), &e))?;
        self.point(&pointer, &hash, &doing).await?;
        Ok(uploaded)
    }

    /// `key` in the target's bucket.
    fn at(&self, key: &str) -> S3Location {
        S3Location {
            bucket: self.location.bucket.clone(),
            prefix: key.to_string(),
        }
    }

    /// Records `hash` as the latest snapshot of the input `pointer` is for,
    /// unless it already is.
    async fn point(&self, pointer: &S3Location, hash: &str, doing: &str) -> Result<(), String> {
        if self.read_small(pointer, doing).await?.as_deref() == Some(hash.as_bytes()) {
            return Ok(());
        }
        let store = self.connection.store(&pointer.bucket)?;
        store
            .put(
                &object_path(&pointer.bucket, &pointer.prefix)?,
                PutPayload::from(hash.to_string()),
            )
            .await
            .map_err(|e| sentence(doing, &pointer.bucket, &pointer.uri(""), &e))?;
        Ok(())
    }

    /// The files of the input's previous snapshot, by content: BLAKE3 ->
    /// (full key, size). Empty when there is no previous snapshot, or its
    /// manifest predates per-file hashes.
    async fn sources(
        &self,
        pointer: &S3Location,
        hash: &str,
        doing: &str,
    ) -> Result<HashMap<String, (String, u64)>, String> {
        let Some(previous) = self.read_small(pointer, doing).await? else {
            return Ok(HashMap::new());
        };
        let previous = String::from_utf8_lossy(&previous).trim().to_string();
        let hex = previous.len() == 64 && previous.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex || previous == hash {
            return Ok(HashMap::new());
        }
        let base = self.location.key(&format!("{}/{previous}", super::DATA));
        let Some(body) = self.read_small(&self.at(&format!("{base}.complete")), doing).await? else {
            return Ok(HashMap::new());
        };
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&body) else {
            return Ok(HashMap::new());
        };
        Ok(manifest
            .entries
            .into_iter()
            .map(|e| (e.blake3, (format!("{base}/{}", e.key), e.size)))
            .collect())
    }

    /// The body of a small object, or `None` when there is none.
    async fn read_small(&self, location: &S3Location, doing: &str) -> Result<Option<bytes::Bytes>, String> {
        let store = self.connection.store(&location.bucket)?;
        let path = object_path(&location.bucket, &location.prefix)?;
        let failed = |e: object_store::Error| sentence(doing, &location.bucket, &location.uri(""), &e);
        match store.get(&path).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(failed)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }

    /// Puts each file under `base`, or copies it from its source key when
    /// it has one that still exists; up to `Limits::files` at once.
    async fn send(
        &self,
        target: &Target,
        base: &str,
        work: Vec<(LocalFile, Option<String>)>,
        progress: OnProgress<'_>,
    ) -> Result<Vec<Sent>, String> {
        let slots = Arc::new(Semaphore::new(self.limits.files));
        let mut tasks = JoinSet::new();
        for (file, source) in work {
            let key = object_path(&target.bucket, &format!("{base}/{}", file.key))?;
            let source = source.map(|s| object_path(&target.bucket, &s)).transpose()?;
            let (target, slots) = (target.clone(), slots.clone());
            tasks.spawn(async move {
                let _slot = slots
                    .acquire_owned()
                    .await
                    .map_err(|_| "the upload was stopped".to_string())?;
                let copied = match &source {
                    Some(source) => target.copy(source, &key, file.size).await?,
                    None => false,
                };
                let sent = if copied {
                    target.meter.add_bytes(file.size);
                    Sent::Copied(file.size)
                } else {
                    target.put_file(&file.path, file.size, &key).await?;
                    Sent::Put(file.size)
                };
                target.meter.file_done();
                Ok(sent)
            });
        }
        let stop = || {
            slots.close();
            target.stopped.store(true, Ordering::Relaxed);
        };
        drive(tasks, &target.meter, progress, stop).await
    }
}

/// Names the local input `path` across runs, for its pointer object: the
/// BLAKE3 of its absolute path (canonical when it exists).
fn lineage(path: &Path) -> String {
    let absolute = std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf());
    blake3::hash(absolute.to_string_lossy().as_bytes()).to_hex().to_string()
}

/// The content hash of `path` and its files with their BLAKE3s.
fn scan(root: &Path) -> Result<(String, Vec<LocalFile>), String> {
    let meta = std::fs::metadata(root).map_err(|e| local("reading", root, &e))?;
    if !meta.is_dir() {
        // One file: its snapshot holds only it, so it is sent or skipped
        // whole, and no per-file hash is needed.
        let hash = wharf_runtime::hash::hash_path(root).map_err(|e| local("hashing", root, &e))?;
        let Some(name) = root.file_name().and_then(|n| n.to_str()) else {
            return Err(format!("`{}` has no file name S3 can hold (UTF-8)", root.display()));
        };
        let file = LocalFile {
            path: root.to_path_buf(),
            key: name.to_string(),
            size: hash.size,
            blake3: None,
        };
        return Ok((hash.hex, vec![file]));
    }
    let mut entries = Vec::new();
    walk(root, "", &mut entries)?;
    let paths: Vec<&Path> = entries
        .iter()
        .filter_map(|e| match e {
            Walked::File(file) => Some(file.path.as_path()),
            Walked::Dir(_) => None,
        })
        .collect();
    let digests = file_digests(&paths)?;
    // The framing of `wharf_runtime::hash::hash_path` for a folder, over
    // the same walk (sorted names, folders before their contents), so the
    // snapshot's name is the cache's content hash; a test pins the two
    // together.
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"wharf-dir-v1\0");
    let mut files = Vec::with_capacity(digests.len());
    let mut digests = digests.into_iter();
    for entry in entries {
        match entry {
            Walked::Dir(key) => {
                hasher.update(b"d\0");
                hasher.update(key.as_bytes());
                hasher.update(b"\0");
            }
            Walked::File(mut file) => {
                let Some((digest, read)) = digests.next() else {
                    return Err("hashing lost track of the files".into());
                };
                if read != file.size {
                    return Err(format!(
                        "`{}` changed while it was being hashed; upload it again",
                        file.path.display()
                    ));
                }
                hasher.update(b"f\0");
                hasher.update(file.key.as_bytes());
                hasher.update(b"\0");
                hasher.update(&read.to_le_bytes());
                hasher.update(digest.as_bytes());
                file.blake3 = Some(digest.to_hex().to_string());
                files.push(file);
            }
        }
    }
    Ok((hasher.finalize().to_hex().to_string(), files))
}

/// The BLAKE3 of each file's content and the bytes read, on all cores. The
/// one place per-file hashes come from: a stat cache of per-file hashes can
/// answer here instead of reading.
pub(crate) fn file_digests(paths: &[&Path]) -> Result<Vec<(blake3::Hash, u64)>, String> {
    type Digest = Result<(blake3::Hash, u64), String>;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len().max(1));
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Digest>> = (0..paths.len()).map(|_| None).collect();
    let found: Vec<Vec<(usize, Digest)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    let mut buffer = vec![0u8; 256 * 1024];
                    loop {
                        let at = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(at) else { break };
                        mine.push((at, digest(path, &mut buffer)));
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_default()).collect()
    });
    for (at, result) in found.into_iter().flatten() {
        results[at] = Some(result);
    }
    results
        .into_iter()
        .zip(paths)
        .map(|(result, path)| result.unwrap_or_else(|| Err(format!("hashing `{}` did not finish", path.display()))))
        .collect()
}

fn digest(path: &Path, buffer: &mut [u8]) -> Result<(blake3::Hash, u64), String> {
    let mut file = std::fs::File::open(path).map_err(|e| local("opening", path, &e))?;
    let mut hasher = blake3::Hasher::new();
    let mut total = 0u64;
    loop {
        let n = file.read(buffer).map_err(|e| local("reading", path, &e))?;
        if n == 0 {
            return Ok((hasher.finalize(), total));
        }
        hasher.update(&buffer[..n]);
        total += n as u64;
    }
}

/// What a walk of a folder finds, in `hash_path`'s order.
enum Walked {
    Dir(String),
    File(LocalFile),
}

fn walk(dir: &Path, relative: &str, found: &mut Vec<Walked>) -> Result<(), String> {
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
            found.push(Walked::Dir(key.clone()));
            walk(&path, &key, found)?;
        } else {
            let size = entry.metadata().map_err(|e| local("reading", &path, &e))?.len();
            found.push(Walked::File(LocalFile {
                path,
                key,
                size,
                blake3: None,
            }));
        }
    }
    Ok(())
}
