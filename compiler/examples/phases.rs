//! Times the compiler's phases on one file and shows resident memory after
//! each: `cargo run --release -p wharf-compiler --example phases FILE [--compile]`.
use std::time::Instant;
use wharf_compiler::backends::{BackendKind, BackendSpec, Program};
use wharf_compiler::types::StepKind;
use wharf_compiler::{Diagnostics, FileId};

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: phases FILE");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    sizes();
    println!("read: {:.1} MiB resident", rss_mib());
    // `--compile` skips the parse on its own: its freed tree would leave the
    // heap fragmented for the compile that follows, which `wharf check` never sees.
    if std::env::args().nth(2).as_deref() != Some("--compile") {
        let t = Instant::now();
        let mut diags = Diagnostics::default();
        let module = wharf_compiler::syntax::parse(FileId(0), &text, &mut diags);
        println!("parse: {:?}, {:.1} MiB resident", t.elapsed(), rss_mib());
        drop(module);
    }
    let world = wharf_compiler::MemoryWorld::new().with_file(&path, text);
    let options = wharf_compiler::Options {
        backends: vec![&PROCESS],
        ..Default::default()
    };
    let t = Instant::now();
    let c = wharf_compiler::compile(&world, path.as_ref(), &options);
    println!(
        "compile (parse included): {:?}, {:.1} MiB resident, ok={}",
        t.elapsed(),
        rss_mib(),
        c.pipeline.is_some()
    );
    // As `wharf check` does: the process is about to exit.
    std::mem::forget(c);
}

/// The `process` backend as the compiler sees it (the runtime's spec, which
/// this crate cannot depend on), so that the benchmark files compile.
const PROCESS: BackendSpec = BackendSpec {
    kind: BackendKind::new("process"),
    runs: &[StepKind::Step, StepKind::Train],
    program: Program::Command,
    hands_off: &[],
    settings: &[],
    check_step: None,
};

#[allow(dead_code)]
fn sizes() {
    use wharf_compiler::syntax::ast::*;
    eprintln!(
        "Expr {} ExprKind {} Entry {} Key {} Ident {} StepDecl {} Stmt {} StrPart {} Step {}",
        std::mem::size_of::<Expr>(),
        std::mem::size_of::<ExprKind>(),
        std::mem::size_of::<Entry>(),
        std::mem::size_of::<Key>(),
        std::mem::size_of::<Ident>(),
        std::mem::size_of::<StepDecl>(),
        std::mem::size_of::<Stmt>(),
        std::mem::size_of::<StrPart>(),
        std::mem::size_of::<wharf_compiler::Step>(),
    );
}
