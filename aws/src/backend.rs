//! The `sagemaker` backend: `step` as a processing job, `train` as a
//! training job. An attempt uploads its local inputs (once, by content:
//! `s3::Transfers`), creates its job (or re-attaches to one of this run and
//! step that is still running), polls it with backoff, and on completion
//! downloads its outputs into the attempt's folders, `model.tar.gz`
//! unpacked, so that later steps, local or not, and the cache see them as
//! they see any other output. Cancel and timeout call Stop* and wait for the
//! job to stop. While a job runs its CloudWatch log is followed into the
//! step's log (`logs.rs`), and one watcher per backend lists the run's jobs
//! so that each job is described when it ends, not every poll (`watch.rs`).

use crate::ecr::Images;
use crate::jobs::{self, JobPlan, JobState};
use crate::logs::LogReader;
use crate::poll::Polling;
use crate::s3::{Progress, S3Location, Transfers};
use crate::watch::{self, SagemakerLister, Wake, Watcher};
use crate::{monitor, serving, tuning};
use aws_config::BehaviorVersion;
use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types as sm;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::OnceCell;
use wharf_compiler::pipeline::KindSpec;
use wharf_compiler::types::StepKind;
use wharf_runtime::backend::task::TaskHandle;
use wharf_runtime::backend::{Attempt, Backend, BoxFuture, Finish, Handle};
use wharf_runtime::events::{EventSink, RunEvent};

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

struct Inner {
    sagemaker: Client,
    transfers: Transfers,
    images: Images,
    role: String,
    logs: Arc<LogReader>,
    watcher: Arc<Watcher>,
    region: String,
    /// Where outputs this run downloaded from S3 came from, by local folder:
    /// a later SageMaker step reads them there instead of sending them back.
    origins: std::sync::Mutex<BTreeMap<PathBuf, Origin>>,
}

/// Where a downloaded output lives in S3.
#[derive(Debug, Clone, PartialEq)]
enum Origin {
    /// A `model.tar.gz` that was unpacked into the folder.
    Archive(String),
    /// A prefix (ending in `/`) holding the folder's files as they are.
    Prefix(String),
}

impl Inner {
    fn remember(&self, dir: PathBuf, origin: Origin) {
        if let Ok(mut origins) = self.origins.lock() {
            origins.insert(dir, origin);
        }
    }

    fn origin(&self, path: &std::path::Path) -> Option<Origin> {
        self.origins.lock().ok()?.get(path).cloned()
    }
}

pub struct SagemakerBackend {
    settings: Settings,
    polling: Polling,
    inner: OnceCell<Arc<Inner>>,
}

impl SagemakerBackend {
    pub fn new(settings: Settings) -> SagemakerBackend {
        SagemakerBackend {
            settings,
            polling: Polling::from_env(),
            inner: OnceCell::new(),
        }
    }

    /// Loads the AWS configuration (the standard chain: environment,
    /// profile, SSO, instance role) and checks what a run needs.
    async fn inner(&self) -> Result<Arc<Inner>, String> {
        self.inner
            .get_or_try_init(|| async {
                let role = self.settings.role.clone().ok_or_else(|| {
                    "the target names no execution role: set `role = \"arn:aws:iam::...\"` or WHARF_SAGEMAKER_ROLE"
                        .to_string()
                })?;
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                if let Some(region) = &self.settings.region {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                if let Some(profile) = &self.settings.profile {
                    loader = loader.profile_name(profile);
                }
                if let Some(url) = &self.settings.endpoint_url {
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
                let transfers = match &self.settings.bucket {
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
                            format!(
                                "the target names no bucket, and SageMaker's default bucket {bucket} is not usable: {e}"
                            )
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
            })
            .await
            .cloned()
    }
}

impl Backend for SagemakerBackend {
    fn name(&self) -> &'static str {
        "sagemaker"
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.inner().await.map(|_| ()) })
    }

    /// A cached deploy is still good while its endpoint is InService with
    /// the configuration it recorded.
    fn outputs_alive<'a>(&'a self, kind: StepKind, outputs: &'a BTreeMap<String, PathBuf>) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            if kind != StepKind::Deploy {
                return true;
            }
            let Some(dir) = outputs.get("endpoint") else {
                return false;
            };
            let Ok(text) = tokio::fs::read_to_string(dir.join("endpoint.json")).await else {
                return false;
            };
            let Ok(record) = serde_json::from_str::<serde_json::Value>(&text) else {
                return false;
            };
            let (Some(name), Some(config)) = (record["name"].as_str(), record["config"].as_str()) else {
                return false;
            };
            let Ok(inner) = self.inner().await else {
                return false;
            };
            matches!(
                serving::describe_endpoint(&inner.sagemaker, name).await,
                Ok(Some(state)) if state.status == "InService" && state.config.as_deref() == Some(config)
            )
        })
    }

    /// A job of an abandoned run gets its Stop* call (without waiting for
    /// it to stop: the job is lost anyway). Endpoints and monitoring
    /// schedules are left: they are meant to outlive runs.
    fn abandon<'a>(&'a self, _run: &'a str, handle: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let kind = [
                ("training job ", StepKind::Train),
                ("hyperparameter tuning job ", StepKind::Tune),
                ("batch transform job ", StepKind::Transform),
                ("processing job ", StepKind::Step),
            ]
            .into_iter()
            .find_map(|(noun, kind)| handle.strip_prefix(noun).map(|name| (kind, name)));
            let (Some((kind, name)), Ok(inner)) = (kind, self.inner().await) else {
                return;
            };
            let _ = jobs::stop(&inner.sagemaker, kind, name).await;
        })
    }

    /// A resumed run re-attaches to the jobs of its earlier attempts that
    /// still run on SageMaker (`run_plan`), rather than stopping them.
    fn reattaches(&self) -> bool {
        true
    }

    fn submit(&self, attempt: Attempt, events: Arc<dyn EventSink>) -> BoxFuture<'_, Result<Box<dyn Handle>, String>> {
        Box::pin(async move {
            if attempt.kind == StepKind::Build {
                return Err(format!(
                    "`build` steps run on the local Docker engine; step `{}` cannot build on SageMaker",
                    attempt.step
                ));
            }
            let inner = self.inner().await?;
            let job = Arc::new(tokio::sync::Mutex::new(None::<(StepKind, String)>));
            let log = Log::open(&attempt, events).await?;
            let follow_logs = !self.settings.quiet_steps.contains(&attempt.step);
            let task = run_job(
                inner.clone(),
                self.polling,
                attempt.clone(),
                job.clone(),
                log,
                follow_logs,
            );
            let (polling, stopping) = (self.polling, job.clone());
            let on_cancel = Box::new(move || -> BoxFuture<'static, ()> {
                Box::pin(async move { stop_and_wait(&inner, polling, &stopping).await })
            });
            Ok(Box::new(TaskHandle::spawn(handle_id(&attempt), task, on_cancel)) as Box<dyn Handle>)
        })
    }
}

/// What the attempt's record calls its work, so `wharf show` links a step
/// to what it made on SageMaker: `training job NAME`, `endpoint NAME`, ...
fn handle_id(attempt: &Attempt) -> String {
    match (&attempt.kind, &attempt.spec) {
        (StepKind::Deploy, KindSpec::Deploy { endpoint, .. }) => format!(
            "endpoint {}",
            serving::endpoint_name(&attempt.pipeline, &attempt.step, endpoint.as_deref())
        ),
        (StepKind::Monitor, _) => format!(
            "monitoring schedule {}",
            monitor::schedule_name(&attempt.pipeline, &attempt.step)
        ),
        (kind, _) => format!("{} {}", job_noun(*kind), job_name_for(attempt, *kind, attempt.attempt)),
    }
}

/// A step's log: the attempt's log file and the live view.
#[derive(Clone)]
pub(crate) struct Log {
    file: Arc<tokio::sync::Mutex<tokio::fs::File>>,
    step: String,
    events: Arc<dyn EventSink>,
    /// The step's secret values, masked in every line (CloudWatch lines included).
    secrets: wharf_runtime::secrets::Masker,
}

impl Log {
    async fn open(attempt: &Attempt, events: Arc<dyn EventSink>) -> Result<Log, String> {
        if let Some(parent) = attempt.log_path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&attempt.log_path)
            .await
            .map_err(|e| format!("cannot open {}: {e}", attempt.log_path.display()))?;
        Ok(Log {
            file: Arc::new(tokio::sync::Mutex::new(file)),
            step: attempt.step.clone(),
            events,
            secrets: attempt.masker(),
        })
    }

    pub(crate) async fn line(&self, text: String) {
        let text = self.secrets.mask(&text).into_owned();
        let mut file = self.file.lock().await;
        let _ = file.write_all(format!("{text}\n").as_bytes()).await;
        let _ = file.flush().await;
        self.events.event(RunEvent::StepLog {
            step: self.step.clone(),
            line: text,
            stderr: false,
        });
    }
}

impl Log {
    /// A progress callback for a transfer: a line in the live view at most
    /// every two seconds while it runs (a quick transfer shows none; its
    /// summary line follows it).
    fn progress(&self, what: String) -> impl Fn(Progress) + Send + Sync + use<> {
        let events = self.events.clone();
        let step = self.step.clone();
        let started = std::time::Instant::now();
        let last = std::sync::Mutex::new(started);
        move |p: Progress| {
            let now = std::time::Instant::now();
            let Ok(mut last) = last.lock() else { return };
            if now.duration_since(*last) < Duration::from_secs(2) || p.done_bytes >= p.total_bytes {
                return;
            }
            *last = now;
            let percent = (p.done_bytes * 100).checked_div(p.total_bytes).unwrap_or(100);
            let rate = p.done_bytes as f64 / now.duration_since(started).as_secs_f64().max(0.001);
            events.event(RunEvent::StepLog {
                step: step.clone(),
                line: format!(
                    "wharf: {what}: {percent}% ({} of {}, {}/{} files, {}/s)",
                    sizes(p.done_bytes),
                    sizes(p.total_bytes),
                    p.done_files,
                    p.total_files,
                    sizes(rate as u64)
                ),
                stderr: false,
            });
        }
    }
}

fn sizes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// The whole life of one attempt's job.
async fn run_job(
    inner: Arc<Inner>,
    polling: Polling,
    attempt: Attempt,
    job: Arc<tokio::sync::Mutex<Option<(StepKind, String)>>>,
    log: Log,
    follow_logs: bool,
) -> Finish {
    match drive(&inner, polling, &attempt, &job, &log, follow_logs).await {
        Ok(finish) => finish,
        Err(reason) => Finish::Failed {
            exit_code: None,
            reason,
        },
    }
}

/// What one attempt's work on SageMaker shares: the backend's clients, the
/// poll schedule, the job a cancel stops, the step's log, and whether its
/// CloudWatch log is followed.
#[derive(Clone, Copy)]
struct Work<'a> {
    inner: &'a Inner,
    polling: Polling,
    job: &'a tokio::sync::Mutex<Option<(StepKind, String)>>,
    log: &'a Log,
    follow_logs: bool,
}

async fn drive(
    inner: &Inner,
    polling: Polling,
    attempt: &Attempt,
    job: &tokio::sync::Mutex<Option<(StepKind, String)>>,
    log: &Log,
    follow_logs: bool,
) -> Result<Finish, String> {
    let w = Work {
        inner,
        polling,
        job,
        log,
        follow_logs,
    };
    // An image on this machine goes to ECR first: the job names its ECR URI.
    let attempt = &inner.images.for_job(attempt, &|line| log.line(line)).await?;
    let uploaded = upload_inputs(inner, attempt, log).await?;
    match attempt.kind {
        StepKind::Deploy => return deploy(w, attempt, &uploaded).await,
        StepKind::Monitor => return monitor(w, attempt, &uploaded).await,
        _ => {}
    }
    let runs = inner.transfers.location().uri("wharf/runs");
    let plan = JobPlan::new(attempt, &uploaded, &runs, &inner.role)?;
    let (plan, following) = match run_plan(w, attempt, plan, &uploaded).await? {
        Ok(ran) => ran,
        Err(finish) => return Ok(finish),
    };
    // The log's last lines are read while the outputs come down.
    let drained = async {
        if let Some(following) = following {
            following.finish().await;
        }
    };
    let (collected, ()) = tokio::join!(collect(inner, attempt, &plan, log), drained);
    collected?;
    Ok(Finish::Succeeded)
}

/// Uploads the attempt's local inputs (content-addressed: unchanged data is
/// not sent again) and returns each as (name, S3 prefix, file name when the
/// input is one file). A model a `transform` or `deploy` step serves is
/// packed as the `model.tar.gz` SageMaker expects (a multi-model endpoint's
/// folder of archives goes as it is); a monitor's `endpoint` record is read
/// here, not uploaded.
async fn upload_inputs(
    inner: &Inner,
    attempt: &Attempt,
    log: &Log,
) -> Result<Vec<(String, String, Option<String>)>, String> {
    let multi_model = matches!(attempt.spec, KindSpec::Deploy { multi_model: true, .. });
    let mut uploaded = Vec::new();
    for (name, path) in &attempt.inputs {
        if attempt.kind == StepKind::Monitor && name == "endpoint" {
            continue;
        }
        let text = path.to_string_lossy();
        if let Some(rest) = text.strip_prefix("s3://") {
            // An archive named directly is a file input; anything else a prefix.
            let (prefix, file) = match rest.rsplit_once('/') {
                Some((dir, file)) if file.ends_with(".tar.gz") => (format!("s3://{dir}"), Some(file.to_string())),
                _ => (text.to_string(), None),
            };
            uploaded.push((name.clone(), prefix, file));
            continue;
        }
        // The output of an earlier SageMaker job of this run: read where the
        // job wrote it rather than uploaded again.
        let origin = inner.origin(path).map(|o| (o, None)).or_else(|| {
            let parent = path.parent()?;
            match inner.origin(parent)? {
                Origin::Prefix(p) => Some((
                    Origin::Prefix(p),
                    path.file_name().map(|f| f.to_string_lossy().into_owned()),
                )),
                Origin::Archive(_) => None,
            }
        });
        let served = name == "model" && !multi_model && matches!(attempt.kind, StepKind::Transform | StepKind::Deploy);
        match origin {
            Some((Origin::Archive(uri), _)) if served => {
                log.line(format!("wharf: model `{name}` is the job's {uri}")).await;
                let (prefix, file) = uri.rsplit_once('/').unwrap_or((uri.as_str(), "model.tar.gz"));
                uploaded.push((name.clone(), format!("{prefix}/"), Some(file.to_string())));
                continue;
            }
            Some((Origin::Prefix(prefix), file)) if !served => {
                log.line(format!("wharf: input `{name}` is the job output at {prefix}"))
                    .await;
                uploaded.push((name.clone(), prefix, file));
                continue;
            }
            _ => {}
        }
        let packs_model = served && path.is_dir();
        if packs_model {
            let uri = inner
                .transfers
                .upload_model(path, &log.progress(format!("packing and uploading model `{name}`")))
                .await?;
            log.line(format!("wharf: model `{name}` is at {uri}")).await;
            let (prefix, file) = uri.rsplit_once('/').unwrap_or((uri.as_str(), "model.tar.gz"));
            uploaded.push((name.clone(), prefix.to_string(), Some(file.to_string())));
            continue;
        }
        let up = inner
            .transfers
            .upload(path, &log.progress(format!("uploading input `{name}`")))
            .await?;
        let file = path
            .is_file()
            .then(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .flatten();
        log.line(if up.skipped {
            format!("wharf: input `{name}` is already at {} ({})", up.uri, sizes(up.bytes))
        } else {
            format!(
                "wharf: uploaded input `{name}` to {} ({} files, {})",
                up.uri,
                up.uploaded_files,
                sizes(up.uploaded_bytes)
            )
        })
        .await;
        // The prefix keeps its trailing `/`: without it, S3Prefix would also
        // match the `<hash>.complete` marker beside the folder.
        uploaded.push((name.clone(), up.uri, file));
    }
    Ok(uploaded)
}

/// What SageMaker calls a kind's job, for people.
fn job_noun(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Train => "training job",
        StepKind::Tune => "hyperparameter tuning job",
        StepKind::Transform => "batch transform job",
        _ => "processing job",
    }
}

/// Creates the plan's job (or re-attaches to one of this run and step that
/// is still running) and waits for it to end. `Ok(Err(finish))` is a job
/// that ended otherwise than Completed.
async fn run_plan(
    w: Work<'_>,
    attempt: &Attempt,
    mut plan: JobPlan,
    uploaded: &[(String, String, Option<String>)],
) -> Result<Result<(JobPlan, Option<crate::logs::Following>), Finish>, String> {
    let Work {
        inner,
        polling,
        job,
        log,
        follow_logs,
    } = w;
    let kind = plan.kind;
    // A job of this run and step that is still running (a resumed run
    // after wharf was killed) is taken over, not started twice. Only a later
    // attempt can find one: a first attempt goes straight to Create, which
    // saves two round trips per step of a fresh run.
    let reattach = if attempt.attempt > 1 && plan.name == job_name_for(attempt, kind, attempt.attempt) {
        running_job_of(inner, attempt, kind).await
    } else {
        None
    };
    if let Some((name, number)) = reattach {
        let mut earlier = attempt.clone();
        earlier.attempt = number;
        let runs = inner.transfers.location().uri("wharf/runs");
        let again = JobPlan::new(&earlier, uploaded, &runs, &inner.role)?;
        plan.output_path = again.output_path;
        plan.outputs = again.outputs;
        plan.name = name;
        log.line(format!(
            "wharf: re-attached to SageMaker job {}, still running",
            plan.name
        ))
        .await;
    } else {
        match plan.create(&inner.sagemaker).await {
            Ok(()) => {
                log.line(format!(
                    "wharf: created SageMaker {} {} on {}",
                    job_noun(kind),
                    plan.name,
                    plan.instance
                ))
                .await
            }
            // This very job exists already (its name is the attempt's): follow it.
            Err(e)
                if ["already exist", "ResourceInUse", "must be unique"]
                    .iter()
                    .any(|m| e.contains(m)) =>
            {
                match jobs::describe(&inner.sagemaker, kind, &plan.name).await {
                    Ok(JobState::Missing) | Err(_) => return Err(e),
                    Ok(_) => {
                        log.line(format!("wharf: re-attached to SageMaker job {}", plan.name))
                            .await
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    *job.lock().await = Some((kind, plan.name.clone()));
    let following = follow_logs
        .then(|| inner.logs.follow(kind, &plan.name, log.clone()))
        .flatten();
    let state = wait_for_end(inner, polling, kind, &plan.name, &attempt.run, log).await?;
    *job.lock().await = None;
    if state != JobState::Completed
        && let Some(following) = following
    {
        following.finish().await;
        return Ok(Err(finish_of(&plan.name, state)?));
    }
    Ok(match state {
        JobState::Completed => Ok((plan, following)),
        other => Err(finish_of(&plan.name, other)?),
    })
}

/// How a job that ended otherwise than Completed ends its step.
fn finish_of(name: &str, state: JobState) -> Result<Finish, String> {
    match state {
        JobState::Failed(reason) => Ok(Finish::Failed {
            exit_code: None,
            reason,
        }),
        JobState::Stopped => Ok(Finish::Failed {
            exit_code: None,
            reason: format!("SageMaker job {name} was stopped outside wharf"),
        }),
        other => Err(format!("internal: job {name} ended as {other:?}")),
    }
}

/// The name attempt `number` of this step's job has.
fn job_name_for(attempt: &Attempt, kind: StepKind, number: u32) -> String {
    match kind {
        StepKind::Tune => jobs::tuning_job_name(&attempt.pipeline, &attempt.step, &attempt.run, number),
        _ => wharf_runtime::backend::contract::job_name(&attempt.pipeline, &attempt.step, &attempt.run, number),
    }
}

/// A running job of this run and step from another attempt, with its attempt number.
async fn running_job_of(inner: &Inner, attempt: &Attempt, kind: StepKind) -> Option<(String, u32)> {
    let prefix = job_name_for(attempt, kind, 0);
    let prefix = prefix.strip_suffix("-0")?.to_string();
    let c = &inner.sagemaker;
    let names: Vec<String> = match kind {
        StepKind::Train => c
            .list_training_jobs()
            .name_contains(&prefix)
            .status_equals(sm::TrainingJobStatus::InProgress)
            .send()
            .await
            .ok()?
            .training_job_summaries()
            .iter()
            .filter_map(|s| s.training_job_name().map(str::to_string))
            .collect(),
        StepKind::Tune => c
            .list_hyper_parameter_tuning_jobs()
            .name_contains(&prefix)
            .status_equals(sm::HyperParameterTuningJobStatus::InProgress)
            .send()
            .await
            .ok()?
            .hyper_parameter_tuning_job_summaries()
            .iter()
            .filter_map(|s| s.hyper_parameter_tuning_job_name().map(str::to_string))
            .collect(),
        StepKind::Transform => c
            .list_transform_jobs()
            .name_contains(&prefix)
            .status_equals(sm::TransformJobStatus::InProgress)
            .send()
            .await
            .ok()?
            .transform_job_summaries()
            .iter()
            .filter_map(|s| s.transform_job_name().map(str::to_string))
            .collect(),
        _ => c
            .list_processing_jobs()
            .name_contains(&prefix)
            .status_equals(sm::ProcessingJobStatus::InProgress)
            .send()
            .await
            .ok()?
            .processing_job_summaries()
            .iter()
            .filter_map(|s| s.processing_job_name().map(str::to_string))
            .collect(),
    };
    names.into_iter().find_map(|name| {
        let number = name.strip_prefix(&format!("{prefix}-"))?.parse::<u32>().ok()?;
        (number != attempt.attempt).then_some((name, number))
    })
}

/// `deploy`: the Model and an EndpointConfig for this attempt, then the
/// endpoint created, or updated in place to the new configuration, and
/// waited for until InService. `endpoint.json` records it.
async fn deploy(
    w: Work<'_>,
    attempt: &Attempt,
    uploaded: &[(String, String, Option<String>)],
) -> Result<Finish, String> {
    let Work {
        inner,
        polling,
        job,
        log,
        ..
    } = w;
    let KindSpec::Deploy {
        endpoint,
        multi_model,
        data_capture,
        ..
    } = &attempt.spec
    else {
        return Err("internal: a deploy step without a deploy spec".into());
    };
    let image = attempt
        .image
        .clone()
        .ok_or_else(|| format!("step `{}` has no image to serve with", attempt.step))?;
    let (_, prefix, file) = uploaded
        .iter()
        .find(|(n, _, _)| n == "model")
        .ok_or_else(|| "a deploy step needs its `model` input".to_string())?;
    let prefix = prefix.trim_end_matches('/');
    let model_data = match (file, multi_model) {
        (_, true) => format!("{prefix}/"),
        (Some(f), false) => format!("{prefix}/{f}"),
        (None, false) => {
            return Err(format!(
                "the model {prefix} is a prefix; a single-model endpoint serves one model.tar.gz"
            ));
        }
    };
    let name = serving::endpoint_name(&attempt.pipeline, &attempt.step, endpoint.as_deref());
    let resource =
        wharf_runtime::backend::contract::job_name(&attempt.pipeline, &attempt.step, &attempt.run, attempt.attempt);
    let runs = inner.transfers.location().uri("wharf/runs");
    let tags = JobPlan::new(attempt, uploaded, &runs, &inner.role)?.tags();
    let environment = serving::serving_environment(&attempt.env);
    serving::create_model(
        &inner.sagemaker,
        &resource,
        &image,
        &model_data,
        *multi_model,
        &environment,
        &inner.role,
        tags.clone(),
    )
    .await?;
    let capture = data_capture.then(|| inner.transfers.location().uri(&format!("wharf/capture/{name}")));
    serving::create_endpoint_config(
        &inner.sagemaker,
        &resource,
        &attempt.instance,
        capture.as_deref(),
        tags.clone(),
    )
    .await?;
    let current = ask(polling, || serving::describe_endpoint(&inner.sagemaker, &name)).await?;
    let client = &inner.sagemaker;
    match &current {
        Some(state) if state.config.as_deref() == Some(resource.as_str()) => {
            log.line(format!("wharf: endpoint {name} already runs configuration {resource}"))
                .await;
        }
        Some(state) if state.status == "Failed" => {
            log.line(format!(
                "wharf: endpoint {name} had failed; deleting it and creating it again"
            ))
            .await;
            client
                .delete_endpoint()
                .endpoint_name(&name)
                .send()
                .await
                .map_err(|e| format!("cannot delete failed endpoint {name}: {}", jobs::classify(&e).1))?;
            wait_endpoint_gone(inner, polling, &name).await?;
            create_endpoint(inner, &name, &resource, tags).await?;
            *job.lock().await = Some((StepKind::Deploy, name.clone()));
            log.line(format!("wharf: created endpoint {name} ({resource})")).await;
        }
        Some(_) => {
            // An endpoint only takes an update once it is InService.
            wait_endpoint(inner, polling, &name, log).await?;
            client
                .update_endpoint()
                .endpoint_name(&name)
                .endpoint_config_name(&resource)
                .send()
                .await
                .map_err(|e| format!("cannot update endpoint {name}: {}", jobs::classify(&e).1))?;
            log.line(format!("wharf: updating endpoint {name} to configuration {resource}"))
                .await;
        }
        None => {
            create_endpoint(inner, &name, &resource, tags).await?;
            *job.lock().await = Some((StepKind::Deploy, name.clone()));
            log.line(format!(
                "wharf: created endpoint {name} ({resource}) on {}",
                attempt.instance
            ))
            .await;
        }
    }
    let state = match wait_endpoint(inner, polling, &name, log).await {
        Ok(state) => state,
        Err(reason) => {
            return Ok(Finish::Failed {
                exit_code: None,
                reason,
            });
        }
    };
    *job.lock().await = None;
    let region = inner.region.clone();
    let record = json!({
        "name": name,
        "backend": "sagemaker",
        "arn": state.arn,
        "region": region,
        "config": resource,
        "model": resource,
        "model_data": model_data,
        "image": image,
        "multi_model": multi_model,
        "data_capture": capture,
        "invocations": format!("https://runtime.sagemaker.{region}.amazonaws.com/endpoints/{name}/invocations"),
    });
    write_json(&attempt.output_dir("endpoint"), "endpoint.json", &record).await?;
    Ok(Finish::Succeeded)
}

async fn create_endpoint(inner: &Inner, name: &str, config: &str, tags: Vec<sm::Tag>) -> Result<(), String> {
    inner
        .sagemaker
        .create_endpoint()
        .endpoint_name(name)
        .endpoint_config_name(config)
        .set_tags(Some(tags))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot create endpoint {name}: {}", jobs::classify(&e).1))
}

/// Waits until the endpoint is InService; `Err` with its FailureReason when it failed.
async fn wait_endpoint(
    inner: &Inner,
    polling: Polling,
    name: &str,
    log: &Log,
) -> Result<serving::EndpointState, String> {
    let salt = salt_of(name);
    let mut last = String::new();
    for n in 0.. {
        let state = ask(polling, || serving::describe_endpoint(&inner.sagemaker, name))
            .await?
            .ok_or_else(|| format!("endpoint {name} has disappeared"))?;
        if state.status != last {
            log.line(format!("wharf: endpoint {name} is {}", state.status)).await;
            last = state.status.clone();
        }
        match state.status.as_str() {
            "InService" => return Ok(state),
            "Failed" | "OutOfService" | "Deleting" => {
                return Err(format!(
                    "endpoint {name} is {}: {}",
                    state.status,
                    state.failure.as_deref().unwrap_or("SageMaker gave no reason")
                ));
            }
            _ => tokio::time::sleep(polling.delay(n, salt)).await,
        }
    }
    unreachable!("the loop above only ends by returning")
}

async fn wait_endpoint_gone(inner: &Inner, polling: Polling, name: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(900);
    let mut n = 0;
    while tokio::time::Instant::now() < deadline {
        if ask(polling, || serving::describe_endpoint(&inner.sagemaker, name))
            .await?
            .is_none()
        {
            return Ok(());
        }
        tokio::time::sleep(polling.delay(n, 3)).await;
        n += 1;
    }
    Err(format!("endpoint {name} is still being deleted after 15 minutes"))
}

/// `monitor`: the baseline job, its statistics and constraints fetched as
/// the step's outputs, then the schedule against the deployed endpoint.
async fn monitor(
    w: Work<'_>,
    attempt: &Attempt,
    uploaded: &[(String, String, Option<String>)],
) -> Result<Finish, String> {
    let Work {
        inner, polling, log, ..
    } = w;
    let KindSpec::Monitor { schedule, .. } = &attempt.spec else {
        return Err("internal: a monitor step without a monitor spec".into());
    };
    let record_path = attempt
        .inputs
        .iter()
        .find(|(n, _)| n == "endpoint")
        .map(|(_, p)| p.clone())
        .ok_or_else(|| "internal: a monitor step without its endpoint's record".to_string())?;
    let record: serde_json::Value = serde_json::from_str(
        &tokio::fs::read_to_string(&record_path)
            .await
            .map_err(|e| format!("cannot read {}: {e}", record_path.display()))?,
    )
    .map_err(|e| format!("{} is not JSON: {e}", record_path.display()))?;
    if record["backend"] != "sagemaker" {
        return Err(format!(
            "the endpoint it monitors runs on {}; a monitoring schedule watches a SageMaker endpoint, so place its deploy step on SageMaker too",
            record["backend"].as_str().unwrap_or("another backend")
        ));
    }
    let endpoint = record["name"]
        .as_str()
        .ok_or_else(|| format!("{} names no endpoint", record_path.display()))?
        .to_string();
    let image = match &attempt.image {
        Some(image) => image.clone(),
        None => monitor::analyzer_image(&inner.region).ok_or_else(|| {
            format!(
                "SageMaker Model Monitor has no analyzer image wharf knows of in {}; give the step `image = \"...\"`",
                inner.region
            )
        })?,
    };
    let mut base = attempt.clone();
    base.kind = StepKind::Step;
    base.outputs = vec![];
    base.image = Some(image.clone());
    let runs = inner.transfers.location().uri("wharf/runs");
    let plan = monitor::baseline_plan(JobPlan::new(&base, uploaded, &runs, &inner.role)?, image)?;
    let (plan, following) = match run_plan(w, &base, plan, uploaded).await? {
        Ok(ran) => ran,
        Err(finish) => return Ok(finish),
    };
    if let Some(following) = following {
        following.finish().await;
    }
    let baseline_uri = plan.outputs[0].1.clone();
    for output in ["statistics", "constraints"] {
        let from = format!("{baseline_uri}/{output}.json");
        let dir = attempt.output_dir(output);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        inner
            .transfers
            .download_prefix(&from, &dir, &log.progress(format!("downloading {output}.json")))
            .await
            .map_err(|e| format!("the baseline job wrote no {output}.json ({from}): {e}"))?;
        if !dir.join(format!("{output}.json")).is_file() {
            return Err(format!("the baseline job wrote no {output}.json at {from}"));
        }
    }
    log.line(format!(
        "wharf: baseline statistics and constraints are at {baseline_uri}"
    ))
    .await;
    let name = monitor::schedule_name(&attempt.pipeline, &attempt.step);
    let reports = inner.transfers.location().uri(&format!("wharf/monitoring/{endpoint}"));
    let created = monitor::put_schedule(&inner.sagemaker, &plan, &name, &endpoint, schedule, &reports).await?;
    log.line(format!(
        "wharf: {} monitoring schedule {name} ({schedule}) on endpoint {endpoint}; reports go to {reports}",
        if created { "created" } else { "updated" }
    ))
    .await;
    let salt = salt_of(&name);
    for n in 0..60 {
        let (status, failure) = ask(polling, || monitor::schedule_status(&inner.sagemaker, &name)).await?;
        match status.as_str() {
            "Scheduled" => return Ok(Finish::Succeeded),
            "Failed" => {
                return Ok(Finish::Failed {
                    exit_code: None,
                    reason: format!(
                        "monitoring schedule {name} failed: {}",
                        failure.as_deref().unwrap_or("SageMaker gave no reason")
                    ),
                });
            }
            _ => tokio::time::sleep(polling.delay(n, salt)).await,
        }
    }
    Err(format!("monitoring schedule {name} did not become Scheduled"))
}

/// Asks SageMaker, waiting out throttling and retrying other errors a few times.
async fn ask<T, F, Fut>(polling: Polling, mut call: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, (bool, String)>>,
{
    let mut failures = 0;
    for n in 0.. {
        match call().await {
            Ok(v) => return Ok(v),
            Err((true, _)) => tokio::time::sleep(polling.throttled(n, 5)).await,
            Err((false, e)) => {
                failures += 1;
                if failures >= 5 {
                    return Err(e);
                }
                tokio::time::sleep(polling.delay(failures, 5)).await;
            }
        }
    }
    unreachable!("the loop above only ends by returning")
}

async fn write_json(dir: &std::path::Path, file: &str, value: &serde_json::Value) -> Result<(), String> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(file);
    tokio::fs::write(&path, format!("{value:#}\n"))
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn salt_of(name: &str) -> u64 {
    u64::from_le_bytes(
        blake3::hash(name.as_bytes()).as_bytes()[..8]
            .try_into()
            .unwrap_or([0; 8]),
    )
}

/// Waits until the job ends: described when the backend's watcher sees it
/// end (or, unwatched, on the poll's backoff). Throttling backs off and is
/// never a failure; other errors are retried a few times.
async fn wait_for_end(
    inner: &Inner,
    polling: Polling,
    kind: StepKind,
    name: &str,
    run: &str,
    log: &Log,
) -> Result<JobState, String> {
    let salt = salt_of(name);
    let mut n = 0;
    let mut failures = 0;
    let mut last = None;
    let mut wake = inner.watcher.subscribe(kind, name, run);
    loop {
        match wake.wait(polling.delay(n, salt), polling.max * 10).await {
            // Seen running or stopping in a List: nothing to describe yet.
            Wake::Seen(state) if !watch::has_ended(&state) => {
                if last.as_ref() != Some(&state) {
                    log.line(format!("wharf: job {name} is {}", label(&state))).await;
                    last = Some(state);
                }
                continue;
            }
            other => watch::note(log, name, &other).await,
        }
        n += 1;
        match jobs::describe(&inner.sagemaker, kind, name).await {
            Ok(JobState::Missing) => return Err(format!("SageMaker job {name} has disappeared")),
            Ok(state) => {
                failures = 0;
                if last.as_ref() != Some(&state) {
                    log.line(format!("wharf: job {name} is {}", label(&state))).await;
                    last = Some(state.clone());
                }
                if matches!(state, JobState::Completed | JobState::Failed(_) | JobState::Stopped) {
                    return Ok(state);
                }
            }
            Err((true, _)) => tokio::time::sleep(polling.throttled(n, salt)).await,
            Err((false, e)) => {
                failures += 1;
                if failures >= 5 {
                    return Err(format!("cannot follow SageMaker job {name}: {e}"));
                }
            }
        }
    }
}

fn label(state: &JobState) -> &'static str {
    match state {
        JobState::Running => "in progress",
        JobState::Stopping => "stopping",
        JobState::Completed => "completed",
        JobState::Failed(_) => "failed",
        JobState::Stopped => "stopped",
        JobState::Missing => "missing",
    }
}

/// Downloads a finished job's outputs into the attempt's output folders.
async fn collect(inner: &Inner, attempt: &Attempt, plan: &JobPlan, log: &Log) -> Result<(), String> {
    let t = &inner.transfers;
    if plan.kind == StepKind::Tune {
        let (best, record) = tuning::best_training_job(&inner.sagemaker, plan).await?;
        let uri = plan.best_model_uri(&best);
        let got = t
            .download_and_unpack(
                &uri,
                &attempt.output_dir("model"),
                &log.progress("downloading the best model".into()),
            )
            .await
            .map_err(|e| format!("cannot fetch the model of the best training job {best}: {e}"))?;
        log.line(format!(
            "wharf: best training job {best} ({}); downloaded {uri} ({})",
            record["objective"],
            sizes(got.bytes)
        ))
        .await;
        inner.remember(attempt.output_dir("model"), Origin::Archive(uri));
        return write_json(&attempt.output_dir("best"), "best.json", &record).await;
    }
    if plan.kind == StepKind::Train {
        let model = attempt.output_dir("model");
        let got = t
            .download_and_unpack(&plan.model_uri(), &model, &log.progress("downloading the model".into()))
            .await
            .map_err(|e| format!("cannot fetch the model the job wrote: {e}"))?;
        log.line(format!("wharf: downloaded {} ({})", plan.model_uri(), sizes(got.bytes)))
            .await;
        inner.remember(model.clone(), Origin::Archive(plan.model_uri()));
        let data = attempt.output_dir("output");
        if t.exists(&plan.output_uri()).await.unwrap_or(false) {
            t.download_and_unpack(
                &plan.output_uri(),
                &data,
                &log.progress("downloading the output data".into()),
            )
            .await?;
        } else {
            tokio::fs::create_dir_all(&data).await.map_err(|e| e.to_string())?;
        }
        // Other outputs of a train step are folders in its output data.
        for name in attempt.outputs.iter().filter(|n| *n != "model" && *n != "output") {
            let from = data.join(name);
            let to = attempt.output_dir(name);
            if from.is_dir() {
                let (f, d) = (from.clone(), to.clone());
                tokio::task::spawn_blocking(move || wharf_runtime::export::replace_with_copy(&f, &d))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("cannot collect output `{name}`: {e}"))?;
            }
        }
    } else {
        for (name, uri, _) in &plan.outputs {
            let got = t
                .download_prefix(
                    &format!("{uri}/"),
                    &attempt.output_dir(name),
                    &log.progress(format!("downloading output `{name}`")),
                )
                .await?;
            log.line(format!(
                "wharf: downloaded output `{name}` ({} files, {})",
                got.files,
                sizes(got.bytes)
            ))
            .await;
            inner.remember(attempt.output_dir(name), Origin::Prefix(format!("{uri}/")));
        }
    }
    Ok(())
}

/// Cancel and timeout: Stop* (throttling waited out), then wait (up to ten
/// minutes) until the job has stopped.
async fn stop_and_wait(inner: &Inner, polling: Polling, job: &tokio::sync::Mutex<Option<(StepKind, String)>>) {
    let Some((kind, name)) = job.lock().await.clone() else {
        return;
    };
    let client = &inner.sagemaker;
    if kind == StepKind::Deploy {
        // An endpoint this attempt created and did not see into service:
        // deleted, so nothing half-made keeps running (and costing).
        let _ = client.delete_endpoint().endpoint_name(&name).send().await;
        let _ = wait_endpoint_gone(inner, polling, &name).await;
        return;
    }
    for n in 0..10 {
        match jobs::stop(client, kind, &name).await {
            Err((true, _)) => tokio::time::sleep(polling.throttled(n, 1)).await,
            _ => break,
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    let mut n = 0;
    while tokio::time::Instant::now() < deadline {
        match jobs::describe(client, kind, &name).await {
            Ok(JobState::Running | JobState::Stopping) | Err(_) => {}
            Ok(_) => break,
        }
        tokio::time::sleep(polling.delay(n, 2)).await;
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_runtime::events::CollectingSink;

    /// A step log writing to `dir/log`, its events collected.
    async fn test_log(dir: &std::path::Path, secrets: wharf_runtime::secrets::Masker) -> (Log, Arc<CollectingSink>) {
        let sink = Arc::new(CollectingSink::default());
        let file = tokio::fs::File::create(dir.join("log")).await.unwrap();
        let log = Log {
            file: Arc::new(tokio::sync::Mutex::new(file)),
            step: "fit".into(),
            events: sink.clone(),
            secrets,
        };
        (log, sink)
    }

    #[tokio::test]
    async fn transfer_progress_is_shown_at_most_every_two_seconds_and_not_when_done() {
        let dir = tempfile::tempdir().unwrap();
        let (log, sink) = test_log(dir.path(), Default::default()).await;
        let report = log.progress("uploading input `train`".into());
        let at = |done: u64| Progress {
            done_bytes: done,
            total_bytes: 4 << 20,
            done_files: 1,
            total_files: 4,
        };
        report(at(1 << 20));
        assert!(sink.take().is_empty(), "nothing in the first two seconds");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        report(at(2 << 20));
        report(at(3 << 20));
        let lines: Vec<String> = sink
            .take()
            .into_iter()
            .filter_map(|e| match e {
                RunEvent::StepLog { line, .. } => Some(line),
                _ => None,
            })
            .collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("wharf: uploading input `train`: 50% (2.0 MiB of 4.0 MiB, 1/4 files, "),
            "{lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(2100)).await;
        report(at(4 << 20));
        assert!(sink.take().is_empty(), "a finished transfer has its own summary line");
    }

    #[tokio::test]
    async fn a_secret_in_a_job_log_line_is_masked_in_the_file_and_the_live_view() {
        let dir = tempfile::tempdir().unwrap();
        let (log, sink) = test_log(dir.path(), wharf_runtime::secrets::Masker::new(["hunter2-xyz"])).await;
        log.line("token=hunter2-xyz".into()).await;
        let written = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert_eq!(written, "token=***\n");
        let shown: Vec<String> = sink
            .take()
            .into_iter()
            .filter_map(|e| match e {
                RunEvent::StepLog { line, .. } => Some(line),
                _ => None,
            })
            .collect();
        assert_eq!(shown, ["token=***"]);
    }
}
