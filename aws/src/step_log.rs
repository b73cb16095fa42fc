//! A step's log as the SageMaker backend writes it: the attempt's log file
//! and the live view, every line masked; transfers' progress shown in it.
//! The backend, the CloudWatch reader (`logs.rs`) and the watcher
//! (`watch.rs`) all write through it.

use crate::s3::Progress;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use wharf_runtime::backend::Attempt;
use wharf_runtime::events::{EventSink, RunEvent};
use wharf_runtime::size::human_bytes;

/// A step's log: the attempt's log file and the live view.
#[derive(Clone)]
pub(crate) struct Log {
    file: Arc<tokio::sync::Mutex<tokio::fs::File>>,
    step: String,
    events: Arc<dyn EventSink>,
    /// The step's secret values, masked in every line (CloudWatch lines included).
    secrets: wharf_runtime::secrets::Masker,
}

impl Log {
    pub(crate) async fn open(attempt: &Attempt, events: Arc<dyn EventSink>) -> Result<Log, String> {
        if let Some(parent) = attempt.log_path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&attempt.log_path)
            .await
            .map_err(|e| format!("cannot open {}: {e}", attempt.log_path.display()))?;
        Ok(Log {
            file: Arc::new(tokio::sync::Mutex::new(file)),
            step: attempt.step.clone(),
            events,
            secrets: attempt.masker(),
        })
    }

    pub(crate) async fn line(&self, text: String) {
        let text = self.secrets.mask(&text).into_owned();
        let mut file = self.file.lock().await;
        let _ = file.write_all(format!("{text}\n").as_bytes()).await;
        let _ = file.flush().await;
        self.events.event(RunEvent::StepLog {
            step: self.step.clone(),
            line: text,
            stderr: false,
        });
    }
}

impl Log {
    /// A progress callback for a transfer: a line in the live view at most
    /// every two seconds while it runs (a quick transfer shows none; its
    /// summary line follows it).
    pub(crate) fn progress(&self, what: String) -> impl Fn(Progress) + Send + Sync + use<> {
        let events = self.events.clone();
        let step = self.step.clone();
        let started = std::time::Instant::now();
        let last = std::sync::Mutex::new(started);
        move |p: Progress| {
            let now = std::time::Instant::now();
            let Ok(mut last) = last.lock() else { return };
            if now.duration_since(*last) < Duration::from_secs(2) || p.done_bytes >= p.total_bytes {
                return;
            }
            *last = now;
            let percent = (p.done_bytes * 100).checked_div(p.total_bytes).unwrap_or(100);
            let rate = p.done_bytes as f64 / now.duration_since(started).as_secs_f64().max(0.001);
            events.event(RunEvent::StepLog {
                step: step.clone(),
                line: format!(
                    "wharf: {what}: {percent}% ({} of {}, {}/{} files, {}/s)",
                    human_bytes(p.done_bytes),
                    human_bytes(p.total_bytes),
                    p.done_files,
                    p.total_files,
                    human_bytes(rate as u64)
                ),
                stderr: false,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::Progress;
    use std::time::Duration;
    use wharf_runtime::events::CollectingSink;

    /// A step log writing to `dir/log`, its events collected.
    async fn test_log(dir: &std::path::Path, secrets: wharf_runtime::secrets::Masker) -> (Log, Arc<CollectingSink>) {
        let sink = Arc::new(CollectingSink::default());
        let file = tokio::fs::File::create(dir.join("log")).await.unwrap();
        let log = Log {
            file: Arc::new(tokio::sync::Mutex::new(file)),
            step: "fit".into(),
            events: sink.clone(),
            secrets,
        };
        (log, sink)
    }

    #[tokio::test]
    async fn transfer_progress_is_shown_at_most_every_two_seconds_and_not_when_done() {
        let dir = tempfile::tempdir().unwrap();
        let (log, sink) = test_log(dir.path(), Default::default()).await;
        let report = log.progress("uploading input `train`".into());
        let at = |done: u64| Progress {
            done_bytes: done,
            total_bytes: 4 << 20,
            done_files: 1,
            total_files: 4,
        };
        report(at(1 << 20));
        assert!(sink.take().is_empty(), "nothing in the first two seconds");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        report(at(2 << 20));
        report(at(3 << 20));
        let lines: Vec<String> = sink
            .take()
            .into_iter()
            .filter_map(|e| match e {
                RunEvent::StepLog { line, .. } => Some(line),
                _ => None,
            })
            .collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("wharf: uploading input `train`: 50% (2.0 MiB of 4.0 MiB, 1/4 files, "),
            "{lines:?}"
        );
        tokio::time::sleep(Duration::from_millis(2100)).await;
        report(at(4 << 20));
        assert!(sink.take().is_empty(), "a finished transfer has its own summary line");
    }

    #[tokio::test]
    async fn a_secret_in_a_job_log_line_is_masked_in_the_file_and_the_live_view() {
        let dir = tempfile::tempdir().unwrap();
        let (log, sink) = test_log(dir.path(), wharf_runtime::secrets::Masker::new(["hunter2-xyz"])).await;
        log.line("token=hunter2-xyz".into()).await;
        let written = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert_eq!(written, "token=***\n");
        let shown: Vec<String> = sink
            .take()
            .into_iter()
            .filter_map(|e| match e {
                RunEvent::StepLog { line, .. } => Some(line),
                _ => None,
            })
            .collect();
        assert_eq!(shown, ["token=***"]);
    }
}
