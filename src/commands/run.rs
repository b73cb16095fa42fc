//! `wharf run`: compile, plan, check, then run the pipeline on the scheduler,
//! showing progress and ending with a summary table and an exit code
//! (docs/runtime.md): 0 done, 1 a step failed, 2 refused before starting,
//! 130 interrupted.

use super::compile_for_use;
use super::state::{STATE_DIR, StateDb, describe};
use crate::Outcome;
use crate::cli::RunArgs;
use crate::render::progress::{ProgressSink, summary};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use wharf_compiler::types::BackendKind;
use wharf_runtime::backend::Backend;
use wharf_runtime::backend::docker::DockerBackend;
use wharf_runtime::backend::process::ProcessBackend;
use wharf_runtime::clock::SystemClock;
use wharf_runtime::plan::{Plan, RunOptions};
use wharf_runtime::scheduler::{self, Context, Layout};
use wharf_runtime::state::{RunStatus, SqliteStore, StateStore};

/// Jobs at once on a SageMaker target that sets no `max_jobs`.
const DEFAULT_SAGEMAKER_JOBS: usize = 20;

pub fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let Some(compilation) = compile_for_use(&args.file, &args.params)? else {
        return Ok(Outcome::Unusable);
    };
    let pipeline = compilation
        .pipeline
        .as_ref()
        .expect("compile_for_use returns only compiled pipelines");
    let Some(target) = super::select_target(pipeline, args.target.as_deref(), &args.file) else {
        return Ok(Outcome::Unusable);
    };
    let project_dir = super::project_dir(&args.file);
    let mut backends: BTreeMap<BackendKind, Arc<dyn Backend>> = BTreeMap::new();
    backends.insert(BackendKind::Process, Arc::new(ProcessBackend::new(project_dir.clone())));
    let docker = match DockerBackend::connect(project_dir, Path::new(STATE_DIR)) {
        Ok(docker) => {
            let docker = Arc::new(docker);
            backends.insert(BackendKind::Docker, Arc::new(docker.clone()));
            Some(docker)
        }
        Err(e) => {
            if uses(pipeline, target, BackendKind::Docker) {
                eprintln!("error: {e}");
                return Ok(Outcome::Unusable);
            }
            None
        }
    };
    if uses(pipeline, target, BackendKind::Sagemaker) {
        let settings = sagemaker_settings(pipeline, target);
        backends.insert(
            BackendKind::Sagemaker,
            Arc::new(wharf_aws::backend::SagemakerBackend::new(settings)),
        );
    }
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
        // A target's `max_jobs` caps the jobs it has running on SageMaker
        // (`--jobs` caps only the steps running here).
        backend_limits: BTreeMap::from([(
            BackendKind::Sagemaker,
            target.settings.max_jobs.map_or(DEFAULT_SAGEMAKER_JOBS, |n| n as usize),
        )]),
        state_dir: Some(std::path::PathBuf::from(STATE_DIR)),
    };
    let plan = match Plan::build(pipeline, target, &args.file, options, &backends) {
        Ok(plan) => plan,
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!("nothing was run");
            return Ok(Outcome::Unusable);
        }
    };
    let store = match SqliteStore::open(Path::new(STATE_DIR)) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {}", describe(e, &Path::new(STATE_DIR).join("state.db")));
            return Ok(Outcome::Unusable);
        }
    };
    let resume = match &args.resume {
        None => None,
        Some(Some(id)) => Some(resolve_run(id)?),
        Some(None) => match last_unfinished(&store, &pipeline.name)? {
            Some(id) => Some(id),
            None => {
                eprintln!(
                    "error: no earlier run of `{}` to resume: the last one succeeded, or there is none",
                    pipeline.name
                );
                return Ok(Outcome::Unusable);
            }
        },
    };
    let state: Arc<Mutex<Box<dyn StateStore>>> = Arc::new(Mutex::new(Box::new(store)));
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
        let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(interrupts(cancel_tx));
        scheduler::run(&plan, &ctx, cancel_rx, resume.as_deref()).await
    });
    if let Some(docker) = &docker {
        let removed = docker.removed_orphans();
        if !removed.is_empty() {
            eprintln!(
                "removed {} container(s) left behind by a wharf process that is gone",
                removed.len()
            );
        }
    }
    let summary_run = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Outcome::Unusable);
        }
    };
    let db = StateDb::open_required()?;
    let record = db.find_run(&summary_run.run)?;
    eprint!("\n{}", summary(&record, &db.steps(&summary_run.run)?));
    Ok(match summary_run.status {
        RunStatus::Succeeded => Outcome::Success,
        RunStatus::Cancelled => Outcome::Interrupted,
        _ => Outcome::Findings,
    })
}

/// The first Ctrl-C or SIGTERM cancels the run; a second one exits at once.
async fn interrupts(cancel: tokio::sync::watch::Sender<bool>) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return,
    };
    for round in 0.. {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        if round == 0 {
            eprintln!("\ninterrupted: stopping running steps (press Ctrl-C again to exit at once)");
            let _ = cancel.send(true);
        } else {
            eprintln!("interrupted twice: exiting without waiting");
            std::process::exit(130);
        }
    }
}

fn resolve_run(wanted: &str) -> anyhow::Result<String> {
    Ok(StateDb::open_required()?.find_run(wanted)?.id)
}

fn last_unfinished(store: &SqliteStore, pipeline: &str) -> anyhow::Result<Option<String>> {
    let runs = store.runs(50).map_err(|e| describe(e, store.path()))?;
    Ok(runs
        .into_iter()
        .find(|r| r.pipeline == pipeline)
        .filter(|r| r.status != RunStatus::Succeeded)
        .map(|r| r.id))
}

/// Whether any step of the pipeline is placed on `kind` by `target`.
fn uses(
    pipeline: &wharf_compiler::pipeline::Pipeline,
    target: &wharf_compiler::pipeline::Target,
    kind: BackendKind,
) -> bool {
    pipeline
        .steps
        .iter()
        .any(|s| wharf_compiler::placement::backend_for(target, s) == kind)
}

/// The target's AWS settings, `env("...")` values read now. The role falls
/// back to WHARF_SAGEMAKER_ROLE, as docs/language.md says.
fn sagemaker_settings(
    pipeline: &wharf_compiler::pipeline::Pipeline,
    target: &wharf_compiler::pipeline::Target,
) -> wharf_aws::backend::Settings {
    use wharf_compiler::pipeline::Setting;
    let read = |s: &Option<Setting>| match s {
        Some(Setting::Text(t)) => Some(t.clone()),
        Some(Setting::Env(var)) => std::env::var(var).ok(),
        None => None,
    };
    let t = &target.settings;
    wharf_aws::backend::Settings {
        region: read(&t.region),
        profile: read(&t.profile),
        role: read(&t.role).or_else(|| std::env::var("WHARF_SAGEMAKER_ROLE").ok()),
        bucket: read(&t.bucket),
        endpoint_url: read(&t.endpoint_url),
        // `logs = off` on the target or on a step's override: that step's
        // CloudWatch log is not followed.
        quiet_steps: pipeline
            .steps
            .iter()
            .filter(|s| wharf_compiler::placement::settings_for(target, s).logs == Some(false))
            .map(|s| s.name.clone())
            .collect(),
    }
}
