//! The stream poller for Kinesis and DynamoDB Streams, reading through
//! [`StreamReader`] so it never touches the services' state.
//!
//! One supervisor per mapping lists the shards and starts one worker per shard once the shard's
//! parents are read to their end (a child shard never overtakes its parent). A worker reads
//! batches in order, drops records no filter matches, invokes the function, and checkpoints
//! the last sequence number done (persisted with `--data-dir`), so a disabled mapping or a
//! restart resumes where it left off. A failing batch blocks its shard, as on AWS, until it
//! succeeds or is discarded: by `MaximumRetryAttempts`, `MaximumRecordAgeInSeconds`, after
//! `BisectBatchOnFunctionError` halves it down to the poison record, or partially by a
//! `ReportBatchItemFailures` response. Discarded batches go to `DestinationConfig.OnFailure`
//! with AWS's invocation record. `ParallelizationFactor` runs up to ten lanes per shard,
//! keyed by partition key so order per key holds; `TumblingWindowInSeconds` carries the
//! function's `state` through a window and ends it with a final invocation.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nimbus_core::delivery::Delivery;
use nimbus_core::state::{Persist, Store};
use nimbus_core::streams::{Shard, StartingPosition, StreamReader};
use nimbus_core::RequestContext;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::filter::{self, Pattern};
use super::{EventSourceMapping, SourceKind};
use crate::Lambda;

/// How often a supervisor looks for new shards, and a caught-up worker re-reads when its
/// source cannot say that records arrived.
const SHARD_SCAN: Duration = Duration::from_millis(500);
const IDLE_POLL: Duration = Duration::from_millis(50);
/// The longest a caught-up worker waits on its source's change signal before reading again.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// What is persisted per mapping and shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Checkpoint {
    /// Every record up to and including `seq` is done.
    After { seq: String },
    /// The shard is closed and read to its end.
    Ended,
    /// The open tumbling window of a shard: its start (epoch ms) and the function's state.
    Window { start: i64, state: Value },
}

#[derive(Default)]
pub struct Checkpoints(HashMap<String, Checkpoint>);

impl Persist for Checkpoints {
    type Record = Checkpoint;

    fn apply(&mut self, key: &str, record: Option<Checkpoint>) {
        match record {
            Some(c) => self.0.insert(key.to_string(), c),
            None => self.0.remove(key),
        };
    }
}

/// The stream services Lambda reads (wired by the binary) and the checkpoints of every mapping.
pub struct StreamSources {
    readers: RwLock<Vec<(SourceKind, Arc<dyn StreamReader>)>>,
    checkpoints: Store<Checkpoints>,
    /// `<uuid>/<shard>` of the workers running now.
    running: parking_lot::Mutex<std::collections::HashSet<String>>,
}

impl StreamSources {
    /// Checkpoints in memory, or in `DIR/lambda-esm/state.journal`.
    pub fn open(data_dir: Option<&Path>) -> std::io::Result<StreamSources> {
        Ok(StreamSources {
            readers: RwLock::default(),
            checkpoints: Store::open(data_dir, "lambda-esm")?,
            running: Default::default(),
        })
    }

    pub fn register(&self, kind: SourceKind, reader: Arc<dyn StreamReader>) {
        self.readers.write().push((kind, reader));
    }

    fn reader(&self, kind: SourceKind) -> Option<Arc<dyn StreamReader>> {
        self.readers.read().iter().find(|(k, _)| *k == kind).map(|(_, r)| r.clone())
    }

    pub fn checkpoint(&self, uuid: &str, shard: &str) -> Option<Checkpoint> {
        self.checkpoints.read(|c| c.0.get(&format!("{uuid}/{shard}")).cloned())
    }

    fn window(&self, uuid: &str, shard: &str) -> Option<(i64, Value)> {
        match self.checkpoints.read(|c| c.0.get(&format!("{uuid}/{shard}/window")).cloned()) {
            Some(Checkpoint::Window { start, state }) => Some((start, state)),
            _ => None,
        }
    }

    fn save(&self, key: String, checkpoint: Option<Checkpoint>) {
        let result = self.checkpoints.write(|_, changes| {
            match checkpoint {
                Some(c) => changes.put(key, c),
                None => changes.delete(key),
            }
            Ok(())
        });
        if let Err(err) = result {
            tracing::error!(error = %err, "could not persist a stream checkpoint");
        }
    }

    pub fn reset(&self) {
        self.checkpoints.reset();
    }
}

/// The mapping's knobs, read once per batch (an update applies from the next batch on).
struct Knobs {
    batch_size: usize,
    window: Duration,
    max_retries: i64,
    max_age_millis: Option<i64>,
    bisect: bool,
    report_failures: bool,
    on_failure: Option<String>,
    parallel: usize,
    tumbling_millis: i64,
    patterns: Vec<Pattern>,
}

impl Knobs {
    fn of(m: &EventSourceMapping) -> Knobs {
        let int = |k: &str, default: i64| m.settings.get(k).and_then(Value::as_i64).unwrap_or(default);
        let age = int("MaximumRecordAgeInSeconds", -1);
        Knobs {
            batch_size: m.batch_size.max(1) as usize,
            window: Duration::from_secs(u64::from(m.batching_window)),
            max_retries: int("MaximumRetryAttempts", -1),
            max_age_millis: (age >= 0).then_some(age * 1000),
            bisect: m.settings.get("BisectBatchOnFunctionError").and_then(Value::as_bool).unwrap_or(false),
            report_failures: m.function_response_types.iter().any(|t| t == "ReportBatchItemFailures"),
            on_failure: m.settings["DestinationConfig"]["OnFailure"]["Destination"].as_str().map(String::from),
            parallel: int("ParallelizationFactor", 1).clamp(1, 10) as usize,
            tumbling_millis: int("TumblingWindowInSeconds", 0).max(0) * 1000,
            patterns: m.filters.iter().filter_map(|p| Pattern::parse(p).ok()).collect(),
        }
    }
}

/// One record as the poller handles it.
#[derive(Debug, Clone)]
struct Item {
    seq: String,
    arrival_millis: i64,
    /// Records with the same key stay in order across parallel lanes.
    key: String,
    /// The record in Lambda's event shape.
    event: Value,
}

/// What a worker needs to invoke and report.
struct Worker {
    lambda: Arc<Lambda>,
    account: String,
    region: String,
    uuid: String,
    shard: String,
    reader: Arc<dyn StreamReader>,
    kind: SourceKind,
    stream_arn: String,
}

/// The mapping as currently configured, if it still exists and is enabled.
fn current(lambda: &Lambda, account: &str, region: &str, uuid: &str) -> Option<EventSourceMapping> {
    let store = lambda.store.read();
    store.region(account, region)?.event_source_mappings.get(uuid).filter(|m| m.enabled).cloned()
}

/// Run a mapping's supervisor until the mapping is disabled or deleted. Workers run on their
/// own and stop after their current batch once the mapping is disabled, so aborting the
/// supervisor never cuts a batch off before its checkpoint.
pub async fn run(lambda: Arc<Lambda>, account: String, region: String, uuid: String) {
    loop {
        let Some(mapping) = current(&lambda, &account, &region, &uuid) else { return };
        let (Some(reader), Some(arn)) = (lambda.streams.reader(mapping.kind), mapping.event_source_arn.clone()) else {
            tokio::time::sleep(SHARD_SCAN).await;
            continue;
        };
        match reader.shards(&account, &region, &arn) {
            Ok(shards) => {
                for shard in &shards {
                    if !ready(&lambda.streams, &uuid, shard, &shards) {
                        continue;
                    }
                    let Some(claim) = Claim::take(&lambda, format!("{uuid}/{}", shard.shard_id)) else { continue };
                    let worker = Worker {
                        lambda: lambda.clone(),
                        account: account.clone(),
                        region: region.clone(),
                        uuid: uuid.clone(),
                        shard: shard.shard_id.clone(),
                        reader: reader.clone(),
                        kind: mapping.kind,
                        stream_arn: arn.clone(),
                    };
                    let follows_parent = [&shard.parent_shard_id, &shard.adjacent_parent_shard_id]
                        .into_iter()
                        .flatten()
                        .any(|p| shards.iter().any(|s| &s.shard_id == p));
                    tokio::spawn(async move {
                        worker.run(follows_parent).await;
                        drop(claim);
                    });
                }
            }
            Err(err) => {
                tracing::debug!(stream = %arn, error = %err, "event source mapping cannot list shards");
                set_result(&lambda, &account, &region, &uuid, "PROBLEM: Stream not found or not accessible");
            }
        }
        tokio::time::sleep(SHARD_SCAN).await;
    }
}

/// At most one worker per mapping and shard, even across a disable and re-enable.
struct Claim {
    lambda: Arc<Lambda>,
    key: String,
}

impl Claim {
    fn take(lambda: &Arc<Lambda>, key: String) -> Option<Claim> {
        lambda.streams.running.lock().insert(key.clone()).then(|| Claim { lambda: lambda.clone(), key })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.lambda.streams.running.lock().remove(&self.key);
    }
}

/// A shard is read once it is not done and its parents (those still retained) are.
fn ready(sources: &StreamSources, uuid: &str, shard: &Shard, shards: &[Shard]) -> bool {
    if sources.checkpoint(uuid, &shard.shard_id) == Some(Checkpoint::Ended) {
        return false;
    }
    [&shard.parent_shard_id, &shard.adjacent_parent_shard_id].into_iter().flatten().all(|parent| {
        !shards.iter().any(|s| &s.shard_id == parent) || sources.checkpoint(uuid, parent) == Some(Checkpoint::Ended)
    })
}

/// Record the mapping's `LastProcessingResult` when it changes.
fn set_result(lambda: &Lambda, account: &str, region: &str, uuid: &str, result: &str) {
    let mut store = lambda.store.write();
    let Some(mapping) = store.region_mut(account, region).event_source_mappings.get_mut(uuid) else { return };
    if mapping.settings.get("LastProcessingResult").and_then(Value::as_str) == Some(result) {
        return;
    }
    mapping.settings.insert("LastProcessingResult".into(), json!(result));
    let ctx = RequestContext {
        account: account.to_string(),
        region: region.to_string(),
        request_id: String::new(),
        access_key_id: None,
        endpoint: String::new(),
        clock: lambda.clock.clone(),
    };
    let _ = lambda.save_mapping(&ctx, uuid, Some(mapping));
}

fn iso(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// The outcome of one invocation of a batch.
enum Invoked {
    Done {
        response: Value,
    },
    /// `ReportBatchItemFailures`: everything before this index succeeded.
    Partial {
        from: usize,
        response: Value,
    },
    Failed {
        status: u16,
        function_error: Option<String>,
        version: String,
        request_id: String,
    },
}

impl Worker {
    fn key(&self) -> String {
        format!("{}/{}", self.uuid, self.shard)
    }

    fn ctx(&self, mapping: &EventSourceMapping) -> RequestContext {
        RequestContext {
            account: self.account.clone(),
            region: self.region.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            access_key_id: None,
            endpoint: self.lambda.endpoint_or(&mapping.endpoint),
            clock: self.lambda.clock.clone(),
        }
    }

    /// Where to start: after the checkpoint, at the start of a child shard whose parents were
    /// read, or where the mapping says.
    fn start(&self, mapping: &EventSourceMapping, follows_parent: bool) -> Option<StartingPosition> {
        match self.lambda.streams.checkpoint(&self.uuid, &self.shard) {
            Some(Checkpoint::After { seq }) => return Some(StartingPosition::AfterSequence(seq)),
            Some(Checkpoint::Ended) => return None,
            _ => {}
        }
        if follows_parent {
            return Some(StartingPosition::TrimHorizon);
        }
        Some(match mapping.settings.get("StartingPosition").and_then(Value::as_str) {
            Some("TRIM_HORIZON") => StartingPosition::TrimHorizon,
            Some("AT_TIMESTAMP") => {
                let at = mapping.settings.get("StartingPositionTimestamp").and_then(Value::as_f64).unwrap_or(0.0);
                StartingPosition::AtTimestamp((at * 1000.0) as i64)
            }
            // LATEST means records arriving from the mapping's creation on, even those put
            // before this worker got to its first read (Kinesis can say so by time).
            _ if self.kind == SourceKind::Kinesis => {
                StartingPosition::AtTimestamp((mapping.last_modified * 1000.0) as i64)
            }
            _ => StartingPosition::Latest,
        })
    }

    async fn run(self, follows_parent: bool) {
        let Some(mapping) = current(&self.lambda, &self.account, &self.region, &self.uuid) else { return };
        let Some(mut position) = self.start(&mapping, follows_parent) else { return };
        let mut changes = self.reader.changes();
        let mut iterator: Option<String> = None;
        loop {
            let Some(mapping) = current(&self.lambda, &self.account, &self.region, &self.uuid) else { return };
            let knobs = Knobs::of(&mapping);
            let it = match iterator.take() {
                Some(it) => it,
                None => {
                    match self.reader.iterator(&self.account, &self.region, &self.stream_arn, &self.shard, &position) {
                        Ok(it) => it,
                        Err(err) => {
                            tracing::debug!(shard = %self.shard, error = %err, "no shard iterator");
                            tokio::time::sleep(SHARD_SCAN).await;
                            continue;
                        }
                    }
                }
            };
            let (raw, next) = match self.collect(it, &knobs, &mut changes).await {
                Ok(got) => got,
                Err(err) => {
                    // An expired iterator (the clock moved on) is renewed from the position.
                    tracing::debug!(shard = %self.shard, error = %err, "stream read failed");
                    if !err.contains("xpired") {
                        tokio::time::sleep(SHARD_SCAN).await;
                    }
                    continue;
                }
            };
            if let Some(last) = raw.last() {
                self.process(&mapping, &knobs, raw.clone()).await;
                position = StartingPosition::AfterSequence(last.seq.clone());
                self.lambda.streams.save(self.key(), Some(Checkpoint::After { seq: last.seq.clone() }));
            } else if knobs.tumbling_millis > 0 {
                self.close_window_if_due(&mapping, &knobs, None).await;
            }
            match next {
                None => {
                    if knobs.tumbling_millis > 0 {
                        self.close_window_if_due(&mapping, &knobs, Some(i64::MAX)).await;
                    }
                    self.lambda.streams.save(self.key(), Some(Checkpoint::Ended));
                    return;
                }
                Some(next) => {
                    if raw.is_empty() {
                        self.idle(&mut changes).await;
                    }
                    iterator = Some(next);
                }
            }
        }
    }

    async fn idle(&self, changes: &mut Option<tokio::sync::watch::Receiver<u64>>) {
        match changes {
            Some(rx) => {
                let _ = tokio::time::timeout(IDLE_WAIT, rx.changed()).await;
            }
            None => tokio::time::sleep(IDLE_POLL).await,
        }
    }

    /// Read a batch: up to `BatchSize` records, waiting up to the batching window for more
    /// once the first is in. Returns the records and the iterator to read on with.
    async fn collect(
        &self,
        iterator: String,
        knobs: &Knobs,
        changes: &mut Option<tokio::sync::watch::Receiver<u64>>,
    ) -> Result<(Vec<Item>, Option<String>), String> {
        let mut items = Vec::new();
        let mut iterator = Some(iterator);
        let deadline = Instant::now() + knobs.window;
        while let Some(it) = iterator.take() {
            if let Some(rx) = changes.as_mut() {
                rx.borrow_and_update();
            }
            let batch = self.reader.read(&self.account, &self.region, &it, knobs.batch_size - items.len())?;
            let got = batch.records.len();
            items.extend(batch.records.iter().filter_map(|r| self.item(r)));
            iterator = batch.next_iterator;
            let Some(next) = iterator.clone() else { break };
            if items.len() >= knobs.batch_size || knobs.window.is_zero() || items.is_empty() {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if got == 0 {
                match changes.as_mut() {
                    Some(rx) => {
                        let _ = tokio::time::timeout(left.min(IDLE_WAIT), rx.changed()).await;
                    }
                    None => tokio::time::sleep(left.min(IDLE_POLL)).await,
                }
            }
            iterator = Some(next);
        }
        Ok((items, iterator))
    }

    /// A stream API record as Lambda's event record.
    fn item(&self, r: &Value) -> Option<Item> {
        match self.kind {
            SourceKind::Kinesis => {
                let seq = r["SequenceNumber"].as_str()?.to_string();
                let arrival = r["ApproximateArrivalTimestamp"].as_f64().unwrap_or(0.0);
                let key = r["PartitionKey"].as_str().unwrap_or_default().to_string();
                let event = json!({
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": key,
                        "sequenceNumber": seq,
                        "data": r["Data"],
                        "approximateArrivalTimestamp": arrival,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": format!("{}:{seq}", self.shard),
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "",
                    "awsRegion": self.region,
                    "eventSourceARN": self.stream_arn,
                });
                Some(Item { seq, arrival_millis: (arrival * 1000.0).round() as i64, key, event })
            }
            _ => {
                let seq = r["dynamodb"]["SequenceNumber"].as_str()?.to_string();
                let arrival = r["dynamodb"]["ApproximateCreationDateTime"].as_f64().unwrap_or(0.0);
                let key = r["dynamodb"]["Keys"].to_string();
                let mut event = r.clone();
                event["eventSourceARN"] = json!(self.stream_arn);
                Some(Item { seq, arrival_millis: (arrival * 1000.0).round() as i64, key, event })
            }
        }
    }

    fn matches(&self, knobs: &Knobs, item: &Item) -> bool {
        if knobs.patterns.is_empty() {
            return true;
        }
        let view = match self.kind {
            SourceKind::Kinesis => filter::kinesis_record_view(&item.event),
            _ => item.event.clone(),
        };
        filter::any_matches(&knobs.patterns, &view)
    }

    /// Deliver one read batch: filtered, split into lanes or tumbling windows, each retried
    /// until done or discarded.
    async fn process(&self, mapping: &EventSourceMapping, knobs: &Knobs, raw: Vec<Item>) {
        let items: Vec<Item> = raw.into_iter().filter(|i| self.matches(knobs, i)).collect();
        if items.is_empty() {
            return;
        }
        if knobs.tumbling_millis > 0 {
            return self.process_windows(mapping, knobs, items).await;
        }
        if knobs.parallel <= 1 {
            self.deliver(mapping, knobs, items, None).await;
            return;
        }
        let mut lanes: Vec<Vec<Item>> = vec![Vec::new(); knobs.parallel];
        for item in items {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            item.key.hash(&mut h);
            lanes[(h.finish() % knobs.parallel as u64) as usize].push(item);
        }
        let runs = lanes.into_iter().filter(|l| !l.is_empty()).map(|lane| self.deliver(mapping, knobs, lane, None));
        futures_join_all(runs).await;
    }

    /// Tumbling windows: records are grouped by the window their arrival falls in; a window
    /// that is over gets a final invocation with no records before the next one starts.
    async fn process_windows(&self, mapping: &EventSourceMapping, knobs: &Knobs, items: Vec<Item>) {
        let mut groups: Vec<(i64, Vec<Item>)> = Vec::new();
        for item in items {
            let start = item.arrival_millis - item.arrival_millis.rem_euclid(knobs.tumbling_millis);
            match groups.last_mut() {
                Some((s, list)) if *s == start => list.push(item),
                _ => groups.push((start, vec![item])),
            }
        }
        for (start, list) in groups {
            self.close_window_if_due(mapping, knobs, Some(start)).await;
            let state = match self.lambda.streams.window(&self.uuid, &self.shard) {
                Some((s, state)) if s == start => state,
                _ => json!({}),
            };
            let window = self.window_fields(start, knobs, state, false);
            if let Some(response) = self.deliver(mapping, knobs, list, Some(window)).await {
                let state = response.get("state").cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
                self.lambda.streams.save(format!("{}/window", self.key()), Some(Checkpoint::Window { start, state }));
            }
        }
    }

    fn window_fields(&self, start: i64, knobs: &Knobs, state: Value, last: bool) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("window".into(), json!({"start": iso(start), "end": iso(start + knobs.tumbling_millis)}));
        out.insert("state".into(), state);
        out.insert("shardId".into(), json!(self.shard));
        out.insert("eventSourceARN".into(), json!(self.stream_arn));
        out.insert("isFinalInvokeForWindow".into(), json!(last));
        out.insert("isWindowTerminatedEarly".into(), json!(false));
        out
    }

    /// End the open window when it is over: its end has passed on nimbus's clock, or records
    /// of a later window (`next_start`) arrived.
    async fn close_window_if_due(&self, mapping: &EventSourceMapping, knobs: &Knobs, next_start: Option<i64>) {
        let Some((start, state)) = self.lambda.streams.window(&self.uuid, &self.shard) else { return };
        let end = start + knobs.tumbling_millis;
        let due = match next_start {
            Some(next) => next > start,
            None => self.lambda.clock.now_millis() >= end,
        };
        if !due {
            return;
        }
        let fields = self.window_fields(start, knobs, state, true);
        self.deliver(mapping, knobs, Vec::new(), Some(fields)).await;
        self.lambda.streams.save(format!("{}/window", self.key()), None);
    }

    /// Invoke with `items` until they succeed or are discarded; returns the last successful
    /// response (of a tumbling window) when the whole batch succeeded.
    async fn deliver(
        &self,
        mapping: &EventSourceMapping,
        knobs: &Knobs,
        items: Vec<Item>,
        window: Option<Map<String, Value>>,
    ) -> Option<Value> {
        let final_invoke = items.is_empty();
        let mut queue: VecDeque<(Vec<Item>, i64)> = VecDeque::from([(items, 0)]);
        let mut last_response = None;
        while let Some((mut batch, retries)) = queue.pop_front() {
            if let Some(max_age) = knobs.max_age_millis {
                let now = self.lambda.clock.now_millis();
                let (old, fresh): (Vec<Item>, Vec<Item>) =
                    batch.into_iter().partition(|i| now - i.arrival_millis > max_age);
                if !old.is_empty() {
                    self.discard(mapping, knobs, &old, "RecordAgeExceeded", retries, None);
                }
                batch = fresh;
                if batch.is_empty() && !final_invoke {
                    continue;
                }
            }
            match self.invoke(mapping, knobs, &batch, window.clone()).await {
                Invoked::Done { response } => {
                    set_result(&self.lambda, &self.account, &self.region, &self.uuid, "OK");
                    last_response = Some(response);
                }
                Invoked::Partial { from, response } => {
                    set_result(&self.lambda, &self.account, &self.region, &self.uuid, "OK");
                    last_response = Some(response);
                    let rest = batch.split_off(from);
                    if knobs.max_retries >= 0 && retries >= knobs.max_retries {
                        self.discard(mapping, knobs, &rest, "RetryAttemptsExhausted", retries, None);
                        last_response = None;
                    } else {
                        backoff(retries).await;
                        queue.push_front((rest, retries + 1));
                    }
                }
                Invoked::Failed { status, function_error, version, request_id } => {
                    set_result(&self.lambda, &self.account, &self.region, &self.uuid, "PROBLEM: Function call failed");
                    last_response = None;
                    if knobs.max_retries >= 0 && retries >= knobs.max_retries {
                        let failure = json!({
                            "statusCode": status,
                            "executedVersion": version,
                            "functionError": function_error.unwrap_or_default(),
                        });
                        self.discard(
                            mapping,
                            knobs,
                            &batch,
                            "RetryAttemptsExhausted",
                            retries,
                            Some((failure, request_id)),
                        );
                        continue;
                    }
                    if current(&self.lambda, &self.account, &self.region, &self.uuid).is_none() {
                        return None;
                    }
                    backoff(retries).await;
                    if knobs.bisect && batch.len() > 1 {
                        let second = batch.split_off(batch.len() / 2);
                        queue.push_front((second, retries + 1));
                        queue.push_front((batch, retries + 1));
                    } else {
                        queue.push_front((batch, retries + 1));
                    }
                }
            }
        }
        last_response
    }

    async fn invoke(
        &self,
        mapping: &EventSourceMapping,
        knobs: &Knobs,
        batch: &[Item],
        window: Option<Map<String, Value>>,
    ) -> Invoked {
        let failed = |status: u16, error: &str| Invoked::Failed {
            status,
            function_error: Some(error.to_string()),
            version: "$LATEST".into(),
            request_id: String::new(),
        };
        let ctx = self.ctx(mapping);
        let Ok(id) = crate::ident::parse_function(&ctx, &mapping.function_arn, None) else {
            return failed(404, "ResourceNotFoundException");
        };
        let target = match crate::api::invoke::target(&self.lambda, &ctx, &id) {
            Ok(t) => t,
            Err(err) => return failed(err.status, &err.code),
        };
        let role = target.config.role.clone();
        let records: Vec<Value> = batch
            .iter()
            .map(|i| {
                let mut e = i.event.clone();
                if self.kind == SourceKind::Kinesis {
                    e["invokeIdentityArn"] = json!(role);
                }
                e
            })
            .collect();
        let mut event = Map::new();
        event.insert("Records".into(), Value::Array(records));
        if let Some(fields) = window {
            event.extend(fields);
        }
        let payload = Value::Object(event).to_string().into_bytes();
        let outcome = match self.lambda.invoker.invoke(&self.lambda.blobs, &ctx, target, &payload, None).await {
            Ok(o) => o,
            Err(err) => return failed(err.status, &err.code),
        };
        if outcome.function_error.is_some() {
            return Invoked::Failed {
                status: 200,
                function_error: outcome.function_error,
                version: outcome.executed_version,
                request_id: outcome.request_id,
            };
        }
        let response: Value = serde_json::from_slice(&outcome.payload).unwrap_or(Value::Null);
        if !knobs.report_failures {
            return Invoked::Done { response };
        }
        match lowest_failure(&response, batch) {
            Some(None) => Invoked::Done { response },
            Some(Some(from)) => Invoked::Partial { from, response },
            // An unreadable report fails the whole batch, as on AWS.
            None => Invoked::Failed {
                status: 200,
                function_error: None,
                version: outcome.executed_version,
                request_id: outcome.request_id,
            },
        }
    }

    /// Give up on `items`: send AWS's invocation record to the on-failure destination.
    fn discard(
        &self,
        mapping: &EventSourceMapping,
        knobs: &Knobs,
        items: &[Item],
        condition: &str,
        retries: i64,
        failure: Option<(Value, String)>,
    ) {
        tracing::warn!(mapping = %self.uuid, shard = %self.shard, records = items.len(), condition, "stream batch discarded");
        let (Some(destination), Some(first), Some(last)) = (&knobs.on_failure, items.first(), items.last()) else {
            return;
        };
        let info = json!({
            "shardId": self.shard,
            "startSequenceNumber": first.seq,
            "endSequenceNumber": last.seq,
            "approximateArrivalOfFirstRecord": iso(first.arrival_millis),
            "approximateArrivalOfLastRecord": iso(last.arrival_millis),
            "batchSize": items.len(),
            "streamArn": self.stream_arn,
        });
        let (response, request_id) = failure.unwrap_or_else(|| (json!({}), uuid::Uuid::new_v4().to_string()));
        let mut record = json!({
            "requestContext": {
                "requestId": request_id,
                "functionArn": mapping.function_arn,
                "condition": condition,
                "approximateInvokeCount": retries + 1,
            },
            "responseContext": response,
            "version": "1.0",
            "timestamp": iso(self.lambda.clock.now_millis()),
        });
        let info_key = if self.kind == SourceKind::Kinesis { "KinesisBatchInfo" } else { "DDBStreamBatchInfo" };
        record[info_key] = info;
        let Some(deliverer) = self.lambda.deliverer.read().clone() else { return };
        let delivery = Delivery::new(&self.account, &self.region, destination, record.to_string());
        if let Err(err) = deliverer.deliver(&delivery) {
            tracing::warn!(destination, error = %err, "could not deliver the on-failure record");
        }
    }
}

/// `ReportBatchItemFailures`: `Some(None)` when nothing failed, `Some(Some(i))` for the index
/// of the lowest failed sequence number, `None` for a malformed report.
fn lowest_failure(response: &Value, batch: &[Item]) -> Option<Option<usize>> {
    let failures = match response.get("batchItemFailures") {
        None | Some(Value::Null) => return Some(None),
        Some(Value::Array(items)) => items,
        Some(_) => return None,
    };
    let mut lowest: Option<usize> = None;
    for failure in failures {
        let id = failure.get("itemIdentifier").and_then(Value::as_str).filter(|s| !s.is_empty())?;
        let at = batch.iter().position(|i| i.seq == id)?;
        lowest = Some(lowest.map_or(at, |l| l.min(at)));
    }
    Some(lowest)
}

async fn backoff(retries: i64) {
    tokio::time::sleep(Duration::from_millis(20u64 << retries.clamp(0, 6))).await;
}

async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, f) in pending.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => outputs[i] = Some(v),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("every future finished")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(seq: &str) -> Item {
        Item { seq: seq.into(), arrival_millis: 0, key: String::new(), event: Value::Null }
    }

    #[test]
    fn the_lowest_reported_failure_wins() {
        let batch = [item("1"), item("2"), item("3")];
        assert_eq!(lowest_failure(&json!({}), &batch), Some(None));
        assert_eq!(lowest_failure(&json!({"batchItemFailures": []}), &batch), Some(None));
        let report = json!({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]});
        assert_eq!(lowest_failure(&report, &batch), Some(Some(1)));
        assert_eq!(lowest_failure(&json!({"batchItemFailures": [{"itemIdentifier": "9"}]}), &batch), None);
        assert_eq!(lowest_failure(&json!({"batchItemFailures": "x"}), &batch), None);
    }
}
