//! CloudWatch Logs errors with AWS's codes and texts; the shared front renders them in the
//! JSON 1.1 protocol (`{"__type": "<Code>", "message": "..."}`, code in `x-amzn-ErrorType`).

use nimbus_core::AwsError;

pub type Result<T, E = AwsError> = std::result::Result<T, E>;

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterException", message)
}

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationException", message)
}

pub fn serialization(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "SerializationException", message)
}

pub fn group_not_found() -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", "The specified log group does not exist.")
}

pub fn stream_not_found() -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", "The specified log stream does not exist.")
}

pub fn group_exists() -> AwsError {
    AwsError::new(400, "ResourceAlreadyExistsException", "The specified log group already exists")
}

pub fn stream_exists() -> AwsError {
    AwsError::new(400, "ResourceAlreadyExistsException", "The specified log stream already exists")
}

pub fn invalid_token() -> AwsError {
    invalid_parameter("The specified nextToken is invalid.")
}

pub fn storage_error(err: std::io::Error) -> AwsError {
    tracing::error!(error = %err, "storage failure");
    AwsError::internal("nimbus could not persist the change; see its log")
}
