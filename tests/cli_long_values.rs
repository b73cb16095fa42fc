//! Long values render everywhere: a param of 65,534 characters (quoted, one
//! past the widest `{:width$}` the standard formatter takes: u16::MAX), in
//! ASCII and in multi-byte characters, through `plan`, `graph`, `check`,
//! `run`, `show`, `runs` and `why`. Each command must exit as usual, never
//! 101. Multi-byte values are the param's default in the file: as a `-p`
//! argument they would pass Linux's 128 KiB limit on one argument.

mod common;
use common::*;

const PIPELINE: &str = r#"pipeline p {
  param note  : string = "@VALUE@"
  param other : int    = 1
  step make {
    image   = "img-${params.note}"
    command = ["sh", "-c", "printf %s \"$NOTE\" | wc -c > \"$WHARF_OUTPUT_OUT/n.txt\""]
    env     { NOTE = params.note }
    outputs { out = dir() }
  }
  step use {
    command = ["sh", "-c", "cat \"$WHARF_INPUT_IN/n.txt\""]
    inputs  { in = make.out }
  } when params.note != ""
}
target local { backend = process }
"#;

/// A project whose `p.wharf` has `note` defaulting to `default`.
fn project(pipeline: &str, default: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("p.wharf"), pipeline.replace("@VALUE@", default)).expect("write pipeline");
    dir
}

/// (project, `-p` arguments, the long value) for each kind of value: ASCII
/// given with `-p`, two- and three-byte characters as the default.
fn cases(pipeline: &str) -> Vec<(tempfile::TempDir, Vec<String>, String)> {
    let ascii = "x".repeat(65_534);
    let mut cases = vec![(
        project(pipeline, "short"),
        vec!["-p".into(), format!("note={ascii}")],
        ascii,
    )];
    for unit in ["é", "訓"] {
        let value = unit.repeat(65_534);
        cases.push((project(pipeline, &value), Vec::new(), value));
    }
    cases
}

fn assert_ran(what: &str, out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{what} exited with {:?}:\n{}",
        out.status.code(),
        stderr_of(out).chars().take(2_000).collect::<String>()
    );
}

#[test]
fn plan_renders_a_param_value_of_any_length() {
    for (dir, params, value) in cases(PIPELINE) {
        let out = wharf()
            .current_dir(dir.path())
            .args(["plan", "p.wharf"])
            .args(&params)
            .output()
            .expect("runs");
        assert_ran("plan", &out);
        let text = stdout_of(&out);
        assert!(text.contains(&format!("note  = \"{value}\"")), "the value is whole");
        assert!(
            text.contains("  other = 1  int, default"),
            "a long value does not widen the column of the others"
        );
        let out = wharf()
            .current_dir(dir.path())
            .args(["plan", "p.wharf", "--format", "json"])
            .args(&params)
            .output()
            .expect("runs");
        assert_ran("plan --format json", &out);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(json["params"][0]["value"], value.as_str());
    }
}

#[test]
fn graph_and_check_render_a_param_value_of_any_length() {
    for (dir, params, _) in cases(PIPELINE) {
        for format in ["dot", "mermaid", "svg", "json"] {
            let out = wharf()
                .current_dir(dir.path())
                .args(["graph", "p.wharf", "--format", format])
                .args(&params)
                .output()
                .expect("runs");
            assert_ran(&format!("graph --format {format}"), &out);
        }
        for format in ["text", "json"] {
            let out = wharf()
                .current_dir(dir.path())
                .args(["check", "p.wharf", "--format", format])
                .args(&params)
                .output()
                .expect("runs");
            assert_ran(&format!("check --format {format}"), &out);
        }
    }
}

/// The long value only where no process receives it (an argument or an
/// environment variable is limited to 128 KiB): in a condition.
const RUN: &str = r#"pipeline p {
  param note : string = "@VALUE@"
  step make {
    command = ["sh", "-c", "echo made > \"$WHARF_OUTPUT_OUT/n.txt\""]
    outputs { out = dir() }
  }
  step use {
    command = ["sh", "-c", "cat \"$WHARF_INPUT_IN/n.txt\""]
    inputs  { in = make.out }
  } when params.note != ""
}
target local { backend = process }
"#;

#[test]
fn run_show_runs_and_why_render_a_param_value_of_any_length() {
    for (dir, params, value) in cases(RUN) {
        let out = wharf()
            .current_dir(dir.path())
            .args(["run", "p.wharf"])
            .args(&params)
            .output()
            .expect("runs");
        assert_ran("run", &out);
        let why: Vec<&str> = ["why", "p.wharf", "use"]
            .into_iter()
            .chain(params.iter().map(String::as_str))
            .collect();
        for args in [
            &["show", "last"][..],
            &["show", "last", "--format", "json"],
            &["runs"],
            &["runs", "--format", "json"],
            &why,
        ] {
            let out = wharf().current_dir(dir.path()).args(args).output().expect("runs");
            assert_ran(&args.join(" "), &out);
        }
        let out = wharf()
            .current_dir(dir.path())
            .args(["show", "last"])
            .output()
            .expect("runs");
        assert!(
            stdout_of(&out).contains(&format!("note={value}")),
            "show's params keep the value"
        );
    }
}
