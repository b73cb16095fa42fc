//! Logs on stderr: quiet by default (wharf's own warnings, nothing from the
//! AWS SDK, hyper or bollard), never coloured off a terminal, turned up by
//! WHARF_LOG or RUST_LOG (docs/cli.md).

mod common;
use common::*;

/// A SageMaker target with no region anywhere: the SDK looks for one in
/// the instance metadata service (IMDS), which it is pointed at a closed
/// port for, so the look-up fails at once, and says so in long warnings.
const PIPELINE: &str = r#"pipeline p {
  step s {
    image   = "busybox"
    command = ["true"]
  }
}
target cloud {
  backend      = sagemaker
  role         = "arn:aws:iam::123456789012:role/wharf"
  bucket       = "s3://wharf-test/p"
  endpoint_url = "http://127.0.0.1:9"
}
"#;

/// `wharf run` on that target, with no AWS settings from this machine.
fn run_without_aws_settings(log: Option<(&str, &str)>) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("p.wharf"), PIPELINE).expect("write pipeline");
    let mut cmd = wharf();
    cmd.current_dir(dir.path())
        .args(["run", "p.wharf"])
        .env_remove("NO_COLOR")
        .env_remove("WHARF_LOG")
        .env("HOME", dir.path())
        .env("AWS_CONFIG_FILE", dir.path().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("no-credentials"))
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    for var in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_EC2_METADATA_DISABLED",
    ] {
        cmd.env_remove(var);
    }
    if let Some((var, filter)) = log {
        cmd.env(var, filter);
    }
    cmd.output().expect("runs")
}

#[test]
fn the_sdks_warnings_stay_off_stderr_by_default_and_nothing_is_coloured() {
    let out = run_without_aws_settings(None);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "refused before starting:\n{stderr}");
    assert!(
        stderr.contains("no AWS region"),
        "wharf's own error says what is wrong:\n{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no escape codes off a terminal:\n{stderr:?}"
    );
    for noise in ["WARN", "aws_config", "aws_smithy", "IMDS", "imds"] {
        assert!(!stderr.contains(noise), "`{noise}` in stderr:\n{stderr}");
    }
    assert!(stderr.lines().all(|l| l.len() < 300), "no long log lines:\n{stderr}");
}

#[test]
fn wharf_log_and_rust_log_turn_the_sdks_logs_up_still_without_colour() {
    // The same run does log through the SDK when asked: the quiet default
    // above is the filter's doing, not a run that never reached the SDK.
    for var in ["WHARF_LOG", "RUST_LOG"] {
        let out = run_without_aws_settings(Some((var, "aws_config=debug")));
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("aws_config"),
            "{var} turns the SDK's logs on:\n{stderr}"
        );
        assert!(
            !stderr.contains('\u{1b}'),
            "no escape codes off a terminal:\n{stderr:?}"
        );
    }
}
