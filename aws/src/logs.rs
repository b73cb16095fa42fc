//! A running job's CloudWatch log, followed into the step's log. SageMaker's
//! log agent writes each host's output to the stream `<job>/<host>-<epoch>`
//! of `/aws/sagemaker/{Training,Processing,Transform}Jobs`; a `Following`
//! finds those streams, reads them while the job runs and drains them once
//! more after it ends. Nothing here can fail a step: a missing group or
//! stream is just "not yet", throttling backs off, and a refusal
//! (AccessDenied) or a run of errors writes one warning line and stops.
//!
//! Why DescribeLogStreams + GetLogEvents rather than one FilterLogEvents per
//! poll (which would cover every host's stream in one call): FilterLogEvents
//! has a quota of 5 calls per second per account and Region, shared with
//! every other tool there, so a fan-out of 100 jobs polling every few
//! seconds would be throttled at once; GetLogEvents has 25, reads one stream
//! in order with a forward token (nothing read twice, nothing to
//! de-duplicate), and DescribeLogStreams is only needed until a job's
//! streams show up, then every half minute for late hosts. It is also what
//! the SageMaker Python SDK does. The calls of all jobs of a backend share
//! pacers (`LogReader`), well under those quotas.

use crate::step_log::Log;
use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};
use wharf_compiler::types::StepKind;

/// The wait between two reads of a job while its log is busy, and the most
/// it grows to while it is quiet.
const READ_EVERY: Duration = Duration::from_secs(2);
const READ_EVERY_QUIET: Duration = Duration::from_secs(5);
/// The most a throttled follower waits before trying again.
const THROTTLED_MAX: Duration = Duration::from_secs(30);
/// How often a job whose streams were found looks for new ones (hosts that
/// start late).
const REDISCOVER_EVERY: Duration = Duration::from_secs(30);
/// After the job ends: reads one second apart until one that started at
/// least a second after the end brings nothing (CloudWatch lags a little),
/// and never longer than this.
const DRAIN_GAP: Duration = Duration::from_secs(1);
const DRAIN_LIMIT: Duration = Duration::from_secs(8);
/// The most one call of the drain waits for its pacer: when many jobs end
/// at once, a job's step does not wait long for its turn (what is left
/// unread is in the console).
const DRAIN_WAIT: Duration = Duration::from_secs(2);
/// Errors in a row (other than throttling and "not there yet") before giving up.
const MAX_FAILURES: u32 = 5;
/// Pages of one stream read in one round: the rest waits for the next round.
const MAX_PAGES: usize = 20;

/// The CloudWatch Logs group SageMaker writes a kind of job's output to.
pub fn log_group(kind: StepKind) -> Option<&'static str> {
    match kind {
        StepKind::Train => Some("/aws/sagemaker/TrainingJobs"),
        StepKind::Step => Some("/aws/sagemaker/ProcessingJobs"),
        StepKind::Transform => Some("/aws/sagemaker/TransformJobs"),
        _ => None,
    }
}

/// The host part of a stream name: `algo-1` of `<job>/algo-1-1700000000`.
pub fn host_of(job: &str, stream: &str) -> String {
    let rest = stream
        .strip_prefix(job)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(stream);
    match rest.rsplit_once('-') {
        Some((host, epoch)) if !host.is_empty() && !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            host.to_string()
        }
        _ => rest.to_string(),
    }
}

/// An event read from one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub timestamp: i64,
    pub host: String,
    pub message: String,
}

/// The step-log lines for one round's events: in time order (a stream's own
/// order kept among equal times), one line per line of a message, prefixed
/// `[host] ` when the job has several hosts.
pub fn render(mut events: Vec<Event>, several_hosts: bool) -> Vec<String> {
    events.sort_by_key(|e| e.timestamp);
    let mut lines = Vec::new();
    for e in events {
        let message = e.message.trim_end_matches(['\n', '\r']);
        for line in message.split('\n') {
            let line = line.trim_end_matches('\r');
            lines.push(if several_hosts {
                format!("[{}] {line}", e.host)
            } else {
                line.to_string()
            });
        }
    }
    lines
}

/// What an error from CloudWatch Logs means to a follower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// The group or stream does not exist (yet).
    NotYet,
    Throttled,
    /// Not allowed: stop following.
    Denied(String),
    Other(String),
    /// The backend's pacer is booked beyond this round's budget: skip it.
    Busy,
}

pub fn classify(code: Option<&str>, message: String) -> Trouble {
    match code.unwrap_or_default() {
        "ResourceNotFoundException" => Trouble::NotYet,
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "LimitExceededException" => Trouble::Throttled,
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" | "UnrecognizedClientException" => {
            Trouble::Denied(message)
        }
        _ => Trouble::Other(message),
    }
}

fn trouble<E, R>(e: &aws_sdk_cloudwatchlogs::error::SdkError<E, R>) -> Trouble
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let message = match (e.code(), e.message()) {
        (Some(code), Some(m)) => format!("{code}: {m}"),
        (Some(code), None) => code.to_string(),
        _ => crate::jobs::describe_error(e),
    };
    classify(e.code(), message)
}

/// Spaces calls out: at most one per `gap` across every job that shares it.
pub struct Pacer {
    gap: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(per_second: u32) -> Pacer {
        Pacer {
            gap: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(None),
        }
    }

    /// Waits for this caller's slot when it comes within `limit`; `false`
    /// (at once, nothing reserved) when the pacer is booked further ahead,
    /// so that a follower skips a round rather than queue behind a hundred
    /// others.
    pub async fn wait_within(&self, limit: Duration) -> bool {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            if slot > now + limit {
                return false;
            }
            *next = Some(slot + self.gap);
            slot
        };
        sleep_until(slot).await;
        true
    }
}

/// The CloudWatch Logs client of one backend and the pacers its followers
/// share: one pair for jobs that run, one for jobs that ended, so that the
/// last reads of a job (which its step waits for) never queue behind the
/// reads of a hundred running ones.
pub struct LogReader {
    client: Client,
    /// DescribeLogStreams: 5 per second per account and Region; wharf takes
    /// 1 for running jobs (each needs it only until its streams show up)
    /// and 3 for ended ones (a fan-out's jobs may end close together).
    discover: [Pacer; 2],
    /// GetLogEvents: 25 per second per account and Region; wharf takes 10
    /// and 10.
    read: [Pacer; 2],
}

impl LogReader {
    pub fn new(sdk: &aws_config::SdkConfig) -> LogReader {
        LogReader {
            client: Client::new(sdk),
            discover: [Pacer::new(1), Pacer::new(3)],
            read: [Pacer::new(10), Pacer::new(10)],
        }
    }

    /// Starts following job `job` of `kind` into `log`; `None` for a kind
    /// whose jobs write no log of their own.
    pub(crate) fn follow(self: &Arc<Self>, kind: StepKind, job: &str, log: Log) -> Option<Following> {
        let group = log_group(kind)?;
        let (ended, rx) = watch::channel(false);
        let follower = Follower {
            reader: self.clone(),
            group,
            job: job.to_string(),
            log,
            streams: Vec::new(),
            budget: READ_EVERY,
            ended: rx.clone(),
            draining: false,
        };
        Some(Following {
            ended,
            task: Some(tokio::spawn(follower.run(rx))),
        })
    }
}

/// A job being followed. Dropping it stops following at once; `finish`
/// drains what the job wrote last.
pub struct Following {
    ended: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Following {
    /// The job has ended: reads what is left (bounded), then stops.
    pub async fn finish(mut self) {
        let _ = self.ended.send(true);
        if let Some(task) = self.task.as_mut() {
            let _ = tokio::time::timeout(DRAIN_LIMIT + Duration::from_secs(2), task).await;
        }
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

struct Stream {
    name: String,
    host: String,
    token: Option<String>,
}

struct Follower {
    reader: Arc<LogReader>,
    group: &'static str,
    job: String,
    log: Log,
    streams: Vec<Stream>,
    /// How long a call of this round may wait for its pacer.
    budget: Duration,
    /// Becomes true when the job ends.
    ended: watch::Receiver<bool>,
    /// The job has ended: what is read now is its last lines.
    draining: bool,
}

/// When the next read happens while the job runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cadence {
    pub wait: Duration,
}

impl Cadence {
    pub fn new() -> Cadence {
        Cadence { wait: READ_EVERY }
    }

    /// After a round that brought `lines` lines.
    pub fn read(&mut self, lines: usize) {
        self.wait = if lines > 0 {
            READ_EVERY
        } else {
            (self.wait.mul_f64(1.5)).clamp(READ_EVERY, READ_EVERY_QUIET)
        };
    }

    pub fn throttled(&mut self) {
        self.wait = (self.wait * 2).min(THROTTLED_MAX);
    }
}

impl Default for Cadence {
    fn default() -> Self {
        Cadence::new()
    }
}

impl Follower {
    async fn run(mut self, mut ended: watch::Receiver<bool>) {
        let mut cadence = Cadence::new();
        let mut failures = 0;
        let mut discovered: Option<Instant> = None;
        let mut end: Option<Instant> = None;
        loop {
            if end.is_none() {
                tokio::select! {
                    _ = sleep(cadence.wait) => {}
                    _ = ended.changed() => {}
                }
                if *ended.borrow() {
                    end = Some(Instant::now());
                    self.draining = true;
                }
            } else {
                sleep(DRAIN_GAP).await;
            }
            let round_start = Instant::now();
            self.budget = match end {
                None => cadence.wait,
                Some(end) => DRAIN_LIMIT.saturating_sub(end.elapsed()).min(DRAIN_WAIT),
            };
            let rediscover = match (discovered, end) {
                _ if self.streams.is_empty() => true,
                (None, _) => true,
                // Once more after the end, for a host that started late.
                (Some(d), Some(e)) if d < e => true,
                (Some(d), _) => d.elapsed() >= REDISCOVER_EVERY,
            };
            let found = if rediscover {
                let found = self.discover().await;
                if found.is_ok() {
                    discovered = Some(Instant::now());
                }
                found
            } else {
                Ok(())
            };
            // A look for more streams that did not happen does not stop the
            // reading of the streams already known.
            let result = match found {
                Err(Trouble::Denied(why)) => Err(Trouble::Denied(why)),
                Err(t) if self.streams.is_empty() => Err(t),
                _ => self.read_round().await,
            };
            match result {
                Ok(lines) => {
                    failures = 0;
                    cadence.read(lines);
                    if let Some(end) = end {
                        let settled = lines == 0 && round_start >= end + DRAIN_GAP;
                        if self.streams.is_empty() || settled || end.elapsed() >= DRAIN_LIMIT {
                            return;
                        }
                    }
                }
                Err(Trouble::NotYet) => {
                    if end.is_some() && self.streams.is_empty() {
                        return;
                    }
                    cadence.read(0);
                }
                Err(Trouble::Busy) => {
                    if end.is_some() {
                        return;
                    }
                }
                Err(Trouble::Throttled) => cadence.throttled(),
                Err(Trouble::Denied(why)) => return self.give_up(&why).await,
                Err(Trouble::Other(why)) => {
                    failures += 1;
                    if failures >= MAX_FAILURES {
                        return self.give_up(&why).await;
                    }
                }
            }
            if end.is_some_and(|e| e.elapsed() >= DRAIN_LIMIT) {
                return;
            }
        }
    }

    async fn give_up(&self, why: &str) {
        self.log
            .line(format!(
                "wharf: cannot read CloudWatch logs: {why}; the job's logs are in the console"
            ))
            .await;
    }

    /// Waits for this call's slot: `false` when it is too far off, or when
    /// the job ends meanwhile (the round gives way to the drain, which has
    /// pacers of its own).
    async fn pace(&self, pacers: &[Pacer; 2]) -> bool {
        if self.draining {
            return pacers[1].wait_within(self.budget).await;
        }
        let mut ended = self.ended.clone();
        tokio::select! {
            ok = pacers[0].wait_within(self.budget) => ok,
            _ = ended.wait_for(|e| *e) => false,
        }
    }

    /// Finds the job's streams (`<job>/...`) not known yet.
    async fn discover(&mut self) -> Result<(), Trouble> {
        let prefix = format!("{}/", self.job);
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            if !self.pace(&self.reader.discover).await {
                return Err(Trouble::Busy);
            }
            let out = self
                .reader
                .client
                .describe_log_streams()
                .log_group_name(self.group)
                .log_stream_name_prefix(&prefix)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| trouble(&e))?;
            for s in out.log_streams() {
                let Some(name) = s.log_stream_name() else { continue };
                if !name.starts_with(&prefix) || self.streams.iter().any(|k| k.name == name) {
                    continue;
                }
                self.streams.push(Stream {
                    name: name.to_string(),
                    host: host_of(&self.job, name),
                    token: None,
                });
            }
            self.streams.sort_by(|a, b| a.name.cmp(&b.name));
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// Reads every known stream from where it was left; writes the new
    /// lines; returns how many.
    async fn read_round(&mut self) -> Result<usize, Trouble> {
        let mut events = Vec::new();
        let mut trouble_seen = None;
        for i in 0..self.streams.len() {
            match self.read_stream(i, &mut events).await {
                Ok(()) | Err(Trouble::NotYet) => {}
                Err(t) => {
                    trouble_seen = Some(t);
                    break;
                }
            }
        }
        let lines = render(events, self.streams.len() > 1);
        let count = lines.len();
        for line in lines {
            self.log.line(line).await;
        }
        match trouble_seen {
            Some(t) if count == 0 => Err(t),
            _ => Ok(count),
        }
    }

    async fn read_stream(&mut self, i: usize, events: &mut Vec<Event>) -> Result<(), Trouble> {
        for _ in 0..MAX_PAGES {
            if !self.pace(&self.reader.read).await {
                return Err(Trouble::Busy);
            }
            let stream = &self.streams[i];
            let out = self
                .reader
                .client
                .get_log_events()
                .log_group_name(self.group)
                .log_stream_name(&stream.name)
                .start_from_head(true)
                .set_next_token(stream.token.clone())
                .send()
                .await
                .map_err(|e| trouble(&e))?;
            let got = out.events();
            for e in got {
                events.push(Event {
                    timestamp: e.timestamp().unwrap_or_default(),
                    host: stream.host.clone(),
                    message: e.message().unwrap_or_default().to_string(),
                });
            }
            let next = out.next_forward_token().map(str::to_string);
            // The end of the stream for now: the same token comes back.
            let at_end = got.is_empty() || next.is_none() || next == stream.token;
            if next.is_some() {
                self.streams[i].token = next;
            }
            if at_end {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_from_sagemaker_stream_names() {
        let job = "churn-fit-20261125-034751-ab12-1";
        assert_eq!(host_of(job, &format!("{job}/algo-1-1700000000")), "algo-1");
        assert_eq!(host_of(job, &format!("{job}/algo-12-1700000000")), "algo-12");
        assert_eq!(host_of(job, &format!("{job}/worker")), "worker");
        assert_eq!(host_of(job, "other/x-1"), "other/x");
    }

    #[test]
    fn rounds_render_in_time_order_prefixed_only_with_several_hosts() {
        let e = |t, h: &str, m: &str| Event {
            timestamp: t,
            host: h.into(),
            message: m.into(),
        };
        let events = vec![
            e(3, "algo-1", "c"),
            e(1, "algo-1", "a\n"),
            e(2, "algo-2", "b1\r\nb2"),
            e(3, "algo-2", "d"),
        ];
        assert_eq!(
            render(events.clone(), true),
            vec!["[algo-1] a", "[algo-2] b1", "[algo-2] b2", "[algo-1] c", "[algo-2] d"]
        );
        assert_eq!(render(events, false), vec!["a", "b1", "b2", "c", "d"]);
    }

    #[test]
    fn errors_are_sorted_into_what_a_follower_does() {
        assert_eq!(classify(Some("ResourceNotFoundException"), "x".into()), Trouble::NotYet);
        assert_eq!(classify(Some("ThrottlingException"), "x".into()), Trouble::Throttled);
        assert_eq!(
            classify(Some("AccessDeniedException"), "no".into()),
            Trouble::Denied("no".into())
        );
        assert_eq!(classify(None, "io".into()), Trouble::Other("io".into()));
    }

    #[test]
    fn the_cadence_is_two_to_five_seconds_and_backs_off_when_throttled() {
        let mut c = Cadence::new();
        assert_eq!(c.wait, Duration::from_secs(2));
        for _ in 0..10 {
            c.read(0);
        }
        assert_eq!(c.wait, Duration::from_secs(5));
        c.read(3);
        assert_eq!(c.wait, Duration::from_secs(2));
        for _ in 0..10 {
            c.throttled();
        }
        assert_eq!(c.wait, THROTTLED_MAX);
        c.read(0);
        assert_eq!(c.wait, READ_EVERY_QUIET, "a read after throttling is back in range");
    }

    #[test]
    fn only_kinds_with_a_container_log_are_followed() {
        assert_eq!(log_group(StepKind::Step), Some("/aws/sagemaker/ProcessingJobs"));
        assert_eq!(log_group(StepKind::Train), Some("/aws/sagemaker/TrainingJobs"));
        assert_eq!(log_group(StepKind::Transform), Some("/aws/sagemaker/TransformJobs"));
        assert_eq!(log_group(StepKind::Deploy), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pacer_spaces_calls_of_every_job_sharing_it() {
        let pacer = Arc::new(Pacer::new(10));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let p = pacer.clone();
            tasks.push(tokio::spawn(async move {
                assert!(p.wait_within(Duration::from_secs(1)).await);
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for t in tasks {
            times.push(t.await.unwrap() - start);
        }
        times.sort();
        assert_eq!(times.last().copied(), Some(Duration::from_millis(400)));
        // Booked up to 0.5 s ahead now: a caller that cannot wait that long is turned away.
        assert!(!pacer.wait_within(Duration::from_millis(50)).await);
        assert!(pacer.wait_within(Duration::from_millis(600)).await);
    }
}
