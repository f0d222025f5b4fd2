//! Nimbus's AWS Key Management Service, with real cryptography.
//!
//! [`keys`] holds the key lifecycle over the journaled state ([`state`]); [`cipher`] the
//! cryptographic operations, which also serve other services through
//! [`nimbus_core::crypto::KeyService`]; [`crypto`] is the thin layer over RustCrypto and
//! [`spec`] says what each key spec can do. Key material lives in its own owner-only journal.

pub mod cipher;
pub mod crypto;
pub mod errors;
pub mod keys;
pub mod service;
pub mod spec;
pub mod state;

pub use keys::Kms;
pub use service::KmsService;
