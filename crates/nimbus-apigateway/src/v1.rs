//! REST APIs (`apigateway` 2015-07-09): one plain function per operation over [`Gateways`].
//! Each returns its output document and records the changed API in `changes`.

use nimbus_core::state::Changes;
use nimbus_core::{AwsError, RequestContext};
use serde_json::{json, Map, Value};

use crate::state::{doc_key, doc_prefix, rest_key, Deployment, Gateways, Record, RestApi};
use crate::util::{apply_patch, bad_request, conflict, copy, items, new_id, not_found, str_of, text};

pub type Out = Result<Value, AwsError>;

fn now(ctx: &RequestContext) -> Value {
    json!(ctx.clock.now().timestamp())
}

fn api<'a>(g: &'a Gateways, ctx: &RequestContext, input: &Value) -> Result<&'a RestApi, AwsError> {
    let id = text(input, "restApiId");
    g.rest
        .get(&rest_key(&ctx.account, &ctx.region, &id))
        .ok_or_else(|| not_found(format!("Invalid API identifier specified {}:{id}", ctx.account)))
}

fn save(changes: &mut Changes<Record>, api: RestApi) {
    let id = text(&api.doc, "id");
    changes.put(rest_key(&api.account, &api.region, &id), Record::Rest(Box::new(api)));
}

/// Change a copy of the API and record it.
fn edit(
    g: &Gateways,
    ctx: &RequestContext,
    input: &Value,
    changes: &mut Changes<Record>,
    f: impl FnOnce(&mut RestApi) -> Out,
) -> Out {
    let mut api = api(g, ctx, input)?.clone();
    let out = f(&mut api)?;
    save(changes, api);
    Ok(out)
}

fn resource<'a>(api: &'a mut RestApi, input: &Value) -> Result<&'a mut Value, AwsError> {
    api.resources.get_mut(&text(input, "resourceId")).ok_or_else(|| not_found("Invalid Resource identifier specified"))
}

fn method<'a>(api: &'a mut RestApi, input: &Value) -> Result<&'a mut Value, AwsError> {
    let name = text(input, "httpMethod");
    resource(api, input)?
        .get_mut("resourceMethods")
        .and_then(|m| m.get_mut(&name))
        .ok_or_else(|| not_found("Invalid Method identifier specified"))
}

fn integration<'a>(api: &'a mut RestApi, input: &Value) -> Result<&'a mut Value, AwsError> {
    method(api, input)?
        .get_mut("methodIntegration")
        .filter(|i| !i.is_null())
        .ok_or_else(|| not_found("Invalid Integration identifier specified"))
}

const REST_API_MEMBERS: &[&str] = &[
    "name",
    "description",
    "version",
    "binaryMediaTypes",
    "minimumCompressionSize",
    "apiKeySource",
    "endpointConfiguration",
    "policy",
    "tags",
    "disableExecuteApiEndpoint",
];

/// A new REST API with its root resource (`/`).
pub fn new_api(ctx: &RequestContext, input: &Value) -> RestApi {
    let id = new_id(10);
    let root = new_id(10);
    let mut doc = json!({
        "id": id, "createdDate": now(ctx), "apiKeySource": "HEADER",
        "endpointConfiguration": {"types": ["EDGE"], "ipAddressType": "ipv4"},
        "disableExecuteApiEndpoint": false, "rootResourceId": root, "tags": {},
    });
    copy(&mut doc, input, REST_API_MEMBERS);
    let mut api = RestApi { account: ctx.account.clone(), region: ctx.region.clone(), doc, ..Default::default() };
    api.resources.insert(root.clone(), json!({"id": root, "path": "/"}));
    api
}

pub fn create_rest_api(ctx: &RequestContext, input: &Value, changes: &mut Changes<Record>) -> Out {
    let api = new_api(ctx, input);
    let out = api.doc.clone();
    save(changes, api);
    Ok(out)
}

pub fn get_rest_apis(g: &Gateways, ctx: &RequestContext) -> Out {
    let prefix = rest_key(&ctx.account, &ctx.region, "");
    let list = g.rest.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(_, a)| a.doc.clone());
    Ok(items("items", list.collect()))
}

pub fn delete_rest_api(g: &Gateways, ctx: &RequestContext, input: &Value, changes: &mut Changes<Record>) -> Out {
    let api = api(g, ctx, input)?;
    changes.delete(rest_key(&ctx.account, &ctx.region, &text(&api.doc, "id")));
    Ok(json!({}))
}

fn join_path(parent: &str, part: &str) -> String {
    if parent == "/" {
        format!("/{part}")
    } else {
        format!("{parent}/{part}")
    }
}

pub fn create_resource(api: &mut RestApi, input: &Value) -> Out {
    let parent_id = text(input, "parentId");
    let part = text(input, "pathPart");
    let parent = api.resources.get(&parent_id).ok_or_else(|| not_found("Invalid Resource identifier specified"))?;
    let path = join_path(str_of(parent, "path").unwrap_or("/"), &part);
    if api.resources.values().any(|r| str_of(r, "path") == Some(path.as_str())) {
        return Err(conflict(format!("Another resource with the same parent already has this name: {part}")));
    }
    let id = new_id(6);
    let doc = json!({"id": id, "parentId": parent_id, "pathPart": part, "path": path});
    api.resources.insert(id, doc.clone());
    Ok(doc)
}

/// Add the resource at `path` and any missing parents; its id.
pub fn ensure_resource(api: &mut RestApi, path: &str) -> String {
    let mut current = text(&api.doc, "rootResourceId");
    let mut so_far = "/".to_string();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let next = join_path(&so_far, part);
        let found =
            api.resources.iter().find(|(_, r)| str_of(r, "path") == Some(next.as_str())).map(|(id, _)| id.clone());
        current = match found {
            Some(id) => id,
            None => {
                let id = new_id(6);
                api.resources
                    .insert(id.clone(), json!({"id": id, "parentId": current, "pathPart": part, "path": next}));
                id
            }
        };
        so_far = next;
    }
    current
}

pub fn delete_resource(api: &mut RestApi, input: &Value) -> Out {
    let id = text(input, "resourceId");
    let path = api.resources.get(&id).and_then(|r| str_of(r, "path")).map(str::to_string);
    let Some(path) = path else { return Err(not_found("Invalid Resource identifier specified")) };
    if path == "/" {
        return Err(bad_request("Cannot delete root resource"));
    }
    let child_prefix = format!("{path}/");
    api.resources.retain(|_, r| {
        let p = str_of(r, "path").unwrap_or_default();
        p != path && !p.starts_with(&child_prefix)
    });
    Ok(json!({}))
}

pub fn put_method(api: &mut RestApi, input: &Value) -> Out {
    let name = text(input, "httpMethod");
    let mut doc = json!({"httpMethod": name, "apiKeyRequired": false});
    copy(
        &mut doc,
        input,
        &[
            "authorizationType",
            "authorizerId",
            "apiKeyRequired",
            "operationName",
            "requestParameters",
            "requestModels",
            "requestValidatorId",
            "authorizationScopes",
        ],
    );
    let resource = resource(api, input)?;
    resource["resourceMethods"][&name] = doc.clone();
    Ok(doc)
}

pub fn delete_method(api: &mut RestApi, input: &Value) -> Out {
    method(api, input)?;
    let name = text(input, "httpMethod");
    if let Some(methods) = resource(api, input)?.get_mut("resourceMethods").and_then(Value::as_object_mut) {
        methods.remove(&name);
    }
    Ok(json!({}))
}

pub fn put_method_response(api: &mut RestApi, input: &Value) -> Out {
    let code = text(input, "statusCode");
    let mut doc = json!({"statusCode": code});
    copy(&mut doc, input, &["responseParameters", "responseModels"]);
    method(api, input)?["methodResponses"][&code] = doc.clone();
    Ok(doc)
}

fn method_response<'a>(api: &'a mut RestApi, input: &Value) -> Result<&'a mut Value, AwsError> {
    let code = text(input, "statusCode");
    method(api, input)?
        .get_mut("methodResponses")
        .and_then(|m| m.get_mut(&code))
        .ok_or_else(|| not_found("Invalid Response status code specified"))
}

pub fn put_integration(api: &mut RestApi, input: &Value) -> Out {
    let kind = text(input, "type");
    let resource_id = text(input, "resourceId");
    if matches!(kind.as_str(), "AWS" | "AWS_PROXY" | "HTTP" | "HTTP_PROXY") && str_of(input, "uri").is_none() {
        return Err(bad_request("Invalid integration URI specified"));
    }
    if matches!(kind.as_str(), "AWS" | "AWS_PROXY" | "HTTP" | "HTTP_PROXY")
        && str_of(input, "integrationHttpMethod").is_none()
    {
        return Err(bad_request("Enumeration value for HttpMethod must be non-empty"));
    }
    let mut doc = json!({
        "type": kind, "passthroughBehavior": "WHEN_NO_MATCH", "timeoutInMillis": 29000,
        "cacheNamespace": resource_id, "cacheKeyParameters": [],
    });
    if let Some(m) = input.get("integrationHttpMethod") {
        doc["httpMethod"] = m.clone();
    }
    copy(
        &mut doc,
        input,
        &[
            "uri",
            "connectionType",
            "connectionId",
            "credentials",
            "requestParameters",
            "requestTemplates",
            "passthroughBehavior",
            "cacheNamespace",
            "cacheKeyParameters",
            "contentHandling",
            "timeoutInMillis",
            "tlsConfig",
        ],
    );
    method(api, input)?["methodIntegration"] = doc.clone();
    Ok(doc)
}

pub fn put_integration_response(api: &mut RestApi, input: &Value) -> Out {
    let code = text(input, "statusCode");
    let mut doc = json!({"statusCode": code});
    copy(&mut doc, input, &["selectionPattern", "responseParameters", "responseTemplates", "contentHandling"]);
    integration(api, input)?["integrationResponses"][&code] = doc.clone();
    Ok(doc)
}

fn integration_response<'a>(api: &'a mut RestApi, input: &Value) -> Result<&'a mut Value, AwsError> {
    let code = text(input, "statusCode");
    integration(api, input)?
        .get_mut("integrationResponses")
        .and_then(|m| m.get_mut(&code))
        .ok_or_else(|| not_found("Invalid Response status code specified"))
}

pub fn create_deployment(ctx: &RequestContext, api: &mut RestApi, input: &Value) -> Out {
    let has_methods = api.resources.values().any(|r| r["resourceMethods"].as_object().is_some_and(|m| !m.is_empty()));
    if !has_methods {
        return Err(bad_request("The REST API doesn't contain any methods"));
    }
    let id = new_id(6);
    let mut doc = json!({"id": id, "createdDate": now(ctx)});
    copy(&mut doc, input, &["description"]);
    api.deployments.insert(
        id.clone(),
        Deployment {
            doc: doc.clone(),
            resources: api.resources.clone(),
            authorizers: api.authorizers.clone(),
            validators: api.validators.clone(),
            models: api.models.clone(),
        },
    );
    if let Some(stage) = str_of(input, "stageName").filter(|s| !s.is_empty()) {
        let existing = api.stages.get(stage).cloned();
        let mut stage_doc = existing.unwrap_or_else(|| {
            json!({"stageName": stage, "createdDate": now(ctx), "cacheClusterEnabled": false,
                   "cacheClusterStatus": "NOT_AVAILABLE", "tracingEnabled": false, "methodSettings": {}})
        });
        stage_doc["deploymentId"] = json!(id);
        stage_doc["lastUpdatedDate"] = now(ctx);
        if let Some(v) = input.get("variables") {
            stage_doc["variables"] = v.clone();
        }
        if let Some(d) = input.get("stageDescription") {
            stage_doc["description"] = d.clone();
        }
        api.stages.insert(stage.to_string(), stage_doc);
    }
    Ok(doc)
}

pub fn create_stage(ctx: &RequestContext, api: &mut RestApi, input: &Value) -> Out {
    let name = text(input, "stageName");
    if api.stages.contains_key(&name) {
        return Err(conflict("Stage already exists"));
    }
    if !api.deployments.contains_key(&text(input, "deploymentId")) {
        return Err(bad_request("Invalid deployment identifier specified"));
    }
    let mut doc = json!({"stageName": name, "createdDate": now(ctx), "lastUpdatedDate": now(ctx),
        "cacheClusterEnabled": false, "cacheClusterStatus": "NOT_AVAILABLE", "tracingEnabled": false,
        "methodSettings": {}});
    copy(
        &mut doc,
        input,
        &[
            "deploymentId",
            "description",
            "cacheClusterEnabled",
            "cacheClusterSize",
            "variables",
            "documentationVersion",
            "canarySettings",
            "tracingEnabled",
            "tags",
        ],
    );
    api.stages.insert(name, doc.clone());
    Ok(doc)
}

/// The simple sub-collections of a REST API: (field, id member, error wording).
fn collection<'a>(api: &'a mut RestApi, kind: &str) -> &'a mut crate::state::Docs {
    match kind {
        "authorizer" => &mut api.authorizers,
        "validator" => &mut api.validators,
        "model" => &mut api.models,
        _ => &mut api.gateway_responses,
    }
}

fn missing(kind: &str) -> AwsError {
    match kind {
        "authorizer" => not_found("Invalid Authorizer identifier specified"),
        "validator" => not_found("Invalid Request Validator identifier specified"),
        "model" => not_found("Invalid model name specified"),
        _ => not_found("Invalid Gateway Response identifier specified"),
    }
}

fn key_of(kind: &str, input: &Value) -> String {
    match kind {
        "authorizer" => text(input, "authorizerId"),
        "validator" => text(input, "requestValidatorId"),
        "model" => text(input, "modelName"),
        _ => text(input, "responseType"),
    }
}

fn create_in(api: &mut RestApi, kind: &str, input: &Value) -> Out {
    let mut doc = input.clone();
    if let Some(o) = doc.as_object_mut() {
        o.remove("restApiId");
    }
    let key = match kind {
        "model" => {
            let name = text(input, "name");
            if api.models.contains_key(&name) {
                return Err(conflict("Model name already exists for this REST API"));
            }
            doc["id"] = json!(new_id(6));
            name
        }
        "response" => {
            doc["defaultResponse"] = json!(false);
            text(input, "responseType")
        }
        _ => {
            let id = new_id(6);
            doc["id"] = json!(id);
            if kind == "authorizer" {
                if doc.get("authorizerResultTtlInSeconds").is_none() {
                    doc["authorizerResultTtlInSeconds"] = json!(300);
                }
                if doc.get("identitySource").is_none() && str_of(input, "type") == Some("TOKEN") {
                    doc["identitySource"] = json!("method.request.header.Authorization");
                }
            }
            if kind == "validator" {
                for k in ["validateRequestBody", "validateRequestParameters"] {
                    if doc.get(k).is_none() {
                        doc[k] = json!(false);
                    }
                }
            }
            id
        }
    };
    collection(api, kind).insert(key, doc.clone());
    Ok(doc)
}

/// v1's default gateway responses, as GetGatewayResponses lists them.
const RESPONSE_TYPES: &[(&str, &str)] = &[
    ("ACCESS_DENIED", "403"),
    ("API_CONFIGURATION_ERROR", "500"),
    ("AUTHORIZER_CONFIGURATION_ERROR", "500"),
    ("AUTHORIZER_FAILURE", "500"),
    ("BAD_REQUEST_PARAMETERS", "400"),
    ("BAD_REQUEST_BODY", "400"),
    ("DEFAULT_4XX", ""),
    ("DEFAULT_5XX", ""),
    ("EXPIRED_TOKEN", "403"),
    ("INTEGRATION_FAILURE", "504"),
    ("INTEGRATION_TIMEOUT", "504"),
    ("INVALID_API_KEY", "403"),
    ("INVALID_SIGNATURE", "403"),
    ("MISSING_AUTHENTICATION_TOKEN", "403"),
    ("QUOTA_EXCEEDED", "429"),
    ("REQUEST_TOO_LARGE", "413"),
    ("RESOURCE_NOT_FOUND", "404"),
    ("THROTTLED", "429"),
    ("UNAUTHORIZED", "401"),
    ("UNSUPPORTED_MEDIA_TYPE", "415"),
    ("WAF_FILTERED", "403"),
];

fn default_response(kind: &str) -> Option<Value> {
    let (_, status) = RESPONSE_TYPES.iter().find(|(k, _)| *k == kind)?;
    // Authorizer denials say `Message`, everything else `message`, as on AWS.
    let key = if kind == "ACCESS_DENIED" { "Message" } else { "message" };
    let mut doc = json!({"responseType": kind, "defaultResponse": true, "responseParameters": {},
        "responseTemplates": {"application/json": format!("{{\"{key}\":$context.error.messageString}}")}});
    if !status.is_empty() {
        doc["statusCode"] = json!(status);
    }
    Some(doc)
}

/// The gateway response of `kind` an API answers with: its own or the default.
pub fn gateway_response(api_responses: &crate::state::Docs, kind: &str) -> Option<Value> {
    api_responses.get(kind).cloned().or_else(|| default_response(kind))
}

fn tag_target(ctx: &RequestContext, arn: &str) -> Option<(String, Option<String>)> {
    // arn:aws:apigateway:{region}::/restapis/{id}[/stages/{name}]
    let path = arn.split("::").nth(1)?;
    let mut parts = path.trim_start_matches('/').split('/');
    if parts.next()? != "restapis" {
        return None;
    }
    let id = parts.next()?.to_string();
    let stage = match (parts.next(), parts.next()) {
        (Some("stages"), Some(name)) => Some(name.to_string()),
        _ => None,
    };
    let _ = ctx;
    Some((id, stage))
}

fn tags_of(g: &Gateways, ctx: &RequestContext, arn: &str) -> Map<String, Value> {
    if let Some((id, stage)) = tag_target(ctx, arn) {
        if let Some(api) = g.rest.get(&rest_key(&ctx.account, &ctx.region, &id)) {
            let doc = match &stage {
                Some(s) => api.stages.get(s).cloned().unwrap_or(Value::Null),
                None => api.doc.clone(),
            };
            return doc["tags"].as_object().cloned().unwrap_or_default();
        }
    }
    g.docs.get(&doc_key("tags", &ctx.account, &ctx.region, arn)).and_then(Value::as_object).cloned().unwrap_or_default()
}

fn set_tags(g: &Gateways, ctx: &RequestContext, arn: &str, tags: Map<String, Value>, changes: &mut Changes<Record>) {
    if let Some((id, stage)) = tag_target(ctx, arn) {
        if let Some(api) = g.rest.get(&rest_key(&ctx.account, &ctx.region, &id)) {
            let mut api = api.clone();
            match &stage {
                Some(s) => {
                    if let Some(doc) = api.stages.get_mut(s) {
                        doc["tags"] = Value::Object(tags);
                    }
                }
                None => api.doc["tags"] = Value::Object(tags),
            }
            save(changes, api);
            return;
        }
    }
    changes.put(doc_key("tags", &ctx.account, &ctx.region, arn), Record::Doc(Value::Object(tags)));
}

/// Account-wide stored documents (API keys, usage plans, domain names, …): (kind, id member,
/// id length or 0 for a name-keyed document, not-found message).
fn account_kind(op: &str) -> Option<(&'static str, &'static str, usize, &'static str)> {
    let noun = ["Create", "Generate", "Get", "Update", "Delete"].iter().find_map(|p| op.strip_prefix(p))?;
    Some(match noun {
        "ApiKey" | "ApiKeys" => ("apikey", "apiKey", 10, "Invalid API Key identifier specified"),
        "UsagePlan" | "UsagePlans" => ("usageplan", "usagePlanId", 6, "Invalid Usage Plan ID specified"),
        "DomainName" | "DomainNames" => ("domainname", "domainName", 0, "Invalid domain name identifier specified"),
        "VpcLink" | "VpcLinks" => ("vpclink", "vpcLinkId", 6, "VPC link not found"),
        "ClientCertificate" | "ClientCertificates" => {
            ("clientcert", "clientCertificateId", 6, "Invalid Client Certificate identifier specified")
        }
        _ => return None,
    })
}

fn account_doc(
    g: &Gateways,
    ctx: &RequestContext,
    op: &str,
    input: &Value,
    changes: &mut Changes<Record>,
) -> Option<Out> {
    let (kind, id_member, id_len, missing) = account_kind(op)?;
    let prefix = doc_prefix(kind, &ctx.account, &ctx.region);
    let id = text(input, id_member);
    let key = doc_key(kind, &ctx.account, &ctx.region, &id);
    Some(if op.starts_with("Create") || op == "GenerateClientCertificate" {
        let mut doc = input.clone();
        let id = if id_len == 0 { text(input, "domainName") } else { new_id(id_len) };
        doc["id"] = json!(id);
        doc["createdDate"] = now(ctx);
        if kind == "apikey" {
            if doc.get("value").is_none() {
                doc["value"] = json!(new_id(40));
            }
            doc["enabled"] = json!(input["enabled"].as_bool().unwrap_or(false));
            doc["lastUpdatedDate"] = now(ctx);
        }
        if kind == "clientcert" {
            doc["clientCertificateId"] = json!(id);
        }
        if kind == "domainname" {
            doc["regionalDomainName"] = json!(format!("d-{}.execute-api.{}.amazonaws.com", new_id(10), ctx.region));
            doc["distributionDomainName"] = json!(format!("{}.cloudfront.net", new_id(14)));
            doc["domainNameStatus"] = json!("AVAILABLE");
        }
        if kind == "vpclink" {
            doc["status"] = json!("AVAILABLE");
        }
        changes.put(doc_key(kind, &ctx.account, &ctx.region, &id), Record::Doc(doc.clone()));
        Ok(doc)
    } else if op.ends_with('s') && !op.ends_with("Keys") || op == "GetApiKeys" {
        let list = g.docs.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(_, d)| d.clone());
        Ok(items("items", list.collect()))
    } else {
        let Some(doc) = g.docs.get(&key) else { return Some(Err(not_found(missing))) };
        if op.starts_with("Delete") {
            changes.delete(key);
            Ok(json!({}))
        } else if op.starts_with("Update") {
            let mut doc = doc.clone();
            if let Err(e) = apply_patch(&mut doc, input) {
                return Some(Err(e));
            }
            changes.put(key, Record::Doc(doc.clone()));
            Ok(doc)
        } else {
            Ok(doc.clone())
        }
    })
}

/// Dispatch one control-plane operation; `None` when nimbus does not emulate it.
pub fn dispatch(
    g: &Gateways,
    ctx: &RequestContext,
    op: &str,
    input: &Value,
    changes: &mut Changes<Record>,
) -> Option<Out> {
    let out = match op {
        "CreateRestApi" => create_rest_api(ctx, input, changes),
        "GetRestApis" => get_rest_apis(g, ctx),
        "GetRestApi" => api(g, ctx, input).map(|a| a.doc.clone()),
        "UpdateRestApi" => edit(g, ctx, input, changes, |a| {
            apply_patch(&mut a.doc, input)?;
            Ok(a.doc.clone())
        }),
        "DeleteRestApi" => delete_rest_api(g, ctx, input, changes),
        "ImportRestApi" => crate::openapi::import(ctx, None, input, changes),
        "PutRestApi" => api(g, ctx, input).cloned().and_then(|a| crate::openapi::import(ctx, Some(a), input, changes)),
        "GetExport" => api(g, ctx, input).and_then(|a| crate::openapi::export(ctx, a, input)),
        "CreateResource" => edit(g, ctx, input, changes, |a| create_resource(a, input)),
        "GetResource" => api(g, ctx, input).and_then(|a| {
            a.resources
                .get(&text(input, "resourceId"))
                .cloned()
                .ok_or_else(|| not_found("Invalid Resource identifier specified"))
        }),
        "GetResources" => api(g, ctx, input).map(|a| items("items", a.resources.values().cloned().collect())),
        "UpdateResource" => edit(g, ctx, input, changes, |a| {
            let r = resource(a, input)?;
            apply_patch(r, input)?;
            Ok(r.clone())
        }),
        "DeleteResource" => edit(g, ctx, input, changes, |a| delete_resource(a, input)),
        "PutMethod" => edit(g, ctx, input, changes, |a| put_method(a, input)),
        "GetMethod" => api(g, ctx, input).cloned().and_then(|mut a| method(&mut a, input).cloned()),
        "UpdateMethod" => edit(g, ctx, input, changes, |a| {
            let m = method(a, input)?;
            apply_patch(m, input)?;
            Ok(m.clone())
        }),
        "DeleteMethod" => edit(g, ctx, input, changes, |a| delete_method(a, input)),
        "PutMethodResponse" => edit(g, ctx, input, changes, |a| put_method_response(a, input)),
        "GetMethodResponse" => api(g, ctx, input).cloned().and_then(|mut a| method_response(&mut a, input).cloned()),
        "UpdateMethodResponse" => edit(g, ctx, input, changes, |a| {
            let r = method_response(a, input)?;
            apply_patch(r, input)?;
            Ok(r.clone())
        }),
        "DeleteMethodResponse" => edit(g, ctx, input, changes, |a| {
            method_response(a, input)?;
            if let Some(m) = method(a, input)?.get_mut("methodResponses").and_then(Value::as_object_mut) {
                m.remove(&text(input, "statusCode"));
            }
            Ok(json!({}))
        }),
        "PutIntegration" => edit(g, ctx, input, changes, |a| put_integration(a, input)),
        "GetIntegration" => api(g, ctx, input).cloned().and_then(|mut a| integration(&mut a, input).cloned()),
        "UpdateIntegration" => edit(g, ctx, input, changes, |a| {
            let i = integration(a, input)?;
            apply_patch(i, input)?;
            Ok(i.clone())
        }),
        "DeleteIntegration" => edit(g, ctx, input, changes, |a| {
            integration(a, input)?;
            if let Some(m) = method(a, input)?.as_object_mut() {
                m.remove("methodIntegration");
            }
            Ok(json!({}))
        }),
        "PutIntegrationResponse" => edit(g, ctx, input, changes, |a| put_integration_response(a, input)),
        "GetIntegrationResponse" => {
            api(g, ctx, input).cloned().and_then(|mut a| integration_response(&mut a, input).cloned())
        }
        "UpdateIntegrationResponse" => edit(g, ctx, input, changes, |a| {
            let r = integration_response(a, input)?;
            apply_patch(r, input)?;
            Ok(r.clone())
        }),
        "DeleteIntegrationResponse" => edit(g, ctx, input, changes, |a| {
            integration_response(a, input)?;
            if let Some(m) = integration(a, input)?.get_mut("integrationResponses").and_then(Value::as_object_mut) {
                m.remove(&text(input, "statusCode"));
            }
            Ok(json!({}))
        }),
        "CreateDeployment" => edit(g, ctx, input, changes, |a| create_deployment(ctx, a, input)),
        "GetDeployment" => api(g, ctx, input).and_then(|a| {
            a.deployments
                .get(&text(input, "deploymentId"))
                .map(|d| d.doc.clone())
                .ok_or_else(|| not_found("Invalid Deployment identifier specified"))
        }),
        "GetDeployments" => {
            api(g, ctx, input).map(|a| items("items", a.deployments.values().map(|d| d.doc.clone()).collect()))
        }
        "UpdateDeployment" => edit(g, ctx, input, changes, |a| {
            let d = a
                .deployments
                .get_mut(&text(input, "deploymentId"))
                .ok_or_else(|| not_found("Invalid Deployment identifier specified"))?;
            apply_patch(&mut d.doc, input)?;
            Ok(d.doc.clone())
        }),
        "DeleteDeployment" => edit(g, ctx, input, changes, |a| {
            let id = text(input, "deploymentId");
            if !a.deployments.contains_key(&id) {
                return Err(not_found("Invalid Deployment identifier specified"));
            }
            if a.stages.values().any(|s| str_of(s, "deploymentId") == Some(id.as_str())) {
                return Err(bad_request("Active stages pointing to this deployment must be moved or deleted"));
            }
            a.deployments.remove(&id);
            Ok(json!({}))
        }),
        "CreateStage" => edit(g, ctx, input, changes, |a| create_stage(ctx, a, input)),
        "GetStage" => api(g, ctx, input).and_then(|a| {
            a.stages
                .get(&text(input, "stageName"))
                .cloned()
                .ok_or_else(|| not_found("Invalid Stage identifier specified"))
        }),
        "GetStages" => api(g, ctx, input).map(|a| {
            let list = a
                .stages
                .values()
                .filter(|s| str_of(input, "deploymentId").is_none_or(|d| str_of(s, "deploymentId") == Some(d)))
                .cloned();
            items("item", list.collect())
        }),
        "UpdateStage" => edit(g, ctx, input, changes, |a| {
            let s = a
                .stages
                .get_mut(&text(input, "stageName"))
                .ok_or_else(|| not_found("Invalid Stage identifier specified"))?;
            apply_patch(s, input)?;
            s["lastUpdatedDate"] = now(ctx);
            Ok(s.clone())
        }),
        "DeleteStage" => edit(g, ctx, input, changes, |a| {
            a.stages
                .remove(&text(input, "stageName"))
                .ok_or_else(|| not_found("Invalid Stage identifier specified"))?;
            Ok(json!({}))
        }),
        "FlushStageAuthorizersCache" | "FlushStageCache" => api(g, ctx, input).map(|_| json!({})),
        "CreateAuthorizer" => edit(g, ctx, input, changes, |a| create_in(a, "authorizer", input)),
        "CreateRequestValidator" => edit(g, ctx, input, changes, |a| create_in(a, "validator", input)),
        "CreateModel" => edit(g, ctx, input, changes, |a| create_in(a, "model", input)),
        "PutGatewayResponse" => edit(g, ctx, input, changes, |a| create_in(a, "response", input)),
        "GetAuthorizer" | "GetRequestValidator" | "GetModel" | "GetGatewayResponse" => {
            let kind = sub_kind(op);
            api(g, ctx, input).cloned().and_then(|mut a| {
                let key = key_of(kind, input);
                match collection(&mut a, kind).get(&key).cloned() {
                    Some(doc) => Ok(doc),
                    None if kind == "response" => default_response(&key).ok_or_else(|| missing(kind)),
                    None => Err(missing(kind)),
                }
            })
        }
        "GetAuthorizers" | "GetRequestValidators" | "GetModels" | "GetGatewayResponses" => {
            let kind = sub_kind(op);
            api(g, ctx, input).cloned().map(|mut a| {
                let mut list: Vec<Value> = collection(&mut a, kind).values().cloned().collect();
                if kind == "response" {
                    for (t, _) in RESPONSE_TYPES {
                        if !a.gateway_responses.contains_key(*t) {
                            list.extend(default_response(t));
                        }
                    }
                }
                items("items", list)
            })
        }
        "UpdateAuthorizer" | "UpdateRequestValidator" | "UpdateModel" | "UpdateGatewayResponse" => {
            let kind = sub_kind(op);
            edit(g, ctx, input, changes, |a| {
                let key = key_of(kind, input);
                let fallback = if kind == "response" { default_response(&key) } else { None };
                let doc = match collection(a, kind).get(&key).cloned().or(fallback) {
                    Some(d) => d,
                    None => return Err(missing(kind)),
                };
                let mut doc = doc;
                apply_patch(&mut doc, input)?;
                if kind == "response" {
                    doc["defaultResponse"] = json!(false);
                }
                collection(a, kind).insert(key, doc.clone());
                Ok(doc)
            })
        }
        "DeleteAuthorizer" | "DeleteRequestValidator" | "DeleteModel" | "DeleteGatewayResponse" => {
            let kind = sub_kind(op);
            edit(g, ctx, input, changes, |a| {
                let key = key_of(kind, input);
                collection(a, kind).remove(&key).ok_or_else(|| missing(kind))?;
                Ok(json!({}))
            })
        }
        "TagResource" => {
            let arn = text(input, "resourceArn");
            let mut tags = tags_of(g, ctx, &arn);
            for (k, v) in input["tags"].as_object().into_iter().flatten() {
                tags.insert(k.clone(), v.clone());
            }
            set_tags(g, ctx, &arn, tags, changes);
            Ok(json!({}))
        }
        "UntagResource" => {
            let arn = text(input, "resourceArn");
            let mut tags = tags_of(g, ctx, &arn);
            for k in input["tagKeys"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                tags.remove(k);
            }
            set_tags(g, ctx, &arn, tags, changes);
            Ok(json!({}))
        }
        "GetTags" => Ok(json!({"tags": tags_of(g, ctx, &text(input, "resourceArn"))})),
        "GetAccount" => Ok(json!({"throttleSettings": {"burstLimit": 5000, "rateLimit": 10000.0},
            "features": ["UsagePlans"], "apiKeyVersion": "4"})),
        _ => return account_doc(g, ctx, op, input, changes),
    };
    Some(out)
}

fn sub_kind(op: &str) -> &'static str {
    if op.contains("Authorizer") {
        "authorizer"
    } else if op.contains("RequestValidator") {
        "validator"
    } else if op.contains("Model") {
        "model"
    } else {
        "response"
    }
}
