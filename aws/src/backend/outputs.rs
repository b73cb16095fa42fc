//! A finished job's outputs, downloaded into the attempt's output folders
//! (`model.tar.gz` unpacked, a tuning job's best model and record), with
//! where each came from remembered for later steps of the run.

use super::session::{Inner, Origin};
use crate::jobs::JobPlan;
use crate::step_log::Log;
use crate::tuning;
use wharf_compiler::types::StepKind;
use wharf_runtime::backend::Attempt;
use wharf_runtime::size::human_bytes;

pub(super) async fn write_json(dir: &std::path::Path, file: &str, value: &serde_json::Value) -> Result<(), String> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(file);
    tokio::fs::write(&path, format!("{value:#}\n"))
        .await
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Downloads a finished job's outputs into the attempt's output folders.
pub(super) async fn collect(inner: &Inner, attempt: &Attempt, plan: &JobPlan, log: &Log) -> Result<(), String> {
    let t = &inner.transfers;
    if plan.kind == StepKind::Tune {
        let (best, record) = tuning::best_training_job(&inner.sagemaker, plan).await?;
        let uri = plan.best_model_uri(&best);
        let got = t
            .download_and_unpack(
                &uri,
                &attempt.output_dir("model"),
                &log.progress("downloading the best model".into()),
            )
            .await
            .map_err(|e| format!("cannot fetch the model of the best training job {best}: {e}"))?;
        log.line(format!(
            "wharf: best training job {best} ({}); downloaded {uri} ({})",
            record["objective"],
            human_bytes(got.bytes)
        ))
        .await;
        inner.remember(attempt.output_dir("model"), Origin::Archive(uri));
        return write_json(&attempt.output_dir("best"), "best.json", &record).await;
    }
    if plan.kind == StepKind::Train {
        let model = attempt.output_dir("model");
        let got = t
            .download_and_unpack(&plan.model_uri(), &model, &log.progress("downloading the model".into()))
            .await
            .map_err(|e| format!("cannot fetch the model the job wrote: {e}"))?;
        log.line(format!(
            "wharf: downloaded {} ({})",
            plan.model_uri(),
            human_bytes(got.bytes)
        ))
        .await;
        inner.remember(model.clone(), Origin::Archive(plan.model_uri()));
        let data = attempt.output_dir("output");
        if t.exists(&plan.output_uri()).await.unwrap_or(false) {
            t.download_and_unpack(
                &plan.output_uri(),
                &data,
                &log.progress("downloading the output data".into()),
            )
            .await?;
        } else {
            tokio::fs::create_dir_all(&data).await.map_err(|e| e.to_string())?;
        }
        // Other outputs of a train step are folders in its output data.
        for name in attempt.outputs.iter().filter(|n| *n != "model" && *n != "output") {
            let from = data.join(name);
            let to = attempt.output_dir(name);
            if from.is_dir() {
                let (f, d) = (from.clone(), to.clone());
                tokio::task::spawn_blocking(move || wharf_runtime::export::replace_with_copy(&f, &d))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("cannot collect output `{name}`: {e}"))?;
            }
        }
    } else {
        for (name, uri, _) in &plan.outputs {
            let got = t
                .download_prefix(
                    &format!("{uri}/"),
                    &attempt.output_dir(name),
                    &log.progress(format!("downloading output `{name}`")),
                )
                .await?;
            log.line(if got.skipped_files > 0 {
                format!(
                    "wharf: downloaded output `{name}` ({} files, {}; {} already here)",
                    got.files,
                    human_bytes(got.bytes),
                    got.skipped_files
                )
            } else {
                format!(
                    "wharf: downloaded output `{name}` ({} files, {})",
                    got.files,
                    human_bytes(got.bytes)
                )
            })
            .await;
            inner.remember(attempt.output_dir(name), Origin::Prefix(format!("{uri}/")));
        }
    }
    Ok(())
}
