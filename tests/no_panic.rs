//! No input may panic the compiler. Compiles a corpus of broken files
//! (tests/broken, tests/diagnostics) and thousands of deterministic mutations
//! of every example pipeline; each must end with diagnostics or a pipeline.
//! The coverage-guided fuzzer in fuzz/ does the same without limits.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use wharf_compiler::{MemoryWorld, Options};

fn compile(text: &str) -> Result<bool, String> {
    let world = MemoryWorld::new()
        .with_file("main.wharf", text)
        .with_file("lib.wharf", text);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let c = wharf_compiler::compile(
            &world,
            Path::new("main.wharf"),
            &Options {
                backends: wharf::backends::specs(),
                ..Options::default()
            },
        );
        // Rendering positions must not panic either.
        for d in c.diagnostics.iter() {
            if let Some(span) = d.span {
                let file = c.sources.get(span.file);
                file.line_col(span.start);
                file.line_col(span.end);
                let _ = &file.text[span.range()];
            }
        }
        c.pipeline.is_some() || c.diagnostics.has_errors()
    }));
    result.map_err(|_| format!("panicked on:\n{text}"))
}

fn files_in(dir: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wharf"))
        .collect();
    files.sort();
    files
}

#[test]
fn broken_corpus_gives_errors_not_panics() {
    let files = files_in("tests/broken");
    assert!(files.len() >= 20, "the broken corpus has {} files", files.len());
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).expect("readable")).into_owned();
        match compile(&text) {
            Ok(reported) => assert!(reported, "{}: neither a pipeline nor an error", file.display()),
            Err(panic) => panic!("{}: {panic}", file.display()),
        }
    }
}

/// A small deterministic generator, so a failure reproduces.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % bound.max(1)
    }
}

fn mutate(text: &str, rng: &mut Lcg) -> String {
    const PIECES: &[&str] = &[
        "{", "}", "[", "]", "(", ")", "\"", "${", "$${", "#", "=", "==", ".", ",", "*", "\\", "\n", " ", "0", "-1",
        "1.5e3", "30s", "2GiB", "x", "step", "when", "for", "in", "not", "and", "params", "template", "é", "\u{feff}",
    ];
    let mut bytes: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.next(3) {
        let at = rng.next(bytes.len() + 1);
        match rng.next(4) {
            0 if !bytes.is_empty() => {
                let len = 1 + rng.next(8);
                let end = (at + len).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            1 => {
                let piece = PIECES[rng.next(PIECES.len())];
                for (i, c) in piece.chars().enumerate() {
                    bytes.insert((at + i).min(bytes.len()), c);
                }
            }
            2 if !bytes.is_empty() => {
                let from = rng.next(bytes.len());
                let len = 1 + rng.next(30);
                let copy: Vec<char> = bytes[from..(from + len).min(bytes.len())].to_vec();
                for (i, c) in copy.into_iter().enumerate() {
                    bytes.insert((at + i).min(bytes.len()), c);
                }
            }
            _ => bytes.truncate(at),
        }
    }
    bytes.into_iter().collect()
}

#[test]
fn mutated_pipelines_never_panic() {
    let mut sources: Vec<String> = Vec::new();
    for dir in ["pipelines", "stdlib", "tests/diagnostics"] {
        for file in files_in(dir) {
            sources.push(std::fs::read_to_string(file).expect("readable"));
        }
    }
    let mut rng = Lcg(0x5eed);
    let mut failures = Vec::new();
    for round in 0..3000 {
        let source = &sources[round % sources.len()];
        let mutated = mutate(source, &mut rng);
        if let Err(panic) = compile(&mutated) {
            failures.push(format!("round {round}: {panic}"));
            if failures.len() > 3 {
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n-----\n"));
}

/// The fuzzer's seed corpus (fuzz/corpus/compile/, refreshed by
/// fuzz/seed.sh) is committed, holds the repo's real files and the
/// hand-written edge cases, and every file in it goes through what the fuzz
/// target does (parse, compile, format, the two parsers agreeing) without
/// a panic, so a fuzzing session starts from inputs that are known good.
#[test]
fn the_fuzz_seed_corpus_is_there_and_never_panics() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/compile");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the seed corpus {} is missing ({e}); run fuzz/seed.sh", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let named = |prefix: &str| {
        files
            .iter()
            .filter(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
            })
            .count()
    };
    for prefix in [
        "pipelines--",
        "stdlib--",
        "tests--diagnostics--",
        "tests--broken--",
        "edge--",
    ] {
        assert!(
            named(prefix) > 0,
            "no {prefix}* file in {}; run fuzz/seed.sh",
            dir.display()
        );
    }
    for file in &files {
        let bytes = std::fs::read(file).expect("readable");
        // As the fuzz target: bytes that are not UTF-8 never reach the compiler.
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let world = MemoryWorld::new()
            .with_file("main.wharf", text)
            .with_file("lib.wharf", text);
        let options = Options {
            params: vec![("x".into(), "1".into())],
            backends: wharf::backends::specs(),
            ..Options::default()
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let c = wharf_compiler::compile(&world, Path::new("main.wharf"), &options);
            for d in c.diagnostics.iter() {
                if let Some(span) = d.span {
                    let source = c.sources.get(span.file);
                    source.line_col(span.end);
                    let _ = &source.text[span.range()];
                }
            }
            let _ = wharf_compiler::syntax::format::format(text);
            wharf_compiler::syntax::parser::parsers_agree(text)
        }));
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err(disagreement)) => panic!("{}: the parsers disagree: {disagreement}", file.display()),
            Err(_) => panic!("{}: panicked", file.display()),
        }
    }
}
