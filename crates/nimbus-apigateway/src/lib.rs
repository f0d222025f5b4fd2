//! Nimbus's Amazon API Gateway: REST APIs (`apigateway`, v1) and HTTP APIs (`apigatewayv2`),
//! both REST-JSON on the shared front, signed `apigateway` and told apart by the `/v2/` prefix.
//!
//! Layout:
//! - [`state`]: every API is one journal record holding its documents as the API returns them.
//! - [`v1`], [`v2`]: one plain function per control-plane operation.
//! - [`openapi`]: ImportRestApi / PutRestApi / GetExport (OpenAPI 2 and 3, JSON and YAML).
//! - [`rest`], [`http_api`]: the data planes (serving `execute-api` requests), over [`serve`]'s
//!   addressing and HTTP client; [`vtl`]: mapping templates.
//!
//! Functions are invoked through [`nimbus_core::invoke::FunctionInvoker`] (wired by the binary);
//! Lambda checks the function's resource policy for `apigateway.amazonaws.com`.

pub mod http_api;
pub mod http_auth;
pub mod mapping;
pub mod openapi;
pub mod rest;
pub mod serve;
pub mod state;
pub mod util;
pub mod v1;
pub mod v2;
pub mod validate;
pub mod vtl;
pub mod websocket;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use nimbus_core::clock::Clock;
use nimbus_core::front::{unsupported, ModelService, OpResult, Operations};
use nimbus_core::invoke::FunctionInvoker;
use nimbus_core::model::ServiceModel;
use nimbus_core::service::BoxFuture;
use nimbus_core::state::Store;
use nimbus_core::{HttpRequest, HttpResponse, RequestContext, Service};
use parking_lot::{Mutex, RwLock};
use serde_json::Value;

use crate::state::Gateways;

pub fn v1_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/apigateway.json")))
}

pub fn v2_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/apigatewayv2.json")))
}

/// API Gateway's state and what serving needs.
pub struct ApiGateway {
    pub store: Store<Gateways>,
    pub clock: Clock,
    /// Lambda, for integrations and authorizers (wired by the binary).
    pub invoker: RwLock<Option<Arc<dyn FunctionInvoker>>>,
    /// Authorizer results by API, authorizer and identity: (valid until, millis; the result).
    pub authorizer_cache: Mutex<HashMap<String, (i64, Value)>>,
    /// JWT issuers' keys by issuer: (valid until, millis; the JWKS `keys`).
    pub jwks_cache: Mutex<HashMap<String, (i64, Vec<Value>)>>,
    /// Open WebSocket connections by connection id.
    pub connections: Mutex<HashMap<String, Arc<websocket::Connection>>>,
}

impl ApiGateway {
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<Arc<ApiGateway>> {
        Ok(Arc::new(ApiGateway {
            store: Store::open(data_dir, "apigateway")?,
            clock,
            invoker: RwLock::new(None),
            authorizer_cache: Mutex::default(),
            jwks_cache: Mutex::default(),
            connections: Mutex::default(),
        }))
    }

    pub fn reset(&self) {
        self.store.reset();
        self.authorizer_cache.lock().clear();
        self.jwks_cache.lock().clear();
        for (_, connection) in self.connections.lock().drain() {
            let _ = connection.outbox.send(websocket::Outgoing::Close);
        }
    }
}

pub struct V1Ops(pub Arc<ApiGateway>);
pub struct V2Ops(pub Arc<ApiGateway>);

impl Operations for V1Ops {
    fn model(&self) -> &'static ServiceModel {
        v1_model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move {
            self.0
                .store
                .write(|g, changes| v1::dispatch(g, ctx, op, &input, changes).unwrap_or_else(|| Err(unsupported(op))))
        })
    }

    fn reset(&self) {
        self.0.reset();
    }
}

impl Operations for V2Ops {
    fn model(&self) -> &'static ServiceModel {
        v2_model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move {
            let out = self
                .0
                .store
                .write(|g, changes| v2::dispatch(g, ctx, op, &input, changes).unwrap_or_else(|| Err(unsupported(op))));
            if op == "ResetAuthorizersCache" && out.is_ok() {
                // Cached Lambda authorizer results of the API (nimbus keeps one cache per API).
                let prefix = format!("v2/{}/", input["ApiId"].as_str().unwrap_or_default());
                self.0.authorizer_cache.lock().retain(|k, _| !k.starts_with(&prefix));
            }
            out
        })
    }
}

/// The service on the router: both control planes and the `execute-api` data plane.
pub struct ApiGatewayService {
    gateway: Arc<ApiGateway>,
    v1: ModelService<V1Ops>,
    v2: ModelService<V2Ops>,
}

impl ApiGatewayService {
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<ApiGatewayService> {
        let gateway = ApiGateway::open(data_dir, clock)?;
        Ok(ApiGatewayService {
            v1: ModelService::new("apigateway", &["apigateway"], Arc::new(V1Ops(gateway.clone()))),
            v2: ModelService::new("apigatewayv2", &["apigateway"], Arc::new(V2Ops(gateway.clone()))),
            gateway,
        })
    }

    pub fn gateway(&self) -> &Arc<ApiGateway> {
        &self.gateway
    }
}

impl Service for ApiGatewayService {
    fn name(&self) -> &'static str {
        "apigateway"
    }

    fn signing_names(&self) -> &'static [&'static str] {
        &["apigateway", "execute-api"]
    }

    /// `execute-api` requests (host or path form) come here before any signature is looked at.
    fn intercepts(&self, req: &HttpRequest) -> bool {
        serve::address(req).is_some()
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        Box::pin(async move {
            if let Some(addr) = serve::address(&req) {
                let is_v2 = self.gateway.store.read(|g| g.http_by_id(&addr.api_id).is_some());
                if is_v2 && websocket::is_websocket(&self.gateway, &addr) {
                    return websocket::manage(&self.gateway, &req, &addr);
                }
                return if is_v2 {
                    http_api::serve(&self.gateway, &req, addr).await
                } else {
                    rest::serve(&self.gateway, &req, addr).await
                };
            }
            if req.path.starts_with("/v2/") {
                self.v2.respond(&ctx, &req).await
            } else {
                self.v1.respond(&ctx, &req).await
            }
        })
    }

    fn upgrades(&self, head: &HttpRequest) -> bool {
        serve::address(head).is_some_and(|addr| websocket::is_websocket(&self.gateway, &addr))
    }

    fn handle_upgrade<'a>(
        &'a self,
        _ctx: RequestContext,
        head: HttpRequest,
        upgrade: nimbus_core::websocket::Upgrade,
    ) -> BoxFuture<'a, HttpResponse> {
        Box::pin(async move {
            match serve::address(&head) {
                Some(addr) => websocket::connect(self.gateway.clone(), head, addr, upgrade).await,
                None => HttpResponse::json(404, &serde_json::json!({"message": "Not Found"})),
            }
        })
    }

    fn reset(&self) {
        self.gateway.reset();
    }
}
