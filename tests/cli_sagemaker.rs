//! `wharf run` on the sagemaker backend against moto (in server mode) with
//! the project's fault-injecting proxy in front of it (tests/aws/
//! fault_proxy.py). Each test says which of the two answers what:
//!
//! - moto records the jobs and serves S3: the requests wharf sent are read
//!   back through Describe* with the AWS CLI, and the data through S3;
//! - the proxy gives jobs a lifecycle (InProgress, then Completed or Failed),
//!   answers StopTrainingJob (moto has none), and throttles on request.
//!
//! moto runs nothing and writes no outputs: a test plays the job's part by
//! reading the job's output location from its Describe and putting the
//! outputs there while the proxy holds the job InProgress.

mod common;
use common::moto::Moto;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BUCKET: &str = "wharf-test";
const ROLE: &str = "arn:aws:iam::123456789012:role/wharf";
const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tools:1";

/// The AWS CLI against moto (not through wharf): stdout as JSON when it is JSON.
fn aws(moto: &Moto, args: &[&str]) -> Value {
    let cli = moto.aws_cli.clone().expect("the AWS CLI (setup checked)");
    let mut cmd = Command::new(cli);
    moto.apply_env(&mut cmd);
    let out = cmd
        .args(["--endpoint-url", &moto.endpoint, "--output", "json"])
        .args(args)
        .output()
        .expect("the AWS CLI runs");
    assert!(
        out.status.success(),
        "aws {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(moto: &Moto, steps: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            r#"pipeline cloudy {{
{steps}
}}
target cloud {{
  backend      = sagemaker
  bucket       = "s3://{BUCKET}/team"
  region       = "us-east-1"
  role         = "{ROLE}"
  endpoint_url = "{}"
}}
"#,
            moto.endpoint
        );
        std::fs::write(dir.path().join("p.wharf"), text).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/raw.csv"), "a,b\n1,2\n").unwrap();
        Project { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn spawn(&self, moto: &Moto, args: &[&str]) -> std::process::Child {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("wharf"));
        moto.apply_env(&mut cmd);
        cmd.current_dir(self.path())
            .env("NO_COLOR", "1")
            .env("WHARF_SAGEMAKER_POLL_MS", "200,1000")
            .args(["run", "p.wharf", "--target", "cloud"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("wharf starts")
    }

    fn show(&self) -> Value {
        let out = wharf_in(self.path())
            .args(["show", "last", "--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn setup() -> Option<Moto> {
    let moto = Moto::start()?;
    if moto.aws_cli.is_none() {
        if std::env::var("WHARF_REQUIRE_MOTO").as_deref() == Ok("1") {
            panic!("WHARF_REQUIRE_MOTO=1 but the AWS CLI is missing (.ci/moto-venv.sh installs it)");
        }
        eprintln!("\n*** SKIPPED: no AWS CLI beside moto ***\n");
        return None;
    }
    moto.reset();
    aws(&moto, &["s3", "mb", &format!("s3://{BUCKET}")]);
    Some(moto)
}

fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn finish(child: std::process::Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A tar.gz holding one file, as SageMaker packs /opt/ml/model.
fn model_tar(dir: &Path) -> PathBuf {
    let src = dir.join("model-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("weights.txt"), "w=1").unwrap();
    let tar = dir.join("model.tar.gz");
    let status = Command::new("tar")
        .args(["-czf", tar.to_str().unwrap(), "-C", src.to_str().unwrap(), "."])
        .status()
        .unwrap();
    assert!(status.success());
    tar
}

#[test]
fn processing_and_training_jobs_are_sent_as_sagemaker_expects_and_their_outputs_come_back() {
    let Some(moto) = setup() else { return };
    // The proxy holds every job InProgress for 4 s: time to play its part.
    moto.configure(r#"{"jobs": [{"prefix": "", "duration_seconds": 4, "outcome": "Completed"}]}"#);
    let p = Project::new(
        &moto,
        &format!(
            r#"  step prep {{
    image   = "{IMAGE}"
    command = ["python3", "prep.py"]
    env     {{ MODE = "fast" }}
    inputs  {{ raw = "data/raw.csv" }}
    outputs {{ out = dir() }}
    resources {{ instance = "ml.m5.xlarge" }}
    timeout = 1h
  }}
  train fit {{
    image  = "{IMAGE}"
    inputs {{ train = prep.out }}
    hyperparameters {{ depth = 6, rate = 0.5 }}
    metrics {{ auc = "auc=([0-9.]+)" }}
    resources {{ instance = "ml.m5.2xlarge" }}
  }}"#
        ),
    );
    let child = p.spawn(&moto, &[]);

    // The processing job, as moto recorded it.
    let name = wait_for("the processing job", Duration::from_secs(60), || {
        let list = aws(&moto, &["sagemaker", "list-processing-jobs"]);
        list["ProcessingJobSummaries"][0]["ProcessingJobName"]
            .as_str()
            .map(String::from)
    });
    let job = aws(
        &moto,
        &["sagemaker", "describe-processing-job", "--processing-job-name", &name],
    );
    assert!(name.starts_with("cloudy-prep-") && name.ends_with("-1"), "{name}");
    assert_eq!(job["AppSpecification"]["ImageUri"], IMAGE);
    assert_eq!(
        job["AppSpecification"]["ContainerEntrypoint"],
        serde_json::json!(["python3", "prep.py"])
    );
    assert_eq!(job["RoleArn"], ROLE);
    // moto 5.2.5 keeps neither Environment nor ProcessingResources of a
    // processing job (nor Environment of a training job): the WHARF_*
    // variables and instance types are asserted on the request wharf builds
    // (aws/src/jobs.rs tests) instead.
    assert_eq!(job["StoppingCondition"]["MaxRuntimeInSeconds"], 3600);
    let input = &job["ProcessingInputs"][0];
    assert_eq!(input["InputName"], "raw");
    assert_eq!(input["S3Input"]["LocalPath"], "/opt/ml/processing/input/raw");
    assert_eq!(input["S3Input"]["S3DataType"], "S3Prefix");
    assert_eq!(input["S3Input"]["S3InputMode"], "File");
    let input_uri = input["S3Input"]["S3Uri"].as_str().unwrap().to_string();
    assert!(
        input_uri.starts_with(&format!("s3://{BUCKET}/team/wharf/data/")),
        "{input_uri}"
    );
    // The local input is in S3, under its content hash.
    let listed = aws(&moto, &["s3", "ls", &input_uri]);
    let _ = listed;
    let output = &job["ProcessingOutputConfig"]["Outputs"][0];
    assert_eq!(output["S3Output"]["LocalPath"], "/opt/ml/processing/output/out");
    let out_uri = output["S3Output"]["S3Uri"].as_str().unwrap().to_string();
    // Playing the container: its output, written where SageMaker would upload it.
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("train.csv"), "1,2\n").unwrap();
    aws(
        &moto,
        &[
            "s3",
            "cp",
            scratch.path().join("train.csv").to_str().unwrap(),
            &format!("{out_uri}/train.csv"),
        ],
    );

    // The training job.
    let train = wait_for("the training job", Duration::from_secs(60), || {
        let list = aws(&moto, &["sagemaker", "list-training-jobs"]);
        list["TrainingJobSummaries"][0]["TrainingJobName"]
            .as_str()
            .map(String::from)
    });
    let job = aws(
        &moto,
        &["sagemaker", "describe-training-job", "--training-job-name", &train],
    );
    assert_eq!(job["AlgorithmSpecification"]["TrainingImage"], IMAGE);
    assert_eq!(job["AlgorithmSpecification"]["TrainingInputMode"], "File");
    assert_eq!(job["HyperParameters"], serde_json::json!({"depth": "6", "rate": "0.5"}));
    assert_eq!(job["ResourceConfig"]["InstanceType"], "ml.m5.2xlarge");
    assert_eq!(job["InputDataConfig"][0]["ChannelName"], "train");
    let channel_uri = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
        .as_str()
        .unwrap();
    assert!(
        channel_uri.starts_with(&format!("s3://{BUCKET}/team/wharf/data/")),
        "{channel_uri}"
    );
    let tags = aws(
        &moto,
        &[
            "sagemaker",
            "list-tags",
            "--resource-arn",
            job["TrainingJobArn"].as_str().unwrap(),
        ],
    );
    let tag = |key: &str| {
        tags["Tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["Key"] == key)
            .map(|t| t["Value"].as_str().unwrap().to_string())
    };
    assert_eq!(tag("wharf:pipeline").as_deref(), Some("cloudy"));
    assert_eq!(tag("wharf:step").as_deref(), Some("fit"));
    let output_path = job["OutputDataConfig"]["S3OutputPath"].as_str().unwrap();
    let tar = model_tar(scratch.path());
    aws(
        &moto,
        &[
            "s3",
            "cp",
            tar.to_str().unwrap(),
            &format!("{output_path}/{train}/output/model.tar.gz"),
        ],
    );

    let (code, err) = finish(child);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("created SageMaker training job"), "{err}");
    let model = output_dir(p.path(), "fit", "model");
    assert_eq!(
        std::fs::read_to_string(model.join("weights.txt")).unwrap(),
        "w=1",
        "model.tar.gz unpacked"
    );
    assert_eq!(
        std::fs::read_to_string(output_dir(p.path(), "prep", "out").join("train.csv")).unwrap(),
        "1,2\n"
    );
    // Polling stayed within one Describe per interval (the proxy counted).
    let stats = moto.stats();
    let calls = stats["jobs"][&train]["describe_calls"].as_u64().unwrap_or(0);
    assert!((1..=12).contains(&calls), "{calls} Describe calls for a 4 s job");

    // A second run with unchanged data: cached, and nothing uploaded again.
    let again = p.spawn(&moto, &[]);
    let (code, err) = finish(again);
    assert_eq!(code, Some(0), "{err}");
    for s in p.show()["steps"].as_array().unwrap() {
        assert_eq!(s["status"], "cached", "{s:#}");
    }
}

#[test]
fn a_failed_job_reports_its_failure_reason_and_throttling_is_waited_out() {
    let Some(moto) = setup() else { return };
    moto.configure(
        r#"{"jobs": [{"prefix": "", "duration_seconds": 1, "outcome": "Failed",
                      "failure_reason": "AlgorithmError: depth must be positive"}],
            "throttle": [{"operation": "DescribeTrainingJob", "count": 3}]}"#,
    );
    let p = Project::new(
        &moto,
        &format!(
            r#"  train fit {{
    image  = "{IMAGE}"
    inputs {{ train = "data/raw.csv" }}
  }}"#
        ),
    );
    let (code, err) = finish(p.spawn(&moto, &[]));
    assert_eq!(code, Some(1), "{err}");
    let show = p.show();
    assert_eq!(show["steps"][0]["reason"], "AlgorithmError: depth must be positive");
    assert_eq!(
        moto.stats()["throttled"]["DescribeTrainingJob"],
        3,
        "throttled, then carried on"
    );
}

#[test]
fn ctrl_c_stops_the_training_job() {
    let Some(moto) = setup() else { return };
    moto.configure(r#"{"jobs": [{"prefix": "", "duration_seconds": 600, "stop_seconds": 1}]}"#);
    let p = Project::new(
        &moto,
        &format!(
            r#"  train fit {{
    image  = "{IMAGE}"
    inputs {{ train = "data/raw.csv" }}
  }}"#
        ),
    );
    let child = p.spawn(&moto, &[]);
    let name = wait_for("the training job", Duration::from_secs(60), || {
        let list = aws(&moto, &["sagemaker", "list-training-jobs"]);
        list["TrainingJobSummaries"][0]["TrainingJobName"]
            .as_str()
            .map(String::from)
    });
    std::thread::sleep(Duration::from_millis(500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (code, err) = finish(child);
    assert_eq!(code, Some(130), "{err}");
    let job = aws(
        &moto,
        &["sagemaker", "describe-training-job", "--training-job-name", &name],
    );
    assert_eq!(
        job["TrainingJobStatus"], "Stopped",
        "StopTrainingJob was called and waited for"
    );
}

#[test]
fn a_timeout_stops_the_processing_job() {
    let Some(moto) = setup() else { return };
    moto.configure(r#"{"jobs": [{"prefix": "", "duration_seconds": 600, "stop_seconds": 1}]}"#);
    let p = Project::new(
        &moto,
        &format!(
            r#"  step prep {{
    image   = "{IMAGE}"
    inputs  {{ raw = "data/raw.csv" }}
    outputs {{ out = dir() }}
    timeout = 3s
  }}"#
        ),
    );
    let (code, err) = finish(p.spawn(&moto, &[]));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        p.show()["steps"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("timed out after 3s")
    );
    let list = aws(&moto, &["sagemaker", "list-processing-jobs"]);
    let name = list["ProcessingJobSummaries"][0]["ProcessingJobName"]
        .as_str()
        .unwrap()
        .to_string();
    let job = aws(
        &moto,
        &["sagemaker", "describe-processing-job", "--processing-job-name", &name],
    );
    assert_eq!(job["ProcessingJobStatus"], "Stopped");
}

#[test]
fn no_bucket_or_bad_credentials_is_refused_before_anything_starts() {
    let Some(moto) = setup() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.wharf"),
        format!(
            r#"pipeline nobucket {{
  step prep {{
    image   = "{IMAGE}"
    command = ["true"]
  }}
}}
target cloud {{
  backend = sagemaker
  bucket = "s3://no-such-bucket/x"
  region = "us-east-1"
  role = "{ROLE}"
  endpoint_url = "{}"
}}
"#,
            moto.endpoint
        ),
    )
    .unwrap();
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("wharf"));
    moto.apply_env(&mut cmd);
    let out = cmd
        .current_dir(dir.path())
        .args(["run", "p.wharf", "--target", "cloud"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("no-such-bucket"), "{}", stderr_of(&out));
}
