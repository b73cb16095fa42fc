//! Uploading a locally trained model for a cloud step (deploy, transform):
//! the folder is packed as `model.tar.gz` with its contents at the root (as
//! SageMaker packs `/opt/ml/model`), on a blocking thread, while the archive
//! streams to `<prefix>/wharf/models/<hash>/model.tar.gz` in parts. The key
//! carries the folder's content hash, so an upload already there is skipped.
//!
//! Progress counts the folder's bytes as they are packed (the archive's size
//! is unknown until the end); packing waits for the upload, so the two keep
//! step within a few parts.

use std::path::Path;

use bytes::BytesMut;
use tokio::task::JoinSet;

use super::archive::pack;
use super::errors::local;
use super::pipe::{ChannelWriter, pipe};
use super::progress::{Meter, OnProgress, drive};
use super::put::{Multipart, Target};
use super::transfers::{Transfers, object_path};

impl Transfers {
    /// Packs the model folder `dir` and uploads it, unless an archive of the
    /// same content is already there; returns the `s3://` URI of the
    /// `model.tar.gz`.
    pub async fn upload_model(&self, dir: &Path, progress: OnProgress<'_>) -> Result<String, String> {
        let (hash, bytes, files) = {
            let owned = dir.to_path_buf();
            tokio::task::spawn_blocking(move || measure(&owned))
                .await
                .map_err(|e| format!("hashing `{}` ended abnormally: {e}", dir.display()))??
        };
        let key = self.location.key(&format!("{}/{hash}/model.tar.gz", super::MODELS));
        let uri = format!("s3://{}/{key}", self.location.bucket);
        let meter = Meter::new(bytes, files);
        let archive = super::location::S3Location {
            bucket: self.location.bucket.clone(),
            prefix: key.clone(),
        };
        if self
            .head(&archive, &format!("uploading the model `{}`", dir.display()))
            .await?
            .is_some()
        {
            meter.add_bytes(bytes);
            (0..files).for_each(|_| meter.file_done());
            progress(meter.snapshot());
            return Ok(uri);
        }

        let target = Target {
            store: self.connection.store(&self.location.bucket)?,
            client: self.connection.client.clone(),
            bucket: self.location.bucket.clone(),
            requests: self.requests.clone(),
            meter: Meter::new(0, 0), // bytes are counted as packed, on `meter`
            multipart_threshold: self.limits.multipart_threshold,
            part_size: self.limits.part_size,
            copy_threshold: self.limits.copy_threshold,
            stopped: Default::default(),
        };
        let path = object_path(&self.location.bucket, &key)?;
        let mut tasks = JoinSet::new();
        let (dir, packing_meter) = (dir.to_path_buf(), meter.clone());
        tasks.spawn(async move {
            let (sender, mut receiver) = pipe();
            let packing = tokio::task::spawn_blocking(move || pack(&dir, ChannelWriter::new(sender), &packing_meter));
            let part_size = target.part_size as usize;
            let mut buffer = BytesMut::new();
            let mut upload: Option<Multipart> = None;
            let mut sent = Ok(());
            while let Some(chunk) = receiver.recv().await {
                buffer.extend_from_slice(&chunk);
                while buffer.len() >= part_size {
                    let part = buffer.split_to(part_size).freeze();
                    if let Err(e) = send_part(&target, &path, &mut upload, part).await {
                        sent = Err(e);
                        break;
                    }
                }
                if sent.is_err() {
                    break;
                }
            }
            drop(receiver);
            let packed = packing.await.map_err(|e| format!("packing ended abnormally: {e}"))?;
            sent?;
            packed?;
            match upload {
                None => target.put(&path, buffer.freeze()).await,
                Some(mut upload) => {
                    if !buffer.is_empty() {
                        let permit = target
                            .requests
                            .clone()
                            .acquire_owned()
                            .await
                            .map_err(|_| "stopped".to_string())?;
                        upload.put_part(buffer.freeze(), permit)?;
                    }
                    upload.finish().await
                }
            }
        });
        drive(tasks, &meter, progress, || ()).await?;
        Ok(uri)
    }
}

async fn send_part(
    target: &Target,
    path: &object_store::path::Path,
    upload: &mut Option<Multipart>,
    part: bytes::Bytes,
) -> Result<(), String> {
    if upload.is_none() {
        *upload = Some(Multipart::start(target, path).await?);
    }
    let permit = target
        .requests
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| "the upload was stopped".to_string())?;
    match upload.as_mut() {
        Some(upload) => upload.put_part(part, permit),
        None => Err("the multipart upload did not start".into()),
    }
}

/// The folder's content hash, its size and its number of files.
fn measure(dir: &Path) -> Result<(String, u64, usize), String> {
    if !dir.is_dir() {
        return Err(format!(
            "`{}` is not a folder; a model to upload is a folder",
            dir.display()
        ));
    }
    let hash = wharf_runtime::hash::hash_path(dir).map_err(|e| local("hashing", dir, &e))?;
    let files = count_files(dir)?;
    Ok((hash.hex, hash.size, files))
}

fn count_files(dir: &Path) -> Result<usize, String> {
    let mut count = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| local("listing", dir, &e))? {
        let entry = entry.map_err(|e| local("listing", dir, &e))?;
        let kind = entry.file_type().map_err(|e| local("reading", &entry.path(), &e))?;
        if kind.is_dir() {
            count += count_files(&entry.path())?;
        } else if kind.is_file() {
            count += 1;
        }
    }
    Ok(count)
}
