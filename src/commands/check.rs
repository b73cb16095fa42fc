//! `wharf check`: compile every file named (or found below the folders
//! named) and report all diagnostics, as text or JSON.

use super::{collect_files, parse_overrides, report};
use crate::Outcome;
use crate::cli::{CheckArgs, OutputFormat};
use crate::fs_world::FsWorld;
use crate::render::diagnostics::{self, JsonDiagnostic};
use serde::Serialize;
use wharf_compiler::{Options, Severity, SourceMap};

#[derive(Serialize)]
struct JsonReport {
    files: Vec<JsonFile>,
    errors: usize,
    warnings: usize,
}

#[derive(Serialize)]
struct JsonFile {
    path: String,
    ok: bool,
    diagnostics: Vec<JsonDiagnostic>,
}

pub fn run(args: CheckArgs) -> anyhow::Result<Outcome> {
    let files = collect_files(&args.paths)?;
    let params = match parse_overrides(&args.params) {
        Ok(params) => params,
        Err(malformed) => {
            report(&SourceMap::default(), &malformed, args.format)?;
            return Ok(Outcome::Unusable);
        }
    };
    let options = Options {
        params,
        allow_library: true,
        allow_missing_params: true,
        backends: wharf::backends::specs(),
    };
    let (mut errors, mut warnings) = (0, 0);
    let mut report = JsonReport {
        files: Vec::new(),
        errors: 0,
        warnings: 0,
    };
    let color = diagnostics::stderr_color();
    for file in &files {
        let started = std::time::Instant::now();
        let mut compilation = wharf_compiler::compile(&FsWorld, file, &options);
        tracing::debug!(
            file = %file.display(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            steps = compilation.pipeline.as_ref().map_or(0, |p| p.steps.len()),
            diagnostics = compilation.diagnostics.len(),
            "compiled"
        );
        // `check` exits right after: freeing each file's syntax trees and
        // pipeline is work nobody waits for (about a tenth of the time on a
        // large file). The memory is the size of the input, held until exit.
        std::mem::forget(std::mem::take(&mut compilation.modules));
        std::mem::forget(compilation.pipeline.take());
        let list = compilation.diagnostics.sorted();
        let file_errors = list.iter().filter(|d| d.severity == Severity::Error).count();
        errors += file_errors;
        warnings += list.len() - file_errors;
        match args.format {
            OutputFormat::Text => {
                let stderr = std::io::stderr();
                diagnostics::write_text(&mut stderr.lock(), &compilation.sources, &list, color)?;
            }
            OutputFormat::Json => report.files.push(JsonFile {
                path: file.display().to_string(),
                ok: file_errors == 0,
                diagnostics: list
                    .iter()
                    .map(|d| diagnostics::to_json(&compilation.sources, d))
                    .collect(),
            }),
        }
    }
    match args.format {
        OutputFormat::Text => {
            let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
            eprintln!(
                "checked {}: {}, {}",
                plural(files.len(), "file"),
                plural(errors, "error"),
                plural(warnings, "warning")
            );
        }
        OutputFormat::Json => {
            report.errors = errors;
            report.warnings = warnings;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    let fail = errors > 0 || (args.deny.is_some() && warnings > 0);
    Ok(if fail { Outcome::Findings } else { Outcome::Success })
}
