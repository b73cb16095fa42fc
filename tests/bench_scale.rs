//! The correctness checks of the scheduler benchmarks, at tiny sizes, so
//! that CI notices when a benchmark stops doing the work it times: the scale
//! benchmark (`bench/scale.py --check`: chain and fan of 20 distinct steps,
//! all run, none cached, outputs distinct) and the peer harness's generator
//! (`bench/peers/dag_to_wharf.py`: every step runs and exports out/s<i>).
//! No timings are checked.

mod common;
use common::*;
use std::process::Command;

fn python() -> Option<&'static str> {
    let found = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: python3 is not installed");
    }
    found.then_some("python3")
}

fn wharf_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wharf")
}

#[test]
fn the_scale_bench_runs_every_step() {
    let Some(python) = python() else { return };
    let out = Command::new(python)
        .arg(root().join("bench/scale.py"))
        .args(["--check", "--wharf", wharf_bin()])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_peer_generator_makes_each_output_where_the_harness_looks() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    // dag.json as the harness's gen.py writes it: a diamond of 5 steps.
    let steps: Vec<serde_json::Value> = (0..5)
        .map(|i| {
            let deps: Vec<String> = match i {
                0 => vec![],
                1 | 2 => vec!["s0".into()],
                _ => vec!["s1".into(), "s2".into()],
            };
            serde_json::json!({"id": format!("s{i}"), "deps": deps, "cmd": format!("echo {i} > out/s{i}"), "out": format!("out/s{i}")})
        })
        .collect();
    std::fs::write(
        dir.path().join("dag.json"),
        serde_json::json!({ "steps": steps }).to_string(),
    )
    .expect("dag");
    std::fs::create_dir_all(dir.path().join("out")).expect("out");
    for mode in ["export", "direct"] {
        let generated = Command::new(python)
            .arg(root().join("bench/peers/dag_to_wharf.py"))
            .args(["--mode", mode, "dag.json"])
            .current_dir(dir.path())
            .output()
            .expect("runs");
        assert!(
            generated.status.success(),
            "{}",
            String::from_utf8_lossy(&generated.stderr)
        );
        std::fs::write(dir.path().join("pipeline.wharf"), &generated.stdout).expect("write");
        let run = wharf_in(dir.path())
            .args(["run", "pipeline.wharf", "-j", "2"])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{mode}: {stderr}");
        assert!(stderr.contains("5 succeeded, 0 cached"), "{mode}: {stderr}");
        for i in 0..5 {
            let made = dir.path().join(format!("out/s{i}"));
            let text = if mode == "export" {
                std::fs::read_to_string(made.join(format!("s{i}")))
            } else {
                std::fs::read_to_string(&made)
            };
            assert_eq!(text.expect("the output is there").trim(), i.to_string(), "{mode}");
        }
        std::fs::remove_dir_all(dir.path().join("out")).expect("clean");
        std::fs::create_dir_all(dir.path().join("out")).expect("out");
    }
}
