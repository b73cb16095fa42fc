//! `wharf why`: whether a step would come from the cache and, if not, what
//! changed, checked after real runs on the process backend; and how it
//! reports a step, a target or a `-p` that is wrong.

mod common;
use common::*;
use std::path::Path;
use std::process::Output;

const CHAIN: &str = r#"pipeline p {
  param word : string = "hi"
  step make {
    command = ["sh", "-c", "echo ${params.word} > \"$WHARF_OUTPUT_OUT/word.txt\""]
    inputs  { seed = "seed.txt" }
    outputs { out = dir() }
  }
  step shout {
    command = ["sh", "-c", "tr a-z A-Z < \"$WHARF_INPUT_WORD/word.txt\" > \"$WHARF_OUTPUT_OUT/loud.txt\""]
    inputs  { word = make.out }
    outputs { out = dir() }
  }
}
target local { backend = process }
"#;

/// A project holding `p.wharf` and `seed.txt`, run once.
fn project_after_one_run() -> (tempfile::TempDir, String) {
    let (dir, _) = temp_file("p.wharf", CHAIN);
    std::fs::write(dir.path().join("seed.txt"), "1").expect("seed");
    let out = wharf_in(dir.path()).args(["run", "p.wharf"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let run = show_last(dir.path())["run"]["id"]
        .as_str()
        .expect("a run id")
        .to_string();
    (dir, run)
}

fn why(dir: &Path, args: &[&str]) -> Output {
    wharf_in(dir).arg("why").args(args).output().expect("runs")
}

/// The hex digits of a `cache key: ...` line.
fn key_of(stdout: &str) -> &str {
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("cache key: "))
        .unwrap_or_else(|| panic!("no cache key line in {stdout}"));
    assert!(key.len() >= 16 && key.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
    key
}

#[test]
fn a_step_that_ran_would_come_from_the_cache_of_that_run() {
    let (dir, run) = project_after_one_run();
    for step in ["make", "shout"] {
        let out = why(dir.path(), &["p.wharf", step]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        let stdout = stdout_of(&out);
        let mut lines = stdout.lines();
        assert_eq!(
            lines.next(),
            Some(format!("`{step}` would come from the cache: nothing it depends on changed since run {run}").as_str()),
            "{stdout}"
        );
        key_of(&stdout);
        assert_eq!(lines.count(), 1, "nothing but the verdict and the key: {stdout}");
    }
}

#[test]
fn a_changed_input_is_named_with_its_old_and_new_content() {
    let (dir, _) = project_after_one_run();
    let before = stdout_of(&why(dir.path(), &["p.wharf", "make"]));
    std::fs::write(dir.path().join("seed.txt"), "2").expect("seed");
    let out = why(dir.path(), &["p.wharf", "make"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "`make` would run:", "{stdout}");
    assert!(
        lines[1].starts_with("  - input `seed` changed: ") && lines[1].contains("… -> "),
        "{stdout}"
    );
    assert_ne!(key_of(&stdout), key_of(&before), "a changed input changes the key");
    assert_eq!(lines.len(), 3, "one reason, then the key: {stdout}");
}

#[test]
fn a_step_that_never_ran_would_run() {
    let (dir, _) = temp_file("p.wharf", CHAIN);
    std::fs::write(dir.path().join("seed.txt"), "1").expect("seed");
    let out = why(dir.path(), &["p.wharf", "make"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let stdout = stdout_of(&out);
    assert!(
        stdout.starts_with("`make` would run:\n  - it has not run before\ncache key: "),
        "{stdout}"
    );
    assert!(!dir.path().join(".wharf").exists(), "why records nothing");
}

#[test]
fn an_unknown_step_is_unknown_step_with_a_suggestion() {
    let (dir, _) = temp_file("p.wharf", CHAIN);
    let out = why(dir.path(), &["p.wharf", "mak"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout_of(&out), "");
    assert_eq!(
        stderr_of(&out).trim_end(),
        "error[unknown-step]: `p.wharf` has no step `mak`\n  = help: did you mean `make`?"
    );
}

#[test]
fn an_unknown_target_and_a_malformed_override_are_diagnostics() {
    let (dir, _) = temp_file("p.wharf", CHAIN);
    let out = why(dir.path(), &["p.wharf", "make", "--target", "locl"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_of(&out).trim_end(),
        "error[unknown-target]: `p.wharf` declares no target `locl`\n  = help: did you mean `local`?"
    );
    let out = why(dir.path(), &["p.wharf", "make", "-p", "word"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_of(&out).trim_end(),
        "error[invalid-override]: `-p word` is not NAME=VALUE\n  = help: for example `-p max_depth=8`"
    );
}
