//! Exports (`outputs { report = "path" }`) on the process backend: they stay
//! inside the pipeline's folder, never replace a folder wharf did not export,
//! and leave nothing half-made when refused.

mod common;
use common::*;
use std::path::Path;
use std::process::Output;

const EXPORTING: &str = r#"pipeline p {
  param dest : string = "exports/report"
  param word : string = "first"
  step report {
    command = ["sh", "-c", "echo ${params.word} > \"$WHARF_OUTPUT_REPORT/report.txt\""]
    outputs { report = "${params.dest}" }
  }
}
"#;

/// A project folder `project/` inside a temporary folder, so that what an
/// export might write beside the project can be seen.
fn project() -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("project");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("p.wharf"), EXPORTING).expect("write pipeline");
    (root, dir)
}

fn run(dir: &Path, args: &[&str]) -> Output {
    wharf_in(dir)
        .arg("run")
        .arg("p.wharf")
        .args(args)
        .output()
        .expect("runs")
}

/// Every name under `dir` (recursively), for "nothing was left here".
fn names_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        out.push(entry.file_name().to_string_lossy().into_owned());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(names_under(&entry.path()));
        }
    }
    out
}

fn no_partials(dir: &Path) {
    let left: Vec<String> = names_under(dir)
        .into_iter()
        .filter(|n| n.contains("wharf-partial") || n.contains("wharf-old"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_folder_wharf_did_not_export_is_kept_with_its_files() {
    let (_root, dir) = project();
    std::fs::create_dir_all(dir.join("data/sub")).expect("mkdir");
    std::fs::write(dir.join("data/train.csv"), "1,2\n").expect("write");
    std::fs::write(dir.join("data/sub/more.csv"), "3,4\n").expect("write");
    let out = run(&dir, &["-p", "dest=data"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "refused before anything starts: {}",
        stderr_of(&out)
    );
    let err = stderr_of(&out);
    assert!(err.contains("wharf did not export it"), "{err}");
    assert!(err.contains("move or delete it, or choose another path"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("data/train.csv")).unwrap(), "1,2\n");
    assert_eq!(std::fs::read_to_string(dir.join("data/sub/more.csv")).unwrap(), "3,4\n");
    assert_eq!(names_under(&dir.join("data")).len(), 3, "nothing added or removed");
    no_partials(&dir);
    // `wharf plan` says so too: the step is refused, as the run was.
    let plan = wharf_in(&dir)
        .args(["plan", "p.wharf", "-p", "dest=data", "--format", "json"])
        .output()
        .expect("runs");
    let view: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    let decision = &view["steps"][0]["decision"];
    assert_eq!(decision["verdict"], "refused", "{view:#}");
    assert!(
        decision["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("wharf did not export it"),
        "{view:#}"
    );
}

#[test]
fn paths_out_of_the_project_are_compile_errors() {
    for dest in [
        "../../x",
        "../x",
        "/tmp/wharf-export-abs-test",
        ".",
        "..",
        ".wharf/runs",
    ] {
        let (root, dir) = project();
        let out = run(&dir, &["-p", &format!("dest={dest}")]);
        assert_eq!(out.status.code(), Some(2), "{dest}: {}", stderr_of(&out));
        let err = stderr_of(&out);
        assert!(err.contains("export-outside-project"), "{dest}: {err}");
        assert!(!Path::new("/tmp/wharf-export-abs-test").exists());
        assert_eq!(
            names_under(root.path()),
            vec!["project".to_string(), "p.wharf".to_string()],
            "{dest}: nothing written anywhere"
        );
    }
    // `wharf check` says the same, with the line.
    let (_root, dir) = project();
    let out = wharf_in(&dir)
        .args(["check", "p.wharf", "-p", "dest=../../x"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let text = format!("{}{}", stdout_of(&out), stderr_of(&out));
    assert!(
        text.contains("export-outside-project") && text.contains("p.wharf:6"),
        "{text}"
    );
}

#[test]
fn a_linked_parent_cannot_lead_an_export_out() {
    let (root, dir) = project();
    let outside = root.path().join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::os::unix::fs::symlink(&outside, dir.join("linked")).expect("link");
    let out = run(&dir, &["-p", "dest=linked/report"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("through a link"), "{}", stderr_of(&out));
    assert_eq!(names_under(&outside).len(), 0);
}

#[test]
fn an_earlier_export_is_replaced() {
    let (_root, dir) = project();
    let out = run(&dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let report = dir.join("exports/report");
    assert_eq!(std::fs::read_to_string(report.join("report.txt")).unwrap(), "first\n");
    let marker = std::fs::read_to_string(report.join(".wharf-export")).expect("marker");
    assert!(marker.contains("\"step\": \"report\""), "{marker}");
    let out = run(&dir, &["-p", "word=second"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(std::fs::read_to_string(report.join("report.txt")).unwrap(), "second\n");
    no_partials(&dir);
}
