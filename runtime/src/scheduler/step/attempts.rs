//! A step's attempts: each one submitted to its backend with its inputs in
//! place, waited for under its timeout and the run's cancel, and recorded;
//! retries with exponential backoff and jitter.

use super::StepTask;
use crate::backend::{Attempt, Finish};
use crate::decide::inputs::Input;
use crate::decide::preflight::StepImage;
use crate::events::RunEvent;
use crate::scheduler::Produced;
use crate::state::{AttemptRecord, StepStatus};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

impl StepTask {
    /// Runs attempts until one succeeds, they run out, or the run is cancelled.
    pub(super) async fn attempts(
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

pub(in crate::scheduler) async fn wait_cancelled(cancel: &mut watch::Receiver<bool>) {
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
