//! Ctrl-C and SIGTERM while `wharf run` runs (docs/runtime.md,
//! "Interrupting").
//!
//! - The first signal cancels the run: no new step starts, running steps
//!   are stopped with their grace period, everything is recorded, and wharf
//!   exits with 130.
//! - Signals within a second of the first are the same interruption:
//!   `timeout -s INT` and a terminal's Ctrl-C reach wharf and its whole
//!   process group at once, and may arrive twice.
//! - A later signal means "now": what the run started is stopped at once
//!   (process groups killed, containers removed, SageMaker jobs sent their
//!   Stop* call, without waiting), recorded as cancelled, and wharf exits.
//!   What it cannot stop in a few seconds stays recorded as running, and
//!   the next command cleans up after it (the run is then abandoned).
//!
//! Every message goes through `say!`, which never panics: a closed stderr
//! must not kill this task, or signals would go unheard.

use super::abandoned::Shared;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use wharf_runtime::abandoned::stop_leftovers;
use wharf_runtime::backend::Backend;
use wharf_runtime::clock::{Clock, SystemClock};
use wharf_runtime::state::RunStatus;

/// Signals this close to the first one are the same interruption.
const SAME_SIGNAL: Duration = Duration::from_secs(1);
/// How long a second interruption may spend stopping things before exiting.
const AT_ONCE: Duration = Duration::from_secs(5);

pub async fn watch(cancel: tokio::sync::watch::Sender<bool>, state: Shared, backends: Vec<Arc<dyn Backend>>) {
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return;
    };
    let mut first: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        match first {
            None => {
                first = Some(Instant::now());
                say!("\ninterrupted: stopping running steps (press Ctrl-C again to stop them at once and exit)");
                let _ = cancel.send(true);
            }
            Some(at) if at.elapsed() < SAME_SIGNAL => {}
            Some(_) => {
                say!("interrupted again: stopping what the run started at once, then exiting");
                stop_at_once(&state, &backends).await;
                std::process::exit(130);
            }
        }
    }
}

/// Stops every attempt this process's runs have running, at once, and
/// records them and the runs as cancelled.
async fn stop_at_once(state: &Shared, backends: &[Arc<dyn Backend>]) {
    let me = wharf_runtime::owner::me();
    let runs: Vec<String> = {
        let store = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        store
            .unfinished_runs()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.status == RunStatus::Running && store.owner(&r.id).ok().flatten().as_deref() == Some(&me))
            .map(|r| r.id)
            .collect()
    };
    for run in runs {
        let now = SystemClock.now_ms();
        let stopped = tokio::time::timeout(
            AT_ONCE,
            stop_leftovers(state, backends, &run, "stopped at once by a second interrupt", now),
        )
        .await;
        let store = &mut *state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match stopped {
            Ok(Ok(done)) if done.left.is_empty() => {
                let _ = store.finish_run(&run, RunStatus::Cancelled, now);
            }
            // Left recorded as running: the next command finds the run
            // abandoned and cleans up after it.
            Ok(Ok(done)) => say!("left running: {}", done.left.join(", ")),
            Ok(Err(e)) => say!("cannot record the stop of run {run}: {e}"),
            Err(_) => say!("stopping run {run} takes too long: the next wharf command cleans up after it"),
        }
    }
}
