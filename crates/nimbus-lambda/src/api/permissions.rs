//! Function resource policies: AddPermission, RemovePermission, GetPolicy.

use nimbus_core::RequestContext;
use serde_json::{json, Map, Value};

use super::functions::function_id;
use super::new_revision;
use crate::error::{self, Result};
use crate::ident::{self, FunctionId};
use crate::state::{Function, Policy};
use crate::{member_str, Lambda};

/// Render a principal as AWS writes it in a policy statement.
pub fn principal(raw: &str) -> Result<Value> {
    if raw == "*" {
        return Ok(json!("*"));
    }
    if raw.len() == 12 && raw.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(json!({"AWS": format!("arn:aws:iam::{raw}:root")}));
    }
    if raw.starts_with("arn:") {
        return Ok(json!({"AWS": raw}));
    }
    if raw.contains('.') && !raw.contains(char::is_whitespace) {
        return Ok(json!({"Service": raw}));
    }
    Err(error::invalid_parameter("The provided principal was invalid. Please check the principal and try again."))
}

/// The policy document AWS returns: `{"Version", "Id", "Statement"}`.
pub fn document(statements: &[Value]) -> String {
    json!({"Version": "2012-10-17", "Id": "default", "Statement": statements}).to_string()
}

/// Check that a qualifier names an existing version or alias, with AWS's messages.
fn check_qualifier(ctx: &RequestContext, function: &Function, id: &FunctionId) -> Result<()> {
    match id.qualifier.as_deref() {
        None => Ok(()),
        Some(q) if ident::is_version(q) || q == "$LATEST" => {
            if function.has_qualifier(q) {
                Ok(())
            } else {
                Err(error::function_not_found(&ident::qualified_arn(ctx, &id.name, Some(q))))
            }
        }
        Some(alias) if function.aliases.contains_key(alias) => Ok(()),
        Some(other) if other.contains('$') => Err(error::function_not_found(&ident::qualified_arn(ctx, &id.name, Some(other)))),
        Some(alias) => Err(error::not_found(format!(
            "Cannot find alias arn: {}",
            ident::qualified_arn(ctx, &id.name, Some(alias))
        ))),
    }
}

pub fn add_permission(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    if id.qualifier.as_deref() == Some("$LATEST") {
        return Err(error::invalid_parameter("We currently do not support adding policies for $LATEST."));
    }
    let sid = member_str(input, "StatementId").unwrap_or_default().to_string();
    let principal = principal(member_str(input, "Principal").unwrap_or_default())?;
    let mut statement = Map::new();
    statement.insert("Sid".into(), json!(sid));
    statement.insert("Effect".into(), json!("Allow"));
    statement.insert("Principal".into(), principal);
    statement.insert("Action".into(), json!(member_str(input, "Action").unwrap_or_default()));
    statement.insert("Resource".into(), json!(ident::qualified_arn(ctx, &id.name, id.qualifier.as_deref())));
    let mut string_equals = Map::new();
    if let Some(auth) = member_str(input, "FunctionUrlAuthType") {
        string_equals.insert("lambda:FunctionUrlAuthType".into(), json!(auth));
    }
    if let Some(org) = member_str(input, "PrincipalOrgID") {
        string_equals.insert("aws:PrincipalOrgID".into(), json!(org));
    }
    if let Some(account) = member_str(input, "SourceAccount") {
        string_equals.insert("AWS:SourceAccount".into(), json!(account));
    }
    if let Some(token) = member_str(input, "EventSourceToken") {
        string_equals.insert("lambda:EventSourceToken".into(), json!(token));
    }
    let mut condition = Map::new();
    if !string_equals.is_empty() {
        condition.insert("StringEquals".into(), Value::Object(string_equals));
    }
    if let Some(source) = member_str(input, "SourceArn") {
        condition.insert("ArnLike".into(), json!({"AWS:SourceArn": source}));
    }
    if !condition.is_empty() {
        statement.insert("Condition".into(), Value::Object(condition));
    }
    let statement = Value::Object(statement);

    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    check_qualifier(ctx, function, &id)?;
    if let Some(expected) = member_str(input, "RevisionId") {
        if function.resolve(id.qualifier.as_deref()).is_some_and(|v| v.config.revision_id != expected) {
            return Err(error::revision_mismatch());
        }
    }
    let key = id.qualifier.clone().unwrap_or_default();
    let policy = function.policies.entry(key).or_default();
    if policy.statements.iter().any(|s| s["Sid"] == sid) {
        return Err(error::conflict(format!(
            "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
        )));
    }
    policy.statements.push(statement.clone());
    policy.revision_id = new_revision();
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(json!({"Statement": statement.to_string()}))
}

pub fn remove_permission(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let sid = member_str(input, "StatementId").unwrap_or_default();
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::not_found(format!("No policy found for: {}", ident::function_arn(ctx, &id.name))))?;
    check_qualifier(ctx, function, &id)?;
    let key = id.qualifier.clone().unwrap_or_default();
    let Some(policy) = function.policies.get_mut(&key) else {
        return Err(error::not_found("No policy is associated with the given resource."));
    };
    if let Some(expected) = member_str(input, "RevisionId") {
        if expected != policy.revision_id {
            return Err(error::revision_mismatch());
        }
    }
    let before = policy.statements.len();
    policy.statements.retain(|s| s["Sid"] != sid);
    if policy.statements.len() == before {
        return Err(error::not_found(format!("Statement {sid} is not found in resource policy.")));
    }
    if policy.statements.is_empty() {
        function.policies.remove(&key);
    } else {
        policy.revision_id = new_revision();
    }
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(Value::Null)
}

pub fn get_policy(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.functions.get(&id.name))
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    let missing = || error::not_found("The resource you requested does not exist.");
    let policy: &Policy = function.policies.get(id.qualifier.as_deref().unwrap_or_default()).ok_or_else(missing)?;
    Ok(json!({"Policy": document(&policy.statements), "RevisionId": policy.revision_id}))
}
