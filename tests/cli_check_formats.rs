//! `wharf check --format github|sarif`, the formats for CI: GitHub
//! workflow commands line for line (escaping included), and SARIF that the
//! official SARIF 2.1.0 schema (tests/schemas/) accepts, at the positions
//! `--format json` gives.

mod common;
use common::*;
use serde_json::{Value, json};

#[test]
fn github_prints_one_workflow_command_per_diagnostic() {
    let out = wharf()
        .args([
            "check",
            "--format",
            "github",
            "tests/diagnostics/warnings.wharf",
            "tests/broken/self-when.wharf",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let expected = [
        "::warning file=tests/diagnostics/warnings.wharf,line=1,col=1,endLine=1,endColumn=28,title=unused-import::`local` is imported but never used",
        "::warning file=tests/diagnostics/warnings.wharf,line=4,col=9,endLine=4,endColumn=15,title=unused-param::param `unused` is never read%0Ahelp: read it as `params.NAME`, or remove it",
        "::error file=tests/broken/self-when.wharf,line=1,col=46,endLine=1,endColumn=51,title=unknown-output::step `s` has no output `out`%0Atests/broken/self-when.wharf:1:19: the step is declared here%0Ahelp: `s` declares no outputs",
        "::error file=tests/broken/self-when.wharf,line=1,col=46,endLine=1,endColumn=57,title=cycle::steps depend on each other in a cycle: s -> s (each feeds the next)%0Ahelp: a step cannot read, directly or through others, what it writes; remove one of these references",
        "::error file=tests/broken/self-when.wharf,line=1,col=48,endLine=1,endColumn=51,title=unknown-output::step `s` has no output `out`%0Atests/broken/self-when.wharf:1:19: the step is declared here%0Ahelp: `s` declares no outputs",
    ];
    assert_eq!(stdout_of(&out).lines().collect::<Vec<_>>(), expected);
    // The summary is for people reading the log, on stderr.
    assert_eq!(stderr_of(&out).trim(), "checked 2 files: 3 errors, 2 warnings");
}

#[test]
fn github_escapes_properties_and_messages_as_the_toolkit_does() {
    let (dir, _) = temp_file(
        "a,b:c%.wharf",
        "import \"no:such,50%.wharf\" as lib\n\npipeline p {\n  param unused : int = 1\n  step s { command = [\"x\"] }\n}\n",
    );
    // Run in the file's folder: paths inside it are relative.
    let out = wharf_in(dir.path())
        .args(["check", "--format", "github", "a,b:c%.wharf"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(
        stdout_of(&out),
        "::error file=a%2Cb%3Ac%25.wharf,line=1,col=8,endLine=1,endColumn=27,title=import-not-found::\
         cannot read `no:such,50%25.wharf`: no such file%0Ahelp: import paths are relative to the importing file; `std/...` names the standard library\n\
         ::warning file=a%2Cb%3Ac%25.wharf,line=4,col=9,endLine=4,endColumn=15,title=unused-param::\
         param `unused` is never read%0Ahelp: read it as `params.NAME`, or remove it\n"
    );
}

#[test]
fn github_prints_diagnostics_without_a_file_and_keeps_the_exit_codes() {
    let out = wharf()
        .args(["check", "--format", "github", "-p", "novalue", "pipelines"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stdout_of(&out),
        "::error title=invalid-override::`-p novalue` is not NAME=VALUE%0Ahelp: for example `-p max_depth=8`\n"
    );
    let out = wharf()
        .args(["check", "--format", "github", "pipelines"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "", "a clean check prints no command");
    let warnings = ["check", "--format", "github", "tests/diagnostics/warnings.wharf"];
    let out = wharf().args(warnings).output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let out = wharf()
        .args(warnings)
        .args(["--deny", "warnings"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
}

/// The SARIF 2.1.0 schema (OASIS, draft-04), compiled.
fn sarif_schema() -> (boon::Schemas, boon::SchemaIndex) {
    let path = root().join("tests/schemas/sarif-schema-2.1.0.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the schema is here")).expect("the schema is JSON");
    let url = schema["id"].as_str().expect("the schema names itself").to_string();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource(&url, schema).expect("a valid URL");
    let index = compiler.compile(&url, &mut schemas).expect("the schema compiles");
    (schemas, index)
}

fn assert_valid(schemas: &boon::Schemas, index: boon::SchemaIndex, log: &Value) {
    if let Err(error) = schemas.validate(log, index) {
        panic!("not valid SARIF 2.1.0: {error:#}\n{log:#}");
    }
}

fn sarif_of(args: &[&str]) -> (Option<i32>, Value) {
    let out = wharf()
        .args(["check", "--format", "sarif"])
        .args(args)
        .output()
        .expect("runs");
    let log = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout_of(&out), stderr_of(&out)));
    (out.status.code(), log)
}

#[test]
fn sarif_is_valid_and_agrees_with_json_positions() {
    let (schemas, index) = sarif_schema();
    // Every annotated example and every broken file: all kinds of position.
    let files = ["tests/diagnostics", "tests/broken"];
    let (code, log) = sarif_of(&files);
    assert_eq!(code, Some(1));
    assert_valid(&schemas, index, &log);

    let run = &log["runs"][0];
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["name"], "wharf");
    assert_eq!(run["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    let base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"].as_str().expect("a base");
    assert!(base.starts_with("file:///") && base.ends_with('/'), "{base}");

    // The same diagnostics, in the same order, at the same places as JSON.
    let out = wharf()
        .args(["check", "--format", "json"])
        .args(files)
        .output()
        .expect("runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let from_json: Vec<Value> = report["files"]
        .as_array()
        .expect("files")
        .iter()
        .flat_map(|f| f["diagnostics"].as_array().expect("diagnostics").clone())
        .map(|d| {
            json!([
                d["code"],
                d["severity"],
                d["file"],
                d["line"],
                d["column"],
                d["end_line"],
                d["end_column"]
            ])
        })
        .collect();
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let from_sarif: Vec<Value> = run["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(rules[index]["id"], r["ruleId"], "ruleIndex points at the rule");
            let location = &r["locations"][0]["physicalLocation"];
            assert_eq!(location["artifactLocation"]["uriBaseId"], "%SRCROOT%");
            let region = &location["region"];
            json!([
                r["ruleId"],
                r["level"],
                location["artifactLocation"]["uri"],
                region["startLine"],
                region["startColumn"],
                region["endLine"],
                region["endColumn"]
            ])
        })
        .collect();
    assert!(from_json.len() > 50, "{}", from_json.len());
    assert_eq!(from_sarif, from_json);

    // One rule per code used, each described.
    let mut ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert!(
        rules
            .iter()
            .all(|r| r["shortDescription"]["text"].as_str().is_some_and(|t| !t.is_empty()))
    );
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "a rule twice: {ids:?}");
}

#[test]
fn sarif_of_a_clean_check_and_of_a_usage_error_is_valid_too() {
    let (schemas, index) = sarif_schema();
    let (code, log) = sarif_of(&["pipelines"]);
    assert_eq!(code, Some(0));
    assert_valid(&schemas, index, &log);
    assert_eq!(log["runs"][0]["results"], json!([]));

    let (code, log) = sarif_of(&["-p", "novalue", "pipelines"]);
    assert_eq!(code, Some(2));
    assert_valid(&schemas, index, &log);
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "invalid-override");
    assert!(result.get("locations").is_none(), "{result:#}");

    // A file outside the current folder gets an absolute file:// URI.
    let (dir, path) = temp_file("x y.wharf", "pipeline p {\n  param unused : int = 1\n}\n");
    let (code, log) = sarif_of(&[path.to_str().expect("a UTF-8 path")]);
    assert_eq!(code, Some(0));
    assert_valid(&schemas, index, &log);
    let artifact = &log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    let uri = artifact["uri"].as_str().expect("a uri");
    assert!(uri.starts_with("file:///") && uri.ends_with("/x%20y.wharf"), "{uri}");
    assert!(artifact.get("uriBaseId").is_none(), "{artifact}");
    drop(dir);
}

#[test]
fn the_schema_rejects_broken_logs() {
    let (schemas, index) = sarif_schema();
    let (_, log) = sarif_of(&["tests/diagnostics/warnings.wharf"]);
    assert_valid(&schemas, index, &log);
    type Breakage = (&'static str, fn(&mut Value));
    let breakages: [Breakage; 4] = [
        ("a level SARIF does not have", |log| {
            log["runs"][0]["results"][0]["level"] = json!("fatal")
        }),
        ("no version", |log| {
            log.as_object_mut().expect("an object").remove("version");
        }),
        ("line 0", |log| {
            log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = json!(0)
        }),
        ("a relative informationUri", |log| {
            log["runs"][0]["tool"]["driver"]["informationUri"] = json!("docs/cli.md")
        }),
    ];
    for (what, breakage) in breakages {
        let mut broken = log.clone();
        breakage(&mut broken);
        assert!(schemas.validate(&broken, index).is_err(), "accepted {what}");
    }
}
