//! `wharf plan`: steps in order with backends, params and attributes.

mod common;
use common::*;

#[test]
fn plan_text_for_the_hybrid_target() {
    let out = wharf()
        .args(["plan", &pipeline("churn"), "--target", "hybrid"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    insta::assert_snapshot!(stdout_of(&out));
}

#[test]
fn plan_json_places_each_step() {
    let out = wharf()
        .args([
            "plan",
            &pipeline("churn"),
            "--target",
            "hybrid",
            "--format",
            "json",
            "-p",
            "max_depth=9",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let steps = plan["steps"].as_array().expect("steps");
    let placed: Vec<(&str, &str)> = steps
        .iter()
        .map(|s| (s["name"].as_str().unwrap_or(""), s["backend"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        placed,
        [
            ("prepare", "docker"),
            ("fit", "sagemaker"),
            ("evaluate", "docker"),
            ("deploy", "docker")
        ]
    );
    assert_eq!(steps[1]["hyperparameters"]["max_depth"], "9");
    assert_eq!(steps[3]["when"], "evaluate.metrics.auc >= 0.8");
    assert_eq!(steps[3]["depends_on"], serde_json::json!(["fit", "evaluate"]));
    let depth = plan["params"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "max_depth"))
        .expect("param");
    assert_eq!(
        (depth["value"].as_i64(), depth["source"].as_str()),
        (Some(9), Some("override"))
    );
}

#[test]
fn cloud_plan_reads_the_role_from_the_environment_but_never_secrets() {
    let (_dir, path) = temp_file(
        "p.wharf",
        "pipeline p {\n step s { image = \"x:1\" env { TOKEN = secret(\"API_TOKEN\") } }\n}\ntarget cloud { backend = sagemaker role = env(\"ROLE_FOR_TEST\") bucket = \"s3://b/w\" }\n",
    );
    let out = wharf()
        .args(["plan", "--format", "json"])
        .arg(&path)
        .env("ROLE_FOR_TEST", "arn:aws:iam::1:role/x")
        .env("API_TOKEN", "very-secret-value")
        .output()
        .expect("runs");
    let stdout = stdout_of(&out);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(stdout.contains("arn:aws:iam::1:role/x"), "{stdout}");
    assert!(!stdout.contains("very-secret-value"), "a secret leaked into the plan");
    assert!(stdout.contains("secret(\\\"API_TOKEN\\\")"), "{stdout}");
}

#[test]
fn unknown_target_suggests_one() {
    let out = wharf()
        .args(["plan", &pipeline("churn"), "--target", "clod"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("unknown-target") && stderr.contains("did you mean `cloud`?"),
        "{stderr}"
    );
}

#[test]
fn with_format_json_what_stops_the_plan_is_json_diagnostics_on_stdout() {
    let plan_json = |args: &[&str]| {
        let out = wharf()
            .args(["plan", "--format", "json"])
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
        assert_eq!(stderr_of(&out), "", "nothing but the JSON");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON on stdout")["diagnostics"].clone()
    };
    let churn = pipeline("churn");
    assert_eq!(
        plan_json(&[&churn, "--target", "clod"]),
        serde_json::json!([{
            "code": "unknown-target",
            "severity": "error",
            "message": format!("`{churn}` declares no target `clod`"),
            "file": null, "line": null, "column": null, "end_line": null, "end_column": null,
            "hints": ["did you mean `cloud`?"],
            "labels": [],
        }])
    );
    let malformed = plan_json(&[&churn, "-p", "max_depth", "-p", "=3"]);
    let messages: Vec<&str> = malformed
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| {
            assert_eq!(d["code"], "invalid-override", "{d}");
            d["message"].as_str().expect("a message")
        })
        .collect();
    assert_eq!(
        messages,
        ["`-p max_depth` is not NAME=VALUE", "`-p =3` is not NAME=VALUE"],
        "every malformed `-p` is reported"
    );

    let (_dir, path) = temp_file(
        "p.wharf",
        "pipeline p {\n  step s { command = [\"true\"] inputs { x = nowhere.out } }\n}\n",
    );
    let broken = plan_json(&[path.to_str().expect("a UTF-8 path")]);
    assert_eq!(broken[0]["code"], "unknown-name", "{broken}");
    assert_eq!(broken[0]["line"], 2, "{broken}");
}

#[test]
fn bad_override_names_the_param_and_its_type() {
    let out = wharf()
        .args(["plan", &pipeline("churn"), "-p", "max_depth=deep"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("param `max_depth` expects an int"), "{stderr}");
}

#[test]
fn fan_out_is_planned_in_full() {
    let out = wharf()
        .args([
            "plan",
            &pipeline("regions"),
            "--target",
            "cloud",
            "--format",
            "json",
            "-p",
            "regions=eu,us",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<&str> = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "tools",
            "prepare-eu",
            "fit-eu",
            "prepare-us",
            "fit-us",
            "compare",
            "search",
            "serve",
            "watch"
        ]
    );
}

#[test]
fn images_from_this_machine_are_shown_pushed_to_ecr() {
    let (_dir, path) = temp_file(
        "p.wharf",
        r#"pipeline churn {
  build image { context = "image" }
  train fit { image = image }
  step local { image = "tools:1" command = ["true"] }
  step pulled { image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/tools:1" command = ["true"] }
}
target cloud {
  backend = sagemaker
  role    = "arn:aws:iam::1:role/x"
  bucket  = "s3://b/w"
  step image { backend = docker }
}
"#,
    );
    let out = wharf().args(["plan"]).arg(&path).output().expect("runs");
    let stdout = stdout_of(&out);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let transfers: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("transfer"))
        .map(str::trim)
        .filter(|l| l.starts_with("push"))
        .collect();
    assert_eq!(
        transfers,
        [
            "push the image `image` builds to ECR repository `wharf/churn-image`, unless already there",
            "push image `tools:1` to ECR repository `tools`, if it is on this machine and not already there",
        ],
        "{stdout}"
    );
}
