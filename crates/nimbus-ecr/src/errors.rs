//! ECR's errors, named by cause, with ECR's wording.

use nimbus_core::AwsError;

pub type Result<T> = std::result::Result<T, AwsError>;

pub fn error(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, code, message)
}

/// ECR's wording for a parameter that breaks a rule the model does not state.
pub fn invalid_parameter(member: &str, constraint: &str) -> AwsError {
    error(
        "InvalidParameterException",
        format!("Invalid parameter at '{member}' failed to satisfy constraint: '{constraint}'"),
    )
}

pub fn repository_not_found(name: &str, registry: &str) -> AwsError {
    error(
        "RepositoryNotFoundException",
        format!("The repository with name '{name}' does not exist in the registry with id '{registry}'"),
    )
}

pub fn repository_exists(name: &str, registry: &str) -> AwsError {
    error(
        "RepositoryAlreadyExistsException",
        format!("The repository with name '{name}' already exists in the registry with id '{registry}'"),
    )
}

pub fn lifecycle_policy_not_found(name: &str, registry: &str) -> AwsError {
    error(
        "LifecyclePolicyNotFoundException",
        format!("Lifecycle policy does not exist for the repository with name '{name}' in the registry with id '{registry}'"),
    )
}

pub fn repository_policy_not_found(name: &str, registry: &str) -> AwsError {
    error(
        "RepositoryPolicyNotFoundException",
        format!("Repository policy does not exist for the repository with name '{name}' in the registry with id '{registry}'"),
    )
}

pub fn image_not_found(image_id: &str, name: &str, registry: &str) -> AwsError {
    error(
        "ImageNotFoundException",
        format!(
            "The image with imageId {image_id} does not exist within the repository with name '{name}' in the registry with id '{registry}'"
        ),
    )
}

pub fn kms(message: impl Into<String>) -> AwsError {
    error("KmsException", message)
}
