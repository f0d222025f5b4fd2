//! One plain function per SQS operation over the [`Store`], on JSON-shaped input (both wire
//! protocols decode to it) and JSON-shaped output. Journal changes are collected in [`Call`].

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use base64::Engine;
use nimbus_core::members::{int_of, str_of};
use nimbus_core::AwsError;
use regex::Regex;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::errors::{self, err, invalid_parameter, invalid_value, Result};
use crate::md5;
use crate::state::*;

pub struct Call<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub now: i64,
    /// `http://host:port` the client reached us on.
    pub endpoint: &'a str,
    pub sender_id: &'a str,
    pub changes: Vec<Change>,
    /// Queues whose waiting receivers should wake up once the changes are durable.
    pub wake: Vec<Arc<Notify>>,
}

impl<'a> Call<'a> {
    pub fn new(account: &'a str, region: &'a str, now: i64, endpoint: &'a str, sender_id: &'a str) -> Self {
        Call { account, region, now, endpoint, sender_id, changes: Vec::new(), wake: Vec::new() }
    }
}

/// Where a queue lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub account: String,
    pub region: String,
    pub name: String,
}

/// A queue's URL: the path form on the host the client used (as AWS's and LocalStack's path
/// form), or with `--aws-host-urls` the `sqs.<region>.localhost` host form.
pub fn queue_url(endpoint: &str, region: &str, account: &str, name: &str) -> String {
    if !nimbus_core::urls::aws_host_urls() {
        return format!("{}/{account}/{name}", nimbus_core::urls::base(endpoint));
    }
    match nimbus_core::urls::port_of(endpoint) {
        Some(port) => format!("http://sqs.{region}.localhost:{port}/{account}/{name}"),
        None => format!("http://sqs.{region}.localhost/{account}/{name}"),
    }
}

fn url_of(call: &Call, q: &Queue) -> String {
    queue_url(call.endpoint, &q.region, &q.account, q.name())
}

/// Resolve a queue URL (any host; `/account/name` path) or bare name to an existing queue.
pub fn resolve(store: &Store, call: &Call, url: &str) -> Result<Loc> {
    let (host, path) = match url.split_once("://") {
        Some((_, rest)) => match rest.split_once('/') {
            Some((h, p)) => (h, p),
            None => (rest, ""),
        },
        None => ("", url),
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (account, name) = match segments.as_slice() {
        [] => return Err(errors::no_queue()),
        [name] => (call.account.to_string(), name.to_string()),
        [.., account, name] => (account.to_string(), name.to_string()),
    };
    let name = percent_encoding::percent_decode_str(&name).decode_utf8_lossy().into_owned();
    let host_region = host
        .split(':')
        .next()
        .and_then(|h| h.strip_prefix("sqs."))
        .and_then(|h| h.split('.').next())
        .filter(|r| r.contains('-'))
        .map(str::to_string);
    let path_region = match segments.as_slice() {
        [.., "queue", region, _, _] => Some(region.to_string()),
        _ => None,
    };
    let mut regions: Vec<String> = host_region.into_iter().chain(path_region).collect();
    regions.push(call.region.to_string());
    for region in regions {
        if store.queue(&account, &region, &name).is_some() {
            return Ok(Loc { account, region, name });
        }
    }
    Err(errors::no_queue())
}

fn q<'s>(store: &'s Store, loc: &Loc) -> &'s Queue {
    store.queue(&loc.account, &loc.region, &loc.name).expect("resolved queue exists")
}

fn qm<'s>(store: &'s mut Store, loc: &Loc) -> &'s mut Queue {
    store.queue_mut(&loc.account, &loc.region, &loc.name).expect("resolved queue exists")
}

fn required<'v>(input: &'v Value, name: &str) -> Result<&'v str> {
    str_of(input, name).ok_or_else(|| errors::missing_parameter(name))
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

fn located(store: &mut Store, call: &Call, input: &Value) -> Result<Loc> {
    let url = required(input, "QueueUrl")?;
    let loc = resolve(store, call, url)?;
    Ok(loc)
}

/// Resolve and tidy (retention, dedup window) the queue an operation names.
fn open(store: &mut Store, call: &mut Call, input: &Value) -> Result<Loc> {
    let loc = located(store, call, input)?;
    qm(store, &loc).tidy(call.now, &mut call.changes);
    Ok(loc)
}

/// Account boundaries: another account's queue is reachable only where its queue policy
/// grants the caller's account the action (AWS answers `AccessDenied` otherwise).
pub fn authorize(store: &Store, call: &Call, op: &str, input: &Value) -> Result<()> {
    let Some(url) = input.get("QueueUrl").and_then(Value::as_str) else { return Ok(()) };
    let Ok(loc) = resolve(store, call, url) else { return Ok(()) };
    if loc.account == call.account {
        return Ok(());
    }
    let Some(queue) = store.queue(&loc.account, &loc.region, &loc.name) else { return Ok(()) };
    // Batch operations are authorized as their single forms.
    let action = format!("sqs:{}", op.strip_suffix("Batch").unwrap_or(op));
    let policy = queue.meta.attributes.get("Policy").map(|p| Value::String(p.clone())).unwrap_or(Value::Null);
    match nimbus_core::policy::evaluate(&policy, call.account, &action, &queue.arn) {
        nimbus_core::policy::Decision::Allow => Ok(()),
        _ => Err(errors::err(
            "AccessDenied",
            format!(
                "Access to the resource https://sqs.{}.amazonaws.com/{}/{} is denied.",
                loc.region, loc.account, loc.name
            ),
        )),
    }
}

pub fn dispatch(store: &mut Store, call: &mut Call, op: &str, input: &Value) -> Result<Value> {
    authorize(store, call, op, input)?;
    match op {
        "CreateQueue" => create_queue(store, call, input),
        "GetQueueUrl" => get_queue_url(store, call, input),
        "ListQueues" => list_queues(store, call, input),
        "DeleteQueue" => delete_queue(store, call, input),
        "PurgeQueue" => purge_queue(store, call, input),
        "GetQueueAttributes" => get_queue_attributes(store, call, input),
        "SetQueueAttributes" => set_queue_attributes(store, call, input),
        "TagQueue" => tag_queue(store, call, input),
        "UntagQueue" => untag_queue(store, call, input),
        "ListQueueTags" => list_queue_tags(store, call, input),
        "SendMessage" => send_message(store, call, input),
        "SendMessageBatch" => send_message_batch(store, call, input),
        "DeleteMessage" => delete_message(store, call, input),
        "DeleteMessageBatch" => delete_message_batch(store, call, input),
        "ChangeMessageVisibility" => change_visibility(store, call, input),
        "ChangeMessageVisibilityBatch" => change_visibility_batch(store, call, input),
        "ListDeadLetterSourceQueues" => list_dead_letter_sources(store, call, input),
        "StartMessageMoveTask" => start_move_task(store, call, input),
        "ListMessageMoveTasks" => list_move_tasks(store, call, input),
        "CancelMessageMoveTask" => cancel_move_task(store, call, input),
        "AddPermission" => add_permission(store, call, input),
        "RemovePermission" => remove_permission(store, call, input),
        other => Err(err("NotImplemented", format!("SQS operation {other} is not emulated by nimbus"))),
    }
}

// ---------------------------------------------------------------- queues

const READ_ONLY: &[&str] = &[
    "All",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

fn check_name(name: &str, fifo: bool) -> Result<()> {
    let base = match name.strip_suffix(".fifo") {
        Some(base) if fifo => base,
        Some(_) => {
            return Err(invalid_parameter(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            ))
        }
        None if fifo => {
            return Err(invalid_parameter(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length",
            ))
        }
        None => name,
    };
    let ok =
        !base.is_empty() && name.len() <= 80 && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        let text = if fifo {
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length"
        } else {
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        };
        return Err(invalid_parameter(text));
    }
    Ok(())
}

fn range(name: &str, v: &str, lo: i64, hi: i64) -> Result<String> {
    match v.trim().parse::<i64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n.to_string()),
        _ => Err(errors::invalid_attribute_value(name)),
    }
}

fn boolean(name: &str, v: &str) -> Result<String> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok("true".into()),
        "false" => Ok("false".into()),
        _ => Err(errors::invalid_attribute_value(name)),
    }
}

/// Validate and normalize settable attributes; `Ok(None)` values mean "remove".
fn validate_attributes(
    store: &Store,
    loc: &Loc,
    fifo: bool,
    attrs: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Option<String>>> {
    let mut out = BTreeMap::new();
    for (k, v) in attrs {
        if READ_ONLY.contains(&k.as_str()) {
            return Err(errors::unknown_attribute(k));
        }
        let value = match k.as_str() {
            "VisibilityTimeout" => Some(range(k, v, 0, 43_200)?),
            "DelaySeconds" => Some(range(k, v, 0, 900)?),
            "MaximumMessageSize" => Some(range(k, v, 1024, MAX_MESSAGE_SIZE)?),
            "MessageRetentionPeriod" => Some(range(k, v, 60, 1_209_600)?),
            "ReceiveMessageWaitTimeSeconds" => Some(range(k, v, 0, 20)?),
            "KmsDataKeyReusePeriodSeconds" => Some(range(k, v, 60, 86_400)?),
            "KmsMasterKeyId" => (!v.is_empty()).then(|| v.clone()),
            "SqsManagedSseEnabled" => Some(boolean(k, v)?),
            "Policy" => {
                if v.is_empty() {
                    None
                } else {
                    serde_json::from_str::<Value>(v).map_err(|_| errors::invalid_attribute_value(k))?;
                    Some(v.clone())
                }
            }
            "RedrivePolicy" => redrive_policy(store, loc, fifo, v)?,
            "RedriveAllowPolicy" => redrive_allow_policy(v)?,
            "FifoQueue" => {
                if !fifo {
                    return Err(errors::unknown_attribute(k));
                }
                if !v.eq_ignore_ascii_case("true") {
                    return Err(err(
                        "InvalidAttributeValue",
                        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.",
                    ));
                }
                Some("true".into())
            }
            "ContentBasedDeduplication" => {
                if !fifo {
                    return Err(errors::unknown_attribute(k));
                }
                Some(boolean(k, v)?)
            }
            "DeduplicationScope" | "FifoThroughputLimit" => {
                if !fifo {
                    return Err(err(
                        "InvalidAttributeName",
                        format!("You can specify the {k} only when FifoQueue is set to true."),
                    ));
                }
                let allowed: &[&str] = if k == "DeduplicationScope" {
                    &["messageGroup", "queue"]
                } else {
                    &["perQueue", "perMessageGroupId"]
                };
                if !allowed.contains(&v.as_str()) {
                    return Err(errors::invalid_attribute_value(k));
                }
                Some(v.clone())
            }
            _ => return Err(errors::unknown_attribute(k)),
        };
        out.insert(k.clone(), value);
    }
    Ok(out)
}

fn redrive_policy(store: &Store, loc: &Loc, fifo: bool, v: &str) -> Result<Option<String>> {
    if v.is_empty() {
        return Ok(None);
    }
    let reason = |r: &str| invalid_value("RedrivePolicy", v, r);
    let policy: Value = serde_json::from_str(v).map_err(|_| reason("Redrive policy is not a valid JSON map."))?;
    let Some(target) = policy.get("deadLetterTargetArn").and_then(Value::as_str) else {
        return Err(reason("Redrive policy does not contain mandatory attribute: deadLetterTargetArn."));
    };
    let count = match policy.get("maxReceiveCount") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        None => return Err(reason("Redrive policy does not contain mandatory attribute: maxReceiveCount.")),
        _ => None,
    };
    let Some(count) = count.filter(|c| (1..=1000).contains(c)) else {
        let shown =
            policy.get("maxReceiveCount").map(|c| c.to_string().trim_matches('"').to_string()).unwrap_or_default();
        return Err(reason(&format!(
            "Invalid value for maxReceiveCount: {shown}, valid values are from 1 to 1000 both inclusive."
        )));
    };
    let Some(dlq) = store.queue_by_arn(target) else {
        return Err(reason("Dead-letter target does not exist."));
    };
    if dlq.meta.fifo != fifo {
        return Err(reason("Dead-letter target must be of the same type (FIFO or standard) as the source."));
    }
    if dlq.account != loc.account || dlq.region != loc.region {
        return Err(reason("Dead-letter target owner should be same as the source."));
    }
    Ok(Some(json!({"deadLetterTargetArn": target, "maxReceiveCount": count}).to_string()))
}

fn redrive_allow_policy(v: &str) -> Result<Option<String>> {
    if v.is_empty() {
        return Ok(None);
    }
    let reason = |r: &str| invalid_value("RedriveAllowPolicy", v, r);
    let policy: Value = serde_json::from_str(v).map_err(|_| reason("Redrive allow policy is not a valid JSON map."))?;
    let permission = policy.get("redrivePermission").and_then(Value::as_str).unwrap_or_default();
    let sources = policy.get("sourceQueueArns").and_then(Value::as_array).map(Vec::len);
    match (permission, sources) {
        ("allowAll" | "denyAll", None) => {}
        ("allowAll" | "denyAll", Some(_)) => {
            return Err(reason("Only byQueue redrivePermission can have sourceQueueArns specified."))
        }
        ("byQueue", Some(1..=10)) => {}
        ("byQueue", _) => return Err(reason("Amount of source queue ARNs must be between 1 and 10.")),
        _ => return Err(reason("Invalid value for redrivePermission.")),
    }
    Ok(Some(v.to_string()))
}

fn defaults(fifo: bool) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = [
        ("DelaySeconds", "0"),
        ("MaximumMessageSize", "1048576"),
        ("MessageRetentionPeriod", "345600"),
        ("ReceiveMessageWaitTimeSeconds", "0"),
        ("VisibilityTimeout", "30"),
        ("SqsManagedSseEnabled", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if fifo {
        for (k, v) in [
            ("FifoQueue", "true"),
            ("ContentBasedDeduplication", "false"),
            ("DeduplicationScope", "queue"),
            ("FifoThroughputLimit", "perQueue"),
        ] {
            m.insert(k.into(), v.into());
        }
    }
    m
}

fn check_throughput(attrs: &BTreeMap<String, String>) -> Result<()> {
    if attrs.get("FifoThroughputLimit").map(String::as_str) == Some("perMessageGroupId")
        && attrs.get("DeduplicationScope").map(String::as_str) != Some("messageGroup")
    {
        return Err(err(
            "InvalidAttributeValue",
            "Invalid value for the parameter FifoThroughputLimit. Reason: To enable high throughput for FIFO queues, do the following: Set DeduplicationScope to messageGroup. Set FifoThroughputLimit to perMessageGroupId.",
        ));
    }
    Ok(())
}

fn create_queue(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let name = required(input, "QueueName")?.to_string();
    let attrs = string_map(input.get("Attributes"));
    let tags = string_map(input.get("tags"));
    let fifo = attrs.get("FifoQueue").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    check_name(&name, fifo)?;
    let loc = Loc { account: call.account.into(), region: call.region.into(), name: name.clone() };
    let validated = validate_attributes(store, &loc, fifo, &attrs)?;
    if let Some(existing) = store.queue(call.account, call.region, &name) {
        for (k, v) in &validated {
            let current = existing.meta.attributes.get(k);
            let same = match v {
                Some(v) => current == Some(v) || (current.is_none() && defaults(fifo).get(k) == Some(v)),
                None => current.is_none(),
            };
            if !same {
                return Err(err(
                    "QueueNameExists",
                    format!("A queue already exists with the same name and a different value for attribute {k}"),
                ));
            }
        }
        return Ok(json!({"QueueUrl": url_of(call, existing)}));
    }
    let region = store.region_mut(call.account, call.region);
    if region.deleted.get(&name).is_some_and(|at| call.now - at < 60_000) {
        return Err(err(
            "QueueDeletedRecently",
            "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
        ));
    }
    let mut attributes = defaults(fifo);
    for (k, v) in validated {
        match v {
            Some(v) => attributes.insert(k, v),
            None => attributes.remove(&k),
        };
    }
    check_throughput(&attributes)?;
    let secs = call.now / 1000;
    let meta =
        QueueMeta { name: name.clone(), fifo, attributes, created: secs, last_modified: secs, tags, purged_at: None };
    let queue = Queue::new(call.account, call.region, meta);
    call.changes.push(queue.meta_change());
    let url = url_of(call, &queue);
    region.deleted.remove(&name);
    region.queues.insert(name, queue);
    Ok(json!({"QueueUrl": url}))
}

fn get_queue_url(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let name = required(input, "QueueName")?;
    let account = str_of(input, "QueueOwnerAWSAccountId").unwrap_or(call.account);
    let queue = store.queue(account, call.region, name).ok_or_else(errors::no_queue)?;
    Ok(json!({"QueueUrl": url_of(call, queue)}))
}

fn page(names: Vec<String>, input: &Value) -> Result<(Vec<String>, Option<String>)> {
    let max = int_of(input, "MaxResults");
    if let Some(m) = max {
        if !(1..=1000).contains(&m) {
            return Err(invalid_value("MaxResults", m, "MaxResults must be an integer between 1 and 1000."));
        }
    }
    let start = match str_of(input, "NextToken") {
        Some(token) => {
            let after = base64::engine::general_purpose::STANDARD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid_parameter("Invalid NextToken value."))?;
            names.iter().position(|n| *n > after).unwrap_or(names.len())
        }
        None => 0,
    };
    let limit = max.unwrap_or(1000) as usize;
    let rest = &names[start..];
    let taken: Vec<String> = rest.iter().take(limit).cloned().collect();
    let token = (max.is_some() && rest.len() > limit)
        .then(|| base64::engine::general_purpose::STANDARD.encode(taken.last().cloned().unwrap_or_default()));
    Ok((taken, token))
}

fn list_queues(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let prefix = str_of(input, "QueueNamePrefix").unwrap_or_default();
    let names: Vec<String> = store
        .region(call.account, call.region)
        .map(|r| r.queues.keys().filter(|n| n.starts_with(prefix)).cloned().collect())
        .unwrap_or_default();
    let (names, token) = page(names, input)?;
    let mut out = Map::new();
    if !names.is_empty() {
        let urls: Vec<String> = names.iter().map(|n| queue_url(call.endpoint, call.region, call.account, n)).collect();
        out.insert("QueueUrls".into(), json!(urls));
    }
    if let Some(token) = token {
        out.insert("NextToken".into(), json!(token));
    }
    Ok(Value::Object(out))
}

fn delete_queue(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = located(store, call, input)?;
    let region = store.region_mut(&loc.account, &loc.region);
    let Some(mut queue) = region.queues.remove(&loc.name) else { return Err(errors::no_queue()) };
    region.deleted.insert(loc.name.clone(), call.now);
    queue.clear_messages(&mut call.changes);
    call.changes.push((dedup_key(&loc.account, &loc.region, &loc.name), None));
    call.changes.push((queue_key(&loc.account, &loc.region, &loc.name), None));
    call.wake.push(queue.notify.clone());
    Ok(json!({}))
}

fn purge_queue(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = open(store, call, input)?;
    let queue = qm(store, &loc);
    if queue.meta.purged_at.is_some_and(|at| call.now - at < 60_000) {
        return Err(err(
            "PurgeQueueInProgress",
            format!("Only one PurgeQueue operation on {} is allowed every 60 seconds.", loc.name),
        ));
    }
    queue.clear_messages(&mut call.changes);
    queue.meta.purged_at = Some(call.now);
    call.changes.push(queue.meta_change());
    Ok(json!({}))
}

pub fn queue_attributes(queue: &Queue, now: i64, names: &[String]) -> BTreeMap<String, String> {
    let all = names.iter().any(|n| n == "All");
    let wanted = |n: &str| all || names.iter().any(|x| x == n);
    let (visible, in_flight, delayed) = queue.counts(now);
    let mut out = BTreeMap::new();
    let computed = [
        ("ApproximateNumberOfMessages", visible.to_string()),
        ("ApproximateNumberOfMessagesNotVisible", in_flight.to_string()),
        ("ApproximateNumberOfMessagesDelayed", delayed.to_string()),
        ("CreatedTimestamp", queue.meta.created.to_string()),
        ("LastModifiedTimestamp", queue.meta.last_modified.to_string()),
        ("QueueArn", queue.arn.clone()),
    ];
    for (k, v) in computed {
        if wanted(k) {
            out.insert(k.to_string(), v);
        }
    }
    for (k, v) in &queue.meta.attributes {
        if wanted(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

fn get_queue_attributes(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = open(store, call, input)?;
    let names: Vec<String> = input
        .get("AttributeNames")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let attrs = queue_attributes(q(store, &loc), call.now, &names);
    if attrs.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({"Attributes": attrs}))
}

fn set_queue_attributes(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = open(store, call, input)?;
    let attrs = string_map(input.get("Attributes"));
    let fifo = q(store, &loc).meta.fifo;
    let validated = validate_attributes(store, &loc, fifo, &attrs)?;
    let queue = qm(store, &loc);
    let mut merged = queue.meta.attributes.clone();
    for (k, v) in validated {
        match v {
            Some(v) => merged.insert(k, v),
            None => merged.remove(&k),
        };
    }
    check_throughput(&merged)?;
    queue.meta.attributes = merged;
    queue.meta.last_modified = call.now / 1000;
    call.changes.push(queue.meta_change());
    call.wake.push(queue.notify.clone());
    Ok(json!({}))
}

fn tag_queue(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = located(store, call, input)?;
    let tags = string_map(input.get("Tags"));
    let queue = qm(store, &loc);
    let mut merged = queue.meta.tags.clone();
    merged.extend(tags);
    if merged.len() > 50 {
        return Err(invalid_parameter("Too many tags added for queue ".to_string() + &loc.name + "."));
    }
    queue.meta.tags = merged;
    call.changes.push(queue.meta_change());
    Ok(json!({}))
}

fn untag_queue(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = located(store, call, input)?;
    let keys: Vec<String> = input
        .get("TagKeys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let queue = qm(store, &loc);
    for k in keys {
        queue.meta.tags.remove(&k);
    }
    call.changes.push(queue.meta_change());
    Ok(json!({}))
}

fn list_queue_tags(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = located(store, call, input)?;
    let tags = &q(store, &loc).meta.tags;
    if tags.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({"Tags": tags}))
}

// ---------------------------------------------------------------- sending

fn valid_body_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

const INVALID_CHARS: &str = "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF";

/// Parse and validate `MessageAttributes` (user) or `MessageSystemAttributes`.
pub fn parse_attributes(v: Option<&Value>, system: bool) -> Result<BTreeMap<String, MessageAttribute>> {
    let mut out = BTreeMap::new();
    let Some(obj) = v.and_then(Value::as_object) else { return Ok(out) };
    if !system && obj.len() > 10 {
        return Err(invalid_parameter(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            obj.len()
        )));
    }
    static NAME: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    let name_re = NAME.get_or_init(|| Regex::new(r"^[A-Za-z0-9_.\-]+$").expect("regex"));
    for (name, attr) in obj {
        if system {
            if name != "AWSTraceHeader" {
                return Err(invalid_parameter(format!("Message system attribute name '{name}' is invalid.")));
            }
        } else {
            if name.len() > 256 {
                return Err(invalid_parameter("Message (user) attribute names must be shorter than 256 Bytes"));
            }
            let lower = name.to_ascii_lowercase();
            if !name_re.is_match(name) || name.contains("..") {
                return Err(invalid_parameter(format!(
                    "Message (user) attribute name '{name}' can only contain upper and lower case characters, digits, periods, hyphens and underscores."
                )));
            }
            if lower.starts_with("aws.") || lower.starts_with("amazon.") || name.starts_with('.') || name.ends_with('.')
            {
                return Err(invalid_parameter(format!(
                    "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These strings are reserved for internal use. Additionally, they cannot start or end with '.'. Invalid name: '{name}'"
                )));
            }
        }
        let data_type = attr.get("DataType").and_then(Value::as_str).unwrap_or_default().to_string();
        if data_type.is_empty() {
            return Err(invalid_parameter(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            )));
        }
        let base = data_type.split('.').next().unwrap_or_default();
        if !matches!(base, "String" | "Number" | "Binary") {
            return Err(invalid_parameter(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
        if system && data_type != "String" {
            return Err(invalid_parameter(format!("The message system attribute '{name}' must be of type String.")));
        }
        let string_value = attr.get("StringValue").and_then(Value::as_str).map(str::to_string);
        let binary_value = match attr.get("BinaryValue").and_then(Value::as_str) {
            Some(b) => Some(base64::engine::general_purpose::STANDARD.decode(b).map_err(|_| {
                invalid_parameter(format!("The message attribute '{name}' has an invalid binary value."))
            })?),
            None => None,
        };
        let missing = || {
            invalid_parameter(format!(
                "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{base}'."
            ))
        };
        if base == "Binary" {
            if binary_value.as_ref().is_none_or(Vec::is_empty) {
                return Err(missing());
            }
            out.insert(name.clone(), MessageAttribute { data_type, string_value: None, binary_value });
        } else {
            let Some(s) = string_value.filter(|s| !s.is_empty()) else { return Err(missing()) };
            if !s.chars().all(valid_body_char) {
                return Err(invalid_parameter(INVALID_CHARS));
            }
            if base == "Number" && !is_number(&s) {
                return Err(invalid_parameter(format!(
                    "Can't cast the value of message (user) attribute '{name}' to a number."
                )));
            }
            out.insert(name.clone(), MessageAttribute { data_type, string_value: Some(s), binary_value: None });
        }
    }
    Ok(out)
}

fn is_number(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty() && s.parse::<f64>().is_ok_and(f64::is_finite) && s.len() <= 40
}

fn attributes_size(attrs: &BTreeMap<String, MessageAttribute>) -> usize {
    attrs
        .iter()
        .map(|(k, a)| {
            k.len()
                + a.data_type.len()
                + a.string_value.as_ref().map_or(0, String::len)
                + a.binary_value.as_ref().map_or(0, Vec::len)
        })
        .sum()
}

/// One message to send (SendMessage or a batch entry).
pub struct Outgoing {
    pub body: String,
    pub delay: Option<i64>,
    pub attributes: BTreeMap<String, MessageAttribute>,
    pub system_attributes: BTreeMap<String, MessageAttribute>,
    pub dedup: Option<String>,
    pub group: Option<String>,
}

impl Outgoing {
    pub fn parse(input: &Value) -> Result<Outgoing> {
        Ok(Outgoing {
            body: str_of(input, "MessageBody").unwrap_or_default().to_string(),
            delay: int_of(input, "DelaySeconds"),
            attributes: parse_attributes(input.get("MessageAttributes"), false)?,
            system_attributes: parse_attributes(input.get("MessageSystemAttributes"), true)?,
            dedup: str_of(input, "MessageDeduplicationId").map(str::to_string),
            group: str_of(input, "MessageGroupId").map(str::to_string),
        })
    }

    fn size(&self) -> usize {
        self.body.len() + attributes_size(&self.attributes)
    }
}

fn check_fifo_id(value: &str, parameter: &str) -> Result<()> {
    let ok = (1..=128).contains(&value.chars().count()) && value.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid_value(
            parameter,
            value,
            &format!("{parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length."),
        ))
    }
}

/// Send one message; answers the JSON result entry (without `Id`).
pub fn send_one(store: &mut Store, call: &mut Call, loc: &Loc, out: Outgoing) -> Result<Value> {
    let queue = qm(store, loc);
    if out.body.is_empty() {
        return Err(errors::missing_parameter("MessageBody"));
    }
    let max = queue.attr("MaximumMessageSize", MAX_MESSAGE_SIZE) as usize;
    if out.size() > max {
        return Err(invalid_parameter(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max} bytes."
        )));
    }
    if !out.body.chars().all(valid_body_char) {
        return Err(err("InvalidMessageContents", INVALID_CHARS));
    }
    if let Some(d) = out.delay {
        if !(0..=900).contains(&d) {
            return Err(invalid_value("DelaySeconds", d, "DelaySeconds must be >= 0 and <= 900."));
        }
    }
    if let Some(g) = &out.group {
        check_fifo_id(g, "MessageGroupId")?;
    }
    if let Some(d) = &out.dedup {
        check_fifo_id(d, "MessageDeduplicationId")?;
    }
    let fifo = queue.meta.fifo;
    let mut dedup_id = None;
    if fifo {
        if out.delay.is_some_and(|d| d != 0) {
            return Err(invalid_value(
                "DelaySeconds",
                out.delay.unwrap_or_default(),
                "The request include parameter that is not valid for this queue type.",
            ));
        }
        if out.group.is_none() {
            return Err(errors::missing_parameter("MessageGroupId"));
        }
        let content_based = queue.meta.attributes.get("ContentBasedDeduplication").map(String::as_str) == Some("true");
        dedup_id = match (&out.dedup, content_based) {
            (Some(d), _) => Some(d.clone()),
            (None, true) => Some(hex::encode(Sha256::digest(out.body.as_bytes()))),
            (None, false) => {
                return Err(invalid_parameter(
                    "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                ))
            }
        };
    } else if let Some(d) = &out.dedup {
        return Err(invalid_value(
            "MessageDeduplicationId",
            d,
            "The request includes a parameter that is not valid for this queue type.",
        ));
    }
    let md5_body = md5::md5_hex(out.body.as_bytes());
    let md5_attrs = md5::attributes_md5(&out.attributes);
    let md5_sys = md5::attributes_md5(&out.system_attributes);
    let result = |id: &str, seq: Option<&str>| {
        let mut r = Map::new();
        r.insert("MessageId".into(), json!(id));
        r.insert("MD5OfMessageBody".into(), json!(md5_body));
        if let Some(m) = &md5_attrs {
            r.insert("MD5OfMessageAttributes".into(), json!(m));
        }
        if let Some(m) = &md5_sys {
            r.insert("MD5OfMessageSystemAttributes".into(), json!(m));
        }
        if let Some(s) = seq {
            r.insert("SequenceNumber".into(), json!(s));
        }
        Value::Object(r)
    };
    let dedup_key = dedup_id.as_ref().map(|d| {
        if queue.meta.attributes.get("DeduplicationScope").map(String::as_str) == Some("messageGroup") {
            format!("{}\u{1}{d}", out.group.as_deref().unwrap_or_default())
        } else {
            d.clone()
        }
    });
    if let Some(key) = &dedup_key {
        if let Some(prev) = queue.dedup.get(key).filter(|p| p.at + DEDUP_WINDOW_MS > call.now) {
            // A duplicate: accepted, answered as the original, not enqueued.
            return Ok(result(&prev.message_id.clone(), prev.sequence_number.clone().as_deref()));
        }
    }
    let seq = queue.alloc_seq(call.now);
    let delay =
        if fifo { queue.attr("DelaySeconds", 0) } else { out.delay.unwrap_or_else(|| queue.attr("DelaySeconds", 0)) };
    let id = uuid::Uuid::new_v4().to_string();
    let sequence = fifo.then(|| sequence_number(seq));
    let message = Message {
        seq,
        id: id.clone(),
        body: out.body,
        md5_body: md5_body.clone(),
        attributes: out.attributes,
        system_attributes: out.system_attributes,
        sent: call.now,
        sender_id: call.sender_id.to_string(),
        visible_at: call.now + delay * 1000,
        receive_count: 0,
        first_receive: None,
        group: out.group,
        dedup: dedup_id,
        sequence_number: sequence.clone(),
        receipt: None,
        dlq_source: None,
    };
    call.changes.push(queue.message_change(&message));
    queue.insert(message);
    if let Some(key) = dedup_key {
        queue.dedup.insert(key, Dedup { at: call.now, message_id: id.clone(), sequence_number: sequence.clone() });
        call.changes.push(queue.dedup_change());
    }
    call.wake.push(queue.notify.clone());
    Ok(result(&id, sequence.as_deref()))
}

fn send_message(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = open(store, call, input)?;
    let out = Outgoing::parse(input)?;
    send_one(store, call, &loc, out)
}

fn entries<'v>(input: &'v Value, entry_type: &str) -> Result<&'v Vec<Value>> {
    static EMPTY: Vec<Value> = Vec::new();
    let list = input.get("Entries").and_then(Value::as_array).unwrap_or(&EMPTY);
    if list.is_empty() {
        return Err(err("EmptyBatchRequest", format!("There should be at least one {entry_type} in the request.")));
    }
    if list.len() > 10 {
        return Err(err(
            "TooManyEntriesInBatchRequest",
            format!("Maximum number of entries per request are 10. You have sent {}.", list.len()),
        ));
    }
    let mut seen = HashSet::new();
    for e in list {
        let id = e.get("Id").and_then(Value::as_str).unwrap_or_default();
        let ok = (1..=80).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(err(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(err("BatchEntryIdsNotDistinct", format!("Id {id} repeated.")));
        }
    }
    Ok(list)
}

fn failure(id: &str, e: &AwsError) -> Value {
    json!({"Id": id, "SenderFault": e.status < 500, "Code": errors::query_code(&e.code).0, "Message": e.message})
}

fn batch_result(ok: Vec<Value>, failed: Vec<Value>) -> Value {
    json!({"Successful": ok, "Failed": failed})
}

fn send_message_batch(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = open(store, call, input)?;
    let list = entries(input, "SendMessageBatchRequestEntry")?;
    let mut parsed = Vec::new();
    let mut total = 0usize;
    for e in list {
        let body = str_of(e, "MessageBody").unwrap_or_default();
        let attrs = e.get("MessageAttributes").and_then(Value::as_object);
        total += body.len();
        if let Some(attrs) = attrs {
            for (k, a) in attrs {
                total += k.len();
                for key in ["DataType", "StringValue", "BinaryValue"] {
                    total += a.get(key).and_then(Value::as_str).map_or(0, str::len);
                }
            }
        }
        parsed.push((e.get("Id").and_then(Value::as_str).unwrap_or_default().to_string(), Outgoing::parse(e)));
    }
    if total > MAX_MESSAGE_SIZE as usize {
        return Err(err(
            "BatchRequestTooLong",
            format!("Batch requests cannot be longer than {MAX_MESSAGE_SIZE} bytes. You have sent {total} bytes."),
        ));
    }
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for (id, out) in parsed {
        match out.and_then(|o| send_one(store, call, &loc, o)) {
            Ok(mut r) => {
                r["Id"] = json!(id);
                ok.push(r);
            }
            Err(e) => failed.push(failure(&id, &e)),
        }
    }
    Ok(batch_result(ok, failed))
}

// ---------------------------------------------------------------- receiving

/// Which attributes a receive returns.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub system: Vec<String>,
    pub user: Vec<String>,
}

impl Selection {
    pub fn all() -> Selection {
        Selection { system: vec!["All".into()], user: vec!["All".into()] }
    }

    fn wants_system(&self, name: &str) -> bool {
        self.system.iter().any(|n| n == "All" || n == name)
    }

    fn wants_user(&self, name: &str) -> bool {
        self.user.iter().any(|n| {
            n == "All"
                || n == ".*"
                || n == name
                || n.strip_suffix(".*").is_some_and(|p| name.starts_with(&format!("{p}.")))
        })
    }
}

pub fn system_attributes(m: &Message) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert("SenderId".to_string(), m.sender_id.clone());
    a.insert("SentTimestamp".to_string(), m.sent.to_string());
    a.insert("ApproximateReceiveCount".to_string(), m.receive_count.to_string());
    a.insert("ApproximateFirstReceiveTimestamp".to_string(), m.first_receive.unwrap_or(m.sent).to_string());
    if let Some(g) = &m.group {
        a.insert("MessageGroupId".to_string(), g.clone());
    }
    if let Some(d) = &m.dedup {
        a.insert("MessageDeduplicationId".to_string(), d.clone());
    }
    if let Some(s) = &m.sequence_number {
        a.insert("SequenceNumber".to_string(), s.clone());
    }
    if let Some(t) = m.system_attributes.get("AWSTraceHeader").and_then(|t| t.string_value.clone()) {
        a.insert("AWSTraceHeader".to_string(), t);
    }
    if let Some(s) = &m.dlq_source {
        a.insert("DeadLetterQueueSourceArn".to_string(), s.clone());
    }
    a
}

/// The JSON `Message` a receive answers.
pub fn message_json(m: &Message, selection: &Selection) -> Value {
    let mut out = Map::new();
    out.insert("MessageId".into(), json!(m.id));
    out.insert("ReceiptHandle".into(), json!(m.receipt.clone().unwrap_or_default()));
    out.insert("MD5OfBody".into(), json!(m.md5_body));
    out.insert("Body".into(), json!(m.body));
    let attrs: BTreeMap<String, String> =
        system_attributes(m).into_iter().filter(|(k, _)| selection.wants_system(k)).collect();
    if !attrs.is_empty() {
        out.insert("Attributes".into(), json!(attrs));
    }
    let user: BTreeMap<String, MessageAttribute> =
        m.attributes.iter().filter(|(k, _)| selection.wants_user(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(md5) = md5::attributes_md5(&user) {
        out.insert("MD5OfMessageAttributes".into(), json!(md5));
        out.insert("MessageAttributes".into(), attributes_json(&user));
    }
    Value::Object(out)
}

pub fn attributes_json(attrs: &BTreeMap<String, MessageAttribute>) -> Value {
    let mut out = Map::new();
    for (k, a) in attrs {
        let mut v = Map::new();
        if let Some(s) = &a.string_value {
            v.insert("StringValue".into(), json!(s));
        }
        if let Some(b) = &a.binary_value {
            v.insert("BinaryValue".into(), json!(base64::engine::general_purpose::STANDARD.encode(b)));
        }
        v.insert("DataType".into(), json!(a.data_type));
        out.insert(k.clone(), Value::Object(v));
    }
    Value::Object(out)
}

/// Validated ReceiveMessage parameters.
#[derive(Debug, Clone)]
pub struct ReceiveParams {
    pub max: usize,
    pub visibility: Option<i64>,
    pub wait: Option<i64>,
    pub attempt: Option<String>,
    pub selection: Selection,
}

pub fn receive_params(input: &Value) -> Result<ReceiveParams> {
    let max = int_of(input, "MaxNumberOfMessages").unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(invalid_value("MaxNumberOfMessages", max, "Must be between 1 and 10, if provided."));
    }
    let visibility = int_of(input, "VisibilityTimeout");
    if let Some(v) = visibility {
        if !(0..=43_200).contains(&v) {
            return Err(invalid_value("VisibilityTimeout", v, "Must be >= 0 and <= 43200, if provided."));
        }
    }
    let wait = int_of(input, "WaitTimeSeconds");
    if let Some(w) = wait {
        if !(0..=20).contains(&w) {
            return Err(invalid_value("WaitTimeSeconds", w, "Must be >= 0 and <= 20, if provided."));
        }
    }
    let list = |name: &str| -> Vec<String> {
        input
            .get(name)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let mut system = list("AttributeNames");
    system.extend(list("MessageSystemAttributeNames"));
    Ok(ReceiveParams {
        max: max as usize,
        visibility,
        wait,
        attempt: str_of(input, "ReceiveRequestAttemptId").map(str::to_string),
        selection: Selection { system, user: list("MessageAttributeNames") },
    })
}

/// One receive attempt (no waiting): moves over-received messages to the dead-letter queue,
/// makes the rest invisible with fresh receipt handles and returns them.
pub fn try_receive(store: &mut Store, call: &mut Call, loc: &Loc, p: &ReceiveParams) -> Result<Vec<Message>> {
    let queue = store.queue_mut(&loc.account, &loc.region, &loc.name).ok_or_else(errors::no_queue)?;
    queue.tidy(call.now, &mut call.changes);
    if let Some(attempt) = &p.attempt {
        if let Some((_, handles)) = queue.attempts.get(attempt) {
            let again: Option<Vec<Message>> = handles
                .iter()
                .map(|(seq, rh)| {
                    queue
                        .messages
                        .get(seq)
                        .filter(|m| m.receipt.as_deref() == Some(rh) && m.in_flight(call.now))
                        .cloned()
                })
                .collect();
            if let Some(again) = again {
                return Ok(again);
            }
        }
    }
    let visibility = p.visibility.unwrap_or_else(|| queue.visibility_timeout());
    let redrive = queue.redrive();
    let source_arn = queue.arn.clone();
    let mut received = Vec::new();
    let mut to_dlq = Vec::new();
    let candidates = queue.candidates(call.now, usize::MAX);
    for seq in candidates {
        if received.len() >= p.max {
            break;
        }
        let Some(m) = queue.messages.get(&seq) else { continue };
        if let Some((_, max_count)) = &redrive {
            if m.receive_count >= *max_count {
                to_dlq.push(seq);
                continue;
            }
        }
        let handle = receipt_handle(&queue.arn, &m.id);
        let m = queue.messages.get_mut(&seq).expect("candidate exists");
        m.receive_count += 1;
        m.first_receive.get_or_insert(call.now);
        m.visible_at = call.now + visibility * 1000;
        m.receipt = Some(handle);
        let m = m.clone();
        call.changes.push(queue.message_change(&m));
        received.push(m);
    }
    if let Some(attempt) = &p.attempt {
        if queue.meta.fifo {
            let handles = received.iter().map(|m| (m.seq, m.receipt.clone().unwrap_or_default())).collect();
            queue.attempts.insert(attempt.clone(), (call.now, handles));
        }
    }
    if let (Some((target, _)), false) = (&redrive, to_dlq.is_empty()) {
        if store.queue_by_arn(target).is_some() {
            for seq in to_dlq {
                let queue = qm(store, loc);
                let Some(m) = queue.remove(seq) else { continue };
                call.changes.push(queue.message_delete(seq));
                store.transfer(target, m, Some(&source_arn), call.now, &mut call.changes);
            }
        }
    }
    Ok(received)
}

// ---------------------------------------------------------------- receipts

fn find_by_receipt(store: &Store, loc: &Loc, handle: &str) -> Result<Option<u64>> {
    let queue = q(store, loc);
    let Some((arn, id)) = parse_receipt(handle) else { return Err(errors::invalid_receipt_handle(handle)) };
    if arn != queue.arn {
        return Err(errors::invalid_receipt_handle(handle));
    }
    Ok(queue.by_id.get(&id).copied())
}

pub fn delete_one(store: &mut Store, call: &mut Call, loc: &Loc, handle: &str) -> Result<()> {
    let Some(seq) = find_by_receipt(store, loc, handle)? else { return Ok(()) };
    let queue = qm(store, loc);
    let m = &queue.messages[&seq];
    let current = m.receipt.as_deref() == Some(handle);
    if queue.meta.fifo && (!current || !m.in_flight(call.now)) {
        return Err(invalid_value("ReceiptHandle", handle, "The receipt handle has expired."));
    }
    if !current && m.in_flight(call.now) {
        // An older handle of a message someone else holds now: accepted, not deleted.
        return Ok(());
    }
    queue.remove(seq);
    call.changes.push(queue.message_delete(seq));
    if queue.meta.fifo {
        call.wake.push(queue.notify.clone());
    }
    Ok(())
}

fn delete_message(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = open(store, call, input)?;
    let handle = required(input, "ReceiptHandle")?;
    delete_one(store, call, &loc, handle)?;
    Ok(json!({}))
}

fn delete_message_batch(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = open(store, call, input)?;
    let list = entries(input, "DeleteMessageBatchRequestEntry")?;
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for e in list {
        let id = e.get("Id").and_then(Value::as_str).unwrap_or_default();
        let handle = e.get("ReceiptHandle").and_then(Value::as_str).unwrap_or_default();
        match delete_one(store, call, &loc, handle) {
            Ok(()) => ok.push(json!({"Id": id})),
            Err(e) => failed.push(failure(id, &e)),
        }
    }
    Ok(batch_result(ok, failed))
}

pub fn change_one(store: &mut Store, call: &mut Call, loc: &Loc, handle: &str, timeout: Option<i64>) -> Result<()> {
    let Some(timeout) = timeout else { return Err(errors::missing_parameter("VisibilityTimeout")) };
    if !(0..=43_200).contains(&timeout) {
        return Err(invalid_value("VisibilityTimeout", timeout, "Must be between 0 and 43200, if provided."));
    }
    let seq = find_by_receipt(store, loc, handle)?;
    let queue = qm(store, loc);
    let Some(m) = seq.and_then(|s| queue.messages.get_mut(&s)) else {
        return Err(invalid_value(
            "ReceiptHandle",
            handle,
            "Message does not exist or is not available for visibility timeout change.",
        ));
    };
    if !m.in_flight(call.now) {
        return Err(err(
            "MessageNotInflight",
            "Message does not exist or is not available for visibility timeout change.",
        ));
    }
    m.visible_at = call.now + timeout * 1000;
    let m = m.clone();
    call.changes.push(queue.message_change(&m));
    if timeout == 0 {
        call.wake.push(queue.notify.clone());
    }
    Ok(())
}

fn change_visibility(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = open(store, call, input)?;
    let handle = required(input, "ReceiptHandle")?;
    change_one(store, call, &loc, handle, int_of(input, "VisibilityTimeout"))?;
    Ok(json!({}))
}

fn change_visibility_batch(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = open(store, call, input)?;
    let list = entries(input, "ChangeMessageVisibilityBatchRequestEntry")?;
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for e in list {
        let id = e.get("Id").and_then(Value::as_str).unwrap_or_default();
        let handle = e.get("ReceiptHandle").and_then(Value::as_str).unwrap_or_default();
        match change_one(store, call, &loc, handle, int_of(e, "VisibilityTimeout")) {
            Ok(()) => ok.push(json!({"Id": id})),
            Err(e) => failed.push(failure(id, &e)),
        }
    }
    Ok(batch_result(ok, failed))
}

// ---------------------------------------------------------------- dead-letter queues

fn list_dead_letter_sources(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = located(store, call, input)?;
    let arn = q(store, &loc).arn.clone();
    let names: Vec<String> = store
        .region(&loc.account, &loc.region)
        .map(|r| {
            r.queues
                .values()
                .filter(|q| q.redrive().is_some_and(|(t, _)| t == arn))
                .map(|q| q.name().to_string())
                .collect()
        })
        .unwrap_or_default();
    let (names, token) = page(names, input)?;
    let urls: Vec<String> = names.iter().map(|n| queue_url(call.endpoint, &loc.region, &loc.account, n)).collect();
    let mut out = Map::new();
    out.insert("queueUrls".into(), json!(urls));
    if let Some(token) = token {
        out.insert("NextToken".into(), json!(token));
    }
    Ok(Value::Object(out))
}

fn not_found(what: &str) -> AwsError {
    err("ResourceNotFoundException", format!("The resource that you specified for the {what} parameter doesn't exist."))
}

fn start_move_task(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let source = required(input, "SourceArn")?.to_string();
    let Some((account, region, _)) = parse_arn(&source).filter(|_| store.queue_by_arn(&source).is_some()) else {
        return Err(not_found("SourceArn"));
    };
    let is_dlq = store
        .region(&account, &region)
        .is_some_and(|r| r.queues.values().any(|q| q.redrive().is_some_and(|(t, _)| t == source)));
    if !is_dlq {
        return Err(invalid_parameter("Source queue must be configured as a Dead Letter Queue."));
    }
    let destination = str_of(input, "DestinationArn").map(str::to_string);
    if let Some(d) = &destination {
        if store.queue_by_arn(d).is_none() {
            return Err(not_found("DestinationArn"));
        }
    }
    let rate = int_of(input, "MaxNumberOfMessagesPerSecond");
    if let Some(r) = rate {
        if !(1..=500).contains(&r) {
            return Err(invalid_value("MaxNumberOfMessagesPerSecond", r, "Must be between 1 and 500, if provided."));
        }
    }
    let region_state = store.region_mut(&account, &region);
    if region_state.tasks.values().any(|t| t.source_arn == source && t.status == "RUNNING") {
        return Err(invalid_parameter(
            "There is already a task running. Only one active task is allowed for a source queue arn at a given time.",
        ));
    }
    let to_move = store.queue_by_arn(&source).map(|q| q.counts(call.now).0 as i64).unwrap_or(0);
    let task = MoveTask {
        task_id: uuid::Uuid::new_v4().to_string(),
        source_arn: source,
        destination_arn: destination,
        max_per_second: rate,
        status: "RUNNING".into(),
        started: call.now,
        moved: 0,
        to_move,
        failure_reason: None,
    };
    let handle = task.handle();
    let id = task.task_id.clone();
    call.changes.push((task_key(&account, &region, &id), serde_json::to_value(&task).ok()));
    store.region_mut(&account, &region).tasks.insert(id.clone(), task);
    if rate.is_none() {
        step_move_task(store, call, &account, &region, &id, usize::MAX);
    }
    Ok(json!({"TaskHandle": handle}))
}

/// Move up to `limit` visible messages of a running task; finishes it when the source is
/// drained. Returns whether the task is still running.
pub fn step_move_task(store: &mut Store, call: &mut Call, account: &str, region: &str, id: &str, limit: usize) -> bool {
    let Some(task) = store.region(account, region).and_then(|r| r.tasks.get(id)).cloned() else { return false };
    if task.status != "RUNNING" {
        return false;
    }
    let mut moved = 0i64;
    let mut failure = None;
    let mut done = false;
    loop {
        if moved as usize >= limit {
            break;
        }
        let Some(source) = store.queue_by_arn_mut(&task.source_arn) else {
            failure = Some("AWS.SimpleQueueService.NonExistentQueue".to_string());
            break;
        };
        source.tidy(call.now, &mut call.changes);
        let Some(seq) = source.messages.values().find(|m| m.visible(call.now)).map(|m| m.seq) else {
            done = true;
            break;
        };
        let target =
            task.destination_arn.clone().or_else(|| source.messages.get(&seq).and_then(|m| m.dlq_source.clone()));
        let Some(target) = target.filter(|t| store.queue_by_arn(t).is_some()) else {
            failure = Some("AWS.SimpleQueueService.NonExistentQueue".to_string());
            break;
        };
        let source = store.queue_by_arn_mut(&task.source_arn).expect("source exists");
        let Some(mut m) = source.remove(seq) else { break };
        call.changes.push(source.message_delete(seq));
        m.dlq_source = None;
        store.transfer(&target, m, None, call.now, &mut call.changes);
        moved += 1;
    }
    let Some(task) = store.region_mut(account, region).tasks.get_mut(id) else { return false };
    task.moved += moved;
    if let Some(reason) = failure {
        task.status = "FAILED".into();
        task.failure_reason = Some(reason);
    } else if done {
        task.status = "COMPLETED".into();
    }
    let running = task.status == "RUNNING";
    let value = serde_json::to_value(&*task).ok();
    call.changes.push((task_key(account, region, id), value));
    running
}

fn list_move_tasks(store: &mut Store, _call: &mut Call, input: &Value) -> Result<Value> {
    let source = required(input, "SourceArn")?;
    let Some((account, region, _)) = parse_arn(source) else {
        return Err(invalid_parameter(
            "You must use this format to specify the SourceArn: arn:<partition>:<service>:<region>:<account-id>:<resource-id>",
        ));
    };
    if store.queue_by_arn(source).is_none() {
        return Err(not_found("SourceArn"));
    }
    let max = int_of(input, "MaxResults").unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(invalid_value("MaxResults", max, "You must enter a number that's between 1 and 10."));
    }
    let mut tasks: Vec<&MoveTask> = store
        .region(&account, &region)
        .map(|r| r.tasks.values().filter(|t| t.source_arn == source).collect())
        .unwrap_or_default();
    tasks.sort_by_key(|t| std::cmp::Reverse(t.started));
    let results: Vec<Value> = tasks
        .into_iter()
        .take(max as usize)
        .map(|t| {
            let mut e = Map::new();
            if t.status == "RUNNING" {
                e.insert("TaskHandle".into(), json!(t.handle()));
            }
            e.insert("Status".into(), json!(t.status));
            e.insert("SourceArn".into(), json!(t.source_arn));
            if let Some(d) = &t.destination_arn {
                e.insert("DestinationArn".into(), json!(d));
            }
            if let Some(r) = t.max_per_second {
                e.insert("MaxNumberOfMessagesPerSecond".into(), json!(r));
            }
            e.insert("ApproximateNumberOfMessagesMoved".into(), json!(t.moved));
            e.insert("ApproximateNumberOfMessagesToMove".into(), json!(t.to_move));
            if let Some(f) = &t.failure_reason {
                e.insert("FailureReason".into(), json!(f));
            }
            e.insert("StartedTimestamp".into(), json!(t.started));
            Value::Object(e)
        })
        .collect();
    Ok(json!({"Results": results}))
}

fn cancel_move_task(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let handle = required(input, "TaskHandle")?;
    let decoded: Option<Value> =
        base64::engine::general_purpose::STANDARD.decode(handle).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let Some((id, source)) = decoded.as_ref().and_then(|v| Some((v["taskId"].as_str()?, v["sourceArn"].as_str()?)))
    else {
        return Err(invalid_parameter("Value for parameter TaskHandle is invalid."));
    };
    let Some((account, region, _)) = parse_arn(source) else {
        return Err(invalid_parameter("Value for parameter TaskHandle is invalid."));
    };
    if store.queue_by_arn(source).is_none() {
        return Err(not_found("SourceArn"));
    }
    let Some(task) = store.region_mut(&account, &region).tasks.get_mut(id) else {
        return Err(err("ResourceNotFoundException", "Task does not exist."));
    };
    if task.status != "RUNNING" {
        return Err(invalid_parameter("Only active tasks can be cancelled."));
    }
    task.status = "CANCELLED".into();
    let moved = task.moved;
    let value = serde_json::to_value(&*task).ok();
    call.changes.push((task_key(&account, &region, id), value));
    Ok(json!({"ApproximateNumberOfMessagesMoved": moved}))
}

// ---------------------------------------------------------------- permissions

fn add_permission(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = located(store, call, input)?;
    let label = required(input, "Label")?.to_string();
    let list = |name: &str| -> Vec<String> {
        input
            .get(name)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let accounts = list("AWSAccountIds");
    let actions = list("Actions");
    if accounts.is_empty() {
        return Err(errors::missing_parameter("AWSAccountIds"));
    }
    if actions.is_empty() {
        return Err(errors::missing_parameter("Actions"));
    }
    let model = crate::model::model();
    for action in &actions {
        if action != "*" && !model.has_operation(action) {
            return Err(invalid_value(
                "ActionName",
                format!("SQS:{action}"),
                "Please refer to the appropriate WSDL for a list of valid actions. ",
            ));
        }
    }
    let queue = qm(store, &loc);
    let mut policy: Value =
        queue.meta.attributes.get("Policy").and_then(|p| serde_json::from_str(p).ok()).unwrap_or_else(
            || json!({"Version": "2012-10-17", "Id": format!("{}/SQSDefaultPolicy", queue.arn), "Statement": []}),
        );
    if !policy["Statement"].is_array() {
        policy["Statement"] = json!([]);
    }
    let statements = policy["Statement"].as_array_mut().expect("array");
    if statements.iter().any(|s| s["Sid"].as_str() == Some(&label)) {
        return Err(invalid_value("Label", &label, "Already exists."));
    }
    let principals: Vec<String> = accounts.iter().map(|a| format!("arn:aws:iam::{a}:root")).collect();
    let actions: Vec<String> = actions.iter().map(|a| format!("SQS:{a}")).collect();
    let one_or_many = |v: Vec<String>| if v.len() == 1 { json!(v[0]) } else { json!(v) };
    statements.push(json!({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": one_or_many(principals)},
        "Action": one_or_many(actions),
        "Resource": queue.arn,
    }));
    queue.meta.attributes.insert("Policy".into(), policy.to_string());
    call.changes.push(queue.meta_change());
    Ok(json!({}))
}

fn remove_permission(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let loc = located(store, call, input)?;
    let label = required(input, "Label")?.to_string();
    let queue = qm(store, &loc);
    let mut policy: Value =
        queue.meta.attributes.get("Policy").and_then(|p| serde_json::from_str(p).ok()).unwrap_or(json!({}));
    let Some(statements) = policy["Statement"].as_array_mut() else {
        return Err(invalid_value("Label", &label, "can't find label."));
    };
    let before = statements.len();
    statements.retain(|s| s["Sid"].as_str() != Some(&label));
    if statements.len() == before {
        return Err(invalid_value("Label", &label, "can't find label."));
    }
    if statements.is_empty() {
        queue.meta.attributes.remove("Policy");
    } else {
        queue.meta.attributes.insert("Policy".into(), policy.to_string());
    }
    call.changes.push(queue.meta_change());
    Ok(json!({}))
}
