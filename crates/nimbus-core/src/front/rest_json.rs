//! REST-JSON: the operation from method + URI template, members from labels, query string,
//! headers and body; errors as `{"message": …}` with `x-amzn-ErrorType`.

use serde_json::{Map, Value};

use super::{log_error, Operations};
use crate::error::AwsError;
use crate::http::{HttpRequest, HttpResponse};
use crate::service::RequestContext;

pub(super) async fn respond<O: Operations + ?Sized>(ops: &O, ctx: &RequestContext, req: &HttpRequest) -> HttpResponse {
    let model = ops.model();
    let Some((op, labels)) = model.route(req.method.as_str(), &req.path, &req.query) else {
        let err = if model.path_exists(&req.path, &req.query) {
            AwsError::new(405, "MethodNotAllowedException", format!("Method {} is not allowed here", req.method))
        } else {
            AwsError::new(404, "UnknownOperationException", format!("No operation for {} {}", req.method, req.path))
        };
        return error(ops, &err);
    };
    let result = super::run(ops, ctx, op, model.decode_input(op, &labels, &req.query, &req.headers, &req.body)).await;
    match result {
        Ok(output) => {
            let (status, headers, body) = model.encode_output(op, output);
            let mut response = HttpResponse::new(status, "application/json", body);
            // An output member bound to `Content-Type` (API Gateway's exports) replaces the default.
            if headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                response.headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
            }
            response.headers.extend(headers);
            response
        }
        Err(err) => {
            log_error(model.meta("endpointPrefix").unwrap_or(""), &op.name, &err);
            error(ops, &err)
        }
    }
}

/// The modeled exception's message member decides the key (`message` or `Message`).
fn error<O: Operations + ?Sized>(ops: &O, err: &AwsError) -> HttpResponse {
    let model = ops.model();
    let mut body = Map::new();
    body.insert(model.error_message_key(&err.code).to_string(), Value::String(err.message.clone()));
    for (k, v) in &err.extra {
        body.insert(k.clone(), v.clone());
    }
    HttpResponse::new(err.status, "application/json", serde_json::to_vec(&Value::Object(body)).unwrap_or_default())
        .with_header("x-amzn-ErrorType", err.code.clone())
}
