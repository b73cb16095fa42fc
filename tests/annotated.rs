//! Runs every annotated pipeline under tests/diagnostics/ (see its README):
//! each `# error: [code]` comment must be reported on its line, and nothing
//! else may be.

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

#[test]
fn annotated_files_report_exactly_their_annotations() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/diagnostics exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wharf"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the annotated corpus, found {} files",
        files.len()
    );
    let failures: Vec<String> = files.iter().filter_map(|f| check(f).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
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
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
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
    let docs = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics.md"))
        .expect("docs/diagnostics.md");
    for code in wharf_compiler::Code::ALL {
        let row = format!("| `{}` | {} |", code.as_str(), code.summary().replace('|', "\\|"));
        assert!(
            docs.contains(&row),
            "docs/diagnostics.md lacks or differs for `{}`:\n{row}",
            code.as_str()
        );
    }
}
