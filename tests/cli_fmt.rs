//! `wharf fmt`: rewrites in place atomically, `--check` lists, comments survive.

mod common;
use common::*;

const MESSY: &str = "# header comment\npipeline p{param  x:int=1 # the x\nstep s{command=[\"echo\",\"${params.x}\"]\n  # before outputs\n outputs{out=dir()}}}\ntarget t{backend=process}";

#[test]
fn check_lists_unformatted_files_and_exits_one() {
    let (_dir, path) = temp_file("messy.wharf", MESSY);
    let out = wharf().args(["fmt", "--check"]).arg(&path).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout_of(&out).contains("messy.wharf"));
    assert_eq!(
        std::fs::read_to_string(&path).expect("file"),
        MESSY,
        "--check writes nothing"
    );
}

#[test]
fn fmt_rewrites_keeps_comments_and_is_idempotent() {
    let (_dir, path) = temp_file("messy.wharf", MESSY);
    let out = wharf().arg("fmt").arg(&path).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let once = std::fs::read_to_string(&path).expect("file");
    for comment in ["# header comment", "# the x", "# before outputs"] {
        assert!(once.contains(comment), "{comment} lost:\n{once}");
    }
    assert!(once.contains("  param x : int = 1"), "{once}");
    let out = wharf().args(["fmt", "--check"]).arg(&path).output().expect("runs");
    assert!(out.status.success(), "formatted output is stable:\n{once}");
    let out = wharf().args(["check"]).arg(&path).output().expect("runs");
    assert!(
        out.status.success(),
        "formatted output still checks: {}",
        stderr_of(&out)
    );
}

#[test]
fn every_example_pipeline_formats_idempotently() {
    for path in example_pipeline_files() {
        let out = wharf().args(["fmt", "--stdout"]).arg(&path).output().expect("runs");
        assert!(out.status.success(), "{}: {}", path.display(), stderr_of(&out));
        let once = stdout_of(&out);
        let (_dir, copy) = temp_file("copy.wharf", &once);
        let out = wharf().args(["fmt", "--stdout"]).arg(&copy).output().expect("runs");
        assert_eq!(stdout_of(&out), once, "{} is not idempotent", path.display());
    }
}

#[test]
fn a_file_that_does_not_parse_is_left_untouched() {
    let broken = "pipeline p { step s { command = [\"a\" }";
    let (_dir, path) = temp_file("broken.wharf", broken);
    let out = wharf().arg("fmt").arg(&path).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("syntax-error"));
    assert_eq!(std::fs::read_to_string(&path).expect("file"), broken);
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir")).expect("dir").collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
}

/// Every `.wharf` file the project ships is in the canonical style: the
/// examples (sub-folders included) and the standard library. The
/// diagnostics and broken corpora are left out: they hold layouts on purpose.
#[test]
fn every_shipped_file_passes_fmt_check() {
    let out = wharf()
        .args(["fmt", "--check", "pipelines", "stdlib"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "these files need `wharf fmt`:\n{}{}",
        stdout_of(&out),
        stderr_of(&out)
    );
    let out = wharf().args(["check", "stdlib"]).output().expect("runs");
    assert!(out.status.success(), "the standard library checks: {}", stderr_of(&out));
}

#[test]
fn check_diff_prints_a_unified_diff_and_writes_nothing() {
    let (_dir, path) = temp_file("messy.wharf", MESSY);
    let out = wharf()
        .args(["fmt", "--check", "--diff"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let diff = stdout_of(&out);
    let name = path.display().to_string();
    assert!(
        diff.starts_with(&format!("--- {name}\n+++ {name}\n@@ -1,")),
        "a unified diff naming the file:\n{diff}"
    );
    assert!(diff.contains("\n-pipeline p{param  x:int=1 # the x\n"), "{diff}");
    assert!(diff.contains("\n+  param x : int = 1  # the x\n"), "{diff}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("file"),
        MESSY,
        "--diff writes nothing"
    );

    // Applying the diff gives what `fmt` writes.
    let formatted = wharf().args(["fmt", "--stdout"]).arg(&path).output().expect("runs");
    assert_eq!(apply(MESSY, &diff), stdout_of(&formatted));

    // A formatted file has no diff.
    let (_dir, clean) = temp_file("clean.wharf", &stdout_of(&formatted));
    let out = wharf()
        .args(["fmt", "--check", "--diff"])
        .arg(&clean)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_of(&out), "");
}

#[test]
fn diff_needs_check() {
    let (_dir, path) = temp_file("messy.wharf", MESSY);
    let out = wharf().args(["fmt", "--diff"]).arg(&path).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert_eq!(std::fs::read_to_string(&path).expect("file"), MESSY);
}

/// Applies a unified diff of one file to `text` (hunks in order, as `patch`
/// does for a diff made from this very text).
fn apply(text: &str, diff: &str) -> String {
    let old: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut next = 0; // the next line of `old` not yet copied
    let mut last_mark = " ";
    let mut lines = diff.split_inclusive('\n').skip(2).peekable();
    while let Some(header) = lines.next() {
        let start: usize = header
            .trim_start_matches("@@ -")
            .split([',', ' '])
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a hunk header");
        let start = start.max(1) - 1;
        out.extend(old[next..start].iter().copied());
        next = start;
        while let Some(line) = lines.peek().copied() {
            if line.starts_with("@@") {
                break;
            }
            lines.next();
            if line.starts_with('\\') {
                // "\ No newline at end of file": the line before has none
                // (it matters only when that line is kept or added).
                if last_mark != "-" && out.ends_with('\n') {
                    out.pop();
                }
                continue;
            }
            let (mark, body) = line.split_at(1);
            last_mark = mark;
            match mark {
                " " => {
                    out.push_str(body);
                    next += 1;
                }
                "-" => next += 1,
                "+" => out.push_str(body),
                _ => panic!("not a diff line: {line:?}"),
            }
        }
    }
    out.extend(old[next..].iter().copied());
    out
}
