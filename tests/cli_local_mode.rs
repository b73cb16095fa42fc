//! The docker backend against the SageMaker Python SDK's local mode (LM):
//! the same training job and the same processing job, run once by
//! `wharf run` and once by LM (`tests/local_mode/run_local_mode.py`), with a
//! probe image that writes down what its container saw. Where SageMaker's
//! contract leaves no choice the two must agree; where LM takes a shortcut
//! that real SageMaker does not (docs/backends/docker.md, "What is
//! deliberately not copied from the SDK's local mode"), the difference is
//! asserted as it is, so that a change on either side is noticed.
//!
//! Needs the Docker engine (as tests/cli_docker.rs) and a Python with the
//! SDK: `.ci/local-mode-venv.sh` makes one and prints its path; the test
//! takes `WHARF_LOCAL_MODE_PYTHON`, else `bin/python3` of
//! `WHARF_LOCAL_MODE_VENV`, else of `~/.cache/wharf-ci/venv-sagemaker`.
//! Without it the test skips loudly, or fails under
//! `WHARF_REQUIRE_LOCAL_MODE=1`.

mod common;
use common::docker::{self, BUSYBOX};
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PROBE: &str = "wharf-test/probe:local-mode";
/// LM's compose network (sagemaker/local/image.py); removed at the end when
/// this test made it.
const LM_NETWORK: &str = "sagemaker-local";
const LM_LIMIT: Duration = Duration::from_secs(150);

/// The training side of the probe: the image's ENTRYPOINT, so that
/// SageMaker's `IMAGE train` shows up as its argument.
const TRAIN: &str = r#"#!/bin/sh
set -e
m=/opt/ml/model
cp /opt/ml/input/config/*.json $m/
ls -A /opt/ml/input/config > $m/config-files.txt
env | sort > $m/env.txt
hostname > $m/hostname.txt
echo "$@" > $m/argv.txt
for c in $(ls /opt/ml/input/data); do
  ls -A /opt/ml/input/data/$c > $m/channel-$c.txt
  cat /opt/ml/input/data/$c/* > $m/channel-$c-content.txt
  if touch /opt/ml/input/data/$c/.probe 2>/dev/null; then rm /opt/ml/input/data/$c/.probe; echo writable; else echo read-only; fi > $m/channel-$c-mode.txt
done
echo report > /opt/ml/output/data/report.txt
echo "probe: trained"
"#;

/// The processing side: started through the job's ContainerEntrypoint.
const PROCESS: &str = r#"#!/bin/sh
set -e
o=/opt/ml/processing/output/out
cp /opt/ml/config/*.json $o/
ls -A /opt/ml/config > $o/config-files.txt
env | sort > $o/env.txt
hostname > $o/hostname.txt
echo "$@" > $o/argv.txt
ls -A /opt/ml/processing/input/raw > $o/input-raw.txt
if touch /opt/ml/processing/input/raw/.probe 2>/dev/null; then rm /opt/ml/processing/input/raw/.probe; echo writable; else echo read-only; fi > $o/input-raw-mode.txt
echo "probe: processed"
"#;

/// The same jobs as `run_local_mode.py` starts: the hyperparameters (an int, a
/// float, a string, a list), the channel, the entrypoint, the input and the
/// output. LM's instance type is `local`, whatever the job would use on AWS.
fn pipeline() -> String {
    format!(
        r#"pipeline lm {{
  train fit {{
    image  = "{PROBE}"
    inputs {{ train = "data/train" }}
    hyperparameters {{ depth = 6, rate = 0.5, name = "rf", flags = [1, 2] }}
    resources {{ instance = "ml.m5.large" }}
  }}
  step prep {{
    image   = "{PROBE}"
    command = ["/usr/bin/process", "--mode", "fast"]
    inputs  {{ raw = "data/raw" }}
    outputs {{ out = dir() }}
    resources {{ instance = "ml.m5.large" }}
  }}
}}
target local {{ backend = docker }}
"#
    )
}

/// Removes, whatever happened, every container of the probe image (wharf's
/// and the ones LM's `docker compose up` leaves), the image, and LM's
/// network when this test created it.
struct Cleanup {
    network_existed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (_, ids) = docker::docker(&["ps", "-a", "-q", "--filter", &format!("ancestor={PROBE}")]);
        for id in ids.lines().filter(|l| !l.is_empty()) {
            let _ = docker::docker(&["rm", "-f", "-v", id]);
        }
        let _ = docker::docker(&["rmi", "-f", PROBE]);
        if !self.network_existed {
            let _ = docker::docker(&["network", "rm", LM_NETWORK]);
        }
    }
}

/// The local-mode script, stopped if the test ends before it does.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The Python with the SDK, or why there is none (skip, or fail when required).
fn local_mode_python() -> Option<PathBuf> {
    let python = std::env::var_os("WHARF_LOCAL_MODE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let venv = std::env::var_os("WHARF_LOCAL_MODE_VENV")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/wharf-ci/venv-sagemaker")
                });
            venv.join("bin/python3")
        });
    let version = Command::new(&python)
        .args(["-c", "import importlib.metadata as m; print(m.version('sagemaker'))"])
        .output();
    let compose = ["docker compose version", "docker-compose version"].iter().any(|c| {
        let words: Vec<&str> = c.split(' ').collect();
        Command::new(words[0])
            .args(&words[1..])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let problem = match version {
        Err(_) => Some(format!(
            "no Python at {} for the SDK's local mode (run .ci/local-mode-venv.sh, or set WHARF_LOCAL_MODE_PYTHON)",
            python.display()
        )),
        Ok(out) if !out.status.success() => Some(format!(
            "{} has no `sagemaker` package (run .ci/local-mode-venv.sh)",
            python.display()
        )),
        Ok(out) if !String::from_utf8_lossy(&out.stdout).starts_with("2.") => Some(format!(
            "{} has sagemaker {}; local mode here is v2's (run .ci/local-mode-venv.sh)",
            python.display(),
            String::from_utf8_lossy(&out.stdout).trim()
        )),
        Ok(_) if !compose => {
            Some("neither `docker compose` nor `docker-compose` runs; local mode needs one".to_string())
        }
        Ok(_) => None,
    };
    match problem {
        None => Some(python),
        Some(why) if std::env::var("WHARF_REQUIRE_LOCAL_MODE").as_deref() == Ok("1") => {
            panic!("WHARF_REQUIRE_LOCAL_MODE=1 but {why}")
        }
        Some(why) => {
            eprintln!("\n*** SKIPPED: {why} ***\n");
            None
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(dir: &Path, file: &str) -> String {
    let path = dir.join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_in(dir: &Path, file: &str) -> Value {
    serde_json::from_str(&read(dir, file)).unwrap_or_else(|e| panic!("{file} in {}: {e}", dir.display()))
}

fn env_in(dir: &Path) -> BTreeMap<String, String> {
    read(dir, "env.txt")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The folder output `output` of `step` was collected into, in the last run.
fn wharf_output(project: &Path, step: &str, output: &str) -> PathBuf {
    output_dir(project, step, output)
}

/// SageMaker's job name pattern (API), as a full match.
fn is_job_name(name: &str) -> bool {
    let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    (1..=63).contains(&name.len())
        && ok_chars
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// LM's host names: `algo-1-` and 5 random lower-case letters or digits.
fn is_lm_host(host: &str) -> bool {
    host.strip_prefix("algo-1-")
        .is_some_and(|s| s.len() == 5 && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

fn sm_variables(env: &BTreeMap<String, String>) -> Vec<&String> {
    env.keys().filter(|k| k.starts_with("SM_")).collect()
}

fn aws_variables(env: &BTreeMap<String, String>) -> Vec<&str> {
    env.keys()
        .filter(|k| k.starts_with("AWS_"))
        .map(String::as_str)
        .collect()
}

#[test]
fn wharf_sets_up_a_job_as_the_sdks_local_mode_does_where_sagemaker_leaves_no_choice() {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let Some(python) = local_mode_python() else {
        return;
    };
    let started = Instant::now();
    let _cleanup = Cleanup {
        network_existed: docker::docker(&["network", "inspect", LM_NETWORK]).0,
    };

    // The probe image.
    let dir = tempfile::tempdir().unwrap();
    let context = dir.path().join("image");
    write(
        &context.join("Dockerfile"),
        &format!("FROM {BUSYBOX}\nCOPY train process /usr/bin/\nENTRYPOINT [\"/usr/bin/train\"]\n"),
    );
    write(&context.join("train"), TRAIN);
    write(&context.join("process"), PROCESS);
    use std::os::unix::fs::PermissionsExt;
    for script in ["train", "process"] {
        std::fs::set_permissions(context.join(script), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let build = Command::new("docker")
        .args(["build", "-q", "-t", PROBE])
        .arg(&context)
        .output()
        .expect("docker build runs");
    assert!(build.status.success(), "docker build: {}", stderr_of(&build));

    // The same data twice: LM mounts file:// data writable, and wharf's copy
    // is the cache key of its steps.
    let project = dir.path().join("wharf");
    let lm_data = dir.path().join("lm-data");
    let lm_result = dir.path().join("lm-result");
    for data in [project.join("data"), lm_data.clone()] {
        write(&data.join("train/train.csv"), "a,b\n1,2\n");
        write(&data.join("raw/raw.csv"), "x,y\n3,4\n");
    }
    write(&project.join("p.wharf"), &pipeline());

    // LM in the background (its import and docker-compose take most of the
    // time), wharf meanwhile.
    let lm_log = dir.path().join("local-mode.log");
    let log = std::fs::File::create(&lm_log).unwrap();
    let mut lm = KillOnDrop(
        Command::new(&python)
            .arg(root().join("tests/local_mode/run_local_mode.py"))
            .arg(PROBE)
            .args([&lm_data, &lm_result])
            .env("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the local-mode script starts"),
    );

    let out = wharf_in(&project)
        .args(["run", "p.wharf", "--target", "local"])
        .output()
        .expect("wharf runs");
    assert!(out.status.success(), "wharf run: {}", stderr_of(&out));
    let w_train = wharf_output(&project, "fit", "model");
    let w_output = wharf_output(&project, "fit", "output");
    let w_process = wharf_output(&project, "prep", "out");

    let lm_status = loop {
        if let Some(status) = lm.0.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LM_LIMIT {
            panic!(
                "local mode took more than {LM_LIMIT:?}:\n{}",
                std::fs::read_to_string(&lm_log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let lm_log_text = std::fs::read_to_string(&lm_log).unwrap_or_default();
    assert!(lm_status.success(), "run_local_mode.py failed:\n{lm_log_text}");
    let lm_info = json_in(&lm_result, "local-mode.json");
    assert_eq!(
        lm_info["network_attempts"],
        json!([]),
        "local mode stayed off the network"
    );
    let l_train = lm_result.join("train/model");
    let l_output = lm_result.join("train/output");
    let l_process = lm_result.join("process/out");

    training(&w_train, &w_output, &l_train, &l_output, &lm_info);
    processing(&w_process, &l_process, &lm_info);
    eprintln!(
        "wharf and local mode (sagemaker {}, {}) compared in {:.1?}",
        lm_info["sagemaker_version"].as_str().unwrap_or("?"),
        lm_info["compose"],
        started.elapsed()
    );
}

fn training(w: &Path, w_output: &Path, l: &Path, l_output: &Path, lm_info: &Value) {
    // Started as `IMAGE train`: `train` is the entrypoint's argument.
    assert_eq!(read(w, "argv.txt").trim(), "train");
    assert_eq!(read(l, "argv.txt").trim(), "train");

    // The same three configuration files, nothing else.
    let files = "hyperparameters.json\ninputdataconfig.json\nresourceconfig.json\n";
    assert_eq!(read(w, "config-files.txt"), files);
    assert_eq!(read(l, "config-files.txt"), files);

    // hyperparameters.json: a flat object of strings, the same keys, the same
    // scalars. A list differs in its text: wharf writes compact JSON, the
    // SDK's Estimator writes Python's str() (estimator.py `to_string`; only
    // framework estimators json.dumps their values). Both parse as the
    // same JSON here; a list of strings would not (`['a', 'b']`).
    let w_hp = json_in(w, "hyperparameters.json");
    let l_hp = json_in(l, "hyperparameters.json");
    assert_eq!(
        w_hp,
        json!({"depth": "6", "rate": "0.5", "name": "rf", "flags": "[1,2]"})
    );
    assert_eq!(
        l_hp,
        json!({"depth": "6", "rate": "0.5", "name": "rf", "flags": "[1, 2]"})
    );
    for (key, value) in w_hp.as_object().unwrap() {
        let (w_value, l_value) = (value.as_str().unwrap(), l_hp[key].as_str().unwrap());
        if key != "flags" {
            assert_eq!(w_value, l_value, "{key}");
        }
        assert_eq!(
            serde_json::from_str::<Value>(w_value).ok(),
            serde_json::from_str::<Value>(l_value).ok(),
            "{key}: the same value once parsed, as the training toolkit parses it"
        );
    }

    // The channel: the same files in the same place.
    for side in [w, l] {
        assert_eq!(read(side, "channel-train.txt"), "train.csv\n", "{}", side.display());
        assert_eq!(read(side, "channel-train-content.txt"), "a,b\n1,2\n");
    }
    // Deliberate: LM mounts a file:// channel writable (a write changes the
    // user's data); wharf mounts it read-only.
    assert_eq!(read(w, "channel-train-mode.txt").trim(), "read-only");
    assert_eq!(read(l, "channel-train-mode.txt").trim(), "writable");

    // inputdataconfig.json: File mode in both; wharf adds the two other
    // documented keys, LM writes only the mode.
    let w_channels = json_in(w, "inputdataconfig.json");
    let l_channels = json_in(l, "inputdataconfig.json");
    assert_eq!(w_channels["train"]["TrainingInputMode"], "File");
    assert_eq!(l_channels["train"]["TrainingInputMode"], "File");
    assert_eq!(
        w_channels,
        json!({"train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}})
    );
    assert_eq!(l_channels, json!({"train": {"TrainingInputMode": "File"}}));

    // resourceconfig.json: one host that is current; its name differs
    // (wharf `algo-1` as SageMaker, LM `algo-1-xxxxx`); LM's instance type is
    // `local` and it has no instance groups.
    let w_res = json_in(w, "resourceconfig.json");
    let l_res = json_in(l, "resourceconfig.json");
    assert_eq!(w_res["current_host"], "algo-1");
    assert_eq!(w_res["hosts"], json!(["algo-1"]));
    let l_host = l_res["current_host"].as_str().unwrap();
    assert!(is_lm_host(l_host), "{l_res}");
    assert_eq!(l_res["hosts"], json!([l_host]));
    assert_eq!(w_res["network_interface_name"], "eth0");
    assert_eq!(l_res["network_interface_name"], "eth0");
    assert_eq!(w_res["current_instance_type"], "ml.m5.large");
    assert_eq!(l_res["current_instance_type"], "local");
    assert_eq!(w_res["current_group_name"], "homogeneousCluster");
    assert_eq!(
        w_res["instance_groups"],
        json!([{"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.large", "hosts": ["algo-1"]}])
    );
    let mut l_keys: Vec<&String> = l_res.as_object().unwrap().keys().collect();
    l_keys.sort();
    assert_eq!(
        l_keys,
        [
            "current_host",
            "current_instance_type",
            "hosts",
            "network_interface_name"
        ]
    );

    // The container's host name: wharf `algo-1`, as SageMaker. LM sets none:
    // the container's name is `<10 random>-algo-1-xxxxx`, `algo-1-xxxxx` is
    // only its alias on the compose network, and `hostname` is Docker's
    // default, the short container id.
    assert_eq!(read(w, "hostname.txt").trim(), "algo-1");
    let l_hostname = read(l, "hostname.txt").trim().to_string();
    assert!(
        l_hostname.len() == 12 && l_hostname.chars().all(|c| c.is_ascii_hexdigit()),
        "LM's host name: {l_hostname}"
    );

    // The environment: the job name in both, no SM_ variable in either.
    let w_env = env_in(w);
    let l_env = env_in(l);
    assert!(
        is_job_name(&w_env["TRAINING_JOB_NAME"]),
        "{}",
        w_env["TRAINING_JOB_NAME"]
    );
    assert!(w_env["TRAINING_JOB_NAME"].starts_with("lm-fit-"));
    assert_eq!(
        l_env["TRAINING_JOB_NAME"],
        lm_info["training_job_name"].as_str().unwrap()
    );
    assert!(is_job_name(&l_env["TRAINING_JOB_NAME"]));
    assert!(sm_variables(&w_env).is_empty(), "wharf: {:?}", sm_variables(&w_env));
    assert!(sm_variables(&l_env).is_empty(), "LM: {:?}", sm_variables(&l_env));
    // Deliberate: wharf sets TRAINING_JOB_ARN as SageMaker does; LM does not.
    assert_eq!(
        w_env["TRAINING_JOB_ARN"],
        format!(
            "arn:aws:sagemaker:local:000000000000:training-job/{}",
            w_env["TRAINING_JOB_NAME"]
        )
    );
    assert!(!l_env.contains_key("TRAINING_JOB_ARN"));
    // LM passes the session's region, S3 endpoint and credentials into the
    // container (image.py `_aws_credentials`); wharf passes no AWS_ variable.
    assert!(aws_variables(&w_env).is_empty(), "wharf: {:?}", aws_variables(&w_env));
    assert_eq!(
        aws_variables(&l_env),
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_ENDPOINT_URL_S3",
            "AWS_REGION",
            "AWS_SECRET_ACCESS_KEY"
        ]
    );
    assert_eq!(l_env["AWS_REGION"], "us-east-1");
    // wharf's own family, and LM has nothing of the kind.
    assert_eq!(w_env["WHARF_INPUT_TRAIN"], "/opt/ml/input/data/train");
    assert_eq!(w_env["WHARF_OUTPUT_MODEL"], "/opt/ml/model");
    assert!(!l_env.keys().any(|k| k.starts_with("WHARF_")));

    // The output: wharf's is /opt/ml/output/data (SageMaker's
    // output.tar.gz); LM packs the whole of /opt/ml/output.
    assert_eq!(read(w_output, "report.txt"), "report\n");
    assert_eq!(read(l_output, "data/report.txt"), "report\n");
}

fn processing(w: &Path, l: &Path, lm_info: &Value) {
    // The entrypoint as given, with its arguments; the input in place.
    for side in [w, l] {
        assert_eq!(read(side, "argv.txt").trim(), "--mode fast", "{}", side.display());
        assert_eq!(read(side, "input-raw.txt"), "raw.csv\n");
        assert_eq!(
            read(side, "config-files.txt"),
            "processingjobconfig.json\nresourceconfig.json\n"
        );
    }
    // Deliberate: LM mounts the input writable, wharf read-only.
    assert_eq!(read(w, "input-raw-mode.txt").trim(), "read-only");
    assert_eq!(read(l, "input-raw-mode.txt").trim(), "writable");

    // processingjobconfig.json: the request, the same where both know it.
    let w_job = json_in(w, "processingjobconfig.json");
    let l_job = json_in(l, "processingjobconfig.json");
    let w_name = w_job["ProcessingJobName"].as_str().unwrap();
    let l_name = l_job["ProcessingJobName"].as_str().unwrap();
    assert!(is_job_name(w_name) && w_name.starts_with("lm-prep-"), "{w_name}");
    assert!(is_job_name(l_name), "{l_name}");
    assert_eq!(l_name, lm_info["processing_job_name"].as_str().unwrap());
    for job in [&w_job, &l_job] {
        assert_eq!(
            job["AppSpecification"],
            json!({"ImageUri": PROBE, "ContainerEntrypoint": ["/usr/bin/process", "--mode", "fast"], "ContainerArguments": null})
        );
        let input = &job["ProcessingInputs"][0];
        assert_eq!(job["ProcessingInputs"].as_array().unwrap().len(), 1);
        assert_eq!(input["InputName"], "raw");
        assert_eq!(input["S3Input"]["LocalPath"], "/opt/ml/processing/input/raw");
        assert_eq!(input["S3Input"]["S3InputMode"], "File");
        assert!(input["S3Input"]["S3Uri"].as_str().unwrap().starts_with("file:///"));
        let outputs = job["ProcessingOutputConfig"]["Outputs"].as_array().unwrap();
        assert_eq!(outputs.len(), 1);
        assert_eq!(outputs[0]["OutputName"], "out");
        assert_eq!(outputs[0]["S3Output"]["LocalPath"], "/opt/ml/processing/output/out");
        assert_eq!(outputs[0]["S3Output"]["S3UploadMode"], "EndOfJob");
        let cluster = &job["ProcessingResources"]["ClusterConfig"];
        assert_eq!(cluster["InstanceCount"], 1);
        assert_eq!(cluster["VolumeSizeInGB"], 30);
    }
    // Deliberate: LM's ARN is the name, its role `<no_role>`, its stopping
    // condition a fixed day, its instance `local`, and each input carries an
    // extra `DataUri`; wharf writes an ARN, no role, the step's timeout (none
    // here) and the step's instance.
    assert_eq!(l_job["ProcessingJobArn"], l_name);
    assert_eq!(
        w_job["ProcessingJobArn"],
        format!("arn:aws:sagemaker:local:000000000000:processing-job/{w_name}")
    );
    assert_eq!(l_job["RoleArn"], "<no_role>");
    assert_eq!(w_job["RoleArn"], Value::Null);
    assert_eq!(l_job["StoppingCondition"], json!({"MaxRuntimeInSeconds": 86400}));
    assert_eq!(w_job["StoppingCondition"], Value::Null);
    assert_eq!(l_job["ProcessingResources"]["ClusterConfig"]["InstanceType"], "local");
    assert_eq!(
        w_job["ProcessingResources"]["ClusterConfig"]["InstanceType"],
        "ml.m5.large"
    );
    assert_eq!(
        l_job["ProcessingInputs"][0]["DataUri"],
        l_job["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    );
    assert!(w_job["ProcessingInputs"][0].get("DataUri").is_none());
    // Beyond that the input and output entries are the same, but for the
    // URIs (each names its own folders) and two keys only wharf writes:
    // S3DownloadMode and KmsKeyId, which the SDK leaves out of the request.
    let without = |value: &Value, pointers: &[&str]| {
        let mut value = value.clone();
        for pointer in pointers {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let removed = value
                .pointer_mut(parent)
                .and_then(Value::as_object_mut)
                .and_then(|o| o.remove(key));
            assert!(removed.is_some(), "{pointer} in {value}");
        }
        value
    };
    assert_eq!(
        without(
            &w_job["ProcessingInputs"][0],
            &["/S3Input/S3Uri", "/S3Input/S3DownloadMode"]
        ),
        without(&l_job["ProcessingInputs"][0], &["/S3Input/S3Uri", "/DataUri"])
    );
    assert_eq!(w_job["ProcessingInputs"][0]["S3Input"]["S3DownloadMode"], "StartOfJob");
    assert_eq!(
        without(
            &w_job["ProcessingOutputConfig"],
            &["/Outputs/0/S3Output/S3Uri", "/KmsKeyId"]
        ),
        without(&l_job["ProcessingOutputConfig"], &["/Outputs/0/S3Output/S3Uri"])
    );
    // Environment echoes the request's: wharf passes its WHARF_ variables
    // there (as its SageMaker backend does); this LM job has none.
    assert_eq!(
        w_job["Environment"],
        json!({"WHARF_INPUT_RAW": "/opt/ml/processing/input/raw", "WHARF_OUTPUT_OUT": "/opt/ml/processing/output/out"})
    );
    assert_eq!(l_job["Environment"], json!({}));

    // resourceconfig.json: wharf writes the two documented keys; LM the
    // training file's four (its `algo-1-xxxxx` host and instance `local`).
    assert_eq!(
        json_in(w, "resourceconfig.json"),
        json!({"current_host": "algo-1", "hosts": ["algo-1"]})
    );
    let l_res = json_in(l, "resourceconfig.json");
    let l_host = l_res["current_host"].as_str().unwrap();
    assert!(is_lm_host(l_host), "{l_res}");
    assert_eq!(
        l_res,
        json!({"current_host": l_host, "hosts": [l_host], "network_interface_name": "eth0", "current_instance_type": "local"})
    );
    assert_eq!(read(w, "hostname.txt").trim(), "algo-1");
    assert_ne!(read(l, "hostname.txt").trim(), l_host);

    // The environment: no SM_ and no training variable in either; LM adds
    // the session's credentials (not even the region, as for training).
    let w_env = env_in(w);
    let l_env = env_in(l);
    for env in [&w_env, &l_env] {
        assert!(sm_variables(env).is_empty(), "{:?}", sm_variables(env));
        assert!(!env.contains_key("TRAINING_JOB_NAME"));
        assert!(!env.contains_key("TRAINING_JOB_ARN"));
    }
    assert!(aws_variables(&w_env).is_empty(), "wharf: {:?}", aws_variables(&w_env));
    assert_eq!(aws_variables(&l_env), ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    assert_eq!(w_env["WHARF_INPUT_RAW"], "/opt/ml/processing/input/raw");
    assert_eq!(w_env["WHARF_OUTPUT_OUT"], "/opt/ml/processing/output/out");
}
