//! Serving REST APIs (v1): the stage's deployment → resource and method → API key and
//! authorizer checks → integration (`AWS_PROXY`, `AWS`, `MOCK`, `HTTP`, `HTTP_PROXY`) → the
//! method's answer. Failures answer with the API's gateway responses, as AWS does.

use std::time::Duration;

use base64::Engine;
use nimbus_core::delivery::Source;
use nimbus_core::invoke::Invocation;
use nimbus_core::{HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::serve::{self, decode, function_of, is_binary, Address};
use crate::state::{doc_prefix, Docs};
use crate::util::str_of;
use crate::vtl;
use crate::ApiGateway;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Everything one request needs, copied out of the state under its lock.
struct Route {
    account: String,
    region: String,
    api_id: String,
    stage: String,
    variables: Value,
    resource_id: String,
    resource_path: String,
    /// The request path within the stage.
    path: String,
    path_params: Map<String, Value>,
    method: Value,
    binary_media_types: Value,
    responses: Docs,
    authorizers: Docs,
    validators: Docs,
    models: Docs,
    api_keys: Vec<Value>,
}

/// Where routing stopped, as the gateway response type AWS answers with.
enum Miss {
    NoApi,
    NoStage,
    NoRoute(Docs),
}

/// The segments of a resource path template matched against a request path: a score per
/// segment (literal over `{param}` over `{proxy+}`, left to right) and the path parameters.
fn match_template(template: &str, path: &str) -> Option<(Vec<u8>, Map<String, Value>)> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let segments: Vec<&str> = template.split('/').filter(|p| !p.is_empty()).collect();
    let mut score = Vec::new();
    let mut params = Map::new();
    for (i, seg) in segments.iter().enumerate() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
            if i != segments.len() - 1 || parts.len() <= i {
                return None;
            }
            params.insert(name.to_string(), json!(parts[i..].iter().map(|p| decode(p)).collect::<Vec<_>>().join("/")));
            score.push(1);
            return Some((score, params));
        }
        let part = parts.get(i)?;
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            params.insert(name.to_string(), json!(decode(part)));
            score.push(2);
        } else if *seg == decode(part) {
            score.push(3);
        } else {
            return None;
        }
    }
    (segments.len() == parts.len()).then_some((score, params))
}

fn route(gw: &ApiGateway, method: &str, addr: &Address) -> Result<Route, Miss> {
    gw.store.read(|g| {
        let api = g.rest_by_id(&addr.api_id).ok_or(Miss::NoApi)?;
        let (stage_name, path) = match &addr.stage {
            Some(s) => (s.clone(), addr.path.clone()),
            None => {
                let trimmed = addr.path.trim_start_matches('/');
                let (s, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
                (decode(s), format!("/{rest}"))
            }
        };
        let stage = api.stages.get(&stage_name).ok_or(Miss::NoStage)?;
        let deployment = api
            .deployments
            .get(str_of(stage, "deploymentId").unwrap_or_default())
            .ok_or_else(|| Miss::NoRoute(api.gateway_responses.clone()))?;
        let best = deployment
            .resources
            .values()
            .filter_map(|r| {
                let (score, params) = match_template(str_of(r, "path").unwrap_or("/"), &path)?;
                let methods = r.get("resourceMethods")?;
                let m = methods.get(method).or_else(|| methods.get("ANY"))?;
                Some((score, params, r, m))
            })
            .max_by(|a, b| a.0.cmp(&b.0));
        let Some((_, path_params, resource, method_doc)) = best else {
            return Err(Miss::NoRoute(api.gateway_responses.clone()));
        };
        let needs_key = method_doc["apiKeyRequired"] == true;
        let key_prefix = doc_prefix("apikey", &api.account, &api.region);
        let api_keys = if needs_key {
            g.docs
                .range(key_prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&key_prefix))
                .map(|(_, d)| d.clone())
                .collect()
        } else {
            Vec::new()
        };
        Ok(Route {
            account: api.account.clone(),
            region: api.region.clone(),
            api_id: addr.api_id.clone(),
            stage: stage_name,
            variables: stage.get("variables").cloned().unwrap_or(Value::Null),
            resource_id: str_of(resource, "id").unwrap_or_default().to_string(),
            resource_path: str_of(resource, "path").unwrap_or("/").to_string(),
            path,
            path_params,
            method: method_doc.clone(),
            binary_media_types: api.doc.get("binaryMediaTypes").cloned().unwrap_or(Value::Null),
            responses: api.gateway_responses.clone(),
            authorizers: deployment.authorizers.clone(),
            validators: deployment.validators.clone(),
            models: deployment.models.clone(),
            api_keys,
        })
    })
}

/// A gateway response (`MISSING_AUTHENTICATION_TOKEN`, `ACCESS_DENIED`, …) rendered with its
/// message, the API's own if it has one.
fn gateway_error(responses: &Docs, kind: &str, status: u16, message: &str, error_type: &str) -> HttpResponse {
    let doc = crate::v1::gateway_response(responses, kind)
        .or_else(|| crate::v1::gateway_response(responses, if status >= 500 { "DEFAULT_5XX" } else { "DEFAULT_4XX" }))
        .unwrap_or(Value::Null);
    let status = str_of(&doc, "statusCode").and_then(|s| s.parse().ok()).unwrap_or(status);
    let template =
        doc["responseTemplates"]["application/json"].as_str().unwrap_or("{\"message\":$context.error.messageString}");
    let quoted = if message.is_empty() { "null".to_string() } else { Value::String(message.to_string()).to_string() };
    let body = template.replace("$context.error.messageString", &quoted).replace("$context.error.message", message);
    let mut response = HttpResponse::new(status, "application/json", body).with_header("x-amzn-ErrorType", error_type);
    for (k, v) in doc["responseParameters"].as_object().into_iter().flatten() {
        if let (Some(name), Some(value)) = (k.strip_prefix("gatewayresponse.header."), v.as_str()) {
            response.headers.push((name.to_string(), value.trim_matches('\'').to_string()));
        }
    }
    response
}

fn missing_token(responses: &Docs) -> HttpResponse {
    gateway_error(
        responses,
        "MISSING_AUTHENTICATION_TOKEN",
        403,
        "Missing Authentication Token",
        "MissingAuthenticationTokenException",
    )
}

fn internal(responses: &Docs) -> HttpResponse {
    gateway_error(responses, "API_CONFIGURATION_ERROR", 500, "Internal server error", "InternalServerErrorException")
}

pub async fn serve(gw: &ApiGateway, req: &HttpRequest, addr: Address) -> HttpResponse {
    let route = match route(gw, req.method.as_str(), &addr) {
        Ok(r) => r,
        Err(Miss::NoApi) => return HttpResponse::json(404, &json!({"message": "Not Found"})),
        Err(Miss::NoStage) => {
            return HttpResponse::json(403, &json!({"message": "Forbidden"}))
                .with_header("x-amzn-ErrorType", "ForbiddenException")
        }
        Err(Miss::NoRoute(responses)) => return missing_token(&responses),
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    if route.method["apiKeyRequired"] == true {
        let given = req.header("x-api-key").unwrap_or_default();
        let valid = route.api_keys.iter().any(|k| k["enabled"] == true && str_of(k, "value") == Some(given));
        if given.is_empty() || !valid {
            return gateway_error(&route.responses, "INVALID_API_KEY", 403, "Forbidden", "ForbiddenException");
        }
    }
    let mut authorizer_context = Value::Null;
    if str_of(&route.method, "authorizationType") == Some("CUSTOM") {
        match authorize(gw, req, &route).await {
            Ok(ctx) => authorizer_context = ctx,
            Err(response) => return response,
        }
    }
    if let Err(response) = validate_request(req, &route) {
        return response;
    }
    let context = request_context(req, &route, &request_id, &authorizer_context);
    let integration = route.method.get("methodIntegration").cloned().unwrap_or(Value::Null);
    let mut response = match str_of(&integration, "type").unwrap_or_default() {
        "AWS_PROXY" => lambda_proxy(gw, req, &route, &integration, context).await,
        "AWS" => lambda_custom(gw, req, &route, &integration, &context).await,
        "MOCK" => mock(req, &route, &integration, &context),
        "HTTP_PROXY" => http_proxy(req, &route, &integration).await,
        "HTTP" => http_custom(req, &route, &integration, &context).await,
        _ => internal(&route.responses),
    };
    response.headers.push(("x-amzn-RequestId".into(), request_id));
    response.headers.push(("x-amz-apigw-id".into(), crate::util::new_id(16)));
    response
}

/// The method's request validator: required parameters first, then the body against its model.
fn validate_request(req: &HttpRequest, route: &Route) -> Result<(), HttpResponse> {
    let Some(validator) = str_of(&route.method, "requestValidatorId").and_then(|id| route.validators.get(id)) else {
        return Ok(());
    };
    if validator["validateRequestParameters"] == true {
        let missing = crate::validate::missing_parameters(&route.method, req, &route.path_params);
        if !missing.is_empty() {
            let message = format!("Missing required request parameters: [{}]", missing.join(", "));
            return Err(gateway_error(
                &route.responses,
                "BAD_REQUEST_PARAMETERS",
                400,
                &message,
                "BadRequestException",
            ));
        }
    }
    if validator["validateRequestBody"] == true
        && !crate::validate::body_is_valid(&route.method, &route.models, &route.api_id, &req.body)
    {
        return Err(gateway_error(
            &route.responses,
            "BAD_REQUEST_BODY",
            400,
            "Invalid request body",
            "BadRequestException",
        ));
    }
    Ok(())
}

fn source_arn(route: &Route, method: &str) -> String {
    format!(
        "arn:aws:execute-api:{}:{}:{}/{}/{method}{}",
        route.region, route.account, route.api_id, route.stage, route.path
    )
}

fn query_maps(req: &HttpRequest) -> (Value, Value) {
    if req.query.is_empty() {
        return (Value::Null, Value::Null);
    }
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in &req.query {
        single.insert(k.clone(), json!(v));
        match multi.get_mut(k) {
            Some(Value::Array(list)) => list.push(json!(v)),
            _ => {
                multi.insert(k.clone(), json!([v]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

fn or_null(map: Map<String, Value>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

/// `requestContext` of the proxy event (and `$context` of mapping templates).
fn request_context(req: &HttpRequest, route: &Route, request_id: &str, authorizer: &Value) -> Value {
    let now = chrono::Utc::now();
    let mut context = json!({
        "resourceId": route.resource_id,
        "resourcePath": route.resource_path,
        "httpMethod": req.method.as_str(),
        "extendedRequestId": crate::util::new_id(16),
        "requestTime": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
        "path": format!("/{}{}", route.stage, route.path),
        "accountId": route.account,
        "protocol": "HTTP/1.1",
        "stage": route.stage,
        "domainPrefix": route.api_id,
        "requestTimeEpoch": now.timestamp_millis(),
        "requestId": request_id,
        "identity": {
            "cognitoIdentityPoolId": null, "accountId": null, "cognitoIdentityId": null, "caller": null,
            "sourceIp": "127.0.0.1", "principalOrgId": null, "accessKey": null,
            "cognitoAuthenticationType": null, "cognitoAuthenticationProvider": null, "userArn": null,
            "userAgent": req.header("user-agent"), "user": null,
            "apiKey": req.header("x-api-key"),
        },
        "domainName": req.header("host").unwrap_or_default(),
        "apiId": route.api_id,
    });
    if !authorizer.is_null() {
        context["authorizer"] = authorizer.clone();
    }
    context
}

/// The body as the event carries it: text, or base64 for a binary media type.
fn event_body(req: &HttpRequest, route: &Route) -> (Value, bool) {
    if req.body.is_empty() {
        return (Value::Null, false);
    }
    let content_type = req.header("content-type").unwrap_or_default();
    match std::str::from_utf8(&req.body) {
        Ok(text) if !is_binary(&route.binary_media_types, content_type) => (json!(text), false),
        _ => (json!(B64.encode(&req.body)), true),
    }
}

/// AWS's proxy event (`AWS_PROXY`, REST APIs).
fn proxy_event(req: &HttpRequest, route: &Route, context: Value) -> Value {
    let (headers, multi_headers) = serve::headers(req);
    let (query, multi_query) = query_maps(req);
    let (body, base64) = event_body(req, route);
    json!({
        "resource": route.resource_path,
        "path": route.path,
        "httpMethod": req.method.as_str(),
        "headers": or_null(headers),
        "multiValueHeaders": or_null(multi_headers),
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": or_null(route.path_params.clone()),
        "stageVariables": route.variables.clone(),
        "requestContext": context,
        "body": body,
        "isBase64Encoded": base64,
    })
}

fn timeout_of(integration: &Value) -> Duration {
    Duration::from_millis(integration["timeoutInMillis"].as_u64().unwrap_or(29_000).clamp(50, 29_000))
}

/// Invoke the integration's function; `Err` is the response to send (502/500/504).
async fn call_function(
    gw: &ApiGateway,
    route: &Route,
    uri: &str,
    source_arn: String,
    payload: Vec<u8>,
    timeout: Duration,
) -> Result<nimbus_core::invoke::InvokeResult, HttpResponse> {
    let Some(invoker) = gw.invoker.read().clone() else { return Err(internal(&route.responses)) };
    let Some(function) = function_of(uri, &route.variables) else { return Err(internal(&route.responses)) };
    let account = nimbus_core::arn::Arn::parse(&function).map_or(route.account.clone(), |a| a.account);
    let call = Invocation {
        account: if account.is_empty() { route.account.clone() } else { account },
        region: route.region.clone(),
        function,
        payload,
        source: Source {
            principal: "apigateway.amazonaws.com".into(),
            source_arn: Some(source_arn),
            source_account: Some(route.account.clone()),
        },
    };
    match tokio::time::timeout(timeout, invoker.invoke(call)).await {
        Err(_) => Err(gateway_error(
            &route.responses,
            "INTEGRATION_TIMEOUT",
            504,
            "Endpoint request timed out",
            "InternalServerErrorException",
        )),
        Ok(Err(err)) => {
            tracing::warn!(code = %err.code, message = %err.message, "API Gateway could not invoke the integration's function");
            Err(internal(&route.responses))
        }
        Ok(Ok(result)) => Ok(result),
    }
}

async fn lambda_proxy(
    gw: &ApiGateway,
    req: &HttpRequest,
    route: &Route,
    integration: &Value,
    context: Value,
) -> HttpResponse {
    let event = proxy_event(req, route, context);
    let arn = source_arn(route, req.method.as_str());
    let uri = str_of(integration, "uri").unwrap_or_default();
    let result = match call_function(gw, route, uri, arn, event.to_string().into_bytes(), timeout_of(integration)).await
    {
        Ok(r) => r,
        Err(response) => return response,
    };
    if result.function_error.is_some() {
        return gateway_error(
            &route.responses,
            "DEFAULT_5XX",
            502,
            "Internal server error",
            "InternalServerErrorException",
        );
    }
    match proxy_response(&result.payload, &route.binary_media_types, req.header("accept").unwrap_or_default()) {
        Some(response) => response,
        None => {
            tracing::warn!(api = %route.api_id, "Execution failed due to configuration error: Malformed Lambda proxy response");
            gateway_error(&route.responses, "DEFAULT_5XX", 502, "Internal server error", "InternalServerErrorException")
        }
    }
}

fn header_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Map a proxy integration's answer (`statusCode`, `headers`, `multiValueHeaders`, `body`,
/// `isBase64Encoded`) to HTTP; `None` when it is malformed (AWS answers 502).
pub fn proxy_response(payload: &[u8], binary_media_types: &Value, accept: &str) -> Option<HttpResponse> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let obj = value.as_object()?;
    let status = match obj.get("statusCode")? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.parse().ok()?,
        _ => return None,
    };
    if !(100..600).contains(&status) {
        return None;
    }
    let base64 = obj.get("isBase64Encoded").is_some_and(|b| b == true || b == "true");
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if base64 && is_binary(binary_media_types, accept) => B64.decode(s).ok()?,
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(_) => return None,
    };
    let mut response = HttpResponse { status: status as u16, headers: Vec::new(), body: body.into() };
    let mut names: Vec<String> = Vec::new();
    if let Some(headers) = obj.get("headers").filter(|h| !h.is_null()) {
        for (k, v) in headers.as_object()? {
            names.push(k.to_ascii_lowercase());
            push(&mut response, k, header_value(v)?);
        }
    }
    if let Some(headers) = obj.get("multiValueHeaders").filter(|h| !h.is_null()) {
        for (k, list) in headers.as_object()? {
            if names.contains(&k.to_ascii_lowercase()) {
                response.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(k));
            }
            names.push(k.to_ascii_lowercase());
            for v in list.as_array()? {
                push(&mut response, k, header_value(v)?);
            }
        }
    }
    if !names.iter().any(|n| n == "content-type") {
        response.headers.push(("Content-Type".into(), "application/json".into()));
    }
    Some(response)
}

fn push(response: &mut HttpResponse, name: &str, value: String) {
    let framing = name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding");
    if framing || http::HeaderName::from_bytes(name.as_bytes()).is_err() || http::HeaderValue::from_str(&value).is_err()
    {
        return;
    }
    response.headers.push((name.to_string(), value));
}

/// The input of mapping templates for this request.
fn template_input<'a>(req: &'a HttpRequest, route: &'a Route, context: &'a Value) -> vtl::Input<'a> {
    let mut header = Map::new();
    for (k, v) in &req.headers {
        header.insert(k.as_str().to_string(), json!(String::from_utf8_lossy(v.as_bytes())));
    }
    let query: Map<String, Value> = req.query.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    vtl::Input {
        body: String::from_utf8_lossy(&req.body).into_owned(),
        params: json!({"path": route.path_params, "querystring": query, "header": header}),
        context: context.clone(),
        stage_variables: route.variables.clone(),
        _marker: std::marker::PhantomData,
    }
}

/// The request template for the request's content type (`application/json` by default), or
/// the body passed through.
fn request_body(req: &HttpRequest, integration: &Value, input: &vtl::Input) -> Result<String, ()> {
    let content_type =
        req.header("content-type").unwrap_or("application/json").split(';').next().unwrap_or("").trim().to_string();
    let templates = &integration["requestTemplates"];
    let template = templates.get(&content_type).or_else(|| {
        (integration["passthroughBehavior"] != "WHEN_NO_MATCH" || templates.as_object().is_none_or(|t| t.is_empty()))
            .then(|| templates.get("application/json"))
            .flatten()
    });
    match template.and_then(Value::as_str) {
        Some(t) => Ok(vtl::render(t, input)),
        None if integration["passthroughBehavior"] == "NEVER"
            && templates.as_object().is_some_and(|t| !t.is_empty()) =>
        {
            Err(())
        }
        None => Ok(input.body.clone()),
    }
}

/// Pick the integration response: the one whose `selectionPattern` matches `selector` (the
/// status code for HTTP and MOCK, the error message for Lambda), else the default (no pattern).
fn select<'a>(integration: &'a Value, selector: &str) -> Option<&'a Value> {
    let responses = integration["integrationResponses"].as_object()?;
    responses
        .values()
        .find(|r| {
            str_of(r, "selectionPattern")
                .filter(|p| !p.is_empty())
                .and_then(|p| regex::Regex::new(&format!("^(?s:{p})$")).ok())
                .is_some_and(|re| re.is_match(selector))
        })
        .or_else(|| responses.values().find(|r| str_of(r, "selectionPattern").is_none_or(str::is_empty)))
}

/// Render the chosen integration response: status, mapped headers, the response template.
fn integration_answer(
    response: Option<&Value>,
    upstream_body: &str,
    upstream_headers: &[(String, String)],
    input: &vtl::Input,
) -> HttpResponse {
    let Some(chosen) = response else {
        // No integration response configured: AWS answers the method with the raw body.
        return HttpResponse::new(200, "application/json", upstream_body.to_string());
    };
    let status = str_of(chosen, "statusCode").and_then(|s| s.parse().ok()).unwrap_or(200);
    let body = match chosen["responseTemplates"]["application/json"].as_str().filter(|t| !t.is_empty()) {
        Some(t) => vtl::render(t, &vtl::Input { body: upstream_body.to_string(), ..input.clone() }),
        None => upstream_body.to_string(),
    };
    let mut out = HttpResponse { status, headers: Vec::new(), body: body.into() };
    for (k, v) in chosen["responseParameters"].as_object().into_iter().flatten() {
        let (Some(name), Some(source)) = (k.strip_prefix("method.response.header."), v.as_str()) else { continue };
        let value = if let Some(literal) = source.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            Some(literal.to_string())
        } else if let Some(h) = source.strip_prefix("integration.response.header.") {
            upstream_headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(h)).map(|(_, v)| v.clone())
        } else {
            None
        };
        if let Some(value) = value {
            push(&mut out, name, value);
        }
    }
    if out.header("content-type").is_none() {
        out.headers.push(("Content-Type".into(), "application/json".into()));
    }
    out
}

fn unsupported_media(route: &Route) -> HttpResponse {
    gateway_error(
        &route.responses,
        "UNSUPPORTED_MEDIA_TYPE",
        415,
        "Unsupported Media Type",
        "UnsupportedMediaTypeException",
    )
}

fn mock(req: &HttpRequest, route: &Route, integration: &Value, context: &Value) -> HttpResponse {
    let input = template_input(req, route, context);
    let Ok(rendered) = request_body(req, integration, &input) else { return unsupported_media(route) };
    let status = serde_json::from_str::<Value>(&rendered).ok().and_then(|v| v["statusCode"].as_u64()).unwrap_or(200);
    integration_answer(select(integration, &status.to_string()), "", &[], &input)
}

/// `AWS` integrations with Lambda: templates map the request to the event and the function's
/// answer (or error message) to the response.
async fn lambda_custom(
    gw: &ApiGateway,
    req: &HttpRequest,
    route: &Route,
    integration: &Value,
    context: &Value,
) -> HttpResponse {
    let input = template_input(req, route, context);
    let Ok(payload) = request_body(req, integration, &input) else { return unsupported_media(route) };
    let uri = str_of(integration, "uri").unwrap_or_default();
    let arn = source_arn(route, req.method.as_str());
    let result = match call_function(gw, route, uri, arn, payload.into_bytes(), timeout_of(integration)).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let body = String::from_utf8_lossy(&result.payload).into_owned();
    let selector = if result.function_error.is_some() {
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["errorMessage"].as_str().map(str::to_string))
            .unwrap_or_default()
    } else {
        String::new()
    };
    integration_answer(select(integration, &selector), &body, &[], &input)
}

fn integration_url(integration: &Value, route: &Route, req: &HttpRequest) -> String {
    let mut url = serve::substitute_stage_variables(str_of(integration, "uri").unwrap_or_default(), &route.variables);
    for (k, v) in &route.path_params {
        let v = v.as_str().unwrap_or_default();
        url = url.replace(&format!("{{{k}+}}"), v).replace(&format!("{{{k}}}"), v);
    }
    if !req.query.is_empty() {
        let query: Vec<String> = req.query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query.join("&"));
    }
    url
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn request_headers(req: &HttpRequest) -> Vec<(String, String)> {
    req.headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect()
}

async fn http_proxy(req: &HttpRequest, route: &Route, integration: &Value) -> HttpResponse {
    let url = integration_url(integration, route, req);
    let method = match str_of(integration, "httpMethod") {
        Some("ANY") | None => req.method.as_str().to_string(),
        Some(m) => m.to_string(),
    };
    match serve::http_call(&method, &url, &request_headers(req), &req.body, timeout_of(integration)).await {
        Ok(up) => {
            let mut response = HttpResponse { status: up.status, headers: Vec::new(), body: up.body.into() };
            for (k, v) in up.headers {
                push(&mut response, &k, v);
            }
            response
        }
        Err(e) if e == "timeout" => gateway_error(
            &route.responses,
            "INTEGRATION_TIMEOUT",
            504,
            "Endpoint request timed out",
            "InternalServerErrorException",
        ),
        Err(e) => {
            tracing::warn!(url, error = %e, "HTTP integration failed");
            gateway_error(
                &route.responses,
                "INTEGRATION_FAILURE",
                502,
                "Internal server error",
                "InternalServerErrorException",
            )
        }
    }
}

async fn http_custom(req: &HttpRequest, route: &Route, integration: &Value, context: &Value) -> HttpResponse {
    let input = template_input(req, route, context);
    let Ok(payload) = request_body(req, integration, &input) else { return unsupported_media(route) };
    let url = integration_url(integration, route, req);
    let method = str_of(integration, "httpMethod").unwrap_or("GET").to_string();
    let headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    match serve::http_call(&method, &url, &headers, payload.as_bytes(), timeout_of(integration)).await {
        Ok(up) => {
            let body = String::from_utf8_lossy(&up.body).into_owned();
            integration_answer(select(integration, &up.status.to_string()), &body, &up.headers, &input)
        }
        Err(e) if e == "timeout" => gateway_error(
            &route.responses,
            "INTEGRATION_TIMEOUT",
            504,
            "Endpoint request timed out",
            "InternalServerErrorException",
        ),
        Err(_) => gateway_error(
            &route.responses,
            "INTEGRATION_FAILURE",
            502,
            "Internal server error",
            "InternalServerErrorException",
        ),
    }
}

/// Lambda `TOKEN` and `REQUEST` authorizers: the policy the function returns must allow
/// `execute-api:Invoke` on this method's ARN. Results are cached by identity for the TTL.
async fn authorize(gw: &ApiGateway, req: &HttpRequest, route: &Route) -> Result<Value, HttpResponse> {
    let id = str_of(&route.method, "authorizerId").unwrap_or_default();
    let Some(authorizer) = route.authorizers.get(id) else { return Err(internal(&route.responses)) };
    let method_arn = source_arn(route, req.method.as_str());
    let kind = str_of(authorizer, "type").unwrap_or("TOKEN");
    let sources = str_of(authorizer, "identitySource").unwrap_or("method.request.header.Authorization");
    let identity: Vec<String> =
        sources.split(',').map(|s| identity_value(req, route, s.trim()).unwrap_or_default()).collect();
    let unauthorized = || gateway_error(&route.responses, "UNAUTHORIZED", 401, "Unauthorized", "UnauthorizedException");
    if identity.iter().any(String::is_empty) {
        return Err(unauthorized());
    }
    if kind == "TOKEN" {
        if let Some(pattern) = str_of(authorizer, "identityValidationExpression").filter(|p| !p.is_empty()) {
            if !regex::Regex::new(&format!("^(?:{pattern})$")).is_ok_and(|re| re.is_match(&identity[0])) {
                return Err(unauthorized());
            }
        }
    }
    let ttl = authorizer["authorizerResultTtlInSeconds"].as_i64().unwrap_or(300);
    let cache_key = format!("{}/{}/{}", route.api_id, id, identity.join(","));
    let now = gw.clock.now_millis();
    let cached = gw.authorizer_cache.lock().get(&cache_key).filter(|(until, _)| *until > now).map(|(_, v)| v.clone());
    let policy = match cached {
        Some(p) => p,
        None => {
            let event = if kind == "TOKEN" {
                json!({"type": "TOKEN", "authorizationToken": identity[0], "methodArn": method_arn})
            } else {
                let mut event = proxy_event(req, route, request_context(req, route, "", &Value::Null));
                event["type"] = json!("REQUEST");
                event["methodArn"] = json!(method_arn);
                event
            };
            let arn =
                format!("arn:aws:execute-api:{}:{}:{}/authorizers/{id}", route.region, route.account, route.api_id);
            let uri = str_of(authorizer, "authorizerUri").unwrap_or_default();
            let result =
                call_function(gw, route, uri, arn, event.to_string().into_bytes(), Duration::from_secs(29)).await?;
            let body: Value = serde_json::from_slice(&result.payload).unwrap_or(Value::Null);
            if result.function_error.is_some() {
                if body["errorMessage"] == "Unauthorized" {
                    return Err(unauthorized());
                }
                return Err(gateway_error(
                    &route.responses,
                    "AUTHORIZER_FAILURE",
                    500,
                    "",
                    "AuthorizerFailureException",
                ));
            }
            if !body["policyDocument"].is_object() {
                return Err(gateway_error(
                    &route.responses,
                    "AUTHORIZER_CONFIGURATION_ERROR",
                    500,
                    "",
                    "AuthorizerConfigurationException",
                ));
            }
            if ttl > 0 {
                gw.authorizer_cache.lock().insert(cache_key, (now + ttl * 1000, body.clone()));
            }
            body
        }
    };
    match evaluate(&policy["policyDocument"], &method_arn) {
        Some(true) => {
            let mut context = policy["context"].as_object().cloned().unwrap_or_default();
            context.insert("principalId".into(), policy["principalId"].clone());
            context.insert("integrationLatency".into(), json!(0));
            Ok(Value::Object(context))
        }
        Some(false) => Err(gateway_error(
            &route.responses,
            "ACCESS_DENIED",
            403,
            "User is not authorized to access this resource with an explicit deny",
            "AccessDeniedException",
        )),
        None => Err(gateway_error(
            &route.responses,
            "ACCESS_DENIED",
            403,
            "User is not authorized to access this resource",
            "AccessDeniedException",
        )),
    }
}

fn identity_value(req: &HttpRequest, route: &Route, source: &str) -> Option<String> {
    if let Some(h) = source.strip_prefix("method.request.header.") {
        return req.header(h).map(str::to_string);
    }
    if let Some(q) = source.strip_prefix("method.request.querystring.") {
        return req.query_param(q).map(str::to_string);
    }
    if let Some(v) = source.strip_prefix("stageVariables.") {
        return route.variables[v].as_str().map(str::to_string);
    }
    if let Some(c) = source.strip_prefix("context.") {
        return Some(c.to_string());
    }
    None
}

/// An IAM policy's verdict on `execute-api:Invoke` of `arn`: `Some(false)` for an explicit
/// deny, `Some(true)` for an allow, `None` when nothing matches.
pub fn evaluate(policy: &Value, arn: &str) -> Option<bool> {
    let statements = match &policy["Statement"] {
        Value::Array(list) => list.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    };
    let listed = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(l) => l.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        }
    };
    let mut allowed = false;
    for s in &statements {
        let action = listed(&s["Action"]).iter().any(|a| glob(a, "execute-api:Invoke"));
        let resource = listed(&s["Resource"]).iter().any(|r| glob(r, arn));
        if !action || !resource {
            continue;
        }
        match s["Effect"].as_str() {
            Some("Deny") => return Some(false),
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    allowed.then_some(true)
}

/// IAM wildcards: `*` any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let re = format!("^{}$", regex::escape(pattern).replace("\\*", ".*").replace("\\?", "."));
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_prefer_literals_then_params_then_greedy() {
        let (a, p) = match_template("/items/{id}", "/items/42").unwrap();
        assert_eq!(p["id"], "42");
        let (b, _) = match_template("/{proxy+}", "/items/42").unwrap();
        let (c, _) = match_template("/items/special", "/items/special").unwrap();
        let (d, _) = match_template("/items/{id}", "/items/special").unwrap();
        assert!(a > b && c > d);
        assert!(match_template("/items", "/items/42").is_none());
        assert!(match_template("/", "/").is_some());
        assert_eq!(match_template("/{proxy+}", "/a/b%20c").unwrap().1["proxy"], "a/b c");
    }

    #[test]
    fn proxy_responses_are_checked_like_aws() {
        let ok = proxy_response(br#"{"statusCode": 201, "headers": {"X-A": "1"}, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": "hi"}"#, &Value::Null, "").unwrap();
        assert_eq!(ok.status, 201);
        assert_eq!(ok.header("x-a"), Some("1"));
        assert_eq!(ok.headers.iter().filter(|(k, _)| k == "Set-Cookie").count(), 2);
        assert!(proxy_response(br#"{"body": "no status"}"#, &Value::Null, "").is_none());
        assert!(proxy_response(br#"{"statusCode": 200, "body": {"not": "a string"}}"#, &Value::Null, "").is_none());
        assert!(proxy_response(b"\"just a string\"", &Value::Null, "").is_none());
        let png = proxy_response(
            br#"{"statusCode": 200, "body": "aGk=", "isBase64Encoded": true}"#,
            &json!(["image/png"]),
            "image/png",
        )
        .unwrap();
        assert_eq!(png.body.as_bytes().unwrap().as_ref(), b"hi");
    }

    #[test]
    fn policies_allow_deny_and_wildcards() {
        let arn = "arn:aws:execute-api:us-east-1:000000000000:abc/dev/GET/items";
        let allow = json!({"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:us-east-1:000000000000:abc/*"}]});
        assert_eq!(evaluate(&allow, arn), Some(true));
        let deny = json!({"Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [arn]}]});
        assert_eq!(evaluate(&deny, arn), Some(false));
        let other = json!({"Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:us-east-1:000000000000:abc/dev/POST/*"}]});
        assert_eq!(evaluate(&other, arn), None);
    }
}
