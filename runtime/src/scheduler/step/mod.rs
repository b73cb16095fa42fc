//! One step of one run, as a task of its own: resolve its inputs, compute its
//! cache key, take its outputs from the cache or run its attempts (retries
//! with exponential backoff and jitter, a timeout per attempt, cancel on
//! Ctrl-C), check and hash its outputs, record everything.
//!
//! This file holds the task and its course (inputs, key, cache, record);
//! `cached.rs` a cache hit taken, `attempts.rs` the attempts, `outputs.rs`
//! the outputs checked, hashed, exported and recorded, `resume.rs` what an
//! earlier run left that a resumed one takes.

mod attempts;
mod cached;
mod outputs;
mod resume;

pub(super) use attempts::wait_cancelled;
pub(crate) use resume::load_resumed;

use super::{Context, Produced, RunError};
use crate::backend::Backend;
use crate::clock::Clock;
use crate::decide::inputs::Input;
use crate::decide::preflight::{self, StepImage};
use crate::decide::{self, CacheUse, Keyed, Verdict};
use crate::events::{EventSink, RunEvent};
use crate::plan::Plan;
use crate::state::{CacheEntry, CachedStep, OutputFile, StateStore, StepRecord, StepStatus};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use wharf_compiler::pipeline::{Step, StepId};

/// Records of cached steps waiting to be committed together (see `scheduler::run`).
pub(crate) type Pending = Arc<Mutex<Vec<CachedStep>>>;

pub(crate) struct StepOutcome {
    pub id: StepId,
    pub status: StepStatus,
    pub produced: Option<Produced>,
}

pub(crate) struct StepTask {
    id: StepId,
    run: String,
    pipeline: String,
    step: Step,
    cache_use: CacheUse,
    /// The image it runs and its identity for the key (see `decide::preflight`).
    image: StepImage,
    instance: String,
    project_dir: PathBuf,
    inputs: Vec<(String, Input)>,
    backend: Arc<dyn Backend>,
    backend_name: String,
    state: Arc<Mutex<Box<dyn StateStore>>>,
    events: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    layout: super::Layout,
    artifacts: Arc<dyn crate::artifacts::ArtifactStore>,
    host_env: super::HostEnv,
    cancel: watch::Receiver<bool>,
    pending: Pending,
    /// The run continues an earlier one, whose attempts are numbered before this one's.
    resumed: bool,
}

impl StepTask {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: &Plan,
        ctx: &Context,
        run: &str,
        id: StepId,
        produced: &BTreeMap<StepId, Produced>,
        images: &BTreeMap<StepId, Option<String>>,
        cancel: watch::Receiver<bool>,
        pending: Pending,
        resumed: bool,
    ) -> Result<StepTask, RunError> {
        let pipeline = plan.pipeline;
        let step = pipeline.steps[id].clone();
        let planned = plan.step(id);
        let backend_kind = planned.map(|p| p.backend).unwrap_or(plan.target.backend);
        let backend = ctx
            .backends
            .get(&backend_kind)
            .cloned()
            .ok_or_else(|| RunError::Backend(format!("no {backend_kind} backend")))?;
        let lookup = |producer: StepId, output: &str| -> Option<(PathBuf, String)> {
            let done = produced.get(&producer)?;
            Some((done.dirs.get(output)?.clone(), done.hashes.get(output)?.clone()))
        };
        let inputs = decide::inputs::resolve(pipeline, id, &plan.project_dir, &lookup).map_err(|(_, input)| {
            RunError::Backend(format!("internal: `{}` ran before its input `{input}`", step.name))
        })?;
        Ok(StepTask {
            id,
            run: run.to_string(),
            pipeline: pipeline.name.clone(),
            cache_use: CacheUse::of(&step, plan.options.no_cache),
            image: preflight::step_image(pipeline, id, images, &lookup),
            instance: wharf_compiler::placement::instance_for(plan.target, &step),
            project_dir: plan.project_dir.clone(),
            step,
            inputs,
            backend,
            backend_name: backend_kind.to_string(),
            state: ctx.state.clone(),
            events: ctx.events.clone(),
            clock: ctx.clock.clone(),
            layout: ctx.layout.clone(),
            artifacts: ctx.artifacts.clone(),
            host_env: ctx.host_env.clone(),
            cancel,
            pending,
            resumed,
        })
    }

    pub async fn run(self) -> StepOutcome {
        let id = self.id;
        let started = self.clock.now_ms();
        match self.run_inner(started).await {
            Ok((status, produced)) => StepOutcome { id, status, produced },
            Err(reason) => {
                let _ = self.record_step(StepStatus::Failed, None, Some(reason.clone()), Some(started));
                self.events.event(RunEvent::StepFinished {
                    step: self.step.name.clone(),
                    status: StepStatus::Failed,
                    duration: self.since(started),
                    reason: Some(reason),
                });
                StepOutcome {
                    id,
                    status: StepStatus::Failed,
                    produced: None,
                }
            }
        }
    }

    fn since(&self, started: i64) -> Duration {
        Duration::from_millis((self.clock.now_ms() - started).max(0) as u64)
    }

    fn step_record(
        &self,
        status: StepStatus,
        key: Option<&str>,
        reason: Option<String>,
        started: Option<i64>,
    ) -> StepRecord {
        StepRecord {
            run: self.run.clone(),
            step: self.step.name.clone(),
            kind: self.step.kind.to_string(),
            backend: self.backend_name.clone(),
            status,
            cache_key: key.map(String::from),
            reason,
            started_ms: started,
            finished_ms: (status != StepStatus::Running).then(|| self.clock.now_ms()),
        }
    }

    fn record_step(
        &self,
        status: StepStatus,
        key: Option<&str>,
        reason: Option<String>,
        started: Option<i64>,
    ) -> Result<(), String> {
        let record = self.step_record(status, key, reason, started);
        self.store()?.put_step(&record).map_err(|e| e.to_string())
    }

    fn store(&self) -> Result<std::sync::MutexGuard<'_, Box<dyn StateStore>>, String> {
        self.state
            .lock()
            .map_err(|_| "the state store was poisoned by a panic".to_string())
    }

    async fn run_inner(&self, started: i64) -> Result<(StepStatus, Option<Produced>), String> {
        // Checked before the run started (a refusal); read again for the attempt.
        let env = preflight::resolve_env(&self.step, &*self.host_env)?;
        // Hashing local data goes to tokio's blocking pool; inputs whose
        // hashes are known (upstream outputs) are keyed at once.
        let mut input_hashes = if self.inputs.iter().any(|(_, i)| matches!(i, Input::Path(_, None))) {
            let (inputs, state) = (self.inputs.clone(), self.state.clone());
            tokio::task::spawn_blocking(move || decide::inputs::hash(&inputs, &decide::inputs::StoreDigests(&state)))
                .await
                .map_err(|e| e.to_string())??
        } else {
            decide::inputs::hash(&self.inputs, &crate::hash::NoCache)?
        };
        if let Some(hash) = self.backend.context_hash(&self.step, &self.project_dir) {
            let context = tokio::task::spawn_blocking(hash).await.map_err(|e| e.to_string())?;
            input_hashes.insert("context".into(), context?);
        }
        let image_key = match &self.image {
            StepImage::None => None,
            StepImage::Known(_, key) => Some(key.clone()),
            StepImage::Unknown(reason) => return Err(reason.clone()),
        };
        let host_env = preflight::key_env(&self.step, &*self.host_env);
        let keyed = Keyed {
            pipeline: &self.pipeline,
            step: &self.step,
            image: image_key.as_deref(),
            inputs: &input_hashes,
            host_env: &host_env,
        };
        let decision = decide::decide(&keyed, self.cache_use, &self.state, &*self.artifacts, &*self.backend)
            .await
            .map_err(|e| e.to_string())?;
        let key = decision.key;
        if let (Verdict::Cached { .. }, Some(hit)) = (&decision.verdict, decision.hit) {
            let produced = self.use_hit(hit, &key, started).await?;
            return Ok((StepStatus::Cached, Some(produced)));
        }
        // Held until the outcome is recorded: whoever waits for this key
        // then finds it in the cache.
        let mut cancel = self.cancel.clone();
        let root = self.layout.root().to_path_buf();
        let Some(key_lock) =
            super::key_lock::take(&root, &self.run, &self.step.name, &key, &self.events, &mut cancel).await?
        else {
            return self.cancelled_before_start(&key, started);
        };
        // Another run did this work while we waited: decide again, the
        // same way, now that its outputs may be in the cache.
        if key_lock.waited {
            let again = decide::decide(&keyed, self.cache_use, &self.state, &*self.artifacts, &*self.backend)
                .await
                .map_err(|e| e.to_string())?;
            if let (Verdict::Cached { .. }, Some(hit)) = (&again.verdict, again.hit) {
                let produced = self.use_hit(hit, &key, started).await?;
                return Ok((StepStatus::Cached, Some(produced)));
            }
        }
        // Recorded with the first attempt's start, in one commit.
        let running = self.step_record(StepStatus::Running, Some(&key), None, Some(started));
        let attempts::Attempts {
            status,
            produced,
            reason,
            unrecorded,
        } = self.attempts(env, &running).await?;
        let artifacts = produced.as_ref().map(|p| self.artifacts(p)).unwrap_or_default();
        let files: Vec<(String, Vec<OutputFile>)> = match &produced {
            Some(p) => artifacts
                .iter()
                .filter_map(|a| Some((a.uri.clone(), p.files.get(&a.output)?.clone())))
                .collect(),
            None => Vec::new(),
        };
        let cache_entry = (produced.is_some() && self.step.cache).then(|| CacheEntry {
            key: key.clone(),
            pipeline: self.pipeline.clone(),
            step: self.step.name.clone(),
            run: self.run.clone(),
            parts: decision.parts,
            outputs: artifacts.clone(),
            created_ms: self.clock.now_ms(),
        });
        let record = self.step_record(status, Some(&key), reason.clone(), Some(started));
        self.store()?
            .put_outcome(&record, unrecorded.as_ref(), &artifacts, &files, cache_entry.as_ref())
            .map_err(|e| e.to_string())?;
        self.events.event(RunEvent::StepFinished {
            step: self.step.name.clone(),
            status,
            duration: self.since(started),
            reason,
        });
        // The file lists are recorded; the steps after this one need only
        // the folders and hashes, and a run of 100,000 steps keeps them all.
        let produced = produced.map(|p| Produced {
            files: BTreeMap::new(),
            ..p
        });
        Ok((status, produced))
    }

    /// A step cancelled while it waited for its key's lock: it never started.
    fn cancelled_before_start(&self, key: &str, started: i64) -> Result<(StepStatus, Option<Produced>), String> {
        let reason = Some("cancelled while waiting for another run doing the same work".to_string());
        self.record_step(StepStatus::Cancelled, Some(key), reason.clone(), Some(started))?;
        self.events.event(RunEvent::StepFinished {
            step: self.step.name.clone(),
            status: StepStatus::Cancelled,
            duration: self.since(started),
            reason,
        });
        Ok((StepStatus::Cancelled, None))
    }
}
