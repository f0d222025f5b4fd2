//! The durable execution operations (`/2025-12-01/…`) and the durable side of `Invoke`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use nimbus_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use crate::durable::checkpoint::{self, Resolution};
use crate::durable::{render_event, run, Execution, Terminal};
use crate::error::{self, Result};
use crate::invoke::Target;
use crate::{ident, member, member_str, Lambda};

/// A synchronous invoke waits this long for its execution to end.
const SYNC_LIMIT: Duration = Duration::from_secs(15 * 60);

pub async fn dispatch(lambda: &Arc<Lambda>, ctx: &RequestContext, name: &str, input: &Value) -> Result<Value> {
    match name {
        "CheckpointDurableExecution" => checkpoint_durable_execution(lambda, ctx, input),
        "GetDurableExecutionState" => get_durable_execution_state(lambda, ctx, input),
        "GetDurableExecution" => get_durable_execution(lambda, ctx, input),
        "GetDurableExecutionHistory" => get_durable_execution_history(lambda, ctx, input),
        "ListDurableExecutionsByFunction" => list_durable_executions_by_function(lambda, ctx, input),
        "StopDurableExecution" => stop_durable_execution(lambda, ctx, input),
        "PauseDurableExecution" => pause_durable_execution(lambda, ctx, input),
        "ResumeDurableExecution" => resume_durable_execution(lambda, ctx, input),
        "DeleteDurableExecution" => delete_durable_execution(lambda, ctx, input),
        "SendDurableExecutionCallbackSuccess" => send_callback(lambda, ctx, input, CallbackOutcome::Success),
        "SendDurableExecutionCallbackFailure" => send_callback(lambda, ctx, input, CallbackOutcome::Failure),
        "SendDurableExecutionCallbackHeartbeat" => send_callback(lambda, ctx, input, CallbackOutcome::Heartbeat),
        other => Err(error::invalid_parameter(format!("{other} is not a durable execution operation"))),
    }
}

pub fn is_durable_operation(name: &str) -> bool {
    name.contains("DurableExecution")
}

/// `Invoke` on a durable function: start (or find) the execution; `RequestResponse` waits for it.
pub async fn invoke(
    lambda: &Arc<Lambda>,
    ctx: &RequestContext,
    input: &Value,
    id: &ident::FunctionId,
    target: Target,
    payload: Vec<u8>,
) -> Result<Value> {
    if id.qualifier.is_none() {
        return Err(error::invalid_parameter("You cannot invoke a durable function using an unqualified ARN."));
    }
    let invocation_type = member_str(input, "InvocationType").unwrap_or("RequestResponse");
    if invocation_type == "DryRun" {
        return Ok(json!({"StatusCode": 204}));
    }
    let config = target.config.durable_config.clone().unwrap_or(json!({}));
    let request = run::StartRequest {
        function: target.config.function_name.clone(),
        version: target.config.version.clone(),
        name: member_str(input, "DurableExecutionName").map(str::to_string),
        input: String::from_utf8_lossy(&payload).into_owned(),
        parent: None,
    };
    let arn = run::start(lambda, ctx, &config, request)?;
    if invocation_type == "Event" {
        return Ok(json!({"StatusCode": 202, "DurableExecutionArn": arn, "ExecutedVersion": target.config.version}));
    }
    let Some(exec) = run::wait_closed(lambda, &arn, SYNC_LIMIT).await else {
        return Err(AwsError::new(
            500,
            "ServiceException",
            "The durable execution did not finish within the 15 minutes a synchronous invocation waits.",
        ));
    };
    let mut out = json!({"StatusCode": 200, "DurableExecutionArn": arn, "ExecutedVersion": exec.version});
    if exec.status == "SUCCEEDED" {
        let result = exec.result.clone().unwrap_or_default();
        out["Payload"] = json!(base64::engine::general_purpose::STANDARD.encode(result));
    } else {
        let err = exec.error.clone().unwrap_or(json!({}));
        let mut body = json!({
            "errorType": err.get("ErrorType").cloned().unwrap_or(json!(exec.status)),
            "errorMessage": err.get("ErrorMessage").cloned().unwrap_or(json!("")),
        });
        if let Some(trace) = err.get("StackTrace") {
            body["stackTrace"] = trace.clone();
        }
        out["FunctionError"] = json!("Unhandled");
        out["Payload"] = json!(base64::engine::general_purpose::STANDARD.encode(body.to_string()));
    }
    Ok(out)
}

fn not_found(arn: &str) -> AwsError {
    error::not_found(format!("Durable execution not found: {arn}"))
}

/// Run `f` on the caller's execution named by the input's ARN.
fn with_execution<T>(
    lambda: &Lambda,
    ctx: &RequestContext,
    input: &Value,
    missing: fn(&str) -> AwsError,
    f: impl FnOnce(&mut Execution) -> Result<T>,
) -> Result<T> {
    let arn = member_str(input, "DurableExecutionArn").unwrap_or_default();
    let mut executions = lambda.durable.executions.lock();
    match executions.get_mut(arn) {
        Some(exec) if exec.account == ctx.account && exec.region == ctx.region => f(exec),
        _ => Err(missing(arn)),
    }
}

fn invalid_token(_: &str) -> AwsError {
    error::invalid_parameter("Invalid checkpoint token: the durable execution does not exist.")
}

pub fn checkpoint_durable_execution(lambda: &Arc<Lambda>, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let token = member_str(input, "CheckpointToken").unwrap_or_default();
    let client_token = member_str(input, "ClientToken");
    let updates: Vec<Value> = member(input, "Updates").and_then(Value::as_array).cloned().unwrap_or_default();
    let resolutions = resolve_chained(lambda, ctx, &updates);
    let now = lambda.clock.now_millis();
    let arn = member_str(input, "DurableExecutionArn").unwrap_or_default().to_string();
    let (response, chained) = with_execution(lambda, ctx, input, invalid_token, |exec| {
        if let (Some(client), Some((last_token, last_client, response))) = (client_token, &exec.last_checkpoint) {
            if last_token == token && last_client == client {
                return Ok((response.clone(), Vec::new()));
            }
        }
        if token != exec.token() {
            return Err(error::invalid_parameter(format!(
                "Invalid checkpoint token: the token {token} is not the current token of this execution."
            )));
        }
        if !exec.is_running() || exec.closing.is_some() {
            return Err(error::invalid_parameter(format!(
                "Invalid checkpoint token: the durable execution is {}.",
                if exec.closing.is_some() { "closing".to_string() } else { exec.status.clone() }
            )));
        }
        checkpoint::validate(exec, &updates)?;
        exec.fire_due(now);
        let (changed, chained) = checkpoint::apply(exec, &updates, &resolutions, now);
        let mut response = json!({"NewExecutionState": checkpoint::new_state(exec, &changed)});
        if exec.closing.is_none() {
            response["CheckpointToken"] = json!(exec.next_token());
        } else {
            exec.token_seq += 1;
        }
        // A timer that fired here is reported in this answer; the running invocation sees it.
        exec.wake = false;
        if let Some(client) = client_token {
            exec.last_checkpoint = Some((token.to_string(), client.to_string(), response.clone()));
        }
        lambda.durable.save(exec)?;
        lambda.durable.checkpoints.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lambda.durable.updates.fetch_add(updates.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok((response, chained))
    })?;
    if !chained.is_empty() {
        run::start_chained(lambda, &arn, chained);
    }
    Ok(response)
}

/// Resolve the targets of chained invokes a batch starts (same account and region only).
fn resolve_chained(lambda: &Lambda, ctx: &RequestContext, updates: &[Value]) -> HashMap<String, Resolution> {
    let mut out = HashMap::new();
    for update in updates.iter().filter(|u| u["Type"] == "CHAINED_INVOKE" && u["Action"] == "START") {
        let Some(id) = update["Id"].as_str() else { continue };
        let Some(name) = update.pointer("/ChainedInvokeOptions/FunctionName").and_then(Value::as_str) else {
            continue;
        };
        let resolution = match ident::parse_function(ctx, name, None) {
            Err(err) => Resolution::Missing(json!({"ErrorType": err.code, "ErrorMessage": err.message})),
            Ok(fid) => match super::invoke::target(lambda, ctx, &fid) {
                Err(err) => Resolution::Missing(json!({"ErrorType": err.code, "ErrorMessage": err.message})),
                Ok(target) => {
                    let durable = target.config.durable_config.is_some();
                    if durable && fid.qualifier.is_none() {
                        Resolution::Missing(json!({
                            "ErrorType": "InvalidParameterValueException",
                            "ErrorMessage": "You cannot invoke a durable function using an unqualified ARN."
                        }))
                    } else {
                        Resolution::Found {
                            name: fid.name,
                            qualifier: fid.qualifier,
                            version: target.config.version.clone(),
                            durable,
                        }
                    }
                }
            },
        };
        out.insert(id.to_string(), resolution);
    }
    out
}

pub fn get_durable_execution_state(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let token = member_str(input, "CheckpointToken").unwrap_or_default();
    with_execution(lambda, ctx, input, invalid_token, |exec| {
        if token != exec.token() {
            return Err(error::invalid_parameter("Invalid checkpoint token"));
        }
        let ops: Vec<Value> = exec.ops.iter().map(|op| op.render(false)).collect();
        super::page("Operations", &ops, input, 100, Value::clone)
    })
}

pub fn get_durable_execution(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let now = lambda.clock.now_millis();
    let include_data = member(input, "IncludeExecutionData").and_then(Value::as_bool).unwrap_or(true);
    with_execution(lambda, ctx, input, not_found, |exec| {
        let mut out = json!({
            "DurableExecutionArn": exec.arn,
            "DurableExecutionName": exec.name,
            "FunctionArn": exec.function_arn(),
            "InputPayload": exec.input,
            "StartTimestamp": crate::durable::seconds(exec.start_ms),
            "Status": exec.status,
            "Version": exec.version,
        });
        if exec.status == "SUCCEEDED" {
            out["Result"] = json!(exec.result.clone().unwrap_or_else(|| "null".into()));
        }
        if let Some(err) = &exec.error {
            out["Error"] = err.clone();
        }
        if let Some(end) = exec.end_ms {
            out["EndTimestamp"] = crate::durable::seconds(end);
        }
        if exec.is_running() {
            out["ExpectedExecutionTimeoutTimestamp"] = crate::durable::seconds(exec.deadline(now));
        }
        if let Some(pause) = &exec.pause {
            let mut details = json!({
                "PauseRequestTimestamp": crate::durable::seconds(pause.requested_ms),
                "ExecutionTimeoutPaused": pause.timeout_paused,
            });
            if let Some(reason) = &pause.reason {
                details["Reason"] = json!(reason);
            }
            out["PauseDetails"] = details;
        }
        if !include_data {
            // Payloads left out on request, as AWS does.
            if let Value::Object(map) = &mut out {
                map.remove("InputPayload");
                map.remove("Result");
                map.remove("Error");
            }
        }
        out["ExecutionDataIncluded"] = json!(include_data);
        Ok(out)
    })
}

pub fn get_durable_execution_history(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let include = member(input, "IncludeExecutionData").and_then(Value::as_bool).unwrap_or(true);
    let reverse = member(input, "ReverseOrder").and_then(Value::as_bool).unwrap_or(false);
    with_execution(lambda, ctx, input, not_found, |exec| {
        let mut events: Vec<&Value> = exec.events.iter().collect();
        if reverse {
            events.reverse();
        }
        super::page("Events", &events, input, 100, |e| render_event(e, include))
    })
}

pub fn list_durable_executions_by_function(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = super::functions::function_id(ctx, input)?;
    let qualifier = member_str(input, "Qualifier").map(str::to_string).or(id.qualifier.clone());
    // Executions record the version they run: an alias lists its version's executions.
    let version = {
        let store = lambda.store.read();
        let function = super::functions::find(store.region(&ctx.account, &ctx.region), ctx, &id)?;
        qualifier.map(|q| function.aliases.get(&q).map_or(q, |alias| alias.function_version.clone()))
    };
    let statuses: Vec<&str> = member(input, "Statuses")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let after = member(input, "StartedAfter").and_then(timestamp_ms);
    let before = member(input, "StartedBefore").and_then(timestamp_ms);
    let name = member_str(input, "DurableExecutionName");
    let executions = lambda.durable.executions.lock();
    let mut matching: Vec<&Execution> = executions
        .values()
        .filter(|e| e.account == ctx.account && e.region == ctx.region && e.function_name == id.name)
        .filter(|e| version.as_deref().is_none_or(|v| v == e.version))
        .filter(|e| statuses.is_empty() || statuses.contains(&e.status.as_str()))
        .filter(|e| after.is_none_or(|t| e.start_ms > t) && before.is_none_or(|t| e.start_ms < t))
        .filter(|e| name.is_none_or(|n| n == e.name))
        .collect();
    matching.sort_by(|a, b| b.start_ms.cmp(&a.start_ms).then_with(|| a.arn.cmp(&b.arn)));
    if member(input, "ReverseOrder").and_then(Value::as_bool).unwrap_or(false) {
        matching.reverse();
    }
    super::page("DurableExecutions", &matching, input, 100, |e| e.summary())
}

/// A query-string timestamp: epoch seconds or ISO 8601.
fn timestamp_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_f64().map(|s| (s * 1000.0) as i64),
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .map(|secs| (secs * 1000.0) as i64)
            .or_else(|| chrono::DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp_millis())),
        _ => None,
    }
}

pub fn stop_durable_execution(lambda: &Arc<Lambda>, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let now = lambda.clock.now_millis();
    let error = member(input, "Error").cloned().unwrap_or(json!({}));
    let arn = member_str(input, "DurableExecutionArn").unwrap_or_default().to_string();
    with_execution(lambda, ctx, input, not_found, |exec| {
        if !exec.is_running() {
            return Err(error::conflict(format!("Durable execution {} is already {}.", exec.arn, exec.status)));
        }
        exec.close(Terminal { status: "STOPPED".into(), result: None, error: Some(error) }, now);
        lambda.durable.save(exec)?;
        Ok(())
    })?;
    run::on_closed(lambda, &arn);
    Ok(json!({"StopTimestamp": crate::durable::seconds(now)}))
}

/// A reason as history events carry it.
fn reason_payload(reason: &str) -> Value {
    json!({"Payload": reason, "Truncated": false})
}

/// PauseDurableExecution: no further invocations until resumed; timers and callbacks still
/// complete. With an invocation running the status is PAUSING until it ends, then PAUSED.
pub fn pause_durable_execution(lambda: &Arc<Lambda>, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let now = lambda.clock.now_millis();
    let client_token = member_str(input, "ClientToken").map(str::to_string);
    let reason = member_str(input, "Reason").map(str::to_string);
    let timeout_paused = member(input, "ExecutionTimeoutPaused").and_then(Value::as_bool).unwrap_or(true);
    with_execution(lambda, ctx, input, not_found, |exec| {
        if let Some(pause) = &exec.pause {
            // The same request again (same client token): already done.
            if client_token.is_some() && pause.client_token == client_token {
                return Ok(());
            }
        }
        if exec.status != "RUNNING" {
            return Err(error::conflict(format!("Durable execution {} is already {}.", exec.arn, exec.status)));
        }
        exec.status = if exec.invoking { "PAUSING" } else { "PAUSED" }.into();
        exec.pause = Some(crate::durable::Pause {
            requested_ms: now,
            reason: reason.clone(),
            timeout_paused,
            client_token: client_token.clone(),
        });
        let mut details = json!({"PauseRequestTimestamp": now, "ExecutionTimeoutPaused": timeout_paused});
        if let Some(reason) = &reason {
            details["Reason"] = reason_payload(reason);
        }
        let exec_op = exec.op(&exec.id.clone()).cloned();
        exec.record("ExecutionPaused", exec_op.as_ref(), now, details);
        lambda.durable.save(exec)
    })?;
    Ok(json!({}))
}

/// ResumeDurableExecution: a paused execution runs again (invoked at once if something
/// completed while it was paused, or the pause interrupted it); a pausing one just continues.
pub fn resume_durable_execution(lambda: &Arc<Lambda>, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let now = lambda.clock.now_millis();
    let reason = member_str(input, "Reason").map(str::to_string);
    with_execution(lambda, ctx, input, not_found, |exec| {
        if !matches!(exec.status.as_str(), "PAUSED" | "PAUSING") {
            return Err(error::conflict(format!(
                "Durable execution {} is not paused; it is {}.",
                exec.arn, exec.status
            )));
        }
        exec.end_pause(now);
        exec.status = "RUNNING".into();
        let mut details = json!({"ResumeRequestTimestamp": now});
        if let Some(reason) = &reason {
            details["Reason"] = reason_payload(reason);
        }
        let exec_op = exec.op(&exec.id.clone()).cloned();
        exec.record("ExecutionResumed", exec_op.as_ref(), now, details);
        lambda.durable.save(exec)
    })?;
    lambda.durable.notify.notify_one();
    Ok(json!({}))
}

/// DeleteDurableExecution: a closed execution and its history go (DELETING, then gone).
pub fn delete_durable_execution(lambda: &Arc<Lambda>, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let now = lambda.clock.now_millis();
    let arn = member_str(input, "DurableExecutionArn").unwrap_or_default().to_string();
    with_execution(lambda, ctx, input, not_found, |exec| {
        if exec.is_running() {
            return Err(error::conflict(format!(
                "Durable execution {} is {}. Only executions in a terminal state (SUCCEEDED, FAILED, STOPPED or TIMED_OUT) can be deleted.",
                exec.arn, exec.status
            )));
        }
        exec.status = "DELETING".into();
        Ok(())
    })?;
    if let Some(exec) = lambda.durable.executions.lock().remove(&arn) {
        lambda.durable.purge(&exec);
    }
    Ok(json!({"DeletionRequestTimestamp": crate::durable::seconds(now)}))
}

enum CallbackOutcome {
    Success,
    Failure,
    Heartbeat,
}

fn send_callback(lambda: &Lambda, ctx: &RequestContext, input: &Value, outcome: CallbackOutcome) -> Result<Value> {
    let callback_id = member_str(input, "CallbackId").unwrap_or_default();
    let closed = || {
        AwsError::new(
            400,
            "CallbackTimeoutException",
            format!("The callback {callback_id} has already completed, timed out or does not exist."),
        )
    };
    let Some((arn, operation_id)) = checkpoint::parse_callback_id(callback_id) else {
        return Err(error::invalid_parameter(format!("Invalid callback id: {callback_id}")));
    };
    let now = lambda.clock.now_millis();
    let mut executions = lambda.durable.executions.lock();
    let exec = executions
        .get_mut(&arn)
        .filter(|e| e.account == ctx.account && e.region == ctx.region && e.is_running())
        .ok_or_else(closed)?;
    let op =
        exec.op_mut(&operation_id).filter(|op| op.kind == "CALLBACK" && op.status == "STARTED").ok_or_else(closed)?;
    let (event_type, details) = match outcome {
        CallbackOutcome::Heartbeat => {
            if op.heartbeat_s > 0 {
                op.heartbeat_at = Some(now + op.heartbeat_s * 1000);
            }
            lambda.durable.save(exec)?;
            return Ok(json!({}));
        }
        CallbackOutcome::Success => {
            let result = member_str(input, "Result")
                .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            op.status = "SUCCEEDED".into();
            op.details.insert("Result".into(), json!(result));
            ("CallbackSucceeded", json!({"Result": {"Payload": result, "Truncated": false}}))
        }
        CallbackOutcome::Failure => {
            let err = member(input, "Error").cloned().unwrap_or(json!({}));
            op.status = "FAILED".into();
            op.details.insert("Error".into(), err.clone());
            ("CallbackFailed", json!({"Error": {"Payload": err, "Truncated": false}}))
        }
    };
    op.end_ms = Some(now);
    op.timeout_at = None;
    op.heartbeat_at = None;
    let snapshot = op.clone();
    exec.record(event_type, Some(&snapshot), now, details);
    exec.unseen.insert(operation_id);
    exec.wake = true;
    lambda.durable.save(exec)?;
    drop(executions);
    lambda.durable.notify.notify_one();
    Ok(json!({}))
}
