//! What a run reports while it goes: the CLI renders these as a live
//! progress view on a terminal, or as plain timestamped lines in CI.

use crate::state::{RunStatus, StepStatus};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    RunStarted {
        run: String,
        pipeline: String,
        target: String,
        steps: usize,
    },
    StepStarted {
        step: String,
        attempt: u32,
        backend: String,
    },
    /// One line the step wrote (without its line break).
    StepLog { step: String, line: String, stderr: bool },
    StepRetrying {
        step: String,
        attempt: u32,
        delay: Duration,
        reason: String,
    },
    StepFinished {
        step: String,
        status: StepStatus,
        duration: Duration,
        reason: Option<String>,
    },
    RunFinished {
        run: String,
        status: RunStatus,
        duration: Duration,
    },
}

/// Receives events; called from any task, so it must not block for long.
pub trait EventSink: Send + Sync {
    fn event(&self, event: RunEvent);
}

/// Collects events, for tests.
#[derive(Default)]
pub struct CollectingSink {
    pub events: std::sync::Mutex<Vec<RunEvent>>,
}

impl EventSink for CollectingSink {
    fn event(&self, event: RunEvent) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

impl CollectingSink {
    pub fn take(&self) -> Vec<RunEvent> {
        self.events
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }
}
