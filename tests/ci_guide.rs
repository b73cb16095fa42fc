//! The CI guide cannot rot: the GitHub Actions and GitLab CI files under
//! docs/ci/ are parsed and their jobs run here, in order, in a scratch clone
//! of the guide's example project (docs/ci/example/), with the `wharf`
//! this build made first on PATH.
//!
//! Shell steps run as the CI service runs them (`bash -eo pipefail`, the
//! job's variables, `CI=true`). What only the CI service can do is stubbed,
//! and each stub checks what the step gives it: `actions/checkout` (the
//! scratch clone is the checkout), `actions/cache`, `actions/upload-artifact`
//! and GitLab's `artifacts` (each path must exist), the JUnit reporters
//! (the report must parse as JUnit), and the AWS credentials: GitHub's
//! `aws-actions/configure-aws-credentials` exports credentials as the action
//! does; GitLab's job exchanges its OIDC token itself (the AWS SDK's web
//! identity provider, against the emulator's STS). The jobs that run on
//! the cloud target run against moto with the project's fault proxy.
//! An action or an expression the harness does not know fails the test:
//! the guide may use only what is checked here.

mod common;
use common::moto::{self, Moto};
use serde_yaml::Value as Yaml;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const ROLE: &str = "arn:aws:iam::123456789012:role/wharf-sagemaker";
const CI_ROLE: &str = "arn:aws:iam::123456789012:role/wharf-ci";

fn guide(name: &str) -> Yaml {
    let path = common::root().join("docs/ci").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

/// A git clone of docs/ci/example/ in a temporary folder.
fn scratch_clone() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&common::root().join("docs/ci/example"), dir.path());
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "."],
        &[
            "-c",
            "user.name=ci",
            "-c",
            "user.email=ci@example.com",
            "commit",
            "-qm",
            "example",
        ],
    ] {
        let ok = Command::new("git").args(args).current_dir(dir.path()).status().unwrap();
        assert!(ok.success(), "git {args:?}");
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The environment every job starts with: this build's wharf first on
/// PATH, no AWS settings from this machine, no colour or log settings.
fn base_env(workspace: &Path) -> BTreeMap<String, String> {
    let wharf = assert_cmd::cargo::cargo_bin("wharf");
    let bin = wharf.parent().unwrap().display().to_string();
    let mut env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| {
            !k.starts_with("AWS_")
                && !k.starts_with("WHARF_")
                && !k.starts_with("GITHUB_")
                && !k.starts_with("CI_")
                && !["RUST_LOG", "NO_COLOR", "CLICOLOR_FORCE"].contains(&k.as_str())
        })
        .collect();
    let path = env.get("PATH").cloned().unwrap_or_default();
    env.insert("PATH".into(), format!("{bin}:{path}"));
    env.insert("CI".into(), "true".into());
    env.insert("AWS_EC2_METADATA_DISABLED".into(), "true".into());
    env.insert(
        "AWS_CONFIG_FILE".into(),
        workspace.join(".no-aws-config").display().to_string(),
    );
    env.insert(
        "AWS_SHARED_CREDENTIALS_FILE".into(),
        workspace.join(".no-aws-credentials").display().to_string(),
    );
    // Jobs on SageMaker poll the emulator quickly.
    env.insert("WHARF_SAGEMAKER_POLL_MS".into(), "200,1000".into());
    env
}

/// Runs `script` as a CI job's shell does; panics with its output if it fails.
fn shell(script: &str, cwd: &Path, env: &BTreeMap<String, String>, what: &str) -> String {
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(cwd)
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n$ {script}\n{text}",
        out.status
    );
    text
}

/// Checks that a JUnit report parses and has a test case per step.
fn check_junit(path: &Path) {
    let xml = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut suites, mut cases) = (0, 0);
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("{}: invalid XML: {e}", path.display()))
        {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => match e.name().as_ref() {
                b"testsuites" => suites += 1,
                b"testcase" => cases += 1,
                _ => {}
            },
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(suites, 1, "{}: one <testsuites>", path.display());
    assert!(cases >= 2, "{}: a test case per step", path.display());
}

fn moto_or_skip() -> Option<Moto> {
    let moto = Moto::start();
    if moto.is_none() {
        moto::skip_or_fail("moto is not installed: the guide's cloud jobs are not run");
    }
    moto
}

/// The run document a job left: the run succeeded and did its steps.
fn check_run_json(path: &Path) {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["run"]["status"], "succeeded", "{doc:#}");
    assert_eq!(doc["steps"].as_array().unwrap().len(), 2, "{doc:#}");
}

// ---------------------------------------------------------------- GitHub

struct GitHub<'a> {
    workspace: std::path::PathBuf,
    env: BTreeMap<String, String>,
    moto: Option<&'a Moto>,
    artifacts: Vec<String>,
}

impl GitHub<'_> {
    /// `${{ ... }}` as the workflow uses it; anything else fails the test.
    fn expand(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("a closed ${{ }}") + start;
            let expr = rest[start + 3..end].trim();
            out.push_str(&self.value_of(expr));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn value_of(&self, expr: &str) -> String {
        match expr {
            "github.sha" => "0123456789abcdef0123456789abcdef01234567".into(),
            "github.ref" => "refs/heads/main".into(),
            "secrets.WHARF_SAGEMAKER_ROLE" => ROLE.into(),
            "secrets.WHARF_CI_ROLE" => CI_ROLE.into(),
            other => panic!("the harness does not know the expression `{other}`"),
        }
    }

    /// A job's or a step's `if:`.
    fn condition(&self, value: Option<&Yaml>, failed: bool) -> bool {
        let Some(value) = value.and_then(Yaml::as_str) else {
            return !failed;
        };
        let expr = value.trim().trim_start_matches("${{").trim_end_matches("}}").trim();
        match expr {
            "always()" => true,
            "success()" => !failed,
            "failure()" => failed,
            _ => {
                let (left, right) = expr
                    .split_once("==")
                    .unwrap_or_else(|| panic!("unknown condition `{expr}`"));
                let right = right.trim().trim_matches('\'');
                !failed && self.value_of(left.trim()) == right
            }
        }
    }

    fn env_block(&self, block: Option<&Yaml>, into: &mut BTreeMap<String, String>) {
        if let Some(map) = block.and_then(Yaml::as_mapping) {
            for (k, v) in map {
                let value = match v {
                    Yaml::String(s) => self.expand(s),
                    other => serde_yaml::to_string(other).unwrap().trim().to_string(),
                };
                into.insert(k.as_str().unwrap().to_string(), value);
            }
        }
    }

    fn run_job(&mut self, name: &str, job: &Yaml) {
        let mut env = self.env.clone();
        self.env_block(job.get("env"), &mut env);
        let steps = job["steps"]
            .as_sequence()
            .unwrap_or_else(|| panic!("job {name} has steps"));
        let mut uploaded = Vec::new();
        assert!(job.get("runs-on").is_some(), "job {name} says where it runs");
        for (i, step) in steps.iter().enumerate() {
            let what = format!(
                "job {name}, step {} ({})",
                i + 1,
                step.get("name")
                    .or(step.get("uses"))
                    .and_then(Yaml::as_str)
                    .unwrap_or("run")
            );
            if !self.condition(step.get("if"), false) {
                continue;
            }
            let mut step_env = env.clone();
            self.env_block(step.get("env"), &mut step_env);
            if let Some(script) = step.get("run").and_then(Yaml::as_str) {
                shell(script, &self.workspace, &step_env, &what);
            } else if let Some(action) = step.get("uses").and_then(Yaml::as_str) {
                let with = |key: &str| -> String {
                    step.get("with")
                        .and_then(|w| w.get(key))
                        .and_then(Yaml::as_str)
                        .map(|v| self.expand(v))
                        .unwrap_or_default()
                };
                let (repo, _version) = action.split_once('@').expect("actions are pinned to a version");
                match repo {
                    "actions/checkout" => assert!(self.workspace.join(".git").is_dir()),
                    "actions/cache" => assert!(!with("path").is_empty() && !with("key").is_empty(), "{what}"),
                    "actions/upload-artifact" => {
                        let (name, paths) = (with("name"), with("path"));
                        for path in paths.lines().map(str::trim).filter(|p| !p.is_empty()) {
                            assert!(self.workspace.join(path).is_file(), "{what}: {path} to upload exists");
                            uploaded.push(format!("{name}/{path}"));
                        }
                    }
                    "mikepenz/action-junit-report" => check_junit(&self.workspace.join(with("report_paths"))),
                    "aws-actions/configure-aws-credentials" => {
                        assert_eq!(with("role-to-assume"), CI_ROLE, "{what}");
                        assert!(!with("aws-region").is_empty(), "{what}");
                        assert_eq!(
                            job.get("permissions")
                                .and_then(|p| p.get("id-token"))
                                .and_then(Yaml::as_str),
                            Some("write"),
                            "{what}: OIDC needs `id-token: write`"
                        );
                        // What the action exports: credentials and a region.
                        let moto = self.moto.expect("the cloud job runs against moto");
                        for (k, v) in moto.env() {
                            env.insert(k, v);
                        }
                        env.insert("AWS_REGION".into(), with("aws-region"));
                        env.insert("AWS_ENDPOINT_URL".into(), moto.endpoint.clone());
                    }
                    other => panic!("{what}: the harness has no stub for the action {other}"),
                }
            } else {
                panic!("{what}: neither `run` nor `uses`");
            }
        }
        self.artifacts.extend(uploaded);
    }
}

#[test]
fn the_github_actions_workflow_runs() {
    let workflow = guide("github-actions.yml");
    let home = tempfile::tempdir().unwrap();
    let mut clones = Vec::new();
    let moto = moto_or_skip();
    let mut env = base_env(home.path());
    env.insert("GITHUB_ACTIONS".into(), "true".into());
    env.insert("GITHUB_REF".into(), "refs/heads/main".into());
    let mut gh = GitHub {
        workspace: home.path().to_path_buf(),
        env: BTreeMap::new(),
        moto: moto.as_ref(),
        artifacts: Vec::new(),
    };
    gh.env = env;
    let mut top = BTreeMap::new();
    gh.env_block(workflow.get("env"), &mut top);
    gh.env.extend(top);
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    let mut done: Vec<String> = Vec::new();
    for (name, job) in jobs {
        let name = name.as_str().unwrap();
        if let Some(needs) = job.get("needs").and_then(Yaml::as_str) {
            assert!(
                done.iter().any(|d| d == needs),
                "job {name} needs {needs}, which comes first"
            );
        }
        if !gh.condition(job.get("if"), false) {
            continue;
        }
        if name == "run-cloud" && moto.is_none() {
            continue;
        }
        // Each job starts from a fresh checkout, as on GitHub's runners.
        let clone = scratch_clone();
        gh.workspace = clone.path().to_path_buf();
        gh.env
            .insert("GITHUB_WORKSPACE".into(), clone.path().display().to_string());
        gh.run_job(name, job);
        done.push(name.to_string());
        if name.starts_with("run-") {
            check_run_json(&clone.path().join("wharf-run.json"));
        }
        if name == "run-cloud" {
            check_cloud_run(clone.path());
        }
        clones.push(clone);
    }
    let expected = if moto.is_some() {
        vec!["check", "run-local", "run-cloud"]
    } else {
        vec!["check", "run-local"]
    };
    assert_eq!(done, expected);
    assert!(gh.artifacts.contains(&"wharf-local/wharf-junit.xml".to_string()));
}

/// The cloud job ran its SageMaker step as a processing job (not from a
/// cache), with wharf.toml's settings for the target.
fn check_cloud_run(workspace: &Path) {
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(workspace.join("wharf-run.json")).unwrap()).unwrap();
    let summarize = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "summarize")
        .unwrap();
    assert_eq!(summarize["status"], "succeeded", "{doc:#}");
    assert_eq!(summarize["backend"], "sagemaker", "{doc:#}");
    let job = &summarize["sagemaker_jobs"][0];
    assert_eq!(job["type"], "processing-job", "{doc:#}");
    assert!(
        job["arn"].as_str().unwrap().starts_with("arn:aws:sagemaker:eu-west-1:"),
        "{doc:#}"
    );
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(workspace.join("wharf-plan.json")).unwrap()).unwrap();
    assert_eq!(
        plan["target"]["settings"]["region"], "eu-west-1",
        "wharf.toml's [targets.cloud]"
    );
}

// ---------------------------------------------------------------- GitLab

/// `$NAME` and `${NAME}` in a GitLab variable, from what is defined.
fn gitlab_expand(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if braced {
            assert_eq!(chars.next(), Some('}'));
        }
        out.push_str(env.get(&name).map_or("", String::as_str));
    }
    out
}

fn lines(value: Option<&Yaml>) -> Vec<String> {
    value
        .and_then(Yaml::as_sequence)
        .map(|seq| {
            seq.iter()
                .map(|l| l.as_str().expect("script lines are text").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_gitlab_ci_file_runs() {
    let file = guide("gitlab-ci.yml");
    let moto = moto_or_skip();
    let home = tempfile::tempdir().unwrap();
    let mut env = base_env(home.path());
    for (k, v) in [
        ("GITLAB_CI", "true".to_string()),
        ("CI_COMMIT_BRANCH", "main".into()),
        ("CI_DEFAULT_BRANCH", "main".into()),
        ("CI_COMMIT_REF_SLUG", "main".into()),
    ] {
        env.insert(k.into(), v);
    }
    let stages: Vec<String> = file["stages"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let before = lines(file.get("default").and_then(|d| d.get("before_script")));
    let reserved = ["stages", "variables", "default", "workflow", "include"];
    let mut ran = Vec::new();
    for stage in &stages {
        for (name, job) in file.as_mapping().unwrap() {
            let name = name.as_str().unwrap();
            if reserved.contains(&name) || job["stage"].as_str() != Some(stage) {
                continue;
            }
            let runs = match job.get("rules").and_then(Yaml::as_sequence) {
                None => true,
                Some(rules) => rules.iter().any(|rule| {
                    let cond = rule["if"].as_str().unwrap();
                    let (l, r) = cond.split_once("==").expect("an `==` rule");
                    gitlab_expand(l.trim(), &env) == gitlab_expand(r.trim(), &env)
                }),
            };
            if !runs || (name == "run-cloud" && moto.is_none()) {
                continue;
            }
            // Each job starts from a fresh clone, as on GitLab's runners.
            let clone = scratch_clone();
            let ws = clone.path();
            let mut job_env = env.clone();
            job_env.insert("CI_PROJECT_DIR".into(), ws.display().to_string());
            if let Some(vars) = file.get("variables").and_then(Yaml::as_mapping) {
                for (k, v) in vars {
                    let value = gitlab_expand(v.as_str().unwrap(), &job_env);
                    job_env.insert(k.as_str().unwrap().into(), value);
                }
            }
            if let Some(tokens) = job.get("id_tokens").and_then(Yaml::as_mapping) {
                // GitLab's OIDC token; the emulator's STS takes any token.
                for (k, _) in tokens {
                    job_env.insert(
                        k.as_str().unwrap().into(),
                        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0.".into(),
                    );
                }
                job_env.insert("WHARF_CI_ROLE".into(), CI_ROLE.into());
                job_env.insert("WHARF_SAGEMAKER_ROLE".into(), ROLE.into());
                let moto = moto.as_ref().unwrap();
                // Where the SDK finds STS and SageMaker: the emulator.
                job_env.insert("AWS_ENDPOINT_URL".into(), moto.endpoint.clone());
            }
            let mut script = before.clone();
            script.extend(lines(job.get("script")));
            assert!(script.len() > before.len(), "job {name} has a script");
            shell(&script.join("\n"), ws, &job_env, &format!("job {name}"));
            let after = lines(job.get("after_script"));
            if !after.is_empty() {
                shell(&after.join("\n"), ws, &job_env, &format!("job {name}, after_script"));
            }
            if let Some(artifacts) = job.get("artifacts") {
                for path in artifacts["paths"].as_sequence().unwrap() {
                    let path = path.as_str().unwrap();
                    assert!(ws.join(path).exists(), "job {name}: artifact {path} exists");
                }
                if let Some(junit) = artifacts
                    .get("reports")
                    .and_then(|r| r.get("junit"))
                    .and_then(Yaml::as_str)
                {
                    check_junit(&ws.join(junit));
                }
            }
            if name.starts_with("run-") {
                check_run_json(&ws.join("wharf-run.json"));
                assert!(
                    ws.join(".wharf/state.db").is_file(),
                    "WHARF_STATE_DIR is the cached folder"
                );
            }
            if name == "run-cloud" {
                check_cloud_run(ws);
            }
            ran.push(name.to_string());
        }
    }
    let expected = if moto.is_some() {
        vec!["check", "run-local", "run-cloud"]
    } else {
        vec!["check", "run-local"]
    };
    assert_eq!(ran, expected);
}
