//! OpenAPI (Swagger 2.0 and OpenAPI 3, JSON or YAML) with API Gateway's extensions:
//! ImportRestApi / PutRestApi build resources, methods, integrations, authorizers and gateway
//! responses from a definition; GetExport writes one back. ImportApi / ReimportApi do the same
//! for HTTP APIs (routes and their integrations).

use base64::Engine;
use nimbus_core::state::Changes;
use nimbus_core::{AwsError, RequestContext};
use serde_json::{json, Map, Value};

use crate::state::{http_key, rest_key, HttpApi, Record, RestApi};
use crate::util::{bad_request, new_id, str_of, text};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const METHODS: &[&str] =
    &["get", "put", "post", "delete", "options", "head", "patch", "x-amazon-apigateway-any-method"];

/// The definition in a request's `body` (a blob: base64 in the input document).
fn definition(input: &Value, member: &str) -> Result<Value, AwsError> {
    let raw = match input.get(member) {
        Some(Value::String(s)) => B64.decode(s).unwrap_or_else(|_| s.clone().into_bytes()),
        _ => return Err(bad_request("Invalid OpenAPI input.")),
    };
    let text = String::from_utf8_lossy(&raw);
    let doc: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => serde_yaml::from_str(&text).map_err(|e| bad_request(format!("Invalid OpenAPI input: {e}")))?,
    };
    if !doc.is_object() || (doc.get("swagger").is_none() && doc.get("openapi").is_none()) {
        return Err(bad_request("Invalid OpenAPI input: no swagger or openapi version"));
    }
    Ok(doc)
}

fn upper(v: Option<&Value>) -> Option<Value> {
    v.and_then(Value::as_str).map(|s| json!(s.to_ascii_uppercase()))
}

/// The security schemes (Swagger's `securityDefinitions` or OpenAPI 3's `components.securitySchemes`).
fn schemes(doc: &Value) -> Map<String, Value> {
    doc.get("securityDefinitions")
        .or_else(|| doc.pointer("/components/securitySchemes"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn integration_of(ext: &Value, resource_id: &str) -> Value {
    let mut doc = json!({
        "type": upper(ext.get("type")).unwrap_or(json!("AWS_PROXY")),
        "passthroughBehavior": upper(ext.get("passthroughBehavior")).unwrap_or(json!("WHEN_NO_MATCH")),
        "timeoutInMillis": ext.get("timeoutInMillis").cloned().unwrap_or(json!(29000)),
        "cacheNamespace": resource_id, "cacheKeyParameters": ext.get("cacheKeyParameters").cloned().unwrap_or(json!([])),
    });
    for k in [
        "httpMethod",
        "uri",
        "requestTemplates",
        "requestParameters",
        "contentHandling",
        "credentials",
        "connectionType",
        "connectionId",
    ] {
        if let Some(v) = ext.get(k) {
            doc[k] = v.clone();
        }
    }
    if let Some(m) = upper(ext.get("httpMethod")) {
        doc["httpMethod"] = m;
    }
    let mut responses = Map::new();
    for (pattern, r) in ext["responses"].as_object().into_iter().flatten() {
        let code = r["statusCode"]
            .as_str()
            .map(str::to_string)
            .or_else(|| r["statusCode"].as_u64().map(|c| c.to_string()))
            .unwrap_or("200".into());
        let mut resp = json!({"statusCode": code});
        if pattern != "default" {
            resp["selectionPattern"] = json!(pattern);
        }
        for k in ["responseParameters", "responseTemplates", "contentHandling"] {
            if let Some(v) = r.get(k) {
                resp[k] = v.clone();
            }
        }
        responses.insert(code, resp);
    }
    if !responses.is_empty() {
        doc["integrationResponses"] = Value::Object(responses);
    }
    doc
}

/// The model a local `$ref` names (`#/definitions/Pet`, `#/components/schemas/Pet`).
fn ref_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/definitions/").or_else(|| reference.strip_prefix("#/components/schemas/"))
}

/// A definition as a model's schema: local `$ref`s to other definitions become model URIs.
fn model_refs(schema: &Value, api_id: &str) -> Value {
    match schema {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| match (k.as_str(), v.as_str().and_then(ref_name)) {
                    ("$ref", Some(name)) => (k.clone(), json!(crate::validate::model_uri(api_id, name))),
                    _ => (k.clone(), model_refs(v, api_id)),
                })
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.iter().map(|v| model_refs(v, api_id)).collect()),
        other => other.clone(),
    }
}

/// Fill `api` from an OpenAPI document (`overwrite`: drop what it had first).
fn apply(api: &mut RestApi, doc: &Value, overwrite: bool) {
    if let Some(title) = doc.pointer("/info/title") {
        api.doc["name"] = title.clone();
    }
    if let Some(d) = doc.pointer("/info/description") {
        api.doc["description"] = d.clone();
    }
    if let Some(v) = doc.pointer("/info/version") {
        api.doc["version"] = v.clone();
    }
    if let Some(types) = doc.get("x-amazon-apigateway-binary-media-types") {
        api.doc["binaryMediaTypes"] = types.clone();
    }
    if let Some(policy) = doc.get("x-amazon-apigateway-policy") {
        api.doc["policy"] = json!(policy.to_string());
    }
    if overwrite {
        let root = text(&api.doc, "rootResourceId");
        api.resources.retain(|id, _| *id == root);
        if let Some(r) = api.resources.get_mut(&root) {
            if let Some(o) = r.as_object_mut() {
                o.remove("resourceMethods");
            }
        }
        api.authorizers.clear();
        api.models.clear();
        api.validators.clear();
        api.gateway_responses.clear();
    }
    // Authorizers first, so methods can name them.
    let mut authorizer_ids = Map::new();
    for (name, scheme) in schemes(doc) {
        let Some(ext) = scheme.get("x-amazon-apigateway-authorizer") else { continue };
        let id = api
            .authorizers
            .iter()
            .find(|(_, a)| str_of(a, "name") == Some(name.as_str()))
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| new_id(6));
        let kind = upper(ext.get("type")).unwrap_or(json!("TOKEN"));
        let header = str_of(&scheme, "name").unwrap_or("Authorization");
        let mut authorizer = json!({
            "id": id, "name": name, "type": if kind == "COGNITO_USER_POOLS" { kind.clone() } else { kind.clone() },
            "authType": scheme.get("x-amazon-apigateway-authtype").cloned().unwrap_or(json!("custom")),
            "identitySource": ext.get("identitySource").cloned().unwrap_or(json!(format!("method.request.header.{header}"))),
            "authorizerResultTtlInSeconds": ext.get("authorizerResultTtlInSeconds").cloned().unwrap_or(json!(300)),
        });
        for k in ["authorizerUri", "authorizerCredentials", "identityValidationExpression", "providerARNs"] {
            if let Some(v) = ext.get(k) {
                authorizer[k] = v.clone();
            }
        }
        authorizer_ids.insert(name.clone(), json!(id));
        api.authorizers.insert(id, authorizer);
    }
    // Request validators by name, and models from the definitions / component schemas.
    let mut validator_ids = Map::new();
    for (name, v) in doc["x-amazon-apigateway-request-validators"].as_object().into_iter().flatten() {
        let id = api
            .validators
            .iter()
            .find(|(_, d)| str_of(d, "name") == Some(name.as_str()))
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| new_id(6));
        let validator = json!({"id": id, "name": name,
            "validateRequestBody": v["validateRequestBody"] == true,
            "validateRequestParameters": v["validateRequestParameters"] == true});
        validator_ids.insert(name.clone(), json!(id));
        api.validators.insert(id, validator);
    }
    let api_id = text(&api.doc, "id");
    let definitions = doc.get("definitions").or_else(|| doc.pointer("/components/schemas"));
    for (name, schema) in definitions.and_then(Value::as_object).into_iter().flatten() {
        let id = api.models.get(name).and_then(|m| str_of(m, "id")).map_or_else(|| new_id(6), str::to_string);
        let schema = model_refs(schema, &api_id);
        api.models.insert(
            name.clone(),
            json!({"id": id, "name": name, "contentType": "application/json", "schema": schema.to_string()}),
        );
    }
    let default_validator = str_of(doc, "x-amazon-apigateway-request-validator");
    let schemes = schemes(doc);
    let global_security = doc.get("security").cloned().unwrap_or(Value::Null);
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let resource_id = crate::v1::ensure_resource(api, path);
        let shared_params = item.get("parameters").cloned().unwrap_or(json!([]));
        for (verb, op) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&verb.as_str()) {
                continue;
            }
            let name =
                if verb == "x-amazon-apigateway-any-method" { "ANY".to_string() } else { verb.to_ascii_uppercase() };
            let mut method = json!({"httpMethod": name, "authorizationType": "NONE", "apiKeyRequired": false});
            if let Some(id) = op.get("operationId") {
                method["operationName"] = id.clone();
            }
            let security = op.get("security").unwrap_or(&global_security);
            for requirement in security.as_array().into_iter().flatten() {
                for scheme_name in requirement.as_object().into_iter().flatten().map(|(k, _)| k) {
                    if let Some(id) = authorizer_ids.get(scheme_name) {
                        let cognito = api
                            .authorizers
                            .get(id.as_str().unwrap_or_default())
                            .is_some_and(|a| a["type"] == "COGNITO_USER_POOLS");
                        method["authorizationType"] = json!(if cognito { "COGNITO_USER_POOLS" } else { "CUSTOM" });
                        method["authorizerId"] = id.clone();
                    } else if schemes.get(scheme_name).is_some_and(|s| s["type"] == "apiKey") {
                        method["apiKeyRequired"] = json!(true);
                    } else if schemes.get(scheme_name).is_some_and(|s| s["x-amazon-apigateway-authtype"] == "awsSigv4")
                    {
                        method["authorizationType"] = json!("AWS_IAM");
                    }
                }
            }
            let mut request_parameters = Map::new();
            for p in
                shared_params.as_array().into_iter().flatten().chain(op["parameters"].as_array().into_iter().flatten())
            {
                let place = match str_of(p, "in") {
                    Some("path") => "path",
                    Some("query") => "querystring",
                    Some("header") => "header",
                    _ => continue,
                };
                request_parameters
                    .insert(format!("method.request.{place}.{}", text(p, "name")), json!(p["required"] == true));
            }
            if !request_parameters.is_empty() {
                method["requestParameters"] = Value::Object(request_parameters);
            }
            let validator = str_of(op, "x-amazon-apigateway-request-validator").or(default_validator);
            if let Some(id) = validator.and_then(|v| validator_ids.get(v)) {
                method["requestValidatorId"] = id.clone();
            }
            let mut request_models = Map::new();
            let body_params =
                shared_params.as_array().into_iter().flatten().chain(op["parameters"].as_array().into_iter().flatten());
            for p in body_params.filter(|p| str_of(p, "in") == Some("body")) {
                if let Some(name) = str_of(&p["schema"], "$ref").and_then(ref_name) {
                    request_models.insert("application/json".into(), json!(name));
                }
            }
            for (content_type, media) in
                op.pointer("/requestBody/content").and_then(Value::as_object).into_iter().flatten()
            {
                if let Some(name) = str_of(&media["schema"], "$ref").and_then(ref_name) {
                    request_models.insert(content_type.clone(), json!(name));
                }
            }
            if !request_models.is_empty() {
                method["requestModels"] = Value::Object(request_models);
            }
            let mut responses = Map::new();
            for (code, r) in op["responses"].as_object().into_iter().flatten() {
                let mut resp = json!({"statusCode": code});
                let headers: Map<String, Value> = r["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(h, _)| (format!("method.response.header.{h}"), json!(false)))
                    .collect();
                if !headers.is_empty() {
                    resp["responseParameters"] = Value::Object(headers);
                }
                responses.insert(code.clone(), resp);
            }
            if !responses.is_empty() {
                method["methodResponses"] = Value::Object(responses);
            }
            if let Some(ext) = op.get("x-amazon-apigateway-integration") {
                method["methodIntegration"] = integration_of(ext, &resource_id);
            }
            if let Some(resource) = api.resources.get_mut(&resource_id) {
                resource["resourceMethods"][&name] = method;
            }
        }
    }
    for (kind, r) in doc["x-amazon-apigateway-gateway-responses"].as_object().into_iter().flatten() {
        let mut response = json!({"responseType": kind, "defaultResponse": false});
        if let Some(code) = r.get("statusCode") {
            response["statusCode"] = json!(code.as_str().map_or_else(|| code.to_string(), str::to_string));
        }
        for k in ["responseParameters", "responseTemplates"] {
            if let Some(v) = r.get(k) {
                response[k] = v.clone();
            }
        }
        api.gateway_responses.insert(kind.clone(), response);
    }
}

pub fn import(
    ctx: &RequestContext,
    existing: Option<RestApi>,
    input: &Value,
    changes: &mut Changes<Record>,
) -> Result<Value, AwsError> {
    let doc = definition(input, "body")?;
    let overwrite = existing.is_some() && str_of(input, "mode") == Some("overwrite");
    let mut api = match existing {
        Some(api) => api,
        None => {
            crate::v1::new_api(ctx, &json!({"name": doc.pointer("/info/title").cloned().unwrap_or(json!("imported"))}))
        }
    };
    if let Some(endpoint) = input["parameters"]["endpointConfigurationTypes"].as_str() {
        api.doc["endpointConfiguration"]["types"] = json!([endpoint]);
    }
    apply(&mut api, &doc, overwrite);
    let out = api.doc.clone();
    changes.put(rest_key(&api.account, &api.region, &text(&api.doc, "id")), Record::Rest(Box::new(api)));
    Ok(out)
}

fn integration_ext(i: &Value) -> Value {
    let mut ext = Map::new();
    for k in [
        "type",
        "httpMethod",
        "uri",
        "passthroughBehavior",
        "requestTemplates",
        "requestParameters",
        "contentHandling",
        "timeoutInMillis",
        "credentials",
    ] {
        if let Some(v) = i.get(k) {
            let v = match k {
                "type" | "passthroughBehavior" => json!(v.as_str().unwrap_or_default().to_ascii_lowercase()),
                _ => v.clone(),
            };
            ext.insert(k.to_string(), v);
        }
    }
    let mut responses = Map::new();
    for r in i["integrationResponses"].as_object().into_iter().flatten().map(|(_, r)| r) {
        let key = str_of(r, "selectionPattern").filter(|p| !p.is_empty()).unwrap_or("default").to_string();
        let mut out = json!({"statusCode": r["statusCode"]});
        for k in ["responseParameters", "responseTemplates"] {
            if let Some(v) = r.get(k) {
                out[k] = v.clone();
            }
        }
        responses.insert(key, out);
    }
    if !responses.is_empty() {
        ext.insert("responses".into(), Value::Object(responses));
    }
    Value::Object(ext)
}

/// The deployed API of a stage as OpenAPI (`swagger` → 2.0, `oas30` → 3.0.1), JSON or YAML per
/// the `Accept` header; `extensions=integrations` (or `apigateway`) adds API Gateway's.
pub fn export(ctx: &RequestContext, api: &RestApi, input: &Value) -> Result<Value, AwsError> {
    let stage_name = text(input, "stageName");
    let stage =
        api.stages.get(&stage_name).ok_or_else(|| crate::util::not_found("Invalid Stage identifier specified"))?;
    let deployment = api.deployments.get(str_of(stage, "deploymentId").unwrap_or_default());
    let (resources, authorizers) = match deployment {
        Some(d) => (&d.resources, &d.authorizers),
        None => (&api.resources, &api.authorizers),
    };
    let oas3 = text(input, "exportType") == "oas30";
    if !oas3 && text(input, "exportType") != "swagger" {
        return Err(bad_request(format!("Invalid export type {}", text(input, "exportType"))));
    }
    let extensions = str_of(&input["parameters"], "extensions").unwrap_or_default();
    let with_integrations = extensions.contains("integrations") || extensions.contains("apigateway");
    let mut paths = Map::new();
    for resource in resources.values() {
        let Some(methods) = resource["resourceMethods"].as_object().filter(|m| !m.is_empty()) else { continue };
        let mut item = Map::new();
        for (name, m) in methods {
            let mut op = Map::new();
            if let Some(id) = m.get("operationName") {
                op.insert("operationId".into(), id.clone());
            }
            let mut parameters = Vec::new();
            for (p, required) in m["requestParameters"].as_object().into_iter().flatten() {
                let mut parts = p.splitn(4, '.');
                let (_, _, place, pname) =
                    (parts.next(), parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let place = if place == "querystring" { "query" } else { place };
                let mut param = json!({"name": pname, "in": place, "required": required == true || place == "path"});
                if oas3 {
                    param["schema"] = json!({"type": "string"});
                } else {
                    param["type"] = json!("string");
                }
                parameters.push(param);
            }
            if !parameters.is_empty() {
                op.insert("parameters".into(), Value::Array(parameters));
            }
            let mut responses = Map::new();
            for (code, r) in m["methodResponses"].as_object().into_iter().flatten() {
                let mut resp = json!({"description": format!("{code} response")});
                let headers: Map<String, Value> = r["responseParameters"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, _)| k.strip_prefix("method.response.header."))
                    .map(|h| {
                        (
                            h.to_string(),
                            if oas3 { json!({"schema": {"type": "string"}}) } else { json!({"type": "string"}) },
                        )
                    })
                    .collect();
                if !headers.is_empty() {
                    resp["headers"] = Value::Object(headers);
                }
                responses.insert(code.clone(), resp);
            }
            op.insert("responses".into(), Value::Object(responses));
            if let Some(a) = str_of(m, "authorizerId").and_then(|id| authorizers.get(id)) {
                op.insert("security".into(), json!([{ text(a, "name"): [] }]));
            }
            if m["apiKeyRequired"] == true {
                let mut security = op.get("security").and_then(Value::as_array).cloned().unwrap_or_default();
                security.push(json!({"api_key": []}));
                op.insert("security".into(), Value::Array(security));
            }
            if with_integrations {
                if let Some(i) = m.get("methodIntegration") {
                    op.insert("x-amazon-apigateway-integration".into(), integration_ext(i));
                }
            }
            let verb =
                if name == "ANY" { "x-amazon-apigateway-any-method".to_string() } else { name.to_ascii_lowercase() };
            item.insert(verb, Value::Object(op));
        }
        paths.insert(text(resource, "path"), Value::Object(item));
    }
    let mut security = Map::new();
    for a in authorizers.values() {
        let mut ext = json!({"type": text(a, "type").to_ascii_lowercase(), "authorizerResultTtlInSeconds": a["authorizerResultTtlInSeconds"]});
        for k in ["authorizerUri", "identitySource", "identityValidationExpression", "providerARNs"] {
            if let Some(v) = a.get(k) {
                ext[k] = v.clone();
            }
        }
        let header = str_of(a, "identitySource")
            .and_then(|s| s.strip_prefix("method.request.header."))
            .unwrap_or("Authorization");
        security.insert(
            text(a, "name"),
            json!({"type": "apiKey", "name": header, "in": "header", "x-amazon-apigateway-authtype": a.get("authType").cloned().unwrap_or(json!("custom")), "x-amazon-apigateway-authorizer": ext}),
        );
    }
    if resources
        .values()
        .any(|r| r["resourceMethods"].as_object().is_some_and(|m| m.values().any(|m| m["apiKeyRequired"] == true)))
    {
        security.insert("api_key".into(), json!({"type": "apiKey", "name": "x-api-key", "in": "header"}));
    }
    let info = json!({"title": api.doc["name"], "version": api.doc.get("version").cloned().unwrap_or(json!(text(&api.doc, "createdDate")))});
    let host = format!("{}.execute-api.{}.amazonaws.com", text(&api.doc, "id"), ctx.region);
    let mut out = if oas3 {
        json!({"openapi": "3.0.1", "info": info, "servers": [{"url": format!("https://{host}/{{basePath}}"), "variables": {"basePath": {"default": stage_name}}}], "paths": paths})
    } else {
        json!({"swagger": "2.0", "info": info, "host": host, "basePath": format!("/{stage_name}"), "schemes": ["https"], "paths": paths})
    };
    if let Some(d) = api.doc.get("description") {
        out["info"]["description"] = d.clone();
    }
    if !security.is_empty() {
        if oas3 {
            out["components"] = json!({"securitySchemes": security});
        } else {
            out["securityDefinitions"] = Value::Object(security);
        }
    }
    if let Some(types) = api.doc.get("binaryMediaTypes").filter(|t| t.as_array().is_some_and(|a| !a.is_empty())) {
        out["x-amazon-apigateway-binary-media-types"] = types.clone();
    }
    let yaml = str_of(input, "accepts").is_some_and(|a| a.contains("yaml"));
    let (body, content_type, ext) = if yaml {
        (serde_yaml::to_string(&out).unwrap_or_default(), "application/yaml", "yaml")
    } else {
        (serde_json::to_string_pretty(&out).unwrap_or_default(), "application/json", "json")
    };
    let kind = if oas3 { "oas30" } else { "swagger" };
    Ok(json!({
        "contentType": content_type,
        "contentDisposition": format!("attachment; filename=\"{kind}_{}.{ext}\"", ctx.clock.now().format("%Y-%m-%dT%H:%M:%SZ")),
        "body": B64.encode(body),
    }))
}

/// ImportApi / ReimportApi for HTTP APIs: each path and method becomes a route, each
/// `x-amazon-apigateway-integration` an integration.
pub fn import_v2(
    ctx: &RequestContext,
    existing: Option<HttpApi>,
    input: &Value,
    changes: &mut Changes<Record>,
) -> Result<Value, AwsError> {
    let doc = definition(input, "Body")?;
    let mut api = match existing {
        Some(mut api) => {
            api.routes.clear();
            api.integrations.clear();
            api
        }
        None => {
            let id = new_id(10);
            let port = ctx.endpoint.rsplit(':').next().unwrap_or("4566").to_string();
            HttpApi {
                account: ctx.account.clone(),
                region: ctx.region.clone(),
                doc: json!({"ApiId": id, "ApiEndpoint": format!("http://{id}.execute-api.{}.localhost:{port}", ctx.region),
                    "CreatedDate": ctx.clock.now().format("%Y-%m-%dT%H:%M:%SZ").to_string(), "ProtocolType": "HTTP",
                    "ApiKeySelectionExpression": "$request.header.x-api-key", "DisableExecuteApiEndpoint": false,
                    "RouteSelectionExpression": "$request.method $request.path", "Tags": {}}),
                ..Default::default()
            }
        }
    };
    api.doc["Name"] = doc.pointer("/info/title").cloned().unwrap_or(json!("imported"));
    if let Some(v) = doc.pointer("/info/version") {
        api.doc["Version"] = v.clone();
    }
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (verb, op) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&verb.as_str()) {
                continue;
            }
            let method =
                if verb == "x-amazon-apigateway-any-method" { "ANY".to_string() } else { verb.to_ascii_uppercase() };
            let key = if path == "$default" { "$default".to_string() } else { format!("{method} {path}") };
            let route_id = new_id(7);
            let mut route =
                json!({"RouteId": route_id, "RouteKey": key, "ApiKeyRequired": false, "AuthorizationType": "NONE"});
            if let Some(ext) = op.get("x-amazon-apigateway-integration") {
                let integration_id = new_id(7);
                let kind = ext["type"].as_str().unwrap_or("aws_proxy").to_ascii_uppercase();
                api.integrations.insert(
                    integration_id.clone(),
                    json!({"IntegrationId": integration_id, "IntegrationType": kind, "ConnectionType": "INTERNET",
                           "IntegrationUri": ext["uri"], "IntegrationMethod": ext.get("httpMethod").cloned().unwrap_or(json!("POST")),
                           "PayloadFormatVersion": ext.get("payloadFormatVersion").cloned().unwrap_or(json!("2.0")),
                           "TimeoutInMillis": ext.get("timeoutInMillis").cloned().unwrap_or(json!(30000))}),
                );
                route["Target"] = json!(format!("integrations/{integration_id}"));
            }
            api.routes.insert(route_id, route);
        }
    }
    let out = api.doc.clone();
    changes.put(http_key(&api.account, &api.region, &text(&api.doc, "ApiId")), Record::Http(Box::new(api)));
    Ok(out)
}
