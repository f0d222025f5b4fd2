//! SQS errors. `AwsError.code` holds the JSON-protocol error shape (`QueueDoesNotExist`); the
//! query protocol and the `x-amzn-query-error` header use SQS's historical query codes
//! (`AWS.SimpleQueueService.NonExistentQueue`), which botocore maps back onto the modeled
//! exception (SQS is `awsQueryCompatible`).

use nimbus_core::query;
use nimbus_core::{AwsError, HttpResponse};
use serde_json::{json, Map, Value};

pub type Result<T, E = AwsError> = std::result::Result<T, E>;

pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
pub const XMLNS: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

pub const NO_QUEUE: &str = "The specified queue does not exist.";

/// Error shape → (query code, HTTP status).
pub fn query_code(shape: &str) -> (&str, u16) {
    match shape {
        "QueueDoesNotExist" => ("AWS.SimpleQueueService.NonExistentQueue", 400),
        "QueueNameExists" => ("QueueAlreadyExists", 400),
        "QueueDeletedRecently" => ("AWS.SimpleQueueService.QueueDeletedRecently", 400),
        "PurgeQueueInProgress" => ("AWS.SimpleQueueService.PurgeQueueInProgress", 403),
        "BatchEntryIdsNotDistinct" => ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400),
        "BatchRequestTooLong" => ("AWS.SimpleQueueService.BatchRequestTooLong", 400),
        "EmptyBatchRequest" => ("AWS.SimpleQueueService.EmptyBatchRequest", 400),
        "InvalidBatchEntryId" => ("AWS.SimpleQueueService.InvalidBatchEntryId", 400),
        "TooManyEntriesInBatchRequest" => ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400),
        "UnsupportedOperation" => ("AWS.SimpleQueueService.UnsupportedOperation", 400),
        "MessageNotInflight" => ("AWS.SimpleQueueService.MessageNotInflight", 400),
        "ReceiptHandleIsInvalid" => ("ReceiptHandleIsInvalid", 400),
        "InvalidIdFormat" => ("InvalidIdFormat", 400),
        "InvalidAttributeName" => ("InvalidAttributeName", 400),
        "InvalidAttributeValue" => ("InvalidAttributeValue", 400),
        "InvalidMessageContents" => ("InvalidMessageContents", 400),
        "OverLimit" => ("OverLimit", 403),
        "ResourceNotFoundException" => ("ResourceNotFoundException", 404),
        "InvalidParameterValueException" => ("InvalidParameterValue", 400),
        "MissingRequiredParameterException" => ("MissingParameter", 400),
        "InvalidAddress" => ("InvalidAddress", 404),
        "InvalidSecurity" => ("InvalidSecurity", 403),
        "AccessDenied" => ("AccessDenied", 403),
        "RequestThrottled" => ("RequestThrottled", 403),
        "UnknownOperationException" => ("InvalidAction", 400),
        "NotImplemented" => ("NotImplemented", 501),
        "InternalFailure" => ("InternalFailure", 500),
        other => (other, 400),
    }
}

pub fn err(shape: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(query_code(shape).1, shape, message)
}

pub fn no_queue() -> AwsError {
    err("QueueDoesNotExist", NO_QUEUE)
}

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    err("InvalidParameterValueException", message)
}

pub fn missing_parameter(name: &str) -> AwsError {
    err("MissingRequiredParameterException", format!("The request must contain the parameter {name}."))
}

pub fn invalid_value(name: &str, value: impl std::fmt::Display, reason: &str) -> AwsError {
    invalid_parameter(format!("Value {value} for parameter {name} is invalid. Reason: {reason}"))
}

pub fn invalid_attribute_value(name: &str) -> AwsError {
    err("InvalidAttributeValue", format!("Invalid value for the parameter {name}."))
}

pub fn unknown_attribute(name: &str) -> AwsError {
    err("InvalidAttributeName", format!("Unknown Attribute {name}."))
}

pub fn invalid_receipt_handle(handle: &str) -> AwsError {
    err("ReceiptHandleIsInvalid", format!("The input receipt handle \"{handle}\" is not a valid receipt handle."))
}

pub fn storage_error(e: std::io::Error) -> AwsError {
    tracing::error!(error = %e, "sqs storage failure");
    err("InternalFailure", "nimbus could not persist the change; see its log")
}

/// AWS JSON 1.0 error: `{"__type": "com.amazonaws.sqs#Shape", "message": …}` plus the
/// query-compatibility header.
pub fn render_json(e: &AwsError) -> HttpResponse {
    let (code, _) = query_code(&e.code);
    let fault = if e.status >= 500 { "Receiver" } else { "Sender" };
    let mut body = Map::new();
    body.insert("__type".into(), json!(format!("com.amazonaws.sqs#{}", e.code)));
    body.insert("message".into(), json!(e.message));
    for (k, v) in &e.extra {
        body.insert(k.clone(), v.clone());
    }
    HttpResponse::new(e.status, JSON_CONTENT_TYPE, serde_json::to_vec(&Value::Object(body)).unwrap_or_default())
        .with_header("x-amzn-query-error", format!("{code};{fault}"))
}

/// Query-protocol `<ErrorResponse>` with the query code.
pub fn render_query(e: &AwsError, request_id: &str) -> HttpResponse {
    let (code, _) = query_code(&e.code);
    let mut q = e.clone();
    q.code = code.to_string();
    if e.message == NO_QUEUE {
        q.message = "The specified queue does not exist for this wsdl version.".into();
    }
    query::error_response(&q, XMLNS, request_id)
}
