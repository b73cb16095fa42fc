//! The SageMaker backend, the movement of data between this machine and
//! S3, and the push of local images to ECR. In a crate of its own: the AWS
//! SDK crates take minutes to compile, and edits elsewhere should not
//! rebuild them.

pub mod backend;
pub mod descriptor;
pub mod ecr;
pub mod jobs;
pub mod logs;
pub mod monitor;
mod plan_transfers;
pub mod poll;
pub mod s3;
pub mod serving;
mod step_log;
pub mod tuning;
pub mod watch;
