//! `wharf plan`: the resolved DAG on one target, in execution order.

use super::compile_on_target;
use crate::Outcome;
use crate::cli::{OutputFormat, PlanArgs};
use crate::render::plan;
use wharf_compiler::placement;
use wharf_runtime::backend::descriptor::Setup;

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
            super::report(&compiled.sources, &errors, args.format)?;
            return Ok(Outcome::Unusable);
        }
    };
    // By name through a map: a search of the view per step made the plan
    // of 100,000 steps take minutes.
    let index = view_index(&view);
    for f in &forecasts {
        let name = &pipeline.steps[f.step].name;
        if let Some(&i) = index.get(name.as_str()) {
            view.steps[i].decision = Some(plan::CacheView::from_forecast(f, name));
        }
    }
    attach_transfers(&mut view, pipeline, target, &args.file);
    match args.format {
        OutputFormat::Text => print!("{}", plan::text(&view)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&view)?),
    }
    Ok(Outcome::Success)
}

/// What a run would move for each step (uploads, downloads, image pushes),
/// as its backend's descriptor says.
fn attach_transfers(
    view: &mut plan::PlanView,
    pipeline: &wharf_compiler::Pipeline,
    target: &wharf_compiler::pipeline::Target,
    file: &std::path::Path,
) {
    let project_dir = super::project_dir(file);
    let setup = Setup {
        project_dir: &project_dir,
        state_dir: super::state::state_dir(),
        grace: None,
        pipeline,
        target,
    };
    let index = view_index(view);
    for (id, step) in pipeline.steps.iter().enumerate() {
        let Some(descriptor) = wharf::backends::find(placement::backend_for(target, step)) else {
            continue;
        };
        let transfers = descriptor.transfers(&setup, id);
        if let Some(&i) = index.get(step.name.as_str()) {
            view.steps[i].transfers = transfers.into_iter().map(plan::TransferView::from).collect();
        }
    }
}

/// Step name -> its place in the view.
fn view_index(view: &plan::PlanView) -> std::collections::HashMap<String, usize> {
    view.steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i))
        .collect()
}
