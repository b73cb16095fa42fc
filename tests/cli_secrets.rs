//! `secret(...)` values never reach a file wharf writes and are masked
//! (`***`) in everything wharf shows of a step: its log, the live view, the
//! failure reason, `wharf logs`. Checked by searching every byte under
//! `.wharf/` and everything wharf printed, on the process backend and
//! against the real Docker engine.

mod common;
use common::docker::{self, BUSYBOX};
use common::*;
use std::path::Path;

const SECRET: &str = "wharf-s3cret-7f3a9c";

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if kind.is_file()
            && let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            found.push(path.display().to_string());
        }
    }
    found
}

fn project(pipeline: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("p.wharf"), pipeline).expect("write pipeline");
    dir
}

/// Runs, then checks that the secret is nowhere: not under `.wharf/`, not
/// in what `run`, `show` and `logs` printed; and that `***` stands in for
/// it where the step printed it.
fn assert_never_leaked(dir: &Path, target: &[&str]) {
    let run = wharf_in(dir)
        .args(["run", "p.wharf"])
        .args(target)
        .env("MY_SECRET", SECRET)
        .env("NO_COLOR", "1")
        .output()
        .expect("wharf runs");
    assert_eq!(run.status.code(), Some(1), "the step fails: {}", stderr_of(&run));
    let show = wharf_in(dir).args(["show", "last"]).output().expect("show");
    let logs = wharf_in(dir).args(["logs", "last", "leak"]).output().expect("logs");
    let printed = [&run, &show, &logs]
        .iter()
        .map(|o| format!("{}{}", stdout_of(o), stderr_of(o)))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!printed.contains(SECRET), "printed: {printed}");
    assert!(!printed.contains("7f3a9c"), "no piece of it either: {printed}");
    let leaked = files_containing(&dir.join(".wharf"), SECRET.as_bytes());
    assert!(leaked.is_empty(), "the secret is in {leaked:?}");
    let log = stdout_of(&logs);
    assert!(log.contains("echo: ***"), "the log masks it: {log}");
    assert!(log.contains("split: ***"), "a value written in two pieces too: {log}");
    assert!(log.contains("stderr: ***"), "{log}");
    assert!(
        stderr_of(&run).contains("leak | echo: ***"),
        "the live view masks it: {}",
        stderr_of(&run)
    );
    assert!(
        stdout_of(&show).contains("***") || stderr_of(&show).contains("***"),
        "the failure reason quotes it masked: {}{}",
        stdout_of(&show),
        stderr_of(&show)
    );
}

/// Echoes the secret whole, in two writes with a pause between them, on
/// stderr, and (in a container) into the message file, then fails.
const SCRIPT: &str = r#"echo \"echo: $MY_SECRET\"; printf 'split: %s' \"$(echo $MY_SECRET | cut -c1-8)\"; sleep 0.3; echo \"$(echo $MY_SECRET | cut -c9-)\"; echo \"stderr: $MY_SECRET\" >&2; if [ -d /opt/ml/processing ]; then printf 'failed with %s' \"$MY_SECRET\" > /opt/ml/output/message; fi; exit 3"#;

#[test]
fn a_secret_is_masked_on_the_process_backend_and_written_nowhere() {
    let dir = project(&format!(
        r#"pipeline p {{
  step leak {{
    command = ["sh", "-c", "{SCRIPT}"]
    env {{ MY_SECRET = secret("MY_SECRET") }}
    outputs {{ out = dir() }}
  }}
}}
"#
    ));
    assert_never_leaked(dir.path(), &[]);
}

#[test]
fn a_secret_is_masked_on_docker_and_stays_out_of_the_job_config() {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let dir = project(&format!(
        r#"pipeline p {{
  step leak {{
    image   = "{BUSYBOX}"
    command = ["sh", "-c", "{SCRIPT}"]
    env {{ MY_SECRET = secret("MY_SECRET"), MODE = "plain" }}
    outputs {{ out = dir() }}
  }}
}}
target local {{ backend = docker }}
"#
    ));
    assert_never_leaked(dir.path(), &["--target", "local"]);
    // The job config is still written, with the plain variables only.
    let configs: Vec<String> = files_containing(&dir.path().join(".wharf"), b"ProcessingJobName");
    assert!(!configs.is_empty(), "processingjobconfig.json is written");
    let show = wharf_in(dir.path()).args(["show", "last"]).output().expect("show");
    let text = format!("{}{}", stdout_of(&show), stderr_of(&show));
    assert!(
        text.contains("failed with ***"),
        "the message file's text, masked: {text}"
    );
}
