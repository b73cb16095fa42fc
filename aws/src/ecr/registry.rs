//! The ECR calls: make sure a repository exists, log in to the registry,
//! and say what the registry holds under a tag. Failures are sentences that
//! name the repository and the likely fix; the login's password is kept out
//! of every message and of `Debug`.

use super::reference::{Destination, registry_host};
use aws_sdk_ecr::Client;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::types::ImageIdentifier;
use bollard::auth::DockerCredentials;

/// Manifest media types wharf reads back (what `docker push` writes).
const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
];

/// A registry login from GetAuthorizationToken.
pub(crate) struct Login {
    /// The registry's host (and port), from `proxyEndpoint`.
    pub host: String,
    username: String,
    password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("host", &self.host)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Login {
    /// What the engine sends the registry to push.
    pub fn credentials(&self) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: Some(self.host.clone()),
            ..Default::default()
        }
    }
}

/// An image the registry holds under a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    /// The manifest's digest.
    pub digest: String,
    /// The image's config digest (its id on the engine that pushed it),
    /// when the manifest is an image manifest rather than an index.
    pub config: Option<String>,
}

/// Makes sure `repository` exists; `true` when it was created here.
pub(crate) async fn ensure_repository(client: &Client, repository: &str) -> Result<bool, String> {
    match client.describe_repositories().repository_names(repository).send().await {
        Ok(_) => return Ok(false),
        Err(e) if e.code() != Some("RepositoryNotFoundException") => {
            return Err(sentence(
                &format!("looking up ECR repository `{repository}`"),
                "ecr:DescribeRepositories",
                &e,
            ));
        }
        Err(_) => {}
    }
    match client.create_repository().repository_name(repository).send().await {
        Ok(_) => Ok(true),
        // Another wharf (or another step of this one) was first.
        Err(e) if e.code() == Some("RepositoryAlreadyExistsException") => Ok(false),
        Err(e) => Err(sentence(
            &format!("creating ECR repository `{repository}`"),
            "ecr:CreateRepository",
            &e,
        )),
    }
}

/// The registry login: `authorizationToken` is base64 of `AWS:<password>`.
pub(crate) async fn login(client: &Client) -> Result<Login, String> {
    let out = client
        .get_authorization_token()
        .send()
        .await
        .map_err(|e| sentence("asking ECR for a registry login", "ecr:GetAuthorizationToken", &e))?;
    let data = out
        .authorization_data()
        .first()
        .ok_or("ECR answered GetAuthorizationToken without a login")?;
    let endpoint = data
        .proxy_endpoint()
        .ok_or("ECR answered GetAuthorizationToken without a registry address (proxyEndpoint)")?;
    let token = data
        .authorization_token()
        .ok_or("ECR answered GetAuthorizationToken without a token")?;
    let decoded = aws_smithy_types::base64::decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or("ECR's registry token is not base64 text")?;
    let (username, password) = decoded
        .split_once(':')
        .ok_or("ECR's registry token is not `user:password`")?;
    Ok(Login {
        host: registry_host(endpoint)?,
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// What ECR holds under the destination's tag, if anything.
pub(crate) async fn held(client: &Client, to: &Destination) -> Result<Option<Held>, String> {
    let id = || ImageIdentifier::builder().image_tag(&to.tag).build();
    let described = client
        .describe_images()
        .repository_name(&to.repository)
        .image_ids(id())
        .send()
        .await;
    let digest = match described {
        Ok(out) => match out.image_details().first().and_then(|d| d.image_digest()) {
            Some(digest) => digest.to_string(),
            None => return Ok(None),
        },
        Err(e) if e.code() == Some("ImageNotFoundException") => return Ok(None),
        Err(e) => {
            return Err(sentence(
                &format!("looking up tag `{}` in ECR repository `{}`", to.tag, to.repository),
                "ecr:DescribeImages",
                &e,
            ));
        }
    };
    let got = client
        .batch_get_image()
        .repository_name(&to.repository)
        .image_ids(id())
        .set_accepted_media_types(Some(MANIFEST_TYPES.iter().map(|t| t.to_string()).collect()))
        .send()
        .await
        .map_err(|e| {
            sentence(
                &format!("reading the manifest of `{}:{}` in ECR", to.repository, to.tag),
                "ecr:BatchGetImage",
                &e,
            )
        })?;
    let config = got
        .images()
        .first()
        .and_then(|image| image.image_manifest())
        .and_then(config_digest);
    Ok(Some(Held { digest, config }))
}

/// The config digest an image manifest names (`config.digest`).
pub(crate) fn config_digest(manifest: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(manifest).ok()?;
    value["config"]["digest"].as_str().map(str::to_string)
}

/// A failed ECR call as a sentence: what was being done, what ECR said,
/// and what would fix it.
fn sentence<E, R>(doing: &str, permission: &str, e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let code = e.code().unwrap_or_default();
    let said = match (code, e.message()) {
        ("", _) => crate::jobs::describe_error(e),
        (code, Some(message)) => format!("{code}: {message}"),
        (code, None) => code.to_string(),
    };
    match code {
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => format!(
            "{doing} was denied by ECR ({said}); the credentials in use need {permission} \
             (the AWS policy AmazonEC2ContainerRegistryPowerUser has it)"
        ),
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId" => {
            format!("{doing} failed: ECR rejected the credentials ({said}); check the AWS profile, keys or role in use")
        }
        "" => format!("{doing} failed: could not reach ECR ({said}); check the target's region and endpoint_url"),
        _ => format!("{doing} failed: {said}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_digest_comes_from_an_image_manifest_only() {
        let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,"digest":"sha256:abc"},
            "layers":[]}"#;
        assert_eq!(config_digest(manifest).as_deref(), Some("sha256:abc"));
        let index = r#"{"schemaVersion":2,"manifests":[{"digest":"sha256:def"}]}"#;
        assert_eq!(config_digest(index), None);
        assert_eq!(config_digest("not json"), None);
    }

    #[test]
    fn a_login_never_shows_its_password() {
        let login = Login {
            host: "127.0.0.1:5000".into(),
            username: "AWS".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{login:?}").contains("hunter2"));
        let credentials = login.credentials();
        assert_eq!(credentials.password.as_deref(), Some("hunter2"));
        assert_eq!(credentials.serveraddress.as_deref(), Some("127.0.0.1:5000"));
    }
}
