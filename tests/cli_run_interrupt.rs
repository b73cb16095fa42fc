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

/// A pipeline of one step that sleeps `seconds` (a number no other test
/// uses, so `/proc` finds this test's processes), in its own project folder.
fn sleeper(seconds: u32, trap: &str) -> tempfile::TempDir {
    project(&format!(
        r#"pipeline p {{
  param secs : int = {seconds}
  step nap {{ command = ["sh", "-c", "{trap} sleep ${{params.secs}} & wait"] }}
}}
target local {{ backend = process }}
"#
    ))
}

fn marker_seconds(salt: u32) -> u32 {
    200_000 + (std::process::id() * 7 + salt) % 100_000
}

fn show_json(dir: &Path) -> serde_json::Value {
    let out = wharf()
        .current_dir(dir)
        .args(["show", "last", "--format", "json"])
        .output()
        .expect("runs");
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn a_killed_run_is_abandoned_and_the_next_command_stops_what_it_left() {
    let seconds = marker_seconds(1);
    let marker = format!("sleep {seconds}");
    let dir = sleeper(seconds, "");
    let mut child = spawn_run(dir.path(), &[]);
    wait_until("the step to start", Duration::from_secs(30), || {
        !processes_with(&marker).is_empty()
    });
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    assert!(!processes_with(&marker).is_empty(), "kill -9 left the step running");

    let out = wharf()
        .current_dir(dir.path())
        .args(["runs", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(runs["runs"][0]["status"], "abandoned", "{runs}");
    assert!(stderr_of(&out).contains("was abandoned"), "{}", stderr_of(&out));
    wait_until("the abandoned step to be gone", Duration::from_secs(10), || {
        processes_with(&marker).is_empty()
    });
    let show = show_json(dir.path());
    assert_eq!(show["steps"][0]["status"], "cancelled", "{show}");
    assert_eq!(show["steps"][0]["attempts"][0]["status"], "cancelled", "{show}");
}

#[test]
fn a_plain_run_after_kill_9_stops_the_old_steps_first() {
    let seconds = marker_seconds(2);
    let marker = format!("sleep {seconds}");
    let dir = sleeper(seconds, "");
    let mut child = spawn_run(dir.path(), &[]);
    wait_until("the step to start", Duration::from_secs(30), || {
        !processes_with(&marker).is_empty()
    });
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let out = wharf()
        .current_dir(dir.path())
        .args(["run", "p.wharf", "-p", "secs=0"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        processes_with(&marker).is_empty(),
        "the killed run's step still runs beside the new run"
    );
}

#[test]
fn signals_are_heard_when_stderr_is_closed() {
    // `wharf run ... 2>&1 | head -2`: the reader goes away after two lines.
    let seconds = marker_seconds(3);
    let marker = format!("sleep {seconds}");
    let dir = sleeper(seconds, "");
    let mut child = spawn_run(dir.path(), &[]);
    let stderr = child.stderr.take().expect("piped");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let _ = lines.next();
    let _ = lines.next();
    drop(lines);
    wait_until("the step to start", Duration::from_secs(30), || {
        !processes_with(&marker).is_empty()
    });
    signal(child.id(), "-TERM");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert_eq!(status.code(), Some(130));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "SIGTERM was not heard: wharf still runs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(processes_with(&marker).is_empty(), "the step was stopped");
    assert_eq!(show_json(dir.path())["run"]["status"], "cancelled");
}

#[test]
fn two_signals_at_once_are_one_interruption() {
    // `timeout -s INT` signals wharf, then its whole process group: two
    // SIGINTs at once. The step gets its SIGTERM and its grace period.
    let seconds = marker_seconds(4);
    let dir = sleeper(seconds, "trap 'echo stopped > stopped; exit 0' TERM;");
    let out = Command::new("timeout")
        .args(["-s", "INT", "2"])
        .arg(assert_cmd::cargo::cargo_bin("wharf"))
        .args(["run", "p.wharf"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("timeout runs");
    let err = stderr_of(&out);
    let show = show_json(dir.path());
    assert_eq!(show["run"]["status"], "cancelled", "{err}\n{show}");
    assert!(
        dir.path().join("stopped").exists(),
        "the step was stopped gracefully (its TERM trap ran): {err}"
    );
    assert!(!err.contains("interrupted again"), "{err}");
}

#[test]
fn a_second_interrupt_later_stops_everything_at_once_and_records_it() {
    // The step ignores SIGTERM, and has 60 s to stop: the first Ctrl-C
    // would wait that long; the second one does not.
    let seconds = marker_seconds(5);
    let marker = format!("sleep {seconds}");
    let dir = sleeper(seconds, "trap '' TERM;");
    let child = spawn_run(dir.path(), &["--stop-grace", "60s"]);
    wait_until("the step to start", Duration::from_secs(30), || {
        !processes_with(&marker).is_empty()
    });
    signal(child.id(), "-INT");
    std::thread::sleep(Duration::from_millis(2500));
    signal(child.id(), "-INT");
    let start = Instant::now();
    let (code, err) = finish(child);
    assert_eq!(code, Some(130), "{err}");
    assert!(start.elapsed() < Duration::from_secs(15), "{err}");
    assert!(err.contains("waiting for the step to stop"), "{err}");
    assert!(err.contains("interrupted again"), "{err}");
    wait_until("the step to be gone", Duration::from_secs(5), || {
        processes_with(&marker).is_empty()
    });
    let show = show_json(dir.path());
    assert_eq!(show["run"]["status"], "cancelled", "{show}");
    assert_eq!(show["steps"][0]["attempts"][0]["status"], "cancelled", "{show}");
}

/// Counts of each step's executions: every execution appends the step's
/// name to `count`, outside `.wharf/`.
fn executions(count: &Path) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(count).unwrap_or_default().lines() {
        *out.entry(line.to_string()).or_insert(0) += 1;
    }
    out
}

/// The steps recorded as succeeded in the newest run, read straight from
/// the database (a wharf command would clean up first), and that the
/// database passes `PRAGMA integrity_check`.
fn succeeded_and_intact(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("db opens");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(check, "ok", "integrity_check");
    let mut stmt = conn
        .prepare(
            "SELECT step FROM steps WHERE status = 'succeeded'
             AND run = (SELECT id FROM runs ORDER BY started_ms DESC, id DESC LIMIT 1)",
        )
        .expect("query");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn crash_trial_kill_9_at_random_moments_then_resume() {
    // Twelve trials (about 20 s): a run killed at a random moment (and
    // sometimes its resume too), then resumed to the end. A step recorded
    // as finished never runs again (the cache is off: resume alone must
    // keep it), and the database is intact after every kill.
    let dir = tempfile::tempdir().expect("temp dir");
    let count = dir.path().join("count");
    let step = |name: &str, inputs: &str| {
        format!(
            r#"  step {name} {{
    command = ["sh", "-c", "echo {name} >> {count}; sleep 0.$(( $$ % 3 + 1 )); echo {name} > \"$WHARF_OUTPUT_OUT/x\""]
    {inputs}
    outputs {{ out = dir() }}
    cache   = off
  }}
"#,
            count = count.display()
        )
    };
    let pipeline = format!(
        "pipeline p {{\n{}{}{}{}{}}}\ntarget local {{ backend = process }}\n",
        step("a", ""),
        step("b", "inputs { x = a.out }"),
        step("c", "inputs { x = a.out }"),
        step("d", "inputs { b = b.out, c = c.out }"),
        step("e", "inputs { d = d.out }"),
    );
    std::fs::write(dir.path().join("p.wharf"), pipeline).expect("write");
    let db = dir.path().join(".wharf/state.db");
    let mut seed = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
    let mut random = |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    for trial in 0..12 {
        // The steps finished at each kill, and how often each had run then.
        let mut finished: Vec<(Vec<String>, std::collections::BTreeMap<String, usize>)> = Vec::new();
        for k in 0..1 + random(2) {
            let mut child = spawn_run(dir.path(), if k == 0 { &[] } else { &["--resume"] });
            std::thread::sleep(Duration::from_millis(50 + random(900)));
            let _ = child.kill();
            let _ = child.wait();
            if db.exists() {
                finished.push((succeeded_and_intact(&db), executions(&count)));
            }
        }
        let out = wharf()
            .current_dir(dir.path())
            .args(["run", "p.wharf", "--resume"])
            .output()
            .expect("runs");
        let err = stderr_of(&out);
        // Killed before it recorded anything, or after it ended: nothing to resume.
        assert!(
            out.status.code() == Some(0) || err.contains("no earlier run"),
            "trial {trial}: the resumed run did not finish: {err}"
        );
        let after = executions(&count);
        for (done, then) in &finished {
            for step in done {
                assert_eq!(
                    then.get(step),
                    after.get(step),
                    "trial {trial}: `{step}` had finished before a kill and ran again\n{err}"
                );
            }
        }
        let _ = succeeded_and_intact(&db);
    }
}

#[test]
fn stop_asks_a_live_run_to_stop_as_ctrl_c_would() {
    let seconds = marker_seconds(6);
    let marker = format!("sleep {seconds}");
    let dir = sleeper(seconds, "");
    let child = spawn_run(dir.path(), &[]);
    wait_until("the step to start", Duration::from_secs(30), || {
        !processes_with(&marker).is_empty()
    });
    let out = wharf()
        .current_dir(dir.path())
        .args(["stop", "last"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("asked wharf"), "{}", stderr_of(&out));
    let (code, err) = finish(child);
    assert_eq!(code, Some(130), "{err}");
    assert!(processes_with(&marker).is_empty());
    assert_eq!(show_json(dir.path())["run"]["status"], "cancelled");
}
