//! `wharf logs`: an attempt's log file as it is (the last attempt by
//! default), `--attempt`, `--follow` on a log that grows while the attempt
//! runs, and the errors for steps, attempts and logs that are not there.

mod common;
use common::history::*;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use wharf_runtime::state::{AttemptRecord, StepStatus};

#[test]
fn prints_the_last_attempt_by_default() {
    let h = History::churn();
    let out = h.wharf().args(["logs", FAILED_RUN, "fit"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "epoch 1/3\nValueError: bad depth\n");

    let out = h
        .wharf()
        .args(["logs", "20261125-14", "fit", "--attempt", "1"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "epoch 1/3\nKilled\n");

    let out = h.wharf().args(["logs", "last", "prepare"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "starting\n");
}

#[test]
fn bytes_are_printed_as_they_are() {
    let mut h = History::churn();
    let log = h.attempt(OLD_RUN, "prepare", 2, StepStatus::Succeeded, None, Some(""));
    std::fs::write(&log, b"caf\xe9 latin-1\r\nno newline at the end").expect("log written");
    let out = h.wharf().args(["logs", OLD_RUN, "prepare"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"caf\xe9 latin-1\r\nno newline at the end");
}

#[test]
fn unknown_steps_and_attempts_are_usage_errors_with_hints() {
    let h = History::churn();
    let out = h.wharf().args(["logs", FAILED_RUN, "fitt"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("has no step `fitt`") && stderr.contains("did you mean `fit`?"),
        "{stderr}"
    );

    let out = h.wharf().args(["logs", FAILED_RUN, "zzz"]).output().expect("runs");
    assert!(
        stderr_of(&out).contains("its steps are prepare, fit, evaluate, tools"),
        "{}",
        stderr_of(&out)
    );

    let out = h
        .wharf()
        .args(["logs", FAILED_RUN, "fit", "--attempt", "3"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("no attempt 3") && stderr.contains("its attempts are 1, 2"),
        "{stderr}"
    );

    let out = h.wharf().args(["logs", FAILED_RUN, "tools"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("has no log: it was cached (same key as run"),
        "{stderr}"
    );

    let out = h.wharf().args(["logs", "nope", "fit"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("no run `nope`"), "{}", stderr_of(&out));
}

#[test]
fn a_missing_log_file_is_named() {
    let h = History::churn();
    std::fs::remove_file(h.path().join(format!(".wharf/runs/{FAILED_RUN}/fit/2/log"))).expect("removed");
    let out = h.wharf().args(["logs", FAILED_RUN, "fit"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(&format!(".wharf/runs/{FAILED_RUN}/fit/2/log")),
        "{stderr}"
    );
}

#[test]
fn without_history_or_with_a_broken_database_logs_exits_2() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = wharf_in(dir.path())
        .args(["logs", "last", "fit"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("does not exist"), "{}", stderr_of(&out));

    let h = History::churn();
    h.corrupt();
    let out = h.wharf().args(["logs", "last", "fit"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("state.db is damaged"), "{}", stderr_of(&out));

    let dir = newer_schema();
    let out = wharf_in(dir.path())
        .args(["logs", "last", "fit"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("newer wharf"), "{}", stderr_of(&out));
}

#[test]
fn follow_on_a_finished_attempt_prints_it_and_returns() {
    let h = History::churn();
    let out = h
        .wharf()
        .args(["logs", FAILED_RUN, "fit", "--follow"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "epoch 1/3\nValueError: bad depth\n");
    assert!(
        stderr_of(&out).contains("attempt 2 of `fit` failed: exit code 3"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn follow_prints_new_lines_until_the_attempt_is_no_longer_running() {
    let mut h = History::churn();
    let log = h.path().join(format!(".wharf/runs/{RUNNING_RUN}/prepare/1/log"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["logs", RUNNING_RUN, "prepare", "--follow"])
        .current_dir(h.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wharf starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let next = || {
        received
            .recv_timeout(Duration::from_secs(20))
            .expect("a line within 20 s")
    };
    let append = |text: &str| {
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).expect("log opens");
        file.write_all(text.as_bytes()).expect("log appended");
    };

    assert_eq!(next(), "starting");
    append("step 1 of 2\n");
    assert_eq!(next(), "step 1 of 2", "a line written while following is printed");
    // The last line lands just before the state store says the attempt is over.
    append("done\n");
    h.put_attempt(AttemptRecord {
        run: RUNNING_RUN.into(),
        step: "prepare".into(),
        attempt: 1,
        status: StepStatus::Succeeded,
        exit_code: Some(0),
        error: None,
        started_ms: DAY_2_LATER,
        finished_ms: Some(DAY_2_LATER + 5_000),
        log_path: Some(format!(".wharf/runs/{RUNNING_RUN}/prepare/1/log")),
        handle: Some("pid 1001".into()),
    });
    assert_eq!(next(), "done");

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("`logs --follow` did not stop after the attempt succeeded");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    assert!(
        received.recv_timeout(Duration::from_secs(5)).is_err(),
        "nothing after the last line"
    );
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).expect("stderr");
    }
    assert_eq!(stderr, "attempt 1 of `prepare` succeeded\n");
}
