//! `Transfers`: the handle the SageMaker backend moves data with, its limits,
//! and the small requests (exists, size, buckets). The transfers themselves
//! live in `upload.rs`, `download.rs` and `model.rs`.

use std::sync::Arc;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use tokio::sync::Semaphore;

use super::connection::Connection;
use super::errors::sentence;
use super::location::S3Location;

const MIB: u64 = 1024 * 1024;
/// The largest object one CopyObject (or one part of a copy) takes.
const MAX_COPY: u64 = 5 * 1024 * MIB;

/// How much a transfer does at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Files moved at once (default 16).
    pub files: usize,
    /// Requests carrying data at once, across all transfers of one
    /// `Transfers` (default 16): PUTs, parts, GETs. Each holds at most one
    /// part or one small file in memory, which bounds the memory a transfer
    /// takes to about `requests * multipart_threshold`.
    pub requests: usize,
    /// Files of at least this size go up as multipart uploads (default 16 MiB).
    pub multipart_threshold: u64,
    /// The size of a part (default 8 MiB; S3 wants 5 MiB to 5 GiB). A file
    /// that would need more than S3's 10,000 parts gets larger parts.
    pub part_size: u64,
    /// Objects larger than this are copied within S3 in parts of this size
    /// (UploadPartCopy) rather than by one CopyObject (default and most
    /// 5 GiB, S3's limit for both; at least 5 MiB).
    pub copy_threshold: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            files: 16,
            requests: 16,
            multipart_threshold: 16 * MIB,
            part_size: 8 * MIB,
            copy_threshold: MAX_COPY,
        }
    }
}

/// Moves data between this machine and S3 for one target's location.
#[derive(Debug)]
pub struct Transfers {
    pub(crate) location: S3Location,
    pub(crate) connection: Connection,
    pub(crate) limits: Limits,
    pub(crate) requests: Arc<Semaphore>,
}

/// An object found by a listing: its key relative to the listed prefix, its
/// size and its ETag (quoted, as S3 gives it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) e_tag: Option<String>,
}

impl Transfers {
    /// A handle for `location` (the target's `s3://bucket/prefix`), with
    /// both S3 clients built from `sdk`: its region, its credential chain
    /// and its `endpoint_url` (set for S3-compatible stores and for tests;
    /// requests are then path-style). Pass the configuration S3 should use;
    /// nothing is sent until the first transfer.
    pub fn new(sdk: &aws_config::SdkConfig, location: S3Location) -> Result<Transfers, String> {
        let limits = Limits::default();
        Ok(Transfers {
            location,
            connection: Connection::new(sdk)?,
            requests: Arc::new(Semaphore::new(limits.requests)),
            limits,
        })
    }

    /// The same handle with other limits.
    pub fn with_limits(mut self, limits: Limits) -> Transfers {
        let limits = Limits {
            files: limits.files.max(1),
            requests: limits.requests.max(1),
            multipart_threshold: limits.multipart_threshold.max(5 * MIB),
            part_size: limits.part_size.max(5 * MIB),
            copy_threshold: limits.copy_threshold.clamp(5 * MIB, MAX_COPY),
        };
        self.requests = Arc::new(Semaphore::new(limits.requests));
        self.limits = limits;
        self
    }

    /// The target's location.
    pub fn location(&self) -> &S3Location {
        &self.location
    }

    /// The aws-sdk-s3 client (the same settings as the transfers), for
    /// requests this module does not make.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.connection.client
    }

    /// Whether `uri` names an object or a non-empty prefix. A URI ending in
    /// `/` names a prefix only. A missing bucket is an error, not `false`.
    pub async fn exists(&self, uri: &str) -> Result<bool, String> {
        let location = S3Location::parse(uri)?;
        if !location.prefix.is_empty()
            && !uri.ends_with('/')
            && self.head(&location, "checking what exists").await?.is_some()
        {
            return Ok(true);
        }
        let store = self.connection.store(&location.bucket)?;
        let prefix = object_path(&location.bucket, &location.prefix)?;
        let prefix = (!location.prefix.is_empty()).then_some(&prefix);
        let first = store.list(prefix).try_next().await;
        first
            .map(|found| found.is_some())
            .map_err(|e| sentence("checking what exists", &location.bucket, uri, &e))
    }

    /// The total size and number of the objects under a prefix, or of the
    /// one object `uri` names, without downloading anything. An empty or
    /// missing prefix is `(0, 0)`.
    pub async fn size(&self, uri: &str) -> Result<(u64, usize), String> {
        let location = S3Location::parse(uri)?;
        let listed = self.list(&location, "measuring").await?;
        if listed.is_empty()
            && !location.prefix.is_empty()
            && !uri.ends_with('/')
            && let Some(meta) = self.head(&location, "measuring").await?
        {
            return Ok((meta.size, 1));
        }
        Ok((listed.iter().map(|o| o.size).sum(), listed.len()))
    }

    /// Creates the target's bucket unless it exists (HeadBucket, then
    /// CreateBucket; outside us-east-1 with the region as its location
    /// constraint). For tests and first use.
    pub async fn ensure_bucket(&self) -> Result<(), String> {
        let bucket = &self.location.bucket;
        let client = &self.connection.client;
        match client.head_bucket().bucket(bucket).send().await {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => {}
            Err(e) => return Err(sdk_sentence("checking", bucket, &e)),
        }
        let mut create = client.create_bucket().bucket(bucket);
        if self.connection.region != "us-east-1" {
            let constraint = BucketLocationConstraint::from(self.connection.region.as_str());
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(constraint)
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_bucket_already_exists()) => Err(format!(
                "creating the S3 bucket `{bucket}` failed: the name is taken by another AWS account; choose another bucket"
            )),
            Err(e) => Err(sdk_sentence("creating", bucket, &e)),
        }
    }

    /// Whether the target's bucket answers to these credentials (HeadBucket),
    /// as a sentence when it does not. For a health check before a run.
    pub async fn check_bucket(&self) -> Result<(), String> {
        let bucket = &self.location.bucket;
        match self.connection.client.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Err(format!(
                "the S3 bucket `{bucket}` does not exist; check the bucket the target names, or create it"
            )),
            Err(e) => Err(sdk_sentence("checking", bucket, &e)),
        }
    }

    /// Every object under `location`'s prefix (as a folder: `a/b` lists
    /// `a/b/...`, not `a/bc`), with keys relative to it.
    pub(crate) async fn list(&self, location: &S3Location, doing: &str) -> Result<Vec<Listed>, String> {
        let store = self.connection.store(&location.bucket)?;
        let prefix = object_path(&location.bucket, &location.prefix)?;
        let objects: Vec<ObjectMeta> = store
            .list((!location.prefix.is_empty()).then_some(&prefix))
            .try_collect()
            .await
            .map_err(|e| sentence(doing, &location.bucket, &location.uri(""), &e))?;
        let skip = if location.prefix.is_empty() {
            0
        } else {
            location.prefix.len() + 1
        };
        Ok(objects
            .into_iter()
            .filter_map(|meta| {
                let key = meta.location.as_ref().get(skip..)?.to_string();
                (!key.is_empty()).then_some(Listed {
                    key,
                    size: meta.size,
                    e_tag: meta.e_tag,
                })
            })
            .collect())
    }

    /// The object `location` names, or `None` when there is none.
    pub(crate) async fn head(&self, location: &S3Location, doing: &str) -> Result<Option<ObjectMeta>, String> {
        let store = self.connection.store(&location.bucket)?;
        let path = object_path(&location.bucket, &location.prefix)?;
        match store.head(&path).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(sentence(doing, &location.bucket, &location.uri(""), &e)),
        }
    }
}

/// An object key as object_store's path, kept verbatim (`Path::from` would
/// percent-encode characters such as `%` or `#` into other keys).
pub(crate) fn object_path(bucket: &str, key: &str) -> Result<ObjectPath, String> {
    ObjectPath::parse(key).map_err(|e| format!("`s3://{bucket}/{key}` cannot be used as an object key: {e}"))
}

/// A sentence for a failed SDK request about a bucket.
fn sdk_sentence<E>(doing: &str, bucket: &str, error: &SdkError<E, HttpResponse>) -> String
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    let denied = error.raw_response().is_some_and(|r| r.status().as_u16() == 403);
    if denied {
        return format!(
            "{doing} the S3 bucket `{bucket}` failed: access was denied; the credentials in use lack permission on it"
        );
    }
    let text = format!("{} {}", error.code().unwrap_or(""), DisplayErrorContext(error));
    sentence(
        &format!("{doing} the S3 bucket `{bucket}`"),
        bucket,
        &format!("s3://{bucket}"),
        &text,
    )
}
