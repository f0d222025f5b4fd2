//! `AWS::Lambda::*` through Lambda's REST-JSON API.

use std::io::Write as _;

use base64::Engine as _;
use http::Method;
use serde_json::{json, Map, Value};

use super::{coerce, failure, pick, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::api::{seg, ApiResult};
use crate::boxed;
use crate::state::Resource;

const NUMBERS: &[&str] = &[
    "Timeout",
    "MemorySize",
    "Size",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "ParallelizationFactor",
    "TumblingWindowInSeconds",
    "MaximumConcurrency",
    "ReservedConcurrentExecutions",
    "ProvisionedConcurrentExecutions",
    "AdditionalVersionWeights",
    "FunctionWeight",
    "MaxAge",
    "MaximumEventAgeInSeconds",
];
const BOOLEANS: &[&str] = &["Enabled", "BisectBatchOnFunctionError", "AllowCredentials"];

/// Function configuration members CloudFormation passes to CreateFunction/UpdateFunctionConfiguration.
const CONFIG: &[&str] = &[
    "Role",
    "Handler",
    "Runtime",
    "Description",
    "Timeout",
    "MemorySize",
    "Environment",
    "Layers",
    "TracingConfig",
    "DeadLetterConfig",
    "VpcConfig",
    "EphemeralStorage",
    "FileSystemConfigs",
    "ImageConfig",
    "LoggingConfig",
    "SnapStart",
    "RuntimeManagementConfig",
];

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            type_name: "AWS::Lambda::Function",
            replace_on: &["FunctionName", "PackageType"],
            create: boxed!(create_function),
            update: Some(boxed!(update_function, 3)),
            delete: |cx, r| Box::pin(delete_function(cx, r)),
            name_property: Some("FunctionName"),
        },
        Spec {
            type_name: "AWS::Lambda::Permission",
            replace_on: &["*"],
            create: boxed!(create_permission),
            update: None,
            delete: |cx, r| Box::pin(delete_permission(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::Lambda::Version",
            replace_on: &["*"],
            create: boxed!(create_version),
            update: None,
            delete: |cx, r| Box::pin(delete_version(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::Lambda::Alias",
            replace_on: &["FunctionName", "Name"],
            create: boxed!(create_alias),
            update: Some(boxed!(update_alias, 3)),
            delete: |cx, r| Box::pin(delete_alias(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::Lambda::EventSourceMapping",
            replace_on: &[
                "EventSourceArn",
                "StartingPosition",
                "StartingPositionTimestamp",
                "SelfManagedEventSource",
                "Topics",
                "Queues",
            ],
            create: boxed!(create_esm),
            update: Some(boxed!(update_esm, 3)),
            delete: |cx, r| Box::pin(delete_esm(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::Lambda::Url",
            replace_on: &["TargetFunctionArn", "Qualifier"],
            create: boxed!(create_url),
            update: Some(boxed!(update_url, 3)),
            delete: |cx, r| Box::pin(delete_url(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::Lambda::LayerVersion",
            replace_on: &["*"],
            create: boxed!(create_layer_version),
            update: None,
            delete: |cx, r| Box::pin(delete_layer_version(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::Lambda::LayerVersionPermission",
            replace_on: &["*"],
            create: boxed!(create_layer_permission),
            update: None,
            delete: |_cx, _r| Box::pin(async { Ok(()) }),
            name_property: None,
        },
        Spec {
            type_name: "AWS::Lambda::EventInvokeConfig",
            replace_on: &["FunctionName", "Qualifier"],
            create: boxed!(put_invoke_config),
            update: Some(|cx, _r, p| Box::pin(put_invoke_config(cx, p))),
            delete: |cx, r| Box::pin(delete_invoke_config(cx, r)),
            name_property: None,
        },
    ]
}

async fn rest(
    cx: &Cx,
    method: Method,
    path: &str,
    query: Vec<(String, String)>,
    body: Option<Value>,
) -> ApiResult<Value> {
    cx.api.rest("lambda", method, path, query, body).await
}

fn props_of(props: &Value) -> Value {
    let mut p = props.clone();
    coerce(&mut p, NUMBERS, BOOLEANS);
    p
}

/// Inline source (`Code.ZipFile`) as the archive AWS builds: `index.py` or `index.js`, with
/// AWS's response helper module for custom resources beside it.
fn inline_zip(runtime: &str, source: &str) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
        let (file, helper_name, helper) = if runtime.starts_with("python") {
            ("index.py", "cfnresponse.py", crate::custom::CFNRESPONSE_PY)
        } else {
            ("index.js", "cfn-response.js", crate::custom::CFN_RESPONSE_JS)
        };
        let _ = zip.start_file(file, opts);
        let _ = zip.write_all(source.as_bytes());
        let _ = zip.start_file(helper_name, opts);
        let _ = zip.write_all(helper.as_bytes());
        let _ = zip.finish();
    }
    buf.into_inner()
}

/// The `Code` member for Lambda, from the template's `Code` (inline source, S3 or image).
async fn code_member(cx: &Cx, props: &Value) -> Result<Value, String> {
    let code = props.get("Code").cloned().unwrap_or(Value::Null);
    if let Some(source) = code.get("ZipFile").and_then(Value::as_str) {
        let runtime = str_prop(props, "Runtime").unwrap_or_default();
        let zip = inline_zip(&runtime, source);
        return Ok(json!({"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)}));
    }
    if code.get("S3Bucket").is_some() || code.get("ImageUri").is_some() {
        return Ok(Value::Object(pick(
            &code,
            &["S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri", "SourceKMSKeyArn"],
        )));
    }
    let _ = cx;
    Err("Properties validation failed for resource: #/Code: required key [ZipFile] not found".into())
}

/// Fetch an S3-hosted archive through S3's API, for a Lambda that takes code only inline.
async fn inline_from_s3(cx: &Cx, code: &Value) -> Result<Value, String> {
    let bucket = code.get("S3Bucket").and_then(Value::as_str).unwrap_or_default();
    let key = code.get("S3Key").and_then(Value::as_str).unwrap_or_default();
    let path = format!("/{}/{}", seg(bucket), key.split('/').map(seg).collect::<Vec<_>>().join("/"));
    let mut query = Vec::new();
    if let Some(v) = code.get("S3ObjectVersion").and_then(Value::as_str) {
        query.push(("versionId".to_string(), v.to_string()));
    }
    let bytes = cx
        .api
        .raw("s3", Method::GET, &path, query, "application/octet-stream", Vec::new())
        .await
        .map_err(|e| failure(&e))?;
    Ok(json!({"ZipFile": base64::engine::general_purpose::STANDARD.encode(&bytes)}))
}

fn s3_not_supported(e: &crate::api::ApiError) -> bool {
    e.message.contains("not supported by nimbus")
}

fn function_created(out: &Value) -> Created {
    let name = out["FunctionName"].as_str().unwrap_or_default().to_string();
    let mut c = Created::named(name).attr("Arn", out["FunctionArn"].clone());
    if let Some(s) = out.get("SnapStart") {
        c = c.attr("SnapStartResponse", s.clone());
        if let Some(v) = s.get("ApplyOn") {
            c = c.attr("SnapStartResponse.ApplyOn", v.clone());
        }
        if let Some(v) = s.get("OptimizationStatus") {
            c = c.attr("SnapStartResponse.OptimizationStatus", v.clone());
        }
    }
    c
}

async fn create_function(cx: Cx, props: Value) -> Outcome {
    let props = props_of(&props);
    let name = str_prop(&props, "FunctionName").unwrap_or_else(|| cx.generated_name(64));
    let mut body = Value::Object(pick(&props, CONFIG));
    body["FunctionName"] = Value::String(name.clone());
    body["Code"] = code_member(&cx, &props).await?;
    for (from, to) in [
        ("Architectures", "Architectures"),
        ("PackageType", "PackageType"),
        ("KmsKeyArn", "KMSKeyArn"),
        ("CodeSigningConfigArn", "CodeSigningConfigArn"),
    ] {
        if let Some(v) = props.get(from) {
            body[to] = v.clone();
        }
    }
    let tags = cx.tag_list(&props);
    if !tags.is_empty() {
        body["Tags"] = Value::Object(tags.into_iter().map(|(k, v)| (k, Value::String(v))).collect());
    }
    let out = match rest(&cx, Method::POST, "/2015-03-31/functions", vec![], Some(body.clone())).await {
        Err(e) if s3_not_supported(&e) => {
            body["Code"] = inline_from_s3(&cx, &body["Code"]).await?;
            rest(&cx, Method::POST, "/2015-03-31/functions", vec![], Some(body)).await
        }
        other => other,
    }
    .map_err(|e| failure(&e))?;
    wait_updated(&cx, &name).await?;
    if let Some(n) = props.get("ReservedConcurrentExecutions") {
        let path = format!("/2017-10-31/functions/{}/concurrency", seg(&name));
        rest(&cx, Method::PUT, &path, vec![], Some(json!({"ReservedConcurrentExecutions": n})))
            .await
            .map_err(|e| failure(&e))?;
    }
    Ok(function_created(&out))
}

async fn update_function(cx: Cx, current: Resource, props: Value) -> Outcome {
    let props = props_of(&props);
    let name = current.physical_id.clone().unwrap_or_default();
    let old = props_of(&current.properties);
    let mut code_updated = None;
    if old.get("Code") != props.get("Code") || old.get("Runtime") != props.get("Runtime") {
        let mut code = code_member(&cx, &props).await?;
        if let Some(a) = props.get("Architectures") {
            code["Architectures"] = a.clone();
        }
        let path = format!("/2015-03-31/functions/{}/code", seg(&name));
        let result = match rest(&cx, Method::PUT, &path, vec![], Some(code.clone())).await {
            Err(e) if s3_not_supported(&e) => {
                let inline = inline_from_s3(&cx, &code).await?;
                rest(&cx, Method::PUT, &path, vec![], Some(inline)).await
            }
            other => other,
        };
        code_updated = Some(result.map_err(|e| failure(&e))?);
        wait_updated(&cx, &name).await?;
    }
    let out = match code_updated {
        // A code-only change needs no configuration update (each one waits for Lambda to apply it).
        Some(out) if pick(&props, CONFIG) == pick(&old, CONFIG) => out,
        _ => update_configuration(&cx, &name, &old, &props).await?,
    };
    let concurrency = format!("/2017-10-31/functions/{}/concurrency", seg(&name));
    match props.get("ReservedConcurrentExecutions") {
        Some(n) => {
            rest(&cx, Method::PUT, &concurrency, vec![], Some(json!({"ReservedConcurrentExecutions": n})))
                .await
                .map_err(|e| failure(&e))?;
        }
        None if old.get("ReservedConcurrentExecutions").is_some() => {
            rest(&cx, Method::DELETE, &concurrency, vec![], None).await.map_err(|e| failure(&e))?;
        }
        None => {}
    }
    Ok(function_created(&out))
}

/// UpdateFunctionConfiguration with the template's configuration, waited for.
async fn update_configuration(cx: &Cx, name: &str, old: &Value, props: &Value) -> Result<Value, String> {
    let mut config = Value::Object(pick(props, CONFIG));
    // Members removed from the template go back to Lambda's defaults.
    for (member, default) in [
        ("Description", json!("")),
        ("Timeout", json!(3)),
        ("MemorySize", json!(128)),
        ("Environment", json!({"Variables": {}})),
        ("Layers", json!([])),
    ] {
        if old.get(member).is_some() && props.get(member).is_none() {
            config[member] = default;
        }
    }
    let path = format!("/2015-03-31/functions/{}/configuration", seg(name));
    let out = rest(cx, Method::PUT, &path, vec![], Some(config)).await.map_err(|e| failure(&e))?;
    wait_updated(cx, name).await?;
    Ok(out)
}

/// Wait, as CloudFormation does, until Lambda has created the function (`State` no longer
/// `Pending`) and applied its last update (`LastUpdateStatus` no longer `InProgress`): before
/// that it refuses invocations (custom resources), versions and further updates.
async fn wait_updated(cx: &Cx, name: &str) -> Result<(), String> {
    let path = format!("/2015-03-31/functions/{}", seg(name));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let out = rest(cx, Method::GET, &path, vec![], None).await.map_err(|e| failure(&e))?;
        let config = &out["Configuration"];
        let busy = config["State"] == "Pending" || config["LastUpdateStatus"] == "InProgress";
        match busy {
            true if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            true => return Err(format!("Function {name} did not become active")),
            false => return Ok(()),
        }
    }
}

async fn delete_function(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    tolerate_gone(
        rest(&cx, Method::DELETE, &format!("/2015-03-31/functions/{}", seg(&name)), vec![], None).await.map(|_| ()),
    )
}

async fn create_permission(cx: Cx, props: Value) -> Outcome {
    let function = str_prop(&props, "FunctionName")
        .ok_or("Properties validation failed for resource: #: required key [FunctionName] not found")?;
    let statement = cx.generated_name(100);
    let mut body = Value::Object(pick(
        &props,
        &[
            "Action",
            "Principal",
            "SourceArn",
            "SourceAccount",
            "EventSourceToken",
            "FunctionUrlAuthType",
            "PrincipalOrgID",
        ],
    ));
    body["StatementId"] = Value::String(statement.clone());
    let path = format!("/2015-03-31/functions/{}/policy", seg(&function));
    rest(&cx, Method::POST, &path, vec![], Some(body)).await.map_err(|e| failure(&e))?;
    Ok(Created::named(statement))
}

async fn delete_permission(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(statement) = r.physical_id else { return Ok(()) };
    let function = str_prop(&r.properties, "FunctionName").unwrap_or_default();
    let path = format!("/2015-03-31/functions/{}/policy/{}", seg(&function), seg(&statement));
    tolerate_gone(rest(&cx, Method::DELETE, &path, vec![], None).await.map(|_| ()))
}

async fn create_version(cx: Cx, props: Value) -> Outcome {
    let function = str_prop(&props, "FunctionName")
        .ok_or("Properties validation failed for resource: #: required key [FunctionName] not found")?;
    let body = Value::Object(pick(&props, &["Description", "CodeSha256"]));
    let path = format!("/2015-03-31/functions/{}/versions", seg(&function));
    let out = rest(&cx, Method::POST, &path, vec![], Some(body)).await.map_err(|e| failure(&e))?;
    let arn = out["FunctionArn"].as_str().unwrap_or_default().to_string();
    Ok(Created::named(arn.clone()).attr("Version", out["Version"].clone()).attr("FunctionArn", arn))
}

async fn delete_version(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(arn) = r.physical_id else { return Ok(()) };
    let Some((function, version)) = arn.rsplit_once(':') else { return Ok(()) };
    let path = format!("/2015-03-31/functions/{}", seg(function));
    let result = rest(&cx, Method::DELETE, &path, vec![("Qualifier".into(), version.into())], None).await.map(|_| ());
    // A version an alias still points at stays, as on AWS when the alias outlives it.
    match result {
        Err(e) if e.code == "ResourceConflictException" => Ok(()),
        other => tolerate_gone(other),
    }
}

async fn create_alias(cx: Cx, props: Value) -> Outcome {
    let props = props_of(&props);
    let function = str_prop(&props, "FunctionName")
        .ok_or("Properties validation failed for resource: #: required key [FunctionName] not found")?;
    let body = Value::Object(pick(&props, &["Name", "FunctionVersion", "Description", "RoutingConfig"]));
    let path = format!("/2015-03-31/functions/{}/aliases", seg(&function));
    let out = rest(&cx, Method::POST, &path, vec![], Some(body)).await.map_err(|e| failure(&e))?;
    let arn = out["AliasArn"].as_str().unwrap_or_default().to_string();
    Ok(Created::named(arn.clone()).attr("AliasArn", arn))
}

async fn update_alias(cx: Cx, current: Resource, props: Value) -> Outcome {
    let props = props_of(&props);
    let function = str_prop(&props, "FunctionName").unwrap_or_default();
    let name = str_prop(&props, "Name").unwrap_or_default();
    let mut body = Value::Object(pick(&props, &["FunctionVersion", "Description", "RoutingConfig"]));
    if props.get("RoutingConfig").is_none() && current.properties.get("RoutingConfig").is_some() {
        body["RoutingConfig"] = json!({"AdditionalVersionWeights": {}});
    }
    let path = format!("/2015-03-31/functions/{}/aliases/{}", seg(&function), seg(&name));
    let out = rest(&cx, Method::PUT, &path, vec![], Some(body)).await.map_err(|e| failure(&e))?;
    let arn = out["AliasArn"].as_str().unwrap_or_default().to_string();
    Ok(Created::named(arn.clone()).attr("AliasArn", arn))
}

async fn delete_alias(cx: Cx, r: Resource) -> Result<(), String> {
    let function = str_prop(&r.properties, "FunctionName").unwrap_or_default();
    let name = str_prop(&r.properties, "Name").unwrap_or_default();
    let path = format!("/2015-03-31/functions/{}/aliases/{}", seg(&function), seg(&name));
    tolerate_gone(rest(&cx, Method::DELETE, &path, vec![], None).await.map(|_| ()))
}

const ESM_MUTABLE: &[&str] = &[
    "FunctionName",
    "Enabled",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "ParallelizationFactor",
    "SourceAccessConfigurations",
    "TumblingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
    "DocumentDBEventSourceConfig",
    "FilterCriteria",
    "KmsKeyArn",
    "MetricsConfig",
    "ProvisionedPollerConfig",
];

fn esm_created(out: &Value) -> Created {
    let id = out["UUID"].as_str().unwrap_or_default().to_string();
    let mut c = Created::named(id.clone()).attr("Id", id);
    if let Some(arn) = out.get("EventSourceMappingArn") {
        c = c.attr("EventSourceMappingArn", arn.clone());
    }
    c
}

async fn create_esm(cx: Cx, props: Value) -> Outcome {
    let props = props_of(&props);
    let mut body = pick(&props, ESM_MUTABLE);
    body.extend(pick(
        &props,
        &[
            "EventSourceArn",
            "StartingPosition",
            "Topics",
            "Queues",
            "SelfManagedEventSource",
            "SelfManagedKafkaEventSourceConfig",
            "AmazonManagedKafkaEventSourceConfig",
        ],
    ));
    if let Some(ts) = props.get("StartingPositionTimestamp") {
        body.insert("StartingPositionTimestamp".into(), ts.clone());
    }
    let tags = cx.tag_list(&props);
    if !tags.is_empty() {
        body.insert("Tags".into(), Value::Object(tags.into_iter().map(|(k, v)| (k, Value::String(v))).collect()));
    }
    let out = rest(&cx, Method::POST, "/2015-03-31/event-source-mappings/", vec![], Some(Value::Object(body)))
        .await
        .map_err(|e| failure(&e))?;
    Ok(esm_created(&out))
}

async fn update_esm(cx: Cx, current: Resource, props: Value) -> Outcome {
    let props = props_of(&props);
    let id = current.physical_id.clone().unwrap_or_default();
    let mut body: Map<String, Value> = pick(&props, ESM_MUTABLE);
    if props.get("Enabled").is_none() && current.properties.get("Enabled").is_some() {
        body.insert("Enabled".into(), Value::Bool(true));
    }
    let path = format!("/2015-03-31/event-source-mappings/{}", seg(&id));
    let out = rest(&cx, Method::PUT, &path, vec![], Some(Value::Object(body))).await.map_err(|e| failure(&e))?;
    Ok(esm_created(&out))
}

async fn delete_esm(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(id) = r.physical_id else { return Ok(()) };
    let path = format!("/2015-03-31/event-source-mappings/{}", seg(&id));
    tolerate_gone(rest(&cx, Method::DELETE, &path, vec![], None).await.map(|_| ()))
}

fn url_target(props: &Value) -> (String, Vec<(String, String)>) {
    let target = str_prop(props, "TargetFunctionArn").unwrap_or_default();
    let query = str_prop(props, "Qualifier").map(|q| vec![("Qualifier".to_string(), q)]).unwrap_or_default();
    (format!("/2021-10-31/functions/{}/url", seg(&target)), query)
}

fn url_created(out: &Value) -> Created {
    let arn = out["FunctionArn"].as_str().unwrap_or_default().to_string();
    Created::named(arn.clone()).attr("FunctionArn", arn).attr("FunctionUrl", out["FunctionUrl"].clone())
}

async fn create_url(cx: Cx, props: Value) -> Outcome {
    let props = props_of(&props);
    let (path, query) = url_target(&props);
    let body = Value::Object(pick(&props, &["AuthType", "Cors", "InvokeMode"]));
    let out = rest(&cx, Method::POST, &path, query, Some(body)).await.map_err(|e| failure(&e))?;
    Ok(url_created(&out))
}

async fn update_url(cx: Cx, _current: Resource, props: Value) -> Outcome {
    let props = props_of(&props);
    let (path, query) = url_target(&props);
    let mut body = Value::Object(pick(&props, &["AuthType", "Cors", "InvokeMode"]));
    if props.get("Cors").is_none() {
        body["Cors"] = json!({});
    }
    let out = rest(&cx, Method::PUT, &path, query, Some(body)).await.map_err(|e| failure(&e))?;
    Ok(url_created(&out))
}

async fn delete_url(cx: Cx, r: Resource) -> Result<(), String> {
    let (path, query) = url_target(&r.properties);
    tolerate_gone(rest(&cx, Method::DELETE, &path, query, None).await.map(|_| ()))
}

async fn create_layer_version(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "LayerName").unwrap_or_else(|| cx.generated_name(64));
    let mut body =
        Value::Object(pick(&props, &["Description", "CompatibleRuntimes", "CompatibleArchitectures", "LicenseInfo"]));
    let content = props.get("Content").cloned().unwrap_or(Value::Null);
    body["Content"] = Value::Object(pick(&content, &["S3Bucket", "S3Key", "S3ObjectVersion"]));
    let path = format!("/2018-10-31/layers/{}/versions", seg(&name));
    let out = match rest(&cx, Method::POST, &path, vec![], Some(body.clone())).await {
        Err(e) if s3_not_supported(&e) => {
            body["Content"] = inline_from_s3(&cx, &content).await?;
            rest(&cx, Method::POST, &path, vec![], Some(body)).await
        }
        other => other,
    }
    .map_err(|e| failure(&e))?;
    let arn = out["LayerVersionArn"].as_str().unwrap_or_default().to_string();
    Ok(Created::named(arn.clone()).attr("LayerVersionArn", arn))
}

async fn delete_layer_version(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(arn) = r.physical_id else { return Ok(()) };
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 8 {
        return Ok(());
    }
    let path = format!("/2018-10-31/layers/{}/versions/{}", seg(parts[6]), parts[7]);
    tolerate_gone(rest(&cx, Method::DELETE, &path, vec![], None).await.map(|_| ()))
}

async fn create_layer_permission(cx: Cx, props: Value) -> Outcome {
    let arn = str_prop(&props, "LayerVersionArn").unwrap_or_default();
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 8 {
        return Err(format!("Invalid LayerVersionArn {arn}"));
    }
    let statement = cx.generated_name(100);
    let mut body = Value::Object(pick(&props, &["Action", "Principal", "OrganizationId"]));
    body["StatementId"] = Value::String(statement.clone());
    let path = format!("/2018-10-31/layers/{}/versions/{}/policy", seg(parts[6]), parts[7]);
    rest(&cx, Method::POST, &path, vec![], Some(body)).await.map_err(|e| failure(&e))?;
    Ok(Created::named(format!("{arn}#{statement}")))
}

async fn put_invoke_config(cx: Cx, props: Value) -> Outcome {
    let props = props_of(&props);
    let function = str_prop(&props, "FunctionName").unwrap_or_default();
    let qualifier = str_prop(&props, "Qualifier").unwrap_or_else(|| "$LATEST".into());
    let body = Value::Object(pick(&props, &["MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"]));
    let path = format!("/2019-09-25/functions/{}/event-invoke-config", seg(&function));
    rest(&cx, Method::PUT, &path, vec![("Qualifier".into(), qualifier.clone())], Some(body))
        .await
        .map_err(|e| failure(&e))?;
    Ok(Created::named(format!("{function}:{qualifier}")))
}

async fn delete_invoke_config(cx: Cx, r: Resource) -> Result<(), String> {
    let function = str_prop(&r.properties, "FunctionName").unwrap_or_default();
    let qualifier = str_prop(&r.properties, "Qualifier").unwrap_or_else(|| "$LATEST".into());
    let path = format!("/2019-09-25/functions/{}/event-invoke-config", seg(&function));
    tolerate_gone(rest(&cx, Method::DELETE, &path, vec![("Qualifier".into(), qualifier)], None).await.map(|_| ()))
}
