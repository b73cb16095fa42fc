//! The process backend: each attempt is a local process (placeholder; see
//! the module docs of `backend`).
