//! `wharf plan`: the resolved DAG on one target, in execution order.

use super::compile_for_use;
use crate::Outcome;
use crate::cli::{OutputFormat, PlanArgs};
use crate::render::plan;
use wharf_compiler::placement;
use wharf_compiler::suggest::did_you_mean;

pub fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let Some(compilation) = compile_for_use(&args.file, &args.params)? else {
        return Ok(Outcome::Unusable);
    };
    let pipeline = compilation
        .pipeline
        .as_ref()
        .expect("compile_for_use returns only compiled pipelines");
    let target = match &args.target {
        Some(name) => match pipeline.target(name) {
            Some(t) => t,
            None => {
                let names: Vec<&str> = pipeline
                    .targets
                    .iter()
                    .filter(|t| !t.implicit)
                    .map(|t| t.name.as_str())
                    .collect();
                eprintln!(
                    "error[unknown-target]: `{}` declares no target `{name}`",
                    args.file.display()
                );
                match did_you_mean(name, names.iter().copied()) {
                    Some(hint) => eprintln!("  = help: {hint}"),
                    None if names.is_empty() => {
                        eprintln!("  = help: the file declares no targets; omit --target to use the process backend")
                    }
                    None => eprintln!("  = help: its targets are {}", names.join(", ")),
                }
                return Ok(Outcome::Unusable);
            }
        },
        None => placement::default_target(pipeline).expect("a pipeline always has at least the implicit target"),
    };
    let mut view = plan::build(pipeline, target);
    attach_forecast(&mut view, pipeline, &args.file)?;
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
    file: &std::path::Path,
) -> anyhow::Result<()> {
    use std::path::Path;
    use wharf_runtime::state::{SqliteStore, StateStore};
    let project_dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    // Planning never creates the state database: with none, nothing has run yet.
    let dir = Path::new(super::state::STATE_DIR);
    let db = dir.join("state.db");
    let store: Box<dyn StateStore> = if db.is_file() {
        Box::new(SqliteStore::open(dir).map_err(|e| super::state::describe(e, &db))?)
    } else {
        Box::new(SqliteStore::open_in_memory().map_err(|e| super::state::describe(e, &db))?)
    };
    let host_env = |name: &str| std::env::var(name).ok();
    let forecasts = wharf_runtime::forecast::forecast(
        pipeline,
        &project_dir,
        store.as_ref(),
        &wharf_runtime::artifacts::LocalArtifacts::new(),
        &host_env,
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
