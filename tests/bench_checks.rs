//! The benchmarks' own correctness checks, at a small size, so that CI
//! notices when a benchmark stops measuring what it claims (for instance a
//! scheduler benchmark whose steps all come from the cache). No timings are
//! asserted: the figures are recorded by hand in bench/RESULTS.md.

use std::path::Path;
use std::process::Command;

fn bench(script: &str, args: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("bench").join(script))
        .args(args)
        .output()
        .expect("python3 runs (the benchmarks are Python scripts)");
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Chain, fan and diamond of distinct steps: every step succeeds on the
/// first run (none answered by the cache), each output holds its own step's
/// tag, and every step is cached on the re-runs.
#[test]
fn scheduler_benchmark_runs_every_step() {
    bench("scheduler.py", &["--check", "--wharf", env!("CARGO_BIN_EXE_wharf")]);
}
