//! `wharf run` on the sagemaker backend with images that live on this
//! machine: a `build` step's image (and a named local image) is pushed to
//! ECR, and the jobs name its ECR URI.
//!
//! Who answers what:
//! - moto answers ECR's API (CreateRepository, DescribeRepositories,
//!   GetAuthorizationToken) and records the SageMaker jobs, read back with
//!   the AWS CLI;
//! - a real registry (Debian's `docker-registry`, tests/common/registry.rs)
//!   receives the pushes from the local Docker engine: the tests ask it what
//!   it holds (`/v2/<repo>/tags/list`) and count the pushes in its log;
//! - the fault proxy (tests/aws/fault_proxy.py, `registry` setting) joins
//!   the two as ECR would: GetAuthorizationToken names that registry, and
//!   DescribeImages / BatchGetImage answer from it. It also holds the
//!   training job InProgress while the test plays the job's part.
//!
//! Needs Docker (the busybox test image), moto and the registry; skips
//! loudly without them, fails under WHARF_REQUIRE_DOCKER=1,
//! WHARF_REQUIRE_MOTO=1 or WHARF_REQUIRE_REGISTRY=1.

mod common;
use common::docker::{self, BUSYBOX};
use common::moto::Moto;
use common::registry::Registry;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BUCKET: &str = "wharf-ecr-test";
const ROLE: &str = "arn:aws:iam::123456789012:role/wharf";

/// The AWS CLI against `endpoint`: stdout as JSON.
fn aws(moto: &Moto, endpoint: &str, args: &[&str]) -> Value {
    moto.aws_json(endpoint, args)
}

/// A project whose `build image` step runs on docker and whose other steps
/// run on SageMaker; its images leave the engine when it is dropped.
struct Project {
    dir: tempfile::TempDir,
    name: String,
    registry_host: String,
}

impl Project {
    fn new(moto: &Moto, registry_host: &str, name: &str, steps: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            r#"pipeline {name} {{
  build image {{ context = "image" }}
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
        std::fs::create_dir_all(dir.path().join("image")).unwrap();
        std::fs::write(
            dir.path().join("image/Dockerfile"),
            format!("FROM {BUSYBOX}\nCOPY note.txt /note.txt\n"),
        )
        .unwrap();
        // Content of its own, so the image is this test's alone.
        std::fs::write(dir.path().join("image/note.txt"), format!("{name}\n")).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/raw.csv"), "a,b\n1,2\n").unwrap();
        Project {
            dir,
            name: name.to_string(),
            registry_host: registry_host.to_string(),
        }
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

    /// The local tag the build step gave its image (from its `image.json`).
    fn built_tag(&self) -> String {
        let record = std::fs::read_to_string(output_dir(self.path(), "image", "image").join("image.json")).unwrap();
        let record: Value = serde_json::from_str(&record).unwrap();
        record["image"].as_str().unwrap().to_string()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let (_, ids) = docker::docker(&[
            "images",
            "-q",
            "--filter",
            &format!("label=wharf.pipeline={}", self.name),
        ]);
        for id in ids.lines() {
            let _ = docker::docker(&["rmi", "-f", id]);
        }
        // The named image's registry tag (the image itself stays).
        let _ = docker::docker(&["rmi", &format!("{}/{BUSYBOX}", self.registry_host)]);
    }
}

/// Docker, moto with the AWS CLI, and a registry behind the proxy; `None`
/// when something is missing (after a loud message).
fn setup() -> Option<(Moto, Registry)> {
    if !docker::ready(&[BUSYBOX]) {
        return None;
    }
    let moto = Moto::start()?;
    if moto.aws_cli.is_none() {
        if std::env::var("WHARF_REQUIRE_MOTO").as_deref() == Ok("1") {
            panic!("WHARF_REQUIRE_MOTO=1 but the AWS CLI is missing (.ci/moto-venv.sh installs it)");
        }
        eprintln!("\n*** SKIPPED: no AWS CLI beside moto ***\n");
        return None;
    }
    let registry = Registry::start()?;
    moto.reset();
    moto.configure(&format!(r#"{{"registry": "{}"}}"#, registry.url()));
    aws(&moto, &moto.endpoint, &["s3", "mb", &format!("s3://{BUCKET}")]);
    Some((moto, registry))
}

/// The image of each processing job, by job name.
fn processing_images(moto: &Moto) -> Vec<(String, String)> {
    let list = aws(moto, &moto.endpoint, &["sagemaker", "list-processing-jobs"]);
    let mut images = Vec::new();
    for summary in list["ProcessingJobSummaries"].as_array().into_iter().flatten() {
        let name = summary["ProcessingJobName"].as_str().unwrap().to_string();
        let job = aws(
            moto,
            &moto.endpoint,
            &["sagemaker", "describe-processing-job", "--processing-job-name", &name],
        );
        images.push((name, job["AppSpecification"]["ImageUri"].as_str().unwrap().to_string()));
    }
    images.sort();
    images
}

#[test]
fn built_and_local_images_are_pushed_to_ecr_once_and_the_jobs_name_them() {
    let Some((moto, registry)) = setup() else { return };
    // The training job stays InProgress until its model is in place (a
    // fixed delay raced under load: the model arrived after the job ended).
    moto.configure(r#"{"jobs": [{"prefix": "", "kind": "training", "duration_seconds": 3600}]}"#);
    let name = format!("ecrpush{}", std::process::id());
    let p = Project::new(
        &moto,
        &registry.host,
        &name,
        &format!(
            r#"  step prep {{
    image   = image
    command = ["true"]
    inputs  {{ raw = "data/raw.csv" }}
  }}
  train fit {{
    image  = image
    inputs {{ train = "data/raw.csv" }}
  }}
  step named {{
    image   = "{BUSYBOX}"
    command = ["true"]
    inputs  {{ raw = "data/raw.csv" }}
  }}"#
        ),
    );
    let child = p.spawn(&moto, &[]);
    let train = wait_for("the training job", Duration::from_secs(120), || {
        let list = aws(&moto, &moto.endpoint, &["sagemaker", "list-training-jobs"]);
        list["TrainingJobSummaries"][0]["TrainingJobName"]
            .as_str()
            .map(String::from)
    });
    let job = aws(
        &moto,
        &moto.endpoint,
        &["sagemaker", "describe-training-job", "--training-job-name", &train],
    );
    // Playing the job: its model, where SageMaker would put it.
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("weights.txt"), "w=1").unwrap();
    let tar = scratch.path().join("model.tar.gz");
    let status = Command::new("tar")
        .args([
            "-czf",
            tar.to_str().unwrap(),
            "-C",
            scratch.path().to_str().unwrap(),
            "weights.txt",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let output_path = job["OutputDataConfig"]["S3OutputPath"].as_str().unwrap();
    aws(
        &moto,
        &moto.endpoint,
        &[
            "s3",
            "cp",
            tar.to_str().unwrap(),
            &format!("{output_path}/{train}/output/model.tar.gz"),
        ],
    );
    moto.configure(&format!(
        r#"{{"jobs": [{{"prefix": "{train}", "kind": "training", "duration_seconds": 0}}]}}"#
    ));
    let (code, err) = finish(child);
    assert_eq!(code, Some(0), "{err}\n--- registry ---\n{}", registry.log());

    // The built image: pushed once (two steps use it), under the
    // repository of its local tag, and named by both jobs.
    let local = p.built_tag();
    let (repository, tag) = local.split_once(':').unwrap();
    assert_eq!(repository, format!("wharf/{name}-image"));
    let uri = format!("{}/{local}", registry.host);
    assert_eq!(job["AlgorithmSpecification"]["TrainingImage"], uri.as_str());
    assert_eq!(registry.tags(repository), [tag]);
    assert_eq!(registry.manifest_pushes(repository), 1, "{}", registry.log());
    assert!(err.contains(&format!("pushed {uri}")), "{err}");
    let repositories = aws(&moto, &moto.moto_endpoint, &["ecr", "describe-repositories"]);
    let names: Vec<&str> = repositories["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["repositoryName"].as_str())
        .collect();
    assert!(names.contains(&repository), "{names:?}");
    assert!(names.contains(&"wharf-test/busybox"), "{names:?}");
    // The named local image went to a repository of its own name.
    let named_uri = format!("{}/{BUSYBOX}", registry.host);
    assert_eq!(registry.tags("wharf-test/busybox"), ["1"]);
    let images = processing_images(&moto);
    let image_of = |step: &str| {
        images
            .iter()
            .find(|(job, _)| job.starts_with(&format!("{name}-{step}-")))
            .map(|(_, image)| image.clone())
            .unwrap_or_else(|| panic!("no processing job for `{step}` in {images:?}"))
    };
    assert_eq!(image_of("prep"), uri);
    assert_eq!(image_of("named"), named_uri);
    // The registry password never reaches the output.
    assert!(!err.contains("auth-token"), "{err}");

    // Again, the step forced to run: ECR already holds the image, so
    // nothing is pushed; the job still names the ECR URI.
    let again = p.spawn(&moto, &["--no-cache", "--only", "prep"]);
    let (code, err) = finish(again);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!("is already in ECR as {uri}")) && err.contains("not pushed again"),
        "{err}"
    );
    assert_eq!(registry.manifest_pushes(repository), 1, "no second push");
    let prep_jobs: Vec<_> = processing_images(&moto)
        .into_iter()
        .filter(|(job, _)| job.starts_with(&format!("{name}-prep-")))
        .collect();
    assert_eq!(prep_jobs.len(), 2, "{prep_jobs:?}");
    assert!(prep_jobs.iter().all(|(_, image)| *image == uri), "{prep_jobs:?}");
    let stats = moto.stats();
    assert!(
        stats["ecr_operations"]["GetAuthorizationToken"].as_u64() >= Some(2),
        "{stats:#}"
    );
}

#[test]
fn a_push_that_cannot_reach_the_registry_fails_the_step_naming_image_and_registry() {
    let Some((moto, registry)) = setup() else { return };
    // ECR names a registry where nothing listens.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    moto.configure(&format!(r#"{{"registry": "http://127.0.0.1:{closed}"}}"#));
    let name = format!("ecrfail{}", std::process::id());
    let p = Project::new(
        &moto,
        &registry.host,
        &name,
        r#"  step prep {
    image   = image
    command = ["true"]
    inputs  { raw = "data/raw.csv" }
  }"#,
    );
    let (code, err) = finish(p.spawn(&moto, &[]));
    assert_eq!(code, Some(1), "{err}");
    let show = p.show();
    let prep = show["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "prep")
        .unwrap();
    let reason = prep["reason"].as_str().unwrap();
    let local = p.built_tag();
    assert!(
        reason.contains(&format!("pushing image `{local}` to 127.0.0.1:{closed}/{local} failed")),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("can reach the registry 127.0.0.1:{closed}")),
        "{reason}"
    );
    let jobs = aws(&moto, &moto.endpoint, &["sagemaker", "list-processing-jobs"]);
    assert_eq!(
        jobs["ProcessingJobSummaries"].as_array().map(Vec::len),
        Some(0),
        "no job without its image"
    );
}

#[test]
fn a_build_step_on_a_sagemaker_target_builds_on_this_machine() {
    let (dir, path) = temp_file(
        "p.wharf",
        &format!(
            r#"pipeline nodocker {{
  build image {{ context = "image" }}
  step prep {{
    image   = image
    command = ["true"]
  }}
}}
target cloud {{
  backend = sagemaker
  bucket  = "s3://{BUCKET}/team"
  region  = "us-east-1"
  role    = "{ROLE}"
}}
"#
        ),
    );
    std::fs::create_dir_all(dir.path().join("image")).unwrap();
    std::fs::write(dir.path().join("image/Dockerfile"), "FROM scratch\n").unwrap();
    let out = wharf_in(dir.path()).args(["plan"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let plan = stdout_of(&out);
    assert!(plan.contains("image [build] on docker"), "{plan}");
    assert!(plan.contains("prep [step] on sagemaker"), "{plan}");
    assert!(plan.contains("push"), "the plan shows the push to ECR: {plan}");
}
