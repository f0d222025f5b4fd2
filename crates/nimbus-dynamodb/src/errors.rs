//! DynamoDB's errors with the `__type` namespaces DynamoDB itself sends: validation failures come
//! from the Coral validation layer, service errors from the DynamoDB namespace.

use nimbus_core::AwsError;

pub type Result<T> = std::result::Result<T, AwsError>;

const SERVICE: &str = "com.amazonaws.dynamodb.v20120810#";

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "com.amazon.coral.validate#ValidationException", message)
}

/// `One or more parameter values were invalid: …`, DynamoDB's prefix for semantic input errors.
pub fn invalid_parameter(detail: impl std::fmt::Display) -> AwsError {
    validation(format!("One or more parameter values were invalid: {detail}"))
}

pub fn serialization(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "com.amazon.coral.service#SerializationException", message)
}

pub fn service(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, format!("{SERVICE}{code}"), message)
}

pub fn resource_not_found(message: impl Into<String>) -> AwsError {
    service("ResourceNotFoundException", message)
}

pub fn table_not_found(table: &str) -> AwsError {
    resource_not_found(format!("Requested resource not found: Table: {table} not found"))
}

pub fn resource_in_use(message: impl Into<String>) -> AwsError {
    service("ResourceInUseException", message)
}

pub fn conditional_check_failed() -> AwsError {
    service("ConditionalCheckFailedException", "The conditional request failed")
}
