//! Runs whose wharf process is gone (`kill -9`, a crash, a closed laptop)
//! while the state still says `running`. Such a run is **abandoned**: every
//! later command that opens the state (`run`, `runs`, `show`, `stop`) finds
//! it, stops what it left running through the backends it has (a process
//! group, a container, a SageMaker job), records those attempts and steps
//! as `cancelled` and the run as `abandoned`.
//!
//! A run is alive while its run lock (`.wharf/locks/run-<id>.lock`, see
//! [`crate::lock`]) is held, or while its recorded owner process still runs
//! (same pid, same start time), or when that owner is on another machine
//! (which cannot be checked from here). Work whose backend the command does
//! not have (a SageMaker job seen by `wharf runs`) stays recorded as running
//! and is cleaned up by a later command that has it; `--resume` re-attaches
//! to such jobs instead of stopping them.

use crate::backend::Backend;
use crate::lock::{FileLock, run_lock_path};
use crate::owner::Owner;
use crate::state::{RunRecord, RunStatus, StateError, StateStore, StepStatus};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Why a run's attempt was stopped, as recorded.
pub const REASON: &str = "the wharf process running it is gone (killed?); stopped by a later wharf";

/// Whether the wharf process of `run` still runs.
pub fn alive(store: &dyn StateStore, state_dir: &Path, run: &str) -> Result<bool, StateError> {
    if FileLock::is_held(&run_lock_path(state_dir, run)) {
        return Ok(true);
    }
    Ok(match store.owner(run)?.as_deref().and_then(Owner::parse) {
        Some(owner) => owner.alive(),
        None => false,
    })
}

/// The runs a gone wharf left: recorded `running` with no live process, and
/// abandoned runs that still have work recorded as running (whose backend
/// the command that found them did not have).
pub fn find(store: &dyn StateStore, state_dir: &Path) -> Result<Vec<RunRecord>, StateError> {
    let mut out = Vec::new();
    for run in store.unfinished_runs()? {
        if !alive(store, state_dir, &run.id)? {
            out.push(run);
        }
    }
    Ok(out)
}

/// What cleaning up after one run did.
#[derive(Debug, Default)]
pub struct CleanUp {
    pub run: String,
    /// What was stopped, in words (`step `x`: process group 1234`).
    pub stopped: Vec<String>,
    /// Work still recorded as running because no backend here can stop it.
    pub left: Vec<String>,
}

/// Stops what abandoned run `run` left running, through `backends`, and
/// records it: attempts and steps `cancelled`, the run `abandoned`. Takes
/// the run's lock first, so two commands never clean up the same run at once
/// (and a run resumed meanwhile is left alone). `None` when it was not
/// abandoned after all.
pub async fn clean_up(
    state: &Arc<Mutex<Box<dyn StateStore>>>,
    state_dir: &Path,
    backends: &[Arc<dyn Backend>],
    run: &str,
    now_ms: i64,
) -> Result<Option<CleanUp>, StateError> {
    let holder = crate::lock::Holder::me(run, None);
    let Ok(Some(_lock)) = FileLock::try_take(&run_lock_path(state_dir, run), &holder) else {
        return Ok(None);
    };
    let (record, owner) = {
        let store = lock(state);
        (store.run(run)?, store.owner(run)?)
    };
    let Some(record) = record else { return Ok(None) };
    // Its owner still runs (on another machine, or without its lock file).
    if owner.as_deref().and_then(Owner::parse).is_some_and(|o| o.alive()) {
        return Ok(None);
    }
    let done = stop_leftovers(state, backends, run, REASON, now_ms).await?;
    if record.status == RunStatus::Running {
        let store = lock(state);
        let last_ms = store
            .run_attempts(run)?
            .iter()
            .map(|a| a.started_ms.max(a.finished_ms.unwrap_or(0)))
            .filter(|&ms| ms < now_ms)
            .fold(record.started_ms, i64::max);
        drop(store);
        lock(state).finish_run(run, RunStatus::Abandoned, last_ms)?;
    }
    Ok(Some(done))
}

/// Stops every attempt of `run` recorded as running, through the backend
/// that ran it (when `backends` has it), and what else each backend knows
/// the run started; records those attempts and the run's running steps as
/// `cancelled` with `reason`. Used for abandoned runs, and by a second
/// Ctrl-C on the run itself.
pub async fn stop_leftovers(
    state: &Arc<Mutex<Box<dyn StateStore>>>,
    backends: &[Arc<dyn Backend>],
    run: &str,
    reason: &str,
    now_ms: i64,
) -> Result<CleanUp, StateError> {
    let (steps, attempts) = {
        let store = lock(state);
        (store.steps(run)?, store.run_attempts(run)?)
    };
    let mut done = CleanUp {
        run: run.to_string(),
        ..Default::default()
    };
    for mut attempt in attempts.into_iter().filter(|a| a.status == StepStatus::Running) {
        let step_backend = steps
            .iter()
            .find(|s| s.step == attempt.step)
            .map(|s| s.backend.clone())
            .unwrap_or_default();
        let backend = backends.iter().find(|b| b.name() == step_backend);
        match (backend, attempt.handle.clone()) {
            (Some(backend), Some(handle)) => {
                backend.abandon(run, &handle).await;
                done.stopped.push(format!("step `{}`: {handle}", attempt.step));
            }
            // Never started (stopped between the record and the start).
            (_, None) => {}
            (None, Some(handle)) => {
                done.left
                    .push(format!("step `{}` on {step_backend}: {handle}", attempt.step));
                continue;
            }
        }
        attempt.status = StepStatus::Cancelled;
        attempt.error = Some(reason.into());
        attempt.finished_ms = Some(now_ms);
        lock(state).put_attempt(&attempt)?;
    }
    // Whatever else the run started outside its recorded attempts
    // (the containers of a serving task): each backend knows its own.
    for backend in backends {
        done.stopped.extend(backend.abandon_run(run).await);
    }
    let store = &mut *lock(state);
    for mut step in steps.into_iter().filter(|s| s.status == StepStatus::Running) {
        if done
            .left
            .iter()
            .any(|l| l.starts_with(&format!("step `{}` ", step.step)))
        {
            continue;
        }
        step.status = StepStatus::Cancelled;
        step.reason = Some(reason.into());
        step.finished_ms = Some(now_ms);
        store.put_step(&step)?;
    }
    Ok(done)
}

fn lock(state: &Arc<Mutex<Box<dyn StateStore>>>) -> std::sync::MutexGuard<'_, Box<dyn StateStore>> {
    // A poisoned lock still guards valid data: the store commits per call.
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
