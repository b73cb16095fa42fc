//! A step's attempts: each one submitted to its backend with its inputs in
//! place, waited for under its timeout and the run's cancel, and recorded;
//! retries with exponential backoff and jitter.

use super::StepTask;
use crate::backend::{Attempt, Finish};
use crate::decide::inputs::Input;
use crate::decide::preflight::StepImage;
use crate::events::RunEvent;
use crate::scheduler::Produced;
use crate::state::{AttemptRecord, StepRecord, StepStatus};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

impl StepTask {
    /// Runs attempts until one succeeds, they run out, or the run is
    /// cancelled. A successful attempt's end is returned unrecorded: it is
    /// committed with the step's outcome (one commit, not two).
    pub(super) async fn attempts(
        &self,
        env: BTreeMap<String, String>,
        running: &StepRecord,
    ) -> Result<Attempts, String> {
        // A resumed run numbers its attempts after the earlier run's; a
        // fresh run has none to count.
        let before = if self.resumed {
            self.store()?
                .attempts(&self.run, &self.step.name)
                .map_err(|e| e.to_string())?
                .len() as u32
        } else {
            0
        };
        let tries = self.step.retry.attempts.max(1);
        let mut last_reason = None;
        for n in 1..=tries {
            let number = before + n;
            let (finish, reason, record) = self.one_attempt(number, &env, running).await?;
            if !matches!(finish, Finish::Succeeded) {
                self.store()?.put_attempt(&record).map_err(|e| e.to_string())?;
            }
            match finish {
                Finish::Succeeded => {
                    let outputs = async {
                        let produced = self.collect_outputs(number).await?;
                        self.export_outputs(&produced).await?;
                        Ok::<_, String>(produced)
                    };
                    return match outputs.await {
                        Ok(produced) => Ok(Attempts {
                            status: StepStatus::Succeeded,
                            produced: Some(produced),
                            reason: None,
                            unrecorded: Some(record),
                        }),
                        Err(e) => {
                            // The attempt succeeded; the step fails on its outputs.
                            self.store()?.put_attempt(&record).map_err(|e| e.to_string())?;
                            Err(e)
                        }
                    };
                }
                Finish::Cancelled => return Ok(Attempts::ended(StepStatus::Cancelled, Some("cancelled".into()))),
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
                                return Ok(Attempts::ended(
                                    StepStatus::Cancelled,
                                    Some("cancelled while waiting to retry".into()),
                                ));
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
        Ok(Attempts::ended(StepStatus::Failed, reason))
    }

    /// One attempt, recorded as started (with the step, now running) and
    /// with its handle; its end is returned for the caller to record.
    async fn one_attempt(
        &self,
        number: u32,
        env: &BTreeMap<String, String>,
        running: &StepRecord,
    ) -> Result<(Finish, Option<String>, AttemptRecord), String> {
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
        self.store()?.put_started(running, &record).map_err(|e| e.to_string())?;
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
        Ok((finish, reason, record))
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

/// How a step's attempts ended.
pub(super) struct Attempts {
    pub status: StepStatus,
    pub produced: Option<Produced>,
    pub reason: Option<String>,
    /// The last attempt's end, still to be recorded (with the outcome).
    pub unrecorded: Option<AttemptRecord>,
}

impl Attempts {
    fn ended(status: StepStatus, reason: Option<String>) -> Attempts {
        Attempts {
            status,
            produced: None,
            reason,
            unrecorded: None,
        }
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
