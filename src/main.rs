//! The `wharf` command: parses arguments, sets up logging, runs one command
//! and turns its outcome into an exit code. Commands live in `commands/`,
//! output formats in `render/` and `graph/`.

/// `eprintln!` that never panics: a closed stderr (`wharf run ... 2>&1 |
/// head -2`) must not stop a run's signal handling or its clean-up, so
/// what cannot be written is dropped.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that never panics (see `say!`).
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod clock;
mod commands;
mod fs_world;
mod graph;
mod project;
mod render;

use clap::Parser;
use std::process::ExitCode;

/// How a command ended, as the shell sees it (docs/cli.md lists the codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done, nothing wrong.
    Success,
    /// 1: the command did its job and found problems (check errors, unformatted files).
    Findings,
    /// 2: the command could not do its job: bad usage or a pipeline that does not compile.
    Unusable,
    /// 130: interrupted by Ctrl-C or SIGTERM.
    Interrupted,
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let given = project::Given {
        state_dir: cli.state_dir.clone(),
        log_format: cli.log_format,
        color: cli.color,
    };
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            say!("error: cannot read the current folder: {e}");
            return ExitCode::from(2);
        }
    };
    let project = match project::load(&cwd, given) {
        Ok(project) => project,
        Err(e) => {
            use std::io::IsTerminal;
            let color = std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal();
            let _ = render::diagnostics::write_text(&mut std::io::stderr(), &e.sources, &e.diagnostics, color);
            say!("error: the project file cannot be used; nothing was done");
            return ExitCode::from(2);
        }
    };
    init_logging(project.log_format, project.color_stderr());
    let outcome = match commands::run(cli.command) {
        Ok(outcome) => outcome,
        Err(err) => {
            say!("error: {err:#}");
            Outcome::Unusable
        }
    };
    match outcome {
        Outcome::Success => ExitCode::SUCCESS,
        Outcome::Findings => ExitCode::from(1),
        Outcome::Unusable => ExitCode::from(2),
        Outcome::Interrupted => ExitCode::from(130),
    }
}

/// What is logged when neither WHARF_LOG nor RUST_LOG says otherwise: wharf's
/// own warnings, nothing from its dependencies. The AWS SDK, hyper and
/// bollard log what they retry and fall back from (an instance-metadata
/// region look-up off EC2 is several long warnings); wharf reports what
/// matters of it in its own words, so by default they stay quiet.
const DEFAULT_LOG_FILTER: &str = "off,wharf=warn,wharf_runtime=warn,wharf_aws=warn,wharf_compiler=warn";

fn init_logging(format: cli::LogFormat, ansi: bool) {
    use tracing_subscriber::EnvFilter;
    // WHARF_LOG first, then RUST_LOG (any `tracing` filter); one that does
    // not parse falls back to the default rather than failing the command.
    let filter = ["WHARF_LOG", "RUST_LOG"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|spec| !spec.trim().is_empty())
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_LOG_FILTER));
    // Escape codes only for a person at a terminal (docs/cli.md): never in a
    // file, a pipe or CI's log, never with NO_COLOR set (`project.rs`).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        cli::LogFormat::Json => builder.json().init(),
        cli::LogFormat::Text => builder.init(),
    }
}
