//! Progress of a transfer: counters the transfer tasks bump, and the loop
//! that runs those tasks and reports the counters to the caller's callback
//! at most every 100 ms (and once at the end).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;

/// How far a transfer has got. `total_*` are known before the first byte
/// moves (the files and their sizes are listed first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub done_bytes: u64,
    pub total_bytes: u64,
    pub done_files: usize,
    pub total_files: usize,
}

/// The callback a transfer reports to.
pub type OnProgress<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// A callback that ignores progress.
pub fn no_progress(_: Progress) {}

/// Counters shared by a transfer's tasks.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    done_bytes: AtomicU64,
    done_files: AtomicUsize,
    total_bytes: AtomicU64,
    total_files: AtomicUsize,
}

impl Meter {
    pub(crate) fn new(total_bytes: u64, total_files: usize) -> Arc<Meter> {
        Arc::new(Meter {
            total_bytes: AtomicU64::new(total_bytes),
            total_files: AtomicUsize::new(total_files),
            ..Meter::default()
        })
    }

    pub(crate) fn add_bytes(&self, bytes: u64) {
        self.done_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn file_done(&self) {
        self.done_files.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Progress {
        Progress {
            done_bytes: self.done_bytes.load(Ordering::Relaxed),
            total_bytes: self.total_bytes.load(Ordering::Relaxed),
            done_files: self.done_files.load(Ordering::Relaxed),
            total_files: self.total_files.load(Ordering::Relaxed),
        }
    }
}

const EVERY: Duration = Duration::from_millis(100);

/// Waits for every task in `tasks`, reporting `meter` every 100 ms and once
/// at the end. On the first failure it stops waiting for progress, lets the
/// tasks still running end by themselves (each one cleans up after itself,
/// aborting its multipart upload; killing them mid-request would leave
/// parts behind on S3) and returns that failure. `stop` is called on the
/// first failure so that the tasks not yet started give up at once.
pub(crate) async fn drive<T: 'static>(
    mut tasks: JoinSet<Result<T, String>>,
    meter: &Meter,
    progress: OnProgress<'_>,
    stop: impl Fn(),
) -> Result<Vec<T>, String> {
    let mut results = Vec::with_capacity(tasks.len());
    let mut failure: Option<String> = None;
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            next = tasks.join_next() => match next {
                None => break,
                Some(Ok(Ok(value))) => results.push(value),
                Some(Ok(Err(error))) => {
                    if failure.is_none() {
                        stop();
                        failure = Some(error);
                    }
                }
                Some(Err(join)) => {
                    if failure.is_none() {
                        stop();
                        failure = Some(format!("a transfer task ended abnormally: {join}"));
                    }
                }
            },
            _ = tick.tick(), if failure.is_none() => progress(meter.snapshot()),
        }
    }
    match failure {
        Some(error) => Err(error),
        None => {
            progress(meter.snapshot());
            Ok(results)
        }
    }
}
