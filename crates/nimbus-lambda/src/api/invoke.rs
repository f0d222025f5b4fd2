//! Invoke: run the function's code, synchronously or as a queued event.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use nimbus_core::eventstream;
use nimbus_core::http::Body;
use nimbus_core::{AwsError, RequestContext};
use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::functions::{find_version, function_id};
use crate::error::{self, Result};
use crate::ident;
use crate::invoke::{Outcome, StreamEvent, Target};
use crate::{member_str, Lambda};

/// Largest synchronous request payload.
pub const MAX_SYNC_PAYLOAD: usize = 6_291_456;
/// Largest event (asynchronous) payload.
pub const MAX_EVENT_PAYLOAD: usize = 1_048_576;
/// AWS retries a failed event twice by default, waiting about one then two minutes.
const DEFAULT_RETRIES: u32 = 2;
const RETRY_DELAYS_SECONDS: [i64; 2] = [60, 120];

/// A validated synchronous or event invocation, ready to run.
struct Call {
    id: ident::FunctionId,
    invocation_type: String,
    payload: Vec<u8>,
    client_context: Option<String>,
    log_tail: bool,
    target: Target,
}

/// Decode and check what Invoke and InvokeWithResponseStream share: payload, client context,
/// and the version to run.
fn call(lambda: &Arc<Lambda>, ctx: &RequestContext, input: &Value) -> Result<Call> {
    let id = function_id(ctx, input)?;
    let invocation_type = member_str(input, "InvocationType").unwrap_or("RequestResponse").to_string();
    let payload = match member_str(input, "Payload") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| error::invalid_content("Could not parse request body into json: payload is not valid"))?,
        None => Vec::new(),
    };
    if invocation_type != "Event" && payload.len() > MAX_SYNC_PAYLOAD {
        return Err(error::too_large(format!(
            "Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
        )));
    }
    let limit = if invocation_type == "Event" { MAX_EVENT_PAYLOAD } else { MAX_SYNC_PAYLOAD };
    if payload.len() > limit {
        return Err(AwsError::new(
            413,
            "RequestTooLargeException",
            format!(
                "{} byte payload is too large for the {} invocation type (limit {limit} bytes)",
                payload.len(),
                invocation_type
            ),
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
                .ok_or_else(|| {
                    error::invalid_parameter("Client context must be a valid Base64-encoded JSON object.")
                })?,
        ),
        None => None,
    };
    let target = target(lambda, ctx, &id)?;
    check_state(lambda, ctx, &id, &target)?;
    let log_tail = member_str(input, "LogType") == Some("Tail");
    Ok(Call { id, invocation_type, payload, client_context, log_tail, target })
}

/// Invoke refuses the version it resolved while that is still being created, as AWS does
/// (callers wait for `State: Active`); internal invokers (mappings, retries) are not asked.
fn check_state(lambda: &Lambda, ctx: &RequestContext, id: &ident::FunctionId, target: &Target) -> Result<()> {
    let store = lambda.store.read();
    let function = super::functions::find_resolved(store.region(&ctx.account, &ctx.region), ctx, id)?;
    let version = match target.config.version.parse::<u64>() {
        Ok(n) => function.versions.get(&n),
        Err(_) => Some(&function.latest),
    };
    version.map_or(Ok(()), super::functions::check_invocable)
}

/// A caller invoking a function of another account by ARN runs it in the owner's account when
/// the function's resource policy grants the caller `lambda:InvokeFunction` (AddPermission with
/// the caller's account as principal), as on AWS. `None`: not cross-account, or not granted
/// (the ordinary checks then refuse it).
fn cross_account_owner(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Option<RequestContext> {
    let raw = input.get("FunctionName")?.as_str()?;
    let rest = raw.strip_prefix("arn:aws:lambda:")?;
    let mut parts = rest.split(':');
    let (region, account, kind, name) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let qualifier = parts.next().or_else(|| input.get("Qualifier").and_then(Value::as_str));
    if kind != "function" || account == ctx.account || region != ctx.region {
        return None;
    }
    let store = lambda.store.read();
    let function = store.region(account, region)?.functions.get(name)?;
    let policy = function.policies.get(qualifier.unwrap_or(""))?;
    let document = json!({"Statement": policy.statements});
    let resource = match qualifier {
        Some(q) => format!("arn:aws:lambda:{region}:{account}:function:{name}:{q}"),
        None => format!("arn:aws:lambda:{region}:{account}:function:{name}"),
    };
    let decision = nimbus_core::policy::evaluate(&document, &ctx.account, "lambda:InvokeFunction", &resource);
    (decision == nimbus_core::policy::Decision::Allow)
        .then(|| RequestContext { account: account.to_string(), ..ctx.clone() })
}

pub async fn invoke(lambda: &Arc<Lambda>, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let owner = cross_account_owner(lambda, ctx, input);
    let ctx = owner.as_ref().unwrap_or(ctx);
    let Call { id, invocation_type, payload, client_context, log_tail, target } = call(lambda, ctx, input)?;
    if let Some(e) = kms_key_error(lambda, ctx, &target.config) {
        return Err(e);
    }
    if target.config.durable_config.is_some() {
        return super::durable::invoke(lambda, ctx, input, &id, target, payload).await;
    }
    match invocation_type.as_str() {
        "DryRun" => Ok(json!({"StatusCode": 204})),
        "Event" => {
            enqueue(lambda, ctx, &id, target, payload)?;
            Ok(json!({"StatusCode": 202}))
        }
        _ => {
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

/// A function whose environment is encrypted with its own `KMSKeyArn` runs only while that
/// key can decrypt, as on AWS (`KMSDisabledException` and friends, 502); GetFunction and
/// GetFunctionConfiguration show the same error as `Environment.Error`.
pub(crate) fn kms_key_error(
    lambda: &Lambda,
    ctx: &RequestContext,
    config: &crate::state::FunctionConfig,
) -> Option<AwsError> {
    let key = config.kms_key_arn.as_deref()?;
    if config.environment.as_ref().is_none_or(|e| e.variables.is_empty()) {
        return None;
    }
    let kms = lambda.kms.read().clone()?;
    let e = kms.usable_key_arn(&ctx.account, &ctx.region, key).err()?;
    Some(kms_failure(&e))
}

/// KMS's error, as Lambda words it when it cannot decrypt a function's variables (502).
pub(crate) fn kms_failure(e: &AwsError) -> AwsError {
    let (code, why) = match e.code.as_str() {
        "DisabledException" => ("KMSDisabledException", "the KMS key used is disabled"),
        "NotFoundException" => ("KMSNotFoundException", "the KMS key was not found"),
        "KMSInvalidStateException" => {
            ("KMSInvalidStateException", "the KMS key used is in an invalid state for Decrypt")
        }
        _ => ("KMSAccessDeniedException", "KMS access is denied"),
    };
    AwsError::new(
        502,
        code,
        format!(
            "Lambda was unable to decrypt the environment variables because {why}. Please check the function's KMS key settings. KMS Exception: {}; KMS Message: {}",
            e.code, e.message
        ),
    )
}

/// Chunks of a streamed response waiting for the caller; as many as the function may run ahead.
const STREAM_BACKLOG: usize = 16;

/// A synchronous invocation running in its own task, its streamed response (if the function
/// streams) arriving while it runs.
pub(crate) struct Running {
    events: mpsc::Receiver<StreamEvent>,
    outcome: tokio::task::JoinHandle<Result<Outcome>>,
    finished: Option<Result<Outcome>>,
}

/// How an invocation's response begins.
pub(crate) enum Start {
    /// The function streams its response, with this content type.
    Streaming(String),
    /// The function finished without streaming (or never ran).
    Finished(Result<Outcome>),
}

/// The next piece of a streamed response.
pub(crate) enum Progress {
    Chunk(Bytes),
    /// The function has finished and everything it wrote has been handed out.
    Done(Result<Outcome>),
}

impl Running {
    pub(crate) fn start(
        lambda: &Arc<Lambda>,
        ctx: &RequestContext,
        target: Target,
        payload: Vec<u8>,
        client_context: Option<String>,
    ) -> Running {
        let (tx, events) = mpsc::channel(STREAM_BACKLOG);
        let (lambda, ctx) = (lambda.clone(), ctx.clone());
        // Its own task: the function runs to its end even if the caller hangs up, as on AWS.
        let outcome = tokio::spawn(async move {
            lambda.invoker.invoke_streaming(&lambda.blobs, &ctx, target, &payload, client_context, Some(tx)).await
        });
        Running { events, outcome, finished: None }
    }

    /// Wait until the function starts streaming or has finished without streaming.
    pub(crate) async fn start_of_response(&mut self) -> Start {
        loop {
            match self.event().await {
                Some(StreamEvent::Start { content_type }) => return Start::Streaming(content_type),
                Some(StreamEvent::Data(_)) => continue,
                None => return Start::Finished(self.take_outcome()),
            }
        }
    }

    pub(crate) async fn next(&mut self) -> Progress {
        loop {
            match self.event().await {
                Some(StreamEvent::Data(bytes)) => return Progress::Chunk(bytes),
                Some(StreamEvent::Start { .. }) => continue,
                None => return Progress::Done(self.take_outcome()),
            }
        }
    }

    /// The next event the runtime sent, or `None` once the invocation is over and every event
    /// has been taken (the outcome is then in `finished`).
    async fn event(&mut self) -> Option<StreamEvent> {
        if self.finished.is_some() {
            // Whatever the runtime wrote before finishing is already queued.
            return self.events.try_recv().ok();
        }
        tokio::select! {
            biased;
            event = self.events.recv() => match event {
                Some(event) => Some(event),
                None => {
                    self.finished = Some(joined((&mut self.outcome).await));
                    None
                }
            },
            done = &mut self.outcome => {
                self.finished = Some(joined(done));
                self.events.try_recv().ok()
            }
        }
    }

    fn take_outcome(&mut self) -> Result<Outcome> {
        self.finished.take().unwrap_or_else(|| Err(AwsError::internal("Internal error in nimbus")))
    }
}

fn joined(done: std::result::Result<Result<Outcome>, tokio::task::JoinError>) -> Result<Outcome> {
    done.unwrap_or_else(|_| Err(AwsError::internal("Internal error in nimbus")))
}

/// `InvokeWithResponseStream`: an event stream of `PayloadChunk`s, sent as the function writes
/// them, closed by `InvokeComplete` (with the error, if the function failed, and the log tail).
/// A function that does not stream sends its whole response as one chunk.
pub async fn invoke_with_response_stream(
    lambda: &Arc<Lambda>,
    ctx: &RequestContext,
    input: &Value,
) -> Result<nimbus_core::HttpResponse> {
    let Call { invocation_type, payload, client_context, log_tail, target, .. } = call(lambda, ctx, input)?;
    if target.config.durable_config.is_some() {
        // Durable executions answer through Invoke (RequestResponse or Event) only.
        return Err(error::invalid_parameter(
            "InvokeWithResponseStream does not support durable functions. Use Invoke instead.",
        ));
    }
    if invocation_type == "DryRun" {
        return Ok(nimbus_core::HttpResponse { status: 204, headers: Vec::new(), body: Default::default() });
    }
    let version = target.config.version.clone();
    let mut running = Running::start(lambda, ctx, target, payload, client_context);
    let body = match running.start_of_response().await {
        // Failures before the function ran (throttling, a runtime that cannot start) are errors.
        Start::Finished(Err(err)) => return Err(err),
        Start::Finished(Ok(outcome)) => {
            let mut body = Vec::new();
            if outcome.function_error.is_none() && !outcome.payload.is_empty() {
                body.extend(eventstream::event("PayloadChunk", "application/octet-stream", &outcome.payload));
            }
            body.extend(complete(&Ok(outcome), log_tail));
            Body::from(body)
        }
        Start::Streaming(_) => {
            let (tx, body) = Body::channel(STREAM_BACKLOG);
            tokio::spawn(async move {
                let mut caller = Some(tx);
                let done = loop {
                    match running.next().await {
                        Progress::Chunk(chunk) if chunk.is_empty() => {}
                        Progress::Chunk(chunk) => {
                            let frame = eventstream::event("PayloadChunk", "application/octet-stream", &chunk);
                            send(&mut caller, frame).await;
                        }
                        Progress::Done(done) => break done,
                    }
                };
                send(&mut caller, complete(&done, log_tail)).await;
            });
            body
        }
    };
    Ok(nimbus_core::HttpResponse {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/vnd.amazon.eventstream".into()),
            ("X-Amz-Executed-Version".into(), version),
        ],
        body,
    })
}

/// Pass a frame to the caller, forgetting a caller who has hung up.
async fn send(caller: &mut Option<mpsc::Sender<nimbus_core::http::Chunk>>, frame: Vec<u8>) {
    if let Some(tx) = caller {
        if tx.send(Ok(Bytes::from(frame))).await.is_err() {
            *caller = None;
        }
    }
}

/// The closing `InvokeComplete` event: empty on success; the error type and document when the
/// function failed; the log tail when asked for.
fn complete(done: &Result<Outcome>, log_tail: bool) -> Vec<u8> {
    let mut complete = json!({});
    match done {
        Ok(outcome) => {
            if outcome.function_error.is_some() {
                let error: Value = serde_json::from_slice(&outcome.payload).unwrap_or(Value::Null);
                complete["ErrorCode"] = json!(error.get("errorType").and_then(Value::as_str).unwrap_or("Unhandled"));
                complete["ErrorDetails"] = json!(String::from_utf8_lossy(&outcome.payload));
            }
            if log_tail {
                complete["LogResult"] = json!(outcome.log_tail);
            }
        }
        Err(err) => {
            complete["ErrorCode"] = json!(err.code);
            complete["ErrorDetails"] = json!(err.message);
        }
    }
    eventstream::event("InvokeComplete", "application/json", complete.to_string().as_bytes())
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
pub(crate) fn target(lambda: &Lambda, ctx: &RequestContext, id: &ident::FunctionId) -> Result<Target> {
    let store = lambda.store.read();
    let function = super::functions::find_resolved(store.region(&ctx.account, &ctx.region), ctx, id)?;
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
    let version =
        find_version(function, ctx, &ident::FunctionId { name: id.name.clone(), qualifier: qualifier.clone() })
            .or_else(|_| find_version(function, ctx, id))?;
    let mut config = version.config.clone();
    if crate::sealed::is_locked(version) {
        // Journaled as ciphertext only: the environment gets the variables decrypted.
        let variables = crate::sealed::open(lambda, &ctx.account, &ctx.region, version).map_err(|e| kms_failure(&e))?;
        config.environment = Some(crate::state::Environment { variables });
    }
    Ok(Target {
        account: ctx.account.clone(),
        region: ctx.region.clone(),
        config,
        code: version.code.clone(),
        hot_reload_dir: version.hot_reload_dir.as_ref().map(std::path::PathBuf::from),
        layer_code: version.layer_code.clone(),
        invoked_arn: ident::qualified_arn(ctx, &id.name, id.qualifier.as_deref()),
        reserved_concurrency: function.reserved_concurrency,
        endpoint: local_endpoint(ctx),
        trace_header: None,
    })
}

/// The endpoint functions use to call back into nimbus: the same port, on loopback.
fn local_endpoint(ctx: &RequestContext) -> String {
    let port = ctx.endpoint.rsplit(':').next().filter(|p| p.chars().all(|c| c.is_ascii_digit())).unwrap_or("4566");
    format!("http://127.0.0.1:{port}")
}

/// Run an event invocation with AWS's retry schedule on nimbus's clock, then hand the outcome
/// to the configured destination (or the dead-letter queue).
/// (Boxed: destinations can start further event invocations.)
fn run_event(
    lambda: Arc<Lambda>,
    ctx: RequestContext,
    target: Target,
    qualifier: String,
    payload: Vec<u8>,
    event: QueuedEvent,
) -> nimbus_core::service::BoxFuture<'static, ()> {
    Box::pin(async move {
        let event_id = event.id.clone();
        run_event_inner(&lambda, &ctx, target, qualifier, payload, event).await;
        if let Err(err) = lambda.save_event(&ctx, &event_id, None) {
            tracing::warn!(error = %err, "could not record a finished event invocation");
        }
    })
}

/// Queue an event invocation: journaled (with `--data-dir`) before it is acknowledged, so a
/// restart resumes it.
pub(crate) fn enqueue(
    lambda: &Arc<Lambda>,
    ctx: &RequestContext,
    id: &ident::FunctionId,
    target: Target,
    payload: Vec<u8>,
) -> Result<()> {
    // The 202's request id names the event and is the id it later runs under.
    let event_id = ctx.request_id.clone();
    let record = json!({
        "function": id.name,
        "qualifier": id.qualifier,
        "payload": base64::engine::general_purpose::STANDARD.encode(&payload),
        "endpoint": ctx.endpoint,
        "queued_at": ctx.clock.now_millis(),
        "attempts": 0,
    });
    lambda.save_event(ctx, &event_id, Some(&record))?;
    let qualifier = id.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
    let event = QueuedEvent { id: event_id, record };
    tokio::spawn(run_event(lambda.clone(), ctx.clone(), target, qualifier, payload, event));
    Ok(())
}

/// A queued event invocation and its journal record, which also keeps its progress (attempts
/// made, when it was queued, when the next retry is due) so a restart resumes the schedule.
struct QueuedEvent {
    id: String,
    record: Value,
}

/// Resume the event invocations a previous run had queued but not finished.
pub fn resume_events(lambda: &Arc<Lambda>) {
    let pending = std::mem::take(&mut lambda.store.write().pending_events);
    for (account, region, event_id, record) in pending {
        let ctx = RequestContext {
            account,
            region,
            request_id: event_id.clone(),
            access_key_id: None,
            endpoint: lambda.endpoint_or(record["endpoint"].as_str().unwrap_or("http://127.0.0.1:4566")),
            clock: lambda.clock.clone(),
        };
        let id = ident::FunctionId {
            name: record["function"].as_str().unwrap_or_default().to_string(),
            qualifier: record["qualifier"].as_str().map(str::to_string),
        };
        let payload = record["payload"]
            .as_str()
            .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
            .unwrap_or_default();
        match target(lambda, &ctx, &id) {
            Ok(target) => {
                let qualifier = id.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
                let event = QueuedEvent { id: event_id, record };
                tokio::spawn(run_event(lambda.clone(), ctx, target, qualifier, payload, event));
            }
            Err(_) => {
                // The function is gone: the event can never run.
                let _ = lambda.save_event(&ctx, &event_id, None);
            }
        }
    }
}

async fn run_event_inner(
    lambda: &Arc<Lambda>,
    ctx: &RequestContext,
    target: Target,
    qualifier: String,
    payload: Vec<u8>,
    mut event: QueuedEvent,
) {
    let config = {
        let store = lambda.store.read();
        store
            .region(&ctx.account, &ctx.region)
            .and_then(|r| r.functions.get(&target.config.function_name))
            .and_then(|f| f.event_invoke_configs.get(&qualifier).cloned())
            .unwrap_or_default()
    };
    let max_retries = config.maximum_retry_attempts.unwrap_or(DEFAULT_RETRIES);
    let max_age_ms = i64::from(config.maximum_event_age_seconds.unwrap_or(21_600)) * 1000;
    let queued_at = event.record["queued_at"].as_i64().unwrap_or_else(|| ctx.clock.now_millis());
    let mut attempts = event.record["attempts"].as_u64().unwrap_or(0) as u32;
    if let Some(due) = event.record["due"].as_i64() {
        while ctx.clock.now_millis() < due {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let (outcome, condition) = loop {
        // Retries are scheduled from when the attempt began, so the schedule does not drift
        // with how long the attempt (and recording it) took.
        let attempt_started = ctx.clock.now_millis();
        let slot = lambda.invoker.event_slot().await;
        let result = lambda.invoker.invoke(&lambda.blobs, ctx, target.clone(), &payload, None).await;
        drop(slot);
        let outcome = match result {
            Err(err) if err.status == 429 => {
                // Throttled events stay queued and are tried again shortly.
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            other => other,
        };
        attempts += 1;
        let failed = !matches!(&outcome, Ok(o) if o.function_error.is_none());
        if !failed {
            break (outcome, "Success");
        }
        if attempts > max_retries {
            break (outcome, "RetriesExhausted");
        }
        let due = attempt_started + RETRY_DELAYS_SECONDS[(attempts - 1) as usize % 2] * 1000;
        if due - queued_at > max_age_ms {
            break (outcome, "EventAgeExceeded");
        }
        event.record["attempts"] = json!(attempts);
        event.record["queued_at"] = json!(queued_at);
        event.record["due"] = json!(due);
        if let Err(err) = lambda.save_event(ctx, &event.id, Some(&event.record)) {
            tracing::warn!(error = %err, "could not record an event invocation's retry");
        }
        while ctx.clock.now_millis() < due {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let destination = if condition == "Success" { config.on_success.clone() } else { config.on_failure.clone() };
    let (status, response_payload, function_error, request_id) = match &outcome {
        Ok(o) => (
            200,
            serde_json::from_slice::<Value>(&o.payload).unwrap_or(Value::Null),
            o.function_error.clone(),
            o.request_id.clone(),
        ),
        Err(e) => (
            e.status,
            json!({"errorType": e.code, "errorMessage": e.message}),
            Some("Unhandled".to_string()),
            ctx.request_id.clone(),
        ),
    };
    let request_payload = serde_json::from_slice::<Value>(&payload).unwrap_or(json!({}));
    if let Some(arn) = destination {
        let mut response_context = json!({"statusCode": status, "executedVersion": target.config.version});
        if let Some(fe) = &function_error {
            response_context["functionError"] = json!(fe);
        }
        let record = json!({
            "version": "1.0",
            "timestamp": ctx.clock.now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "requestContext": {
                "requestId": request_id,
                "functionArn": ident::qualified_arn(ctx, &target.config.function_name, Some(&qualifier)),
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": request_payload,
            "responseContext": response_context,
            "responsePayload": response_payload,
        });
        let message = if nimbus_core::arn::Arn::parse(&arn).is_some_and(|a| a.service == "events") {
            // An event bus gets the record as the detail of an EventBridge event.
            let outcome = if condition == "Success" { "Success" } else { "Failure" };
            json!({
                "Source": "lambda",
                "DetailType": format!("Lambda Function Invocation Result - {outcome}"),
                "Resources": [arn, record["requestContext"]["functionArn"]],
                "Detail": record,
            })
            .to_string()
        } else {
            record.to_string()
        };
        deliver(lambda, ctx, &arn, message, Vec::new());
    } else if condition != "Success" {
        if let Some(dlq) =
            target.config.dead_letter_config.as_ref().and_then(|d| d.get("TargetArn")).and_then(Value::as_str)
        {
            // AWS's DLQ message attributes: the status of the invocation is a Number.
            let message = response_payload.get("errorMessage").and_then(Value::as_str).unwrap_or_default();
            let attributes = vec![
                ("RequestID".to_string(), "String".to_string(), request_id.clone()),
                ("ErrorCode".to_string(), "Number".to_string(), "200".to_string()),
                ("ErrorMessage".to_string(), "String".to_string(), message.to_string()),
            ];
            deliver(lambda, ctx, dlq, String::from_utf8_lossy(&payload).into_owned(), attributes);
        }
    }
}

/// Send a destination record (or DLQ message) to its target: Lambda functions directly, other
/// services through the cross-service interface.
/// `attributes` are typed message attributes: name, `DataType`, value.
fn deliver(
    lambda: &Arc<Lambda>,
    ctx: &RequestContext,
    arn: &str,
    message: String,
    attributes: Vec<(String, String, String)>,
) {
    let parsed = nimbus_core::arn::Arn::parse(arn);
    if parsed.as_ref().is_some_and(|a| a.service == "lambda") {
        let Ok(id) = ident::parse_function(ctx, arn, None) else { return };
        let qualifier = id.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
        match target(lambda, ctx, &id) {
            Ok(destination) => {
                let _ = qualifier;
                // The destination's invocation is a new request with an id of its own.
                let ctx = RequestContext { request_id: uuid::Uuid::new_v4().to_string(), ..ctx.clone() };
                if let Err(err) = enqueue(lambda, &ctx, &id, destination, message.into_bytes()) {
                    tracing::warn!(destination = arn, error = %err, "could not queue the destination invocation");
                }
            }
            Err(err) => tracing::warn!(destination = arn, error = %err, "destination function not found"),
        }
        return;
    }
    let deliverer = lambda.deliverer.read().clone();
    match deliverer {
        Some(d) => {
            let delivery = nimbus_core::delivery::Delivery::new(&ctx.account, &ctx.region, arn, message)
                .with_typed_attributes(attributes);
            if let Err(err) = d.deliver(&delivery) {
                tracing::warn!(destination = arn, error = %err, "could not deliver to destination");
            }
        }
        None => tracing::warn!(destination = arn, "no emulated service can receive this destination yet"),
    }
}
