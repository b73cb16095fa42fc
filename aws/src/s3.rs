//! Data movement between this machine and S3, for the SageMaker backend.
//!
//! [`Transfers`] is the handle: made from an `aws_config::SdkConfig` and the
//! target's [`S3Location`], it uploads local inputs content-addressed (once;
//! a changed folder's new snapshot copies its unchanged files within S3 and
//! sends only the changed ones; an interrupted upload resumes), downloads
//! outputs (a prefix into a folder, skipping files already there with the
//! same content; a `model.tar.gz` unpacked), packs and uploads a local model, and
//! answers `exists`/`size` for `wharf plan`. Everything streams: no large
//! file is held in memory, large files go up as multipart uploads with parts
//! in flight at once, several files move at once ([`Limits`]), and progress
//! reaches a callback at most every 100 ms.
//!
//! Layout under the target's prefix (product surface: keep it stable):
//!
//! ```text
//! <prefix>/wharf/data/<hash>/<relative path>   an uploaded file or folder (a snapshot)
//! <prefix>/wharf/data/<hash>.complete          its manifest, written last: all of it is there
//! <prefix>/wharf/inputs/<path hash>            the latest snapshot of a local input
//! <prefix>/wharf/models/<hash>/model.tar.gz    an uploaded local model
//! ```
//!
//! `<hash>` is `wharf_runtime::hash::hash_path`, the hash the cache keys
//! use, so a cached local step and the same step in the cloud agree on what
//! "unchanged" means.
//!
//! What is not here: the SageMaker jobs themselves, and the decision of what
//! to move when (the backend's). Errors are sentences naming the `s3://`
//! address and the likely cause; no credential is ever put in one.

mod archive;
mod connection;
mod download;
mod errors;
mod location;
mod model;
mod pipe;
mod progress;
mod put;
mod transfers;
mod upload;

#[cfg(test)]
mod tests;

pub use download::Downloaded;
pub use location::{DATA, INPUTS, MODELS, RUNS, S3Location};
pub use progress::{OnProgress, Progress, no_progress};
pub use transfers::{Limits, Transfers};
pub use upload::Uploaded;

/// A path or key percent-encoded as RFC 3986 wants a URI path: everything
/// but the unreserved characters and the `/` between segments (a `:` in a
/// first segment would read as a scheme). S3's `x-amz-copy-source` takes
/// keys so; `check --format sarif` writes file URIs so.
pub fn encode_path(path: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const KEPT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    utf8_percent_encode(path, KEPT).to_string()
}
