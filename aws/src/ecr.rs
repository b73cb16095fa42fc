//! Images for SageMaker jobs: a job pulls its image from ECR, so an image
//! that lives only on this machine (a `build` step's, or one built or
//! loaded by hand) is pushed to the target's ECR registry first, and the
//! job is given the ECR URI.
//!
//! [`Images`] is the handle, made from the target's `SdkConfig`. For each
//! local image it ensures the repository (named after the image's
//! repository: `wharf/<pipeline>-<step>` for a built image), asks ECR for a
//! registry login, tags the image `<registry>/<repository>:<tag>` on the
//! local engine, pushes it there with progress in the step's log, and
//! answers the URI. An image ECR already holds under that tag with the same
//! content is not pushed again; one image is pushed at most once per run,
//! however many steps use it.
//!
//! The registry is whatever ECR's GetAuthorizationToken names
//! (`proxyEndpoint`), so nothing here knows of emulators. The registry
//! password never reaches a log or an error message.
//!
//! What is not here: building images (the docker backend's `build`), and
//! the SageMaker jobs (`backend`, `jobs`).

mod images;
mod log_line;
mod push;
mod reference;
mod registry;

pub use images::Images;
pub use log_line::LogLine;
pub use reference::{Destination, is_ecr_uri};
