//! `wharf run` on the docker backend against the real engine: the SageMaker
//! container contract item by item (docs/backends/docker.md), builds and
//! their cache keys, failures, timeouts, Ctrl-C, a killed wharf's leftovers,
//! and local serving (deploy, transform, `wharf endpoints`, `wharf stop`).
//!
//! Every test runs in its own folder, so its containers carry a project
//! label of their own; it checks the engine through the docker CLI.

mod common;
use common::docker::{self, BUSYBOX, SERVE};
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Project {
    dir: tempfile::TempDir,
    /// Extra environment for wharf (WHARF_DOCKER_COPY_OUTPUTS).
    env: Vec<(&'static str, &'static str)>,
}

impl Project {
    fn new(pipeline: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("p.wharf"), pipeline).expect("write pipeline");
        Project { dir, env: Vec::new() }
    }

    /// Outputs copied out of the container, as for a wharf that is not
    /// root, instead of bind-mounted.
    fn copying_outputs(mut self) -> Project {
        self.env.push(("WHARF_DOCKER_COPY_OUTPUTS", "1"));
        self
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        wharf_in(self.path())
            .envs(self.env.iter().copied())
            .args(["run", "p.wharf", "--target", "local"])
            .args(args)
            .output()
            .expect("wharf runs")
    }

    fn spawn(&self, args: &[&str]) -> Child {
        Command::new(assert_cmd::cargo::cargo_bin("wharf"))
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .args(["run", "p.wharf", "--target", "local"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wharf starts")
    }

    fn show(&self) -> Value {
        let out = wharf_in(self.path())
            .args(["show", "last", "--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).expect("show prints JSON")
    }

    /// The folder output `output` of `step` was collected into, in the last run.
    fn output(&self, step: &str, output: &str) -> PathBuf {
        output_dir(self.path(), step, output)
    }

    fn read(&self, step: &str, output: &str, file: &str) -> String {
        let path = self.output(step, output).join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn run_id(&self) -> String {
        self.show()["run"]["id"].as_str().unwrap().to_string()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        // Whatever a failed assertion left running.
        for run in runs_of(self.path()) {
            docker::remove_with(&format!("wharf.run={run}"));
        }
    }
}

fn runs_of(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join(".wharf/runs"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn env_of(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const DUMP: &str = r#"set -e
out=$WHARF_OUTPUT_OUT
env | sort > $out/env.txt
hostname > $out/hostname.txt
cp /opt/ml/config/processingjobconfig.json /opt/ml/config/resourceconfig.json $out/
cat $WHARF_INPUT_RAW > $out/raw.txt
ls $WHARF_INPUT_FOLDER > $out/folder.txt
echo "$@" > $out/argv.txt
mkdir -p $out/nested && echo deep > $out/nested/file.txt
cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null > $out/memory.txt || true
cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null > $out/cpu.txt || true
echo done"#;

#[test]
fn a_processing_step_sees_sagemakers_layout() {
    processing_contract(false);
}

#[test]
fn a_processing_step_sees_sagemakers_layout_with_copied_outputs() {
    processing_contract(true);
}

fn processing_contract(copy: bool) {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let p = Project::new(&format!(
        r#"pipeline contract {{
  step prep {{
    image   = "{BUSYBOX}"
    command = ["sh", "-c", "{}", "prep-script"]
    env     {{ MODE = "fast" }}
    inputs  {{ raw = "data/raw.csv", folder = "data/folder" }}
    outputs {{ out = dir() }}
    resources {{ instance = "ml.m5.xlarge", cpus = 1, memory = 256MiB }}
    timeout = 5m
  }}
}}
target local {{ backend = docker }}
"#,
        DUMP.replace('"', "\\\"").replace('\n', "\\n")
    ));
    let p = if copy { p.copying_outputs() } else { p };
    p.write("data/raw.csv", "a,b\n1,2\n");
    p.write("data/folder/x.txt", "x");
    let out = p.run(&[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("prep | done"),
        "logs stream live: {}",
        stderr_of(&out)
    );

    let env = env_of(&p.read("prep", "out", "env.txt"));
    assert_eq!(env["WHARF_INPUT_RAW"], "/opt/ml/processing/input/raw/raw.csv");
    assert_eq!(env["WHARF_INPUT_FOLDER"], "/opt/ml/processing/input/folder");
    assert_eq!(env["WHARF_OUTPUT_OUT"], "/opt/ml/processing/output/out");
    assert_eq!(env["MODE"], "fast");
    let sm: Vec<&String> = env.keys().filter(|k| k.starts_with("SM_")).collect();
    assert!(sm.is_empty(), "SageMaker sets no SM_ variables in a container: {sm:?}");
    assert!(
        !env.contains_key("TRAINING_JOB_NAME"),
        "a processing job has no training variables"
    );
    assert!(
        !env.keys().any(|k| k.starts_with("WHARF_RUN")),
        "only the documented variables"
    );

    assert_eq!(p.read("prep", "out", "hostname.txt").trim(), "algo-1");
    assert_eq!(p.read("prep", "out", "raw.txt"), "a,b\n1,2\n");
    assert_eq!(p.read("prep", "out", "folder.txt").trim(), "x.txt");
    assert_eq!(
        p.read("prep", "out", "argv.txt").trim(),
        "",
        "sh -c SCRIPT NAME: no extra arguments"
    );
    assert_eq!(p.read("prep", "out", "nested/file.txt").trim(), "deep");

    let job: Value = serde_json::from_str(&p.read("prep", "out", "processingjobconfig.json")).unwrap();
    let name = job["ProcessingJobName"].as_str().unwrap();
    assert!(name.starts_with("contract-prep-") && name.ends_with("-1"), "{name}");
    assert!(name.len() <= 63 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    assert_eq!(job["AppSpecification"]["ImageUri"], BUSYBOX);
    assert_eq!(job["AppSpecification"]["ContainerEntrypoint"][0], "sh");
    assert_eq!(
        job["ProcessingResources"]["ClusterConfig"]["InstanceType"],
        "ml.m5.xlarge"
    );
    assert_eq!(job["ProcessingResources"]["ClusterConfig"]["InstanceCount"], 1);
    assert_eq!(job["StoppingCondition"]["MaxRuntimeInSeconds"], 300);
    assert_eq!(job["Environment"]["MODE"], "fast");
    let inputs = job["ProcessingInputs"].as_array().unwrap();
    assert_eq!(inputs[0]["InputName"], "raw");
    assert_eq!(inputs[0]["S3Input"]["LocalPath"], "/opt/ml/processing/input/raw");
    assert_eq!(inputs[0]["S3Input"]["S3InputMode"], "File");
    assert_eq!(
        job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["LocalPath"],
        "/opt/ml/processing/output/out"
    );
    let resources: Value = serde_json::from_str(&p.read("prep", "out", "resourceconfig.json")).unwrap();
    assert_eq!(
        resources,
        serde_json::json!({"current_host": "algo-1", "hosts": ["algo-1"]})
    );

    // Resources reached the engine (cgroup v1 or v2), and nothing is left behind.
    assert!(
        p.read("prep", "out", "memory.txt").contains("268435456"),
        "256MiB limit"
    );
    let cpu = p.read("prep", "out", "cpu.txt");
    assert!(cpu.contains("100000"), "one CPU of quota: {cpu}");
    let run = p.run_id();
    assert!(docker::containers_with(&format!("wharf.run={run}")).is_empty());
    // Inputs are mounted read-only: the step cannot change cached data.
    let meta = std::fs::metadata(p.output("prep", "out").join("env.txt")).unwrap();
    assert!(meta.is_file());
}

const TRAIN_SCRIPT: &str = r#"#!/bin/sh
set -e
m=/opt/ml/model
cp /opt/ml/input/config/hyperparameters.json /opt/ml/input/config/inputdataconfig.json /opt/ml/input/config/resourceconfig.json $m/
env | sort > $m/env.txt
echo "$(basename $0) $@" > $m/argv.txt
ls /opt/ml/input/data/train > $m/channel.txt
echo report > /opt/ml/output/data/report.txt
echo nested > $WHARF_OUTPUT_EXTRA/extra.txt
echo "train_loss=0.25"
"#;

fn train_project(name: &str) -> Project {
    let p = Project::new(&format!(
        r#"pipeline {name} {{
  build image {{ context = "image" }}
  step prep {{
    image   = "{BUSYBOX}"
    command = ["sh", "-c", "echo 1,2 > $WHARF_OUTPUT_DATA/train.csv"]
    outputs {{ data = dir() }}
  }}
  train fit {{
    image  = image
    inputs {{ train = prep.data }}
    hyperparameters {{ depth = 6, rate = 0.5, name = "rf", flags = [1, 2] }}
    resources {{ instance = "ml.m5.2xlarge" }}
    outputs {{ extra = dir() }}
  }}
}}
target local {{ backend = docker }}
"#
    ));
    p.write(
        "image/Dockerfile",
        &format!("FROM {BUSYBOX}\nCOPY train /usr/bin/train\nCOPY notes.txt /notes.txt\n"),
    );
    p.write("image/train", TRAIN_SCRIPT);
    p.write("image/notes.txt", "v1\n");
    p.write("image/.dockerignore", "scratch/\n");
    p.write("image/scratch/big.bin", "ignored");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p.path().join("image/train"), std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn remove_built_images(pipeline: &str) {
    let (_, out) = docker::docker(&["images", "-q", "--filter", &format!("label=wharf.pipeline={pipeline}")]);
    for id in out.lines() {
        let _ = docker::docker(&["rmi", "-f", id]);
    }
}

#[test]
fn a_training_step_is_started_with_train_and_sees_its_config_files() {
    training_contract("trainer", false);
}

#[test]
fn a_training_step_sees_its_config_files_with_copied_outputs() {
    training_contract("trainercopy", true);
}

fn training_contract(name: &str, copy: bool) {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let p = train_project(name);
    let p = if copy { p.copying_outputs() } else { p };
    let out = p.run(&[]);
    remove_built_images(name);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("fit | train_loss=0.25"), "{err}");

    assert_eq!(
        p.read("fit", "model", "argv.txt").trim(),
        "train",
        "SageMaker runs `IMAGE train`"
    );
    let hp: Value = serde_json::from_str(&p.read("fit", "model", "hyperparameters.json")).unwrap();
    assert_eq!(
        hp,
        serde_json::json!({"depth": "6", "rate": "0.5", "name": "rf", "flags": "[1,2]"}),
        "every value a string"
    );
    let channels: Value = serde_json::from_str(&p.read("fit", "model", "inputdataconfig.json")).unwrap();
    assert_eq!(
        channels,
        serde_json::json!({"train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}})
    );
    let resources: Value = serde_json::from_str(&p.read("fit", "model", "resourceconfig.json")).unwrap();
    assert_eq!(resources["current_host"], "algo-1");
    assert_eq!(resources["hosts"], serde_json::json!(["algo-1"]));
    assert_eq!(resources["current_instance_type"], "ml.m5.2xlarge");
    assert_eq!(resources["current_group_name"], "homogeneousCluster");
    assert_eq!(resources["network_interface_name"], "eth0");
    assert_eq!(
        resources["instance_groups"],
        serde_json::json!([{"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.2xlarge", "hosts": ["algo-1"]}])
    );
    let env = env_of(&p.read("fit", "model", "env.txt"));
    let job = &env["TRAINING_JOB_NAME"];
    assert!(job.starts_with(&format!("{name}-fit-")), "{job}");
    assert_eq!(
        env["TRAINING_JOB_ARN"],
        format!("arn:aws:sagemaker:local:000000000000:training-job/{job}")
    );
    assert_eq!(env["WHARF_INPUT_TRAIN"], "/opt/ml/input/data/train");
    assert_eq!(env["WHARF_OUTPUT_MODEL"], "/opt/ml/model");
    assert_eq!(env["WHARF_OUTPUT_OUTPUT"], "/opt/ml/output/data");
    assert!(!env.keys().any(|k| k.starts_with("SM_")), "no SM_ variables: {env:?}");
    assert_eq!(p.read("fit", "model", "channel.txt").trim(), "train.csv");
    assert_eq!(p.read("fit", "output", "report.txt").trim(), "report");
    // Another output of a train step is a folder in /opt/ml/output/data, so
    // it travels in SageMaker's output.tar.gz too.
    assert_eq!(env["WHARF_OUTPUT_EXTRA"], "/opt/ml/output/data/extra");
    assert_eq!(p.read("fit", "extra", "extra.txt").trim(), "nested");
    assert_eq!(p.read("fit", "output", "extra/extra.txt").trim(), "nested");
}

#[test]
fn a_built_image_is_tagged_by_content_and_keys_its_users_cache() {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let p = train_project("builder");
    let first = p.run(&[]);
    assert!(first.status.success(), "{}", stderr_of(&first));
    let image: Value = serde_json::from_str(&p.read("image", "image", "image.json")).unwrap();
    let tag = image["image"].as_str().unwrap().to_string();
    assert!(tag.starts_with("wharf/builder-image:"), "{tag}");
    let (found, id) = docker::docker(&["image", "inspect", "--format", "{{.Id}}", &tag]);
    assert!(found, "the tag exists in the engine");
    assert_eq!(id.trim(), image["id"].as_str().unwrap());

    // Unchanged, and a change to an ignored file: everything cached.
    p.write("image/scratch/big.bin", "still ignored");
    let again = p.run(&[]);
    let steps = p.show()["steps"].clone();
    assert!(again.status.success());
    for s in steps.as_array().unwrap() {
        assert_eq!(s["status"], "cached", "{s:#}");
    }

    // A change to the context: a new image, and its user runs again.
    p.write("image/notes.txt", "v2\n");
    let changed = p.run(&[]);
    assert!(changed.status.success(), "{}", stderr_of(&changed));
    let steps = p.show()["steps"].clone();
    let status = |name: &str| {
        steps.as_array().unwrap().iter().find(|s| s["step"] == name).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("image"), "succeeded");
    assert_eq!(status("prep"), "cached");
    assert_eq!(
        status("fit"),
        "succeeded",
        "a new image id changes the train step's key"
    );
    let new: Value = serde_json::from_str(&p.read("image", "image", "image.json")).unwrap();
    assert_ne!(new["image"], image["image"]);
    let why = wharf_in(p.path())
        .args(["why", "p.wharf", "fit", "--target", "local"])
        .output()
        .unwrap();
    assert!(why.status.success());

    // An image removed from the engine is built again, not assumed.
    let (_, _) = docker::docker(&["rmi", "-f", new["image"].as_str().unwrap()]);
    let rebuilt = p.run(&[]);
    assert!(rebuilt.status.success(), "{}", stderr_of(&rebuilt));
    assert_eq!(
        p.show()["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == "image")
            .unwrap()["status"],
        "succeeded"
    );
    remove_built_images("builder");
}

#[test]
fn a_failure_reports_the_exit_code_and_the_failure_file() {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let p = Project::new(&format!(
        r#"pipeline broken {{
  train fit {{
    image   = "{BUSYBOX}"
    command = ["sh", "-c", "echo working; printf 'ValueError: depth must be positive' > /opt/ml/output/failure; exit 3"]
  }}
  step prep {{
    image   = "{BUSYBOX}"
    command = ["sh", "-c", "echo some output; echo 'bad input row 7' > /opt/ml/output/message; exit 4"]
    outputs {{ out = dir() }}
  }}
  step quiet {{
    image   = "{BUSYBOX}"
    command = ["sh", "-c", "echo line one; echo line two >&2; exit 5"]
    outputs {{ out = dir() }}
  }}
}}
target local {{ backend = docker }}
"#
    ));
    let out = p.run(&["--keep-going"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let show = p.show();
    let step = |name: &str| {
        show["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .unwrap()
            .clone()
    };
    let fit = step("fit");
    assert_eq!(fit["status"], "failed");
    assert_eq!(fit["attempts"][0]["exit_code"], 3);
    assert_eq!(
        fit["reason"].as_str().unwrap(),
        "exited with code 3: ValueError: depth must be positive"
    );
    assert_eq!(step("prep")["attempts"][0]["exit_code"], 4);
    assert!(step("prep")["reason"].as_str().unwrap().contains("bad input row 7"));
    let quiet = step("quiet")["reason"].as_str().unwrap().to_string();
    assert!(quiet.starts_with("exited with code 5"), "{quiet}");
    assert!(
        quiet.contains("line one") && quiet.contains("line two"),
        "the last lines: {quiet}"
    );
    assert!(docker::containers_with(&format!("wharf.run={}", p.run_id())).is_empty());
}

#[test]
fn a_missing_image_is_named_in_the_error() {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let p = Project::new(
        r#"pipeline missing {
  step prep {
    image   = "wharf-test/not-built-anywhere:9"
    command = ["true"]
  }
}
target local { backend = docker }
"#,
    );
    // Refused before anything starts (the pull is tried first), not a failed run.
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let reason = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        reason.contains("step `prep`: image `wharf-test/not-built-anywhere:9`"),
        "{reason}"
    );
    assert!(
        reason.contains("docker build") || reason.contains("docker load"),
        "{reason}"
    );
    assert!(reason.contains("nothing was run"), "{reason}");
}

#[test]
fn no_engine_is_a_clear_error_before_anything_starts() {
    let p = Project::new(&format!(
        r#"pipeline noengine {{
  step prep {{
    image   = "{BUSYBOX}"
    command = ["true"]
  }}
}}
target local {{ backend = docker }}
"#
    ));
    let out = wharf_in(p.path())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["run", "p.wharf", "--target", "local"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("no Docker engine answers at unix:///nonexistent/docker.sock"),
        "{err}"
    );
    assert!(
        err.contains("dockerd") && err.contains("DOCKER_HOST"),
        "says how to start one: {err}"
    );
}

fn sleeper(name: &str, extra: &str) -> Project {
    Project::new(&format!(
        r#"pipeline {name} {{
  param secs : int = 600
  step nap {{
    image   = "{BUSYBOX}"
    command = ["sh", "-c", "echo napping; sleep ${{params.secs}}; echo awake > $WHARF_OUTPUT_OUT/x"]
    outputs {{ out = dir() }}
    {extra}
  }}
}}
target local {{ backend = docker }}
"#
    ))
}

/// The id of the one container of this project's runs, once it runs.
fn wait_for_container(p: &Project) -> (String, String) {
    let mut found = None;
    wait_until("the step's container", Duration::from_secs(30), || {
        for run in runs_of(p.path()) {
            if let Some(id) = docker::containers_with(&format!("wharf.run={run}")).first() {
                found = Some((run, id.clone()));
                return true;
            }
        }
        false
    });
    found.unwrap()
}

#[test]
fn a_timeout_stops_and_removes_the_container() {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let p = sleeper("slow", "timeout = 2s");
    let start = Instant::now();
    let out = p.run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(start.elapsed() < Duration::from_secs(30), "took {:?}", start.elapsed());
    let reason = p.show()["steps"][0]["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("timed out after 2s"), "{reason}");
    assert!(docker::containers_with(&format!("wharf.run={}", p.run_id())).is_empty());
}

#[test]
fn ctrl_c_stops_the_container_and_leaves_nothing() {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let p = sleeper("interrupted", "");
    let mut child = p.spawn(&[]);
    let (run, _) = wait_for_container(&p);
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "{err}");
    assert!(
        docker::containers_with(&format!("wharf.run={run}")).is_empty(),
        "docker ps -a --filter label=wharf.run={run} is empty"
    );
}

/// A step that sleeps `NAP_SECS` seconds (from wharf's environment: a
/// resumed run keeps its params, not its environment).
fn env_sleeper(name: &str) -> Project {
    Project::new(&format!(
        r#"pipeline {name} {{
  step nap {{
    image   = "{BUSYBOX}"
    command = ["sh", "-c", "echo napping; sleep $SECS; echo awake > $WHARF_OUTPUT_OUT/x"]
    env     {{ SECS = env("NAP_SECS") }}
    outputs {{ out = dir() }}
  }}
}}
target local {{ backend = docker }}
"#
    ))
}

fn spawn_with(p: &Project, secs: &str, args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("wharf"))
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .env("NAP_SECS", secs)
        .args(["run", "p.wharf", "--target", "local"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wharf starts")
}

#[test]
fn a_killed_wharfs_container_is_removed_by_the_next_run() {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let p = env_sleeper("crashed");
    let mut child = spawn_with(&p, "600", &[]);
    let (run, id) = wait_for_container(&p);
    child.kill().unwrap(); // SIGKILL: wharf cannot clean up.
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        docker::containers_with(&format!("wharf.run={run}")),
        vec![id.clone()],
        "the orphan is still there"
    );
    let out = wharf_in(p.path())
        .env("NAP_SECS", "0")
        .args(["run", "p.wharf", "--resume"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        docker::containers_with(&format!("wharf.run={run}")).is_empty(),
        "the resumed run removed what the killed one left"
    );
    assert_eq!(p.read("nap", "out", "x").trim(), "awake");

    // A later run (not a resume) removes orphans too.
    let mut child = spawn_with(&p, "600", &["--no-cache"]);
    let (run2, _) = wait_for_container(&p);
    child.kill().unwrap();
    child.wait().unwrap();
    let out = wharf_in(p.path())
        .env("NAP_SECS", "0")
        .args(["run", "p.wharf", "--no-cache"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains(&format!("run {run2} was abandoned")) && stderr_of(&out).contains("container"),
        "{}",
        stderr_of(&out)
    );
    for run in runs_of(p.path()) {
        assert!(docker::containers_with(&format!("wharf.run={run}")).is_empty(), "{run}");
    }
}

#[test]
fn stop_after_a_kill_9_removes_the_runs_containers_and_says_so() {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let p = sleeper("stopped", "");
    let mut child = p.spawn(&[]);
    let (run, _) = wait_for_container(&p);
    child.kill().unwrap();
    child.wait().unwrap();
    let out = wharf_in(p.path()).args(["stop", "last"]).output().unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("was abandoned") && err.contains("container"), "{err}");
    assert!(!err.contains("left nothing running"), "{err}");
    assert!(
        docker::containers_with(&format!("wharf.run={run}")).is_empty(),
        "docker ps -a --filter label=wharf.run={run} is empty"
    );
    assert_eq!(p.show()["run"]["status"], "abandoned");
}

#[test]
fn sigterm_stops_the_container_when_stderr_is_closed() {
    // `wharf run ... 2>&1 | head -2`: the reader goes away after two lines.
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let p = sleeper("unheard", "");
    let mut child = p.spawn(&[]);
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let _ = lines.next();
    let _ = lines.next();
    drop(lines);
    let (run, _) = wait_for_container(&p);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(start.elapsed() < Duration::from_secs(40), "SIGTERM was not heard");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, Some(130));
    assert!(docker::containers_with(&format!("wharf.run={run}")).is_empty());
    assert_eq!(p.show()["run"]["status"], "cancelled");
}

#[test]
fn a_timeout_on_a_container_that_ignores_sigterm_waits_the_grace_period_and_says_so() {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let p = Project::new(&format!(
        r#"pipeline deaf {{
  step nap {{
    image   = "{BUSYBOX}"
    command = ["sh", "-c", "trap '' TERM; sleep 60"]
    timeout = 2s
  }}
}}
target local {{ backend = docker }}
"#
    ));
    let start = Instant::now();
    let out = p.run(&["--stop-grace", "2s"]);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "2s of timeout and 2s of grace, not the default 10s: took {:?}",
        start.elapsed()
    );
    assert!(err.contains("waiting for the container to stop"), "{err}");
    assert!(err.contains("it has 2s after SIGTERM"), "{err}");
}

#[test]
fn deploy_serves_ping_and_invocations_until_stopped() {
    if !docker::ready(&[BUSYBOX, SERVE]) {
        return;
    }
    let p = Project::new(&format!(
        r#"pipeline serving {{
  deploy api {{
    image  = "{SERVE}"
    inputs {{ model = "model" }}
  }}
}}
target local {{ backend = docker }}
"#
    ));
    p.write("model/prefix.txt", "v1:");
    let out = p.run(&[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let endpoint: Value = serde_json::from_str(&p.read("api", "endpoint", "endpoint.json")).unwrap();
    let url = endpoint["url"].as_str().unwrap();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(http(port, "GET", "/ping", "text/plain", "").0, 200);
    let (status, body) = http(port, "POST", "/invocations", "text/plain", "hello");
    assert_eq!(status, 200);
    assert_eq!(body.trim(), "v1:HELLO", "the model folder is at /opt/ml/model");
    assert!(
        stderr_of(&out).contains(&format!("\nendpoint  api: {url}/invocations\n")),
        "the summary says where the endpoint is: {}",
        stderr_of(&out)
    );

    let list = wharf_in(p.path())
        .args(["endpoints", "--format", "json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["name"], "serving-api");
    assert_eq!(list[0]["url"], url);
    assert_eq!(list[0]["running"], true);

    // Unchanged: the running endpoint is kept, not restarted.
    let again = p.run(&[]);
    assert!(again.status.success());
    let again_endpoint: Value = serde_json::from_str(&p.read("api", "endpoint", "endpoint.json")).unwrap();
    assert_eq!(again_endpoint["container"], endpoint["container"]);

    let stop = wharf_in(p.path()).args(["stop", "last"]).output().unwrap();
    assert!(stop.status.success(), "{}", stderr_of(&stop));
    for run in runs_of(p.path()) {
        assert!(docker::containers_with(&format!("wharf.run={run}")).is_empty());
    }
    let list = wharf_in(p.path())
        .args(["endpoints", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&list.stdout).unwrap(),
        serde_json::json!([])
    );

    // Stopped: the next run deploys it again instead of trusting the cache.
    let redeploy = p.run(&[]);
    assert!(redeploy.status.success());
    assert_eq!(p.show()["steps"][0]["status"], "succeeded");
    let stop = wharf_in(p.path())
        .args(["endpoints", "stop", "serving-api"])
        .output()
        .unwrap();
    assert!(stop.status.success(), "{}", stderr_of(&stop));
    let unknown = wharf_in(p.path()).args(["endpoints", "stop", "nope"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr_of(&unknown).contains("no endpoint named nope"));
}

#[test]
fn transform_sends_each_record_to_invocations() {
    if !docker::ready(&[BUSYBOX, SERVE]) {
        return;
    }
    let p = Project::new(&format!(
        r#"pipeline batch {{
  transform score {{
    image  = "{SERVE}"
    inputs {{ model = "model", data = "data" }}
    split  = "line"
    strategy = "single"
    content_type = "text/plain"
  }}
}}
target local {{ backend = docker }}
"#
    ));
    p.write("model/prefix.txt", "m:");
    p.write("data/a.txt", "one\ntwo\n");
    p.write("data/sub/b.txt", "three\n");
    let out = p.run(&[]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(p.read("score", "output", "a.txt.out"), "m:ONE\nm:TWO\n");
    assert_eq!(p.read("score", "output", "sub/b.txt.out"), "m:THREE\n");
    assert!(
        stderr_of(&out).contains("3 requests for 2 files answered"),
        "{}",
        stderr_of(&out)
    );
    assert!(docker::containers_with(&format!("wharf.run={}", p.run_id())).is_empty());
}

#[test]
fn checkpoints_survive_a_failed_attempt_into_the_retry() {
    for copy in [false, true] {
        if !docker::ready(&[BUSYBOX]) {
            return;
        }
        let p = Project::new(&format!(
            r#"pipeline resumable {{
  train fit {{
    image   = "{BUSYBOX}"
    command = ["sh", "-c", "if [ -f /opt/ml/checkpoints/epoch ]; then cat /opt/ml/checkpoints/epoch > /opt/ml/model/resumed-from; else echo 7 > /opt/ml/checkpoints/epoch; exit 1; fi"]
    checkpoints = on
    retry {{ attempts = 2, backoff = 1s }}
  }}
}}
target local {{ backend = docker }}
"#
        ));
        let p = if copy { p.copying_outputs() } else { p };
        let out = p.run(&[]);
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(p.read("fit", "model", "resumed-from").trim(), "7", "copy={copy}");
        assert_eq!(p.show()["steps"][0]["attempts"].as_array().unwrap().len(), 2);
    }
}
