//! Provisioned concurrency: Put/Get/Delete/ListProvisionedConcurrencyConfig(s). Environments are
//! really started ahead of traffic (`IN_PROGRESS` → `READY`, see `Lambda::sync_provisioning`)
//! and then serve invocations without an init phase.

use nimbus_core::RequestContext;
use serde_json::{json, Value};

use super::functions::function_id;
use super::page;
use crate::error::{self, Result};
use crate::ident::{self, FunctionId};
use crate::state::{Function, Provisioned};
use crate::{member, Lambda};

fn render(p: &Provisioned) -> Value {
    let mut out = json!({
        "RequestedProvisionedConcurrentExecutions": p.requested,
        "AvailableProvisionedConcurrentExecutions": p.allocated,
        "AllocatedProvisionedConcurrentExecutions": p.allocated,
        "Status": p.status,
        "LastModified": p.last_modified,
    });
    if let Some(reason) = &p.status_reason {
        out["StatusReason"] = json!(reason);
    }
    out
}

fn qualified(id: &FunctionId) -> Result<String> {
    match id.qualifier.as_deref() {
        None | Some("$LATEST") => {
            Err(error::invalid_parameter("The function resource provided must be an alias or a published version."))
        }
        Some(q) => Ok(q.to_string()),
    }
}

fn existing<'a>(function: &'a Function, ctx: &RequestContext, id: &FunctionId, q: &str) -> Result<&'a Function> {
    if ident::is_version(q) {
        if !function.has_qualifier(q) {
            return Err(error::function_not_found(&ident::qualified_arn(ctx, &id.name, Some(q))));
        }
    } else if !function.aliases.contains_key(q) {
        return Err(error::not_found(format!(
            "Cannot find alias arn: {}",
            ident::qualified_arn(ctx, &id.name, Some(q))
        )));
    }
    Ok(function)
}

pub fn put_provisioned_concurrency_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    if id.qualifier.as_deref().is_none_or(|q| q == "$LATEST") {
        return Err(error::invalid_parameter(
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
        ));
    }
    let q = qualified(&id)?;
    let requested = member(input, "ProvisionedConcurrentExecutions").and_then(Value::as_u64).unwrap_or(1) as u32;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    existing(function, ctx, &id, &q)?;
    if let Some(reserved) = function.reserved_concurrency {
        if requested > reserved {
            return Err(error::invalid_parameter(format!(
                "Specified ConcurrentExecutions for function is greater than function's reserved concurrency [{reserved}]."
            )));
        }
    }
    let config = Provisioned {
        requested,
        allocated: 0,
        status: "IN_PROGRESS".into(),
        status_reason: None,
        last_modified: ctx.clock.now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
    };
    let out = render(&config);
    function.provisioned.insert(q, config);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(out)
}

pub fn get_provisioned_concurrency_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let q = qualified(&id)?;
    let store = lambda.store.read();
    let function = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.functions.get(&id.name))
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    existing(function, ctx, &id, &q)?;
    let config = function.provisioned.get(&q).ok_or_else(|| {
        nimbus_core::AwsError::new(
            404,
            "ProvisionedConcurrencyConfigNotFoundException",
            "No Provisioned Concurrency Config found for this function",
        )
    })?;
    Ok(render(config))
}

pub fn delete_provisioned_concurrency_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let q = qualified(&id)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    existing(function, ctx, &id, &q)?;
    if function.provisioned.remove(&q).is_some() {
        let version = function.resolve(Some(&q)).map(|v| v.config.version.clone()).unwrap_or_default();
        lambda.invoker.drop_version(&ctx.account, &ctx.region, &id.name, &version);
        lambda.save_function(ctx, &id.name, Some(function))?;
    }
    Ok(Value::Null)
}

pub fn list_provisioned_concurrency_configs(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.functions.get(&id.name))
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    let all: Vec<Value> = function
        .provisioned
        .iter()
        .map(|(q, p)| {
            let mut item = render(p);
            item["FunctionArn"] = json!(ident::qualified_arn(ctx, &id.name, Some(q)));
            item
        })
        .collect();
    page("ProvisionedConcurrencyConfigs", &all, input, 50, |item| json!(item))
}
