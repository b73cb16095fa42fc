//! Command-line arguments. Flag names are product surface: docs/cli.md
//! documents each, and they do not change meaning once released.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "wharf",
    version,
    about = "Declarative pipelines for hybrid machine learning: write once, run on a laptop, in CI or on SageMaker",
    after_help = "Logs go to stderr, quiet by default; set WHARF_LOG or RUST_LOG (e.g. WHARF_LOG=wharf=debug) for more.\nDocs: docs/cli.md and docs/language.md"
)]
pub struct Cli {
    /// Format of log lines on stderr [default: text, or wharf.toml's output.log_format].
    #[arg(long, global = true, value_enum, env = "WHARF_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Colour and escape codes on stderr [default: auto, or NO_COLOR, or wharf.toml's output.color].
    #[arg(long, global = true, value_enum, env = "WHARF_COLOR")]
    pub color: Option<ColorChoice>,

    /// Where wharf keeps runs, the cache and outputs [default: .wharf/ in the
    /// project root: the folder of the nearest wharf.toml, else the current folder].
    #[arg(long, global = true, value_name = "DIR", env = "WHARF_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    /// Colour on a terminal, none in a file, a pipe or CI's log.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a project: a commented wharf.toml and a first pipeline.
    #[command(
        after_help = "Writes only files that do not exist yet: an existing wharf.toml is an error, an existing pipeline is kept.\nExit codes: 0 done, 2 wharf.toml exists already or a file cannot be written."
    )]
    Init(InitArgs),
    /// Parse, resolve and type-check pipeline files; exit 1 if any has errors.
    #[command(after_help = "Exit codes: 0 clean, 1 errors (or warnings with --deny warnings), 2 bad usage.")]
    Check(CheckArgs),
    /// Format pipeline files in the canonical style, keeping comments.
    #[command(
        after_help = "Exit codes: 0 done (or already formatted with --check), 1 files need formatting, 2 a file does not parse."
    )]
    Fmt(FmtArgs),
    /// Show what would run where: the resolved steps in execution order.
    #[command(after_help = "Exit codes: 0 done, 2 the pipeline does not compile or the target does not exist.")]
    Plan(PlanArgs),
    /// Draw the pipeline's DAG as DOT, Mermaid, SVG or JSON.
    #[command(after_help = "Exit codes: 0 done, 2 the pipeline does not compile.")]
    Graph(GraphArgs),
    /// Run a pipeline: cached steps are reused, the rest run on the target's backends.
    #[command(
        after_help = "Exit codes: 0 every step succeeded, came from the cache or was skipped; 1 a step failed; 2 usage or compile error, or a plan refused before anything started; 130 interrupted.\nState and outputs go to .wharf/ in the project root (the folder of the nearest wharf.toml, else the current folder); see docs/runtime.md and docs/project.md."
    )]
    Run(RunArgs),
    /// Explain why a step would run again or come from the cache.
    #[command(after_help = "Exit codes: 0 done, 2 the pipeline does not compile or has no such step.")]
    Why(WhyArgs),
    /// List recorded runs, newest first.
    #[command(after_help = "Exit codes: 0 done (also when no run is recorded), 2 the state database cannot be read.")]
    Runs(RunsArgs),
    /// Show one recorded run: its pipeline, target, params and steps.
    #[command(
        after_help = "RUN is a run id, a prefix of exactly one id, or `last`.\nExit codes: 0 done, 2 no such run, or the state database cannot be read."
    )]
    Show(ShowArgs),
    /// Print the log of one step of a recorded run (its last attempt by default).
    #[command(
        after_help = "RUN is a run id, a prefix of exactly one id, or `last`.\nExit codes: 0 done, 2 no such run, step, attempt or log file, or the state database cannot be read."
    )]
    Logs(LogsArgs),
    /// Show the metrics a run's steps produced, or how they changed from another run.
    #[command(
        after_help = "RUN is a run id, a prefix of exactly one id, or `last` (the default).\nMetrics are a step's output named `metrics` that is a `file(\"*.json\")`, and a train step's `metrics { NAME = \"regex\" }` read from its log (docs/language.md, \"Metrics\").\nExit codes: 0 done (also when the run has no metrics), 1 a metrics file or log could not be read, 2 no such run, or the state database cannot be read."
    )]
    Metrics(MetricsArgs),
    /// List the endpoints that deploy steps left running on the docker backend, or stop them.
    #[command(
        after_help = "Endpoints are this project's (its state folder's) unless --all is given.\nExit codes: 0 done, 2 no such endpoint, or the Docker engine cannot be reached."
    )]
    Endpoints(EndpointsArgs),
    /// Stop what a run left running: the local endpoints its deploy steps started.
    #[command(
        after_help = "RUN is a run id, a prefix of exactly one id, or `last`.\nExit codes: 0 done (also when nothing was running), 2 no such run, or the Docker engine cannot be reached."
    )]
    Stop(StopArgs),
    /// Print a completion script for a shell.
    #[command(
        after_help = "Bash: `wharf completions bash > /etc/bash_completion.d/wharf` (or source it from ~/.bashrc).\nZsh: write it as `_wharf` into a folder on $fpath.\nFish: `wharf completions fish > ~/.config/fish/completions/wharf.fish`.\nExit codes: 0 done, 2 an unknown shell."
    )]
    Completions(CompletionsArgs),
    /// Print wharf's man page (roff), or write one page per command into a folder.
    #[command(
        after_help = "`wharf man | man -l -` reads it; `wharf man -o DIR` writes wharf.1, wharf-check.1, ... into DIR.\nExit codes: 0 done, 2 the folder cannot be written."
    )]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The project's folder (created if needed). Default: the current folder.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command (wharf.1, wharf-check.1, ...) into this folder instead of printing wharf.1.
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EndpointsArgs {
    #[command(subcommand)]
    pub action: Option<EndpointsAction>,
    /// Every wharf endpoint on the engine, not only this project's.
    #[arg(long, global = true)]
    pub all: bool,
    /// Output format of the list.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum EndpointsAction {
    /// Stop and remove endpoints by name.
    Stop {
        /// Endpoint names, as `wharf endpoints` lists them.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The run: its id, a unique prefix of it, or `last`.
    pub run: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DenyLevel {
    Warnings,
}

/// `check --format`: the shared formats, and two for CI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    /// Each diagnostic with its source line, labels and hints (stderr).
    Text,
    /// One JSON report of every file (stdout).
    Json,
    /// GitHub Actions workflow commands, one per diagnostic: annotations on the pull request (stdout).
    Github,
    /// A SARIF 2.1.0 log, for code scanning (stdout).
    Sarif,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or folders to check (folders are searched for *.wharf). Default: pipelines/ if it exists, else the current folder.
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Fail on warnings too.
    #[arg(long, value_enum)]
    pub deny: Option<DenyLevel>,
    /// Param overrides to check with, as NAME=VALUE (repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files or folders to format. Default: pipelines/ if it exists, else the current folder.
    pub paths: Vec<PathBuf>,
    /// Write nothing; list files that are not formatted and exit 1 if there are any.
    #[arg(long)]
    pub check: bool,
    /// Print the formatted text of a single file to stdout instead of writing it.
    #[arg(long)]
    pub stdout: bool,
    /// With --check: also print what would change, as a unified diff.
    #[arg(long, requires = "check")]
    pub diff: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// The target to plan for. Default: the only target, else `local`, else the first declared.
    #[arg(short, long)]
    pub target: Option<String>,
    /// Param overrides, as NAME=VALUE (repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Plan a run with `--no-cache`.
    #[arg(long)]
    pub no_cache: bool,
    /// Plan a run with `--from STEP`.
    #[arg(long, value_name = "STEP")]
    pub from: Option<String>,
    /// Plan a run with `--to STEP`.
    #[arg(long, value_name = "STEP")]
    pub to: Option<String>,
    /// Plan a run with `--only STEP`.
    #[arg(long, value_name = "STEP", conflicts_with_all = ["from", "to"])]
    pub only: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Svg,
    Json,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Param overrides, as NAME=VALUE (repeatable); they can change fan-out.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Show at most this many runs.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The run: its id, a unique prefix of it, or `last`.
    pub run: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The run: its id, a unique prefix of it, or `last`.
    #[arg(default_value = "last")]
    pub run: String,
    /// Compare RUN with the run OLD (an id, a unique prefix or `last`): both values of each metric, and the change.
    #[arg(long, value_name = "OLD")]
    pub diff: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The run: its id, a unique prefix of it, or `last`.
    pub run: String,
    /// The step's name (a fanned-out instance by its full name, e.g. `fit-eu`).
    pub step: String,
    /// Which attempt (1 is the first). Default: the last.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub attempt: Option<u32>,
    /// Keep printing what the attempt writes until it is no longer running.
    #[arg(short, long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// The target to run on. Default: the only target, else `local`, else the first declared.
    #[arg(short, long)]
    pub target: Option<String>,
    /// Param overrides, as NAME=VALUE (repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Steps running at once. Default: the number of cores.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// After a failure, still run every step that does not depend on it.
    #[arg(long)]
    pub keep_going: bool,
    /// Run every step, whatever the cache holds.
    #[arg(long)]
    pub no_cache: bool,
    /// Continue an earlier run: the last unfinished one of this pipeline, or RUN.
    #[arg(long, value_name = "RUN", num_args = 0..=1)]
    pub resume: Option<Option<String>>,
    /// Run this step and everything after it (what it needs must be cached).
    #[arg(long, value_name = "STEP")]
    pub from: Option<String>,
    /// Run this step and everything it needs.
    #[arg(long, value_name = "STEP")]
    pub to: Option<String>,
    /// Run only this step (what it needs must be cached).
    #[arg(long, value_name = "STEP", conflicts_with_all = ["from", "to"])]
    pub only: Option<String>,
    /// How long a stopped step (Ctrl-C, a timeout) has to exit after SIGTERM
    /// before it is killed (process and docker backends). Default: 10s, or
    /// WHARF_STOP_GRACE.
    #[arg(long, value_name = "DURATION", env = "WHARF_STOP_GRACE")]
    pub stop_grace: Option<String>,
    /// What to print on stdout at the end: nothing (text: the summary goes
    /// to stderr with the progress) or one JSON document (docs/run-json.md).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Also write a JUnit XML report, one test case per step, to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// The step (an instance name such as `fit-eu` for a fanned-out step).
    pub step: String,
    /// The target the step would run on (its images are part of the key on docker).
    #[arg(short, long)]
    pub target: Option<String>,
    /// Param overrides, as NAME=VALUE (repeatable): they are part of the key.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}
