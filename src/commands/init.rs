//! `wharf init [DIR]`: a commented `wharf.toml`, a first pipeline and a
//! `.gitignore` for the state folder. It writes only files that do not
//! exist: an existing `wharf.toml` is an error (nothing is written), an
//! existing pipeline or `.gitignore` is kept and said so.

use crate::Outcome;
use crate::cli::InitArgs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The starter project file: every key, commented out at its default.
pub const STARTER_TOML: &str = r#"# wharf.toml: this project's settings (docs/project.md).
# wharf finds this file from any folder below it, as cargo finds Cargo.toml,
# and keeps its state beside it. Every key is optional; a flag or an
# environment variable wins over what is written here.

[project]
# Where `wharf check` and `wharf fmt` look when given no path.
pipelines = "pipelines"
# Runs, the cache and outputs (relative to this file; WHARF_STATE_DIR or
# --state-dir win). In CI, point it at a cached volume.
# state_dir = ".wharf"
# The target used without --target (WHARF_TARGET wins).
# target = "local"

[output]
# Log lines on stderr: "text" or "json" (--log-format, WHARF_LOG_FORMAT).
# log_format = "text"
# "auto" (colour on a terminal only), "always" or "never" (--color,
# WHARF_COLOR; NO_COLOR=1 means never).
# color = "auto"

# Defaults for a target's settings, used where the pipeline's `target`
# block does not set them. Nothing secret belongs here: name an environment
# variable instead, as `role` does.
# [targets.cloud]
# region = "eu-west-1"
# bucket = "s3://my-bucket/wharf"
# role   = { env = "WHARF_SAGEMAKER_ROLE" }
"#;

/// The first pipeline: two steps on this machine's process backend.
pub const STARTER_PIPELINE: &str = r#"# A first pipeline. Run it with `wharf run pipelines/hello.wharf`; run it
# again and both steps come from the cache. docs/getting-started.md goes on
# from here.
pipeline hello {
  param greeting : string = "hello"

  step greet {
    command = ["sh", "-c", "echo \"${params.greeting}, world\" > \"$WHARF_OUTPUT_OUT/greeting.txt\""]
    outputs { out = dir() }
  }

  step shout {
    command = ["sh", "-c", "tr a-z A-Z < \"$WHARF_INPUT_TEXT/greeting.txt\" | tee \"$WHARF_OUTPUT_OUT/loud.txt\""]
    inputs  { text = greet.out }
    outputs { out = dir() }
  }
}

target local { backend = process }
"#;

pub fn run(args: InitArgs) -> anyhow::Result<Outcome> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from("."));
    let toml = dir.join(crate::project::FILE_NAME);
    if toml.exists() {
        say!(
            "error: {} exists already; `wharf init` writes only new files\n  = help: docs/project.md lists the keys it takes",
            toml.display()
        );
        return Ok(Outcome::Unusable);
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        say!("error: cannot create {}: {e}", dir.display());
        return Ok(Outcome::Unusable);
    }
    let pipelines = dir.join("pipelines");
    let hello = pipelines.join("hello.wharf");
    let mut written = Vec::new();
    let mut kept = Vec::new();
    for (path, text) in [
        (toml.clone(), STARTER_TOML),
        (hello.clone(), STARTER_PIPELINE),
        (
            dir.join(".gitignore"),
            "# wharf's state: runs, the cache, outputs\n/.wharf/\n",
        ),
    ] {
        match write_new(&path, text) {
            Ok(true) => written.push(path),
            Ok(false) => kept.push(path),
            Err(e) => {
                say!("error: cannot write {}: {e}", path.display());
                for path in &written {
                    say!("  (written before this: {})", path.display());
                }
                return Ok(Outcome::Unusable);
            }
        }
    }
    // `./wharf.toml` reads as `wharf.toml`.
    let shown = |path: &Path| path.strip_prefix(".").unwrap_or(path).display().to_string();
    for path in &written {
        say!("created {}", shown(path));
    }
    for path in &kept {
        say!("kept    {} (it exists)", shown(path));
    }
    let run = if dir == Path::new(".") {
        "wharf run pipelines/hello.wharf".to_string()
    } else {
        format!("cd {} && wharf run pipelines/hello.wharf", dir.display())
    };
    say!("\nnext: {run}");
    Ok(Outcome::Success)
}

/// Writes `text` to `path` unless it exists (`Ok(false)`): created with
/// `create_new`, so that a file made meanwhile is never replaced, and
/// written whole or removed.
fn write_new(path: &Path, text: &str) -> std::io::Result<bool> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    };
    if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(true)
}
