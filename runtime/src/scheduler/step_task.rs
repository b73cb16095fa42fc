//! One step of one run, as a task of its own: resolve its inputs, compute its
//! cache key, take its outputs from the cache or run its attempts (retries
//! with exponential backoff and jitter, a timeout per attempt, cancel on
//! Ctrl-C), check and hash its outputs, record everything.

use super::{Context, Produced, RunError, lock};
use crate::backend::{Attempt, Backend, Finish};
use crate::clock::Clock;
use crate::decide::inputs::Input;
use crate::decide::preflight::{self, StepImage};
use crate::decide::{self, CacheUse, Hit, Keyed, Verdict};
use crate::events::{EventSink, RunEvent};
use crate::hash::hash_path;
use crate::plan::Plan;
use crate::state::{
    ArtifactRecord, AttemptRecord, CacheEntry, CachedStep, OutputFile, StateStore, StepRecord, StepStatus,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use wharf_compiler::pipeline::{OutputShape, Step, StepId};

/// Records of cached steps waiting to be committed together (see `scheduler::run`).
pub(crate) type Pending = Arc<Mutex<Vec<CachedStep>>>;

pub(crate) struct StepOutcome {
    pub id: StepId,
    pub status: StepStatus,
    pub produced: Option<Produced>,
}

pub(crate) struct StepTask {
    id: StepId,
    run: String,
    pipeline: String,
    step: Step,
    cache_use: CacheUse,
    /// The image it runs and its identity for the key (see `decide::preflight`).
    image: StepImage,
    instance: String,
    project_dir: PathBuf,
    inputs: Vec<(String, Input)>,
    backend: Arc<dyn Backend>,
    backend_name: String,
    state: Arc<Mutex<Box<dyn StateStore>>>,
    events: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    layout: super::Layout,
    artifacts: Arc<dyn crate::artifacts::ArtifactStore>,
    host_env: super::HostEnv,
    cancel: watch::Receiver<bool>,
    pending: Pending,
}

impl StepTask {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: &Plan,
        ctx: &Context,
        run: &str,
        id: StepId,
        produced: &BTreeMap<StepId, Produced>,
        images: &BTreeMap<StepId, Option<String>>,
        cancel: watch::Receiver<bool>,
        pending: Pending,
    ) -> Result<StepTask, RunError> {
        let pipeline = plan.pipeline;
        let step = pipeline.steps[id].clone();
        let planned = plan.steps.iter().find(|s| s.id == id);
        let backend_kind = planned.map(|p| p.backend).unwrap_or(plan.target.backend);
        let backend = ctx
            .backends
            .get(&backend_kind)
            .cloned()
            .ok_or_else(|| RunError::Backend(format!("no {backend_kind} backend")))?;
        let lookup = |producer: StepId, output: &str| -> Option<(PathBuf, String)> {
            let done = produced.get(&producer)?;
            Some((done.dirs.get(output)?.clone(), done.hashes.get(output)?.clone()))
        };
        let inputs = decide::inputs::resolve(pipeline, id, &plan.project_dir, &lookup).map_err(|(_, input)| {
            RunError::Backend(format!("internal: `{}` ran before its input `{input}`", step.name))
        })?;
        Ok(StepTask {
            id,
            run: run.to_string(),
            pipeline: pipeline.name.clone(),
            cache_use: CacheUse::of(&step, plan.options.no_cache),
            image: preflight::step_image(pipeline, id, images, &lookup),
            instance: wharf_compiler::placement::instance_for(plan.target, &step),
            project_dir: plan.project_dir.clone(),
            step,
            inputs,
            backend,
            backend_name: backend_kind.to_string(),
            state: ctx.state.clone(),
            events: ctx.events.clone(),
            clock: ctx.clock.clone(),
            layout: ctx.layout.clone(),
            artifacts: ctx.artifacts.clone(),
            host_env: ctx.host_env.clone(),
            cancel,
            pending,
        })
    }

    pub async fn run(self) -> StepOutcome {
        let id = self.id;
        let started = self.clock.now_ms();
        match self.run_inner(started).await {
            Ok((status, produced)) => StepOutcome { id, status, produced },
            Err(reason) => {
                let _ = self.record_step(StepStatus::Failed, None, Some(reason.clone()), Some(started));
                self.events.event(RunEvent::StepFinished {
                    step: self.step.name.clone(),
                    status: StepStatus::Failed,
                    duration: self.since(started),
                    reason: Some(reason),
                });
                StepOutcome {
                    id,
                    status: StepStatus::Failed,
                    produced: None,
                }
            }
        }
    }

    fn since(&self, started: i64) -> Duration {
        Duration::from_millis((self.clock.now_ms() - started).max(0) as u64)
    }

    fn step_record(
        &self,
        status: StepStatus,
        key: Option<&str>,
        reason: Option<String>,
        started: Option<i64>,
    ) -> StepRecord {
        StepRecord {
            run: self.run.clone(),
            step: self.step.name.clone(),
            kind: self.step.kind.to_string(),
            backend: self.backend_name.clone(),
            status,
            cache_key: key.map(String::from),
            reason,
            started_ms: started,
            finished_ms: (status != StepStatus::Running).then(|| self.clock.now_ms()),
        }
    }

    fn record_step(
        &self,
        status: StepStatus,
        key: Option<&str>,
        reason: Option<String>,
        started: Option<i64>,
    ) -> Result<(), String> {
        let record = self.step_record(status, key, reason, started);
        self.store()?.put_step(&record).map_err(|e| e.to_string())
    }

    fn store(&self) -> Result<std::sync::MutexGuard<'_, Box<dyn StateStore>>, String> {
        self.state
            .lock()
            .map_err(|_| "the state store was poisoned by a panic".to_string())
    }

    async fn run_inner(&self, started: i64) -> Result<(StepStatus, Option<Produced>), String> {
        // Checked before the run started (a refusal); read again for the attempt.
        let env = preflight::resolve_env(&self.step, &*self.host_env)?;
        // Hashing local data goes to tokio's blocking pool; inputs whose
        // hashes are known (upstream outputs) are keyed at once.
        let mut input_hashes = if self.inputs.iter().any(|(_, i)| matches!(i, Input::Path(_, None))) {
            let inputs = self.inputs.clone();
            tokio::task::spawn_blocking(move || decide::inputs::hash(&inputs))
                .await
                .map_err(|e| e.to_string())??
        } else {
            decide::inputs::hash(&self.inputs)?
        };
        if self.step.kind == wharf_compiler::types::StepKind::Build {
            let (step, project_dir) = (self.step.clone(), self.project_dir.clone());
            let context = tokio::task::spawn_blocking(move || decide::inputs::build_context(&step, &project_dir))
                .await
                .map_err(|e| e.to_string())?;
            if let Some(context) = context {
                input_hashes.insert("context".into(), context?);
            }
        }
        let image_key = match &self.image {
            StepImage::None => None,
            StepImage::Known(_, key) => Some(key.clone()),
            StepImage::Unknown(reason) => return Err(reason.clone()),
        };
        let host_env = preflight::key_env(&self.step, &*self.host_env);
        let keyed = Keyed {
            pipeline: &self.pipeline,
            step: &self.step,
            image: image_key.as_deref(),
            inputs: &input_hashes,
            host_env: &host_env,
        };
        let decision = decide::decide(&keyed, self.cache_use, &self.state, &*self.artifacts, &*self.backend)
            .await
            .map_err(|e| e.to_string())?;
        let key = decision.key;
        if let (Verdict::Cached { .. }, Some(hit)) = (&decision.verdict, decision.hit) {
            let produced = self.use_hit(hit, &key, started).await?;
            return Ok((StepStatus::Cached, Some(produced)));
        }
        // Held until the outcome is recorded: whoever waits for this key
        // then finds it in the cache.
        let mut cancel = self.cancel.clone();
        let root = self.layout.root().to_path_buf();
        let Some(key_lock) =
            super::key_lock::take(&root, &self.run, &self.step.name, &key, &self.events, &mut cancel).await?
        else {
            return self.cancelled_before_start(&key, started);
        };
        // Another run did this work while we waited: decide again, the
        // same way, now that its outputs may be in the cache.
        if key_lock.waited {
            let again = decide::decide(&keyed, self.cache_use, &self.state, &*self.artifacts, &*self.backend)
                .await
                .map_err(|e| e.to_string())?;
            if let (Verdict::Cached { .. }, Some(hit)) = (&again.verdict, again.hit) {
                let produced = self.use_hit(hit, &key, started).await?;
                return Ok((StepStatus::Cached, Some(produced)));
            }
        }
        self.record_step(StepStatus::Running, Some(&key), None, Some(started))?;
        let (status, produced, reason) = self.attempts(env).await?;
        let artifacts = produced.as_ref().map(|p| self.artifacts(p)).unwrap_or_default();
        let files: Vec<(String, Vec<OutputFile>)> = match &produced {
            Some(p) => artifacts
                .iter()
                .filter_map(|a| Some((a.uri.clone(), p.files.get(&a.output)?.clone())))
                .collect(),
            None => Vec::new(),
        };
        let cache_entry = (produced.is_some() && self.step.cache).then(|| CacheEntry {
            key: key.clone(),
            pipeline: self.pipeline.clone(),
            step: self.step.name.clone(),
            run: self.run.clone(),
            parts: decision.parts,
            outputs: artifacts.clone(),
            created_ms: self.clock.now_ms(),
        });
        let record = self.step_record(status, Some(&key), reason.clone(), Some(started));
        self.store()?
            .put_outcome(&record, &artifacts, &files, cache_entry.as_ref())
            .map_err(|e| e.to_string())?;
        self.events.event(RunEvent::StepFinished {
            step: self.step.name.clone(),
            status,
            duration: self.since(started),
            reason,
        });
        Ok((status, produced))
    }

    /// A step cancelled while it waited for its key's lock: it never started.
    fn cancelled_before_start(&self, key: &str, started: i64) -> Result<(StepStatus, Option<Produced>), String> {
        let reason = Some("cancelled while waiting for another run doing the same work".to_string());
        self.record_step(StepStatus::Cancelled, Some(key), reason.clone(), Some(started))?;
        self.events.event(RunEvent::StepFinished {
            step: self.step.name.clone(),
            status: StepStatus::Cancelled,
            duration: self.since(started),
            reason,
        });
        Ok((StepStatus::Cancelled, None))
    }

    /// Takes a cache hit: exports its outputs, records the step as cached
    /// (with the files of outputs that were only touched, so the next check
    /// is `stat` only again).
    async fn use_hit(&self, hit: Hit, key: &str, started: i64) -> Result<Produced, String> {
        let produced = Produced {
            dirs: hit.dirs,
            hashes: hit.hashes,
            files: BTreeMap::new(),
        };
        self.export_outputs(&produced).await?;
        let entry = hit.entry;
        let artifacts: Vec<ArtifactRecord> = entry
            .outputs
            .iter()
            .map(|a| ArtifactRecord {
                run: self.run.clone(),
                ..a.clone()
            })
            .collect();
        let reason = Some(super::start::cached_reason(
            &entry.run,
            &entry.step,
            &self.run,
            &self.step.name,
        ));
        let record = self.step_record(StepStatus::Cached, Some(key), reason.clone(), Some(started));
        // Committed with other cached steps' records by the scheduler: a
        // cached step did no work, and if wharf dies before the commit a
        // resumed run finds the same outputs in the cache again.
        self.pending
            .lock()
            .map_err(|_| "the pending records were poisoned by a panic".to_string())?
            .push(CachedStep {
                record,
                artifacts,
                files: hit.refreshed,
            });
        self.events.event(RunEvent::StepFinished {
            step: self.step.name.clone(),
            status: StepStatus::Cached,
            duration: self.since(started),
            reason,
        });
        Ok(produced)
    }

    fn artifacts(&self, produced: &Produced) -> Vec<ArtifactRecord> {
        produced
            .dirs
            .iter()
            .map(|(output, dir)| ArtifactRecord {
                run: self.run.clone(),
                step: self.step.name.clone(),
                output: output.clone(),
                uri: self.artifacts.uri_for(dir),
                // The content's bytes, not the folder entry's own size.
                size: crate::hash::content_size(dir).unwrap_or(0),
                hash: produced.hashes.get(output).cloned().unwrap_or_default(),
                file: self.step.output(output).and_then(|o| match &o.shape {
                    OutputShape::File { name } => Some(name.clone()),
                    OutputShape::Dir => None,
                }),
            })
            .collect()
    }

    /// Runs attempts until one succeeds, they run out, or the run is cancelled.
    async fn attempts(
        &self,
        env: BTreeMap<String, String>,
    ) -> Result<(StepStatus, Option<Produced>, Option<String>), String> {
        let before = self
            .store()?
            .attempts(&self.run, &self.step.name)
            .map_err(|e| e.to_string())?
            .len() as u32;
        let tries = self.step.retry.attempts.max(1);
        let mut last_reason = None;
        for n in 1..=tries {
            let number = before + n;
            let (finish, reason) = self.one_attempt(number, &env).await?;
            match finish {
                Finish::Succeeded => {
                    let produced = self.collect_outputs(number).await?;
                    self.export_outputs(&produced).await?;
                    return Ok((StepStatus::Succeeded, Some(produced), None));
                }
                Finish::Cancelled => return Ok((StepStatus::Cancelled, None, Some("cancelled".into()))),
                Finish::Failed { .. } => {
                    last_reason = reason;
                    if n < tries {
                        let delay = backoff(self.step.retry.backoff, n, number);
                        self.events.event(RunEvent::StepRetrying {
                            step: self.step.name.clone(),
                            attempt: number + 1,
                            delay,
                            reason: last_reason.clone().unwrap_or_default(),
                        });
                        let mut cancel = self.cancel.clone();
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = wait_cancelled(&mut cancel) => {
                                return Ok((StepStatus::Cancelled, None, Some("cancelled while waiting to retry".into())));
                            }
                        }
                    }
                }
            }
        }
        let reason = match (tries, last_reason) {
            (1, r) => r,
            (t, Some(r)) => Some(format!("{r} (after {t} attempts)")),
            (t, None) => Some(format!("failed {t} attempts")),
        };
        Ok((StepStatus::Failed, None, reason))
    }

    async fn one_attempt(
        &self,
        number: u32,
        env: &BTreeMap<String, String>,
    ) -> Result<(Finish, Option<String>), String> {
        let work_dir = self.layout.attempt_dir(&self.run, &self.step.name, number);
        std::fs::create_dir_all(&work_dir).map_err(|e| format!("cannot create {}: {e}", work_dir.display()))?;
        let inputs = self.materialize_inputs(&work_dir)?;
        let attempt = Attempt {
            run: self.run.clone(),
            pipeline: self.pipeline.clone(),
            step: self.step.name.clone(),
            attempt: number,
            kind: self.step.kind,
            image: match &self.image {
                StepImage::Known(image, _) => Some(image.clone()),
                _ => None,
            },
            command: self.step.command.clone().unwrap_or_default(),
            env: env.clone(),
            secret_env: self
                .step
                .env
                .iter()
                .filter(|(_, v)| matches!(v, wharf_compiler::pipeline::EnvValue::Secret(_)))
                .map(|(name, _)| name.clone())
                .collect(),
            inputs,
            outputs: self.step.outputs.iter().map(|o| o.name.clone()).collect(),
            hyperparameters: self
                .step
                .hyperparameters
                .iter()
                .map(|(k, v)| (k.clone(), wharf_compiler::display::hyperparameter(v)))
                .collect(),
            work_dir: work_dir.clone(),
            log_path: self.layout.log_path(&self.run, &self.step.name, number),
            cpus: self.step.resources.cpus,
            gpus: self.step.resources.gpus,
            memory: self.step.resources.memory,
            instance: self.instance.clone(),
            timeout_ms: self.step.timeout,
            spec: self.step.spec.clone(),
        };
        // Failure reasons quote the step (its message file, its last lines):
        // its secrets are masked before they are stored or shown.
        let secrets = attempt.masker();
        let started = self.clock.now_ms();
        let mut record = AttemptRecord {
            run: self.run.clone(),
            step: self.step.name.clone(),
            attempt: number,
            status: StepStatus::Running,
            exit_code: None,
            error: None,
            started_ms: started,
            finished_ms: None,
            log_path: Some(attempt.log_path.display().to_string()),
            handle: None,
        };
        self.store()?.put_attempt(&record).map_err(|e| e.to_string())?;
        self.events.event(RunEvent::StepStarted {
            step: self.step.name.clone(),
            attempt: number,
            backend: self.backend_name.clone(),
        });
        let (finish, reason) = match self.backend.submit(attempt, self.events.clone()).await {
            Err(e) => (
                Finish::Failed {
                    exit_code: None,
                    reason: e.clone(),
                },
                Some(e),
            ),
            Ok(mut handle) => {
                record.handle = Some(handle.id());
                self.store()?.put_attempt(&record).map_err(|e| e.to_string())?;
                let mut cancel = self.cancel.clone();
                let timeout = self.step.timeout.map(Duration::from_millis).unwrap_or(Duration::MAX);
                let finish = tokio::select! {
                    finish = handle.wait() => finish,
                    _ = tokio::time::sleep(timeout) => {
                        handle.cancel().await;
                        let limit = wharf_compiler::syntax::literal::format_duration(self.step.timeout.unwrap_or(0));
                        Finish::Failed { exit_code: None, reason: format!("timed out after {limit}") }
                    }
                    _ = wait_cancelled(&mut cancel) => {
                        handle.cancel().await;
                        Finish::Cancelled
                    }
                };
                let reason = match &finish {
                    Finish::Failed { reason, .. } => Some(reason.clone()),
                    _ => None,
                };
                (finish, reason)
            }
        };
        let reason = reason.map(|r| secrets.mask(&r).into_owned());
        record.status = match finish {
            Finish::Succeeded => StepStatus::Succeeded,
            Finish::Failed { .. } => StepStatus::Failed,
            Finish::Cancelled => StepStatus::Cancelled,
        };
        record.exit_code = match &finish {
            // Success is exit code 0 on every backend (a job that completed).
            Finish::Succeeded => Some(0),
            Finish::Failed { exit_code, .. } => *exit_code,
            Finish::Cancelled => None,
        };
        record.error = reason.clone();
        record.finished_ms = Some(self.clock.now_ms());
        self.store()?.put_attempt(&record).map_err(|e| e.to_string())?;
        Ok((finish, reason))
    }

    /// Input paths as the step sees them; a gathered input becomes a folder
    /// holding one link per instance, named after the instance.
    fn materialize_inputs(&self, work_dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
        let mut out = Vec::new();
        for (name, input) in &self.inputs {
            match input {
                Input::Path(path, _) => out.push((name.clone(), path.clone())),
                Input::Gather(parts) => {
                    let dir = work_dir.join("inputs").join(name);
                    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                    for (instance, path, _) in parts {
                        let link = dir.join(instance);
                        let _ = std::fs::remove_file(&link);
                        std::os::unix::fs::symlink(path, &link)
                            .map_err(|e| format!("cannot link {}: {e}", link.display()))?;
                    }
                    out.push((name.clone(), dir));
                }
            }
        }
        Ok(out)
    }

    /// Copies outputs declared with a path (`outputs { report = "reports/" }`)
    /// there, relative to the pipeline's folder, where `export` allows it
    /// (inside the folder, never over a folder wharf did not export).
    async fn export_outputs(&self, produced: &Produced) -> Result<(), String> {
        for output in &self.step.outputs {
            let (Some(dest), Some(dir)) = (&output.export, produced.dirs.get(&output.name)) else {
                continue;
            };
            // An `s3://` export is no local path (the plan refuses it off
            // SageMaker); copying it to a folder named `s3:` helps nobody.
            if !wharf_compiler::export_path::is_local_export(dest) {
                continue;
            }
            let mark = crate::export::ExportMark {
                pipeline: self.pipeline.clone(),
                step: self.step.name.clone(),
                output: output.name.clone(),
                run: self.run.clone(),
            };
            let (project, state, dest2, from) = (
                self.project_dir.clone(),
                self.layout.root().to_path_buf(),
                dest.clone(),
                dir.clone(),
            );
            tokio::task::spawn_blocking(move || {
                crate::export::export_output(&project, Some(&state), &dest2, &from, &mark)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot export output `{}` to {dest}: {e}", output.name))?;
        }
        Ok(())
    }

    /// Checks that every declared output was produced, and hashes it.
    async fn collect_outputs(&self, attempt: u32) -> Result<Produced, String> {
        let work_dir = self.layout.attempt_dir(&self.run, &self.step.name, attempt);
        let mut produced = Produced::default();
        for output in &self.step.outputs {
            let dir = work_dir.join("outputs").join(&output.name);
            let present = match &output.shape {
                OutputShape::File { name } => dir.join(name).is_file(),
                // A kind's own folder (a train step's `output`) may stay
                // empty, as SageMaker's output.tar.gz may; a declared one may not.
                OutputShape::Dir if output.implicit => dir.is_dir(),
                OutputShape::Dir => std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()),
            };
            if !present {
                let what = match &output.shape {
                    OutputShape::File { name } => format!("the file {name}"),
                    OutputShape::Dir => "anything".to_string(),
                };
                return Err(format!(
                    "it did not produce output `{}`: nothing wrote {what} to {}",
                    output.name,
                    dir.display()
                ));
            }
            // The content hash, and the list of files a later cache hit
            // checks by `stat` (see `decide::manifest`).
            let hashed = dir.clone();
            let (hash, files) = tokio::task::spawn_blocking(move || {
                let hash = hash_path(&hashed)?;
                Ok::<_, std::io::Error>((hash, decide::manifest::scan(&hashed)?))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot read output `{}`: {e}", output.name))?;
            produced.hashes.insert(output.name.clone(), hash.hex);
            produced.files.insert(output.name.clone(), files);
            produced.dirs.insert(output.name.clone(), dir);
        }
        Ok(produced)
    }
}

/// Exponential backoff with jitter: `base * 2^(n-1)`, then up to a quarter
/// more or less, so retries of many steps do not fall into step.
fn backoff(base_ms: u64, n: u32, salt: u32) -> Duration {
    let exp = base_ms.saturating_mul(1u64 << (n - 1).min(16));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let noise = ((nanos ^ salt.rotate_left(7)) % 1000) as i64 - 500; // -500..500 per mille of a half
    let jitter = exp as i64 * noise / 2000;
    Duration::from_millis((exp as i64 + jitter).max(0) as u64)
}

pub(super) async fn wait_cancelled(cancel: &mut watch::Receiver<bool>) {
    loop {
        if *cancel.borrow() {
            return;
        }
        if cancel.changed().await.is_err() {
            // The sender is gone: nobody can cancel any more.
            std::future::pending::<()>().await;
        }
    }
}

/// The finished steps of an earlier run whose outputs still exist.
pub(crate) async fn load_resumed(
    plan: &Plan<'_>,
    ctx: &Context,
    run: &str,
) -> Result<Vec<(StepId, Produced)>, RunError> {
    let (record, artifacts, steps) = {
        let store = lock(&ctx.state)?;
        (store.run(run)?, store.artifacts(run)?, store.steps(run)?)
    };
    let record = record.ok_or_else(|| RunError::Resume(format!("there is no run `{run}` to resume")))?;
    if record.pipeline != plan.pipeline.name {
        return Err(RunError::Resume(format!(
            "run `{run}` is of pipeline `{}`, not `{}`",
            record.pipeline, plan.pipeline.name
        )));
    }
    let mut out = Vec::new();
    for step in steps {
        if !matches!(step.status, StepStatus::Succeeded | StepStatus::Cached) {
            continue;
        }
        let Some(id) = plan.pipeline.steps.iter().position(|s| s.name == step.step) else {
            continue;
        };
        let mut produced = Produced::default();
        let mut complete = true;
        for output in &plan.pipeline.steps[id].outputs {
            let found = artifacts
                .iter()
                .find(|a| a.step == step.step && a.output == output.name);
            match found.and_then(|a| {
                a.uri
                    .strip_prefix("file://")
                    .map(|p| (PathBuf::from(p), a.hash.clone()))
            }) {
                Some((path, hash)) if path.exists() => {
                    produced.dirs.insert(output.name.clone(), path);
                    produced.hashes.insert(output.name.clone(), hash);
                }
                _ => complete = false,
            }
        }
        if complete {
            out.push((id, produced));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        for n in 1..=5 {
            let d = super::backoff(1000, n, n).as_millis() as u64;
            let exp = 1000u64 << (n - 1);
            assert!(d >= exp * 3 / 4 && d <= exp * 5 / 4, "attempt {n}: {d} ms");
        }
    }
}
