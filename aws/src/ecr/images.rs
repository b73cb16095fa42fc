//! [`Images`]: the image a SageMaker job is given, pushed to ECR first
//! when it lives only on this machine.

use super::log_line::LogLine;
use super::push;
use super::reference::{Destination, is_ecr_uri};
use super::registry;
use aws_sdk_ecr::Client;
use bollard::Docker;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;
use wharf_runtime::backend::Attempt;
use wharf_runtime::backend::docker::engine_error;

/// The target's ECR, and the images pushed there in this run.
pub struct Images {
    client: Client,
    /// The local engine, connected when an image first needs it.
    docker: OnceCell<Result<Docker, String>>,
    /// Local image -> its ECR URI, each pushed (or found there) once per run.
    pushed: Mutex<HashMap<String, Arc<OnceCell<String>>>>,
}

impl Images {
    /// ECR as the target's configuration reaches it (region, profile,
    /// endpoint_url). Nothing is contacted until an image needs it.
    pub fn new(sdk: &aws_config::SdkConfig) -> Images {
        Images {
            client: Client::new(sdk),
            docker: OnceCell::new(),
            pushed: Mutex::new(HashMap::new()),
        }
    }

    /// `attempt` with its image as the job must name it.
    pub async fn for_job(&self, attempt: &Attempt, log: &impl LogLine) -> Result<Attempt, String> {
        let mut attempt = attempt.clone();
        if let Some(image) = &attempt.image {
            attempt.image = Some(self.pullable(image, log).await?);
        }
        Ok(attempt)
    }

    /// The image SageMaker is to pull: an ECR URI as it is; an image on
    /// this machine pushed to ECR, as its ECR URI; any other name as it is
    /// (SageMaker pulls it, or says why not). An image wharf built (`wharf/`)
    /// must be on this machine.
    pub async fn pullable(&self, image: &str, log: &impl LogLine) -> Result<String, String> {
        if is_ecr_uri(image) {
            return Ok(image.to_string());
        }
        let built = image.starts_with("wharf/");
        let docker = match self.engine().await {
            Ok(docker) => docker,
            Err(e) if built => {
                return Err(format!(
                    "image `{image}` was built on this machine and must be pushed to ECR for SageMaker, but {e}"
                ));
            }
            Err(_) => return Ok(image.to_string()),
        };
        let id = match docker.inspect_image(image).await {
            Ok(inspect) => inspect.id.unwrap_or_default(),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) if built => {
                return Err(format!(
                    "image `{image}` was built by wharf but is no longer on this machine, so it cannot be pushed \
                     to ECR; run the build step that makes it again (`wharf run --no-cache --only STEP`)"
                ));
            }
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                return Ok(image.to_string());
            }
            Err(e) => return Err(engine_error(&format!("cannot inspect image `{image}`"), e)),
        };
        let cell = self
            .pushed
            .lock()
            .map_err(|_| "internal: the pushed-images table was poisoned".to_string())?
            .entry(image.to_string())
            .or_default()
            .clone();
        let mut ours = false;
        let uri = cell
            .get_or_try_init(|| {
                ours = true;
                self.push(docker, image, &id, log)
            })
            .await?
            .clone();
        if !ours {
            log.line(format!("wharf: image `{image}` is {uri} (pushed earlier in this run)"))
                .await;
        }
        Ok(uri)
    }

    async fn engine(&self) -> Result<&Docker, String> {
        self.docker
            .get_or_init(wharf_runtime::backend::docker::engine)
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Puts the local image `image` (id `id`) in ECR unless it is there.
    async fn push(&self, docker: &Docker, image: &str, id: &str, log: &impl LogLine) -> Result<String, String> {
        let to = Destination::of(image, id)?;
        if registry::ensure_repository(&self.client, &to.repository).await? {
            log.line(format!("wharf: created ECR repository `{}`", to.repository))
                .await;
        }
        let login = registry::login(&self.client).await?;
        let uri = to.uri(&login.host);
        if let Some(held) = registry::held(&self.client, &to).await? {
            if held.config.as_deref() == Some(id) {
                log.line(format!(
                    "wharf: image `{image}` is already in ECR as {uri} ({}); not pushed again",
                    held.digest
                ))
                .await;
                return Ok(uri);
            }
            log.line(format!(
                "wharf: ECR holds other content under {uri} ({}); pushing `{image}` over it",
                held.digest
            ))
            .await;
        }
        log.line(format!("wharf: pushing image `{image}` ({}) to {uri}", short(id)))
            .await;
        let digest = push::push(docker, image, &to, &login, log).await?;
        log.line(match digest {
            Some(digest) => format!("wharf: pushed {uri} ({digest})"),
            None => format!("wharf: pushed {uri}"),
        })
        .await;
        Ok(uri)
    }
}

/// `sha256:0123456789ab...` as its first 12 hex digits, as Docker shows ids.
fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}
