//! Serving function URLs: `http://<url-id>.lambda-url.<region>.localhost:<port>/…` (and the path
//! form `/_nimbus/lambda/url/<url-id>/…`). Requests become AWS's payload format 2.0 event; the
//! function's answer becomes the HTTP response, as Lambda's URL front end maps it.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use nimbus_core::http::Body;
use nimbus_core::sigv4::{Failure, Verifier};
use nimbus_core::{HttpRequest, HttpResponse, RequestContext};
use serde_json::{json, Map, Value};

use crate::api::invoke::{Progress, Running, Start};
use crate::invoke::Target;

use crate::ident::FunctionId;
use crate::state::UrlConfig;
use crate::Lambda;

pub const PATH_PREFIX: &str = "/_nimbus/lambda/url/";

/// The URL id and the path a request addresses, if it is a function URL request.
pub fn address(req: &HttpRequest) -> Option<(String, String)> {
    if let Some(rest) = req.path.strip_prefix(PATH_PREFIX) {
        let (id, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(id, p)| (id, format!("/{p}")));
        return Some((id.to_string(), path));
    }
    let host = req.header("host")?;
    let mut labels = host.split('.');
    let id = labels.next()?;
    (labels.next()? == "lambda-url").then(|| (id.to_string(), req.path.clone()))
}

fn plain(status: u16, message: &str) -> HttpResponse {
    HttpResponse::json(status, &json!({"Message": message}))
}

/// `AuthType=AWS_IAM`: the request must carry a valid SigV4 signature for `lambda` in the URL's
/// region (see [`nimbus_core::sigv4`] for which secret each access key is checked against).
fn verify_signature(lambda: &Lambda, region: &str, req: &HttpRequest) -> Result<(), Failure> {
    let keys = lambda.keys.read().clone();
    let verifier = Verifier {
        keys: &keys,
        service: "lambda",
        region,
        wall_now: chrono::Utc::now(),
        clock_now: lambda.clock.now(),
    };
    verifier.verify(req).map(|_| ())
}

/// AWS's answer to a request refused by IAM auth: a bare `Forbidden` when it is not signed, the
/// signature error (type and message) when it is signed wrongly.
fn denied(failure: &Failure) -> HttpResponse {
    match failure {
        Failure::Missing => plain(403, "Forbidden"),
        _ => HttpResponse::json(403, &json!({"message": failure.message()}))
            .with_header("x-amzn-ErrorType", failure.error_type()),
    }
}

struct Found {
    account: String,
    region: String,
    id: FunctionId,
    config: UrlConfig,
    public: bool,
}

fn find(lambda: &Lambda, url_id: &str) -> Option<Found> {
    let store = lambda.store.read();
    for ((account, region), state) in store.regions() {
        for (name, function) in &state.functions {
            for (qualifier, config) in &function.url_configs {
                if config.url_id != url_id {
                    continue;
                }
                // AUTH NONE needs a policy statement letting everyone invoke the URL.
                let public = function.policies.get(qualifier).is_some_and(|p| {
                    p.statements.iter().any(|s| {
                        s["Principal"] == "*"
                            && matches!(s["Action"].as_str(), Some("lambda:InvokeFunctionUrl" | "lambda:*"))
                    })
                });
                return Some(Found {
                    account: account.clone(),
                    region: region.clone(),
                    id: FunctionId {
                        name: name.clone(),
                        qualifier: (!qualifier.is_empty()).then(|| qualifier.clone()),
                    },
                    config: config.clone(),
                    public,
                });
            }
        }
    }
    None
}

pub async fn serve(lambda: &Arc<Lambda>, ctx: &RequestContext, req: &HttpRequest) -> HttpResponse {
    let Some((url_id, path)) = address(req) else { return plain(404, "Not Found") };
    let Some(found) = find(lambda, &url_id) else { return plain(404, "Not Found") };
    let cors = found.config.cors.clone().unwrap_or(Value::Null);
    let origin = req.header("origin").map(str::to_string);
    if req.method == http::Method::OPTIONS && origin.is_some() && req.header("access-control-request-method").is_some()
    {
        return with_cors(
            HttpResponse { status: 200, headers: Vec::new(), body: Default::default() },
            &cors,
            origin.as_deref(),
            true,
        );
    }
    if found.config.auth_type == "NONE" && !found.public {
        return with_cors(plain(403, "Forbidden"), &cors, origin.as_deref(), false);
    }
    if found.config.auth_type == "AWS_IAM" {
        if let Err(failure) = verify_signature(lambda, &found.region, req) {
            return with_cors(denied(&failure), &cors, origin.as_deref(), false);
        }
    }
    let owner = RequestContext { account: found.account.clone(), region: found.region.clone(), ..ctx.clone() };
    let mut target = match crate::api::invoke::target(lambda, &owner, &found.id) {
        Ok(t) => t,
        Err(_) => return plain(404, "Not Found"),
    };
    // The request's trace (the client's, or a new one) is the invocation's, as on AWS.
    let trace = req
        .header("x-amzn-trace-id")
        .filter(|h| h.split(';').any(|f| f.trim().starts_with("Root=")))
        .map_or_else(|| format!("Root={}", crate::recursion::new_root()), str::to_string);
    let root = trace.split(';').find_map(|f| f.trim().strip_prefix("Root=")).unwrap_or_default().to_string();
    let parent = &uuid::Uuid::new_v4().simple().to_string()[..16];
    target.trace_header = Some(format!("Root={root};Parent={parent};Sampled=0"));
    let event = event(req, &url_id, &path, &ctx.request_id, &trace);
    if found.config.invoke_mode == "RESPONSE_STREAM" {
        let response = streamed(lambda, &owner, target, event.to_string().into_bytes()).await;
        return with_cors(response, &cors, origin.as_deref(), false);
    }
    let outcome = lambda.invoker.invoke(&lambda.blobs, &owner, target, event.to_string().as_bytes(), None).await;
    let response = match outcome {
        Ok(o) if o.function_error.is_none() => response(&o.payload),
        Ok(_) => plain(502, "Internal Server Error"),
        Err(e) if e.status == 429 => plain(429, "Rate Exceeded."),
        Err(_) => plain(502, "Internal Server Error"),
    };
    with_cors(response, &cors, origin.as_deref(), false)
}

/// The content type of a streamed HTTP response: a JSON prelude (`statusCode`, `headers`,
/// `cookies`), eight NUL bytes, then the body.
const HTTP_INTEGRATION_RESPONSE: &str = "application/vnd.awslambda.http-integration-response";
const PRELUDE_DELIMITER: [u8; 8] = [0; 8];
/// Longest prelude read before the body must begin.
const MAX_PRELUDE_BYTES: usize = 1024 * 1024;

/// `InvokeMode=RESPONSE_STREAM`: the function runs as through InvokeWithResponseStream and its
/// bytes go to the client as it writes them. A streaming handler that used
/// `HttpResponseStream.from` sets the status and headers through its prelude; any other stream
/// is a 200 of its content type; a handler that does not stream has its result sent as is.
/// Once the body has begun, a failure can only cut the response short.
async fn streamed(lambda: &Arc<Lambda>, owner: &RequestContext, target: Target, event: Vec<u8>) -> HttpResponse {
    let mut running = Running::start(lambda, owner, target, event, None);
    let content_type = match running.start_of_response().await {
        Start::Streaming(content_type) => content_type,
        Start::Finished(Ok(o)) if o.function_error.is_none() => {
            return HttpResponse::new(200, "application/json", o.payload);
        }
        Start::Finished(Err(e)) if e.status == 429 => return plain(429, "Rate Exceeded."),
        Start::Finished(_) => return plain(502, "Internal Server Error"),
    };
    let mut response = HttpResponse { status: 200, headers: Vec::new(), body: Default::default() };
    let first = if content_type.eq_ignore_ascii_case(HTTP_INTEGRATION_RESPONSE) {
        let mut head = Vec::new();
        let split = loop {
            if let Some(at) = head.windows(PRELUDE_DELIMITER.len()).position(|w| w == PRELUDE_DELIMITER) {
                break at;
            }
            match running.next().await {
                Progress::Chunk(chunk) if head.len() + chunk.len() <= MAX_PRELUDE_BYTES + PRELUDE_DELIMITER.len() => {
                    head.extend_from_slice(&chunk);
                }
                // No prelude (or no end to it): not an HTTP response the front end can send.
                _ => return plain(502, "Internal Server Error"),
            }
        };
        let Ok(prelude) = serde_json::from_slice::<Value>(&head[..split]) else {
            return plain(502, "Internal Server Error");
        };
        response.status = prelude["statusCode"].as_u64().filter(|s| (100..600).contains(s)).map_or(200, |s| s as u16);
        for (name, value) in prelude["headers"].as_object().into_iter().flatten() {
            let value = value.as_str().map_or_else(|| value.to_string(), str::to_string);
            push_header(&mut response, name, value);
        }
        for cookie in prelude["cookies"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            push_header(&mut response, "Set-Cookie", cookie.to_string());
        }
        Bytes::copy_from_slice(&head[split + PRELUDE_DELIMITER.len()..])
    } else {
        push_header(&mut response, "Content-Type", content_type);
        // The head goes out with the first bytes: a function failing before it writes gets a 502.
        match running.next().await {
            Progress::Chunk(chunk) => chunk,
            Progress::Done(Ok(o)) if o.function_error.is_none() => return response,
            Progress::Done(_) => return plain(502, "Internal Server Error"),
        }
    };
    if response.header("content-type").is_none() {
        response.headers.push(("Content-Type".into(), "application/octet-stream".into()));
    }
    let (tx, body) = Body::channel(16);
    response.body = body;
    tokio::spawn(async move {
        if !first.is_empty() && tx.send(Ok(first)).await.is_err() {
            return;
        }
        loop {
            match running.next().await {
                Progress::Chunk(chunk) => {
                    if tx.send(Ok(chunk)).await.is_err() {
                        return; // the client hung up; the function still runs to its end
                    }
                }
                Progress::Done(Ok(o)) if o.function_error.is_none() => return,
                Progress::Done(_) => {
                    // The status is long sent: cut the body short so the client sees the failure.
                    let _ = tx.send(Err(std::io::Error::other("the function failed mid-stream"))).await;
                    return;
                }
            }
        }
    });
    response
}

/// Add a header the function chose, unless HTTP cannot carry it or it would contradict the
/// framing nimbus writes.
fn push_header(response: &mut HttpResponse, name: &str, value: String) {
    let framing = name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding");
    if framing || http::HeaderName::from_bytes(name.as_bytes()).is_err() || http::HeaderValue::from_str(&value).is_err()
    {
        tracing::debug!(header = name, "dropping a response header HTTP cannot carry");
        return;
    }
    response.headers.push((name.to_string(), value));
}

/// Headers that describe one connection, not the request: the URL front end does not pass
/// them on (nor the headers `Connection` names).
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/// What the URL front end tells the function about the connection. Nimbus serves plain HTTP on
/// loopback; the TLS headers carry what a current client negotiates with AWS's front end.
fn front_end_headers(req: &HttpRequest, trace: &str) -> Vec<(&'static str, String)> {
    let port = req
        .header("host")
        .and_then(|h| h.rsplit_once(':'))
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .map_or_else(|| "80".to_string(), |p| p.to_string());
    let forwarded_for = match req.header("x-forwarded-for") {
        Some(earlier) => format!("{earlier}, {SOURCE_IP}"),
        None => SOURCE_IP.to_string(),
    };
    vec![
        ("x-amzn-tls-cipher-suite", "TLS_AES_128_GCM_SHA256".to_string()),
        ("x-amzn-tls-version", "TLSv1.3".to_string()),
        ("x-amzn-trace-id", trace.to_string()),
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-port", port),
        ("x-forwarded-proto", "http".to_string()),
    ]
}

/// The client's address as the event reports it (nimbus listens on loopback).
const SOURCE_IP: &str = "127.0.0.1";

/// AWS's payload format 2.0 event for a function URL request. `rawPath` is the path exactly as
/// the client sent it (`/space%20value`, `/pa2%25Fth/1`); `requestContext.http.path` is it
/// percent-decoded (`/space value`, `/pa2%Fth/1`), as AWS's URL front end gives them.
fn event(req: &HttpRequest, url_id: &str, raw: &str, request_id: &str, trace: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    let named_by_connection: Vec<String> = req
        .header("connection")
        .map(|c| c.split(',').map(|n| n.trim().to_ascii_lowercase()).collect())
        .unwrap_or_default();
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &req.headers {
        let lower = name.as_str();
        if HOP_BY_HOP.contains(&lower) || named_by_connection.iter().any(|n| n == lower) {
            continue;
        }
        if front_end_headers_names().contains(&lower) {
            continue;
        }
        let value = value.to_str().unwrap_or_default().to_string();
        if name == http::header::COOKIE {
            cookies.extend(value.split(';').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()));
            continue;
        }
        let entry = headers.entry(name.as_str().to_string()).or_insert(json!(""));
        *entry = match entry.as_str() {
            Some("") => json!(value),
            Some(existing) => json!(format!("{existing},{value}")),
            None => json!(value),
        };
    }
    for (name, value) in front_end_headers(req, trace) {
        headers.insert(name.to_string(), json!(value));
    }
    let raw_query = req.query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
    let mut query = Map::new();
    for (k, v) in &req.query {
        let entry = query.entry(k.clone()).or_insert(json!(""));
        *entry = match entry.as_str() {
            Some("") => json!(v),
            Some(existing) => json!(format!("{existing},{v}")),
            None => json!(v),
        };
    }
    let text = std::str::from_utf8(&req.body).ok();
    let binary = text.is_none() || !is_textual(req.header("content-type").unwrap_or_default());
    let now = chrono::Utc::now();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": url_id,
            "domainName": req.header("host").unwrap_or_default(),
            "domainPrefix": url_id,
            "http": {
                "method": req.method.as_str(),
                "path": decoded,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": req.header("user-agent").unwrap_or_default(),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !req.body.is_empty() {
        if binary {
            event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&req.body));
            event["isBase64Encoded"] = json!(true);
        } else {
            event["body"] = json!(text.unwrap_or_default());
        }
    }
    event
}

/// The headers the front end sets itself (a client's own are replaced; `x-forwarded-for` is
/// extended).
fn front_end_headers_names() -> [&'static str; 6] {
    [
        "x-amzn-tls-cipher-suite",
        "x-amzn-tls-version",
        "x-amzn-trace-id",
        "x-forwarded-for",
        "x-forwarded-port",
        "x-forwarded-proto",
    ]
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

/// Map the function's result to HTTP: a `{statusCode, headers, cookies, body, isBase64Encoded}`
/// object is taken as the response; anything else is a 200 with the result as JSON.
fn response(payload: &[u8]) -> HttpResponse {
    let value: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let Some(obj) = value.as_object().filter(|o| o.contains_key("statusCode")) else {
        let body = match &value {
            Value::String(s) => s.clone().into_bytes(),
            _ => payload.to_vec(),
        };
        return HttpResponse::new(200, "application/json", body);
    };
    let status = obj["statusCode"].as_u64().filter(|s| (100..600).contains(s)).unwrap_or(200) as u16;
    let body = match obj.get("body") {
        Some(Value::String(s)) if obj.get("isBase64Encoded") == Some(&json!(true)) => {
            base64::engine::general_purpose::STANDARD.decode(s).unwrap_or_default()
        }
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => other.to_string().into_bytes(),
    };
    let mut response = HttpResponse { status, headers: Vec::new(), body: body.into() };
    let mut has_type = false;
    if let Some(headers) = obj.get("headers").and_then(Value::as_object) {
        for (k, v) in headers {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            has_type |= k.eq_ignore_ascii_case("content-type");
            push_header(&mut response, k, v);
        }
    }
    if !has_type {
        response.headers.push(("Content-Type".into(), "application/json".into()));
    }
    for cookie in obj.get("cookies").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        push_header(&mut response, "Set-Cookie", cookie.to_string());
    }
    response
}

/// Apply the URL's CORS configuration (preflight answers add the allowed methods and headers).
fn with_cors(mut response: HttpResponse, cors: &Value, origin: Option<&str>, preflight: bool) -> HttpResponse {
    let Some(origin) = origin else { return response };
    let origins: Vec<&str> = cors["AllowOrigins"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if !origins.iter().any(|o| *o == "*" || *o == origin) {
        return response;
    }
    let allow_origin = if origins.contains(&"*") && cors["AllowCredentials"] != true { "*" } else { origin };
    response.headers.push(("Access-Control-Allow-Origin".into(), allow_origin.into()));
    if cors["AllowCredentials"] == true {
        response.headers.push(("Access-Control-Allow-Credentials".into(), "true".into()));
    }
    let list =
        |key: &str| cors[key].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","));
    if let Some(expose) = list("ExposeHeaders").filter(|s| !s.is_empty()) {
        response.headers.push(("Access-Control-Expose-Headers".into(), expose));
    }
    if preflight {
        if let Some(methods) = list("AllowMethods").filter(|s| !s.is_empty()) {
            response.headers.push(("Access-Control-Allow-Methods".into(), methods));
        }
        if let Some(headers) = list("AllowHeaders").filter(|s| !s.is_empty()) {
            response.headers.push(("Access-Control-Allow-Headers".into(), headers));
        }
        if let Some(age) = cors["MaxAge"].as_u64() {
            response.headers.push(("Access-Control-Max-Age".into(), age.to_string()));
        }
    }
    response
}
