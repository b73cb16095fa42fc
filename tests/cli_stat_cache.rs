//! The stat cache across commands (docs/runtime.md, "Unchanged inputs cost
//! a stat"): `run` and `plan` record the digests of the input files they
//! read, the next command takes them by `stat`, and an edit that keeps the
//! size and sets the mtime back is still seen (by its ctime).

mod common;
use common::*;
use std::path::Path;

const PIPELINE: &str = r#"pipeline p {
  step read {
    command = ["sh", "-c", "cat \"$WHARF_INPUT_DATA/a.csv\" \"$WHARF_INPUT_MODEL\" > \"$WHARF_OUTPUT_OUT/seen\""]
    inputs  { data = "data", model = "model.bin" }
    outputs { out = dir() }
  }
}
target local { backend = process }
"#;

/// The plan's (verdict, reason) for the step.
fn plan(dir: &Path) -> (String, String) {
    let out = wharf_in(dir)
        .args(["plan", "p.wharf", "--format", "json"])
        .output()
        .expect("wharf plan runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan prints JSON");
    let decision = &view["steps"][0]["decision"];
    (
        decision["verdict"].as_str().unwrap_or_default().to_string(),
        decision["reason"].as_str().unwrap_or_default().to_string(),
    )
}

/// (rows, of them for an input that is one file) in the stat cache.
fn digests(dir: &Path) -> (i64, i64) {
    let db = rusqlite::Connection::open(dir.join(".wharf/state.db")).expect("state.db");
    db.query_row("SELECT count(*), coalesce(sum(whole), 0) FROM file_digests", [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .expect("the stat cache's table")
}

#[test]
fn settled_inputs_are_recorded_and_a_backdated_edit_is_still_seen() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path();
    std::fs::create_dir_all(dir.join("data/sub")).expect("mkdir");
    std::fs::write(dir.join("p.wharf"), PIPELINE).expect("write");
    std::fs::write(dir.join("data/a.csv"), "1,2\n").expect("write");
    std::fs::write(dir.join("data/sub/b.csv"), "3,4\n").expect("write");
    std::fs::write(dir.join("model.bin"), "weights").expect("write");
    let out = wharf_in(dir).args(["run", "p.wharf"]).output().expect("wharf runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(digests(dir), (0, 0), "files written just now are not recorded (racy)");

    // Past the racy window, a command records them; the next takes them by stat.
    std::thread::sleep(std::time::Duration::from_millis(2_200));
    assert_eq!(plan(dir).0, "cached");
    assert_eq!(digests(dir), (3, 1), "a.csv and b.csv in the folder, model.bin alone");
    assert_eq!(plan(dir).0, "cached");

    // The same size, and the mtime set back to what it was: the ctime moved.
    let a = dir.join("data/a.csv");
    let mtime = std::fs::metadata(&a).expect("stat").modified().expect("mtime");
    std::fs::write(&a, "9,9\n").expect("edit");
    std::fs::File::options()
        .write(true)
        .open(&a)
        .expect("open")
        .set_modified(mtime)
        .expect("set mtime");
    let (verdict, reason) = plan(dir);
    assert_eq!(verdict, "run", "{reason}");
    assert!(reason.contains("input `data` changed"), "{reason}");
    let out = wharf_in(dir).args(["run", "p.wharf"]).output().expect("wharf runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let seen = std::fs::read_to_string(output_dir(dir, "read", "out").join("seen")).expect("seen");
    assert_eq!(seen, "9,9\nweights");
}
