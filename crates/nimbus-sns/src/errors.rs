//! SNS's errors, with the codes and wording SNS answers.

use nimbus_core::AwsError;

pub type Result<T> = std::result::Result<T, AwsError>;

pub fn invalid(what: impl std::fmt::Display) -> AwsError {
    AwsError::new(400, "InvalidParameter", format!("Invalid parameter: {what}"))
}

pub fn invalid_value(what: impl std::fmt::Display) -> AwsError {
    AwsError::new(400, "ParameterValueInvalid", format!("{what}"))
}

pub fn no_topic() -> AwsError {
    AwsError::new(404, "NotFound", "Topic does not exist")
}

pub fn no_subscription() -> AwsError {
    AwsError::new(404, "NotFound", "Subscription does not exist")
}

pub fn no_resource() -> AwsError {
    AwsError::new(404, "ResourceNotFound", "Resource does not exist")
}
