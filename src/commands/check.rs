//! `wharf check`: compile every file named (or found below the folders
//! named) and report all diagnostics, as text, JSON, GitHub workflow
//! commands or SARIF.

use super::{collect_files, parse_overrides, report};
use crate::Outcome;
use crate::cli::{CheckArgs, CheckFormat, OutputFormat};
use crate::fs_world::FsWorld;
use crate::render::diagnostics::{self, JsonDiagnostic};
use crate::render::github;
use crate::render::sarif::SarifReport;
use serde::Serialize;
use wharf_compiler::{Diagnostic, Options, Severity, SourceMap};

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
            report_usage(&malformed, args.format)?;
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
    let cwd = std::env::current_dir().ok();
    let mut sarif = SarifReport::new(cwd.clone(), Some(env!("CARGO_PKG_REPOSITORY")));
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
            CheckFormat::Text => {
                let stderr = std::io::stderr();
                diagnostics::write_text(&mut stderr.lock(), &compilation.sources, &list, color)?;
            }
            CheckFormat::Github => {
                let stdout = std::io::stdout();
                github::write(&mut stdout.lock(), &compilation.sources, &list, cwd.as_deref())?;
            }
            CheckFormat::Sarif => sarif.add(&compilation.sources, &list),
            CheckFormat::Json => report.files.push(JsonFile {
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
        // The summary goes to stderr, with github too: stdout holds
        // workflow commands only.
        CheckFormat::Text | CheckFormat::Github => {
            let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
            eprintln!(
                "checked {}: {}, {}",
                plural(files.len(), "file"),
                plural(errors, "error"),
                plural(warnings, "warning")
            );
        }
        CheckFormat::Json => {
            report.errors = errors;
            report.warnings = warnings;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        CheckFormat::Sarif => sarif.finish().write(&mut std::io::stdout().lock())?,
    }
    let fail = errors > 0 || (args.deny.is_some() && warnings > 0);
    Ok(if fail { Outcome::Findings } else { Outcome::Success })
}

/// Diagnostics that stop `check` before it compiles anything (a malformed
/// `-p`), in the format asked for.
fn report_usage(list: &[Diagnostic], format: CheckFormat) -> anyhow::Result<()> {
    let sources = SourceMap::default();
    match format {
        CheckFormat::Text => report(&sources, list, OutputFormat::Text)?,
        CheckFormat::Json => report(&sources, list, OutputFormat::Json)?,
        CheckFormat::Github => github::write(&mut std::io::stdout().lock(), &sources, list, None)?,
        CheckFormat::Sarif => {
            let mut sarif = SarifReport::new(std::env::current_dir().ok(), Some(env!("CARGO_PKG_REPOSITORY")));
            sarif.add(&sources, list);
            sarif.finish().write(&mut std::io::stdout().lock())?;
        }
    }
    Ok(())
}
