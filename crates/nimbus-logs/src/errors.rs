//! CloudWatch Logs errors with AWS's codes and texts. The JSON 1.1 protocol renders them as
//! `{"__type": "<Code>", "message": "..."}` with status 400 and the code in `x-amzn-ErrorType`.

use nimbus_core::{AwsError, HttpResponse};
use serde_json::{json, Map, Value};

pub type Result<T, E = AwsError> = std::result::Result<T, E>;

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

pub fn render(err: &AwsError) -> HttpResponse {
    let mut body = Map::new();
    body.insert("__type".into(), json!(err.code));
    body.insert("message".into(), json!(err.message));
    for (k, v) in &err.extra {
        body.insert(k.clone(), v.clone());
    }
    HttpResponse::new(err.status, CONTENT_TYPE, serde_json::to_vec(&Value::Object(body)).unwrap_or_default())
        .with_header("x-amzn-ErrorType", err.code.clone())
}

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
