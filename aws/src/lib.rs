//! The SageMaker backend and the movement of data between this machine and
//! S3. In a crate of its own: the AWS SDK crates take minutes to compile,
//! and edits elsewhere should not rebuild them.

pub mod backend;
pub mod jobs;
pub mod logs;
pub mod poll;
pub mod s3;
pub mod watch;
