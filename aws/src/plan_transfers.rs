//! What a run would move for a step on SageMaker, for `wharf plan`: local
//! inputs go up (once, by content: unchanged data is not sent again, and
//! of a changed folder only the changed files; the plan does not ask S3,
//! so the bytes it gives are the input's, the most the run can send),
//! outputs come down for the run's records and for local steps, and local
//! images are pushed to ECR. The S3 key layout it names is this crate's.

use crate::s3::{DATA, MODELS, RUNS};
use wharf_compiler::pipeline::{ImageRef, InputSource, KindSpec, StepId};
use wharf_compiler::types::StepKind;
use wharf_runtime::backend::descriptor::{Setup, Transfer};

pub fn transfers(setup: &Setup<'_>, id: StepId) -> Vec<Transfer> {
    let (pipeline, step) = (setup.pipeline, &setup.pipeline.steps[id]);
    let bucket = match setup.target.settings.text("bucket") {
        Some(b) => b.trim_end_matches('/').to_string(),
        None => "the target's bucket".to_string(),
    };
    let mut transfers = Vec::new();
    transfers.extend(image_push(setup, id));
    let multi_model = matches!(step.spec, KindSpec::Deploy { multi_model: true, .. });
    for input in &step.inputs {
        // A monitor reads its endpoint's record here; it is not sent.
        if step.kind == StepKind::Monitor && input.name == "endpoint" {
            continue;
        }
        // A served model goes up packed, as SageMaker takes it.
        let packed =
            input.name == "model" && !multi_model && matches!(step.kind, StepKind::Transform | StepKind::Deploy);
        let to = if packed {
            format!("packed as model.tar.gz to {bucket}/{MODELS}/<content hash>/, unless already there")
        } else {
            format!("to {bucket}/{DATA}/<content hash>/, sending only files not already in its last snapshot")
        };
        match &input.source {
            InputSource::Local { path } => {
                let local = setup.project_dir.join(path);
                let what = match files_in(&local) {
                    Some(files) if local.is_dir() => format!("input `{}` ({path}, {files} files)", input.name),
                    _ => format!("input `{}` ({path})", input.name),
                };
                transfers.push(Transfer {
                    direction: "upload",
                    what,
                    bytes: size_of(&local),
                    to,
                })
            }
            InputSource::Output { step: producer, output } => transfers.push(Transfer {
                direction: "upload",
                what: format!("input `{}` ({}.{output})", input.name, pipeline.steps[*producer].name),
                bytes: None,
                to,
            }),
            _ => {}
        }
    }
    for output in &step.outputs {
        // Records wharf writes itself are not downloaded.
        let written_here = matches!(
            (step.kind, output.name.as_str()),
            (StepKind::Deploy, "endpoint") | (StepKind::Tune, "best")
        );
        if written_here {
            continue;
        }
        let from = match step.kind {
            StepKind::Tune => format!(
                "from the best training job's model.tar.gz under {bucket}/{RUNS}/<run>/{}/",
                step.name
            ),
            _ => format!("from {bucket}/{RUNS}/<run>/{}/", step.name),
        };
        transfers.push(Transfer {
            direction: "download",
            what: format!("output `{}`", output.name),
            bytes: None,
            to: format!("{from} to .wharf/"),
        });
    }
    transfers
}

/// The push to ECR a step's image needs: always for a `build` step's
/// image; for a named image that is not an ECR URI, when the image is on
/// this machine at run time (the plan does not ask the engine).
fn image_push(setup: &Setup<'_>, id: StepId) -> Option<Transfer> {
    let pipeline = setup.pipeline;
    match pipeline.image_source(id)? {
        ImageRef::Built(build) => {
            let build = &pipeline.steps[*build].name;
            let repository = wharf_runtime::backend::docker::build::image_repository(&pipeline.name, build);
            Some(Transfer {
                direction: "push",
                what: format!("the image `{build}` builds"),
                bytes: None,
                to: format!("to ECR repository `{repository}`, unless already there"),
            })
        }
        ImageRef::Name(name) if crate::ecr::is_ecr_uri(name) => None,
        ImageRef::Name(name) => {
            let repository = crate::ecr::Destination::of(name, "").ok()?.repository;
            Some(Transfer {
                direction: "push",
                what: format!("image `{name}`"),
                bytes: None,
                to: format!("to ECR repository `{repository}`, if it is on this machine and not already there"),
            })
        }
        ImageRef::FromModel(_) => None,
    }
}

/// Bytes of a file or folder, without reading it.
fn size_of(path: &std::path::Path) -> Option<u64> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return Some(meta.len());
    }
    let mut total = 0;
    for entry in std::fs::read_dir(path).ok()? {
        total += size_of(&entry.ok()?.path())?;
    }
    Some(total)
}

/// Files in a folder (recursively), without reading them.
fn files_in(path: &std::path::Path) -> Option<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(path).ok()? {
        let entry = entry.ok()?;
        count += if entry.file_type().ok()?.is_dir() {
            files_in(&entry.path())?
        } else {
            1
        };
    }
    Some(count)
}
