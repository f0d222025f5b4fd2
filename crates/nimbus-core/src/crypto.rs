//! The cross-service interface to KMS: "encrypt / decrypt / make a data key with this key".
//! nimbus-kms implements [`KeyService`]; SSM (SecureString), Secrets Manager and Lambda
//! (`KMSKeyArn`) receive it through the binary's wiring and never see KMS's state.
//!
//! Errors are KMS's own (`NotFoundException`, `DisabledException`, `KMSInvalidStateException`,
//! `InvalidCiphertextException`, …); a caller rewords them the way its service does on AWS.

use std::collections::BTreeMap;

use crate::error::AwsError;

/// KMS's encryption context: bound to the ciphertext as authenticated data.
pub type EncryptionContext = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The ARN of the key that encrypted (an alias resolved to its key).
    pub key_arn: String,
    /// A KMS ciphertext blob; it names its key, so decrypting needs no key id.
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub key_arn: String,
    pub plaintext: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKey {
    pub key_arn: String,
    pub plaintext: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Symmetric KMS operations for other services, per account and region. `key_id` is anything
/// KMS accepts as a `KeyId` (key id, key ARN, `alias/…`, alias ARN); an `alias/aws/<service>`
/// key is created on first use, as AWS does.
pub trait KeyService: Send + Sync + 'static {
    fn encrypt(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Sealed, AwsError>;

    /// Decrypt a blob from [`KeyService::encrypt`]; `key_id`, when given, must be its key.
    fn decrypt(
        &self,
        account: &str,
        region: &str,
        key_id: Option<&str>,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Opened, AwsError>;

    /// A fresh random key of `bytes` bytes, in the clear and encrypted under `key_id`.
    fn generate_data_key(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
        bytes: usize,
        context: &EncryptionContext,
    ) -> Result<DataKey, AwsError>;

    /// The ARN of the key `key_id` names, if it exists and can be used for encryption now.
    fn usable_key_arn(&self, account: &str, region: &str, key_id: &str) -> Result<String, AwsError>;
}
