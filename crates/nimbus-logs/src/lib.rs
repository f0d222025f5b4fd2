//! Nimbus's CloudWatch Logs over the AWS JSON 1.1 protocol (`X-Amz-Target: Logs_20140328.<Op>`).
//!
//! A request: read the target → decode the JSON body → validate against the service model
//! ([`model`], generated from botocore) → one plain operation function ([`ops`]) over the
//! per-account, per-region [`state::Store`] → journal the changes (with `--data-dir`) → answer.
//!
//! [`Logs`] is the shared state; [`LogsService`] is its HTTP face and [`Logs`] also implements
//! [`LogSink`], through which Lambda writes function output (creating group and stream).

pub mod errors;
pub mod filter;
pub mod model;
pub mod ops;
pub mod state;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use nimbus_core::clock::Clock;
use nimbus_core::journal::Journal;
use nimbus_core::logs::{LogEvent, LogSink};
use nimbus_core::service::BoxFuture;
use nimbus_core::{AwsError, HttpRequest, HttpResponse, RequestContext, Service};
use parking_lot::Mutex;
use serde_json::Value;

use crate::errors::Result;
use crate::model::Lookup;
use crate::state::{Place, Store};

/// CloudWatch Logs state, shared by the HTTP service and the Lambda log sink.
pub struct Logs {
    store: Mutex<Store>,
    journal: Option<Journal>,
    clock: Clock,
}

impl Logs {
    /// In memory without a data dir; otherwise persisted in `DIR/logs/state.journal`.
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<Logs> {
        let (store, journal) = match data_dir {
            None => (Store::default(), None),
            Some(dir) => {
                let (journal, records) = Journal::open(&dir.join("logs"), "state")?;
                let (store, changes) = Store::load(&records);
                journal.write(&changes)?;
                (store, Some(journal))
            }
        };
        Ok(Logs { store: Mutex::new(store), journal, clock })
    }

    /// Run one operation on validated input; its changes are journaled before it returns.
    pub fn call(&self, account: &str, region: &str, now: i64, op: &str, input: &Value) -> Result<Value> {
        let mut store = self.store.lock();
        let mut call = ops::Call { account, region, now, changes: Vec::new() };
        let result = ops::dispatch(&mut store, &mut call, op, input);
        // Even a failed call may have purged expired events; those deletions are journaled too.
        self.persist(&call.changes)?;
        result
    }

    fn persist(&self, changes: &[state::Change]) -> Result<()> {
        match &self.journal {
            Some(journal) if !changes.is_empty() => journal.write(changes).map_err(errors::storage_error),
            _ => Ok(()),
        }
    }

    /// Decode, validate and run one HTTP request.
    pub fn handle_http(&self, ctx: &RequestContext, req: &HttpRequest) -> HttpResponse {
        let result = self
            .prepare(req)
            .and_then(|(op, input)| self.call(&ctx.account, &ctx.region, ctx.clock.now_millis(), &op, &input));
        match result {
            Ok(Value::Null) => HttpResponse::new(200, errors::CONTENT_TYPE, Vec::new()),
            Ok(output) => HttpResponse::new(200, errors::CONTENT_TYPE, serde_json::to_vec(&output).unwrap_or_default()),
            Err(err) => {
                if err.status >= 500 {
                    tracing::error!(error = %err, "logs operation failed");
                }
                errors::render(&err)
            }
        }
    }

    fn prepare(&self, req: &HttpRequest) -> Result<(String, Value)> {
        let model = model::model();
        let target = req.header("x-amz-target").unwrap_or_default();
        let op = target
            .strip_prefix(model.target_prefix.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or_default();
        match model.lookup(op) {
            Lookup::Unknown => {
                return Err(AwsError::new(400, "UnknownOperationException", format!("Unknown operation {target}")))
            }
            Lookup::NotEmulated => {
                return Err(AwsError::new(
                    501,
                    "NotImplemented",
                    format!("CloudWatch Logs operation {op} is not emulated by nimbus"),
                ))
            }
            Lookup::Emulated => {}
        }
        let input: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(&req.body).map_err(|e| errors::serialization(format!("Malformed JSON: {e}")))?
        };
        if !input.is_object() {
            return Err(errors::serialization("The request body must be a JSON object"));
        }
        precheck(op, &input)?;
        model.validate(op, &input)?;
        Ok((op.to_string(), input))
    }

    /// Drop all state (`POST /_nimbus/reset`).
    pub fn reset(&self) {
        let mut store = self.store.lock();
        *store = Store::default();
        if let Some(journal) = &self.journal {
            if let Err(err) = journal.clear() {
                tracing::error!(error = %err, "could not clear the Logs journal");
            }
        }
    }
}

/// Checks AWS makes before its generic validation, with their own messages.
fn precheck(op: &str, input: &Value) -> Result<()> {
    if matches!(op, "CreateLogGroup" | "CreateLogStream") {
        let too_long = ["logGroupName", "logStreamName"]
            .iter()
            .any(|k| input.get(*k).and_then(Value::as_str).is_some_and(|s| s.chars().count() > 512));
        if too_long {
            return Err(errors::invalid_parameter(
                "Invalid LogGroup or LogStream, both must have length less than or equal to 512.",
            ));
        }
    }
    Ok(())
}

impl LogSink for Logs {
    fn put(&self, account: &str, region: &str, group: &str, stream: &str, events: Vec<LogEvent>) {
        if events.is_empty() {
            return;
        }
        let now = self.clock.now_millis();
        let mut batch: Vec<(i64, String)> = events.into_iter().map(|e| (e.timestamp, e.message)).collect();
        batch.sort_by_key(|(ts, _)| *ts);
        let mut store = self.store.lock();
        let mut call = ops::Call { account, region, now, changes: Vec::new() };
        let g = ops::ensure_stream(&mut store, &mut call, group, stream);
        let cutoff = g.retention_cutoff(now);
        let s = g.streams.get_mut(stream).expect("just ensured");
        let (first_seq, record) = s.ingest(&batch, now);
        call.changes.push((state::batch_key(account, region, group, stream, first_seq), Some(record)));
        s.trim(cutoff, Place { account, region, group, stream }, &mut call.changes);
        if let Err(err) = self.persist(&call.changes) {
            tracing::error!(error = %err, group, stream, "could not persist log events");
        }
    }
}

/// The HTTP face of [`Logs`].
pub struct LogsService {
    logs: Arc<Logs>,
}

impl LogsService {
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<LogsService> {
        Ok(LogsService { logs: Arc::new(Logs::open(data_dir, clock)?) })
    }

    /// The shared state, e.g. as the Lambda log sink (`Arc<dyn LogSink>`).
    pub fn logs(&self) -> Arc<Logs> {
        self.logs.clone()
    }

    pub fn sink(&self) -> Arc<dyn LogSink> {
        self.logs.clone()
    }
}

impl Service for LogsService {
    fn name(&self) -> &'static str {
        "logs"
    }

    fn signing_names(&self) -> &'static [&'static str] {
        &["logs"]
    }

    fn claims(&self, req: &HttpRequest) -> bool {
        req.header("x-amz-target").is_some_and(|t| t.starts_with("Logs_20140328."))
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        Box::pin(async move { self.logs.handle_http(&ctx, &req) })
    }

    fn reset(&self) {
        self.logs.reset();
    }
}
