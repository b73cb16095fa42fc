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
//!
//! This file holds the `Backend` implementation; the rest of the folder
//! holds an attempt's course (`attempt.rs`): the session with AWS
//! (`session.rs`), input upload (`inputs.rs`), the job created or
//! re-attached (`job.rs`), waited for and stopped (`wait.rs`), `deploy`
//! and `monitor` steps (`deploy.rs`, `monitoring.rs`), and the outputs
//! downloaded (`outputs.rs`).

mod attempt;
mod deploy;
mod inputs;
mod job;
mod monitoring;
mod outputs;
mod session;
mod wait;

pub use session::Settings;

use crate::jobs;
use crate::poll::Polling;
use crate::step_log::Log;
use crate::{monitor, serving};
use attempt::run_job;
use job::{job_name_for, job_noun};
use session::Inner;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::OnceCell;
use wait::stop_and_wait;
use wharf_compiler::pipeline::KindSpec;
use wharf_compiler::types::StepKind;
use wharf_runtime::backend::task::TaskHandle;
use wharf_runtime::backend::{Attempt, Backend, BoxFuture, Handle};
use wharf_runtime::events::EventSink;

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

    /// The session with AWS, opened on first use ([`Inner::connect`]).
    async fn inner(&self) -> Result<Arc<Inner>, String> {
        self.inner
            .get_or_try_init(|| Inner::connect(&self.settings))
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

/// The file beside an attempt's log that names its SageMaker job, for
/// `wharf run --format json`: `{"type": "training-job", "name": ...,
/// "arn": ...}` (`arn` is null for a job re-attached to, whose Create
/// response this run never saw).
pub const JOB_RECORD: &str = "sagemaker-job.json";

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
