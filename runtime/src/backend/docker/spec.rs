//! The container an attempt becomes, as data: image, command, environment,
//! mounts, the files SageMaker would have written under `/opt/ml`, and where
//! each output is collected from. Pure, so every item of the contract is
//! tested without an engine; `container` turns it into API calls.

use crate::backend::Attempt;
use crate::backend::contract::{self, variable_suffix};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use wharf_compiler::pipeline::KindSpec;
use wharf_compiler::types::StepKind;

/// A read-only bind mount of a file or folder on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub host: PathBuf,
    pub container: String,
}

#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub image: String,
    /// Replaces the image's ENTRYPOINT (and drops its CMD) when set.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's CMD when set.
    pub cmd: Option<Vec<String>>,
    /// `NAME=value`, in a stable order.
    pub env: Vec<String>,
    pub mounts: Vec<Mount>,
    /// Folders created (empty) before the container starts.
    pub dirs: Vec<String>,
    /// Files written before the container starts: container path, content.
    pub files: Vec<(String, Vec<u8>)>,
    /// Output name -> the container folder it is collected from after the exit.
    pub outputs: Vec<(String, String)>,
    /// The file whose first 1024 characters explain a failure.
    pub failure_file: &'static str,
    /// Restore `/opt/ml/checkpoints` before the start and save it after the exit.
    pub checkpoints: bool,
}

impl ContainerSpec {
    /// A processing (`step`) or training (`train`) job, as SageMaker starts it.
    pub fn for_job(attempt: &Attempt, job_name: &str) -> Result<ContainerSpec, String> {
        let kind = attempt.kind;
        let image = attempt.image.clone().ok_or_else(|| {
            format!(
                "step `{}` has no image; the docker backend runs every step in one",
                attempt.step
            )
        })?;
        let mut spec = ContainerSpec {
            image: image.clone(),
            failure_file: if kind == StepKind::Train {
                contract::FAILURE_FILE
            } else {
                contract::MESSAGE_FILE
            },
            ..ContainerSpec::default()
        };
        // SageMaker's override rules: without a command, a training image
        // gets `train` as its argument and a processing image runs as built;
        // a command replaces the entrypoint (exec form) and with it the CMD.
        match (&attempt.command[..], kind) {
            ([], StepKind::Train) => spec.cmd = Some(vec!["train".into()]),
            ([], _) => {}
            (command, _) => spec.entrypoint = Some(command.to_vec()),
        }
        let mut env: Vec<(String, String)> = Vec::new();
        if kind == StepKind::Train {
            env.push(("TRAINING_JOB_NAME".into(), job_name.into()));
            env.push(("TRAINING_JOB_ARN".into(), contract::local_arn("training-job", job_name)));
        }
        env.extend(attempt.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut input_paths = Vec::new();
        for (name, host) in &attempt.inputs {
            let dir = contract::input_dir(kind, name);
            let (mounts, seen_as) = mounts_for(host, &dir)?;
            spec.mounts.extend(mounts);
            env.push((format!("WHARF_INPUT_{}", variable_suffix(name)), seen_as.clone()));
            input_paths.push((name.clone(), host.clone(), dir));
        }
        for name in &attempt.outputs {
            let dir = contract::output_dir(kind, name);
            env.push((format!("WHARF_OUTPUT_{}", variable_suffix(name)), dir.clone()));
            spec.outputs.push((name.clone(), dir));
        }
        spec.env = env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        match kind {
            StepKind::Train => {
                spec.dirs = vec![
                    contract::TRAINING_CONFIG.into(),
                    contract::MODEL_DIR.into(),
                    contract::OUTPUT_DATA_DIR.into(),
                ];
                let channels = attempt.inputs.iter().map(|(n, _)| n.as_str());
                spec.files = vec![
                    config_file(
                        contract::TRAINING_CONFIG,
                        "hyperparameters.json",
                        &json!(attempt.hyperparameters),
                    ),
                    config_file(
                        contract::TRAINING_CONFIG,
                        "inputdataconfig.json",
                        &contract::input_data_config(channels),
                    ),
                    config_file(
                        contract::TRAINING_CONFIG,
                        "resourceconfig.json",
                        &contract::training_resource_config(&attempt.instance),
                    ),
                ];
                if matches!(attempt.spec, KindSpec::Train { checkpoints: true, .. }) {
                    spec.checkpoints = true;
                    spec.dirs.push(contract::CHECKPOINT_DIR.into());
                }
            }
            _ => {
                spec.dirs = vec![contract::PROCESSING_CONFIG.into(), contract::OUTPUT_DIR.into()];
                let job = processing_job_config(attempt, job_name, &spec, &input_paths);
                spec.files = vec![
                    config_file(contract::PROCESSING_CONFIG, "processingjobconfig.json", &job),
                    config_file(
                        contract::PROCESSING_CONFIG,
                        "resourceconfig.json",
                        &contract::processing_resource_config(),
                    ),
                ];
            }
        }
        for (_, dir) in &spec.outputs {
            if !spec.dirs.contains(dir) {
                spec.dirs.push(dir.clone());
            }
        }
        Ok(spec)
    }
}

fn config_file(dir: &str, name: &str, value: &Value) -> (String, Vec<u8>) {
    (format!("{dir}/{name}"), value.to_string().into_bytes())
}

/// How a file or folder on this machine appears in `dir`: a folder is
/// mounted as `dir`; a file as `dir/<its name>` (an S3 object read as a
/// prefix lands the same way); a folder of links (a gathered fan-out) as
/// one mount per link, `dir/<instance>`, because a link to a host path means
/// nothing inside the container. Returns the mounts and the path the step
/// reads (`WHARF_INPUT_*`).
pub fn mounts_for(host: &Path, dir: &str) -> Result<(Vec<Mount>, String), String> {
    let unreadable = |e: std::io::Error| format!("cannot read input {}: {e}", host.display());
    let meta = std::fs::metadata(host).map_err(unreadable)?;
    if !meta.is_dir() {
        let name = host
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "input".into());
        let path = format!("{dir}/{name}");
        return Ok((
            vec![Mount {
                host: host.to_path_buf(),
                container: path.clone(),
            }],
            path,
        ));
    }
    let mut entries: Vec<_> = std::fs::read_dir(host)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    entries.sort_by_key(|e| e.file_name());
    let all_links = !entries.is_empty()
        && entries
            .iter()
            .all(|e| e.file_type().map(|t| t.is_symlink()).unwrap_or(false));
    if all_links {
        let mut mounts = Vec::new();
        for entry in entries {
            let target = std::fs::canonicalize(entry.path()).map_err(unreadable)?;
            mounts.push(Mount {
                host: target,
                container: format!("{dir}/{}", entry.file_name().to_string_lossy()),
            });
        }
        return Ok((mounts, dir.to_string()));
    }
    Ok((
        vec![Mount {
            host: host.to_path_buf(),
            container: dir.to_string(),
        }],
        dir.to_string(),
    ))
}

/// `processingjobconfig.json`: the job's request as SageMaker echoes it to
/// the container, with `file://` URIs where the data is on this machine.
fn processing_job_config(
    attempt: &Attempt,
    job_name: &str,
    spec: &ContainerSpec,
    inputs: &[(String, PathBuf, String)],
) -> Value {
    let processing_inputs: Vec<Value> = inputs
        .iter()
        .map(|(name, host, dir)| {
            json!({
                "InputName": name,
                "AppManaged": false,
                "S3Input": {
                    "LocalPath": dir,
                    "S3Uri": format!("file://{}", host.display()),
                    "S3DataDistributionType": "FullyReplicated",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3CompressionType": "None",
                    "S3DownloadMode": "StartOfJob",
                },
            })
        })
        .collect();
    let outputs: Vec<Value> = spec
        .outputs
        .iter()
        .map(|(name, dir)| {
            json!({
                "OutputName": name,
                "AppManaged": false,
                "S3Output": {
                    "LocalPath": dir,
                    "S3Uri": format!("file://{}", attempt.output_dir(name).display()),
                    "S3UploadMode": "EndOfJob",
                },
            })
        })
        .collect();
    // Secrets go to the container's environment only: this file is written
    // to disk (and readable by the step), so they are left out of its echo.
    let environment: serde_json::Map<String, Value> = spec
        .env
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| !attempt.secret_env.contains(*k))
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "ProcessingJobArn": contract::local_arn("processing-job", job_name),
        "ProcessingJobName": job_name,
        "AppSpecification": {
            "ImageUri": spec.image,
            "ContainerEntrypoint": spec.entrypoint,
            "ContainerArguments": Value::Null,
        },
        "Environment": environment,
        "ProcessingInputs": processing_inputs,
        "ProcessingOutputConfig": { "Outputs": outputs, "KmsKeyId": Value::Null },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": attempt.instance,
                "VolumeSizeInGB": 30,
                "VolumeKmsKeyId": Value::Null,
            }
        },
        "RoleArn": Value::Null,
        "StoppingCondition": attempt.timeout_ms.map(|ms| json!({ "MaxRuntimeInSeconds": ms.div_ceil(1000) })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn attempt(kind: StepKind, command: &[&str], dir: &Path) -> Attempt {
        Attempt {
            run: "20261125-034751-ab12".into(),
            pipeline: "demo".into(),
            step: "prep".into(),
            attempt: 1,
            kind,
            image: Some("wharf-test/busybox:1".into()),
            command: command.iter().map(|s| s.to_string()).collect(),
            env: BTreeMap::from([
                ("MODE".to_string(), "fast".to_string()),
                ("TOKEN".to_string(), "hunter2-value".to_string()),
            ]),
            secret_env: ["TOKEN".to_string()].into(),
            inputs: vec![
                ("raw-data".into(), dir.join("data.csv")),
                ("more".into(), dir.join("folder")),
            ],
            outputs: vec!["out".into()],
            hyperparameters: BTreeMap::from([("depth".to_string(), "6".to_string())]),
            work_dir: dir.join("work"),
            log_path: dir.join("work/log.txt"),
            cpus: None,
            gpus: None,
            memory: None,
            instance: "ml.m5.xlarge".into(),
            timeout_ms: Some(90_500),
            spec: KindSpec::None,
        }
    }

    fn setup() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data.csv"), "a,b\n").unwrap();
        std::fs::create_dir(dir.path().join("folder")).unwrap();
        std::fs::write(dir.path().join("folder/x"), "x").unwrap();
        dir
    }

    fn env(spec: &ContainerSpec) -> BTreeMap<String, String> {
        spec.env
            .iter()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn processing_job_layout() {
        let dir = setup();
        let a = attempt(StepKind::Step, &[], dir.path());
        let spec = ContainerSpec::for_job(&a, "demo-prep-1").unwrap();
        assert_eq!(spec.entrypoint, None, "the image's entrypoint and CMD run as built");
        assert_eq!(spec.cmd, None);
        let env = env(&spec);
        assert_eq!(
            env["WHARF_INPUT_RAW_DATA"],
            "/opt/ml/processing/input/raw-data/data.csv"
        );
        assert_eq!(env["WHARF_INPUT_MORE"], "/opt/ml/processing/input/more");
        assert_eq!(env["WHARF_OUTPUT_OUT"], "/opt/ml/processing/output/out");
        assert_eq!(env["MODE"], "fast");
        assert!(
            !env.keys().any(|k| k.starts_with("SM_")),
            "SageMaker sets no SM_ variables"
        );
        assert!(!env.contains_key("TRAINING_JOB_NAME"));
        assert_eq!(spec.mounts[0].container, "/opt/ml/processing/input/raw-data/data.csv");
        assert_eq!(spec.mounts[1].container, "/opt/ml/processing/input/more");
        assert_eq!(spec.failure_file, "/opt/ml/output/message");
        let files: BTreeMap<_, _> = spec.files.iter().cloned().collect();
        let job: Value = serde_json::from_slice(&files["/opt/ml/config/processingjobconfig.json"]).unwrap();
        assert_eq!(job["ProcessingJobName"], "demo-prep-1");
        assert_eq!(
            job["ProcessingInputs"][0]["S3Input"]["LocalPath"],
            "/opt/ml/processing/input/raw-data"
        );
        assert_eq!(
            job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"],
            "/opt/ml/processing/output/out"
        );
        assert_eq!(
            job["ProcessingResources"]["ClusterConfig"]["InstanceType"],
            "ml.m5.xlarge"
        );
        assert_eq!(job["StoppingCondition"]["MaxRuntimeInSeconds"], 91);
        assert_eq!(job["Environment"]["MODE"], "fast");
        assert_eq!(
            env["TOKEN"], "hunter2-value",
            "a secret reaches the container's environment"
        );
        for (path, content) in &spec.files {
            assert!(
                !String::from_utf8_lossy(content).contains("hunter2-value"),
                "a secret in {path}"
            );
        }
        let resources: Value = serde_json::from_slice(&files["/opt/ml/config/resourceconfig.json"]).unwrap();
        assert_eq!(resources, json!({"current_host": "algo-1", "hosts": ["algo-1"]}));
        assert!(spec.dirs.contains(&"/opt/ml/processing/output/out".to_string()));
    }

    #[test]
    fn a_command_replaces_the_entrypoint() {
        let dir = setup();
        let a = attempt(StepKind::Step, &["sh", "-c", "ls"], dir.path());
        let spec = ContainerSpec::for_job(&a, "j").unwrap();
        assert_eq!(spec.entrypoint, Some(vec!["sh".into(), "-c".into(), "ls".into()]));
        assert_eq!(spec.cmd, None);
        let t = attempt(StepKind::Train, &["python", "train.py"], dir.path());
        let spec = ContainerSpec::for_job(&t, "j").unwrap();
        assert_eq!(spec.entrypoint, Some(vec!["python".into(), "train.py".into()]));
        assert_eq!(spec.cmd, None, "no `train` argument when the entrypoint is overridden");
    }

    #[test]
    fn training_job_layout() {
        let dir = setup();
        let mut a = attempt(StepKind::Train, &[], dir.path());
        a.outputs = vec!["model".into(), "output".into(), "report".into()];
        a.spec = KindSpec::Train {
            metrics: BTreeMap::new(),
            checkpoints: true,
        };
        let spec = ContainerSpec::for_job(&a, "demo-fit-1").unwrap();
        assert_eq!(spec.cmd, Some(vec!["train".into()]));
        assert_eq!(spec.entrypoint, None);
        let env = env(&spec);
        assert_eq!(env["TRAINING_JOB_NAME"], "demo-fit-1");
        assert_eq!(
            env["TRAINING_JOB_ARN"],
            "arn:aws:sagemaker:local:000000000000:training-job/demo-fit-1"
        );
        assert_eq!(env["WHARF_INPUT_RAW_DATA"], "/opt/ml/input/data/raw-data/data.csv");
        assert_eq!(env["WHARF_OUTPUT_MODEL"], "/opt/ml/model");
        assert_eq!(env["WHARF_OUTPUT_OUTPUT"], "/opt/ml/output/data");
        assert_eq!(env["WHARF_OUTPUT_REPORT"], "/opt/ml/output/data/report");
        assert!(!env.keys().any(|k| k.starts_with("SM_")));
        assert_eq!(spec.failure_file, "/opt/ml/output/failure");
        assert!(spec.checkpoints);
        let files: BTreeMap<_, _> = spec.files.iter().cloned().collect();
        let hp: Value = serde_json::from_slice(&files["/opt/ml/input/config/hyperparameters.json"]).unwrap();
        assert_eq!(hp, json!({"depth": "6"}));
        let channels: Value = serde_json::from_slice(&files["/opt/ml/input/config/inputdataconfig.json"]).unwrap();
        assert_eq!(
            channels["raw-data"],
            json!({"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"})
        );
        let resources: Value = serde_json::from_slice(&files["/opt/ml/input/config/resourceconfig.json"]).unwrap();
        assert_eq!(resources["current_host"], "algo-1");
        assert_eq!(resources["hosts"], json!(["algo-1"]));
        assert_eq!(resources["current_instance_type"], "ml.m5.xlarge");
        assert_eq!(resources["current_group_name"], "homogeneousCluster");
        assert_eq!(resources["instance_groups"][0]["instance_type"], "ml.m5.xlarge");
        assert_eq!(resources["network_interface_name"], "eth0");
    }

    #[test]
    fn a_gathered_input_mounts_each_instance() {
        let dir = setup();
        let gather = dir.path().join("gather");
        std::fs::create_dir(&gather).unwrap();
        std::os::unix::fs::symlink(dir.path().join("folder"), gather.join("fit-eu")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("data.csv"), gather.join("fit-us")).unwrap();
        let (mounts, seen) = mounts_for(&gather, "/opt/ml/processing/input/models").unwrap();
        assert_eq!(seen, "/opt/ml/processing/input/models");
        assert_eq!(mounts.len(), 2);
        assert_eq!(mounts[0].container, "/opt/ml/processing/input/models/fit-eu");
        assert_eq!(
            mounts[0].host,
            std::fs::canonicalize(dir.path().join("folder")).unwrap()
        );
        assert_eq!(mounts[1].container, "/opt/ml/processing/input/models/fit-us");
    }

    #[test]
    fn no_image_is_a_clear_error() {
        let dir = setup();
        let mut a = attempt(StepKind::Step, &[], dir.path());
        a.image = None;
        let err = ContainerSpec::for_job(&a, "j").unwrap_err();
        assert!(err.contains("has no image"), "{err}");
    }
}
