//! Waiting for a job: until it ends (told by the watcher, or on the poll's
//! backoff), and, on cancel or timeout, until it has stopped.

use super::deploy::wait_endpoint_gone;
use super::session::Inner;
use crate::jobs::{self, JobState};
use crate::poll::{Polling, salt_of};
use crate::step_log::Log;
use crate::watch::{self, Wake};
use std::time::Duration;
use wharf_compiler::types::StepKind;

/// Waits until the job ends: described when the backend's watcher sees it
/// end (or, unwatched, on the poll's backoff). Throttling backs off and is
/// never a failure; other errors are retried a few times.
pub(super) async fn wait_for_end(
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

/// Cancel and timeout: Stop* (throttling waited out), then wait (up to ten
/// minutes) until the job has stopped.
pub(super) async fn stop_and_wait(
    inner: &Inner,
    polling: Polling,
    job: &tokio::sync::Mutex<Option<(StepKind, String)>>,
) {
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
