//! The watcher against a scripted List, on tokio's paused clock.

use super::*;
use tokio::time::Instant;

/// A job as the fake SageMaker keeps it: (kind, status, last modified).
type Job = (ListKind, String, SystemTime);
/// A List call as the fake saw it: (kind, contains, after, when).
type Call = (ListKind, String, Option<SystemTime>, Instant);

/// A fake List*Jobs: filters like SageMaker's, pages of `page`, records
/// each call (kind, contains, after, when), and fails while told to.
struct FakeList {
    epoch: (SystemTime, Instant),
    jobs: Mutex<BTreeMap<String, Job>>,
    calls: Mutex<Vec<Call>>,
    failing: Mutex<Vec<(bool, String)>>,
    page: usize,
}

impl FakeList {
    fn new(page: usize) -> Arc<FakeList> {
        Arc::new(FakeList {
            epoch: (SystemTime::now(), Instant::now()),
            jobs: Mutex::new(BTreeMap::new()),
            calls: Mutex::new(Vec::new()),
            failing: Mutex::new(Vec::new()),
            page,
        })
    }

    fn now(&self) -> SystemTime {
        self.epoch.0 + self.epoch.1.elapsed()
    }

    fn set(&self, name: &str, kind: ListKind, status: &str) {
        let now = self.now();
        self.jobs
            .lock()
            .unwrap()
            .insert(name.into(), (kind, status.into(), now));
    }

    fn set_at(&self, name: &str, kind: ListKind, status: &str, modified: SystemTime) {
        self.jobs
            .lock()
            .unwrap()
            .insert(name.into(), (kind, status.into(), modified));
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl Lister for FakeList {
    fn list(
        &self,
        kind: ListKind,
        contains: &str,
        after: Option<SystemTime>,
        token: Option<String>,
    ) -> BoxFuture<'_, Result<Page, (bool, String)>> {
        self.calls
            .lock()
            .unwrap()
            .push((kind, contains.to_string(), after, Instant::now()));
        let failing = self.failing.lock().unwrap().pop();
        let matching: Vec<Summary> = self
            .jobs
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, (k, _, modified))| {
                *k == kind && name.contains(contains) && after.is_none_or(|a| *modified > a)
            })
            .map(|(name, (_, status, _))| Summary {
                name: name.clone(),
                status: status.clone(),
            })
            .collect();
        Box::pin(async move {
            if let Some(e) = failing {
                return Err(e);
            }
            let start: usize = token.as_deref().map_or(0, |t| t.parse().unwrap());
            let end = (start + self.page).min(matching.len());
            let next = (end < matching.len()).then(|| end.to_string());
            Ok((matching[start..end].to_vec(), next))
        })
    }
}

const RUN: &str = "20261125-034751-ab12";
const FALLBACK: Duration = Duration::from_secs(2);
const SAFETY: Duration = Duration::from_secs(300);

fn job(n: u32) -> String {
    format!("fan-step{n}-{RUN}-1")
}

#[tokio::test(start_paused = true)]
async fn a_job_is_seen_running_then_ended_about_one_interval_after_it_ends() {
    let fake = FakeList::new(100);
    let watcher = Watcher::new(fake.clone(), Duration::from_secs(1));
    fake.set(&job(1), ListKind::Processing, "InProgress");
    let mut sub = watcher.subscribe(StepKind::Step, &job(1), RUN);
    assert!(sub.watched());
    assert_eq!(sub.wait(FALLBACK, SAFETY).await, Wake::Seen(JobState::Running));

    tokio::time::sleep(Duration::from_secs(10)).await;
    fake.set(&job(1), ListKind::Processing, "Completed");
    let ended_at = Instant::now();
    assert_eq!(sub.wait(FALLBACK, SAFETY).await, Wake::Seen(JobState::Completed));
    assert!(
        ended_at.elapsed() <= Duration::from_millis(1001),
        "{:?}",
        ended_at.elapsed()
    );

    // After the end, a further wait is a retry of the Describe, at the poll delay.
    let before = Instant::now();
    assert_eq!(sub.wait(FALLBACK, SAFETY).await, Wake::Describe);
    assert_eq!(before.elapsed(), FALLBACK);
}

#[tokio::test(start_paused = true)]
async fn one_list_a_second_covers_every_job_of_the_run_page_by_page() {
    let fake = FakeList::new(2);
    let watcher = Watcher::new(fake.clone(), Duration::from_secs(1));
    let mut subs = Vec::new();
    for n in 0..5 {
        fake.set(&job(n), ListKind::Processing, "InProgress");
        subs.push(watcher.subscribe(StepKind::Step, &job(n), RUN));
    }
    // Another run's job is never asked about.
    fake.set("fan-step0-20261125-000000-ffff-1", ListKind::Processing, "InProgress");
    for sub in &mut subs {
        assert_eq!(sub.wait(FALLBACK, SAFETY).await, Wake::Seen(JobState::Running));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let calls = fake.calls();
    assert!(calls.iter().all(|c| c.0 == ListKind::Processing && c.1 == RUN));
    // The first list is a full one: five jobs, three pages.
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls.iter().all(|c| c.2.is_none()), "{calls:?}");
    // Later ones ask for what changed since the previous one, less a minute
    // of overlap: for a minute the five come back (three pages a second),
    // then nothing (one empty page a second).
    tokio::time::sleep(Duration::from_secs(60)).await;
    let minute = fake.calls().len() - 3;
    assert!((170..=190).contains(&minute), "{minute} calls in the first minute");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let later = fake.calls().len() - 3 - minute;
    assert!((9..=11).contains(&later), "{later} calls in ten quiet seconds");
    assert!(fake.calls()[3..].iter().all(|c| c.2.is_some()));
}

#[tokio::test(start_paused = true)]
async fn a_ten_minute_job_is_described_at_most_twice_while_watched() {
    let fake = FakeList::new(100);
    let watcher = Watcher::new(fake.clone(), Duration::from_secs(1));
    fake.set(&job(1), ListKind::Training, "InProgress");
    let start = Instant::now();
    let mut sub = watcher.subscribe(StepKind::Train, &job(1), RUN);
    let ender = {
        let fake = fake.clone();
        tokio::spawn(async move {
            // Not on a whole second: the List (every second) and the safety
            // timer (every 300 s) would tie, and either may win.
            tokio::time::sleep(Duration::from_millis(598_500)).await;
            fake.set(&job(1), ListKind::Training, "Failed");
        })
    };
    // What wait_for_end does: describe on a timer or when the job is seen to end.
    let mut describes = 0;
    loop {
        match sub.wait(FALLBACK, SAFETY).await {
            Wake::Seen(state) if !has_ended(&state) => continue,
            Wake::Seen(_) => {
                describes += 1;
                break;
            }
            _ => describes += 1,
        }
    }
    ender.await.unwrap();
    let lag = start.elapsed() - Duration::from_millis(598_500);
    assert!(lag <= Duration::from_secs(1), "seen {lag:?} after the end");
    // One on the safety timer (at 300 s) and one at the end; with the
    // Describe before Create, three in all, against the goal's 30.
    assert_eq!(describes, 2);
    let lists = fake.calls().len();
    assert!((595..=605).contains(&lists), "{lists} List calls in ten minutes");
}

#[tokio::test(start_paused = true)]
async fn a_job_that_ended_before_it_was_followed_is_seen_by_the_full_list() {
    let fake = FakeList::new(100);
    let watcher = Watcher::new(fake.clone(), Duration::from_secs(1));
    let long_ago = SystemTime::now() - Duration::from_secs(3600);
    fake.set(&job(2), ListKind::Processing, "InProgress");
    let mut running = watcher.subscribe(StepKind::Step, &job(2), RUN);
    assert_eq!(running.wait(FALLBACK, SAFETY).await, Wake::Seen(JobState::Running));
    tokio::time::sleep(Duration::from_secs(5)).await;
    // Re-attached to a job that ended an hour ago: no time filter would find it.
    fake.set_at(&job(3), ListKind::Processing, "Completed", long_ago);
    let mut reattached = watcher.subscribe(StepKind::Step, &job(3), RUN);
    let before = Instant::now();
    assert_eq!(reattached.wait(FALLBACK, SAFETY).await, Wake::Seen(JobState::Completed));
    assert!(before.elapsed() <= Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn throttled_lists_back_off_and_failing_ones_hand_waiters_back_to_describing() {
    let fake = FakeList::new(100);
    let watcher = Watcher::new(fake.clone(), Duration::from_secs(1));
    fake.set(&job(1), ListKind::Processing, "InProgress");
    {
        let mut failing = fake.failing.lock().unwrap();
        // Popped from the end: three throttled, then five denied.
        for _ in 0..5 {
            failing.push((false, "AccessDeniedException: no sagemaker:ListProcessingJobs".into()));
        }
        for _ in 0..3 {
            failing.push((true, "ThrottlingException: Rate exceeded".into()));
        }
    }
    let mut sub = watcher.subscribe(StepKind::Step, &job(1), RUN);
    let wake = sub.wait(FALLBACK, SAFETY).await;
    assert!(
        matches!(&wake, Wake::Lost(why) if why.contains("AccessDenied")),
        "{wake:?}"
    );
    let times: Vec<Instant> = fake.calls().iter().map(|c| c.3).collect();
    let gaps: Vec<u64> = times.windows(2).map(|w| (w[1] - w[0]).as_secs()).collect();
    assert_eq!(
        gaps,
        vec![2, 4, 8, 1, 1, 1, 1],
        "throttled: doubling; errors: every interval"
    );
    // From now on the waiter keeps time itself, and later subscribers are not watched.
    let before = Instant::now();
    assert_eq!(sub.wait(FALLBACK, SAFETY).await, Wake::Describe);
    assert_eq!(before.elapsed(), FALLBACK);
    let mut later = watcher.subscribe(StepKind::Step, &job(2), RUN);
    assert!(matches!(later.wait(FALLBACK, SAFETY).await, Wake::Lost(_)));
    assert!(watcher.followed().is_empty());
}

#[tokio::test(start_paused = true)]
async fn unwatched_kinds_and_a_zero_interval_poll_on_the_fallback_delay() {
    let fake = FakeList::new(100);
    let off = Watcher::new(fake.clone(), Duration::ZERO);
    let mut sub = off.subscribe(StepKind::Step, &job(1), RUN);
    assert!(!sub.watched());
    let on = Watcher::new(fake.clone(), Duration::from_secs(1));
    let mut transform = on.subscribe(StepKind::Transform, &job(2), RUN);
    assert!(!transform.watched());
    let before = Instant::now();
    assert_eq!(sub.wait(FALLBACK, SAFETY).await, Wake::Describe);
    assert_eq!(transform.wait(FALLBACK, SAFETY).await, Wake::Describe);
    assert_eq!(before.elapsed(), FALLBACK * 2);
    assert!(fake.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_subscription_is_no_longer_listed_and_the_watcher_rests() {
    let fake = FakeList::new(100);
    let watcher = Watcher::new(fake.clone(), Duration::from_secs(1));
    fake.set(&job(1), ListKind::Processing, "InProgress");
    let mut sub = watcher.subscribe(StepKind::Step, &job(1), RUN);
    sub.wait(FALLBACK, SAFETY).await;
    drop(sub);
    assert!(watcher.followed().is_empty());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls = fake.calls().len();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(fake.calls().len(), calls, "no list without a job to follow");
    assert!(!watcher.lock().running);
}
