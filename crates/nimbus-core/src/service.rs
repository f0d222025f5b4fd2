//! The contract between the server and an emulated service.

use std::future::Future;
use std::pin::Pin;

use crate::clock::Clock;
use crate::http::{HttpRequest, HttpResponse, RequestBody};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Everything a service needs to know about the caller, built once per request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub account: String,
    pub region: String,
    pub request_id: String,
    /// The access key id the request was signed with, if it was signed.
    pub access_key_id: Option<String>,
    /// Base URL clients reached us on (`http://host:port`), for URLs we hand back.
    pub endpoint: String,
    pub clock: Clock,
}

pub trait Service: Send + Sync + 'static {
    /// A short name for logs and `/_nimbus/health`.
    fn name(&self) -> &'static str;

    /// SigV4 service names (credential scope) this service answers.
    fn signing_names(&self) -> &'static [&'static str];

    /// Paths this service serves before any other routing (download links, function URLs…).
    fn intercepts(&self, _req: &HttpRequest) -> bool {
        false
    }

    /// Whether an unsigned request (or one whose signing name is unknown) looks like ours.
    fn claims(&self, _req: &HttpRequest) -> bool {
        false
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse>;

    /// Opt-in for bodies too large to buffer (S3 objects): when this answers true for a request
    /// head (its `body` still empty), the server hands the body over unread to [`Service::handle_stream`]
    /// instead of buffering it. Every other service keeps the buffered [`Service::handle`].
    fn streams_body(&self, _head: &HttpRequest) -> bool {
        false
    }

    /// Opt-in for WebSocket handshakes (API Gateway's WebSocket APIs): when this answers true
    /// for a request head that [`crate::websocket::is_upgrade`], the server calls
    /// [`Service::handle_upgrade`] with the connection to take over after a `101` answer.
    fn upgrades(&self, _head: &HttpRequest) -> bool {
        false
    }

    /// Answer a WebSocket handshake (only called when `upgrades` said so). A `101` answer hands
    /// the connection over through `upgrade`; any other answer is sent as usual.
    fn handle_upgrade<'a>(
        &'a self,
        _ctx: RequestContext,
        _head: HttpRequest,
        _upgrade: crate::websocket::Upgrade,
    ) -> BoxFuture<'a, HttpResponse> {
        Box::pin(async {
            HttpResponse::json(400, &serde_json::json!({"message": "WebSocket connections are not served here"}))
        })
    }

    /// Handle a request whose body arrives as it is read (only called when `streams_body` said so).
    fn handle_stream<'a>(
        &'a self,
        ctx: RequestContext,
        head: HttpRequest,
        body: RequestBody,
    ) -> BoxFuture<'a, HttpResponse> {
        Box::pin(async move {
            let mut req = head;
            match body.collect(crate::server::MAX_BODY_BYTES).await {
                Ok(bytes) => req.body = bytes,
                Err(err) => return HttpResponse::json(400, &serde_json::json!({"message": err.to_string()})),
            }
            self.handle(ctx, req).await
        })
    }

    /// Drop all state (`POST /_nimbus/reset`).
    fn reset(&self);
}
