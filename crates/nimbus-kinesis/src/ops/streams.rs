//! Stream lifecycle and metadata: create, delete, describe, list, shards, retention, mode,
//! encryption, monitoring, tags and resource policies.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Value};

use super::records::sequence_number;
use super::{find, millis_of, name_from_arn, save, seconds, stream_name, Ctx, Journal};
use crate::errors::{in_use, invalid, limit, not_found, stream_not_found, Result};
use crate::state::{shard_index, ShardMeta, StreamData, StreamMeta, Streams, MAX_HASH};

/// Shards an on-demand stream starts with.
const ON_DEMAND_SHARDS: u32 = 4;
/// The per-region shard quota AWS applies by default.
pub const SHARD_LIMIT: u32 = 500;
const MIN_RETENTION: u32 = 24;
const MAX_RETENTION: u32 = 8760;

/// `count` shards splitting the hash-key space evenly, as AWS lays them out.
pub fn even_ranges(count: u32) -> Vec<(u128, u128)> {
    if count <= 1 {
        return vec![(0, MAX_HASH)];
    }
    let count = u128::from(count);
    // floor(2^128 / count), computed without overflowing.
    let width = MAX_HASH / count + u128::from(MAX_HASH % count + 1 == count);
    (0..count)
        .map(|i| {
            let start = i * width;
            let end = if i + 1 == count { MAX_HASH } else { (i + 1) * width - 1 };
            (start, end)
        })
        .collect()
}

fn open_shard_total(db: &Streams, ctx: &Ctx) -> u32 {
    db.region(&ctx.account, &ctx.region).map_or(0, |r| r.values().map(|s| s.meta.open_shards().count() as u32).sum())
}

pub fn check_shard_quota(db: &Streams, ctx: &Ctx, adding: u32) -> Result<()> {
    let open = open_shard_total(db, ctx);
    if open + adding > SHARD_LIMIT {
        return Err(limit(format!(
            "This request would exceed the shard limit for the account {} in {}. Current shard count for the account: {open}. Limit: {SHARD_LIMIT}. Number of additional shards that would have resulted from this request: {adding}. Refer to the AWS Service Limits page (https://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
            ctx.account, ctx.region
        )));
    }
    Ok(())
}

pub fn create_stream(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let name = input["StreamName"].as_str().unwrap_or_default().to_string();
    if db.stream(&ctx.account, &ctx.region, &name).is_some() {
        return Err(in_use(format!("Stream {name} under account {} already exists.", ctx.account)));
    }
    let mode = input["StreamModeDetails"]["StreamMode"].as_str().unwrap_or("PROVISIONED").to_string();
    let shard_count = match (mode.as_str(), input["ShardCount"].as_u64()) {
        ("ON_DEMAND", Some(_)) => {
            return Err(invalid("ShardCount cannot be specified when the stream mode is ON_DEMAND."));
        }
        ("ON_DEMAND", None) => ON_DEMAND_SHARDS,
        (_, Some(n)) => n as u32,
        (_, None) => return Err(invalid("ShardCount must be provided for a PROVISIONED stream.")),
    };
    check_shard_quota(db, ctx, shard_count)?;
    let tags: BTreeMap<String, String> =
        input.get("Tags").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default();
    check_tag_count(&tags)?;
    let created = ctx.now_millis;
    let start_counter = (created.max(0) as u64) * 1_000_000;
    let shards = even_ranges(shard_count)
        .into_iter()
        .enumerate()
        .map(|(i, (start, end))| ShardMeta {
            index: i as u32,
            parent: None,
            adjacent_parent: None,
            start_hash: start,
            end_hash: end,
            start_counter,
            end_counter: None,
            created_millis: created,
            closed_millis: None,
        })
        .collect();
    let meta = StreamMeta {
        arn: ctx.stream_arn(&name),
        name,
        created_millis: created,
        mode,
        tags,
        shards,
        max_record_kib: input["MaxRecordSizeInKiB"].as_u64().map_or(1024, |n| n as u32),
        ..StreamMeta::default()
    };
    save(ctx, meta, changes);
    Ok(json!({}))
}

pub fn delete_stream(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let enforce = input["EnforceConsumerDeletion"].as_bool().unwrap_or(false);
    if !stream.meta.consumers.is_empty() && !enforce {
        return Err(in_use(format!(
            "Stream {} under account {} has registered consumers.",
            stream.meta.name, ctx.account
        )));
    }
    changes.delete(crate::state::stream_key(&ctx.account, &ctx.region, &stream.meta.name));
    Ok(json!({}))
}

pub fn shard_json(stream: &StreamMeta, shard: &ShardMeta) -> Value {
    let mut out = json!({"ShardId": shard.id()});
    if let Some(p) = shard.parent {
        out["ParentShardId"] = json!(crate::state::shard_id(p));
    }
    if let Some(p) = shard.adjacent_parent {
        out["AdjacentParentShardId"] = json!(crate::state::shard_id(p));
    }
    out["HashKeyRange"] =
        json!({"StartingHashKey": shard.start_hash.to_string(), "EndingHashKey": shard.end_hash.to_string()});
    let mut range = json!({"StartingSequenceNumber": sequence_number(stream, shard.index, shard.start_counter)});
    if let Some(end) = shard.end_counter {
        range["EndingSequenceNumber"] = json!(sequence_number(stream, shard.index, end));
    }
    out["SequenceNumberRange"] = range;
    out
}

fn mode_details(meta: &StreamMeta) -> Value {
    json!({"StreamMode": meta.mode})
}

fn monitoring(meta: &StreamMeta) -> Value {
    json!([{"ShardLevelMetrics": meta.shard_metrics}])
}

fn encryption_members(meta: &StreamMeta, out: &mut Value) {
    out["EncryptionType"] = json!(meta.encryption);
    if let Some(key) = &meta.key_id {
        out["KeyId"] = json!(key);
    }
}

pub fn describe_stream(db: &Streams, ctx: &Ctx, input: &Value) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let meta = &stream.meta;
    let limit = input["Limit"].as_u64().unwrap_or(100) as usize;
    let after = input["ExclusiveStartShardId"].as_str().and_then(shard_index);
    let shards: Vec<&ShardMeta> = meta.shards.iter().filter(|s| after.is_none_or(|a| s.index > a)).collect();
    let page: Vec<Value> = shards.iter().take(limit).map(|s| shard_json(meta, s)).collect();
    let mut description = json!({
        "StreamName": meta.name,
        "StreamARN": meta.arn,
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": mode_details(meta),
        "Shards": page,
        "HasMoreShards": shards.len() > limit,
        "RetentionPeriodHours": meta.retention_hours,
        "StreamCreationTimestamp": seconds(meta.created_millis),
        "EnhancedMonitoring": monitoring(meta),
    });
    encryption_members(meta, &mut description);
    Ok(json!({"StreamDescription": description}))
}

pub fn describe_stream_summary(db: &Streams, ctx: &Ctx, input: &Value) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let meta = &stream.meta;
    let mut summary = json!({
        "StreamName": meta.name,
        "StreamARN": meta.arn,
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": mode_details(meta),
        "RetentionPeriodHours": meta.retention_hours,
        "StreamCreationTimestamp": seconds(meta.created_millis),
        "EnhancedMonitoring": monitoring(meta),
        "OpenShardCount": meta.open_shards().count(),
        "ConsumerCount": meta.consumers.len(),
        "MaxRecordSizeInKiB": meta.max_record_kib,
    });
    encryption_members(meta, &mut summary);
    Ok(json!({"StreamDescriptionSummary": summary}))
}

fn token(value: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(value)
}

fn untoken(token: &str) -> Result<String> {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| invalid(format!("NextToken {token} is invalid.")))
}

pub fn list_streams(db: &Streams, ctx: &Ctx, input: &Value) -> Result<Value> {
    let limit = input["Limit"].as_u64().unwrap_or(100) as usize;
    let after = match input["NextToken"].as_str() {
        Some(t) => Some(untoken(t)?),
        None => input["ExclusiveStartStreamName"].as_str().map(String::from),
    };
    let streams: Vec<&StreamData> = db
        .region(&ctx.account, &ctx.region)
        .into_iter()
        .flat_map(|r| r.values())
        .filter(|s| after.as_deref().is_none_or(|a| s.meta.name.as_str() > a))
        .collect();
    let page = &streams[..streams.len().min(limit)];
    let more = streams.len() > limit;
    let mut out = json!({
        "StreamNames": page.iter().map(|s| s.meta.name.clone()).collect::<Vec<_>>(),
        "HasMoreStreams": more,
        "StreamSummaries": page.iter().map(|s| json!({
            "StreamName": s.meta.name,
            "StreamARN": s.meta.arn,
            "StreamStatus": "ACTIVE",
            "StreamModeDetails": mode_details(&s.meta),
            "StreamCreationTimestamp": seconds(s.meta.created_millis),
        })).collect::<Vec<_>>(),
    });
    if more {
        if let Some(last) = page.last() {
            out["NextToken"] = json!(token(&last.meta.name));
        }
    }
    Ok(out)
}

pub fn list_shards(db: &Streams, ctx: &Ctx, input: &Value) -> Result<Value> {
    let (name, after) = match input["NextToken"].as_str() {
        Some(t) => {
            if input.get("StreamName").is_some_and(|v| !v.is_null()) {
                return Err(invalid("NextToken and StreamName cannot be provided together."));
            }
            let decoded = untoken(t)?;
            let (name, after) = decoded.split_once('|').ok_or_else(|| invalid(format!("NextToken {t} is invalid.")))?;
            (name.to_string(), after.parse::<u32>().ok())
        }
        None => (stream_name(ctx, input)?, input["ExclusiveStartShardId"].as_str().and_then(shard_index)),
    };
    let stream = db.stream(&ctx.account, &ctx.region, &name).ok_or_else(|| stream_not_found(&name, &ctx.account))?;
    let meta = &stream.meta;
    let limit = input["MaxResults"].as_u64().unwrap_or(1000) as usize;
    let filter = &input["ShardFilter"];
    let filter_type = filter["Type"].as_str();
    let filter_after = filter["ShardId"].as_str().and_then(shard_index);
    if filter_type == Some("AFTER_SHARD_ID") && filter_after.is_none() {
        return Err(invalid("ShardId must be provided for ShardFilter type AFTER_SHARD_ID."));
    }
    let at = filter.get("Timestamp").and_then(millis_of);
    if matches!(filter_type, Some("AT_TIMESTAMP" | "FROM_TIMESTAMP")) && at.is_none() {
        return Err(invalid("Timestamp must be provided for ShardFilter type AT_TIMESTAMP or FROM_TIMESTAMP."));
    }
    let horizon = ctx.now_millis - i64::from(meta.retention_hours) * 3_600_000;
    let has_retained_parent = |s: &ShardMeta| {
        [s.parent, s.adjacent_parent].iter().flatten().any(|p| meta.shards.iter().any(|o| o.index == *p))
    };
    let open_at = |s: &ShardMeta, t: i64| {
        let t = t.max(meta.created_millis);
        s.created_millis <= t && s.closed_millis.is_none_or(|c| c > t)
    };
    let shards: Vec<&ShardMeta> = meta
        .shards
        .iter()
        .filter(|s| after.is_none_or(|a| s.index > a))
        .filter(|s| match filter_type {
            None | Some("FROM_TRIM_HORIZON") => true,
            Some("AFTER_SHARD_ID") => filter_after.is_some_and(|a| s.index > a),
            Some("AT_LATEST") => s.is_open(),
            Some("AT_TRIM_HORIZON") => !has_retained_parent(s) || open_at(s, horizon),
            Some("AT_TIMESTAMP") => open_at(s, at.unwrap_or_default()),
            Some("FROM_TIMESTAMP") => s.closed_millis.is_none_or(|c| c > at.unwrap_or_default()),
            Some(_) => true,
        })
        .collect();
    let page: Vec<Value> = shards.iter().take(limit).map(|s| shard_json(meta, s)).collect();
    let mut out = json!({"Shards": page});
    if shards.len() > limit {
        let last = shards[limit - 1].index;
        out["NextToken"] = json!(token(&format!("{name}|{last}")));
    }
    Ok(out)
}

pub fn describe_limits(db: &Streams, ctx: &Ctx) -> Result<Value> {
    let on_demand =
        db.region(&ctx.account, &ctx.region).map_or(0, |r| r.values().filter(|s| s.meta.mode == "ON_DEMAND").count());
    Ok(json!({
        "ShardLimit": SHARD_LIMIT,
        "OpenShardCount": open_shard_total(db, ctx),
        "OnDemandStreamCount": on_demand,
        "OnDemandStreamCountLimit": 50,
    }))
}

pub fn change_retention(
    db: &Streams,
    ctx: &Ctx,
    input: &Value,
    changes: &mut Journal,
    increase: bool,
) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let hours = input["RetentionPeriodHours"].as_u64().unwrap_or_default() as u32;
    let current = stream.meta.retention_hours;
    if hours < MIN_RETENTION {
        return Err(invalid(format!(
            "Minimum allowed retention period is {MIN_RETENTION} hours. Requested retention period ({hours} hours) is too short."
        )));
    }
    if hours > MAX_RETENTION {
        return Err(invalid(format!(
            "Maximum allowed retention period is {MAX_RETENTION} hours. Requested retention period ({hours} hours) is too long."
        )));
    }
    let name = &stream.meta.name;
    if increase && hours < current {
        return Err(invalid(format!(
            "Requested retention period ({hours} hours) for stream {name} can not be shorter than existing retention period ({current} hours). Use DecreaseRetentionPeriod API."
        )));
    }
    if !increase && hours > current {
        return Err(invalid(format!(
            "Requested retention period ({hours} hours) for stream {name} can not be longer than existing retention period ({current} hours). Use IncreaseRetentionPeriod API."
        )));
    }
    let mut meta = stream.meta.clone();
    meta.retention_hours = hours;
    save(ctx, meta, changes);
    Ok(json!({}))
}

pub fn update_stream_mode(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let mut meta = stream.meta.clone();
    meta.mode = input["StreamModeDetails"]["StreamMode"].as_str().unwrap_or("PROVISIONED").to_string();
    save(ctx, meta, changes);
    Ok(json!({}))
}

pub fn set_encryption(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal, start: bool) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let mut meta = stream.meta.clone();
    if start {
        meta.encryption = "KMS".into();
        meta.key_id = input["KeyId"].as_str().map(String::from);
    } else {
        meta.encryption = "NONE".into();
        meta.key_id = None;
    }
    save(ctx, meta, changes);
    Ok(json!({}))
}

pub fn set_monitoring(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal, enable: bool) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let mut meta = stream.meta.clone();
    let current = meta.shard_metrics.clone();
    let all = [
        "IncomingBytes",
        "IncomingRecords",
        "OutgoingBytes",
        "OutgoingRecords",
        "WriteProvisionedThroughputExceeded",
        "ReadProvisionedThroughputExceeded",
        "IteratorAgeMilliseconds",
    ];
    let mut asked: Vec<String> = input["ShardLevelMetrics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect();
    if asked.iter().any(|m| m == "ALL") {
        asked = all.iter().map(|s| s.to_string()).collect();
    }
    if enable {
        for m in asked {
            if !meta.shard_metrics.contains(&m) {
                meta.shard_metrics.push(m);
            }
        }
    } else {
        meta.shard_metrics.retain(|m| !asked.contains(m));
    }
    let desired = meta.shard_metrics.clone();
    let out = json!({
        "StreamName": meta.name,
        "StreamARN": meta.arn,
        "CurrentShardLevelMetrics": current,
        "DesiredShardLevelMetrics": desired,
    });
    save(ctx, meta, changes);
    Ok(out)
}

fn check_tag_count(tags: &BTreeMap<String, String>) -> Result<()> {
    if tags.len() > 50 {
        return Err(invalid("Failed to add tags to stream. A stream can have at most 50 tags."));
    }
    Ok(())
}

fn merged_tags(meta: &StreamMeta, input: &Value) -> Result<BTreeMap<String, String>> {
    let mut tags = meta.tags.clone();
    let add: BTreeMap<String, String> =
        input.get("Tags").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default();
    tags.extend(add);
    check_tag_count(&tags)?;
    Ok(tags)
}

pub fn add_tags(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let mut meta = stream.meta.clone();
    meta.tags = merged_tags(&meta, input)?;
    save(ctx, meta, changes);
    Ok(json!({}))
}

fn removed(input: &Value) -> Vec<String> {
    input["TagKeys"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
}

pub fn remove_tags(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let mut meta = stream.meta.clone();
    for key in removed(input) {
        meta.tags.remove(&key);
    }
    save(ctx, meta, changes);
    Ok(json!({}))
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Value> {
    tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect()
}

pub fn list_tags_for_stream(db: &Streams, ctx: &Ctx, input: &Value) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let limit = input["Limit"].as_u64().unwrap_or(50) as usize;
    let after = input["ExclusiveStartTagKey"].as_str();
    let tags: BTreeMap<String, String> = stream
        .meta
        .tags
        .iter()
        .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let more = tags.len() > limit;
    let page: BTreeMap<String, String> = tags.into_iter().take(limit).collect();
    Ok(json!({"Tags": tag_list(&page), "HasMoreTags": more}))
}

/// What a resource ARN names: a stream, or one of its consumers.
enum Resource<'a> {
    Stream(&'a StreamData),
    Consumer(&'a StreamData, usize),
}

fn resource<'a>(db: &'a Streams, ctx: &Ctx, arn: &str) -> Result<Resource<'a>> {
    let missing = || not_found(format!("Resource {arn} not found."));
    let name = name_from_arn(ctx, arn).ok_or_else(missing)?;
    let stream = db.stream(&ctx.account, &ctx.region, name).ok_or_else(missing)?;
    if arn.contains("/consumer/") {
        let at = stream.meta.consumers.iter().position(|c| c.arn == arn).ok_or_else(missing)?;
        return Ok(Resource::Consumer(stream, at));
    }
    if arn != stream.meta.arn {
        return Err(missing());
    }
    Ok(Resource::Stream(stream))
}

pub fn tag_resource(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    match resource(db, ctx, input["ResourceARN"].as_str().unwrap_or_default())? {
        Resource::Stream(stream) => {
            let mut meta = stream.meta.clone();
            meta.tags = merged_tags(&meta, input)?;
            save(ctx, meta, changes);
        }
        Resource::Consumer(stream, at) => {
            let mut meta = stream.meta.clone();
            let add: BTreeMap<String, String> =
                input.get("Tags").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default();
            meta.consumers[at].tags.extend(add);
            save(ctx, meta, changes);
        }
    }
    Ok(json!({}))
}

pub fn untag_resource(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let keys = removed(input);
    let (stream, consumer) = match resource(db, ctx, input["ResourceARN"].as_str().unwrap_or_default())? {
        Resource::Stream(s) => (s, None),
        Resource::Consumer(s, at) => (s, Some(at)),
    };
    let mut meta = stream.meta.clone();
    let tags = match consumer {
        Some(at) => &mut meta.consumers[at].tags,
        None => &mut meta.tags,
    };
    for key in keys {
        tags.remove(&key);
    }
    save(ctx, meta, changes);
    Ok(json!({}))
}

pub fn list_tags_for_resource(db: &Streams, ctx: &Ctx, input: &Value) -> Result<Value> {
    let tags = match resource(db, ctx, input["ResourceARN"].as_str().unwrap_or_default())? {
        Resource::Stream(s) => s.meta.tags.clone(),
        Resource::Consumer(s, at) => s.meta.consumers[at].tags.clone(),
    };
    Ok(json!({"Tags": tag_list(&tags)}))
}

pub fn put_policy(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let arn = input["ResourceARN"].as_str().unwrap_or_default();
    let policy = input["Policy"].as_str().unwrap_or_default().to_string();
    if serde_json::from_str::<Value>(&policy).map_or(true, |p| !p.is_object()) {
        return Err(invalid("Policy is not a valid JSON document."));
    }
    let (stream, consumer) = match resource(db, ctx, arn)? {
        Resource::Stream(s) => (s, None),
        Resource::Consumer(s, at) => (s, Some(at)),
    };
    let mut meta = stream.meta.clone();
    match consumer {
        Some(at) => {
            meta.consumer_policies.insert(meta.consumers[at].arn.clone(), policy);
        }
        None => meta.policy = Some(policy),
    }
    save(ctx, meta, changes);
    Ok(json!({}))
}

pub fn get_policy(db: &Streams, ctx: &Ctx, input: &Value) -> Result<Value> {
    let arn = input["ResourceARN"].as_str().unwrap_or_default();
    let policy = match resource(db, ctx, arn)? {
        Resource::Stream(s) => s.meta.policy.clone(),
        Resource::Consumer(s, at) => s.meta.consumer_policies.get(&s.meta.consumers[at].arn).cloned(),
    };
    Ok(json!({"Policy": policy.unwrap_or_else(|| "{}".into())}))
}

pub fn delete_policy(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let arn = input["ResourceARN"].as_str().unwrap_or_default();
    let (stream, consumer) = match resource(db, ctx, arn)? {
        Resource::Stream(s) => (s, None),
        Resource::Consumer(s, at) => (s, Some(at)),
    };
    let mut meta = stream.meta.clone();
    match consumer {
        Some(at) => {
            let key = meta.consumers[at].arn.clone();
            meta.consumer_policies.remove(&key);
        }
        None => meta.policy = None,
    }
    save(ctx, meta, changes);
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ranges_match_aws_layout() {
        let two = even_ranges(2);
        assert_eq!(two[0], (0, 170141183460469231731687303715884105727));
        assert_eq!(two[1], (170141183460469231731687303715884105728, MAX_HASH));
        let three = even_ranges(3);
        assert_eq!(three[0].1, 113427455640312821154458202477256070484);
        assert_eq!(three[1].0, 113427455640312821154458202477256070485);
        assert_eq!(three[2], (226854911280625642308916404954512140970, MAX_HASH));
        assert_eq!(even_ranges(1), vec![(0, MAX_HASH)]);
    }
}
