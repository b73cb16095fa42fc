//! Shared helpers for the CLI tests: one builder for the `wharf` command
//! and paths to the example pipelines.
#![allow(dead_code)]

use assert_cmd::Command;
use std::path::PathBuf;

/// `wharf` run from the repository root, with colour and logs quiet.
pub fn wharf() -> Command {
    let mut cmd = Command::cargo_bin("wharf").expect("the wharf binary is built");
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("WHARF_LOG")
        .env_remove("WHARF_SAGEMAKER_ROLE")
        // The project settings a developer's shell or a CI job may hold.
        .env_remove("WHARF_TARGET")
        .env_remove("WHARF_STATE_DIR")
        .env_remove("WHARF_LOG_FORMAT")
        .env_remove("WHARF_COLOR")
        .env_remove("CLICOLOR_FORCE");
    cmd
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn pipeline(name: &str) -> String {
    format!("pipelines/{name}.wharf")
}

/// Every `.wharf` file below `pipelines/`, sub-folders included (an example
/// such as `pipelines/sklearn/` keeps its image's files beside its pipeline),
/// as `wharf check` with no path finds them; sorted.
pub fn example_pipeline_files() -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable folder").flatten() {
            let path = entry.path();
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if path.is_dir() {
                if !hidden {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "wharf") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("pipelines"), &mut files);
    files.sort();
    files
}

/// Writes `text` to a fresh temporary folder and returns (folder, file path).
pub fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("writable temporary folder");
    (dir, path)
}

pub fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub mod docker;
pub mod history;
pub mod moto;
pub mod registry;

/// Polls `probe` every 200 ms until it answers; panics after `limit`.
pub fn wait_for<T>(what: &str, limit: std::time::Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `wait_for`, but a wharf that has already exited fails the test with its
/// output rather than a timeout.
pub fn wait_for_job<T>(child: &mut std::process::Child, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("wharf exited ({status}) before {what}:\n{err}");
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(90),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// `wharf show last --format json` in `dir`.
pub fn show_last(dir: &std::path::Path) -> serde_json::Value {
    let out = wharf_in(dir)
        .args(["show", "last", "--format", "json"])
        .output()
        .expect("wharf show runs");
    serde_json::from_slice(&out.stdout).expect("show prints JSON")
}

/// Waits for a spawned `wharf`: (exit code, stderr).
pub fn finish(child: std::process::Child) -> (Option<i32>, String) {
    let out = child.wait_with_output().expect("wharf ran");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `wharf` run in `dir` (where it looks for `.wharf/`), with times shown in UTC.
pub fn wharf_in(dir: &std::path::Path) -> Command {
    let mut cmd = wharf();
    cmd.current_dir(dir).env("TZ", "UTC");
    cmd
}

/// The folder output `output` of `step` was collected into, in the last run
/// recorded in `project`'s `.wharf/` (from `wharf show last --format json`).
pub fn output_dir(project: &std::path::Path, step: &str, output: &str) -> PathBuf {
    let out = wharf_in(project)
        .args(["show", "last", "--format", "json"])
        .output()
        .expect("wharf show runs");
    let show: serde_json::Value = serde_json::from_slice(&out.stdout).expect("show prints JSON");
    let uri = show["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["step"] == step))
        .and_then(|s| s["artifacts"].as_array())
        .and_then(|a| a.iter().find(|a| a["output"] == output))
        .and_then(|a| a["folder"].as_str())
        .unwrap_or_else(|| panic!("no artifact {step}.{output} in {show:#}"))
        .to_string();
    PathBuf::from(uri.strip_prefix("file://").expect("a local artifact"))
}

/// One HTTP/1.1 exchange with 127.0.0.1:`port`, written by hand so that a
/// test of wharf's serving does not trust wharf's own client: (status, body).
pub fn http(port: u16, method: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the server accepts connections");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("a timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("the request is sent");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
