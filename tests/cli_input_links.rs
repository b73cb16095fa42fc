//! Symbolic links in inputs on the process backend: a link that leads out
//! of an input folder is followed by the cache (a change behind it runs the
//! step again), and a step cannot write through a link to anything outside
//! its own folders (docs/runtime.md, "Links in inputs").

mod common;
use common::*;
use std::path::Path;

fn run(dir: &Path) -> std::process::Output {
    wharf_in(dir).args(["run", "p.wharf"]).output().expect("wharf runs")
}

fn status(dir: &Path, step: &str) -> String {
    let show = show_last(dir);
    show["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["step"] == step))
        .and_then(|s| s["status"].as_str())
        .unwrap_or("missing")
        .to_string()
}

/// `root/project/data/shared` links to `root/shared`, outside the input.
fn project(pipeline: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("project");
    std::fs::create_dir_all(dir.join("data")).expect("mkdir");
    std::fs::create_dir_all(root.path().join("shared")).expect("mkdir");
    std::fs::write(root.path().join("shared/a.csv"), "1\n").expect("write");
    std::fs::write(dir.join("data/local.csv"), "local\n").expect("write");
    std::os::unix::fs::symlink(root.path().join("shared"), dir.join("data/shared")).expect("link");
    std::fs::write(dir.join("p.wharf"), pipeline).expect("write pipeline");
    (root, dir)
}

#[test]
fn a_change_behind_a_link_out_of_an_input_runs_the_step_again() {
    let (root, dir) = project(
        r#"pipeline p {
  step count {
    command = ["sh", "-c", "cat \"$WHARF_INPUT_DATA/shared/a.csv\" > \"$WHARF_OUTPUT_OUT/seen.txt\""]
    inputs  { data = "data" }
    outputs { out = dir() }
  }
}
"#,
    );
    let out = run(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(status(&dir, "count"), "succeeded");
    let out = run(&dir);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(status(&dir, "count"), "cached", "nothing changed");
    std::fs::write(root.path().join("shared/a.csv"), "2\n").expect("write");
    let out = run(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(status(&dir, "count"), "succeeded", "the linked file changed");
    let seen = output_dir(&dir, "count", "out").join("seen.txt");
    assert_eq!(std::fs::read_to_string(seen).unwrap(), "2\n");
}

#[test]
fn a_step_cannot_write_through_an_input_link() {
    let (root, dir) = project(
        r#"pipeline p {
  step meddle {
    command = ["sh", "-c", "touch \"$WHARF_INPUT_DATA/shared/new.csv\" \"$WHARF_INPUT_DATA/new-local.csv\"; rm -f \"$WHARF_INPUT_DATA/shared/a.csv\"; echo done > \"$WHARF_OUTPUT_OUT/x\""]
    inputs  { data = "data" }
    outputs { out = dir() }
  }
  for r in ["eu", "us"] {
    step part { command = ["sh", "-c", "echo ${r} > \"$WHARF_OUTPUT_OUT/part.txt\""] outputs { out = dir() } }
  }
  step gather {
    command = ["sh", "-c", "rm -f \"$WHARF_INPUT_PARTS/part-eu/part.txt\"; touch \"$WHARF_INPUT_PARTS/part-us/new\"; ls \"$WHARF_INPUT_PARTS\" > \"$WHARF_OUTPUT_OUT/seen\""]
    inputs  { parts = part[*].out }
    outputs { out = dir() }
  }
}
"#,
    );
    let out = run(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let shared: Vec<String> = std::fs::read_dir(root.path().join("shared"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(shared, ["a.csv"], "the linked folder is untouched");
    assert!(
        !dir.join("data/new-local.csv").exists(),
        "the input folder is untouched"
    );
    for part in ["part-eu", "part-us"] {
        let folder = output_dir(&dir, part, "out");
        let names: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["part.txt"], "{part}'s stored output is untouched");
    }
}

#[test]
fn a_container_reads_what_a_link_out_of_its_input_leads_to() {
    if !common::docker::ready(&[common::docker::BUSYBOX]) {
        return;
    }
    let (_root, dir) = project(&format!(
        r#"pipeline p {{
  step count {{
    image   = "{}"
    command = ["sh", "-c", "cat \"$WHARF_INPUT_DATA/shared/a.csv\" \"$WHARF_INPUT_DATA/local.csv\" > \"$WHARF_OUTPUT_OUT/seen.txt\""]
    inputs  {{ data = "data" }}
    outputs {{ out = dir() }}
  }}
}}
target local {{ backend = docker }}
"#,
        common::docker::BUSYBOX
    ));
    let out = wharf_in(&dir)
        .args(["run", "p.wharf", "--target", "local"])
        .output()
        .expect("wharf runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let seen = output_dir(&dir, "count", "out").join("seen.txt");
    assert_eq!(std::fs::read_to_string(seen).unwrap(), "1\nlocal\n");
}
