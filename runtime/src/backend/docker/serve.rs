//! Serving containers, as SageMaker hosting starts them: `docker run IMAGE
//! serve` with the model unpacked at `/opt/ml/model` and port 8080, healthy
//! once `GET /ping` answers 200.
//!
//! - `deploy` starts one on a free port of 127.0.0.1 (or the step's `port`),
//!   writes its URL to the `endpoint` output and leaves it running, labelled
//!   with its endpoint name, until `wharf endpoints stop` or `wharf stop`.
//!   A later run that deploys the same image and model to the same name
//!   finds it healthy and keeps it; anything else replaces it.
//! - `transform` starts one with `SAGEMAKER_BATCH=true`, sends the input
//!   records to `POST /invocations` one request at a time (one record each,
//!   or as many lines as fit in the payload limit), writes one `<file>.out`
//!   per input file, and removes the container.

use super::container::{self, labels, stream_logs};
use super::http::HttpClient;
use super::spec::{ContainerSpec, Mount};
use super::{DockerBackend, engine_error};
use crate::backend::contract::{self, SERVING_PORT};
use crate::backend::logs::{Tail, with_tail};
use crate::backend::{Attempt, Finish};
use crate::events::{EventSink, RunEvent};
use bollard::Docker;
use bollard::models::{PortBinding, PortMap};
use bytes::Bytes;
use serde_json::json;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wharf_compiler::pipeline::KindSpec;

/// How long a serving container has to answer `/ping` with 200 (SageMaker: 4 minutes).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(240);
/// Each ping's own limit, as SageMaker's.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// An invocation's limit (SageMaker: 60 s).
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(60);
/// SageMaker's default payload limit for batch transform: 6 MB.
const DEFAULT_PAYLOAD: u64 = 6 * 1024 * 1024;

/// A serving container that answers `/ping`.
pub struct Serving {
    pub id: String,
    pub url: String,
    pub logs: Option<tokio::task::JoinHandle<()>>,
}

/// The model folder the container gets at `/opt/ml/model`: a `model.tar.gz`
/// (alone in its folder, or given as the file) is unpacked first, as
/// SageMaker unpacks ModelDataUrl; a folder is used as it is.
pub async fn model_dir(model: &Path, work_dir: &Path) -> Result<PathBuf, String> {
    let archive = if model.is_file() {
        Some(model.to_path_buf())
    } else {
        let single = model.join("model.tar.gz");
        let entries = std::fs::read_dir(model)
            .map_err(|e| format!("cannot read the model at {}: {e}", model.display()))?
            .count();
        (entries == 1 && single.is_file()).then_some(single)
    };
    let Some(archive) = archive else {
        return Ok(model.to_path_buf());
    };
    let dest = work_dir.join("serving-model");
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::create_dir_all(&dest).map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
    let (from, to) = (archive.clone(), dest.clone());
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let file = std::fs::File::open(&from)?;
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        tar.set_preserve_ownerships(false);
        tar.unpack(&to)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot unpack {}: {e}", archive.display()))?;
    Ok(dest)
}

fn model_input(attempt: &Attempt) -> Result<&Path, String> {
    attempt
        .inputs
        .iter()
        .find(|(n, _)| n == "model")
        .map(|(_, p)| p.as_path())
        .ok_or_else(|| format!("step `{}` has no `model` input", attempt.step))
}

/// The container spec of a serving container for `attempt`.
fn serving_spec(attempt: &Attempt, model: PathBuf, extra_env: &[(String, String)]) -> Result<ContainerSpec, String> {
    let image = attempt.image.clone().ok_or_else(|| {
        format!(
            "step `{}` has no image to serve with: give it `image = ...`, or deploy a model made by a step that has one",
            attempt.step
        )
    })?;
    let mut env: Vec<String> = attempt.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.extend(extra_env.iter().map(|(k, v)| format!("{k}={v}")));
    Ok(ContainerSpec {
        image,
        entrypoint: (!attempt.command.is_empty()).then(|| attempt.command.clone()),
        cmd: attempt.command.is_empty().then(|| vec!["serve".to_string()]),
        env,
        mounts: vec![Mount {
            host: model,
            container: contract::MODEL_DIR.to_string(),
        }],
        failure_file: contract::FAILURE_FILE,
        ..ContainerSpec::default()
    })
}

/// Starts a serving container and waits until `/ping` answers 200. On any
/// failure the container is removed and the error says why (its exit code
/// and last lines when it died).
#[allow(clippy::too_many_arguments)]
async fn start_serving(
    backend: &DockerBackend,
    attempt: &Attempt,
    spec: &ContainerSpec,
    name: &str,
    mut labels: HashMap<String, String>,
    host_port: Option<u16>,
    events: Arc<dyn EventSink>,
    tail: Tail,
) -> Result<Serving, String> {
    let docker = &backend.docker;
    backend.ensure_image(&spec.image).await?;
    let port_key = format!("{SERVING_PORT}/tcp");
    let mut host = container::host_config(attempt, spec);
    let bindings: PortMap = HashMap::from([(
        port_key.clone(),
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(host_port.map(|p| p.to_string()).unwrap_or_default()),
        }]),
    )]);
    host.port_bindings = Some(bindings);
    labels.insert("com.amazonaws.sagemaker.port".into(), SERVING_PORT.to_string());
    let staging = attempt.work_dir.join("container");
    let id = container::create(docker, name, spec, labels, host, Some(vec![port_key.clone()]), &staging).await?;
    let started = async {
        docker
            .start_container(&id, None)
            .await
            .map_err(|e| engine_error(&format!("cannot start the serving container of `{}`", spec.image), e))?;
        let logs = stream_logs(docker, &id, attempt, events, tail.clone()).await?;
        let port = published_port(docker, &id, &port_key).await?;
        let url = format!("http://127.0.0.1:{port}");
        wait_healthy(docker, &id, &url, startup_timeout(attempt), &tail).await?;
        Ok::<_, String>(Serving {
            id: id.clone(),
            url,
            logs: Some(logs),
        })
    };
    match started.await {
        Ok(serving) => Ok(serving),
        Err(e) => {
            let _ = container::remove(docker, &id).await;
            Err(e)
        }
    }
}

fn startup_timeout(attempt: &Attempt) -> Duration {
    attempt.timeout_ms.map(Duration::from_millis).unwrap_or(STARTUP_TIMEOUT)
}

async fn published_port(docker: &Docker, id: &str, key: &str) -> Result<u16, String> {
    let inspect = docker
        .inspect_container(id, None)
        .await
        .map_err(|e| engine_error("cannot inspect the serving container", e))?;
    inspect
        .network_settings
        .and_then(|n| n.ports)
        .and_then(|ports| ports.get(key).cloned().flatten())
        .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port?.parse().ok()))
        .ok_or_else(|| "the engine published no port for the serving container".to_string())
}

/// Polls `/ping` until it answers 200, the container exits, or time runs out.
async fn wait_healthy(docker: &Docker, id: &str, url: &str, limit: Duration, tail: &Tail) -> Result<(), String> {
    let client = HttpClient::default();
    let deadline = Instant::now() + limit;
    let ping = format!("{url}/ping");
    loop {
        let last = match client.get(&ping, PING_TIMEOUT).await {
            Ok(r) if r.status == 200 => return Ok(()),
            Ok(r) => format!("GET /ping answered {}", r.status),
            Err(e) => e,
        };
        let state = docker.inspect_container(id, None).await.ok().and_then(|i| i.state);
        if let Some(state) = state
            && state.running == Some(false)
        {
            let code = state.exit_code.unwrap_or(-1);
            return Err(with_tail(
                format!("the serving container exited with code {code} before answering /ping"),
                &tail.lines(),
            ));
        }
        if Instant::now() >= deadline {
            return Err(with_tail(
                format!(
                    "the serving container did not answer GET /ping with 200 within {} s ({last})",
                    limit.as_secs()
                ),
                &tail.lines(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The endpoint's name: the step's `endpoint`, else `<pipeline>-<step>`.
pub fn endpoint_name(attempt: &Attempt) -> String {
    match &attempt.spec {
        KindSpec::Deploy {
            endpoint: Some(name), ..
        } => name.clone(),
        _ => contract::job_name(&attempt.pipeline, &attempt.step, "", 0)
            .trim_end_matches("-0")
            .to_string(),
    }
}

/// `deploy`: starts (or keeps) the endpoint and writes `endpoint.json`.
pub async fn deploy(backend: Arc<DockerBackend>, attempt: Attempt, events: Arc<dyn EventSink>) -> Finish {
    match deploy_inner(&backend, &attempt, events).await {
        Ok(()) => Finish::Succeeded,
        Err(reason) => Finish::Failed {
            exit_code: None,
            reason,
        },
    }
}

async fn deploy_inner(backend: &DockerBackend, attempt: &Attempt, events: Arc<dyn EventSink>) -> Result<(), String> {
    let KindSpec::Deploy { port, multi_model, .. } = &attempt.spec else {
        return Err("internal: a deploy step without deploy settings".into());
    };
    if *multi_model {
        return Err("multi-model endpoints run on SageMaker only; place this step on a sagemaker target".into());
    }
    let name = endpoint_name(attempt);
    let model = model_dir(model_input(attempt)?, &attempt.work_dir).await?;
    let spec = serving_spec(attempt, model.clone(), &[])?;
    let image_id = backend.ensure_image(&spec.image).await?;
    let model_hash = {
        let m = model.clone();
        tokio::task::spawn_blocking(move || crate::hash::hash_path(&m))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot read the model: {e}"))?
            .hex
    };
    let fingerprint = blake3::hash(format!("{image_id}\0{model_hash}\0{:?}\0{port:?}", spec.env).as_bytes())
        .to_hex()
        .to_string();
    let say = |line: String| {
        events.event(RunEvent::StepLog {
            step: attempt.step.clone(),
            line,
            stderr: false,
        })
    };
    // The endpoint as it is now: kept when it serves the same thing and is
    // healthy; otherwise replaced (stopped first, as its port may be fixed).
    for existing in backend.endpoints(Some(&name)).await? {
        if existing.fingerprint == fingerprint
            && existing.running
            && let Some(url) = &existing.url
            && HttpClient::default()
                .get(&format!("{url}/ping"), PING_TIMEOUT)
                .await
                .is_ok_and(|r| r.status == 200)
        {
            say(format!(
                "wharf: endpoint `{name}` already serves this model at {url}; kept"
            ));
            return write_endpoint(attempt, &name, url, &existing.id, &spec.image);
        }
        say(format!(
            "wharf: replacing endpoint `{name}` (container {})",
            short(&existing.id)
        ));
        container::remove(&backend.docker, &existing.id).await?;
    }
    let mut labels = labels(attempt, &backend.project, "endpoint");
    labels.insert("wharf.endpoint".into(), name.clone());
    labels.insert("wharf.fingerprint".into(), fingerprint);
    let container_name = format!("wharf-endpoint-{}-{}", &backend.project[..8], name);
    let tail = Tail::default();
    let mut serving = start_serving(
        backend,
        attempt,
        &spec,
        &container_name,
        labels,
        *port,
        events.clone(),
        tail,
    )
    .await?;
    // The endpoint outlives the run; its later logs are Docker's.
    if let Some(logs) = serving.logs.take() {
        logs.abort();
    }
    say(format!(
        "wharf: endpoint `{name}` serves at {} (container {}; `docker logs {}` for its logs)",
        serving.url,
        short(&serving.id),
        short(&serving.id)
    ));
    write_endpoint(attempt, &name, &serving.url, &serving.id, &spec.image)
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn write_endpoint(attempt: &Attempt, name: &str, url: &str, id: &str, image: &str) -> Result<(), String> {
    let dir = attempt.output_dir("endpoint");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let record = json!({
        "name": name,
        "url": url,
        "invocations": format!("{url}/invocations"),
        "container": id,
        "image": image,
        "backend": "docker",
    });
    let path = dir.join("endpoint.json");
    std::fs::write(&path, format!("{record:#}\n")).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `transform`: batch inference through a serving container.
pub async fn transform(backend: Arc<DockerBackend>, attempt: Attempt, events: Arc<dyn EventSink>) -> Finish {
    let name = format!(
        "wharf-{}-{}",
        &backend.project[..8],
        contract::job_name(&attempt.pipeline, &attempt.step, &attempt.run, attempt.attempt).to_lowercase()
    );
    let result = transform_inner(&backend, &attempt, &name, events).await;
    let _ = container::remove(&backend.docker, &name).await;
    match result {
        Ok(()) => Finish::Succeeded,
        Err(reason) => Finish::Failed {
            exit_code: None,
            reason,
        },
    }
}

async fn transform_inner(
    backend: &DockerBackend,
    attempt: &Attempt,
    name: &str,
    events: Arc<dyn EventSink>,
) -> Result<(), String> {
    let KindSpec::Transform {
        content_type,
        accept,
        split,
        strategy,
        max_payload,
    } = &attempt.spec
    else {
        return Err("internal: a transform step without transform settings".into());
    };
    if !matches!(split.as_str(), "none" | "line") {
        return Err(format!(
            "split = \"{split}\" runs on SageMaker only; the docker backend splits by \"line\" or not at all"
        ));
    }
    let data = attempt
        .inputs
        .iter()
        .find(|(n, _)| n == "data")
        .map(|(_, p)| p.clone())
        .ok_or_else(|| format!("step `{}` has no `data` input", attempt.step))?;
    let model = model_dir(model_input(attempt)?, &attempt.work_dir).await?;
    let payload = max_payload.unwrap_or(DEFAULT_PAYLOAD);
    let multi = strategy == "multi";
    let mut env = vec![
        ("SAGEMAKER_BATCH".to_string(), "true".to_string()),
        (
            "SAGEMAKER_BATCH_STRATEGY".to_string(),
            if multi { "MULTI_RECORD" } else { "SINGLE_RECORD" }.to_string(),
        ),
        ("SAGEMAKER_MAX_CONCURRENT_TRANSFORMS".to_string(), "1".to_string()),
    ];
    if let Some(bytes) = max_payload {
        env.push((
            "SAGEMAKER_MAX_PAYLOAD_IN_MB".into(),
            bytes.div_ceil(1_000_000).to_string(),
        ));
    }
    let spec = serving_spec(attempt, model, &env)?;
    let tail = Tail::default();
    let mut serving = start_serving(
        backend,
        attempt,
        &spec,
        name,
        labels(attempt, &backend.project, "transform"),
        None,
        events.clone(),
        tail.clone(),
    )
    .await?;
    let out_dir = attempt.output_dir("output");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let files = data_files(&data)?;
    let client = HttpClient::default();
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(t) = content_type {
        headers.push(("Content-Type", t));
    }
    if let Some(a) = accept {
        headers.push(("Accept", a));
    }
    let invocations = format!("{}/invocations", serving.url);
    let mut records = 0usize;
    for (relative, path) in &files {
        let content = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let bodies = requests(&content, split == "line", multi, payload);
        let mut out = Vec::new();
        for body in bodies {
            let response = client
                .send("POST", &invocations, &headers, Bytes::from(body), INVOCATION_TIMEOUT)
                .await?;
            if !(200..300).contains(&response.status) {
                let text: String = String::from_utf8_lossy(&response.body).chars().take(300).collect();
                return Err(with_tail(
                    format!(
                        "POST /invocations answered {} for a record of {relative}: {}",
                        response.status,
                        text.trim()
                    ),
                    &tail.lines(),
                ));
            }
            out.extend_from_slice(&response.body);
            if split == "line" && !response.body.ends_with(b"\n") {
                out.push(b'\n');
            }
            records += 1;
        }
        // As SageMaker: one `<file>.out` per input file, written whole.
        let target = out_dir.join(format!("{relative}.out"));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let partial = target.with_extension("out.partial");
        std::fs::write(&partial, &out)
            .and_then(|_| std::fs::rename(&partial, &target))
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    events.event(RunEvent::StepLog {
        step: attempt.step.clone(),
        line: format!("wharf: {records} requests for {} files answered", files.len()),
        stderr: false,
    });
    container::stop(&backend.docker, &serving.id, Duration::from_secs(5)).await;
    if let Some(logs) = serving.logs.take() {
        let _ = tokio::time::timeout(Duration::from_secs(5), logs).await;
    }
    Ok(())
}

/// The files of a data input, sorted, with their paths relative to it.
fn data_files(data: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    if data.is_file() {
        let name = data
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(vec![(name, data.to_path_buf())]);
    }
    let mut out = Vec::new();
    let mut stack = vec![data.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))? {
            let entry = entry.map_err(|e| e.to_string())?;
            let path = std::fs::canonicalize(entry.path()).unwrap_or_else(|_| entry.path());
            if path.is_dir() {
                stack.push(entry.path());
            } else if let Ok(relative) = entry.path().strip_prefix(data) {
                out.push((relative.to_string_lossy().into_owned(), path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The request bodies for one file: the whole file, one line each, or as
/// many lines as fit in `payload` bytes (never fewer than one).
fn requests(content: &[u8], by_line: bool, multi: bool, payload: u64) -> Vec<Vec<u8>> {
    if !by_line {
        return vec![content.to_vec()];
    }
    let lines = content
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty());
    if !multi {
        return lines.map(<[u8]>::to_vec).collect();
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in lines {
        match out.last_mut() {
            Some(batch) if (batch.len() + 1 + line.len()) as u64 <= payload => {
                batch.push(b'\n');
                batch.extend_from_slice(line);
            }
            _ => out.push(line.to_vec()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_split_by_line_and_batch_within_the_payload() {
        let data = b"a,1\nb,2\r\n\nc,3";
        assert_eq!(requests(data, false, true, 10), vec![data.to_vec()]);
        assert_eq!(
            requests(data, true, false, 10),
            vec![b"a,1".to_vec(), b"b,2".to_vec(), b"c,3".to_vec()]
        );
        assert_eq!(
            requests(data, true, true, 7),
            vec![b"a,1\nb,2".to_vec(), b"c,3".to_vec()]
        );
        assert_eq!(
            requests(data, true, true, 2),
            vec![b"a,1".to_vec(), b"b,2".to_vec(), b"c,3".to_vec()]
        );
    }

    #[tokio::test]
    async fn a_lone_model_archive_is_unpacked() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model");
        std::fs::create_dir(&model).unwrap();
        let file = std::fs::File::create(model.join("model.tar.gz")).unwrap();
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast()));
        let mut header = tar::Header::new_gnu();
        header.set_size(3);
        header.set_mode(0o644);
        tar.append_data(&mut header, "weights.bin", &b"abc"[..]).unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        let work = dir.path().join("work");
        let unpacked = model_dir(&model, &work).await.unwrap();
        assert_eq!(unpacked, work.join("serving-model"));
        assert_eq!(std::fs::read(unpacked.join("weights.bin")).unwrap(), b"abc");
        assert!(model.join("model.tar.gz").is_file(), "the input is left as it was");
        let plain = dir.path().join("plain");
        std::fs::create_dir(&plain).unwrap();
        std::fs::write(plain.join("model.pkl"), "x").unwrap();
        assert_eq!(model_dir(&plain, &work).await.unwrap(), plain);
    }
}
