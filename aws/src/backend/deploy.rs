//! A `deploy` step: the Model and the EndpointConfig of the attempt, the
//! endpoint created or updated in place, and waited for until InService
//! (or, for a failed or cancelled one, until it is gone).

use super::outputs::write_json;
use super::session::{Inner, Work};
use crate::jobs::{self, JobPlan};
use crate::poll::{Polling, ask, salt_of};
use crate::serving;
use crate::step_log::Log;
use aws_sdk_sagemaker::types as sm;
use serde_json::json;
use std::time::Duration;
use wharf_compiler::pipeline::KindSpec;
use wharf_compiler::types::StepKind;
use wharf_runtime::backend::{Attempt, Finish};

/// `deploy`: the Model and an EndpointConfig for this attempt, then the
/// endpoint created, or updated in place to the new configuration, and
/// waited for until InService. `endpoint.json` records it.
pub(super) async fn deploy(
    w: Work<'_>,
    attempt: &Attempt,
    uploaded: &[(String, String, Option<String>)],
) -> Result<Finish, String> {
    let Work {
        inner,
        polling,
        job,
        log,
        ..
    } = w;
    let KindSpec::Deploy {
        endpoint,
        multi_model,
        data_capture,
        ..
    } = &attempt.spec
    else {
        return Err("internal: a deploy step without a deploy spec".into());
    };
    let image = attempt
        .image
        .clone()
        .ok_or_else(|| format!("step `{}` has no image to serve with", attempt.step))?;
    let (_, prefix, file) = uploaded
        .iter()
        .find(|(n, _, _)| n == "model")
        .ok_or_else(|| "a deploy step needs its `model` input".to_string())?;
    let prefix = prefix.trim_end_matches('/');
    let model_data = match (file, multi_model) {
        (_, true) => format!("{prefix}/"),
        (Some(f), false) => format!("{prefix}/{f}"),
        (None, false) => {
            return Err(format!(
                "the model {prefix} is a prefix; a single-model endpoint serves one model.tar.gz"
            ));
        }
    };
    let name = serving::endpoint_name(&attempt.pipeline, &attempt.step, endpoint.as_deref());
    let resource =
        wharf_runtime::backend::contract::job_name(&attempt.pipeline, &attempt.step, &attempt.run, attempt.attempt);
    let runs = inner.transfers.location().uri(crate::s3::RUNS);
    let tags = JobPlan::new(attempt, uploaded, &runs, &inner.role)?.tags();
    let environment = serving::serving_environment(&attempt.env);
    serving::create_model(
        &inner.sagemaker,
        &resource,
        &image,
        &model_data,
        *multi_model,
        &environment,
        &inner.role,
        tags.clone(),
    )
    .await?;
    let capture = data_capture.then(|| inner.transfers.location().uri(&format!("wharf/capture/{name}")));
    serving::create_endpoint_config(
        &inner.sagemaker,
        &resource,
        &attempt.instance,
        capture.as_deref(),
        tags.clone(),
    )
    .await?;
    let current = ask(polling, || serving::describe_endpoint(&inner.sagemaker, &name)).await?;
    let client = &inner.sagemaker;
    match &current {
        Some(state) if state.config.as_deref() == Some(resource.as_str()) => {
            log.line(format!("wharf: endpoint {name} already runs configuration {resource}"))
                .await;
        }
        Some(state) if state.status == "Failed" => {
            log.line(format!(
                "wharf: endpoint {name} had failed; deleting it and creating it again"
            ))
            .await;
            client
                .delete_endpoint()
                .endpoint_name(&name)
                .send()
                .await
                .map_err(|e| format!("cannot delete failed endpoint {name}: {}", jobs::classify(&e).1))?;
            wait_endpoint_gone(inner, polling, &name).await?;
            create_endpoint(inner, &name, &resource, tags).await?;
            *job.lock().await = Some((StepKind::Deploy, name.clone()));
            log.line(format!("wharf: created endpoint {name} ({resource})")).await;
        }
        Some(_) => {
            // An endpoint only takes an update once it is InService.
            wait_endpoint(inner, polling, &name, log).await?;
            client
                .update_endpoint()
                .endpoint_name(&name)
                .endpoint_config_name(&resource)
                .send()
                .await
                .map_err(|e| format!("cannot update endpoint {name}: {}", jobs::classify(&e).1))?;
            log.line(format!("wharf: updating endpoint {name} to configuration {resource}"))
                .await;
        }
        None => {
            create_endpoint(inner, &name, &resource, tags).await?;
            *job.lock().await = Some((StepKind::Deploy, name.clone()));
            log.line(format!(
                "wharf: created endpoint {name} ({resource}) on {}",
                attempt.instance
            ))
            .await;
        }
    }
    let state = match wait_endpoint(inner, polling, &name, log).await {
        Ok(state) => state,
        Err(reason) => {
            return Ok(Finish::Failed {
                exit_code: None,
                reason,
            });
        }
    };
    *job.lock().await = None;
    let region = inner.region.clone();
    let record = json!({
        "name": name,
        "backend": "sagemaker",
        "arn": state.arn,
        "region": region,
        "config": resource,
        "model": resource,
        "model_data": model_data,
        "image": image,
        "multi_model": multi_model,
        "data_capture": capture,
        "invocations": format!("https://runtime.sagemaker.{region}.amazonaws.com/endpoints/{name}/invocations"),
    });
    write_json(&attempt.output_dir("endpoint"), "endpoint.json", &record).await?;
    Ok(Finish::Succeeded)
}

async fn create_endpoint(inner: &Inner, name: &str, config: &str, tags: Vec<sm::Tag>) -> Result<(), String> {
    inner
        .sagemaker
        .create_endpoint()
        .endpoint_name(name)
        .endpoint_config_name(config)
        .set_tags(Some(tags))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot create endpoint {name}: {}", jobs::classify(&e).1))
}

/// Waits until the endpoint is InService; `Err` with its FailureReason when it failed.
async fn wait_endpoint(
    inner: &Inner,
    polling: Polling,
    name: &str,
    log: &Log,
) -> Result<serving::EndpointState, String> {
    let salt = salt_of(name);
    let mut last = String::new();
    for n in 0.. {
        let state = ask(polling, || serving::describe_endpoint(&inner.sagemaker, name))
            .await?
            .ok_or_else(|| format!("endpoint {name} has disappeared"))?;
        if state.status != last {
            log.line(format!("wharf: endpoint {name} is {}", state.status)).await;
            last = state.status.clone();
        }
        match state.status.as_str() {
            "InService" => return Ok(state),
            "Failed" | "OutOfService" | "Deleting" => {
                return Err(format!(
                    "endpoint {name} is {}: {}",
                    state.status,
                    state.failure.as_deref().unwrap_or("SageMaker gave no reason")
                ));
            }
            _ => tokio::time::sleep(polling.delay(n, salt)).await,
        }
    }
    unreachable!("the loop above only ends by returning")
}

pub(super) async fn wait_endpoint_gone(inner: &Inner, polling: Polling, name: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(900);
    let mut n = 0;
    while tokio::time::Instant::now() < deadline {
        if ask(polling, || serving::describe_endpoint(&inner.sagemaker, name))
            .await?
            .is_none()
        {
            return Ok(());
        }
        tokio::time::sleep(polling.delay(n, 3)).await;
        n += 1;
    }
    Err(format!("endpoint {name} is still being deleted after 15 minutes"))
}
