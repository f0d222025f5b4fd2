//! Layers: versioned archives functions mount under `/opt`, with their own resource policies.

use nimbus_core::RequestContext;
use serde_json::{json, Map, Value};

use super::{new_revision, paginate, timestamp};
use crate::code;
use crate::error::{self, Result};
use crate::ident;
use crate::state::{Layer, LayerVersion, Policy};
use crate::{member, member_str, Lambda};

/// A layer name, or the name inside a layer ARN.
fn layer_name(raw: &str) -> String {
    match nimbus_core::arn::Arn::parse(raw) {
        Some(arn) => arn.resource.strip_prefix("layer:").unwrap_or(&arn.resource).split(':').next().unwrap_or_default().to_string(),
        None => raw.to_string(),
    }
}

fn version_arn(ctx: &RequestContext, name: &str, version: u64) -> String {
    format!("{}:{version}", ident::layer_arn(ctx, name))
}

fn version_number(input: &Value) -> Result<u64> {
    let n = member(input, "VersionNumber").and_then(Value::as_i64).unwrap_or(0);
    if n < 1 {
        return Err(error::invalid_parameter("Layer Version Cannot be less than 1"));
    }
    Ok(n as u64)
}

fn not_found() -> nimbus_core::AwsError {
    error::not_found("The resource you requested does not exist.")
}

fn version_missing(ctx: &RequestContext, name: &str, version: u64) -> nimbus_core::AwsError {
    error::not_found(format!("Layer version {} does not exist.", version_arn(ctx, name, version)))
}

/// The fields every rendering of a layer version shares.
fn summary(ctx: &RequestContext, name: &str, v: &LayerVersion) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("LayerVersionArn".into(), json!(version_arn(ctx, name, v.version)));
    out.insert("Version".into(), json!(v.version));
    out.insert("Description".into(), json!(v.description));
    out.insert("CreatedDate".into(), json!(v.created_date));
    if let Some(runtimes) = &v.compatible_runtimes {
        out.insert("CompatibleRuntimes".into(), json!(runtimes));
    }
    if let Some(license) = &v.license_info {
        out.insert("LicenseInfo".into(), json!(license));
    }
    if let Some(archs) = &v.compatible_architectures {
        out.insert("CompatibleArchitectures".into(), json!(archs));
    }
    out
}

fn full(ctx: &RequestContext, name: &str, v: &LayerVersion) -> Value {
    let mut out = summary(ctx, name, v);
    out.insert(
        "Content".into(),
        json!({"Location": code::download_url(ctx, &v.code), "CodeSha256": code::code_sha256(&v.code), "CodeSize": v.code.size}),
    );
    out.insert("LayerArn".into(), json!(ident::layer_arn(ctx, name)));
    Value::Object(out)
}

fn strings(input: &Value, name: &str) -> Option<Vec<String>> {
    member(input, name).and_then(|v| serde_json::from_value(v.clone()).ok())
}

pub fn publish_layer_version(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let name = layer_name(member_str(input, "LayerName").unwrap_or_default());
    let content = member(input, "Content").cloned().unwrap_or(json!({}));
    let code = if let Some(zip) = member_str(&content, "ZipFile") {
        code::store_zip(lambda, &code::decode_zip_member(zip)?)?
    } else if let Some(bucket) = member_str(&content, "S3Bucket") {
        return Err(error::invalid_parameter(format!(
            "Layer content from S3 (bucket '{bucket}') is not supported by nimbus yet: upload the archive with ZipFile instead."
        )));
    } else {
        return Err(error::invalid_parameter("Please provide a source for layer content."));
    };
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let layer = region.layers.entry(name.clone()).or_insert_with(|| Layer { name: name.clone(), versions: Default::default(), next_version: 1 });
    let version = LayerVersion {
        version: layer.next_version,
        description: member_str(input, "Description").unwrap_or_default().to_string(),
        created_date: timestamp(ctx),
        compatible_runtimes: strings(input, "CompatibleRuntimes"),
        compatible_architectures: strings(input, "CompatibleArchitectures"),
        license_info: member_str(input, "LicenseInfo").map(str::to_string),
        code,
        policy: None,
    };
    let out = full(ctx, &name, &version);
    layer.next_version += 1;
    layer.versions.insert(version.version, version);
    lambda.save_layer(ctx, &name, Some(layer))?;
    Ok(out)
}

pub fn get_layer_version(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let name = layer_name(member_str(input, "LayerName").unwrap_or_default());
    let number = version_number(input)?;
    let store = lambda.store.read();
    let version = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.layers.get(&name))
        .and_then(|l| l.versions.get(&number))
        .ok_or_else(not_found)?;
    Ok(full(ctx, &name, version))
}

pub fn get_layer_version_by_arn(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let arn = nimbus_core::arn::Arn::parse(member_str(input, "Arn").unwrap_or_default()).ok_or_else(not_found)?;
    let mut parts = arn.resource.splitn(3, ':');
    let (Some("layer"), Some(name), Some(number)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(not_found());
    };
    let number: u64 = number.parse().map_err(|_| not_found())?;
    let store = lambda.store.read();
    let version = store
        .region(&arn.account, &arn.region)
        .and_then(|r| r.layers.get(name))
        .and_then(|l| l.versions.get(&number))
        .ok_or_else(not_found)?;
    let owner = RequestContext { account: arn.account.clone(), region: arn.region.clone(), ..ctx.clone() };
    Ok(full(&owner, name, version))
}

/// Whether a version matches ListLayers/ListLayerVersions' runtime and architecture filters.
fn matches(v: &LayerVersion, input: &Value) -> bool {
    let runtime_ok = member_str(input, "CompatibleRuntime")
        .is_none_or(|rt| v.compatible_runtimes.as_ref().is_some_and(|list| list.iter().any(|r| r == rt)));
    let arch_ok = member_str(input, "CompatibleArchitecture")
        .is_none_or(|a| v.compatible_architectures.as_ref().is_some_and(|list| list.iter().any(|x| x == a)));
    runtime_ok && arch_ok
}

pub fn list_layers(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let store = lambda.store.read();
    let items: Vec<Value> = store
        .region(&ctx.account, &ctx.region)
        .map(|r| {
            r.layers
                .values()
                .filter_map(|layer| {
                    let latest = layer.versions.values().rev().find(|v| matches(v, input))?;
                    Some(json!({
                        "LayerName": layer.name,
                        "LayerArn": ident::layer_arn(ctx, &layer.name),
                        "LatestMatchingVersion": Value::Object(summary(ctx, &layer.name, latest)),
                    }))
                })
                .collect()
        })
        .unwrap_or_default();
    let (page, next) = paginate(&items, input, 50)?;
    let mut out = json!({"Layers": page});
    if let Some(marker) = next {
        out["NextMarker"] = json!(marker);
    }
    Ok(out)
}

pub fn list_layer_versions(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let name = layer_name(member_str(input, "LayerName").unwrap_or_default());
    let store = lambda.store.read();
    let items: Vec<Value> = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.layers.get(&name))
        .map(|layer| layer.versions.values().rev().filter(|v| matches(v, input)).map(|v| Value::Object(summary(ctx, &name, v))).collect())
        .unwrap_or_default();
    let (page, next) = paginate(&items, input, 50)?;
    let mut out = json!({"LayerVersions": page});
    if let Some(marker) = next {
        out["NextMarker"] = json!(marker);
    }
    Ok(out)
}

pub fn delete_layer_version(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let name = layer_name(member_str(input, "LayerName").unwrap_or_default());
    let number = version_number(input)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    // Deleting what is not there succeeds; the layer record stays so numbers are never reused.
    if let Some(layer) = region.layers.get_mut(&name) {
        if layer.versions.remove(&number).is_some() {
            lambda.save_layer(ctx, &name, Some(layer))?;
        }
    }
    Ok(Value::Null)
}

/// Run `change` on the policy of an existing layer version and persist it.
fn with_policy<T>(
    lambda: &Lambda,
    ctx: &RequestContext,
    input: &Value,
    change: impl FnOnce(&mut Option<Policy>, &str) -> Result<T>,
) -> Result<T> {
    let name = layer_name(member_str(input, "LayerName").unwrap_or_default());
    let number = version_number(input)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let layer = region.layers.get_mut(&name).ok_or_else(|| version_missing(ctx, &name, number))?;
    let version = layer.versions.get_mut(&number).ok_or_else(|| version_missing(ctx, &name, number))?;
    let out = change(&mut version.policy, &version_arn(ctx, &name, number))?;
    lambda.save_layer(ctx, &name, Some(layer))?;
    Ok(out)
}

fn check_policy_revision(input: &Value, policy: Option<&Policy>) -> Result<()> {
    match (member_str(input, "RevisionId"), policy) {
        (Some(expected), Some(p)) if expected != p.revision_id => Err(error::precondition_failed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

pub fn add_layer_version_permission(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let sid = member_str(input, "StatementId").unwrap_or_default().to_string();
    let principal = match member_str(input, "Principal").unwrap_or_default() {
        "*" => json!("*"),
        p if p.starts_with("arn:") => json!({"AWS": p}),
        account => json!({"AWS": format!("arn:aws:iam::{account}:root")}),
    };
    with_policy(lambda, ctx, input, |policy, resource| {
        check_policy_revision(input, policy.as_ref())?;
        let policy = policy.get_or_insert_with(Policy::default);
        if policy.statements.iter().any(|s| s["Sid"] == sid) {
            return Err(error::conflict(format!(
                "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
            )));
        }
        let mut statement = Map::new();
        statement.insert("Sid".into(), json!(sid));
        statement.insert("Effect".into(), json!("Allow"));
        statement.insert("Principal".into(), principal);
        statement.insert("Action".into(), json!(member_str(input, "Action").unwrap_or_default()));
        statement.insert("Resource".into(), json!(resource));
        if let Some(org) = member_str(input, "OrganizationId") {
            statement.insert("Condition".into(), json!({"StringEquals": {"aws:PrincipalOrgID": org}}));
        }
        let statement = Value::Object(statement);
        policy.statements.push(statement.clone());
        policy.revision_id = new_revision();
        Ok(json!({"Statement": statement.to_string(), "RevisionId": policy.revision_id}))
    })
}

pub fn remove_layer_version_permission(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let sid = member_str(input, "StatementId").unwrap_or_default().to_string();
    with_policy(lambda, ctx, input, |policy, _| {
        check_policy_revision(input, policy.as_ref())?;
        let current = policy.as_mut().ok_or_else(|| error::not_found(format!("Statement {sid} is not found in resource policy.")))?;
        let before = current.statements.len();
        current.statements.retain(|s| s["Sid"] != sid);
        if current.statements.len() == before {
            return Err(error::not_found(format!("Statement {sid} is not found in resource policy.")));
        }
        if current.statements.is_empty() {
            *policy = None;
        } else {
            current.revision_id = new_revision();
        }
        Ok(Value::Null)
    })
}

pub fn get_layer_version_policy(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let name = layer_name(member_str(input, "LayerName").unwrap_or_default());
    let number = version_number(input)?;
    let store = lambda.store.read();
    let version = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.layers.get(&name))
        .and_then(|l| l.versions.get(&number))
        .ok_or_else(|| version_missing(ctx, &name, number))?;
    let policy = version.policy.as_ref().ok_or_else(|| error::not_found("No policy is associated with the given resource."))?;
    Ok(json!({"Policy": super::permissions::document(&policy.statements), "RevisionId": policy.revision_id}))
}
