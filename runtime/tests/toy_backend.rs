//! A backend registered only here, in a registry of this test's own, runs
//! a pipeline end to end: the compiler accepts `backend = toy` from its
//! spec, the plan checks steps against its descriptor, and the scheduler
//! runs them on the backend it builds. Adding a backend takes nothing more
//! (docs/backends/writing-a-backend.md).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use wharf_compiler::backends::{BackendKind, BackendSpec, Program};
use wharf_compiler::types::StepKind;
use wharf_compiler::{MemoryWorld, Options};
use wharf_runtime::backend::descriptor::{self, Descriptor, Registry, Setup};
use wharf_runtime::backend::{Attempt, Backend, BoxFuture, Finish, Handle};
use wharf_runtime::clock::SystemClock;
use wharf_runtime::events::{CollectingSink, EventSink};
use wharf_runtime::plan::{Plan, RunOptions};
use wharf_runtime::scheduler::{self, Context, Layout};
use wharf_runtime::state::{RunStatus, SqliteStore, StateStore};

/// Runs `step` steps by writing `out.txt` in each output: what its inputs'
/// `out.txt` held, then its command's words.
struct Toy;

impl Descriptor for Toy {
    fn spec(&self) -> &'static BackendSpec {
        const SPEC: BackendSpec = BackendSpec {
            kind: BackendKind::new("toy"),
            runs: &[StepKind::Step],
            program: Program::Command,
            hands_off: &[],
            settings: &[],
            check_step: None,
        };
        &SPEC
    }

    fn build(&self, _: &Setup<'_>) -> Result<Arc<dyn Backend>, String> {
        Ok(Arc::new(ToyBackend))
    }
}

const REGISTRY: &Registry = &[&Toy];

struct ToyBackend;

impl Backend for ToyBackend {
    fn name(&self) -> &'static str {
        "toy"
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    fn submit(&self, attempt: Attempt, _: Arc<dyn EventSink>) -> BoxFuture<'_, Result<Box<dyn Handle>, String>> {
        Box::pin(async move { Ok(Box::new(ToyHandle { attempt }) as Box<dyn Handle>) })
    }
}

struct ToyHandle {
    attempt: Attempt,
}

impl Handle for ToyHandle {
    fn id(&self) -> String {
        format!("toy {}", self.attempt.step)
    }

    fn wait(&mut self) -> BoxFuture<'_, Finish> {
        Box::pin(async move {
            let mut words: Vec<String> = Vec::new();
            for (_, path) in &self.attempt.inputs {
                let Ok(text) = std::fs::read_to_string(path.join("out.txt")) else {
                    return Finish::Failed {
                        exit_code: None,
                        reason: format!("no out.txt in {}", path.display()),
                    };
                };
                words.push(text);
            }
            words.extend(self.attempt.command.iter().cloned());
            for output in &self.attempt.outputs {
                let dir = self.attempt.output_dir(output);
                if std::fs::create_dir_all(&dir).is_err()
                    || std::fs::write(dir.join("out.txt"), words.join(" ")).is_err()
                {
                    return Finish::Failed {
                        exit_code: None,
                        reason: format!("cannot write {}", dir.display()),
                    };
                }
            }
            Finish::Succeeded
        })
    }

    fn cancel(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Every `out.txt` below `dir` whose path passes through a folder named `step`.
fn outputs_of(dir: &Path, step: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            outputs_of(&path, step, found);
        } else if path.ends_with("out.txt") && path.components().any(|c| c.as_os_str() == step) {
            found.push(path);
        }
    }
}

#[tokio::test]
async fn a_backend_registered_only_in_a_test_runs_a_pipeline() {
    let text = r#"pipeline greet {
  step hello { command = ["hello"] outputs { out = dir() } }
  step world { command = ["world"] inputs { greeting = hello.out } outputs { out = dir() } }
}
target play { backend = toy }
"#;
    let options = Options {
        backends: descriptor::specs(REGISTRY),
        ..Options::default()
    };
    let compilation = wharf_compiler::compile(
        &MemoryWorld::new().with_file("greet.wharf", text),
        Path::new("greet.wharf"),
        &options,
    );
    let messages: Vec<String> = compilation.diagnostics.iter().map(|d| d.message.clone()).collect();
    let pipeline = compilation.pipeline.unwrap_or_else(|| panic!("{messages:?}"));
    let target = pipeline.target("play").expect("target play");

    let dir = tempfile::tempdir().expect("tmp");
    let state_dir = dir.path().join(".wharf");
    let setup = Setup {
        project_dir: dir.path(),
        state_dir: &state_dir,
        grace: None,
        pipeline: &pipeline,
        target,
    };
    let backends = descriptor::build_for_run(REGISTRY, &setup).expect("backends");
    let options = RunOptions {
        jobs: 2,
        ..RunOptions::default()
    };
    let file = dir.path().join("greet.wharf");
    let plan = Plan::build(&pipeline, target, &file, options, &backends, REGISTRY).expect("plan");
    let state: Arc<Mutex<Box<dyn StateStore>>> =
        Arc::new(Mutex::new(Box::new(SqliteStore::open_in_memory().expect("store"))));
    let ctx = Context {
        state,
        backends,
        events: Arc::new(CollectingSink::default()),
        clock: Arc::new(SystemClock),
        layout: Layout::new(&state_dir),
        artifacts: Arc::new(wharf_runtime::artifacts::LocalArtifacts::new()),
        host_env: Arc::new(|_| None),
    };
    let (_cancel, cancelled) = tokio::sync::watch::channel(false);
    let summary = scheduler::run(&plan, &ctx, cancelled, None).await.expect("run");
    assert_eq!(summary.status, RunStatus::Succeeded, "{:?}", summary.steps);

    let mut found = Vec::new();
    outputs_of(&state_dir, "world", &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(std::fs::read_to_string(&found[0]).expect("out.txt"), "hello world");
}
