//! The HTTP front: one port for every service.
//!
//! Pipeline per request: read the body (bounded) → `/_nimbus/` introspection or a service's
//! own intercepted paths → identify caller (account, region, service) → route to the service →
//! run its handler in its own task (a panic becomes a 500, never a dead server) → add the
//! request id → write. A service may opt in ([`Service::streams_body`]) to read a request's
//! body itself as it arrives (S3 objects of several GiB), skipping the bounded read.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::http::{parse_query, Body, HttpRequest, HttpResponse, RequestBody};
use crate::identity::{self, KeyRegistry};
use crate::screen::Screening;
use crate::service::{RequestContext, Service};

/// Largest request body read at all; services enforce their own, smaller, limits.
pub const MAX_BODY_BYTES: usize = 80 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Defaults {
    pub account: String,
    pub region: String,
}

pub struct Router {
    services: Vec<Arc<dyn Service>>,
    defaults: Defaults,
    clock: Clock,
    keys: KeyRegistry,
    version: &'static str,
    screening: Screening,
    /// Facts `/_nimbus/health` reports besides the services (e.g. which isolation is in effect).
    health_facts: serde_json::Map<String, serde_json::Value>,
}

impl Router {
    pub fn new(defaults: Defaults, clock: Clock, keys: KeyRegistry, version: &'static str) -> Self {
        Router {
            services: Vec::new(),
            defaults,
            clock,
            keys,
            version,
            screening: Screening::default(),
            health_facts: serde_json::Map::new(),
        }
    }

    /// Which `Host` names and browser origins are answered besides local ones (see [`crate::screen`]).
    pub fn set_screening(&mut self, screening: Screening) {
        self.screening = screening;
    }

    /// Report a fact in `/_nimbus/health`.
    pub fn add_health_fact(&mut self, name: &str, value: serde_json::Value) {
        self.health_facts.insert(name.to_string(), value);
    }

    pub fn add(&mut self, service: Arc<dyn Service>) {
        self.services.push(service);
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Handle one fully-read request.
    pub async fn dispatch(&self, req: HttpRequest) -> HttpResponse {
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut response = self.route(req, &request_id).await;
        if response.header("x-amzn-RequestId").is_none() {
            response.headers.push(("x-amzn-RequestId".into(), request_id));
        }
        response
    }

    /// The service that takes this request's body unread, if any: the one its signature names
    /// (or that intercepts it), when that service opts in for this request head.
    fn streaming_service(&self, head: &HttpRequest) -> Option<Arc<dyn Service>> {
        if let Some(service) = self.services.iter().find(|s| s.intercepts(head)) {
            return service.streams_body(head).then(|| service.clone());
        }
        if head.path.starts_with("/_nimbus/") {
            return None;
        }
        let credential = identity::credential(&head.headers, &head.query)?;
        let service = self.services.iter().find(|s| s.signing_names().contains(&credential.service.as_str()))?;
        service.streams_body(head).then(|| service.clone())
    }

    /// The service that answers this WebSocket handshake, if any (see [`Service::upgrades`]).
    fn upgrading_service(&self, head: &HttpRequest) -> Option<Arc<dyn Service>> {
        if !crate::websocket::is_upgrade(head) {
            return None;
        }
        self.services.iter().find(|s| s.intercepts(head) && s.upgrades(head)).cloned()
    }

    /// Answer a WebSocket handshake through the service that serves it.
    async fn dispatch_upgrade(
        &self,
        service: Arc<dyn Service>,
        head: HttpRequest,
        upgrade: crate::websocket::Upgrade,
    ) -> HttpResponse {
        if let Some(refusal) = self.screening.check(&head) {
            return refusal;
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let ctx = self.context(&head, &request_id);
        service.handle_upgrade(ctx, head, upgrade).await
    }

    /// Handle a request whose body `service` reads itself, as it arrives.
    async fn dispatch_stream(&self, service: Arc<dyn Service>, head: HttpRequest, body: RequestBody) -> HttpResponse {
        let request_id = uuid::Uuid::new_v4().to_string();
        let ctx = self.context(&head, &request_id);
        let name = service.name();
        let task = tokio::spawn(async move { service.handle_stream(ctx, head, body).await });
        let mut response = task.await.unwrap_or_else(|err| {
            tracing::error!(service = name, error = %err, "handler panicked");
            internal_error()
        });
        if response.header("x-amzn-RequestId").is_none() {
            response.headers.push(("x-amzn-RequestId".into(), request_id));
        }
        response
    }

    async fn route(&self, req: HttpRequest, request_id: &str) -> HttpResponse {
        if let Some(refusal) = self.screening.check(&req) {
            return refusal;
        }
        if let Some(service) = self.services.iter().find(|s| s.intercepts(&req)) {
            let ctx = self.context(&req, request_id);
            return run(service.clone(), ctx, req).await;
        }
        if req.path.starts_with("/_nimbus/") {
            return self.internal(&req);
        }
        let credential = identity::credential(&req.headers, &req.query);
        let by_signature = credential
            .as_ref()
            .and_then(|c| self.services.iter().find(|s| s.signing_names().contains(&c.service.as_str())));
        let service = by_signature.or_else(|| self.services.iter().find(|s| s.claims(&req)));
        match service {
            Some(service) => {
                let ctx = self.context(&req, request_id);
                run(service.clone(), ctx, req).await
            }
            None => {
                let name = credential.map(|c| c.service).unwrap_or_else(|| "unknown".into());
                tracing::warn!(service = %name, method = %req.method, path = %req.path, "no emulated service for request");
                not_emulated(&name, request_id)
            }
        }
    }

    fn context(&self, req: &HttpRequest, request_id: &str) -> RequestContext {
        let credential = identity::credential(&req.headers, &req.query);
        let (account, region, access_key_id) = match credential {
            Some(c) => {
                let account = self
                    .keys
                    .account(&c.access_key_id)
                    .unwrap_or_else(|| identity::account_for_key(&c.access_key_id, &self.defaults.account));
                let region = if c.region.is_empty() { self.defaults.region.clone() } else { c.region };
                (account, region, Some(c.access_key_id))
            }
            None => (self.defaults.account.clone(), self.defaults.region.clone(), None),
        };
        let host = req.header("host").unwrap_or("localhost:4566");
        RequestContext {
            account,
            region,
            request_id: request_id.to_string(),
            access_key_id,
            endpoint: format!("http://{host}"),
            clock: self.clock.clone(),
        }
    }

    /// `/_nimbus/` introspection shared by all services.
    fn internal(&self, req: &HttpRequest) -> HttpResponse {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/_nimbus/health") => {
                let services: serde_json::Map<String, serde_json::Value> =
                    self.services.iter().map(|s| (s.name().to_string(), json!("running"))).collect();
                let mut body = json!({"status": "running", "version": self.version, "services": services});
                for (name, value) in &self.health_facts {
                    body[name] = value.clone();
                }
                let damage = crate::journal::damage_reports();
                if !damage.is_empty() {
                    body["damagedJournals"] = json!(damage);
                }
                HttpResponse::json(200, &body)
            }
            ("POST", "/_nimbus/reset") => {
                for service in &self.services {
                    service.reset();
                }
                self.clock.reset();
                HttpResponse::json(200, &json!({"status": "reset"}))
            }
            ("GET", "/_nimbus/clock") => self.clock_state(),
            ("POST", "/_nimbus/clock/advance") => {
                let body: serde_json::Value = if req.body.iter().all(u8::is_ascii_whitespace) {
                    json!({})
                } else {
                    match serde_json::from_slice(&req.body) {
                        Ok(body @ serde_json::Value::Object(_)) => body,
                        _ => {
                            return HttpResponse::json(
                                400,
                                &json!({"message": "the body must be a JSON object such as {\"seconds\": 60} or {\"milliseconds\": 500}"}),
                            )
                        }
                    }
                };
                let millis = body["milliseconds"].as_i64().unwrap_or(0)
                    + (body["seconds"].as_f64().unwrap_or(0.0) * 1000.0) as i64;
                if millis < 0 {
                    return HttpResponse::json(400, &json!({"message": "the clock only moves forward"}));
                }
                self.clock.advance(millis);
                self.clock_state()
            }
            _ => HttpResponse::json(
                404,
                &json!({"message": format!("no such nimbus endpoint: {} {}", req.method, req.path)}),
            ),
        }
    }

    fn clock_state(&self) -> HttpResponse {
        HttpResponse::json(
            200,
            &json!({"now": self.clock.now().to_rfc3339(), "offsetMillis": self.clock.offset_millis()}),
        )
    }
}

/// The answer for a service nimbus does not emulate, in that service's own protocol so its
/// clients show nimbus's message rather than a parser error.
fn not_emulated(service: &str, request_id: &str) -> HttpResponse {
    let err = crate::AwsError::new(501, "NotImplemented", format!("The service '{service}' is not emulated by nimbus"));
    let known = protocols().get(service);
    match known.map(|p| p.0.as_str()) {
        Some("query") | Some("ec2") => {
            crate::query::error_response(&err, known.map_or("", |p| p.1.as_str()), request_id)
        }
        Some("rest-xml") => {
            let mut w = crate::query::XmlWriter::new();
            w.open("Error").text("Code", &err.code).text("Message", &err.message).text("RequestId", request_id);
            w.close("Error");
            let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", w.finish());
            HttpResponse::new(501, "application/xml", body)
        }
        _ => HttpResponse::json(501, &json!({"__type": err.code, "message": err.message}))
            .with_header("x-amzn-ErrorType", "NotImplemented"),
    }
}

/// Signing name → (protocol, XML namespace) for every AWS service botocore knows.
fn protocols() -> &'static std::collections::HashMap<String, (String, String)> {
    static TABLE: std::sync::OnceLock<std::collections::HashMap<String, (String, String)>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../model/protocols.json")).expect("generated protocols.json");
        doc["services"]
            .as_object()
            .map(|services| {
                services
                    .iter()
                    .map(|(name, p)| {
                        let field = |k: &str| p[k].as_str().unwrap_or_default().to_string();
                        (name.clone(), (field("protocol"), field("xmlNamespace")))
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Run a handler in its own task so a panic answers 500 instead of killing the connection.
async fn run(service: Arc<dyn Service>, ctx: RequestContext, req: HttpRequest) -> HttpResponse {
    let name = service.name();
    let task = tokio::spawn(async move { service.handle(ctx, req).await });
    match task.await {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(service = name, error = %err, "handler panicked");
            internal_error()
        }
    }
}

fn internal_error() -> HttpResponse {
    HttpResponse::json(500, &json!({"__type": "ServiceException", "message": "Internal error in nimbus"}))
        .with_header("x-amzn-ErrorType", "ServiceException")
}

/// How long a client may take to send a request's headers (hyper's timeout needs a timer, or
/// it is silently off).
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Raise the open-file soft limit to the hard limit: every connection, runtime pipe and Runtime
/// API socket is a descriptor. Returns the new soft limit.
pub fn raise_open_file_limit() -> Option<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        return Some(hard);
    }
    Some(soft)
}

/// Accept connections until the process ends. Each connection speaks HTTP/1.1 or, when it opens
/// with HTTP/2's preface, h2c (HTTP/2 with prior knowledge, as the Java SDK's Kinesis client
/// and other HTTP/2 clients talk to a plain `http://` endpoint). Accept errors (at the open-file limit above all)
/// back off instead of spinning, and are logged once per burst.
pub async fn serve(listener: TcpListener, router: Arc<Router>) {
    let mut failures: u32 = 0;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => {
                if failures > 0 {
                    tracing::warn!(failures, "accepting connections again");
                    failures = 0;
                }
                conn
            }
            Err(err) => {
                if failures == 0 {
                    tracing::warn!(error = %err, "accept failed; backing off until connections can be accepted again");
                }
                failures = failures.saturating_add(1);
                let out_of_descriptors = matches!(err.raw_os_error(), Some(24 | 23)); // EMFILE, ENFILE
                let pause = if out_of_descriptors { 50 * u64::from(failures.min(10)) } else { 10 };
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let router = router.clone();
                async move { Ok::<_, Infallible>(handle_http(&router, req, peer).await) }
            });
            let result = match sniff(&stream).await {
                Some(Version::Http2) => {
                    http2::Builder::new(TokioExecutor::new())
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
                Some(Version::Http1) => {
                    http1::Builder::new()
                        .keep_alive(true)
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await
                }
                None => return,
            };
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with error");
            }
        });
    }
}

/// The client preface that opens an HTTP/2 connection with prior knowledge (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

enum Version {
    Http1,
    Http2,
}

/// Which protocol a new connection speaks, from its first bytes (peeked, not consumed): HTTP/2
/// when they are the preface, HTTP/1.1 as soon as they differ from it. `None` when the client
/// sends nothing within [`HEADER_READ_TIMEOUT`] (let go, as HTTP/1's header timeout would) or
/// the connection closes first.
async fn sniff(stream: &tokio::net::TcpStream) -> Option<Version> {
    let deadline = tokio::time::Instant::now() + HEADER_READ_TIMEOUT;
    let mut buf = [0u8; H2_PREFACE.len()];
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return None,
        };
        if buf[..n] != H2_PREFACE[..n] {
            return Some(Version::Http1);
        }
        if n == H2_PREFACE.len() {
            return Some(Version::Http2);
        }
        // A prefix of the preface so far: wait for the rest (peek returns at once while any
        // byte is unread, so pause between looks).
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

async fn handle_http(router: &Router, mut req: hyper::Request<Incoming>, _peer: SocketAddr) -> hyper::Response<Body> {
    let wants_upgrade = req
        .headers()
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if wants_upgrade {
        let head = HttpRequest {
            method: req.method().clone(),
            path: req.uri().path().to_string(),
            query: req.uri().query().map(parse_query).unwrap_or_default(),
            headers: req.headers().clone(),
            body: Bytes::new(),
        };
        if let Some(service) = router.upgrading_service(&head) {
            let upgrade = crate::websocket::Upgrade(hyper::upgrade::on(&mut req));
            return into_hyper(router.dispatch_upgrade(service, head, upgrade).await);
        }
    }
    let (mut parts, body) = req.into_parts();
    // HTTP/2 carries the host as the `:authority` pseudo-header; services, screening and
    // SigV4 (which signs `host`) read it as the `Host` header it stands for.
    if !parts.headers.contains_key(hyper::header::HOST) {
        if let Some(authority) =
            parts.uri.authority().and_then(|a| hyper::header::HeaderValue::from_str(a.as_str()).ok())
        {
            parts.headers.insert(hyper::header::HOST, authority);
        }
    }
    let query = parts.uri.query().map(parse_query).unwrap_or_default();
    let head = HttpRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query,
        headers: parts.headers,
        body: Bytes::new(),
    };
    if let Some(service) = router.streaming_service(&head) {
        tracing::debug!(method = %head.method, path = %head.path, "streamed request");
        return into_hyper(router.dispatch_stream(service, head, RequestBody::incoming(body)).await);
    }
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            let too_large = err.downcast_ref::<http_body_util::LengthLimitError>().is_some();
            let response = if too_large {
                HttpResponse::json(
                    413,
                    &json!({"message": format!("Request must be smaller than {MAX_BODY_BYTES} bytes")}),
                )
                .with_header("x-amzn-ErrorType", "RequestEntityTooLargeException")
            } else {
                HttpResponse::json(400, &json!({"message": "could not read request body"}))
            };
            return into_hyper(response);
        }
    };
    let request = HttpRequest { body, ..head };
    tracing::debug!(method = %request.method, path = %request.path, "request");
    into_hyper(router.dispatch(request).await)
}

fn into_hyper(response: HttpResponse) -> hyper::Response<Body> {
    let mut builder = hyper::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(response.body).unwrap_or_else(|err| {
        tracing::error!(error = %err, "invalid response");
        let mut fallback = hyper::Response::new(Body::from(Bytes::from_static(b"{\"message\":\"invalid response\"}")));
        *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}
