//! The repository's Dockerfile, built the offline way its comments give:
//! both stages on `wharf-test/bookworm:1` (.ci/images/build.sh), the
//! binary under test handed in as PREBUILT. The image must answer
//! `--version` and check a mounted project. Skips loudly without Docker or
//! that image, and fails instead under WHARF_REQUIRE_DOCKER=1 (CI).

mod common;
use common::*;
use std::process::Command;

const BOOKWORM: &str = "wharf-test/bookworm:1";

/// Removes the image when the test ends, passed or not, and the build
/// stage's image: the legacy builder leaves it untagged.
struct Image {
    tag: String,
    build_stage: Option<String>,
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker::docker(&["image", "rm", "-f", &self.tag]);
        if let Some(id) = &self.build_stage {
            let _ = docker::docker(&["image", "rm", id]);
        }
    }
}

/// The build stage's image in the legacy builder's log: the last step's
/// image id before the runtime stage's `FROM`.
fn build_stage_image(log: &str) -> Option<String> {
    let mut last = None;
    for line in log.lines() {
        if line.starts_with("Step ") && line.contains(" : FROM ") && last.is_some() {
            return last;
        }
        match line.trim().strip_prefix("---> ") {
            Some(id) if id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()) => last = Some(id.to_string()),
            _ => {}
        }
    }
    None
}

#[test]
fn the_dockerfile_builds_an_image_that_runs_wharf() {
    if !docker::ready(&[BOOKWORM]) {
        return;
    }
    let context = tempfile::tempdir().expect("a temporary folder");
    let binary = context.path().join("wharf");
    // A test build keeps line tables; the image needs none of them (a
    // third of the size). Without binutils, the binary goes in as it is.
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&binary)
        .arg(env!("CARGO_BIN_EXE_wharf"))
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(env!("CARGO_BIN_EXE_wharf"), &binary).expect("the binary copies");
    }
    let mut image = Image {
        tag: format!("wharf-test/dockerfile:{}", std::process::id()),
        build_stage: None,
    };
    let build = Command::new("docker")
        .arg("build")
        .arg("-f")
        .arg(root().join("Dockerfile"))
        .args(["--build-arg", "PREBUILT=wharf"])
        .args(["--build-arg", &format!("BUILD_IMAGE={BOOKWORM}")])
        .args(["--build-arg", &format!("RUNTIME_IMAGE={BOOKWORM}")])
        .args(["-t", &image.tag])
        .arg(context.path())
        .output()
        .expect("docker runs");
    image.build_stage = build_stage_image(&stdout_of(&build));
    assert!(
        build.status.success(),
        "docker build failed:\n{}\n{}",
        stdout_of(&build),
        stderr_of(&build)
    );

    let (ok, version) = docker::docker(&["run", "--rm", &image.tag, "--version"]);
    assert!(ok, "docker run {} --version failed", image.tag);
    assert_eq!(version.trim(), format!("wharf {}", env!("CARGO_PKG_VERSION")));

    // The documented use: the project mounted at /work, wharf's folder.
    let pipelines = format!("{}:/work/pipelines:ro", root().join("pipelines").display());
    let check = Command::new("docker")
        .args(["run", "--rm", "-v", &pipelines, &image.tag, "check"])
        .output()
        .expect("docker runs");
    let stderr = stderr_of(&check);
    assert!(check.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("checked {} files", example_pipeline_files().len())) && stderr.contains("0 errors"),
        "{stderr}"
    );

    let (_, size) = docker::docker(&["image", "inspect", "--format", "{{.Size}}", &image.tag]);
    let mb = size.trim().parse::<f64>().unwrap_or(0.0) / 1e6;
    eprintln!("image {}: {mb:.1} MB", image.tag);
}
