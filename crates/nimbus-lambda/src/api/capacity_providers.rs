//! Capacity providers (Lambda Managed Instances) and function scaling configs.
//!
//! Nimbus runs every function natively, so a capacity provider launches no instances: it is
//! validated, stored, given AWS's ARN and states (`Pending` in the create answer, `Active` after,
//! `Deleting` in the delete answer), and related to the functions that name it — a function may
//! only reference a provider that exists, a provider in use cannot be deleted, and
//! ListFunctionVersionsByCapacityProvider lists the published versions on it. Scaling configs
//! apply to published versions of functions on a capacity provider.

use std::collections::BTreeMap;

use nimbus_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use super::functions::{find, function_id};
use super::{page, timestamp};
use crate::error::{self, Result};
use crate::state::{CapacityProvider, Function, Region};
use crate::{ident, member, member_str, Lambda};

/// The `CapacityProviderName` members accept a name or the provider's ARN.
fn name_of(ctx: &RequestContext, raw: &str) -> Result<String> {
    let Some(rest) = raw.strip_prefix("arn:") else { return Ok(raw.to_string()) };
    let parsed = nimbus_core::arn::Arn::parse(raw).ok_or_else(|| not_found(rest))?;
    let name = parsed.resource.strip_prefix("capacity-provider:").unwrap_or(&parsed.resource).to_string();
    if parsed.region != ctx.region || parsed.account != ctx.account {
        return Err(not_found(&name));
    }
    Ok(name)
}

pub fn arn_of(ctx: &RequestContext, name: &str) -> String {
    format!("arn:aws:lambda:{}:{}:capacity-provider:{name}", ctx.region, ctx.account)
}

pub fn not_found(name: &str) -> AwsError {
    error::not_found(format!("Capacity provider not found: {name}"))
}

/// What the answers show: AWS's `CapacityProvider` shape (tags are read through ListTags).
fn render(provider: &CapacityProvider, state: &str) -> Value {
    let mut value = json!(provider);
    if let Some(obj) = value.as_object_mut() {
        obj.remove("Tags");
        obj.insert("State".into(), json!(state));
    }
    json!({"CapacityProvider": value})
}

fn ids(value: &Value, key: &str) -> Vec<String> {
    value[key].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// Checks the model cannot express: resource id forms, unique entries, and the scaling mode
/// agreeing with the policies.
fn check_vpc_config(vpc: &Value) -> Result<()> {
    let subnets = ids(vpc, "SubnetIds");
    let groups = ids(vpc, "SecurityGroupIds");
    for (list, prefix, what) in [(&subnets, "subnet-", "subnet"), (&groups, "sg-", "security group")] {
        for id in list {
            let hex = id.strip_prefix(prefix).unwrap_or_default();
            if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(error::invalid_parameter(format!("The {what} ID '{id}' is not valid.")));
            }
        }
        let mut unique = list.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != list.len() {
            return Err(error::invalid_parameter(format!("Duplicate {what} IDs are not allowed.")));
        }
    }
    Ok(())
}

fn check_instance_requirements(requirements: &Value) -> Result<()> {
    let allowed = ids(requirements, "AllowedInstanceTypes");
    let excluded = ids(requirements, "ExcludedInstanceTypes");
    if !allowed.is_empty() && !excluded.is_empty() {
        return Err(error::invalid_parameter(
            "You can specify either AllowedInstanceTypes or ExcludedInstanceTypes, but not both.",
        ));
    }
    Ok(())
}

/// The scaling config with AWS's default mode (`Auto`); `Manual` needs policies, `Auto` takes none.
fn scaling_config(given: Option<&Value>) -> Result<Value> {
    let mut config = given.cloned().unwrap_or_else(|| json!({}));
    let mode = config.get("ScalingMode").and_then(Value::as_str).unwrap_or("Auto").to_string();
    let has_policies = config.get("ScalingPolicies").and_then(Value::as_array).is_some_and(|p| !p.is_empty());
    match (mode.as_str(), has_policies) {
        ("Manual", false) => {
            return Err(error::invalid_parameter("ScalingPolicies must be specified when ScalingMode is Manual."))
        }
        ("Auto", true) => {
            return Err(error::invalid_parameter("ScalingPolicies can only be specified when ScalingMode is Manual."))
        }
        _ => {}
    }
    config["ScalingMode"] = json!(mode);
    Ok(config)
}

pub fn create_capacity_provider(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let name = name_of(ctx, member_str(input, "CapacityProviderName").unwrap_or_default())?;
    let vpc_config = member(input, "VpcConfig").cloned().unwrap_or_else(|| json!({}));
    check_vpc_config(&vpc_config)?;
    let mut requirements = member(input, "InstanceRequirements").cloned().unwrap_or_else(|| json!({}));
    check_instance_requirements(&requirements)?;
    if requirements.get("Architectures").is_none() {
        requirements["Architectures"] = json!(["x86_64"]);
    }
    let tags: BTreeMap<String, String> =
        member(input, "Tags").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default();
    super::tags::check_tags(&tags)?;
    let provider = CapacityProvider {
        capacity_provider_arn: arn_of(ctx, &name),
        state: "Active".into(),
        vpc_config,
        permissions_config: member(input, "PermissionsConfig").cloned().unwrap_or_else(|| json!({})),
        instance_requirements: requirements,
        capacity_provider_scaling_config: scaling_config(member(input, "CapacityProviderScalingConfig"))?,
        kms_key_arn: member_str(input, "KmsKeyArn").map(str::to_string),
        last_modified: timestamp(ctx),
        tags,
    };
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    if region.capacity_providers.contains_key(&name) {
        return Err(error::conflict(format!("Capacity provider already exists: {}", provider.capacity_provider_arn)));
    }
    lambda.save_capacity_provider(ctx, &name, Some(&provider))?;
    // AWS answers while the provider is still being set up; reads after show it Active.
    let out = render(&provider, "Pending");
    region.capacity_providers.insert(name, provider);
    Ok(out)
}

pub fn get_capacity_provider(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let name = name_of(ctx, member_str(input, "CapacityProviderName").unwrap_or_default())?;
    let store = lambda.store.read();
    let provider = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.capacity_providers.get(&name))
        .ok_or_else(|| not_found(&name))?;
    Ok(render(provider, &provider.state))
}

pub fn update_capacity_provider(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let name = name_of(ctx, member_str(input, "CapacityProviderName").unwrap_or_default())?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let provider = region.capacity_providers.get_mut(&name).ok_or_else(|| not_found(&name))?;
    if let Some(given) = member(input, "CapacityProviderScalingConfig") {
        provider.capacity_provider_scaling_config = scaling_config(Some(given))?;
    }
    provider.last_modified = timestamp(ctx);
    lambda.save_capacity_provider(ctx, &name, Some(provider))?;
    Ok(render(provider, &provider.state))
}

/// The function versions (`$LATEST` and published) configured on a provider, as qualified ARNs
/// with their state.
fn versions_on(region: &Region, ctx: &RequestContext, arn: &str, published_only: bool) -> Vec<(String, String)> {
    let uses = |config: &crate::state::FunctionConfig| {
        config
            .capacity_provider_config
            .as_ref()
            .and_then(|c| c["LambdaManagedInstancesCapacityProviderConfig"]["CapacityProviderArn"].as_str())
            == Some(arn)
    };
    let mut out = Vec::new();
    for (name, function) in &region.functions {
        if !published_only && uses(&function.latest.config) {
            out.push((ident::qualified_arn(ctx, name, Some("$LATEST")), state_of(&function.latest.config)));
        }
        for (number, version) in &function.versions {
            if uses(&version.config) {
                out.push((ident::qualified_arn(ctx, name, Some(&number.to_string())), state_of(&version.config)));
            }
        }
    }
    out
}

fn state_of(config: &crate::state::FunctionConfig) -> String {
    config.state.clone().unwrap_or_else(|| "Active".into())
}

pub fn delete_capacity_provider(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let name = name_of(ctx, member_str(input, "CapacityProviderName").unwrap_or_default())?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let provider = region.capacity_providers.get(&name).ok_or_else(|| not_found(&name))?;
    let in_use = versions_on(region, ctx, &provider.capacity_provider_arn, false);
    if let Some((function_arn, _)) = in_use.first() {
        return Err(error::conflict(format!(
            "Capacity provider {} is in use by {} function version(s), including {function_arn}. Remove the \
             capacity provider from those functions first.",
            provider.capacity_provider_arn,
            in_use.len()
        )));
    }
    lambda.save_capacity_provider(ctx, &name, None)?;
    let provider = region.capacity_providers.remove(&name).ok_or_else(|| not_found(&name))?;
    Ok(render(&provider, "Deleting"))
}

pub fn list_capacity_providers(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let state = member_str(input, "State");
    let store = lambda.store.read();
    let providers: Vec<&CapacityProvider> = store
        .region(&ctx.account, &ctx.region)
        .map(|r| r.capacity_providers.values().filter(|p| state.is_none_or(|s| p.state == s)).collect())
        .unwrap_or_default();
    page("CapacityProviders", &providers, input, 50, |p| render(p, &p.state)["CapacityProvider"].take())
}

pub fn list_function_versions_by_capacity_provider(
    lambda: &Lambda,
    ctx: &RequestContext,
    input: &Value,
) -> Result<Value> {
    let name = name_of(ctx, member_str(input, "CapacityProviderName").unwrap_or_default())?;
    let store = lambda.store.read();
    let region = store.region(&ctx.account, &ctx.region);
    let provider = region.and_then(|r| r.capacity_providers.get(&name)).ok_or_else(|| not_found(&name))?;
    let versions = region.map(|r| versions_on(r, ctx, &provider.capacity_provider_arn, true)).unwrap_or_default();
    let mut out =
        page("FunctionVersions", &versions, input, 50, |(arn, state)| json!({"FunctionArn": arn, "State": state}))?;
    out["CapacityProviderArn"] = json!(provider.capacity_provider_arn);
    Ok(out)
}

/// A scaling config's target: a published version of a function on a capacity provider.
/// `$LATEST.PUBLISHED` is never published by nimbus (it does not implement `PublishTo`).
fn scaling_target<'a>(
    function: &'a Function,
    ctx: &RequestContext,
    name: &str,
    qualifier: &str,
) -> Result<&'a Function> {
    let version = qualifier.parse::<u64>().ok().and_then(|n| function.versions.get(&n));
    let Some(version) = version else {
        return Err(error::function_not_found(&ident::qualified_arn(ctx, name, Some(qualifier))));
    };
    if version.config.capacity_provider_config.is_none() {
        return Err(error::invalid_parameter(format!(
            "Function scaling configuration is only supported for functions that use a capacity provider: {}",
            ident::qualified_arn(ctx, name, Some(qualifier))
        )));
    }
    Ok(function)
}

pub fn put_function_scaling_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let qualifier = id.qualifier.clone().unwrap_or_default();
    let config = member(input, "FunctionScalingConfig").cloned().unwrap_or_else(|| json!({}));
    let min = config.get("MinExecutionEnvironments").and_then(Value::as_u64);
    let max = config.get("MaxExecutionEnvironments").and_then(Value::as_u64);
    if let (Some(min), Some(max)) = (min, max) {
        if min > max {
            return Err(error::invalid_parameter(format!(
                "MinExecutionEnvironments ({min}) must be less than or equal to MaxExecutionEnvironments ({max})."
            )));
        }
    }
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    scaling_target(function, ctx, &id.name, &qualifier)?;
    function.scaling_configs.insert(qualifier.clone(), config);
    lambda.save_function(ctx, &id.name, Some(function))?;
    let number: u64 = qualifier.parse().unwrap_or_default();
    let state = function.versions.get(&number).map(|v| state_of(&v.config)).unwrap_or_else(|| "Active".into());
    Ok(json!({"FunctionState": state}))
}

pub fn get_function_scaling_config(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let qualifier = id.qualifier.clone().unwrap_or_default();
    let store = lambda.store.read();
    let function = find(store.region(&ctx.account, &ctx.region), ctx, &id)?;
    scaling_target(function, ctx, &id.name, &qualifier)?;
    let mut out = json!({"FunctionArn": ident::qualified_arn(ctx, &id.name, Some(&qualifier))});
    // Nimbus applies a config at once, so what was requested is what is applied.
    out["AppliedFunctionScalingConfig"] = function
        .scaling_configs
        .get(&qualifier)
        .cloned()
        .unwrap_or_else(|| json!({"MinExecutionEnvironments": DEFAULT_MIN_EXECUTION_ENVIRONMENTS}));
    Ok(out)
}

/// AWS keeps at least three execution environments for a version on a capacity provider unless
/// told otherwise.
const DEFAULT_MIN_EXECUTION_ENVIRONMENTS: u64 = 3;

/// A function may only name a capacity provider that exists in its account and region.
pub fn check_reference(region: &Region, ctx: &RequestContext, config: Option<&Value>) -> Result<()> {
    let Some(config) = config else { return Ok(()) };
    let arn =
        config["LambdaManagedInstancesCapacityProviderConfig"]["CapacityProviderArn"].as_str().unwrap_or_default();
    let name = arn.rsplit(':').next().unwrap_or_default();
    match region.capacity_providers.get(name) {
        Some(provider) if provider.capacity_provider_arn == arn => Ok(()),
        _ if !arn.starts_with(&format!("arn:aws:lambda:{}:{}:", ctx.region, ctx.account)) => {
            Err(error::invalid_parameter(format!(
                "The capacity provider {arn} must be in the function's account and region."
            )))
        }
        _ => Err(error::invalid_parameter(format!("Capacity provider not found: {arn}"))),
    }
}
