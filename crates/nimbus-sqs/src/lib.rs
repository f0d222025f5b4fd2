//! Nimbus's Amazon SQS, over both of its wire protocols on one service: AWS JSON 1.0
//! (`X-Amz-Target: AmazonSQS.<Op>`, errors with `x-amzn-query-error`) and the query protocol
//! (form `Action=…`, XML in `http://queue.amazonaws.com/doc/2012-11-05/`).
//!
//! A request: detect the protocol → decode to the JSON input shape ([`wire`] for query) →
//! validate against the model ([`model`], generated from botocore) → one plain operation
//! function ([`ops`]) over the shared [`state::Store`] → journal the changes (fsync, with
//! `--data-dir`) → wake long-polling receivers → render JSON or XML.
//!
//! [`Sqs`] is the shared state and the Rust-facing handle (Lambda's event source poller via
//! [`QueueSource`], destinations and DLQs via [`Deliver`]); [`SqsService`] is its HTTP face.

pub mod errors;
pub mod md5;
pub mod model;
pub mod ops;
pub mod state;
pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use nimbus_core::clock::Clock;
use nimbus_core::delivery::{Deliver, Delivery};
use nimbus_core::journal::Journal;
use nimbus_core::query::{self, QueryRequest};
use nimbus_core::queue::{QueueKind, QueueMessage, QueueSource};
use nimbus_core::service::BoxFuture;
use nimbus_core::{AwsError, HttpRequest, HttpResponse, RequestContext, Service};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::errors::{err, Result};
use crate::ops::{Call, Loc, Outgoing, ReceiveParams, Selection};
use crate::state::{MessageAttribute, Store};

/// What a Rust-side receive returns: everything Lambda's SQS event record carries.
pub type ReceivedMessage = QueueMessage;

/// How often a long poll re-checks the queue besides being notified (nimbus's clock may move).
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// SQS state, shared by the HTTP service, Lambda's poller and Lambda's deliveries.
pub struct Sqs {
    me: Weak<Sqs>,
    store: Mutex<Store>,
    journal: Option<Journal>,
    clock: Clock,
    /// Move tasks with a background driver.
    drivers: Mutex<std::collections::HashSet<String>>,
}

enum Protocol {
    Json,
    Query,
}

impl Sqs {
    /// In memory without a data dir; otherwise persisted in `DIR/sqs/state.journal`.
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<Arc<Sqs>> {
        let (store, journal) = match data_dir {
            None => (Store::default(), None),
            Some(dir) => {
                let (journal, records) = Journal::open(&dir.join("sqs"), "state")?;
                (Store::load(&records), Some(journal))
            }
        };
        Ok(Arc::new_cyclic(|me| Sqs {
            me: me.clone(),
            store: Mutex::new(store),
            journal,
            clock,
            drivers: Mutex::default(),
        }))
    }

    fn arc(&self) -> Arc<Sqs> {
        self.me.upgrade().expect("Sqs is always held in an Arc")
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Run `f` under the lock; its changes are durable before this returns, and waiting
    /// receivers of touched queues are woken afterwards. Journal first in effect: if the changes
    /// cannot be journaled, memory is rebuilt from the journal (queues, messages, deduplication
    /// windows, move tasks), so a failed write leaves no trace.
    fn with<T>(
        &self,
        account: &str,
        region: &str,
        endpoint: &str,
        sender: &str,
        f: impl FnOnce(&mut Store, &mut Call) -> Result<T>,
    ) -> Result<T> {
        let now = self.clock.now_millis();
        let (result, wake) = {
            let mut store = self.store.lock();
            let mut call = Call::new(account, region, now, endpoint, sender);
            let result = f(&mut store, &mut call);
            if let Some(journal) = &self.journal {
                if !call.changes.is_empty() {
                    if let Err(err) = journal.write(&call.changes) {
                        // The operation ran ahead of the journal, which is as it was: put memory
                        // back to what is durable, so a write answered 500 changes nothing.
                        match journal.records() {
                            Ok(records) => *store = Store::load(&records),
                            Err(reload) => {
                                tracing::error!(error = %reload, "could not reload SQS state after a failed write")
                            }
                        }
                        return Err(errors::storage_error(err));
                    }
                }
            }
            (result, call.wake)
        };
        for n in wake {
            n.notify_waiters();
        }
        result
    }

    /// Decode, validate and run one HTTP request.
    pub async fn handle_http(&self, ctx: &RequestContext, req: &HttpRequest) -> HttpResponse {
        let json_target = req.header("x-amz-target").map(str::to_string);
        let (protocol, decoded) = match &json_target {
            Some(target) => (Protocol::Json, decode_json(target, req)),
            None => (Protocol::Query, decode_query(req)),
        };
        let decoded = decoded.map(|(op, input)| {
            let input = with_trace_header(&op, input, req.header("x-amzn-trace-id"));
            (op, input)
        });
        let result = match decoded {
            Ok((op, input)) => self.execute(ctx, &op, input).await.map(|out| (op, out)),
            Err(e) => Err(e),
        };
        match (protocol, result) {
            (Protocol::Json, Ok((_, out))) => {
                HttpResponse::new(200, errors::JSON_CONTENT_TYPE, serde_json::to_vec(&out).unwrap_or_default())
            }
            (Protocol::Query, Ok((op, out))) => {
                query::response(&op, errors::XMLNS, &ctx.request_id, wire::encode(&op, &out).as_deref())
            }
            (Protocol::Json, Err(e)) => log(e, errors::render_json),
            (Protocol::Query, Err(e)) => log(e, |e| errors::render_query(e, &ctx.request_id)),
        }
    }

    async fn execute(&self, ctx: &RequestContext, op: &str, input: Value) -> Result<Value> {
        model::model().validate(op, &input)?;
        let sender = ctx.access_key_id.clone().unwrap_or_else(|| ctx.account.clone());
        if op == "ReceiveMessage" {
            let params = ops::receive_params(&input)?;
            let url = input.get("QueueUrl").and_then(Value::as_str).unwrap_or_default().to_string();
            let loc = self.with(&ctx.account, &ctx.region, &ctx.endpoint, &sender, |store, call| {
                ops::authorize(store, call, "ReceiveMessage", &input)?;
                ops::resolve(store, call, &url)
            })?;
            let selection = params.selection.clone();
            let messages = self.receive_loc(&loc, &params).await?;
            let messages: Vec<Value> = messages.iter().map(|m| ops::message_json(m, &selection)).collect();
            return Ok(if messages.is_empty() { json!({}) } else { json!({"Messages": messages}) });
        }
        let out = self.with(&ctx.account, &ctx.region, &ctx.endpoint, &sender, |store, call| {
            ops::dispatch(store, call, op, &input)
        })?;
        if op == "StartMessageMoveTask" {
            self.drive_move_tasks();
        }
        Ok(out)
    }

    /// Receive with long polling: wakes as soon as a message arrives (per-queue `Notify`) and
    /// re-checks every 50 ms so visibility/delay expiry on nimbus's clock is noticed too.
    async fn receive_loc(&self, loc: &Loc, params: &ReceiveParams) -> Result<Vec<state::Message>> {
        let wait_secs = match params.wait {
            Some(w) => w,
            None => {
                let store = self.store.lock();
                store
                    .queue(&loc.account, &loc.region, &loc.name)
                    .map(|q| q.attr("ReceiveMessageWaitTimeSeconds", 0))
                    .unwrap_or(0)
            }
        };
        self.receive_until(loc, params, Duration::from_secs(wait_secs as u64)).await
    }

    async fn receive_until(&self, loc: &Loc, params: &ReceiveParams, wait: Duration) -> Result<Vec<state::Message>> {
        let real_deadline = Instant::now() + wait;
        let clock_deadline = self.clock.now_millis() + wait.as_millis() as i64;
        loop {
            let mut notify: Option<Arc<Notify>> = None;
            let got = self.with(&loc.account, &loc.region, "", "", |store, call| {
                let got = ops::try_receive(store, call, loc, params)?;
                notify = store.queue(&loc.account, &loc.region, &loc.name).map(|q| q.notify.clone());
                Ok(got)
            })?;
            if !got.is_empty() || Instant::now() >= real_deadline || self.clock.now_millis() >= clock_deadline {
                return Ok(got);
            }
            let Some(notify) = notify else { return Err(errors::no_queue()) };
            let notified = notify.notified();
            let remaining = real_deadline.saturating_duration_since(Instant::now()).min(POLL_INTERVAL);
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(remaining) => {}
            }
        }
    }

    /// Run rate-limited move tasks in the background, one step per second.
    fn drive_move_tasks(&self) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let running: Vec<(String, String, String, usize)> = {
            let store = self.store.lock();
            store
                .regions
                .iter()
                .flat_map(|((a, r), region)| {
                    region.tasks.values().filter(|t| t.status == "RUNNING").map(move |t| {
                        (a.clone(), r.clone(), t.task_id.clone(), t.max_per_second.unwrap_or(500) as usize)
                    })
                })
                .collect()
        };
        for (account, region, id, rate) in running {
            let sqs = self.arc();
            let key = format!("{account}/{region}/{id}");
            if !sqs.claim_driver(&key) {
                continue;
            }
            rt.spawn(async move {
                loop {
                    let running = sqs
                        .with(&account, &region, "", "", |store, call| {
                            Ok(ops::step_move_task(store, call, &account, &region, &id, rate))
                        })
                        .unwrap_or(false);
                    if !running {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                sqs.release_driver(&key);
            });
        }
    }

    fn claim_driver(&self, key: &str) -> bool {
        self.drivers.lock().insert(key.to_string())
    }

    fn release_driver(&self, key: &str) {
        self.drivers.lock().remove(key);
    }

    /// Drop all state (`POST /_nimbus/reset`).
    pub fn reset(&self) {
        let mut store = self.store.lock();
        for region in store.regions.values() {
            for q in region.queues.values() {
                q.notify.notify_waiters();
            }
        }
        *store = Store::default();
        if let Some(journal) = &self.journal {
            if let Err(e) = journal.clear() {
                tracing::error!(error = %e, "could not clear the SQS journal");
            }
        }
    }

    // ------------------------------------------------------------ Rust-facing handle

    fn loc_of(&self, account: &str, region: &str, queue_arn: &str) -> std::result::Result<Loc, String> {
        let (a, r, name) = state::parse_arn(queue_arn).ok_or_else(|| format!("not an SQS queue ARN: {queue_arn}"))?;
        let loc = Loc {
            account: if a.is_empty() { account.to_string() } else { a },
            region: if r.is_empty() { region.to_string() } else { r },
            name,
        };
        if self.store.lock().queue(&loc.account, &loc.region, &loc.name).is_none() {
            return Err(format!("{}: {queue_arn}", errors::NO_QUEUE));
        }
        Ok(loc)
    }

    /// Receive up to `max` (1..=10) messages with all attributes, long-polling up to `wait`;
    /// `visibility` overrides the queue's visibility timeout (seconds).
    pub async fn receive(
        &self,
        account: &str,
        region: &str,
        queue_arn: &str,
        max: usize,
        wait: Duration,
        visibility: Option<u32>,
    ) -> std::result::Result<Vec<ReceivedMessage>, String> {
        let loc = self.loc_of(account, region, queue_arn)?;
        let params = ReceiveParams {
            max: max.clamp(1, 10),
            visibility: visibility.map(i64::from),
            wait: None,
            attempt: None,
            selection: Selection::all(),
        };
        let got = self.receive_until(&loc, &params, wait).await.map_err(|e| e.message)?;
        Ok(got.iter().map(received).collect())
    }

    /// Delete messages by receipt handle (unknown or stale handles are ignored, as AWS does).
    pub fn delete(
        &self,
        account: &str,
        region: &str,
        queue_arn: &str,
        receipt_handles: &[String],
    ) -> std::result::Result<(), String> {
        let loc = self.loc_of(account, region, queue_arn)?;
        self.with(&loc.account, &loc.region, "", "", |store, call| {
            let mut first_error = None;
            for h in receipt_handles {
                if let Err(e) = ops::delete_one(store, call, &loc, h) {
                    first_error.get_or_insert(e);
                }
            }
            first_error.map_or(Ok(()), Err)
        })
        .map_err(|e| e.message)
    }

    /// Change the visibility timeout (seconds) of an in-flight message.
    pub fn change_visibility(
        &self,
        account: &str,
        region: &str,
        queue_arn: &str,
        receipt_handle: &str,
        timeout: u32,
    ) -> std::result::Result<(), String> {
        let loc = self.loc_of(account, region, queue_arn)?;
        self.with(&loc.account, &loc.region, "", "", |store, call| {
            ops::change_one(store, call, &loc, receipt_handle, Some(i64::from(timeout)))
        })
        .map_err(|e| e.message)
    }

    /// Send a message; `attributes` become `String` message attributes. FIFO queues get
    /// message group `default` and a fresh deduplication id. Returns the message id.
    pub fn send(
        &self,
        account: &str,
        region: &str,
        queue_arn: &str,
        body: &str,
        attributes: &[(String, String)],
    ) -> std::result::Result<String, String> {
        self.send_delivery(&Delivery::new(account, region, queue_arn, body).with_attributes(attributes.to_vec()))
    }

    /// Send one delivery: its string and typed attributes, and its FIFO group and dedup ids
    /// (a FIFO queue without them gets a fresh dedup id and the group `default`).
    pub fn send_delivery(&self, d: &Delivery) -> std::result::Result<String, String> {
        let loc = self.loc_of(&d.account, &d.region, &d.target_arn)?;
        let body = d.message.as_str();
        let mut attrs: BTreeMap<String, MessageAttribute> = d
            .attributes
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    MessageAttribute { data_type: "String".into(), string_value: Some(v.clone()), binary_value: None },
                )
            })
            .collect();
        for (name, data_type, value) in &d.typed_attributes {
            let binary = data_type.starts_with("Binary");
            attrs.insert(
                name.clone(),
                MessageAttribute {
                    data_type: data_type.clone(),
                    string_value: (!binary).then(|| value.clone()),
                    binary_value: binary.then(|| {
                        use base64::Engine;
                        base64::engine::general_purpose::STANDARD.decode(value).unwrap_or_default()
                    }),
                },
            );
        }
        let sender = loc.account.clone();
        let out = self
            .with(&loc.account, &loc.region, "", &sender, |store, call| {
                let fifo = store.queue(&loc.account, &loc.region, &loc.name).is_some_and(|q| q.meta.fifo);
                let outgoing = Outgoing {
                    body: body.to_string(),
                    delay: None,
                    attributes: attrs,
                    system_attributes: BTreeMap::new(),
                    dedup: fifo
                        .then(|| d.dedup_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())),
                    group: fifo.then(|| d.group_id.clone().unwrap_or_else(|| "default".to_string())),
                };
                ops::send_one(store, call, &loc, outgoing)
            })
            .map_err(|e| e.message)?;
        Ok(out["MessageId"].as_str().unwrap_or_default().to_string())
    }

    /// All queue attributes (as GetQueueAttributes `All`).
    pub fn queue_attributes(
        &self,
        account: &str,
        region: &str,
        queue_arn: &str,
    ) -> std::result::Result<BTreeMap<String, String>, String> {
        let loc = self.loc_of(account, region, queue_arn)?;
        let store = self.store.lock();
        let q = store.queue(&loc.account, &loc.region, &loc.name).ok_or_else(|| errors::NO_QUEUE.to_string())?;
        Ok(ops::queue_attributes(q, self.clock.now_millis(), &["All".to_string()]))
    }

    pub fn exists(&self, account: &str, region: &str, queue_arn: &str) -> bool {
        self.loc_of(account, region, queue_arn).is_ok()
    }
}

fn log(e: AwsError, render: impl FnOnce(&AwsError) -> HttpResponse) -> HttpResponse {
    if e.status >= 500 {
        tracing::error!(error = %e, "sqs operation failed");
    } else {
        tracing::debug!(code = %e.code, message = %e.message, "sqs error");
    }
    render(&e)
}

fn received(m: &state::Message) -> ReceivedMessage {
    let mut message_attributes = serde_json::Map::new();
    for (k, a) in &m.attributes {
        use base64::Engine;
        // Lambda's shape: `stringValue` or `binaryValue`, never both, never a null member.
        let mut attribute = json!({"stringListValues": [], "binaryListValues": [], "dataType": a.data_type});
        match (&a.string_value, &a.binary_value) {
            (_, Some(b)) => attribute["binaryValue"] = json!(base64::engine::general_purpose::STANDARD.encode(b)),
            (Some(s), None) => attribute["stringValue"] = json!(s),
            (None, None) => {}
        }
        message_attributes.insert(k.clone(), attribute);
    }
    let mut attributes = ops::system_attributes(m);
    attributes.remove("DeadLetterQueueSourceArn");
    QueueMessage {
        message_id: m.id.clone(),
        receipt_handle: m.receipt.clone().unwrap_or_default(),
        body: m.body.clone(),
        attributes,
        message_attributes: Value::Object(message_attributes),
        md5_of_body: m.md5_body.clone(),
        md5_of_message_attributes: md5::attributes_md5(&m.attributes),
    }
}

/// SQS keeps the X-Ray trace header a sender's request carries (`X-Amzn-Trace-Id`, which the AWS
/// SDKs add inside Lambda functions) as the message's `AWSTraceHeader` system attribute, unless
/// the message sets that attribute itself. Lambda's recursive-loop detection reads it back.
fn with_trace_header(op: &str, mut input: Value, header: Option<&str>) -> Value {
    let Some(header) = header.filter(|h| !h.is_empty()) else { return input };
    let attribute = json!({"DataType": "String", "StringValue": header});
    let add = |message: &mut Value| {
        if let Some(obj) = message.as_object_mut() {
            let system = obj.entry("MessageSystemAttributes").or_insert_with(|| json!({}));
            if let Some(system) = system.as_object_mut() {
                system.entry("AWSTraceHeader").or_insert_with(|| attribute.clone());
            }
        }
    };
    match op {
        "SendMessage" => add(&mut input),
        "SendMessageBatch" => {
            for entry in input.get_mut("Entries").and_then(Value::as_array_mut).into_iter().flatten() {
                add(entry);
            }
        }
        _ => {}
    }
    input
}

fn decode_json(target: &str, req: &HttpRequest) -> Result<(String, Value)> {
    let m = model::model();
    let op = target.strip_prefix(&format!("{}.", m.target_prefix)).unwrap_or_default();
    if !m.has_operation(op) {
        return Err(err("UnknownOperationException", format!("Unknown operation {target}")));
    }
    let input: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&req.body).map_err(|e| err("SerializationException", format!("Malformed JSON: {e}")))?
    };
    if !input.is_object() {
        return Err(err("SerializationException", "The request body must be a JSON object"));
    }
    Ok((op.to_string(), with_path_queue(input, req)))
}

fn decode_query(req: &HttpRequest) -> Result<(String, Value)> {
    let q = QueryRequest::from_http(req);
    let m = model::model();
    let Some(action) = q.action().filter(|a| !a.is_empty()) else {
        return Err(err("MissingRequiredParameterException", "The request must contain the parameter Action."));
    };
    if !m.has_operation(action) {
        return Err(err("UnknownOperationException", format!("The action {action} is not valid for this endpoint.")));
    }
    let input = wire::decode(&q.params, action, &[]);
    Ok((action.to_string(), with_path_queue(input, req)))
}

/// Requests posted to a queue URL (`/<account>/<name>`) name their queue by path.
fn with_path_queue(mut input: Value, req: &HttpRequest) -> Value {
    if input.get("QueueUrl").is_none() && is_queue_path(&req.path) {
        input["QueueUrl"] = json!(req.path);
    }
    input
}

fn is_queue_path(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [account, name] | ["queue", _, account, name] => {
            account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) && !name.is_empty()
        }
        _ => false,
    }
}

impl QueueSource for Sqs {
    fn receive(
        &self,
        account: &str,
        region: &str,
        queue_arn: &str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'static, std::result::Result<Vec<QueueMessage>, String>> {
        let sqs = self.arc();
        let (account, region, arn) = (account.to_string(), region.to_string(), queue_arn.to_string());
        Box::pin(async move { sqs.receive(&account, &region, &arn, max, wait, None).await })
    }

    fn delete(
        &self,
        account: &str,
        region: &str,
        queue_arn: &str,
        receipt_handles: Vec<String>,
    ) -> std::result::Result<(), String> {
        Sqs::delete(self, account, region, queue_arn, &receipt_handles)
    }

    fn queue_kind(&self, account: &str, region: &str, queue_arn: &str) -> Option<QueueKind> {
        let loc = self.loc_of(account, region, queue_arn).ok()?;
        let store = self.store.lock();
        let q = store.queue(&loc.account, &loc.region, &loc.name)?;
        Some(QueueKind {
            fifo: q.meta.fifo,
            visibility_timeout: q.visibility_timeout() as u32,
            has_dead_letter_queue: q.redrive().is_some(),
        })
    }
}

impl Deliver for Sqs {
    fn deliver(&self, d: &Delivery) -> std::result::Result<(), String> {
        self.send_delivery(d).map(|_| ())
    }

    fn reachable(&self, d: &Delivery) -> bool {
        self.loc_of(&d.account, &d.region, &d.target_arn).is_ok()
    }
}

/// The HTTP face of [`Sqs`].
pub struct SqsService {
    sqs: Arc<Sqs>,
}

impl SqsService {
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<SqsService> {
        let sqs = Sqs::open(data_dir, clock)?;
        sqs.drive_move_tasks();
        Ok(SqsService { sqs })
    }

    /// The shared state: Lambda's `QueueSource` and `Deliver`.
    pub fn handle(&self) -> Arc<Sqs> {
        self.sqs.clone()
    }
}

impl Service for SqsService {
    fn name(&self) -> &'static str {
        "sqs"
    }

    fn signing_names(&self) -> &'static [&'static str] {
        &["sqs"]
    }

    fn claims(&self, req: &HttpRequest) -> bool {
        if let Some(target) = req.header("x-amz-target") {
            return target.starts_with("AmazonSQS.");
        }
        if req.header("host").is_some_and(|h| h.starts_with("sqs.")) {
            return true;
        }
        if is_queue_path(&req.path) {
            return true;
        }
        query::action_of(req).is_some_and(|a| model::model().has_operation(&a))
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        Box::pin(async move { self.sqs.handle_http(&ctx, &req).await })
    }

    fn reset(&self) {
        self.sqs.reset();
    }
}

#[cfg(test)]
mod trace_header_tests {
    use super::*;

    #[test]
    fn send_requests_keep_the_trace_header_unless_the_message_sets_one() {
        let header = Some("Root=1-a-b;Lineage=abcd0123:2");
        let single = with_trace_header("SendMessage", json!({"MessageBody": "x"}), header);
        assert_eq!(single["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"], "Root=1-a-b;Lineage=abcd0123:2");
        let own = json!({"MessageBody": "x", "MessageSystemAttributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": "mine"}}});
        let kept = with_trace_header("SendMessage", own, header);
        assert_eq!(kept["MessageSystemAttributes"]["AWSTraceHeader"]["StringValue"], "mine");
        let batch = with_trace_header("SendMessageBatch", json!({"Entries": [{"Id": "1"}, {"Id": "2"}]}), header);
        assert_eq!(batch["Entries"][1]["MessageSystemAttributes"]["AWSTraceHeader"]["DataType"], "String");
        assert_eq!(with_trace_header("ReceiveMessage", json!({}), header), json!({}));
    }
}
