//! Times the compiler's phases on one file: `cargo run --release --example phases FILE`.
use std::time::Instant;
use wharf_compiler::{Diagnostics, FileId};

fn main() {
    let path = std::env::args().nth(1).expect("usage: phases FILE");
    let text = std::fs::read_to_string(&path).expect("readable file");
    let t = Instant::now();
    let mut diags = Diagnostics::default();
    let module = wharf_compiler::syntax::parse(FileId(0), &text, &mut diags);
    println!(
        "parse: {:?} ({} items)",
        t.elapsed(),
        module.map_or(0, |m| m.items.len())
    );
    let t = Instant::now();
    let c = wharf_compiler::compile(
        &wharf_compiler::MemoryWorld::new().with_file(&path, text.clone()),
        path.as_ref(),
        &Default::default(),
    );
    println!("compile (incl. parse): {:?} ok={}", t.elapsed(), c.pipeline.is_some());
}
