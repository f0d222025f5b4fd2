//! KMS's errors, named by cause, with KMS's wording.

use nimbus_core::AwsError;

pub type Result<T> = std::result::Result<T, AwsError>;

pub fn error(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, code, message)
}

pub fn validation(message: impl Into<String>) -> AwsError {
    error("ValidationException", message)
}

pub fn key_not_found(arn: &str) -> AwsError {
    error("NotFoundException", format!("Key '{arn}' does not exist"))
}

pub fn alias_not_found(alias_arn: &str) -> AwsError {
    error("NotFoundException", format!("Alias {alias_arn} is not found."))
}

pub fn invalid_arn(arn: &str) -> AwsError {
    error("InvalidArnException", format!("Invalid arn {arn}"))
}

pub fn disabled(arn: &str) -> AwsError {
    error("DisabledException", format!("{arn} is disabled."))
}

pub fn invalid_state(message: impl Into<String>) -> AwsError {
    error("KMSInvalidStateException", message)
}

pub fn invalid_usage(arn: &str, usage: &str, op: &str) -> AwsError {
    error("InvalidKeyUsageException", format!("{arn} key usage is {usage} which is not valid for {op}."))
}

pub fn incompatible_algorithm(algorithm: &str, spec: &str) -> AwsError {
    error("InvalidKeyUsageException", format!("Algorithm {algorithm} is incompatible with key spec {spec}."))
}

/// KMS sends no message with a ciphertext it cannot decrypt.
pub fn invalid_ciphertext() -> AwsError {
    error("InvalidCiphertextException", "")
}

pub fn incorrect_key() -> AwsError {
    error("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
}

pub fn unsupported(message: impl Into<String>) -> AwsError {
    error("UnsupportedOperationException", message)
}

pub fn dry_run() -> AwsError {
    AwsError::new(412, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
}
