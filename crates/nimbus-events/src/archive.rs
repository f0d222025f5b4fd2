//! Archives and replays: an archive keeps the events of its bus that match its pattern
//! (journaled one record per event, swept after `RetentionDays` on nimbus's clock); a replay
//! sends an archive's events of a time range back to the rules of that bus, each with a
//! `replay-name` member, moving STARTING → RUNNING → COMPLETED on the background tick.

use nimbus_core::state::Changes;
use nimbus_core::AwsError;
use serde_json::{json, Value};

use crate::ops::{self, bus_arn, bus_name, str_of, validation, Ctx, Result};
use crate::state::*;

fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", message)
}

fn exists(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ResourceAlreadyExistsException", message)
}

pub fn archive_arn(ctx: &Ctx, name: &str) -> String {
    format!("arn:aws:events:{}:{}:archive/{name}", ctx.region, ctx.account)
}

pub fn replay_arn(ctx: &Ctx, name: &str) -> String {
    format!("arn:aws:events:{}:{}:replay/{name}", ctx.region, ctx.account)
}

fn seconds(millis: i64) -> Value {
    json!(millis as f64 / 1000.0)
}

fn millis_of(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_f64).map(|s| (s * 1000.0).round() as i64)
}

fn check_name(name: &str, what: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 48
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(validation(format!("Parameter {what} is not valid.")))
    }
}

fn check_retention(input: &Value) -> Result<i64> {
    let days = input.get("RetentionDays").and_then(Value::as_i64).unwrap_or(0);
    if days < 0 {
        return Err(validation("Parameter RetentionDays is not valid."));
    }
    Ok(days)
}

fn archive<'s>(db: &'s Events, ctx: &Ctx, name: &str) -> Result<&'s Archive> {
    db.archives.get(&archive_arn(ctx, name)).ok_or_else(|| not_found(format!("Archive {name} does not exist.")))
}

/// Events kept and their total size.
fn counts(db: &Events, arn: &str) -> (usize, usize) {
    db.archived.get(arn).map_or((0, 0), |events| (events.len(), events.values().map(|e| e.event.len()).sum()))
}

pub fn create_archive(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let name = str_of(input, "ArchiveName").unwrap_or_default();
    check_name(name, "ArchiveName")?;
    let source = str_of(input, "EventSourceArn").unwrap_or_default();
    let bus = bus_name(db, ctx, Some(source))?;
    if !source.starts_with("arn:") {
        return Err(validation("Parameter EventSourceArn is not valid."));
    }
    let arn = archive_arn(ctx, name);
    if db.archives.contains_key(&arn) {
        return Err(exists(format!("Archive {name} already exists.")));
    }
    let pattern = str_of(input, "EventPattern");
    if let Some(p) = pattern {
        ops::check_pattern(p)?;
    }
    let a = Archive {
        arn: arn.clone(),
        name: name.to_string(),
        account: ctx.account.to_string(),
        region: ctx.region.to_string(),
        source_arn: bus_arn(ctx, &bus),
        description: str_of(input, "Description").map(str::to_string),
        event_pattern: pattern.map(str::to_string),
        retention_days: check_retention(input)?,
        kms_key: str_of(input, "KmsKeyIdentifier").map(str::to_string),
        created: ctx.now,
    };
    ch.put(archive_key(&arn), Record::Archive(a));
    Ok(json!({"ArchiveArn": arn, "State": "ENABLED", "CreationTime": seconds(ctx.now)}))
}

pub fn describe_archive(db: &Events, ctx: &Ctx, input: &Value) -> Result<Value> {
    let a = archive(db, ctx, str_of(input, "ArchiveName").unwrap_or_default())?;
    let (count, size) = counts(db, &a.arn);
    let mut out = json!({
        "ArchiveArn": a.arn, "ArchiveName": a.name, "EventSourceArn": a.source_arn, "State": "ENABLED",
        "RetentionDays": a.retention_days, "SizeBytes": size, "EventCount": count,
        "CreationTime": seconds(a.created),
    });
    if let Some(d) = &a.description {
        out["Description"] = json!(d);
    }
    if let Some(p) = &a.event_pattern {
        out["EventPattern"] = json!(p);
    }
    if let Some(k) = &a.kms_key {
        out["KmsKeyIdentifier"] = json!(k);
    }
    Ok(out)
}

/// `NextToken` paging over a sorted list (the token is the offset).
fn page(items: Vec<Value>, input: &Value, member: &str) -> Result<Value> {
    let limit = input.get("Limit").and_then(Value::as_u64).unwrap_or(100).clamp(1, 100) as usize;
    let start = match str_of(input, "NextToken") {
        Some(t) => t.parse::<usize>().map_err(|_| validation("The nextToken provided is invalid."))?,
        None => 0,
    };
    let next = (start + limit < items.len()).then(|| (start + limit).to_string());
    let mut out = json!({});
    out[member] = Value::Array(items.into_iter().skip(start).take(limit).collect());
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

pub fn list_archives(db: &Events, ctx: &Ctx, input: &Value) -> Result<Value> {
    let prefix = str_of(input, "NamePrefix").unwrap_or("");
    let source = str_of(input, "EventSourceArn");
    let state = str_of(input, "State");
    let items: Vec<Value> = db
        .archives
        .values()
        .filter(|a| a.account == ctx.account && a.region == ctx.region && a.name.starts_with(prefix))
        .filter(|a| source.is_none_or(|s| s == a.source_arn))
        .filter(|_| state.is_none_or(|s| s == "ENABLED"))
        .map(|a| {
            let (count, size) = counts(db, &a.arn);
            json!({"ArchiveName": a.name, "EventSourceArn": a.source_arn, "State": "ENABLED",
                   "RetentionDays": a.retention_days, "SizeBytes": size, "EventCount": count,
                   "CreationTime": seconds(a.created)})
        })
        .collect();
    page(items, input, "Archives")
}

pub fn update_archive(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let mut a = archive(db, ctx, str_of(input, "ArchiveName").unwrap_or_default())?.clone();
    if let Some(p) = str_of(input, "EventPattern") {
        ops::check_pattern(p)?;
        a.event_pattern = Some(p.to_string());
    }
    if let Some(d) = str_of(input, "Description") {
        a.description = Some(d.to_string());
    }
    if input.get("RetentionDays").is_some() {
        a.retention_days = check_retention(input)?;
    }
    if let Some(k) = str_of(input, "KmsKeyIdentifier") {
        a.kms_key = (!k.is_empty()).then(|| k.to_string());
    }
    let out = json!({"ArchiveArn": a.arn, "State": "ENABLED", "CreationTime": seconds(a.created)});
    ch.put(archive_key(&a.arn), Record::Archive(a));
    Ok(out)
}

pub fn delete_archive(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let a = archive(db, ctx, str_of(input, "ArchiveName").unwrap_or_default())?;
    for seq in db.archived.get(&a.arn).into_iter().flat_map(|e| e.keys()) {
        ch.delete(archived_key(&a.arn, *seq));
    }
    ch.delete(archive_key(&a.arn));
    Ok(json!({}))
}

pub fn start_replay(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let name = str_of(input, "ReplayName").unwrap_or_default();
    check_name(name, "ReplayName")?;
    let source = str_of(input, "EventSourceArn").unwrap_or_default();
    let archive_name = source.rsplit_once(":archive/").map_or(source, |(_, n)| n);
    let a = db.archives.get(&archive_arn(ctx, archive_name)).filter(|a| a.arn == source).ok_or_else(|| {
        validation(format!("Parameter EventSourceArn is not valid. Reason: Archive {archive_name} does not exist."))
    })?;
    let destination = input.get("Destination").cloned().unwrap_or(json!({}));
    let dest_arn = str_of(&destination, "Arn").unwrap_or_default();
    if dest_arn != a.source_arn {
        let dest_bus = dest_arn.rsplit_once(":event-bus/").map_or(dest_arn, |(_, n)| n);
        bus_name(db, ctx, Some(dest_bus))?;
        return Err(validation(
            "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.",
        ));
    }
    for rule in destination.get("FilterArns").and_then(Value::as_array).into_iter().flatten() {
        let on_bus = rule
            .as_str()
            .and_then(|r| db.rules.get(r))
            .is_some_and(|r| bus_arn(ctx, &r.bus) == a.source_arn && r.account == ctx.account);
        if !on_bus {
            return Err(validation(
                "Parameter Destination.FilterArns is not valid. Reason: Rule must be on the destination event bus.",
            ));
        }
    }
    let (Some(start), Some(end)) = (millis_of(input.get("EventStartTime")), millis_of(input.get("EventEndTime")))
    else {
        return Err(validation("Parameter EventStartTime is not valid."));
    };
    if end <= start {
        return Err(validation(
            "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.",
        ));
    }
    let arn = replay_arn(ctx, name);
    if db.replays.contains_key(&arn) {
        return Err(exists(format!("Replay {name} already exists.")));
    }
    let r = Replay {
        arn: arn.clone(),
        name: name.to_string(),
        account: ctx.account.to_string(),
        region: ctx.region.to_string(),
        description: str_of(input, "Description").map(str::to_string),
        source_arn: a.arn.clone(),
        destination,
        event_start: start,
        event_end: end,
        state: "STARTING".into(),
        state_reason: None,
        replay_start: ctx.now,
        replay_end: None,
        last_replayed: None,
    };
    ch.put(replay_key(&arn), Record::Replay(r));
    Ok(json!({"ReplayArn": arn, "State": "STARTING", "ReplayStartTime": seconds(ctx.now)}))
}

fn replay<'s>(db: &'s Events, ctx: &Ctx, name: &str) -> Result<&'s Replay> {
    db.replays.get(&replay_arn(ctx, name)).ok_or_else(|| not_found(format!("Replay {name} does not exist.")))
}

fn replay_summary(r: &Replay) -> Value {
    let mut out = json!({
        "ReplayName": r.name, "EventSourceArn": r.source_arn, "State": r.state,
        "EventStartTime": seconds(r.event_start), "EventEndTime": seconds(r.event_end),
        "ReplayStartTime": seconds(r.replay_start),
    });
    if let Some(reason) = &r.state_reason {
        out["StateReason"] = json!(reason);
    }
    if let Some(t) = r.last_replayed {
        out["EventLastReplayedTime"] = seconds(t);
    }
    if let Some(t) = r.replay_end {
        out["ReplayEndTime"] = seconds(t);
    }
    out
}

pub fn describe_replay(db: &Events, ctx: &Ctx, input: &Value) -> Result<Value> {
    let r = replay(db, ctx, str_of(input, "ReplayName").unwrap_or_default())?;
    let mut out = replay_summary(r);
    out["ReplayArn"] = json!(r.arn);
    out["Destination"] = r.destination.clone();
    if let Some(d) = &r.description {
        out["Description"] = json!(d);
    }
    Ok(out)
}

pub fn list_replays(db: &Events, ctx: &Ctx, input: &Value) -> Result<Value> {
    let prefix = str_of(input, "NamePrefix").unwrap_or("");
    let source = str_of(input, "EventSourceArn");
    let state = str_of(input, "State");
    let items: Vec<Value> = db
        .replays
        .values()
        .filter(|r| r.account == ctx.account && r.region == ctx.region && r.name.starts_with(prefix))
        .filter(|r| source.is_none_or(|s| s == r.source_arn) && state.is_none_or(|s| s == r.state))
        .map(replay_summary)
        .collect();
    page(items, input, "Replays")
}

pub fn cancel_replay(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let name = str_of(input, "ReplayName").unwrap_or_default();
    let mut r = replay(db, ctx, name)?.clone();
    if !matches!(r.state.as_str(), "STARTING" | "RUNNING") {
        return Err(AwsError::new(
            400,
            "IllegalStatusException",
            format!("Replay {name} is not in a valid state for this operation."),
        ));
    }
    r.state = "CANCELLING".into();
    let out = json!({"ReplayArn": r.arn, "State": "CANCELLING"});
    ch.put(replay_key(&r.arn), Record::Replay(r));
    Ok(out)
}
