//! `wharf run` and its state database: two runs in one folder at once,
//! a damaged database refused before anything is written, read-only
//! `-wal`/`-shm` files recovered, and `--resume` with the recorded params.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

fn spawn(dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("wharf"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wharf starts")
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn two_runs_at_once_in_one_folder_never_run_a_step_twice() {
    // Three fresh folders, two runs started together in each: before the
    // locks, half the pairs failed creating the tables, and the others ran
    // every step twice.
    for round in 0..3 {
        let dir = tempfile::tempdir().expect("temp dir");
        let count = dir.path().join("count");
        let steps: String = ["a", "b", "c", "d"]
            .iter()
            .map(|name| {
                format!(
                    r#"  step {name} {{
    command = ["sh", "-c", "echo {name} >> {count}; sleep 0.5; echo {name} > \"$WHARF_OUTPUT_OUT/x\""]
    outputs {{ out = dir() }}
  }}
"#,
                    count = count.display()
                )
            })
            .collect();
        std::fs::write(
            dir.path().join("p.wharf"),
            format!("pipeline p {{\n{steps}}}\ntarget local {{ backend = process }}\n"),
        )
        .expect("write");
        let first = spawn(dir.path(), &["run", "p.wharf", "--jobs", "4"]);
        let second = spawn(dir.path(), &["run", "p.wharf", "--jobs", "4"]);
        let (code1, err1) = finish(first);
        let (code2, err2) = finish(second);
        assert_eq!(code1, Some(0), "round {round}, first run: {err1}");
        assert_eq!(code2, Some(0), "round {round}, second run: {err2}");
        let mut ran = lines(&count);
        ran.sort();
        assert_eq!(
            ran,
            ["a", "b", "c", "d"],
            "round {round}: each step ran once\n{err1}\n{err2}"
        );
        assert!(
            format!("{err1}{err2}").contains("waiting for run"),
            "the second says whom it waits for:\n{err1}\n{err2}"
        );
    }
}

fn one_step_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("p.wharf"),
        r#"pipeline p {
  param n : int = 1
  step a {
    command = ["sh", "-c", "echo ${params.n} > \"$WHARF_OUTPUT_OUT/x\""]
    outputs { out = dir() }
  }
}
target local { backend = process }
"#,
    )
    .expect("write");
    dir
}

#[test]
fn a_database_damaged_in_the_middle_is_refused_before_anything_is_written() {
    let dir = one_step_project();
    for n in 0..40 {
        let out = wharf_in(dir.path())
            .args(["run", "p.wharf", "-p", &format!("n={n}")])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    }
    let db = dir.path().join(".wharf/state.db");
    let mut bytes = std::fs::read(&db).expect("read");
    assert!(bytes.len() > 4 * 4096, "several pages: {}", bytes.len());
    // Damage page 3 (header and schema intact: `runs` still answers).
    for b in &mut bytes[2 * 4096..3 * 4096] {
        *b = 0xa5;
    }
    std::fs::write(&db, &bytes).expect("write");
    let out = wharf_in(dir.path())
        .args(["run", "p.wharf", "-p", "n=99"])
        .output()
        .expect("runs");
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("damaged"), "{err}");
    assert!(err.contains("move it aside"), "{err}");
    assert!(err.contains("nothing was run"), "{err}");
    assert_eq!(
        std::fs::read(&db).expect("read"),
        bytes,
        "the damaged file was not written"
    );
    assert!(
        !dir.path().join(".wharf/state.db-wal").exists() || {
            std::fs::metadata(dir.path().join(".wharf/state.db-wal"))
                .expect("meta")
                .len()
                == 0
        }
    );
}

#[test]
fn read_only_wal_and_shm_files_left_behind_do_not_block_runs() {
    // Left by a copy or a chmod: files of the user, without write permission.
    // root writes read-only files anyway, so the run is made as `nobody`.
    let dir = one_step_project();
    let nobody = 65534;
    let as_user = |args: &[&str]| {
        let mut cmd = if unsafe_is_root() {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={nobody}"),
                &format!("--regid={nobody}"),
                "--clear-groups",
            ])
            .arg(assert_cmd::cargo::cargo_bin("wharf"));
            c
        } else {
            Command::new(assert_cmd::cargo::cargo_bin("wharf"))
        };
        cmd.current_dir(dir.path()).env("NO_COLOR", "1").args(args);
        cmd.output().expect("wharf runs")
    };
    if unsafe_is_root() {
        chown_all(dir.path(), nobody);
    }
    let out = as_user(&["run", "p.wharf"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    for name in ["state.db-wal", "state.db-shm"] {
        let path = dir.path().join(".wharf").join(name);
        std::fs::write(&path, "").expect("write");
        if unsafe_is_root() {
            chown_all(&path, nobody);
        }
        set_mode(&path, 0o444);
    }
    let out = as_user(&["run", "p.wharf", "-p", "n=2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let out = as_user(&["runs"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out).lines().count(), 3, "{}", stdout_of(&out));
}

fn unsafe_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn chown_all(path: &Path, uid: u32) {
    let status = Command::new("chown")
        .args(["-R", &format!("{uid}:{uid}")])
        .arg(path)
        .status()
        .expect("chown runs");
    assert!(status.success());
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn resume_goes_on_with_the_recorded_params_and_refuses_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let seen = dir.path().join("seen");
    let gate = dir.path().join("gate");
    std::fs::write(
        dir.path().join("p.wharf"),
        format!(
            r#"pipeline p {{
  param salt : string = "default"
  step a {{
    command = ["sh", "-c", "echo ${{params.salt}} > \"$WHARF_OUTPUT_OUT/x\""]
    outputs {{ out = dir() }}
  }}
  step b {{
    command = ["sh", "-c", "[ -e {gate} ] || exit 3; echo ${{params.salt}} >> {seen}; echo ok > \"$WHARF_OUTPUT_OUT/x\""]
    inputs  {{ x = a.out }}
    outputs {{ out = dir() }}
  }}
}}
target local {{ backend = process }}
"#,
            gate = gate.display(),
            seen = seen.display()
        ),
    )
    .expect("write");
    let out = wharf_in(dir.path())
        .args(["run", "p.wharf", "-p", "salt=custom"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "b fails until the gate opens");
    std::fs::write(&gate, "").expect("open the gate");

    let out = wharf_in(dir.path())
        .args(["run", "p.wharf", "--resume", "-p", "salt=other"])
        .output()
        .expect("runs");
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`salt` = custom") && err.contains("-p salt=other"),
        "{err}"
    );
    assert!(!seen.exists(), "nothing ran");

    let out = wharf_in(dir.path())
        .args(["run", "p.wharf", "--resume"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(lines(&seen), ["custom"], "the rest ran with the recorded salt");
    assert_eq!(show_last(dir.path())["run"]["params"]["salt"], "custom");
}
