//! `wharf why FILE STEP`: would this step come from the cache, and if not,
//! which part of its cache key differs from the last time it ran.

use super::{compile_on_target, report};
use crate::Outcome;
use crate::cli::{OutputFormat, WhyArgs};
use wharf_compiler::{Code, Diagnostic};
use wharf_runtime::forecast::Verdict;

pub fn run(args: WhyArgs) -> anyhow::Result<Outcome> {
    let Some(compiled) = compile_on_target(&args.file, &args.params, args.target.as_deref(), OutputFormat::Text)?
    else {
        return Ok(Outcome::Unusable);
    };
    let (pipeline, target) = (&compiled.pipeline, &compiled.target);
    let Some(id) = pipeline.steps.iter().position(|s| s.name == args.step) else {
        let unknown = Diagnostic::error(
            Code::UnknownStep,
            None,
            format!("`{}` has no step `{}`", args.file.display(), args.step),
        )
        .with_hint_opt(wharf_compiler::suggest::did_you_mean(
            &args.step,
            pipeline.steps.iter().map(|s| s.name.as_str()),
        ));
        report(&compiled.sources, &[unknown], OutputFormat::Text)?;
        return Ok(Outcome::Unusable);
    };
    let forecasts = match super::forecast::forecast_now(pipeline, target, &args.file, &Default::default())? {
        Ok(forecasts) => forecasts,
        Err(errors) => {
            super::report(&compiled.sources, &errors, OutputFormat::Text)?;
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
