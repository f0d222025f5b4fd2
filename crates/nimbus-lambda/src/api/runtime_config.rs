//! Runtime management (Get/PutRuntimeManagementConfig) and recursive-loop settings
//! (Get/PutFunctionRecursionConfig). Both are stored and returned as AWS does; nimbus runs the
//! machine's interpreters, so runtime versions do not change execution, and recursive-loop
//! detection is not performed.

use nimbus_core::RequestContext;
use serde_json::{json, Value};

use super::functions::{find, find_version, function_id};
use crate::error::{self, Result};
use crate::ident;
use crate::state::RuntimeManagement;
use crate::{member_str, Lambda};

pub fn get_runtime_management_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function = find(store.region(&ctx.account, &ctx.region), ctx, &id)?;
    find_version(function, ctx, &id)?;
    let qualifier = id.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
    let mut out =
        json!({"UpdateRuntimeOn": "Auto", "FunctionArn": ident::qualified_arn(ctx, &id.name, Some(&qualifier))});
    if let Some(config) = function.runtime_management.get(&qualifier) {
        out["UpdateRuntimeOn"] = json!(config.update_runtime_on);
        if let Some(arn) = &config.runtime_version_arn {
            out["RuntimeVersionArn"] = json!(arn);
        }
    }
    Ok(out)
}

pub fn put_runtime_management_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let update_on = member_str(input, "UpdateRuntimeOn").unwrap_or("Auto").to_string();
    let version_arn = member_str(input, "RuntimeVersionArn").map(str::to_string);
    match (update_on.as_str(), &version_arn) {
        ("Manual", None) => {
            return Err(error::invalid_parameter("RuntimeVersionArn must be specified when UpdateRuntimeOn is Manual."))
        }
        ("Auto" | "FunctionUpdate", Some(_)) => {
            return Err(error::invalid_parameter(format!(
                "RuntimeVersionArn can only be specified when UpdateRuntimeOn is Manual, not {update_on}."
            )))
        }
        _ => {}
    }
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    if !function.has_qualifier(id.qualifier.as_deref().unwrap_or("$LATEST")) {
        return Err(error::function_not_found(&ident::qualified_arn(ctx, &id.name, id.qualifier.as_deref())));
    }
    let qualifier = id.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
    function.runtime_management.insert(
        qualifier.clone(),
        RuntimeManagement { update_runtime_on: update_on.clone(), runtime_version_arn: version_arn.clone() },
    );
    lambda.save_function(ctx, &id.name, Some(function))?;
    let mut out =
        json!({"UpdateRuntimeOn": update_on, "FunctionArn": ident::qualified_arn(ctx, &id.name, Some(&qualifier))});
    if let Some(arn) = version_arn {
        out["RuntimeVersionArn"] = json!(arn);
    }
    Ok(out)
}

pub fn get_function_recursion_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function = find(store.region(&ctx.account, &ctx.region), ctx, &id)?;
    Ok(json!({"RecursiveLoop": function.recursive_loop.as_deref().unwrap_or("Terminate")}))
}

pub fn put_function_recursion_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let setting = member_str(input, "RecursiveLoop").unwrap_or("Terminate").to_string();
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    function.recursive_loop = Some(setting.clone());
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(json!({"RecursiveLoop": setting}))
}
