//! Calling other services' public APIs in process, as the stack's account and region: an
//! [`HttpRequest`] in the service's own wire protocol, signed with the account as access key,
//! handed to the router ([`Dispatch`]). Resource providers never touch another service's state.

use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use nimbus_core::server::Router;
use nimbus_core::service::BoxFuture;
use nimbus_core::{HttpRequest, HttpResponse};
use serde_json::Value;

/// Something that answers an AWS API request (the router, or a fake in tests).
pub trait Dispatch: Send + Sync + 'static {
    fn dispatch(&self, req: HttpRequest) -> BoxFuture<'_, HttpResponse>;
}

/// The router, bound after every service registered (it is built after CloudFormation).
#[derive(Default)]
pub struct LateRouter {
    router: OnceLock<Weak<Router>>,
    host: OnceLock<String>,
}

impl LateRouter {
    pub fn bind(&self, router: &Arc<Router>, host: String) {
        let _ = self.router.set(Arc::downgrade(router));
        let _ = self.host.set(host);
    }
}

impl Dispatch for LateRouter {
    fn dispatch(&self, mut req: HttpRequest) -> BoxFuture<'_, HttpResponse> {
        Box::pin(async move {
            let Some(router) = self.router.get().and_then(Weak::upgrade) else {
                return HttpResponse::json(503, &serde_json::json!({"message": "nimbus is starting"}));
            };
            if let Some(host) = self.host.get().and_then(|h| HeaderValue::from_str(h).ok()) {
                req.headers.insert("host", host);
            }
            router.dispatch(req).await
        })
    }
}

/// An error another service answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A client for one account and region.
#[derive(Clone)]
pub struct Api {
    pub dispatch: Arc<dyn Dispatch>,
    pub account: String,
    pub region: String,
}

impl Api {
    fn request(
        &self,
        signing: &str,
        method: Method,
        path: &str,
        query: Vec<(String, String)>,
        content_type: &str,
        body: Vec<u8>,
    ) -> HttpRequest {
        let mut headers = HeaderMap::new();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/20240101/{}/{signing}/aws4_request, SignedHeaders=host, Signature=0",
            self.account, self.region
        );
        headers.insert("authorization", HeaderValue::from_str(&auth).expect("ascii"));
        headers.insert("content-type", HeaderValue::from_str(content_type).expect("ascii"));
        headers.insert("host", HeaderValue::from_static("localhost:4566"));
        headers.insert("user-agent", HeaderValue::from_static("nimbus-cloudformation"));
        HttpRequest { method, path: path.to_string(), query, headers, body: Bytes::from(body) }
    }

    async fn send(&self, req: HttpRequest) -> (u16, Vec<(String, String)>, Bytes) {
        let resp = self.dispatch.dispatch(req).await;
        let body = resp.body.as_bytes().cloned().unwrap_or_default();
        (resp.status, resp.headers, body)
    }

    /// AWS JSON 1.0/1.1: `X-Amz-Target: {target}`.
    pub async fn json(&self, signing: &str, target: &str, version: &str, body: Value) -> ApiResult<Value> {
        let mut req = self.request(
            signing,
            Method::POST,
            "/",
            Vec::new(),
            &format!("application/x-amz-json-{version}"),
            serde_json::to_vec(&body).unwrap_or_default(),
        );
        req.headers.insert("x-amz-target", HeaderValue::from_str(target).expect("ascii"));
        let (status, headers, body) = self.send(req).await;
        json_answer(status, &headers, &body)
    }

    /// REST-JSON: a method, a path (already escaped) and an optional JSON body.
    pub async fn rest(
        &self,
        signing: &str,
        method: Method,
        path: &str,
        query: Vec<(String, String)>,
        body: Option<Value>,
    ) -> ApiResult<Value> {
        let bytes = body.map(|b| serde_json::to_vec(&b).unwrap_or_default()).unwrap_or_default();
        let req = self.request(signing, method, path, query, "application/json", bytes);
        let (status, headers, body) = self.send(req).await;
        json_answer(status, &headers, &body)
    }

    /// REST with a raw body (a blob payload such as an OpenAPI definition) and a JSON answer.
    pub async fn rest_bytes(
        &self,
        signing: &str,
        method: Method,
        path: &str,
        query: Vec<(String, String)>,
        content_type: &str,
        body: Vec<u8>,
    ) -> ApiResult<Value> {
        let req = self.request(signing, method, path, query, content_type, body);
        let (status, headers, body) = self.send(req).await;
        json_answer(status, &headers, &body)
    }

    /// REST with a raw body and raw answer (S3).
    pub async fn raw(
        &self,
        signing: &str,
        method: Method,
        path: &str,
        query: Vec<(String, String)>,
        content_type: &str,
        body: Vec<u8>,
    ) -> ApiResult<Bytes> {
        let req = self.request(signing, method, path, query, content_type, body);
        let (status, _headers, body) = self.send(req).await;
        if status >= 300 {
            return Err(xml_error(status, &body));
        }
        Ok(body)
    }

    /// The query protocol: `Action`, `Version` and the form parameters; the answer's XML.
    pub async fn query(
        &self,
        signing: &str,
        action: &str,
        version: &str,
        params: &[(String, String)],
    ) -> ApiResult<String> {
        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", action).append_pair("Version", version);
            for (k, v) in params {
                form.append_pair(k, v);
            }
            form.finish()
        };
        let req = self.request(
            signing,
            Method::POST,
            "/",
            Vec::new(),
            "application/x-www-form-urlencoded; charset=utf-8",
            form.into_bytes(),
        );
        let (status, _headers, body) = self.send(req).await;
        if status >= 300 {
            return Err(xml_error(status, &body));
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

fn json_answer(status: u16, headers: &[(String, String)], body: &[u8]) -> ApiResult<Value> {
    let doc: Value = if body.is_empty() { Value::Null } else { serde_json::from_slice(body).unwrap_or(Value::Null) };
    if status < 300 {
        return Ok(doc);
    }
    if doc.is_null() && body.starts_with(b"<") {
        return Err(xml_error(status, body));
    }
    let header_type = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-errortype")).map(|(_, v)| v.clone());
    let code = doc
        .get("__type")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(header_type)
        .unwrap_or_else(|| "UnknownError".into());
    let code = code.rsplit('#').next().unwrap_or(&code).split(':').next().unwrap_or(&code).to_string();
    let message = doc
        .get("message")
        .or_else(|| doc.get("Message"))
        .or_else(|| doc.get("errorMessage"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Err(ApiError { status, code, message })
}

fn xml_error(status: u16, body: &[u8]) -> ApiError {
    let text = String::from_utf8_lossy(body);
    ApiError {
        status,
        code: xml_text(&text, "Code").unwrap_or_else(|| "UnknownError".into()),
        message: xml_text(&text, "Message").unwrap_or_default(),
    }
}

/// The text of the first `<tag>` element (XML answers are simple enough for this).
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)? + start;
    Some(unescape(&xml[start..end]))
}

/// The texts of every `<tag>` element.
pub fn xml_texts(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(s) = rest.find(&open) {
        let after = &rest[s + open.len()..];
        let Some(e) = after.find(&close) else { break };
        out.push(unescape(&after[..e]));
        rest = &after[e + close.len()..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#xD;", "\r")
        .replace("&#xA;", "\n")
        .replace("&amp;", "&")
}

/// A path segment escaped for a REST path (`arn:aws:…` names included).
pub fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
