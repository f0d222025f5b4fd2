//! The HTTP face: DynamoDB and DynamoDB Streams are two models on the shared front, signed
//! with the same name (`dynamodb`) and told apart by `X-Amz-Target`'s prefix. Every operation
//! runs inside the journal-first [`Store`]; a background tick enforces TTL and stream
//! retention on nimbus's clock.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nimbus_core::clock::Clock;
use nimbus_core::front::{unsupported, ModelService, OpResult, Operations};
use nimbus_core::model::{ModelError, ServiceModel};
use nimbus_core::service::BoxFuture;
use nimbus_core::state::{Changes, Store};
use nimbus_core::streams::{Shard, StartingPosition, StreamBatch, StreamReader};
use nimbus_core::{AwsError, HttpRequest, HttpResponse, RequestContext, Service};
use serde_json::{json, Value};

use crate::errors::{serialization, validation};
use crate::ops::{self, streams, ttl, Ctx, Outcome};
use crate::persist::{self, Record};
use crate::state::Db;

const STREAMS_PREFIX: &str = "DynamoDBStreams_20120810.";

pub fn dynamodb_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/dynamodb.json")))
}

pub fn streams_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/dynamodbstreams.json")))
}

/// DynamoDB's state and the Rust-facing handle (Lambda's stream poller via [`StreamReader`]).
pub struct Dynamo {
    store: Store<Db>,
    clock: Clock,
}

impl Dynamo {
    /// In memory without a data dir; otherwise persisted in `DIR/dynamodb/state.journal`.
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<Arc<Dynamo>> {
        Ok(Arc::new(Dynamo { store: Store::open(data_dir, "dynamodb")?, clock }))
    }

    fn ctx(&self, account: &str, region: &str) -> Ctx {
        Ctx { account: account.to_string(), region: region.to_string(), now_millis: self.clock.now_millis() }
    }

    /// Runs one operation: computes its changes from the state, journals them, applies them.
    pub fn run(&self, ctx: &Ctx, f: impl FnOnce(&Db, &Ctx) -> Result<Outcome, AwsError>) -> Result<Value, AwsError> {
        self.store.write(|db, changes| {
            let outcome = f(db, ctx)?;
            record(db, outcome.changes, changes);
            Ok(outcome.output)
        })
    }

    /// TTL deletions and stream trimming due now.
    pub fn sweep(&self) {
        let now = self.clock.now_millis();
        let result = self.store.write(|db, changes| {
            record(db, ttl::sweep(db, now), changes);
            Ok(())
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "DynamoDB TTL sweep failed");
        }
    }

    pub fn reset(&self) {
        self.store.reset();
    }

    /// Sweep every second (real time) so TTL and retention follow nimbus's clock closely.
    pub fn start_background(self: &Arc<Self>) {
        nimbus_core::clock::every(Arc::downgrade(self), Duration::from_secs(1), Dynamo::sweep);
    }
}

fn record(db: &Db, list: Vec<crate::state::Change>, changes: &mut Changes<Record>) {
    for change in list {
        for (key, record) in persist::entries(db, change) {
            match record {
                Some(r) => changes.put(key, r),
                None => changes.delete(key),
            }
        }
    }
}

/// DynamoDB words model failures with its Coral namespaces.
fn model_error(err: ModelError) -> AwsError {
    match err {
        ModelError::InvalidContent(m) => serialization(m),
        ModelError::Validation(m) => validation(m),
    }
}

pub struct DynamoOps(pub Arc<Dynamo>);
pub struct StreamsOps(pub Arc<Dynamo>);

impl Operations for DynamoOps {
    fn model(&self) -> &'static ServiceModel {
        dynamodb_model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move {
            let c = self.0.ctx(&ctx.account, &ctx.region);
            self.0.run(&c, |db, c| ops::dispatch(db, c, op, &input).unwrap_or_else(|| Err(unsupported(op))))
        })
    }

    fn reset(&self) {
        self.0.reset();
    }

    fn model_error(&self, err: ModelError) -> AwsError {
        model_error(err)
    }
}

impl Operations for StreamsOps {
    fn model(&self) -> &'static ServiceModel {
        streams_model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move {
            let c = self.0.ctx(&ctx.account, &ctx.region);
            self.0.run(&c, |db, c| match op {
                "ListStreams" => streams::list_streams(db, c, &input),
                "DescribeStream" => streams::describe_stream(db, c, &input),
                "GetShardIterator" => streams::get_shard_iterator(db, c, &input),
                "GetRecords" => streams::get_records(db, c, &input),
                _ => Err(unsupported(op)),
            })
        })
    }

    fn model_error(&self, err: ModelError) -> AwsError {
        model_error(err)
    }
}

/// One service on the router for both APIs (they share the signing name).
pub struct DynamoService {
    dynamo: Arc<Dynamo>,
    tables: ModelService<DynamoOps>,
    streams: ModelService<StreamsOps>,
}

impl DynamoService {
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<DynamoService> {
        let dynamo = Dynamo::open(data_dir, clock)?;
        Ok(DynamoService {
            tables: ModelService::new("dynamodb", &["dynamodb"], Arc::new(DynamoOps(dynamo.clone()))),
            streams: ModelService::new("dynamodbstreams", &["dynamodb"], Arc::new(StreamsOps(dynamo.clone()))),
            dynamo,
        })
    }

    pub fn dynamo(&self) -> &Arc<Dynamo> {
        &self.dynamo
    }

    pub fn start_background(&self) {
        self.dynamo.start_background();
    }

    fn is_streams(req: &HttpRequest) -> bool {
        req.header("x-amz-target").is_some_and(|t| t.starts_with(STREAMS_PREFIX))
    }
}

impl Service for DynamoService {
    fn name(&self) -> &'static str {
        "dynamodb"
    }

    fn signing_names(&self) -> &'static [&'static str] {
        &["dynamodb"]
    }

    fn claims(&self, req: &HttpRequest) -> bool {
        self.tables.claims(req) || self.streams.claims(req)
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        Box::pin(async move {
            if Self::is_streams(&req) {
                self.streams.respond(&ctx, &req).await
            } else {
                self.tables.respond(&ctx, &req).await
            }
        })
    }

    fn reset(&self) {
        self.dynamo.reset();
    }
}

impl StreamReader for Dynamo {
    fn shards(&self, account: &str, region: &str, stream_arn: &str) -> Result<Vec<Shard>, String> {
        let ctx = self.ctx(account, region);
        let out = self
            .run(&ctx, |db, c| streams::describe_stream(db, c, &json!({"StreamArn": stream_arn})))
            .map_err(|e| e.message)?;
        Ok(out["StreamDescription"]["Shards"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| Shard {
                shard_id: s["ShardId"].as_str().unwrap_or_default().to_string(),
                parent_shard_id: s["ParentShardId"].as_str().map(String::from),
                adjacent_parent_shard_id: None,
                closed: s["SequenceNumberRange"].get("EndingSequenceNumber").is_some(),
            })
            .collect())
    }

    fn iterator(
        &self,
        account: &str,
        region: &str,
        stream_arn: &str,
        shard_id: &str,
        from: &StartingPosition,
    ) -> Result<String, String> {
        let (kind, seq) = match from {
            StartingPosition::TrimHorizon => ("TRIM_HORIZON", None),
            StartingPosition::Latest => ("LATEST", None),
            StartingPosition::AtSequence(s) => ("AT_SEQUENCE_NUMBER", Some(s)),
            StartingPosition::AfterSequence(s) => ("AFTER_SEQUENCE_NUMBER", Some(s)),
            StartingPosition::AtTimestamp(_) => return Err("DynamoDB Streams has no AT_TIMESTAMP iterator".into()),
        };
        let input =
            json!({"StreamArn": stream_arn, "ShardId": shard_id, "ShardIteratorType": kind, "SequenceNumber": seq});
        let ctx = self.ctx(account, region);
        let out = self.run(&ctx, |db, c| streams::get_shard_iterator(db, c, &input)).map_err(|e| e.message)?;
        Ok(out["ShardIterator"].as_str().unwrap_or_default().to_string())
    }

    fn read(&self, account: &str, region: &str, iterator: &str, max: usize) -> Result<StreamBatch, String> {
        let input = json!({"ShardIterator": iterator, "Limit": max});
        let ctx = self.ctx(account, region);
        let out = self.run(&ctx, |db, c| streams::get_records(db, c, &input)).map_err(|e| e.message)?;
        Ok(StreamBatch {
            records: out["Records"].as_array().cloned().unwrap_or_default(),
            next_iterator: out["NextShardIterator"].as_str().map(String::from),
        })
    }
}
