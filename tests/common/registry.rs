//! A real Docker registry for the ECR tests: Debian's `docker-registry`
//! (the CNCF distribution registry, 2.8), started on a free 127.0.0.1 port
//! with its storage in a temporary folder. moto has ECR's API but no
//! registry; the fault proxy's `registry` setting puts this one behind it.
//! The Docker engine treats 127.0.0.0/8 registries as plain HTTP, so no
//! certificate is needed.
//!
//! Without the program a test skips loudly, or fails under
//! `WHARF_REQUIRE_REGISTRY=1` (CI). `WHARF_REGISTRY_BIN` names the program
//! (default `/usr/bin/docker-registry`, else `docker-registry` or
//! `registry` on PATH).

use super::moto::{free_port, own_process_group, stop, try_request};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    /// `127.0.0.1:PORT`: the registry's host as image references name it.
    pub host: String,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry, or `None` (after a loud message) when there is no
    /// program; a panic under `WHARF_REQUIRE_REGISTRY=1`.
    pub fn start() -> Option<Registry> {
        match Self::try_start() {
            Ok(registry) => Some(registry),
            Err(why) => {
                if std::env::var("WHARF_REQUIRE_REGISTRY").as_deref() == Ok("1") {
                    panic!("WHARF_REQUIRE_REGISTRY=1 but {why}");
                }
                eprintln!("\n*** SKIPPED: {why} ***\n");
                None
            }
        }
    }

    fn try_start() -> Result<Registry, String> {
        let program = program()?;
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
        let port = free_port()?;
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).map_err(|e| e.to_string())?;
        // `info` keeps the access log, which counts the pushes.
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.path().join("registry.log")).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&program);
        cmd.arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        own_process_group(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let mut registry = Registry {
            host: format!("127.0.0.1:{port}"),
            child: Some(child),
            dir,
        };
        registry.wait_until_ready()?;
        Ok(registry)
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("the registry exited ({status}):\n{}", self.log()));
            }
            if let Ok((200, _)) = try_request(&self.url(), "GET", "/v2/", "") {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(20) {
                return Err(format!("the registry did not answer within 20 s:\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`, as the fault proxy's `registry` setting wants it.
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }

    /// The tags the registry holds in `repository` (`GET /v2/<repo>/tags/list`).
    pub fn tags(&self, repository: &str) -> Vec<String> {
        match try_request(&self.url(), "GET", &format!("/v2/{repository}/tags/list"), "") {
            Ok((200, body)) => serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["tags"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// How many manifests were pushed to `repository` (access log lines of
    /// `PUT /v2/<repository>/manifests/...`): one per `docker push`.
    pub fn manifest_pushes(&self, repository: &str) -> usize {
        let needle = format!("\"PUT /v2/{repository}/manifests/");
        self.log().lines().filter(|l| l.contains(&needle)).count()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            stop(child);
        }
    }
}

fn program() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("WHARF_REGISTRY_BIN").filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(format!("WHARF_REGISTRY_BIN={} is not a file", bin.display()))
        };
    }
    let default = PathBuf::from("/usr/bin/docker-registry");
    if default.is_file() {
        return Ok(default);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| [dir.join("docker-registry"), dir.join("registry")])
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "no Docker registry program (`apt-get install docker-registry`, or set WHARF_REGISTRY_BIN)".to_string()
        })
}
