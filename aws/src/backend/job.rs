//! An attempt's job: created, or re-attached to when a job of this run and
//! step still runs (a resumed run), then followed to its end; its name and
//! what SageMaker calls it.

use super::session::{Inner, Work};
use super::wait::wait_for_end;
use crate::jobs::{self, JobPlan, JobState};
use aws_sdk_sagemaker::types as sm;
use wharf_compiler::types::StepKind;
use wharf_runtime::backend::{Attempt, Finish};

/// What SageMaker calls a kind's job, for people.
pub(super) fn job_noun(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Train => "training job",
        StepKind::Tune => "hyperparameter tuning job",
        StepKind::Transform => "batch transform job",
        _ => "processing job",
    }
}

/// Creates the plan's job (or re-attaches to one of this run and step that
/// is still running) and waits for it to end. `Ok(Err(finish))` is a job
/// that ended otherwise than Completed.
pub(super) async fn run_plan(
    w: Work<'_>,
    attempt: &Attempt,
    mut plan: JobPlan,
    uploaded: &[(String, String, Option<String>)],
) -> Result<Result<(JobPlan, Option<crate::logs::Following>), Finish>, String> {
    let Work {
        inner,
        polling,
        job,
        log,
        follow_logs,
    } = w;
    let kind = plan.kind;
    // A job of this run and step that is still running (a resumed run
    // after wharf was killed) is taken over, not started twice. Only a later
    // attempt can find one: a first attempt goes straight to Create, which
    // saves two round trips per step of a fresh run.
    let reattach = if attempt.attempt > 1 && plan.name == job_name_for(attempt, kind, attempt.attempt) {
        running_job_of(inner, attempt, kind).await
    } else {
        None
    };
    if let Some((name, number)) = reattach {
        let mut earlier = attempt.clone();
        earlier.attempt = number;
        let runs = inner.transfers.location().uri(crate::s3::RUNS);
        let again = JobPlan::new(&earlier, uploaded, &runs, &inner.role)?;
        plan.output_path = again.output_path;
        plan.outputs = again.outputs;
        plan.name = name;
        record_job(attempt, kind, &plan.name, None).await;
        log.line(format!(
            "wharf: re-attached to SageMaker job {}, still running",
            plan.name
        ))
        .await;
    } else {
        match plan.create(&inner.sagemaker).await {
            Ok(arn) => {
                record_job(attempt, kind, &plan.name, arn.as_deref()).await;
                log.line(format!(
                    "wharf: created SageMaker {} {} on {}",
                    job_noun(kind),
                    plan.name,
                    plan.instance
                ))
                .await
            }
            // This very job exists already (its name is the attempt's): follow it.
            Err(e)
                if ["already exist", "ResourceInUse", "must be unique"]
                    .iter()
                    .any(|m| e.contains(m)) =>
            {
                match jobs::describe(&inner.sagemaker, kind, &plan.name).await {
                    Ok(JobState::Missing) | Err(_) => return Err(e),
                    Ok(_) => {
                        record_job(attempt, kind, &plan.name, None).await;
                        log.line(format!("wharf: re-attached to SageMaker job {}", plan.name))
                            .await
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    *job.lock().await = Some((kind, plan.name.clone()));
    let following = follow_logs
        .then(|| inner.logs.follow(kind, &plan.name, log.clone()))
        .flatten();
    let state = wait_for_end(inner, polling, kind, &plan.name, &attempt.run, log).await?;
    *job.lock().await = None;
    if state != JobState::Completed
        && let Some(following) = following
    {
        following.finish().await;
        return Ok(Err(finish_of(&plan.name, state)?));
    }
    Ok(match state {
        JobState::Completed => Ok((plan, following)),
        other => Err(finish_of(&plan.name, other)?),
    })
}

/// How a job that ended otherwise than Completed ends its step.
/// Writes [`super::JOB_RECORD`] beside the attempt's log. A file that
/// cannot be written costs the report its link, not the job.
async fn record_job(attempt: &Attempt, kind: StepKind, name: &str, arn: Option<&str>) {
    let record = serde_json::json!({
        "type": job_noun(kind).replace(' ', "-"),
        "name": name,
        "arn": arn,
    });
    let _ = tokio::fs::write(
        attempt.log_path.with_file_name(super::JOB_RECORD),
        format!("{record}\n"),
    )
    .await;
}

fn finish_of(name: &str, state: JobState) -> Result<Finish, String> {
    match state {
        JobState::Failed(reason) => Ok(Finish::Failed {
            exit_code: None,
            reason,
        }),
        JobState::Stopped => Ok(Finish::Failed {
            exit_code: None,
            reason: format!("SageMaker job {name} was stopped outside wharf"),
        }),
        other => Err(format!("internal: job {name} ended as {other:?}")),
    }
}

/// The name attempt `number` of this step's job has.
pub(super) fn job_name_for(attempt: &Attempt, kind: StepKind, number: u32) -> String {
    match kind {
        StepKind::Tune => jobs::tuning_job_name(&attempt.pipeline, &attempt.step, &attempt.run, number),
        _ => wharf_runtime::backend::contract::job_name(&attempt.pipeline, &attempt.step, &attempt.run, number),
    }
}

/// A running job of this run and step from another attempt, with its attempt number.
async fn running_job_of(inner: &Inner, attempt: &Attempt, kind: StepKind) -> Option<(String, u32)> {
    let prefix = job_name_for(attempt, kind, 0);
    let prefix = prefix.strip_suffix("-0")?.to_string();
    let c = &inner.sagemaker;
    let names: Vec<String> = match kind {
        StepKind::Train => c
            .list_training_jobs()
            .name_contains(&prefix)
            .status_equals(sm::TrainingJobStatus::InProgress)
            .send()
            .await
            .ok()?
            .training_job_summaries()
            .iter()
            .filter_map(|s| s.training_job_name().map(str::to_string))
            .collect(),
        StepKind::Tune => c
            .list_hyper_parameter_tuning_jobs()
            .name_contains(&prefix)
            .status_equals(sm::HyperParameterTuningJobStatus::InProgress)
            .send()
            .await
            .ok()?
            .hyper_parameter_tuning_job_summaries()
            .iter()
            .filter_map(|s| s.hyper_parameter_tuning_job_name().map(str::to_string))
            .collect(),
        StepKind::Transform => c
            .list_transform_jobs()
            .name_contains(&prefix)
            .status_equals(sm::TransformJobStatus::InProgress)
            .send()
            .await
            .ok()?
            .transform_job_summaries()
            .iter()
            .filter_map(|s| s.transform_job_name().map(str::to_string))
            .collect(),
        _ => c
            .list_processing_jobs()
            .name_contains(&prefix)
            .status_equals(sm::ProcessingJobStatus::InProgress)
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
