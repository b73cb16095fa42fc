//! A SageMaker job's CloudWatch log followed into the step's log (`wharf
//! logs RUN STEP`), against moto with the fault proxy in front of it
//! (tests/aws/fault_proxy.py). Who answers what:
//!
//! - moto keeps and serves the log: CreateLogGroup/CreateLogStream/
//!   PutLogEvents, and the DescribeLogStreams and GetLogEvents wharf sends;
//! - the proxy plays the job: it holds each job InProgress for a while,
//!   writes the job rule's `logs` lines into moto at their times after the
//!   Create call (stream `<job>/<host>-<epoch>`, as SageMaker's log agent
//!   names it), injects AccessDenied and throttling into CloudWatch Logs
//!   calls, and counts them.

mod common;
use common::moto::Moto;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const BUCKET: &str = "wharf-logs-test";
const ROLE: &str = "arn:aws:iam::123456789012:role/wharf";
const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tools:1";

fn setup() -> Option<Moto> {
    let moto = Moto::start()?;
    if moto.aws_cli.is_none() {
        common::moto::skip_or_fail("no AWS CLI beside moto (.ci/moto-venv.sh installs it)");
        return None;
    }
    moto.reset();
    let out = moto.aws_at(&moto.endpoint, &[], &["s3", "mb", &format!("s3://{BUCKET}")]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    Some(moto)
}

/// A project whose pipeline has processing steps `names` and a cloud target
/// with `extra` settings; returns its folder.
fn project(moto: &Moto, names: &[&str], extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let steps: String = names
        .iter()
        .map(|n| {
            format!(
                r#"  step {n} {{
    image   = "{IMAGE}"
    command = ["python3", "{n}.py"]
    inputs  {{ raw = "data/raw.csv" }}
  }}
"#
            )
        })
        .collect();
    let text = format!(
        r#"pipeline cloudy {{
{steps}}}
target cloud {{
  backend      = sagemaker
  bucket       = "s3://{BUCKET}/team"
  region       = "us-east-1"
  role         = "{ROLE}"
  endpoint_url = "{}"
{extra}}}
"#,
        moto.endpoint
    );
    std::fs::write(dir.path().join("p.wharf"), text).unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/raw.csv"), "a,b\n1,2\n").unwrap();
    dir
}

fn run(moto: &Moto, dir: &Path) -> (Option<i32>, String) {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("wharf"));
    moto.apply_env(&mut cmd);
    let out = cmd
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("WHARF_SAGEMAKER_POLL_MS", "200,1000")
        .args(["run", "p.wharf", "--target", "cloud", "--jobs", "4"])
        .output()
        .expect("wharf runs");
    (out.status.code(), stderr_of(&out))
}

/// `wharf logs last STEP`: the step's log as wharf keeps it.
fn step_log(dir: &Path, step: &str) -> String {
    let out = wharf_in(dir).args(["logs", "last", step]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    stdout_of(&out)
}

/// The container's lines of a step's log: all but wharf's own.
fn container_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| !l.starts_with("wharf: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_jobs_log_lines_reach_the_step_log_in_order_once_each_even_the_late_ones() {
    let Some(moto) = setup() else { return };
    // Each job runs 4 s. `solo` has one host; its last line is written 0.4 s
    // after the job ended (CloudWatch lags): only the final drain reads it.
    // `pair` has two hosts, so its lines carry the host. The first two
    // GetLogEvents calls are throttled.
    moto.configure(
        r#"{"jobs": [
             {"prefix": "cloudy-solo-", "duration_seconds": 4, "logs": [
                "epoch 1 loss=0.9", "epoch 2 loss=0.5",
                {"message": "traceback line 1\ntraceback line 2", "at": 1.5},
                {"message": "epoch 3 loss=0.2", "at": 2.5},
                {"message": "wrote the model", "at": 4.4}]},
             {"prefix": "cloudy-pair-", "duration_seconds": 4, "logs": [
                {"message": "leader up", "at": 0.5, "host": "algo-1"},
                {"message": "worker up", "at": 1.0, "host": "algo-2"},
                {"message": "leader done", "at": 2.0, "host": "algo-1"},
                {"message": "worker done", "at": 3.0, "host": "algo-2"}]}],
            "throttle": [{"operation": "GetLogEvents", "count": 2}]}"#,
    );
    let dir = project(&moto, &["solo", "pair"], "");
    let (code, err) = run(&moto, dir.path());
    assert_eq!(code, Some(0), "{err}");

    let solo = step_log(dir.path(), "solo");
    assert_eq!(
        container_lines(&solo),
        vec![
            "epoch 1 loss=0.9",
            "epoch 2 loss=0.5",
            "traceback line 1",
            "traceback line 2",
            "epoch 3 loss=0.2",
            "wrote the model",
        ],
        "{solo}"
    );
    // wharf's own lines are around the job's, not among them.
    assert!(solo.contains("wharf: created SageMaker processing job"), "{solo}");
    // Each host's lines in its own order, once each. (Across hosts, lines are
    // in time order within what one read brings; a host whose stream shows
    // up later than the first one's comes in as it is found.)
    let pair = container_lines(&step_log(dir.path(), "pair"));
    let host = |h: &str| -> Vec<&str> { pair.iter().filter_map(|l| l.strip_prefix(&format!("[{h}] "))).collect() };
    assert_eq!(host("algo-1"), vec!["leader up", "leader done"], "{pair:?}");
    assert_eq!(host("algo-2"), vec!["worker up", "worker done"], "{pair:?}");
    assert_eq!(pair.len(), 4, "{pair:?}");
    let stats = moto.stats();
    assert_eq!(stats["throttled"]["GetLogEvents"], 2, "throttled, then carried on");
    let written: u64 = stats["log_lines_written"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(written, 9, "the proxy wrote every line into moto");
}

#[test]
fn logs_off_on_the_target_or_a_step_follows_nothing() {
    let Some(moto) = setup() else { return };
    moto.configure(
        r#"{"jobs": [{"prefix": "", "duration_seconds": 2,
                      "logs": ["hello from the container"]}]}"#,
    );
    // Off for one step only: the other is followed.
    let dir = project(&moto, &["loud", "quiet"], "  step quiet { logs = off }\n");
    let (code, err) = run(&moto, dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        container_lines(&step_log(dir.path(), "loud")),
        vec!["hello from the container"]
    );
    assert_eq!(container_lines(&step_log(dir.path(), "quiet")), Vec::<String>::new());

    // Off on the target: not one CloudWatch Logs call.
    moto.reset();
    let out = moto.aws_at(&moto.endpoint, &[], &["s3", "mb", &format!("s3://{BUCKET}")]);
    assert!(out.status.success());
    moto.configure(
        r#"{"jobs": [{"prefix": "", "duration_seconds": 2,
                      "logs": ["hello from the container"]}]}"#,
    );
    let dir = project(&moto, &["loud"], "  logs = off\n");
    let (code, err) = run(&moto, dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(container_lines(&step_log(dir.path(), "loud")), Vec::<String>::new());
    let stats = moto.stats();
    assert_eq!(stats["logs_operations"], Value::Object(Default::default()), "{stats:#}");
}

#[test]
fn a_role_that_cannot_read_logs_gets_one_warning_and_the_step_still_succeeds() {
    let Some(moto) = setup() else { return };
    moto.configure(
        r#"{"jobs": [{"prefix": "", "duration_seconds": 3, "logs": ["secret line"]}],
            "throttle": [{"operation": "DescribeLogStreams", "count": 1000,
                          "type": "AccessDeniedException",
                          "message": "User is not authorized to perform: logs:DescribeLogStreams"}]}"#,
    );
    let dir = project(&moto, &["prep"], "");
    let (code, err) = run(&moto, dir.path());
    assert_eq!(code, Some(0), "{err}");
    let log = step_log(dir.path(), "prep");
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("wharf: cannot read CloudWatch logs"))
        .collect();
    assert_eq!(
        warnings,
        vec![
            "wharf: cannot read CloudWatch logs: AccessDeniedException: User is not authorized \
             to perform: logs:DescribeLogStreams; the job's logs are in the console"
        ],
        "{log}"
    );
    assert!(container_lines(&log).is_empty(), "{log}");
    // It stopped asking after the refusal.
    assert_eq!(moto.stats()["logs_operations"]["DescribeLogStreams"], 1);
}
