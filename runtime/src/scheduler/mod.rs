//! The scheduler: runs a [`Plan`] on tokio. Ready steps start as soon as
//! their dependencies are done, up to `--jobs` at once; a step's `when` is
//! evaluated when the outputs it reads exist; a failure stops new launches
//! (or, with `--keep-going`, skips only what is downstream of it); a cancel
//! stops every running attempt. It knows backends only through the
//! [`Backend`](crate::backend::Backend) trait.
//!
//! Skipping: a step whose `when` is false is skipped, and so is every step
//! that depends on a skipped step (it would lack an input); a step after a
//! failed one is skipped with the failure as its reason. Steps that never
//! started because the run stopped are recorded as `cancelled`.

mod key_lock;
mod layout;
mod ready;
mod start;
mod step;

pub use layout::Layout;
pub use start::cached_source;

use crate::backend::Backend;
use crate::clock::Clock;
use crate::condition::{self, OutputLocator};
use crate::events::{EventSink, RunEvent};
use crate::plan::{Backends, Plan, Role};
use crate::state::{RunRecord, RunStatus, StateError, StateStore, StepRecord, StepStatus};
use ready::Ready;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use step::{StepOutcome, StepTask};
use tokio::sync::watch;
use wharf_compiler::backends::BackendKind;
use wharf_compiler::pipeline::StepId;

/// Reads a host environment variable; tests pass a map.
pub type HostEnv = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What a run needs from the outside world.
pub struct Context {
    pub state: Arc<Mutex<Box<dyn StateStore>>>,
    pub backends: Backends,
    pub events: Arc<dyn EventSink>,
    pub clock: Arc<dyn Clock>,
    pub layout: Layout,
    /// Where outputs live; the cache checks its outputs still exist here.
    pub artifacts: Arc<dyn crate::artifacts::ArtifactStore>,
    /// Reads a host environment variable (for `env("NAME")` and `secret("NAME")`).
    pub host_env: HostEnv,
}

/// How a run ended.
#[derive(Debug)]
pub struct RunSummary {
    pub run: String,
    pub status: RunStatus,
    pub steps: Vec<StepRecord>,
}

#[derive(Debug)]
pub enum RunError {
    State(StateError),
    /// A backend's health check failed before anything started.
    Backend(String),
    /// `--resume` named a run that does not exist or belongs to another pipeline.
    Resume(String),
    /// Steps that cannot start (an unset secret, an image that cannot be
    /// had, outputs outside the selection not in the cache), each as
    /// "step `x`: why": the run did not start.
    Refused(Vec<String>),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::State(e) => write!(f, "{e}"),
            RunError::Backend(e) | RunError::Resume(e) => f.write_str(e),
            RunError::Refused(reasons) => f.write_str(&reasons.join("\n")),
        }
    }
}

impl From<StateError> for RunError {
    fn from(e: StateError) -> Self {
        RunError::State(e)
    }
}

/// A finished step's outputs: output name -> folder on this machine, and content hash.
#[derive(Debug, Clone, Default)]
pub(crate) struct Produced {
    pub dirs: BTreeMap<String, PathBuf>,
    pub hashes: BTreeMap<String, String>,
    /// The files of outputs made in this run, for the record (see `decide::manifest`).
    pub files: BTreeMap<String, Vec<crate::state::OutputFile>>,
}

struct Outputs<'a> {
    plan: &'a Plan<'a>,
    produced: &'a BTreeMap<StepId, Produced>,
}

impl OutputLocator for Outputs<'_> {
    fn output_file(&self, step: usize, output: &str) -> Option<PathBuf> {
        let dir = self.produced.get(&step)?.dirs.get(output)?;
        Some(self.plan.pipeline.steps[step].output(output)?.shape.path_in(dir))
    }
}

/// Runs the plan. `resume` continues an earlier run of the same pipeline:
/// its finished steps, whose outputs still exist, are not run again.
pub async fn run(
    plan: &Plan<'_>,
    ctx: &Context,
    mut cancel: watch::Receiver<bool>,
    resume: Option<&str>,
) -> Result<RunSummary, RunError> {
    let needed: Vec<&Arc<dyn Backend>> = {
        let mut kinds: Vec<_> = plan
            .steps
            .iter()
            .filter(|s| s.role != Role::NotSelected)
            .map(|s| s.backend)
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds.iter().filter_map(|k| ctx.backends.get(k)).collect()
    };
    for backend in needed {
        backend.health_check().await.map_err(RunError::Backend)?;
    }
    let started = ctx.clock.now_ms();
    let pipeline = plan.pipeline;
    let mut produced: BTreeMap<StepId, Produced> = BTreeMap::new();
    let mut status: BTreeMap<StepId, StepStatus> = BTreeMap::new();
    // The run's lock is held for as long as this process runs it: a run
    // recorded as running whose lock is free was abandoned (crate::abandoned).
    // It is taken before the run is recorded, so nobody sees the record
    // without it.
    let mut run_id = match resume {
        Some(id) => id.to_string(),
        None => crate::clock::run_id(started),
    };
    // A new run's id has 16 random bits beside the second it started in: two
    // runs of one second can draw the same. The id a run gets is one no run
    // holds (its lock) or has held (its record); a few draws make a clash
    // as good as impossible.
    let mut draws = 1;
    let (lock_path, _run_lock) = loop {
        let lock_path = crate::lock::run_lock_path(ctx.layout.root(), &run_id);
        let taken = crate::lock::FileLock::try_take(&lock_path, &crate::lock::Holder::me(&run_id, None));
        if resume.is_none() && draws < 8 {
            let clash = match &taken {
                Ok(None) => true,
                Ok(Some(_)) => lock(&ctx.state)?.run(&run_id)?.is_some(),
                Err(_) => false,
            };
            if clash {
                drop(taken);
                run_id = crate::clock::run_id(started);
                draws += 1;
                continue;
            }
        }
        break (lock_path, taken);
    };
    let _run_lock = match _run_lock {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            let by = crate::lock::FileLock::holder(&lock_path)
                .map(|h| format!(" (wharf pid {})", h.pid))
                .unwrap_or_default();
            return Err(RunError::Resume(format!(
                "run `{run_id}` is being run by another wharf process{by}; wait for it to end, or stop it first"
            )));
        }
        Err(e) => {
            return Err(RunError::State(StateError::Unwritable {
                path: lock_path,
                reason: e.to_string(),
            }));
        }
    };
    // A resumed run's finished steps are done: they need no checks.
    if let Some(id) = resume {
        for (step, done) in step::load_resumed(plan, ctx, id).await? {
            status.insert(step, StepStatus::Succeeded);
            produced.insert(step, done);
        }
    }
    let (images, taken) = start::before_start(plan, ctx, &status).await?;
    let run_id = match resume {
        Some(id) => {
            abandon_leftovers(plan, ctx, id).await?;
            let mut store = lock(&ctx.state)?;
            store.finish_run(id, RunStatus::Running, started)?;
            store.set_owner(id, &crate::owner::me())?;
            id.to_string()
        }
        None => {
            let id = run_id;
            let params: serde_json::Map<String, serde_json::Value> = pipeline
                .params
                .iter()
                .map(|p| (p.name.clone(), serde_json::to_value(&p.value).unwrap_or_default()))
                .collect();
            lock(&ctx.state)?.create_run(&RunRecord {
                id: id.clone(),
                pipeline: pipeline.name.clone(),
                file: plan.file.clone(),
                target: plan.target.name.clone(),
                params: params.into(),
                status: RunStatus::Running,
                started_ms: started,
                finished_ms: None,
            })?;
            lock(&ctx.state)?.set_owner(&id, &crate::owner::me())?;
            id
        }
    };
    ctx.events.event(RunEvent::RunStarted {
        run: run_id.clone(),
        pipeline: pipeline.name.clone(),
        target: plan.target.name.clone(),
        steps: plan.steps.len(),
    });

    let pending: step::Pending = Arc::new(Mutex::new(Vec::new()));
    // Outside the selection: the steps a selected one needs come from the
    // cache (checked before the start); the rest are not touched.
    start::record_outside(plan, ctx, &run_id, taken, &pending, &mut status, &mut produced)?;
    let mut waiting: BTreeMap<StepId, usize> = BTreeMap::new();
    let mut ready = Ready::default();
    // Every step is in the plan; a backend kind of its own keeps the queue
    // total should one not be.
    let backend_of = |id: StepId| plan.step(id).map_or(plan.target.backend, |s| s.backend);
    for s in &plan.steps {
        if status.contains_key(&s.id) {
            continue;
        }
        let open = pipeline
            .dependencies(s.id)
            .iter()
            .filter(|d| !status.contains_key(d))
            .count();
        waiting.insert(s.id, open);
        if open == 0 {
            ready.push(s.backend, s.id);
        }
    }
    let jobs = plan.options.jobs.max(1);
    // Cached steps' records are committed in batches, every this many and at the end.
    const BATCH: usize = 256;
    let mut tasks = tokio::task::JoinSet::new();
    let mut running = 0usize;
    let mut local_running = 0usize;
    let mut running_on: BTreeMap<BackendKind, usize> = BTreeMap::new();
    // `--jobs` is this machine's: it caps the steps running here. A step
    // whose backend runs it elsewhere (a SageMaker job) uses no local slot;
    // the backend's own limit caps those. Both depend on the backend only.
    let local_slot: BTreeMap<BackendKind, bool> = plan.steps.iter().map(|s| (s.backend, s.local_slot)).collect();
    let local = |kind: BackendKind| local_slot.get(&kind).copied().unwrap_or(true);
    let has_room = |kind: BackendKind, running_on: &BTreeMap<BackendKind, usize>, local_running: usize| {
        if local(kind) && local_running >= jobs {
            return false;
        }
        plan.options
            .backend_limits
            .get(&kind)
            .is_none_or(|limit| running_on.get(&kind).copied().unwrap_or(0) < *limit)
    };
    let mut stopping: Option<String> = None;
    let mut cancelled = false;
    loop {
        while stopping.is_none() {
            // The first ready step whose backend has room.
            let Some(id) = ready.pop(|kind| has_room(kind, &running_on, local_running)) else {
                break;
            };
            let early = gate(plan, id, &status, &produced);
            match early {
                Some((st, reason)) => {
                    record_quick(plan, ctx, &run_id, id, st, reason.clone())?;
                    finish(plan, id, st, &mut status, &mut waiting, &mut ready);
                    if st == StepStatus::Failed && !plan.options.keep_going {
                        stopping = Some(reason.unwrap_or_default());
                    }
                }
                None => {
                    let task = StepTask::new(
                        plan,
                        ctx,
                        &run_id,
                        id,
                        &produced,
                        &images,
                        cancel.clone(),
                        pending.clone(),
                        resume.is_some(),
                    )?;
                    running += 1;
                    let kind = backend_of(id);
                    if local(kind) {
                        local_running += 1;
                    }
                    *running_on.entry(kind).or_default() += 1;
                    tasks.spawn(task.run());
                }
            }
        }
        if running == 0 {
            break;
        }
        tokio::select! {
            joined = tasks.join_next() => {
                running -= 1;
                let outcome: StepOutcome = match joined {
                    Some(Ok(outcome)) => outcome,
                    Some(Err(e)) => return Err(RunError::Backend(format!("a step task panicked: {e}"))),
                    None => continue,
                };
                let kind = backend_of(outcome.id);
                if local(kind) {
                    local_running = local_running.saturating_sub(1);
                }
                let n = running_on.entry(kind).or_default();
                *n = n.saturating_sub(1);
                if let Some(done) = outcome.produced {
                    produced.insert(outcome.id, done);
                }
                if pending.lock().map_or(0, |p| p.len()) >= BATCH {
                    flush(ctx, &pending)?;
                }
                finish(plan, outcome.id, outcome.status, &mut status, &mut waiting, &mut ready);
                if outcome.status == StepStatus::Failed && !plan.options.keep_going && stopping.is_none() {
                    stopping = Some(format!("`{}` failed", pipeline.steps[outcome.id].name));
                }
                if outcome.status == StepStatus::Cancelled {
                    cancelled = true;
                }
            }
            changed = cancel.changed(), if !cancelled => {
                if changed.is_err() || *cancel.borrow() {
                    cancelled = true;
                    stopping = Some("the run was interrupted".into());
                }
            }
        }
    }
    flush(ctx, &pending)?;
    // Whatever never started: the run stopped before it.
    for s in &plan.steps {
        if status.contains_key(&s.id) {
            continue;
        }
        let reason = stopping.clone().map(|r| format!("not started: {r}"));
        record_quick(plan, ctx, &run_id, s.id, StepStatus::Cancelled, reason)?;
        status.insert(s.id, StepStatus::Cancelled);
    }
    let any_failed = status.values().any(|s| *s == StepStatus::Failed);
    let run_status = if cancelled {
        RunStatus::Cancelled
    } else if any_failed {
        RunStatus::Failed
    } else {
        RunStatus::Succeeded
    };
    let finished = ctx.clock.now_ms();
    lock(&ctx.state)?.finish_run(&run_id, run_status, finished)?;
    ctx.events.event(RunEvent::RunFinished {
        run: run_id.clone(),
        status: run_status,
        duration: std::time::Duration::from_millis((finished - started).max(0) as u64),
    });
    let mut steps = lock(&ctx.state)?.steps(&run_id)?;
    // In execution order; found by name through a map, not a search per record.
    let position: std::collections::HashMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (pipeline.steps[s.id].name.as_str(), i))
        .collect();
    steps.sort_by_key(|s| position.get(s.step.as_str()).copied().unwrap_or(usize::MAX));
    Ok(RunSummary {
        run: run_id,
        status: run_status,
        steps,
    })
}

/// Stops what a killed wharf left running in the run being resumed.
async fn abandon_leftovers(plan: &Plan<'_>, ctx: &Context, run: &str) -> Result<(), RunError> {
    let mut leftovers = Vec::new();
    {
        let by_name = plan.pipeline.ids_by_name();
        let store = lock(&ctx.state)?;
        // One query for the run's attempts, not one per step.
        for attempt in store.run_attempts(run)? {
            let backend = by_name
                .get(attempt.step.as_str())
                .and_then(|&id| plan.step(id))
                .and_then(|p| ctx.backends.get(&p.backend).cloned());
            if attempt.status == StepStatus::Running
                && let (Some(handle), Some(backend)) = (attempt.handle.clone(), backend)
            {
                leftovers.push((backend, handle, attempt));
            }
        }
    }
    for (backend, handle, mut attempt) in leftovers {
        // A SageMaker job goes on without wharf: the new attempt takes it
        // over instead of starting it again.
        if !backend.reattaches() {
            backend.abandon(run, &handle).await;
        }
        attempt.status = StepStatus::Cancelled;
        attempt.error = Some("the wharf process running it was killed".into());
        attempt.finished_ms = Some(ctx.clock.now_ms());
        lock(&ctx.state)?.put_attempt(&attempt)?;
    }
    Ok(())
}

/// Commits the records of cached steps gathered so far, in one transaction.
fn flush(ctx: &Context, pending: &step::Pending) -> Result<(), RunError> {
    let batch = std::mem::take(
        &mut *pending
            .lock()
            .map_err(|_| RunError::Backend("pending records poisoned".into()))?,
    );
    if !batch.is_empty() {
        lock(&ctx.state)?.put_outcomes(&batch)?;
    }
    Ok(())
}

/// Decides, before starting a ready step, whether it must not run: an
/// upstream failure or skip, or a `when` that is false or cannot be read.
fn gate(
    plan: &Plan,
    id: StepId,
    status: &BTreeMap<StepId, StepStatus>,
    produced: &BTreeMap<StepId, Produced>,
) -> Option<(StepStatus, Option<String>)> {
    let pipeline = plan.pipeline;
    for dep in pipeline.dependencies(id) {
        let name = &pipeline.steps[dep].name;
        match status.get(&dep) {
            Some(StepStatus::Failed) => return Some((StepStatus::Skipped, Some(format!("`{name}` failed")))),
            Some(StepStatus::Skipped) => return Some((StepStatus::Skipped, Some(format!("`{name}` was skipped")))),
            Some(StepStatus::Cancelled) => {
                return Some((StepStatus::Cancelled, Some(format!("`{name}` was cancelled"))));
            }
            _ => {}
        }
    }
    let when = pipeline.steps[id].when.as_ref()?;
    let outputs = Outputs { plan, produced };
    match condition::evaluate(pipeline, when, &outputs) {
        Ok(true) => None,
        Ok(false) => {
            let seen = condition::observed(pipeline, when, &outputs);
            let text = wharf_compiler::display::condition(pipeline, when);
            let because = if seen.is_empty() {
                String::new()
            } else {
                format!(" ({})", seen.join(", "))
            };
            Some((StepStatus::Skipped, Some(format!("`when {text}` is false{because}"))))
        }
        Err(reason) => Some((StepStatus::Failed, Some(format!("cannot evaluate `when`: {reason}")))),
    }
}

/// Marks a step done and releases the steps waiting for it.
fn finish(
    plan: &Plan,
    id: StepId,
    st: StepStatus,
    status: &mut BTreeMap<StepId, StepStatus>,
    waiting: &mut BTreeMap<StepId, usize>,
    ready: &mut Ready,
) {
    status.insert(id, st);
    let graph = &plan.pipeline.graph;
    let mut next: Vec<StepId> = graph
        .neighbors_directed(petgraph::graph::NodeIndex::new(id), petgraph::Direction::Outgoing)
        .map(|n| n.index())
        .collect();
    next.sort_unstable();
    next.dedup();
    for n in next {
        if let Some(open) = waiting.get_mut(&n) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                waiting.remove(&n);
                ready.push(plan.step(n).map_or(plan.target.backend, |s| s.backend), n);
            }
        }
    }
}

/// Records a step that ends without running (skipped, failed condition, never started).
pub(crate) fn record_quick(
    plan: &Plan,
    ctx: &Context,
    run: &str,
    id: StepId,
    st: StepStatus,
    reason: Option<String>,
) -> Result<(), RunError> {
    let step = &plan.pipeline.steps[id];
    let planned = plan.step(id);
    let now = ctx.clock.now_ms();
    lock(&ctx.state)?.put_step(&StepRecord {
        run: run.to_string(),
        step: step.name.clone(),
        kind: step.kind.to_string(),
        backend: planned.map(|p| p.backend.to_string()).unwrap_or_default(),
        status: st,
        cache_key: None,
        reason: reason.clone(),
        started_ms: None,
        finished_ms: Some(now),
    })?;
    ctx.events.event(RunEvent::StepFinished {
        step: step.name.clone(),
        status: st,
        duration: std::time::Duration::ZERO,
        reason,
    });
    Ok(())
}

pub(crate) fn lock<'a>(
    state: &'a Arc<Mutex<Box<dyn StateStore>>>,
) -> Result<std::sync::MutexGuard<'a, Box<dyn StateStore>>, RunError> {
    state
        .lock()
        .map_err(|_| RunError::Backend("the state store was poisoned by a panic".into()))
}

#[cfg(test)]
mod tests;
