//! Asynchronous invocation configuration: Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s).

use nimbus_core::RequestContext;
use serde_json::{json, Value};

use super::functions::{find, function_id};
use super::page;
use crate::error::{self, Result};
use crate::ident::{self, FunctionId};
use crate::state::{EventInvokeConfig, Function};
use crate::{member, Lambda};

fn qualifier(id: &FunctionId) -> String {
    id.qualifier.clone().unwrap_or_else(|| "$LATEST".into())
}

fn render(ctx: &RequestContext, name: &str, qualifier: &str, config: &EventInvokeConfig) -> Value {
    let mut out = json!({
        "FunctionArn": ident::qualified_arn(ctx, name, Some(qualifier)),
        "LastModified": config.last_modified,
        "DestinationConfig": {
            "OnSuccess": config.on_success.as_ref().map_or(json!({}), |d| json!({"Destination": d})),
            "OnFailure": config.on_failure.as_ref().map_or(json!({}), |d| json!({"Destination": d})),
        },
    });
    if let Some(n) = config.maximum_retry_attempts {
        out["MaximumRetryAttempts"] = json!(n);
    }
    if let Some(n) = config.maximum_event_age_seconds {
        out["MaximumEventAgeInSeconds"] = json!(n);
    }
    out
}

fn missing(ctx: &RequestContext, name: &str, qualifier: &str) -> nimbus_core::AwsError {
    error::not_found(format!(
        "The function {} doesn't have an EventInvokeConfig",
        ident::qualified_arn(ctx, name, Some(qualifier))
    ))
}

/// Destinations must name a service Lambda can deliver to.
fn destination(input: &Value, which: &str) -> Result<Option<Option<String>>> {
    let Some(config) = member(input, "DestinationConfig") else { return Ok(None) };
    let Some(target) = config.get(which).filter(|v| !v.is_null()) else { return Ok(Some(None)) };
    let arn = target.get("Destination").and_then(Value::as_str).filter(|s| !s.is_empty());
    if let Some(arn) = arn {
        let service = nimbus_core::arn::Arn::parse(arn).map(|a| a.service).unwrap_or_default();
        if !matches!(service.as_str(), "lambda" | "sqs" | "sns" | "events" | "s3") {
            return Err(error::invalid_parameter(format!(
                "The provided destination config DestinationConfig({which}: {arn}) is invalid."
            )));
        }
    }
    Ok(Some(arn.map(str::to_string)))
}

fn target_function<'a>(region: &'a mut crate::state::Region, id: &FunctionId) -> Result<&'a mut Function> {
    region
        .functions
        .get_mut(&id.name)
        .filter(|f| id.qualifier.as_deref().is_none_or(|q| f.has_qualifier(q)))
        .ok_or_else(|| error::not_found("The function doesn't exist."))
}

fn apply(config: &mut EventInvokeConfig, input: &Value) -> Result<()> {
    if let Some(n) = member(input, "MaximumRetryAttempts").and_then(Value::as_u64) {
        config.maximum_retry_attempts = Some(n as u32);
    }
    if let Some(n) = member(input, "MaximumEventAgeInSeconds").and_then(Value::as_u64) {
        config.maximum_event_age_seconds = Some(n as u32);
    }
    if let Some(on_success) = destination(input, "OnSuccess")? {
        config.on_success = on_success;
    }
    if let Some(on_failure) = destination(input, "OnFailure")? {
        config.on_failure = on_failure;
    }
    Ok(())
}

pub fn put_function_event_invoke_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let q = qualifier(&id);
    let settings = ["MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"];
    if settings.iter().all(|m| crate::member(input, m).is_none()) {
        return Err(error::invalid_parameter(
            "You must specify at least one of error handling or destination setting.",
        ));
    }
    let mut config = EventInvokeConfig::default();
    apply(&mut config, input)?;
    config.last_modified = ctx.clock.now_millis() as f64 / 1000.0;
    let mut store = lambda.store.write();
    let function = target_function(store.region_mut(&ctx.account, &ctx.region), &id)?;
    let out = render(ctx, &id.name, &q, &config);
    function.event_invoke_configs.insert(q, config);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(out)
}

pub fn update_function_event_invoke_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let q = qualifier(&id);
    let mut store = lambda.store.write();
    let function = target_function(store.region_mut(&ctx.account, &ctx.region), &id)?;
    let mut config = function.event_invoke_configs.get(&q).cloned().ok_or_else(|| missing(ctx, &id.name, &q))?;
    apply(&mut config, input)?;
    config.last_modified = ctx.clock.now_millis() as f64 / 1000.0;
    let out = render(ctx, &id.name, &q, &config);
    function.event_invoke_configs.insert(q, config);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(out)
}

pub fn get_function_event_invoke_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let q = qualifier(&id);
    let store = lambda.store.read();
    let function =
        find(store.region(&ctx.account, &ctx.region), ctx, &FunctionId { name: id.name.clone(), qualifier: None })
            .map_err(|_| missing(ctx, &id.name, &q))?;
    let config = function.event_invoke_configs.get(&q).ok_or_else(|| missing(ctx, &id.name, &q))?;
    Ok(render(ctx, &id.name, &q, config))
}

pub fn delete_function_event_invoke_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let q = qualifier(&id);
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region.functions.get_mut(&id.name).ok_or_else(|| missing(ctx, &id.name, &q))?;
    if function.event_invoke_configs.remove(&q).is_none() {
        return Err(missing(ctx, &id.name, &q));
    }
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(Value::Null)
}

pub fn list_function_event_invoke_configs(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function = find(store.region(&ctx.account, &ctx.region), ctx, &id)?;
    let all: Vec<Value> = function.event_invoke_configs.iter().map(|(q, c)| render(ctx, &id.name, q, c)).collect();
    page("FunctionEventInvokeConfigs", &all, input, 50, |item| json!(item))
}
