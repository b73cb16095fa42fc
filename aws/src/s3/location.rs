//! `s3://bucket/prefix` addresses: parsing, and joining keys under a prefix.

use std::fmt;

/// Where wharf keeps things under a target's prefix (docs/backends/sagemaker.md):
/// local data uploaded by content, `<DATA>/<hash>/`;
pub const DATA: &str = "wharf/data";
/// the latest snapshot of each local input, `<INPUTS>/<BLAKE3 of its path>`
/// (a hint for which files S3 already holds);
pub const INPUTS: &str = "wharf/inputs";
/// models packed for serving, `<MODELS>/<hash>/model.tar.gz`;
pub const MODELS: &str = "wharf/models";
/// what a run's jobs write, `<RUNS>/<run>/<step>/`.
pub const RUNS: &str = "wharf/runs";

/// Where a target keeps its data, or any S3 address: `s3://bucket/prefix`.
/// The prefix is kept without leading or trailing slashes and may be empty
/// (the bucket's root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket`, `s3://bucket/` or `s3://bucket/some/prefix`.
    /// The bucket name is checked against S3's rules (3 to 63 lowercase
    /// letters, digits, dots and hyphens, starting and ending with a letter
    /// or digit), so a typo fails here rather than as an HTTP error later.
    pub fn parse(uri: &str) -> Result<S3Location, String> {
        let Some(rest) = uri.strip_prefix("s3://") else {
            return Err(format!("`{uri}` is not an S3 address: it must start with `s3://`"));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket_name(bucket).map_err(|why| format!("`{uri}` names no valid S3 bucket: {why}"))?;
        let prefix = prefix.trim_matches('/');
        if prefix
            .split('/')
            .any(|segment| segment.is_empty() && !prefix.is_empty())
        {
            return Err(format!(
                "`{uri}` has an empty path segment (`//`); S3 keys here never do"
            ));
        }
        Ok(S3Location {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The full object key of `key`, taken relative to this prefix.
    pub fn key(&self, key: &str) -> String {
        let key = key.trim_start_matches('/');
        match (self.prefix.is_empty(), key.is_empty()) {
            (true, _) => key.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{}", self.prefix, key),
        }
    }

    /// The `s3://` address of `key`, taken relative to this prefix
    /// (`uri("")` is the prefix itself).
    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(key))
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

fn check_bucket_name(bucket: &str) -> Result<(), String> {
    if bucket.is_empty() {
        return Err("the bucket name is empty".into());
    }
    if !(3..=63).contains(&bucket.len()) {
        return Err(format!("`{bucket}` is not 3 to 63 characters long"));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    if let Some(bad) = bucket.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "`{bucket}` holds `{bad}`; bucket names are lowercase letters, digits, dots and hyphens"
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(bucket.chars().next()) || !edge_ok(bucket.chars().last()) {
        return Err(format!("`{bucket}` must start and end with a letter or digit"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_buckets_and_prefixes() {
        let table = [
            ("s3://my-bucket", "my-bucket", ""),
            ("s3://my-bucket/", "my-bucket", ""),
            ("s3://my-bucket/a", "my-bucket", "a"),
            ("s3://my-bucket/a/b/", "my-bucket", "a/b"),
            ("s3://data.example.com/x", "data.example.com", "x"),
        ];
        for (uri, bucket, prefix) in table {
            let location = S3Location::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert_eq!(
                (location.bucket.as_str(), location.prefix.as_str()),
                (bucket, prefix),
                "{uri}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_an_s3_address() {
        let table = [
            ("my-bucket/a", "must start with `s3://`"),
            ("s3://", "empty"),
            ("s3://ab", "3 to 63"),
            ("s3://My-Bucket/a", "lowercase"),
            ("s3://-bucket", "start and end"),
            ("s3://bucket/a//b", "empty path segment"),
        ];
        for (uri, wanted) in table {
            let error = S3Location::parse(uri).expect_err(uri);
            assert!(error.contains(wanted), "{uri}: {error}");
        }
    }

    #[test]
    fn joins_keys_under_the_prefix() {
        let with = S3Location::parse("s3://bucket/runs/x").expect("parse");
        assert_eq!(with.key("wharf/data/h"), "runs/x/wharf/data/h");
        assert_eq!(with.uri("wharf/data/h/"), "s3://bucket/runs/x/wharf/data/h/");
        assert_eq!(with.uri(""), "s3://bucket/runs/x");
        let root = S3Location::parse("s3://bucket").expect("parse");
        assert_eq!(root.key("wharf/data/h"), "wharf/data/h");
        assert_eq!(root.uri("a.csv"), "s3://bucket/a.csv");
    }
}
