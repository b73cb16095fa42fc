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

use crate::jobs::{self, JobPlan, JobState};
use crate::logs::LogReader;
use crate::poll::Polling;
use crate::s3::{S3Location, Transfers, no_progress};
use crate::watch::{self, SagemakerLister, Wake, Watcher};
use aws_config::BehaviorVersion;
use aws_sdk_sagemaker::Client;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::OnceCell;
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
    role: String,
    logs: Arc<LogReader>,
    watcher: Arc<Watcher>,
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
                let bucket = self.settings.bucket.clone().ok_or_else(|| {
                    "the target names no bucket: set `bucket = \"s3://BUCKET/PREFIX\"` (wharf keeps inputs and job outputs there)"
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
                if sdk.region().is_none() {
                    return Err("no AWS region: set `region = \"...\"` on the target, or AWS_REGION".to_string());
                }
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
                let transfers = Transfers::new(&sdk, S3Location::parse(&bucket)?)?;
                transfers.check_bucket().await?;
                let sagemaker = Client::new(&sdk);
                Ok(Arc::new(Inner {
                    watcher: Watcher::new(
                        Arc::new(SagemakerLister(sagemaker.clone())),
                        Watcher::interval_from_env(),
                    ),
                    sagemaker,
                    transfers,
                    role,
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

    fn submit(&self, attempt: Attempt, events: Arc<dyn EventSink>) -> BoxFuture<'_, Result<Box<dyn Handle>, String>> {
        Box::pin(async move {
            if !matches!(attempt.kind, StepKind::Step | StepKind::Train) {
                return Err(format!(
                    "`{}` steps do not run on the sagemaker backend yet; place step `{}` on docker",
                    attempt.kind, attempt.step
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
            Ok(Box::new(TaskHandle::spawn(
                format!("sagemaker {} {}", attempt.step, attempt.attempt),
                task,
                on_cancel,
            )) as Box<dyn Handle>)
        })
    }
}

/// A step's log: the attempt's log file and the live view.
#[derive(Clone)]
pub(crate) struct Log {
    file: Arc<tokio::sync::Mutex<tokio::fs::File>>,
    step: String,
    events: Arc<dyn EventSink>,
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
        })
    }

    pub(crate) async fn line(&self, text: String) {
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

async fn drive(
    inner: &Inner,
    polling: Polling,
    attempt: &Attempt,
    job: &tokio::sync::Mutex<Option<(StepKind, String)>>,
    log: &Log,
    follow_logs: bool,
) -> Result<Finish, String> {
    let mut uploaded = Vec::new();
    for (name, path) in &attempt.inputs {
        let text = path.to_string_lossy();
        if text.starts_with("s3://") {
            uploaded.push((name.clone(), text.into_owned(), None));
            continue;
        }
        let up = inner.transfers.upload(path, &no_progress).await?;
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
        uploaded.push((name.clone(), up.uri, file));
    }
    let runs = inner.transfers.location().uri("wharf/runs");
    let mut plan = JobPlan::new(attempt, &uploaded, &runs, &inner.role)?;
    // A job of this run and step that is still running (a resumed run
    // after wharf was killed) is taken over, not started twice.
    let kind = attempt.kind;
    if let Some((name, number)) = running_job_of(inner, attempt).await {
        let mut earlier = attempt.clone();
        earlier.attempt = number;
        plan = JobPlan::new(&earlier, &uploaded, &runs, &inner.role)?;
        plan.name = name;
        log.line(format!(
            "wharf: re-attached to SageMaker job {}, still running",
            plan.name
        ))
        .await;
    } else {
        match jobs::describe(&inner.sagemaker, kind, &plan.name).await {
            Ok(JobState::Missing) | Err(_) => {
                plan.create(&inner.sagemaker).await?;
                log.line(format!(
                    "wharf: created SageMaker {} job {} on {}",
                    if kind == StepKind::Train {
                        "training"
                    } else {
                        "processing"
                    },
                    plan.name,
                    plan.instance
                ))
                .await;
            }
            Ok(_) => {
                log.line(format!("wharf: re-attached to SageMaker job {}", plan.name))
                    .await
            }
        }
    }
    *job.lock().await = Some((kind, plan.name.clone()));
    let following = follow_logs
        .then(|| inner.logs.follow(kind, &plan.name, log.clone()))
        .flatten();
    let state = wait_for_end(inner, polling, kind, &plan.name, &attempt.run, log).await?;
    // The log's last lines are read while the outputs come down.
    let drained = async {
        if let Some(following) = following {
            following.finish().await;
        }
    };
    let state = match state {
        JobState::Completed => {
            let (collected, ()) = tokio::join!(collect(inner, attempt, &plan, log), drained);
            collected?;
            state
        }
        other => {
            drained.await;
            other
        }
    };
    match state {
        JobState::Completed => Ok(Finish::Succeeded),
        JobState::Failed(reason) => Ok(Finish::Failed {
            exit_code: None,
            reason,
        }),
        JobState::Stopped => Ok(Finish::Failed {
            exit_code: None,
            reason: format!("SageMaker job {} was stopped outside wharf", plan.name),
        }),
        other => Err(format!("internal: job ended as {other:?}")),
    }
}

/// A running job of this run and step from another attempt, with its attempt number.
async fn running_job_of(inner: &Inner, attempt: &Attempt) -> Option<(String, u32)> {
    let prefix = wharf_runtime::backend::contract::job_name(&attempt.pipeline, &attempt.step, &attempt.run, 0);
    let prefix = prefix.strip_suffix("-0")?.to_string();
    let names: Vec<String> = match attempt.kind {
        StepKind::Train => inner
            .sagemaker
            .list_training_jobs()
            .name_contains(&prefix)
            .status_equals(aws_sdk_sagemaker::types::TrainingJobStatus::InProgress)
            .send()
            .await
            .ok()?
            .training_job_summaries()
            .iter()
            .filter_map(|s| s.training_job_name().map(str::to_string))
            .collect(),
        _ => inner
            .sagemaker
            .list_processing_jobs()
            .name_contains(&prefix)
            .status_equals(aws_sdk_sagemaker::types::ProcessingJobStatus::InProgress)
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
    let salt = u64::from_le_bytes(
        blake3::hash(name.as_bytes()).as_bytes()[..8]
            .try_into()
            .unwrap_or([0; 8]),
    );
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
    if plan.kind == StepKind::Train {
        let model = attempt.output_dir("model");
        let got = t
            .download_and_unpack(&plan.model_uri(), &model, &no_progress)
            .await
            .map_err(|e| format!("cannot fetch the model the job wrote: {e}"))?;
        log.line(format!("wharf: downloaded {} ({})", plan.model_uri(), sizes(got.bytes)))
            .await;
        let data = attempt.output_dir("output");
        if t.exists(&plan.output_uri()).await.unwrap_or(false) {
            t.download_and_unpack(&plan.output_uri(), &data, &no_progress).await?;
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
                .download_prefix(&format!("{uri}/"), &attempt.output_dir(name), &no_progress)
                .await?;
            log.line(format!(
                "wharf: downloaded output `{name}` ({} files, {})",
                got.files,
                sizes(got.bytes)
            ))
            .await;
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
