//! What the SageMaker and S3 tests need from the machine: a moto server
//! (`moto_server` from `.ci/moto-venv.sh`'s venv, or `WHARF_MOTO_ENDPOINT`)
//! with `tests/aws/fault_proxy.py` in front of it. Without them a test skips
//! with a loud message, or fails under `WHARF_REQUIRE_MOTO=1` (CI).
//!
//! Point clients at [`Moto::endpoint`] (the proxy): SageMaker calls get the
//! job lifecycle, stops, throttling, latency and monitoring schedules the
//! test configured (see the proxy's header for the JSON), and S3 passes
//! through untouched. [`Moto::moto_endpoint`] is moto itself, with nothing in
//! between. The control calls are plain HTTP/1.1 written here, so what a test
//! sees does not depend on the code under test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Variables a test's AWS client must not inherit from the machine.
pub const ENV_REMOVE: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SAGEMAKER",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_CA_BUNDLE",
];

/// A moto server (started here, or the one `WHARF_MOTO_ENDPOINT` names) and
/// the fault proxy in front of it; dropping it stops what it started.
pub struct Moto {
    /// The fault proxy's URL, `http://127.0.0.1:PORT`: what clients use.
    pub endpoint: String,
    /// moto's own URL, with no proxy in between.
    pub moto_endpoint: String,
    /// The venv's (or PATH's) `aws` CLI, when there is one.
    pub aws_cli: Option<PathBuf>,
    moto: Option<Child>,
    proxy: Option<Child>,
    /// Holds the empty AWS config and credentials files and the logs.
    dir: tempfile::TempDir,
}

/// The moto venv's bin folder (`WHARF_MOTO_VENV`, default the one
/// `.ci/moto-venv.sh` creates).
pub fn venv_bin() -> PathBuf {
    let venv = std::env::var_os("WHARF_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/root"));
            home.join(".cache/wharf-ci/venv-moto")
        });
    venv.join("bin")
}

/// `name` from the venv's bin folder, else from PATH.
fn find_program(name: &str) -> Option<PathBuf> {
    let in_venv = venv_bin().join(name);
    if in_venv.is_file() {
        return Some(in_venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

impl Moto {
    /// Starts moto (unless `WHARF_MOTO_ENDPOINT` is set) and the proxy; `None`
    /// (after a loud message) when that is not possible, or a panic under
    /// `WHARF_REQUIRE_MOTO=1`.
    pub fn start() -> Option<Moto> {
        match Self::try_start() {
            Ok(moto) => Some(moto),
            Err(why) => {
                skip_or_fail(&why);
                None
            }
        }
    }

    fn try_start() -> Result<Moto, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
        std::fs::write(dir.path().join("aws-config"), "").map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join("aws-credentials"), "").map_err(|e| e.to_string())?;
        let mut moto = Moto {
            endpoint: String::new(),
            moto_endpoint: String::new(),
            aws_cli: find_program("aws"),
            moto: None,
            proxy: None,
            dir,
        };
        // On an early return `moto` is dropped, which stops what was started.
        moto.moto_endpoint = match std::env::var("WHARF_MOTO_ENDPOINT") {
            Ok(url) if !url.is_empty() => {
                let url = url.trim_end_matches('/').to_string();
                wait_until_answers(&url, None, Duration::from_secs(5))
                    .map_err(|e| format!("WHARF_MOTO_ENDPOINT={url} does not answer: {e}"))?;
                url
            }
            _ => moto.start_moto()?,
        };
        moto.endpoint = moto.start_proxy()?;
        Ok(moto)
    }

    fn start_moto(&mut self) -> Result<String, String> {
        let server = find_program("moto_server").ok_or_else(|| {
            format!(
                "no moto_server in {} nor on PATH; install it with .ci/moto-venv.sh \
                 (or set WHARF_MOTO_VENV, or WHARF_MOTO_ENDPOINT to a running moto)",
                venv_bin().display()
            )
        })?;
        let port = free_port()?;
        let log = self.dir.path().join("moto.log");
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&server);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        own_process_group(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", server.display()))?;
        self.moto = Some(child);
        let url = format!("http://127.0.0.1:{port}");
        wait_until_answers(&url, self.moto.as_mut(), Duration::from_secs(20)).map_err(|e| {
            format!(
                "{} -p {port} did not come up: {e}\n--- its log ---\n{}",
                server.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })?;
        Ok(url)
    }

    fn start_proxy(&mut self) -> Result<String, String> {
        let python = find_program("python3").ok_or("no python3 in the moto venv nor on PATH")?;
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aws/fault_proxy.py");
        let log = self.dir.path().join("proxy.log");
        let err = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .args(["--upstream", &self.moto_endpoint, "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err);
        if std::env::var("WHARF_MOTO_PROXY_VERBOSE").as_deref() == Ok("1") {
            cmd.arg("--verbose");
        }
        own_process_group(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        self.proxy = Some(child);
        // The first line is `listening on PORT`; read it on a thread so that
        // a proxy that hangs cannot hang the test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep the pipe open (and drained) as long as the proxy lives.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| {
                format!(
                    "the fault proxy did not say `listening on PORT` (it said {line:?})\n--- its log ---\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })?;
        let url = format!("http://127.0.0.1:{port}");
        wait_until_answers(&url, self.proxy.as_mut(), Duration::from_secs(10))?;
        Ok(url)
    }

    /// Clears moto's state (`/moto-api/reset`) and the proxy's (configuration,
    /// jobs, schedules, statistics). A moto named by `WHARF_MOTO_ENDPOINT` is
    /// shared by every test running at the same time, so it is left alone
    /// (only the proxy, which is this test's own, is reset): tests use names
    /// of their own.
    pub fn reset(&self) {
        if self.moto.is_some() {
            let (status, body) = request(&self.moto_endpoint, "POST", "/moto-api/reset", "");
            assert_eq!(status, 200, "moto reset: {body}");
        }
        let (status, body) = request(&self.endpoint, "POST", "/_proxy/reset", "");
        assert_eq!(status, 200, "proxy reset: {body}");
    }

    /// Sets the given keys of the proxy's configuration (each key replaces
    /// the one in force); panics when the proxy rejects it.
    pub fn configure(&self, json: &str) {
        let (status, body) = request(&self.endpoint, "POST", "/_proxy/config", json);
        assert_eq!(status, 200, "the fault proxy rejected {json}: {body}");
    }

    /// The proxy's statistics (`GET /_proxy/stats`).
    pub fn stats(&self) -> serde_json::Value {
        let (status, body) = request(&self.endpoint, "GET", "/_proxy/stats", "");
        assert_eq!(status, 200, "proxy stats: {body}");
        serde_json::from_str(&body).expect("the stats are JSON")
    }

    /// The environment an AWS client (SDK or CLI) under test gets: fixed test
    /// credentials and region, no instance metadata, and empty config and
    /// credentials files so that nothing from ~/.aws leaks in. Remove
    /// [`ENV_REMOVE`] as well (or use [`Moto::apply_env`]).
    pub fn env(&self) -> Vec<(String, String)> {
        let file = |name: &str| self.dir.path().join(name).display().to_string();
        [
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_DEFAULT_REGION", "us-east-1".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("AWS_CONFIG_FILE", file("aws-config")),
            ("AWS_SHARED_CREDENTIALS_FILE", file("aws-credentials")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Applies [`Moto::env`] to `cmd` and removes [`ENV_REMOVE`].
    pub fn apply_env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        for name in ENV_REMOVE {
            cmd.env_remove(name);
        }
        cmd.envs(self.env())
    }

    /// Runs the `aws` CLI against `endpoint` (the proxy or moto) with
    /// [`Moto::env`] and extra `env`; panics when there is no CLI.
    pub fn aws_at(&self, endpoint: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
        let cli = self
            .aws_cli
            .as_ref()
            .expect("the aws CLI (from .ci/moto-venv.sh) is installed");
        let mut cmd = Command::new(cli);
        self.apply_env(&mut cmd);
        cmd.envs(env.iter().copied())
            .arg("--endpoint-url")
            .arg(endpoint)
            .args(["--output", "json"])
            .args(args)
            .stdin(Stdio::null());
        cmd.output().expect("the aws CLI runs")
    }

    /// The AWS CLI against `endpoint`: its stdout as JSON (`Null` when it
    /// printed none); panics, with its stderr, when it fails.
    pub fn aws_json(&self, endpoint: &str, args: &[&str]) -> serde_json::Value {
        let out = self.aws_at(endpoint, &[], args);
        assert!(
            out.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    /// `wharf run p.wharf --target TARGET ARGS` in `dir` against this moto,
    /// polling quickly, with its output piped.
    pub fn spawn_run(&self, dir: &Path, target: &str, args: &[&str]) -> std::process::Child {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("wharf"));
        self.apply_env(&mut cmd);
        cmd.current_dir(dir)
            .env("NO_COLOR", "1")
            .env("WHARF_SAGEMAKER_POLL_MS", "200,1000")
            .args(["run", "p.wharf", "--target", target])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wharf starts")
    }

    /// The proxy's log (with `WHARF_MOTO_PROXY_VERBOSE=1`: one line per request).
    pub fn proxy_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        for child in [self.proxy.take(), self.moto.take()].into_iter().flatten() {
            stop(child);
        }
    }
}

/// Without moto: a loud skip message, or a panic under `WHARF_REQUIRE_MOTO=1`.
pub fn skip_or_fail(why: &str) {
    if std::env::var("WHARF_REQUIRE_MOTO").as_deref() == Ok("1") {
        panic!("WHARF_REQUIRE_MOTO=1 but {why}");
    }
    eprintln!("\n*** SKIPPED: {why} ***\n");
}

/// Puts the child in a process group of its own, so that [`stop`] reaches its
/// children too.
pub fn own_process_group(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
}

/// Kills the child's process group (it leads one, see [`own_process_group`])
/// and reaps the child.
pub fn stop(mut child: Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

/// Polls `GET /moto-api/` (any HTTP answer will do) until `url` answers.
fn wait_until_answers(url: &str, mut child: Option<&mut Child>, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if let Some(child) = child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            return Err(format!("it exited ({status})"));
        }
        if try_request(url, "GET", "/moto-api/", "").is_ok() {
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(format!("no answer from {url} within {} s", limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP/1.1 exchange with `base_url` (`http://HOST:PORT`): (status, body).
/// Panics when the server cannot be reached.
pub fn request(base_url: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    try_request(base_url, method, path, body).unwrap_or_else(|e| panic!("{method} {base_url}{path}: {e}"))
}

pub fn try_request(base_url: &str, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let authority = base_url
        .strip_prefix("http://")
        .unwrap_or(base_url)
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let response = String::from_utf8_lossy(&raw);
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head:?}")))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked { dechunk(rest) } else { rest.to_string() };
    Ok((status, body))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}
