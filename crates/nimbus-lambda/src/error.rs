//! Lambda's errors, named by cause, with AWS's codes, statuses and texts.
//!
//! Lambda renders errors as JSON with the code in the `x-amzn-ErrorType` header. The body's shape
//! depends on the error, as recorded from AWS: not-found errors say `{"Type": "User", "Message"}`,
//! parameter/conflict/precondition errors `{"Type": "User", "message"}`, and the front end's
//! validation errors `{"message"}` alone.

use nimbus_core::{AwsError, HttpResponse};
use serde_json::{json, Map, Value};

pub type Result<T, E = AwsError> = std::result::Result<T, E>;

pub fn render(err: &AwsError) -> HttpResponse {
    let model = crate::model::model();
    let mut body = Map::new();
    // The front end's own errors (validation, size, access) carry no `Type`, even where modeled.
    let front_end =
        matches!(err.code.as_str(), "ValidationException" | "RequestEntityTooLargeException" | "AccessDeniedException");
    if !front_end && (model.error_has_type(&err.code) || err.status >= 500) {
        let kind = if err.status >= 500 { "Service" } else { "User" };
        body.insert("Type".into(), json!(kind));
    }
    if !err.message.is_empty() {
        body.insert(model.error_message_key(&err.code).to_string(), json!(err.message));
    }
    for (k, v) in &err.extra {
        body.insert(k.clone(), v.clone());
    }
    HttpResponse::json(err.status, &Value::Object(body)).with_header("x-amzn-ErrorType", err.code.clone())
}

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationException", message)
}

pub fn invalid_content(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidRequestContentException", message)
}

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterValueException", message)
}

pub fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", message)
}

pub fn function_not_found(arn: &str) -> AwsError {
    not_found(format!("Function not found: {arn}"))
}

pub fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "ResourceConflictException", message)
}

pub fn precondition_failed(message: impl Into<String>) -> AwsError {
    AwsError::new(412, "PreconditionFailedException", message)
}

pub fn revision_mismatch() -> AwsError {
    precondition_failed(
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
}

pub fn too_large(message: impl Into<String>) -> AwsError {
    AwsError::new(413, "RequestEntityTooLargeException", message)
}

pub fn storage_error(err: std::io::Error) -> AwsError {
    tracing::error!(error = %err, "storage failure");
    AwsError::internal("nimbus could not persist the change; see its log")
}
