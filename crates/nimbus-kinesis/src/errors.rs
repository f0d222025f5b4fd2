//! Kinesis's errors by cause, with AWS's codes and wording (all 400s on the JSON protocol).

use nimbus_core::AwsError;

pub type Result<T> = std::result::Result<T, AwsError>;

pub fn stream_not_found(name: &str, account: &str) -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", format!("Stream {name} under account {account} not found."))
}

pub fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", message)
}

pub fn in_use(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ResourceInUseException", message)
}

pub fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidArgumentException", message)
}

pub fn limit(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "LimitExceededException", message)
}

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationException", message)
}

pub fn expired(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ExpiredIteratorException", message)
}
