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
        .env_remove("WHARF_SAGEMAKER_ROLE");
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

/// `wharf` run in `dir` (where it looks for `.wharf/`), with times shown in UTC.
pub fn wharf_in(dir: &std::path::Path) -> Command {
    let mut cmd = wharf();
    cmd.current_dir(dir).env("TZ", "UTC");
    cmd
}
