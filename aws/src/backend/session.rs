//! The backend's session with AWS, opened once per run: the configuration
//! loaded (the standard chain), the credentials and the role checked, the
//! bucket found or made (`Inner`), and what an attempt's work shares
//! (`Work`). Also where outputs this run downloaded came from in S3
//! (`Origin`), so a later SageMaker step reads them there.

use crate::ecr::Images;
use crate::jobs;
use crate::logs::LogReader;
use crate::poll::Polling;
use crate::s3::{S3Location, Transfers};
use crate::step_log::Log;
use crate::watch::{SagemakerLister, Watcher};
use aws_config::BehaviorVersion;
use aws_sdk_sagemaker::Client;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use wharf_compiler::types::StepKind;

/// A target's AWS settings, resolved (environment variables read).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// The execution role's ARN.
    pub role: Option<String>,
    /// `s3://bucket/prefix` where wharf keeps data and job outputs.
    pub bucket: Option<String>,
    /// An S3- and SageMaker-compatible endpoint instead of AWS's.
    pub endpoint_url: Option<String>,
    /// Steps whose CloudWatch logs are not followed (`logs = off`).
    pub quiet_steps: std::collections::BTreeSet<String>,
}

/// The backend's clients and role, opened once, and what it keeps for the run.
pub(super) struct Inner {
    pub(super) sagemaker: Client,
    pub(super) transfers: Transfers,
    pub(super) images: Images,
    pub(super) role: String,
    pub(super) logs: Arc<LogReader>,
    pub(super) watcher: Arc<Watcher>,
    pub(super) region: String,
    /// Where outputs this run downloaded from S3 came from, by local folder:
    /// a later SageMaker step reads them there instead of sending them back.
    origins: std::sync::Mutex<BTreeMap<PathBuf, Origin>>,
}

/// Where a downloaded output lives in S3.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Origin {
    /// A `model.tar.gz` that was unpacked into the folder.
    Archive(String),
    /// A prefix (ending in `/`) holding the folder's files as they are.
    Prefix(String),
}

impl Inner {
    pub(super) fn remember(&self, dir: PathBuf, origin: Origin) {
        if let Ok(mut origins) = self.origins.lock() {
            origins.insert(dir, origin);
        }
    }

    pub(super) fn origin(&self, path: &std::path::Path) -> Option<Origin> {
        self.origins.lock().ok()?.get(path).cloned()
    }
}

impl Inner {
    /// Loads the AWS configuration (the standard chain: environment,
    /// profile, SSO, instance role) and checks what a run needs.
    pub(super) async fn connect(settings: &Settings) -> Result<Arc<Inner>, String> {
        let role = settings.role.clone().ok_or_else(|| {
            "the target names no execution role: set `role = \"arn:aws:iam::...\"` or WHARF_SAGEMAKER_ROLE".to_string()
        })?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or_else(|| "no AWS region: set `region = \"...\"` on the target, or AWS_REGION".to_string())?;
        let credentials = sdk
            .credentials_provider()
            .ok_or_else(|| "no AWS credentials provider is configured".to_string())?;
        use aws_credential_types::provider::ProvideCredentials;
        credentials.provide_credentials().await.map_err(|e| {
            format!(
                "AWS credentials do not resolve ({e}); set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
                 a profile (`profile = ...` or AWS_PROFILE), or run `aws sso login`"
            )
        })?;
        let transfers = match &settings.bucket {
            Some(bucket) => {
                let transfers = Transfers::new(&sdk, S3Location::parse(bucket)?)?;
                transfers.check_bucket().await?;
                transfers
            }
            None => {
                // As the SageMaker Python SDK's default_bucket():
                // sagemaker-<region>-<account>, created when missing.
                let identity = aws_sdk_sts::Client::new(&sdk)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| {
                        format!(
                            "the target names no bucket and the AWS account cannot be read to find SageMaker's \
                             default bucket ({}); set `bucket = \"s3://BUCKET/PREFIX\"`",
                            jobs::describe_error(&e)
                        )
                    })?;
                let account = identity.account().unwrap_or_default();
                let bucket = format!("s3://sagemaker-{region}-{account}");
                let transfers = Transfers::new(&sdk, S3Location::parse(&bucket)?)?;
                transfers.ensure_bucket().await.map_err(|e| {
                    format!("the target names no bucket, and SageMaker's default bucket {bucket} is not usable: {e}")
                })?;
                transfers
            }
        };
        let sagemaker = Client::new(&sdk);
        Ok(Arc::new(Inner {
            watcher: Watcher::new(
                Arc::new(SagemakerLister(sagemaker.clone())),
                Watcher::interval_from_env(),
            ),
            sagemaker,
            transfers,
            images: Images::new(&sdk),
            role,
            region,
            origins: Default::default(),
            logs: Arc::new(LogReader::new(&sdk)),
        }))
    }
}

/// What one attempt's work on SageMaker shares: the backend's clients, the
/// poll schedule, the job a cancel stops, the step's log, and whether its
/// CloudWatch log is followed.
#[derive(Clone, Copy)]
pub(super) struct Work<'a> {
    pub(super) inner: &'a Inner,
    pub(super) polling: Polling,
    pub(super) job: &'a tokio::sync::Mutex<Option<(StepKind, String)>>,
    pub(super) log: &'a Log,
    pub(super) follow_logs: bool,
}
