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
use std::time::Duration;

const BUCKET: &str = "wharf-test";
const ROLE: &str = "arn:aws:iam::123456789012:role/wharf";
const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tools:1";

/// The AWS CLI against moto (not through wharf): stdout as JSON when it is JSON.
fn aws(moto: &Moto, args: &[&str]) -> Value {
    moto.aws_json(&moto.endpoint, args)
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
        moto.spawn_run(self.path(), "cloud", args)
    }

    fn show(&self) -> Value {
        show_last(self.path())
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

/// Holds every job InProgress (the proxy's lifecycle) except the ones
/// named in `released`, which complete at once: a test plays a job's part
/// (writes its outputs) and then lets it end, whatever the machine's load.
/// `extra` is added to every rule (a tuning job's best training job).
fn hold_jobs(moto: &Moto, released: &[&str], extra: &str) {
    let mut rules = vec![format!(r#"{{"prefix": "", "duration_seconds": 3600{extra}}}"#)];
    for name in released {
        rules.push(format!(r#"{{"prefix": "{name}", "duration_seconds": 0{extra}}}"#));
    }
    moto.configure(&format!(r#"{{"jobs": [{}]}}"#, rules.join(", ")));
}

/// Puts a local file where a job would have written it (playing the job's part).
fn put(moto: &Moto, file: &Path, uri: &str) {
    aws(moto, &["s3", "cp", file.to_str().unwrap(), uri]);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_tune_step_is_a_tuning_job_over_its_train_step_and_brings_back_the_best_model() {
    let Some(moto) = setup() else { return };
    // The proxy holds the jobs InProgress until released, then answers the
    // best training job named here (moto's own is made up); moto records
    // the request and serves S3.
    const BEST: &str = r#", "best_training_job": {"TrainingJobName": "search-best-003-abcd1234",
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": {"depth": "5", "eta": "0.12", "booster": "dart"},
        "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "auc", "Value": 0.91}}"#;
    hold_jobs(&moto, &[], BEST);
    let p = Project::new(
        &moto,
        &format!(
            r#"  train fit {{
    image  = "{IMAGE}"
    inputs {{ train = "data/raw.csv" }}
    env    {{ MODE = "fast" }}
    hyperparameters {{ depth = 3, rounds = 100 }}
    metrics {{ auc = "auc=([0-9.]+)" }}
    resources {{ instance = "ml.m5.2xlarge" }}
  }}
  tune search {{
    train     = fit
    objective {{ metric = "auc", goal = "maximize" }}
    ranges    {{ depth = int(2, 8), eta = float(0.01, 0.3, scale = "log"), booster = choice("gbtree", "dart") }}
    strategy  = "random"
    max_jobs  = 6
    max_parallel_jobs = 2
  }}
  deploy serve {{
    inputs {{ model = search.model }}
  }}"#
        ),
    );
    let mut child = p.spawn(&moto, &[]);
    // fit runs too, as a training job: its model is played here as well.
    let fit = wait_for_job(&mut child, "the training job", || {
        let list = aws(&moto, &["sagemaker", "list-training-jobs"]);
        list["TrainingJobSummaries"][0]["TrainingJobName"]
            .as_str()
            .map(String::from)
    });
    let fit_job = aws(
        &moto,
        &["sagemaker", "describe-training-job", "--training-job-name", &fit],
    );
    let scratch = tempfile::tempdir().unwrap();
    put(
        &moto,
        &model_tar(scratch.path()),
        &format!(
            "{}/{fit}/output/model.tar.gz",
            fit_job["OutputDataConfig"]["S3OutputPath"].as_str().unwrap()
        ),
    );
    hold_jobs(&moto, &[&fit], BEST);
    let name = wait_for_job(&mut child, "the tuning job", || {
        let list = aws(&moto, &["sagemaker", "list-hyper-parameter-tuning-jobs"]);
        list["HyperParameterTuningJobSummaries"][0]["HyperParameterTuningJobName"]
            .as_str()
            .map(String::from)
    });
    assert!(name.len() <= 32 && name.starts_with("search-"), "{name}");
    let job = aws(
        &moto,
        &[
            "sagemaker",
            "describe-hyper-parameter-tuning-job",
            "--hyper-parameter-tuning-job-name",
            &name,
        ],
    );
    let config = &job["HyperParameterTuningJobConfig"];
    assert_eq!(config["Strategy"], "Random");
    assert_eq!(
        config["HyperParameterTuningJobObjective"],
        serde_json::json!({"Type": "Maximize", "MetricName": "auc"})
    );
    assert_eq!(
        config["ResourceLimits"],
        serde_json::json!({"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2})
    );
    let ranges = &config["ParameterRanges"];
    assert_eq!(
        ranges["IntegerParameterRanges"],
        serde_json::json!([{"Name": "depth", "MinValue": "2", "MaxValue": "8", "ScalingType": "Auto"}])
    );
    assert_eq!(ranges["ContinuousParameterRanges"][0]["ScalingType"], "Logarithmic");
    assert_eq!(
        ranges["CategoricalParameterRanges"][0]["Values"],
        serde_json::json!(["gbtree", "dart"])
    );
    let definition = &job["TrainingJobDefinition"];
    assert_eq!(definition["AlgorithmSpecification"]["TrainingImage"], IMAGE);
    assert_eq!(
        definition["AlgorithmSpecification"]["MetricDefinitions"],
        serde_json::json!([{"Name": "auc", "Regex": "auc=([0-9.]+)"}])
    );
    // The ranged `depth` is left out of the static hyperparameters.
    assert_eq!(
        definition["StaticHyperParameters"],
        serde_json::json!({"rounds": "100"})
    );
    assert_eq!(definition["InputDataConfig"][0]["ChannelName"], "train");
    assert_eq!(definition["ResourceConfig"]["InstanceType"], "ml.m5.2xlarge");
    assert_eq!(definition["RoleArn"], ROLE);
    // Playing the winning training job: its model where SageMaker writes it.
    let output_path = definition["OutputDataConfig"]["S3OutputPath"].as_str().unwrap();
    put(
        &moto,
        &model_tar(scratch.path()),
        &format!("{output_path}/search-best-003-abcd1234/output/model.tar.gz"),
    );
    hold_jobs(&moto, &[&fit, &name], BEST);

    let (code, err) = finish(child);
    assert_eq!(code, Some(0), "{err}");
    let model = output_dir(p.path(), "search", "model");
    assert_eq!(std::fs::read_to_string(model.join("weights.txt")).unwrap(), "w=1");
    let best: Value = serde_json::from_str(
        &std::fs::read_to_string(output_dir(p.path(), "search", "best").join("best.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(best["training_job"], "search-best-003-abcd1234");
    assert_eq!(best["tuning_job"], name.as_str());
    assert_eq!(best["objective"], serde_json::json!({"metric": "auc", "value": 0.91}));
    assert_eq!(
        best["hyperparameters"],
        serde_json::json!({"depth": "5", "eta": "0.12", "booster": "dart", "rounds": "100"})
    );
    // The deploy serves the winning job's own model.tar.gz, with the train
    // step's image: nothing packed and sent back up.
    let endpoint = aws(
        &moto,
        &["sagemaker", "describe-endpoint", "--endpoint-name", "cloudy-serve"],
    );
    let served = aws(
        &moto,
        &[
            "sagemaker",
            "describe-model",
            "--model-name",
            endpoint["EndpointConfigName"].as_str().unwrap(),
        ],
    );
    assert_eq!(
        served["PrimaryContainer"]["ModelDataUrl"],
        format!("{output_path}/search-best-003-abcd1234/output/model.tar.gz")
    );
    assert_eq!(served["PrimaryContainer"]["Image"], IMAGE);
    assert!(err.contains("is the job's s3://"), "{err}");
}

#[test]
fn a_transform_step_creates_its_model_and_a_batch_transform_job() {
    let Some(moto) = setup() else { return };
    // moto records the Model and the job; the proxy holds the job InProgress.
    hold_jobs(&moto, &[], "");
    let p = Project::new(
        &moto,
        &format!(
            r#"  transform score {{
    image  = "{IMAGE}"
    inputs {{ model = "model", data = "records" }}
    env    {{ MODE = "batch" }}
    content_type = "text/csv"
    accept       = "text/csv"
    split        = "line"
    strategy     = "multi"
    max_payload  = 6MB
    resources {{ instance = "ml.c5.xlarge" }}
  }}"#
        ),
    );
    write(p.path(), "model/weights.txt", "w=2");
    write(p.path(), "records/a.csv", "1,2\n3,4\n");
    let mut child = p.spawn(&moto, &[]);
    let name = wait_for_job(&mut child, "the transform job", || {
        let list = aws(&moto, &["sagemaker", "list-transform-jobs"]);
        list["TransformJobSummaries"][0]["TransformJobName"]
            .as_str()
            .map(String::from)
    });
    let job = aws(
        &moto,
        &["sagemaker", "describe-transform-job", "--transform-job-name", &name],
    );
    assert_eq!(job["ModelName"], name.as_str());
    assert_eq!(job["BatchStrategy"], "MultiRecord");
    assert_eq!(job["MaxPayloadInMB"], 6);
    let input = &job["TransformInput"];
    assert_eq!(input["ContentType"], "text/csv");
    assert_eq!(input["SplitType"], "Line");
    assert_eq!(input["DataSource"]["S3DataSource"]["S3DataType"], "S3Prefix");
    let data_uri = input["DataSource"]["S3DataSource"]["S3Uri"].as_str().unwrap();
    assert!(
        data_uri.starts_with(&format!("s3://{BUCKET}/team/wharf/data/")),
        "{data_uri}"
    );
    assert_eq!(job["TransformOutput"]["Accept"], "text/csv");
    assert_eq!(job["TransformOutput"]["AssembleWith"], "Line");
    assert_eq!(job["TransformResources"]["InstanceType"], "ml.c5.xlarge");
    assert_eq!(job["Environment"], serde_json::json!({"MODE": "batch"}));
    // The Model: the image, and the local model folder packed as model.tar.gz.
    let model = aws(&moto, &["sagemaker", "describe-model", "--model-name", &name]);
    assert_eq!(model["PrimaryContainer"]["Image"], IMAGE);
    let data_url = model["PrimaryContainer"]["ModelDataUrl"].as_str().unwrap().to_string();
    assert!(
        data_url.starts_with(&format!("s3://{BUCKET}/team/wharf/models/")) && data_url.ends_with("/model.tar.gz"),
        "{data_url}"
    );
    let scratch = tempfile::tempdir().unwrap();
    let fetched = scratch.path().join("model.tar.gz");
    aws(&moto, &["s3", "cp", &data_url, fetched.to_str().unwrap()]);
    let listing = Command::new("tar")
        .args(["-tzf", fetched.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).contains("weights.txt"));
    // Playing the job: `<file>.out` per input file under the output path.
    let out_path = job["TransformOutput"]["S3OutputPath"].as_str().unwrap();
    put(
        &moto,
        &write(scratch.path(), "a.csv.out", "0.1\n0.9\n"),
        &format!("{out_path}/a.csv.out"),
    );
    hold_jobs(&moto, &[&name], "");

    let (code, err) = finish(child);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        std::fs::read_to_string(output_dir(p.path(), "score", "output").join("a.csv.out")).unwrap(),
        "0.1\n0.9\n"
    );
}

#[test]
fn a_deploy_step_creates_then_updates_its_endpoint_and_a_monitor_schedules_against_it() {
    let Some(moto) = setup() else { return };
    // moto records Models and EndpointConfigs; the proxy gives endpoints
    // their Creating/Updating time, answers UpdateEndpoint and the
    // monitoring schedule calls (moto has neither), and holds the baseline
    // processing job InProgress.
    moto.configure(r#"{"endpoints": [{"prefix": "", "creating_seconds": 2, "updating_seconds": 2}]}"#);
    hold_jobs(&moto, &[], "");
    let p = Project::new(
        &moto,
        &format!(
            r#"  deploy serve {{
    image  = "{IMAGE}"
    inputs {{ model = "model" }}
    endpoint     = "churn-live"
    data_capture = on
    resources {{ instance = "ml.t2.medium" }}
  }}
  deploy many {{
    image  = "{IMAGE}"
    inputs {{ model = "models" }}
    multi_model = on
  }}
  monitor drift {{
    endpoint = serve
    schedule = "daily"
    inputs   {{ baseline = "data/raw.csv" }}
  }}"#
        ),
    );
    write(p.path(), "model/weights.txt", "w=1");
    write(p.path(), "models/a.tar.gz", "not really an archive");
    let mut child = p.spawn(&moto, &[]);
    let baseline_job = wait_for_job(&mut child, "the baseline job", || {
        let list = aws(&moto, &["sagemaker", "list-processing-jobs"]);
        list["ProcessingJobSummaries"][0]["ProcessingJobName"]
            .as_str()
            .map(String::from)
    });
    let job = aws(
        &moto,
        &[
            "sagemaker",
            "describe-processing-job",
            "--processing-job-name",
            &baseline_job,
        ],
    );
    assert_eq!(
        job["AppSpecification"]["ImageUri"],
        "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
    );
    assert_eq!(
        job["ProcessingInputs"][0]["S3Input"]["LocalPath"],
        "/opt/ml/processing/input/baseline_dataset_input"
    );
    let out = &job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"];
    assert_eq!(out["LocalPath"], "/opt/ml/processing/output");
    let baseline_uri = out["S3Uri"].as_str().unwrap().to_string();
    let scratch = tempfile::tempdir().unwrap();
    put(
        &moto,
        &write(scratch.path(), "statistics.json", r#"{"version": 0.0}"#),
        &format!("{baseline_uri}/statistics.json"),
    );
    put(
        &moto,
        &write(scratch.path(), "constraints.json", r#"{"features": []}"#),
        &format!("{baseline_uri}/constraints.json"),
    );
    hold_jobs(&moto, &[&baseline_job], "");

    let (code, err) = finish(child);
    assert_eq!(code, Some(0), "{err}");
    // The endpoint and its configuration.
    let endpoint = aws(
        &moto,
        &["sagemaker", "describe-endpoint", "--endpoint-name", "churn-live"],
    );
    assert_eq!(endpoint["EndpointStatus"], "InService");
    let config_name = endpoint["EndpointConfigName"].as_str().unwrap().to_string();
    let config = aws(
        &moto,
        &[
            "sagemaker",
            "describe-endpoint-config",
            "--endpoint-config-name",
            &config_name,
        ],
    );
    let variant = &config["ProductionVariants"][0];
    assert_eq!(variant["VariantName"], "AllTraffic");
    assert_eq!(variant["InstanceType"], "ml.t2.medium");
    assert_eq!(variant["ModelName"], config_name.as_str());
    assert_eq!(config["DataCaptureConfig"]["EnableCapture"], true);
    assert_eq!(
        config["DataCaptureConfig"]["DestinationS3Uri"],
        format!("s3://{BUCKET}/team/wharf/capture/churn-live")
    );
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(output_dir(p.path(), "serve", "endpoint").join("endpoint.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["name"], "churn-live");
    assert_eq!(record["backend"], "sagemaker");
    assert_eq!(record["config"], config_name.as_str());
    // The multi-model endpoint: a prefix of archives, Mode = MultiModel.
    let many = aws(
        &moto,
        &["sagemaker", "describe-endpoint", "--endpoint-name", "cloudy-many"],
    );
    let many_config = many["EndpointConfigName"].as_str().unwrap();
    let many_model = aws(&moto, &["sagemaker", "describe-model", "--model-name", many_config]);
    assert_eq!(many_model["PrimaryContainer"]["Mode"], "MultiModel");
    assert!(
        many_model["PrimaryContainer"]["ModelDataUrl"]
            .as_str()
            .unwrap()
            .ends_with('/')
    );
    // The monitor: its baseline outputs, and the schedule the proxy recorded.
    assert_eq!(
        std::fs::read_to_string(output_dir(p.path(), "drift", "statistics").join("statistics.json")).unwrap(),
        r#"{"version": 0.0}"#
    );
    let schedule = aws(
        &moto,
        &[
            "sagemaker",
            "describe-monitoring-schedule",
            "--monitoring-schedule-name",
            "cloudy-drift-monitor",
        ],
    );
    let schedule_config = &schedule["MonitoringScheduleConfig"];
    assert_eq!(
        schedule_config["ScheduleConfig"]["ScheduleExpression"],
        "cron(0 0 ? * * *)"
    );
    let definition = &schedule_config["MonitoringJobDefinition"];
    assert_eq!(
        definition["MonitoringInputs"][0]["EndpointInput"]["EndpointName"],
        "churn-live"
    );
    assert_eq!(
        definition["BaselineConfig"]["ConstraintsResource"]["S3Uri"],
        format!("{baseline_uri}/constraints.json")
    );

    // Nothing changed: every step cached, the endpoint checked and kept.
    let (code, err) = finish(p.spawn(&moto, &[]));
    assert_eq!(code, Some(0), "{err}");
    for s in p.show()["steps"].as_array().unwrap() {
        assert_eq!(s["status"], "cached", "{s:#}");
    }
    assert_eq!(moto.stats()["operations"]["UpdateEndpoint"].as_u64().unwrap_or(0), 0);

    // A new model: the endpoint is updated in place, not created again, and
    // the monitor follows the new deployment (its schedule updated).
    write(p.path(), "model/weights.txt", "w=2");
    let mut child = p.spawn(&moto, &[]);
    let second = wait_for_job(&mut child, "the second baseline job", || {
        let list = aws(&moto, &["sagemaker", "list-processing-jobs"]);
        list["ProcessingJobSummaries"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|j| j["ProcessingJobName"].as_str())
            .find(|n| *n != baseline_job)
            .map(String::from)
    });
    let job = aws(
        &moto,
        &["sagemaker", "describe-processing-job", "--processing-job-name", &second],
    );
    let uri = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        .as_str()
        .unwrap();
    put(
        &moto,
        &scratch.path().join("statistics.json"),
        &format!("{uri}/statistics.json"),
    );
    put(
        &moto,
        &scratch.path().join("constraints.json"),
        &format!("{uri}/constraints.json"),
    );
    hold_jobs(&moto, &[&baseline_job, &second], "");
    let (code, err) = finish(child);
    assert_eq!(code, Some(0), "{err}");
    let stats = moto.stats();
    assert_eq!(stats["operations"]["UpdateEndpoint"], 1, "{stats:#}");
    assert_eq!(stats["operations"]["CreateEndpoint"], 2, "{stats:#}");
    assert_eq!(stats["operations"]["UpdateMonitoringSchedule"], 1, "{stats:#}");
    let endpoint = aws(
        &moto,
        &["sagemaker", "describe-endpoint", "--endpoint-name", "churn-live"],
    );
    assert_ne!(endpoint["EndpointConfigName"], config_name.as_str());
    assert_eq!(endpoint["EndpointStatus"], "InService");
}

/// A project whose wharf was killed (SIGKILL: it cannot stop its job)
/// while its training job was InProgress, held there by the proxy; and the
/// job's name.
fn killed_while_training(moto: &Moto) -> (Project, String) {
    hold_jobs(moto, &[], "");
    let p = Project::new(
        moto,
        &format!(
            r#"  train fit {{
    image  = "{IMAGE}"
    inputs {{ train = "data/raw.csv" }}
  }}"#
        ),
    );
    let mut child = p.spawn(moto, &[]);
    let train = wait_for_job(&mut child, "the training job", || {
        let list = aws(moto, &["sagemaker", "list-training-jobs"]);
        list["TrainingJobSummaries"][0]["TrainingJobName"]
            .as_str()
            .map(String::from)
    });
    child.kill().unwrap();
    let _ = child.wait();
    (p, train)
}

#[test]
fn a_resumed_run_reattaches_to_the_job_a_killed_wharf_left_running() {
    let Some(moto) = setup() else { return };
    // moto records the job; the proxy holds it InProgress until released.
    let (p, train) = killed_while_training(&moto);

    let mut resumed = p.spawn(&moto, &["--resume"]);
    wait_for_job(&mut resumed, "the resumed run to follow the job", || {
        let calls = moto.stats()["jobs"][&train]["describe_calls"].as_u64().unwrap_or(0);
        (calls >= 2).then_some(())
    });
    let job = aws(
        &moto,
        &["sagemaker", "describe-training-job", "--training-job-name", &train],
    );
    let output_path = job["OutputDataConfig"]["S3OutputPath"].as_str().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    put(
        &moto,
        &model_tar(scratch.path()),
        &format!("{output_path}/{train}/output/model.tar.gz"),
    );
    hold_jobs(&moto, &[&train], "");
    let (code, err) = finish(resumed);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!("re-attached to SageMaker job {train}")), "{err}");
    let jobs = aws(&moto, &["sagemaker", "list-training-jobs"]);
    assert_eq!(
        jobs["TrainingJobSummaries"].as_array().unwrap().len(),
        1,
        "one job, not a second: {jobs:#}"
    );
    assert_eq!(moto.stats()["operations"]["CreateTrainingJob"], 1);
    // `wharf show` links the step to its job.
    let show = p.show();
    let fit_step = show["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "fit")
        .unwrap();
    let handles: Vec<&str> = fit_step["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["handle"].as_str())
        .collect();
    assert!(
        handles.contains(&format!("training job {train}").as_str()),
        "{handles:?}"
    );
    let model = output_dir(p.path(), "fit", "model");
    assert_eq!(std::fs::read_to_string(model.join("weights.txt")).unwrap(), "w=1");
}

#[test]
fn a_plain_run_stops_the_job_a_killed_wharf_left_running() {
    let Some(moto) = setup() else { return };
    let (p, train) = killed_while_training(&moto);

    // `wharf runs` has no target: it says the job may still run and leaves it.
    let out = common::wharf_in(p.path()).args(["runs"]).output().unwrap();
    let err = stderr_of(&out);
    assert!(
        err.contains("was abandoned") && err.contains(&format!("training job {train}")),
        "{err}"
    );
    assert!(
        moto.stats()["operations"]["StopTrainingJob"].is_null(),
        "not stopped by `runs`"
    );

    // A new run on the target stops it before it starts its own.
    let mut again = p.spawn(&moto, &["--no-cache"]);
    wait_for_job(&mut again, "the abandoned job's Stop call", || {
        (moto.stats()["operations"]["StopTrainingJob"].as_u64() == Some(1)).then_some(())
    });
    let _ = again.kill();
    let _ = again.wait();
}

#[test]
fn a_hybrid_pipeline_prepares_locally_trains_on_sagemaker_and_serves_locally() {
    let Some(moto) = setup() else { return };
    if !common::docker::ready(&["wharf-test/serve:1"]) {
        return;
    }
    // prep runs as a local process; fit is a SageMaker training job (moto
    // records it, the proxy holds it InProgress while this test
    // writes the model.tar.gz moto cannot produce); serve runs the trained
    // model in a local container, as the docker backend deploys.
    hold_jobs(&moto, &[], "");
    // The proxy throttles the first two CreateTrainingJob calls: waited out.
    moto.configure(r#"{"throttle": [{"operation": "CreateTrainingJob", "count": 2}]}"#);
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"pipeline hybrid {{
  step prep {{
    command = ["sh", "-c", "mkdir -p $WHARF_OUTPUT_TRAIN && tr a-z A-Z < $WHARF_INPUT_RAW > $WHARF_OUTPUT_TRAIN/train.csv"]
    inputs  {{ raw = "data/raw.csv" }}
    outputs {{ train = dir() }}
  }}
  train fit {{
    image  = "{IMAGE}"
    inputs {{ train = prep.train }}
  }}
  deploy serve {{
    image  = "wharf-test/serve:1"
    inputs {{ model = fit.model }}
  }}
}}
target mixed {{
  backend      = sagemaker
  bucket       = "s3://{BUCKET}/team"
  region       = "us-east-1"
  role         = "{ROLE}"
  endpoint_url = "{}"
  step prep  {{ backend = process }}
  step serve {{ backend = docker }}
}}
"#,
        moto.endpoint
    );
    std::fs::write(dir.path().join("p.wharf"), text).unwrap();
    write(dir.path(), "data/raw.csv", "a,b\n1,2\n");
    let mut child = moto.spawn_run(dir.path(), "mixed", &[]);
    let train = wait_for_job(&mut child, "the training job", || {
        let list = aws(&moto, &["sagemaker", "list-training-jobs"]);
        list["TrainingJobSummaries"][0]["TrainingJobName"]
            .as_str()
            .map(String::from)
    });
    let job = aws(
        &moto,
        &["sagemaker", "describe-training-job", "--training-job-name", &train],
    );
    // The local step's output went up to S3 as the train channel.
    let channel = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
        .as_str()
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let got = scratch.path().join("train.csv");
    aws(
        &moto,
        &[
            "s3",
            "cp",
            &format!("{}/train.csv", channel.trim_end_matches('/')),
            got.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "A,B\n1,2\n");
    // Playing the training job: a model whose prefix the test server echoes.
    let src = scratch.path().join("model");
    write(&src, "prefix.txt", "cloud:");
    let tar = scratch.path().join("model.tar.gz");
    assert!(
        Command::new("tar")
            .args(["-czf", tar.to_str().unwrap(), "-C", src.to_str().unwrap(), "."])
            .status()
            .unwrap()
            .success()
    );
    let output_path = job["OutputDataConfig"]["S3OutputPath"].as_str().unwrap();
    put(&moto, &tar, &format!("{output_path}/{train}/output/model.tar.gz"));
    hold_jobs(&moto, &[&train], "");

    let (code, err) = finish(child);
    assert_eq!(code, Some(0), "{err}");
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(output_dir(dir.path(), "serve", "endpoint").join("endpoint.json")).unwrap(),
    )
    .unwrap();
    let port: u16 = record["url"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (status, body) = common::http(port, "POST", "/invocations", "text/plain", "hello");
    let stopped = wharf_in(dir.path())
        .args(["endpoints", "stop", record["name"].as_str().unwrap()])
        .output()
        .unwrap();
    if let Some(container) = record["container"].as_str() {
        let _ = common::docker::docker(&["rm", "-f", "-v", container]);
    }
    assert!(stopped.status.success(), "{}", stderr_of(&stopped));
    assert_eq!(record["backend"], "docker");
    assert_eq!(moto.stats()["throttled"]["CreateTrainingJob"], 2);
    assert_eq!(
        (status, body.as_str()),
        (200, "cloud:HELLO"),
        "the cloud-trained model served locally"
    );
}

#[test]
fn processing_and_training_jobs_are_sent_as_sagemaker_expects_and_their_outputs_come_back() {
    let Some(moto) = setup() else { return };
    // The proxy holds every job InProgress until the test has played its part.
    hold_jobs(&moto, &[], "");
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
    let mut child = p.spawn(&moto, &[]);

    // The processing job, as moto recorded it.
    let name = wait_for_job(&mut child, "the processing job", || {
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

    hold_jobs(&moto, &[&name], "");

    // The training job.
    let train = wait_for_job(&mut child, "the training job", || {
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
    // prep's output is read where its processing job wrote it, not sent
    // back up from this machine.
    assert_eq!(channel_uri, format!("{out_uri}/"));
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

    hold_jobs(&moto, &[&name, &train], "");

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
    assert!((1..=12).contains(&calls), "{calls} Describe calls for one job");

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

#[test]
fn without_a_bucket_sagemakers_default_bucket_is_used() {
    let Some(moto) = setup() else { return };
    // moto answers STS GetCallerIdentity (account 123456789012) and S3.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.wharf"),
        format!(
            r#"pipeline defaults {{
  step prep {{
    image   = "{IMAGE}"
    inputs  {{ raw = "raw.csv" }}
  }}
}}
target cloud {{
  backend = sagemaker
  region = "us-east-1"
  role = "{ROLE}"
  endpoint_url = "{}"
}}
"#,
            moto.endpoint
        ),
    )
    .unwrap();
    write(dir.path(), "raw.csv", "a\n1\n");
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("wharf"));
    moto.apply_env(&mut cmd);
    let out = cmd
        .current_dir(dir.path())
        .env("WHARF_SAGEMAKER_POLL_MS", "200,1000")
        .args(["run", "p.wharf", "--target", "cloud"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let listed = moto.aws_at(
        &moto.endpoint,
        &[],
        &[
            "s3",
            "ls",
            "--recursive",
            "s3://sagemaker-us-east-1-123456789012/wharf/data/",
        ],
    );
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("raw.csv"),
        "{}{}",
        String::from_utf8_lossy(&listed.stdout),
        String::from_utf8_lossy(&listed.stderr)
    );
}
