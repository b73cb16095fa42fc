//! The plain progress lines and the end-of-run summary, as snapshots; the
//! live view's bookkeeping on a hidden draw target. Times come from a
//! clock that stands still, so no snapshot holds the time of the test run.

use super::*;
use crate::clock::FixedClock;
use std::sync::Arc;
use std::time::Duration;
use wharf_runtime::state::{AttemptRecord, RunStatus, StepRecord};

/// A writer the test can read back after the sink wrote to it.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.0)).into_owned()
    }
}

fn clock() -> Box<FixedClock> {
    let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 25)
        .and_then(|d| d.and_hms_opt(14, 30, 12))
        .expect("a valid date");
    Box::new(FixedClock(at))
}

fn finished(step: &str, status: StepStatus, ms: u64, reason: Option<&str>) -> RunEvent {
    RunEvent::StepFinished {
        step: step.into(),
        status,
        duration: Duration::from_millis(ms),
        reason: reason.map(String::from),
    }
}

fn a_run() -> Vec<RunEvent> {
    let log = |step: &str, line: &str| RunEvent::StepLog {
        step: step.into(),
        line: line.into(),
        stderr: false,
    };
    let started = |step: &str, attempt| RunEvent::StepStarted {
        step: step.into(),
        attempt,
        backend: "process".into(),
    };
    vec![
        RunEvent::RunStarted {
            run: "20261125-143012-a1b2".into(),
            pipeline: "churn".into(),
            target: "local".into(),
            steps: 5,
        },
        finished(
            "tools",
            StepStatus::Cached,
            0,
            Some("same key as run 20261124-090000-ffee"),
        ),
        started("prepare", 1),
        log("prepare", "reading data/churn.csv"),
        finished("prepare", StepStatus::Succeeded, 1_230, None),
        started("fit", 1),
        log("fit", "epoch 1/3"),
        RunEvent::StepRetrying {
            step: "fit".into(),
            attempt: 2,
            delay: Duration::from_secs(4),
            reason: "exit code 137".into(),
        },
        started("fit", 2),
        finished("fit", StepStatus::Failed, 61_000, Some("exit code 3")),
        finished("evaluate", StepStatus::Skipped, 0, Some("`fit` failed")),
        finished("deploy", StepStatus::Skipped, 0, Some("`fit` failed")),
        RunEvent::RunFinished {
            run: "20261125-143012-a1b2".into(),
            status: RunStatus::Failed,
            duration: Duration::from_millis(66_400),
        },
    ]
}

#[test]
fn plain_lines_for_a_run() {
    let buffer = Buffer::default();
    let sink = ProgressSink::plain(Box::new(buffer.clone()), clock());
    for event in a_run() {
        sink.event(event);
    }
    insta::assert_snapshot!(buffer.text());
}

#[test]
fn live_view_keeps_one_spinner_per_running_step() {
    let sink = ProgressSink::live(ProgressDrawTarget::hidden());
    let Mode::Live(live) = &sink.mode else {
        panic!("a live sink");
    };
    let events = a_run();
    for event in &events[..6] {
        sink.event(event.clone());
    }
    assert_eq!(live.running_steps(), ["fit"], "prepare finished, fit runs");
    assert_eq!((live.overall.position(), live.overall.length()), (2, Some(5)));
    for event in &events[6..] {
        sink.event(event.clone());
    }
    assert!(live.running_steps().is_empty());
    assert_eq!(live.overall.position(), 5);
}

#[test]
fn spinner_text_is_what_a_terminal_shows_last() {
    assert_eq!(latest_text("10%\r55%\r"), "55%");
    assert_eq!(latest_text("\u{1b}[32mok\u{1b}[0m\tdone"), "okdone");
}

#[test]
fn lines_above_the_bars_are_cut_to_the_terminal_width() {
    assert_eq!(fit_width("short", 80), ["short"]);
    assert_eq!(fit_width("fit | abcdefgh", 6), ["fit | ", "abcdef", "gh"]);
    assert_eq!(fit_width("\u{1b}[31m訓練\u{1b}[0m\tok", 4), ["訓練", "    ", "ok"]);
    assert_eq!(
        fit_width("訓", 1),
        ["訓"],
        "a character wider than the terminal still prints"
    );
}

fn step(name: &str, status: StepStatus, span: Option<(i64, i64)>, reason: Option<&str>) -> StepRecord {
    StepRecord {
        run: "20261125-143012-a1b2".into(),
        step: name.into(),
        kind: "step".into(),
        backend: "process".into(),
        status,
        cache_key: None,
        reason: reason.map(String::from),
        started_ms: span.map(|s| s.0),
        finished_ms: span.map(|s| s.1),
    }
}

fn attempts(record: &StepRecord, count: u32, last_error: Option<&str>) -> Vec<AttemptRecord> {
    (1..=count)
        .map(|n| AttemptRecord {
            run: record.run.clone(),
            step: record.step.clone(),
            attempt: n,
            status: record.status,
            exit_code: None,
            error: if n == count { last_error.map(String::from) } else { None },
            started_ms: 0,
            finished_ms: None,
            log_path: None,
            handle: None,
        })
        .collect()
}

#[test]
fn summary_of_a_failed_run() {
    let run = RunRecord {
        id: "20261125-143012-a1b2".into(),
        pipeline: "churn".into(),
        file: "pipelines/churn.wharf".into(),
        target: "local".into(),
        params: serde_json::json!({}),
        status: RunStatus::Failed,
        started_ms: 1_000,
        finished_ms: Some(67_400),
    };
    let rows = [
        (
            step(
                "tools",
                StepStatus::Cached,
                None,
                Some("same key as run 20261124-090000-ffee"),
            ),
            0,
            None,
        ),
        (
            step("prepare", StepStatus::Succeeded, Some((1_100, 2_330)), None),
            1,
            None,
        ),
        // No reason of its own: the last attempt's error stands in.
        (
            step("fit", StepStatus::Failed, Some((2_400, 63_400)), None),
            2,
            Some("exit code 3"),
        ),
        (
            step("evaluate", StepStatus::Skipped, None, Some("`fit` failed")),
            0,
            None,
        ),
    ];
    let steps: Vec<StepHistory> = rows
        .into_iter()
        .map(|(record, count, error)| StepHistory {
            attempts: attempts(&record, count, error),
            artifacts: Vec::new(),
            record,
        })
        .collect();
    insta::assert_snapshot!(summary(&run, &steps, &Whereabouts::default()));
}

#[test]
fn summary_says_where_the_outputs_are() {
    let run = RunRecord {
        id: "20261125-143012-a1b2".into(),
        pipeline: "churn".into(),
        file: "pipelines/churn.wharf".into(),
        target: "local".into(),
        params: serde_json::json!({}),
        status: RunStatus::Succeeded,
        started_ms: 1_000,
        finished_ms: Some(4_400),
    };
    let record = step("prepare", StepStatus::Succeeded, Some((1_100, 2_330)), None);
    let steps = [StepHistory {
        attempts: attempts(&record, 1, None),
        artifacts: Vec::new(),
        record,
    }];
    let whereabouts = Whereabouts {
        run_dir: Some(".wharf/runs/20261125-143012-a1b2/".into()),
        exports: vec![("prepare.report".into(), "reports/latest".into())],
        endpoints: vec![("deploy".into(), "http://127.0.0.1:8080/invocations".into())],
    };
    insta::assert_snapshot!(summary(&run, &steps, &whereabouts));
}

/// A terminal 80 columns wide that keeps what is drawn on it, so that the
/// live view really lays its bars out (a hidden target draws nothing).
#[derive(Debug, Default, Clone)]
struct Screen(Arc<Mutex<String>>);

impl indicatif::TermLike for Screen {
    fn width(&self) -> u16 {
        80
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        let mut screen = lock(&self.0);
        screen.push_str(s);
        screen.push('\n');
        Ok(())
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        lock(&self.0).push_str(s);
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_live_view_and_plain_lines_take_names_and_lines_of_any_length() {
    for unit in ["x", "é", "訓", "\u{1b}[31m"] {
        let long = unit.repeat(65_534);
        let events = vec![
            RunEvent::RunStarted {
                run: "r".into(),
                pipeline: long.clone(),
                target: long.clone(),
                steps: 1,
            },
            RunEvent::StepStarted {
                step: long.clone(),
                attempt: 2,
                backend: "process".into(),
            },
            RunEvent::StepLog {
                step: long.clone(),
                line: format!("{long}\r{long}"),
                stderr: false,
            },
            RunEvent::StepRetrying {
                step: long.clone(),
                attempt: 3,
                delay: Duration::from_secs(1),
                reason: long.clone(),
            },
            finished(&long, StepStatus::Failed, 10, Some(&long)),
            RunEvent::RunFinished {
                run: "r".into(),
                status: RunStatus::Failed,
                duration: Duration::from_millis(10),
            },
        ];
        let screen = Screen::default();
        let live = ProgressSink::live(ProgressDrawTarget::term_like_with_hz(Box::new(screen.clone()), 100));
        let buffer = Buffer::default();
        let plain = ProgressSink::plain(Box::new(buffer.clone()), clock());
        for event in events {
            live.event(event.clone());
            // Let the spinner draw with the long name in it.
            std::thread::sleep(Duration::from_millis(15));
            plain.event(event);
        }
        assert!(!lock(&screen.0).is_empty(), "the live view drew");
        assert!(buffer.text().contains(&long), "plain lines keep the whole text");
    }
}

#[test]
fn a_summary_of_steps_with_long_names_and_reasons_renders() {
    let run = RunRecord {
        id: "r".into(),
        pipeline: "p".repeat(65_534),
        file: "p.wharf".into(),
        target: "local".into(),
        params: serde_json::json!({"x": "é".repeat(65_534)}),
        status: RunStatus::Failed,
        started_ms: 0,
        finished_ms: Some(1),
    };
    let name = "訓".repeat(65_534);
    let reason = "é".repeat(65_534);
    let record = step(&name, StepStatus::Failed, Some((0, 1)), Some(&reason));
    let steps = [StepHistory {
        attempts: attempts(&record, 1, None),
        artifacts: Vec::new(),
        record,
    }];
    let text = summary(&run, &steps, &Whereabouts::default());
    assert!(text.contains(&name), "the step's name is whole");
    assert!(
        text.contains(&format!("{}…", "é".repeat(99))),
        "the reason is cut at 100 characters"
    );
    let show = history::show_text(&run, &steps);
    assert!(show.contains(&name));
}
