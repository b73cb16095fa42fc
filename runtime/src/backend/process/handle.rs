//! One running attempt of the process backend: a small state machine over
//! the child process (running, exited, finished). Every step of it is kept
//! in the handle as soon as it happens, so a `wait` that the scheduler drops
//! half-way (a `select!` with Ctrl-C) loses nothing, and a later `wait` or
//! `cancel` picks up where it stopped.

use super::group::{ProcessGroup, signal_name};
use crate::backend::logs::{Tail, with_tail};
use crate::backend::{BoxFuture, Finish, Handle};
use crate::events::{EventSink, RunEvent};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Child;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long to wait for the output to drain once the step's group is gone.
/// Only a process that left the group (`setsid`) and kept stdout or stderr
/// can hold it up.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait, after killing, for the killed members of the group to
/// be reaped by their parents (or by init, for orphans).
const REAP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a stop may take before wharf says it is waiting for it.
const SAY_WAITING_AFTER: Duration = Duration::from_secs(1);

pub(super) struct ProcessHandle {
    pub(super) child: Child,
    pub(super) group: ProcessGroup,
    pub(super) grace: Duration,
    pub(super) step: String,
    pub(super) events: Arc<dyn EventSink>,
    /// The task that writes the log; `None` once drained.
    pub(super) logs: Option<JoinHandle<()>>,
    pub(super) tail: Tail,
    /// How the leader ended, once it has been reaped.
    pub(super) exit: Option<Result<ExitStatus, String>>,
    pub(super) cancelled: bool,
    pub(super) finish: Option<Finish>,
}

impl ProcessHandle {
    async fn finish(&mut self) -> Finish {
        if let Some(finish) = &self.finish {
            return finish.clone();
        }
        self.reap().await;
        self.drain().await;
        let finish = self.outcome();
        self.finish = Some(finish.clone());
        finish
    }

    /// Waits for the leader to exit, then kills what it left in its group:
    /// as when a container's main process exits, the step is over, and a
    /// background child would otherwise hold the output pipes open forever.
    async fn reap(&mut self) {
        if self.exit.is_none() {
            let exit = self.child.wait().await.map_err(|e| e.to_string());
            self.exit = Some(exit);
            // The leader's id cannot have been reused while any member of its
            // group lives, so this reaches only the step's own processes.
            self.group.signal(libc::SIGKILL);
        }
    }

    async fn drain(&mut self) {
        let Some(logs) = &mut self.logs else { return };
        if tokio::time::timeout(DRAIN_TIMEOUT, &mut *logs).await.is_err() {
            logs.abort();
            self.events.event(RunEvent::StepLog {
                step: self.step.clone(),
                line: "wharf: stopped reading the step's output: a process it started outside its process group \
                       still holds stdout or stderr open"
                    .to_owned(),
                stderr: true,
            });
        }
        self.logs = None;
    }

    fn outcome(&self) -> Finish {
        if self.cancelled {
            return Finish::Cancelled;
        }
        let status = match &self.exit {
            Some(Ok(status)) => status,
            Some(Err(e)) => {
                return Finish::Failed {
                    exit_code: None,
                    reason: format!("lost track of the process: {e}"),
                };
            }
            None => {
                return Finish::Failed {
                    exit_code: None,
                    reason: "lost track of the process".to_owned(),
                };
            }
        };
        if status.success() {
            return Finish::Succeeded;
        }
        let summary = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) if status.core_dumped() => format!("killed by {} (core dumped)", signal_name(signal)),
            (None, Some(signal)) => format!("killed by {}", signal_name(signal)),
            (None, None) => format!("ended with {status}"),
        };
        Finish::Failed {
            exit_code: status.code(),
            reason: with_tail(summary, &self.tail.lines()),
        }
    }

    /// SIGTERM to the group; SIGKILL to whatever is left of it after the
    /// grace period (SageMaker and Docker stop a container the same way).
    async fn stop(&mut self) {
        if self.finish.is_some() || self.exit.is_some() {
            return;
        }
        // A step that has already ended on its own keeps its own outcome.
        if let Ok(Some(status)) = self.child.try_wait() {
            self.exit = Some(Ok(status));
            self.group.signal(libc::SIGKILL);
            return;
        }
        self.cancelled = true;
        self.group.signal(libc::SIGTERM);
        let deadline = Instant::now() + self.grace;
        // A step that ignores SIGTERM holds the stop for the whole grace
        // period: say so after a second, rather than seem to hang.
        let said_at = (Instant::now() + SAY_WAITING_AFTER).min(deadline);
        let exit = match tokio::time::timeout_at(said_at, self.child.wait()).await {
            Ok(exit) => Some(exit),
            Err(_) if said_at < deadline => {
                self.events.event(RunEvent::StepLog {
                    step: self.step.clone(),
                    line: format!(
                        "wharf: waiting for the step to stop (it has {} after SIGTERM before it is killed; --stop-grace sets this)",
                        wharf_compiler::syntax::literal::format_duration(self.grace.as_millis() as u64)
                    ),
                    stderr: true,
                });
                tokio::time::timeout_at(deadline, self.child.wait()).await.ok()
            }
            Err(_) => None,
        };
        if let Some(exit) = exit {
            self.exit = Some(exit.map_err(|e| e.to_string()));
        }
        // Children that outlive the leader get the rest of the grace period
        // too: a data loader worker may be finishing a write.
        if !self.group.wait_until_gone(deadline).await {
            self.group.signal(libc::SIGKILL);
        }
        self.reap().await;
        self.group.wait_until_gone(Instant::now() + REAP_TIMEOUT).await;
    }
}

impl Handle for ProcessHandle {
    fn id(&self) -> String {
        format!("pid {}", self.group.id())
    }

    fn wait(&mut self) -> BoxFuture<'_, Finish> {
        Box::pin(self.finish())
    }

    fn cancel(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.stop().await;
            self.finish().await;
        })
    }
}

impl Drop for ProcessHandle {
    /// A handle dropped before the attempt finished (a scheduler task that
    /// panicked or was aborted) takes the whole group with it: no orphans.
    fn drop(&mut self) {
        if self.finish.is_none() {
            self.group.signal(libc::SIGKILL);
        }
    }
}
