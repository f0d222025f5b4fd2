//! CloudFormation's errors, with AWS's codes, statuses and wording.

use nimbus_core::AwsError;

pub type Result<T> = std::result::Result<T, AwsError>;

/// Most refusals: `ValidationError` (400).
pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationError", message)
}

pub fn stack_not_found(name: &str) -> AwsError {
    validation(format!("Stack with id {name} does not exist"))
}

pub fn already_exists(name: &str) -> AwsError {
    AwsError::new(400, "AlreadyExistsException", format!("Stack [{name}] already exists"))
}

pub fn insufficient_capabilities(capability: &str) -> AwsError {
    AwsError::new(400, "InsufficientCapabilitiesException", format!("Requires capabilities : [{capability}]"))
}

pub fn change_set_not_found(name: &str) -> AwsError {
    AwsError::new(404, "ChangeSetNotFound", format!("ChangeSet [{name}] does not exist"))
}

pub fn invalid_change_set_status(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidChangeSetStatus", message)
}

pub fn no_updates() -> AwsError {
    validation("No updates are to be performed.")
}
