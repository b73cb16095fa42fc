//! What the Docker tests need from the machine: an engine that answers and
//! the test images `.ci/images/build.sh` builds. Without them a test skips
//! with a loud message, or fails under `WHARF_REQUIRE_DOCKER=1` (CI).
//! The tests look at the engine through the docker CLI, not through wharf's
//! own client, so what they see does not depend on the code under test.

use std::process::Command;

pub const BUSYBOX: &str = "wharf-test/busybox:1";
pub const SERVE: &str = "wharf-test/serve:1";
pub const PYTHON: &str = "wharf-test/python:1";

/// Whether the engine answers and every image in `images` is present.
pub fn ready(images: &[&str]) -> bool {
    let problem = if !docker(&["version", "--format", "{{.Server.Version}}"]).0 {
        Some("no Docker engine answers (is dockerd running? is DOCKER_HOST right?)".to_string())
    } else {
        images
            .iter()
            .find(|image| !docker(&["image", "inspect", image]).0)
            .map(|image| format!("the test image `{image}` is missing; build it with .ci/images/build.sh"))
    };
    match problem {
        None => true,
        Some(why) if std::env::var("WHARF_REQUIRE_DOCKER").as_deref() == Ok("1") => {
            panic!("WHARF_REQUIRE_DOCKER=1 but {why}")
        }
        Some(why) => {
            eprintln!("\n*** SKIPPED: {why} ***\n");
            false
        }
    }
}

/// Runs the docker CLI: (success, stdout).
pub fn docker(args: &[&str]) -> (bool, String) {
    match Command::new("docker").args(args).output() {
        Ok(out) => (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned()),
        Err(_) => (false, String::new()),
    }
}

/// Ids of every container, running or not, with this label (`key=value`).
pub fn containers_with(label: &str) -> Vec<String> {
    let (_, out) = docker(&["ps", "-a", "-q", "--filter", &format!("label={label}")]);
    out.lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

/// Removes the containers with this label (test clean-up).
pub fn remove_with(label: &str) {
    for id in containers_with(label) {
        let _ = docker(&["rm", "-f", "-v", &id]);
    }
}
