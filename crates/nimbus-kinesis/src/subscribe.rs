//! SubscribeToShard: enhanced fan-out's push of a shard's records to a registered consumer as
//! an AWS event stream (`application/vnd.amazon.eventstream`).
//!
//! The answer is an `initial-response` event, then `SubscribeToShardEvent`s: one as soon as
//! records are there (the pump wakes on every write, not on a poll), one with no records every
//! [`HEARTBEAT`] otherwise, and a last one naming the `ChildShards` when a closed shard is read
//! to its end. A subscription lasts [`LIFETIME`] on nimbus's clock, then the stream ends, as on
//! AWS. A second call for the same consumer and shard within [`TAKEOVER_AFTER`] of a successful
//! one is refused with `ResourceInUseException`; a later one takes the subscription over and
//! the earlier stream ends with that exception.
//!
//! Records are read through GetShardIterator and GetRecords, so a subscription sees exactly
//! what a polling consumer sees. Event payloads are JSON, or CBOR when the request was CBOR.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nimbus_core::eventstream;
use nimbus_core::front::cbor;
use nimbus_core::http::{Body, Chunk, HttpResponse};
use nimbus_core::AwsError;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use crate::errors::in_use;
use crate::ops::Ctx;
use crate::Kinesis;

/// How long a subscription delivers events (nimbus's clock).
pub const LIFETIME_MILLIS: i64 = 5 * 60 * 1000;
pub const LIFETIME: Duration = Duration::from_millis(LIFETIME_MILLIS as u64);
/// A new call for the same consumer and shard within this of a successful one is refused.
pub const TAKEOVER_AFTER_MILLIS: i64 = 5_000;
pub const TAKEOVER_AFTER: Duration = Duration::from_millis(TAKEOVER_AFTER_MILLIS as u64);
/// An event without records is sent when nothing was sent for this long (real time).
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How often the pump looks at the clock, the consumer and the connection when nothing is
/// written (real time).
const TICK: Duration = Duration::from_millis(500);
/// Records read for one event at most (GetRecords' own limits apply too).
const EVENT_RECORDS: u64 = 10_000;

const JSON_CONTENT_TYPE: &str = "application/json";

/// One live subscription of a consumer to a shard.
pub struct Active {
    id: u64,
    started_millis: i64,
    /// Set when a later call takes the subscription over.
    taken_over: watch::Sender<bool>,
}

#[derive(Default)]
pub struct Subscriptions {
    next_id: AtomicU64,
    /// By (account, region, consumer ARN, shard id).
    active: parking_lot::Mutex<std::collections::HashMap<(String, String, String, String), Active>>,
}

impl Subscriptions {
    /// End every subscription (reset).
    pub fn clear(&self) {
        for (_, active) in self.active.lock().drain() {
            let _ = active.taken_over.send(true);
        }
    }
}

/// How event payloads are written: as the request was.
#[derive(Clone, Copy)]
enum Format {
    Json,
    Cbor,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Json => JSON_CONTENT_TYPE,
            Format::Cbor => cbor::CONTENT_TYPE,
        }
    }

    fn payload(self, shape: Option<&str>, value: &Value) -> Vec<u8> {
        match self {
            Format::Json => serde_json::to_vec(value).unwrap_or_default(),
            Format::Cbor => cbor::encode(crate::model(), shape, value),
        }
    }
}

/// Check the request, take the subscription, and answer the event stream.
pub fn subscribe(kinesis: &Arc<Kinesis>, ctx: Ctx, input: &Value, as_cbor: bool) -> Result<HttpResponse, AwsError> {
    let consumer_arn = input["ConsumerARN"].as_str().unwrap_or_default().to_string();
    let shard_id = input["ShardId"].as_str().unwrap_or_default().to_string();
    let described = kinesis.run(&ctx, "DescribeStreamConsumer", &json!({"ConsumerARN": consumer_arn}))?;
    let consumer = &described["ConsumerDescription"];
    let stream_arn = consumer["StreamARN"].as_str().unwrap_or_default().to_string();
    if consumer["ConsumerStatus"] != "ACTIVE" {
        return Err(in_use(format!("Consumer {consumer_arn} under account {} is not ACTIVE.", ctx.account)));
    }
    let position = &input["StartingPosition"];
    let mut request = json!({
        "StreamARN": stream_arn,
        "ShardId": shard_id,
        "ShardIteratorType": position["Type"],
    });
    if let Some(seq) = position.get("SequenceNumber") {
        request["StartingSequenceNumber"] = seq.clone();
    }
    if let Some(at) = position.get("Timestamp") {
        request["Timestamp"] = at.clone();
    }
    let iterator =
        kinesis.run(&ctx, "GetShardIterator", &request)?["ShardIterator"].as_str().unwrap_or_default().to_string();

    let key = (ctx.account.clone(), ctx.region.clone(), consumer_arn.clone(), shard_id.clone());
    let stream_name = stream_arn.rsplit('/').next().unwrap_or_default().to_string();
    let (taken_over, taken_rx) = watch::channel(false);
    let id = kinesis.subscriptions.next_id.fetch_add(1, Ordering::Relaxed);
    {
        let mut active = kinesis.subscriptions.active.lock();
        if let Some(current) = active.get(&key) {
            if ctx.now_millis - current.started_millis < TAKEOVER_AFTER_MILLIS {
                return Err(in_use(format!(
                    "Another active subscription exists for this consumer: {}:{stream_name}:{shard_id}:{}",
                    ctx.account,
                    consumer_name(&consumer_arn)
                )));
            }
        }
        let previous = active.insert(key.clone(), Active { id, started_millis: ctx.now_millis, taken_over });
        if let Some(previous) = previous {
            let _ = previous.taken_over.send(true);
        }
    }

    let format = if as_cbor { Format::Cbor } else { Format::Json };
    let (tx, body) = Body::channel(4);
    let pump =
        Pump { kinesis: kinesis.clone(), ctx, consumer_arn, stream_name, shard_id, format, tx, taken_over: taken_rx };
    tokio::spawn(async move {
        let started = pump.ctx.now_millis;
        let kinesis = pump.kinesis.clone();
        pump.run(iterator, started).await;
        let mut active = kinesis.subscriptions.active.lock();
        if active.get(&key).is_some_and(|a| a.id == id) {
            active.remove(&key);
        }
    });
    Ok(HttpResponse {
        status: 200,
        headers: vec![("Content-Type".into(), "application/vnd.amazon.eventstream".into())],
        body,
    })
}

fn consumer_name(arn: &str) -> &str {
    arn.split("/consumer/").nth(1).and_then(|rest| rest.split(':').next()).unwrap_or(arn)
}

struct Pump {
    kinesis: Arc<Kinesis>,
    ctx: Ctx,
    consumer_arn: String,
    stream_name: String,
    shard_id: String,
    format: Format,
    tx: mpsc::Sender<Chunk>,
    taken_over: watch::Receiver<bool>,
}

impl Pump {
    async fn send(&self, frame: Vec<u8>) -> bool {
        self.tx.send(Ok(frame.into())).await.is_ok()
    }

    async fn event(&self, event: &Value) -> bool {
        let payload = self.format.payload(Some("SubscribeToShardEvent"), event);
        self.send(eventstream::event("SubscribeToShardEvent", self.format.content_type(), &payload)).await
    }

    async fn exception(&self, err: &AwsError) {
        let payload = self.format.payload(None, &json!({"message": err.message}));
        let _ = self.send(eventstream::exception(&err.code, self.format.content_type(), &payload)).await;
    }

    fn now_ctx(&self) -> Ctx {
        self.kinesis.ctx(&self.ctx.account, &self.ctx.region)
    }

    async fn run(mut self, mut iterator: String, started_millis: i64) {
        let mut changes = self.kinesis.changed.subscribe();
        let initial = self.format.payload(None, &json!({}));
        if !self.send(eventstream::event("initial-response", self.format.content_type(), &initial)).await {
            return;
        }
        let mut last_sent = tokio::time::Instant::now();
        let mut continuation = crate::ops::records::continuation(&iterator);
        loop {
            if *self.taken_over.borrow() {
                self.exception(&in_use(format!(
                    "Another active subscription exists for this consumer: {}:{}:{}:{}",
                    self.ctx.account,
                    self.stream_name,
                    self.shard_id,
                    consumer_name(&self.consumer_arn)
                )))
                .await;
                return;
            }
            let ctx = self.now_ctx();
            if ctx.now_millis - started_millis >= LIFETIME_MILLIS {
                return;
            }
            // The consumer (or its stream) went away: the subscription ends with the error.
            if let Err(err) =
                self.kinesis.run(&ctx, "DescribeStreamConsumer", &json!({"ConsumerARN": self.consumer_arn}))
            {
                self.exception(&err).await;
                return;
            }
            // Mark what was written before this read as seen, so a wake-up means new writes.
            changes.borrow_and_update();
            let out =
                match self.kinesis.run(&ctx, "GetRecords", &json!({"ShardIterator": iterator, "Limit": EVENT_RECORDS}))
                {
                    Ok(out) => out,
                    Err(err) => {
                        self.exception(&err).await;
                        return;
                    }
                };
            let records = out["Records"].as_array().cloned().unwrap_or_default();
            let full = records.len() as u64 >= EVENT_RECORDS;
            let next = out["NextShardIterator"].as_str().map(String::from);
            if let Some(last) = records.last() {
                continuation = last["SequenceNumber"].as_str().map(String::from);
            }
            if !records.is_empty() || next.is_none() || last_sent.elapsed() >= HEARTBEAT {
                let mut event = json!({"Records": records, "MillisBehindLatest": out["MillisBehindLatest"]});
                match &next {
                    // The shard is closed and read to its end: its children, and no continuation.
                    None => event["ChildShards"] = out["ChildShards"].clone(),
                    Some(_) => event["ContinuationSequenceNumber"] = json!(continuation),
                }
                if !self.event(&event).await {
                    return;
                }
                last_sent = tokio::time::Instant::now();
            }
            let Some(next) = next else { return };
            iterator = next;
            if full {
                continue;
            }
            let heartbeat_due = HEARTBEAT.saturating_sub(last_sent.elapsed());
            tokio::select! {
                _ = changes.changed() => {}
                _ = self.taken_over.changed() => {}
                _ = self.tx.closed() => return,
                _ = tokio::time::sleep(TICK.min(heartbeat_due)) => {}
            }
        }
    }
}
