//! Turning S3 failures into sentences: what was being done, to which
//! `s3://bucket/key`, and the likely cause (no such bucket, access denied,
//! rejected credentials, unreachable endpoint). Causes are cut short: an S3
//! error body can run to kilobytes of XML, and nothing secret belongs in a
//! message that ends up in a log.

use std::fmt::Display;

/// What S3 (or the way to it) said, sorted into the causes a user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    NoBucket,
    NotFound,
    Denied,
    Credentials,
    Network,
    Other,
}

impl Cause {
    /// Sorts an error by its text. object_store and the SDK both keep S3's
    /// error code (`NoSuchBucket`, `AccessDenied`) in the text; there is no
    /// structured field common to both.
    pub(crate) fn of(text: &str) -> Cause {
        let has = |needle: &str| text.contains(needle);
        if has("NoSuchBucket") || has("bucket does not exist") {
            Cause::NoBucket
        } else if has("InvalidAccessKeyId")
            || has("SignatureDoesNotMatch")
            || has("ExpiredToken")
            || has("InvalidToken")
            || has("TokenRefreshRequired")
            || has("credentials")
        {
            Cause::Credentials
        } else if has("AccessDenied") || has("403 Forbidden") || has("AllAccessDisabled") {
            Cause::Denied
        } else if has("error sending request")
            || has("Connect")
            || has("connection")
            || has("dns error")
            || has("timed out")
            || has("dispatch failure")
            || has("io error")
        {
            Cause::Network
        } else if has("NoSuchKey") || has("404 Not Found") || has("not found") {
            Cause::NotFound
        } else {
            Cause::Other
        }
    }
}

/// A sentence for a failed S3 request: `doing` is what was being done
/// ("uploading data/x.csv"), `uri` the object or prefix it concerned.
pub(crate) fn sentence(doing: &str, bucket: &str, uri: &str, error: &dyn Display) -> String {
    let text = error.to_string();
    let short = shorten(&text);
    match Cause::of(&text) {
        Cause::NoBucket => format!(
            "{doing} failed: the S3 bucket `{bucket}` does not exist ({uri}); check the bucket the target names, or create it"
        ),
        Cause::NotFound => format!("{doing} failed: {uri} does not exist"),
        Cause::Denied => format!(
            "{doing} failed: access to {uri} was denied; the credentials in use lack permission on bucket `{bucket}` ({short})"
        ),
        Cause::Credentials => format!(
            "{doing} failed: S3 rejected the credentials for {uri}; check the AWS profile, keys or role in use ({short})"
        ),
        Cause::Network => format!("{doing} failed: could not reach S3 for {uri} ({short})"),
        Cause::Other => format!("{doing} failed for {uri}: {short}"),
    }
}

/// The first line of an error, at most 300 characters.
pub(crate) fn shorten(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

/// A local file system failure as a sentence.
pub(crate) fn local(doing: &str, path: &std::path::Path, error: &dyn Display) -> String {
    format!("{doing} `{}` failed: {error}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_causes_by_s3_codes() {
        let table = [
            (
                "Client error with status 404 Not Found: <Code>NoSuchBucket</Code>",
                Cause::NoBucket,
            ),
            ("<Code>AccessDenied</Code>", Cause::Denied),
            ("<Code>InvalidAccessKeyId</Code>", Cause::Credentials),
            ("error sending request for url (http://127.0.0.1:1/)", Cause::Network),
            ("Object at location x not found: 404 Not Found", Cause::NotFound),
            (
                "Client error with status 400 Bad Request: <Code>InvalidPart</Code>",
                Cause::Other,
            ),
        ];
        for (text, cause) in table {
            assert_eq!(Cause::of(text), cause, "{text}");
        }
    }

    #[test]
    fn sentences_name_the_bucket_and_stay_short() {
        let long = format!("<Code>Weird</Code>{}\nsecond line", "x".repeat(1000));
        let message = sentence("uploading a.csv", "bkt", "s3://bkt/a.csv", &long);
        assert!(
            message.starts_with("uploading a.csv failed for s3://bkt/a.csv"),
            "{message}"
        );
        assert!(message.len() < 400 && !message.contains("second line"), "{message}");
        let message = sentence("listing", "bkt", "s3://bkt/p", &"NoSuchBucket");
        assert!(message.contains("bucket `bkt` does not exist"), "{message}");
    }
}
