//! `wharf plan`: the resolved DAG on one target, in execution order.

use super::compile_on_target;
use crate::Outcome;
use crate::cli::{OutputFormat, PlanArgs};
use crate::render::plan;

pub fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let Some(compiled) = compile_on_target(&args.file, &args.params, args.target.as_deref(), args.format)? else {
        return Ok(Outcome::Unusable);
    };
    let (pipeline, target) = (&compiled.pipeline, &compiled.target);
    let mut view = plan::build(pipeline, target);
    let selection = super::forecast::Selection {
        from: args.from.clone(),
        to: args.to.clone(),
        only: args.only.clone(),
        no_cache: args.no_cache,
    };
    let forecasts = match super::forecast::forecast_now(pipeline, target, &args.file, &selection)? {
        Ok(forecasts) => forecasts,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            return Ok(Outcome::Unusable);
        }
    };
    for f in &forecasts {
        let name = &pipeline.steps[f.step].name;
        if let Some(step) = view.steps.iter_mut().find(|s| &s.name == name) {
            step.decision = Some(plan::CacheView::from_forecast(f, name));
        }
    }
    attach_transfers(&mut view, pipeline, target, &args.file);
    match args.format {
        OutputFormat::Text => print!("{}", plan::text(&view)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&view)?),
    }
    Ok(Outcome::Success)
}

/// The data a run would move between this machine and S3: local inputs of
/// steps on SageMaker go up (once, by content: unchanged data is not sent
/// again); outputs of SageMaker steps come down for the run's records and
/// for local steps.
fn attach_transfers(
    view: &mut plan::PlanView,
    pipeline: &wharf_compiler::Pipeline,
    target: &wharf_compiler::pipeline::Target,
    file: &std::path::Path,
) {
    use wharf_compiler::pipeline::InputSource;
    use wharf_compiler::types::BackendKind;
    let project_dir = super::project_dir(file);
    let bucket = match &target.settings.bucket {
        Some(wharf_compiler::pipeline::Setting::Text(b)) => b.trim_end_matches('/').to_string(),
        _ => "the target's bucket".to_string(),
    };
    let on = |id: usize| wharf_compiler::placement::backend_for(target, &pipeline.steps[id]);
    for (id, step) in pipeline.steps.iter().enumerate() {
        let mut transfers = Vec::new();
        if on(id) == BackendKind::Sagemaker {
            use wharf_compiler::pipeline::KindSpec;
            use wharf_compiler::types::StepKind;
            transfers.extend(image_push(pipeline, step));
            let multi_model = matches!(step.spec, KindSpec::Deploy { multi_model: true, .. });
            for input in &step.inputs {
                // A monitor reads its endpoint's record here; it is not sent.
                if step.kind == StepKind::Monitor && input.name == "endpoint" {
                    continue;
                }
                // A served model goes up packed, as SageMaker takes it.
                let packed = input.name == "model"
                    && !multi_model
                    && matches!(step.kind, StepKind::Transform | StepKind::Deploy);
                let to = if packed {
                    format!("packed as model.tar.gz to {bucket}/wharf/models/<content hash>/, unless already there")
                } else {
                    format!("to {bucket}/wharf/data/<content hash>/, unless already there")
                };
                match &input.source {
                    InputSource::Local { path } => transfers.push(plan::TransferView {
                        direction: "upload",
                        what: format!("input `{}` ({path})", input.name),
                        bytes: size_of(&project_dir.join(path)),
                        to,
                    }),
                    InputSource::Output { step: producer, output } => transfers.push(plan::TransferView {
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
                        "from the best training job's model.tar.gz under {bucket}/wharf/runs/<run>/{}/",
                        step.name
                    ),
                    _ => format!("from {bucket}/wharf/runs/<run>/{}/", step.name),
                };
                transfers.push(plan::TransferView {
                    direction: "download",
                    what: format!("output `{}`", output.name),
                    bytes: None,
                    to: format!("{from} to .wharf/"),
                });
            }
        }
        if let Some(view_step) = view.steps.iter_mut().find(|s| s.name == step.name) {
            view_step.transfers = transfers;
        }
    }
}

/// The push to ECR a SageMaker step's image needs: always for a `build`
/// step's image; for a named image that is not an ECR URI, when the image
/// is on this machine at run time (the plan does not ask the engine).
fn image_push(
    pipeline: &wharf_compiler::Pipeline,
    step: &wharf_compiler::pipeline::Step,
) -> Option<plan::TransferView> {
    use wharf_compiler::pipeline::ImageRef;
    let mut current = step;
    for _ in 0..=pipeline.steps.len() {
        match current.image.as_ref()? {
            ImageRef::Built(build) => {
                let build = &pipeline.steps[*build].name;
                let repository = wharf_runtime::backend::docker::build::image_repository(&pipeline.name, build);
                return Some(plan::TransferView {
                    direction: "push",
                    what: format!("the image `{build}` builds"),
                    bytes: None,
                    to: format!("to ECR repository `{repository}`, unless already there"),
                });
            }
            ImageRef::Name(name) if wharf_aws::ecr::is_ecr_uri(name) => return None,
            ImageRef::Name(name) => {
                let repository = wharf_aws::ecr::Destination::of(name, "").ok()?.repository;
                return Some(plan::TransferView {
                    direction: "push",
                    what: format!("image `{name}`"),
                    bytes: None,
                    to: format!("to ECR repository `{repository}`, if it is on this machine and not already there"),
                });
            }
            ImageRef::FromModel(producer) => current = &pipeline.steps[*producer],
        }
    }
    None
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
