//! `wharf endpoints` and `wharf stop`: the local endpoints deploy steps
//! left running on the docker backend. The engine is the record: every
//! endpoint container carries its name, run and step as labels, so the
//! list is right even after `docker rm` or a lost state database.

use super::state::{StateDb, state_dir};
use crate::Outcome;
use crate::cli::{EndpointsAction, EndpointsArgs, OutputFormat, StopArgs};
use crate::render::table::Table;
use serde_json::json;
use std::path::Path;
use wharf_runtime::backend::docker::{DockerBackend, Endpoint};

fn connect() -> anyhow::Result<(DockerBackend, tokio::runtime::Runtime)> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let docker = DockerBackend::connect(std::path::PathBuf::from("."), state_dir()).map_err(anyhow::Error::msg)?;
    runtime.block_on(docker.ping()).map_err(anyhow::Error::msg)?;
    Ok((docker, runtime))
}

pub fn run(args: EndpointsArgs) -> anyhow::Result<Outcome> {
    let (docker, runtime) = connect()?;
    let endpoints = runtime
        .block_on(docker.list_endpoints(None, !args.all))
        .map_err(anyhow::Error::msg)?;
    match args.action {
        None => {
            print_list(&endpoints, args.format);
            Ok(Outcome::Success)
        }
        Some(EndpointsAction::Stop { names }) => {
            let mut missing = Vec::new();
            for name in &names {
                let found: Vec<&Endpoint> = endpoints.iter().filter(|e| &e.name == name).collect();
                if found.is_empty() {
                    missing.push(name.clone());
                }
                for endpoint in found {
                    runtime
                        .block_on(docker.stop_endpoint(endpoint))
                        .map_err(anyhow::Error::msg)?;
                    eprintln!(
                        "stopped endpoint `{}` (container {})",
                        endpoint.name,
                        short(&endpoint.id)
                    );
                }
            }
            if missing.is_empty() {
                return Ok(Outcome::Success);
            }
            let known: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
            let hint = if known.is_empty() {
                "no endpoint is running here".to_string()
            } else {
                format!("running here: {}", known.join(", "))
            };
            eprintln!("error: no endpoint named {}\n  = help: {hint}", missing.join(", "));
            Ok(Outcome::Unusable)
        }
    }
}

pub fn stop(args: StopArgs) -> anyhow::Result<Outcome> {
    // Opening the state cleans up after abandoned runs (and says so).
    let db = StateDb::open_required()?;
    let run = db.find_run(&args.run)?;
    let cleaned = db.cleaned().iter().any(|c| c.run == run.id);
    if run.status == wharf_runtime::state::RunStatus::Running && stop_live(&db, &run.id) {
        return Ok(Outcome::Success);
    }
    let (docker, runtime) = match connect() {
        Ok(connected) => connected,
        // Without an engine there are no endpoints to stop.
        Err(_) if cleaned => return Ok(Outcome::Success),
        Err(e) => return Err(e),
    };
    let endpoints = runtime.block_on(docker.endpoints(None)).map_err(anyhow::Error::msg)?;
    // The endpoints the run deployed, kept ones included (a later run that
    // finds an endpoint serving the same model keeps it, and records it).
    let mut names: Vec<String> = Vec::new();
    for step in db.steps(&run.id)? {
        if step.record.kind != "deploy" {
            continue;
        }
        for artifact in step.artifacts.iter().filter(|a| a.output == "endpoint") {
            let Some(dir) = artifact.uri.strip_prefix("file://") else {
                continue;
            };
            let record = std::fs::read_to_string(Path::new(dir).join("endpoint.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
            if let Some(name) = record.as_ref().and_then(|r| r["name"].as_str()) {
                names.push(name.to_string());
            }
        }
    }
    let mine: Vec<&Endpoint> = endpoints
        .iter()
        .filter(|e| e.run == run.id || names.contains(&e.name))
        .collect();
    if mine.is_empty() && !cleaned {
        say!("run {} left nothing running", run.id);
    }
    for endpoint in mine {
        runtime
            .block_on(docker.stop_endpoint(endpoint))
            .map_err(anyhow::Error::msg)?;
        eprintln!(
            "stopped endpoint `{}` of step `{}` (container {})",
            endpoint.name,
            endpoint.step,
            short(&endpoint.id)
        );
    }
    Ok(Outcome::Success)
}

/// A run that is still running here: its wharf process is asked to stop
/// it (SIGTERM: the steps are stopped and recorded, as on Ctrl-C). False
/// when that process is not on this machine.
fn stop_live(db: &StateDb, run: &str) -> bool {
    let owner = db.store().owner(run).ok().flatten();
    let Some(owner) = owner.as_deref().and_then(wharf_runtime::owner::Owner::parse) else {
        return false;
    };
    if !owner.is_local() || !owner.alive() {
        return false;
    }
    let Ok(pid) = libc::pid_t::try_from(owner.pid) else {
        return false;
    };
    // SAFETY: kill(2) with a positive pid signals that one process; the
    // pid and its start time were checked to be the run's wharf.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    say!("asked wharf (pid {pid}) to stop run {run}: it stops its steps and records them as cancelled");
    true
}

fn print_list(endpoints: &[Endpoint], format: OutputFormat) {
    match format {
        OutputFormat::Json => {
            let list: Vec<_> = endpoints
                .iter()
                .map(|e| {
                    json!({
                        "name": e.name,
                        "url": e.url,
                        "running": e.running,
                        "status": e.status,
                        "pipeline": e.pipeline,
                        "step": e.step,
                        "run": e.run,
                        "container": e.id,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
        }
        OutputFormat::Text if endpoints.is_empty() => eprintln!("no endpoints are running"),
        OutputFormat::Text => {
            let mut table = Table::new(&["ENDPOINT", "URL", "STATUS", "PIPELINE", "STEP", "RUN", "CONTAINER"]);
            for e in endpoints {
                table.row(vec![
                    e.name.clone(),
                    e.url.clone().unwrap_or_else(|| "-".into()),
                    e.status.clone(),
                    e.pipeline.clone(),
                    e.step.clone(),
                    e.run.clone(),
                    short(&e.id).to_string(),
                ]);
            }
            print!("{}", table.render());
        }
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}
