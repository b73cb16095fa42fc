//! `wharf check`: exit codes, text and JSON diagnostics, warnings, folders.

mod common;
use common::*;

#[test]
fn example_pipelines_check_clean() {
    let out = wharf().args(["check", "pipelines"]).output().expect("runs");
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("0 errors"), "{stderr}");
}

#[test]
fn default_path_is_the_pipelines_folder() {
    let out = wharf().arg("check").output().expect("runs");
    assert!(out.status.success());
    let pipelines = example_pipeline_files().len();
    assert!(
        stderr_of(&out).contains(&format!("checked {pipelines} file")),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn errors_exit_one_with_location_code_and_hint() {
    let (_dir, path) = temp_file(
        "bad.wharf",
        "pipeline p {\n  step s {\n    command = [\"x\"]\n    inputs { a = prepar.out }\n  }\n  step prepare { command = [\"p\"] outputs { out = dir() } }\n}\n",
    );
    let out = wharf().arg("check").arg(&path).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("unknown-step"), "{stderr}");
    assert!(stderr.contains("bad.wharf:4:18"), "{stderr}");
    assert!(stderr.contains("did you mean `prepare`?"), "{stderr}");
    assert!(stderr.contains("1 error"), "{stderr}");
}

#[test]
fn json_output_lists_every_diagnostic_with_positions() {
    let out = wharf()
        .args(["check", "--format", "json", "tests/diagnostics/names.wharf"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["errors"], 7);
    let diags = report["files"][0]["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(diags.len(), 7);
    let unknown_param = diags
        .iter()
        .find(|d| d["code"] == "unknown-param")
        .expect("unknown-param");
    assert_eq!(
        (unknown_param["line"].as_u64(), unknown_param["column"].as_u64()),
        (Some(7), Some(28))
    );
    assert_eq!(unknown_param["severity"], "error");
    assert_eq!(unknown_param["hints"][0], "did you mean `data`?");
    // Diagnostics are sorted by position.
    let lines: Vec<u64> = diags.iter().filter_map(|d| d["line"].as_u64()).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

#[test]
fn warnings_pass_unless_denied() {
    let file = "tests/diagnostics/warnings.wharf";
    let out = wharf().args(["check", file]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("unused-param"));
    let out = wharf()
        .args(["check", "--deny", "warnings", file])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn library_files_without_a_pipeline_are_accepted() {
    let (_dir, path) = temp_file(
        "lib.wharf",
        "template step hi(who: string) { command = [\"echo\", who] }\n",
    );
    let out = wharf().arg("check").arg(&path).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn missing_paths_and_bad_overrides_are_usage_errors() {
    let out = wharf().args(["check", "no/such/file.wharf"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("does not exist"));
    let out = wharf()
        .args(["check", "-p", "novalue", "pipelines/churn.wharf"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("NAME=VALUE"), "{}", stderr_of(&out));
}

#[test]
fn a_bad_override_is_an_invalid_override_diagnostic_in_text_and_json() {
    let out = wharf()
        .args(["check", "-p", "novalue", "pipelines/churn.wharf"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_of(&out).trim_end(),
        "error[invalid-override]: `-p novalue` is not NAME=VALUE\n  = help: for example `-p max_depth=8`"
    );
    let out = wharf()
        .args(["check", "--format", "json", "-p", "novalue", "pipelines/churn.wharf"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["diagnostics"][0]["code"], "invalid-override", "{report}");
    assert_eq!(
        report["diagnostics"][0]["hints"][0], "for example `-p max_depth=8`",
        "{report}"
    );
}

#[test]
fn unreadable_and_non_utf8_files_are_reported_not_panicked_on() {
    let (_dir, path) = temp_file("bin.wharf", "");
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x41]).expect("write");
    let out = wharf().arg("check").arg(&path).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("not UTF-8"), "{}", stderr_of(&out));
}

#[test]
fn logs_are_json_lines_on_request() {
    let out = wharf()
        .args(["--log-format", "json", "check", "pipelines/churn.wharf"])
        .env("RUST_LOG", "wharf=debug")
        .output()
        .expect("runs");
    assert!(out.status.success());
    let stderr = stderr_of(&out);
    let line = stderr.lines().find(|l| l.starts_with('{')).expect("a JSON log line");
    let event: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
    assert_eq!(event["fields"]["message"], "compiled");
    assert_eq!(event["fields"]["steps"], 4);
}
