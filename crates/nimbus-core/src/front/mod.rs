//! The model-driven front every service shares: identify the operation, decode the request into
//! the model-shaped JSON document, validate it from the model, call the service, and encode the
//! output or error in the service's own protocol (AWS JSON 1.0/1.1, REST-JSON, query).
//!
//! A service declares its model and implements [`Operations`]; it never parses HTTP:
//!
//! ```ignore
//! impl Operations for Kms {
//!     fn model(&self) -> &'static ServiceModel { model() }
//!     fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
//!         Box::pin(async move {
//!             match op {
//!                 "CreateKey" => typed(input, |i: shapes::CreateKeyRequest| self.create_key(ctx, i)),
//!                 _ => Err(unsupported(op)),
//!             }
//!         })
//!     }
//! }
//! router.add(Arc::new(ModelService::new("kms", &["kms"], kms)));
//! ```

pub mod cbor;
mod json;
mod query;
mod rest_json;
pub mod xml;

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::AwsError;
use crate::http::{HttpRequest, HttpResponse};
use crate::model::{ModelError, Operation, Protocol, ServiceModel};
use crate::service::{BoxFuture, RequestContext, Service};

pub type OpResult = Result<Value, AwsError>;

pub trait Operations: Send + Sync + 'static {
    fn model(&self) -> &'static ServiceModel;

    /// Run one decoded and validated operation. `input` is the model-shaped JSON document
    /// (members by model name; blobs base64, timestamps epoch seconds).
    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult>;

    /// Drop all state (`POST /_nimbus/reset`).
    fn reset(&self) {}

    /// Checks the service's front end makes before the model's generic validation, with their
    /// own messages (e.g. CloudWatch Logs' name-length message). Runs on the decoded input.
    fn check_first(&self, _op: &str, _input: &Value) -> Result<(), AwsError> {
        Ok(())
    }

    /// The error for a query request whose `Action` the model does not have. Services word it
    /// differently (IAM and STS: `Could not find operation … for version …`).
    fn unknown_action(&self, action: &str, _version: Option<&str>) -> AwsError {
        AwsError::new(400, "InvalidAction", format!("The action {action} is not valid for this web service."))
    }

    /// Whether JSON-protocol requests may also come as CBOR (`application/x-amz-cbor-1.1`, see
    /// [`cbor`]); only services whose AWS endpoint speaks it (Kinesis) say yes.
    fn accepts_cbor(&self) -> bool {
        false
    }

    /// JSON-protocol operations whose answer is an HTTP response of the service's own making
    /// rather than an output document (Kinesis's SubscribeToShard event stream). They are
    /// decoded and validated as any other, then handed to [`Operations::call_raw`].
    fn answers_raw(&self, _op: &str) -> bool {
        false
    }

    /// Run an operation [`Operations::answers_raw`] named; `cbor` says the request came as
    /// CBOR (so the answer should be CBOR too). An error is answered in the request's format.
    fn call_raw<'a>(
        &'a self,
        _ctx: &'a RequestContext,
        op: &'a str,
        _input: Value,
        _cbor: bool,
    ) -> BoxFuture<'a, Result<HttpResponse, AwsError>> {
        Box::pin(async move { Err(unsupported(op)) })
    }

    /// The error for a request the model refuses. The default is each protocol's usual one;
    /// services whose front end words it otherwise (SQS, SNS) override it.
    fn model_error(&self, err: ModelError) -> AwsError {
        default_model_error(self.model().protocol(), err)
    }
}

/// The AWS-wide defaults: JSON protocols answer `SerializationException` for a body that does
/// not bind and `ValidationException` for constraint failures; query services `ValidationError`.
pub fn default_model_error(protocol: Protocol, err: ModelError) -> AwsError {
    match (protocol, err) {
        (Protocol::Json, ModelError::InvalidContent(m)) => AwsError::new(400, "SerializationException", m),
        (Protocol::Query, ModelError::InvalidContent(m)) => AwsError::new(400, "InvalidParameterValue", m),
        (Protocol::Query, ModelError::Validation(m)) => AwsError::new(400, "ValidationError", m),
        (_, ModelError::InvalidContent(m)) => AwsError::new(400, "SerializationException", m),
        (_, ModelError::Validation(m)) => AwsError::new(400, "ValidationException", m),
    }
}

/// An operation of the model that nimbus does not emulate (answered in the service's protocol).
pub fn unsupported(op: &str) -> AwsError {
    AwsError::new(501, "NotImplemented", format!("The operation {op} is not emulated by nimbus"))
}

/// Deserialize `input` into the operation's typed input shape, run `f`, serialize its output.
pub fn typed<I: DeserializeOwned, O: Serialize>(input: Value, f: impl FnOnce(I) -> Result<O, AwsError>) -> OpResult {
    let input =
        serde_json::from_value(input).map_err(|e| AwsError::new(400, "SerializationException", e.to_string()))?;
    let output = f(input)?;
    serde_json::to_value(output).map_err(|e| AwsError::internal(format!("could not encode the output: {e}")))
}

/// The async form of [`typed`].
pub async fn typed_async<I, O, F>(input: Value, f: impl FnOnce(I) -> F) -> OpResult
where
    I: DeserializeOwned,
    O: Serialize,
    F: std::future::Future<Output = Result<O, AwsError>>,
{
    let input =
        serde_json::from_value(input).map_err(|e| AwsError::new(400, "SerializationException", e.to_string()))?;
    let output = f(input).await?;
    serde_json::to_value(output).map_err(|e| AwsError::internal(format!("could not encode the output: {e}")))
}

/// A [`Service`] made of a model and its [`Operations`].
pub struct ModelService<O: Operations> {
    name: &'static str,
    signing_names: &'static [&'static str],
    ops: Arc<O>,
}

impl<O: Operations> ModelService<O> {
    pub fn new(name: &'static str, signing_names: &'static [&'static str], ops: Arc<O>) -> Self {
        ModelService { name, signing_names, ops }
    }

    pub fn operations(&self) -> &Arc<O> {
        &self.ops
    }

    /// Decode, validate, call and encode one request.
    pub async fn respond(&self, ctx: &RequestContext, req: &HttpRequest) -> HttpResponse {
        let model = self.ops.model();
        match model.protocol() {
            Protocol::Json => json::respond(&*self.ops, ctx, req).await,
            Protocol::Query => query::respond(&*self.ops, ctx, req).await,
            Protocol::RestJson | Protocol::RestXml => rest_json::respond(&*self.ops, ctx, req).await,
        }
    }
}

impl<O: Operations> Service for ModelService<O> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn signing_names(&self) -> &'static [&'static str] {
        self.signing_names
    }

    /// Unsigned requests: JSON services by their `X-Amz-Target` prefix (an unknown operation
    /// under it is still theirs, to answer `UnknownOperationException`), query services by an
    /// `Action` of the model together with the model's `Version`.
    fn claims(&self, req: &HttpRequest) -> bool {
        let model = self.ops.model();
        match model.protocol() {
            Protocol::Json => json::has_prefix(req, model),
            Protocol::Query => query::claims(req, model),
            _ => false,
        }
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        Box::pin(async move { self.respond(&ctx, &req).await })
    }

    fn reset(&self) {
        self.ops.reset();
    }
}

/// The steps after decoding, the same for every protocol: the service's own first checks, the
/// model's validation, then the operation.
async fn run<O: Operations + ?Sized>(
    ops: &O,
    ctx: &RequestContext,
    op: &Operation,
    decoded: Result<Value, ModelError>,
) -> OpResult {
    let input = check(ops, op, decoded)?;
    ops.call(ctx, &op.name, input).await
}

/// The service's first checks and the model's validation of a decoded input.
fn check<O: Operations + ?Sized>(ops: &O, op: &Operation, decoded: Result<Value, ModelError>) -> OpResult {
    let input = decoded.map_err(|e| ops.model_error(e))?;
    ops.check_first(&op.name, &input)?;
    ops.model().validate(op, &input).map_err(|e| ops.model_error(e))?;
    Ok(input)
}

/// Log server-side failures; a 5xx is a nimbus defect worth seeing.
fn log_error(service: &str, op: &str, err: &AwsError) {
    if err.status >= 500 && err.code != "NotImplemented" {
        tracing::error!(service, op, code = %err.code, message = %err.message, "operation failed");
    } else {
        tracing::debug!(service, op, code = %err.code, message = %err.message, "operation refused");
    }
}

#[cfg(test)]
mod tests;
