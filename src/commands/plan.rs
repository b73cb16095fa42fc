//! `wharf plan`: the resolved DAG on one target, in execution order.

use super::compile_for_use;
use crate::Outcome;
use crate::cli::{OutputFormat, PlanArgs};
use crate::render::plan;

pub fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let Some(compilation) = compile_for_use(&args.file, &args.params)? else {
        return Ok(Outcome::Unusable);
    };
    let pipeline = compilation
        .pipeline
        .as_ref()
        .expect("compile_for_use returns only compiled pipelines");
    let Some(target) = super::select_target(pipeline, args.target.as_deref(), &args.file) else {
        return Ok(Outcome::Unusable);
    };
    let mut view = plan::build(pipeline, target);
    attach_forecast(&mut view, pipeline, target, &args.file)?;
    match args.format {
        OutputFormat::Text => print!("{}", plan::text(&view)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&view)?),
    }
    Ok(Outcome::Success)
}

/// Says for each step what a run would do now: cached, run (and why), or skipped.
fn attach_forecast(
    view: &mut plan::PlanView,
    pipeline: &wharf_compiler::Pipeline,
    target: &wharf_compiler::pipeline::Target,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    let image_ids = super::docker_image_ids(pipeline, target);
    let project_dir = super::project_dir(file);
    let (store, db) = super::state::open_or_empty()?;
    let host_env = |name: &str| std::env::var(name).ok();
    let forecasts = wharf_runtime::forecast::forecast(
        pipeline,
        &project_dir,
        store.as_ref(),
        &wharf_runtime::artifacts::LocalArtifacts::new(),
        &host_env,
        &image_ids,
        false,
    )
    .map_err(|e| super::state::describe(e, &db))?;
    for f in &forecasts {
        let name = &pipeline.steps[f.step].name;
        if let Some(step) = view.steps.iter_mut().find(|s| &s.name == name) {
            step.decision = Some(plan::CacheView::from_forecast(f));
        }
    }
    Ok(())
}
