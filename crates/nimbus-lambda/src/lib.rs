//! Nimbus's AWS Lambda: the control plane API (REST-JSON), validated from the service model.
//!
//! Layout:
//! - [`model`]: the facts of `lambda/2015-03-31` (generated data file): routing, input decoding,
//!   validation, output encoding.
//! - [`api`]: one module per API area with one plain function per operation, over [`state`].
//! - [`code`]: archive checks and code storage in the blob store.
//! - [`ident`]: function identifiers and ARNs; [`error`]: Lambda's errors by cause.
//!
//! A request: route (method + path) → decode input → validate → handler → encode output.

pub mod api;
pub mod code;
pub mod error;
pub mod ident;
pub mod model;
pub mod state;

use std::path::Path;

use nimbus_core::blob::BlobStore;
use nimbus_core::journal::Journal;
use nimbus_core::service::BoxFuture;
use nimbus_core::{AwsError, HttpRequest, HttpResponse, RequestContext, Service};
use parking_lot::RwLock;
use serde_json::Value;

use crate::error::Result;
use crate::state::{Function, Layer, Store};

/// The Lambda service: state, code blobs and (with `--data-dir`) the journal.
pub struct Lambda {
    pub store: RwLock<Store>,
    pub blobs: BlobStore,
    journal: Option<Journal>,
}

impl Lambda {
    /// Open Lambda's state: in memory, or persisted under `data_dir/lambda`.
    pub fn open(data_dir: Option<&Path>) -> std::io::Result<Lambda> {
        match data_dir {
            None => Ok(Lambda { store: RwLock::new(Store::default()), blobs: BlobStore::scratch()?, journal: None }),
            Some(dir) => {
                let dir = dir.join("lambda");
                let (journal, records) = Journal::open(&dir, "state")?;
                let store = state::load(&records)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                Ok(Lambda { store: RwLock::new(store), blobs: BlobStore::open(&dir.join("blobs"))?, journal: Some(journal) })
            }
        }
    }

    /// Durably record a function's new state (`None`: deleted). Call with the store lock held so
    /// the journal order matches the order of changes.
    pub fn save_function(&self, ctx: &RequestContext, name: &str, function: Option<&Function>) -> Result<()> {
        let Some(journal) = &self.journal else { return Ok(()) };
        let key = state::function_key(&ctx.account, &ctx.region, name);
        let value = function.map(|f| serde_json::to_value(f).expect("state serializes"));
        journal.write(&[(key, value)]).map_err(error::storage_error)
    }

    pub fn save_layer(&self, ctx: &RequestContext, name: &str, layer: Option<&Layer>) -> Result<()> {
        let Some(journal) = &self.journal else { return Ok(()) };
        let key = state::layer_key(&ctx.account, &ctx.region, name);
        let value = layer.map(|l| serde_json::to_value(l).expect("state serializes"));
        journal.write(&[(key, value)]).map_err(error::storage_error)
    }

    /// Decode, validate and run one REST-JSON request.
    pub fn call(&self, ctx: &RequestContext, req: &HttpRequest) -> HttpResponse {
        if let Some(response) = code::serve_download(self, req) {
            return response;
        }
        let model = model::model();
        let Some((op, labels)) = model.route(req.method.as_str(), &req.path, &req.query) else {
            return error::render(&AwsError::new(
                404,
                "UnknownOperationException",
                format!("No Lambda operation matches {} {}", req.method, req.path),
            ));
        };
        let result = model
            .decode_input(op, &labels, &req.query, &req.headers, &req.body)
            .map_err(model_error)
            .and_then(|input| api::functions::precheck(&op.name, &input).map(|()| input))
            .and_then(|input| model.validate(op, &input).map(|()| input).map_err(model_error))
            .and_then(|input| api::dispatch(self, ctx, &op.name, &input, req));
        match result {
            Ok(output) => {
                let (status, headers, body) = model.encode_output(op, output);
                let mut response = if status == 204 || body.is_empty() && status != 200 {
                    HttpResponse { status, headers: Vec::new(), body: Default::default() }
                } else {
                    HttpResponse::new(status, "application/json", body)
                };
                response.headers.extend(headers);
                response
            }
            Err(err) => {
                if err.status >= 500 {
                    tracing::error!(operation = %op.name, error = %err, "operation failed");
                } else {
                    tracing::debug!(operation = %op.name, error = %err, "operation rejected");
                }
                error::render(&err)
            }
        }
    }

    pub fn reset(&self) {
        let mut store = self.store.write();
        store.clear();
        if let Some(journal) = &self.journal {
            if let Err(err) = journal.clear() {
                tracing::error!(error = %err, "could not clear the Lambda journal");
            }
        }
    }
}

fn model_error(err: model::ModelError) -> AwsError {
    match err {
        model::ModelError::InvalidContent(m) => error::invalid_content(m),
        model::ModelError::Validation(m) => error::validation(m),
    }
}

/// The HTTP face of [`Lambda`].
pub struct LambdaService {
    lambda: std::sync::Arc<Lambda>,
}

impl LambdaService {
    pub fn open(data_dir: Option<&Path>) -> std::io::Result<LambdaService> {
        Ok(LambdaService { lambda: std::sync::Arc::new(Lambda::open(data_dir)?) })
    }
}

impl Service for LambdaService {
    fn name(&self) -> &'static str {
        "lambda"
    }

    fn signing_names(&self) -> &'static [&'static str] {
        &["lambda"]
    }

    fn intercepts(&self, req: &HttpRequest) -> bool {
        req.path.starts_with(code::DOWNLOAD_PREFIX)
    }

    fn claims(&self, req: &HttpRequest) -> bool {
        // Lambda's API paths all start with a date: /2015-03-31/, /2018-10-31/, /2021-10-31/ …
        let p = req.path.as_bytes();
        p.len() > 12 && p[0] == b'/' && p[1..5].iter().all(u8::is_ascii_digit) && p[5] == b'-'
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        let lambda = self.lambda.clone();
        Box::pin(async move {
            // Control-plane calls may fsync; keep them off the async workers.
            tokio::task::spawn_blocking(move || lambda.call(&ctx, &req))
                .await
                .unwrap_or_else(|_| error::render(&AwsError::internal("Internal error in nimbus")))
        })
    }

    fn reset(&self) {
        self.lambda.reset();
    }
}

/// Read a member of a decoded input object.
pub(crate) fn member<'a>(input: &'a Value, name: &str) -> Option<&'a Value> {
    input.get(name).filter(|v| !v.is_null())
}

pub(crate) fn member_str<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    member(input, name).and_then(Value::as_str)
}

pub(crate) fn member_bool(input: &Value, name: &str) -> bool {
    member(input, name).and_then(Value::as_bool).unwrap_or(false)
}

/// A stable hex digest of a string, for identifiers AWS derives from content.
pub(crate) fn state_hash(s: &str) -> String {
    nimbus_core::blob::BlobStore::sha256_hex(s.as_bytes())
}
