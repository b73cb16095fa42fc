//! One container's life: create it from a [`ContainerSpec`], copy in the
//! files SageMaker would have written, start it, stream its logs, wait for
//! its exit, copy its outputs out, remove it. Cancel and timeout stop it
//! (SIGTERM, then SIGKILL after the grace period) and remove it; a handle
//! dropped before the end removes its container too.

use super::archive;
use super::spec::ContainerSpec;
use crate::backend::lines::{LineSplitter, MAX_LINE};
use crate::backend::logs::{self, Line, Tail, with_tail};
use crate::backend::{Attempt, BoxFuture, Finish, Handle};
use crate::events::EventSink;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, DeviceRequest, HostConfig, Mount, MountType, MountVolumeOptions};
use bollard::query_parameters::{CreateContainerOptions, LogsOptions, RemoveContainerOptions, StopContainerOptions};
use futures::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a stop may take before wharf says it is waiting for it.
const SAY_WAITING_AFTER: Duration = Duration::from_secs(1);
/// How long the logs may take to drain after the container has exited.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Labels on every container wharf starts (see `DockerBackend` for their use).
pub fn labels(attempt: &Attempt, project: &str, role: &str) -> HashMap<String, String> {
    HashMap::from([
        ("wharf.run".to_string(), attempt.run.clone()),
        ("wharf.pipeline".to_string(), attempt.pipeline.clone()),
        ("wharf.step".to_string(), attempt.step.clone()),
        ("wharf.attempt".to_string(), attempt.attempt.to_string()),
        ("wharf.project".to_string(), project.to_string()),
        ("wharf.owner".to_string(), super::owner()),
        ("wharf.role".to_string(), role.to_string()),
    ])
}

/// The engine's settings for the step's `resources`.
pub fn host_config(attempt: &Attempt, spec: &ContainerSpec) -> HostConfig {
    let mounts = spec
        .mounts
        .iter()
        .map(|m| Mount {
            target: Some(m.container.clone()),
            source: Some(m.host.display().to_string()),
            typ: Some(MountType::BIND),
            read_only: Some(true),
            ..Default::default()
        })
        .collect();
    HostConfig {
        mounts: Some(mounts),
        nano_cpus: attempt.cpus.map(|c| (c * 1e9) as i64),
        memory: attempt.memory.map(|m| m as i64),
        device_requests: attempt.gpus.filter(|&g| g > 0).map(|g| {
            vec![DeviceRequest {
                driver: Some("nvidia".into()),
                count: Some(g as i64),
                capabilities: Some(vec![vec!["gpu".into()]]),
                ..Default::default()
            }]
        }),
        ..Default::default()
    }
}

/// Creates the container; it is not started. Returns its id. On an error,
/// nothing is left behind.
///
/// The configuration files are written to `staging` on this machine and
/// bind-mounted read-only (wharf writes them, so they are the user's); each
/// folder the step writes to is an anonymous volume that starts empty and
/// goes with the container. Nothing is copied into the container before it
/// starts: a copy mounts the container's file system, which costs more than
/// the rest of the start on some storage drivers.
pub async fn create(
    docker: &Docker,
    name: &str,
    spec: &ContainerSpec,
    labels: HashMap<String, String>,
    mut host: HostConfig,
    exposed: Option<Vec<String>>,
    staging: &std::path::Path,
) -> Result<String, String> {
    let mounts = host.mounts.get_or_insert_with(Vec::new);
    mounts.extend(stage_files(spec, staging).await?);
    let config_dirs: Vec<&str> = spec
        .files
        .iter()
        .filter_map(|(path, _)| std::path::Path::new(path).parent()?.to_str())
        .collect();
    for dir in spec.dirs.iter().filter(|d| !config_dirs.contains(&d.as_str())) {
        mounts.push(Mount {
            target: Some(dir.clone()),
            typ: Some(MountType::VOLUME),
            volume_options: Some(MountVolumeOptions {
                no_copy: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: spec.entrypoint.clone(),
        cmd: spec.cmd.clone(),
        env: Some(spec.env.clone()),
        hostname: Some(crate::backend::contract::HOST.to_string()),
        labels: Some(labels),
        host_config: Some(host),
        exposed_ports: exposed,
        ..Default::default()
    };
    let options = CreateContainerOptions {
        name: Some(name.to_string()),
        ..Default::default()
    };
    let created = match docker.create_container(Some(options.clone()), body.clone()).await {
        // A container of this name is what a killed wharf left of this
        // very attempt: it is stale.
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => {
            let _ = remove(docker, name).await;
            docker.create_container(Some(options), body).await
        }
        other => other,
    };
    let created =
        created.map_err(|e| super::engine_error(&format!("cannot create a container from `{}`", spec.image), e))?;
    Ok(created.id)
}

/// Writes the spec's files under `staging`, one folder per container
/// folder, and returns read-only bind mounts of those folders.
async fn stage_files(spec: &ContainerSpec, staging: &std::path::Path) -> Result<Vec<Mount>, String> {
    let mut folders: std::collections::BTreeMap<String, std::path::PathBuf> = Default::default();
    for (path, content) in &spec.files {
        let container = std::path::Path::new(path);
        let (Some(parent), Some(file)) = (container.parent(), container.file_name()) else {
            continue;
        };
        let parent = parent.to_string_lossy().into_owned();
        let host_dir = staging.join(parent.trim_start_matches('/').replace('/', "_"));
        if let std::collections::btree_map::Entry::Vacant(slot) = folders.entry(parent) {
            tokio::fs::create_dir_all(&host_dir)
                .await
                .map_err(|e| format!("cannot create {}: {e}", host_dir.display()))?;
            slot.insert(host_dir.clone());
        }
        let target = host_dir.join(file);
        tokio::fs::write(&target, content)
            .await
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    Ok(folders
        .into_iter()
        .map(|(container, host)| Mount {
            target: Some(container),
            source: Some(host.display().to_string()),
            typ: Some(MountType::BIND),
            read_only: Some(true),
            ..Default::default()
        })
        .collect())
}

/// Every container, running or not, with all of these labels (`key=value`).
pub async fn with_labels(
    docker: &Docker,
    labels: Vec<String>,
) -> Result<Vec<bollard::models::ContainerSummary>, String> {
    let options = bollard::query_parameters::ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([("label".to_string(), labels)])),
        ..Default::default()
    };
    docker
        .list_containers(Some(options))
        .await
        .map_err(|e| super::engine_error("cannot list containers", e))
}

/// Removes a container, running or not, with its anonymous volumes.
pub async fn remove(docker: &Docker, id: &str) -> Result<(), String> {
    docker
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| e.to_string())
}

/// Stops a container (SIGTERM, then SIGKILL after `grace`).
pub async fn stop(docker: &Docker, id: &str, grace: Duration) {
    let options = StopContainerOptions {
        // Whole seconds, rounded up: `500ms` is not `0` (kill at once).
        t: Some(grace.as_millis().div_ceil(1000).min(i32::MAX as u128) as i32),
        ..Default::default()
    };
    let _ = docker.stop_container(id, Some(options)).await;
}

/// Streams the container's output, line by line, to the attempt's log and
/// the event sink, until the container's streams end.
///
/// The engine's follow stream can end without the last message when that
/// message has no line break (Docker 20.10 loses the final partial line of
/// a container it was following as it exited: 10 runs in 12). So once the
/// follow stream ends, the log is read once more without following, which
/// after the exit is complete, and whatever the follow stream had not
/// delivered (counted in bytes per stream) is sent on. The second read costs
/// one more pass over the log, once per container.
pub async fn stream_logs(
    docker: &Docker,
    id: &str,
    attempt: &Attempt,
    events: Arc<dyn EventSink>,
    tail: Tail,
) -> Result<JoinHandle<()>, String> {
    if let Some(parent) = attempt.log_path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let log = logs::open(&attempt.log_path).await?;
    let secrets = attempt.masker();
    let (sender, writer) = logs::sink(
        log,
        attempt.log_path.clone(),
        attempt.step.clone(),
        events,
        tail,
        secrets.clone(),
    );
    let options = |follow| LogsOptions {
        follow,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut stream = docker.logs(id, Some(options(true)));
    let (docker, id) = (docker.clone(), id.to_string());
    Ok(tokio::spawn(async move {
        let mut relay = Relay::new(sender, secrets);
        while let Some(Ok(chunk)) = stream.next().await {
            if !relay.push(&chunk).await {
                return;
            }
        }
        relay.rewind();
        let mut again = docker.logs(&id, Some(options(false)));
        while let Some(Ok(chunk)) = again.next().await {
            if !relay.push(&chunk).await {
                return;
            }
        }
        relay.finish().await;
        let _ = writer.await;
    }))
}

/// Turns the engine's log chunks into lines for the log writer, one
/// splitter per stream, counting the bytes of each stream it has seen so
/// that a second read of the same log sends only what is new.
struct Relay {
    sender: tokio::sync::mpsc::Sender<Line>,
    /// stdout, stderr.
    splitters: [LineSplitter; 2],
    /// Bytes of each stream sent on.
    sent: [usize; 2],
    /// Bytes of each stream to pass over in the read under way.
    skip: [usize; 2],
}

impl Relay {
    fn new(sender: tokio::sync::mpsc::Sender<Line>, secrets: crate::secrets::Masker) -> Relay {
        Relay {
            sender,
            // A piece of an over-long line is never cut through a secret.
            splitters: [
                LineSplitter::new(MAX_LINE).keeping_whole(secrets.clone()),
                LineSplitter::new(MAX_LINE).keeping_whole(secrets),
            ],
            sent: [0, 0],
            skip: [0, 0],
        }
    }

    /// Starts a second read of the log from its beginning.
    fn rewind(&mut self) {
        self.skip = self.sent;
    }

    /// Sends on the new lines `chunk` completes; false when the writer is
    /// gone (the handle gave up draining).
    async fn push(&mut self, chunk: &bollard::container::LogOutput) -> bool {
        let stream = usize::from(matches!(chunk, bollard::container::LogOutput::StdErr { .. }));
        let bytes: &[u8] = chunk.as_ref();
        let passed = self.skip[stream].min(bytes.len());
        self.skip[stream] -= passed;
        let new = &bytes[passed..];
        self.sent[stream] += new.len();
        for text in self.splitters[stream].push(new) {
            if self
                .sender
                .send(Line {
                    text,
                    stderr: stream == 1,
                })
                .await
                .is_err()
            {
                return false;
            }
        }
        true
    }

    /// Sends each stream's last line when it had no line break.
    async fn finish(self) {
        let [out, err] = self.splitters;
        for (splitter, stderr) in [(out, false), (err, true)] {
            if let Some(text) = splitter.finish() {
                let _ = self.sender.send(Line { text, stderr }).await;
            }
        }
    }
}

/// Waits for the container to exit and returns its exit code.
pub async fn wait_exit(docker: &Docker, id: &str) -> Result<i64, String> {
    let mut stream = docker.wait_container(id, None);
    match stream.next().await {
        Some(Ok(response)) => Ok(response.status_code),
        // bollard reports a non-zero exit as an error value: it is the
        // step's exit code, not a failure of the engine.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(format!("lost track of the container: {e}")),
        None => Err("lost track of the container: the engine closed the wait".into()),
    }
}

/// A running processing or training container.
pub struct JobHandle {
    pub docker: Docker,
    pub id: String,
    pub spec: ContainerSpec,
    /// Output name -> folder on this machine.
    pub outputs: Vec<(String, PathBuf)>,
    /// Outputs whose host folder is bind-mounted: already in place at the exit.
    pub bound: Vec<String>,
    /// Where `/opt/ml/checkpoints` is kept between attempts, when asked for.
    pub checkpoints: Option<PathBuf>,
    pub grace: Duration,
    pub logs: Option<JoinHandle<()>>,
    pub tail: Tail,
    pub finish: Option<Finish>,
    pub removed: bool,
    /// Where "waiting for the container to stop" is said.
    pub events: Arc<dyn EventSink>,
    pub step: String,
}

impl JobHandle {
    async fn finish(&mut self) -> Finish {
        if let Some(finish) = &self.finish {
            return finish.clone();
        }
        let exit = wait_exit(&self.docker, &self.id).await;
        self.drain().await;
        let finish = match exit {
            Err(reason) => Finish::Failed {
                exit_code: None,
                reason,
            },
            Ok(code) => {
                let saved = self.save_checkpoints().await;
                if code == 0 {
                    match self.collect().await.and(saved) {
                        Ok(()) => Finish::Succeeded,
                        Err(reason) => Finish::Failed {
                            exit_code: None,
                            reason,
                        },
                    }
                } else {
                    self.failed(code).await
                }
            }
        };
        self.cleanup().await;
        self.finish = Some(finish.clone());
        finish
    }

    async fn drain(&mut self) {
        if let Some(logs) = self.logs.take() {
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, logs).await;
        }
    }

    /// Copies every output folder out of the container.
    async fn collect(&self) -> Result<(), String> {
        for (name, host) in &self.outputs {
            if self.bound.contains(name) {
                continue;
            }
            let Some((_, dir)) = self.spec.outputs.iter().find(|(n, _)| n == name) else {
                continue;
            };
            // An output inside a bind-mounted one (a train step's `report`
            // in `/opt/ml/output/data`) is already on this machine.
            let parent = self.spec.outputs.iter().find_map(|(other, other_dir)| {
                let relative = dir.strip_prefix(other_dir.as_str())?.strip_prefix('/')?;
                let host_dir = &self
                    .outputs
                    .iter()
                    .find(|(n, _)| n == other && self.bound.contains(n))?
                    .1;
                Some(host_dir.join(relative))
            });
            match parent {
                Some(source) => {
                    let (from, to) = (source.clone(), host.clone());
                    tokio::task::spawn_blocking(move || {
                        if from.is_dir() {
                            crate::export::replace_with_copy(&from, &to)
                        } else {
                            std::fs::create_dir_all(&to)
                        }
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("cannot collect output `{name}`: {e}"))?;
                }
                None => {
                    archive::download_dir(&self.docker, &self.id, dir, host)
                        .await
                        .map_err(|e| format!("cannot collect output `{name}`: {e}"))?;
                }
            }
        }
        Ok(())
    }

    async fn save_checkpoints(&self) -> Result<(), String> {
        let Some(dir) = &self.checkpoints else {
            return Ok(());
        };
        archive::download_dir(&self.docker, &self.id, crate::backend::contract::CHECKPOINT_DIR, dir)
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot save checkpoints: {e}"))
    }

    /// The failure as SageMaker reports it: the failure (or message) file
    /// when the step wrote one, else the last lines of its output.
    async fn failed(&self, code: i64) -> Finish {
        let summary = format!("exited with code {code}");
        let written = archive::read_file(
            &self.docker,
            &self.id,
            self.spec.failure_file,
            crate::backend::contract::FAILURE_CHARS * 4,
        )
        .await
        .and_then(|bytes| crate::backend::contract::failure_text(&bytes));
        let reason = match written {
            Some(text) => format!("{summary}: {text}"),
            None => with_tail(summary, &self.tail.lines()),
        };
        Finish::Failed {
            exit_code: Some(code as i32),
            reason,
        }
    }

    async fn cleanup(&mut self) {
        if !self.removed {
            let _ = remove(&self.docker, &self.id).await;
            self.removed = true;
        }
    }

    async fn stop(&mut self) {
        if self.finish.is_some() {
            return;
        }
        {
            let stopping = stop(&self.docker, &self.id, self.grace);
            tokio::pin!(stopping);
            // A container whose main process ignores SIGTERM holds the stop for
            // the whole grace period: say so, rather than seem to hang.
            tokio::select! {
                _ = &mut stopping => {}
                _ = tokio::time::sleep(SAY_WAITING_AFTER) => {
                    self.events.event(crate::events::RunEvent::StepLog {
                        step: self.step.clone(),
                        line: format!(
                            "wharf: waiting for the container to stop (it has {} after SIGTERM before it is killed; --stop-grace sets this)",
                            wharf_compiler::syntax::literal::format_duration(self.grace.as_millis() as u64)
                        ),
                        stderr: true,
                    });
                    stopping.await;
                }
            }
        }
        self.drain().await;
        let _ = self.save_checkpoints().await;
        self.cleanup().await;
        self.finish = Some(Finish::Cancelled);
    }
}

impl Handle for JobHandle {
    fn id(&self) -> String {
        format!("container {}", &self.id)
    }

    fn wait(&mut self) -> BoxFuture<'_, Finish> {
        Box::pin(self.finish())
    }

    fn cancel(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(self.stop())
    }
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        // Dropped mid-run (the run is being torn down): the container must
        // not outlive it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let docker = self.docker.clone();
            let id = self.id.clone();
            runtime.spawn(async move {
                let _ = remove(&docker, &id).await;
            });
        }
    }
}
