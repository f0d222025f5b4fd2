//! One plain function per operation, over [`Store`]. Input has passed model validation; the
//! checks here are the ones the model cannot express. Mutations record their journal changes
//! in [`Call::changes`]; the caller writes them before answering.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::errors::{self, Result};
use crate::filter;
use crate::state::{self, Change, Group, GroupMeta, Place, Store, Stream};
use nimbus_core::members::str_of;
use nimbus_core::AwsError;

/// Values AWS accepts for `retentionInDays`.
pub const RETENTION_DAYS: &[i64] =
    &[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
pub const MAX_BATCH_BYTES: usize = 1_048_576;
pub const EVENT_OVERHEAD_BYTES: usize = 26;
const TOO_OLD_MS: i64 = 14 * 86_400_000;
const TOO_NEW_MS: i64 = 2 * 3_600_000;
const BATCH_SPAN_MS: i64 = 86_400_000;
const MAX_TAGS: usize = 50;

pub struct Call<'a> {
    pub account: &'a str,
    pub region: &'a str,
    /// Milliseconds since the epoch on nimbus's clock.
    pub now: i64,
    pub changes: Vec<Change>,
}

pub fn dispatch(store: &mut Store, call: &mut Call, op: &str, input: &Value) -> Result<Value> {
    match op {
        "CreateLogGroup" => create_log_group(store, call, input),
        "DeleteLogGroup" => delete_log_group(store, call, input),
        "DescribeLogGroups" => describe_log_groups(store, call, input),
        "CreateLogStream" => create_log_stream(store, call, input),
        "DeleteLogStream" => delete_log_stream(store, call, input),
        "DescribeLogStreams" => describe_log_streams(store, call, input),
        "PutLogEvents" => put_log_events(store, call, input),
        "GetLogEvents" => get_log_events(store, call, input),
        "FilterLogEvents" => filter_log_events(store, call, input),
        "PutRetentionPolicy" => put_retention_policy(store, call, input),
        "DeleteRetentionPolicy" => delete_retention_policy(store, call, input),
        "TagLogGroup" => tag_log_group(store, call, input),
        "UntagLogGroup" => untag_log_group(store, call, input),
        "ListTagsLogGroup" => list_tags_log_group(store, call, input),
        "TagResource" => tag_resource(store, call, input),
        "UntagResource" => untag_resource(store, call, input),
        "ListTagsForResource" => list_tags_for_resource(store, call, input),
        _ => Err(nimbus_core::front::unsupported(op)),
    }
}

fn req<'v>(input: &'v Value, key: &str) -> &'v str {
    // Required members were checked by the model.
    str_of(input, key).unwrap_or_default()
}

fn group_mut<'s>(store: &'s mut Store, call: &Call, name: &str) -> Result<&'s mut Group> {
    store.groups_mut(call.account, call.region).get_mut(name).ok_or_else(errors::group_not_found)
}

fn save_group(call: &mut Call, name: &str, meta: &GroupMeta) {
    let key = state::group_key(call.account, call.region, name);
    call.changes.push((key, Some(serde_json::to_value(meta).expect("metadata serializes"))));
}

/// The group named by `logGroupName` or `logGroupIdentifier` (a name or an ARN, with or without `:*`).
fn resolve_group_name(call: &Call, input: &Value) -> Result<String> {
    match (str_of(input, "logGroupName"), str_of(input, "logGroupIdentifier")) {
        (Some(_), Some(_)) => {
            Err(errors::validation("LogGroup name and LogGroup ARN are mutually exclusive parameters."))
        }
        (Some(name), None) => Ok(name.to_string()),
        (None, Some(id)) => identifier_to_name(call, id),
        (None, None) => Err(errors::invalid_parameter("Should provide either logGroupName or logGroupIdentifier.")),
    }
}

fn identifier_to_name(call: &Call, id: &str) -> Result<String> {
    if !id.starts_with("arn:") {
        return Ok(id.to_string());
    }
    let parts: Vec<&str> = id.splitn(7, ':').collect();
    if parts.len() < 7 || parts[2] != "logs" || parts[5] != "log-group" {
        return Err(errors::invalid_parameter(format!("Invalid ARN: {id}")));
    }
    if parts[3] != call.region || parts[4] != call.account {
        return Err(errors::group_not_found());
    }
    let name = parts[6];
    Ok(name.strip_suffix(":*").unwrap_or(name).to_string())
}

fn tags_of(input: &Value, key: &str) -> Vec<(String, String)> {
    input
        .get(key)
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

fn too_many_tags() -> AwsError {
    AwsError::new(400, "TooManyTagsException", format!("A resource can have no more than {MAX_TAGS} tags."))
}

// ---- groups -------------------------------------------------------------------------------

fn create_log_group(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let name = req(input, "logGroupName");
    let groups = store.groups_mut(call.account, call.region);
    if groups.contains_key(name) {
        return Err(errors::group_exists());
    }
    let meta = GroupMeta {
        creation_time: call.now,
        retention_in_days: None,
        tags: tags_of(input, "tags").into_iter().collect(),
        kms_key_id: str_of(input, "kmsKeyId").map(str::to_string),
        log_group_class: str_of(input, "logGroupClass").unwrap_or("STANDARD").to_string(),
        deletion_protection_enabled: input.get("deletionProtectionEnabled").and_then(Value::as_bool).unwrap_or(false),
    };
    save_group(call, name, &meta);
    groups.insert(name.to_string(), Group::new(meta));
    Ok(Value::Null)
}

fn delete_log_group(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let name = req(input, "logGroupName");
    let group = store.groups_mut(call.account, call.region).remove(name).ok_or_else(errors::group_not_found)?;
    for (sname, stream) in &group.streams {
        let place = Place { account: call.account, region: call.region, group: name, stream: sname };
        stream.batch_deletes(place, &mut call.changes);
        call.changes.push((state::stream_key(call.account, call.region, name, sname), None));
    }
    call.changes.push((state::group_key(call.account, call.region, name), None));
    Ok(Value::Null)
}

fn page_token(last: &str) -> String {
    URL_SAFE_NO_PAD.encode(last.as_bytes())
}

fn parse_page_token(token: &str) -> Result<String> {
    URL_SAFE_NO_PAD.decode(token).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(errors::invalid_token)
}

fn describe_log_groups(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let prefix = str_of(input, "logGroupNamePrefix");
    let pattern = str_of(input, "logGroupNamePattern");
    if prefix.is_some() && pattern.is_some() {
        return Err(errors::invalid_parameter(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    let identifiers: Option<Vec<String>> = input
        .get("logGroupIdentifiers")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_str).filter_map(|id| identifier_to_name(call, id).ok()).collect());
    let class = str_of(input, "logGroupClass");
    let limit = input.get("limit").and_then(Value::as_u64).unwrap_or(50) as usize;
    let after = str_of(input, "nextToken").map(parse_page_token).transpose()?;
    let (now, account, region) = (call.now, call.account, call.region);
    let groups = store.groups_mut(account, region);
    let mut out = Vec::new();
    let mut next = None;
    for (name, group) in groups.iter_mut() {
        if after.as_deref().is_some_and(|a| name.as_str() <= a)
            || prefix.is_some_and(|p| !name.starts_with(p))
            || pattern.is_some_and(|p| !name.contains(p))
            || identifiers.as_ref().is_some_and(|ids| !ids.contains(name))
            || class.is_some_and(|c| group.meta.log_group_class != c)
        {
            continue;
        }
        if out.len() == limit {
            next = out.last().and_then(|g: &Value| g["logGroupName"].as_str()).map(page_token);
            break;
        }
        group.purge(now, account, region, name, &mut call.changes);
        let arn = format!("arn:aws:logs:{region}:{account}:log-group:{name}");
        let mut g = Map::new();
        g.insert("logGroupName".into(), json!(name));
        g.insert("creationTime".into(), json!(group.meta.creation_time));
        g.insert("metricFilterCount".into(), json!(0));
        g.insert("arn".into(), json!(format!("{arn}:*")));
        g.insert("logGroupClass".into(), json!(group.meta.log_group_class));
        g.insert("logGroupArn".into(), json!(arn));
        // With a name pattern AWS answers only the essentials.
        if pattern.is_none() {
            if let Some(days) = group.meta.retention_in_days {
                g.insert("retentionInDays".into(), json!(days));
            }
            g.insert("storedBytes".into(), json!(group.stored_bytes()));
            if let Some(kms) = &group.meta.kms_key_id {
                g.insert("kmsKeyId".into(), json!(kms));
            }
            g.insert("deletionProtectionEnabled".into(), json!(group.meta.deletion_protection_enabled));
        }
        out.push(Value::Object(g));
    }
    let mut result = json!({"logGroups": out});
    if let Some(token) = next {
        result["nextToken"] = json!(token);
    }
    Ok(result)
}

// ---- streams ------------------------------------------------------------------------------

fn create_log_stream(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let (gname, sname) = (req(input, "logGroupName"), req(input, "logStreamName"));
    let now = call.now;
    let group = group_mut(store, call, gname)?;
    if group.streams.contains_key(sname) {
        return Err(errors::stream_exists());
    }
    let stream = Stream::new(now);
    call.changes.push((state::stream_key(call.account, call.region, gname, sname), Some(stream.meta_json())));
    group.streams.insert(sname.to_string(), stream);
    Ok(Value::Null)
}

fn delete_log_stream(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let (gname, sname) = (req(input, "logGroupName"), req(input, "logStreamName"));
    let group = group_mut(store, call, gname)?;
    let stream = group.streams.remove(sname).ok_or_else(errors::stream_not_found)?;
    let place = Place { account: call.account, region: call.region, group: gname, stream: sname };
    stream.batch_deletes(place, &mut call.changes);
    call.changes.push((state::stream_key(call.account, call.region, gname, sname), None));
    Ok(Value::Null)
}

fn describe_log_streams(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let gname = resolve_group_name(call, input)?;
    let prefix = str_of(input, "logStreamNamePrefix");
    let by_time = str_of(input, "orderBy") == Some("LastEventTime");
    if by_time && prefix.is_some() {
        return Err(errors::invalid_parameter("Cannot order by LastEventTime with a logStreamNamePrefix."));
    }
    let descending = input.get("descending").and_then(Value::as_bool).unwrap_or(false);
    let limit = input.get("limit").and_then(Value::as_u64).unwrap_or(50) as usize;
    let offset = match str_of(input, "nextToken") {
        Some(t) => parse_page_token(t).ok().and_then(|s| s.parse::<usize>().ok()).ok_or_else(errors::invalid_token)?,
        None => 0,
    };
    let (now, account, region) = (call.now, call.account, call.region);
    let group = group_mut(store, call, &gname)?;
    group.purge(now, account, region, &gname, &mut call.changes);
    let mut streams: Vec<(&String, &Stream)> =
        group.streams.iter().filter(|(n, _)| prefix.is_none_or(|p| n.starts_with(p))).collect();
    if by_time {
        streams.sort_by_key(|(n, s)| (s.last_timestamp().unwrap_or(0), (*n).clone()));
    }
    if descending {
        streams.reverse();
    }
    let total = streams.len();
    let out: Vec<Value> = streams
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(name, s)| {
            let mut v = json!({
                "logStreamName": name,
                "creationTime": s.created,
                "arn": format!("arn:aws:logs:{region}:{account}:log-group:{gname}:log-stream:{name}"),
                // AWS has reported 0 for streams since 2019.
                "storedBytes": 0,
            });
            if let (Some(first), Some(last)) = (s.first_timestamp(), s.last_timestamp()) {
                v["firstEventTimestamp"] = json!(first);
                v["lastEventTimestamp"] = json!(last);
                v["uploadSequenceToken"] = json!(sequence_token(s.next_seq));
            }
            if let Some(t) = s.last_ingestion {
                v["lastIngestionTime"] = json!(t);
            }
            v
        })
        .collect();
    let mut result = json!({"logStreams": out});
    if offset + limit < total {
        result["nextToken"] = json!(page_token(&(offset + limit).to_string()));
    }
    Ok(result)
}

fn sequence_token(next_seq: u64) -> String {
    format!("{next_seq:056}")
}

// ---- events -------------------------------------------------------------------------------

fn put_log_events(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let (gname, sname) = (req(input, "logGroupName"), req(input, "logStreamName"));
    let events: Vec<(i64, String)> = input["logEvents"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| (e["timestamp"].as_i64().unwrap_or(0), e["message"].as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    if events.windows(2).any(|w| w[1].0 < w[0].0) {
        return Err(errors::invalid_parameter(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    let size: usize = events.iter().map(|(_, m)| m.len() + EVENT_OVERHEAD_BYTES).sum();
    if size > MAX_BATCH_BYTES {
        return Err(errors::invalid_parameter(format!(
            "Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    if let (Some(first), Some(last)) = (events.first(), events.last()) {
        if last.0 - first.0 > BATCH_SPAN_MS {
            return Err(errors::invalid_parameter(
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
            ));
        }
    }
    let (now, account, region) = (call.now, call.account, call.region);
    let group = group_mut(store, call, gname)?;
    let cutoff = group.retention_cutoff(now);
    let stream = group.streams.get_mut(sname).ok_or_else(errors::stream_not_found)?;

    // Events are chronological, so each rejected kind is a prefix (old) or suffix (new).
    let too_old_end = events.iter().take_while(|(ts, _)| *ts < now - TOO_OLD_MS).count();
    let expired_end = cutoff.map_or(0, |c| events.iter().take_while(|(ts, _)| *ts < c).count());
    let too_new_start = events.iter().position(|(ts, _)| *ts > now + TOO_NEW_MS);
    let start = too_old_end.max(expired_end);
    let end = too_new_start.unwrap_or(events.len()).max(start);
    let accepted = &events[start..end];
    if !accepted.is_empty() {
        let (first_seq, record) = stream.ingest(accepted, now);
        let place = Place { account, region, group: gname, stream: sname };
        call.changes.push((state::batch_key(account, region, gname, sname, first_seq), Some(record)));
        stream.trim(cutoff, place, &mut call.changes);
    }
    let mut result = json!({"nextSequenceToken": sequence_token(stream.next_seq)});
    let mut rejected = Map::new();
    if too_old_end > 0 {
        rejected.insert("tooOldLogEventEndIndex".into(), json!(too_old_end));
    }
    if expired_end > 0 {
        rejected.insert("expiredLogEventEndIndex".into(), json!(expired_end));
    }
    if let Some(i) = too_new_start {
        rejected.insert("tooNewLogEventStartIndex".into(), json!(i));
    }
    if !rejected.is_empty() {
        result["rejectedLogEventsInfo"] = Value::Object(rejected);
    }
    Ok(result)
}

/// A position in a stream: events are ordered by `(timestamp, seq)`.
type Key = (i64, u64);

/// `f/<56 digits>/s` like AWS: 36 digits of timestamp, 20 of seq.
fn stream_token(direction: char, key: Key) -> String {
    format!("{direction}/{:036}{:020}/s", key.0.max(0), key.1)
}

fn parse_stream_token(token: &str) -> Result<(char, Key)> {
    let bad = errors::invalid_token;
    let (direction, rest) = token.split_once('/').ok_or_else(bad)?;
    let direction = match direction {
        "f" => 'f',
        "b" => 'b',
        _ => return Err(bad()),
    };
    let digits = rest.strip_suffix("/s").unwrap_or(rest);
    if digits.len() != 56 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let ts = digits[..36].parse::<i64>().map_err(|_| bad())?;
    let seq = digits[36..].parse::<u64>().map_err(|_| bad())?;
    Ok((direction, (ts, seq)))
}

fn get_log_events(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let gname = resolve_group_name(call, input)?;
    let sname = req(input, "logStreamName");
    let start_time = input.get("startTime").and_then(Value::as_i64);
    let end_time = input.get("endTime").and_then(Value::as_i64);
    let from_head = input.get("startFromHead").and_then(Value::as_bool).unwrap_or(false);
    let limit = input.get("limit").and_then(Value::as_u64).unwrap_or(10_000) as usize;
    let token = str_of(input, "nextToken").map(parse_stream_token).transpose()?;
    let (now, account, region) = (call.now, call.account, call.region);
    let group = group_mut(store, call, &gname)?;
    group.purge(now, account, region, &gname, &mut call.changes);
    let stream = group.streams.get(sname).ok_or_else(errors::stream_not_found)?;
    let in_window =
        |e: &&state::Event| start_time.is_none_or(|s| e.timestamp >= s) && end_time.is_none_or(|t| e.timestamp < t);
    let key = |e: &state::Event| (e.timestamp, e.seq);
    let forward = match token {
        Some((d, _)) => d == 'f',
        None => from_head,
    };
    let mut budget = PageBudget::default();
    let page: Vec<&state::Event> = if forward {
        let after = token.map(|(_, k)| k);
        stream
            .events
            .iter()
            .filter(in_window)
            .filter(|e| after.is_none_or(|k| key(e) > k))
            .take(limit)
            .take_while(|e| budget.fits(e))
            .collect()
    } else {
        let before = token.map(|(_, k)| k);
        let mut p: Vec<&state::Event> = stream
            .events
            .iter()
            .rev()
            .filter(in_window)
            .filter(|e| before.is_none_or(|k| key(e) < k))
            .take(limit)
            .take_while(|e| budget.fits(e))
            .collect();
        p.reverse();
        p
    };
    let (forward_token, backward_token) = match (page.first(), page.last()) {
        (Some(first), Some(last)) => (stream_token('f', key(last)), stream_token('b', key(first))),
        _ => match token {
            // At the end: the same token again (and the other direction from the same place).
            Some((d, k)) => {
                let same = stream_token(d, k);
                let other = stream_token(if d == 'f' { 'b' } else { 'f' }, k);
                if d == 'f' {
                    (same, other)
                } else {
                    (other, same)
                }
            }
            None => (stream_token('f', (0, 0)), stream_token('b', (0, 0))),
        },
    };
    let events: Vec<Value> = page
        .iter()
        .map(|e| json!({"timestamp": e.timestamp, "message": &*e.message, "ingestionTime": e.ingestion}))
        .collect();
    Ok(json!({"events": events, "nextForwardToken": forward_token, "nextBackwardToken": backward_token}))
}

/// AWS's response size limit for GetLogEvents and FilterLogEvents: 1 MB of events, each
/// counted as its message's UTF-8 bytes plus 26. A page holds at least one event.
#[derive(Default)]
struct PageBudget {
    bytes: usize,
    events: usize,
}

impl PageBudget {
    const MAX_BYTES: usize = 1_048_576;

    fn fits(&mut self, event: &state::Event) -> bool {
        let size = event.message.len() + 26;
        if self.events > 0 && self.bytes + size > Self::MAX_BYTES {
            return false;
        }
        self.bytes += size;
        self.events += 1;
        true
    }
}

/// FilterLogEvents position: events are merged across streams by `(timestamp, stream, seq)`.
fn filter_token(ts: i64, stream: &str, seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(json!([ts, stream, seq]).to_string())
}

fn parse_filter_token(token: &str) -> Result<(i64, String, u64)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| errors::invalid_token())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| errors::invalid_token())?;
    match (v[0].as_i64(), v[1].as_str(), v[2].as_u64()) {
        (Some(ts), Some(s), Some(seq)) => Ok((ts, s.to_string(), seq)),
        _ => Err(errors::invalid_token()),
    }
}

/// A 56-digit event id, unique per group: timestamp, stream and seq.
fn event_id(ts: i64, stream: &str, seq: u64) -> String {
    let h = stream.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{:020}{:016}{:020}", ts.max(0), h % 10_000_000_000_000_000, seq)
}

fn filter_log_events(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let gname = resolve_group_name(call, input)?;
    let names: Option<Vec<&str>> =
        input.get("logStreamNames").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect());
    let prefix = str_of(input, "logStreamNamePrefix");
    if names.is_some() && prefix.is_some() {
        return Err(errors::invalid_parameter(
            "logStreamNamePrefix and logStreamNames are mutually exclusive parameters.",
        ));
    }
    let pattern = filter::parse(str_of(input, "filterPattern").unwrap_or("")).map_err(errors::invalid_parameter)?;
    let start_time = input.get("startTime").and_then(Value::as_i64);
    let end_time = input.get("endTime").and_then(Value::as_i64);
    let limit = input.get("limit").and_then(Value::as_u64).unwrap_or(10_000) as usize;
    let after = str_of(input, "nextToken").map(parse_filter_token).transpose()?;
    let (now, account, region) = (call.now, call.account, call.region);
    let group = group_mut(store, call, &gname)?;
    group.purge(now, account, region, &gname, &mut call.changes);
    let mut matched: Vec<(i64, &str, u64, &state::Event)> = Vec::new();
    for (sname, stream) in &group.streams {
        if names.as_ref().is_some_and(|n| !n.contains(&sname.as_str())) || prefix.is_some_and(|p| !sname.starts_with(p))
        {
            continue;
        }
        for e in &stream.events {
            if start_time.is_some_and(|s| e.timestamp < s) || end_time.is_some_and(|t| e.timestamp > t) {
                continue;
            }
            if let Some((ts, s, seq)) = &after {
                if (e.timestamp, sname.as_str(), e.seq) <= (*ts, s.as_str(), *seq) {
                    continue;
                }
            }
            if pattern.matches(&e.message) {
                matched.push((e.timestamp, sname, e.seq, e));
            }
        }
    }
    matched.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let mut more = matched.len() > limit;
    matched.truncate(limit);
    let mut budget = PageBudget::default();
    let fitting = matched.iter().take_while(|m| budget.fits(m.3)).count();
    more |= fitting < matched.len();
    matched.truncate(fitting);
    let events: Vec<Value> = matched
        .iter()
        .map(|(ts, s, seq, e)| {
            json!({
                "logStreamName": s,
                "timestamp": ts,
                "message": &*e.message,
                "ingestionTime": e.ingestion,
                "eventId": event_id(*ts, s, *seq),
            })
        })
        .collect();
    let mut result = json!({"events": events, "searchedLogStreams": []});
    if more {
        if let Some((ts, s, seq, _)) = matched.last() {
            result["nextToken"] = json!(filter_token(*ts, s, *seq));
        }
    }
    Ok(result)
}

// ---- retention ----------------------------------------------------------------------------

fn put_retention_policy(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let name = req(input, "logGroupName");
    let days = input.get("retentionInDays").and_then(Value::as_i64).unwrap_or(0);
    if !RETENTION_DAYS.contains(&days) {
        let set: Vec<String> = RETENTION_DAYS.iter().map(i64::to_string).collect();
        return Err(errors::invalid_parameter(format!(
            "1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            set.join(", ")
        )));
    }
    let group = group_mut(store, call, name)?;
    group.meta.retention_in_days = Some(days);
    let meta = group.meta.clone();
    save_group(call, name, &meta);
    Ok(Value::Null)
}

fn delete_retention_policy(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let name = req(input, "logGroupName");
    let group = group_mut(store, call, name)?;
    group.meta.retention_in_days = None;
    let meta = group.meta.clone();
    save_group(call, name, &meta);
    Ok(Value::Null)
}

// ---- tags ---------------------------------------------------------------------------------

fn add_tags(store: &mut Store, call: &mut Call, name: &str, tags: Vec<(String, String)>) -> Result<Value> {
    let group = group_mut(store, call, name)?;
    let mut merged = group.meta.tags.clone();
    merged.extend(tags);
    if merged.len() > MAX_TAGS {
        return Err(too_many_tags());
    }
    group.meta.tags = merged;
    let meta = group.meta.clone();
    save_group(call, name, &meta);
    Ok(Value::Null)
}

fn remove_tags(store: &mut Store, call: &mut Call, name: &str, keys: &[&str]) -> Result<Value> {
    let group = group_mut(store, call, name)?;
    group.meta.tags.retain(|k, _| !keys.contains(&k.as_str()));
    let meta = group.meta.clone();
    save_group(call, name, &meta);
    Ok(Value::Null)
}

fn list_tags(store: &mut Store, call: &Call, name: &str) -> Result<Value> {
    let group = group_mut(store, call, name)?;
    Ok(json!({"tags": group.meta.tags}))
}

fn string_list<'v>(input: &'v Value, key: &str) -> Vec<&'v str> {
    input.get(key).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn tag_log_group(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    add_tags(store, call, req(input, "logGroupName"), tags_of(input, "tags"))
}

fn untag_log_group(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    remove_tags(store, call, req(input, "logGroupName"), &string_list(input, "tags"))
}

fn list_tags_log_group(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    list_tags(store, call, req(input, "logGroupName"))
}

/// The log group an ARN names (`arn:aws:logs:<region>:<account>:log-group:<name>`).
fn arn_group(call: &Call, arn: &str) -> Result<String> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" || parts[2] != "logs" {
        return Err(errors::invalid_parameter(format!("Invalid ARN: {arn}")));
    }
    if parts[5] != "log-group" || parts.len() < 7 {
        return Err(AwsError::new(400, "ResourceNotFoundException", "The specified resource does not exist."));
    }
    identifier_to_name(call, arn)
}

fn tag_resource(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let name = arn_group(call, req(input, "resourceArn"))?;
    add_tags(store, call, &name, tags_of(input, "tags"))
}

fn untag_resource(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let name = arn_group(call, req(input, "resourceArn"))?;
    remove_tags(store, call, &name, &string_list(input, "tagKeys"))
}

fn list_tags_for_resource(store: &mut Store, call: &mut Call, input: &Value) -> Result<Value> {
    let name = arn_group(call, req(input, "resourceArn"))?;
    list_tags(store, call, &name)
}

/// Used by the sink: make sure the group and stream exist, recording their creation.
pub fn ensure_stream<'s>(store: &'s mut Store, call: &mut Call, gname: &str, sname: &str) -> &'s mut Group {
    let (now, account, region) = (call.now, call.account, call.region);
    let groups = store.groups_mut(account, region);
    let group = groups.entry(gname.to_string()).or_insert_with(|| {
        let meta = GroupMeta {
            creation_time: now,
            retention_in_days: None,
            tags: Default::default(),
            kms_key_id: None,
            log_group_class: "STANDARD".into(),
            deletion_protection_enabled: false,
        };
        call.changes
            .push((state::group_key(account, region, gname), Some(serde_json::to_value(&meta).expect("serializes"))));
        Group::new(meta)
    });
    if !group.streams.contains_key(sname) {
        let stream = Stream::new(now);
        call.changes.push((state::stream_key(account, region, gname, sname), Some(stream.meta_json())));
        group.streams.insert(sname.to_string(), stream);
    }
    group
}
