//! Nimbus's AWS Secrets Manager.
//!
//! [`secrets`] holds secrets, their versions and staging labels over a journaled store; each
//! version's value is envelope-encrypted with a KMS data key obtained through
//! [`nimbus_core::crypto::KeyService`]. [`rotation`] runs RotateSecret's four Lambda steps
//! through [`nimbus_core::invoke::FunctionInvoker`]. [`service`] puts it on the shared front.

pub mod rotation;
pub mod secrets;
pub mod service;

pub use secrets::Secrets;
pub use service::SecretsManagerService;
