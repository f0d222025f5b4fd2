//! The data: log groups per account and region, their streams, and each stream's events.
//!
//! Events are stored compactly, sorted by `(timestamp, seq)` where `seq` is a per-stream
//! counter assigned at ingestion (it orders events with equal timestamps, identifies them in
//! tokens and event ids, and ties each event to the journal record of its batch). A stream keeps
//! at most [`MAX_EVENTS_PER_STREAM`] events and [`MAX_BYTES_PER_STREAM`] bytes of messages: the
//! oldest (by timestamp) go first, so a flooding function cannot exhaust the machine's memory.
//!
//! Journal records (keys are JSON arrays, so names need no escaping):
//! - `["g", account, region, group]` → group metadata
//! - `["s", account, region, group, stream]` → stream metadata
//! - `["e", account, region, group, stream, firstSeq]` → one ingested batch `[[ts, ingestion, msg], …]`;
//!   event `i` of the batch has `seq = firstSeq + i`. A batch record is deleted when its last
//!   live event is gone (cap or retention).

use std::collections::{BTreeMap, HashMap, VecDeque};

use nimbus_core::journal::Records;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Newest events kept per stream.
pub const MAX_EVENTS_PER_STREAM: usize = 100_000;

/// Newest message bytes kept per stream (AWS keeps everything; a laptop cannot).
pub const MAX_BYTES_PER_STREAM: u64 = 64 * 1024 * 1024;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone)]
pub struct Event {
    pub timestamp: i64,
    pub ingestion: i64,
    pub seq: u64,
    pub message: Box<str>,
}

#[derive(Debug, Default)]
pub struct Stream {
    pub created: i64,
    pub events: VecDeque<Event>,
    pub next_seq: u64,
    pub last_ingestion: Option<i64>,
    /// Message bytes of `events`.
    bytes: u64,
    /// Batches still holding live events: first seq → live event count.
    batches: BTreeMap<u64, u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMeta {
    pub creation_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    pub log_group_class: String,
    #[serde(default)]
    pub deletion_protection_enabled: bool,
}

#[derive(Debug)]
pub struct Group {
    pub meta: GroupMeta,
    pub streams: BTreeMap<String, Stream>,
}

/// Groups of one account and region, by name.
pub type Groups = BTreeMap<String, Group>;

#[derive(Debug, Default)]
pub struct Store {
    pub regions: HashMap<(String, String), Groups>,
}

/// A journal change: key and new value (`None`: delete).
pub type Change = (String, Option<Value>);

pub fn group_key(account: &str, region: &str, group: &str) -> String {
    json!(["g", account, region, group]).to_string()
}

pub fn stream_key(account: &str, region: &str, group: &str, stream: &str) -> String {
    json!(["s", account, region, group, stream]).to_string()
}

pub fn batch_key(account: &str, region: &str, group: &str, stream: &str, first_seq: u64) -> String {
    json!(["e", account, region, group, stream, first_seq]).to_string()
}

/// Where a stream lives, for building journal keys.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub group: &'a str,
    pub stream: &'a str,
}

impl Stream {
    pub fn new(created: i64) -> Stream {
        Stream { created, ..Default::default() }
    }

    pub fn meta_json(&self) -> Value {
        json!({"creationTime": self.created})
    }

    /// Add a batch (any order); returns its first seq and the journal record value.
    /// Callers enforce the cap afterwards with [`Stream::trim`].
    pub fn ingest(&mut self, events: &[(i64, String)], ingestion: i64) -> (u64, Value) {
        let first_seq = self.next_seq;
        let record: Vec<Value> = events.iter().map(|(ts, msg)| json!([ts, ingestion, msg])).collect();
        self.insert(first_seq, events.iter().map(|(ts, msg)| (*ts, ingestion, msg.as_str())));
        self.last_ingestion = Some(self.last_ingestion.map_or(ingestion, |t| t.max(ingestion)));
        (first_seq, json!({"e": record}))
    }

    fn insert<'m>(&mut self, first_seq: u64, events: impl Iterator<Item = (i64, i64, &'m str)>) {
        let mut count = 0u32;
        let mut in_order = true;
        for (i, (timestamp, ingestion, message)) in events.enumerate() {
            let seq = first_seq + i as u64;
            if let Some(last) = self.events.back() {
                in_order &= (last.timestamp, last.seq) <= (timestamp, seq);
            }
            self.bytes += message.len() as u64;
            self.events.push_back(Event { timestamp, ingestion, seq, message: message.into() });
            count += 1;
        }
        if !in_order {
            self.events.make_contiguous().sort_by_key(|e| (e.timestamp, e.seq));
        }
        if count > 0 {
            self.batches.insert(first_seq, count);
        }
        self.next_seq = self.next_seq.max(first_seq + u64::from(count));
    }

    /// Rebuild a batch from its journal record.
    pub fn restore(&mut self, first_seq: u64, record: &Value) {
        let Some(items) = record["e"].as_array() else { return };
        let parsed: Vec<(i64, i64, &str)> =
            items.iter().filter_map(|e| Some((e[0].as_i64()?, e[1].as_i64()?, e[2].as_str()?))).collect();
        for (_, ingestion, _) in &parsed {
            self.last_ingestion = Some(self.last_ingestion.map_or(*ingestion, |t| t.max(*ingestion)));
        }
        self.insert(first_seq, parsed.into_iter());
    }

    /// Drop events older than `cutoff` and beyond the cap; journal deletes for emptied batches.
    pub fn trim(&mut self, cutoff: Option<i64>, place: Place<'_>, changes: &mut Vec<Change>) {
        while let Some(front) = self.events.front() {
            let expired = cutoff.is_some_and(|c| front.timestamp < c);
            let over_cap = self.events.len() > MAX_EVENTS_PER_STREAM || self.bytes > MAX_BYTES_PER_STREAM;
            if !expired && !over_cap {
                break;
            }
            let seq = front.seq;
            self.bytes -= front.message.len() as u64;
            self.events.pop_front();
            if let Some((&first, live)) = self.batches.range_mut(..=seq).next_back() {
                *live -= 1;
                if *live == 0 {
                    self.batches.remove(&first);
                    changes.push((batch_key(place.account, place.region, place.group, place.stream, first), None));
                }
            }
        }
    }

    /// Journal deletes for every batch record of this stream (the stream is being deleted).
    pub fn batch_deletes(&self, place: Place<'_>, changes: &mut Vec<Change>) {
        for first in self.batches.keys() {
            changes.push((batch_key(place.account, place.region, place.group, place.stream, *first), None));
        }
    }

    pub fn first_timestamp(&self) -> Option<i64> {
        self.events.front().map(|e| e.timestamp)
    }

    pub fn last_timestamp(&self) -> Option<i64> {
        self.events.back().map(|e| e.timestamp)
    }

    pub fn stored_bytes(&self) -> u64 {
        self.bytes
    }
}

impl Group {
    pub fn new(meta: GroupMeta) -> Group {
        Group { meta, streams: BTreeMap::new() }
    }

    /// Events older than this are past the retention period (on nimbus's clock).
    pub fn retention_cutoff(&self, now: i64) -> Option<i64> {
        self.meta.retention_in_days.map(|days| now - days * DAY_MS)
    }

    /// Apply retention to every stream.
    pub fn purge(&mut self, now: i64, account: &str, region: &str, group: &str, changes: &mut Vec<Change>) {
        let Some(cutoff) = self.retention_cutoff(now) else { return };
        for (name, stream) in &mut self.streams {
            if stream.first_timestamp().is_some_and(|t| t < cutoff) {
                stream.trim(Some(cutoff), Place { account, region, group, stream: name }, changes);
            }
        }
    }

    pub fn stored_bytes(&self) -> u64 {
        self.streams.values().map(Stream::stored_bytes).sum()
    }
}

impl Store {
    pub fn groups(&self, account: &str, region: &str) -> Option<&Groups> {
        self.regions.get(&(account.to_string(), region.to_string()))
    }

    pub fn groups_mut(&mut self, account: &str, region: &str) -> &mut Groups {
        self.regions.entry((account.to_string(), region.to_string())).or_default()
    }

    /// Rebuild from journal records; returns the journal changes the cap made (old batches).
    pub fn load(records: &Records) -> (Store, Vec<Change>) {
        let mut store = Store::default();
        let parsed: Vec<(Vec<Value>, &Value)> =
            records.iter().filter_map(|(k, v)| Some((serde_json::from_str::<Vec<Value>>(k).ok()?, v))).collect();
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        for kind in ["g", "s", "e"] {
            for (key, value) in parsed.iter().filter(|(k, _)| k.first().and_then(Value::as_str) == Some(kind)) {
                let (account, region, group) = (s(&key[1]), s(&key[2]), s(&key[3]));
                match kind {
                    "g" => {
                        let Ok(meta) = serde_json::from_value::<GroupMeta>((*value).clone()) else { continue };
                        store.groups_mut(&account, &region).insert(group, Group::new(meta));
                    }
                    "s" => {
                        let created = value["creationTime"].as_i64().unwrap_or(0);
                        if let Some(g) = store.groups_mut(&account, &region).get_mut(&group) {
                            g.streams.insert(s(&key[4]), Stream::new(created));
                        }
                    }
                    _ => {
                        let first_seq = key.get(5).and_then(Value::as_u64).unwrap_or(0);
                        if let Some(st) = store
                            .groups_mut(&account, &region)
                            .get_mut(&group)
                            .and_then(|g| g.streams.get_mut(&s(&key[4])))
                        {
                            st.restore(first_seq, value);
                        }
                    }
                }
            }
        }
        let mut changes = Vec::new();
        for ((account, region), groups) in &mut store.regions {
            for (gname, group) in groups.iter_mut() {
                for (sname, stream) in group.streams.iter_mut() {
                    stream.trim(None, Place { account, region, group: gname, stream: sname }, &mut changes);
                }
            }
        }
        (store, changes)
    }
}
