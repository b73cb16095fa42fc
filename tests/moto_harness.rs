//! The moto harness and the fault proxy (tests/aws/fault_proxy.py), proved
//! with a real AWS client: the awscli v1 from `.ci/moto-venv.sh`'s venv talks
//! to the proxy, which talks to moto. Nothing of wharf is under test here;
//! the SageMaker backend's tests rely on what this one shows the proxy does.

mod common;
use common::moto::{self, Moto};
use serde_json::Value;
use std::process::Output;
use std::time::{Duration, Instant};

const ROLE: &str = "arn:aws:iam::123456789012:role/wharf-test";

/// `aws ARGS` through the proxy; panics unless it succeeds; its JSON output
/// (what `aws s3 ...` prints, which is not JSON, as a string).
fn aws(moto: &Moto, args: &[&str]) -> Value {
    let out = moto.aws_at(&moto.endpoint, &[], args);
    json_of(args, &out)
}

fn json_of(args: &[&str], out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aws {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.trim().is_empty() {
        Value::Null
    } else if args.first() == Some(&"s3") {
        Value::String(stdout.into_owned())
    } else {
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("aws {args:?} printed no JSON ({e}): {stdout}"))
    }
}

/// `aws ARGS` through the proxy with one attempt only; panics unless it
/// fails; its error message.
fn aws_error(moto: &Moto, args: &[&str]) -> String {
    let out = moto.aws_at(&moto.endpoint, &[("AWS_MAX_ATTEMPTS", "1")], args);
    assert!(
        !out.status.success(),
        "aws {args:?} should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn create_training_job(moto: &Moto, name: &str) {
    let answer = aws(
        moto,
        &[
            "sagemaker",
            "create-training-job",
            "--training-job-name",
            name,
            "--algorithm-specification",
            "TrainingImage=wharf-test/train:1,TrainingInputMode=File",
            "--role-arn",
            ROLE,
            "--output-data-config",
            "S3OutputPath=s3://wharf-harness/models",
            "--resource-config",
            "InstanceType=ml.m5.large,InstanceCount=1,VolumeSizeInGB=10",
            "--stopping-condition",
            "MaxRuntimeInSeconds=3600",
        ],
    );
    assert!(
        answer["TrainingJobArn"].as_str().unwrap_or("").ends_with(name),
        "{answer}"
    );
}

fn describe_training_job(moto: &Moto, name: &str) -> Value {
    aws(
        moto,
        &["sagemaker", "describe-training-job", "--training-job-name", name],
    )
}

/// Describes the job until its status is `want` (at most `limit`).
fn wait_for_training_status(moto: &Moto, name: &str, want: &str, limit: Duration) -> Value {
    let start = Instant::now();
    loop {
        let job = describe_training_job(moto, name);
        if job["TrainingJobStatus"] == want {
            return job;
        }
        assert!(start.elapsed() < limit, "{name} is not {want} after {limit:?}: {job:#}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn the_fault_proxy_in_front_of_moto_answers_a_real_aws_client() {
    let Some(moto) = Moto::start() else { return };
    if moto.aws_cli.is_none() {
        moto::skip_or_fail("no aws CLI in the moto venv nor on PATH; install it with .ci/moto-venv.sh");
        return;
    }
    moto.reset();
    // One configuration for the whole test; each part uses its own prefix.
    moto.configure(
        r#"{
            "jobs": [
                {"prefix": "harness-life-", "duration_seconds": 4},
                {"prefix": "harness-bad-", "outcome": "Failed",
                 "failure_reason": "AlgorithmError: injected by the harness test"},
                {"prefix": "harness-stop-", "duration_seconds": 600, "stop_seconds": 3}
            ],
            "endpoints": [{"prefix": "harness-ep", "creating_seconds": 3, "updating_seconds": 3}]
        }"#,
    );

    // S3 through the proxy, and the same objects seen by moto directly.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.csv");
    std::fs::write(&data, "a,b\n1,2\n".repeat(100_000)).unwrap();
    aws(&moto, &["s3", "mb", "s3://wharf-harness"]);
    let data_arg = data.display().to_string();
    aws(
        &moto,
        &[
            "s3",
            "cp",
            "--only-show-errors",
            &data_arg,
            "s3://wharf-harness/in/data.csv",
        ],
    );
    let listed = moto.aws_at(
        &moto.moto_endpoint,
        &[],
        &["s3api", "list-objects-v2", "--bucket", "wharf-harness"],
    );
    let listed = json_of(&["s3api", "list-objects-v2"], &listed);
    assert_eq!(listed["Contents"][0]["Key"], "in/data.csv", "{listed:#}");
    assert_eq!(listed["Contents"][0]["Size"], 800_000, "{listed:#}");
    let back = dir.path().join("back.csv");
    let back_arg = back.display().to_string();
    aws(
        &moto,
        &[
            "s3",
            "cp",
            "--only-show-errors",
            "s3://wharf-harness/in/data.csv",
            &back_arg,
        ],
    );
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&data).unwrap());

    // Lifecycle: InProgress for 4 s after the Create call, then Completed.
    create_training_job(&moto, "harness-life-1");
    let created = Instant::now();
    let job = describe_training_job(&moto, "harness-life-1");
    assert_eq!(job["TrainingJobStatus"], "InProgress", "{job:#}");
    assert_eq!(job["SecondaryStatus"], "Training", "{job:#}");
    assert!(job.get("ModelArtifacts").is_none(), "no model before the end: {job:#}");
    assert!(job.get("TrainingEndTime").is_none(), "{job:#}");

    // Failure: a job whose prefix is configured to fail, with its reason.
    create_training_job(&moto, "harness-bad-1");
    let job = describe_training_job(&moto, "harness-bad-1");
    assert_eq!(job["TrainingJobStatus"], "Failed", "{job:#}");
    assert_eq!(job["SecondaryStatus"], "Failed", "{job:#}");
    assert_eq!(job["FailureReason"], "AlgorithmError: injected by the harness test");

    // Stop (moto has no StopTrainingJob): Stopping for 3 s, then Stopped.
    create_training_job(&moto, "harness-stop-1");
    assert_eq!(
        describe_training_job(&moto, "harness-stop-1")["TrainingJobStatus"],
        "InProgress"
    );
    aws(
        &moto,
        &[
            "sagemaker",
            "stop-training-job",
            "--training-job-name",
            "harness-stop-1",
        ],
    );
    let job = describe_training_job(&moto, "harness-stop-1");
    assert_eq!(job["TrainingJobStatus"], "Stopping", "{job:#}");
    assert_eq!(job["SecondaryStatus"], "Stopping", "{job:#}");
    let job = wait_for_training_status(&moto, "harness-stop-1", "Stopped", Duration::from_secs(10));
    assert_eq!(job["SecondaryStatus"], "Stopped", "{job:#}");
    // Stopping a job that has ended is refused, as on SageMaker.
    let refused = aws_error(
        &moto,
        &["sagemaker", "stop-training-job", "--training-job-name", "harness-bad-1"],
    );
    assert!(refused.contains("ValidationException"), "{refused}");
    // An unknown job: moto's own error comes through.
    let unknown = aws_error(
        &moto,
        &["sagemaker", "describe-training-job", "--training-job-name", "nope"],
    );
    assert!(unknown.contains("ValidationException"), "{unknown}");

    // The lifecycle job has ended by now (or soon): Completed, with its model.
    let job = wait_for_training_status(&moto, "harness-life-1", "Completed", Duration::from_secs(15));
    assert!(created.elapsed() >= Duration::from_secs(3), "completed too early");
    assert_eq!(job["SecondaryStatus"], "Completed", "{job:#}");
    assert_eq!(
        job["ModelArtifacts"]["S3ModelArtifacts"],
        "s3://wharf-harness/models/harness-life-1/output/model.tar.gz"
    );
    // List* is rewritten too, StatusEquals included.
    let listed = aws(
        &moto,
        &["sagemaker", "list-training-jobs", "--status-equals", "Stopped"],
    );
    let names: Vec<&str> = listed["TrainingJobSummaries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|j| j["TrainingJobName"].as_str())
        .collect();
    assert_eq!(names, ["harness-stop-1"], "{listed:#}");

    // Throttling: the next 2 DescribeTrainingJob calls answer ThrottlingException.
    moto.configure(r#"{"throttle": [{"operation": "DescribeTrainingJob", "count": 2}]}"#);
    for _ in 0..2 {
        let throttled = aws_error(
            &moto,
            &[
                "sagemaker",
                "describe-training-job",
                "--training-job-name",
                "harness-life-1",
            ],
        );
        assert!(
            throttled.contains("ThrottlingException") && throttled.contains("Rate exceeded"),
            "{throttled}"
        );
    }
    assert_eq!(
        describe_training_job(&moto, "harness-life-1")["TrainingJobStatus"],
        "Completed"
    );
    // ... and a client with retries gets through them (the CLI retries throttling).
    moto.configure(r#"{"throttle": [{"operation": "*", "count": 2}]}"#);
    assert_eq!(
        describe_training_job(&moto, "harness-life-1")["TrainingJobStatus"],
        "Completed"
    );
    moto.configure(r#"{"throttle": []}"#);

    // Endpoints: Creating for 3 s, then InService; UpdateEndpoint (not in moto)
    // is Updating for 3 s with the new config, then InService.
    aws(
        &moto,
        &[
            "sagemaker",
            "create-model",
            "--model-name",
            "harness-model",
            "--primary-container",
            "Image=wharf-test/serve:1",
            "--execution-role-arn",
            ROLE,
        ],
    );
    for config in ["harness-ep-config-1", "harness-ep-config-2"] {
        aws(
            &moto,
            &[
                "sagemaker",
                "create-endpoint-config",
                "--endpoint-config-name",
                config,
                "--production-variants",
                "VariantName=main,ModelName=harness-model,InitialInstanceCount=1,InstanceType=ml.t2.medium",
            ],
        );
    }
    aws(
        &moto,
        &[
            "sagemaker",
            "create-endpoint",
            "--endpoint-name",
            "harness-ep",
            "--endpoint-config-name",
            "harness-ep-config-1",
        ],
    );
    let describe_endpoint = || {
        aws(
            &moto,
            &["sagemaker", "describe-endpoint", "--endpoint-name", "harness-ep"],
        )
    };
    assert_eq!(describe_endpoint()["EndpointStatus"], "Creating");
    let refused = aws_error(
        &moto,
        &[
            "sagemaker",
            "update-endpoint",
            "--endpoint-name",
            "harness-ep",
            "--endpoint-config-name",
            "harness-ep-config-2",
        ],
    );
    assert!(
        refused.contains("ValidationException"),
        "no update while Creating: {refused}"
    );
    let start = Instant::now();
    while describe_endpoint()["EndpointStatus"] != "InService" {
        assert!(start.elapsed() < Duration::from_secs(10), "{:#}", describe_endpoint());
        std::thread::sleep(Duration::from_millis(300));
    }
    aws(
        &moto,
        &[
            "sagemaker",
            "update-endpoint",
            "--endpoint-name",
            "harness-ep",
            "--endpoint-config-name",
            "harness-ep-config-2",
        ],
    );
    let endpoint = describe_endpoint();
    assert_eq!(endpoint["EndpointStatus"], "Updating", "{endpoint:#}");
    assert_eq!(endpoint["EndpointConfigName"], "harness-ep-config-2", "{endpoint:#}");

    // Monitoring schedules (not in moto): stored and echoed back.
    let schedule_config = r#"{
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
        "MonitoringType": "DataQuality",
        "MonitoringJobDefinition": {
            "MonitoringInputs": [{"EndpointInput": {"EndpointName": "harness-ep", "LocalPath": "/opt/ml/processing/input"}}],
            "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://wharf-harness/monitor", "LocalPath": "/opt/ml/processing/output"}}]},
            "MonitoringResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}},
            "MonitoringAppSpecification": {"ImageUri": "wharf-test/monitor:1"},
            "RoleArn": "arn:aws:iam::123456789012:role/wharf-test"
        }
    }"#;
    let created = aws(
        &moto,
        &[
            "sagemaker",
            "create-monitoring-schedule",
            "--monitoring-schedule-name",
            "harness-monitor",
            "--monitoring-schedule-config",
            schedule_config,
        ],
    );
    assert_eq!(
        created["MonitoringScheduleArn"],
        "arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/harness-monitor"
    );
    let described = aws(
        &moto,
        &[
            "sagemaker",
            "describe-monitoring-schedule",
            "--monitoring-schedule-name",
            "harness-monitor",
        ],
    );
    assert_eq!(described["MonitoringScheduleStatus"], "Scheduled", "{described:#}");
    assert_eq!(described["EndpointName"], "harness-ep", "{described:#}");
    assert_eq!(described["MonitoringType"], "DataQuality", "{described:#}");
    let sent: Value = serde_json::from_str(schedule_config).unwrap();
    assert_eq!(described["MonitoringScheduleConfig"], sent, "echoed back as sent");
    let listed = aws(
        &moto,
        &[
            "sagemaker",
            "list-monitoring-schedules",
            "--endpoint-name",
            "harness-ep",
        ],
    );
    let summaries = listed["MonitoringScheduleSummaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 1, "{listed:#}");
    assert_eq!(summaries[0]["MonitoringScheduleName"], "harness-monitor");
    assert_eq!(summaries[0]["MonitoringScheduleStatus"], "Scheduled");
    let none = aws(
        &moto,
        &["sagemaker", "list-monitoring-schedules", "--endpoint-name", "other"],
    );
    assert_eq!(none["MonitoringScheduleSummaries"], serde_json::json!([]));
    aws(
        &moto,
        &[
            "sagemaker",
            "delete-monitoring-schedule",
            "--monitoring-schedule-name",
            "harness-monitor",
        ],
    );
    let gone = aws_error(
        &moto,
        &[
            "sagemaker",
            "describe-monitoring-schedule",
            "--monitoring-schedule-name",
            "harness-monitor",
        ],
    );
    assert!(gone.contains("ResourceNotFound"), "{gone}");

    // Statistics: calls per operation, Describe calls per job with their times.
    let stats = moto.stats();
    assert_eq!(stats["operations"]["CreateTrainingJob"], 3, "{stats:#}");
    assert_eq!(stats["operations"]["StopTrainingJob"], 2, "{stats:#}");
    assert_eq!(stats["operations"]["CreateMonitoringSchedule"], 1, "{stats:#}");
    assert_eq!(stats["throttled"]["DescribeTrainingJob"], 4, "{stats:#}");
    let life = &stats["jobs"]["harness-life-1"];
    let times = life["describe_times"].as_array().unwrap();
    assert_eq!(life["describe_calls"].as_u64(), Some(times.len() as u64), "{life:#}");
    assert!(
        times.len() >= 6,
        "every Describe is counted, throttled ones too: {life:#}"
    );
    assert!(
        times.windows(2).all(|w| w[0].as_f64() <= w[1].as_f64()),
        "times in order: {life:#}"
    );
    assert_eq!(stats["jobs"]["harness-stop-1"]["kind"], "training");
    assert!(stats["jobs"]["harness-stop-1"]["stopped"].is_f64(), "{stats:#}");
    assert!(
        stats["endpoints"]["harness-ep"]["describe_calls"].as_u64() >= Some(3),
        "{stats:#}"
    );
    assert!(
        stats["passthrough_requests"].as_u64() >= Some(3),
        "S3 went through the proxy: {stats:#}"
    );

    // Reset clears the proxy's side too.
    moto.reset();
    let stats = moto.stats();
    assert_eq!(stats["operations"], serde_json::json!({}), "{stats:#}");
}

#[test]
fn latency_is_added_to_every_sagemaker_call_and_config_errors_are_reported() {
    let Some(moto) = Moto::start() else { return };
    let (status, body) = moto::request(&moto.endpoint, "POST", "/_proxy/config", r#"{"jobz": []}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("jobz"), "{body}");

    moto.configure(r#"{"latency_ms": 300}"#);
    // A raw JSON 1.1 call, as the SDK sends it (a missing job: moto's error).
    let call = || {
        let start = Instant::now();
        let (status, body) = sagemaker_call(&moto.endpoint, "DescribeTrainingJob", r#"{"TrainingJobName": "x"}"#);
        (start.elapsed(), status, body)
    };
    let (elapsed, status, body) = call();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("ValidationException"), "{body}");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    moto.configure(r#"{"latency_ms": 0}"#);
    let (elapsed, _, _) = call();
    assert!(elapsed < Duration::from_millis(300), "{elapsed:?}");

    // An injected error of another kind, for one call.
    moto.configure(
        r#"{"throttle": [{"operation": "CreateTrainingJob", "count": 1, "status": 500,
            "type": "InternalFailure", "message": "injected"}]}"#,
    );
    let (status, body) = sagemaker_call(&moto.endpoint, "CreateTrainingJob", "{}");
    assert_eq!(status, 500, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["__type"], "InternalFailure");
    assert_eq!(error["message"], "injected");
}

/// One SageMaker JSON 1.1 call by hand: (status, body). moto tells the
/// service by the Authorization header's credential scope (the signature is
/// not checked).
fn sagemaker_call(endpoint: &str, operation: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let authority = endpoint.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {authority}\r\nX-Amz-Target: SageMaker.{operation}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sagemaker/aws4_request, \
         SignedHeaders=host, Signature=0\r\n\
         Content-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
