//! Function URL configurations: Create/Get/Update/Delete/ListFunctionUrlConfig(s).
//! (Serving the URLs is `crate::urls`.)

use nimbus_core::RequestContext;
use serde_json::{json, Value};

use super::functions::function_id;
use super::page;
use crate::error::{self, Result};
use crate::ident::{self, FunctionId};
use crate::state::{Function, UrlConfig};
use crate::{member, member_str, Lambda};

/// AWS's URL timestamps: ISO 8601 with microseconds.
fn now(ctx: &RequestContext) -> String {
    ctx.clock.now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The URL clients call: AWS's `https://<id>.lambda-url.<region>.on.aws/`, served by nimbus.
/// A function URL: the path form on the host the client used, or with `--aws-host-urls` AWS's
/// host form under `localhost`.
pub fn url(ctx: &RequestContext, config: &UrlConfig) -> String {
    if !nimbus_core::urls::aws_host_urls() {
        return format!("{}{}{}/", nimbus_core::urls::base(&ctx.endpoint), crate::urls::PATH_PREFIX, config.url_id);
    }
    let port = nimbus_core::urls::port_of(&ctx.endpoint).unwrap_or("4566");
    format!("http://{}.lambda-url.{}.localhost:{port}/", config.url_id, ctx.region)
}

fn render(ctx: &RequestContext, id: &FunctionId, config: &UrlConfig, with_modified: bool) -> Value {
    let mut out = json!({
        "FunctionUrl": url(ctx, config),
        "FunctionArn": ident::qualified_arn(ctx, &id.name, id.qualifier.as_deref()),
        "AuthType": config.auth_type,
        "CreationTime": config.creation_time,
    });
    // AWS echoes InvokeMode only when it was set.
    if !config.invoke_mode.is_empty() {
        out["InvokeMode"] = json!(config.invoke_mode);
    }
    if let Some(cors) = &config.cors {
        out["Cors"] = cors.clone();
    }
    if with_modified {
        out["LastModifiedTime"] = json!(config.last_modified_time);
    }
    out
}

fn missing() -> nimbus_core::AwsError {
    error::not_found("The resource you requested does not exist.")
}

/// The function a URL call names; only aliases (or nothing) may qualify a URL.
fn target<'a>(
    region: &'a mut crate::state::Region,
    id: &FunctionId,
    not_found: nimbus_core::AwsError,
) -> Result<&'a mut Function> {
    let function = region.functions.get_mut(&id.name).ok_or(not_found)?;
    if let Some(q) = id.qualifier.as_deref() {
        if !function.aliases.contains_key(q) {
            return Err(missing());
        }
    }
    Ok(function)
}

pub fn create_function_url_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = target(region, &id, error::not_found("Function does not exist"))?;
    let key = id.qualifier.clone().unwrap_or_default();
    if function.url_configs.contains_key(&key) {
        return Err(error::conflict(format!(
            "Failed to create function url config for [functionArn = {}]. Error message:  FunctionUrlConfig exists for this Lambda function",
            ident::qualified_arn(ctx, &id.name, id.qualifier.as_deref())
        )));
    }
    let time = now(ctx);
    let config = UrlConfig {
        url_id: uuid::Uuid::new_v4().simple().to_string(),
        auth_type: member_str(input, "AuthType").unwrap_or("AWS_IAM").to_string(),
        cors: member(input, "Cors").cloned(),
        invoke_mode: member_str(input, "InvokeMode").unwrap_or_default().to_string(),
        creation_time: time.clone(),
        last_modified_time: time,
    };
    let out = render(ctx, &id, &config, false);
    function.url_configs.insert(key, config);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(out)
}

pub fn get_function_url_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function =
        store.region(&ctx.account, &ctx.region).and_then(|r| r.functions.get(&id.name)).ok_or_else(missing)?;
    let config = function.url_configs.get(id.qualifier.as_deref().unwrap_or_default()).ok_or_else(missing)?;
    Ok(render(ctx, &id, config, true))
}

pub fn update_function_url_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = target(region, &id, error::not_found("Function does not exist"))?;
    let config = function.url_configs.get_mut(id.qualifier.as_deref().unwrap_or_default()).ok_or_else(missing)?;
    if let Some(auth) = member_str(input, "AuthType") {
        config.auth_type = auth.to_string();
    }
    if let Some(cors) = member(input, "Cors") {
        config.cors = Some(cors.clone());
    }
    if let Some(mode) = member_str(input, "InvokeMode") {
        config.invoke_mode = mode.to_string();
    }
    config.last_modified_time = now(ctx);
    let out = render(ctx, &id, config, true);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(out)
}

pub fn delete_function_url_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region.functions.get_mut(&id.name).ok_or_else(missing)?;
    if function.url_configs.remove(id.qualifier.as_deref().unwrap_or_default()).is_none() {
        return Err(missing());
    }
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(Value::Null)
}

pub fn list_function_url_configs(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.functions.get(&id.name))
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    let all: Vec<Value> = function
        .url_configs
        .iter()
        .map(|(q, c)| {
            let qualified = FunctionId { name: id.name.clone(), qualifier: (!q.is_empty()).then(|| q.clone()) };
            render(ctx, &qualified, c, true)
        })
        .collect();
    page("FunctionUrlConfigs", &all, input, 50, |item| json!(item))
}
