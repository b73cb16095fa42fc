//! The `wharf` package's library: the one registry of backends, shared by
//! the binary (src/main.rs) and the CLI tests that compile pipelines
//! in-process (tests/annotated.rs).

pub mod backends;
