//! Building a step's image from its [`BuildContext`] with the Docker engine
//! (the classic builder of the engine's build API; BuildKit needs a session
//! bollard does not open without extra features).
//!
//! Images are content-addressed: [`image_tag`] derives the tag from the
//! context's hash and the build arguments, so an image that already carries
//! the tag is reused without building. Nothing is pulled on purpose; the
//! engine still tries to pull a base image it does not have, and when that
//! fails the error names the base image and says how to provide it.
//!
//! What this does not do: choose the context or the tag's names (the
//! caller does), or remove old images.
//!
//! The [`Docker`] client must have agreed its API version with the engine
//! ([`Docker::negotiate_version`]): an engine older than bollard's default
//! API (1.53), such as the 20.10 engine on the project's machines, refuses
//! every request with "client version 1.53 is too new" otherwise.

use super::context::BuildContext;
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};

/// What to build and how to name it.
pub struct BuildRequest<'a> {
    pub context: &'a BuildContext,
    /// The image's tag, from [`image_tag`]: `wharf/<pipeline>-<step>:<hash>`.
    pub tag: &'a str,
    /// Build arguments (`--build-arg`).
    pub args: &'a BTreeMap<String, String>,
    /// Labels to put on the image (the caller passes `wharf.pipeline` and
    /// `wharf.step`). They are not part of the tag: an image reused by tag
    /// keeps the labels it was built with.
    pub labels: &'a BTreeMap<String, String>,
}

/// An image that exists on the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    pub tag: String,
    /// `sha256:...`
    pub id: String,
}

/// The tag for a step's image: `wharf/<pipeline>-<step>:<hash>`, where the
/// names are made valid Docker repository components (lower case, runs of
/// other characters turned into one `-`) and the hash is the first 16 hex
/// characters of a BLAKE3 hash of the context hash and the build arguments.
pub fn image_tag(pipeline: &str, step: &str, context_hash: &str, args: &BTreeMap<String, String>) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"wharf-image-v1\0");
    hasher.update(context_hash.as_bytes());
    hasher.update(b"\0");
    for (name, value) in args {
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(value.as_bytes());
        hasher.update(b"\0");
    }
    let hex = hasher.finalize().to_hex();
    format!("{}:{}", image_repository(pipeline, step), &hex[..16])
}

/// The repository part of a step's image tag: `wharf/<pipeline>-<step>`
/// (also the ECR repository the image is pushed to for SageMaker).
pub fn image_repository(pipeline: &str, step: &str) -> String {
    format!(
        "wharf/{}-{}",
        repository_component(pipeline),
        repository_component(step)
    )
}

/// `name` as `[a-z0-9]+(?:[._-][a-z0-9]+)*`, at most 100 characters, so that
/// `wharf/<pipeline>-<step>` stays far below Docker's 255.
fn repository_component(name: &str) -> String {
    const SEPARATORS: [char; 3] = ['.', '_', '-'];
    let mut out = String::new();
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() || SEPARATORS.contains(&c) {
            c
        } else {
            '-'
        };
        if SEPARATORS.contains(&c) && (out.is_empty() || out.ends_with(SEPARATORS)) {
            continue;
        }
        if out.len() == 100 {
            break;
        }
        out.push(c);
    }
    while out.ends_with(SEPARATORS) {
        out.pop();
    }
    if out.is_empty() { "unnamed".into() } else { out }
}

/// Builds the image, unless an image with this tag already exists: the tag
/// is content-addressed, so that image is this one. `log` gets each line of
/// build output as it arrives.
pub async fn build(
    docker: &Docker,
    request: BuildRequest<'_>,
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<BuiltImage, String> {
    let tag = request.tag;
    if let Some(id) = local_image_id(docker, tag).await? {
        log(&format!(
            "image {tag} already exists ({}); not building it again",
            short(&id)
        ));
        return Ok(BuiltImage { tag: tag.into(), id });
    }

    let context = request.context;
    let tar = bytes::Bytes::from(context.tar()?);
    let options = BuildImageOptionsBuilder::default()
        .dockerfile(context.dockerfile())
        .t(tag)
        .rm(true)
        .forcerm(true)
        .buildargs(&request.args.iter().collect::<HashMap<_, _>>())
        .labels(&request.labels.iter().collect::<HashMap<_, _>>())
        .build();
    // `pull` stays unset (false): the engine uses a local base image and
    // tries a registry only for one it does not have.
    let mut output = docker.build_image(options, None, Some(bollard::body_full(tar)));
    let mut lines = OutputLines::default();
    while let Some(item) = output.next().await {
        let message = match item {
            Ok(info) => {
                lines.push(info.stream.as_deref().unwrap_or(""), log);
                continue;
            }
            Err(DockerError::DockerStreamError { error }) => error,
            Err(DockerError::DockerResponseServerError { message, .. }) => message,
            Err(error) => return Err(format!("the Docker engine failed while building {tag}: {error}")),
        };
        lines.finish(log);
        let message = message.trim_end();
        if let Some(image) = missing_base_image(docker, &lines.last_step, request.args).await {
            return Err(format!(
                "cannot build {tag}: its base image `{image}` is not on this machine and could not be pulled \
                 (no registry could be reached, or it has no such image). Build it or load it here first \
                 (`docker build -t {image} ...` or `docker load -i IMAGE.tar`). Docker said: {message}"
            ));
        }
        return Err(format!("cannot build {tag}: {message}"));
    }
    lines.finish(log);

    match local_image_id(docker, tag).await? {
        Some(id) => Ok(BuiltImage { tag: tag.into(), id }),
        None => Err(format!(
            "Docker ended the build of {tag} without an error, but there is no image {tag}"
        )),
    }
}

/// Build output cut into lines: a `stream` message may hold several lines
/// or part of one (a `RUN` command's output arrives as it is written).
#[derive(Default)]
struct OutputLines {
    partial: String,
    /// The instruction of the last `Step 2/5 : COPY ...` line the classic
    /// builder printed: the one an error belongs to.
    last_step: String,
}

impl OutputLines {
    fn push(&mut self, text: &str, log: &mut (dyn FnMut(&str) + Send)) {
        self.partial.push_str(text);
        while let Some(newline) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=newline).collect();
            self.emit(&line, log);
        }
    }

    fn finish(&mut self, log: &mut (dyn FnMut(&str) + Send)) {
        let rest = std::mem::take(&mut self.partial);
        self.emit(&rest, log);
    }

    fn emit(&mut self, line: &str, log: &mut (dyn FnMut(&str) + Send)) {
        let line = line.trim_end();
        if line.is_empty() {
            return;
        }
        if let Some((_, instruction)) = line.strip_prefix("Step ").and_then(|step| step.split_once(" : ")) {
            self.last_step = instruction.to_string();
        }
        log(line);
    }
}

/// The id of the local image `reference`, or `None` if there is none.
async fn local_image_id(docker: &Docker, reference: &str) -> Result<Option<String>, String> {
    match docker.inspect_image(reference).await {
        Ok(image) => Ok(Some(image.id.unwrap_or_default())),
        Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
        Err(error) => Err(format!("cannot ask the Docker engine about image {reference}: {error}")),
    }
}

/// When the build failed at a `FROM` whose image is not on this machine:
/// that image. Variables in it are filled from the build arguments.
async fn missing_base_image(docker: &Docker, last_step: &str, args: &BTreeMap<String, String>) -> Option<String> {
    let (instruction, rest) = last_step.trim().split_once(char::is_whitespace)?;
    if !instruction.eq_ignore_ascii_case("FROM") {
        return None;
    }
    let image = rest.split_whitespace().find(|word| !word.starts_with("--"))?;
    let image = substitute(image, args);
    if image.contains('$') || image.eq_ignore_ascii_case("scratch") {
        return None;
    }
    match local_image_id(docker, &image).await {
        Ok(None) => Some(image),
        _ => None,
    }
}

/// `$NAME` and `${NAME}` replaced by build arguments; unknown ones are kept.
fn substitute(text: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, skip) = match after.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(close) => (&braced[..close], close + 2),
                None => ("", 0),
            },
            None => {
                let len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..len], len)
            }
        };
        match args.get(name) {
            Some(value) if !name.is_empty() => out.push_str(value),
            _ => out.push_str(&rest[dollar..dollar + 1 + skip]),
        }
        rest = &after[skip..];
    }
    out.push_str(rest);
    out
}

/// `sha256:0123456789ab...` -> `0123456789ab`, as `docker images` shows ids.
fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

#[cfg(test)]
mod tests {
    //! The Docker tests need an engine; they build their own images from
    //! `scratch` (no registry is needed) and remove them however they end.

    use super::*;
    use bollard::models::ContainerCreateBody;
    use bollard::query_parameters::{
        DownloadFromContainerOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    };
    use std::io::Write;
    use std::path::Path;
    use std::time::Duration;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn image_tags_are_valid_references_named_by_content_and_args() {
        let none = args(&[]);
        let tag = image_tag("churn", "fit-eu", "abc", &none);
        let (name, hash) = tag.split_once(':').expect("a tag");
        assert_eq!(name, "wharf/churn-fit-eu");
        assert_eq!(hash.len(), 16);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(tag, image_tag("churn", "fit-eu", "abc", &none), "stable");
        assert_ne!(tag, image_tag("churn", "fit-eu", "abd", &none), "context");
        let one = args(&[("PY", "3.12")]);
        assert_ne!(tag, image_tag("churn", "fit-eu", "abc", &one), "args");
        assert_ne!(
            image_tag("churn", "fit-eu", "abc", &one),
            image_tag("churn", "fit-eu", "abc", &args(&[("PY", "3.13")])),
            "arg values"
        );
        let names = [
            ("Fit_EU", "fit_eu"),
            ("fit-eu", "fit-eu"),
            ("My Pipeline!", "my-pipeline"),
            ("__x..y--z__", "x.y-z"),
            ("étape", "tape"),
            ("", "unnamed"),
            ("---", "unnamed"),
        ];
        for (given, want) in names {
            assert_eq!(repository_component(given), want, "{given:?}");
        }
        assert_eq!(repository_component(&"a".repeat(300)).len(), 100);
    }

    #[test]
    fn base_image_variables_come_from_build_args() {
        let given = args(&[("BASE", "tools"), ("TAG", "1.4")]);
        assert_eq!(substitute("$BASE:${TAG}", &given), "tools:1.4");
        assert_eq!(substitute("${OTHER}/x:$TAG", &given), "${OTHER}/x:1.4");
        assert_eq!(substitute("plain:1", &given), "plain:1");
        assert_eq!(substitute("broken${BASE", &given), "broken${BASE");
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
    }

    #[test]
    fn build_output_is_cut_into_whole_lines() {
        let mut lines = OutputLines::default();
        let mut seen = Vec::new();
        let mut log = |line: &str| seen.push(line.to_string());
        lines.push("Step 1/2 : FROM base\n ---> abc\n\nStep 2/2 : RUN sh -c", &mut log);
        lines.push(" 'echo hi'\nhal", &mut log);
        lines.push("f a line  \r\n", &mut log);
        lines.push("no newline at the end", &mut log);
        lines.finish(&mut log);
        assert_eq!(lines.last_step, "RUN sh -c 'echo hi'");
        assert_eq!(
            seen,
            [
                "Step 1/2 : FROM base",
                " ---> abc",
                "Step 2/2 : RUN sh -c 'echo hi'",
                "half a line",
                "no newline at the end"
            ]
        );
    }

    /// The engine, or `None` after a loud skip message (a panic when
    /// `WHARF_REQUIRE_DOCKER=1`).
    async fn engine() -> Option<Docker> {
        let connect = async {
            let docker = Docker::connect_with_defaults().map_err(|e| e.to_string())?;
            // The engine may speak an older API than bollard's default.
            let docker = docker.negotiate_version().await.map_err(|e| e.to_string())?;
            docker.ping().await.map_err(|e| e.to_string())?;
            Ok::<_, String>(docker)
        };
        let reason = match tokio::time::timeout(Duration::from_secs(10), connect).await {
            Ok(Ok(docker)) => return Some(docker),
            Ok(Err(reason)) => reason,
            Err(_) => "no answer within 10 s".to_string(),
        };
        let message = format!("SKIPPED: no Docker engine answers ({reason})");
        if std::env::var("WHARF_REQUIRE_DOCKER").as_deref() == Ok("1") {
            panic!("{message}");
        }
        // Straight to the process's stderr: the test harness swallows
        // `eprintln!` of a passing test, and a skip must be seen.
        let _ = writeln!(std::io::stderr(), "\n*** {message} ***\n");
        None
    }

    /// Removes the containers and images a test made when it ends, passed
    /// or failed. `Drop` cannot await in the test's runtime, so it works on a
    /// thread with a runtime and a connection of its own.
    #[derive(Default)]
    struct Cleanup {
        images: Vec<String>,
        containers: Vec<String>,
    }

    impl Drop for Cleanup {
        fn drop(&mut self) {
            let images = std::mem::take(&mut self.images);
            let containers = std::mem::take(&mut self.containers);
            let work = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the cleanup");
                runtime.block_on(async move {
                    let Ok(docker) = Docker::connect_with_defaults() else {
                        return;
                    };
                    let Ok(docker) = docker.negotiate_version().await else {
                        return;
                    };
                    for container in &containers {
                        let options = RemoveContainerOptionsBuilder::default().force(true).build();
                        if let Err(error) = docker.remove_container(container, Some(options)).await {
                            eprintln!("could not remove test container {container}: {error}");
                        }
                    }
                    // Newest first: children before the images they are built on.
                    for image in images.iter().rev() {
                        let options = RemoveImageOptionsBuilder::default().force(true).build();
                        match docker.remove_image(image, Some(options), None).await {
                            Ok(_) | Err(DockerError::DockerResponseServerError { status_code: 404, .. }) => {}
                            Err(error) => eprintln!("could not remove test image {image}: {error}"),
                        }
                    }
                });
            });
            let _ = work.join();
        }
    }

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
    }

    /// Builds `dir` as `tag` (registering it for removal first); the log
    /// lines come back with the result.
    async fn build_dir(
        docker: &Docker,
        cleanup: &mut Cleanup,
        dir: &Path,
        tag: &str,
        build_args: &BTreeMap<String, String>,
    ) -> (Result<BuiltImage, String>, Vec<String>) {
        cleanup.images.push(tag.to_string());
        let context = BuildContext::read(dir, None).expect("context");
        let labels = args(&[("wharf.pipeline", "wharf-test"), ("wharf.step", "fit-eu")]);
        let mut lines = Vec::new();
        let request = BuildRequest {
            context: &context,
            tag,
            args: build_args,
            labels: &labels,
        };
        let result = build(docker, request, &mut |line: &str| lines.push(line.to_string())).await;
        (result, lines)
    }

    /// The paths in the image under `path` (a folder or a file), read from a
    /// container that is created and never started.
    async fn paths_in_image(docker: &Docker, cleanup: &mut Cleanup, image: &str, path: &str) -> Vec<String> {
        let config = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["/never-started".to_string()]),
            ..Default::default()
        };
        let container = docker
            .create_container(None, config)
            .await
            .expect("create container")
            .id;
        cleanup.containers.push(container.clone());
        let options = DownloadFromContainerOptionsBuilder::default().path(path).build();
        let chunks: Vec<_> = docker
            .download_from_container(&container, Some(options))
            .collect()
            .await;
        let mut tar = Vec::new();
        for chunk in chunks {
            tar.extend_from_slice(&chunk.expect("download"));
        }
        let mut archive = tar::Archive::new(&tar[..]);
        let mut paths: Vec<String> = archive
            .entries()
            .expect("tar")
            .map(|entry| entry.expect("entry").path().expect("path").display().to_string())
            .map(|path| path.trim_end_matches('/').to_string())
            .collect();
        paths.sort();
        paths
    }

    #[tokio::test]
    async fn builds_once_reuses_the_tag_and_rebuilds_after_a_change() {
        let Some(docker) = engine().await else { return };
        let mut cleanup = Cleanup::default();
        let pid = std::process::id();
        let no_args = args(&[]);

        let base_dir = tempfile::tempdir().expect("tmp");
        write(
            base_dir.path(),
            "Dockerfile",
            "FROM scratch\nCOPY hello.txt /hello.txt\nLABEL x=y\n",
        );
        write(base_dir.path(), "hello.txt", "hello\n");
        let base_tag = format!("wharf-test/base-{pid}:1");
        let (base, _) = build_dir(&docker, &mut cleanup, base_dir.path(), &base_tag, &no_args).await;
        base.expect("the base image");

        let dir = tempfile::tempdir().expect("tmp");
        write(
            dir.path(),
            "Dockerfile",
            &format!("FROM {base_tag}\nARG GREETING\nLABEL greeting=$GREETING\nCOPY . /ctx/\n"),
        );
        write(dir.path(), ".dockerignore", "# not for the image\nsecret.txt\nlogs\n");
        write(dir.path(), "data.txt", "1\n");
        write(dir.path(), "secret.txt", "hunter2\n");
        write(dir.path(), "logs/run.log", "noise\n");
        let build_args = args(&[("GREETING", "hi")]);
        let context = BuildContext::read(dir.path(), None).expect("context");
        let tag = image_tag(&format!("Wharf Test {pid}"), "Fit_EU", context.hash(), &build_args);
        assert!(tag.starts_with(&format!("wharf/wharf-test-{pid}-fit_eu:")), "{tag}");

        let (built, lines) = build_dir(&docker, &mut cleanup, dir.path(), &tag, &build_args).await;
        let built = built.unwrap_or_else(|error| panic!("build failed: {error}\n{}", lines.join("\n")));
        assert_eq!(built.tag, tag);
        assert!(built.id.starts_with("sha256:"), "{}", built.id);
        assert!(lines.iter().any(|line| line.starts_with("Step 1/")), "{lines:#?}");
        assert!(lines.iter().all(|line| !line.is_empty() && !line.ends_with('\n')));

        let image = docker.inspect_image(&tag).await.expect("inspect");
        assert_eq!(image.id.as_deref(), Some(built.id.as_str()));
        let labels = image.config.and_then(|config| config.labels).unwrap_or_default();
        for (name, value) in [("x", "y"), ("greeting", "hi"), ("wharf.step", "fit-eu")] {
            assert_eq!(
                labels.get(name).map(String::as_str),
                Some(value),
                "label {name}: {labels:?}"
            );
        }
        assert_eq!(
            paths_in_image(&docker, &mut cleanup, &tag, "/ctx").await,
            ["ctx", "ctx/.dockerignore", "ctx/Dockerfile", "ctx/data.txt"],
            "ignored files stay out of the image"
        );
        assert_eq!(
            paths_in_image(&docker, &mut cleanup, &tag, "/hello.txt").await,
            ["hello.txt"],
            "the base image's file"
        );

        let (again, lines) = build_dir(&docker, &mut cleanup, dir.path(), &tag, &build_args).await;
        assert_eq!(again.expect("reuse"), built, "the same image");
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].contains("already exists"), "{lines:#?}");

        write(dir.path(), "data.txt", "2\n");
        let changed = BuildContext::read(dir.path(), None).expect("context");
        let new_tag = image_tag(&format!("Wharf Test {pid}"), "Fit_EU", changed.hash(), &build_args);
        assert_ne!(new_tag, tag);
        let (rebuilt, lines) = build_dir(&docker, &mut cleanup, dir.path(), &new_tag, &build_args).await;
        let rebuilt = rebuilt.unwrap_or_else(|error| panic!("rebuild failed: {error}\n{}", lines.join("\n")));
        assert_eq!(rebuilt.tag, new_tag);
        assert_ne!(rebuilt.id, built.id);
    }

    #[tokio::test]
    async fn a_missing_base_image_is_named() {
        let Some(docker) = engine().await else { return };
        let mut cleanup = Cleanup::default();
        let dir = tempfile::tempdir().expect("tmp");
        write(
            dir.path(),
            "Dockerfile",
            "FROM wharf-test/does-not-exist:1\nCOPY data.txt /\n",
        );
        write(dir.path(), "data.txt", "1\n");
        let tag = format!("wharf/wharf-test-{}-missing-base:1", std::process::id());
        let (result, lines) = build_dir(&docker, &mut cleanup, dir.path(), &tag, &args(&[])).await;
        let error = result.expect_err("no such base image");
        assert!(
            error.contains("base image `wharf-test/does-not-exist:1`"),
            "{error}\n{lines:#?}"
        );
        assert!(error.contains("docker load"), "{error}");
    }

    #[tokio::test]
    async fn a_dockerfile_error_comes_back_with_dockers_message() {
        let Some(docker) = engine().await else { return };
        let mut cleanup = Cleanup::default();
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "Dockerfile", "FROM scratch\nNOTACOMMAND x\n");
        let tag = format!("wharf/wharf-test-{}-syntax:1", std::process::id());
        let (result, lines) = build_dir(&docker, &mut cleanup, dir.path(), &tag, &args(&[])).await;
        let error = result.expect_err("a syntax error");
        assert!(
            error.to_lowercase().contains("unknown instruction: notacommand"),
            "{error}\n{lines:#?}"
        );
        assert!(error.starts_with(&format!("cannot build {tag}: ")), "{error}");
    }
}
