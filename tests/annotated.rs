//! Runs every annotated pipeline under tests/diagnostics/ (see its README)
//! and the broken corpus under tests/broken/: each `# error: [code]` comment
//! must be reported on its line, and nothing else may be. The text
//! `wharf check` prints for each file of tests/diagnostics/ is a snapshot
//! (tests/snapshots/annotated__*.snap), so a changed message, label or hint
//! shows in review.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wharf_compiler::{MemoryWorld, Options, Severity};

type Expected = BTreeMap<(Option<u32>, &'static str, String), usize>;

fn annotations(text: &str) -> (Expected, Vec<(String, String)>) {
    let mut expected = Expected::new();
    let mut params = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(hash) = line.find('#') else { continue };
        let comment = line[hash + 1..].trim();
        if let Some(list) = comment.strip_prefix("params:") {
            for pair in list.split(',') {
                let (k, v) = pair.trim().split_once('=').expect("params: NAME=VALUE");
                params.push((k.to_string(), v.to_string()));
            }
            continue;
        }
        let (severity, line_no, rest) = if let Some(rest) = comment.strip_prefix("error-at-file:") {
            ("error", None, rest)
        } else if let Some(rest) = comment.strip_prefix("error:") {
            ("error", Some(i as u32 + 1), rest)
        } else if let Some(rest) = comment.strip_prefix("warning:") {
            ("warning", Some(i as u32 + 1), rest)
        } else {
            continue;
        };
        for code in rest.split('[').skip(1) {
            let code = code.split(']').next().expect("closing ]").to_string();
            *expected.entry((line_no, severity, code)).or_default() += 1;
        }
    }
    (expected, params)
}

fn check(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let (expected, params) = annotations(&text);
    let world = MemoryWorld::new().with_file("main.wharf", text.clone());
    let options = Options {
        params,
        allow_library: false,
        allow_missing_params: false,
        backends: wharf::backends::specs(),
    };
    let compilation = wharf_compiler::compile(&world, Path::new("main.wharf"), &options);
    let mut actual = Expected::new();
    let mut described = Vec::new();
    for d in compilation.diagnostics.iter() {
        let line = d
            .span
            .and_then(|s| (s.file.0 == 0).then(|| compilation.sources.get(s.file).line_col(s.start).line));
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        *actual.entry((line, severity, d.code.to_string())).or_default() += 1;
        described.push(format!("  line {line:?}: {severity}[{}] {}", d.code, d.message));
    }
    if actual == expected {
        return Ok(());
    }
    let missing: Vec<_> = expected.iter().filter(|(k, n)| actual.get(*k) != Some(n)).collect();
    let extra: Vec<_> = actual.iter().filter(|(k, n)| expected.get(*k) != Some(n)).collect();
    Err(format!(
        "{}:\n expected but not reported (or a different count): {missing:?}\n reported but not expected: {extra:?}\n all reported:\n{}",
        path.display(),
        described.join("\n")
    ))
}

/// The `.wharf` files of a folder of the repository, sorted.
fn corpus(folder: &str) -> Vec<PathBuf> {
    let dir = root().join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wharf"))
        .collect();
    files.sort();
    files
}

#[test]
fn annotated_files_report_exactly_their_annotations() {
    let files = corpus("tests/diagnostics");
    assert!(
        files.len() >= 10,
        "expected the annotated corpus, found {} files",
        files.len()
    );
    let failures: Vec<String> = files.iter().filter_map(|f| check(f).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The files that once broke the compiler (many found by the fuzzer) are
/// annotated too: each must keep failing with exactly the codes it names.
#[test]
fn broken_files_report_exactly_their_annotations() {
    let files = corpus("tests/broken");
    assert!(files.len() >= 20, "the broken corpus has {} files", files.len());
    let failures: Vec<String> = files.iter().filter_map(|f| check(f).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `text` as a regular expression that matches only itself (insta's
/// filters are regular expressions).
fn literal_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[test]
fn rendered_diagnostics_match_their_snapshots() {
    let root = root();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&literal_regex(&root.display().to_string()), "[ROOT]");
    for file in corpus("tests/diagnostics") {
        let text = std::fs::read_to_string(&file).expect("readable");
        let (_, params) = annotations(&text);
        let mut cmd = wharf();
        cmd.arg("check").arg(&file);
        for (name, value) in params {
            cmd.arg("-p").arg(format!("{name}={value}"));
        }
        let out = cmd.output().expect("runs");
        assert!(out.stdout.is_empty(), "{}: text goes to stderr", file.display());
        let name = file.file_stem().and_then(|s| s.to_str()).expect("a UTF-8 file name");
        settings.bind(|| insta::assert_snapshot!(name, stderr_of(&out)));
    }
}

#[test]
fn every_code_has_an_annotated_example_or_a_unit_test() {
    // Codes exercised elsewhere (unit tests in the compiler crate or CLI tests).
    let elsewhere = [
        "too-deeply-nested",
        "invalid-escape",
        "import-cycle",
        "no-pipeline",
        "multiple-pipelines",
        "pipeline-in-import",
        "unknown-name",
        "unknown-target",
        "unknown-function",
        "missing-param",
        "invalid-override",
        "cannot-interpolate",
        "secret-misuse",
        // Checks made before a run starts: tests/cli_run.rs, runtime/src/scheduler/tests.rs.
        "backend-unavailable",
        "unsupported-on-backend",
        "input-not-found",
    ];
    let dir = root().join("tests/diagnostics");
    let mut corpus = String::new();
    for entry in std::fs::read_dir(&dir).expect("tests/diagnostics exists") {
        corpus.push_str(&std::fs::read_to_string(entry.expect("entry").path()).unwrap_or_default());
    }
    for code in wharf_compiler::Code::ALL {
        let name = code.as_str();
        assert!(
            corpus.contains(&format!("[{name}]")) || elsewhere.contains(&name),
            "diagnostic code `{name}` has no annotated example in tests/diagnostics"
        );
    }
}

#[test]
fn docs_list_every_code() {
    let docs = std::fs::read_to_string(root().join("docs/diagnostics.md")).expect("docs/diagnostics.md");
    for code in wharf_compiler::Code::ALL {
        let row = format!("| `{}` | {} |", code.as_str(), code.summary().replace('|', "\\|"));
        assert!(
            docs.contains(&row),
            "docs/diagnostics.md lacks or differs for `{}`:\n{row}",
            code.as_str()
        );
    }
}
