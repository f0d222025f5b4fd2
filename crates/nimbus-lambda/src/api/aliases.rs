//! Aliases: named pointers to a version, optionally splitting traffic with a second version.

use std::collections::BTreeMap;

use nimbus_core::RequestContext;
use serde_json::{json, Value};

use super::functions::{find, function_id};
use super::{new_revision, page};
use crate::error::{self, Result};
use crate::ident;
use crate::state::{Alias, Function};
use crate::{member, member_str, Lambda};

const ALIAS_PATTERN: &str = "(?!^[0-9]+$)([a-zA-Z0-9-_]+)";

fn render(ctx: &RequestContext, function: &str, alias: &Alias) -> Value {
    let mut out = json!({
        "AliasArn": ident::qualified_arn(ctx, function, Some(&alias.name)),
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    });
    if !alias.weights.is_empty() {
        out["RoutingConfig"] = json!({"AdditionalVersionWeights": alias.weights});
    }
    out
}

fn alias_not_found(ctx: &RequestContext, function: &str, name: &str) -> crate::error::Result<Value> {
    Err(error::not_found(format!("Cannot find alias arn: {}", ident::qualified_arn(ctx, function, Some(name)))))
}

/// UpdateAlias/DeleteAlias on a missing alias (GetAlias words it differently).
fn alias_missing(ctx: &RequestContext, function: &str, name: &str) -> nimbus_core::AwsError {
    error::not_found(format!("Alias not found: {}", ident::qualified_arn(ctx, function, Some(name))))
}

fn check_alias_name(name: &str) -> Result<()> {
    if ident::is_version(name) {
        return Err(error::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: {ALIAS_PATTERN}"
        )));
    }
    Ok(())
}

/// Check that the alias's target and routing weights name existing, compatible versions.
fn check_target(
    ctx: &RequestContext,
    function: &Function,
    version: &str,
    weights: &BTreeMap<String, f64>,
) -> Result<()> {
    let exists = |v: &str| {
        v == "$LATEST" || (ident::is_version(v) && v.parse().is_ok_and(|n: u64| function.versions.contains_key(&n)))
    };
    if !exists(version) {
        return Err(error::not_found(format!(
            "Function not found: {}",
            ident::qualified_arn(ctx, function.name(), Some(version))
        )));
    }
    if weights.is_empty() {
        return Ok(());
    }
    if weights.len() > 1 {
        return Err(error::invalid_parameter("Number of items in AdditionalVersionWeights cannot be greater than 1"));
    }
    if version == "$LATEST" {
        return Err(error::invalid_parameter("$LATEST is not supported for an alias pointing to more than 1 version"));
    }
    for (extra, weight) in weights {
        if !ident::is_version(extra) || !exists(extra) {
            return Err(error::invalid_parameter(format!(
                "Function version {extra} is not valid for an alias pointing to more than 1 version"
            )));
        }
        if extra == version {
            return Err(error::invalid_parameter(format!(
                "Invalid function version {extra}. Function version {extra} is already included in routing configuration."
            )));
        }
        if !(0.0..=1.0).contains(weight) {
            return Err(error::invalid_parameter(format!("Invalid weight {weight} for function version {extra}.")));
        }
    }
    Ok(())
}

fn weights(input: &Value) -> Result<Option<BTreeMap<String, f64>>> {
    let Some(routing) = member(input, "RoutingConfig") else { return Ok(None) };
    let weights = routing
        .get("AdditionalVersionWeights")
        .filter(|w| !w.is_null())
        .map(|w| serde_json::from_value(w.clone()))
        .transpose()
        .map_err(|e| error::invalid_content(format!("Could not parse request body into json: {e}")))?
        .unwrap_or_default();
    Ok(Some(weights))
}

pub fn create_alias(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let name = member_str(input, "Name").unwrap_or_default().to_string();
    check_alias_name(&name)?;
    let version = member_str(input, "FunctionVersion").unwrap_or_default().to_string();
    let weights = weights(input)?.unwrap_or_default();
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::qualified_arn(ctx, &id.name, Some(&version))))?;
    if function.aliases.contains_key(&name) {
        return Err(error::conflict(format!(
            "Alias already exists: {}",
            ident::qualified_arn(ctx, &id.name, Some(&name))
        )));
    }
    check_target(ctx, function, &version, &weights)?;
    let alias = Alias {
        name: name.clone(),
        function_version: version,
        description: member_str(input, "Description").unwrap_or_default().to_string(),
        weights,
        revision_id: new_revision(),
    };
    let out = render(ctx, &id.name, &alias);
    function.aliases.insert(name, alias);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(out)
}

pub fn get_alias(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let name = member_str(input, "Name").unwrap_or_default();
    let store = lambda.store.read();
    let function = find(store.region(&ctx.account, &ctx.region), ctx, &id)?;
    match function.aliases.get(name) {
        Some(alias) => Ok(render(ctx, &id.name, alias)),
        None => alias_not_found(ctx, &id.name, name),
    }
}

pub fn update_alias(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let name = member_str(input, "Name").unwrap_or_default().to_string();
    let new_weights = weights(input)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    let Some(current) = function.aliases.get(&name) else {
        return Err(alias_missing(ctx, &id.name, &name));
    };
    if let Some(expected) = member_str(input, "RevisionId") {
        if expected != current.revision_id {
            return Err(error::revision_mismatch());
        }
    }
    let mut alias = current.clone();
    if let Some(v) = member_str(input, "FunctionVersion") {
        alias.function_version = v.to_string();
    }
    if let Some(d) = member_str(input, "Description") {
        alias.description = d.to_string();
    }
    if let Some(w) = new_weights {
        alias.weights = w;
    }
    check_target(ctx, function, &alias.function_version, &alias.weights)?;
    alias.revision_id = new_revision();
    let out = render(ctx, &id.name, &alias);
    function.aliases.insert(name, alias);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(out)
}

pub fn delete_alias(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let name = member_str(input, "Name").unwrap_or_default();
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    if function.aliases.remove(name).is_none() {
        return Err(alias_missing(ctx, &id.name, name));
    }
    function.policies.remove(name);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(Value::Null)
}

pub fn list_aliases(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function = find(store.region(&ctx.account, &ctx.region), ctx, &id)?;
    let version = member_str(input, "FunctionVersion");
    let aliases: Vec<&Alias> =
        function.aliases.values().filter(|a| version.is_none_or(|v| a.function_version == v)).collect();
    page("Aliases", &aliases, input, 50, |a| render(ctx, &id.name, a))
}
