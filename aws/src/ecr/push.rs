//! Tagging a local image for a registry and pushing it there through the
//! local Docker engine, with the engine's progress in the step's log.

use super::log_line::LogLine;
use super::reference::Destination;
use super::registry::Login;
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{PushImageOptions, TagImageOptions};
use futures::StreamExt;
use std::time::{Duration, Instant};
use wharf_runtime::size::human_bytes;

/// How often a long layer upload says how far it has got.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Pushes `image` to `to` in the registry `login` is for; the manifest's
/// digest when the engine reported it.
pub(crate) async fn push(
    docker: &Docker,
    image: &str,
    to: &Destination,
    login: &Login,
    log: &impl LogLine,
) -> Result<Option<String>, String> {
    let uri = to.uri(&login.host);
    let repository = to.local_repository(&login.host);
    let options = TagImageOptions {
        repo: Some(repository.clone()),
        tag: Some(to.tag.clone()),
    };
    docker.tag_image(image, Some(options)).await.map_err(|e| {
        wharf_runtime::backend::docker::engine_error(&format!("cannot tag image `{image}` as {uri}"), e)
    })?;
    let options = PushImageOptions {
        tag: Some(to.tag.clone()),
        platform: None,
    };
    let mut stream = docker.push_image(&repository, Some(options), Some(login.credentials()));
    let mut digest = None;
    let mut last_progress = Instant::now();
    while let Some(item) = stream.next().await {
        let info = match item {
            Ok(info) => info,
            Err(e) => return Err(failed(image, &uri, to, &login.host, &e)),
        };
        let Some(status) = info.status.as_deref() else {
            continue;
        };
        // Byte counts of one layer (the engine does not say which): one
        // line now and then, so a long push shows it is moving.
        if let Some(detail) = info.progress_detail.as_ref().filter(|d| d.current.is_some()) {
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                let (current, total) = (detail.current.unwrap_or(0), detail.total.unwrap_or(0));
                log.line(format!(
                    "docker push: {status} a layer: {} of {}",
                    human_bytes(u64::try_from(current).unwrap_or(0)),
                    human_bytes(u64::try_from(total).unwrap_or(0))
                ))
                .await;
            }
            continue;
        }
        if matches!(status, "Preparing" | "Waiting" | "Pushing") {
            continue;
        }
        if let Some(d) = digest_of(status) {
            digest = Some(d);
        }
        log.line(format!("docker push: {status}")).await;
    }
    Ok(digest)
}

/// The digest in the engine's last line: `<tag>: digest: sha256:... size: N`.
fn digest_of(status: &str) -> Option<String> {
    let (_, after) = status.split_once(": digest: ")?;
    after.split_whitespace().next().map(str::to_string)
}

/// A failed push as a sentence: which image, which registry, and what to check.
fn failed(image: &str, uri: &str, to: &Destination, host: &str, e: &DockerError) -> String {
    let said = match e {
        DockerError::DockerStreamError { error } => error.clone(),
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let said = said.trim();
    let lower = said.to_ascii_lowercase();
    let hint = if lower.contains("denied") || lower.contains("unauthorized") || lower.contains("authentication") {
        format!(
            "the registry refused the login ECR gave: the credentials in use need ecr:BatchCheckLayerAvailability, \
             ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload and ecr:PutImage on repository `{}`",
            to.repository
        )
    } else if lower.contains("tag invalid") || lower.contains("already exists") || lower.contains("immutable") {
        format!(
            "repository `{}` keeps its tags immutable and already holds tag `{}` with other content; \
             give the image a new tag",
            to.repository, to.tag
        )
    } else {
        format!("check that the Docker engine on this machine can reach the registry {host} (network, proxy, firewall)")
    };
    format!("pushing image `{image}` to {uri} failed: {said}; {hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_read_from_the_last_line() {
        assert_eq!(
            digest_of("1: digest: sha256:de79 size: 528").as_deref(),
            Some("sha256:de79")
        );
        assert_eq!(digest_of("Pushed"), None);
    }

    #[test]
    fn a_failed_push_names_the_image_the_registry_and_a_fix() {
        let to = Destination::of("wharf/p-image:01", "sha256:00").unwrap();
        let refused = DockerError::DockerStreamError {
            error: "Get \"http://127.0.0.1:9/v2/\": dial tcp 127.0.0.1:9: connect: connection refused".into(),
        };
        let e = failed(
            "wharf/p-image:01",
            "127.0.0.1:9/wharf/p-image:01",
            &to,
            "127.0.0.1:9",
            &refused,
        );
        assert!(
            e.starts_with("pushing image `wharf/p-image:01` to 127.0.0.1:9/wharf/p-image:01 failed"),
            "{e}"
        );
        assert!(e.contains("can reach the registry 127.0.0.1:9"), "{e}");
        let denied = DockerError::DockerStreamError {
            error: "denied: User is not authorized to perform ecr:InitiateLayerUpload".into(),
        };
        let e = failed("wharf/p-image:01", "x", &to, "h", &denied);
        assert!(e.contains("ecr:PutImage on repository `wharf/p-image`"), "{e}");
    }
}
