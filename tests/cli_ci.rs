//! What CI reads of `wharf run`: the run document of `--format json`, the
//! JUnit report of `--junit`, both for runs that succeed, fail, come from
//! the cache or never start; and the project file `wharf.toml` (its root,
//! the precedence of flag > environment > file > default, its errors) and
//! `wharf init`.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

const PIPELINE: &str = r#"
pipeline ci {
  param n : int = 1
  step make {
    command = ["sh", "-c", "echo made ${params.n} > \"$WHARF_OUTPUT_OUT/made.txt\"; echo '{\"auc\": 0.91, \"scores\": {\"f1\": 0.5}}' > \"$WHARF_OUTPUT_METRICS/metrics.json\""]
    outputs { out = dir(), metrics = file("metrics.json") }
  }
  step broken {
    command = ["sh", "-c", "echo 'a <b> & \"c\"'; printf 'esc \\033[31mred\\033[0m\\n'; for i in $(seq 1 50); do echo tail $i; done; echo x > \"$WHARF_OUTPUT_OUT/x\"; exit 3"]
    inputs { made = make.out }
    outputs { out = dir() }
  }
  step after {
    command = ["true"]
    inputs { b = broken.out }
  }
}
"#;

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}):\n{}", stdout_of(out)))
}

fn step<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no step {name} in {doc:#}"))
}

/// Parses `xml` with a real XML reader (any error fails the test) and
/// returns each element as (name, attributes), with the text of
/// `<failure>` elements.
/// An element: its name, its attributes and its text.
type Element = (String, Vec<(String, String)>, String);

fn xml_elements(xml: &str) -> Vec<Element> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut found = Vec::new();
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("invalid XML: {e}\n{xml}"))
        {
            Event::Start(e) | Event::Empty(e) => {
                let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("attribute");
                        let value = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .expect("attribute value")
                            .to_string();
                        (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), value)
                    })
                    .collect();
                found.push((name, attrs, String::new()));
            }
            Event::Text(t) => {
                if let Some(last) = found.last_mut() {
                    last.2.push_str(t.decode().expect("text").as_ref());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(last) = found.last_mut() {
                    let name = r.decode().expect("reference");
                    last.2.push_str(match name.as_ref() {
                        "lt" => "<",
                        "gt" => ">",
                        "amp" => "&",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "?",
                    });
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    found
}

fn attr<'a>(element: &'a Element, name: &str) -> &'a str {
    element
        .1
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no attribute {name} on {element:?}"))
}

#[test]
fn a_failed_run_prints_its_document_and_junit_report_and_exits_1() {
    let dir = project(&[("p.wharf", PIPELINE)]);
    let out = wharf_in(dir.path())
        .args(["run", "p.wharf", "--format", "json", "--junit", "report.xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let doc = json_of(&out);
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["run"]["pipeline"], "ci");
    assert_eq!(doc["run"]["status"], "failed");
    assert_eq!(doc["run"]["exit_code"], 1);
    assert_eq!(doc["run"]["params"]["n"], 1);
    assert_eq!(doc["counts"]["succeeded"], 1);
    assert_eq!(doc["counts"]["failed"], 1);
    assert_eq!(doc["counts"]["cancelled"], 1);
    let make = step(&doc, "make");
    assert_eq!(make["status"], "succeeded");
    assert_eq!(make["exit_code"], 0);
    assert_eq!(make["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(make["metrics"]["auc"], 0.91, "{make:#}");
    assert_eq!(make["metrics"]["scores.f1"], 0.5, "{make:#}");
    assert_eq!(step(&doc, "broken")["metrics"], Value::Null);
    let output = make["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "out")
        .unwrap();
    assert_eq!(output["size"], 7, "`made 1\\n`");
    let folder = output["uri"].as_str().unwrap().strip_prefix("file://").unwrap();
    assert_eq!(
        std::fs::read_to_string(Path::new(folder).join("made.txt")).unwrap(),
        "made 1\n"
    );
    let broken = step(&doc, "broken");
    assert_eq!(broken["status"], "failed");
    assert_eq!(broken["exit_code"], 3);
    assert!(broken["reason"].as_str().unwrap().contains("code 3"), "{broken:#}");
    let log = broken["attempts"][0]["log"].as_str().unwrap();
    assert!(Path::new(log).is_file(), "the attempt's log is where the document says");
    assert_eq!(step(&doc, "after")["status"], "cancelled");
    assert_eq!(step(&doc, "after")["attempts"].as_array().unwrap().len(), 0);
    // Progress and the summary stay on stderr.
    assert!(stderr_of(&out).contains("1 failed"), "{}", stderr_of(&out));

    let xml = std::fs::read_to_string(dir.path().join("report.xml")).unwrap();
    let elements = xml_elements(&xml);
    let suite = elements.iter().find(|e| e.0 == "testsuite").unwrap();
    assert_eq!(attr(suite, "tests"), "3");
    assert_eq!(attr(suite, "failures"), "1");
    assert_eq!(attr(suite, "skipped"), "1");
    let cases: Vec<&str> = elements
        .iter()
        .filter(|e| e.0 == "testcase")
        .map(|e| attr(e, "name"))
        .collect();
    assert_eq!(cases, ["make", "broken", "after"]);
    let failure = elements.iter().find(|e| e.0 == "failure").unwrap();
    assert!(attr(failure, "message").contains("code 3"), "{failure:?}");
    let text = &failure.2;
    assert!(text.contains("tail 50"), "the failure carries the log's end: {text}");
    assert!(!text.contains("tail 5\n"), "only its last lines: {text}");
    assert!(!text.contains('\u{1b}'), "no escape codes in XML: {text:?}");
    // A step that never started because of the failure is skipped, not a second error.
    assert_eq!(attr(suite, "errors"), "0");
    let skipped = elements.iter().find(|e| e.0 == "skipped").unwrap();
    assert_eq!(attr(skipped, "message"), "not started: `broken` failed");
}

#[test]
fn a_cached_run_names_the_run_its_outputs_came_from() {
    let pipeline = PIPELINE.replace("exit 3", "exit 0");
    let dir = project(&[("p.wharf", &pipeline)]);
    let first = wharf_in(dir.path())
        .args(["run", "p.wharf", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr_of(&first));
    let first = json_of(&first);
    assert_eq!(first["counts"]["succeeded"], 3);
    assert_eq!(step(&first, "make")["cached_from"], Value::Null);
    let again = wharf_in(dir.path())
        .args(["run", "p.wharf", "--format", "json", "--junit", "out/junit.xml"])
        .output();
    // The report's folder does not exist: the run still ran, the report is refused.
    let again = again.unwrap();
    assert_eq!(again.status.code(), Some(2), "{}", stderr_of(&again));
    assert!(
        stderr_of(&again).contains("cannot write the JUnit report"),
        "{}",
        stderr_of(&again)
    );
    let again = json_of(&again);
    assert_eq!(again["counts"]["cached"], 3);
    let make = step(&again, "make");
    assert_eq!(make["status"], "cached");
    assert_eq!(make["cached_from"], first["run"]["id"]);
    assert!(
        make["outputs"][0]["uri"]
            .as_str()
            .unwrap()
            .contains(first["run"]["id"].as_str().unwrap()),
        "the outputs are the first run's: {make:#}"
    );

    std::fs::create_dir(dir.path().join("out")).unwrap();
    let third = wharf_in(dir.path())
        .args(["run", "p.wharf", "--junit", "out/junit.xml"])
        .output()
        .unwrap();
    assert_eq!(third.status.code(), Some(0), "{}", stderr_of(&third));
    assert!(third.stdout.is_empty(), "text runs print nothing on stdout");
    let xml = std::fs::read_to_string(dir.path().join("out/junit.xml")).unwrap();
    let elements = xml_elements(&xml);
    let skipped: Vec<&str> = elements
        .iter()
        .filter(|e| e.0 == "skipped")
        .map(|e| attr(e, "message"))
        .collect();
    assert_eq!(skipped.len(), 3);
    assert!(
        skipped.iter().all(|m| m.starts_with(&format!(
            "cached: outputs of run {}",
            first["run"]["id"].as_str().unwrap()
        ))),
        "{skipped:?}"
    );
}

#[test]
fn a_run_that_cannot_start_says_so_in_json_and_exits_2() {
    let dir = project(&[("p.wharf", PIPELINE)]);
    let out = wharf_in(dir.path())
        .args([
            "run", "p.wharf", "--format", "json", "--target", "nowhere", "--junit", "r.xml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The report a CI job uploads shows the failure rather than going missing.
    let xml = std::fs::read_to_string(dir.path().join("r.xml")).unwrap();
    let elements = xml_elements(&xml);
    let error = elements.iter().find(|e| e.0 == "error").expect("the pipeline in error");
    assert!(attr(error, "message").contains("nowhere"), "{error:?}");
    assert_eq!(
        attr(elements.iter().find(|e| e.0 == "testsuites").unwrap(), "errors"),
        "1"
    );
    let doc = json_of(&out);
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["run"], Value::Null);
    assert_eq!(doc["exit_code"], 2);
    assert!(!doc["errors"].as_array().unwrap().is_empty());
    assert!(stderr_of(&out).contains("unknown-target"), "{}", stderr_of(&out));
}

const TWO_TARGETS: &str = r#"
pipeline t {
  step s { image = "x:1"  command = ["true"] }
}
target a { backend = process }
target b { backend = process }
target cloud { backend = sagemaker  role = "arn:aws:iam::123456789012:role/r" }
"#;

fn planned_target(dir: &Path, cwd: &str, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut cmd = wharf_in(&dir.join(cwd));
    cmd.args(["plan", &format!("{}/p.wharf", dir.display()), "--format", "json"])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    json_of(&out)["target"].clone()
}

#[test]
fn the_target_is_the_flag_then_the_environment_then_wharf_toml_then_the_default() {
    let dir = project(&[
        ("p.wharf", TWO_TARGETS),
        (
            "wharf.toml",
            "[project]\ntarget = \"b\"\n\n[targets.cloud]\nregion = \"eu-west-3\"\nbucket = \"s3://acme/wharf\"\nrole = \"arn:aws:iam::1:role/ignored\"\n",
        ),
        ("sub/deeper/.keep", ""),
    ]);
    let d = dir.path();
    assert_eq!(planned_target(d, "sub/deeper", &[], &[])["name"], "b");
    assert_eq!(
        planned_target(d, "sub/deeper", &[], &[("WHARF_TARGET", "a")])["name"],
        "a"
    );
    assert_eq!(
        planned_target(d, "sub/deeper", &["--target", "cloud"], &[("WHARF_TARGET", "a")])["name"],
        "cloud"
    );
    // [targets.cloud] fills what the pipeline leaves out; the pipeline's own `role` wins.
    let cloud = planned_target(d, ".", &["--target", "cloud"], &[]);
    assert_eq!(cloud["settings"]["region"], "eu-west-3");
    assert_eq!(cloud["settings"]["bucket"], "s3://acme/wharf");
    assert_eq!(cloud["settings"]["role"], "arn:aws:iam::123456789012:role/r");
    // Without wharf.toml: the file's default (no `local`: the first declared).
    std::fs::remove_file(d.join("wharf.toml")).unwrap();
    assert_eq!(planned_target(d, ".", &[], &[])["name"], "a");
}

#[test]
fn a_default_target_the_pipeline_lacks_is_an_error_that_says_where_it_came_from() {
    let dir = project(&[
        ("p.wharf", TWO_TARGETS),
        ("wharf.toml", "[project]\ntarget = \"locl\"\n"),
    ]);
    let out = wharf_in(dir.path()).args(["plan", "p.wharf"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("declares no target `locl` (the default target, from wharf.toml:2:10)"),
        "{err}"
    );
    assert!(err.contains("pass --target NAME"), "{err}");
}

#[test]
fn the_state_folder_is_at_the_project_root_from_any_folder_below_it() {
    let dir = project(&[
        ("wharf.toml", "# empty project file\n"),
        ("pipelines/p.wharf", &PIPELINE.replace("exit 3", "exit 0")),
        ("pipelines/sub/.keep", ""),
    ]);
    let d = dir.path();
    let out = wharf_in(&d.join("pipelines"))
        .args(["run", "p.wharf"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(d.join(".wharf/state.db").is_file(), "state at the root");
    assert!(!d.join("pipelines/.wharf").exists(), "not in the current folder");
    let runs = wharf_in(&d.join("pipelines/sub"))
        .args(["runs", "--format", "json"])
        .output()
        .unwrap();
    assert!(runs.status.success(), "{}", stderr_of(&runs));
    assert_eq!(json_of(&runs)["runs"].as_array().unwrap().len(), 1, "found from below");
    // A second run from the root comes from the same cache.
    let again = wharf_in(d)
        .args(["run", "pipelines/p.wharf", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(json_of(&again)["counts"]["cached"], 3);
}

#[test]
fn the_state_folder_is_the_flag_then_the_environment_then_wharf_toml() {
    let dir = project(&[
        ("wharf.toml", "[project]\nstate_dir = \"cache/state\"\n"),
        ("p.wharf", "pipeline s { step s { command = [\"true\"] } }\n"),
    ]);
    let d = dir.path();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = wharf_in(d);
        cmd.args(["run", "p.wharf", "--no-cache"]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
    };
    run(&[], &[]);
    assert!(d.join("cache/state/state.db").is_file());
    run(&[], &[("WHARF_STATE_DIR", "from-env")]);
    assert!(d.join("from-env/state.db").is_file());
    run(&["--state-dir", "from-flag"], &[("WHARF_STATE_DIR", "from-env")]);
    assert!(d.join("from-flag/state.db").is_file());
    assert!(!d.join(".wharf").exists());
    // A state folder that is a file is refused, and left as it is.
    std::fs::write(d.join("a-file"), "mine").unwrap();
    let out = wharf_in(d)
        .args(["--state-dir", "a-file", "run", "p.wharf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("is a file, not a folder"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        stderr_of(&out).contains("--state-dir, WHARF_STATE_DIR"),
        "{}",
        stderr_of(&out)
    );
    // Commands that keep no state do not care.
    let check = wharf_in(d)
        .args(["--state-dir", "a-file", "check", "p.wharf"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr_of(&check));
    assert_eq!(std::fs::read_to_string(d.join("a-file")).unwrap(), "mine");
}

#[test]
fn a_broken_project_file_is_refused_with_its_place_and_a_hint() {
    let dir = project(&[
        (
            "wharf.toml",
            "[project]\npipelines = \"pipelines\"\n\n[output]\ncolour = \"never\"\n",
        ),
        ("p.wharf", "pipeline s { step s { command = [\"true\"] } }\n"),
    ]);
    let out = wharf_in(dir.path()).args(["run", "p.wharf"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(err.contains("[output] has no key `colour`"), "{err}");
    assert!(err.contains("wharf.toml:5:1"), "{err}");
    assert!(err.contains("did you mean `color`?"), "{err}");
    assert!(!dir.path().join(".wharf").exists(), "nothing was done");
    let dir = project(&[("wharf.toml", "[targets.cloud]\nbucket = 3\n")]);
    let out = wharf_in(dir.path()).args(["runs"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("wharf.toml:2:10"), "{}", stderr_of(&out));
}

#[test]
fn colour_is_the_flag_then_the_environment_then_wharf_toml_and_never_off_a_terminal_by_default() {
    let dir = project(&[("bad.wharf", "pipeline b { step s { command = 3 } }\n")]);
    let check = |args: &[&str], env: &[(&str, &str)]| -> bool {
        let mut cmd = wharf_in(dir.path());
        cmd.env_remove("NO_COLOR").args(["check", "bad.wharf"]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        stderr_of(&out).contains('\u{1b}')
    };
    assert!(!check(&[], &[]), "no escape codes in a pipe");
    assert!(check(&["--color", "always"], &[]));
    assert!(check(&[], &[("WHARF_COLOR", "always")]));
    assert!(!check(&["--color", "never"], &[("WHARF_COLOR", "always")]));
    assert!(check(&[], &[("CLICOLOR_FORCE", "1")]));
    std::fs::write(dir.path().join("wharf.toml"), "[output]\ncolor = \"always\"\n").unwrap();
    assert!(check(&[], &[]));
    assert!(!check(&[], &[("NO_COLOR", "1")]));
}

#[test]
fn the_log_format_is_the_flag_then_the_environment_then_wharf_toml() {
    let dir = project(&[
        ("wharf.toml", "[output]\nlog_format = \"json\"\n"),
        ("p.wharf", "pipeline s { step s { command = [\"true\"] } }\n"),
    ]);
    // `compiled` is a debug line every pipeline command logs.
    let log_lines = |args: &[&str], env: &[(&str, &str)]| -> Vec<String> {
        let mut cmd = wharf_in(dir.path());
        cmd.env("WHARF_LOG", "wharf=debug").args(args).args(["plan", "p.wharf"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        stderr_of(&out)
            .lines()
            .filter(|l| l.contains("compiled"))
            .map(String::from)
            .collect()
    };
    let is_json =
        |lines: &[String]| !lines.is_empty() && lines.iter().all(|l| serde_json::from_str::<Value>(l).is_ok());
    assert!(is_json(&log_lines(&[], &[])), "wharf.toml asks for JSON");
    assert!(!is_json(&log_lines(&[], &[("WHARF_LOG_FORMAT", "text")])));
    assert!(is_json(&log_lines(
        &["--log-format", "json"],
        &[("WHARF_LOG_FORMAT", "text")]
    )));
}

#[test]
fn init_writes_a_project_that_checks_and_runs_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join(".gitignore"), "mine\n").unwrap();
    let out = wharf_in(d).args(["init"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(std::fs::read_to_string(d.join(".gitignore")).unwrap(), "mine\n", "kept");
    assert!(stderr_of(&out).contains("kept"), "{}", stderr_of(&out));
    let toml = std::fs::read_to_string(d.join("wharf.toml")).unwrap();
    // `check` with no path reads the folder wharf.toml names.
    let check = wharf_in(d).args(["check"]).output().unwrap();
    assert!(check.status.success(), "{}", stderr_of(&check));
    assert!(
        stderr_of(&check).contains("1 file") || stdout_of(&check).contains("1 file"),
        "{}",
        stderr_of(&check)
    );
    let run = wharf_in(d)
        .args(["run", "pipelines/hello.wharf", "--format", "json"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr_of(&run));
    assert_eq!(json_of(&run)["counts"]["succeeded"], 2);
    // Into a folder that does not exist yet.
    let out = wharf_in(d).args(["init", "new/project"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(d.join("new/project/wharf.toml").is_file() && d.join("new/project/pipelines/hello.wharf").is_file());
    assert!(
        stderr_of(&out).contains("cd new/project && wharf run pipelines/hello.wharf"),
        "{}",
        stderr_of(&out)
    );
    // A second init changes nothing.
    std::fs::write(d.join("pipelines/hello.wharf"), "edited").unwrap();
    let again = wharf_in(d).args(["init"]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(d.join("wharf.toml")).unwrap(), toml);
    assert_eq!(
        std::fs::read_to_string(d.join("pipelines/hello.wharf")).unwrap(),
        "edited"
    );
}

#[test]
fn an_interrupted_run_still_prints_its_document_and_exits_130() {
    let dir = project(&[(
        "p.wharf",
        "pipeline slow {\n  step a { command = [\"sh\", \"-c\", \"touch started; sleep 30\"] }\n}\n",
    )]);
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("wharf"))
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .args(["run", "p.wharf", "--format", "json", "--junit", "r.xml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The step runs in the pipeline file's folder.
    wait_for("the step to start", std::time::Duration::from_secs(20), || {
        dir.path().join("started").exists().then_some(())
    });
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr_of(&out));
    let doc = json_of(&out);
    assert_eq!(doc["run"]["status"], "cancelled");
    assert_eq!(doc["run"]["exit_code"], 130);
    let xml = std::fs::read_to_string(dir.path().join("r.xml")).unwrap();
    let elements = xml_elements(&xml);
    let error = elements
        .iter()
        .find(|e| e.0 == "error")
        .expect("an <error> for the stopped step");
    assert_eq!(attr(error, "message"), "cancelled");
}

#[test]
fn with_ci_set_progress_is_plain_lines_even_on_a_terminal() {
    let dir = project(&[("p.wharf", "pipeline s { step s { command = [\"true\"] } }\n")]);
    let wharf = assert_cmd::cargo::cargo_bin("wharf");
    // script(1) gives wharf a terminal; its output is what the terminal got.
    let on_a_terminal = |ci: Option<&str>| -> String {
        let mut cmd = std::process::Command::new("script");
        cmd.current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("TERM", "xterm")
            .env_remove("CI")
            .args([
                "-qec",
                &format!("{} run p.wharf --no-cache", wharf.display()),
                "/dev/null",
            ]);
        if let Some(ci) = ci {
            cmd.env("CI", ci);
        }
        let out = cmd.output().expect("script(1) runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let live = on_a_terminal(None);
    assert!(live.contains("\u{1b}["), "a terminal gets the live view: {live:?}");
    let plain = on_a_terminal(Some("true"));
    assert!(!plain.contains('\u{1b}'), "CI=true gets plain lines: {plain:?}");
    assert!(plain.contains("✓ s succeeded"), "{plain}");
}
