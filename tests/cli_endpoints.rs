//! `wharf endpoints`: the local endpoints deploy steps left running on the
//! docker backend, as a table and as JSON, and `endpoints stop`. Against the
//! real engine, with the test image `wharf-test/serve:1` (tests/common/docker.rs
//! says how a test skips without them); one short deploy run.

mod common;
use common::docker::{self, SERVE};
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

fn endpoints(dir: &Path, args: &[&str]) -> Output {
    wharf_in(dir).arg("endpoints").args(args).output().expect("runs")
}

#[test]
fn none_running_is_said_in_text_and_an_empty_list_in_json() {
    if !docker::ready(&[]) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = endpoints(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(stdout_of(&out), "");
    assert_eq!(stderr_of(&out), "no endpoints are running\n");

    let out = endpoints(dir.path(), &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).expect("JSON"), json!([]));

    let out = endpoints(dir.path(), &["stop", "api"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_of(&out),
        "error: no endpoint named api\n  = help: no endpoint is running here\n"
    );
}

/// Removes what the test's run left on the engine, whatever failed.
struct Cleanup<'a>(&'a Path);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let runs = std::fs::read_dir(self.0.join(".wharf/runs"))
            .into_iter()
            .flatten()
            .flatten();
        for run in runs {
            docker::remove_with(&format!("wharf.run={}", run.file_name().to_string_lossy()));
        }
    }
}

#[test]
fn a_deployed_endpoint_is_listed_until_it_is_stopped() {
    if !docker::ready(&[SERVE]) {
        return;
    }
    let (dir, _) = temp_file(
        "p.wharf",
        &format!(
            r#"pipeline listing {{
  deploy api {{
    image  = "{SERVE}"
    inputs {{ model = "model" }}
  }}
}}
target local {{ backend = docker }}
"#
        ),
    );
    let project = dir.path();
    let _cleanup = Cleanup(project);
    std::fs::create_dir(project.join("model")).expect("model folder");
    std::fs::write(project.join("model/prefix.txt"), "v1:").expect("model file");
    let out = wharf_in(project).args(["run", "p.wharf"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let run = show_last(project)["run"]["id"].as_str().expect("a run id").to_string();
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(output_dir(project, "api", "endpoint").join("endpoint.json")).expect("endpoint.json"),
    )
    .expect("the endpoint record is JSON");
    let (url, container) = (
        record["url"].as_str().expect("a url"),
        record["container"].as_str().expect("a container id"),
    );

    let out = endpoints(project, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let list: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list:#}");
    let listed = &list[0];
    for (field, expected) in [
        ("name", json!("listing-api")),
        ("url", json!(url)),
        ("running", json!(true)),
        ("pipeline", json!("listing")),
        ("step", json!("api")),
        ("run", json!(run)),
        ("container", json!(container)),
    ] {
        assert_eq!(listed[field], expected, "{field} in {listed:#}");
    }
    let status = listed["status"].as_str().expect("a status");

    let out = endpoints(project, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let table = stdout_of(&out);
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows,
        [
            vec!["ENDPOINT", "URL", "STATUS", "PIPELINE", "STEP", "RUN", "CONTAINER"],
            [
                vec!["listing-api", url],
                status.split_whitespace().collect(),
                vec!["listing", "api", &run, &container[..12]]
            ]
            .concat(),
        ],
        "{table}"
    );

    let out = endpoints(project, &["stop", "listing-api"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(
        stderr_of(&out),
        format!("stopped endpoint `listing-api` (container {})\n", &container[..12])
    );
    assert!(docker::containers_with(&format!("wharf.run={run}")).is_empty());
    let out = endpoints(project, &["--format", "json"]);
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).expect("JSON"), json!([]));
}
