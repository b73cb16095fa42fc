//! The process backend against real processes (`sh`, `sleep`, `env`): what a
//! step sees, what it writes, how it ends and how it is stopped. Checks on
//! process groups read `/proc`, so they are Linux-only.

use super::ProcessBackend;
use crate::backend::{Attempt, Backend, Finish, Handle};
use crate::events::{CollectingSink, RunEvent};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use wharf_compiler::types::StepKind;

/// A project folder and an attempt of step `prep` with one output, `out`.
struct Setup {
    dir: TempDir,
    attempt: Attempt,
}

impl Setup {
    fn new(kind: StepKind, command: &[&str]) -> Setup {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::create_dir_all(dir.path().join("project")).expect("project folder");
        let attempt = Attempt {
            run: "run-1".into(),
            pipeline: "demo".into(),
            step: "prep".into(),
            attempt: 1,
            kind,
            image: None,
            command: command.iter().map(|s| s.to_string()).collect(),
            env: BTreeMap::new(),
            secret_env: Default::default(),
            inputs: Vec::new(),
            outputs: vec!["out".into()],
            hyperparameters: BTreeMap::new(),
            work_dir: dir.path().join(".wharf/runs/run-1/prep/1"),
            log_path: dir.path().join(".wharf/runs/run-1/prep/1/log.txt"),
            cpus: None,
            gpus: None,
            memory: None,
            instance: "ml.m5.large".into(),
            timeout_ms: None,
            spec: wharf_compiler::pipeline::KindSpec::None,
        };
        Setup { dir, attempt }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn backend(&self) -> ProcessBackend {
        ProcessBackend::new(self.path("project"))
    }

    async fn submit(&self, backend: &ProcessBackend) -> (Box<dyn Handle>, Arc<CollectingSink>) {
        let sink = Arc::new(CollectingSink::default());
        let handle = backend
            .submit(self.attempt.clone(), sink.clone())
            .await
            .expect("submit");
        (handle, sink)
    }

    async fn run(&self) -> (Finish, Vec<RunEvent>) {
        let (mut handle, sink) = self.submit(&self.backend()).await;
        let finish = handle.wait().await;
        (finish, sink.take())
    }
}

/// `KEY=VALUE` lines as `env` prints them.
fn read_env(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).expect("env dump");
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("json file")).expect("valid JSON")
}

fn var<'a>(env: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    env.get(name).unwrap_or_else(|| panic!("{name} is not set"))
}

fn json_var(env: &BTreeMap<String, String>, name: &str) -> Value {
    serde_json::from_str(var(env, name)).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

/// A folder that exists and is named by an absolute path.
fn assert_folder(path: &str) {
    assert!(Path::new(path).is_absolute(), "{path} is not absolute");
    assert!(Path::new(path).is_dir(), "{path} is not a folder");
}

fn canonical(path: impl AsRef<Path>) -> PathBuf {
    std::fs::canonicalize(path.as_ref()).expect("canonical path")
}

fn logs(events: &[RunEvent]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|event| match event {
            RunEvent::StepLog { line, stderr, .. } => Some((line.clone(), *stderr)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_step_sees_its_inputs_outputs_and_sagemaker_variables() {
    let mut setup = Setup::new(
        StepKind::Step,
        &[
            "sh",
            "-c",
            r#"env > "$WHARF_OUTPUT_OUT/env.txt"; pwd > "$WHARF_OUTPUT_OUT/pwd.txt""#,
        ],
    );
    std::fs::create_dir_all(setup.path("data/ref")).expect("input folder");
    std::fs::write(setup.path("data/raw.csv"), "a,b\n").expect("input file");
    setup.attempt.inputs = vec![
        ("raw-data".into(), setup.path("data/raw.csv")),
        ("ref".into(), setup.path("data/ref")),
    ];
    setup.attempt.env.insert("GREETING".into(), "hello".into());
    setup.attempt.hyperparameters.insert("max_depth".into(), "6".into());
    setup.attempt.hyperparameters.insert("name".into(), "\"xgb\"".into());

    let (finish, _) = setup.run().await;
    assert_eq!(finish, Finish::Succeeded);
    let out = setup.attempt.output_dir("out");
    let env = read_env(&out.join("env.txt"));

    assert_eq!(var(&env, "WHARF_RUN"), "run-1");
    assert_eq!(var(&env, "WHARF_STEP"), "prep");
    assert_eq!(var(&env, "WHARF_ATTEMPT"), "1");
    assert_eq!(Path::new(var(&env, "WHARF_INPUT_RAW_DATA")), setup.path("data/raw.csv"));
    assert_folder(var(&env, "WHARF_INPUT_REF"));
    assert_folder(var(&env, "WHARF_OUTPUT_OUT"));
    assert_eq!(Path::new(var(&env, "WHARF_OUTPUT_OUT")), out);
    assert_eq!(var(&env, "GREETING"), "hello");
    assert!(env.contains_key("PATH"), "the parent's environment is inherited");

    assert_eq!(json_var(&env, "SM_CHANNELS"), json!(["raw-data", "ref"]));
    assert_eq!(Path::new(var(&env, "SM_CHANNEL_REF")), setup.path("data/ref"));
    assert_eq!(json_var(&env, "SM_HPS"), json!({"max_depth": 6, "name": "xgb"}));
    assert_eq!(var(&env, "SM_HP_MAX_DEPTH"), "6");
    assert_eq!(var(&env, "SM_HP_NAME"), "xgb");
    assert_eq!(var(&env, "SM_CURRENT_HOST"), "algo-1");
    assert_eq!(json_var(&env, "SM_HOSTS"), json!(["algo-1"]));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(var(&env, "SM_NUM_CPUS"), cores.to_string());
    assert_eq!(var(&env, "SM_NUM_GPUS"), "0");
    let work = &setup.attempt.work_dir;
    assert_eq!(Path::new(var(&env, "SM_MODEL_DIR")), work.join("model"));
    assert_eq!(Path::new(var(&env, "SM_OUTPUT_DATA_DIR")), work.join("output/data"));
    assert_eq!(Path::new(var(&env, "SM_OUTPUT_DIR")), work.join("output"));
    assert_eq!(Path::new(var(&env, "SM_INPUT_DIR")), work.join("input"));
    for name in ["SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "SM_INPUT_CONFIG_DIR"] {
        assert_folder(var(&env, name));
    }
    assert!(
        !env.contains_key("SM_RESOURCE_CONFIG"),
        "only train steps get the config files"
    );

    let pwd = std::fs::read_to_string(out.join("pwd.txt")).expect("pwd");
    assert_eq!(canonical(pwd.trim()), canonical(setup.path("project")));
}

#[tokio::test]
async fn toolkit_names_keep_dashes_as_the_toolkit_does() {
    // `env` itself, not through `sh`: dash drops variables whose names are
    // not shell names before it starts a child; Python does not.
    let mut setup = Setup::new(StepKind::Step, &["env"]);
    setup.attempt.inputs = vec![("raw-data".into(), setup.path("project"))];
    let (finish, events) = setup.run().await;
    assert_eq!(finish, Finish::Succeeded);
    let lines = logs(&events);
    let has = |want: String| lines.iter().any(|(line, _)| *line == want);
    let path = setup.path("project");
    assert!(has(format!("SM_CHANNEL_RAW-DATA={}", path.display())), "{lines:?}");
    assert!(has(format!("WHARF_INPUT_RAW_DATA={}", path.display())), "{lines:?}");
}

#[tokio::test]
async fn a_train_step_gets_sagemaker_folders_and_config_files() {
    let mut setup = Setup::new(StepKind::Train, &["sh", "-c", r#"env > "$SM_OUTPUT_DATA_DIR/env.txt""#]);
    setup.attempt.outputs = vec!["model".into(), "output".into()];
    std::fs::create_dir_all(setup.path("data/train")).expect("input folder");
    setup.attempt.inputs = vec![("train".into(), setup.path("data/train"))];
    setup.attempt.cpus = Some(1.5);
    setup.attempt.gpus = Some(1);
    for (name, value) in [
        ("max_depth", "6"),
        ("eta", "0.3"),
        ("objective", "\"binary:logistic\""),
        ("sagemaker_program", "\"train.py\""),
    ] {
        setup.attempt.hyperparameters.insert(name.into(), value.into());
    }

    let (finish, _) = setup.run().await;
    assert_eq!(finish, Finish::Succeeded);
    let env = read_env(&setup.attempt.output_dir("output").join("env.txt"));

    assert_eq!(Path::new(var(&env, "SM_MODEL_DIR")), setup.attempt.output_dir("model"));
    assert_eq!(
        Path::new(var(&env, "SM_OUTPUT_DATA_DIR")),
        setup.attempt.output_dir("output")
    );
    assert_eq!(var(&env, "SM_NUM_CPUS"), "2");
    assert_eq!(var(&env, "SM_NUM_GPUS"), "1");
    // Exact strings: the toolkit's encoding, sorted keys and no spaces.
    assert_eq!(
        var(&env, "SM_HPS"),
        r#"{"eta":0.3,"max_depth":6,"objective":"binary:logistic"}"#
    );
    assert_eq!(var(&env, "SM_HP_OBJECTIVE"), "binary:logistic");
    assert!(
        !env.contains_key("SM_HP_SAGEMAKER_PROGRAM"),
        "the toolkit keeps sagemaker_* out"
    );
    assert_eq!(var(&env, "SM_FRAMEWORK_PARAMS"), "{}");
    assert_eq!(
        var(&env, "SM_INPUT_DATA_CONFIG"),
        r#"{"train":{"RecordWrapperType":"None","S3DistributionType":"FullyReplicated","TrainingInputMode":"File"}}"#
    );

    let config = Path::new(var(&env, "SM_INPUT_CONFIG_DIR")).to_path_buf();
    assert_eq!(config, setup.attempt.work_dir.join("input/config"));
    let hyperparameters = read_json(&config.join("hyperparameters.json"));
    let want = json!({"eta": "0.3", "max_depth": "6", "objective": "\"binary:logistic\"", "sagemaker_program": "\"train.py\""});
    assert_eq!(hyperparameters, want, "every value stays a string");
    assert_eq!(
        read_json(&config.join("inputdataconfig.json")),
        json!({"train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}})
    );
    let resources = read_json(&config.join("resourceconfig.json"));
    assert_eq!(resources["current_host"], "algo-1");
    assert_eq!(resources["instance_groups"][0]["hosts"], json!(["algo-1"]));
    assert_eq!(json_var(&env, "SM_RESOURCE_CONFIG"), resources);
}

#[tokio::test]
async fn output_goes_to_the_log_file_and_the_event_sink() {
    let script = r#"echo out1; echo err1 >&2; printf '\377bad\n'; head -c 150000 /dev/zero | tr '\0' a; echo; echo out2; printf last"#;
    let setup = Setup::new(StepKind::Step, &["sh", "-c", script]);
    let (finish, events) = setup.run().await;
    assert_eq!(finish, Finish::Succeeded);

    let long = "a".repeat(crate::backend::lines::MAX_LINE);
    let tail = "a".repeat(150_000 - 2 * crate::backend::lines::MAX_LINE);
    let stdout = ["out1", "\u{fffd}bad", &long, &long, &tail, "out2", "last"];
    let logs = logs(&events);
    let events_stdout: Vec<&str> = logs.iter().filter(|(_, err)| !err).map(|(l, _)| l.as_str()).collect();
    let events_stderr: Vec<&str> = logs.iter().filter(|(_, err)| *err).map(|(l, _)| l.as_str()).collect();
    assert_eq!(events_stdout, stdout, "stdout lines, in order, long ones cut");
    assert_eq!(events_stderr, ["err1"]);

    let file = String::from_utf8_lossy(&std::fs::read(&setup.attempt.log_path).expect("log file")).into_owned();
    let file_lines: Vec<&str> = file.lines().collect();
    assert_eq!(file_lines.len(), stdout.len() + 1, "one line per event");
    let file_stdout: Vec<&str> = file_lines.iter().copied().filter(|l| *l != "err1").collect();
    assert_eq!(file_stdout, stdout);
}

#[tokio::test]
async fn a_non_zero_exit_fails_with_the_code_and_the_last_lines() {
    let setup = Setup::new(StepKind::Step, &["sh", "-c", "echo boom; exit 3"]);
    let (finish, _) = setup.run().await;
    let Finish::Failed { exit_code, reason } = finish else {
        panic!("expected a failure, got {finish:?}");
    };
    assert_eq!(exit_code, Some(3));
    assert!(reason.contains("code 3") && reason.contains("boom"), "reason: {reason}");
}

#[tokio::test]
async fn a_signal_fails_with_its_name() {
    let setup = Setup::new(StepKind::Step, &["sh", "-c", "kill -KILL $$"]);
    let (finish, _) = setup.run().await;
    let Finish::Failed { exit_code, reason } = finish else {
        panic!("expected a failure, got {finish:?}");
    };
    assert_eq!(exit_code, None);
    assert!(reason.contains("SIGKILL"), "reason: {reason}");
}

#[tokio::test]
async fn a_missing_program_is_a_submit_error() {
    let setup = Setup::new(StepKind::Step, &["wharf-no-such-program", "--flag"]);
    let sink = Arc::new(CollectingSink::default());
    let Err(error) = setup.backend().submit(setup.attempt.clone(), sink).await else {
        panic!("submit should fail");
    };
    assert_eq!(
        error,
        "cannot start `wharf-no-such-program`: No such file or directory (is it on PATH?)"
    );
}

#[tokio::test]
async fn relative_programs_are_found_in_the_project_folder() {
    let setup = Setup::new(StepKind::Step, &["./hello.sh"]);
    let script = setup.path("project/hello.sh");
    std::fs::write(&script, "#!/bin/sh\necho hello > \"$WHARF_OUTPUT_OUT/hello.txt\"\n").expect("script");
    let mut permissions = std::fs::metadata(&script).expect("script metadata").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).expect("chmod");

    let (finish, _) = setup.run().await;
    assert_eq!(finish, Finish::Succeeded);
    let hello = std::fs::read_to_string(setup.attempt.output_dir("out").join("hello.txt")).expect("output");
    assert_eq!(hello, "hello\n");
}

#[tokio::test]
async fn the_health_check_wants_the_project_folder() {
    let setup = Setup::new(StepKind::Step, &["true"]);
    assert_eq!(setup.backend().health_check().await, Ok(()));
    let missing = ProcessBackend::new(setup.path("nowhere"));
    let error = missing.health_check().await.expect_err("no project folder");
    assert!(
        error.contains("nowhere") && error.contains("does not exist"),
        "error: {error}"
    );
}

/// Live (not zombie) processes of group `pgid`, by command name.
fn group_members(pgid: i32) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut members = Vec::new();
    for entry in entries.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parens.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2].parse() == Ok(pgid) {
            members.push(stat[open + 1..close].to_owned());
        }
    }
    members
}

fn pgid(handle: &dyn Handle) -> i32 {
    let id = handle.id();
    id.strip_prefix("pid ")
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("id {id:?}"))
}

/// Waits until the group has `sleeps` live `sleep` processes, so that the
/// test stops a step that has really started its children.
async fn wait_for_sleeps(pgid: i32, sleeps: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while group_members(pgid).iter().filter(|name| *name == "sleep").count() < sleeps {
        assert!(
            Instant::now() < deadline,
            "the step never started: {:?}",
            group_members(pgid)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn wait_for_empty_group(pgid: i32, within: Duration) {
    let deadline = Instant::now() + within;
    while !group_members(pgid).is_empty() {
        assert!(Instant::now() < deadline, "still alive: {:?}", group_members(pgid));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn cancel_stops_children_of_children_with_sigterm() {
    let setup = Setup::new(StepKind::Step, &["sh", "-c", "sleep 30 & sleep 30; wait"]);
    let grace = Duration::from_secs(5);
    let backend = setup.backend().with_grace_period(grace);
    let (mut handle, _) = setup.submit(&backend).await;
    let pgid = pgid(handle.as_ref());
    wait_for_sleeps(pgid, 2).await;

    let started = Instant::now();
    handle.cancel().await;
    assert!(
        started.elapsed() < grace,
        "SIGTERM was enough; took {:?}",
        started.elapsed()
    );
    assert_eq!(group_members(pgid), Vec::<String>::new());
    assert_eq!(handle.wait().await, Finish::Cancelled);
    handle.cancel().await;
    assert_eq!(handle.wait().await, Finish::Cancelled, "cancel is idempotent");
}

#[tokio::test]
async fn cancel_kills_what_ignores_sigterm_after_the_grace_period() {
    let setup = Setup::new(StepKind::Step, &["sh", "-c", r#"trap "" TERM; sleep 30; echo never"#]);
    let grace = Duration::from_millis(500);
    let backend = setup.backend().with_grace_period(grace);
    let (mut handle, _) = setup.submit(&backend).await;
    let pgid = pgid(handle.as_ref());
    wait_for_sleeps(pgid, 1).await;

    let started = Instant::now();
    handle.cancel().await;
    let took = started.elapsed();
    assert!(took >= grace && took < grace + Duration::from_secs(3), "took {took:?}");
    assert_eq!(group_members(pgid), Vec::<String>::new());
    assert_eq!(handle.wait().await, Finish::Cancelled);
}

#[tokio::test]
async fn dropping_a_running_handle_kills_its_group() {
    let setup = Setup::new(StepKind::Step, &["sh", "-c", "sleep 30 & sleep 30; wait"]);
    let (handle, _) = setup.submit(&setup.backend()).await;
    let pgid = pgid(handle.as_ref());
    wait_for_sleeps(pgid, 2).await;
    drop(handle);
    wait_for_empty_group(pgid, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn what_a_step_leaves_running_is_killed_when_it_exits() {
    let setup = Setup::new(StepKind::Step, &["sh", "-c", "sleep 30 & echo started"]);
    let (mut handle, sink) = setup.submit(&setup.backend()).await;
    let pgid = pgid(handle.as_ref());
    let started = Instant::now();
    assert_eq!(handle.wait().await, Finish::Succeeded);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "wait did not hang on the background sleep"
    );
    assert_eq!(logs(&sink.take()), [("started".to_owned(), false)]);
    wait_for_empty_group(pgid, Duration::from_secs(2)).await;
}
