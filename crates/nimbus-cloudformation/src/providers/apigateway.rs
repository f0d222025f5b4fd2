//! `AWS::ApiGateway::RestApi`/`Resource`/`Method`/`Deployment`/`Stage` and
//! `AWS::ApiGatewayV2::Api`/`Integration`/`Route`/`Stage`/`Deployment` through API Gateway's
//! REST-JSON APIs. A `Body` (OpenAPI, as SAM's `Api`/`HttpApi` events produce) is imported with
//! ImportRestApi/PutRestApi and ImportApi/ReimportApi.

use http::Method;
use serde_json::{json, Map, Value};

use super::{coerce, doc_string, failure, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::api::seg;
use crate::boxed;
use crate::state::Resource;

/// Members whose value is a map keyed by the user (parameter names, content types, stage
/// variables…): their keys are kept as written.
const MAPS: &[&str] = &[
    "RequestParameters",
    "RequestTemplates",
    "ResponseParameters",
    "ResponseTemplates",
    "ResponseModels",
    "RequestModels",
    "Variables",
    "StageVariables",
    "Tags",
    "RouteSettings",
];
const NUMBERS: &[&str] = &[
    "TimeoutInMillis",
    "MinimumCompressionSize",
    "ThrottlingBurstLimit",
    "ThrottlingRateLimit",
    "CacheTtlInSeconds",
    "MaxAge",
];
const BOOLEANS: &[&str] = &[
    "ApiKeyRequired",
    "AutoDeploy",
    "TracingEnabled",
    "CacheClusterEnabled",
    "DisableExecuteApiEndpoint",
    "AllowCredentials",
    "DetailedMetricsEnabled",
    "MetricsEnabled",
    "DataTraceEnabled",
    "CachingEnabled",
];

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            type_name: "AWS::ApiGateway::RestApi",
            replace_on: &[],
            create: boxed!(create_rest_api),
            update: Some(boxed!(update_rest_api, 3)),
            delete: |cx, r| {
                Box::pin(delete_at(cx, format!("/restapis/{}", seg(&r.physical_id.unwrap_or_default())), "apigateway"))
            },
            name_property: None,
        },
        Spec {
            type_name: "AWS::ApiGateway::Resource",
            replace_on: &["*"],
            create: boxed!(create_resource),
            update: None,
            delete: |cx, r| {
                let api = str_prop(&r.properties, "RestApiId").unwrap_or_default();
                let path = format!("/restapis/{}/resources/{}", seg(&api), seg(&r.physical_id.unwrap_or_default()));
                Box::pin(delete_at(cx, path, "apigateway"))
            },
            name_property: None,
        },
        Spec {
            type_name: "AWS::ApiGateway::Method",
            replace_on: &["RestApiId", "ResourceId", "HttpMethod"],
            create: boxed!(create_method),
            update: Some(boxed!(update_method, 3)),
            delete: |cx, r| Box::pin(delete_method(cx, r.properties)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::ApiGateway::Deployment",
            replace_on: &["RestApiId"],
            create: boxed!(create_deployment),
            update: Some(boxed!(update_deployment, 3)),
            delete: |cx, r| Box::pin(delete_deployment(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::ApiGateway::Stage",
            replace_on: &["RestApiId", "StageName"],
            create: boxed!(create_stage),
            update: Some(boxed!(update_stage, 3)),
            delete: |cx, r| {
                let api = str_prop(&r.properties, "RestApiId").unwrap_or_default();
                let path = format!("/restapis/{}/stages/{}", seg(&api), seg(&r.physical_id.unwrap_or_default()));
                Box::pin(delete_at(cx, path, "apigateway"))
            },
            name_property: Some("StageName"),
        },
        Spec {
            type_name: "AWS::ApiGatewayV2::Api",
            replace_on: &["ProtocolType"],
            create: boxed!(create_http_api),
            update: Some(boxed!(update_http_api, 3)),
            delete: |cx, r| {
                Box::pin(delete_at(cx, format!("/v2/apis/{}", seg(&r.physical_id.unwrap_or_default())), "apigateway"))
            },
            name_property: None,
        },
        Spec {
            type_name: "AWS::ApiGatewayV2::Integration",
            replace_on: &["ApiId"],
            create: |cx, p| Box::pin(create_child(cx, p, "integrations", "IntegrationId")),
            update: Some(|cx, r, p| Box::pin(update_child(cx, r, p, "integrations", "IntegrationId"))),
            delete: |cx, r| Box::pin(delete_child(cx, r, "integrations")),
            name_property: None,
        },
        Spec {
            type_name: "AWS::ApiGatewayV2::Route",
            replace_on: &["ApiId"],
            create: |cx, p| Box::pin(create_child(cx, p, "routes", "RouteId")),
            update: Some(|cx, r, p| Box::pin(update_child(cx, r, p, "routes", "RouteId"))),
            delete: |cx, r| Box::pin(delete_child(cx, r, "routes")),
            name_property: None,
        },
        Spec {
            type_name: "AWS::ApiGatewayV2::Deployment",
            replace_on: &["ApiId"],
            create: |cx, p| Box::pin(create_child(cx, p, "deployments", "DeploymentId")),
            update: Some(|cx, r, p| Box::pin(update_child(cx, r, p, "deployments", "DeploymentId"))),
            delete: |cx, r| Box::pin(delete_child(cx, r, "deployments")),
            name_property: None,
        },
        Spec {
            type_name: "AWS::ApiGatewayV2::Stage",
            replace_on: &["ApiId", "StageName"],
            create: boxed!(create_http_stage),
            update: Some(boxed!(update_http_stage, 3)),
            delete: |cx, r| Box::pin(delete_child(cx, r, "stages")),
            name_property: Some("StageName"),
        },
    ]
}

/// `PascalCase` members as API Gateway's `camelCase`, at every depth but inside user maps.
fn camel(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, item)| {
                    let key = lower_first(k);
                    let value = if MAPS.contains(&k.as_str()) { item.clone() } else { camel(item) };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(camel).collect()),
        other => other.clone(),
    }
}

fn lower_first(k: &str) -> String {
    let mut chars = k.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// The listed properties, coerced and in API Gateway's member names.
fn body_of(props: &Value, names: &[&str]) -> Value {
    let mut picked = Value::Object(super::pick(props, names));
    coerce(&mut picked, NUMBERS, BOOLEANS);
    let mut body = camel(&picked);
    if let Some(tags) = props.get("Tags") {
        // Tags come as a list of Key/Value (v1) or a map (v2); the APIs take a map.
        let map: Map<String, Value> = match tags {
            Value::Array(list) => list
                .iter()
                .filter_map(|t| Some((str_prop(t, "Key")?, Value::String(str_prop(t, "Value").unwrap_or_default()))))
                .collect(),
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        body["tags"] = Value::Object(map);
    }
    body
}

async fn rest(cx: &Cx, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
    cx.api.rest("apigateway", method, path, Vec::new(), body).await.map_err(|e| failure(&e))
}

async fn delete_at(cx: Cx, path: String, signing: &str) -> Result<(), String> {
    tolerate_gone(cx.api.rest(signing, Method::DELETE, &path, Vec::new(), None).await.map(|_| ()))
}

/// `replace` patch operations for the members that changed between `old` and `new` bodies.
fn patch_ops(old: &Value, new: &Value, members: &[&str]) -> Vec<Value> {
    let mut ops = Vec::new();
    for m in members {
        let (before, after) = (old.get(*m), new.get(*m));
        if before == after {
            continue;
        }
        let value = match after {
            Some(Value::String(s)) => Value::String(s.clone()),
            Some(Value::Null) | None => Value::String(String::new()),
            Some(other) => Value::String(crate::eval::text_of(other).unwrap_or_else(|| other.to_string())),
        };
        ops.push(json!({"op": "replace", "path": format!("/{m}"), "value": value}));
    }
    ops
}

// ---- REST APIs -------------------------------------------------------------------------------

/// The OpenAPI definition of a RestApi/Api: `Body` inline or `BodyS3Location` through S3.
async fn definition(cx: &Cx, props: &Value) -> Result<Option<String>, String> {
    if let Some(b) = props.get("Body") {
        return Ok(Some(doc_string(b)));
    }
    let Some(loc) = props.get("BodyS3Location") else { return Ok(None) };
    let (bucket, key) = (str_prop(loc, "Bucket").unwrap_or_default(), str_prop(loc, "Key").unwrap_or_default());
    let mut query = Vec::new();
    if let Some(v) = str_prop(loc, "Version") {
        query.push(("versionId".to_string(), v));
    }
    let path = format!("/{}/{}", bucket, key.split('/').map(seg).collect::<Vec<_>>().join("/"));
    let bytes = cx.api.raw("s3", Method::GET, &path, query, "", Vec::new()).await.map_err(|e| failure(&e))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

const REST_API_MEMBERS: &[&str] = &[
    "Name",
    "Description",
    "BinaryMediaTypes",
    "EndpointConfiguration",
    "ApiKeySourceType",
    "MinimumCompressionSize",
    "DisableExecuteApiEndpoint",
];

async fn rest_api_created(cx: &Cx, id: &str) -> Outcome {
    let out = rest(cx, Method::GET, &format!("/restapis/{}/resources", seg(id)), None).await?;
    let root = out["item"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["path"] == "/")
        .and_then(|r| r["id"].as_str())
        .unwrap_or_default()
        .to_string();
    Ok(Created::named(id).attr("RestApiId", id).attr("RootResourceId", root))
}

fn rest_api_body(props: &Value) -> Value {
    let mut body = body_of(props, REST_API_MEMBERS);
    if let Some(src) = body.as_object_mut().and_then(|b| b.remove("apiKeySourceType")) {
        body["apiKeySource"] = src;
    }
    if let Some(p) = props.get("Policy") {
        body["policy"] = Value::String(doc_string(p));
    }
    body
}

async fn import(cx: &Cx, id: Option<&str>, props: &Value, doc: String) -> Result<Value, String> {
    let mut query = Vec::new();
    if let Some(f) = str_prop(props, "FailOnWarnings") {
        query.push(("failonwarnings".to_string(), f));
    }
    if let Some(params) = props.get("Parameters").and_then(Value::as_object) {
        for (k, v) in params {
            query.push((k.clone(), crate::eval::text_of(v).unwrap_or_default()));
        }
    }
    let path = match id {
        Some(id) => {
            query.push(("mode".to_string(), str_prop(props, "Mode").unwrap_or_else(|| "overwrite".into())));
            format!("/restapis/{}", seg(id))
        }
        None => {
            query.push(("mode".to_string(), "import".to_string()));
            "/restapis".to_string()
        }
    };
    let method = if id.is_some() { Method::PUT } else { Method::POST };
    cx.api
        .rest_bytes("apigateway", method, &path, query, "application/json", doc.into_bytes())
        .await
        .map_err(|e| failure(&e))
}

async fn create_rest_api(cx: Cx, props: Value) -> Outcome {
    let id = match definition(&cx, &props).await? {
        Some(doc) => {
            let out = import(&cx, None, &props, doc).await?;
            let id = out["id"].as_str().unwrap_or_default().to_string();
            // Properties given beside the Body override what the definition says.
            let ops = patch_ops(
                &out,
                &rest_api_body(&props),
                &[
                    "name",
                    "description",
                    "policy",
                    "apiKeySource",
                    "minimumCompressionSize",
                    "disableExecuteApiEndpoint",
                ],
            )
            .into_iter()
            .filter(|op| op["value"] != "")
            .collect::<Vec<_>>();
            if !ops.is_empty() {
                rest(&cx, Method::PATCH, &format!("/restapis/{}", seg(&id)), Some(json!({"patchOperations": ops})))
                    .await?;
            }
            id
        }
        None => {
            let mut body = rest_api_body(&props);
            if let Some(clone) = str_prop(&props, "CloneFrom") {
                body["cloneFrom"] = Value::String(clone);
            }
            let out = rest(&cx, Method::POST, "/restapis", Some(body)).await?;
            out["id"].as_str().unwrap_or_default().to_string()
        }
    };
    rest_api_created(&cx, &id).await
}

async fn update_rest_api(cx: Cx, current: Resource, props: Value) -> Outcome {
    let id = current.physical_id.clone().unwrap_or_default();
    let old = &current.properties;
    if old.get("Body") != props.get("Body") || old.get("BodyS3Location") != props.get("BodyS3Location") {
        if let Some(doc) = definition(&cx, &props).await? {
            import(&cx, Some(&id), &props, doc).await?;
        }
    }
    let ops = patch_ops(
        &rest_api_body(old),
        &rest_api_body(&props),
        &["name", "description", "policy", "apiKeySource", "minimumCompressionSize", "disableExecuteApiEndpoint"],
    );
    if !ops.is_empty() {
        rest(&cx, Method::PATCH, &format!("/restapis/{}", seg(&id)), Some(json!({"patchOperations": ops}))).await?;
    }
    rest_api_created(&cx, &id).await
}

async fn create_resource(cx: Cx, props: Value) -> Outcome {
    let api = str_prop(&props, "RestApiId").unwrap_or_default();
    let parent = str_prop(&props, "ParentId").unwrap_or_default();
    let body = json!({"pathPart": str_prop(&props, "PathPart").unwrap_or_default()});
    let out =
        rest(&cx, Method::POST, &format!("/restapis/{}/resources/{}", seg(&api), seg(&parent)), Some(body)).await?;
    let id = out["id"].as_str().unwrap_or_default().to_string();
    Ok(Created::named(id.clone()).attr("ResourceId", id))
}

fn method_path(props: &Value) -> String {
    format!(
        "/restapis/{}/resources/{}/methods/{}",
        seg(&str_prop(props, "RestApiId").unwrap_or_default()),
        seg(&str_prop(props, "ResourceId").unwrap_or_default()),
        seg(&str_prop(props, "HttpMethod").unwrap_or_default().to_uppercase())
    )
}

/// PutMethod, PutIntegration and the method and integration responses.
async fn put_method(cx: &Cx, props: &Value) -> Result<(), String> {
    let path = method_path(props);
    let mut body = body_of(
        props,
        &[
            "AuthorizationType",
            "AuthorizerId",
            "ApiKeyRequired",
            "OperationName",
            "RequestParameters",
            "RequestModels",
            "RequestValidatorId",
            "AuthorizationScopes",
        ],
    );
    if body.get("authorizationType").is_none() {
        body["authorizationType"] = json!("NONE");
    }
    rest(cx, Method::PUT, &path, Some(body)).await?;
    for r in props.get("MethodResponses").and_then(Value::as_array).into_iter().flatten() {
        let status = str_prop(r, "StatusCode").unwrap_or_default();
        let body = body_of(r, &["ResponseParameters", "ResponseModels"]);
        rest(cx, Method::PUT, &format!("{path}/responses/{}", seg(&status)), Some(body)).await?;
    }
    let Some(integration) = props.get("Integration") else { return Ok(()) };
    let mut body = body_of(
        integration,
        &[
            "Type",
            "Uri",
            "RequestTemplates",
            "RequestParameters",
            "PassthroughBehavior",
            "ContentHandling",
            "TimeoutInMillis",
            "CacheKeyParameters",
            "CacheNamespace",
            "ConnectionType",
            "ConnectionId",
            "Credentials",
        ],
    );
    if let Some(m) = str_prop(integration, "IntegrationHttpMethod") {
        body["httpMethod"] = Value::String(m);
    }
    rest(cx, Method::PUT, &format!("{path}/integration"), Some(body)).await?;
    for r in integration.get("IntegrationResponses").and_then(Value::as_array).into_iter().flatten() {
        let status = str_prop(r, "StatusCode").unwrap_or_default();
        let body = body_of(r, &["SelectionPattern", "ResponseParameters", "ResponseTemplates", "ContentHandling"]);
        rest(cx, Method::PUT, &format!("{path}/integration/responses/{}", seg(&status)), Some(body)).await?;
    }
    Ok(())
}

async fn create_method(cx: Cx, props: Value) -> Outcome {
    put_method(&cx, &props).await?;
    Ok(Created::named(cx.generated_name(64)))
}

/// A method is updated by putting it again from scratch (what it had and no longer has goes).
async fn update_method(cx: Cx, current: Resource, props: Value) -> Outcome {
    delete_method(cx.clone(), current.properties.clone()).await?;
    put_method(&cx, &props).await?;
    Ok(Created::named(current.physical_id.unwrap_or_default()))
}

async fn delete_method(cx: Cx, props: Value) -> Result<(), String> {
    delete_at(cx, method_path(&props), "apigateway").await
}

fn stage_body(props: &Value) -> Value {
    let mut body = body_of(
        props,
        &[
            "Description",
            "Variables",
            "TracingEnabled",
            "CacheClusterEnabled",
            "CacheClusterSize",
            "ClientCertificateId",
            "DocumentationVersion",
        ],
    );
    if let Some(d) = str_prop(props, "DeploymentId") {
        body["deploymentId"] = Value::String(d);
    }
    body
}

async fn create_deployment(cx: Cx, props: Value) -> Outcome {
    let api = str_prop(&props, "RestApiId").unwrap_or_default();
    let mut body = body_of(&props, &["Description", "StageName"]);
    if let Some(s) = props.get("StageDescription") {
        let stage = stage_body(s);
        for (k, target) in [
            ("description", "stageDescription"),
            ("variables", "variables"),
            ("tracingEnabled", "tracingEnabled"),
            ("cacheClusterEnabled", "cacheClusterEnabled"),
            ("cacheClusterSize", "cacheClusterSize"),
        ] {
            if let Some(v) = stage.get(k) {
                body[target] = v.clone();
            }
        }
    }
    let out = rest(&cx, Method::POST, &format!("/restapis/{}/deployments", seg(&api)), Some(body)).await?;
    let id = out["id"].as_str().unwrap_or_default().to_string();
    Ok(Created::named(id.clone()).attr("DeploymentId", id))
}

async fn update_deployment(cx: Cx, current: Resource, props: Value) -> Outcome {
    let api = str_prop(&props, "RestApiId").unwrap_or_default();
    let id = current.physical_id.clone().unwrap_or_default();
    let ops = patch_ops(
        &body_of(&current.properties, &["Description"]),
        &body_of(&props, &["Description"]),
        &["description"],
    );
    if !ops.is_empty() {
        let path = format!("/restapis/{}/deployments/{}", seg(&api), seg(&id));
        rest(&cx, Method::PATCH, &path, Some(json!({"patchOperations": ops}))).await?;
    }
    if let Some(stage) = str_prop(&props, "StageName") {
        let op = json!([{"op": "replace", "path": "/deploymentId", "value": id}]);
        let path = format!("/restapis/{}/stages/{}", seg(&api), seg(&stage));
        rest(&cx, Method::PATCH, &path, Some(json!({"patchOperations": op}))).await?;
    }
    Ok(Created::named(id.clone()).attr("DeploymentId", id))
}

async fn delete_deployment(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(id) = r.physical_id else { return Ok(()) };
    let api = str_prop(&r.properties, "RestApiId").unwrap_or_default();
    // The stage a deployment created with `StageName` goes with it, unless a newer deployment has
    // taken the stage over: the Serverless Framework adds a Deployment with the same StageName on
    // every deploy, and CloudFormation deletes the old one after the stage has moved on.
    if let Some(stage) = str_prop(&r.properties, "StageName") {
        let path = format!("/restapis/{}/stages/{}", seg(&api), seg(&stage));
        let current = cx.api.rest("apigateway", Method::GET, &path, Vec::new(), None).await;
        match current {
            Ok(s) if s["deploymentId"].as_str() == Some(id.as_str()) => {
                delete_at(cx.clone(), path, "apigateway").await?
            }
            Ok(_) => {}
            Err(e) => tolerate_gone(Err(e))?,
        }
    }
    delete_at(cx, format!("/restapis/{}/deployments/{}", seg(&api), seg(&id)), "apigateway").await
}

async fn create_stage(cx: Cx, props: Value) -> Outcome {
    let api = str_prop(&props, "RestApiId").unwrap_or_default();
    let name = str_prop(&props, "StageName").unwrap_or_else(|| cx.generated_name(128));
    let mut body = stage_body(&props);
    body["stageName"] = Value::String(name.clone());
    if let Some(tags) = body_of(&props, &[]).get("tags") {
        body["tags"] = tags.clone();
    }
    rest(&cx, Method::POST, &format!("/restapis/{}/stages", seg(&api)), Some(body)).await?;
    Ok(Created::named(name))
}

async fn update_stage(cx: Cx, current: Resource, props: Value) -> Outcome {
    let api = str_prop(&props, "RestApiId").unwrap_or_default();
    let name = current.physical_id.clone().unwrap_or_default();
    let (old, new) = (stage_body(&current.properties), stage_body(&props));
    let mut ops = patch_ops(
        &old,
        &new,
        &[
            "deploymentId",
            "description",
            "tracingEnabled",
            "cacheClusterEnabled",
            "cacheClusterSize",
            "clientCertificateId",
            "documentationVersion",
        ],
    );
    let empty = Map::new();
    let old_vars = old.get("variables").and_then(Value::as_object).unwrap_or(&empty);
    let new_vars = new.get("variables").and_then(Value::as_object).unwrap_or(&empty);
    for (k, v) in new_vars {
        if old_vars.get(k) != Some(v) {
            let value = crate::eval::text_of(v).unwrap_or_default();
            ops.push(json!({"op": "replace", "path": format!("/variables/{k}"), "value": value}));
        }
    }
    for k in old_vars.keys().filter(|k| !new_vars.contains_key(*k)) {
        ops.push(json!({"op": "remove", "path": format!("/variables/{k}")}));
    }
    if !ops.is_empty() {
        let path = format!("/restapis/{}/stages/{}", seg(&api), seg(&name));
        rest(&cx, Method::PATCH, &path, Some(json!({"patchOperations": ops}))).await?;
    }
    Ok(Created::named(name))
}

// ---- HTTP APIs (v2) --------------------------------------------------------------------------

const HTTP_API_MEMBERS: &[&str] = &[
    "Name",
    "ProtocolType",
    "Target",
    "RouteKey",
    "CredentialsArn",
    "CorsConfiguration",
    "Description",
    "DisableExecuteApiEndpoint",
    "DisableSchemaValidation",
    "RouteSelectionExpression",
    "ApiKeySelectionExpression",
    "Version",
];

fn http_api_created(out: &Value) -> Created {
    let id = out["apiId"].as_str().unwrap_or_default().to_string();
    Created::named(id.clone()).attr("ApiId", id).attr("ApiEndpoint", out["apiEndpoint"].clone())
}

fn import_query(props: &Value) -> Vec<(String, String)> {
    let mut q = Vec::new();
    if let Some(b) = str_prop(props, "BasePath") {
        q.push(("basepath".to_string(), b));
    }
    if let Some(f) = str_prop(props, "FailOnWarnings") {
        q.push(("failOnWarnings".to_string(), f));
    }
    q
}

async fn create_http_api(cx: Cx, props: Value) -> Outcome {
    let out = match definition(&cx, &props).await? {
        Some(doc) => {
            let out = cx
                .api
                .rest("apigateway", Method::PUT, "/v2/apis", import_query(&props), Some(json!({"body": doc})))
                .await
                .map_err(|e| failure(&e))?;
            let id = out["apiId"].as_str().unwrap_or_default().to_string();
            let mut patch = body_of(&props, &["Name", "Description", "CorsConfiguration", "DisableExecuteApiEndpoint"]);
            patch.as_object_mut().map(|p| p.remove("tags"));
            if patch.as_object().is_some_and(|p| !p.is_empty()) {
                rest(&cx, Method::PATCH, &format!("/v2/apis/{}", seg(&id)), Some(patch)).await?
            } else {
                out
            }
        }
        None => rest(&cx, Method::POST, "/v2/apis", Some(body_of(&props, HTTP_API_MEMBERS))).await?,
    };
    Ok(http_api_created(&out))
}

async fn update_http_api(cx: Cx, current: Resource, props: Value) -> Outcome {
    let id = current.physical_id.clone().unwrap_or_default();
    let old = &current.properties;
    let path = format!("/v2/apis/{}", seg(&id));
    if old.get("Body") != props.get("Body") || old.get("BodyS3Location") != props.get("BodyS3Location") {
        if let Some(doc) = definition(&cx, &props).await? {
            cx.api
                .rest("apigateway", Method::PUT, &path, import_query(&props), Some(json!({"body": doc})))
                .await
                .map_err(|e| failure(&e))?;
        }
    }
    let mut patch = body_of(
        &props,
        &[
            "Name",
            "Description",
            "CorsConfiguration",
            "DisableExecuteApiEndpoint",
            "RouteSelectionExpression",
            "ApiKeySelectionExpression",
            "Version",
        ],
    );
    patch.as_object_mut().map(|p| p.remove("tags"));
    let out = if patch.as_object().is_some_and(|p| !p.is_empty()) {
        rest(&cx, Method::PATCH, &path, Some(patch)).await?
    } else {
        rest(&cx, Method::GET, &path, None).await?
    };
    Ok(http_api_created(&out))
}

/// The members of an Integration/Route/Deployment: every property but the API's id.
fn child_body(props: &Value) -> Value {
    let mut p = props.clone();
    if let Some(o) = p.as_object_mut() {
        o.remove("ApiId");
    }
    let names: Vec<String> = p.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut body = body_of(&p, &names);
    if let Some(b) = body.as_object_mut() {
        b.remove("tags");
    }
    body
}

fn child_path(props: &Value, kind: &str) -> String {
    format!("/v2/apis/{}/{kind}", seg(&str_prop(props, "ApiId").unwrap_or_default()))
}

async fn create_child(cx: Cx, props: Value, kind: &'static str, id_attr: &'static str) -> Outcome {
    let out = rest(&cx, Method::POST, &child_path(&props, kind), Some(child_body(&props))).await?;
    let member = lower_first(id_attr);
    let id = out[member.as_str()].as_str().unwrap_or_default().to_string();
    Ok(Created::named(id.clone()).attr(id_attr, id))
}

async fn update_child(cx: Cx, current: Resource, props: Value, kind: &'static str, id_attr: &'static str) -> Outcome {
    let id = current.physical_id.clone().unwrap_or_default();
    let path = format!("{}/{}", child_path(&props, kind), seg(&id));
    rest(&cx, Method::PATCH, &path, Some(child_body(&props))).await?;
    Ok(Created::named(id.clone()).attr(id_attr, id))
}

async fn delete_child(cx: Cx, r: Resource, kind: &'static str) -> Result<(), String> {
    let Some(id) = r.physical_id else { return Ok(()) };
    delete_at(cx, format!("{}/{}", child_path(&r.properties, kind), seg(&id)), "apigateway").await
}

async fn create_http_stage(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "StageName").unwrap_or_else(|| "$default".into());
    let mut body = child_body(&props);
    body["stageName"] = Value::String(name.clone());
    if let Some(tags) = body_of(&props, &[]).get("tags") {
        body["tags"] = tags.clone();
    }
    rest(&cx, Method::POST, &child_path(&props, "stages"), Some(body)).await?;
    Ok(Created::named(name))
}

async fn update_http_stage(cx: Cx, current: Resource, props: Value) -> Outcome {
    let name = current.physical_id.clone().unwrap_or_default();
    let mut body = child_body(&props);
    if let Some(b) = body.as_object_mut() {
        b.remove("stageName");
    }
    let path = format!("{}/{}", child_path(&props, "stages"), seg(&name));
    rest(&cx, Method::PATCH, &path, Some(body)).await?;
    Ok(Created::named(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_camel_cased_except_inside_user_maps() {
        let props = json!({"Integration": {"Type": "AWS_PROXY", "TimeoutInMillis": "3000",
            "RequestTemplates": {"application/json": "{}"},
            "IntegrationResponses": [{"StatusCode": "200", "ResponseParameters": {"method.response.header.X": "'v'"}}]}});
        let body = body_of(&props, &["Integration"]);
        let i = &body["integration"];
        assert_eq!(i["type"], "AWS_PROXY");
        assert_eq!(i["timeoutInMillis"], 3000);
        assert_eq!(i["requestTemplates"]["application/json"], "{}");
        assert_eq!(i["integrationResponses"][0]["responseParameters"]["method.response.header.X"], "'v'");
    }

    #[test]
    fn tags_become_a_map() {
        let body = body_of(&json!({"Name": "a", "Tags": [{"Key": "k", "Value": "v"}]}), &["Name"]);
        assert_eq!(body, json!({"name": "a", "tags": {"k": "v"}}));
    }

    #[test]
    fn patch_operations_replace_what_changed() {
        let ops = patch_ops(
            &json!({"name": "a", "description": "d"}),
            &json!({"name": "b", "description": "d"}),
            &["name", "description"],
        );
        assert_eq!(ops, vec![json!({"op": "replace", "path": "/name", "value": "b"})]);
    }
}
