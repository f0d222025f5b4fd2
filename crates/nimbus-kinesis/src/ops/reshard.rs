//! Resharding: SplitShard, MergeShards and UpdateShardCount. A resharded shard is closed (it
//! gets an ending sequence number and stays readable until its records expire) and its children
//! name it as parent, so readers can finish the parent before starting on the children.

use serde_json::{json, Value};

use super::streams::{check_shard_quota, even_ranges};
use super::{find, save, Ctx, Journal};
use crate::errors::{invalid, not_found, Result};
use crate::state::{ShardMeta, StreamData, StreamMeta, Streams};

fn not_eligible(meta: &StreamMeta, ctx: &Ctx, shard: &str) -> nimbus_core::AwsError {
    invalid(format!(
        "Shard {shard} in stream {} under account {} has already been merged or split, and thus is not eligible for merging or splitting.",
        meta.name, ctx.account
    ))
}

fn open_shard<'a>(stream: &'a StreamData, ctx: &Ctx, id: &str) -> Result<&'a ShardMeta> {
    let meta = &stream.meta;
    let shard = meta.shard(id).ok_or_else(|| {
        not_found(format!("Could not find shard {id} in stream {} under account {}.", meta.name, ctx.account))
    })?;
    if !shard.is_open() {
        return Err(not_eligible(meta, ctx, id));
    }
    Ok(shard)
}

/// Close the shards at `indexes` (one counter marks their end) and add `children`, whose
/// sequence numbers start after it.
fn reshard(
    stream: &StreamData,
    ctx: &Ctx,
    indexes: &[u32],
    children: Vec<(u128, u128, Option<u32>, Option<u32>)>,
) -> StreamMeta {
    let mut meta = stream.meta.clone();
    let end = stream.next_counter(ctx.now_millis);
    for shard in meta.shards.iter_mut().filter(|s| indexes.contains(&s.index)) {
        shard.end_counter = Some(end);
        shard.closed_millis = Some(ctx.now_millis);
    }
    let mut next = meta.next_shard_index();
    for (start_hash, end_hash, parent, adjacent_parent) in children {
        meta.shards.push(ShardMeta {
            index: next,
            parent,
            adjacent_parent,
            start_hash,
            end_hash,
            start_counter: end + 1,
            end_counter: None,
            created_millis: ctx.now_millis,
            closed_millis: None,
        });
        next += 1;
    }
    meta
}

pub fn split_shard(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let id = input["ShardToSplit"].as_str().unwrap_or_default();
    let shard = open_shard(stream, ctx, id)?;
    let raw = input["NewStartingHashKey"].as_str().unwrap_or_default();
    let key = raw.parse::<u128>().ok().filter(|k| *k > shard.start_hash && *k <= shard.end_hash).ok_or_else(|| {
        invalid(format!(
            "NewStartingHashKey {raw} used in SplitShard() on shard {id} in stream {} under account {} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
            stream.meta.name, ctx.account, shard.start_hash, shard.end_hash
        ))
    })?;
    check_shard_quota(db, ctx, 1)?;
    let children =
        vec![(shard.start_hash, key - 1, Some(shard.index), None), (key, shard.end_hash, Some(shard.index), None)];
    save(ctx, reshard(stream, ctx, &[shard.index], children), changes);
    Ok(json!({}))
}

pub fn merge_shards(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let a_id = input["ShardToMerge"].as_str().unwrap_or_default();
    let b_id = input["AdjacentShardToMerge"].as_str().unwrap_or_default();
    let a = open_shard(stream, ctx, a_id)?;
    let b = open_shard(stream, ctx, b_id)?;
    let adjacent = a.end_hash.checked_add(1) == Some(b.start_hash) || b.end_hash.checked_add(1) == Some(a.start_hash);
    if !adjacent {
        return Err(invalid(format!(
            "Shards {a_id} and {b_id} in stream {} under account {} are not an adjacent pair of shards eligible for merging",
            stream.meta.name, ctx.account
        )));
    }
    let child = (a.start_hash.min(b.start_hash), a.end_hash.max(b.end_hash), Some(a.index), Some(b.index));
    save(ctx, reshard(stream, ctx, &[a.index, b.index], vec![child]), changes);
    Ok(json!({}))
}

pub fn update_shard_count(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let stream = find(db, ctx, input)?;
    let target = input["TargetShardCount"].as_u64().unwrap_or_default() as u32;
    let open: Vec<&ShardMeta> = {
        let mut open: Vec<&ShardMeta> = stream.meta.open_shards().collect();
        open.sort_by_key(|s| s.start_hash);
        open
    };
    let current = open.len() as u32;
    if target > current * 2 || target * 2 < current {
        return Err(invalid(format!(
            "UpdateShardCount cannot scale stream {} under account {} from {current} to {target} shards: the target must be between half and double the current open shard count.",
            stream.meta.name, ctx.account
        )));
    }
    if target != current {
        check_shard_quota(db, ctx, target.saturating_sub(current))?;
        // Each new shard descends from the (at most two) old shards its range overlaps first.
        let children = even_ranges(target)
            .into_iter()
            .map(|(start, end)| {
                let mut parents = open.iter().filter(|s| s.start_hash <= end && start <= s.end_hash).map(|s| s.index);
                (start, end, parents.next(), parents.next())
            })
            .collect();
        let indexes: Vec<u32> = open.iter().map(|s| s.index).collect();
        save(ctx, reshard(stream, ctx, &indexes, children), changes);
    }
    Ok(json!({
        "StreamName": stream.meta.name,
        "CurrentShardCount": current,
        "TargetShardCount": target,
        "StreamARN": stream.meta.arn,
    }))
}
