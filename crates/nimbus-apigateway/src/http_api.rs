//! Serving HTTP APIs (v2): stage → route (`METHOD /path/{param}`, `ANY`, `{proxy+}`,
//! `$default`) → integration (`AWS_PROXY` with payload format 1.0 or 2.0, `HTTP_PROXY`), with
//! the API's CORS configuration applied. Routes are served as configured now (auto-deploy).

use std::time::Duration;

use base64::Engine;
use nimbus_core::delivery::Source;
use nimbus_core::invoke::Invocation;
use nimbus_core::{HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::http_auth::{self, Authorized, RouteAuth};
use crate::mapping;
use crate::serve::{self, decode, function_of, Address};
use crate::util::str_of;
use crate::ApiGateway;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

struct Route {
    account: String,
    region: String,
    api_id: String,
    stage: String,
    variables: Value,
    route_key: String,
    path: String,
    path_params: Map<String, Value>,
    integration: Value,
    cors: Value,
    /// `AuthorizationType` of the route (`NONE`, `JWT`, `CUSTOM`, `AWS_IAM`).
    authorization_type: String,
    /// The route's authorizer, if it names one that exists.
    authorizer: Option<Value>,
    /// `AuthorizationScopes` of the route.
    scopes: Vec<String>,
}

fn not_found() -> HttpResponse {
    HttpResponse::json(404, &json!({"message": "Not Found"}))
}

/// Score a route key against the request (higher is more specific); `None` if it does not match.
fn match_route(key: &str, method: &str, path: &str) -> Option<(u8, Vec<u8>, Map<String, Value>)> {
    if key == "$default" {
        return Some((0, Vec::new(), Map::new()));
    }
    let (route_method, template) = key.split_once(' ')?;
    let method_score = if route_method.eq_ignore_ascii_case(method) {
        2
    } else if route_method == "ANY" {
        1
    } else {
        return None;
    };
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
            return Some((1, score, params)).map(|(_, s, p)| (method_score, s, p));
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
    (segments.len() == parts.len()).then_some((method_score, score, params))
}

fn route(gw: &ApiGateway, req: &HttpRequest, addr: &Address) -> Result<Route, HttpResponse> {
    gw.store.read(|g| {
        let api = g.http_by_id(&addr.api_id).ok_or_else(not_found)?;
        let (stage_name, path) = match &addr.stage {
            Some(s) => (s.clone(), addr.path.clone()),
            None if api.stages.contains_key("$default") => ("$default".to_string(), addr.path.clone()),
            None => {
                let trimmed = addr.path.trim_start_matches('/');
                let (s, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
                (decode(s), format!("/{rest}"))
            }
        };
        let stage = api.stages.get(&stage_name).ok_or_else(not_found)?;
        let cors = api.doc.get("CorsConfiguration").cloned().unwrap_or(Value::Null);
        let best = api
            .routes
            .values()
            .filter_map(|r| {
                let key = str_of(r, "RouteKey")?;
                let (m, s, p) = match_route(key, req.method.as_str(), &path)?;
                Some(((s, m), p, r))
            })
            .max_by(|a, b| a.0.cmp(&b.0));
        let Some((_, path_params, route)) = best else { return Err(not_found()) };
        let integration = str_of(route, "Target")
            .and_then(|t| t.strip_prefix("integrations/"))
            .and_then(|id| api.integrations.get(id))
            .cloned()
            .ok_or_else(|| HttpResponse::json(500, &json!({"message": "Internal Server Error"})))?;
        let authorizer = str_of(route, "AuthorizerId").and_then(|id| api.authorizers.get(id)).cloned();
        Ok(Route {
            account: api.account.clone(),
            region: api.region.clone(),
            api_id: addr.api_id.clone(),
            stage: stage_name,
            variables: stage
                .get("StageVariables")
                .cloned()
                .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                .unwrap_or(Value::Null),
            route_key: str_of(route, "RouteKey").unwrap_or("$default").to_string(),
            path,
            path_params,
            integration,
            cors,
            authorization_type: str_of(route, "AuthorizationType").unwrap_or("NONE").to_string(),
            authorizer,
            scopes: route["AuthorizationScopes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        })
    })
}

/// Whether the API's CORS configuration answers this request's preflight itself.
fn preflight(gw: &ApiGateway, req: &HttpRequest, addr: &Address) -> Option<HttpResponse> {
    if req.method != http::Method::OPTIONS
        || req.header("origin").is_none()
        || req.header("access-control-request-method").is_none()
    {
        return None;
    }
    let cors = gw.store.read(|g| g.http_by_id(&addr.api_id).and_then(|a| a.doc.get("CorsConfiguration").cloned()))?;
    let response = HttpResponse { status: 204, headers: Vec::new(), body: Default::default() };
    Some(with_cors(response, &cors, req.header("origin"), true))
}

pub async fn serve(gw: &ApiGateway, req: &HttpRequest, addr: Address) -> HttpResponse {
    if let Some(response) = preflight(gw, req, &addr) {
        return response;
    }
    let route = match route(gw, req, &addr) {
        Ok(r) => r,
        Err(response) => return response,
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let integration = &route.integration;
    let response = match authorize(gw, req, &route, &request_id).await {
        Err(denied) => denied,
        Ok(auth) => {
            let context = mapping_context(req, &route, &request_id, &auth);
            let (mapped, path) = map_request(req, &route, &context);
            let mut response = match str_of(integration, "IntegrationType").unwrap_or_default() {
                "AWS_PROXY" => lambda(gw, &mapped, &route, &request_id, &auth).await,
                "HTTP_PROXY" => http_proxy(&mapped, &route, path).await,
                _ => HttpResponse::json(500, &json!({"message": "Internal Server Error"})),
            };
            map_response(req, &route, &context, &mut response);
            response
        }
    };
    let mut response = with_cors(response, &route.cors, req.header("origin"), false);
    response.headers.push(("apigw-requestid".into(), request_id));
    response
}

fn internal_error() -> HttpResponse {
    HttpResponse::json(500, &json!({"message": "Internal Server Error"}))
}

/// `$context` of parameter mappings.
fn mapping_context(req: &HttpRequest, route: &Route, request_id: &str, auth: &Authorized) -> Value {
    let authorizer = match auth {
        Authorized::None => Value::Null,
        Authorized::Jwt { claims, scopes } => json!({"claims": claims, "scopes": scopes}),
        Authorized::Lambda { context, principal_id } => {
            let mut out = context.clone();
            if let Some(p) = principal_id {
                out.insert("principalId".into(), p.clone());
            }
            Value::Object(out)
        }
    };
    json!({
        "accountId": route.account, "apiId": route.api_id, "authorizer": authorizer,
        "domainName": req.header("host").unwrap_or_default(), "domainPrefix": route.api_id,
        "httpMethod": req.method.as_str(), "path": route.path, "protocol": "HTTP/1.1", "requestId": request_id,
        "routeKey": route.route_key, "stage": route.stage,
        "identity": {"sourceIp": "127.0.0.1", "userAgent": req.header("user-agent").unwrap_or_default()},
    })
}

fn header_list(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
}

/// The request as the integration gets it, after the integration's `RequestParameters`; and
/// the path an `overwrite:path` mapping gave.
fn map_request(req: &HttpRequest, route: &Route, context: &Value) -> (HttpRequest, Option<String>) {
    let parameters = &route.integration["RequestParameters"];
    if parameters.as_object().is_none_or(|p| p.is_empty()) {
        return (req.clone(), None);
    }
    let headers = header_list(&req.headers);
    let sources = mapping::Sources {
        headers: &headers,
        query: &req.query,
        path: &route.path,
        path_params: &route.path_params,
        body: &req.body,
        context,
        variables: &route.variables,
        response: None,
    };
    let mapped = mapping::map_request(parameters, &sources);
    let mut out = req.clone();
    out.headers = http::HeaderMap::new();
    for (k, v) in mapped.headers {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(&v)) {
            out.headers.append(name, value);
        }
    }
    out.query = mapped.query;
    (out, mapped.path)
}

/// The integration's `ResponseParameters` for the answer's status code.
fn map_response(req: &HttpRequest, route: &Route, context: &Value, response: &mut HttpResponse) {
    let parameters = &route.integration["ResponseParameters"];
    if parameters.as_object().is_none_or(|p| p.is_empty()) {
        return;
    }
    let headers = header_list(&req.headers);
    let answer_headers = response.headers.clone();
    let answer_body = response.body.as_bytes().cloned().unwrap_or_default();
    let sources = mapping::Sources {
        headers: &headers,
        query: &req.query,
        path: &route.path,
        path_params: &route.path_params,
        body: &req.body,
        context,
        variables: &route.variables,
        response: Some((&answer_headers, &answer_body)),
    };
    mapping::map_response(parameters, response, &sources);
}

fn route_arn(req: &HttpRequest, route: &Route) -> String {
    format!(
        "arn:aws:execute-api:{}:{}:{}/{}/{}{}",
        route.region,
        route.account,
        route.api_id,
        route.stage,
        req.method.as_str(),
        route.path
    )
}

/// The route's authorizer (`JWT`, or `CUSTOM` with a Lambda `REQUEST` authorizer).
async fn authorize(
    gw: &ApiGateway,
    req: &HttpRequest,
    route: &Route,
    request_id: &str,
) -> Result<Authorized, HttpResponse> {
    let kind = route.authorization_type.as_str();
    if kind != "JWT" && kind != "CUSTOM" {
        return Ok(Authorized::None);
    }
    let Some(authorizer) = &route.authorizer else {
        tracing::warn!(api = %route.api_id, route = %route.route_key, "the route's authorizer does not exist");
        return Err(internal_error());
    };
    let auth = RouteAuth {
        api_id: &route.api_id,
        account: &route.account,
        region: &route.region,
        variables: &route.variables,
        route_arn: route_arn(req, route),
        scopes: route.scopes.clone(),
        path_params: &route.path_params,
        stage: &route.stage,
    };
    if kind == "JWT" {
        if str_of(authorizer, "AuthorizerType") != Some("JWT") {
            return Err(internal_error());
        }
        return http_auth::jwt(gw, req, &auth, authorizer).await;
    }
    if str_of(authorizer, "AuthorizerType") != Some("REQUEST") {
        return Err(internal_error());
    }
    let none = Authorized::None;
    http_auth::lambda(
        gw,
        req,
        &auth,
        authorizer,
        || event_v1(req, route, request_id, &none),
        || event_v2(req, route, request_id, &none),
    )
    .await
}

async fn lambda(
    gw: &ApiGateway,
    req: &HttpRequest,
    route: &Route,
    request_id: &str,
    auth: &Authorized,
) -> HttpResponse {
    let integration = &route.integration;
    let version = str_of(integration, "PayloadFormatVersion").unwrap_or("2.0");
    let event =
        if version == "1.0" { event_v1(req, route, request_id, auth) } else { event_v2(req, route, request_id, auth) };
    let Some(invoker) = gw.invoker.read().clone() else { return internal_error() };
    let Some(function) = function_of(str_of(integration, "IntegrationUri").unwrap_or_default(), &route.variables)
    else {
        return internal_error();
    };
    let source_arn = route_arn(req, route);
    let call = Invocation {
        account: nimbus_core::arn::Arn::parse(&function)
            .map(|a| a.account)
            .filter(|a| !a.is_empty())
            .unwrap_or(route.account.clone()),
        region: route.region.clone(),
        function,
        payload: event.to_string().into_bytes(),
        source: Source {
            principal: "apigateway.amazonaws.com".into(),
            source_arn: Some(source_arn),
            source_account: Some(route.account.clone()),
        },
    };
    let timeout = Duration::from_millis(integration["TimeoutInMillis"].as_u64().unwrap_or(30_000).clamp(50, 30_000));
    match tokio::time::timeout(timeout, invoker.invoke(call)).await {
        Err(_) => HttpResponse::json(503, &json!({"message": "Service Unavailable"})),
        Ok(Err(err)) => {
            tracing::warn!(code = %err.code, message = %err.message, "HTTP API could not invoke the integration's function");
            internal_error()
        }
        Ok(Ok(result)) if result.function_error.is_some() => internal_error(),
        Ok(Ok(result)) if version == "1.0" => {
            crate::rest::proxy_response(&result.payload, &Value::Null, "").unwrap_or_else(internal_error)
        }
        Ok(Ok(result)) => response_v2(&result.payload).unwrap_or_else(internal_error),
    }
}

fn joined_headers(req: &HttpRequest) -> (Map<String, Value>, Vec<String>) {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &req.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()));
            continue;
        }
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), json!(value));
            }
        }
    }
    (headers, cookies)
}

fn body_of(req: &HttpRequest) -> (Value, bool) {
    if req.body.is_empty() {
        return (Value::Null, false);
    }
    match std::str::from_utf8(&req.body) {
        Ok(text) if is_textual(req.header("content-type").unwrap_or_default()) => (json!(text), false),
        _ => (json!(B64.encode(&req.body)), true),
    }
}

fn is_textual(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.is_empty()
        || ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("javascript")
        || ct.contains("x-www-form-urlencoded")
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Payload format 2.0, as HTTP APIs send it.
fn event_v2(req: &HttpRequest, route: &Route, request_id: &str, auth: &Authorized) -> Value {
    let (headers, cookies) = joined_headers(req);
    let raw_query = req.query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
    let mut query = Map::new();
    for (k, v) in &req.query {
        match query.get_mut(k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(v);
            }
            _ => {
                query.insert(k.clone(), json!(v));
            }
        }
    }
    let (body, base64) = body_of(req);
    let now = chrono::Utc::now();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": if route.stage == "$default" { route.path.clone() } else { format!("/{}{}", route.stage, route.path) },
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": route.account,
            "apiId": route.api_id,
            "domainName": req.header("host").unwrap_or_default(),
            "domainPrefix": route.api_id,
            "http": {
                "method": req.method.as_str(),
                "path": route.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": req.header("user-agent").unwrap_or_default(),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": route.stage,
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !route.path_params.is_empty() {
        event["pathParameters"] = Value::Object(route.path_params.clone());
    }
    if !route.variables.is_null() {
        event["stageVariables"] = route.variables.clone();
    }
    if !body.is_null() {
        event["body"] = body;
    }
    if let Some(authorizer) = auth.v2() {
        event["requestContext"]["authorizer"] = authorizer;
    }
    event
}

/// Payload format 1.0: the REST API proxy event with `version: "1.0"`.
fn event_v1(req: &HttpRequest, route: &Route, request_id: &str, auth: &Authorized) -> Value {
    let (headers, multi_headers) = serve::headers(req);
    let mut query = Map::new();
    let mut multi_query: Map<String, Value> = Map::new();
    for (k, v) in &req.query {
        query.insert(k.clone(), json!(v));
        match multi_query.get_mut(k) {
            Some(Value::Array(list)) => list.push(json!(v)),
            _ => {
                multi_query.insert(k.clone(), json!([v]));
            }
        }
    }
    let (body, base64) = body_of(req);
    let resource = route.route_key.split_once(' ').map_or("$default", |(_, p)| p);
    let now = chrono::Utc::now();
    let or_null = |m: Map<String, Value>| if m.is_empty() { Value::Null } else { Value::Object(m) };
    let mut event = json!({
        "version": "1.0",
        "resource": resource,
        "path": route.path,
        "httpMethod": req.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": or_null(query),
        "multiValueQueryStringParameters": or_null(multi_query),
        "requestContext": {
            "accountId": route.account, "apiId": route.api_id, "domainName": req.header("host").unwrap_or_default(),
            "domainPrefix": route.api_id, "extendedRequestId": request_id, "httpMethod": req.method.as_str(),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": req.header("user-agent"), "accessKey": null,
                         "accountId": null, "caller": null, "cognitoAuthenticationProvider": null,
                         "cognitoAuthenticationType": null, "cognitoIdentityId": null, "cognitoIdentityPoolId": null,
                         "principalOrgId": null, "user": null, "userArn": null},
            "path": route.path, "protocol": "HTTP/1.1", "requestId": request_id,
            "requestTime": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(), "requestTimeEpoch": now.timestamp_millis(),
            "resourceId": route.route_key, "resourcePath": resource, "stage": route.stage,
        },
        "pathParameters": or_null(route.path_params.clone()),
        "stageVariables": route.variables,
        "body": body,
        "isBase64Encoded": base64,
    });
    if let Some(authorizer) = auth.v1() {
        event["requestContext"]["authorizer"] = authorizer;
    }
    event
}

/// Payload 2.0 answers: a `{statusCode, headers, cookies, body, isBase64Encoded}` object, or any
/// other JSON value, sent as a 200 `application/json` body (AWS's inference).
pub fn response_v2(payload: &[u8]) -> Option<HttpResponse> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let Some(obj) = value.as_object().filter(|o| o.contains_key("statusCode")) else {
        let body = match &value {
            Value::String(s) => s.clone().into_bytes(),
            _ => payload.to_vec(),
        };
        return Some(HttpResponse::new(200, "application/json", body));
    };
    let status = obj["statusCode"].as_u64().filter(|s| (100..600).contains(s))? as u16;
    let body = match obj.get("body") {
        Some(Value::String(s)) if obj.get("isBase64Encoded") == Some(&json!(true)) => B64.decode(s).ok()?,
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => other.to_string().into_bytes(),
    };
    let mut response = HttpResponse { status, headers: Vec::new(), body: body.into() };
    for (k, v) in obj.get("headers").and_then(Value::as_object).into_iter().flatten() {
        let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
        push(&mut response, k, v);
    }
    if response.header("content-type").is_none() {
        response.headers.push(("Content-Type".into(), "application/json".into()));
    }
    for cookie in obj.get("cookies").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        push(&mut response, "Set-Cookie", cookie.to_string());
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

async fn http_proxy(req: &HttpRequest, route: &Route, path: Option<String>) -> HttpResponse {
    let integration = &route.integration;
    let mut url =
        serve::substitute_stage_variables(str_of(integration, "IntegrationUri").unwrap_or_default(), &route.variables);
    for (k, v) in &route.path_params {
        let v = v.as_str().unwrap_or_default();
        url = url.replace(&format!("{{{k}+}}"), v).replace(&format!("{{{k}}}"), v);
    }
    if let Some(path) = path {
        // `overwrite:path`: the path of the integration's URL is the mapped one.
        let authority_end = url.find("://").map_or(0, |i| i + 3);
        let path_start = url[authority_end..].find('/').map_or(url.len(), |i| authority_end + i);
        url = format!("{}{path}", &url[..path_start]);
    } else if route.route_key == "$default" || url.ends_with('/') && route.path != "/" {
        // A `$default` route proxies the whole path to the base URL, as AWS does.
        url = format!("{}{}", url.trim_end_matches('/'), route.path);
    }
    if !req.query.is_empty() {
        let q = req.query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&q);
    }
    let method = match str_of(integration, "IntegrationMethod") {
        Some("ANY") | None => req.method.as_str().to_string(),
        Some(m) => m.to_string(),
    };
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let timeout = Duration::from_millis(integration["TimeoutInMillis"].as_u64().unwrap_or(30_000).clamp(50, 30_000));
    match serve::http_call(&method, &url, &headers, &req.body, timeout).await {
        Ok(up) => {
            let mut response = HttpResponse { status: up.status, headers: Vec::new(), body: up.body.into() };
            for (k, v) in up.headers {
                push(&mut response, &k, v);
            }
            response
        }
        Err(e) if e == "timeout" => HttpResponse::json(504, &json!({"message": "Gateway Timeout"})),
        Err(e) => {
            tracing::warn!(url, error = %e, "HTTP API proxy integration failed");
            HttpResponse::json(500, &json!({"message": "Internal Server Error"}))
        }
    }
}

/// Apply the API's CORS configuration (member names as the model has them).
fn with_cors(mut response: HttpResponse, cors: &Value, origin: Option<&str>, preflight: bool) -> HttpResponse {
    let Some(origin) = origin else { return response };
    let list = |key: &str| -> Vec<String> {
        cors[key].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
    };
    let origins = list("AllowOrigins");
    if !origins.iter().any(|o| o == "*" || o == origin) {
        return response;
    }
    let credentials = cors["AllowCredentials"] == true;
    let allow_origin = if origins.iter().any(|o| o == "*") && !credentials { "*" } else { origin };
    response.headers.push(("Access-Control-Allow-Origin".into(), allow_origin.into()));
    if credentials {
        response.headers.push(("Access-Control-Allow-Credentials".into(), "true".into()));
    }
    let expose = list("ExposeHeaders");
    if !expose.is_empty() {
        response.headers.push(("Access-Control-Expose-Headers".into(), expose.join(",")));
    }
    if preflight {
        let methods = list("AllowMethods");
        if !methods.is_empty() {
            response.headers.push(("Access-Control-Allow-Methods".into(), methods.join(",")));
        }
        let headers = list("AllowHeaders");
        if !headers.is_empty() {
            response.headers.push(("Access-Control-Allow-Headers".into(), headers.join(",")));
        }
        if let Some(age) = cors["MaxAge"].as_u64() {
            response.headers.push(("Access-Control-Max-Age".into(), age.to_string()));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_match_by_specificity() {
        let a = match_route("GET /items/{id}", "GET", "/items/1").unwrap();
        let b = match_route("ANY /{proxy+}", "GET", "/items/1").unwrap();
        let c = match_route("$default", "GET", "/items/1").unwrap();
        let d = match_route("ANY /items/{id}", "GET", "/items/1").unwrap();
        assert!((a.1.clone(), a.0) > (d.1.clone(), d.0));
        assert!((d.1.clone(), d.0) > (b.1.clone(), b.0));
        assert!((b.1.clone(), b.0) > (c.1.clone(), c.0));
        assert!(match_route("POST /items/{id}", "GET", "/items/1").is_none());
        assert_eq!(b.2["proxy"], "items/1");
    }
}
