//! Invoke: run the function's code, synchronously or as a queued event.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use nimbus_core::{AwsError, RequestContext};
use rand::Rng;
use serde_json::{json, Value};

use super::functions::{find, find_version, function_id};
use crate::error::{self, Result};
use crate::ident;
use crate::invoke::Target;
use crate::{member_str, Lambda};

/// Largest synchronous request payload.
pub const MAX_SYNC_PAYLOAD: usize = 6_291_456;
/// Largest event (asynchronous) payload.
pub const MAX_EVENT_PAYLOAD: usize = 1_048_576;
/// AWS retries a failed event twice by default, waiting about one then two minutes.
const DEFAULT_RETRIES: u32 = 2;
const RETRY_DELAYS_SECONDS: [i64; 2] = [60, 120];

pub async fn invoke(lambda: &Arc<Lambda>, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let invocation_type = member_str(input, "InvocationType").unwrap_or("RequestResponse").to_string();
    let payload = match member_str(input, "Payload") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| error::invalid_content("Could not parse request body into json: payload is not valid"))?,
        None => Vec::new(),
    };
    let limit = if invocation_type == "Event" { MAX_EVENT_PAYLOAD } else { MAX_SYNC_PAYLOAD };
    if payload.len() > limit {
        return Err(AwsError::new(
            413,
            "RequestTooLargeException",
            format!("{} byte payload is too large for the {} invocation type (limit {limit} bytes)", payload.len(), invocation_type),
        ));
    }
    if !payload.is_empty() {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
            return Err(error::invalid_content(format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            )));
        }
    }
    let client_context = match member_str(input, "ClientContext") {
        Some(b64) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| error::invalid_parameter("Client context must be a valid Base64-encoded JSON object."))?,
        ),
        None => None,
    };
    let target = target(lambda, ctx, &id)?;
    match invocation_type.as_str() {
        "DryRun" => Ok(json!({"StatusCode": 204})),
        "Event" => {
            let lambda = lambda.clone();
            let ctx = ctx.clone();
            tokio::spawn(async move { run_event(lambda, ctx, target, payload).await });
            Ok(json!({"StatusCode": 202}))
        }
        _ => {
            let log_tail = member_str(input, "LogType") == Some("Tail");
            let outcome = lambda.invoker.invoke(&lambda.blobs, ctx, target, &payload, client_context).await?;
            let mut out = json!({
                "StatusCode": 200,
                "Payload": base64::engine::general_purpose::STANDARD.encode(&outcome.payload),
                "ExecutedVersion": outcome.executed_version,
            });
            if let Some(error) = outcome.function_error {
                out["FunctionError"] = json!(error);
            }
            if log_tail {
                out["LogResult"] = json!(outcome.log_tail);
            }
            Ok(out)
        }
    }
}

/// `InvokeAsync` (deprecated): an event invocation with the body as the payload; 202 `{Status: 202}`.
pub async fn invoke_async(lambda: &Arc<Lambda>, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let mut event = input.clone();
    event["InvocationType"] = json!("Event");
    if let Some(args) = event.get("InvokeArgs").cloned() {
        event["Payload"] = args;
    }
    invoke(lambda, ctx, &event).await?;
    Ok(json!({"Status": 202}))
}

/// Snapshot what an invocation runs: the version a qualifier (or an alias's weighted pick) names.
fn target(lambda: &Lambda, ctx: &RequestContext, id: &ident::FunctionId) -> Result<Target> {
    let store = lambda.store.read();
    let function = find(store.region(&ctx.account, &ctx.region), ctx, id)?;
    let mut qualifier = id.qualifier.clone();
    if let Some(alias) = id.qualifier.as_deref().and_then(|q| function.aliases.get(q)) {
        let mut pick = alias.function_version.clone();
        let roll: f64 = rand::thread_rng().gen();
        let mut acc = 0.0;
        for (version, weight) in &alias.weights {
            acc += weight;
            if roll < acc {
                pick = version.clone();
                break;
            }
        }
        qualifier = Some(pick);
    }
    let version = find_version(function, ctx, &ident::FunctionId { name: id.name.clone(), qualifier: qualifier.clone() })
        .or_else(|_| find_version(function, ctx, id))?;
    Ok(Target {
        account: ctx.account.clone(),
        region: ctx.region.clone(),
        config: version.config.clone(),
        code: version.code.clone(),
        layer_code: version.layer_code.clone(),
        invoked_arn: ident::qualified_arn(ctx, &id.name, id.qualifier.as_deref()),
        reserved_concurrency: function.reserved_concurrency,
        endpoint: local_endpoint(ctx),
    })
}

/// The endpoint functions use to call back into nimbus: the same port, on loopback.
fn local_endpoint(ctx: &RequestContext) -> String {
    let port = ctx.endpoint.rsplit(':').next().filter(|p| p.chars().all(|c| c.is_ascii_digit())).unwrap_or("4566");
    format!("http://127.0.0.1:{port}")
}

/// Run an event invocation with AWS's retry schedule, on nimbus's clock.
async fn run_event(lambda: Arc<Lambda>, ctx: RequestContext, target: Target, payload: Vec<u8>) {
    let mut attempt = 0u32;
    loop {
        let result = lambda.invoker.invoke(&lambda.blobs, &ctx, target.clone(), &payload, None).await;
        let failed = match &result {
            Ok(outcome) => outcome.function_error.is_some(),
            Err(err) if err.status == 429 => {
                // Throttled events stay queued and are tried again shortly.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(_) => true,
        };
        if !failed || attempt >= DEFAULT_RETRIES {
            if failed {
                tracing::info!(function = %target.config.function_name, "event invocation failed after retries");
            }
            return;
        }
        let delay = RETRY_DELAYS_SECONDS[attempt as usize];
        attempt += 1;
        let due = ctx.clock.now_millis() + delay * 1000;
        while ctx.clock.now_millis() < due {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
