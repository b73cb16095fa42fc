//! Cleaning up after abandoned runs (runs whose wharf process is gone:
//! `wharf_runtime::abandoned`), as every command that opens the state
//! does: `run` with the backends of its target, `runs`, `show`, `logs` and
//! `stop` with the ones that need no pipeline (process groups, and Docker
//! when an abandoned run used it: each descriptor says whether it can). What was stopped is said on stderr.

use super::state::state_dir;

use std::sync::{Arc, Mutex};
use wharf::backends::REGISTRY;
use wharf_runtime::abandoned::{self, CleanUp};
use wharf_runtime::backend::Backend;
use wharf_runtime::state::{StateError, StateStore};

pub type Shared = Arc<Mutex<Box<dyn StateStore>>>;

/// The runs a gone wharf left, other than `except` (a run being resumed:
/// `--resume` takes its leftovers over itself).
pub fn find(store: &dyn StateStore, except: Option<&str>) -> Result<Vec<String>, StateError> {
    Ok(abandoned::find(store, state_dir())?
        .into_iter()
        .map(|r| r.id)
        .filter(|id| Some(id.as_str()) != except)
        .collect())
}

/// Cleans up after each of `runs` with `backends` and says what was done.
pub async fn clean_up(state: &Shared, backends: &[Arc<dyn Backend>], runs: &[String]) -> Vec<CleanUp> {
    let mut done = Vec::new();
    for run in runs {
        let now = wharf_runtime::clock::Clock::now_ms(&wharf_runtime::clock::SystemClock);
        match abandoned::clean_up(state, state_dir(), backends, run, now).await {
            Ok(Some(cleaned)) => {
                report(&cleaned);
                done.push(cleaned);
            }
            Ok(None) => {}
            Err(e) => say!("warning: cannot record the clean-up after abandoned run {run}: {e}"),
        }
    }
    done
}

fn report(cleaned: &CleanUp) {
    let stopped = if cleaned.stopped.is_empty() {
        "it left nothing running".to_string()
    } else {
        format!("stopped what it left running: {}", cleaned.stopped.join(", "))
    };
    say!(
        "run {} was abandoned (the wharf process running it is gone); {stopped}",
        cleaned.run
    );
    for left in &cleaned.left {
        say!(
            "  still running: {left} (`wharf run --resume {}` takes it over; a run on that target stops it)",
            cleaned.run
        );
    }
}

/// The backends a command without a pipeline can clean up with: each one
/// that can be built without a target's settings (processes, Docker) and
/// that one of `runs` placed a step on.
pub fn local_backends(
    store: &dyn StateStore,
    runs: &[String],
    runtime: &tokio::runtime::Runtime,
) -> Vec<Arc<dyn Backend>> {
    let mut backends = Vec::new();
    for descriptor in REGISTRY {
        let kind = descriptor.kind().as_str();
        let used = runs.iter().any(|run| {
            store
                .steps(run)
                .is_ok_and(|steps| steps.iter().any(|s| s.backend == kind))
        });
        let Some(build) = descriptor.build_for_clean_up(state_dir()).filter(|_| used) else {
            continue;
        };
        match runtime.block_on(build) {
            Ok(backend) => backends.push(backend),
            Err(e) => say!("warning: an abandoned run has steps on {kind}, but {e}: what it left there is left"),
        }
    }
    backends
}
