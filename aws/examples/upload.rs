//! Uploads a local file or folder the way a cloud step's input goes up, and
//! prints how long it took and what it sent or copied within S3, as one
//! JSON line: for `bench/s3_upload.py` and `bench/s3_sync.py`.
//!
//! ```sh
//! upload ENDPOINT BUCKET PATH [--prefix P] [--files N] [--requests N] [--create-bucket]
//! ```
//!
//! ENDPOINT is an S3-compatible endpoint URL (moto in the bench), or `aws`
//! for AWS itself. Credentials and region come from the usual AWS chain
//! (the bench sets `AWS_ACCESS_KEY_ID` and friends).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use aws_config::BehaviorVersion;
use wharf_aws::s3::{Limits, S3Location, Transfers, no_progress};

struct Args {
    endpoint: String,
    bucket: String,
    path: PathBuf,
    prefix: String,
    limits: Limits,
    create_bucket: bool,
}

fn parse() -> Result<Args, String> {
    let usage = "usage: upload ENDPOINT BUCKET PATH [--prefix P] [--files N] [--requests N] [--create-bucket]";
    let mut positional = Vec::new();
    let mut prefix = String::new();
    let mut limits = Limits::default();
    let mut create_bucket = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} takes a number\n{usage}"))
        };
        match arg.as_str() {
            "--prefix" => prefix = args.next().ok_or(usage)?,
            "--files" => limits.files = number("--files")?,
            "--requests" => limits.requests = number("--requests")?,
            "--create-bucket" => create_bucket = true,
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}\n{usage}")),
            _ => positional.push(arg),
        }
    }
    let [endpoint, bucket, path] = <[String; 3]>::try_from(positional).map_err(|_| usage.to_string())?;
    Ok(Args {
        endpoint,
        bucket,
        path: PathBuf::from(path),
        prefix,
        limits,
        create_bucket,
    })
}

async fn run(args: Args) -> Result<(), String> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if args.endpoint != "aws" {
        loader = loader.endpoint_url(&args.endpoint);
    }
    let sdk = loader.load().await;
    let location = S3Location::parse(&format!("s3://{}/{}", args.bucket, args.prefix))?;
    let transfers = Transfers::new(&sdk, location)?.with_limits(args.limits);
    if args.create_bucket {
        transfers.ensure_bucket().await?;
    }
    let started = Instant::now();
    let uploaded = transfers.upload(&args.path, &no_progress).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"seconds\": {seconds:.3}, \"files\": {}, \"bytes\": {}, \"uploaded_files\": {}, \"uploaded_bytes\": {}, \"copied_files\": {}, \"copied_bytes\": {}, \"skipped\": {}, \"uri\": \"{}\"}}",
        uploaded.files,
        uploaded.bytes,
        uploaded.uploaded_files,
        uploaded.uploaded_bytes,
        uploaded.copied_files,
        uploaded.copied_bytes,
        uploaded.skipped,
        uploaded.uri
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("upload: no async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("upload: {e}");
            ExitCode::FAILURE
        }
    }
}
