//! A `monitor` step: the baseline job run as a processing job, its
//! statistics and constraints downloaded as the step's outputs, then the
//! monitoring schedule put on the deployed endpoint.

use super::job::run_plan;
use super::session::Work;
use crate::jobs::JobPlan;
use crate::monitor;
use crate::poll::{ask, salt_of};
use wharf_compiler::pipeline::KindSpec;
use wharf_compiler::types::StepKind;
use wharf_runtime::backend::{Attempt, Finish};

/// `monitor`: the baseline job, its statistics and constraints fetched as
/// the step's outputs, then the schedule against the deployed endpoint.
pub(super) async fn monitor(
    w: Work<'_>,
    attempt: &Attempt,
    uploaded: &[(String, String, Option<String>)],
) -> Result<Finish, String> {
    let Work {
        inner, polling, log, ..
    } = w;
    let KindSpec::Monitor { schedule, .. } = &attempt.spec else {
        return Err("internal: a monitor step without a monitor spec".into());
    };
    let record_path = attempt
        .inputs
        .iter()
        .find(|(n, _)| n == "endpoint")
        .map(|(_, p)| p.clone())
        .ok_or_else(|| "internal: a monitor step without its endpoint's record".to_string())?;
    let record: serde_json::Value = serde_json::from_str(
        &tokio::fs::read_to_string(&record_path)
            .await
            .map_err(|e| format!("cannot read {}: {e}", record_path.display()))?,
    )
    .map_err(|e| format!("{} is not JSON: {e}", record_path.display()))?;
    if record["backend"] != "sagemaker" {
        return Err(format!(
            "the endpoint it monitors runs on {}; a monitoring schedule watches a SageMaker endpoint, so place its deploy step on SageMaker too",
            record["backend"].as_str().unwrap_or("another backend")
        ));
    }
    let endpoint = record["name"]
        .as_str()
        .ok_or_else(|| format!("{} names no endpoint", record_path.display()))?
        .to_string();
    let image = match &attempt.image {
        Some(image) => image.clone(),
        None => monitor::analyzer_image(&inner.region).ok_or_else(|| {
            format!(
                "SageMaker Model Monitor has no analyzer image wharf knows of in {}; give the step `image = \"...\"`",
                inner.region
            )
        })?,
    };
    let mut base = attempt.clone();
    base.kind = StepKind::Step;
    base.outputs = vec![];
    base.image = Some(image.clone());
    let runs = inner.transfers.location().uri(crate::s3::RUNS);
    let plan = monitor::baseline_plan(JobPlan::new(&base, uploaded, &runs, &inner.role)?, image)?;
    let (plan, following) = match run_plan(w, &base, plan, uploaded).await? {
        Ok(ran) => ran,
        Err(finish) => return Ok(finish),
    };
    if let Some(following) = following {
        following.finish().await;
    }
    let baseline_uri = plan.outputs[0].1.clone();
    for output in ["statistics", "constraints"] {
        let from = format!("{baseline_uri}/{output}.json");
        let dir = attempt.output_dir(output);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        inner
            .transfers
            .download_prefix(&from, &dir, &log.progress(format!("downloading {output}.json")))
            .await
            .map_err(|e| format!("the baseline job wrote no {output}.json ({from}): {e}"))?;
        if !dir.join(format!("{output}.json")).is_file() {
            return Err(format!("the baseline job wrote no {output}.json at {from}"));
        }
    }
    log.line(format!(
        "wharf: baseline statistics and constraints are at {baseline_uri}"
    ))
    .await;
    let name = monitor::schedule_name(&attempt.pipeline, &attempt.step);
    let reports = inner.transfers.location().uri(&format!("wharf/monitoring/{endpoint}"));
    let created = monitor::put_schedule(&inner.sagemaker, &plan, &name, &endpoint, schedule, &reports).await?;
    log.line(format!(
        "wharf: {} monitoring schedule {name} ({schedule}) on endpoint {endpoint}; reports go to {reports}",
        if created { "created" } else { "updated" }
    ))
    .await;
    let salt = salt_of(&name);
    for n in 0..60 {
        let (status, failure) = ask(polling, || monitor::schedule_status(&inner.sagemaker, &name)).await?;
        match status.as_str() {
            "Scheduled" => return Ok(Finish::Succeeded),
            "Failed" => {
                return Ok(Finish::Failed {
                    exit_code: None,
                    reason: format!(
                        "monitoring schedule {name} failed: {}",
                        failure.as_deref().unwrap_or("SageMaker gave no reason")
                    ),
                });
            }
            _ => tokio::time::sleep(polling.delay(n, salt)).await,
        }
    }
    Err(format!("monitoring schedule {name} did not become Scheduled"))
}
