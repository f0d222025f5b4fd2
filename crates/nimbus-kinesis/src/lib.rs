//! Nimbus's Amazon Kinesis Data Streams (JSON 1.1, or CBOR as the Java SDK sends it, on the
//! shared front).
//!
//! Layout:
//! - [`state`]: streams, shards, consumers and records, replayed from the journal.
//! - [`ops`]: one plain function per operation (streams, records, resharding, consumers).
//! - [`Kinesis`]: the store and clock, the front's [`Operations`], a retention sweep on nimbus's
//!   clock, and the [`StreamReader`] Lambda's stream poller reads through.
//! - [`subscribe`]: SubscribeToShard's event stream (enhanced fan-out).

pub mod errors;
pub mod ops;
pub mod state;
pub mod subscribe;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nimbus_core::clock::Clock;
use nimbus_core::front::{unsupported, ModelService, OpResult, Operations};
use nimbus_core::http::HttpResponse;
use nimbus_core::model::ServiceModel;
use nimbus_core::service::BoxFuture;
use nimbus_core::state::Store;
use nimbus_core::streams::{Shard, StartingPosition, StreamBatch, StreamReader};
use nimbus_core::{AwsError, RequestContext};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::ops::Ctx;
use crate::state::{data_key, shard_id, Streams};

pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/kinesis.json")))
}

/// Operations that add records (the poller's wake-up counter moves after them).
const WRITES: &[&str] = &["PutRecord", "PutRecords", "SplitShard", "MergeShards", "UpdateShardCount"];

pub struct Kinesis {
    store: Store<Streams>,
    clock: Clock,
    changed: watch::Sender<u64>,
    subscriptions: subscribe::Subscriptions,
}

impl Kinesis {
    /// In memory without a data dir; otherwise persisted in `DIR/kinesis/state.journal`.
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<Arc<Kinesis>> {
        let (changed, _) = watch::channel(0);
        Ok(Arc::new(Kinesis {
            store: Store::open(data_dir, "kinesis")?,
            clock,
            changed,
            subscriptions: subscribe::Subscriptions::default(),
        }))
    }

    fn ctx(&self, account: &str, region: &str) -> Ctx {
        Ctx { account: account.to_string(), region: region.to_string(), now_millis: self.clock.now_millis() }
    }

    /// Run one operation: it reads the state and records its changes; the store journals them,
    /// then applies them.
    pub fn run(&self, ctx: &Ctx, op: &str, input: &Value) -> OpResult {
        let out = self
            .store
            .write(|db, changes| ops::dispatch(db, ctx, op, input, changes).unwrap_or_else(|| Err(unsupported(op))));
        if out.is_ok() && WRITES.contains(&op) {
            self.changed.send_modify(|n| *n += 1);
        }
        out
    }

    /// Drop records older than their stream's retention period, and closed shards whose
    /// records have all expired.
    pub fn sweep(&self) {
        let now = self.clock.now_millis();
        let result = self.store.write(|db, changes| {
            for ((account, region), streams) in &db.regions {
                for stream in streams.values() {
                    let cutoff = now - i64::from(stream.meta.retention_hours) * 3_600_000;
                    for (shard, list) in &stream.records {
                        for r in list.iter().take_while(|r| r.arrival_millis < cutoff) {
                            changes.delete(data_key(account, region, &stream.meta, *shard, r.counter));
                        }
                    }
                    let expired = |s: &state::ShardMeta| s.closed_millis.is_some_and(|c| c < cutoff);
                    if stream.meta.shards.iter().any(expired) {
                        let mut meta = stream.meta.clone();
                        meta.shards.retain(|s| !expired(s));
                        let ctx = Ctx { account: account.clone(), region: region.clone(), now_millis: now };
                        ops::save(&ctx, meta, changes);
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "Kinesis retention sweep failed");
        }
    }

    pub fn reset(&self) {
        self.subscriptions.clear();
        self.store.reset();
    }

    /// Sweep every second (real time) so retention follows nimbus's clock closely.
    pub fn start_background(self: &Arc<Self>) {
        nimbus_core::clock::every(Arc::downgrade(self), Duration::from_secs(1), Kinesis::sweep);
    }

    /// The service on the router.
    pub fn service(self: &Arc<Self>) -> ModelService<KinesisOps> {
        ModelService::new("kinesis", &["kinesis"], Arc::new(KinesisOps(self.clone())))
    }
}

pub struct KinesisOps(pub Arc<Kinesis>);

impl Operations for KinesisOps {
    fn model(&self) -> &'static ServiceModel {
        model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move {
            let c = self.0.ctx(&ctx.account, &ctx.region);
            self.0.run(&c, op, &input)
        })
    }

    fn reset(&self) {
        self.0.reset();
    }

    fn accepts_cbor(&self) -> bool {
        true
    }

    fn answers_raw(&self, op: &str) -> bool {
        op == "SubscribeToShard"
    }

    fn call_raw<'a>(
        &'a self,
        ctx: &'a RequestContext,
        _op: &'a str,
        input: Value,
        cbor: bool,
    ) -> BoxFuture<'a, Result<HttpResponse, AwsError>> {
        Box::pin(async move {
            let c = self.0.ctx(&ctx.account, &ctx.region);
            subscribe::subscribe(&self.0, c, &input, cbor)
        })
    }
}

impl StreamReader for Kinesis {
    fn shards(&self, account: &str, region: &str, stream_arn: &str) -> Result<Vec<Shard>, String> {
        let ctx = self.ctx(account, region);
        let name = ops::name_from_arn(&ctx, stream_arn).ok_or_else(|| format!("not a stream ARN: {stream_arn}"))?;
        self.store.read(|db| {
            let stream = db.stream(account, region, name).ok_or_else(|| format!("stream {name} not found"))?;
            Ok(stream
                .meta
                .shards
                .iter()
                .map(|s| Shard {
                    shard_id: s.id(),
                    parent_shard_id: s.parent.map(shard_id),
                    adjacent_parent_shard_id: s.adjacent_parent.map(shard_id),
                    closed: !s.is_open(),
                })
                .collect())
        })
    }

    fn iterator(
        &self,
        account: &str,
        region: &str,
        stream_arn: &str,
        shard_id: &str,
        from: &StartingPosition,
    ) -> Result<String, String> {
        let mut input = json!({"StreamARN": stream_arn, "ShardId": shard_id});
        match from {
            StartingPosition::TrimHorizon => input["ShardIteratorType"] = json!("TRIM_HORIZON"),
            StartingPosition::Latest => input["ShardIteratorType"] = json!("LATEST"),
            StartingPosition::AtSequence(s) => {
                input["ShardIteratorType"] = json!("AT_SEQUENCE_NUMBER");
                input["StartingSequenceNumber"] = json!(s);
            }
            StartingPosition::AfterSequence(s) => {
                input["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
                input["StartingSequenceNumber"] = json!(s);
            }
            StartingPosition::AtTimestamp(ms) => {
                input["ShardIteratorType"] = json!("AT_TIMESTAMP");
                input["Timestamp"] = json!(*ms as f64 / 1000.0);
            }
        }
        let out = self.run(&self.ctx(account, region), "GetShardIterator", &input).map_err(|e| e.message)?;
        Ok(out["ShardIterator"].as_str().unwrap_or_default().to_string())
    }

    fn read(&self, account: &str, region: &str, iterator: &str, max: usize) -> Result<StreamBatch, String> {
        let input = json!({"ShardIterator": iterator, "Limit": max.clamp(1, 10_000)});
        let out = self.run(&self.ctx(account, region), "GetRecords", &input).map_err(|e| e.message)?;
        Ok(StreamBatch {
            records: out["Records"].as_array().cloned().unwrap_or_default(),
            next_iterator: out["NextShardIterator"].as_str().map(String::from),
        })
    }

    fn changes(&self) -> Option<watch::Receiver<u64>> {
        Some(self.changed.subscribe())
    }
}
