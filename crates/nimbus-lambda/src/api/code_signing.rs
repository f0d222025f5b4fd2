//! Code signing: configurations, their attachment to functions, and their policy applied when
//! code is deployed. nimbus has no signing service, so every package is unsigned: `Enforce`
//! refuses deployments, `Warn` lets them through (as AWS does with a warning).

use nimbus_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use super::functions::function_id;
use super::{page, timestamp};
use crate::error::{self, Result};
use crate::ident;
use crate::state::{CodeSigningConfig, Region};
use crate::{member, member_str, Lambda};

fn arn_of(ctx: &RequestContext, id: &str) -> String {
    format!("arn:aws:lambda:{}:{}:code-signing-config:{id}", ctx.region, ctx.account)
}

fn config_missing(arn: &str) -> AwsError {
    error::not_found(format!("The Lambda code signing configuration {arn} can not be found."))
}

fn attach_missing(arn: &str) -> AwsError {
    AwsError::new(
        404,
        "CodeSigningConfigNotFoundException",
        format!("The code signing configuration cannot be found. Check that the provided configuration is not deleted: {arn}."),
    )
}

/// Check that a function may be given new code under its code signing configuration.
pub fn check_deployment(region: &Region, ctx: &RequestContext, csc_arn: Option<&str>, function: &str) -> Result<()> {
    let Some(arn) = csc_arn else { return Ok(()) };
    let config = region.code_signing_configs.get(arn).ok_or_else(|| attach_missing(arn))?;
    if config.code_signing_policies["UntrustedArtifactOnDeployment"] == "Enforce" {
        return Err(AwsError::new(
            400,
            "CodeVerificationFailedException",
            format!(
                "Lambda cannot deploy the function. The function or layer might be signed using a signature that the client is not configured to accept. Check the provided signature for {}.",
                ident::function_arn(ctx, function)
            ),
        ));
    }
    Ok(())
}

/// `{"CodeSigningConfig": …}` as AWS returns it (the record's tags stay out of it).
fn render(config: &CodeSigningConfig) -> Value {
    let mut value = json!(config);
    if let Some(obj) = value.as_object_mut() {
        obj.remove("Tags");
    }
    json!({"CodeSigningConfig": value})
}

fn policies(input: &Value) -> Value {
    let on_deploy = member(input, "CodeSigningPolicies")
        .and_then(|p| p.get("UntrustedArtifactOnDeployment"))
        .and_then(Value::as_str)
        .unwrap_or("Warn");
    json!({"UntrustedArtifactOnDeployment": on_deploy})
}

pub fn create_code_signing_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = format!("csc-{}", &uuid::Uuid::new_v4().simple().to_string()[..17]);
    let config = CodeSigningConfig {
        code_signing_config_arn: arn_of(ctx, &id),
        code_signing_config_id: id.clone(),
        description: member_str(input, "Description").unwrap_or_default().to_string(),
        allowed_publishers: member(input, "AllowedPublishers")
            .cloned()
            .unwrap_or(json!({"SigningProfileVersionArns": []})),
        code_signing_policies: policies(input),
        last_modified: timestamp(ctx),
        tags: member(input, "Tags").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default(),
    };
    super::tags::check_tags(&config.tags)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    lambda.save_code_signing_config(ctx, &id, Some(&config))?;
    let out = render(&config);
    region.code_signing_configs.insert(config.code_signing_config_arn.clone(), config);
    Ok(out)
}

pub fn get_code_signing_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let arn = member_str(input, "CodeSigningConfigArn").unwrap_or_default();
    let store = lambda.store.read();
    let config = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.code_signing_configs.get(arn))
        .ok_or_else(|| config_missing(arn))?;
    Ok(render(config))
}

pub fn update_code_signing_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let arn = member_str(input, "CodeSigningConfigArn").unwrap_or_default().to_string();
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let config = region.code_signing_configs.get_mut(&arn).ok_or_else(|| config_missing(&arn))?;
    if let Some(d) = member_str(input, "Description") {
        config.description = d.to_string();
    }
    if let Some(p) = member(input, "AllowedPublishers") {
        config.allowed_publishers = p.clone();
    }
    if member(input, "CodeSigningPolicies").is_some() {
        config.code_signing_policies = policies(input);
    }
    config.last_modified = timestamp(ctx);
    lambda.save_code_signing_config(ctx, &config.code_signing_config_id, Some(config))?;
    Ok(render(config))
}

pub fn delete_code_signing_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let arn = member_str(input, "CodeSigningConfigArn").unwrap_or_default().to_string();
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let config = region.code_signing_configs.get(&arn).ok_or_else(|| config_missing(&arn))?;
    if region.functions.values().any(|f| f.code_signing_config_arn.as_deref() == Some(arn.as_str())) {
        return Err(error::conflict(
            "The code signing configuration cannot be deleted because it is used by one or more functions.",
        ));
    }
    lambda.save_code_signing_config(ctx, &config.code_signing_config_id.clone(), None)?;
    region.code_signing_configs.remove(&arn);
    Ok(Value::Null)
}

pub fn list_code_signing_configs(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let store = lambda.store.read();
    let all: Vec<Value> = store
        .region(&ctx.account, &ctx.region)
        .map(|r| r.code_signing_configs.values().map(|c| render(c)["CodeSigningConfig"].take()).collect())
        .unwrap_or_default();
    page("CodeSigningConfigs", &all, input, 50, |item| json!(item))
}

pub fn put_function_code_signing_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let arn = member_str(input, "CodeSigningConfigArn").unwrap_or_default().to_string();
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    if !region.code_signing_configs.contains_key(&arn) {
        return Err(attach_missing(&arn));
    }
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    function.code_signing_config_arn = Some(arn.clone());
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(json!({"CodeSigningConfigArn": arn, "FunctionName": id.name}))
}

pub fn get_function_code_signing_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.functions.get(&id.name))
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    Ok(
        json!({"CodeSigningConfigArn": function.code_signing_config_arn.clone().unwrap_or_default(), "FunctionName": id.name}),
    )
}

pub fn delete_function_code_signing_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    function.code_signing_config_arn = None;
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(Value::Null)
}

pub fn list_functions_by_code_signing_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let arn = member_str(input, "CodeSigningConfigArn").unwrap_or_default();
    let store = lambda.store.read();
    let region = store
        .region(&ctx.account, &ctx.region)
        .filter(|r| r.code_signing_configs.contains_key(arn))
        .ok_or_else(|| config_missing(arn))?;
    let arns: Vec<String> = region
        .functions
        .values()
        .filter(|f| f.code_signing_config_arn.as_deref() == Some(arn))
        .map(|f| ident::function_arn(ctx, f.name()))
        .collect();
    page("FunctionArns", &arns, input, 50, |item| json!(item))
}
