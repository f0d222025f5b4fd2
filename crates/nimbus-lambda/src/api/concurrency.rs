//! Reserved concurrency: Put/Get/DeleteFunctionConcurrency.

use nimbus_core::RequestContext;
use serde_json::{json, Value};

use super::functions::{find, function_id};
use crate::error::{self, Result};
use crate::ident;
use crate::invoke::ACCOUNT_CONCURRENCY;
use crate::{member, Lambda};

/// AWS keeps at least this much concurrency unreserved.
const MIN_UNRESERVED: u32 = 100;

fn unqualified(ctx: &RequestContext, input: &Value) -> Result<ident::FunctionId> {
    let id = function_id(ctx, input)?;
    if id.qualifier.is_some() {
        return Err(error::invalid_parameter(
            "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN.",
        ));
    }
    Ok(id)
}

pub fn put_function_concurrency(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = unqualified(ctx, input)?;
    let wanted = member(input, "ReservedConcurrentExecutions").and_then(Value::as_u64).unwrap_or(0) as u32;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    if !region.functions.contains_key(&id.name) {
        return Err(error::function_not_found(&ident::qualified_arn(ctx, &id.name, Some("$LATEST"))));
    }
    let reserved_elsewhere: u32 =
        region.functions.iter().filter(|(name, _)| **name != id.name).filter_map(|(_, f)| f.reserved_concurrency).sum();
    if reserved_elsewhere + wanted > ACCOUNT_CONCURRENCY - MIN_UNRESERVED {
        return Err(nimbus_core::AwsError::new(
            400,
            "InvalidParameterValueException",
            format!("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."),
        ));
    }
    let function = region.functions.get_mut(&id.name).expect("checked above");
    function.reserved_concurrency = Some(wanted);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(json!({"ReservedConcurrentExecutions": wanted}))
}

pub fn get_function_concurrency(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = unqualified(ctx, input)?;
    let store = lambda.store.read();
    let function = find(store.region(&ctx.account, &ctx.region), ctx, &id)?;
    Ok(match function.reserved_concurrency {
        Some(n) => json!({"ReservedConcurrentExecutions": n}),
        None => json!({}),
    })
}

pub fn delete_function_concurrency(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = unqualified(ctx, input)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    function.reserved_concurrency = None;
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(Value::Null)
}
