//! The Lambda Runtime API (`/2018-06-01/runtime/...`), one server per execution environment on
//! an ephemeral loopback port — the contract AWS's runtimes and `lambda_runtime` speak.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Mutex};

/// Largest response a function may return (AWS: 6 MB plus a little framing).
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;
/// Largest response a function may stream to a caller that reads it as a stream (AWS: 200 MB).
pub const MAX_STREAMED_RESPONSE_BYTES: usize = 200 * 1024 * 1024;

/// What the caller of a streaming invocation receives while the function writes its response.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The runtime opened a streamed response (`Lambda-Runtime-Function-Response-Mode:
    /// streaming`) with this content type.
    Start { content_type: String },
    /// Bytes as the function wrote them.
    Data(Bytes),
}

/// One invocation handed to the runtime.
#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: i64,
    pub invoked_function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub reply: oneshot::Sender<RuntimeReply>,
    /// Where a streamed response goes as it is written; without it a streamed response is
    /// gathered and returned whole (plain `Invoke` of a streaming function).
    pub stream: Option<mpsc::Sender<StreamEvent>>,
}

/// The invocation the runtime is working on.
pub struct InFlight {
    id: String,
    reply: oneshot::Sender<RuntimeReply>,
    stream: Option<mpsc::Sender<StreamEvent>>,
}

/// What the runtime said about an invocation (or its initialization).
#[derive(Debug, Clone, PartialEq)]
pub enum RuntimeReply {
    Success(Bytes),
    /// `/error`: the error type header and the error document.
    FunctionError {
        error_type: String,
        body: Bytes,
    },
    /// The response was larger than Lambda allows (the limit, in bytes).
    ResponseTooLarge(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct InitError {
    pub error_type: String,
    pub body: Bytes,
}

/// The state one environment's Runtime API shares with the invoker.
pub struct RuntimeApi {
    queue: Mutex<mpsc::Receiver<Invocation>>,
    in_flight: parking_lot::Mutex<Option<InFlight>>,
    init_error: parking_lot::Mutex<Option<InitError>>,
    /// Fires once the runtime first asks for work (init finished).
    ready: parking_lot::Mutex<Option<oneshot::Sender<()>>>,
}

pub struct RuntimeApiHandle {
    pub port: u16,
    pub sender: mpsc::Sender<Invocation>,
    pub api: Arc<RuntimeApi>,
    pub ready: oneshot::Receiver<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApiHandle {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub fn take_init_error(&self) -> Option<InitError> {
        self.init_error.lock().take()
    }

    /// The invocation currently with the runtime, if any (to fail it when the process dies).
    pub fn take_in_flight(&self) -> Option<InFlight> {
        self.in_flight.lock().take()
    }
}

/// Start a Runtime API server on `127.0.0.1:0`.
pub async fn start() -> std::io::Result<RuntimeApiHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let (sender, receiver) = mpsc::channel(1);
    let (ready_tx, ready) = oneshot::channel();
    let api = Arc::new(RuntimeApi {
        queue: Mutex::new(receiver),
        in_flight: parking_lot::Mutex::new(None),
        init_error: parking_lot::Mutex::new(None),
        ready: parking_lot::Mutex::new(Some(ready_tx)),
    });
    let server_api = api.clone();
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let api = server_api.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let api = api.clone();
                    async move { Ok::<_, Infallible>(handle(&api, req).await) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(RuntimeApiHandle { port, sender, api, ready, server })
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", "application/json".parse().expect("static"));
    response
}

fn accepted() -> Response<Full<Bytes>> {
    reply(StatusCode::ACCEPTED, json!({"status": "OK"}))
}

fn error_reply(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    reply(status, json!({"errorMessage": message, "errorType": error_type}))
}

async fn handle(api: &RuntimeApi, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return error_reply(StatusCode::NOT_FOUND, "InvalidRequest", "Unknown Runtime API path");
    };
    match (method.as_str(), rest) {
        ("GET", "invocation/next") => next(api).await,
        ("POST", "init/error") => {
            let error_type =
                header(&req, "lambda-runtime-function-error-type").unwrap_or_else(|| "Runtime.Unknown".into());
            let body = read_body(req, MAX_RESPONSE_BYTES).await.unwrap_or_default();
            *api.init_error.lock() = Some(InitError { error_type, body });
            accepted()
        }
        ("POST", tail) => {
            let mut parts = tail.split('/');
            let (Some("invocation"), Some(id), Some(kind), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return error_reply(StatusCode::NOT_FOUND, "InvalidRequest", "Unknown Runtime API path");
            };
            let id = id.to_string();
            let kind = kind.to_string();
            let error_type = header(&req, "lambda-runtime-function-error-type");
            // Check the id before reading the body: a stray post must not consume the slot.
            let matches = api.in_flight.lock().as_ref().is_some_and(|current| current.id == id);
            if !matches {
                return error_reply(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID");
            }
            let streaming = header(&req, "lambda-runtime-function-response-mode")
                .is_some_and(|mode| mode.eq_ignore_ascii_case("streaming"));
            if kind == "response" && streaming {
                let Some(in_flight) = api.in_flight.lock().take() else {
                    return error_reply(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID");
                };
                return stream_response(req, in_flight).await;
            }
            let collected = Limited::new(req.into_body(), MAX_RESPONSE_BYTES).collect().await;
            // A streamed response reports a mid-stream failure in trailers, as AWS's runtimes do.
            let trailer_error = collected.as_ref().ok().and_then(|c| c.trailers()).and_then(|t| {
                let error_type = t.get("lambda-runtime-function-error-type")?.to_str().ok()?.to_string();
                let body = t
                    .get("lambda-runtime-function-error-body")
                    .and_then(|b| b.to_str().ok())
                    .and_then(|b| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).ok())
                    .unwrap_or_default();
                Some((error_type, Bytes::from(body)))
            });
            // Over the limit, or cut short (the runtime died mid-post): different failures.
            let body = collected
                .map(|c| c.to_bytes())
                .map_err(|e| e.downcast_ref::<http_body_util::LengthLimitError>().is_some());
            let Some(InFlight { reply: sender, stream, .. }) = api.in_flight.lock().take() else {
                return error_reply(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID");
            };
            match (kind.as_str(), body) {
                ("response", Ok(_)) if trailer_error.is_some() => {
                    let (error_type, body) = trailer_error.expect("checked");
                    let _ = sender.send(RuntimeReply::FunctionError { error_type, body });
                    accepted()
                }
                ("response", Ok(body)) => {
                    let _ = sender.send(RuntimeReply::Success(body));
                    accepted()
                }
                ("response", Err(true)) => {
                    let _ = sender.send(RuntimeReply::ResponseTooLarge(MAX_RESPONSE_BYTES));
                    too_large(MAX_RESPONSE_BYTES)
                }
                // A truncated body is no answer: dropping the reply lets the runtime's exit
                // (or its death) explain the failure.
                (_, Err(false)) => error_reply(StatusCode::BAD_REQUEST, "InvalidRequest", "request body was cut short"),
                ("error", body) => {
                    let error_type = error_type.unwrap_or_else(|| "Unhandled".into());
                    // An oversized error document keeps its type; only the body is replaced.
                    let body = body.unwrap_or_else(|_| {
                        Bytes::from(
                            serde_json::json!({"errorType": error_type, "errorMessage": format!("The error document exceeded the maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).")})
                                .to_string(),
                        )
                    });
                    let _ = sender.send(RuntimeReply::FunctionError { error_type, body });
                    accepted()
                }
                _ => {
                    // Put the invocation back: the path was wrong, not the invocation.
                    *api.in_flight.lock() = Some(InFlight { id, reply: sender, stream });
                    error_reply(StatusCode::NOT_FOUND, "InvalidRequest", "Unknown Runtime API path")
                }
            }
        }
        _ => error_reply(StatusCode::METHOD_NOT_ALLOWED, "InvalidRequest", "Method not allowed"),
    }
}

async fn next(api: &RuntimeApi) -> Response<Full<Bytes>> {
    if let Some(ready) = api.ready.lock().take() {
        let _ = ready.send(());
    }
    let invocation = {
        let mut queue = api.queue.lock().await;
        queue.recv().await
    };
    let Some(inv) = invocation else {
        return error_reply(StatusCode::GONE, "EnvironmentShutdown", "The environment is shutting down");
    };
    *api.in_flight.lock() = Some(InFlight { id: inv.request_id.clone(), reply: inv.reply, stream: inv.stream });
    let mut response = Response::new(Full::new(inv.payload));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = value.parse() {
            headers.insert(name, v);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &inv.request_id);
    set("lambda-runtime-deadline-ms", &inv.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &inv.invoked_function_arn);
    set("lambda-runtime-trace-id", &inv.trace_id);
    if let Some(cc) = &inv.client_context {
        set("lambda-runtime-client-context", cc);
    }
    response
}

fn too_large(limit: usize) -> Response<Full<Bytes>> {
    error_reply(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &format!("Exceeded maximum allowed payload size ({limit} bytes)."),
    )
}

/// A streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`, chunked): each
/// chunk goes to the caller as soon as it arrives; a failure comes in the trailers, as AWS's
/// runtimes send it. Without a streaming caller the chunks are gathered into one payload.
async fn stream_response(req: Request<Incoming>, in_flight: InFlight) -> Response<Full<Bytes>> {
    let InFlight { reply, mut stream, .. } = in_flight;
    let content_type = header(&req, "content-type").unwrap_or_else(|| "application/octet-stream".into());
    if let Some(sink) = &stream {
        if sink.send(StreamEvent::Start { content_type }).await.is_err() {
            stream = None;
        }
    }
    let gather = stream.is_none();
    let limit = if gather { MAX_RESPONSE_BYTES } else { MAX_STREAMED_RESPONSE_BYTES };
    let mut gathered = bytes::BytesMut::new();
    let mut written = 0usize;
    let mut trailers = None;
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        // A broken connection means the runtime is going away: the environment reports how.
        let Ok(frame) = frame else { return error_reply(StatusCode::BAD_REQUEST, "InvalidRequest", "Broken body") };
        let frame = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                trailers = frame.into_trailers().ok();
                continue;
            }
        };
        written += frame.len();
        if written > limit {
            let _ = reply.send(RuntimeReply::ResponseTooLarge(limit));
            return too_large(limit);
        }
        if gather {
            gathered.extend_from_slice(&frame);
        } else if let Some(sink) = &stream {
            if sink.send(StreamEvent::Data(frame)).await.is_err() {
                // The caller went away; the function still runs to its end, as on AWS.
                stream = None;
            }
        }
    }
    drop(stream);
    let error = trailers.as_ref().and_then(|t| {
        let error_type = t.get("lambda-runtime-function-error-type")?.to_str().ok()?.to_string();
        let body = t
            .get("lambda-runtime-function-error-body")
            .and_then(|b| b.to_str().ok())
            .and_then(|b| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).ok())
            .unwrap_or_default();
        Some(RuntimeReply::FunctionError { error_type, body: Bytes::from(body) })
    });
    let _ = reply.send(error.unwrap_or_else(|| RuntimeReply::Success(gathered.freeze())));
    accepted()
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, ()> {
    Limited::new(req.into_body(), limit).collect().await.map(|b| b.to_bytes()).map_err(|_| ())
}
