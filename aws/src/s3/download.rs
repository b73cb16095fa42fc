//! Downloads: every object under a prefix into a local folder (streamed,
//! several at once, each written under a temporary name and renamed into
//! place, so a file that exists is whole), and a `.tar.gz` object streamed
//! straight into the unpacker.
//!
//! A file already in the folder with the object's content is not fetched
//! again. "The same content" is decided by the ETag, the only content
//! digest S3 keeps for every object: for a single PUT it is the MD5 of the
//! bytes, checked against the local file's MD5; for a multipart upload it
//! is the MD5 of the parts' MD5s with `-<parts>`, checked for the part sizes
//! uploaders use (8 and 16 MiB, 5 MiB, and the size spread evenly over the
//! parts). An ETag that matches none (SSE-KMS objects, other part sizes)
//! means fetching the object: a wrong skip is impossible short of an MD5
//! collision, a needless fetch only costs time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use object_store::ObjectStoreExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::archive::unpack;
use super::errors::{local, sentence};
use super::location::S3Location;
use super::pipe::{ChannelReader, pipe};
use super::progress::{Meter, OnProgress, drive};
use super::transfers::{Listed, Transfers, object_path};

/// What a download did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downloaded {
    /// Files written.
    pub files: usize,
    /// Bytes fetched from S3 (for an archive, its compressed size).
    pub bytes: u64,
    /// Files already in the folder with the object's content, not fetched.
    pub skipped_files: usize,
}

/// One object to fetch: its full key, where it goes, its size and ETag.
struct Fetch {
    key: String,
    dest: PathBuf,
    size: u64,
    e_tag: Option<String>,
}

impl Transfers {
    /// Downloads every object under the prefix `uri` into `dest` (made if
    /// missing), keeping the keys' relative paths. A URI naming one object
    /// (not ending in `/`, with nothing under it as a prefix) downloads that
    /// object into `dest` under its name. An empty prefix downloads nothing.
    /// A file already at its place with the object's content (see the
    /// module's documentation) is left as it is.
    pub async fn download_prefix(
        &self,
        uri: &str,
        dest: &Path,
        progress: OnProgress<'_>,
    ) -> Result<Downloaded, String> {
        let location = S3Location::parse(uri)?;
        let doing = format!("downloading {uri}");
        let mut listed = self.list(&location, &doing).await?;
        let mut base = location.prefix.clone();
        if listed.is_empty()
            && !location.prefix.is_empty()
            && !uri.ends_with('/')
            && let Some(meta) = self.head(&location, &doing).await?
        {
            let (parent, name) = location.prefix.rsplit_once('/').unwrap_or(("", &location.prefix));
            listed.push(Listed {
                key: name.to_string(),
                size: meta.size,
                e_tag: meta.e_tag,
            });
            base = parent.to_string();
        }
        drop_folder_markers(&mut listed);
        let mut fetches = Vec::with_capacity(listed.len());
        for object in listed {
            let relative = local_relative(&object.key).ok_or_else(|| {
                format!(
                    "the object key `{}` under {uri} is not a safe relative path; refusing to download it",
                    object.key
                )
            })?;
            let key = if base.is_empty() {
                object.key
            } else {
                format!("{base}/{}", object.key)
            };
            fetches.push(Fetch {
                key,
                dest: dest.join(relative),
                size: object.size,
                e_tag: object.e_tag,
            });
        }
        tokio::fs::create_dir_all(dest)
            .await
            .map_err(|e| local("creating", dest, &e))?;

        let bytes = fetches.iter().map(|f| f.size).sum();
        let meter = Meter::new(bytes, fetches.len());
        let store = self.connection.store(&location.bucket)?;
        let slots = Arc::new(Semaphore::new(self.limits.files));
        let stopped = Arc::new(AtomicBool::new(false));
        let mut tasks = JoinSet::new();
        for fetch in fetches {
            let path = object_path(&location.bucket, &fetch.key)?;
            let (store, slots, requests, meter) = (store.clone(), slots.clone(), self.requests.clone(), meter.clone());
            let (bucket, stopped) = (location.bucket.clone(), stopped.clone());
            tasks.spawn(async move {
                let closed = |_| "the download was stopped".to_string();
                let _slot = slots.acquire_owned().await.map_err(closed)?;
                let (dest, size, e_tag) = (fetch.dest.clone(), fetch.size, fetch.e_tag.clone());
                let present = tokio::task::spawn_blocking(move || same_content(&dest, size, e_tag.as_deref()))
                    .await
                    .unwrap_or(false);
                if present {
                    meter.add_bytes(fetch.size);
                    meter.file_done();
                    return Ok(None);
                }
                let _request = requests.acquire_owned().await.map_err(closed)?;
                let uri = format!("s3://{bucket}/{}", fetch.key);
                let failed = |e: object_store::Error| sentence(&format!("downloading {uri}"), &bucket, &uri, &e);
                let mut body = store.get(&path).await.map_err(failed)?.into_stream();
                let partial = partial_name(&fetch.dest);
                let written = async {
                    if let Some(parent) = fetch.dest.parent() {
                        tokio::fs::create_dir_all(parent)
                            .await
                            .map_err(|e| local("creating", parent, &e))?;
                    }
                    let file = tokio::fs::File::create(&partial)
                        .await
                        .map_err(|e| local("creating", &partial, &e))?;
                    let mut file = tokio::io::BufWriter::with_capacity(1024 * 1024, file);
                    while let Some(chunk) = body.next().await {
                        if stopped.load(Ordering::Relaxed) {
                            return Err("the download was stopped".to_string());
                        }
                        let chunk = chunk.map_err(failed)?;
                        file.write_all(&chunk)
                            .await
                            .map_err(|e| local("writing", &partial, &e))?;
                        meter.add_bytes(chunk.len() as u64);
                    }
                    file.flush().await.map_err(|e| local("writing", &partial, &e))?;
                    drop(file);
                    tokio::fs::rename(&partial, &fetch.dest)
                        .await
                        .map_err(|e| local("renaming into place", &fetch.dest, &e))
                }
                .await;
                if written.is_err() {
                    let _ = tokio::fs::remove_file(&partial).await;
                }
                written?;
                meter.file_done();
                Ok(Some(fetch.size))
            });
        }
        let stop = || {
            slots.close();
            stopped.store(true, Ordering::Relaxed);
        };
        let fetched = drive(tasks, &meter, progress, stop).await?;
        let sizes: Vec<u64> = fetched.iter().flatten().copied().collect();
        Ok(Downloaded {
            files: sizes.len(),
            bytes: sizes.iter().sum(),
            skipped_files: fetched.len() - sizes.len(),
        })
    }

    /// Downloads a `.tar.gz` object (a SageMaker `model.tar.gz`) and unpacks
    /// it into `dest` as it arrives: the archive's root becomes the
    /// folder's contents, the layout a local step reads a model in. Entries
    /// or links that would land outside `dest` are refused.
    pub async fn download_and_unpack(
        &self,
        uri: &str,
        dest: &Path,
        progress: OnProgress<'_>,
    ) -> Result<Downloaded, String> {
        let location = S3Location::parse(uri)?;
        let store = self.connection.store(&location.bucket)?;
        let path = object_path(&location.bucket, &location.prefix)?;
        let failed = |e: object_store::Error| sentence(&format!("downloading {uri}"), &location.bucket, uri, &e);
        let _request = self
            .requests
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| "the download was stopped".to_string())?;
        let found = store.get(&path).await.map_err(failed)?;
        let size = found.meta.size;
        let meter = Meter::new(size, 1);
        let (sender, receiver) = pipe();
        let unpacking = {
            let (dest, what) = (dest.to_path_buf(), uri.to_string());
            tokio::task::spawn_blocking(move || unpack(ChannelReader::new(receiver), &dest, &what))
        };
        let mut body = found.into_stream();
        let mut fetched = Ok(());
        let mut last = std::time::Instant::now();
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    fetched = Err(failed(e));
                    break;
                }
            };
            meter.add_bytes(chunk.len() as u64);
            if sender.send(chunk).await.is_err() {
                break; // the unpacker stopped; its error says why
            }
            if last.elapsed() >= std::time::Duration::from_millis(100) {
                progress(meter.snapshot());
                last = std::time::Instant::now();
            }
        }
        drop(sender);
        let unpacked = unpacking
            .await
            .map_err(|e| format!("unpacking {uri} ended abnormally: {e}"))?;
        fetched?;
        let files = unpacked?;
        meter.file_done();
        progress(meter.snapshot());
        Ok(Downloaded {
            files,
            bytes: size,
            skipped_files: 0,
        })
    }
}

/// Drops the empty "folder" objects some tools make (`a/b/`, listed as
/// `a/b`) when other keys lie under them: they cannot be both a file and a
/// folder on disk, and hold nothing.
fn drop_folder_markers(listed: &mut Vec<Listed>) {
    let keys: std::collections::HashSet<String> = listed.iter().map(|o| o.key.clone()).collect();
    let folders: std::collections::HashSet<&str> = keys
        .iter()
        .flat_map(|key| key.match_indices('/').map(move |(at, _)| &key[..at]))
        .collect();
    listed.retain(|o| !(o.size == 0 && folders.contains(o.key.as_str())));
}

/// A key relative to the prefix as a local relative path, or `None` if it
/// could leave the destination.
fn local_relative(key: &str) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for segment in key.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." || segment.contains('\\') {
            return None;
        }
        path.push(segment);
    }
    (path.components().count() == key.split('/').count()).then_some(path)
}

/// Whether the local file `path` holds `size` bytes whose MD5 (or
/// multipart MD5, for the usual part sizes) is the ETag `e_tag`. Any doubt
/// (no file, another size, an ETag of another form, a read error) is `false`.
fn same_content(path: &Path, size: u64, e_tag: Option<&str>) -> bool {
    use md5::{Digest, Md5};
    const MIB: u64 = 1024 * 1024;
    let Some(e_tag) = e_tag.map(|t| t.trim_matches('"').to_ascii_lowercase()) else {
        return false;
    };
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file() && m.len() == size) {
        return false;
    }
    let (digest, parts) = match e_tag.split_once('-') {
        None => (e_tag.as_str(), 0),
        Some((digest, parts)) => match parts.parse::<u64>() {
            Ok(parts) if parts > 0 => (digest, parts),
            _ => return false,
        },
    };
    if digest.len() != 32 {
        return false;
    }
    // Part sizes that give exactly `parts` parts (none for a single PUT).
    let mut sizes: Vec<u64> = Vec::new();
    if parts > 0 {
        let even = size.div_ceil(parts).next_multiple_of(MIB);
        for candidate in [8 * MIB, 16 * MIB, 5 * MIB, even] {
            if candidate > 0 && size.div_ceil(candidate) == parts && !sizes.contains(&candidate) {
                sizes.push(candidate);
            }
        }
        if sizes.is_empty() {
            return false;
        }
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut whole = Md5::new();
    // For each candidate part size: the MD5s of finished parts, the current
    // part's hasher and how much of it is filled.
    let mut split: Vec<(u64, Md5, u64, Md5)> = sizes.iter().map(|&s| (s, Md5::new(), 0, Md5::new())).collect();
    let mut buffer = vec![0u8; 1024 * 1024];
    loop {
        let n = match std::io::Read::read(&mut file, &mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(_) => return false,
        };
        if parts == 0 {
            whole.update(&buffer[..n]);
            continue;
        }
        for (part_size, of_parts, filled, part) in &mut split {
            let mut chunk = &buffer[..n];
            while !chunk.is_empty() {
                let take = ((*part_size - *filled) as usize).min(chunk.len());
                part.update(&chunk[..take]);
                *filled += take as u64;
                chunk = &chunk[take..];
                if *filled == *part_size {
                    of_parts.update(std::mem::take(part).finalize());
                    *filled = 0;
                }
            }
        }
    }
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    if parts == 0 {
        return hex(&whole.finalize()) == digest;
    }
    split.into_iter().any(|(_, mut of_parts, filled, part)| {
        if filled > 0 {
            of_parts.update(part.finalize());
        }
        hex(&of_parts.finalize()) == digest
    })
}

/// The temporary name a file is downloaded under, beside its final name.
fn partial_name(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    dest.with_file_name(format!(".{name}.wharf-partial"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_safe_relative_paths() {
        assert_eq!(local_relative("a/b.csv"), Some(PathBuf::from("a").join("b.csv")));
        for bad in ["", "a//b", "../x", "a/./b", "a\\..\\x", "/abs"] {
            assert_eq!(local_relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn folder_markers_give_way_to_their_contents() {
        let listed = |key: &str, size| Listed {
            key: key.into(),
            size,
            e_tag: None,
        };
        let mut objects = vec![listed("a", 0), listed("a/x", 3), listed("b", 0), listed("c", 5)];
        drop_folder_markers(&mut objects);
        let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a/x", "b", "c"]);
    }
}
