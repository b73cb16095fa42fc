//! `wharf why FILE STEP`: would this step come from the cache, and if not,
//! which part of its cache key differs from the last time it ran.

use super::compile_for_use;
use crate::Outcome;
use crate::cli::WhyArgs;
use wharf_runtime::forecast::Verdict;

pub fn run(args: WhyArgs) -> anyhow::Result<Outcome> {
    let Some(compilation) = compile_for_use(&args.file, &args.params)? else {
        return Ok(Outcome::Unusable);
    };
    let pipeline = compilation
        .pipeline
        .as_ref()
        .expect("compile_for_use returns only compiled pipelines");
    let Some(id) = pipeline.steps.iter().position(|s| s.name == args.step) else {
        eprintln!(
            "error[unknown-step]: `{}` has no step `{}`",
            args.file.display(),
            args.step
        );
        if let Some(hint) =
            wharf_compiler::suggest::did_you_mean(&args.step, pipeline.steps.iter().map(|s| s.name.as_str()))
        {
            eprintln!("  = help: {hint}");
        }
        return Ok(Outcome::Unusable);
    };
    let Some(target) = super::select_target(pipeline, args.target.as_deref(), &args.file) else {
        return Ok(Outcome::Unusable);
    };
    let forecasts = match super::forecast::forecast_now(pipeline, target, &args.file, &Default::default())? {
        Ok(forecasts) => forecasts,
        Err(errors) => {
            crate::render::diagnostics::eprint(&compilation.sources, &errors)?;
            return Ok(Outcome::Unusable);
        }
    };
    let Some(f) = forecasts.iter().find(|f| f.step == id) else {
        return Ok(Outcome::Unusable);
    };
    let name = &pipeline.steps[id].name;
    match &f.verdict {
        Verdict::Cached { run, step } if step == name => {
            println!("`{name}` would come from the cache: nothing it depends on changed since run {run}");
        }
        Verdict::Cached { run, step } => {
            println!("`{name}` would come from the cache: it does what `{step}` did in run {run}");
        }
        Verdict::Refused { because } => println!("`{name}` cannot start, so the run would be refused: {because}"),
        Verdict::NotSelected => println!("`{name}` is not selected"),
        Verdict::Skipped { because } => println!("`{name}` would be skipped: {because}"),
        Verdict::Runs { because } => {
            println!("`{name}` would run:");
            for reason in because.split("; ") {
                println!("  - {reason}");
            }
        }
    }
    if let Some(key) = &f.key {
        println!("cache key: {key}");
    }
    Ok(Outcome::Success)
}
