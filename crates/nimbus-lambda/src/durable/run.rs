//! Running durable executions: starting them, the scheduler that invokes an execution whenever
//! it has something to resume (on nimbus's clock), chained invokes, and closing executions.

use std::sync::{Arc, Weak};
use std::time::Duration;

use nimbus_core::RequestContext;
use serde_json::{json, Map, Value};

use super::checkpoint::ChainedStart;
use super::{Execution, Operation, ParentLink, Terminal};
use crate::error::Result;
use crate::ident::FunctionId;
use crate::Lambda;

/// How often the scheduler looks at timers when nothing wakes it.
const TICK: Duration = Duration::from_millis(10);

/// What starting an execution asks for.
pub struct StartRequest {
    pub function: String,
    pub version: String,
    pub name: Option<String>,
    pub input: String,
    pub parent: Option<ParentLink>,
}

/// Start (or, for the same name and input while running, find) an execution. Returns its ARN.
pub fn start(lambda: &Lambda, ctx: &RequestContext, durable_config: &Value, request: StartRequest) -> Result<String> {
    let now = lambda.clock.now_millis();
    let mut executions = lambda.durable.executions.lock();
    if let Some(name) = &request.name {
        let prefix = format!("arn:aws:lambda:{}:{}:function:{}:", ctx.region, ctx.account, request.function);
        if let Some(existing) = executions.values().find(|e| &e.name == name && e.arn.starts_with(&prefix)) {
            if existing.is_running() && existing.input == request.input {
                return Ok(existing.arn.clone());
            }
            return Err(nimbus_core::AwsError::new(
                409,
                "DurableExecutionAlreadyStartedException",
                format!("Durable execution with name {name} already exists for function {}", request.function),
            ));
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let name = request.name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let arn = format!(
        "arn:aws:lambda:{}:{}:function:{}:{}/durable-execution/{name}/{id}",
        ctx.region, ctx.account, request.function, request.version
    );
    let timeout_s =
        durable_config.get("ExecutionTimeout").and_then(Value::as_i64).unwrap_or(super::DEFAULT_EXECUTION_TIMEOUT_S);
    let retention_days =
        durable_config.get("RetentionPeriodInDays").and_then(Value::as_i64).unwrap_or(super::DEFAULT_RETENTION_DAYS);
    let mut exec = Execution {
        arn: arn.clone(),
        name,
        id: id.clone(),
        account: ctx.account.clone(),
        region: ctx.region.clone(),
        function_name: request.function,
        version: request.version,
        endpoint: ctx.endpoint.clone(),
        input: request.input.clone(),
        status: "RUNNING".into(),
        start_ms: now,
        timeout_s,
        retention_days,
        parent: request.parent,
        wake: true,
        ..Default::default()
    };
    let mut details = Map::new();
    details.insert("InputPayload".into(), json!(request.input));
    exec.insert_op(Operation { details, ..Operation::started(&id, "EXECUTION", now) });
    let exec_op = exec.ops[0].clone();
    exec.record(
        "ExecutionStarted",
        Some(&exec_op),
        now,
        json!({"Input": {"Payload": request.input, "Truncated": false}, "ExecutionTimeout": timeout_s}),
    );
    lambda.durable.save(&mut exec)?;
    executions.insert(arn.clone(), exec);
    drop(executions);
    lambda.durable.notify.notify_one();
    Ok(arn)
}

/// Run the scheduler until the service is dropped.
pub fn spawn_scheduler(lambda: &Arc<Lambda>) {
    let weak = Arc::downgrade(lambda);
    let notify = lambda.durable.notify.clone();
    tokio::spawn(async move {
        let mut last_purge = 0i64;
        loop {
            if !tick(&weak, &mut last_purge) {
                return;
            }
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    });
}

/// One pass: fire due timers, time executions out, start invocations, purge expired histories.
fn tick(weak: &Weak<Lambda>, last_purge: &mut i64) -> bool {
    let Some(lambda) = weak.upgrade() else { return false };
    let now = lambda.clock.now_millis();
    let purge = now - *last_purge >= 1000;
    if purge {
        *last_purge = now;
    }
    let mut to_run = Vec::new();
    let mut closed = Vec::new();
    let mut expired = Vec::new();
    {
        let mut executions = lambda.durable.executions.lock();
        for exec in executions.values_mut() {
            if !exec.is_running() {
                if purge && exec.end_ms.is_some_and(|end| end + exec.retention_days * 86_400_000 <= now) {
                    expired.push(exec.arn.clone());
                }
                continue;
            }
            let Some(due) = exec.next_due() else { continue };
            if due > now && (exec.invoking || !exec.wake) {
                continue;
            }
            if now >= exec.deadline(now) {
                let message = format!("Execution timed out after {} seconds.", exec.timeout_s);
                exec.close(
                    Terminal {
                        status: "TIMED_OUT".into(),
                        result: None,
                        error: Some(json!({"ErrorType": "States.Timeout", "ErrorMessage": message})),
                    },
                    now,
                );
                closed.push(exec.arn.clone());
            } else {
                exec.fire_due(now);
                if exec.wake && !exec.invoking && exec.closing.is_none() && exec.may_invoke() {
                    exec.wake = false;
                    exec.invoking = true;
                    to_run.push(exec.arn.clone());
                }
            }
            if let Err(err) = lambda.durable.save(exec) {
                tracing::warn!(error = %err, "could not journal a durable execution");
            }
        }
        for arn in &expired {
            if let Some(exec) = executions.remove(arn) {
                lambda.durable.purge(&exec);
            }
        }
    }
    for arn in closed {
        on_closed(&lambda, &arn);
    }
    for arn in to_run {
        tokio::spawn(invoke_once(lambda.clone(), arn));
    }
    true
}

/// The invocation input: state paged by size, the token for this invocation, what changed.
fn invocation_input(exec: &mut Execution) -> Vec<u8> {
    let token = exec.next_token();
    let mut updated: Vec<&Operation> = exec.unseen.iter().filter_map(|id| exec.op(id)).collect();
    updated.sort_by_key(|op| op.seq);
    let updated: Vec<String> = updated.iter().map(|op| op.id.clone()).collect();
    exec.unseen.clear();
    let mut operations = Vec::new();
    let mut size = 0usize;
    let mut next_marker = String::new();
    for (n, op) in exec.ops.iter().enumerate() {
        let rendered = op.render(true);
        size += rendered.to_string().len();
        if size > super::INPUT_PAGE_BYTES && !operations.is_empty() {
            next_marker = n.to_string();
            break;
        }
        operations.push(rendered);
    }
    json!({
        "DurableExecutionArn": exec.arn,
        "CheckpointToken": token,
        "InitialExecutionState": {"Operations": operations, "NextMarker": next_marker},
        "UpdatedOperationIds": updated,
    })
    .to_string()
    .into_bytes()
}

/// What an invocation's outcome means for its execution.
enum Verdict {
    Close(Terminal),
    Pending,
    Failed(Value),
}

/// Invoke the execution's function once and record what happened.
async fn invoke_once(lambda: Arc<Lambda>, arn: String) {
    let prepared = {
        let mut executions = lambda.durable.executions.lock();
        let Some(exec) = executions.get_mut(&arn) else { return };
        if !exec.may_invoke() {
            exec.invoking = false;
            // Paused before it ran: run it once resumed.
            exec.wake |= exec.is_running();
            return;
        }
        let payload = invocation_input(exec);
        let _ = lambda.durable.save(exec);
        (context(&lambda, exec), exec.function_name.clone(), exec.version.clone(), payload)
    };
    let (ctx, function, version, payload) = prepared;
    let started = lambda.clock.now_millis();
    let id = FunctionId { name: function, qualifier: Some(version) };
    let outcome = match crate::api::invoke::target(&lambda, &ctx, &id) {
        Ok(target) => lambda.invoker.invoke(&lambda.blobs, &ctx, target, &payload, None).await,
        Err(err) => Err(err),
    };
    let ended = lambda.clock.now_millis();
    let (request_id, verdict) = match outcome {
        Err(err) => {
            (ctx.request_id.clone(), Verdict::Failed(json!({"ErrorType": err.code, "ErrorMessage": err.message})))
        }
        Ok(outcome) if outcome.function_error.is_some() => {
            let body: Value = serde_json::from_slice(&outcome.payload).unwrap_or(Value::Null);
            (outcome.request_id, Verdict::Failed(error_object(&body)))
        }
        Ok(outcome) => (outcome.request_id, verdict_of(&outcome.payload)),
    };
    let closed = {
        let mut executions = lambda.durable.executions.lock();
        let Some(exec) = executions.get_mut(&arn) else { return };
        exec.invoking = false;
        let mut completed = json!({"StartTimestamp": started, "EndTimestamp": ended, "RequestId": request_id});
        if let Verdict::Failed(err) = &verdict {
            completed["Error"] = json!({"Payload": err, "Truncated": false});
        }
        let was_running = exec.is_running();
        if was_running {
            exec.record("InvocationCompleted", None, ended, completed);
        } else {
            // Stopped or timed out while this invocation ran: keep the terminal event last.
            let terminal = exec.events.pop();
            exec.record("InvocationCompleted", None, ended, completed);
            if let Some(mut terminal) = terminal {
                terminal["EventId"] = json!(exec.events.len() + 1);
                exec.events.push(terminal);
            }
            exec.saved_events = exec.saved_events.min(exec.events.len().saturating_sub(2));
        }
        let mut closed = false;
        if was_running {
            if let Some(terminal) = exec.closing.take() {
                exec.close(terminal, ended);
                closed = true;
            } else {
                match verdict {
                    Verdict::Close(terminal) => {
                        exec.close(terminal, ended);
                        closed = true;
                    }
                    Verdict::Pending if !exec.unseen.is_empty() || exec.wake => {
                        exec.failed_invocations = 0;
                        exec.wake = true;
                    }
                    Verdict::Pending if exec.has_pending() => exec.failed_invocations = 0,
                    Verdict::Pending => {
                        closed = fail_invocation(
                            exec,
                            json!({"ErrorType": "InvalidParameterValueException", "ErrorMessage": "Cannot return PENDING status with no pending operations."}),
                            ended,
                        );
                    }
                    Verdict::Failed(err) => closed = fail_invocation(exec, err, ended),
                }
            }
        }
        if !closed && exec.status == "PAUSING" {
            // The invocation a pause waited for has ended.
            exec.status = "PAUSED".into();
        }
        if let Err(err) = lambda.durable.save(exec) {
            tracing::warn!(error = %err, "could not journal a durable execution");
        }
        closed
    };
    if closed {
        on_closed(&lambda, &arn);
    }
    lambda.durable.notify.notify_one();
}

/// A failed invocation is retried with back-off until the execution has failed too often.
fn fail_invocation(exec: &mut Execution, err: Value, now: i64) -> bool {
    exec.failed_invocations += 1;
    if exec.failed_invocations >= super::MAX_FAILED_INVOCATIONS {
        exec.close(Terminal { status: "FAILED".into(), result: None, error: Some(err) }, now);
        return true;
    }
    exec.retry_at = Some(now + super::RETRY_BACKOFF_MS);
    false
}

/// Read the function's answer: `{Status: SUCCEEDED|FAILED|PENDING, Result?, Error?}`.
fn verdict_of(payload: &[u8]) -> Verdict {
    let output: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    match output.get("Status").and_then(Value::as_str) {
        Some("SUCCEEDED") => Verdict::Close(Terminal {
            status: "SUCCEEDED".into(),
            result: Some(output.get("Result").and_then(Value::as_str).unwrap_or_default().to_string()),
            error: None,
        }),
        Some("FAILED") => Verdict::Close(Terminal {
            status: "FAILED".into(),
            result: None,
            error: Some(output.get("Error").cloned().unwrap_or(json!({}))),
        }),
        Some("PENDING") => Verdict::Pending,
        _ => Verdict::Close(Terminal {
            status: "FAILED".into(),
            result: None,
            error: Some(json!({
                "ErrorType": "InvalidParameterValueException",
                "ErrorMessage": "The durable function returned an output that is not a durable execution output (Status SUCCEEDED, FAILED or PENDING)."
            })),
        }),
    }
}

/// A Lambda function error (`{errorType, errorMessage, stackTrace}`) as an `ErrorObject`.
pub fn error_object(body: &Value) -> Value {
    let mut out = json!({
        "ErrorType": body.get("errorType").and_then(Value::as_str).unwrap_or("Unhandled"),
        "ErrorMessage": body.get("errorMessage").and_then(Value::as_str).unwrap_or_default(),
    });
    if let Some(Value::Array(trace)) = body.get("stackTrace") {
        let lines: Vec<Value> =
            trace.iter().map(|l| json!(l.as_str().map_or_else(|| l.to_string(), str::to_string))).collect();
        out["StackTrace"] = Value::Array(lines);
    }
    out
}

fn context(lambda: &Lambda, exec: &Execution) -> RequestContext {
    RequestContext {
        account: exec.account.clone(),
        region: exec.region.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
        access_key_id: None,
        endpoint: lambda.endpoint_or(&exec.endpoint),
        clock: lambda.clock.clone(),
    }
}

/// An execution closed: wake synchronous invokers and the parent of a chained invoke.
pub fn on_closed(lambda: &Arc<Lambda>, arn: &str) {
    let _ = lambda.durable.closed.send(arn.to_string());
    let (parent, status, result, err) = {
        let executions = lambda.durable.executions.lock();
        let Some(exec) = executions.get(arn) else { return };
        let Some(parent) = exec.parent.clone() else { return };
        (parent, exec.status.clone(), exec.result.clone(), exec.error.clone())
    };
    let (op_status, outcome) = match status.as_str() {
        "SUCCEEDED" => ("SUCCEEDED", Ok(result.unwrap_or_default())),
        other => (other, Err(err.unwrap_or(json!({})))),
    };
    complete_chained(lambda, &parent.execution_arn, &parent.operation_id, op_status, outcome);
}

/// Record the end of a chained invoke in its parent execution and wake the parent.
fn complete_chained(
    lambda: &Arc<Lambda>,
    parent_arn: &str,
    operation_id: &str,
    status: &str,
    outcome: std::result::Result<String, Value>,
) {
    let now = lambda.clock.now_millis();
    let mut executions = lambda.durable.executions.lock();
    let Some(exec) = executions.get_mut(parent_arn) else { return };
    if !exec.is_running() {
        return;
    }
    let Some(op) = exec.op_mut(operation_id) else { return };
    if op.is_closed() {
        return;
    }
    op.status = status.to_string();
    op.end_ms = Some(now);
    let (event_type, details) = match (&outcome, status) {
        (Ok(result), _) => {
            op.details.insert("Result".into(), json!(result));
            ("ChainedInvokeSucceeded", json!({"Result": {"Payload": result, "Truncated": false}}))
        }
        (Err(err), s) => {
            op.details.insert("Error".into(), err.clone());
            let event = match s {
                "TIMED_OUT" => "ChainedInvokeTimedOut",
                "STOPPED" => "ChainedInvokeStopped",
                _ => "ChainedInvokeFailed",
            };
            (event, json!({"Error": {"Payload": err, "Truncated": false}}))
        }
    };
    let snapshot = exec.op(operation_id).cloned();
    exec.record(event_type, snapshot.as_ref(), now, details);
    exec.unseen.insert(operation_id.to_string());
    exec.wake = true;
    if let Err(err) = lambda.durable.save(exec) {
        tracing::warn!(error = %err, "could not journal a durable execution");
    }
    drop(executions);
    lambda.durable.notify.notify_one();
}

/// Start the chained invokes a checkpoint asked for.
pub fn start_chained(lambda: &Arc<Lambda>, parent_arn: &str, starts: Vec<ChainedStart>) {
    let (parent_ctx, parent_id) = {
        let executions = lambda.durable.executions.lock();
        let Some(exec) = executions.get(parent_arn) else { return };
        (context(lambda, exec), exec.id.clone())
    };
    for start in starts {
        let lambda = lambda.clone();
        let ctx = parent_ctx.clone();
        let parent_arn = parent_arn.to_string();
        let parent_id = parent_id.clone();
        tokio::spawn(async move {
            let id = FunctionId { name: start.function.clone(), qualifier: start.qualifier.clone() };
            let target = match crate::api::invoke::target(&lambda, &ctx, &id) {
                Ok(target) => target,
                Err(err) => {
                    let error = json!({"ErrorType": err.code, "ErrorMessage": err.message});
                    complete_chained(&lambda, &parent_arn, &start.operation_id, "FAILED", Err(error));
                    return;
                }
            };
            if start.durable {
                let request = StartRequest {
                    function: start.function.clone(),
                    version: target.config.version.clone(),
                    name: Some(super::checkpoint::child_name(&parent_id, &start.operation_id)),
                    input: start.payload.clone(),
                    parent: Some(ParentLink {
                        execution_arn: parent_arn.clone(),
                        operation_id: start.operation_id.clone(),
                    }),
                };
                let config = target.config.durable_config.clone().unwrap_or(json!({}));
                match self::start(&lambda, &ctx, &config, request) {
                    Ok(child_arn) => {
                        let mut executions = lambda.durable.executions.lock();
                        if let Some(exec) = executions.get_mut(&parent_arn) {
                            if let Some(n) = exec.events.iter().rposition(|e| {
                                e["EventType"] == "ChainedInvokeStarted" && e["Id"] == start.operation_id.as_str()
                            }) {
                                exec.events[n]["ChainedInvokeStartedDetails"]["DurableExecutionArn"] = json!(child_arn);
                                // Journal that event again (and those after it).
                                exec.saved_events = exec.saved_events.min(n);
                            }
                            let _ = lambda.durable.save(exec);
                        }
                    }
                    Err(err) => {
                        let error = json!({"ErrorType": err.code, "ErrorMessage": err.message});
                        complete_chained(&lambda, &parent_arn, &start.operation_id, "FAILED", Err(error));
                    }
                }
                return;
            }
            let payload = start.payload.into_bytes();
            match lambda.invoker.invoke(&lambda.blobs, &ctx, target, &payload, None).await {
                Ok(outcome) if outcome.function_error.is_none() => {
                    let result = String::from_utf8_lossy(&outcome.payload).into_owned();
                    complete_chained(&lambda, &parent_arn, &start.operation_id, "SUCCEEDED", Ok(result));
                }
                Ok(outcome) => {
                    let body: Value = serde_json::from_slice(&outcome.payload).unwrap_or(Value::Null);
                    let status = if body["errorType"] == "Sandbox.Timedout" { "TIMED_OUT" } else { "FAILED" };
                    complete_chained(&lambda, &parent_arn, &start.operation_id, status, Err(error_object(&body)));
                }
                Err(err) => {
                    let error = json!({"ErrorType": err.code, "ErrorMessage": err.message});
                    complete_chained(&lambda, &parent_arn, &start.operation_id, "FAILED", Err(error));
                }
            }
        });
    }
}

/// Wait until an execution has closed (or `limit` has passed); returns it.
pub async fn wait_closed(lambda: &Lambda, arn: &str, limit: Duration) -> Option<Execution> {
    let mut closed = lambda.durable.closed.subscribe();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        {
            let executions = lambda.durable.executions.lock();
            let exec = executions.get(arn)?;
            if !exec.is_running() {
                return Some(exec.clone());
            }
        }
        match tokio::time::timeout_at(deadline, closed.recv()).await {
            Err(_) => return None,
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(_)) => return None,
        }
    }
}
