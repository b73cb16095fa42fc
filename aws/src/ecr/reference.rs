//! Image references as ECR sees them: which ones already name an image in
//! ECR, the repository and tag a local image gets there, and the registry
//! host in an ECR login. Pure, and tested here.

/// Where a local image goes in ECR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The ECR repository: the local reference's repository path, without
    /// a registry host (`wharf/churn-image`).
    pub repository: String,
    pub tag: String,
}

impl Destination {
    /// The destination of the local image `image` (`wharf/churn-image:0123`,
    /// `tools:1`, `localhost:5000/team/tools:2`, `tools@sha256:...`) whose
    /// id is `id` (`sha256:...`). A reference without a tag gets `latest`,
    /// as Docker gives it; one by digest alone is tagged with its id.
    pub fn of(image: &str, id: &str) -> Result<Destination, String> {
        let (name, digest) = match image.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (image, None),
        };
        let (name, tag) = match name.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t)),
            _ => (name, None),
        };
        let repository = match name.split_once('/') {
            Some((host, rest)) if is_host(host) => match (host, rest.strip_prefix("library/")) {
                ("docker.io" | "index.docker.io", Some(official)) => official,
                _ => rest,
            },
            _ => name,
        };
        if !valid_repository(repository) {
            return Err(format!(
                "image `{image}` cannot go to ECR as repository `{repository}`: ECR repository names are \
                 2 to 256 characters, lower-case letters and digits with single `.`, `_` or `-` between them, \
                 in parts separated by `/`; tag the image with such a name"
            ));
        }
        let tag = match (tag, digest) {
            (Some(tag), _) => tag.to_string(),
            (None, None) => "latest".to_string(),
            (None, Some(_)) => {
                let hex = id.strip_prefix("sha256:").unwrap_or(id);
                format!("sha256-{}", &hex[..hex.len().min(16)])
            }
        };
        Ok(Destination {
            repository: repository.to_string(),
            tag,
        })
    }

    /// The image's URI in the registry at `host` (`host/repository:tag`).
    pub fn uri(&self, host: &str) -> String {
        format!("{host}/{}:{}", self.repository, self.tag)
    }

    /// The repository's name on the local engine (`host/repository`), as
    /// the engine must tag an image to push it there.
    pub fn local_repository(&self, host: &str) -> String {
        format!("{host}/{}", self.repository)
    }
}

/// Whether `image` already names an image in an ECR registry
/// (`<account>.dkr.ecr.<region>.amazonaws.com/...`, FIPS and China
/// partitions included): SageMaker pulls it as it is.
pub fn is_ecr_uri(image: &str) -> bool {
    let Some((host, rest)) = image.split_once('/') else {
        return false;
    };
    if rest.is_empty() {
        return false;
    }
    let host = host.split(':').next().unwrap_or(host);
    let Some((account, after)) = host.split_once('.') else {
        return false;
    };
    let partition = after
        .strip_suffix(".amazonaws.com")
        .or_else(|| after.strip_suffix(".amazonaws.com.cn"));
    let region = partition.and_then(|p| p.strip_prefix("dkr.ecr.").or_else(|| p.strip_prefix("dkr.ecr-fips.")));
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && region.is_some_and(|r| !r.is_empty() && !r.contains('.'))
}

/// The registry host an ECR login is for: its `proxyEndpoint` without the
/// scheme (`https://123456789012.dkr.ecr.eu-west-1.amazonaws.com` ->
/// `123456789012.dkr.ecr.eu-west-1.amazonaws.com`).
pub fn registry_host(proxy_endpoint: &str) -> Result<String, String> {
    let host = proxy_endpoint
        .strip_prefix("https://")
        .or_else(|| proxy_endpoint.strip_prefix("http://"))
        .unwrap_or(proxy_endpoint)
        .trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
        return Err(format!(
            "ECR named its registry `{proxy_endpoint}`, which is not a registry address"
        ));
    }
    Ok(host.to_string())
}

/// Whether the first part of a reference is a registry host, as Docker
/// decides it: it has a `.` or a `:`, or is `localhost`.
fn is_host(part: &str) -> bool {
    part.contains('.') || part.contains(':') || part == "localhost"
}

/// ECR's rule for repository names:
/// `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`, 2-256 long.
fn valid_repository(name: &str) -> bool {
    let component = |c: &str| {
        let mut previous_separator = true;
        for b in c.bytes() {
            let separator = matches!(b, b'.' | b'_' | b'-');
            if separator && previous_separator {
                return false;
            }
            if !separator && !b.is_ascii_lowercase() && !b.is_ascii_digit() {
                return false;
            }
            previous_separator = separator;
        }
        !previous_separator
    };
    (2..=256).contains(&name.len()) && name.split('/').all(component)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "sha256:cc8db822d6a05befefee682d3ca8158c6325dd3c1bc237406547baba0ca04df2";

    #[test]
    fn destinations_of_local_references() {
        let table = [
            ("wharf/churn-image:0123abcd", "wharf/churn-image", "0123abcd"),
            ("churn-tools:1.4", "churn-tools", "1.4"),
            ("churn-tools", "churn-tools", "latest"),
            ("team/tools:2", "team/tools", "2"),
            ("localhost:5000/team/tools:2", "team/tools", "2"),
            ("localhost/tools", "tools", "latest"),
            ("ghcr.io/acme/tools:v1", "acme/tools", "v1"),
            ("docker.io/library/python:3.11", "python", "3.11"),
            ("registry.example.com:443/a/b", "a/b", "latest"),
            ("tools@sha256:abc", "tools", "sha256-cc8db822d6a05bef"),
            ("tools:1@sha256:abc", "tools", "1"),
        ];
        for (image, repository, tag) in table {
            let d = Destination::of(image, ID).unwrap_or_else(|e| panic!("{image}: {e}"));
            assert_eq!((d.repository.as_str(), d.tag.as_str()), (repository, tag), "{image}");
        }
    }

    #[test]
    fn names_ecr_cannot_hold_are_refused_with_the_rule() {
        for image in ["a:1", "team__x/tools:1", "Tools:1", "team/-x:1", "a//b:1"] {
            let e = Destination::of(image, ID).unwrap_err();
            assert!(e.contains(&format!("`{image}`")) && e.contains("lower-case"), "{e}");
        }
    }

    #[test]
    fn the_uri_is_host_repository_tag() {
        let d = Destination::of("wharf/churn-image:0123", ID).unwrap();
        assert_eq!(
            d.uri("123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/wharf/churn-image:0123"
        );
        assert_eq!(d.local_repository("127.0.0.1:5000"), "127.0.0.1:5000/wharf/churn-image");
    }

    #[test]
    fn ecr_uris_are_told_apart() {
        let yes = [
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/tools:1",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/tools@sha256:abc",
            "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/tools:1",
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/tools:1",
        ];
        let no = [
            "tools:1",
            "wharf/churn-image:0123",
            "127.0.0.1:5000/wharf/churn-image:0123",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/",
            "12345.dkr.ecr.us-east-1.amazonaws.com/tools:1",
            "123456789012.dkr.ecr.us-east-1.example.com/tools:1",
            "public.ecr.aws/acme/tools:1",
        ];
        for image in yes {
            assert!(is_ecr_uri(image), "{image}");
        }
        for image in no {
            assert!(!is_ecr_uri(image), "{image}");
        }
    }

    #[test]
    fn the_registry_host_is_the_proxy_endpoint_without_its_scheme() {
        assert_eq!(
            registry_host("https://123456789012.dkr.ecr.us-east-1.amazonaws.com").unwrap(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
        assert_eq!(registry_host("http://127.0.0.1:5000/").unwrap(), "127.0.0.1:5000");
        assert!(registry_host("https://").is_err());
        assert!(registry_host("https://host/path").is_err());
    }
}
