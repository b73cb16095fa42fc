//! Downloads: every object under a prefix into a local folder (streamed,
//! several at once, each written under a temporary name and renamed into
//! place, so a file that exists is whole), and a `.tar.gz` object streamed
//! straight into the unpacker.

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
}

/// One object to fetch: its full key, where it goes, its size.
struct Fetch {
    key: String,
    dest: PathBuf,
    size: u64,
}

impl Transfers {
    /// Downloads every object under the prefix `uri` into `dest` (made if
    /// missing), keeping the keys' relative paths. A URI naming one object
    /// (not ending in `/`, with nothing under it as a prefix) downloads that
    /// object into `dest` under its name. An empty prefix downloads nothing.
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
                Ok(fetch.size)
            });
        }
        let stop = || {
            slots.close();
            stopped.store(true, Ordering::Relaxed);
        };
        let sizes = drive(tasks, &meter, progress, stop).await?;
        Ok(Downloaded {
            files: sizes.len(),
            bytes: sizes.iter().sum(),
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
        Ok(Downloaded { files, bytes: size })
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
        let listed = |key: &str, size| Listed { key: key.into(), size };
        let mut objects = vec![listed("a", 0), listed("a/x", 3), listed("b", 0), listed("c", 5)];
        drop_folder_markers(&mut objects);
        let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a/x", "b", "c"]);
    }
}
