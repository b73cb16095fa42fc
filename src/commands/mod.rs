//! One module per command, all on the same small helpers: compile a file
//! and pick its target, show diagnostics as text or JSON, parse `-p`
//! overrides; the history commands share
//! `state.rs`, which opens and reads `.wharf/state.db`.

mod abandoned;
mod check;
mod completions;
mod endpoints;
mod fmt;
mod forecast;
mod graph;
mod init;
mod interrupt;
mod logs;
mod man;
pub mod metrics;
mod plan;
mod resume;
mod run;
mod runs;
mod show;
pub mod state;
mod whereabouts;
mod why;

use crate::Outcome;
use crate::cli::{Command, OutputFormat};
use crate::fs_world::FsWorld;
use crate::render::diagnostics;
use std::path::{Path, PathBuf};
use wharf_compiler::pipeline::{Pipeline, Target};
use wharf_compiler::{Code, Diagnostic, Options, SourceMap};

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Check(args) => check::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Runs(args) => runs::run(args),
        Command::Show(args) => show::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Metrics(args) => metrics::run(args),
        Command::Run(args) => run::run(args),
        Command::Why(args) => why::run(args),
        Command::Endpoints(args) => endpoints::run(args),
        Command::Stop(args) => endpoints::stop(args),
        Command::Init(args) => init::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}

/// Splits `-p NAME=VALUE` arguments; each malformed one is an
/// `invalid-override` diagnostic (a usage error).
pub fn parse_overrides(raw: &[String]) -> Result<Vec<(String, String)>, Vec<Diagnostic>> {
    let mut overrides = Vec::new();
    let mut malformed = Vec::new();
    for item in raw {
        match item.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                overrides.push((name.trim().to_string(), value.to_string()))
            }
            _ => malformed.push(
                Diagnostic::error(Code::InvalidOverride, None, format!("`-p {item}` is not NAME=VALUE"))
                    .with_hint("for example `-p max_depth=8`"),
            ),
        }
    }
    if malformed.is_empty() {
        Ok(overrides)
    } else {
        Err(malformed)
    }
}

/// A pipeline compiled for a command, and the target the command works on.
pub struct Compiled {
    pub pipeline: Pipeline,
    pub target: Target,
    /// The `-p` overrides it was compiled with.
    pub overrides: Vec<(String, String)>,
    pub sources: SourceMap,
}

/// The start of every command that works on one pipeline: parse the `-p`
/// overrides, compile the file, pick the target (`--target NAME`, or the
/// default one). Diagnostics are shown as `format` asks (`report`); a
/// pipeline that compiled shows its warnings as text on stderr, stdout
/// being the command's. `None`: the command cannot go on (exit 2).
pub fn compile_on_target(
    file: &Path,
    params: &[String],
    target: Option<&str>,
    format: OutputFormat,
) -> anyhow::Result<Option<Compiled>> {
    Ok(compile_on_target_or(file, params, target, format)?.ok())
}

/// [`compile_on_target`], with the errors that stopped it as one line
/// each (`error[code]: message`), for a command's own report of them.
pub fn compile_on_target_or(
    file: &Path,
    params: &[String],
    target: Option<&str>,
    format: OutputFormat,
) -> anyhow::Result<Result<Compiled, Vec<String>>> {
    let overrides = match parse_overrides(params) {
        Ok(overrides) => overrides,
        Err(malformed) => {
            report(&SourceMap::default(), &malformed, format)?;
            return Ok(Err(messages(&malformed)));
        }
    };
    let options = Options {
        params: overrides,
        allow_library: false,
        allow_missing_params: false,
        backends: wharf::backends::specs(),
    };
    let started = std::time::Instant::now();
    let compilation = wharf_compiler::compile(&FsWorld, file, &options);
    tracing::debug!(
        file = %file.display(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        params = options.params.len(),
        diagnostics = compilation.diagnostics.len(),
        "compiled"
    );
    let errors = compilation.diagnostics.error_count();
    let mut list = compilation.diagnostics.sorted();
    let sources = compilation.sources;
    let Some(mut pipeline) = compilation.pipeline else {
        report(&sources, &list, format)?;
        if format == OutputFormat::Text {
            eprintln!(
                "error: `{}` does not compile ({errors} error{})",
                file.display(),
                if errors == 1 { "" } else { "s" }
            );
        }
        return Ok(Err(messages(&list)));
    };
    // wharf.toml's `[targets.NAME]` fills what the file's targets leave out.
    let project = crate::project::get();
    for target in &mut pipeline.targets {
        project.apply_target_defaults(target);
    }
    match select_target(&pipeline, target, file) {
        Ok(target) => {
            let target = target.clone();
            report(&sources, &list, OutputFormat::Text)?;
            Ok(Ok(Compiled {
                pipeline,
                target,
                overrides: options.params,
                sources,
            }))
        }
        Err(unknown) => {
            list.push(unknown);
            report(&sources, &list, format)?;
            Ok(Err(messages(&list)))
        }
    }
}

/// The errors among `list`, one line each.
fn messages(list: &[Diagnostic]) -> Vec<String> {
    list.iter()
        .filter(|d| d.is_error())
        .map(|d| format!("error[{}]: {}", d.code.as_str(), d.message))
        .collect()
}

/// Shows diagnostics the one way `format` asks: text with source snippets
/// on stderr, or for `--format json` `{"diagnostics": [...]}` on stdout, in
/// place of the result the command could not give.
pub fn report(sources: &SourceMap, list: &[Diagnostic], format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Text if list.is_empty() => {}
        OutputFormat::Text => {
            let stderr = std::io::stderr();
            diagnostics::write_text(&mut stderr.lock(), sources, list, diagnostics::stderr_color())?;
        }
        OutputFormat::Json => {
            let stdout = std::io::stdout();
            diagnostics::write_json(&mut stdout.lock(), sources, list)?;
        }
    }
    Ok(())
}

/// Expands folders into the `.wharf` files below them (sorted; hidden
/// folders and `target/` skipped). With no paths: `pipelines/` if present, else `.`.
pub fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let defaults;
    let paths = if paths.is_empty() {
        // wharf.toml's `project.pipelines`, else `pipelines/` here if it exists.
        defaults = vec![match &crate::project::get().pipelines {
            // Relative to here when inside, so that diagnostics name files
            // as a person would type them.
            Some(folder) => PathBuf::from(crate::project::shown(
                folder,
                &std::env::current_dir().unwrap_or_default(),
            )),
            None if Path::new("pipelines").is_dir() => PathBuf::from("pipelines"),
            None => PathBuf::from("."),
        }];
        &defaults
    } else {
        paths
    };
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files)?;
        } else if path.exists() {
            files.push(path.clone());
        } else {
            anyhow::bail!("`{}` does not exist", path.display());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read folder `{}`: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                walk(&path, out)?;
            }
        } else if name.ends_with(".wharf") {
            out.push(path);
        }
    }
    Ok(())
}

/// The target a command works on: `--target NAME`, or the default one. An
/// unknown name is an `unknown-target` diagnostic, with a suggestion.
fn select_target<'p>(pipeline: &'p Pipeline, wanted: Option<&str>, file: &Path) -> Result<&'p Target, Diagnostic> {
    // `--target`, else WHARF_TARGET or wharf.toml's `project.target`.
    let project_target = crate::project::get().target.as_ref();
    let (name, from) = match (wanted, project_target) {
        (Some(name), _) => (name, None),
        (None, Some(sourced)) => (sourced.value.as_str(), Some(sourced.from.as_str())),
        (None, None) => {
            // The compiler gives a file that declares no target an implicit one.
            return Ok(wharf_compiler::placement::default_target(pipeline).expect("a compiled pipeline has a target"));
        }
    };
    if let Some(target) = pipeline.target(name) {
        return Ok(target);
    }
    let names: Vec<&str> = pipeline
        .targets
        .iter()
        .filter(|t| !t.implicit)
        .map(|t| t.name.as_str())
        .collect();
    let hint = match wharf_compiler::suggest::did_you_mean(name, names.iter().copied()) {
        Some(hint) => hint,
        None if names.is_empty() => {
            "the file declares no targets; omit --target to use the process backend".to_string()
        }
        None => format!("its targets are {}", names.join(", ")),
    };
    let message = match from {
        None => format!("`{}` declares no target `{name}`", file.display()),
        Some(from) => format!(
            "`{}` declares no target `{name}` (the default target, from {from})",
            file.display()
        ),
    };
    let mut diagnostic = Diagnostic::error(Code::UnknownTarget, None, message).with_hint(hint);
    if from.is_some() {
        diagnostic = diagnostic.with_hint("pass --target NAME for this pipeline");
    }
    Err(diagnostic)
}

/// The pipeline file's folder: where relative inputs and commands start.
pub fn project_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
