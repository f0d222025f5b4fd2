//! DynamoDB Streams: ListStreams, DescribeStream, GetShardIterator and GetRecords, plus the
//! 24-hour retention. Each stream has one shard, open while the stream is enabled.

use serde_json::{json, Value};

use super::{Ctx, Outcome};
use crate::errors::{resource_not_found, service, validation, Result};
use crate::state::{Db, StreamRecord, TableData};
use crate::table::{Stream, TableMeta};

/// Records stay readable for 24 hours.
pub const RETENTION_MILLIS: i64 = 24 * 60 * 60 * 1000;
/// Shard iterators expire 15 minutes after they are handed out.
const ITERATOR_MILLIS: i64 = 15 * 60 * 1000;

pub fn sequence_number(seq: u64) -> String {
    format!("{seq:021}")
}

fn parse_sequence(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The shard id of a stream: derived from its creation so it is stable across restarts.
pub fn shard_id(stream: &Stream) -> String {
    let digits: String = stream.label.chars().filter(|c| c.is_ascii_digit()).collect();
    format!("shardId-{digits:0>20}-{}", &stream_hash(&stream.arn)[..8])
}

fn stream_hash(s: &str) -> String {
    format!("{:016x}", s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3)))
}

/// The table and stream an ARN names.
pub fn find_stream<'a>(db: &'a Db, ctx: &Ctx, arn: &str) -> Result<(&'a TableData, &'a Stream)> {
    let not_found = || resource_not_found(format!("Requested resource not found: Stream: {arn} not found"));
    let table_name =
        arn.split("/stream/").next().and_then(|t| t.rsplit_once(":table/")).map(|(_, n)| n).ok_or_else(not_found)?;
    let table = db.table(&ctx.scope(), table_name).ok_or_else(not_found)?;
    let stream = table.meta().streams.iter().find(|s| s.arn == arn).ok_or_else(not_found)?;
    Ok((table, stream))
}

fn records<'a>(table: &'a TableData, stream: &Stream) -> impl DoubleEndedIterator<Item = &'a StreamRecord> {
    table.streams.get(&stream.arn).into_iter().flat_map(|l| l.records.iter())
}

pub fn list_streams(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let table_filter = input["TableName"].as_str();
    let limit = input["Limit"].as_u64().unwrap_or(100) as usize;
    let start = input["ExclusiveStartStreamArn"].as_str();
    let mut all: Vec<(&TableMeta, &Stream)> = db
        .region(&ctx.scope())
        .into_iter()
        .flat_map(|r| r.tables.values())
        .map(|t| t.meta())
        .filter(|m| table_filter.is_none_or(|f| m.name == f))
        .flat_map(|m| m.streams.iter().map(move |s| (m, s)))
        .collect();
    all.sort_by(|a, b| a.1.arn.cmp(&b.1.arn));
    let after: Vec<_> = all.into_iter().filter(|(_, s)| start.is_none_or(|st| s.arn.as_str() > st)).collect();
    let page: Vec<Value> = after
        .iter()
        .take(limit)
        .map(|(m, s)| json!({"StreamArn": s.arn, "TableName": m.name, "StreamLabel": s.label}))
        .collect();
    let mut output = json!({"Streams": page});
    if after.len() > limit {
        output["LastEvaluatedStreamArn"] = json!(after[limit - 1].1.arn);
    }
    Ok(Outcome::read(output))
}

pub fn describe_stream(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let (table, stream) = find_stream(db, ctx, input["StreamArn"].as_str().unwrap_or_default())?;
    let meta = table.meta();
    let first = records(table, stream).next().map_or(db.sequence + 1, |r| r.sequence);
    let mut range = json!({"StartingSequenceNumber": sequence_number(first)});
    if !stream.enabled {
        let last = records(table, stream).next_back().map_or(first, |r| r.sequence);
        range["EndingSequenceNumber"] = json!(sequence_number(last));
    }
    let mut shards = vec![json!({"ShardId": shard_id(stream), "SequenceNumberRange": range})];
    if input["ExclusiveStartShardId"].as_str() == Some(shard_id(stream).as_str()) {
        shards.clear();
    }
    let key_schema = meta.describe(0, 0, &|_| (0, 0))["KeySchema"].clone();
    let created = chrono::NaiveDateTime::parse_from_str(&stream.label, "%Y-%m-%dT%H:%M:%S%.3f")
        .map(|t| t.and_utc().timestamp_millis() as f64 / 1000.0)
        .unwrap_or(meta.created);
    Ok(Outcome::read(json!({"StreamDescription": {
        "StreamArn": stream.arn,
        "StreamLabel": stream.label,
        "StreamStatus": if stream.enabled { "ENABLED" } else { "DISABLED" },
        "StreamViewType": stream.view_type,
        "CreationRequestDateTime": created,
        "TableName": meta.name,
        "KeySchema": key_schema,
        "Shards": shards
    }})))
}

/// An iterator names the stream, the shard, the next sequence number to read and when it
/// was handed out.
struct Iterator {
    arn: String,
    shard: String,
    next: u64,
    issued_millis: i64,
}

impl Iterator {
    fn encode(&self) -> String {
        format!("{}|{}|{}|{}", self.arn, self.shard, self.next, self.issued_millis)
    }

    fn decode(s: &str) -> Option<Iterator> {
        let mut parts = s.rsplitn(4, '|');
        let issued_millis = parts.next()?.parse().ok()?;
        let next = parts.next()?.parse().ok()?;
        let shard = parts.next()?.to_string();
        let arn = parts.next()?.to_string();
        Some(Iterator { arn, shard, next, issued_millis })
    }
}

fn trimmed() -> nimbus_core::AwsError {
    service("TrimmedDataAccessException", "The operation attempted to read past the oldest stream record in a shard.")
}

pub fn get_shard_iterator(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let (table, stream) = find_stream(db, ctx, input["StreamArn"].as_str().unwrap_or_default())?;
    let shard = input["ShardId"].as_str().unwrap_or_default();
    if shard != shard_id(stream) {
        return Err(resource_not_found(format!("Requested resource not found: Shard does not exist: {shard}")));
    }
    let oldest = records(table, stream).next().map(|r| r.sequence);
    let newest = records(table, stream).next_back().map_or(db.sequence, |r| r.sequence);
    let sequence = || -> Result<u64> {
        let s = input["SequenceNumber"].as_str().ok_or_else(|| {
            validation("1 validation error detected: Value null at 'sequenceNumber' failed to satisfy constraint: Member must not be null")
        })?;
        let seq = parse_sequence(s).ok_or_else(|| validation(format!("Invalid SequenceNumber: {s}")))?;
        if seq <= trimmed_through(table, stream) {
            return Err(trimmed());
        }
        if seq > newest {
            return Err(validation(format!(
                "Invalid SequenceNumber: {s}. Sequence number is beyond the latest record in the shard"
            )));
        }
        Ok(seq)
    };
    let next = match input["ShardIteratorType"].as_str().unwrap_or_default() {
        "TRIM_HORIZON" => oldest.unwrap_or(db.sequence + 1),
        "LATEST" => db.sequence.max(newest) + 1,
        "AT_SEQUENCE_NUMBER" => sequence()?,
        "AFTER_SEQUENCE_NUMBER" => sequence()? + 1,
        other => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
            )))
        }
    };
    let it = Iterator { arn: stream.arn.clone(), shard: shard.to_string(), next, issued_millis: ctx.now_millis };
    Ok(Outcome::read(json!({"ShardIterator": it.encode()})))
}

/// A record in GetRecords' (and Lambda's event's) shape.
pub fn render_record(r: &StreamRecord, view_type: &str, region: &str) -> Value {
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": (r.created_millis / 1000) as f64,
        "Keys": r.keys,
        "SequenceNumber": sequence_number(r.sequence),
        "SizeBytes": r.size_bytes,
        "StreamViewType": view_type,
    });
    if let Some(image) = &r.new_image {
        dynamodb["NewImage"] = image.clone();
    }
    if let Some(image) = &r.old_image {
        dynamodb["OldImage"] = image.clone();
    }
    let mut record = json!({
        "eventID": r.event_id,
        "eventName": r.event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
    });
    if r.ttl {
        record["userIdentity"] = json!({"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"});
    }
    record
}

pub fn get_records(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let text = input["ShardIterator"].as_str().unwrap_or_default();
    let invalid = || validation("Invalid ShardIterator");
    let it = Iterator::decode(text).ok_or_else(invalid)?;
    if ctx.now_millis - it.issued_millis > ITERATOR_MILLIS {
        return Err(service(
            "ExpiredIteratorException",
            format!(
                "Iterator expired. The iterator was created at time {} while right now it is {}.",
                stream_time(it.issued_millis),
                stream_time(ctx.now_millis)
            ),
        ));
    }
    let (table, stream) = find_stream(db, ctx, &it.arn)?;
    if it.shard != shard_id(stream) {
        return Err(invalid());
    }
    let limit = input["Limit"].as_u64().unwrap_or(1000).min(1000) as usize;
    if it.next <= trimmed_through(table, stream) {
        // The records the iterator points at are gone (older than 24 hours).
        return Err(trimmed());
    }
    let batch: Vec<&StreamRecord> = records(table, stream).filter(|r| r.sequence >= it.next).take(limit).collect();
    let rendered: Vec<Value> = batch.iter().map(|r| render_record(r, &stream.view_type, &ctx.region)).collect();
    let next = batch.last().map_or(it.next, |r| r.sequence + 1);
    let mut output = json!({"Records": rendered});
    let newest = records(table, stream).next_back().map_or(0, |r| r.sequence);
    // A disabled stream's shard is closed: once read to its end there is no next iterator.
    if stream.enabled || next <= newest {
        output["NextShardIterator"] =
            json!(
                Iterator { arn: it.arn.clone(), shard: it.shard.clone(), next, issued_millis: ctx.now_millis }.encode()
            );
    }
    Ok(Outcome::read(output))
}

/// The highest sequence number retention has removed from this stream.
fn trimmed_through(table: &TableData, stream: &Stream) -> u64 {
    table.streams.get(&stream.arn).map_or(0, |l| l.trimmed_through)
}

fn stream_time(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default().format("%a %b %d %H:%M:%S UTC %Y").to_string()
}
