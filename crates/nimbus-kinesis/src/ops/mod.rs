//! One plain function per operation over [`Streams`]: each reads the state and records its
//! changes; the store journals them before they are applied.

pub mod consumers;
pub mod records;
pub mod reshard;
pub mod streams;

use nimbus_core::state::Changes;
use serde_json::Value;

use crate::errors::{invalid, stream_not_found, Result};
use crate::state::{stream_key, Record, StreamData, StreamMeta, Streams};

/// Who is asking, and when (nimbus's clock).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub account: String,
    pub region: String,
    pub now_millis: i64,
}

impl Ctx {
    pub fn stream_arn(&self, name: &str) -> String {
        format!("arn:aws:kinesis:{}:{}:stream/{name}", self.region, self.account)
    }
}

pub type Journal = Changes<Record>;

pub fn dispatch(db: &Streams, ctx: &Ctx, op: &str, input: &Value, changes: &mut Journal) -> Option<Result<Value>> {
    Some(match op {
        "CreateStream" => streams::create_stream(db, ctx, input, changes),
        "DeleteStream" => streams::delete_stream(db, ctx, input, changes),
        "DescribeStream" => streams::describe_stream(db, ctx, input),
        "DescribeStreamSummary" => streams::describe_stream_summary(db, ctx, input),
        "ListStreams" => streams::list_streams(db, ctx, input),
        "ListShards" => streams::list_shards(db, ctx, input),
        "DescribeLimits" => streams::describe_limits(db, ctx),
        "IncreaseStreamRetentionPeriod" => streams::change_retention(db, ctx, input, changes, true),
        "DecreaseStreamRetentionPeriod" => streams::change_retention(db, ctx, input, changes, false),
        "UpdateStreamMode" => streams::update_stream_mode(db, ctx, input, changes),
        "StartStreamEncryption" => streams::set_encryption(db, ctx, input, changes, true),
        "StopStreamEncryption" => streams::set_encryption(db, ctx, input, changes, false),
        "EnableEnhancedMonitoring" => streams::set_monitoring(db, ctx, input, changes, true),
        "DisableEnhancedMonitoring" => streams::set_monitoring(db, ctx, input, changes, false),
        "AddTagsToStream" => streams::add_tags(db, ctx, input, changes),
        "RemoveTagsFromStream" => streams::remove_tags(db, ctx, input, changes),
        "ListTagsForStream" => streams::list_tags_for_stream(db, ctx, input),
        "TagResource" => streams::tag_resource(db, ctx, input, changes),
        "UntagResource" => streams::untag_resource(db, ctx, input, changes),
        "ListTagsForResource" => streams::list_tags_for_resource(db, ctx, input),
        "PutResourcePolicy" => streams::put_policy(db, ctx, input, changes),
        "GetResourcePolicy" => streams::get_policy(db, ctx, input),
        "DeleteResourcePolicy" => streams::delete_policy(db, ctx, input, changes),
        "PutRecord" => records::put_record(db, ctx, input, changes),
        "PutRecords" => records::put_records(db, ctx, input, changes),
        "GetShardIterator" => records::get_shard_iterator(db, ctx, input),
        "GetRecords" => records::get_records(db, ctx, input),
        "SplitShard" => reshard::split_shard(db, ctx, input, changes),
        "MergeShards" => reshard::merge_shards(db, ctx, input, changes),
        "UpdateShardCount" => reshard::update_shard_count(db, ctx, input, changes),
        "RegisterStreamConsumer" => consumers::register(db, ctx, input, changes),
        "DescribeStreamConsumer" => consumers::describe(db, ctx, input),
        "ListStreamConsumers" => consumers::list(db, ctx, input),
        "DeregisterStreamConsumer" => consumers::deregister(db, ctx, input, changes),
        _ => return None,
    })
}

/// The stream name an ARN names, when the ARN is this account's and region's.
pub fn name_from_arn<'a>(ctx: &Ctx, arn: &'a str) -> Option<&'a str> {
    let rest = arn.strip_prefix("arn:aws:kinesis:")?;
    let (region, rest) = rest.split_once(':')?;
    let (account, rest) = rest.split_once(':')?;
    let name = rest.strip_prefix("stream/")?;
    let name = name.split('/').next()?;
    (region == ctx.region && account == ctx.account).then_some(name)
}

/// The stream an input names by `StreamName` or `StreamARN`.
pub fn find<'a>(db: &'a Streams, ctx: &Ctx, input: &Value) -> Result<&'a StreamData> {
    let name = stream_name(ctx, input)?;
    db.stream(&ctx.account, &ctx.region, &name).ok_or_else(|| stream_not_found(&name, &ctx.account))
}

pub fn stream_name(ctx: &Ctx, input: &Value) -> Result<String> {
    match (input["StreamName"].as_str(), input["StreamARN"].as_str()) {
        (Some(name), None) => Ok(name.to_string()),
        (name, Some(arn)) => {
            let from_arn = name_from_arn(ctx, arn).ok_or_else(|| stream_not_found(arn, &ctx.account))?;
            if name.is_some_and(|n| n != from_arn) {
                return Err(invalid("StreamARN and StreamName both specified but do not match."));
            }
            Ok(from_arn.to_string())
        }
        (None, None) => Err(invalid("Either StreamName or StreamARN must be provided.")),
    }
}

/// Journal a stream's new metadata.
pub fn save(ctx: &Ctx, meta: StreamMeta, changes: &mut Journal) {
    changes.put(stream_key(&ctx.account, &ctx.region, &meta.name), Record::Stream(Box::new(meta)));
}

pub fn seconds(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

/// A model timestamp member (epoch seconds) in milliseconds.
pub fn millis_of(v: &Value) -> Option<i64> {
    v.as_f64().map(|s| (s * 1000.0).round() as i64)
}
