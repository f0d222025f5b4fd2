//! Nimbus's Amazon ECR: the registry's control plane.
//!
//! [`repos`] holds the repositories (settings, tags, lifecycle and repository policies) over a
//! journaled [`nimbus_core::state::Store`], one record per repository. Nimbus serves no Docker
//! registry, so no image can be pushed: image listings answer empty for an existing repository,
//! and `GetAuthorizationToken` with the data-plane operations answers NotImplemented.
//! [`service`] puts it on the shared front (`AmazonEC2ContainerRegistry_V20150921`, JSON 1.1).

pub mod errors;
pub mod repos;
pub mod service;

pub use repos::Ecr;
pub use service::EcrService;
