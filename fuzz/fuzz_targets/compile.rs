//! Parse + compile + format must never panic, whatever the bytes, and the
//! fast parser must build the same tree as the pest grammar. The input is the
//! entry file; it also stands in for `./lib.wharf`, so imports are exercised.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use wharf_compiler::{MemoryWorld, Options};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let world = MemoryWorld::new().with_file("main.wharf", text).with_file("lib.wharf", text);
    // No backends: this target depends on the compiler alone (the
    // registry's crates pull in the AWS SDK), so every `backend = ...` is
    // an unknown one. tests/no_panic.rs runs the corpus with the registry.
    let options = Options {
        params: vec![("x".into(), "1".into())],
        ..Options::default()
    };
    let compilation = wharf_compiler::compile(&world, Path::new("main.wharf"), &options);
    for d in compilation.diagnostics.iter() {
        if let Some(span) = d.span {
            let file = compilation.sources.get(span.file);
            let _ = file.line_col(span.end);
            let _ = &file.text[span.range()];
        }
    }
    let _ = wharf_compiler::syntax::format::format(text);
    // The fast parser must agree with the pest grammar whenever it accepts.
    if let Err(disagreement) = wharf_compiler::syntax::parser::parsers_agree(text) {
        panic!("{disagreement}");
    }
});
