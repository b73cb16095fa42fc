//! The two S3 clients a transfer uses, built from one `aws_config::SdkConfig`
//! so that they cannot disagree on region, credentials or endpoint:
//! object_store's `AmazonS3` moves the data (PUT, multipart, GET, LIST,
//! HEAD; one store per bucket, made on first use), and aws-sdk-s3 does what
//! object_store cannot (HeadBucket, CreateBucket).
//!
//! Credentials: object_store asks a bridge to the SDK's provider chain (env,
//! profile, SSO, instance role), which caches them until five minutes before
//! they expire, so a run that outlives a session token keeps working.
//!
//! Addressing: with an `endpoint_url` (an S3-compatible store, or moto in
//! tests) both clients use path-style requests (`endpoint/bucket/key`), which
//! such stores expect; without one, AWS's virtual-hosted style, except for
//! bucket names with dots (they break TLS host names there).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::config::{ProvideCredentials, SharedCredentialsProvider};
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredential};
use object_store::{BackoffConfig, ClientOptions, CredentialProvider, RetryConfig};

/// Clients for one AWS configuration.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) client: aws_sdk_s3::Client,
    pub(crate) region: String,
    endpoint: Option<String>,
    credentials: Arc<SdkCredentials>,
    stores: Mutex<HashMap<String, Arc<AmazonS3>>>,
}

impl Connection {
    pub(crate) fn new(sdk: &aws_config::SdkConfig) -> Result<Connection, String> {
        let Some(provider) = sdk.credentials_provider() else {
            return Err("no AWS credentials are configured (set a profile, keys or a role for the target)".into());
        };
        let endpoint = sdk.endpoint_url().map(|url| url.trim_end_matches('/').to_string());
        let region = sdk.region().map_or_else(|| "us-east-1".to_string(), |r| r.to_string());
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(endpoint.is_some())
            .build();
        Ok(Connection {
            client: aws_sdk_s3::Client::from_conf(config),
            region,
            endpoint,
            credentials: Arc::new(SdkCredentials {
                provider,
                cached: tokio::sync::Mutex::new(None),
            }),
            stores: Mutex::new(HashMap::new()),
        })
    }

    /// The object store for `bucket`, made on first use.
    pub(crate) fn store(&self, bucket: &str) -> Result<Arc<AmazonS3>, String> {
        let mut stores = self.stores.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(store) = stores.get(bucket) {
            return Ok(store.clone());
        }
        let store = Arc::new(self.build_store(bucket)?);
        stores.insert(bucket.to_string(), store.clone());
        Ok(store)
    }

    fn build_store(&self, bucket: &str) -> Result<AmazonS3, String> {
        // Data requests can be long (a 16 MiB PUT on a slow link): no overall
        // request timeout beyond what a stalled connection needs to show.
        let options = ClientOptions::new()
            .with_allow_http(self.endpoint.as_deref().is_some_and(|url| url.starts_with("http://")))
            .with_timeout(Duration::from_secs(300))
            .with_connect_timeout(Duration::from_secs(10));
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 5,
            retry_timeout: Duration::from_secs(120),
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&self.region)
            .with_credentials(self.credentials.clone())
            .with_client_options(options)
            .with_retry(retry);
        builder = match &self.endpoint {
            Some(endpoint) => builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false),
            None => builder.with_virtual_hosted_style_request(!bucket.contains('.')),
        };
        builder
            .build()
            .map_err(|e| format!("could not set up an S3 client for bucket `{bucket}`: {e}"))
    }
}

/// object_store's view of the SDK's credential chain.
struct SdkCredentials {
    provider: SharedCredentialsProvider,
    cached: tokio::sync::Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

impl std::fmt::Debug for SdkCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SdkCredentials { .. }") // nothing of the credentials, even redacted
    }
}

/// Credentials are renewed this long before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

#[async_trait::async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some((credential, expiry)) = cached.as_ref() {
            let fresh = expiry.is_none_or(|expiry| expiry > SystemTime::now() + RENEW_BEFORE);
            if fresh {
                return Ok(credential.clone());
            }
        }
        let credentials = self
            .provider
            .provide_credentials()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: format!("could not load AWS credentials: {e}").into(),
            })?;
        let credential = Arc::new(AwsCredential {
            key_id: credentials.access_key_id().to_string(),
            secret_key: credentials.secret_access_key().to_string(),
            token: credentials.session_token().map(str::to_string),
        });
        *cached = Some((credential.clone(), credentials.expiry()));
        Ok(credential)
    }
}
