//! Writing one object: a single PUT for a small body, a multipart upload
//! with parts in flight at once for a large one, or a server-side copy of
//! an object S3 already holds (CopyObject, or UploadPartCopy beyond
//! `Limits::copy_threshold`, at most S3's 5 GiB). A multipart upload that
//! does not complete is aborted, even when the task driving it is dropped,
//! so that no orphaned parts stay behind (S3 bills for them).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use object_store::aws::AmazonS3;
use object_store::path::Path as ObjectPath;
use object_store::{MultipartUpload, ObjectStoreExt, PutPayload};
use tokio::io::AsyncReadExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::errors::{local, sentence};
use super::progress::Meter;

/// Where an object goes, and how (shared by the files of one transfer).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) store: Arc<AmazonS3>,
    /// For the multipart copy object_store does not make.
    pub(crate) client: aws_sdk_s3::Client,
    pub(crate) bucket: String,
    pub(crate) requests: Arc<Semaphore>,
    pub(crate) meter: Arc<Meter>,
    pub(crate) multipart_threshold: u64,
    pub(crate) part_size: u64,
    /// Objects larger than this are copied in parts.
    pub(crate) copy_threshold: u64,
    /// Set when a sibling transfer failed: large files stop between parts.
    pub(crate) stopped: Arc<AtomicBool>,
}

/// S3 takes at most this many parts in one upload.
const MAX_PARTS: u64 = 10_000;

impl Target {
    fn uri(&self, key: &ObjectPath) -> String {
        format!("s3://{}/{}", self.bucket, key)
    }

    /// A permit to send one request carrying data.
    async fn permit(&self) -> Result<OwnedSemaphorePermit, String> {
        self.requests
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| "the transfer was stopped".to_string())
    }

    /// Uploads the local file `path` (`size` bytes, as listed) to `key`.
    pub(crate) async fn put_file(&self, path: &Path, size: u64, key: &ObjectPath) -> Result<(), String> {
        if size < self.multipart_threshold {
            let permit = self.permit().await?;
            let body = tokio::fs::read(path).await.map_err(|e| local("reading", path, &e))?;
            if body.len() as u64 != size {
                return Err(changed(path));
            }
            self.put(key, Bytes::from(body)).await?;
            drop(permit);
            return Ok(());
        }
        let part_size = self
            .part_size
            .max(size.div_ceil(MAX_PARTS).next_multiple_of(1024 * 1024));
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| local("opening", path, &e))?;
        let mut upload = Multipart::start(self, key).await?;
        let mut left = size;
        while left > 0 {
            if self.stopped.load(Ordering::Relaxed) {
                return Err("the upload was stopped".into());
            }
            let length = part_size.min(left);
            let permit = self.permit().await?;
            let mut part = BytesMut::zeroed(length as usize);
            match file.read_exact(&mut part).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(changed(path)),
                Err(e) => return Err(local("reading", path, &e)),
            }
            left -= length;
            upload.put_part(part.freeze(), permit)?;
        }
        upload.finish().await
    }

    /// Copies the object `from` (`size` bytes) to `to` within the bucket,
    /// server-side. `Ok(false)` when `from` is not there (deleted since its
    /// manifest was written): the caller sends the file instead.
    pub(crate) async fn copy(&self, from: &ObjectPath, to: &ObjectPath, size: u64) -> Result<bool, String> {
        let _permit = self.permit().await?;
        if size > self.copy_threshold {
            return self.copy_in_parts(from, to, size).await;
        }
        match self.store.copy(from, to).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(sentence("copying within S3", &self.bucket, &self.uri(from), &e)),
        }
    }

    /// A copy as a multipart upload of ranges of `from` (UploadPartCopy),
    /// for objects larger than CopyObject takes; aborted if it fails.
    async fn copy_in_parts(&self, from: &ObjectPath, to: &ObjectPath, size: u64) -> Result<bool, String> {
        let client = &self.client;
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            sentence(
                &format!("copying within S3 ({what})"),
                &self.bucket,
                &self.uri(from),
                &e.to_string(),
            )
        };
        match client
            .head_object()
            .bucket(&self.bucket)
            .key(from.as_ref())
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => return Ok(false),
            Err(e) => return Err(failed("HeadObject", &aws_sdk_s3::error::DisplayErrorContext(&e))),
        }
        let started = client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(to.as_ref())
            .send()
            .await
            .map_err(|e| failed("CreateMultipartUpload", &aws_sdk_s3::error::DisplayErrorContext(&e)))?;
        let Some(id) = started.upload_id() else {
            return Err(failed("CreateMultipartUpload", &"S3 returned no upload id"));
        };
        let part_size = self.copy_threshold.max(size.div_ceil(MAX_PARTS));
        let source = format!("{}/{}", self.bucket, super::encode_path(from.as_ref()));
        let mut parts = Vec::new();
        let mut copied = Ok(());
        let mut start = 0;
        while start < size {
            let end = (start + part_size).min(size) - 1;
            let number = parts.len() as i32 + 1;
            let part = client
                .upload_part_copy()
                .bucket(&self.bucket)
                .key(to.as_ref())
                .upload_id(id)
                .part_number(number)
                .copy_source(&source)
                .copy_source_range(format!("bytes={start}-{end}"))
                .send()
                .await;
            match part {
                Ok(part) => parts.push(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.copy_part_result().and_then(|r| r.e_tag().map(str::to_string)))
                        .build(),
                ),
                Err(e) => {
                    copied = Err(failed("UploadPartCopy", &aws_sdk_s3::error::DisplayErrorContext(&e)));
                    break;
                }
            }
            start = end + 1;
        }
        if copied.is_ok() {
            let upload = aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build();
            let done = client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(to.as_ref())
                .upload_id(id)
                .multipart_upload(upload)
                .send()
                .await;
            match done {
                Ok(_) => return Ok(true),
                Err(e) => {
                    copied = Err(failed(
                        "CompleteMultipartUpload",
                        &aws_sdk_s3::error::DisplayErrorContext(&e),
                    ))
                }
            }
        }
        let _ = client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(to.as_ref())
            .upload_id(id)
            .send()
            .await;
        copied.map(|()| true)
    }

    /// One PUT of a body already in memory.
    pub(crate) async fn put(&self, key: &ObjectPath, body: Bytes) -> Result<(), String> {
        let length = body.len() as u64;
        self.store
            .put(key, PutPayload::from(body))
            .await
            .map_err(|e| sentence("uploading", &self.bucket, &self.uri(key), &e))?;
        self.meter.add_bytes(length);
        Ok(())
    }
}

fn changed(path: &Path) -> String {
    format!(
        "`{}` changed while it was being uploaded; its content hash no longer holds, so upload it again",
        path.display()
    )
}

/// A multipart upload in progress: parts go up as tasks, at most one per
/// request permit.
pub(crate) struct Multipart {
    target: Target,
    key: ObjectPath,
    upload: Option<Box<dyn MultipartUpload>>,
    parts: JoinSet<Result<(), String>>,
}

impl Multipart {
    pub(crate) async fn start(target: &Target, key: &ObjectPath) -> Result<Multipart, String> {
        let upload = target
            .store
            .put_multipart(key)
            .await
            .map_err(|e| sentence("starting a multipart upload", &target.bucket, &target.uri(key), &e))?;
        Ok(Multipart {
            target: target.clone(),
            key: key.clone(),
            upload: Some(upload),
            parts: JoinSet::new(),
        })
    }

    /// Sends the next part; the permit is released when it has gone up.
    /// Fails early when an earlier part failed.
    pub(crate) fn put_part(&mut self, part: Bytes, permit: OwnedSemaphorePermit) -> Result<(), String> {
        while let Some(done) = self.parts.try_join_next() {
            flatten(done)?;
        }
        let Some(upload) = self.upload.as_mut() else {
            return Err("the multipart upload was already finished".into());
        };
        let length = part.len() as u64;
        let sending = upload.put_part(PutPayload::from(part));
        let meter = self.target.meter.clone();
        let (bucket, uri) = (self.target.bucket.clone(), self.target.uri(&self.key));
        self.parts.spawn(async move {
            let sent = sending.await;
            drop(permit);
            sent.map_err(|e| sentence("uploading a part", &bucket, &uri, &e))?;
            meter.add_bytes(length);
            Ok(())
        });
        Ok(())
    }

    /// Waits for the parts and completes the upload, or aborts it.
    pub(crate) async fn finish(mut self) -> Result<(), String> {
        let mut failure = None;
        while let Some(done) = self.parts.join_next().await {
            if let Err(e) = flatten(done) {
                failure.get_or_insert(e);
            }
        }
        let Some(mut upload) = self.upload.take() else {
            return Err("the multipart upload was already finished".into());
        };
        if let Some(error) = failure {
            let _ = upload.abort().await;
            return Err(error);
        }
        if let Err(e) = upload.complete().await {
            let _ = upload.abort().await;
            return Err(sentence(
                "completing a multipart upload",
                &self.target.bucket,
                &self.target.uri(&self.key),
                &e,
            ));
        }
        Ok(())
    }
}

impl Drop for Multipart {
    fn drop(&mut self) {
        self.parts.abort_all();
        if let (Some(mut upload), Ok(runtime)) = (self.upload.take(), tokio::runtime::Handle::try_current()) {
            runtime.spawn(async move {
                let _ = upload.abort().await;
            });
        }
    }
}

fn flatten(done: Result<Result<(), String>, tokio::task::JoinError>) -> Result<(), String> {
    done.map_err(|e| format!("a part upload ended abnormally: {e}"))?
}
