//! A docker step's output reaches its log and the progress lines whole,
//! the last line included when it has no line break: against the real
//! engine, twelve steps and three runs. Each step writes its last lines a
//! moment after it starts, so that the engine is following its log when it
//! exits (Docker 20.10 then drops a final line without a line break; a
//! container that is gone before its log is asked for keeps it).

mod common;
use common::docker::{self, BUSYBOX};
use common::*;

const STEPS: usize = 12;
const RUNS: usize = 3;

#[test]
fn the_last_line_without_a_line_break_is_kept() {
    if !docker::ready(&[BUSYBOX]) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let ns: Vec<String> = (1..=STEPS).map(|n| format!("\"{n}\"")).collect();
    let pipeline = format!(
        r#"pipeline tail {{
  param ns : list[string] = [{}]
  for n in params.ns {{
    step say {{
      image   = "{BUSYBOX}"
      command = ["sh", "-c", "printf 'a\n'; printf 'err\n' >&2; sleep 0.3; printf last-${{n}}; printf err-last-${{n}} >&2"]
      cache   = off
    }}
  }}
}}
target local {{ backend = docker }}
"#,
        ns.join(", ")
    );
    std::fs::write(dir.path().join("p.wharf"), pipeline).expect("write pipeline");
    let mut lost = Vec::new();
    for round in 1..=RUNS {
        let out = wharf_in(dir.path())
            .args(["run", "p.wharf", "--jobs", "4"])
            .output()
            .expect("wharf runs");
        let stderr = stderr_of(&out);
        assert!(out.status.success(), "{stderr}");
        let show = show_last(dir.path());
        for n in 1..=STEPS {
            let step = format!("say-{n}");
            let record = show["steps"]
                .as_array()
                .and_then(|steps| steps.iter().find(|s| s["step"] == step.as_str()))
                .unwrap_or_else(|| panic!("{step} recorded: {show}"));
            let log_path = record["attempts"][0]["log_path"].as_str().expect("a log path");
            let log = std::fs::read_to_string(dir.path().join(log_path))
                .or_else(|_| std::fs::read_to_string(log_path))
                .expect("the log file");
            // stdout and stderr interleave as they arrive: compare as sets.
            let mut lines: Vec<String> = log.lines().map(String::from).collect();
            lines.sort_unstable();
            let mut want = vec![
                "a".to_string(),
                "err".into(),
                format!("last-{n}"),
                format!("err-last-{n}"),
            ];
            want.sort_unstable();
            if lines != want {
                lost.push(format!("run {round}, {step}: log {log:?}"));
            }
            for line in [format!("{step} | last-{n}"), format!("{step} | err-last-{n}")] {
                if !stderr.contains(&line) {
                    lost.push(format!("run {round}: no progress line `{line}`"));
                }
            }
        }
    }
    assert!(lost.is_empty(), "lines lost:\n{}", lost.join("\n"));
}
