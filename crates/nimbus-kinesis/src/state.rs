//! Kinesis's state: streams (with their shards and consumers) and the records of each shard.
//!
//! The journal keeps one record per stream (`<account>/<region>/<name>`) and one per data record
//! (`<account>/<region>/<name>/<created>/<shard>/<counter>`). A data record names its stream's
//! creation time, so records of a deleted stream never reappear in a new stream of the same name.

use std::collections::{BTreeMap, HashMap, VecDeque};

use nimbus_core::state::Persist;
use serde::{Deserialize, Serialize};

/// The highest hash key, 2^128 - 1.
pub const MAX_HASH: u128 = u128::MAX;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub index: u32,
    pub parent: Option<u32>,
    pub adjacent_parent: Option<u32>,
    /// Inclusive hash-key range, as decimal strings in the journal (JSON has no u128).
    #[serde(with = "u128_string")]
    pub start_hash: u128,
    #[serde(with = "u128_string")]
    pub end_hash: u128,
    /// The counter of the shard's first possible record.
    pub start_counter: u64,
    /// Set once the shard is closed by resharding: the counter of its last possible record.
    pub end_counter: Option<u64>,
    pub created_millis: i64,
    pub closed_millis: Option<i64>,
}

impl ShardMeta {
    pub fn id(&self) -> String {
        shard_id(self.index)
    }

    pub fn is_open(&self) -> bool {
        self.end_counter.is_none()
    }

    pub fn contains(&self, hash: u128) -> bool {
        self.start_hash <= hash && hash <= self.end_hash
    }
}

pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

pub fn shard_index(id: &str) -> Option<u32> {
    id.strip_prefix("shardId-").filter(|d| d.len() == 12).and_then(|d| d.parse().ok())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consumer {
    pub name: String,
    pub arn: String,
    pub created_millis: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub name: String,
    pub arn: String,
    pub created_millis: i64,
    /// `PROVISIONED` or `ON_DEMAND`.
    pub mode: String,
    pub retention_hours: u32,
    /// `NONE` or `KMS`.
    pub encryption: String,
    pub key_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub shards: Vec<ShardMeta>,
    pub consumers: Vec<Consumer>,
    pub policy: Option<String>,
    #[serde(default)]
    pub consumer_policies: BTreeMap<String, String>,
    pub shard_metrics: Vec<String>,
    pub max_record_kib: u32,
}

impl StreamMeta {
    pub fn open_shards(&self) -> impl Iterator<Item = &ShardMeta> {
        self.shards.iter().filter(|s| s.is_open())
    }

    pub fn shard(&self, id: &str) -> Option<&ShardMeta> {
        let index = shard_index(id)?;
        self.shards.iter().find(|s| s.index == index)
    }

    pub fn next_shard_index(&self) -> u32 {
        self.shards.iter().map(|s| s.index + 1).max().unwrap_or(0)
    }
}

/// One data record as stored; `data` stays base64, as the wire carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataRecord {
    pub counter: u64,
    pub arrival_millis: i64,
    pub partition_key: String,
    pub data: String,
    #[serde(default)]
    pub encrypted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Record {
    Stream(Box<StreamMeta>),
    Data { shard: u32, record: DataRecord },
}

#[derive(Debug, Default)]
pub struct StreamData {
    pub meta: StreamMeta,
    /// Records by shard index, in counter order.
    pub records: HashMap<u32, VecDeque<DataRecord>>,
    /// The highest counter handed out (records, shard boundaries).
    pub last_counter: u64,
}

impl Default for StreamMeta {
    fn default() -> Self {
        StreamMeta {
            name: String::new(),
            arn: String::new(),
            created_millis: 0,
            mode: "PROVISIONED".into(),
            retention_hours: 24,
            encryption: "NONE".into(),
            key_id: None,
            tags: BTreeMap::new(),
            shards: Vec::new(),
            consumers: Vec::new(),
            policy: None,
            consumer_policies: BTreeMap::new(),
            shard_metrics: Vec::new(),
            max_record_kib: 1024,
        }
    }
}

impl StreamData {
    pub fn shard_records(&self, index: u32) -> Option<&VecDeque<DataRecord>> {
        self.records.get(&index)
    }

    /// The next counter: strictly increasing, and tied to the clock so sequence numbers grow
    /// across restarts even after every record was trimmed.
    pub fn next_counter(&self, now_millis: i64) -> u64 {
        (self.last_counter + 1).max(now_millis.max(0) as u64 * 1_000_000)
    }
}

/// Streams by account, region and name.
#[derive(Debug, Default)]
pub struct Streams {
    pub regions: HashMap<(String, String), BTreeMap<String, StreamData>>,
}

impl Streams {
    pub fn region(&self, account: &str, region: &str) -> Option<&BTreeMap<String, StreamData>> {
        self.regions.get(&(account.to_string(), region.to_string()))
    }

    pub fn stream(&self, account: &str, region: &str, name: &str) -> Option<&StreamData> {
        self.region(account, region)?.get(name)
    }
}

pub fn stream_key(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

pub fn data_key(account: &str, region: &str, stream: &StreamMeta, shard: u32, counter: u64) -> String {
    format!("{account}/{region}/{}/{}/{shard}/{counter}", stream.name, stream.created_millis)
}

impl Persist for Streams {
    type Record = Record;

    fn apply(&mut self, key: &str, record: Option<Record>) {
        let parts: Vec<&str> = key.split('/').collect();
        let scope = |p: &[&str]| (p[0].to_string(), p[1].to_string());
        match (parts.len(), record) {
            (3, Some(Record::Stream(meta))) => {
                let streams = self.regions.entry(scope(&parts)).or_default();
                let data = streams.entry(parts[2].to_string()).or_default();
                if data.meta.created_millis != meta.created_millis {
                    // A new stream of the same name starts empty.
                    data.records.clear();
                    data.last_counter = 0;
                }
                let boundary = meta.shards.iter().flat_map(|s| [Some(s.start_counter), s.end_counter]).flatten().max();
                data.last_counter = data.last_counter.max(boundary.unwrap_or(0));
                data.meta = *meta;
            }
            (3, None) => {
                if let Some(streams) = self.regions.get_mut(&scope(&parts)) {
                    streams.remove(parts[2]);
                }
            }
            (6, record) => {
                let Some(data) = self.regions.get_mut(&scope(&parts)).and_then(|s| s.get_mut(parts[2])) else {
                    return;
                };
                if parts[3].parse::<i64>().ok() != Some(data.meta.created_millis) {
                    return;
                }
                let (Ok(shard), Ok(counter)) = (parts[4].parse::<u32>(), parts[5].parse::<u64>()) else { return };
                let list = data.records.entry(shard).or_default();
                match record {
                    Some(Record::Data { record, .. }) => {
                        data.last_counter = data.last_counter.max(record.counter);
                        // Appends are the rule; replay of an older journal may interleave shards only.
                        match list.back() {
                            Some(last) if last.counter >= record.counter => {
                                if let Err(at) = list.binary_search_by_key(&record.counter, |r| r.counter) {
                                    list.insert(at, record);
                                }
                            }
                            _ => list.push_back(record),
                        }
                    }
                    Some(Record::Stream(_)) => {}
                    None => {
                        if list.front().is_some_and(|r| r.counter == counter) {
                            list.pop_front();
                        } else if let Ok(at) = list.binary_search_by_key(&counter, |r| r.counter) {
                            list.remove(at);
                        }
                    }
                }
            }
            _ => tracing::warn!(key, "unexpected Kinesis journal record; ignored"),
        }
    }
}

mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
