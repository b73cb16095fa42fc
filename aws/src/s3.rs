//! S3 data movement (placeholder until the transfer module lands).
