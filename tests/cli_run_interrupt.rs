//! `wharf run` interrupted: Ctrl-C (SIGINT) cancels and leaves no process
//! behind; `kill -9` of the runner loses nothing that finished, and
//! `--resume` re-runs only what did not.

mod common;
use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn project(pipeline: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("p.wharf"), pipeline).expect("write pipeline");
    dir
}

fn spawn_run(dir: &Path, args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("wharf"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(["run", "p.wharf"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wharf starts")
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(marker)
        {
            found.push(pid);
        }
    }
    found
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[test]
fn sigint_cancels_running_steps_and_leaves_no_process() {
    // A sleep long and odd enough to be this test's own, and findable in /proc.
    let seconds = 100_000 + std::process::id() % 100_000;
    let marker = format!("sleep {seconds}");
    let dir = project(&format!(
        r#"pipeline p {{
  step one {{ command = ["sleep", "{seconds}"] }}
  step two {{ command = ["sh", "-c", "{marker} & {marker}; wait"] }}
}}
target local {{ backend = process }}
"#
    ));
    let mut child = spawn_run(dir.path(), &["--jobs", "2"]);
    // `one`, and `two`'s shell with its two children.
    wait_until("the steps to start", Duration::from_secs(30), || {
        processes_with(&marker).len() >= 4
    });
    signal(child.id(), "-INT");
    let status = child.wait().expect("wharf exits");
    assert_eq!(status.code(), Some(130));
    wait_until("every step process to end", Duration::from_secs(15), || {
        processes_with(&marker).is_empty()
    });
    let out = wharf()
        .current_dir(dir.path())
        .args(["show", "last", "--format", "json"])
        .output()
        .expect("runs");
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(show["run"]["status"], "cancelled", "{show}");
}

#[test]
fn kill_9_loses_nothing_finished_and_resume_runs_the_rest() {
    let dir = project(
        r#"pipeline p {
  step fast {
    command = ["sh", "-c", "echo run >> ../fast.count; echo x > \"$WHARF_OUTPUT_OUT/x\""]
    outputs { out = dir() }
    cache   = off
  }
  step slow {
    command = ["sh", "-c", "echo run >> ../slow.count; [ -e ../released ] || sleep 30; echo y > \"$WHARF_OUTPUT_OUT/y\""]
    inputs  { x = fast.out }
    outputs { out = dir() }
    cache   = off
  }
}
target local { backend = process }
"#,
    );
    // Commands run in the project folder; the counters sit beside it.
    let counters = dir.path().join("work");
    std::fs::create_dir_all(&counters).expect("mkdir");
    std::fs::rename(dir.path().join("p.wharf"), counters.join("p.wharf")).expect("move");
    let project = counters;
    let mut child = spawn_run(&project, &[]);
    wait_until("slow to start", Duration::from_secs(30), || {
        dir.path().join("slow.count").exists()
    });
    signal(child.id(), "-9");
    let _ = child.wait();
    std::fs::write(dir.path().join("released"), "").expect("release");

    let db = rusqlite::Connection::open(project.join(".wharf/state.db")).expect("db opens");
    let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("check");
    assert_eq!(check, "ok");
    drop(db);

    let out = wharf()
        .current_dir(&project)
        .args(["run", "p.wharf", "--resume"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let fast_runs = std::fs::read_to_string(dir.path().join("fast.count"))
        .expect("count")
        .lines()
        .count();
    let slow_runs = std::fs::read_to_string(dir.path().join("slow.count"))
        .expect("count")
        .lines()
        .count();
    assert_eq!(
        fast_runs, 1,
        "the finished step did not run again (its cache is off: resume, not the cache, kept it)"
    );
    assert_eq!(slow_runs, 2, "the interrupted step ran again");
}
