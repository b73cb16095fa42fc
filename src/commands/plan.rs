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
    let view = plan::build(pipeline, target);
    match args.format {
        OutputFormat::Text => print!("{}", plan::text(&view)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&view)?),
    }
    Ok(Outcome::Success)
}
