//! IAM and STS errors, named by cause, with AWS's codes, statuses and messages.

use nimbus_core::AwsError;

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationError", message)
}

pub fn unknown_action(action: &str, version: &str) -> AwsError {
    AwsError::new(400, "InvalidAction", format!("Could not find operation {action} for version {version}"))
}

pub fn not_implemented(service: &str, action: &str) -> AwsError {
    AwsError::new(501, "NotImplemented", format!("The {service} action {action} is not implemented by nimbus"))
}

pub fn storage(err: std::io::Error) -> AwsError {
    AwsError::new(500, "ServiceFailure", format!("could not persist the change: {err}"))
}

pub fn role_exists(name: &str) -> AwsError {
    AwsError::new(409, "EntityAlreadyExists", format!("Role with name {name} already exists."))
}

pub fn no_such_role(name: &str) -> AwsError {
    AwsError::new(404, "NoSuchEntity", format!("The role with name {name} cannot be found."))
}

pub fn no_such_role_policy(name: &str) -> AwsError {
    AwsError::new(404, "NoSuchEntity", format!("The role policy with name {name} cannot be found."))
}

pub fn role_has_attached_policies() -> AwsError {
    AwsError::new(409, "DeleteConflict", "Cannot delete entity, must detach all policies first.")
}

pub fn role_has_inline_policies() -> AwsError {
    AwsError::new(409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
}

pub fn invalid_json() -> AwsError {
    AwsError::new(400, "MalformedPolicyDocument", "This policy contains invalid Json")
}

pub fn policy_syntax() -> AwsError {
    AwsError::new(400, "MalformedPolicyDocument", "Syntax errors in policy.")
}

pub fn trust_policy_too_large(limit: usize) -> AwsError {
    AwsError::new(409, "LimitExceeded", format!("Cannot exceed quota for ACLSizePerRole: {limit}"))
}

pub fn inline_policies_too_large(role: &str, limit: usize) -> AwsError {
    AwsError::new(409, "LimitExceeded", format!("Maximum policy size of {limit} bytes exceeded for role {role}"))
}

pub fn managed_policy_too_large(limit: usize) -> AwsError {
    AwsError::new(409, "LimitExceeded", format!("Cannot exceed quota for PolicySize: {limit}"))
}

pub fn too_many_attached(limit: usize) -> AwsError {
    AwsError::new(409, "LimitExceeded", format!("Cannot exceed quota for PoliciesPerRole: {limit}"))
}

pub fn too_many_tags(limit: usize) -> AwsError {
    AwsError::new(409, "LimitExceeded", format!("Cannot exceed quota for TagsPerRole: {limit}"))
}

pub fn duplicate_tag_keys() -> AwsError {
    AwsError::new(400, "InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
}

pub fn invalid_arn(arn: &str) -> AwsError {
    AwsError::new(400, "InvalidInput", format!("ARN {arn} is not valid."))
}

pub fn policy_not_attachable(arn: &str) -> AwsError {
    AwsError::new(404, "NoSuchEntity", format!("Policy {arn} does not exist or is not attachable."))
}

pub fn policy_not_attached(arn: &str) -> AwsError {
    AwsError::new(404, "NoSuchEntity", format!("Policy {arn} was not found."))
}

pub fn no_such_policy(arn: &str) -> AwsError {
    AwsError::new(404, "NoSuchEntity", format!("Policy {arn} was not found."))
}

pub fn no_such_policy_version(arn: &str, version: &str) -> AwsError {
    AwsError::new(404, "NoSuchEntity", format!("Policy {arn} version {version} does not exist or is not attachable."))
}

pub fn policy_exists(name: &str) -> AwsError {
    AwsError::new(
        409,
        "EntityAlreadyExists",
        format!("A policy called {name} already exists. Duplicate names are not allowed."),
    )
}

pub fn policy_attached() -> AwsError {
    AwsError::new(409, "DeleteConflict", "Cannot delete a policy attached to entities.")
}

pub fn invalid_role_arn() -> AwsError {
    validation("Request ARN is invalid")
}

pub fn duration_exceeds_max() -> AwsError {
    validation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
}

pub fn expired_token() -> AwsError {
    AwsError::new(403, "ExpiredToken", "The security token included in the request is expired")
}
