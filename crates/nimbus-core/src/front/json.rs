//! AWS JSON 1.0 / 1.1: `POST /` with `X-Amz-Target: <targetPrefix>.<Operation>` and a JSON
//! body; errors as `{"__type": code, "message": …}` with `x-amzn-ErrorType`.

use serde_json::{Map, Value};

use super::{cbor, log_error, Operations};
use crate::error::AwsError;
use crate::http::{HttpRequest, HttpResponse};
use crate::model::{ModelError, Operation, ServiceModel};
use crate::service::RequestContext;

/// Whether `X-Amz-Target` names this service (`<targetPrefix>.<anything>`).
pub(super) fn has_prefix(req: &HttpRequest, model: &ServiceModel) -> bool {
    let prefix = req.header("x-amz-target").and_then(|t| t.rsplit_once('.')).map(|(p, _)| p);
    prefix.is_some() && prefix == model.meta("targetPrefix")
}

/// The operation named by `X-Amz-Target`, if it belongs to `model`.
pub(super) fn target<'m>(req: &HttpRequest, model: &'m ServiceModel) -> Option<&'m Operation> {
    let (prefix, op) = req.header("x-amz-target")?.rsplit_once('.')?;
    (Some(prefix) == model.meta("targetPrefix")).then_some(())?;
    model.operation(op)
}

pub(super) fn content_type(model: &ServiceModel) -> String {
    format!("application/x-amz-json-{}", model.meta("jsonVersion").unwrap_or("1.0"))
}

pub(super) async fn respond<O: Operations + ?Sized>(ops: &O, ctx: &RequestContext, req: &HttpRequest) -> HttpResponse {
    let model = ops.model();
    let ct = content_type(model);
    let cbor = ops.accepts_cbor() && cbor::is_cbor(req);
    let fail = |err: &AwsError| if cbor { cbor::error(err) } else { error(err, &ct) };
    let Some(op) = target(req, model) else {
        let target = req.header("x-amz-target").unwrap_or("");
        let err = AwsError::new(400, "UnknownOperationException", format!("Unknown operation {target}"));
        return fail(&err);
    };
    let decoded = if cbor { cbor::decode(model, op.input.as_deref(), &req.body) } else { parse(&req.body) };
    if ops.answers_raw(&op.name) {
        let answer = match super::check(ops, op, decoded) {
            Ok(input) => ops.call_raw(ctx, &op.name, input, cbor).await,
            Err(err) => Err(err),
        };
        return answer.unwrap_or_else(|err| {
            log_error(model.meta("endpointPrefix").unwrap_or(""), &op.name, &err);
            fail(&err)
        });
    }
    let result = super::run(ops, ctx, op, decoded).await;
    match result {
        Ok(output) if cbor => match output {
            _ if op.output.is_none() => HttpResponse::new(200, cbor::CONTENT_TYPE, Vec::new()),
            Value::Null => cbor::response(model, None, &Value::Object(Map::new())),
            other => cbor::response(model, op.output.as_deref(), &other),
        },
        Ok(output) => {
            // Operations without an output shape answer an empty body.
            let body = match output {
                _ if op.output.is_none() => Vec::new(),
                Value::Null => b"{}".to_vec(),
                other => serde_json::to_vec(&other).unwrap_or_else(|_| b"{}".to_vec()),
            };
            HttpResponse::new(200, &ct, body)
        }
        Err(err) => {
            log_error(model.meta("endpointPrefix").unwrap_or(""), &op.name, &err);
            fail(&err)
        }
    }
}

/// The body as a JSON object (an empty body is `{}`).
pub(super) fn parse(body: &[u8]) -> Result<Value, ModelError> {
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| ModelError::InvalidContent(format!("{e}")))?
    };
    if !input.is_object() {
        return Err(ModelError::InvalidContent("Start of structure or map found where not expected.".into()));
    }
    Ok(input)
}

/// `{"__type": …, "message": …}` plus the error's extra members. A namespaced code
/// (`com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`) is sent as-is in `__type`;
/// the header carries the bare name.
pub(super) fn error(err: &AwsError, content_type: &str) -> HttpResponse {
    let mut body = Map::new();
    body.insert("__type".into(), Value::String(err.code.clone()));
    let has_message = err.extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("message"));
    if !has_message {
        body.insert("message".into(), Value::String(err.message.clone()));
    }
    for (k, v) in &err.extra {
        body.insert(k.clone(), v.clone());
    }
    let short = err.code.rsplit('#').next().unwrap_or(&err.code).to_string();
    HttpResponse::new(err.status, content_type, serde_json::to_vec(&Value::Object(body)).unwrap_or_default())
        .with_header("x-amzn-ErrorType", short)
}
