//! Layers: versioned archives functions mount under `/opt`, with their own resource policies.
//!
//! Version numbers are never reused: a layer whose versions were all deleted keeps its record
//! (hidden from ListLayers) so the next publish continues the count, as AWS does.
//!
//! `LayerName` may be a name or a layer ARN. Another account's layer version can be read when its
//! policy grants the caller's account (`AddLayerVersionPermission`); everything else on another
//! account's layer is denied.

use nimbus_core::{AwsError, RequestContext};
use serde_json::{json, Map, Value};

use super::{new_revision, page, timestamp};
use crate::code;
use crate::error::{self, Result};
use crate::state::{Layer, LayerVersion, Policy};
use crate::{member, member_str, Lambda};

/// Where a layer lives: the owner's account and region, and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LayerLoc {
    account: String,
    region: String,
    name: String,
}

impl LayerLoc {
    fn arn(&self) -> String {
        format!("arn:aws:lambda:{}:{}:layer:{}", self.region, self.account, self.name)
    }

    fn version_arn(&self, version: u64) -> String {
        format!("{}:{version}", self.arn())
    }

    fn owned_by(&self, ctx: &RequestContext) -> bool {
        self.account == ctx.account
    }
}

/// Resolve a `LayerName` (a name or a layer ARN) against the caller.
fn locate(ctx: &RequestContext, raw: &str) -> LayerLoc {
    if let Some(arn) = nimbus_core::arn::Arn::parse(raw) {
        if let Some(rest) = arn.resource.strip_prefix("layer:") {
            return LayerLoc {
                account: arn.account,
                region: arn.region,
                name: rest.split(':').next().unwrap_or_default().to_string(),
            };
        }
    }
    LayerLoc { account: ctx.account.clone(), region: ctx.region.clone(), name: raw.to_string() }
}

fn layer_input(ctx: &RequestContext, input: &Value) -> LayerLoc {
    locate(ctx, member_str(input, "LayerName").unwrap_or_default())
}

fn version_number(input: &Value) -> Result<u64> {
    let n = member(input, "VersionNumber").and_then(Value::as_i64).unwrap_or(0);
    if n < 1 {
        return Err(error::invalid_parameter("Layer Version Cannot be less than 1"));
    }
    Ok(n as u64)
}

fn not_found() -> AwsError {
    error::not_found("The resource you requested does not exist.")
}

fn version_missing(loc: &LayerLoc, version: u64) -> AwsError {
    error::not_found(format!("Layer version {} does not exist.", loc.version_arn(version)))
}

/// AWS's answer to an operation on another account's layer that no policy allows.
fn denied(ctx: &RequestContext, action: &str, resource: &str) -> AwsError {
    AwsError::new(
        403,
        "AccessDeniedException",
        format!(
            "User: arn:aws:iam::{}:root is not authorized to perform: lambda:{action} on resource: {resource} because no resource-based policy allows the lambda:{action} action",
            ctx.account
        ),
    )
}

/// Whether a layer version's policy lets `account` use it (`lambda:GetLayerVersion`). Statements
/// limited to an organization are not honoured: nimbus has no organizations.
pub fn grants(version: &LayerVersion, account: &str) -> bool {
    let root = format!("arn:aws:iam::{account}:root");
    version.policy.as_ref().is_some_and(|policy| {
        policy.statements.iter().any(|s| {
            let principal_ok = s["Principal"] == "*" || s["Principal"]["AWS"] == root.as_str();
            principal_ok && s.get("Condition").is_none()
        })
    })
}

/// The fields every rendering of a layer version shares (ListLayerVersions' items).
fn summary(loc: &LayerLoc, v: &LayerVersion) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("LayerVersionArn".into(), json!(loc.version_arn(v.version)));
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

/// PublishLayerVersion / GetLayerVersion / GetLayerVersionByArn output.
fn full(ctx: &RequestContext, loc: &LayerLoc, v: &LayerVersion) -> Value {
    let mut out = Map::new();
    out.insert(
        "Content".into(),
        json!({"Location": code::download_url(ctx, &v.code), "CodeSha256": code::code_sha256(&v.code), "CodeSize": v.code.size}),
    );
    out.insert("LayerArn".into(), json!(loc.arn()));
    out.extend(summary(loc, v));
    Value::Object(out)
}

fn strings(input: &Value, name: &str) -> Option<Vec<String>> {
    member(input, name).and_then(|v| serde_json::from_value(v.clone()).ok())
}

pub fn publish_layer_version(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let loc = layer_input(ctx, input);
    if !loc.owned_by(ctx) || loc.region != ctx.region {
        return Err(denied(ctx, "PublishLayerVersion", &loc.arn()));
    }
    let content = member(input, "Content").cloned().unwrap_or(json!({}));
    let code = if let Some(zip) = member_str(&content, "ZipFile") {
        code::store_zip(lambda, &code::decode_zip_member(zip)?)?
    } else if member_str(&content, "S3Bucket").is_some() || member_str(&content, "S3Key").is_some() {
        code::store_from_s3(lambda, ctx, &content)?
    } else {
        return Err(error::invalid_parameter("Please provide a source for layer content."));
    };
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let layer = region.layers.entry(loc.name.clone()).or_insert_with(|| Layer {
        name: loc.name.clone(),
        versions: Default::default(),
        next_version: 1,
    });
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
    let out = full(ctx, &loc, &version);
    layer.next_version += 1;
    layer.versions.insert(version.version, version);
    lambda.save_layer(ctx, &loc.name, Some(layer))?;
    Ok(out)
}

/// Read a layer version the caller may use (its own, or another account's that grants it).
fn read_version(lambda: &Lambda, ctx: &RequestContext, loc: &LayerLoc, number: u64) -> Result<Value> {
    if loc.region != ctx.region {
        return Err(not_found());
    }
    let store = lambda.store.read();
    let version = store
        .region(&loc.account, &loc.region)
        .and_then(|r| r.layers.get(&loc.name))
        .and_then(|l| l.versions.get(&number));
    match version {
        Some(v) if loc.owned_by(ctx) || grants(v, &ctx.account) => Ok(full(ctx, loc, v)),
        _ if !loc.owned_by(ctx) => Err(denied(ctx, "GetLayerVersion", &loc.version_arn(number))),
        _ => Err(not_found()),
    }
}

pub fn get_layer_version(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let number = version_number(input)?;
    read_version(lambda, ctx, &layer_input(ctx, input), number)
}

pub fn get_layer_version_by_arn(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    // The model's pattern guarantees `arn:…:layer:<name>:<version>`.
    let raw = member_str(input, "Arn").unwrap_or_default();
    let (layer, number) = raw.rsplit_once(':').ok_or_else(not_found)?;
    let number: u64 = number.parse().map_err(|_| not_found())?;
    read_version(lambda, ctx, &locate(ctx, layer), number)
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
                    let loc =
                        LayerLoc { account: ctx.account.clone(), region: ctx.region.clone(), name: layer.name.clone() };
                    Some(json!({
                        "LayerName": layer.name,
                        "LayerArn": loc.arn(),
                        "LatestMatchingVersion": Value::Object(summary(&loc, latest)),
                    }))
                })
                .collect()
        })
        .unwrap_or_default();
    page("Layers", &items, input, 50, Value::clone)
}

pub fn list_layer_versions(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let loc = layer_input(ctx, input);
    if !loc.owned_by(ctx) {
        return Err(denied(ctx, "ListLayerVersions", &loc.arn()));
    }
    let store = lambda.store.read();
    let items: Vec<Value> = store
        .region(&ctx.account, &ctx.region)
        .filter(|_| loc.region == ctx.region)
        .and_then(|r| r.layers.get(&loc.name))
        .map(|layer| {
            layer
                .versions
                .values()
                .rev()
                .filter(|v| matches(v, input))
                .map(|v| Value::Object(summary(&loc, v)))
                .collect()
        })
        .unwrap_or_default();
    page("LayerVersions", &items, input, 50, Value::clone)
}

pub fn delete_layer_version(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let number = version_number(input)?;
    let loc = layer_input(ctx, input);
    if !loc.owned_by(ctx) {
        return Err(denied(ctx, "DeleteLayerVersion", &loc.version_arn(number)));
    }
    if loc.region != ctx.region {
        return Ok(Value::Null);
    }
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    // Deleting what is not there succeeds. The layer record stays even when its last version
    // goes, so version numbers are never reused. Functions keep the code of versions they use.
    if let Some(layer) = region.layers.get_mut(&loc.name) {
        if layer.versions.remove(&number).is_some() {
            lambda.save_layer(ctx, &loc.name, Some(layer))?;
        }
    }
    Ok(Value::Null)
}

/// Run `change` on the policy of an existing layer version of the caller's and persist it.
fn with_policy<T>(
    lambda: &Lambda,
    ctx: &RequestContext,
    input: &Value,
    action: &str,
    change: impl FnOnce(&mut Option<Policy>, &str) -> Result<T>,
) -> Result<T> {
    let number = version_number(input)?;
    let loc = layer_input(ctx, input);
    if !loc.owned_by(ctx) {
        return Err(denied(ctx, action, &loc.version_arn(number)));
    }
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let layer = region
        .layers
        .get_mut(&loc.name)
        .filter(|_| loc.region == ctx.region)
        .ok_or_else(|| version_missing(&loc, number))?;
    let version = layer.versions.get_mut(&number).ok_or_else(|| version_missing(&loc, number))?;
    let out = change(&mut version.policy, &loc.version_arn(number))?;
    lambda.save_layer(ctx, &loc.name, Some(layer))?;
    Ok(out)
}

fn check_policy_revision(input: &Value, policy: Option<&Policy>) -> Result<()> {
    match member_str(input, "RevisionId") {
        Some(expected) if policy.is_none_or(|p| p.revision_id != expected) => Err(error::precondition_failed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id",
        )),
        _ => Ok(()),
    }
}

fn has_sid(policy: Option<&Policy>, sid: &str) -> bool {
    policy.is_some_and(|p| p.statements.iter().any(|s| s["Sid"] == sid))
}

/// A layer statement: Sid, Effect, Principal, Action, Resource[, Condition].
fn layer_statement(input: &Value, sid: &str, resource: &str) -> Value {
    let principal = match member_str(input, "Principal").unwrap_or_default() {
        "*" => json!("*"),
        arn if arn.starts_with("arn:") => json!({"AWS": arn}),
        account => json!({"AWS": format!("arn:aws:iam::{account}:root")}),
    };
    let mut statement = Map::new();
    statement.insert("Sid".into(), json!(sid));
    statement.insert("Effect".into(), json!("Allow"));
    statement.insert("Principal".into(), principal);
    statement.insert("Action".into(), json!(member_str(input, "Action").unwrap_or_default()));
    statement.insert("Resource".into(), json!(resource));
    if let Some(org) = member_str(input, "OrganizationId").filter(|o| !o.is_empty()) {
        statement.insert("Condition".into(), json!({"StringEquals": {"aws:PrincipalOrgID": org}}));
    }
    Value::Object(statement)
}

pub fn add_layer_version_permission(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let sid = member_str(input, "StatementId").unwrap_or_default().to_string();
    with_policy(lambda, ctx, input, "AddLayerVersionPermission", |policy, resource| {
        if has_sid(policy.as_ref(), &sid) {
            return Err(error::conflict(format!(
                "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
            )));
        }
        check_policy_revision(input, policy.as_ref())?;
        let statement = layer_statement(input, &sid, resource);
        let policy = policy.get_or_insert_with(Policy::default);
        policy.statements.push(statement.clone());
        policy.revision_id = new_revision();
        Ok(json!({"Statement": statement.to_string(), "RevisionId": policy.revision_id}))
    })
}

pub fn remove_layer_version_permission(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let sid = member_str(input, "StatementId").unwrap_or_default().to_string();
    with_policy(lambda, ctx, input, "RemoveLayerVersionPermission", |policy, _| {
        check_policy_revision(input, policy.as_ref())?;
        if !has_sid(policy.as_ref(), &sid) {
            return Err(error::not_found(format!("Statement {sid} is not found in resource policy.")));
        }
        let current = policy.as_mut().expect("has the statement");
        current.statements.retain(|s| s["Sid"] != sid.as_str());
        current.revision_id = new_revision();
        if current.statements.is_empty() {
            *policy = None;
        }
        Ok(Value::Null)
    })
}

pub fn get_layer_version_policy(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let number = version_number(input)?;
    let loc = layer_input(ctx, input);
    if !loc.owned_by(ctx) {
        return Err(denied(ctx, "GetLayerVersionPolicy", &loc.version_arn(number)));
    }
    let store = lambda.store.read();
    let version = store
        .region(&ctx.account, &ctx.region)
        .filter(|_| loc.region == ctx.region)
        .and_then(|r| r.layers.get(&loc.name))
        .and_then(|l| l.versions.get(&number))
        .ok_or_else(|| version_missing(&loc, number))?;
    let policy = version
        .policy
        .as_ref()
        .filter(|p| !p.statements.is_empty())
        .ok_or_else(|| error::not_found("No policy is associated with the given resource."))?;
    Ok(json!({"Policy": super::permissions::document(&policy.statements), "RevisionId": policy.revision_id}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::permissions::tests::{ctx, ctx_in, lambda, zip_b64};

    fn publish(l: &Lambda, c: &RequestContext, name: &str, extra: Value) -> Value {
        let mut input = json!({"LayerName": name, "Content": {"ZipFile": zip_b64(b"x = 1\n")}});
        input.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        publish_layer_version(l, c, &input).expect("published")
    }

    #[test]
    fn publish_renders_the_version_and_numbers_are_never_reused() {
        let (l, c) = (lambda(), ctx());
        let v1 =
            publish(&l, &c, "lib", json!({"CompatibleRuntimes": ["python3.12", "nodejs20.x"], "LicenseInfo": "MIT"}));
        assert_eq!(v1["Version"], 1);
        assert_eq!(v1["LayerArn"], "arn:aws:lambda:us-east-1:123456789012:layer:lib");
        assert_eq!(v1["LayerVersionArn"], "arn:aws:lambda:us-east-1:123456789012:layer:lib:1");
        assert_eq!(v1["Description"], "");
        assert_eq!(v1["CompatibleRuntimes"], json!(["python3.12", "nodejs20.x"]));
        assert_eq!(v1["LicenseInfo"], "MIT");
        assert!(v1.get("CompatibleArchitectures").is_none());
        let created = v1["CreatedDate"].as_str().unwrap();
        assert!(created.ends_with("+0000") && created.len() == "2024-01-01T00:00:00.000+0000".len(), "{created}");
        let content = &v1["Content"];
        assert!(content["Location"].as_str().unwrap().starts_with("http://localhost:4566/_nimbus/lambda/code/"));
        assert!(content["CodeSize"].as_u64().unwrap() > 0);
        assert_eq!(content["CodeSha256"].as_str().unwrap().len(), 44);

        let empty = publish(&l, &c, "lib", json!({"CompatibleArchitectures": []}));
        assert_eq!(empty["Version"], 2);
        assert_eq!(empty["CompatibleArchitectures"], json!([]));

        for n in [1, 2] {
            delete_layer_version(&l, &c, &json!({"LayerName": "lib", "VersionNumber": n})).unwrap();
        }
        // Deleting again, or a layer that never existed, succeeds.
        delete_layer_version(&l, &c, &json!({"LayerName": "lib", "VersionNumber": 1})).unwrap();
        delete_layer_version(&l, &c, &json!({"LayerName": "nothing", "VersionNumber": 1})).unwrap();
        assert_eq!(list_layers(&l, &c, &json!({})).unwrap(), json!({"Layers": []}));
        assert_eq!(publish(&l, &c, "lib", json!({}))["Version"], 3);
    }

    #[test]
    fn get_by_name_arn_and_version_arn() {
        let (l, c) = (lambda(), ctx());
        let v1 = publish(&l, &c, "lib", json!({"Description": "d"}));
        let by_name = get_layer_version(&l, &c, &json!({"LayerName": "lib", "VersionNumber": 1})).unwrap();
        assert_eq!(by_name, v1);
        let by_layer_arn =
            get_layer_version(&l, &c, &json!({"LayerName": v1["LayerArn"], "VersionNumber": 1})).unwrap();
        assert_eq!(by_layer_arn, v1);
        let by_arn = get_layer_version_by_arn(&l, &c, &json!({"Arn": v1["LayerVersionArn"]})).unwrap();
        assert_eq!(by_arn, v1);

        let err = get_layer_version(&l, &c, &json!({"LayerName": "lib", "VersionNumber": 0})).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.message.as_str()),
            ("InvalidParameterValueException", "Layer Version Cannot be less than 1")
        );
        for input in [json!({"LayerName": "lib", "VersionNumber": 9}), json!({"LayerName": "nope", "VersionNumber": 1})]
        {
            let err = get_layer_version(&l, &c, &input).unwrap_err();
            assert_eq!((err.status, err.message.as_str()), (404, "The resource you requested does not exist."));
        }
        let err =
            get_layer_version_by_arn(&l, &c, &json!({"Arn": "arn:aws:lambda:us-east-1:123456789012:layer:lib:7"}))
                .unwrap_err();
        assert_eq!(err.message, "The resource you requested does not exist.");
    }

    #[test]
    fn listings_filter_and_order() {
        let (l, c) = (lambda(), ctx());
        publish(&l, &c, "a", json!({"CompatibleRuntimes": ["python3.12"], "CompatibleArchitectures": ["x86_64"]}));
        publish(&l, &c, "a", json!({"CompatibleRuntimes": ["nodejs20.x"], "CompatibleArchitectures": ["arm64"]}));
        publish(&l, &c, "b", json!({"CompatibleRuntimes": ["python3.12"]}));

        let all = list_layers(&l, &c, &json!({})).unwrap();
        let names: Vec<(&str, u64)> = all["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x["LayerName"].as_str().unwrap(), x["LatestMatchingVersion"]["Version"].as_u64().unwrap()))
            .collect();
        assert_eq!(names, [("a", 2), ("b", 1)]);
        let item = &all["Layers"][0];
        assert_eq!(item["LayerArn"], "arn:aws:lambda:us-east-1:123456789012:layer:a");
        assert!(item["LatestMatchingVersion"].get("Content").is_none());

        let py = list_layers(&l, &c, &json!({"CompatibleRuntime": "python3.12"})).unwrap();
        let versions: Vec<u64> = py["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["LatestMatchingVersion"]["Version"].as_u64().unwrap())
            .collect();
        assert_eq!(versions, [1, 1]);
        let arm = list_layers(&l, &c, &json!({"CompatibleArchitecture": "arm64"})).unwrap();
        assert_eq!(arm["Layers"].as_array().unwrap().len(), 1);

        let versions = list_layer_versions(&l, &c, &json!({"LayerName": "a"})).unwrap();
        let numbers: Vec<u64> =
            versions["LayerVersions"].as_array().unwrap().iter().map(|v| v["Version"].as_u64().unwrap()).collect();
        assert_eq!(numbers, [2, 1]);
        assert!(versions["LayerVersions"][0].get("LayerArn").is_none());
        assert!(versions["LayerVersions"][0].get("Content").is_none());

        let first = list_layer_versions(&l, &c, &json!({"LayerName": "a", "MaxItems": 1})).unwrap();
        assert_eq!(first["LayerVersions"][0]["Version"], 2);
        let rest =
            list_layer_versions(&l, &c, &json!({"LayerName": "a", "MaxItems": 1, "Marker": first["NextMarker"]}))
                .unwrap();
        assert_eq!(rest["LayerVersions"][0]["Version"], 1);
        assert!(rest.get("NextMarker").is_none());
        assert_eq!(list_layer_versions(&l, &c, &json!({"LayerName": "zzz"})).unwrap(), json!({"LayerVersions": []}));
    }

    #[test]
    fn layer_policies() {
        let (l, c) = (lambda(), ctx());
        publish(&l, &c, "lib", json!({}));
        let input = |sid: &str, principal: &str| json!({"LayerName": "lib", "VersionNumber": 1, "StatementId": sid, "Action": "lambda:GetLayerVersion", "Principal": principal});
        let err = get_layer_version_policy(&l, &c, &json!({"LayerName": "lib", "VersionNumber": 1})).unwrap_err();
        assert_eq!(err.message, "No policy is associated with the given resource.");
        let err =
            add_layer_version_permission(&l, &c, &json!({"LayerName": "lib", "VersionNumber": 5, "StatementId": "s"}))
                .unwrap_err();
        assert_eq!(err.message, "Layer version arn:aws:lambda:us-east-1:123456789012:layer:lib:5 does not exist.");

        let added = add_layer_version_permission(&l, &c, &input("s1", "*")).unwrap();
        assert_eq!(
            added["Statement"],
            r#"{"Sid":"s1","Effect":"Allow","Principal":"*","Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:123456789012:layer:lib:1"}"#
        );
        let mut org = input("s2", "*");
        org["OrganizationId"] = json!("o-abcdefghij");
        let with_org = add_layer_version_permission(&l, &c, &org).unwrap();
        let statement: Value = serde_json::from_str(with_org["Statement"].as_str().unwrap()).unwrap();
        assert_eq!(statement["Condition"], json!({"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}));
        let account = add_layer_version_permission(&l, &c, &input("s3", "210987654321")).unwrap();
        let statement: Value = serde_json::from_str(account["Statement"].as_str().unwrap()).unwrap();
        assert_eq!(statement["Principal"], json!({"AWS": "arn:aws:iam::210987654321:root"}));

        let got = get_layer_version_policy(&l, &c, &json!({"LayerName": "lib", "VersionNumber": 1})).unwrap();
        assert_eq!(got["RevisionId"], account["RevisionId"]);
        let doc: Value = serde_json::from_str(got["Policy"].as_str().unwrap()).unwrap();
        assert_eq!((doc["Version"].as_str(), doc["Id"].as_str()), (Some("2012-10-17"), Some("default")));
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 3);

        let dup = add_layer_version_permission(&l, &c, &input("s1", "*")).unwrap_err();
        assert_eq!(dup.status, 409);
        assert_eq!(
            dup.message,
            "The statement id (s1) provided already exists. Please provide a new statement id, or remove the existing statement."
        );
        let mut stale = input("s4", "*");
        stale["RevisionId"] = json!("wrong");
        let err = add_layer_version_permission(&l, &c, &stale).unwrap_err();
        assert_eq!(err.status, 412);
        assert!(err.message.ends_with("Call the GetLayerPolicy API to retrieve the latest Revision Id"));

        let remove = |sid: &str| {
            remove_layer_version_permission(
                &l,
                &c,
                &json!({"LayerName": "lib", "VersionNumber": 1, "StatementId": sid}),
            )
        };
        assert_eq!(
            remove("doesnotexist").unwrap_err().message,
            "Statement doesnotexist is not found in resource policy."
        );
        for sid in ["s1", "s2", "s3"] {
            remove(sid).unwrap();
        }
        let err = get_layer_version_policy(&l, &c, &json!({"LayerName": "lib", "VersionNumber": 1})).unwrap_err();
        assert_eq!(err.message, "No policy is associated with the given resource.");
    }

    #[test]
    fn other_accounts_read_only_what_is_shared() {
        let l = lambda();
        let (owner, other) = (ctx(), ctx_in("210987654321", "us-east-1"));
        let v1 = publish(&l, &owner, "shared", json!({}));
        let arn = v1["LayerVersionArn"].clone();
        let err = get_layer_version_by_arn(&l, &other, &json!({"Arn": arn})).unwrap_err();
        assert_eq!(err.code, "AccessDeniedException");
        add_layer_version_permission(
            &l,
            &owner,
            &json!({"LayerName": "shared", "VersionNumber": 1, "StatementId": "x", "Action": "lambda:GetLayerVersion", "Principal": "210987654321"}),
        )
        .unwrap();
        let seen = get_layer_version_by_arn(&l, &other, &json!({"Arn": arn})).unwrap();
        assert_eq!(seen["LayerVersionArn"], arn);
        let err =
            delete_layer_version(&l, &other, &json!({"LayerName": v1["LayerArn"], "VersionNumber": 1})).unwrap_err();
        assert_eq!(err.status, 403);
        assert!(get_layer_version(&l, &owner, &json!({"LayerName": "shared", "VersionNumber": 1})).is_ok());
    }

    #[test]
    fn s3_content_is_refused_clearly() {
        let (l, c) = (lambda(), ctx());
        let err = publish_layer_version(&l, &c, &json!({"LayerName": "x", "Content": {"S3Bucket": "b", "S3Key": "k"}}))
            .unwrap_err();
        assert_eq!(err.code, "InvalidParameterValueException");
        assert!(err.message.contains("S3"));
    }
}
