//! `wharf run`: compile, plan, check, then run the pipeline on the scheduler,
//! showing progress and ending with a summary table and an exit code
//! (docs/runtime.md): 0 done, 1 a step failed, 2 refused before starting,
//! 130 interrupted.

use super::state::{StateDb, describe, state_dir};
use super::{compile_on_target_or, whereabouts};
use crate::Outcome;
use crate::cli::{OutputFormat, RunArgs};
use crate::render::history::StepHistory;
use crate::render::progress::{ProgressSink, Whereabouts, summary};
use crate::render::report;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use wharf::backends::REGISTRY;
use wharf_runtime::backend::Backend;
use wharf_runtime::backend::descriptor::{self, Setup};
use wharf_runtime::clock::SystemClock;
use wharf_runtime::plan::{Plan, RunOptions};
use wharf_runtime::scheduler::{self, Context, Layout};
use wharf_runtime::state::{RunStatus, SqliteStore, StateStore, StepStatus};

pub fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let refuse = |errors: Vec<String>| -> anyhow::Result<Outcome> {
        for error in &errors {
            say!("error: {error}");
        }
        refused_reports(&args, &errors)?;
        Ok(Outcome::Unusable)
    };
    let mut compiled = match compile_on_target_or(&args.file, &args.params, args.target.as_deref(), OutputFormat::Text)?
    {
        Ok(compiled) => compiled,
        Err(errors) => return refuse_quietly(&args, errors),
    };
    let grace = match args.stop_grace.as_deref().map(grace_period) {
        None => None,
        Some(Ok(grace)) => Some(grace),
        Some(Err(e)) => return refuse(vec![e]),
    };
    // A resumed run goes on with the params it started with.
    let mut resumed = None;
    if let Some(wanted) = &args.resume {
        let record = match super::resume::find(wanted.as_deref(), &compiled.pipeline.name)? {
            Ok(record) => record,
            Err(refusal) => return refuse(vec![refusal]),
        };
        let overrides = match super::resume::overrides(&record, &compiled.pipeline, &compiled.overrides) {
            Ok(overrides) => overrides,
            Err(refusal) => return refuse(vec![refusal]),
        };
        let again = match compile_on_target_or(&args.file, &overrides, args.target.as_deref(), OutputFormat::Text)? {
            Ok(again) => again,
            Err(errors) => return refuse_quietly(&args, errors),
        };
        if let Err(refusal) = super::resume::check_same(&record, &again.pipeline) {
            return refuse(vec![refusal]);
        }
        compiled = again;
        resumed = Some(record.id);
    }
    let (pipeline, target) = (&compiled.pipeline, &compiled.target);
    let project_dir = super::project_dir(&args.file);
    let setup = Setup {
        project_dir: &project_dir,
        state_dir: state_dir(),
        grace,
        pipeline,
        target,
    };
    let backends = match descriptor::build_for_run(REGISTRY, &setup) {
        Ok(backends) => backends,
        Err(e) => return refuse(vec![e.to_string()]),
    };
    let options = RunOptions {
        jobs: args
            .jobs
            .map(usize::from)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        keep_going: args.keep_going,
        no_cache: args.no_cache,
        from: args.from.clone(),
        to: args.to.clone(),
        only: args.only.clone(),
        backend_limits: BTreeMap::new(),
        state_dir: Some(state_dir().to_path_buf()),
    };
    let plan = match Plan::build(pipeline, target, &args.file, options, &backends, REGISTRY) {
        Ok(plan) => plan,
        Err(errors) => {
            super::report(&compiled.sources, &errors, OutputFormat::Text)?;
            say!("nothing was run");
            let messages = errors.iter().map(|d| d.message.clone()).collect();
            return refuse_quietly(&args, messages);
        }
    };
    // Checked before anything is written to it: a file damaged in the
    // middle would otherwise fail half-way through the run.
    let store = match SqliteStore::open_checked(state_dir()) {
        Ok(store) => store,
        Err(e) => {
            let error = describe(e, &state_dir().join("state.db"));
            return refuse(vec![format!("{error:#}"), "nothing was run".into()]);
        }
    };
    let resume = resumed;
    let abandoned = super::abandoned::find(&store, resume.as_deref()).map_err(|e| describe(e, store.path()))?;
    let state: Arc<Mutex<Box<dyn StateStore>>> = Arc::new(Mutex::new(Box::new(store)));
    let all_backends: Vec<Arc<dyn Backend>> = backends.values().cloned().collect();
    let events = Arc::new(ProgressSink::stderr());
    let ctx = Context {
        state: state.clone(),
        backends,
        events,
        clock: Arc::new(SystemClock),
        // Absolute, so artifact URIs and the links of gathered inputs point
        // to the same place from wherever they are read.
        layout: Layout::new(state_dir().to_path_buf()),
        artifacts: Arc::new(wharf_runtime::artifacts::LocalArtifacts::new()),
        host_env: Arc::new(|name| std::env::var(name).ok()),
    };
    // One thread drives the scheduler: the steps are processes, and the
    // work in between is short, so cross-thread wake-ups would only add
    // latency (a quarter of a cached re-run's time). Hashing large inputs
    // goes to tokio's blocking pool.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        // Before this run starts: what killed runs left running would
        // compete with it (and a plain run after a kill -9 must not leave
        // the old steps running beside the new ones).
        let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(super::interrupt::watch(cancel_tx, state.clone(), all_backends.clone()));
        super::abandoned::clean_up(&state, &all_backends, &abandoned).await;
        scheduler::run(&plan, &ctx, cancel_rx, resume.as_deref()).await
    });
    for note in all_backends.iter().flat_map(|b| b.notes()) {
        say!("{note}");
    }
    let summary_run = match result {
        Ok(s) => s,
        Err(scheduler::RunError::Refused(reasons)) => {
            let mut errors: Vec<String> = reasons.iter().map(|r| format!("cannot start {r}")).collect();
            errors.push("nothing was run".into());
            return refuse(errors);
        }
        Err(e) => return refuse(vec![e.to_string()]),
    };
    let db = StateDb::open_required()?;
    let record = db.find_run(&summary_run.run)?;
    let mut steps = db.steps(&summary_run.run)?;
    whereabouts::in_pipeline_order(&mut steps, pipeline);
    let places = whereabouts::whereabouts(&record.id, &steps, pipeline, &super::project_dir(&args.file));
    say_raw!("\n{}", summary(&record, &steps, &places));
    let outcome = match summary_run.status {
        RunStatus::Succeeded => Outcome::Success,
        RunStatus::Cancelled => Outcome::Interrupted,
        _ => Outcome::Findings,
    };
    if args.format == OutputFormat::Text && args.junit.is_none() {
        return Ok(outcome);
    }
    let mut extras = extras(&steps, &places);
    extras.metrics = super::metrics::of_run(&db, &record)?;
    if args.format == OutputFormat::Json {
        let doc = report::run_json(&record, &steps, &extras, &state_dir().display().to_string());
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    if let Some(path) = &args.junit {
        if let Err(e) = write_whole(path, &report::junit(&record, &steps, &extras)) {
            say!("error: cannot write the JUnit report {}: {e}", path.display());
            // The run's own failure says more than the report's.
            return Ok(if outcome == Outcome::Success {
                Outcome::Unusable
            } else {
                outcome
            });
        }
        say!("junit     {}", path.display());
    }
    Ok(outcome)
}

/// The refusal of a run whose errors were already shown (as diagnostics):
/// with `--format json`, the document that says no run started.
fn refuse_quietly(args: &RunArgs, errors: Vec<String>) -> anyhow::Result<Outcome> {
    refused_reports(args, &errors)?;
    Ok(Outcome::Unusable)
}

/// The reports of a run that never started: the JSON document that says
/// so, and a JUnit report with the pipeline in error.
fn refused_reports(args: &RunArgs, errors: &[String]) -> anyhow::Result<()> {
    let file = args.file.display().to_string();
    if args.format == OutputFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report::refused_json(&file, errors))?
        );
    }
    if let Some(path) = &args.junit
        && let Err(e) = write_whole(path, &report::refused_junit(&file, errors))
    {
        say!("error: cannot write the JUnit report {}: {e}", path.display());
    }
    Ok(())
}

/// What the reports add to the records: each step's SageMaker jobs (the
/// record the SageMaker backend leaves beside an attempt's log), endpoint,
/// exports, and the end of a failed step's log.
fn extras(steps: &[StepHistory], places: &Whereabouts) -> report::Extras {
    let mut extras = report::Extras {
        run_dir: places.run_dir.clone(),
        exports: places.exports.iter().cloned().collect(),
        endpoints: places.endpoints.iter().cloned().collect(),
        ..Default::default()
    };
    for s in steps {
        let name = &s.record.step;
        for attempt in &s.attempts {
            let Some(log) = &attempt.log_path else { continue };
            let path = Path::new(log).with_file_name(wharf_aws::backend::JOB_RECORD);
            if let Some(job) = std::fs::read_to_string(path)
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            {
                extras.jobs.entry(name.clone()).or_default().push(job);
            }
        }
        if s.record.status == StepStatus::Failed
            && let Some(tail) = s
                .attempts
                .last()
                .and_then(|a| a.log_path.as_deref())
                .and_then(|log| log_tail(Path::new(log), report::LOG_TAIL_LINES))
        {
            extras.log_tails.insert(name.clone(), tail);
        }
    }
    extras
}

/// The last `lines` lines of a log, read from its end (a log can be large).
fn log_tail(path: &Path, lines: usize) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    const WINDOW: u64 = 64 * 1024;
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let start = len.saturating_sub(WINDOW);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    file.take(WINDOW).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    // A window that starts mid-line drops that line's part.
    let text = if start > 0 {
        text.split_once('\n').map_or("", |(_, rest)| rest)
    } else {
        &text
    };
    let all: Vec<&str> = text.lines().collect();
    let tail = all[all.len().saturating_sub(lines)..].join("\n");
    (!tail.trim().is_empty()).then_some(tail)
}

/// Writes `text` to `path` whole or not at all: a temporary file beside
/// it, then a rename, so that a reader (a CI upload step) never sees half.
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// `--stop-grace` (or WHARF_STOP_GRACE): a duration such as `10s` or `500ms`.
fn grace_period(text: &str) -> Result<std::time::Duration, String> {
    use wharf_compiler::types::Type;
    use wharf_compiler::value::Value;
    match Value::parse_as(text.trim(), &Type::Duration) {
        Some(Value::Duration(ms)) => Ok(std::time::Duration::from_millis(ms)),
        _ => Err(format!(
            "--stop-grace {text}: not a duration\n  = help: write it as `10s`, `500ms` or `1m`"
        )),
    }
}
