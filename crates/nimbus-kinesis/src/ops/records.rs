//! Data: PutRecord, PutRecords, GetShardIterator and GetRecords.
//!
//! Sequence numbers have AWS's form (56 digits, starting `49`): the stream's creation time, the
//! shard and a per-stream counter, so numbers grow within a shard and name the shard they
//! belong to. Shard iterators are opaque base64 tokens that say where to read on and when they
//! were issued; they expire after five minutes on nimbus's clock.

use base64::Engine;
use md5::{Digest, Md5};
use serde_json::{json, Value};

use super::{find, millis_of, seconds, Ctx, Journal};
use crate::errors::{expired, invalid, not_found, stream_not_found, validation, Result};
use crate::state::{data_key, shard_id, DataRecord, Record, ShardMeta, StreamData, StreamMeta, Streams};

/// Shard iterators expire five minutes after they are issued.
pub const ITERATOR_MILLIS: i64 = 5 * 60 * 1000;
/// PutRecords takes at most 5 MiB of data and partition keys.
const REQUEST_BYTES: usize = 5 * 1024 * 1024;
/// GetRecords returns at most 10 MiB.
const READ_BYTES: usize = 10 * 1024 * 1024;
const READ_LIMIT: usize = 10_000;

pub fn sequence_number(stream: &StreamMeta, shard: u32, counter: u64) -> String {
    format!("49{:018}{shard:06}{counter:030}", stream.created_millis.max(0))
}

/// The shard and counter a sequence number encodes.
pub fn parse_sequence(s: &str) -> Option<(u32, u64)> {
    if s.len() != 56 || !s.starts_with("49") || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((s[20..26].parse().ok()?, s[26..].parse().ok()?))
}

/// The hash key of a partition key: its MD5 as a 128-bit big-endian integer.
pub fn hash_key(partition_key: &str) -> u128 {
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// The length of the bytes a base64 string decodes to.
pub fn decoded_len(b64: &str) -> usize {
    let padding = b64.bytes().rev().take_while(|b| *b == b'=').count();
    (b64.len() / 4 * 3).saturating_sub(padding)
}

struct Entry<'a> {
    data: &'a str,
    partition_key: &'a str,
    explicit: Option<&'a str>,
}

impl Entry<'_> {
    fn record(&self, ctx: &Ctx, stream: &StreamMeta, counter: u64) -> DataRecord {
        DataRecord {
            counter,
            arrival_millis: ctx.now_millis,
            partition_key: self.partition_key.to_string(),
            data: self.data.to_string(),
            encrypted: stream.encryption == "KMS",
        }
    }
}

/// The open shard a record goes to.
fn route<'a>(stream: &'a StreamMeta, entry: &Entry) -> Result<&'a ShardMeta> {
    let hash = match entry.explicit {
        Some(explicit) => explicit.parse::<u128>().map_err(|_| {
            invalid(format!(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {explicit}"
            ))
        })?,
        None => hash_key(entry.partition_key),
    };
    stream
        .open_shards()
        .find(|s| s.contains(hash))
        .ok_or_else(|| nimbus_core::AwsError::internal("no open shard covers the hash key"))
}

fn check_entry(stream: &StreamMeta, entry: &Entry, member: &str) -> Result<()> {
    let max = stream.max_record_kib as usize * 1024;
    if decoded_len(entry.data) > max {
        return Err(validation(format!(
            "1 validation error detected: Value at '{member}data' failed to satisfy constraint: Member must have length less than or equal to {max}"
        )));
    }
    if entry.partition_key.is_empty() {
        return Err(validation(format!(
            "1 validation error detected: Value null at '{member}partitionKey' failed to satisfy constraint: Member must not be null"
        )));
    }
    Ok(())
}

fn store(ctx: &Ctx, stream: &StreamData, shard: u32, record: DataRecord, changes: &mut Journal) {
    let key = data_key(&ctx.account, &ctx.region, &stream.meta, shard, record.counter);
    changes.put(key, Record::Data { shard, record });
}

fn encryption(stream: &StreamMeta, out: &mut Value) {
    if stream.encryption == "KMS" {
        out["EncryptionType"] = json!("KMS");
    }
}

pub fn put_record(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let entry = Entry {
        data: input["Data"].as_str().unwrap_or_default(),
        partition_key: input["PartitionKey"].as_str().unwrap_or_default(),
        explicit: input["ExplicitHashKey"].as_str(),
    };
    check_entry(&stream.meta, &entry, "")?;
    if let Some(ordering) = input["SequenceNumberForOrdering"].as_str() {
        if parse_sequence(ordering).is_none() && ordering != "0" {
            return Err(invalid(format!(
                "ExclusiveMinimumSequenceNumber {ordering} used in PutRecord on stream {} under account {} is invalid.",
                stream.meta.name, ctx.account
            )));
        }
    }
    let shard = route(&stream.meta, &entry)?;
    let counter = stream.next_counter(ctx.now_millis);
    store(ctx, stream, shard.index, entry.record(ctx, &stream.meta, counter), changes);
    let mut out = json!({"ShardId": shard.id(), "SequenceNumber": sequence_number(&stream.meta, shard.index, counter)});
    encryption(&stream.meta, &mut out);
    Ok(out)
}

pub fn put_records(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let items = input["Records"].as_array().map(Vec::as_slice).unwrap_or_default();
    let entries: Vec<Entry> = items
        .iter()
        .map(|r| Entry {
            data: r["Data"].as_str().unwrap_or_default(),
            partition_key: r["PartitionKey"].as_str().unwrap_or_default(),
            explicit: r["ExplicitHashKey"].as_str(),
        })
        .collect();
    let mut total = 0;
    for (i, entry) in entries.iter().enumerate() {
        check_entry(&stream.meta, entry, &format!("records.{}.member.", i + 1))?;
        total += decoded_len(entry.data) + entry.partition_key.len();
    }
    if total > REQUEST_BYTES {
        return Err(invalid("Records size exceeds 5 MB limit"));
    }
    let mut counter = stream.next_counter(ctx.now_millis);
    let mut results = Vec::with_capacity(entries.len());
    for entry in &entries {
        let shard = route(&stream.meta, entry)?;
        let record = entry.record(ctx, &stream.meta, counter);
        results.push(
            json!({"SequenceNumber": sequence_number(&stream.meta, shard.index, counter), "ShardId": shard.id()}),
        );
        store(ctx, stream, shard.index, record, changes);
        counter += 1;
    }
    let mut out = json!({"FailedRecordCount": 0, "Records": results});
    encryption(&stream.meta, &mut out);
    Ok(out)
}

/// Where a shard iterator reads on: the first record whose counter is at least `position`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Iterator {
    #[serde(rename = "a")]
    account: String,
    #[serde(rename = "r")]
    region: String,
    #[serde(rename = "s")]
    stream: String,
    #[serde(rename = "c")]
    created: i64,
    #[serde(rename = "h")]
    shard: u32,
    #[serde(rename = "p")]
    position: u64,
    #[serde(rename = "t")]
    issued: i64,
}

impl Iterator {
    fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    fn decode(token: &str) -> Option<Iterator> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(token).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The sequence number to resume after for a subscription reading at `token` (the position
/// just before the iterator's): `AFTER_SEQUENCE_NUMBER` with it reads on from the same record.
pub fn continuation(token: &str) -> Option<String> {
    let it = Iterator::decode(token)?;
    let meta = StreamMeta { created_millis: it.created, ..StreamMeta::default() };
    Some(sequence_number(&meta, it.shard, it.position.saturating_sub(1)))
}

fn shard_not_found(stream: &StreamMeta, shard: &str, account: &str) -> nimbus_core::AwsError {
    not_found(format!("Shard {shard} in stream {} under account {account} does not exist", stream.name))
}

fn records_of(stream: &StreamData, shard: u32) -> impl DoubleEndedIterator<Item = &DataRecord> {
    stream.shard_records(shard).into_iter().flatten()
}

/// The position of the first record at or after `counter`.
fn first_at(stream: &StreamData, shard: u32, counter: u64) -> usize {
    stream.shard_records(shard).map_or(0, |list| list.partition_point(|r| r.counter < counter))
}

pub fn get_shard_iterator(db: &Streams, ctx: &Ctx, input: &Value) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let meta = &stream.meta;
    let shard_name = input["ShardId"].as_str().unwrap_or_default();
    let shard = meta.shard(shard_name).ok_or_else(|| shard_not_found(meta, shard_name, &ctx.account))?;
    let kind = input["ShardIteratorType"].as_str().unwrap_or_default();
    let starting = input["StartingSequenceNumber"].as_str();
    let latest = shard.end_counter.map_or(stream.last_counter + 1, |end| end + 1);
    let position = match kind {
        "TRIM_HORIZON" => shard.start_counter,
        "LATEST" => latest,
        "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER" => {
            let seq = starting.ok_or_else(|| {
                invalid(format!("The StartingSequenceNumber must be specified for ShardIteratorType {kind}."))
            })?;
            let (seq_shard, counter) = parse_sequence(seq).ok_or_else(|| {
                invalid(format!(
                    "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {} under account {} is invalid.",
                    shard.id(),
                    meta.name,
                    ctx.account
                ))
            })?;
            if seq_shard != shard.index {
                return Err(invalid(format!(
                    "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                    shard_id(seq_shard),
                    shard.id()
                )));
            }
            if kind == "AT_SEQUENCE_NUMBER" {
                counter
            } else {
                counter + 1
            }
        }
        "AT_TIMESTAMP" => {
            let at = input
                .get("Timestamp")
                .and_then(millis_of)
                .ok_or_else(|| invalid("The timestamp must be specified for ShardIteratorType AT_TIMESTAMP."))?;
            records_of(stream, shard.index).find(|r| r.arrival_millis >= at).map_or(latest, |r| r.counter)
        }
        other => return Err(invalid(format!("Invalid ShardIteratorType {other}."))),
    };
    let iterator = Iterator {
        account: ctx.account.clone(),
        region: ctx.region.clone(),
        stream: meta.name.clone(),
        created: meta.created_millis,
        shard: shard.index,
        position,
        issued: ctx.now_millis,
    };
    Ok(json!({"ShardIterator": iterator.encode()}))
}

fn aws_time(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.format("%a %b %d %H:%M:%S UTC %Y").to_string())
        .unwrap_or_default()
}

pub fn record_json(stream: &StreamMeta, shard: u32, r: &DataRecord) -> Value {
    let mut out = json!({
        "SequenceNumber": sequence_number(stream, shard, r.counter),
        "ApproximateArrivalTimestamp": seconds(r.arrival_millis),
        "Data": r.data,
        "PartitionKey": r.partition_key,
    });
    if r.encrypted {
        out["EncryptionType"] = json!("KMS");
    }
    out
}

pub fn get_records(db: &Streams, ctx: &Ctx, input: &Value) -> Result<Value> {
    let token = input["ShardIterator"].as_str().unwrap_or_default();
    let it = Iterator::decode(token)
        .filter(|i| i.account == ctx.account && i.region == ctx.region)
        .ok_or_else(|| invalid(format!("Invalid ShardIterator: {token}")))?;
    if ctx.now_millis - it.issued > ITERATOR_MILLIS {
        return Err(expired(format!(
            "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_MILLIS} milliseconds.",
            aws_time(it.issued),
            aws_time(ctx.now_millis)
        )));
    }
    let stream = db
        .stream(&ctx.account, &ctx.region, &it.stream)
        .filter(|s| s.meta.created_millis == it.created)
        .ok_or_else(|| stream_not_found(&it.stream, &ctx.account))?;
    let meta = &stream.meta;
    let shard = meta
        .shards
        .iter()
        .find(|s| s.index == it.shard)
        .ok_or_else(|| shard_not_found(meta, &shard_id(it.shard), &ctx.account))?;
    let limit = input["Limit"].as_u64().map_or(READ_LIMIT, |n| n as usize).min(READ_LIMIT);
    let list = stream.shard_records(it.shard);
    let start = first_at(stream, it.shard, it.position);
    let mut records = Vec::new();
    let mut bytes = 0;
    let mut next_position = it.position;
    for r in list.into_iter().flat_map(|l| l.range(start..)).take(limit) {
        bytes += decoded_len(&r.data) + r.partition_key.len();
        if bytes > READ_BYTES && !records.is_empty() {
            break;
        }
        records.push(record_json(meta, it.shard, r));
        next_position = r.counter + 1;
    }
    let remaining = list.map_or(0, |l| l.len()) - (start + records.len());
    let behind = if remaining > 0 {
        list.and_then(|l| l.get(start + records.len())).map_or(0, |r| (ctx.now_millis - r.arrival_millis).max(0))
    } else {
        0
    };
    let mut out = json!({"Records": records, "MillisBehindLatest": behind});
    let ended = shard.end_counter.is_some_and(|end| remaining == 0 && next_position <= end + 1);
    if ended {
        let children: Vec<Value> = meta
            .shards
            .iter()
            .filter(|c| c.parent == Some(shard.index) || c.adjacent_parent == Some(shard.index))
            .map(|c| {
                let parents: Vec<String> = [c.parent, c.adjacent_parent].iter().flatten().map(|p| shard_id(*p)).collect();
                json!({
                    "ShardId": c.id(),
                    "ParentShards": parents,
                    "HashKeyRange": {"StartingHashKey": c.start_hash.to_string(), "EndingHashKey": c.end_hash.to_string()},
                })
            })
            .collect();
        out["ChildShards"] = json!(children);
    } else {
        let next = Iterator { position: next_position, issued: ctx.now_millis, ..it };
        out["NextShardIterator"] = json!(next.encode());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_hash_keys_are_big_endian() {
        // MD5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(hash_key("a"), 0x0cc175b9c0f1b6a831c399e269772661);
    }

    #[test]
    fn sequence_numbers_round_trip_and_order() {
        let meta = StreamMeta { created_millis: 1_764_000_000_000, ..StreamMeta::default() };
        let a = sequence_number(&meta, 3, 1_764_000_000_000_000_001);
        let b = sequence_number(&meta, 3, 1_764_000_000_000_000_002);
        assert_eq!(a.len(), 56);
        assert!(a < b);
        assert_eq!(parse_sequence(&a), Some((3, 1_764_000_000_000_000_001)));
        assert_eq!(parse_sequence("123"), None);
    }

    #[test]
    fn decoded_lengths() {
        assert_eq!(decoded_len(""), 0);
        assert_eq!(decoded_len("YQ=="), 1);
        assert_eq!(decoded_len("YWI="), 2);
        assert_eq!(decoded_len("YWJj"), 3);
    }
}
