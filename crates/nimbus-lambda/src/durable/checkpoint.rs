//! `CheckpointDurableExecution`: validate a batch of operation updates against the execution's
//! state, then apply it — new operation states, history events, timers.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use serde_json::{json, Value};

use super::{Execution, Operation, Terminal};
use crate::error::{self, Result};

/// Largest error object an update may carry.
const MAX_ERROR_BYTES: usize = 32_768;

/// What a chained invoke's target turned out to be when its START was checkpointed.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// No such function (or not in this account and region): the operation fails at once.
    Missing(Value),
    /// A function to run: `durable` starts a child execution, otherwise a plain invocation.
    Found { name: String, qualifier: Option<String>, version: String, durable: bool },
}

/// Work a checkpoint asks for that runs after it has been answered.
#[derive(Debug, Clone)]
pub struct ChainedStart {
    pub operation_id: String,
    pub function: String,
    pub qualifier: Option<String>,
    pub durable: bool,
    pub payload: String,
}

fn invalid(message: &str) -> nimbus_core::AwsError {
    error::invalid_parameter(message)
}

/// Check a batch before anything is applied (AWS applies all of it or none).
pub fn validate(exec: &Execution, updates: &[Value]) -> Result<()> {
    let executions = updates.iter().filter(|u| u["Type"] == "EXECUTION").count();
    if executions > 1 {
        return Err(invalid("Cannot checkpoint multiple EXECUTION updates."));
    }
    if executions == 1 && updates.last().is_some_and(|u| u["Type"] != "EXECUTION") {
        return Err(invalid("EXECUTION checkpoint must be the last update."));
    }
    // Status of operations as the batch goes: existing ones, then those it changes.
    let mut batch: HashMap<&str, (&str, &str)> = HashMap::new();
    let mut started_in_batch: HashSet<&str> = HashSet::new();
    for update in updates {
        let id = update["Id"].as_str().unwrap_or_default();
        let kind = update["Type"].as_str().unwrap_or_default();
        let action = update["Action"].as_str().unwrap_or_default();
        if let Some((last_kind, last_action)) = batch.get(id) {
            let allowed = matches!(*last_kind, "STEP" | "CONTEXT") && *last_action == "START" && action != "START";
            if !allowed {
                return Err(invalid("Cannot checkpoint multiple operations with the same ID."));
            }
        }
        if let Some(parent) = update["ParentId"].as_str() {
            let valid = if started_in_batch.contains(parent) {
                updates.iter().any(|u| u["Id"] == parent && u["Type"] == "CONTEXT")
            } else {
                exec.op(parent).is_some_and(|p| p.kind == "CONTEXT")
            };
            if !valid {
                return Err(invalid("Invalid parent operation id."));
            }
        }
        let current = exec.op(id);
        if let Some(op) = current {
            if op.kind != kind {
                return Err(invalid("Inconsistent operation type."));
            }
            if update["SubType"].is_string() && update["SubType"].as_str() != op.sub_type.as_deref() {
                return Err(invalid("Inconsistent operation subtype."));
            }
            if update["Name"].is_string() && update["Name"].as_str() != op.name.as_deref() {
                return Err(invalid("Inconsistent operation name."));
            }
            if update["ParentId"].is_string() && update["ParentId"].as_str() != op.parent_id.as_deref() {
                return Err(invalid("Inconsistent parent operation id."));
            }
        }
        if update.get("Error").is_some_and(|e| e.to_string().len() > MAX_ERROR_BYTES) {
            return Err(invalid(&format!("Error object size must be less than {MAX_ERROR_BYTES} bytes.")));
        }
        // The status this update finds: from earlier in the batch, else the stored one.
        let status: Option<&str> = match batch.get(id) {
            Some((_, "START")) => Some("STARTED"),
            Some(_) => Some("CLOSED"),
            None => current.map(|op| op.status.as_str()),
        };
        check_transition(kind, action, status, update)?;
        if action == "START" {
            started_in_batch.insert(id);
        }
        batch.insert(id, (kind, action));
    }
    Ok(())
}

fn check_transition(kind: &str, action: &str, status: Option<&str>, update: &Value) -> Result<()> {
    let has_payload = update.get("Payload").is_some_and(|p| !p.is_null());
    let has_error = update.get("Error").is_some_and(|e| !e.is_null());
    let close_checks = || -> Result<()> {
        if action == "FAIL" && has_payload {
            return Err(invalid("Cannot provide a Payload for FAIL action."));
        }
        if action == "SUCCEED" && has_error {
            return Err(invalid("Cannot provide an Error for SUCCEED action."));
        }
        Ok(())
    };
    match (kind, action) {
        ("STEP", "START") => {
            if status.is_some_and(|s| s != "READY") {
                return Err(invalid("Invalid current STEP state to start."));
            }
        }
        ("STEP", "SUCCEED" | "FAIL") => {
            if status.is_some_and(|s| !matches!(s, "STARTED" | "READY")) {
                return Err(invalid("Invalid current STEP state to close."));
            }
            close_checks()?;
        }
        ("STEP", "RETRY") => {
            if status.is_some_and(|s| !matches!(s, "STARTED" | "READY")) {
                return Err(invalid("Invalid current STEP state to re-attempt."));
            }
            if update.get("StepOptions").is_none_or(Value::is_null) {
                return Err(invalid("Invalid StepOptions for the given action."));
            }
            if has_error && has_payload {
                return Err(invalid("Cannot provide both error and payload to RETRY a STEP."));
            }
        }
        ("CONTEXT", "START") => {
            if status.is_some() {
                return Err(invalid("Cannot start a CONTEXT that already exist."));
            }
        }
        ("CONTEXT", "SUCCEED" | "FAIL") => {
            if status.is_some_and(|s| s != "STARTED") {
                return Err(invalid("Invalid current CONTEXT state to close."));
            }
            close_checks()?;
        }
        ("WAIT", "START") => {
            if status.is_some() {
                return Err(invalid("Cannot start a WAIT that already exist."));
            }
            if update.pointer("/WaitOptions/WaitSeconds").is_none_or(Value::is_null) {
                return Err(invalid("Invalid WaitOptions for the given action."));
            }
        }
        ("WAIT", "CANCEL") => {
            if status != Some("STARTED") {
                return Err(invalid("Cannot cancel a WAIT that does not exist or has already completed."));
            }
        }
        ("CALLBACK", "START") => {
            if status.is_some() {
                return Err(invalid("Cannot start a CALLBACK that already exist."));
            }
        }
        ("CHAINED_INVOKE", "START") => {
            if status.is_some() {
                return Err(invalid("Cannot start a CHAINED_INVOKE operation that already exists."));
            }
            if update.pointer("/ChainedInvokeOptions/FunctionName").is_none_or(Value::is_null) {
                return Err(invalid("Update for CHAINED_INVOKE operation requires ChainedInvokeOptions."));
            }
        }
        ("EXECUTION", "SUCCEED" | "FAIL") => close_checks()?,
        _ => return Err(invalid("Invalid action for the given operation type.")),
    }
    Ok(())
}

/// Apply a validated batch at `now`. Returns the ids it changed and the chained invokes to start.
pub fn apply(
    exec: &mut Execution,
    updates: &[Value],
    resolutions: &HashMap<String, Resolution>,
    now: i64,
) -> (Vec<String>, Vec<ChainedStart>) {
    let mut changed = Vec::new();
    let mut chained = Vec::new();
    for update in updates {
        let id = update["Id"].as_str().unwrap_or_default().to_string();
        let kind = update["Type"].as_str().unwrap_or_default();
        let action = update["Action"].as_str().unwrap_or_default();
        let payload = update.get("Payload").and_then(Value::as_str).map(str::to_string);
        let error = update.get("Error").filter(|e| !e.is_null()).cloned();
        if kind == "EXECUTION" {
            exec.closing = Some(match action {
                "SUCCEED" => {
                    Terminal { status: "SUCCEEDED".into(), result: Some(payload.unwrap_or_default()), error: None }
                }
                _ => Terminal { status: "FAILED".into(), result: None, error: Some(error.unwrap_or(json!({}))) },
            });
            continue;
        }
        if exec.op(&id).is_none() {
            exec.insert_op(Operation {
                parent_id: update["ParentId"].as_str().map(str::to_string),
                name: update["Name"].as_str().map(str::to_string),
                sub_type: update["SubType"].as_str().map(str::to_string),
                ..Operation::started(&id, kind, now)
            });
        }
        let result_of = |p: &Option<String>| json!({"Payload": p.clone().unwrap_or_default(), "Truncated": false});
        let error_of = |e: &Option<Value>| json!({"Payload": e.clone().unwrap_or(json!({})), "Truncated": false});
        let op = exec.op_mut(&id).expect("inserted above");
        let mut events: Vec<(&str, Value)> = Vec::new();
        match (kind, action) {
            ("STEP", "START") => {
                op.status = "STARTED".into();
                op.details.remove("NextAttemptTimestamp");
                events.push(("StepStarted", json!({})));
            }
            ("STEP", "SUCCEED" | "FAIL" | "RETRY") => {
                let attempt = op.details.get("Attempt").and_then(Value::as_i64).unwrap_or(0) + 1;
                op.details.insert("Attempt".into(), json!(attempt));
                op.details.remove("Result");
                op.details.remove("Error");
                if let Some(p) = &payload {
                    op.details.insert("Result".into(), json!(p));
                }
                if let Some(e) = &error {
                    op.details.insert("Error".into(), e.clone());
                }
                let mut retry = json!({"CurrentAttempt": attempt});
                if action == "RETRY" {
                    let delay =
                        update.pointer("/StepOptions/NextAttemptDelaySeconds").and_then(Value::as_i64).unwrap_or(1);
                    op.status = "PENDING".into();
                    op.details.insert("NextAttemptTimestamp".into(), json!(now + delay * 1000));
                    retry["NextAttemptDelaySeconds"] = json!(delay);
                } else {
                    op.status = if action == "SUCCEED" { "SUCCEEDED" } else { "FAILED" }.into();
                    op.end_ms = Some(now);
                    op.details.remove("NextAttemptTimestamp");
                }
                if action == "SUCCEED" || action == "RETRY" && payload.is_some() {
                    events.push(("StepSucceeded", json!({"Result": result_of(&payload), "RetryDetails": retry})));
                } else {
                    events.push(("StepFailed", json!({"Error": error_of(&error), "RetryDetails": retry})));
                }
            }
            ("CONTEXT", "START") => {
                if let Some(replay) = update.pointer("/ContextOptions/ReplayChildren").and_then(Value::as_bool) {
                    op.details.insert("ReplayChildren".into(), json!(replay));
                }
                events.push(("ContextStarted", json!({})));
            }
            ("CONTEXT", "SUCCEED" | "FAIL") => {
                if let Some(replay) = update.pointer("/ContextOptions/ReplayChildren").and_then(Value::as_bool) {
                    op.details.insert("ReplayChildren".into(), json!(replay));
                }
                op.end_ms = Some(now);
                if action == "SUCCEED" {
                    op.status = "SUCCEEDED".into();
                    op.details.insert("Result".into(), json!(payload.clone().unwrap_or_default()));
                    events.push(("ContextSucceeded", json!({"Result": result_of(&payload)})));
                } else {
                    op.status = "FAILED".into();
                    op.details.insert("Error".into(), error.clone().unwrap_or(json!({})));
                    events.push(("ContextFailed", json!({"Error": error_of(&error)})));
                }
            }
            ("WAIT", "START") => {
                let seconds = update.pointer("/WaitOptions/WaitSeconds").and_then(Value::as_i64).unwrap_or(1);
                let end = now + seconds * 1000;
                op.details.insert("ScheduledEndTimestamp".into(), json!(end));
                events.push(("WaitStarted", json!({"Duration": seconds, "ScheduledEndTimestamp": end})));
            }
            ("WAIT", "CANCEL") => {
                op.status = "CANCELLED".into();
                op.end_ms = Some(now);
                let mut details = json!({});
                if error.is_some() {
                    details["Error"] = error_of(&error);
                }
                events.push(("WaitCancelled", details));
            }
            ("CALLBACK", "START") => {
                let timeout = update.pointer("/CallbackOptions/TimeoutSeconds").and_then(Value::as_i64).unwrap_or(0);
                let heartbeat =
                    update.pointer("/CallbackOptions/HeartbeatTimeoutSeconds").and_then(Value::as_i64).unwrap_or(0);
                op.timeout_at = (timeout > 0).then_some(now + timeout * 1000);
                op.heartbeat_at = (heartbeat > 0).then_some(now + heartbeat * 1000);
                op.heartbeat_s = heartbeat;
                // CallbackId is filled in below, where the execution's ARN is at hand.
                events.push(("CallbackStarted", json!({"Timeout": timeout, "HeartbeatTimeout": heartbeat})));
            }
            ("CHAINED_INVOKE", "START") => {
                let function = update.pointer("/ChainedInvokeOptions/FunctionName").and_then(Value::as_str);
                let mut started = json!({"FunctionName": function, "Input": result_of(&payload)});
                if let Some(tenant) = update.pointer("/ChainedInvokeOptions/TenantId") {
                    started["TenantId"] = tenant.clone();
                }
                match resolutions.get(&id) {
                    Some(Resolution::Found { name, qualifier, version, durable }) => {
                        started["ExecutedVersion"] = json!(version);
                        chained.push(ChainedStart {
                            operation_id: id.clone(),
                            function: name.clone(),
                            qualifier: qualifier.clone(),
                            durable: *durable,
                            payload: payload.clone().unwrap_or_default(),
                        });
                        events.push(("ChainedInvokeStarted", started));
                    }
                    missing => {
                        let err = match missing {
                            Some(Resolution::Missing(e)) => e.clone(),
                            _ => {
                                json!({"ErrorType": "ResourceNotFoundException", "ErrorMessage": "Function not found"})
                            }
                        };
                        op.status = "FAILED".into();
                        op.end_ms = Some(now);
                        op.details.insert("Error".into(), err.clone());
                        events.push(("ChainedInvokeStarted", started));
                        events.push(("ChainedInvokeFailed", json!({"Error": {"Payload": err, "Truncated": false}})));
                    }
                }
            }
            _ => {}
        }
        if kind == "CALLBACK" {
            // The id routes callbacks back to this execution without a scan.
            let callback_id = callback_id(&exec.arn, &id);
            if let Some(op) = exec.op_mut(&id) {
                op.details.insert("CallbackId".into(), json!(callback_id));
            }
            if let Some((_, details)) = events.iter_mut().find(|(t, _)| *t == "CallbackStarted") {
                details["CallbackId"] = json!(callback_id);
            }
        }
        let snapshot = exec.op(&id).cloned();
        for (event_type, details) in events {
            exec.record(event_type, snapshot.as_ref(), now, details);
        }
        changed.push(id);
    }
    (changed, chained)
}

/// A durable child execution's name: derived from its parent execution and operation.
pub fn child_name(parent_id: &str, operation_id: &str) -> String {
    let digest = crate::state_hash(&format!("{parent_id}/{operation_id}"));
    digest[..32].to_string()
}

/// An opaque callback id that names its execution and operation.
pub fn callback_id(execution_arn: &str, operation_id: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{execution_arn}\n{operation_id}"))
}

/// The execution ARN and operation id inside a callback id.
pub fn parse_callback_id(callback_id: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD.decode(callback_id).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (arn, op) = text.split_once('\n')?;
    Some((arn.to_string(), op.to_string()))
}

/// The operations the function has not seen plus those this batch changed, in start order.
pub fn new_state(exec: &mut Execution, changed: &[String]) -> Value {
    let mut ids: HashSet<String> = std::mem::take(&mut exec.unseen).into_iter().collect();
    ids.extend(changed.iter().cloned());
    let mut ops: Vec<&Operation> = ids.iter().filter_map(|id| exec.op(id)).collect();
    ops.sort_by_key(|op| op.seq);
    json!({"Operations": ops.iter().map(|op| op.render(false)).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution() -> Execution {
        let mut exec = Execution {
            arn: "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST/durable-execution/n/x".into(),
            id: "x".into(),
            status: "RUNNING".into(),
            timeout_s: 60,
            ..Default::default()
        };
        exec.insert_op(Operation::started("x", "EXECUTION", 0));
        exec
    }

    fn update(id: &str, kind: &str, action: &str) -> Value {
        json!({"Id": id, "Type": kind, "Action": action})
    }

    fn rejection(exec: &Execution, updates: &[Value]) -> String {
        validate(exec, updates).expect_err("should be rejected").message
    }

    fn run(exec: &mut Execution, updates: &[Value], now: i64) -> Vec<String> {
        validate(exec, updates).expect("valid");
        apply(exec, updates, &HashMap::new(), now).0
    }

    #[test]
    fn batch_rules() {
        let exec = execution();
        let succeed = json!({"Id": "x", "Type": "EXECUTION", "Action": "SUCCEED", "Payload": "1"});
        assert_eq!(
            rejection(&exec, &[succeed.clone(), update("s", "STEP", "START")]),
            "EXECUTION checkpoint must be the last update."
        );
        assert_eq!(
            rejection(&exec, &[succeed.clone(), succeed.clone()]),
            "Cannot checkpoint multiple EXECUTION updates."
        );
        assert_eq!(
            rejection(&exec, &[update("c", "CALLBACK", "START"), update("c", "CALLBACK", "START")]),
            "Cannot checkpoint multiple operations with the same ID."
        );
        // START then a terminal action of the same STEP is one allowed pair.
        let pair =
            [update("s", "STEP", "START"), json!({"Id": "s", "Type": "STEP", "Action": "SUCCEED", "Payload": "1"})];
        validate(&exec, &pair).unwrap();
        let orphan = json!({"Id": "s", "Type": "STEP", "Action": "START", "ParentId": "nope"});
        assert_eq!(rejection(&exec, &[orphan]), "Invalid parent operation id.");
        let in_batch =
            [update("c", "CONTEXT", "START"), json!({"Id": "s", "Type": "STEP", "Action": "START", "ParentId": "c"})];
        validate(&exec, &in_batch).unwrap();
        let step_parent =
            [update("p", "STEP", "START"), json!({"Id": "s", "Type": "STEP", "Action": "START", "ParentId": "p"})];
        assert_eq!(rejection(&exec, &step_parent), "Invalid parent operation id.");
        let fail_with_payload = json!({"Id": "s", "Type": "STEP", "Action": "FAIL", "Payload": "x"});
        assert_eq!(rejection(&exec, &[fail_with_payload]), "Cannot provide a Payload for FAIL action.");
        assert_eq!(rejection(&exec, &[update("w", "WAIT", "SUCCEED")]), "Invalid action for the given operation type.");
        assert_eq!(rejection(&exec, &[update("s", "STEP", "RETRY")]), "Invalid StepOptions for the given action.");
        assert_eq!(rejection(&exec, &[update("w", "WAIT", "START")]), "Invalid WaitOptions for the given action.");
    }

    #[test]
    fn operations_keep_their_type_name_and_state_machine() {
        let mut exec = execution();
        run(&mut exec, &[json!({"Id": "s", "Type": "STEP", "Action": "START", "Name": "one"})], 1_000);
        assert_eq!(rejection(&exec, &[update("s", "WAIT", "START")]), "Inconsistent operation type.");
        let renamed = json!({"Id": "s", "Type": "STEP", "Action": "SUCCEED", "Name": "two"});
        assert_eq!(rejection(&exec, &[renamed]), "Inconsistent operation name.");
        let retry = json!({"Id": "s", "Type": "STEP", "Action": "RETRY", "StepOptions": {"NextAttemptDelaySeconds": 5},
                           "Error": {"ErrorMessage": "boom"}});
        run(&mut exec, &[retry], 2_000);
        let op = exec.op("s").unwrap();
        assert_eq!(op.status, "PENDING");
        assert_eq!(op.details["Attempt"], 1);
        assert_eq!(op.details["NextAttemptTimestamp"], 7_000);
        // A pending step cannot be closed until its retry is due.
        let succeed = json!({"Id": "s", "Type": "STEP", "Action": "SUCCEED", "Payload": "1"});
        assert_eq!(rejection(&exec, std::slice::from_ref(&succeed)), "Invalid current STEP state to close.");
        assert!(!exec.fire_due(6_999));
        assert!(exec.fire_due(7_000));
        assert_eq!(exec.op("s").unwrap().status, "READY");
        assert!(exec.wake && exec.unseen.contains("s"));
        run(&mut exec, &[update("s", "STEP", "START"), succeed], 8_000);
        let op = exec.op("s").unwrap();
        assert_eq!((op.status.as_str(), op.details["Attempt"].clone()), ("SUCCEEDED", json!(2)));
        let kinds: Vec<&str> = exec.events.iter().map(|e| e["EventType"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["StepStarted", "StepFailed", "StepStarted", "StepSucceeded"]);
        assert_eq!(
            exec.events[1]["StepFailedDetails"]["RetryDetails"],
            json!({"CurrentAttempt": 1, "NextAttemptDelaySeconds": 5})
        );
        assert_eq!(exec.events[3]["EventId"], 4);
        assert_eq!(exec.events[3]["Name"], "one");
    }

    #[test]
    fn callbacks_time_out_and_route_back_to_their_execution() {
        let mut exec = execution();
        let start = json!({"Id": "cb", "Type": "CALLBACK", "Action": "START",
                           "CallbackOptions": {"TimeoutSeconds": 60, "HeartbeatTimeoutSeconds": 10}});
        run(&mut exec, &[start], 0);
        let id = exec.op("cb").unwrap().details["CallbackId"].as_str().unwrap().to_string();
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c)));
        assert_eq!(parse_callback_id(&id), Some((exec.arn.clone(), "cb".to_string())));
        assert_eq!(exec.events[0]["CallbackStartedDetails"]["CallbackId"], json!(id));
        assert!(exec.fire_due(10_000));
        let op = exec.op("cb").unwrap();
        assert_eq!(op.status, "TIMED_OUT");
        assert_eq!(op.details["Error"]["ErrorType"], "Callback.Heartbeat");
        assert_eq!(exec.events.last().unwrap()["EventType"], "CallbackTimedOut");
    }

    #[test]
    fn new_state_reports_unseen_and_changed_operations_in_start_order() {
        let mut exec = execution();
        run(&mut exec, &[json!({"Id": "w", "Type": "WAIT", "Action": "START", "WaitOptions": {"WaitSeconds": 1}})], 0);
        exec.fire_due(1_000);
        let changed = run(&mut exec, &[update("s", "STEP", "START")], 1_500);
        let state = new_state(&mut exec, &changed);
        let ids: Vec<&str> =
            state["Operations"].as_array().unwrap().iter().map(|o| o["Id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["w", "s"]);
        assert_eq!(state["Operations"][0]["Status"], "SUCCEEDED");
        // API answers use epoch seconds; the invocation event uses milliseconds.
        assert_eq!(state["Operations"][0]["WaitDetails"]["ScheduledEndTimestamp"], json!(1));
        assert_eq!(exec.op("w").unwrap().render(true)["WaitDetails"]["ScheduledEndTimestamp"], json!(1_000));
        assert!(exec.unseen.is_empty());
    }
}
