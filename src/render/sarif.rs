//! Diagnostics as a SARIF 2.1.0 log (`check --format sarif`), the format
//! code scanning (GitHub's, editors' SARIF viewers) reads: one run of the
//! tool `wharf`, one rule per diagnostic code the run reports, one result
//! per diagnostic.
//!
//! Choices a reader of the log may want to know:
//! - paths inside the current folder are relative URIs on the base
//!   `%SRCROOT%`, which `originalUriBaseIds` says is the current folder;
//!   others are absolute `file://` URIs;
//! - regions are 1-based and `columnKind` is `unicodeCodePoints`: columns
//!   count characters, as in the text and JSON output (SARIF's default
//!   would be UTF-16 code units);
//! - a diagnostic's hints follow its message on lines of their own
//!   (`help: ...`); its labels are `relatedLocations`;
//! - `informationUri` and the rules' `helpUri` (docs/diagnostics.md) are
//!   given when the package names its `repository`.
//!
//! tests/cli_check_formats.rs validates the output against the OASIS schema
//! in tests/schemas/.

use super::report_path::{ReportPath, file_uri};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use wharf_compiler::{Code, Diagnostic, Severity, SourceMap, Span};

const SCHEMA: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
const SRCROOT: &str = "%SRCROOT%";

/// Collects the results of every file checked, then writes one log.
pub struct SarifReport {
    cwd: Option<PathBuf>,
    /// The project's home page, for `informationUri` and `helpUri`.
    home: Option<String>,
    results: Vec<(Code, SarifResult)>,
}

impl SarifReport {
    /// `cwd` is the folder paths are made relative to (and `%SRCROOT%`);
    /// `home` a repository URL (`https://github.com/owner/wharf`), if known.
    pub fn new(cwd: Option<PathBuf>, home: Option<&str>) -> SarifReport {
        SarifReport {
            cwd,
            home: home
                .filter(|h| !h.is_empty())
                .map(|h| h.trim_end_matches('/').to_string()),
            results: Vec::new(),
        }
    }

    /// Adds the diagnostics of one compilation (positions resolve in `sources`).
    pub fn add(&mut self, sources: &SourceMap, diagnostics: &[Diagnostic]) {
        for d in diagnostics {
            let result = self.result(sources, d);
            self.results.push((d.code, result));
        }
    }

    fn result(&self, sources: &SourceMap, d: &Diagnostic) -> SarifResult {
        let mut text = d.message.clone();
        for hint in &d.hints {
            text.push_str(&format!("\nhelp: {hint}"));
        }
        SarifResult {
            rule_id: d.code.as_str(),
            rule_index: 0,
            level: match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            message: Message { text },
            locations: d
                .span
                .map(|span| vec![self.location(sources, span, None, None)])
                .unwrap_or_default(),
            related_locations: d
                .labels
                .iter()
                .zip(1..)
                .map(|(label, id)| {
                    self.location(
                        sources,
                        label.span,
                        Some(id),
                        Some(Message {
                            text: label.message.clone(),
                        }),
                    )
                })
                .collect(),
        }
    }

    fn location(&self, sources: &SourceMap, span: Span, id: Option<u32>, message: Option<Message>) -> Location {
        let file = sources.get(span.file);
        let (start, end) = (file.line_col(span.start), file.line_col(span.end));
        let path = ReportPath::new(&file.name, self.cwd.as_deref());
        Location {
            id,
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation {
                    uri: path.uri(),
                    uri_base_id: path.is_relative().then_some(SRCROOT),
                },
                region: Region {
                    start_line: start.line,
                    start_column: start.column,
                    end_line: end.line,
                    end_column: end.column,
                },
            },
            message,
        }
    }

    /// The log: rules in the order of docs/diagnostics.md, results in the
    /// order they were added.
    pub fn finish(self) -> SarifLog {
        let mut codes: Vec<Code> = self.results.iter().map(|(code, _)| *code).collect();
        codes.sort();
        codes.dedup();
        let index: BTreeMap<Code, usize> = codes.iter().enumerate().map(|(i, code)| (*code, i)).collect();
        let docs = self
            .home
            .as_ref()
            .map(|home| format!("{home}/blob/HEAD/docs/diagnostics.md"));
        let rules = codes
            .iter()
            .map(|code| Rule {
                id: code.as_str(),
                short_description: Message {
                    text: code.summary().to_string(),
                },
                help_uri: docs.clone(),
            })
            .collect();
        let results = self
            .results
            .into_iter()
            .map(|(code, mut result)| {
                result.rule_index = index[&code];
                result
            })
            .collect();
        let base = self.cwd.as_deref().map(|cwd| {
            let mut uri = file_uri(cwd);
            if !uri.ends_with('/') {
                uri.push('/');
            }
            BTreeMap::from([(SRCROOT, OriginalUriBase { uri })])
        });
        SarifLog {
            schema: SCHEMA,
            version: "2.1.0",
            runs: [Run {
                tool: Tool {
                    driver: Driver {
                        name: "wharf",
                        version: env!("CARGO_PKG_VERSION"),
                        semantic_version: env!("CARGO_PKG_VERSION"),
                        information_uri: self.home,
                        rules,
                    },
                },
                original_uri_base_ids: base,
                column_kind: "unicodeCodePoints",
                results,
            }],
        }
    }
}

impl SarifLog {
    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        writeln!(out, "{text}")
    }
}

// The part of SARIF 2.1.0 that wharf writes, field names as the schema
// spells them.

#[derive(Serialize)]
pub struct SarifLog {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_uri_base_ids: Option<BTreeMap<&'static str, OriginalUriBase>>,
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct OriginalUriBase {
    uri: String,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<String>,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    short_description: Message,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Message,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    locations: Vec<Location>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<Location>,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
    physical_location: PhysicalLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
    end_line: u32,
    end_column: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_compiler::source::SourceFile;

    fn log(home: Option<&str>) -> serde_json::Value {
        let mut sources = SourceMap::default();
        let file = sources.add(SourceFile::new("p/ç a.wharf", "pipeline p {\n  step é { x = 1 }\n}\n"));
        let mut report = SarifReport::new(Some(PathBuf::from("/w")), home);
        report.add(
            &sources,
            &[
                Diagnostic::warning(Code::UnusedParam, Span::new(file, 0, 8), "unused"),
                Diagnostic::error(Code::UnknownAttribute, Span::new(file, 25, 26), "no `x`")
                    .with_label(Span::new(file, 15, 22), "in step `é`")
                    .with_hint("remove it"),
                Diagnostic::error(Code::InvalidOverride, None, "`-p x` is not NAME=VALUE"),
            ],
        );
        serde_json::to_value(report.finish()).expect("serializable")
    }

    #[test]
    fn results_point_at_rules_and_regions_count_characters() {
        let log = log(None);
        let run = &log["runs"][0];
        let rules: Vec<&str> = run["tool"]["driver"]["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .map(|r| r["id"].as_str().expect("id"))
            .collect();
        // In the order of docs/diagnostics.md (the order of `Code`).
        assert_eq!(rules, ["unknown-attribute", "invalid-override", "unused-param"]);
        let results = run["results"].as_array().expect("results");
        let ids: Vec<(&str, u64)> = results
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().expect("id"),
                    r["ruleIndex"].as_u64().expect("index"),
                )
            })
            .collect();
        assert_eq!(
            ids,
            [("unused-param", 2), ("unknown-attribute", 0), ("invalid-override", 1)]
        );
        let attribute = &results[1];
        assert_eq!(attribute["level"], "error");
        assert_eq!(attribute["message"]["text"], "no `x`\nhelp: remove it");
        let location = &attribute["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], "p/%C3%A7%20a.wharf");
        assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        // `x` is byte 25 but character 24 of the file: `é` is two bytes.
        assert_eq!(
            location["region"],
            serde_json::json!({"startLine": 2, "startColumn": 12, "endLine": 2, "endColumn": 13})
        );
        assert_eq!(attribute["relatedLocations"][0]["message"]["text"], "in step `é`");
        assert_eq!(attribute["relatedLocations"][0]["id"], 1);
        assert!(results[2].get("locations").is_none(), "{:#}", results[2]);
        assert_eq!(run["columnKind"], "unicodeCodePoints");
        assert_eq!(run["originalUriBaseIds"]["%SRCROOT%"]["uri"], "file:///w/");
        assert!(run["tool"]["driver"].get("informationUri").is_none());
        assert!(run["tool"]["driver"]["rules"][0].get("helpUri").is_none());
    }

    #[test]
    fn a_known_home_gives_information_and_help_uris() {
        let log = log(Some("https://example.com/wharf/"));
        let driver = &log["runs"][0]["tool"]["driver"];
        assert_eq!(driver["informationUri"], "https://example.com/wharf");
        assert_eq!(
            driver["rules"][0]["helpUri"],
            "https://example.com/wharf/blob/HEAD/docs/diagnostics.md"
        );
    }
}
