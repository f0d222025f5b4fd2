//! Enhanced fan-out consumers: Register, Describe, List and DeregisterStreamConsumer.
//! (SubscribeToShard, an event stream, is in [`crate::subscribe`].)

use base64::Engine;
use serde_json::{json, Value};

use super::{name_from_arn, save, seconds, Ctx, Journal};
use crate::errors::{in_use, invalid, limit, not_found, stream_not_found, Result};
use crate::state::{Consumer, StreamData, Streams};

/// Consumers a stream may have registered at once.
const MAX_CONSUMERS: usize = 20;

fn stream_of<'a>(db: &'a Streams, ctx: &Ctx, arn: &str) -> Result<&'a StreamData> {
    let name = name_from_arn(ctx, arn).ok_or_else(|| stream_not_found(arn, &ctx.account))?;
    db.stream(&ctx.account, &ctx.region, name)
        .filter(|s| arn.starts_with(&s.meta.arn))
        .ok_or_else(|| stream_not_found(name, &ctx.account))
}

/// The consumer an input names by `ConsumerARN`, or by `StreamARN` and `ConsumerName`.
fn find<'a>(db: &'a Streams, ctx: &Ctx, input: &Value) -> Result<(&'a StreamData, usize)> {
    let missing = |what: &str| not_found(format!("Consumer {what} under account {} not found.", ctx.account));
    if let Some(arn) = input["ConsumerARN"].as_str() {
        let stream = stream_of(db, ctx, arn).map_err(|_| missing(arn))?;
        let at = stream.meta.consumers.iter().position(|c| c.arn == arn).ok_or_else(|| missing(arn))?;
        return Ok((stream, at));
    }
    let (Some(stream_arn), Some(name)) = (input["StreamARN"].as_str(), input["ConsumerName"].as_str()) else {
        return Err(invalid("Either ConsumerARN or both StreamARN and ConsumerName must be provided."));
    };
    let stream = stream_of(db, ctx, stream_arn)?;
    let at = stream.meta.consumers.iter().position(|c| c.name == name).ok_or_else(|| missing(name))?;
    Ok((stream, at))
}

fn consumer_json(c: &Consumer) -> Value {
    json!({
        "ConsumerName": c.name,
        "ConsumerARN": c.arn,
        "ConsumerStatus": "ACTIVE",
        "ConsumerCreationTimestamp": seconds(c.created_millis),
    })
}

pub fn register(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let stream = stream_of(db, ctx, input["StreamARN"].as_str().unwrap_or_default())?;
    let name = input["ConsumerName"].as_str().unwrap_or_default();
    if stream.meta.consumers.iter().any(|c| c.name == name) {
        return Err(in_use(format!(
            "Consumer {name} under stream {} under account {} already exists.",
            stream.meta.name, ctx.account
        )));
    }
    if stream.meta.consumers.len() >= MAX_CONSUMERS {
        return Err(limit(format!(
            "Stream {} under account {} has reached the limit of {MAX_CONSUMERS} registered consumers.",
            stream.meta.name, ctx.account
        )));
    }
    let consumer = Consumer {
        name: name.to_string(),
        arn: format!("{}/consumer/{name}:{}", stream.meta.arn, ctx.now_millis / 1000),
        created_millis: ctx.now_millis,
        tags: input.get("Tags").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default(),
    };
    let out = json!({"Consumer": consumer_json(&consumer)});
    let mut meta = stream.meta.clone();
    meta.consumers.push(consumer);
    save(ctx, meta, changes);
    Ok(out)
}

pub fn describe(db: &Streams, ctx: &Ctx, input: &Value) -> Result<Value> {
    let (stream, at) = find(db, ctx, input)?;
    let mut description = consumer_json(&stream.meta.consumers[at]);
    description["StreamARN"] = json!(stream.meta.arn);
    Ok(json!({"ConsumerDescription": description}))
}

pub fn list(db: &Streams, ctx: &Ctx, input: &Value) -> Result<Value> {
    let stream = stream_of(db, ctx, input["StreamARN"].as_str().unwrap_or_default())?;
    let limit = input["MaxResults"].as_u64().unwrap_or(100) as usize;
    let skip = match input["NextToken"].as_str() {
        None => 0,
        Some(t) => base64::engine::general_purpose::STANDARD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| invalid(format!("NextToken {t} is invalid.")))?,
    };
    let all = &stream.meta.consumers;
    let page: Vec<Value> = all.iter().skip(skip).take(limit).map(consumer_json).collect();
    let mut out = json!({"Consumers": page});
    if skip + limit < all.len() {
        out["NextToken"] = json!(base64::engine::general_purpose::STANDARD.encode((skip + limit).to_string()));
    }
    Ok(out)
}

pub fn deregister(db: &Streams, ctx: &Ctx, input: &Value, changes: &mut Journal) -> Result<Value> {
    let (stream, at) = find(db, ctx, input)?;
    let mut meta = stream.meta.clone();
    let removed = meta.consumers.remove(at);
    meta.consumer_policies.remove(&removed.arn);
    save(ctx, meta, changes);
    Ok(json!({}))
}
