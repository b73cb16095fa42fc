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
