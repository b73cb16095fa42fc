//! One module per command, all on the same small helpers: compile a file,
//! print its diagnostics, parse `-p` overrides; the history commands share
//! `state.rs`, which opens and reads `.wharf/state.db`.

mod abandoned;
mod check;
mod endpoints;
mod fmt;
mod forecast;
mod graph;
mod interrupt;
mod logs;
mod plan;
mod resume;
mod run;
mod runs;
mod show;
pub mod state;
mod whereabouts;
mod why;

use crate::Outcome;
use crate::cli::Command;
use crate::fs_world::FsWorld;
use crate::render::diagnostics;
use std::path::{Path, PathBuf};
use wharf_compiler::{Compilation, Options};

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Check(args) => check::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Runs(args) => runs::run(args),
        Command::Show(args) => show::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Run(args) => run::run(args),
        Command::Why(args) => why::run(args),
        Command::Endpoints(args) => endpoints::run(args),
        Command::Stop(args) => endpoints::stop(args),
    }
}

/// Splits `-p NAME=VALUE` arguments; a malformed one is a usage error.
pub fn parse_overrides(raw: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    raw.iter()
        .map(|item| match item.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => Ok((name.trim().to_string(), value.to_string())),
            _ => anyhow::bail!("invalid-override: `-p {item}` is not NAME=VALUE (for example `-p max_depth=8`)"),
        })
        .collect()
}

/// Compiles a pipeline file and prints its diagnostics to stderr. Returns
/// the compilation when it produced a pipeline.
pub fn compile_for_use(file: &Path, raw_params: &[String]) -> anyhow::Result<Option<Compilation>> {
    let options = Options {
        params: parse_overrides(raw_params)?,
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
    let list: Vec<_> = compilation.diagnostics.clone().sorted();
    if !list.is_empty() {
        let stderr = std::io::stderr();
        diagnostics::write_text(
            &mut stderr.lock(),
            &compilation.sources,
            &list,
            diagnostics::stderr_color(),
        )?;
    }
    if compilation.pipeline.is_none() {
        let errors = compilation.diagnostics.error_count();
        eprintln!(
            "error: `{}` does not compile ({errors} error{})",
            file.display(),
            if errors == 1 { "" } else { "s" }
        );
        return Ok(None);
    }
    Ok(Some(compilation))
}

/// Expands folders into the `.wharf` files below them (sorted; hidden
/// folders and `target/` skipped). With no paths: `pipelines/` if present, else `.`.
pub fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let defaults;
    let paths = if paths.is_empty() {
        defaults = vec![if Path::new("pipelines").is_dir() {
            PathBuf::from("pipelines")
        } else {
            PathBuf::from(".")
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
/// unknown name is reported (with a suggestion) and gives `None`.
pub fn select_target<'p>(
    pipeline: &'p wharf_compiler::Pipeline,
    wanted: Option<&str>,
    file: &Path,
) -> Option<&'p wharf_compiler::pipeline::Target> {
    let Some(name) = wanted else {
        return wharf_compiler::placement::default_target(pipeline);
    };
    if let Some(target) = pipeline.target(name) {
        return Some(target);
    }
    let names: Vec<&str> = pipeline
        .targets
        .iter()
        .filter(|t| !t.implicit)
        .map(|t| t.name.as_str())
        .collect();
    eprintln!(
        "error[unknown-target]: `{}` declares no target `{name}`",
        file.display()
    );
    match wharf_compiler::suggest::did_you_mean(name, names.iter().copied()) {
        Some(hint) => eprintln!("  = help: {hint}"),
        None if names.is_empty() => {
            eprintln!("  = help: the file declares no targets; omit --target to use the process backend")
        }
        None => eprintln!("  = help: its targets are {}", names.join(", ")),
    }
    None
}

/// The pipeline file's folder: where relative inputs and commands start.
pub fn project_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
