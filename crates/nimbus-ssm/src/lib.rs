//! Nimbus's AWS Systems Manager Parameter Store.
//!
//! [`params`] holds the parameters (versions, labels, tiers, policies, tags) over a journaled
//! [`nimbus_core::state::Store`]; SecureString values are encrypted through
//! [`nimbus_core::crypto::KeyService`] (KMS), never stored in the clear. [`service`] puts it on
//! the shared front; SSM's other areas answer NotImplemented.

pub mod params;
pub mod service;

pub use params::Ssm;
pub use service::SsmService;
