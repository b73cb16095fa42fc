//! A moto server for the S3 tests: `WHARF_MOTO_ENDPOINT` if set, else
//! `moto_server` from `${WHARF_MOTO_VENV:-$HOME/.cache/wharf-ci/venv-moto}`
//! or the PATH, started on a free 127.0.0.1 port and killed on drop.
//! Without one a test skips loudly, or fails under `WHARF_REQUIRE_MOTO=1`.
//! To make the venv: `python3 -m venv ~/.cache/wharf-ci/venv-moto &&
//! ~/.cache/wharf-ci/venv-moto/bin/pip install 'moto[server]==5.2.5'`.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};

use crate::s3::{S3Location, Transfers};

pub(crate) struct Moto {
    pub(crate) endpoint: String,
    child: Option<Child>,
}

impl Moto {
    /// A running moto, or `None` after a loud skip message.
    pub(crate) fn start() -> Option<Moto> {
        match Moto::try_start() {
            Ok(moto) => Some(moto),
            Err(why) if std::env::var("WHARF_REQUIRE_MOTO").as_deref() == Ok("1") => {
                panic!("WHARF_REQUIRE_MOTO=1 but {why}")
            }
            Err(why) => {
                eprintln!("\n*** SKIPPED: {why} ***\n");
                None
            }
        }
    }

    /// An endpoint that is not started or stopped here.
    pub(crate) fn at(endpoint: String) -> Moto {
        Moto { endpoint, child: None }
    }

    fn try_start() -> Result<Moto, String> {
        if let Ok(endpoint) = std::env::var("WHARF_MOTO_ENDPOINT") {
            return Ok(Moto { endpoint, child: None });
        }
        let program = moto_server().ok_or(
            "no moto_server (set WHARF_MOTO_VENV or WHARF_MOTO_ENDPOINT, or make ~/.cache/wharf-ci/venv-moto)",
        )?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", program.display()))?;
        let mut moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(Ok(Some(status))) = moto.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!("{} exited at start ({status})", program.display()));
            }
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "{} did not answer on port {port} within 30 s",
                    program.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(moto)
    }

    /// An SDK configuration for this moto: static credentials, us-east-1.
    pub(crate) async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "wharf-tests"))
            .endpoint_url(&self.endpoint)
            .load()
            .await
    }

    /// Transfers to a fresh bucket (made) under `prefix`.
    pub(crate) async fn transfers(&self, test: &str, prefix: &str) -> Transfers {
        let transfers = self.transfers_without_bucket(&unique_bucket(test), prefix).await;
        transfers.ensure_bucket().await.expect("create the bucket");
        transfers
    }

    /// Transfers to `bucket`, which is not made.
    pub(crate) async fn transfers_without_bucket(&self, bucket: &str, prefix: &str) -> Transfers {
        let location = S3Location::parse(&format!("s3://{bucket}/{prefix}")).expect("location");
        Transfers::new(&self.sdk().await, location).expect("transfers")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A bucket name no other test (or earlier run against a shared moto) uses.
pub(crate) fn unique_bucket(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("wharf-{test}-{}-{nanos}", std::process::id())
}

fn moto_server() -> Option<PathBuf> {
    let venv = std::env::var_os("WHARF_MOTO_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/wharf-ci/venv-moto")));
    let in_venv = venv.map(|venv| venv.join("bin/moto_server")).filter(|p| p.is_file());
    in_venv.or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    })
}
