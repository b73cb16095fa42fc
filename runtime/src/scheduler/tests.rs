//! Scheduler tests with a scripted backend (each step's behaviour set by the
//! test), an in-memory state store and a fixed clock. The process backend
//! and the CLI have end-to-end tests of their own.

use super::*;
use crate::backend::descriptor::{self, Descriptor, Registry, Setup};
use crate::backend::process::descriptor::{KIND as PROCESS, ProcessDescriptor};
use crate::backend::{Attempt, Backend, BoxFuture, Finish, Handle};
use crate::clock::FixedClock;
use crate::events::CollectingSink;
use crate::plan::{Plan, RunOptions};
use crate::state::SqliteStore;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use wharf_compiler::backends::{BackendKind, BackendSpec, Program};
use wharf_compiler::types::StepKind;
use wharf_compiler::{MemoryWorld, Options, Pipeline};

/// A backend that runs its steps elsewhere (as SageMaker does): they take
/// no local slot. The scripted backend stands in for it.
struct Elsewhere;

const ELSEWHERE: BackendKind = BackendKind::new("elsewhere");

impl Descriptor for Elsewhere {
    fn spec(&self) -> &'static BackendSpec {
        const SPEC: BackendSpec = BackendSpec {
            kind: ELSEWHERE,
            runs: &StepKind::ALL,
            program: Program::Image,
            hands_off: &[],
            settings: &[],
            check_step: None,
        };
        &SPEC
    }

    fn local_slot(&self) -> bool {
        false
    }

    fn build(&self, _: &Setup<'_>) -> Result<Arc<dyn Backend>, String> {
        Ok(Arc::new(Scripted::default()))
    }
}

/// These tests' registry: the process backend's descriptor (its steps run
/// on the scripted backend) and one elsewhere.
const REGISTRY: &Registry = &[&ProcessDescriptor, &Elsewhere];

/// What the scripted backend does for a step: fail the first `fail_first`
/// attempts, sleep, then write each output (`file(...)` outputs get `json`).
#[derive(Clone, Default)]
struct Script {
    fail_first: u32,
    sleep_ms: u64,
    json: Option<String>,
    skip_outputs: bool,
}

#[derive(Default)]
struct Scripted {
    scripts: Mutex<BTreeMap<String, Script>>,
    calls: Mutex<Vec<(String, u32)>>,
    tries: Mutex<BTreeMap<String, AtomicU32>>,
}

struct ScriptedHandle {
    attempt: Attempt,
    script: Script,
    fail: bool,
}

impl Backend for Scripted {
    fn name(&self) -> &'static str {
        "process"
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    fn submit(&self, attempt: Attempt, _events: Arc<dyn EventSink>) -> BoxFuture<'_, Result<Box<dyn Handle>, String>> {
        Box::pin(async move {
            let script = self
                .scripts
                .lock()
                .expect("lock")
                .get(&attempt.step)
                .cloned()
                .unwrap_or_default();
            let n = {
                let mut tries = self.tries.lock().expect("lock");
                tries
                    .entry(attempt.step.clone())
                    .or_default()
                    .fetch_add(1, Ordering::SeqCst)
                    + 1
            };
            self.calls
                .lock()
                .expect("lock")
                .push((attempt.step.clone(), attempt.attempt));
            Ok(Box::new(ScriptedHandle {
                fail: n <= script.fail_first,
                attempt,
                script,
            }) as Box<dyn Handle>)
        })
    }
}

impl Handle for ScriptedHandle {
    fn id(&self) -> String {
        format!("scripted {}", self.attempt.step)
    }

    fn wait(&mut self) -> BoxFuture<'_, Finish> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(self.script.sleep_ms)).await;
            if self.fail {
                return Finish::Failed {
                    exit_code: Some(1),
                    reason: "exit code 1: boom".into(),
                };
            }
            if !self.script.skip_outputs {
                for output in &self.attempt.outputs {
                    let dir = self.attempt.output_dir(output);
                    std::fs::create_dir_all(&dir).expect("output dir");
                    let body = self
                        .script
                        .json
                        .clone()
                        .unwrap_or_else(|| format!("{} {output}", self.attempt.step));
                    let name = if self.script.json.is_some() {
                        "m.json"
                    } else {
                        "data.txt"
                    };
                    std::fs::write(dir.join(name), body).expect("write output");
                }
            }
            Finish::Succeeded
        })
    }

    fn cancel(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

use crate::forecast::Verdict;
use std::path::PathBuf;
use std::time::Duration;

fn compile(text: &str) -> Pipeline {
    let c = wharf_compiler::compile(
        &MemoryWorld::new().with_file("p.wharf", text),
        "p.wharf".as_ref(),
        &Options {
            backends: descriptor::specs(REGISTRY),
            ..Options::default()
        },
    );
    let errors: Vec<String> = c.diagnostics.iter().map(|d| d.message.clone()).collect();
    c.pipeline.unwrap_or_else(|| panic!("{errors:?}"))
}

struct Harness {
    dir: tempfile::TempDir,
    backend: Arc<Scripted>,
    events: Arc<CollectingSink>,
    state: Arc<Mutex<Box<dyn StateStore>>>,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            dir: tempfile::tempdir().expect("tmp"),
            backend: Arc::new(Scripted::default()),
            events: Arc::new(CollectingSink::default()),
            state: Arc::new(Mutex::new(Box::new(SqliteStore::open_in_memory().expect("store")))),
        }
    }

    fn script(&self, step: &str, script: Script) {
        self.backend.scripts.lock().expect("lock").insert(step.into(), script);
    }

    async fn run(&self, pipeline: &Pipeline, options: RunOptions) -> RunSummary {
        self.run_with(pipeline, options, None, None).await
    }

    /// A run that may be refused before it starts.
    async fn try_run(&self, pipeline: &Pipeline, options: RunOptions) -> Result<RunSummary, RunError> {
        let backends: Backends = BTreeMap::from([(PROCESS, self.backend.clone() as Arc<dyn Backend>)]);
        let file = self.dir.path().join("p.wharf");
        let plan = Plan::build(pipeline, &pipeline.targets[0], &file, options, &backends, REGISTRY).expect("plan");
        let ctx = Context {
            state: self.state.clone(),
            backends,
            events: self.events.clone(),
            clock: Arc::new(FixedClock::new(1_000)),
            layout: Layout::new(self.dir.path().join(".wharf")),
            artifacts: Arc::new(crate::artifacts::LocalArtifacts::new()),
            host_env: Arc::new(|_| None),
        };
        let (_tx, rx) = watch::channel(false);
        run(&plan, &ctx, rx, None).await
    }

    /// What `wharf plan` would say now, through the same decisions.
    async fn forecast(&self, pipeline: &Pipeline) -> Vec<crate::forecast::Forecast> {
        let roles = crate::plan::roles(pipeline, &opts()).expect("roles");
        let backend: &dyn Backend = self.backend.as_ref();
        let backends: BTreeMap<StepId, &dyn Backend> = pipeline.order.iter().map(|&id| (id, backend)).collect();
        let preflight = crate::decide::preflight::Preflight::default();
        let host_env = |_: &str| None;
        let artifacts = crate::artifacts::LocalArtifacts::new();
        crate::forecast::forecast(
            &crate::forecast::Inputs {
                pipeline,
                project_dir: self.dir.path(),
                roles: &roles,
                backends: &backends,
                preflight: &preflight,
                host_env: &host_env,
                artifacts: &artifacts,
                no_cache: false,
                needed_only: false,
            },
            &self.state,
        )
        .await
        .expect("forecast")
    }

    async fn run_with(
        &self,
        pipeline: &Pipeline,
        options: RunOptions,
        cancel_after: Option<Duration>,
        resume: Option<&str>,
    ) -> RunSummary {
        // The scripted backend stands in for every backend.
        let backends: Backends = BTreeMap::from([
            (PROCESS, self.backend.clone() as Arc<dyn Backend>),
            (ELSEWHERE, self.backend.clone() as Arc<dyn Backend>),
        ]);
        let file = self.dir.path().join("p.wharf");
        let target = &pipeline.targets[0];
        let plan = Plan::build(pipeline, target, &file, options, &backends, REGISTRY).expect("plan");
        let ctx = Context {
            state: self.state.clone(),
            backends,
            events: self.events.clone(),
            clock: Arc::new(FixedClock::new(1_000)),
            layout: Layout::new(self.dir.path().join(".wharf")),
            artifacts: Arc::new(crate::artifacts::LocalArtifacts::new()),
            host_env: Arc::new(|_| None),
        };
        let (tx, rx) = watch::channel(false);
        if let Some(after) = cancel_after {
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _ = tx.send(true);
            });
            return run(&plan, &ctx, rx, resume).await.expect("run");
        }
        let summary = run(&plan, &ctx, rx, resume).await.expect("run");
        drop(tx);
        summary
    }

    fn status(&self, summary: &RunSummary) -> Vec<(String, StepStatus)> {
        summary.steps.iter().map(|s| (s.step.clone(), s.status)).collect()
    }
}

fn opts() -> RunOptions {
    RunOptions {
        jobs: 2,
        ..RunOptions::default()
    }
}

const CHAIN: &str = r#"pipeline p {
  step a { command = ["a"] outputs { out = dir() } }
  step b { command = ["b"] inputs { i = a.out } outputs { out = dir() } }
  step c { command = ["c"] inputs { i = b.out } outputs { out = dir() } }
}"#;

fn names(list: &[(&str, StepStatus)]) -> Vec<(String, StepStatus)> {
    list.iter().map(|(n, s)| (n.to_string(), *s)).collect()
}

#[tokio::test(start_paused = true)]
async fn a_chain_runs_in_order_then_comes_from_the_cache() {
    let h = Harness::new();
    let p = compile(CHAIN);
    let first = h.run(&p, opts()).await;
    assert_eq!(first.status, RunStatus::Succeeded);
    use StepStatus::*;
    assert_eq!(
        h.status(&first),
        names(&[("a", Succeeded), ("b", Succeeded), ("c", Succeeded)])
    );
    let calls: Vec<String> = h
        .backend
        .calls
        .lock()
        .expect("lock")
        .iter()
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(calls, ["a", "b", "c"]);
    let second = h.run(&p, opts()).await;
    assert_eq!(h.status(&second), names(&[("a", Cached), ("b", Cached), ("c", Cached)]));
    assert_eq!(h.backend.calls.lock().expect("lock").len(), 3, "nothing ran again");
    let third = h
        .run(
            &p,
            RunOptions {
                no_cache: true,
                ..opts()
            },
        )
        .await;
    assert_eq!(
        h.status(&third),
        names(&[("a", Succeeded), ("b", Succeeded), ("c", Succeeded)])
    );
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_and_then_succeed_or_fail() {
    let h = Harness::new();
    let p = compile(
        r#"pipeline p { step a { command = ["a"] outputs { out = dir() } retry { attempts = 3, backoff = 10s } } }"#,
    );
    h.script(
        "a",
        Script {
            fail_first: 2,
            ..Script::default()
        },
    );
    let summary = h.run(&p, opts()).await;
    assert_eq!(summary.status, RunStatus::Succeeded);
    let attempts = h
        .state
        .lock()
        .expect("lock")
        .attempts(&summary.run, "a")
        .expect("attempts");
    let statuses: Vec<StepStatus> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        [StepStatus::Failed, StepStatus::Failed, StepStatus::Succeeded]
    );
    let retries: Vec<Duration> = h
        .events
        .take()
        .into_iter()
        .filter_map(|e| match e {
            RunEvent::StepRetrying { delay, .. } => Some(delay),
            _ => None,
        })
        .collect();
    assert_eq!(retries.len(), 2);
    assert!(
        retries[0] >= Duration::from_millis(7_500) && retries[0] <= Duration::from_millis(12_500),
        "{retries:?}"
    );
    assert!(
        retries[1] >= Duration::from_millis(15_000) && retries[1] <= Duration::from_millis(25_000),
        "{retries:?}"
    );

    let h = Harness::new();
    h.script(
        "a",
        Script {
            fail_first: 9,
            ..Script::default()
        },
    );
    let summary = h.run(&p, opts()).await;
    assert_eq!(summary.status, RunStatus::Failed);
    let reason = summary.steps[0].reason.clone().unwrap_or_default();
    assert!(
        reason.contains("boom") && reason.contains("after 3 attempts"),
        "{reason}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_stops_the_attempt() {
    let h = Harness::new();
    let p = compile(r#"pipeline p { step a { command = ["a"] outputs { out = dir() } timeout = 5s } }"#);
    h.script(
        "a",
        Script {
            sleep_ms: 60_000,
            ..Script::default()
        },
    );
    let summary = h.run(&p, opts()).await;
    assert_eq!(summary.status, RunStatus::Failed);
    assert_eq!(summary.steps[0].reason.as_deref(), Some("timed out after 5s"));
}

#[tokio::test(start_paused = true)]
async fn fail_fast_stops_launching_and_keep_going_runs_what_it_can() {
    let text = r#"pipeline p {
      step bad  { command = ["x"] outputs { out = dir() } }
      step after_bad { command = ["x"] inputs { i = bad.out } }
      step slow { command = ["x"] outputs { out = dir() } }
      step after_slow { command = ["x"] inputs { i = slow.out } }
    }"#;
    let p = compile(text);
    use StepStatus::*;
    let h = Harness::new();
    h.script(
        "bad",
        Script {
            fail_first: 1,
            ..Script::default()
        },
    );
    h.script(
        "slow",
        Script {
            sleep_ms: 1_000,
            ..Script::default()
        },
    );
    let summary = h.run(&p, RunOptions { jobs: 1, ..opts() }).await;
    assert_eq!(summary.status, RunStatus::Failed);
    let by_name: BTreeMap<String, StepStatus> = h.status(&summary).into_iter().collect();
    assert_eq!(by_name["bad"], Failed);
    assert_eq!(by_name["slow"], Cancelled, "fail-fast launches nothing new");
    let h = Harness::new();
    h.script(
        "bad",
        Script {
            fail_first: 1,
            ..Script::default()
        },
    );
    let summary = h
        .run(
            &p,
            RunOptions {
                keep_going: true,
                ..opts()
            },
        )
        .await;
    let by_name: BTreeMap<String, StepStatus> = h.status(&summary).into_iter().collect();
    assert_eq!(
        by_name,
        BTreeMap::from([
            ("bad".into(), Failed),
            ("after_bad".into(), Skipped),
            ("slow".into(), Succeeded),
            ("after_slow".into(), Succeeded)
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn conditions_skip_steps_and_their_dependents() {
    let text = r#"pipeline p {
      step ev { command = ["e"] outputs { m = file("m.json") } }
      step deploy { command = ["d"] outputs { out = dir() } } when ev.m.auc >= 0.8
      step notify { command = ["n"] inputs { i = deploy.out } }
    }"#;
    let p = compile(text);
    use StepStatus::*;
    for (auc, want) in [("0.9", Succeeded), ("0.5", Skipped)] {
        let h = Harness::new();
        h.script(
            "ev",
            Script {
                json: Some(format!("{{\"auc\": {auc}}}")),
                ..Script::default()
            },
        );
        let summary = h.run(&p, opts()).await;
        assert_eq!(summary.status, RunStatus::Succeeded);
        let by_name: BTreeMap<String, StepRecord> = summary.steps.into_iter().map(|s| (s.step.clone(), s)).collect();
        assert_eq!(by_name["deploy"].status, want);
        assert_eq!(by_name["notify"].status, want);
        if want == Skipped {
            let reason = by_name["deploy"].reason.clone().unwrap_or_default();
            assert!(
                reason.contains("ev.m.auc >= 0.8") && reason.contains("ev.m.auc = 0.5"),
                "{reason}"
            );
            assert_eq!(by_name["notify"].reason.as_deref(), Some("`deploy` was skipped"));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_missing_output_fails_the_step_naming_it() {
    let h = Harness::new();
    let p = compile(r#"pipeline p { step a { command = ["a"] outputs { model = dir() } } }"#);
    h.script(
        "a",
        Script {
            skip_outputs: true,
            ..Script::default()
        },
    );
    let summary = h.run(&p, opts()).await;
    assert_eq!(summary.status, RunStatus::Failed);
    let reason = summary.steps[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("did not produce output `model`"), "{reason}");
}

#[tokio::test(start_paused = true)]
async fn fan_out_gathers_every_instance() {
    let text = r#"pipeline p {
      for r in ["eu", "us"] { step prep { command = ["p"] outputs { out = dir() } } }
      step all { command = ["a"] inputs { parts = prep[*].out } outputs { out = dir() } }
    }"#;
    let h = Harness::new();
    let p = compile(text);
    let summary = h.run(&p, opts()).await;
    assert_eq!(summary.status, RunStatus::Succeeded);
    let gathered = h
        .dir
        .path()
        .join(".wharf/runs")
        .join(&summary.run)
        .join("all/1/inputs/parts");
    let mut entries: Vec<String> = std::fs::read_dir(&gathered)
        .expect("gather folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["prep-eu", "prep-us"]);
    assert!(gathered.join("prep-eu/data.txt").exists(), "links lead to the outputs");
}

#[tokio::test(start_paused = true)]
async fn cancelling_stops_running_steps_and_records_it() {
    let h = Harness::new();
    let p = compile(CHAIN);
    h.script(
        "a",
        Script {
            sleep_ms: 60_000,
            ..Script::default()
        },
    );
    let summary = h.run_with(&p, opts(), Some(Duration::from_secs(1)), None).await;
    assert_eq!(summary.status, RunStatus::Cancelled);
    use StepStatus::*;
    assert_eq!(
        h.status(&summary),
        names(&[("a", Cancelled), ("b", Cancelled), ("c", Cancelled)])
    );
}

#[tokio::test(start_paused = true)]
async fn resume_runs_only_what_did_not_finish() {
    let h = Harness::new();
    let p = compile(CHAIN);
    h.script(
        "b",
        Script {
            fail_first: 1,
            ..Script::default()
        },
    );
    let first = h
        .run(
            &p,
            RunOptions {
                no_cache: true,
                ..opts()
            },
        )
        .await;
    assert_eq!(first.status, RunStatus::Failed);
    let resumed = h
        .run_with(
            &p,
            RunOptions {
                no_cache: true,
                ..opts()
            },
            None,
            Some(&first.run),
        )
        .await;
    assert_eq!(resumed.run, first.run, "the same run goes on");
    assert_eq!(resumed.status, RunStatus::Succeeded);
    let calls = h.backend.calls.lock().expect("lock").clone();
    assert_eq!(
        calls,
        [
            ("a".to_string(), 1),
            ("b".to_string(), 1),
            ("b".to_string(), 2),
            ("c".to_string(), 1)
        ],
        "a did not run again; b's attempts are numbered on"
    );
}

/// a -> b -> c, and x on its own.
const CHAIN_AND_ONE: &str = r#"pipeline p {
  step a { command = ["a"] outputs { out = dir() } }
  step b { command = ["b"] inputs { i = a.out } outputs { out = dir() } }
  step c { command = ["c"] inputs { i = b.out } outputs { out = dir() } }
  step x { command = ["x"] outputs { out = dir() } }
}"#;

#[tokio::test(start_paused = true)]
async fn only_refuses_before_starting_when_its_inputs_are_not_cached() {
    let h = Harness::new();
    let p = compile(CHAIN_AND_ONE);
    let refused = h
        .try_run(
            &p,
            RunOptions {
                only: Some("b".into()),
                ..opts()
            },
        )
        .await;
    let Err(RunError::Refused(reasons)) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("step `a`: it is outside --from/--to/--only and its outputs are not in the cache"),
        "{reasons:?}"
    );
    assert!(h.backend.calls.lock().expect("lock").is_empty(), "nothing ran");
    assert!(
        h.state.lock().expect("lock").runs(10).expect("runs").is_empty(),
        "nothing recorded"
    );
}

#[tokio::test(start_paused = true)]
async fn only_to_and_from_touch_nothing_outside_what_they_select() {
    let h = Harness::new();
    let p = compile(CHAIN_AND_ONE);
    use StepStatus::*;
    // --to: b and what it needs; c and x are not touched (before, x failed).
    let to = h
        .run(
            &p,
            RunOptions {
                to: Some("b".into()),
                ..opts()
            },
        )
        .await;
    assert_eq!(to.status, RunStatus::Succeeded);
    assert_eq!(
        h.status(&to),
        names(&[
            ("a", Succeeded),
            ("b", Succeeded),
            ("c", NotSelected),
            ("x", NotSelected)
        ])
    );
    // --only: exactly c; what it needs comes from the cache.
    let only = h
        .run(
            &p,
            RunOptions {
                only: Some("c".into()),
                no_cache: true,
                ..opts()
            },
        )
        .await;
    assert_eq!(only.status, RunStatus::Succeeded);
    assert_eq!(
        h.status(&only),
        names(&[("a", Cached), ("b", Cached), ("c", Succeeded), ("x", NotSelected)])
    );
    // --from: b and what follows it.
    let from = h
        .run(
            &p,
            RunOptions {
                from: Some("b".into()),
                no_cache: true,
                ..opts()
            },
        )
        .await;
    assert_eq!(
        h.status(&from),
        names(&[("a", Cached), ("b", Succeeded), ("c", Succeeded), ("x", NotSelected)])
    );
    let calls: Vec<String> = h
        .backend
        .calls
        .lock()
        .expect("lock")
        .iter()
        .map(|(s, _)| s.clone())
        .collect();
    assert_eq!(calls, ["a", "b", "c", "b", "c"], "x never ran");
}

#[tokio::test(start_paused = true)]
async fn forecast_knows_cached_steps_and_says_why_others_run() {
    let h = Harness::new();
    std::fs::write(h.dir.path().join("data.csv"), "1,2\n").expect("write");
    let text = r#"pipeline p {
      step a { command = ["a"] inputs { raw = "data.csv" } outputs { out = dir() } }
      step b { command = ["b"] inputs { i = a.out } outputs { out = dir() } }
    }"#;
    let p = compile(text);
    let before = h.forecast(&p).await;
    assert_eq!(
        before[0].verdict,
        Verdict::Runs {
            because: "it has not run before".into()
        }
    );
    assert!(matches!(&before[1].verdict, Verdict::Runs { because } if because.contains("`a` would run first")));
    let summary = h.run(&p, opts()).await;
    let after = h.forecast(&p).await;
    let cached = |step: &str| Verdict::Cached {
        run: summary.run.clone(),
        step: step.into(),
    };
    assert_eq!(after[0].verdict, cached("a"));
    assert_eq!(after[1].verdict, cached("b"));
    std::fs::write(h.dir.path().join("data.csv"), "1,3\n").expect("write");
    let changed = h.forecast(&p).await;
    let Verdict::Runs { because } = &changed[0].verdict else {
        panic!("{:?}", changed[0].verdict)
    };
    assert!(because.starts_with("input `raw` changed"), "{because}");
}

#[tokio::test(start_paused = true)]
async fn a_cached_output_edited_or_deleted_by_hand_runs_its_step_again() {
    let h = Harness::new();
    let p = compile(CHAIN);
    let first = h.run(&p, opts()).await;
    let out_of = |summary: &RunSummary, step: &str| -> PathBuf {
        let artifacts = h
            .state
            .lock()
            .expect("lock")
            .artifacts(&summary.run)
            .expect("artifacts");
        let a = artifacts.iter().find(|a| a.step == step).expect("artifact");
        PathBuf::from(a.uri.strip_prefix("file://").expect("local"))
    };
    // Same size, other bytes: found by the hash of the one file whose mtime moved.
    let data = out_of(&first, "a").join("data.txt");
    std::fs::write(&data, "X out").expect("edit");
    let Verdict::Runs { because } = &h.forecast(&p).await[0].verdict else {
        panic!("a should run again")
    };
    assert_eq!(
        because,
        "its cached output `out` changed: data.txt was edited (content differs)"
    );
    use StepStatus::*;
    let second = h.run(&p, opts()).await;
    assert_eq!(
        h.status(&second),
        names(&[("a", Succeeded), ("b", Cached), ("c", Cached)]),
        "a made the same output again, so b and c are still cached"
    );
    // A file deleted from b's output.
    std::fs::remove_file(out_of(&second, "b").join("data.txt")).expect("rm");
    let forecast = h.forecast(&p).await;
    assert!(matches!(&forecast[0].verdict, Verdict::Cached { .. }));
    assert_eq!(
        forecast[1].verdict,
        Verdict::Runs {
            because: "its cached output `out` changed: data.txt was deleted".into()
        }
    );
    let third = h.run(&p, opts()).await;
    assert_eq!(
        h.status(&third),
        names(&[("a", Cached), ("b", Succeeded), ("c", Cached)])
    );
    // Touched only: still cached, and the new timestamps are recorded.
    let touched = out_of(&third, "c").join("data.txt");
    let file = std::fs::File::options().write(true).open(&touched).expect("open");
    file.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(1_000))
        .expect("touch");
    let fourth = h.run(&p, opts()).await;
    assert_eq!(h.status(&fourth), names(&[("a", Cached), ("b", Cached), ("c", Cached)]));
}

#[tokio::test(start_paused = true)]
async fn a_backend_limit_caps_concurrency_within_jobs() {
    let text = r#"pipeline p {
      for i in [1, 2, 3, 4] { step w { command = ["w", "${i}"] outputs { out = dir() } } }
    }"#;
    let h = Harness::new();
    let p = compile(text);
    for i in 1..=4 {
        h.script(
            &format!("w-{i}"),
            Script {
                sleep_ms: 1_000,
                ..Script::default()
            },
        );
    }
    let limits = BTreeMap::from([(PROCESS, 2)]);
    let summary = h
        .run(
            &p,
            RunOptions {
                jobs: 4,
                backend_limits: limits,
                ..opts()
            },
        )
        .await;
    assert_eq!(summary.status, RunStatus::Succeeded);
    // With 4 slots but 2 for the backend, the 4 one-second steps take two rounds.
    let peak = peak_running(h.events.take());
    assert_eq!(peak, 2);
}

#[tokio::test(start_paused = true)]
async fn steps_run_elsewhere_take_no_local_slot_and_are_capped_by_their_backends_limit() {
    let text = r#"pipeline p {
      for i in [1, 2, 3, 4, 5, 6] { step w { image = "x" command = ["w", "${i}"] outputs { out = dir() } } }
    }
    target cloud { backend = elsewhere }"#;
    let h = Harness::new();
    let p = compile(text);
    for i in 1..=6 {
        h.script(
            &format!("w-{i}"),
            Script {
                sleep_ms: 1_000,
                ..Script::default()
            },
        );
    }
    let summary = h
        .run(
            &p,
            RunOptions {
                jobs: 1,
                backend_limits: BTreeMap::from([(ELSEWHERE, 4)]),
                ..opts()
            },
        )
        .await;
    assert_eq!(summary.status, RunStatus::Succeeded);
    let peak = peak_running(h.events.take());
    assert_eq!(peak, 4, "--jobs 1 is this machine's; the limit of 4 is the backend's");
}

#[tokio::test(start_paused = true)]
async fn identical_work_under_another_name_is_reused_and_says_whose() {
    let h = Harness::new();
    let p = compile(r#"pipeline p { for i in [1, 2] { step w { command = ["same"] outputs { out = dir() } } } }"#);
    let summary = h.run(&p, RunOptions { jobs: 1, ..opts() }).await;
    let second = summary.steps.iter().find(|s| s.step == "w-2").expect("w-2");
    assert_eq!(second.status, StepStatus::Cached);
    assert_eq!(
        second.reason.as_deref(),
        Some("same definition and inputs as `w-1` in this run")
    );
    assert_eq!(h.backend.calls.lock().expect("lock").len(), 1, "the work ran once");
}

#[tokio::test(start_paused = true)]
async fn identical_work_started_at_once_runs_once_and_the_other_waits() {
    let h = Harness::new();
    let p = compile(r#"pipeline p { for i in [1, 2] { step w { command = ["same"] outputs { out = dir() } } } }"#);
    for i in 1..=2 {
        h.script(
            &format!("w-{i}"),
            Script {
                sleep_ms: 1_000,
                ..Script::default()
            },
        );
    }
    let summary = h.run(&p, RunOptions { jobs: 2, ..opts() }).await;
    assert_eq!(summary.status, RunStatus::Succeeded);
    assert_eq!(h.backend.calls.lock().expect("lock").len(), 1, "the key ran once");
    let waited = h.events.take().into_iter().any(|e| {
        matches!(e, RunEvent::StepLog { line, .. } if line.contains("waiting for step `w-") && line.contains("of this run"))
    });
    assert!(waited, "the second said whom it waited for");
}

/// The most steps running at once, from a run's events.
fn peak_running(events: Vec<RunEvent>) -> i32 {
    let (mut running, mut peak) = (0i32, 0i32);
    for e in events {
        match e {
            RunEvent::StepStarted { .. } => {
                running += 1;
                peak = peak.max(running);
            }
            RunEvent::StepFinished { .. } => running -= 1,
            _ => {}
        }
    }
    peak
}

#[test]
fn a_kind_the_backend_does_not_run_is_refused_before_anything_starts() {
    let p = compile(r#"pipeline p { transform t { command = ["x"] inputs { model = "m", data = "d" } } }"#);
    let dir = tempfile::tempdir().unwrap();
    for file in ["m", "d"] {
        std::fs::write(dir.path().join(file), "1").unwrap();
    }
    let backend: Arc<dyn Backend> = Arc::new(Scripted::default());
    let backends: Backends = BTreeMap::from([(PROCESS, backend)]);
    let Err(errors) = Plan::build(
        &p,
        &p.targets[0],
        &dir.path().join("p.wharf"),
        opts(),
        &backends,
        REGISTRY,
    ) else {
        panic!("the plan was accepted")
    };
    let codes: Vec<_> = errors.iter().map(|e| (e.code, e.span)).collect();
    assert_eq!(
        codes,
        [(wharf_compiler::Code::UnsupportedOnBackend, None)],
        "{errors:?}"
    );
    assert!(
        errors[0].hints.iter().any(|h| h == "place it on elsewhere"),
        "{errors:?}"
    );
}

#[test]
fn a_backend_this_process_has_not_built_is_refused_before_anything_starts() {
    let p = compile(r#"pipeline p { step s { command = ["x"] } }"#);
    let dir = tempfile::tempdir().unwrap();
    let Err(errors) = Plan::build(
        &p,
        &p.targets[0],
        &dir.path().join("p.wharf"),
        opts(),
        &Backends::new(),
        REGISTRY,
    ) else {
        panic!("the plan was accepted")
    };
    let codes: Vec<_> = errors.iter().map(|e| e.code).collect();
    assert_eq!(codes, [wharf_compiler::Code::BackendUnavailable], "{errors:?}");
}
