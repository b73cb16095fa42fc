//! `wharf run`: compile, plan, check, then run the pipeline on the scheduler,
//! showing progress and ending with a summary table and an exit code
//! (docs/runtime.md): 0 done, 1 a step failed, 2 refused before starting,
//! 130 interrupted.

use super::state::{STATE_DIR, StateDb, describe};
use super::{compile_on_target, whereabouts};
use crate::Outcome;
use crate::cli::{OutputFormat, RunArgs};
use crate::render::progress::{ProgressSink, summary};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use wharf::backends::REGISTRY;
use wharf_runtime::backend::Backend;
use wharf_runtime::backend::descriptor::{self, Setup};
use wharf_runtime::clock::SystemClock;
use wharf_runtime::plan::{Plan, RunOptions};
use wharf_runtime::scheduler::{self, Context, Layout};
use wharf_runtime::state::{RunStatus, SqliteStore, StateStore};

pub fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let Some(mut compiled) = compile_on_target(&args.file, &args.params, args.target.as_deref(), OutputFormat::Text)?
    else {
        return Ok(Outcome::Unusable);
    };
    let grace = match args.stop_grace.as_deref().map(grace_period) {
        None => None,
        Some(Ok(grace)) => Some(grace),
        Some(Err(e)) => {
            say!("error: {e}");
            return Ok(Outcome::Unusable);
        }
    };
    // A resumed run goes on with the params it started with.
    let mut resumed = None;
    if let Some(wanted) = &args.resume {
        let record = match super::resume::find(wanted.as_deref(), &compiled.pipeline.name)? {
            Ok(record) => record,
            Err(refusal) => {
                say!("error: {refusal}");
                return Ok(Outcome::Unusable);
            }
        };
        let overrides = match super::resume::overrides(&record, &compiled.pipeline, &compiled.overrides) {
            Ok(overrides) => overrides,
            Err(refusal) => {
                say!("error: {refusal}");
                return Ok(Outcome::Unusable);
            }
        };
        let Some(again) = compile_on_target(&args.file, &overrides, args.target.as_deref(), OutputFormat::Text)? else {
            return Ok(Outcome::Unusable);
        };
        if let Err(refusal) = super::resume::check_same(&record, &again.pipeline) {
            say!("error: {refusal}");
            return Ok(Outcome::Unusable);
        }
        compiled = again;
        resumed = Some(record.id);
    }
    let (pipeline, target) = (&compiled.pipeline, &compiled.target);
    let project_dir = super::project_dir(&args.file);
    let setup = Setup {
        project_dir: &project_dir,
        state_dir: Path::new(STATE_DIR),
        grace,
        pipeline,
        target,
    };
    let backends = match descriptor::build_for_run(REGISTRY, &setup) {
        Ok(backends) => backends,
        Err(e) => {
            say!("error: {e}");
            return Ok(Outcome::Unusable);
        }
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
        state_dir: Some(std::path::PathBuf::from(STATE_DIR)),
    };
    let plan = match Plan::build(pipeline, target, &args.file, options, &backends, REGISTRY) {
        Ok(plan) => plan,
        Err(errors) => {
            super::report(&compiled.sources, &errors, OutputFormat::Text)?;
            say!("nothing was run");
            return Ok(Outcome::Unusable);
        }
    };
    // Checked before anything is written to it: a file damaged in the
    // middle would otherwise fail half-way through the run.
    let store = match SqliteStore::open_checked(Path::new(STATE_DIR)) {
        Ok(store) => store,
        Err(e) => {
            say!("error: {}", describe(e, &Path::new(STATE_DIR).join("state.db")));
            say!("nothing was run");
            return Ok(Outcome::Unusable);
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
        layout: Layout::new(std::env::current_dir()?.join(STATE_DIR)),
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
            for reason in &reasons {
                say!("error: cannot start {reason}");
            }
            say!("nothing was run");
            return Ok(Outcome::Unusable);
        }
        Err(e) => {
            say!("error: {e}");
            return Ok(Outcome::Unusable);
        }
    };
    let db = StateDb::open_required()?;
    let record = db.find_run(&summary_run.run)?;
    let mut steps = db.steps(&summary_run.run)?;
    whereabouts::in_pipeline_order(&mut steps, pipeline);
    let places = whereabouts::whereabouts(&record.id, &steps, pipeline, &super::project_dir(&args.file));
    say_raw!("\n{}", summary(&record, &steps, &places));
    Ok(match summary_run.status {
        RunStatus::Succeeded => Outcome::Success,
        RunStatus::Cancelled => Outcome::Interrupted,
        _ => Outcome::Findings,
    })
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
