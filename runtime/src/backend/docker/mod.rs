//! The Docker backend: each attempt runs in a local container, started and
//! laid out as SageMaker would start and lay out the same job, so that a
//! step that works here works in the cloud unchanged. docs/backends/docker.md
//! is the contract, item by item, with its sources.
//!
//! - `step` and `train` run as processing and training jobs (`spec`,
//!   `container`): inputs bind-mounted read-only at SageMaker's paths, the
//!   `/opt/ml` configuration files copied in before the start, outputs
//!   copied out after the exit (so they belong to the user running wharf,
//!   whoever the step ran as).
//! - `build` builds and tags an image from a context folder (`context`,
//!   `build`).
//! - `deploy` and `transform` start serving containers (`serve`).
//!
//! Every container carries labels (`wharf.run`, `wharf.step`,
//! `wharf.attempt`, `wharf.project`, `wharf.owner`, `wharf.role`): the
//! health check before a run removes containers of this project whose wharf
//! process is gone (a crash, `kill -9`), and `--resume` removes the ones its
//! records name. Endpoints are left alone: they are meant to outlive runs.

mod archive;
pub mod build;
mod container;
pub mod context;
pub mod descriptor;
mod http;
mod serve;
pub mod spec;

use super::contract;
use super::logs::Tail;
use super::task::TaskHandle;
use super::{Attempt, Backend, BoxFuture, Finish, Handle, ImageLookup};
use crate::events::EventSink;
use bollard::Docker;
use bollard::query_parameters::CreateImageOptions;
use futures::StreamExt;
use spec::ContainerSpec;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wharf_compiler::types::StepKind;

/// How long a cancelled container has between SIGTERM and SIGKILL by default.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

pub struct DockerBackend {
    docker: Docker,
    project_dir: PathBuf,
    /// A hash of the project folder: the `wharf.project` label.
    project: String,
    grace: Duration,
    /// Containers the health check removed, for the caller to report.
    removed: Mutex<Vec<String>>,
    /// Image name -> id, resolved once per run.
    images: Mutex<HashMap<String, String>>,
    /// Bind-mount output folders instead of copying them out (see `connect`).
    bind_outputs: bool,
}

/// One endpoint container, as the engine lists it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub name: String,
    pub id: String,
    pub run: String,
    pub pipeline: String,
    pub step: String,
    pub url: Option<String>,
    pub running: bool,
    pub status: String,
    pub fingerprint: String,
}

impl DockerBackend {
    /// Connects as the docker CLI would (`DOCKER_HOST`, else the local
    /// socket). Nothing is contacted until the health check. `project_dir`
    /// is where build contexts are found; `state_dir` (`.wharf/`) names the
    /// project in container labels, so `wharf endpoints` run beside it finds
    /// what runs recorded there started.
    pub fn connect(project_dir: PathBuf, state_dir: &std::path::Path) -> Result<Self, String> {
        let docker = Docker::connect_with_defaults()
            .map_err(|e| format!("no Docker engine answers at {}: {e}; {}", engine_address(), START_HINT))?;
        let canonical = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
        let project = blake3::hash(canonical.to_string_lossy().as_bytes()).to_hex()[..16].to_string();
        Ok(DockerBackend {
            docker,
            project_dir,
            project,
            grace: DEFAULT_GRACE_PERIOD,
            removed: Mutex::new(Vec::new()),
            images: Mutex::new(HashMap::new()),
            // Files a container's root writes to a bind mount belong to
            // root: the user's own when wharf runs as root, so the step can
            // write straight into its output folders on this machine (no
            // copy: a model of gigabytes is not read twice). Anyone else
            // gets copies made by wharf itself. WHARF_DOCKER_COPY_OUTPUTS=1
            // forces the copies (the tests run both ways).
            bind_outputs: unsafe { libc::geteuid() } == 0
                && std::env::var("WHARF_DOCKER_COPY_OUTPUTS").as_deref() != Ok("1"),
        })
    }

    /// How long a cancelled step may take to stop after SIGTERM.
    pub fn with_grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The `wharf.project` label of this project's containers.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// Containers the last health check removed (left by a wharf that died).
    pub fn removed_orphans(&self) -> Vec<String> {
        self.removed.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub async fn ping(&self) -> Result<(), String> {
        answers(&self.docker).await
    }

    /// The id of an image present on this machine, without pulling anything.
    pub async fn image_id(&self, image: &str) -> Option<String> {
        self.docker.inspect_image(image).await.ok()?.id
    }

    /// The image's id; an image missing here is pulled, and a pull that
    /// cannot reach its registry is an error naming the image.
    pub async fn ensure_image(&self, image: &str) -> Result<String, String> {
        if let Some(id) = self.images.lock().ok().and_then(|m| m.get(image).cloned()) {
            return Ok(id);
        }
        let id = match self.docker.inspect_image(image).await {
            Ok(inspect) => inspect.id.unwrap_or_default(),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
                if image.starts_with("wharf/") =>
            {
                return Err(format!(
                    "image `{image}` was built by wharf and is no longer on this machine; run its build step again"
                ));
            }
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                self.pull(image).await?;
                self.docker
                    .inspect_image(image)
                    .await
                    .map_err(|e| engine_error(&format!("cannot inspect image `{image}`"), e))?
                    .id
                    .unwrap_or_default()
            }
            Err(e) => return Err(engine_error(&format!("cannot inspect image `{image}`"), e)),
        };
        if let Ok(mut images) = self.images.lock() {
            images.insert(image.to_string(), id.clone());
        }
        Ok(id)
    }

    /// What `ensure_image` would find, without pulling: the id of an image
    /// here, `WouldPull` when its registry answers for it, else the error
    /// `ensure_image` would give.
    pub async fn look_up_image(&self, image: &str) -> Result<ImageLookup, String> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => Ok(ImageLookup::Here(Some(inspect.id.unwrap_or_default()))),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. })
                if image.starts_with("wharf/") =>
            {
                Err(format!(
                    "image `{image}` was built by wharf and is no longer on this machine; run its build step again"
                ))
            }
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                match self.docker.inspect_registry_image(image, None).await {
                    Ok(_) => Ok(ImageLookup::WouldPull),
                    Err(e) => Err(pull_failed(image, &bollard_message(&e))),
                }
            }
            Err(e) => Err(engine_error(&format!("cannot inspect image `{image}`"), e)),
        }
    }

    async fn pull(&self, image: &str) -> Result<(), String> {
        let (name, tag) = split_reference(image);
        let options = CreateImageOptions {
            from_image: Some(name.to_string()),
            tag: Some(tag.to_string()),
            ..Default::default()
        };
        let mut stream = self.docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                return Err(pull_failed(image, &bollard_message(&e)));
            }
        }
        Ok(())
    }

    /// This project's containers whose wharf process is gone, removed;
    /// endpoints are kept.
    async fn remove_orphans(&self) -> Result<Vec<String>, String> {
        let containers = container::with_labels(&self.docker, vec![format!("wharf.project={}", self.project)]).await?;
        let mut removed = Vec::new();
        for summary in containers {
            let labels = summary.labels.unwrap_or_default();
            if labels.get("wharf.role").map(String::as_str) == Some("endpoint") {
                continue;
            }
            let owner = labels.get("wharf.owner").map(String::as_str).unwrap_or("");
            if owner_alive(owner) {
                continue;
            }
            if let Some(id) = summary.id
                && container::remove(&self.docker, &id).await.is_ok()
            {
                removed.push(id);
            }
        }
        Ok(removed)
    }

    /// This project's endpoints (all of them, or those named `name`).
    pub async fn endpoints(&self, name: Option<&str>) -> Result<Vec<Endpoint>, String> {
        self.list_endpoints(name, true).await
    }

    /// Endpoints named `name` (or all), of this project or of every project.
    pub async fn list_endpoints(&self, name: Option<&str>, this_project: bool) -> Result<Vec<Endpoint>, String> {
        let mut labels = vec!["wharf.role=endpoint".to_string()];
        if this_project {
            labels.push(format!("wharf.project={}", self.project));
        }
        if let Some(name) = name {
            labels.push(format!("wharf.endpoint={name}"));
        }
        let containers = container::with_labels(&self.docker, labels).await?;
        let mut out: Vec<Endpoint> = containers
            .into_iter()
            .map(|c| {
                let labels = c.labels.unwrap_or_default();
                let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
                let port = c.ports.unwrap_or_default().into_iter().find_map(|p| {
                    (p.private_port == contract::SERVING_PORT && p.public_port.is_some())
                        .then(|| p.public_port.unwrap_or_default())
                });
                let running = c.state.map(|s| s.to_string()) == Some("running".to_string());
                Endpoint {
                    name: get("wharf.endpoint"),
                    id: c.id.unwrap_or_default(),
                    run: get("wharf.run"),
                    pipeline: get("wharf.pipeline"),
                    step: get("wharf.step"),
                    url: port.filter(|_| running).map(|p| format!("http://127.0.0.1:{p}")),
                    running,
                    status: c.status.unwrap_or_default(),
                    fingerprint: get("wharf.fingerprint"),
                }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Stops and removes an endpoint's container.
    pub async fn stop_endpoint(&self, endpoint: &Endpoint) -> Result<(), String> {
        container::stop(&self.docker, &endpoint.id, Duration::from_secs(30)).await;
        container::remove(&self.docker, &endpoint.id).await
    }

    fn container_name(&self, attempt: &Attempt) -> String {
        let job = contract::job_name(&attempt.pipeline, &attempt.step, &attempt.run, attempt.attempt);
        format!("wharf-{}-{}", &self.project[..8], job.to_lowercase())
    }

    async fn start_job(&self, mut attempt: Attempt, events: Arc<dyn EventSink>) -> Result<Box<dyn Handle>, String> {
        // A link in a mounted input folder names a path on this machine,
        // which leads nowhere in the container: such inputs are staged
        // without links (`backend::staging`), as the cache key follows them.
        let (inputs, work_dir) = (attempt.inputs.clone(), attempt.work_dir.clone());
        attempt.inputs = tokio::task::spawn_blocking(move || {
            crate::backend::staging::stage_inputs(&inputs, &work_dir, crate::backend::staging::Stage::ButLinkFolders)
        })
        .await
        .map_err(|e| e.to_string())??;
        let job = contract::job_name(&attempt.pipeline, &attempt.step, &attempt.run, attempt.attempt);
        let spec = ContainerSpec::for_job(&attempt, &job)?;
        self.ensure_image(&spec.image).await?;
        let mut outputs = Vec::new();
        for name in &attempt.outputs {
            let dir = attempt.output_dir(name);
            if tokio::fs::try_exists(&dir).await.unwrap_or(false) {
                tokio::fs::remove_dir_all(&dir)
                    .await
                    .map_err(|e| format!("cannot empty output folder `{}`: {e}", dir.display()))?;
            }
            outputs.push((name.clone(), dir));
        }
        // Checkpoints outlive attempts: a retry starts from the last ones,
        // as SageMaker restores them from S3.
        let checkpoints = spec.checkpoints.then(|| {
            attempt
                .work_dir
                .parent()
                .map(|step_dir| step_dir.join("checkpoints"))
                .unwrap_or_else(|| attempt.work_dir.join("checkpoints"))
        });
        let labels = container::labels(&attempt, &self.project, "job");
        let mut host = container::host_config(&attempt, &spec);
        let mut spec = spec;
        let mut bound = Vec::new();
        if self.bind_outputs {
            let top_level: Vec<(String, String)> = spec
                .outputs
                .iter()
                .filter(|(_, dir)| {
                    !spec
                        .outputs
                        .iter()
                        .any(|(_, other)| other != dir && dir.starts_with(&format!("{other}/")))
                })
                .cloned()
                .collect();
            for (name, dir) in top_level {
                let host_dir = attempt.output_dir(&name);
                tokio::fs::create_dir_all(&host_dir)
                    .await
                    .map_err(|e| format!("cannot create {}: {e}", host_dir.display()))?;
                let host_dir = std::path::absolute(&host_dir).unwrap_or(host_dir);
                host.mounts.get_or_insert_with(Vec::new).push(bollard::models::Mount {
                    target: Some(dir.clone()),
                    source: Some(host_dir.display().to_string()),
                    typ: Some(bollard::models::MountType::BIND),
                    read_only: Some(false),
                    ..Default::default()
                });
                spec.dirs.retain(|d| d != &dir);
                // Outputs inside this one start as folders in it.
                for (_, inner) in &spec.outputs {
                    if let Some(relative) = inner.strip_prefix(&format!("{dir}/")) {
                        let nested = host_dir.join(relative);
                        tokio::fs::create_dir_all(&nested)
                            .await
                            .map_err(|e| format!("cannot create {}: {e}", nested.display()))?;
                    }
                }
                spec.dirs.retain(|d| !d.starts_with(&format!("{dir}/")));
                bound.push(name);
            }
        }
        let name = self.container_name(&attempt);
        let staging = attempt.work_dir.join("container");
        let id = container::create(&self.docker, &name, &spec, labels, host, None, &staging).await?;
        let tail = Tail::default();
        let mut handle = container::JobHandle {
            docker: self.docker.clone(),
            id: id.clone(),
            spec,
            outputs,
            bound,
            checkpoints: checkpoints.clone(),
            grace: self.grace,
            logs: None,
            tail: tail.clone(),
            finish: None,
            removed: false,
            events: events.clone(),
            step: attempt.step.clone(),
        };
        if let Some(dir) = &checkpoints
            && dir.is_dir()
        {
            let tar = archive::tar_of_folder(dir)?;
            archive::upload(&self.docker, &id, contract::CHECKPOINT_DIR, tar).await?;
        }
        self.docker
            .start_container(&id, None)
            .await
            .map_err(|e| engine_error(&format!("cannot start the container of step `{}`", attempt.step), e))?;
        handle.logs = Some(container::stream_logs(&self.docker, &id, &attempt, events, tail).await?);
        Ok(Box::new(handle))
    }
}

/// An image that is not here and cannot be pulled, with what to do.
fn pull_failed(image: &str, why: &str) -> String {
    format!(
        "image `{image}` is not on this machine and pulling it failed: {why}. \
         Build it (`docker build -t {image} ...`) or load it (`docker load`) first, \
         or check that its registry can be reached"
    )
}

impl Backend for Arc<DockerBackend> {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.ping().await?;
            let removed = self.remove_orphans().await?;
            if let Ok(mut r) = self.removed.lock() {
                *r = removed;
            }
            Ok(())
        })
    }

    fn context_hash(
        &self,
        step: &wharf_compiler::pipeline::Step,
        project_dir: &std::path::Path,
    ) -> Option<super::ContextHash> {
        let wharf_compiler::pipeline::KindSpec::Build {
            context, dockerfile, ..
        } = &step.spec
        else {
            return None;
        };
        let (context, dockerfile) = (project_dir.join(context), dockerfile.clone());
        Some(Box::new(move || {
            context::BuildContext::read(&context, dockerfile.as_deref()).map(|c| c.hash().to_string())
        }))
    }

    fn resolve_image(&self, image: &str) -> BoxFuture<'_, Result<Option<String>, String>> {
        let image = image.to_string();
        Box::pin(async move { self.ensure_image(&image).await.map(Some) })
    }

    fn notes(&self) -> Vec<String> {
        let removed = self.removed_orphans();
        if removed.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "removed {} container(s) left behind by a wharf process that is gone",
            removed.len()
        )]
    }

    fn look_up_image(&self, image: &str) -> BoxFuture<'_, Result<ImageLookup, String>> {
        let image = image.to_string();
        Box::pin(async move { DockerBackend::look_up_image(self, &image).await })
    }

    fn submit(&self, attempt: Attempt, events: Arc<dyn EventSink>) -> BoxFuture<'_, Result<Box<dyn Handle>, String>> {
        Box::pin(async move {
            match attempt.kind {
                StepKind::Step | StepKind::Train => self.start_job(attempt, events).await,
                StepKind::Build => Ok(self.task(&attempt, build_step(self.clone(), attempt.clone(), events))),
                StepKind::Deploy => Ok(self.task(&attempt, serve::deploy(self.clone(), attempt.clone(), events))),
                StepKind::Transform => Ok(self.task(&attempt, serve::transform(self.clone(), attempt.clone(), events))),
                StepKind::Tune | StepKind::Monitor => Err(format!(
                    "`{}` steps run on SageMaker only for now; place step `{}` on a sagemaker target",
                    attempt.kind, attempt.step
                )),
            }
        })
    }

    fn outputs_alive<'a>(
        &'a self,
        kind: StepKind,
        outputs: &'a std::collections::BTreeMap<String, PathBuf>,
    ) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let read = |output: &str, file: &str| -> Option<serde_json::Value> {
                let text = std::fs::read_to_string(outputs.get(output)?.join(file)).ok()?;
                serde_json::from_str(&text).ok()
            };
            match kind {
                StepKind::Build => match read("image", "image.json") {
                    Some(record) => {
                        let tag = record["image"].as_str().unwrap_or_default();
                        let id = record["id"].as_str().unwrap_or_default();
                        self.ensure_image(tag).await.is_ok_and(|found| found == id)
                    }
                    None => false,
                },
                StepKind::Deploy => {
                    let Some(record) = read("endpoint", "endpoint.json") else {
                        return false;
                    };
                    let name = record["name"].as_str().unwrap_or_default();
                    let url = record["url"].as_str().unwrap_or_default();
                    let running = self
                        .endpoints(Some(name))
                        .await
                        .is_ok_and(|found| found.iter().any(|e| e.running && e.url.as_deref() == Some(url)));
                    running
                        && http::HttpClient::default()
                            .get(&format!("{url}/ping"), Duration::from_secs(2))
                            .await
                            .is_ok_and(|r| r.status == 200)
                }
                _ => true,
            }
        })
    }

    fn abandon<'a>(&'a self, _run: &'a str, handle: &'a str) -> BoxFuture<'a, ()> {
        let id = handle.strip_prefix("container ").map(str::to_string);
        Box::pin(async move {
            if let Some(id) = id {
                let _ = container::remove(&self.docker, &id).await;
            }
        })
    }

    /// The run's containers of this project that are not endpoints (those
    /// are meant to outlive runs: `wharf stop` stops them).
    fn abandon_run<'a>(&'a self, run: &'a str) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let labels = vec![format!("wharf.project={}", self.project), format!("wharf.run={run}")];
            let Ok(containers) = container::with_labels(&self.docker, labels).await else {
                return Vec::new();
            };
            let mut removed = Vec::new();
            for summary in containers {
                let labels = summary.labels.unwrap_or_default();
                if labels.get("wharf.role").map(String::as_str) == Some("endpoint") {
                    continue;
                }
                if let Some(id) = summary.id
                    && container::remove(&self.docker, &id).await.is_ok()
                {
                    let step = labels.get("wharf.step").cloned().unwrap_or_default();
                    removed.push(format!("step `{step}`: container {}", &id[..id.len().min(12)]));
                }
            }
            removed
        })
    }
}

impl DockerBackend {
    /// A handle on work done by a task of wharf's own (a build, a serving
    /// container's requests); cancel aborts it and removes what it started.
    fn task(
        &self,
        attempt: &Attempt,
        work: impl std::future::Future<Output = Finish> + Send + 'static,
    ) -> Box<dyn Handle> {
        let docker = self.docker.clone();
        let labels = vec![
            format!("wharf.project={}", self.project),
            format!("wharf.run={}", attempt.run),
            format!("wharf.step={}", attempt.step),
            format!("wharf.attempt={}", attempt.attempt),
        ];
        // Cancelled: remove whatever containers the work had started.
        let remove_started = move || -> BoxFuture<'static, ()> {
            Box::pin(async move {
                if let Ok(containers) = container::with_labels(&docker, labels).await {
                    for id in containers.into_iter().filter_map(|c| c.id) {
                        let _ = container::remove(&docker, &id).await;
                    }
                }
            })
        };
        Box::new(TaskHandle::spawn(
            format!("{} {} attempt {}", attempt.kind, attempt.step, attempt.attempt),
            work,
            Box::new(remove_started),
        ))
    }
}

/// `build`: the image from the step's context folder, tagged by content.
async fn build_step(backend: Arc<DockerBackend>, attempt: Attempt, events: Arc<dyn EventSink>) -> Finish {
    let result = async {
        let wharf_compiler::pipeline::KindSpec::Build {
            context: folder,
            dockerfile,
            args,
        } = &attempt.spec
        else {
            return Err("internal: a build step without build settings".to_string());
        };
        let dir = backend.project_dir.join(folder);
        let (dir2, dockerfile2) = (dir.clone(), dockerfile.clone());
        let ctx = tokio::task::spawn_blocking(move || context::BuildContext::read(&dir2, dockerfile2.as_deref()))
            .await
            .map_err(|e| e.to_string())??;
        let tag = build::image_tag(&attempt.pipeline, &attempt.step, ctx.hash(), args);
        let image_labels = std::collections::BTreeMap::from([
            ("wharf.pipeline".to_string(), attempt.pipeline.clone()),
            ("wharf.step".to_string(), attempt.step.clone()),
        ]);
        if let Some(parent) = attempt.log_path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let log = super::logs::open(&attempt.log_path).await?;
        let (sender, writer) = super::logs::sink(
            log,
            attempt.log_path.clone(),
            attempt.step.clone(),
            events,
            Tail::default(),
            attempt.masker(),
        );
        let mut lines = |line: &str| {
            let _ = sender.try_send(super::logs::Line {
                text: line.to_string(),
                stderr: false,
            });
        };
        lines(&format!(
            "wharf: building {tag} from {} ({} files, {} bytes)",
            dir.display(),
            ctx.files(),
            ctx.bytes()
        ));
        let built = build::build(
            &backend.docker,
            build::BuildRequest {
                context: &ctx,
                tag: &tag,
                args,
                labels: &image_labels,
            },
            &mut lines,
        )
        .await;
        drop(sender);
        let _ = writer.await;
        let built = built?;
        if let Ok(mut images) = backend.images.lock() {
            images.insert(built.tag.clone(), built.id.clone());
        }
        let out = attempt.output_dir("image");
        std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
        let record = serde_json::json!({ "image": built.tag, "id": built.id });
        std::fs::write(out.join("image.json"), format!("{record:#}\n"))
            .map_err(|e| format!("cannot write image.json: {e}"))?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Finish::Succeeded,
        Err(reason) => Finish::Failed {
            exit_code: None,
            reason,
        },
    }
}

/// A connection to the Docker engine as wharf makes one everywhere
/// (`DOCKER_HOST`, else the local socket; the engine's API version spoken),
/// checked to answer. For code outside the docker backend that needs the
/// engine, such as pushing an image to a registry.
pub async fn engine() -> Result<Docker, String> {
    let docker = Docker::connect_with_defaults()
        .map_err(|e| format!("no Docker engine answers at {}: {e}; {}", engine_address(), START_HINT))?;
    answers(&docker).await?;
    Ok(docker)
}

/// Checks that the engine answers (within 10 s) and settles the API version
/// to speak with it.
async fn answers(docker: &Docker) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(10), docker.ping()).await {
        // An older engine refuses requests in a newer API version than
        // its own: speak its version (every clone shares the setting).
        Ok(Ok(_)) => docker.clone().negotiate_version().await.map(|_| ()).map_err(|e| {
            format!(
                "the Docker engine at {} answered but its API version is unusable: {e}",
                engine_address()
            )
        }),
        Ok(Err(e)) => Err(format!(
            "no Docker engine answers at {}: {e}; {START_HINT}",
            engine_address()
        )),
        Err(_) => Err(format!(
            "the Docker engine at {} did not answer within 10 s; {START_HINT}",
            engine_address()
        )),
    }
}

const START_HINT: &str = "start one (`sudo systemctl start docker`, or `sudo dockerd &`), \
     or point DOCKER_HOST at an engine that runs";

fn engine_address() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// `host/pid` of this wharf process: the `wharf.owner` label.
pub fn owner() -> String {
    format!("{}/{}", crate::owner::hostname(), std::process::id())
}

/// Whether the wharf process named by a `wharf.owner` label still runs.
/// One on another host cannot be checked and is taken as alive.
fn owner_alive(owner: &str) -> bool {
    let Some((host, pid)) = owner.rsplit_once('/') else {
        return false;
    };
    if host != crate::owner::hostname() {
        return true;
    }
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    if pid == std::process::id() as i32 {
        return true;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// `name:tag` split for a pull; `latest` when no tag is given.
fn split_reference(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

fn bollard_message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    }
}

/// An engine error as a sentence: what wharf was doing, then what the engine said.
pub fn engine_error(doing: &str, e: bollard::errors::Error) -> String {
    format!("{doing}: {}", bollard_message(&e))
}
