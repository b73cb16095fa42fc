//! Diagnostics as GitHub Actions workflow commands, one line each, which the
//! runner turns into annotations on the commit and the pull request:
//!
//! ```text
//! ::error file=pipelines/a.wharf,line=4,col=18,endLine=4,endColumn=28,title=unknown-step::no step `prepar`%0Ahelp: did you mean `prepare`?
//! ```
//!
//! Values are escaped as the runner's toolkit (`@actions/core`) escapes
//! them, so a message with `%`, `:`, `,` or newlines arrives intact.
//! Positions are those of `--format json` (1-based; columns count
//! characters); a diagnostic with no position has no `file=`.

use super::report_path::ReportPath;
use std::io::Write;
use std::path::Path;
use wharf_compiler::{Diagnostic, Severity, SourceMap};

/// Writes one workflow command per diagnostic; `cwd` makes paths relative.
pub fn write(
    out: &mut dyn Write,
    sources: &SourceMap,
    diagnostics: &[Diagnostic],
    cwd: Option<&Path>,
) -> std::io::Result<()> {
    for d in diagnostics {
        writeln!(out, "{}", command(sources, d, cwd))?;
    }
    Ok(())
}

/// `::error file=F,line=L,col=C,endLine=..,endColumn=..,title=CODE::message`
/// (`::warning` for a warning).
pub fn command(sources: &SourceMap, d: &Diagnostic, cwd: Option<&Path>) -> String {
    let name = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut properties: Vec<(&str, String)> = Vec::new();
    if let Some(span) = d.span {
        let file = sources.get(span.file);
        let (start, end) = (file.line_col(span.start), file.line_col(span.end));
        properties.extend([
            ("file", ReportPath::new(&file.name, cwd).to_string()),
            ("line", start.line.to_string()),
            ("col", start.column.to_string()),
            ("endLine", end.line.to_string()),
            ("endColumn", end.column.to_string()),
        ]);
    }
    properties.push(("title", d.code.to_string()));
    let properties: Vec<String> = properties
        .iter()
        .map(|(key, value)| format!("{key}={}", escape_property(value)))
        .collect();
    format!(
        "::{name} {}::{}",
        properties.join(","),
        escape_data(&message(sources, d, cwd))
    )
}

/// The message, then each label with its position and each hint, one per
/// line: an annotation shows them all.
fn message(sources: &SourceMap, d: &Diagnostic, cwd: Option<&Path>) -> String {
    let mut text = d.message.clone();
    for label in &d.labels {
        let file = sources.get(label.span.file);
        let pos = file.line_col(label.span.start);
        let path = ReportPath::new(&file.name, cwd);
        text.push_str(&format!("\n{path}:{}:{}: {}", pos.line, pos.column, label.message));
    }
    for hint in &d.hints {
        text.push_str(&format!("\nhelp: {hint}"));
    }
    text
}

/// The toolkit's `escapeData`: what follows `::`.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// The toolkit's `escapeProperty`: a `key=value` before `::`.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_compiler::source::SourceFile;
    use wharf_compiler::{Code, Span};

    #[test]
    fn escaping_follows_the_toolkit() {
        let cases = [
            ("plain", "plain", "plain"),
            ("100%", "100%25", "100%25"),
            ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
            ("a:b,c", "a:b,c", "a%3Ab%2Cc"),
            ("%0A", "%250A", "%250A"),
            ("::x::", "::x::", "%3A%3Ax%3A%3A"),
        ];
        for (text, data, property) in cases {
            assert_eq!(escape_data(text), data, "data {text:?}");
            assert_eq!(escape_property(text), property, "property {text:?}");
        }
    }

    #[test]
    fn one_command_per_diagnostic_with_labels_and_hints_in_the_message() {
        let mut sources = SourceMap::default();
        let file = sources.add(SourceFile::new(
            "./a,b:c%.wharf",
            "pipeline p {\n  step s { x = 1 }\n}\n",
        ));
        let list = [
            Diagnostic::error(
                Code::UnknownAttribute,
                Span::new(file, 24, 25),
                "no `x`: 50% off, really",
            )
            .with_label(Span::new(file, 15, 21), "in step `s`")
            .with_hint("line one\nline two"),
            Diagnostic::warning(Code::UnusedParam, None, "unused"),
        ];
        let mut out = Vec::new();
        write(&mut out, &sources, &list, None).expect("written");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "::error file=a%2Cb%3Ac%25.wharf,line=2,col=12,endLine=2,endColumn=13,title=unknown-attribute::\
             no `x`: 50%25 off, really%0Aa,b:c%25.wharf:2:3: in step `s`%0Ahelp: line one%0Aline two\n\
             ::warning title=unused-param::unused\n"
        );
    }
}
