//! Backends: where a step's attempt runs. A backend is a handle factory:
//! [`Backend::submit`] starts one attempt and returns a [`Handle`] to wait
//! for it or cancel it. The scheduler sees only these traits and never
//! asks which backend it has (Nextflow's executor / task-handler split).
//!
//! The scheduler decides where each attempt's inputs and outputs live on
//! this machine ([`Attempt::inputs`], [`Attempt::output_dir`]); a backend
//! makes them visible to the step in its own way (host paths for the process
//! backend, bind mounts for Docker, S3 for SageMaker) and leaves the outputs
//! in those folders when the attempt ends.

pub mod contract;
pub mod descriptor;
pub mod docker;
pub(crate) mod lines;
pub(crate) mod logs;
pub mod process;
pub(crate) mod staging;
pub mod task;

use crate::events::EventSink;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use wharf_compiler::types::StepKind;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything a backend needs to run one attempt of one step.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub run: String,
    pub pipeline: String,
    pub step: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub kind: StepKind,
    pub image: Option<String>,
    pub command: Vec<String>,
    /// Resolved environment, secrets included: never log or store it.
    pub env: BTreeMap<String, String>,
    /// The names in `env` whose values come from `secret(...)`: they go to
    /// the step's environment only, never into a file wharf writes, and are
    /// masked in its output (`masker`).
    pub secret_env: BTreeSet<String>,
    /// Input name -> a file or folder on this machine.
    pub inputs: Vec<(String, PathBuf)>,
    /// Output names, in declaration order; each is a folder (see `output_dir`).
    pub outputs: Vec<String>,
    /// Hyperparameters as SageMaker passes them: strings.
    pub hyperparameters: BTreeMap<String, String>,
    /// This attempt's own folder (`.wharf/runs/<run>/<step>/<attempt>/`).
    pub work_dir: PathBuf,
    /// Where the attempt's stdout and stderr go (also streamed as events).
    pub log_path: PathBuf,
    /// Logical CPUs and GPUs the step asked for, when it did.
    pub cpus: Option<f64>,
    pub gpus: Option<u32>,
    /// Memory limit in bytes, when the step set one.
    pub memory: Option<u64>,
    /// The SageMaker instance type the step would run on (`ml.m5.large`).
    pub instance: String,
    /// The per-attempt time limit in milliseconds, when the step set one
    /// (the scheduler enforces it; backends echo it where SageMaker would).
    pub timeout_ms: Option<u64>,
    /// Settings only some kinds have (a train step's checkpoints, a deploy step's port).
    pub spec: wharf_compiler::pipeline::KindSpec,
}

impl Attempt {
    /// The folder output `name` is collected into on this machine. An output
    /// declared as `file("x.json")` is the file `x.json` in this folder.
    pub fn output_dir(&self, name: &str) -> PathBuf {
        self.work_dir.join("outputs").join(name)
    }

    /// Masks this attempt's secret values in text it writes or shows.
    pub fn masker(&self) -> crate::secrets::Masker {
        crate::secrets::Masker::new(self.secret_env.iter().filter_map(|name| self.env.get(name)))
    }
}

/// How an attempt ended, as the backend saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    Succeeded,
    /// The step's own failure: a non-zero exit, a failed job. `reason` is for people.
    Failed {
        exit_code: Option<i32>,
        reason: String,
    },
    /// Stopped by `Handle::cancel` (Ctrl-C, a timeout).
    Cancelled,
}

/// An image as [`Backend::look_up_image`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLookup {
    /// Usable now; what `resolve_image` would answer.
    Here(Option<String>),
    /// Not here, and its registry has it: the run would pull it first.
    WouldPull,
}

/// A job that hashes what a step reads beyond its inputs ([`Backend::context_hash`]).
pub type ContextHash = Box<dyn FnOnce() -> Result<String, String> + Send>;

pub trait Backend: Send + Sync {
    /// `process`, `docker`, `sagemaker`.
    fn name(&self) -> &'static str;

    /// Run before anything starts: is the backend there at all? The error
    /// says what is missing and how to fix it.
    fn health_check(&self) -> BoxFuture<'_, Result<(), String>>;

    /// Starts one attempt. An `Err` is the backend's failure to start it
    /// (not the step's failure): a clear message for the user.
    fn submit(&self, attempt: Attempt, events: Arc<dyn EventSink>) -> BoxFuture<'_, Result<Box<dyn Handle>, String>>;

    /// The identity of an image as this backend will run it (the engine's
    /// image id), for cache keys: a tag rebuilt with other content is
    /// another image. `None` where the backend runs no images. An image
    /// that cannot be found or fetched is an error naming it.
    fn resolve_image(&self, image: &str) -> BoxFuture<'_, Result<Option<String>, String>> {
        let _ = image;
        Box::pin(async { Ok(None) })
    }

    /// What [`Backend::resolve_image`] would find, without fetching
    /// anything: for `wharf plan` and `wharf why`, which must say what the
    /// run will do without doing it. The default: the name is the identity.
    fn look_up_image(&self, image: &str) -> BoxFuture<'_, Result<ImageLookup, String>> {
        let _ = image;
        Box::pin(async { Ok(ImageLookup::Here(None)) })
    }

    /// What a step on this backend reads from the project besides its
    /// declared inputs (a `build` step's context, as the image build reads
    /// it), for its cache key as the part `context`: a job that hashes it,
    /// for tokio's blocking pool since it may read many files; `None` when
    /// the step reads nothing more. The job's error says what is wrong.
    fn context_hash(&self, step: &wharf_compiler::pipeline::Step, project_dir: &Path) -> Option<ContextHash> {
        let _ = (step, project_dir);
        None
    }

    /// Whether what a cached attempt made outside its output folders still
    /// exists (a built image, a running endpoint); a cache hit needs it.
    /// `outputs` maps output names to their folders. The default: yes.
    fn outputs_alive<'a>(&'a self, kind: StepKind, outputs: &'a BTreeMap<String, PathBuf>) -> BoxFuture<'a, bool> {
        let _ = (kind, outputs);
        Box::pin(async { true })
    }

    /// What it has to tell the user when a run ends (containers it removed
    /// that a dead wharf process left behind). The default: nothing.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Stops work an earlier wharf process started and could not stop (it
    /// was killed, or a second Ctrl-C is exiting at once): called with the
    /// handle ids of the attempts of `run` recorded as still running. It
    /// must be quick (no grace period: the work is lost anyway) and must
    /// touch nothing that is not that run's. The default does nothing.
    fn abandon<'a>(&'a self, run: &'a str, handle: &'a str) -> BoxFuture<'a, ()> {
        let _ = (run, handle);
        Box::pin(async {})
    }

    /// Stops whatever else `run` started on this backend that no attempt
    /// record names (the containers of a serving task); says what it
    /// stopped. The default: nothing.
    fn abandon_run<'a>(&'a self, run: &'a str) -> BoxFuture<'a, Vec<String>> {
        let _ = run;
        Box::pin(async { Vec::new() })
    }

    /// Whether a resumed run takes over the work a killed wharf left
    /// running (a SageMaker job goes on without wharf) rather than having it
    /// stopped by [`Backend::abandon`].
    fn reattaches(&self) -> bool {
        false
    }
}

pub trait Handle: Send {
    /// What the backend calls this work (`pid 1234`, a container id, a job
    /// name), recorded so a resumed run can find it.
    fn id(&self) -> String;

    /// Waits until the attempt ends.
    fn wait(&mut self) -> BoxFuture<'_, Finish>;

    /// Stops the attempt and waits until it has stopped. Idempotent.
    fn cancel(&mut self) -> BoxFuture<'_, ()>;
}
