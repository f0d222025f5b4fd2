//! Nimbus's CloudFormation over the AWS query protocol, on the shared front.
//!
//! A template is read ([`template`]: JSON or YAML with short-form tags), transformed
//! ([`transform`]: SAM through AWS's own translator), prepared by the [`engine`] (parameters,
//! conditions, [`graph`] waves), and provisioned in the background: each resource type's
//! [`providers`] entry maps its properties onto the owning service's public API, which the
//! engine calls in process through the router ([`api`]), as the stack's account and region.
//! Stacks and change sets are kept in [`state`] and journaled with `--data-dir`.

pub mod api;
pub mod custom;
pub mod dynamic;
pub mod engine;
pub mod errors;
pub mod eval;
pub mod graph;
pub mod ops;
pub mod providers;
pub mod s3url;
pub mod sam;
pub mod state;
pub mod template;
pub mod transform;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use nimbus_core::clock::Clock;
use nimbus_core::front::{ModelService, OpResult, Operations};
use nimbus_core::model::ServiceModel;
use nimbus_core::service::BoxFuture;
use nimbus_core::state::Store;
use nimbus_core::{HttpRequest, HttpResponse, RequestContext, Service};
use serde_json::Value;

use crate::api::Dispatch;
use crate::engine::Engine;
use crate::ops::Cfn;

/// The CloudFormation model (`cloudformation/2010-05-15`), parsed on first use.
pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/cloudformation.json")))
}

impl Operations for Cfn {
    fn model(&self) -> &'static ServiceModel {
        model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move {
            *self.engine.endpoint.write() = ctx.endpoint.clone();
            Cfn::call(self, ctx, op, input).await
        })
    }

    fn reset(&self) {
        self.engine.store.reset();
    }
}

pub struct CloudFormationService {
    front: ModelService<Cfn>,
    engine: Arc<Engine>,
}

impl CloudFormationService {
    /// In memory without a data dir; otherwise persisted in `DIR/cloudformation/state.journal`.
    /// `dispatch` reaches the other services' APIs (the router, bound once it is built).
    pub fn open(data_dir: Option<&Path>, clock: Clock, dispatch: Arc<dyn Dispatch>) -> std::io::Result<Self> {
        let store = Store::open(data_dir, "cloudformation")?;
        let engine = Arc::new(Engine {
            store,
            dispatch,
            clock,
            endpoint: parking_lot::RwLock::new("http://127.0.0.1:4566".into()),
        });
        engine.recover();
        Ok(CloudFormationService {
            front: ModelService::new("cloudformation", &["cloudformation"], Arc::new(Cfn { engine: engine.clone() })),
            engine,
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
}

impl Service for CloudFormationService {
    fn name(&self) -> &'static str {
        "cloudformation"
    }

    fn signing_names(&self) -> &'static [&'static str] {
        &["cloudformation"]
    }

    fn claims(&self, req: &HttpRequest) -> bool {
        self.front.claims(req)
    }

    /// Custom resources' ResponseURLs.
    fn intercepts(&self, req: &HttpRequest) -> bool {
        req.path.starts_with(custom::RESPONSE_PATH)
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        if req.path.starts_with(custom::RESPONSE_PATH) {
            let delivered = custom::deliver(&req.path, &req.body);
            let status = if delivered { 200 } else { 404 };
            return Box::pin(async move { HttpResponse::new(status, "text/plain", "") });
        }
        self.front.handle(ctx, req)
    }

    fn reset(&self) {
        self.engine.store.reset();
    }
}
