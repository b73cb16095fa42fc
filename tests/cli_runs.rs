//! `wharf runs`: the history table newest first, JSON, `--limit`, an empty
//! or missing history, and databases it cannot read.

mod common;
use common::history::*;
use common::*;

#[test]
fn runs_text_lists_newest_first_in_local_time() {
    let h = History::churn();
    let out = h.wharf().arg("runs").output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    insta::assert_snapshot!(stdout_of(&out));
    assert_eq!(stderr_of(&out), "", "all runs shown: no note about --limit");
}

#[test]
fn limit_keeps_the_newest_and_says_there_are_more() {
    let h = History::churn();
    let out = h.wharf().args(["runs", "--limit", "2"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(stdout.contains(RUNNING_RUN) && stdout.contains(FAILED_RUN), "{stdout}");
    assert!(!stdout.contains(OLD_RUN), "{stdout}");
    assert!(stderr_of(&out).contains("--limit N"), "{}", stderr_of(&out));

    let out = h.wharf().args(["runs", "--limit", "0"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "a limit of 0 is a usage error");
}

#[test]
fn runs_json_has_records_and_durations() {
    let h = History::churn();
    let out = h.wharf().args(["runs", "--format", "json"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let runs = json["runs"].as_array().expect("a list of runs");
    let ids: Vec<&str> = runs.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, [RUNNING_RUN, FAILED_RUN, OLD_RUN]);
    assert_eq!(runs[0]["status"], "running");
    assert_eq!(runs[0]["duration_ms"], serde_json::Value::Null);
    assert_eq!(runs[1]["status"], "failed");
    assert_eq!(runs[1]["duration_ms"], 66_400);
    assert_eq!(runs[1]["started_ms"], DAY_2);
    assert_eq!(runs[1]["params"]["max_depth"], 6);
    assert_eq!(runs[1]["file"], "pipelines/churn.wharf");
}

#[test]
fn no_history_is_a_friendly_line_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = wharf_in(dir.path()).arg("runs").output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).starts_with("no runs yet"), "{}", stdout_of(&out));
    assert!(
        !dir.path().join(".wharf").exists(),
        "reading history must not create .wharf/"
    );

    let out = wharf_in(dir.path())
        .args(["runs", "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json, serde_json::json!({"runs": []}));

    let h = History::empty();
    let out = h.wharf().arg("runs").output().expect("runs");
    assert!(out.status.success());
    assert!(stdout_of(&out).starts_with("no runs yet"), "{}", stdout_of(&out));
}

#[test]
fn a_corrupt_database_names_the_file_and_what_to_do() {
    let h = History::churn();
    h.corrupt();
    let out = h.wharf().arg("runs").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(stderr.contains(".wharf/state.db"), "{stderr}");
    assert!(
        stderr.contains("damaged") && stderr.contains("move it aside"),
        "{stderr}"
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = newer_schema();
    let out = wharf_in(dir.path()).arg("runs").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains(".wharf/state.db") && stderr.contains("newer wharf"),
        "{stderr}"
    );
    assert!(stderr.contains("upgrade wharf"), "{stderr}");
}

#[test]
fn started_is_in_the_local_time_zone() {
    let h = History::churn();
    // A POSIX zone string needs no tz database: one hour east of UTC.
    let out = h.wharf().arg("runs").env("TZ", "CET-1").output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout_of(&out).contains("2026-11-25 15:30:12"), "{}", stdout_of(&out));
}
