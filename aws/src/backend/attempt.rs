//! One attempt's course on SageMaker: its image pushed to ECR when local,
//! its inputs uploaded, then its job run (or its endpoint deployed, or its
//! monitoring schedule put) and its outputs downloaded.

use super::deploy::deploy;
use super::inputs::upload_inputs;
use super::job::run_plan;
use super::monitoring::monitor;
use super::outputs::collect;
use super::session::{Inner, Work};
use crate::jobs::JobPlan;
use crate::poll::Polling;
use crate::step_log::Log;
use std::sync::Arc;
use wharf_compiler::types::StepKind;
use wharf_runtime::backend::{Attempt, Finish};

/// The whole life of one attempt's job.
pub(super) async fn run_job(
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
    let runs = inner.transfers.location().uri(crate::s3::RUNS);
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
