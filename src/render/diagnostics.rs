//! Diagnostics as text (source snippets via ariadne) or JSON.

use serde::Serialize;
use std::io::Write;
use wharf_compiler::diagnostic::Label as DiagLabel;
use wharf_compiler::{Diagnostic, Severity, SourceMap, Span};

/// Whether to colour text written to stderr: `--color`, `WHARF_COLOR`,
/// `NO_COLOR`, wharf.toml, else only on a terminal (`project.rs`).
pub fn stderr_color() -> bool {
    crate::project::get().color_stderr()
}

/// Writes each diagnostic with its source snippet, labels and hints.
pub fn write_text(
    out: &mut dyn Write,
    sources: &SourceMap,
    diagnostics: &[Diagnostic],
    color: bool,
) -> std::io::Result<()> {
    use ariadne::{Config, IndexType, Label, Report, ReportKind};
    // One cache for all reports. Building it copies and splits the text into
    // lines, so give it only the files diagnostics point into, each cut after
    // the last line they need (a huge file with one early warning stays cheap).
    let mut needed: std::collections::BTreeMap<wharf_compiler::FileId, usize> = Default::default();
    for d in diagnostics {
        for span in d.span.into_iter().chain(d.labels.iter().map(|l| l.span)) {
            let end = needed.entry(span.file).or_default();
            *end = (*end).max(span.end as usize);
        }
    }
    let mut cache = ariadne::sources(needed.into_iter().map(|(id, end)| {
        let file = sources.get(id);
        let cut = file.text[end.min(file.text.len())..]
            .find('\n')
            .map_or(file.text.len(), |i| end + i + 1);
        (file.name.clone(), file.text[..cut].to_string())
    }));
    for d in diagnostics {
        let kind = match d.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let Some(span) = d.span else {
            let word = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            writeln!(out, "{word}[{}]: {}", d.code, d.message)?;
            for label in &d.labels {
                let (file, pos) = location(sources, label.span);
                writeln!(out, "  --> {file}:{}:{}: {}", pos.line, pos.column, label.message)?;
            }
            for hint in &d.hints {
                writeln!(out, "  = help: {hint}")?;
            }
            writeln!(out)?;
            continue;
        };
        let id = |s: Span| sources.get(s.file).name.clone();
        let config = Config::default().with_color(color).with_index_type(IndexType::Byte);
        let mut report = Report::build(kind, (id(span), span.range()))
            .with_config(config)
            .with_code(d.code)
            .with_message(&d.message)
            .with_label(Label::new((id(span), span.range())).with_message(primary_label(d)));
        for DiagLabel { span, message } in &d.labels {
            report = report.with_label(Label::new((id(*span), span.range())).with_message(message));
        }
        for hint in &d.hints {
            report = report.with_help(hint);
        }
        report.finish().write(&mut cache, &mut *out)?;
    }
    Ok(())
}

fn primary_label(d: &Diagnostic) -> String {
    match d.severity {
        Severity::Error => "here".into(),
        Severity::Warning => "here".into(),
    }
}

fn location(sources: &SourceMap, span: Span) -> (String, wharf_compiler::source::LineCol) {
    let file = sources.get(span.file);
    (file.name.clone(), file.line_col(span.start))
}

#[derive(Serialize)]
pub struct JsonDiagnostic {
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub end_line: Option<u32>,
    pub end_column: Option<u32>,
    pub hints: Vec<String>,
    pub labels: Vec<JsonLabel>,
}

#[derive(Serialize)]
pub struct JsonLabel {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// `{"diagnostics": [...]}`, each as `to_json` makes it: what a command
/// with `--format json` prints when it cannot give its result.
pub fn write_json(out: &mut dyn Write, sources: &SourceMap, diagnostics: &[Diagnostic]) -> std::io::Result<()> {
    let list: Vec<JsonDiagnostic> = diagnostics.iter().map(|d| to_json(sources, d)).collect();
    let text = serde_json::to_string_pretty(&serde_json::json!({ "diagnostics": list }))?;
    writeln!(out, "{text}")
}

pub fn to_json(sources: &SourceMap, d: &Diagnostic) -> JsonDiagnostic {
    let (file, start, end) = match d.span {
        Some(span) => {
            let f = sources.get(span.file);
            (
                Some(f.name.clone()),
                Some(f.line_col(span.start)),
                Some(f.line_col(span.end)),
            )
        }
        None => (None, None, None),
    };
    JsonDiagnostic {
        code: d.code.to_string(),
        severity: d.severity,
        message: d.message.clone(),
        file,
        line: start.map(|p| p.line),
        column: start.map(|p| p.column),
        end_line: end.map(|p| p.line),
        end_column: end.map(|p| p.column),
        hints: d.hints.clone(),
        labels: d
            .labels
            .iter()
            .map(|l| {
                let (file, pos) = location(sources, l.span);
                JsonLabel {
                    file,
                    line: pos.line,
                    column: pos.column,
                    message: l.message.clone(),
                }
            })
            .collect(),
    }
}
