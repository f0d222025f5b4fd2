//! Serving WebSocket APIs (v2, `WEBSOCKET`): a connection runs the `$connect` route, each
//! message the route its `RouteSelectionExpression` picks (else `$default`), and closing runs
//! `$disconnect`; routes reach Lambda (`AWS_PROXY`) with AWS's WebSocket event. Functions
//! answer through the `@connections` management API (PostToConnection, GetConnection,
//! DeleteConnection) at the stage's address.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use nimbus_core::delivery::Source;
use nimbus_core::invoke::Invocation;
use nimbus_core::websocket::{self, Message, Upgrade};
use nimbus_core::{HttpRequest, HttpResponse};
use parking_lot::Mutex;
use rand::Rng;
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::serve::{self, decode, function_of, Address};
use crate::util::str_of;
use crate::ApiGateway;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// PostToConnection's limit (API Gateway's frame size).
const MAX_POST_BYTES: usize = 128 * 1024;

/// What to do on a connection, from outside its own task.
pub enum Outgoing {
    Send(Message),
    /// DeleteConnection: close it (and run `$disconnect`).
    Close,
}

/// One open connection.
pub struct Connection {
    pub api_id: String,
    pub stage: String,
    pub connected_at: i64,
    pub last_active: Mutex<i64>,
    pub source_ip: String,
    pub user_agent: String,
    pub outbox: mpsc::UnboundedSender<Outgoing>,
}

/// Everything about the API and stage a connection needs, copied out of the state.
#[derive(Clone)]
struct Stage {
    account: String,
    region: String,
    api_id: String,
    stage: String,
    variables: Value,
    selection: String,
    /// Route key → (route, its integration).
    routes: Vec<(String, Value, Option<Value>)>,
    domain: String,
}

fn new_connection_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let id: String = (0..15).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect();
    format!("{id}=")
}

/// Whether the API a request is addressed to is a WebSocket API.
pub fn is_websocket(gw: &ApiGateway, addr: &Address) -> bool {
    gw.store.read(|g| g.http_by_id(&addr.api_id).is_some_and(|a| a.doc["ProtocolType"] == "WEBSOCKET"))
}

/// The stage a path addresses (`/<stage>/…` in the host form) and the rest of the path.
fn stage_and_path(addr: &Address) -> (String, String) {
    match &addr.stage {
        Some(s) => (s.clone(), addr.path.clone()),
        None => {
            let trimmed = addr.path.trim_start_matches('/');
            let (s, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
            (decode(s), format!("/{rest}"))
        }
    }
}

fn stage(gw: &ApiGateway, req: &HttpRequest, addr: &Address) -> Option<Stage> {
    let (stage_name, _) = stage_and_path(addr);
    gw.store.read(|g| {
        let api = g.http_by_id(&addr.api_id)?;
        let stage = api.stages.get(&stage_name)?;
        let routes = api
            .routes
            .values()
            .filter_map(|r| {
                let key = str_of(r, "RouteKey")?.to_string();
                let integration = str_of(r, "Target")
                    .and_then(|t| t.strip_prefix("integrations/"))
                    .and_then(|id| api.integrations.get(id))
                    .cloned();
                Some((key, r.clone(), integration))
            })
            .collect();
        Some(Stage {
            account: api.account.clone(),
            region: api.region.clone(),
            api_id: addr.api_id.clone(),
            stage: stage_name,
            variables: stage
                .get("StageVariables")
                .cloned()
                .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                .unwrap_or(Value::Null),
            selection: str_of(&api.doc, "RouteSelectionExpression").unwrap_or("$request.body.action").to_string(),
            routes,
            domain: req.header("host").unwrap_or_default().to_string(),
        })
    })
}

fn now_text(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default().format("%d/%b/%Y:%H:%M:%S +0000").to_string()
}

/// `requestContext` of the WebSocket event.
fn request_context(
    s: &Stage,
    conn: &Connection,
    connection_id: &str,
    route_key: &str,
    event_type: &str,
    now: i64,
) -> Value {
    let request_id = crate::util::new_id(16);
    json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": now_text(now),
        "messageDirection": "IN",
        "stage": s.stage,
        "connectedAt": conn.connected_at,
        "requestTimeEpoch": now,
        "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
        "requestId": request_id,
        "domainName": s.domain,
        "connectionId": connection_id,
        "apiId": s.api_id,
    })
}

/// What a route's integration answered: the function's payload, or why there is none.
enum Answer {
    Payload(Vec<u8>),
    Failed,
    NoRoute,
}

async fn call_route(gw: &ApiGateway, s: &Stage, route_key: &str, event: Value) -> Answer {
    let Some((_, _, integration)) = s.routes.iter().find(|(k, _, _)| k == route_key) else { return Answer::NoRoute };
    let Some(integration) = integration else { return Answer::Failed };
    if str_of(integration, "IntegrationType") != Some("AWS_PROXY") {
        tracing::warn!(api = %s.api_id, route = route_key, "WebSocket routes reach only AWS_PROXY (Lambda) integrations");
        return Answer::Failed;
    }
    let Some(invoker) = gw.invoker.read().clone() else { return Answer::Failed };
    let Some(function) = function_of(str_of(integration, "IntegrationUri").unwrap_or_default(), &s.variables) else {
        return Answer::Failed;
    };
    let call = Invocation {
        account: nimbus_core::arn::Arn::parse(&function)
            .map(|a| a.account)
            .filter(|a| !a.is_empty())
            .unwrap_or(s.account.clone()),
        region: s.region.clone(),
        function,
        payload: event.to_string().into_bytes(),
        source: Source {
            principal: "apigateway.amazonaws.com".into(),
            source_arn: Some(format!(
                "arn:aws:execute-api:{}:{}:{}/{}/{route_key}",
                s.region, s.account, s.api_id, s.stage
            )),
            source_account: Some(s.account.clone()),
        },
    };
    let timeout = Duration::from_millis(integration["TimeoutInMillis"].as_u64().unwrap_or(29_000).clamp(50, 29_000));
    match tokio::time::timeout(timeout, invoker.invoke(call)).await {
        Ok(Ok(result)) if result.function_error.is_none() => Answer::Payload(result.payload),
        Ok(Ok(_)) => Answer::Failed,
        Ok(Err(err)) => {
            tracing::warn!(code = %err.code, message = %err.message, "WebSocket API could not invoke the route's function");
            Answer::Failed
        }
        Err(_) => Answer::Failed,
    }
}

/// A proxy answer's status code (absent: 200).
fn status_of(payload: &[u8]) -> u16 {
    serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| v.get("statusCode").and_then(Value::as_u64))
        .map_or(200, |s| s as u16)
}

/// The data a two-way route sends back: the proxy answer's `body`, or the payload itself.
fn reply_of(payload: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(o)) if o.contains_key("statusCode") || o.contains_key("body") => match o.get("body") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        },
        Ok(Value::Null) => None,
        Ok(Value::String(s)) => Some(s),
        Ok(_) | Err(_) => Some(String::from_utf8_lossy(payload).into_owned()),
    }
}

/// The route key a message selects: the expression (`$request.body.<path>`, possibly inside
/// `${…}`, with literals around) evaluated on the message as JSON.
pub fn select_route(expression: &str, body: &str) -> Option<String> {
    let doc: Value = serde_json::from_str(body).ok()?;
    let lookup = |path: &str| -> Option<String> {
        let v = path.split('.').filter(|p| !p.is_empty()).try_fold(&doc, |v, p| v.get(p))?;
        Some(match v {
            Value::String(s) => s.clone(),
            Value::Null => return None,
            other => other.to_string(),
        })
    };
    let re = regex::Regex::new(r"\$\{request\.body\.([A-Za-z0-9_.\-]+)\}|\$request\.body\.([A-Za-z0-9_.\-]+)").ok()?;
    let mut missing = false;
    let out = re.replace_all(expression, |c: &regex::Captures| {
        let path = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
        lookup(path).unwrap_or_else(|| {
            missing = true;
            String::new()
        })
    });
    (!missing && !out.is_empty()).then(|| out.into_owned())
}

/// A WebSocket handshake for a WebSocket API: run `$connect`, and on success answer `101` and
/// serve the connection.
pub async fn connect(gw: Arc<ApiGateway>, req: HttpRequest, addr: Address, upgrade: Upgrade) -> HttpResponse {
    let Some(s) = stage(&gw, &req, &addr) else {
        return HttpResponse::json(403, &json!({"message": "Forbidden"}));
    };
    let connection_id = new_connection_id();
    let now = gw.clock.now_millis();
    let (outbox, inbox) = mpsc::unbounded_channel();
    let conn = Arc::new(Connection {
        api_id: s.api_id.clone(),
        stage: s.stage.clone(),
        connected_at: now,
        last_active: Mutex::new(now),
        source_ip: "127.0.0.1".into(),
        user_agent: req.header("user-agent").unwrap_or_default().to_string(),
        outbox,
    });
    if s.routes.iter().any(|(k, _, _)| k == "$connect") {
        let (headers, multi_headers) = serve::headers(&req);
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
        let mut event = json!({
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "requestContext": request_context(&s, &conn, &connection_id, "$connect", "CONNECT", now),
            "isBase64Encoded": false,
        });
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
            event["multiValueQueryStringParameters"] = Value::Object(multi_query);
        }
        if !s.variables.is_null() {
            event["stageVariables"] = s.variables.clone();
        }
        match call_route(&gw, &s, "$connect", event).await {
            Answer::Payload(p) if (200..300).contains(&status_of(&p)) => {}
            Answer::Payload(p) => {
                let status = status_of(&p);
                return HttpResponse { status, headers: Vec::new(), body: Default::default() };
            }
            Answer::Failed | Answer::NoRoute => {
                return HttpResponse::json(500, &json!({"message": "Internal server error"}));
            }
        }
    }
    gw.connections.lock().insert(connection_id.clone(), conn.clone());
    let response = websocket::switching_protocols(&req);
    tokio::spawn(run(gw, s, conn, connection_id, upgrade, inbox));
    response
}

/// Serve one connection until either side closes it, then run `$disconnect`.
async fn run(
    gw: Arc<ApiGateway>,
    s: Stage,
    conn: Arc<Connection>,
    connection_id: String,
    upgrade: Upgrade,
    mut inbox: mpsc::UnboundedReceiver<Outgoing>,
) {
    let (mut reader, mut writer) = match upgrade.socket().await {
        Ok(halves) => halves,
        Err(e) => {
            tracing::debug!(error = %e, "WebSocket upgrade failed");
            gw.connections.lock().remove(&connection_id);
            return;
        }
    };
    let s = Arc::new(s);
    // Frames are read in their own task: a read cut off half-way would lose its bytes.
    let (incoming_tx, mut incoming) = mpsc::channel(16);
    let read_task = tokio::spawn(async move {
        loop {
            let message = reader.recv().await;
            let end = matches!(message, Err(_) | Ok(Message::Close(..)));
            if incoming_tx.send(message).await.is_err() || end {
                return;
            }
        }
    });
    let close: (u16, String) = loop {
        tokio::select! {
            outgoing = inbox.recv() => match outgoing {
                Some(Outgoing::Send(message)) => {
                    if writer.send(&message).await.is_err() {
                        break (1006, "Going away".into());
                    }
                }
                Some(Outgoing::Close) | None => {
                    let _ = writer.send(&Message::Close(1000, String::new())).await;
                    break (1000, String::new());
                }
            },
            message = incoming.recv() => match message {
                Some(Ok(Message::Text(text))) => message_in(&gw, &s, &conn, &connection_id, text, false),
                Some(Ok(Message::Binary(data))) => message_in(&gw, &s, &conn, &connection_id, B64.encode(&data), true),
                Some(Ok(Message::Ping(data))) => {
                    let _ = writer.send(&Message::Pong(data)).await;
                }
                Some(Ok(Message::Pong(_))) => {}
                Some(Ok(Message::Close(code, reason))) => {
                    let _ = writer.send(&Message::Close(if code == 1005 { 1000 } else { code }, String::new())).await;
                    break (code, reason);
                }
                Some(Err(_)) | None => {
                    break (1006, "Going away".into());
                }
            },
        }
    };
    read_task.abort();
    gw.connections.lock().remove(&connection_id);
    if s.routes.iter().any(|(k, _, _)| k == "$disconnect") {
        let now = gw.clock.now_millis();
        let mut context = request_context(&s, &conn, &connection_id, "$disconnect", "DISCONNECT", now);
        context["disconnectStatusCode"] = json!(close.0);
        context["disconnectReason"] = json!(close.1);
        let (headers, multi) = (json!({}), json!({}));
        let event = json!({"headers": headers, "multiValueHeaders": multi, "requestContext": context, "isBase64Encoded": false});
        let _ = call_route(&gw, &s, "$disconnect", event).await;
    }
}

/// One message from the client: select its route and run it (concurrently with the rest).
fn message_in(
    gw: &Arc<ApiGateway>,
    s: &Arc<Stage>,
    conn: &Arc<Connection>,
    connection_id: &str,
    body: String,
    binary: bool,
) {
    let now = gw.clock.now_millis();
    *conn.last_active.lock() = now;
    let selected = if binary { None } else { select_route(&s.selection, &body) };
    let route_key = match selected {
        Some(k) if s.routes.iter().any(|(r, _, _)| *r == k) => k,
        _ => "$default".to_string(),
    };
    let (gw, s, conn, connection_id) = (gw.clone(), s.clone(), conn.clone(), connection_id.to_string());
    tokio::spawn(async move {
        let mut context = request_context(&s, &conn, &connection_id, &route_key, "MESSAGE", now);
        context["messageId"] = json!(crate::util::new_id(16));
        let request_id = context["requestId"].clone();
        let mut event = json!({"requestContext": context, "body": body, "isBase64Encoded": binary});
        if !s.variables.is_null() {
            event["stageVariables"] = s.variables.clone();
        }
        let two_way = s
            .routes
            .iter()
            .find(|(k, _, _)| *k == route_key)
            .is_some_and(|(_, r, _)| str_of(r, "RouteResponseSelectionExpression").is_some());
        let error = |message: &str| {
            json!({"message": message, "connectionId": connection_id, "requestId": request_id}).to_string()
        };
        match call_route(&gw, &s, &route_key, event).await {
            Answer::Payload(p) if two_way => {
                if let Some(reply) = reply_of(&p) {
                    let _ = conn.outbox.send(Outgoing::Send(Message::Text(reply)));
                }
            }
            Answer::Payload(_) => {}
            Answer::Failed => {
                let _ = conn.outbox.send(Outgoing::Send(Message::Text(error("Internal server error"))));
            }
            Answer::NoRoute => {
                let _ = conn.outbox.send(Outgoing::Send(Message::Text(error("Forbidden"))));
            }
        }
    });
}

fn gone() -> HttpResponse {
    HttpResponse::json(410, &json!({})).with_header("x-amzn-ErrorType", "GoneException")
}

/// The `@connections` management API and other plain HTTP requests to a WebSocket API.
pub fn manage(gw: &ApiGateway, req: &HttpRequest, addr: &Address) -> HttpResponse {
    let (stage_name, path) = stage_and_path(addr);
    let Some(connection_id) = path.strip_prefix("/@connections/").map(decode).filter(|c| !c.is_empty()) else {
        return HttpResponse::json(403, &json!({"message": "Forbidden"}));
    };
    let conn =
        gw.connections.lock().get(&connection_id).filter(|c| c.api_id == addr.api_id && c.stage == stage_name).cloned();
    let Some(conn) = conn else { return gone() };
    match req.method.as_str() {
        "POST" => {
            if req.body.len() > MAX_POST_BYTES {
                return HttpResponse::json(413, &json!({"message": "Message too long"}))
                    .with_header("x-amzn-ErrorType", "PayloadTooLargeException");
            }
            let message = match std::str::from_utf8(&req.body) {
                Ok(text) => Message::Text(text.to_string()),
                Err(_) => Message::Binary(req.body.clone()),
            };
            if conn.outbox.send(Outgoing::Send(message)).is_err() {
                return gone();
            }
            *conn.last_active.lock() = gw.clock.now_millis();
            HttpResponse::json(200, &json!({}))
        }
        "GET" => {
            let iso = |millis: i64| {
                chrono::DateTime::from_timestamp_millis(millis)
                    .unwrap_or_default()
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string()
            };
            HttpResponse::json(
                200,
                &json!({"connectedAt": iso(conn.connected_at), "lastActiveAt": iso(*conn.last_active.lock()),
                        "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent}}),
            )
        }
        "DELETE" => {
            let _ = conn.outbox.send(Outgoing::Close);
            HttpResponse { status: 204, headers: Vec::new(), body: Default::default() }
        }
        _ => HttpResponse::json(403, &json!({"message": "Forbidden"})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_selection_reads_the_message() {
        assert_eq!(select_route("$request.body.action", r#"{"action": "send", "x": 1}"#).as_deref(), Some("send"));
        assert_eq!(select_route("${request.body.a.b}-v1", r#"{"a": {"b": "x"}}"#).as_deref(), Some("x-v1"));
        assert_eq!(select_route("$request.body.action", r#"{"other": 1}"#), None);
        assert_eq!(select_route("$request.body.action", "not json"), None);
    }
}
