//! One watcher per backend that notices when a job changes status, so that
//! each job is described once when it ends rather than every poll interval.
//!
//! Every `interval` (1 s by default) it lists the run's jobs of each kind it
//! follows: `List{Processing,Training}Jobs` with `NameContains` = the run id
//! (every job name carries it) and `LastModifiedTimeAfter` = the previous
//! list's start less a minute of overlap (clock skew, List's eventual
//! consistency), paginated 100 a page. One call covers up to 100 jobs, so a
//! fan-out of 100 costs about one List a second in all, and a job's end is
//! seen about a second after it happens. A job newly followed gets one full
//! list (no time filter), so that a job that ended before it was followed is
//! seen too. Statuses only come from List; a waiter describes its job when
//! the watcher sees it end (FailureReason, and to be sure), and otherwise
//! only every `safety` (a tenth of the old per-job poll rate) in case a List
//! ever missed it.
//!
//! Throttled lists back off (doubling, up to 30 s). When listing keeps
//! failing (`MAX_FAILURES` errors in a row, say a role without
//! `sagemaker:List*`), the watcher gives up for the run and every waiter goes
//! back to describing its own job with backoff (`poll.rs`), which is also
//! what kinds the watcher does not list use. `WHARF_SAGEMAKER_LIST_MS=0`
//! turns the watcher off; another value sets its interval.

use crate::jobs::JobState;
use crate::step_log::Log;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use wharf_compiler::types::StepKind;
use wharf_runtime::backend::BoxFuture;

/// How far back a list looks beyond the previous one's start.
const OVERLAP: Duration = Duration::from_secs(60);
/// Throttled lists back off up to this.
const THROTTLED_MAX: Duration = Duration::from_secs(30);
/// Errors in a row before the watcher gives up for the run.
const MAX_FAILURES: u32 = 5;

/// A kind of job the watcher can list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ListKind {
    Processing,
    Training,
}

impl ListKind {
    pub fn of(kind: StepKind) -> Option<ListKind> {
        match kind {
            StepKind::Step => Some(ListKind::Processing),
            StepKind::Train => Some(ListKind::Training),
            _ => None,
        }
    }
}

/// One job of a List answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub name: String,
    pub status: String,
}

/// One page of a List: summaries and the next page's token.
pub type Page = (Vec<Summary>, Option<String>);

/// The List calls, behind a trait so that tests can script them.
pub trait Lister: Send + Sync {
    /// One page of jobs whose name contains `contains`, modified after
    /// `after` when given. `Err((throttled, message))`.
    fn list(
        &self,
        kind: ListKind,
        contains: &str,
        after: Option<SystemTime>,
        token: Option<String>,
    ) -> BoxFuture<'_, Result<Page, (bool, String)>>;
}

/// A job's status as the List saw it.
pub fn state_of(status: &str) -> JobState {
    match status {
        "Completed" => JobState::Completed,
        "Failed" => JobState::Failed(String::new()),
        "Stopped" => JobState::Stopped,
        "Stopping" => JobState::Stopping,
        _ => JobState::Running,
    }
}

/// Whether a job in this state has ended.
pub fn has_ended(state: &JobState) -> bool {
    matches!(state, JobState::Completed | JobState::Failed(_) | JobState::Stopped)
}

/// What a waiter hears about its job.
#[derive(Debug, Clone, PartialEq)]
enum Heard {
    Nothing,
    Status(String),
    /// The watcher gave up (why).
    Lost(String),
}

struct Entry {
    kind: ListKind,
    scope: String,
    /// Followed since the last full list of its group began: wants one.
    fresh: bool,
    tx: watch::Sender<Heard>,
}

#[derive(Default)]
struct Shared {
    jobs: BTreeMap<String, Entry>,
    running: bool,
    lost: Option<String>,
}

/// The watcher of one backend.
pub struct Watcher {
    lister: Arc<dyn Lister>,
    interval: Duration,
    shared: Arc<Mutex<Shared>>,
    /// The wall clock, read once and carried on by tokio's clock (which
    /// tests can pause): List's time filter needs a wall time.
    epoch: (SystemTime, tokio::time::Instant),
}

impl Watcher {
    /// `interval` zero: no watcher; every waiter describes its own job.
    pub fn new(lister: Arc<dyn Lister>, interval: Duration) -> Arc<Watcher> {
        Arc::new(Watcher {
            lister,
            interval,
            shared: Arc::new(Mutex::new(Shared::default())),
            epoch: (SystemTime::now(), tokio::time::Instant::now()),
        })
    }

    /// The interval from `WHARF_SAGEMAKER_LIST_MS` (0 = off), default 1 s.
    pub fn interval_from_env() -> Duration {
        std::env::var("WHARF_SAGEMAKER_LIST_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(Duration::from_secs(1), Duration::from_millis)
    }

    fn now(&self) -> SystemTime {
        self.epoch.0 + self.epoch.1.elapsed()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows job `name` of `kind`, a job of run `run`, until the
    /// subscription is dropped.
    pub fn subscribe(self: &Arc<Self>, kind: StepKind, name: &str, run: &str) -> Subscription {
        let unwatched = Subscription {
            watcher: None,
            name: name.to_string(),
            rx: None,
            last: None,
            ended: false,
        };
        let Some(list_kind) = ListKind::of(kind) else {
            return unwatched;
        };
        if self.interval.is_zero() || run.is_empty() {
            return unwatched;
        }
        let mut shared = self.lock();
        let (tx, rx) = watch::channel(match &shared.lost {
            Some(why) => Heard::Lost(why.clone()),
            None => Heard::Nothing,
        });
        if shared.lost.is_none() {
            shared.jobs.insert(
                name.to_string(),
                Entry {
                    kind: list_kind,
                    scope: run.to_string(),
                    fresh: true,
                    tx,
                },
            );
            if !shared.running {
                shared.running = true;
                tokio::spawn(self.clone().run());
            }
        }
        Subscription {
            watcher: Some(self.clone()),
            name: name.to_string(),
            rx: Some(rx),
            last: None,
            ended: false,
        }
    }

    async fn run(self: Arc<Self>) {
        let mut since: BTreeMap<(ListKind, String), SystemTime> = BTreeMap::new();
        let mut delay = self.interval;
        let mut failures = 0;
        loop {
            let groups: BTreeMap<(ListKind, String), bool> = {
                let mut shared = self.lock();
                let mut groups = BTreeMap::new();
                for e in shared.jobs.values() {
                    let fresh = groups.entry((e.kind, e.scope.clone())).or_insert(false);
                    *fresh |= e.fresh;
                }
                if groups.is_empty() {
                    shared.running = false;
                    return;
                }
                groups
            };
            let mut throttled = false;
            let mut error = None;
            for ((kind, scope), fresh) in groups {
                let started = self.now();
                let after = if fresh {
                    None
                } else {
                    since.get(&(kind, scope.clone())).map(|t| *t - OVERLAP)
                };
                match self.list_all(kind, &scope, after).await {
                    Ok(jobs) => {
                        since.insert((kind, scope.clone()), started);
                        self.deliver(kind, &scope, fresh, jobs);
                    }
                    Err((true, _)) => throttled = true,
                    Err((false, e)) => error = Some(e),
                }
            }
            match error {
                Some(e) => {
                    failures += 1;
                    if failures >= MAX_FAILURES {
                        self.give_up(e);
                        return;
                    }
                }
                None => failures = 0,
            }
            delay = if throttled {
                (delay * 2).min(THROTTLED_MAX)
            } else {
                self.interval
            };
            tokio::time::sleep(delay).await;
        }
    }

    async fn list_all(
        &self,
        kind: ListKind,
        scope: &str,
        after: Option<SystemTime>,
    ) -> Result<Vec<Summary>, (bool, String)> {
        let mut all = Vec::new();
        let mut token = None;
        loop {
            let (jobs, next) = self.lister.list(kind, scope, after, token).await?;
            all.extend(jobs);
            match next {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(all),
            }
        }
    }

    /// Tells each followed job of the group its status; a full list also
    /// clears the group's `fresh` marks.
    fn deliver(&self, kind: ListKind, scope: &str, full: bool, jobs: Vec<Summary>) {
        let mut shared = self.lock();
        for job in jobs {
            if let Some(entry) = shared.jobs.get(&job.name)
                && entry.kind == kind
            {
                entry.tx.send_if_modified(|heard| {
                    let new = Heard::Status(job.status.clone());
                    let changed = *heard != new;
                    *heard = new;
                    changed
                });
            }
        }
        if full {
            for entry in shared.jobs.values_mut() {
                if entry.kind == kind && entry.scope == scope {
                    entry.fresh = false;
                }
            }
        }
    }

    fn give_up(&self, why: String) {
        let mut shared = self.lock();
        for entry in shared.jobs.values() {
            let _ = entry.tx.send(Heard::Lost(why.clone()));
        }
        shared.jobs.clear();
        shared.running = false;
        shared.lost = Some(why);
    }

    fn unsubscribe(&self, name: &str) {
        self.lock().jobs.remove(name);
    }

    #[cfg(test)]
    fn followed(&self) -> std::collections::BTreeSet<String> {
        self.lock().jobs.keys().cloned().collect()
    }
}

/// Why a waiter woke up.
#[derive(Debug, Clone, PartialEq)]
pub enum Wake {
    /// The watcher saw the job in this state; a waiter describes it when it
    /// has ended.
    Seen(JobState),
    /// Time to describe the job: it is not watched, or the safety interval
    /// passed, or it ended and an earlier Describe needs repeating.
    Describe,
    /// The watcher gave up (why); from now on this waits like `Describe`.
    Lost(String),
}

/// One job followed by the watcher (or not: then it only keeps time).
pub struct Subscription {
    watcher: Option<Arc<Watcher>>,
    name: String,
    rx: Option<watch::Receiver<Heard>>,
    last: Option<String>,
    /// The watcher has seen the job end: further waits are retries.
    ended: bool,
}

impl Subscription {
    /// Whether the watcher follows this job.
    pub fn watched(&self) -> bool {
        self.rx.is_some()
    }

    /// Waits for the next thing to do about the job: `fallback` is the
    /// per-job poll delay (used when not watched, and between retries after
    /// the job was seen to end); `safety` the most a watched job goes
    /// without a Describe.
    pub async fn wait(&mut self, fallback: Duration, safety: Duration) -> Wake {
        if self.ended {
            tokio::time::sleep(fallback).await;
            return Wake::Describe;
        }
        let Some(rx) = self.rx.as_mut() else {
            tokio::time::sleep(fallback).await;
            return Wake::Describe;
        };
        let deadline = tokio::time::Instant::now() + safety;
        loop {
            let heard = rx.borrow_and_update().clone();
            match heard {
                Heard::Lost(why) => {
                    self.rx = None;
                    if let Some(w) = self.watcher.take() {
                        w.unsubscribe(&self.name);
                    }
                    return Wake::Lost(why);
                }
                Heard::Status(status) if self.last.as_deref() != Some(status.as_str()) => {
                    self.last = Some(status.clone());
                    let state = state_of(&status);
                    self.ended = has_ended(&state);
                    return Wake::Seen(state);
                }
                _ => {}
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                // The watcher is gone (the backend is shutting down): keep time alone.
                Ok(Err(_)) => {
                    self.rx = None;
                    tokio::time::sleep_until(deadline).await;
                    return Wake::Describe;
                }
                Err(_) => return Wake::Describe,
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(w) = self.watcher.take() {
            w.unsubscribe(&self.name);
        }
    }
}

/// Writes what a wake means into the step's log, once per change.
pub(crate) async fn note(log: &Log, name: &str, wake: &Wake) {
    if let Wake::Lost(why) = wake {
        log.line(format!(
            "wharf: cannot list SageMaker jobs ({why}); describing job {name} on its own instead"
        ))
        .await;
    }
}

mod sagemaker;
pub use sagemaker::SagemakerLister;

#[cfg(test)]
mod tests;
