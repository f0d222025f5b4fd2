//! Durable executions: the service side of AWS's durable execution SDKs.
//!
//! - this module: executions, their operations and history, and the registry that holds them
//!   (persisted in a journal of its own with `--data-dir`);
//! - [`checkpoint`]: validating and applying `CheckpointDurableExecution` batches;
//! - [`run`]: the scheduler that invokes an execution whenever it has something to resume,
//!   on nimbus's clock, one invocation per execution at a time.
//!
//! Times are kept as epoch milliseconds. The event a function receives carries them as integer
//! milliseconds; the API answers them as epoch seconds (the REST-JSON timestamp format).

pub mod checkpoint;
pub mod run;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use base64::Engine;
use nimbus_core::journal::Journal;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::{self, Result};

/// Failed invocations of one execution in a row before the execution fails.
pub const MAX_FAILED_INVOCATIONS: u32 = 5;
/// Back-off between retries of a failed invocation.
pub const RETRY_BACKOFF_MS: i64 = 5_000;
/// Retention when the function's `DurableConfig` names none.
pub const DEFAULT_RETENTION_DAYS: i64 = 14;
/// Execution timeout when the function's `DurableConfig` names none.
pub const DEFAULT_EXECUTION_TIMEOUT_S: i64 = 86_400;
/// Size of one page of operations in an invocation's input event.
pub const INPUT_PAGE_BYTES: usize = 5 * 1024 * 1024;

/// One operation of an execution, as AWS's `Operation` shape (times in milliseconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    pub id: String,
    /// Start order within the execution.
    #[serde(default)]
    pub seq: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    pub start_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    pub status: String,
    /// The `…Details` object of the operation's type; timestamps inside in milliseconds.
    #[serde(default)]
    pub details: Map<String, Value>,
    /// Service-side timers: a callback's deadline and heartbeat deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_at: Option<i64>,
    #[serde(default)]
    pub heartbeat_s: i64,
}

/// Detail fields that hold timestamps.
const DETAIL_TIMESTAMPS: [&str; 2] = ["NextAttemptTimestamp", "ScheduledEndTimestamp"];

impl Operation {
    /// A new operation, `STARTED` at `now`.
    pub fn started(id: &str, kind: &str, now: i64) -> Operation {
        Operation {
            id: id.to_string(),
            seq: 0,
            parent_id: None,
            name: None,
            kind: kind.to_string(),
            sub_type: None,
            start_ms: now,
            end_ms: None,
            status: "STARTED".into(),
            details: Map::new(),
            timeout_at: None,
            heartbeat_at: None,
            heartbeat_s: 0,
        }
    }

    pub fn details_key(&self) -> &'static str {
        match self.kind.as_str() {
            "EXECUTION" => "ExecutionDetails",
            "CONTEXT" => "ContextDetails",
            "STEP" => "StepDetails",
            "WAIT" => "WaitDetails",
            "CALLBACK" => "CallbackDetails",
            _ => "ChainedInvokeDetails",
        }
    }

    pub fn is_closed(&self) -> bool {
        !matches!(self.status.as_str(), "STARTED" | "PENDING" | "READY")
    }

    /// AWS's `Operation`: `millis` renders timestamps as integer epoch milliseconds (the
    /// invocation event), otherwise as epoch seconds (API answers).
    pub fn render(&self, millis: bool) -> Value {
        let time = |ms: i64| if millis { json!(ms) } else { seconds(ms) };
        let mut out =
            json!({"Id": self.id, "Type": self.kind, "Status": self.status, "StartTimestamp": time(self.start_ms)});
        if let Some(p) = &self.parent_id {
            out["ParentId"] = json!(p);
        }
        if let Some(n) = &self.name {
            out["Name"] = json!(n);
        }
        if let Some(s) = &self.sub_type {
            out["SubType"] = json!(s);
        }
        if let Some(end) = self.end_ms {
            out["EndTimestamp"] = time(end);
        }
        if !self.details.is_empty() || self.kind == "STEP" {
            let mut details = self.details.clone();
            for key in DETAIL_TIMESTAMPS {
                if let Some(ms) = details.get(key).and_then(Value::as_i64) {
                    details.insert(key.into(), time(ms));
                }
            }
            out[self.details_key()] = Value::Object(details);
        }
        out
    }

    /// The earliest service-side timer of this operation, if it has one running.
    pub fn next_due(&self) -> Option<i64> {
        let detail = |key: &str| self.details.get(key).and_then(Value::as_i64);
        match (self.kind.as_str(), self.status.as_str()) {
            ("WAIT", "STARTED") => detail("ScheduledEndTimestamp"),
            ("STEP", "PENDING") => detail("NextAttemptTimestamp"),
            ("CALLBACK", "STARTED") => match (self.timeout_at, self.heartbeat_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            _ => None,
        }
    }
}

/// Epoch milliseconds as REST-JSON's epoch-seconds timestamp.
pub fn seconds(ms: i64) -> Value {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

/// How an execution ended, recorded once its last invocation has finished.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Terminal {
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

/// Where a chained invoke's child execution reports back to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParentLink {
    pub execution_arn: String,
    pub operation_id: String,
}

/// A pause of an execution (PauseDurableExecution).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pause {
    pub requested_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub timeout_paused: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

/// An execution paused its timeout for at most this long after it started (AWS: 366 days).
const PAUSED_TIMEOUT_CAP_MS: i64 = 366 * 86_400_000;

/// One durable execution.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Execution {
    pub arn: String,
    pub name: String,
    pub id: String,
    pub account: String,
    pub region: String,
    pub function_name: String,
    /// The version that runs (`$LATEST` or a number): aliases resolve when the execution starts.
    pub version: String,
    pub endpoint: String,
    pub input: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    pub start_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<i64>,
    pub timeout_s: i64,
    pub retention_days: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLink>,
    pub token_seq: u64,
    /// The last accepted checkpoint: (inbound token, client token, response), replayed to a retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checkpoint: Option<(String, String, Value)>,
    /// Operations changed since the function last saw state.
    #[serde(default)]
    pub unseen: BTreeSet<String>,
    /// Something completed while no invocation ran: invoke again.
    #[serde(default)]
    pub wake: bool,
    /// A failed invocation is retried at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<i64>,
    #[serde(default)]
    pub failed_invocations: u32,
    /// Set by an EXECUTION checkpoint; recorded after the running invocation completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing: Option<Terminal>,
    #[serde(skip)]
    pub ops: Vec<Operation>,
    #[serde(skip)]
    pub index: HashMap<String, usize>,
    #[serde(skip)]
    pub events: Vec<Value>,
    /// An invocation is running (journaled, so a restart knows to run it again).
    #[serde(default)]
    pub invoking: bool,
    /// A pause asked for (status PAUSING until the running invocation ends, then PAUSED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<Pause>,
    /// Time spent paused with the execution timeout paused: the timeout moves out by this much.
    #[serde(default)]
    pub paused_ms: i64,
    /// Operations changed since the journal last saw them, and how many events it has.
    #[serde(skip)]
    dirty_ops: BTreeSet<String>,
    #[serde(skip)]
    saved_events: usize,
}

impl Execution {
    pub fn op(&self, id: &str) -> Option<&Operation> {
        self.index.get(id).map(|&i| &self.ops[i])
    }

    pub fn op_mut(&mut self, id: &str) -> Option<&mut Operation> {
        self.dirty_ops.insert(id.to_string());
        self.index.get(id).map(|&i| &mut self.ops[i])
    }

    pub fn insert_op(&mut self, mut op: Operation) {
        op.seq = self.ops.len();
        self.dirty_ops.insert(op.id.clone());
        self.index.insert(op.id.clone(), self.ops.len());
        self.ops.push(op);
    }

    /// Not yet closed: running, or pausing/paused (which may still resume).
    pub fn is_running(&self) -> bool {
        matches!(self.status.as_str(), "RUNNING" | "PAUSING" | "PAUSED")
    }

    /// Whether the function may be invoked now (not paused).
    pub fn may_invoke(&self) -> bool {
        self.status == "RUNNING"
    }

    /// When the execution times out, as of `now`: its timeout moves out by the time it spent
    /// paused with the timeout paused (up to 366 days after it started).
    pub fn deadline(&self, now: i64) -> i64 {
        let mut paused = self.paused_ms;
        if let Some(pause) = self.pause.as_ref().filter(|p| p.timeout_paused) {
            paused += (now - pause.requested_ms).max(0);
        }
        let base = self.start_ms + self.timeout_s * 1000;
        if paused == 0 {
            base
        } else {
            (base + paused).min((self.start_ms + PAUSED_TIMEOUT_CAP_MS).max(base))
        }
    }

    pub fn token(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.token_seq, self.id))
    }

    /// Rotate the checkpoint token (a new invocation, or an accepted checkpoint).
    pub fn next_token(&mut self) -> String {
        self.token_seq += 1;
        self.token()
    }

    /// The qualified ARN of the function version this execution runs.
    pub fn function_arn(&self) -> String {
        format!("arn:aws:lambda:{}:{}:function:{}:{}", self.region, self.account, self.function_name, self.version)
    }

    /// Append a history event; `op` supplies Id/Name/ParentId/SubType.
    pub fn record(&mut self, event_type: &str, op: Option<&Operation>, at_ms: i64, details: Value) {
        let mut event = json!({
            "EventType": event_type,
            "EventId": self.events.len() + 1,
            "EventTimestamp": at_ms,
        });
        if let Some(op) = op {
            event["Id"] = json!(op.id);
            if let Some(n) = &op.name {
                event["Name"] = json!(n);
            }
            if let Some(p) = &op.parent_id {
                event["ParentId"] = json!(p);
            }
            if let Some(s) = &op.sub_type {
                event["SubType"] = json!(s);
            }
        }
        event[format!("{event_type}Details")] = details;
        self.events.push(event);
    }

    /// Whether something is still to come: a timer, a callback or a chained invoke.
    pub fn has_pending(&self) -> bool {
        self.ops.iter().any(|op| {
            matches!(
                (op.kind.as_str(), op.status.as_str()),
                ("WAIT", "STARTED") | ("STEP", "PENDING") | ("CALLBACK", "STARTED") | ("CHAINED_INVOKE", "STARTED")
            )
        })
    }

    /// The earliest moment a timer of this execution fires (operations and the execution timeout).
    pub fn next_due(&self) -> Option<i64> {
        if !self.is_running() {
            return None;
        }
        // A paused timeout moves while paused; the scheduler's regular tick checks it again.
        let deadline = self.deadline(self.pause.as_ref().map_or(0, |p| p.requested_ms));
        let retry = self.retry_at.filter(|_| !self.invoking);
        self.ops.iter().filter_map(Operation::next_due).chain([deadline]).chain(retry).min()
    }

    /// Complete the timers that are due at `now`; returns whether anything changed.
    pub fn fire_due(&mut self, now: i64) -> bool {
        let due: Vec<String> =
            self.ops.iter().filter(|op| op.next_due().is_some_and(|t| t <= now)).map(|op| op.id.clone()).collect();
        for id in &due {
            let Some(op) = self.op_mut(id) else { continue };
            let kind = op.kind.clone();
            let mut event: Option<(&str, Value)> = None;
            match kind.as_str() {
                "WAIT" => {
                    op.status = "SUCCEEDED".into();
                    op.end_ms = Some(now);
                    let duration = op
                        .details
                        .get("ScheduledEndTimestamp")
                        .and_then(Value::as_i64)
                        .map_or(0, |end| (end - op.start_ms + 500) / 1000);
                    event = Some(("WaitSucceeded", json!({"Duration": duration})));
                }
                "STEP" => op.status = "READY".into(),
                _ => {
                    // Whichever deadline came first ended the callback.
                    let heartbeat = op.heartbeat_at.is_some_and(|h| h <= now && op.timeout_at.is_none_or(|t| h < t));
                    let (error_type, message) = if heartbeat {
                        ("Callback.Heartbeat", "Callback timed out on heartbeat")
                    } else {
                        ("Callback.Timeout", "Callback timed out")
                    };
                    let error = json!({"ErrorType": error_type, "ErrorMessage": message});
                    op.status = "TIMED_OUT".into();
                    op.end_ms = Some(now);
                    op.timeout_at = None;
                    op.heartbeat_at = None;
                    op.details.insert("Error".into(), error.clone());
                    event = Some(("CallbackTimedOut", json!({"Error": {"Payload": error, "Truncated": false}})));
                }
            }
            if let Some((event_type, details)) = event {
                let snapshot = self.op(id).cloned();
                self.record(event_type, snapshot.as_ref(), now, details);
            }
            self.unseen.insert(id.clone());
        }
        if self.retry_at.is_some_and(|t| t <= now) && !self.invoking {
            self.retry_at = None;
            self.wake = true;
        }
        if !due.is_empty() {
            self.wake = true;
        }
        !due.is_empty()
    }

    /// Close the execution now (the function is not running): status, terminal event, timestamps.
    pub fn close(&mut self, terminal: Terminal, now: i64) {
        self.end_pause(now);
        self.status = terminal.status.clone();
        self.end_ms = Some(now);
        self.result = terminal.result.clone();
        self.error = terminal.error.clone();
        self.closing = None;
        self.wake = false;
        self.retry_at = None;
        let exec_id = self.id.clone();
        if let Some(op) = self.op_mut(&exec_id) {
            op.status = terminal.status.clone();
            op.end_ms = Some(now);
        }
        let error =
            |e: &Option<Value>| json!({"Error": {"Payload": e.clone().unwrap_or(json!({})), "Truncated": false}});
        let (event_type, details) = match terminal.status.as_str() {
            "SUCCEEDED" => (
                "ExecutionSucceeded",
                json!({"Result": {"Payload": terminal.result.clone().unwrap_or_default(), "Truncated": false}}),
            ),
            "FAILED" => ("ExecutionFailed", error(&terminal.error)),
            "TIMED_OUT" => ("ExecutionTimedOut", error(&terminal.error)),
            _ => ("ExecutionStopped", error(&terminal.error)),
        };
        let exec_op = self.op(&exec_id).cloned();
        self.record(event_type, exec_op.as_ref(), now, details);
        // Open callbacks can no longer be completed.
        for op in &mut self.ops {
            op.timeout_at = None;
            op.heartbeat_at = None;
        }
    }

    /// End a pause (resumed or closed): the time spent paused counts toward a paused timeout.
    pub fn end_pause(&mut self, now: i64) {
        if let Some(pause) = self.pause.take() {
            if pause.timeout_paused {
                self.paused_ms += (now - pause.requested_ms).max(0);
            }
        }
    }

    /// The summary `ListDurableExecutionsByFunction` returns.
    pub fn summary(&self) -> Value {
        let mut out = json!({
            "DurableExecutionArn": self.arn,
            "DurableExecutionName": self.name,
            "FunctionArn": self.function_arn(),
            "Status": self.status,
            "StartTimestamp": seconds(self.start_ms),
        });
        if let Some(end) = self.end_ms {
            out["EndTimestamp"] = seconds(end);
        }
        out
    }
}

/// Render a stored history event for the API: timestamps as seconds, payloads optional.
pub fn render_event(event: &Value, include_data: bool) -> Value {
    let mut out = event.clone();
    if let Some(ms) = event["EventTimestamp"].as_i64() {
        out["EventTimestamp"] = seconds(ms);
    }
    if let Some(Value::Object(details)) = event_details_mut(&mut out) {
        for (key, value) in details.iter_mut() {
            match key.as_str() {
                "ScheduledEndTimestamp"
                | "StartTimestamp"
                | "EndTimestamp"
                | "PauseRequestTimestamp"
                | "ResumeRequestTimestamp" => {
                    if let Some(ms) = value.as_i64() {
                        *value = seconds(ms);
                    }
                }
                "Input" | "Result" | "Reason" if !include_data => {
                    *value = json!({"Truncated": true});
                }
                "Error" if !include_data => {
                    value["Truncated"] = json!(true);
                }
                _ => {}
            }
        }
    }
    out
}

fn event_details_mut(event: &mut Value) -> Option<&mut Value> {
    let key = format!("{}Details", event["EventType"].as_str()?);
    event.get_mut(&key)
}

/// All durable executions, with the journal that keeps them across restarts.
pub struct Durable {
    pub executions: Mutex<HashMap<String, Execution>>,
    journal: Option<Journal>,
    /// Wakes the scheduler when something became runnable.
    pub notify: std::sync::Arc<tokio::sync::Notify>,
    /// Announces executions that closed (their ARNs), for synchronous invokes that wait.
    pub closed: tokio::sync::broadcast::Sender<String>,
    /// Accepted checkpoint calls and the operation updates they carried (introspection).
    pub checkpoints: std::sync::atomic::AtomicU64,
    pub updates: std::sync::atomic::AtomicU64,
}

impl Durable {
    pub fn open(dir: Option<&Path>) -> std::io::Result<Durable> {
        let (journal, executions) = match dir {
            None => (None, HashMap::new()),
            Some(dir) => {
                let (journal, records) = Journal::open(dir, "durable")?;
                (Some(journal), load(records))
            }
        };
        Ok(Durable {
            executions: Mutex::new(executions),
            journal,
            notify: Default::default(),
            closed: tokio::sync::broadcast::channel(1024).0,
            checkpoints: Default::default(),
            updates: Default::default(),
        })
    }

    /// Journal what changed in `exec` since it was last saved.
    pub fn save(&self, exec: &mut Execution) -> Result<()> {
        let Some(journal) = &self.journal else {
            exec.dirty_ops.clear();
            exec.saved_events = exec.events.len();
            return Ok(());
        };
        let mut changes = vec![(format!("x/{}", exec.arn), Some(serde_json::to_value(&*exec).expect("serializes")))];
        for id in std::mem::take(&mut exec.dirty_ops) {
            if let Some(op) = exec.op(&id) {
                changes.push((format!("o/{}/{}", exec.arn, id), Some(serde_json::to_value(op).expect("serializes"))));
            }
        }
        for (n, event) in exec.events.iter().enumerate().skip(exec.saved_events) {
            changes.push((format!("e/{}/{:08}", exec.arn, n), Some(event.clone())));
        }
        exec.saved_events = exec.events.len();
        journal.write(&changes).map_err(error::storage_error)
    }

    /// Forget an execution whose retention has passed.
    pub fn purge(&self, exec: &Execution) {
        let Some(journal) = &self.journal else { return };
        let mut changes = vec![(format!("x/{}", exec.arn), None)];
        changes.extend(exec.ops.iter().map(|op| (format!("o/{}/{}", exec.arn, op.id), None)));
        changes.extend((0..exec.events.len()).map(|n| (format!("e/{}/{:08}", exec.arn, n), None)));
        if let Err(err) = journal.write(&changes) {
            tracing::warn!(error = %err, "could not purge a durable execution from the journal");
        }
    }

    /// `/_nimbus/lambda/durable`: executions by status and checkpoint counters.
    pub fn stats(&self) -> Value {
        use std::sync::atomic::Ordering::Relaxed;
        let mut by_status: std::collections::BTreeMap<String, u64> = Default::default();
        for exec in self.executions.lock().values() {
            *by_status.entry(exec.status.clone()).or_default() += 1;
        }
        json!({
            "Executions": by_status,
            "Checkpoints": self.checkpoints.load(Relaxed),
            "OperationUpdates": self.updates.load(Relaxed),
        })
    }

    pub fn reset(&self) {
        self.executions.lock().clear();
        if let Some(journal) = &self.journal {
            if let Err(err) = journal.clear() {
                tracing::error!(error = %err, "could not clear the durable journal");
            }
        }
    }
}

/// Rebuild executions from journal records (`x/` headers, `o/` operations, `e/` events).
fn load(records: nimbus_core::journal::Records) -> HashMap<String, Execution> {
    let mut executions: HashMap<String, Execution> = HashMap::new();
    let mut ops: Vec<(String, Operation)> = Vec::new();
    let mut events: Vec<(String, Value)> = Vec::new();
    for (key, value) in records {
        if let Some(arn) = key.strip_prefix("x/") {
            match serde_json::from_value::<Execution>(value) {
                Ok(exec) => {
                    executions.insert(arn.to_string(), exec);
                }
                Err(err) => tracing::warn!(error = %err, "skipping an unreadable durable execution record"),
            }
        } else if let Some(rest) = key.strip_prefix("o/") {
            if let (Some((arn, _)), Ok(op)) = (rest.rsplit_once('/'), serde_json::from_value::<Operation>(value)) {
                ops.push((arn.to_string(), op));
            }
        } else if let Some(rest) = key.strip_prefix("e/") {
            if let Some((arn, _)) = rest.rsplit_once('/') {
                events.push((arn.to_string(), value));
            }
        }
    }
    for (arn, op) in ops {
        if let Some(exec) = executions.get_mut(&arn) {
            exec.index.insert(op.id.clone(), exec.ops.len());
            exec.ops.push(op);
        }
    }
    // Event keys sort by number within an execution (records are a sorted map).
    for (arn, event) in events {
        if let Some(exec) = executions.get_mut(&arn) {
            exec.events.push(event);
        }
    }
    for exec in executions.values_mut() {
        exec.saved_events = exec.events.len();
        exec.ops.sort_by_key(|op| op.seq);
        exec.index = exec.ops.iter().enumerate().map(|(i, op)| (op.id.clone(), i)).collect();
        if exec.is_running() && exec.invoking {
            // The invocation that was running died with the last process: run it again.
            exec.invoking = false;
            exec.wake = true;
            if exec.status == "PAUSING" {
                exec.status = "PAUSED".into();
            }
        }
    }
    executions
}
