//! One function per EventBridge management operation over [`Events`].

use std::collections::BTreeMap;

use nimbus_core::pattern::Pattern;
use nimbus_core::schedule::Schedule;
use nimbus_core::state::Changes;
use nimbus_core::AwsError;
use serde_json::{json, Value};

use crate::state::*;

pub type Result<T> = std::result::Result<T, AwsError>;

pub struct Ctx<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub now: i64,
}

pub fn str_of<'v>(input: &'v Value, name: &str) -> Option<&'v str> {
    input.get(name).and_then(Value::as_str)
}

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationException", message)
}

fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ResourceNotFoundException", message)
}

pub fn bus_arn(ctx: &Ctx, name: &str) -> String {
    format!("arn:aws:events:{}:{}:event-bus/{name}", ctx.region, ctx.account)
}

/// A bus name or ARN (absent: `default`) as the bus's name, if it exists.
pub fn bus_name(db: &Events, ctx: &Ctx, name_or_arn: Option<&str>) -> Result<String> {
    let given = name_or_arn.unwrap_or("default");
    let name = given.rsplit_once(":event-bus/").map(|(_, n)| n).unwrap_or(given).to_string();
    if name == "default" || db.buses.contains_key(&bus_arn(ctx, &name)) {
        Ok(name)
    } else {
        Err(not_found(format!("Event bus {name} does not exist.")))
    }
}

pub fn rule_arn(ctx: &Ctx, bus: &str, name: &str) -> String {
    if bus == "default" {
        format!("arn:aws:events:{}:{}:rule/{name}", ctx.region, ctx.account)
    } else {
        format!("arn:aws:events:{}:{}:rule/{bus}/{name}", ctx.region, ctx.account)
    }
}

fn tag_list(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|t| Some((str_of(t, "Key")?.to_string(), str_of(t, "Value").unwrap_or("").to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn tags_json(tags: &BTreeMap<String, String>) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect())
}

pub fn create_event_bus(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let name = str_of(input, "Name").unwrap_or_default();
    let arn = bus_arn(ctx, name);
    if name == "default" || db.buses.contains_key(&arn) {
        return Err(AwsError::new(400, "ResourceAlreadyExistsException", format!("Event bus {name} already exists.")));
    }
    if name.contains('/') {
        return Err(validation("Event bus name must not contain '/'."));
    }
    let bus = Bus {
        arn: arn.clone(),
        name: name.to_string(),
        account: ctx.account.to_string(),
        region: ctx.region.to_string(),
        description: str_of(input, "Description").map(str::to_string),
        policy: None,
        tags: tag_list(input.get("Tags")),
        created: ctx.now,
    };
    ch.put(bus_key(&arn), Record::Bus(bus));
    Ok(json!({"EventBusArn": arn}))
}

pub fn delete_event_bus(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let name = str_of(input, "Name").unwrap_or_default();
    if name == "default" {
        return Err(validation("Cannot delete event bus default."));
    }
    let arn = bus_arn(ctx, name);
    if db.buses.contains_key(&arn) {
        ch.delete(bus_key(&arn));
        for r in db.rules.values().filter(|r| r.bus == name && r.account == ctx.account && r.region == ctx.region) {
            ch.delete(rule_key(&r.arn));
        }
    }
    Ok(json!({}))
}

fn bus_json(db: &Events, ctx: &Ctx, name: &str) -> Value {
    let arn = bus_arn(ctx, name);
    let mut out = json!({"Name": name, "Arn": arn});
    if let Some(b) = db.buses.get(&arn) {
        if let Some(d) = &b.description {
            out["Description"] = json!(d);
        }
        if let Some(p) = &b.policy {
            out["Policy"] = json!(p);
        }
        out["CreationTime"] = json!(b.created as f64 / 1000.0);
        out["LastModifiedTime"] = json!(b.created as f64 / 1000.0);
    }
    out
}

pub fn describe_event_bus(db: &Events, ctx: &Ctx, input: &Value) -> Result<Value> {
    let name = bus_name(db, ctx, str_of(input, "Name"))?;
    Ok(bus_json(db, ctx, &name))
}

pub fn list_event_buses(db: &Events, ctx: &Ctx, input: &Value) -> Result<Value> {
    let prefix = str_of(input, "NamePrefix").unwrap_or("");
    let mut names = vec!["default".to_string()];
    names.extend(
        db.buses.values().filter(|b| b.account == ctx.account && b.region == ctx.region).map(|b| b.name.clone()),
    );
    let buses: Vec<Value> = names.iter().filter(|n| n.starts_with(prefix)).map(|n| bus_json(db, ctx, n)).collect();
    Ok(json!({"EventBuses": buses}))
}

pub fn put_permission(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let name = bus_name(db, ctx, str_of(input, "EventBusName"))?;
    let arn = bus_arn(ctx, &name);
    let mut bus = db.buses.get(&arn).cloned().unwrap_or_else(|| Bus {
        arn: arn.clone(),
        name: name.clone(),
        account: ctx.account.to_string(),
        region: ctx.region.to_string(),
        description: None,
        policy: None,
        tags: BTreeMap::new(),
        created: ctx.now,
    });
    let policy = match str_of(input, "Policy") {
        Some(p) => p.to_string(),
        None => {
            let mut policy: Value = bus
                .policy
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
            let statement = json!({
                "Sid": str_of(input, "StatementId").unwrap_or_default(),
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{}:root", str_of(input, "Principal").unwrap_or("*"))},
                "Action": str_of(input, "Action").unwrap_or("events:PutEvents"),
                "Resource": arn,
            });
            if let Some(list) = policy["Statement"].as_array_mut() {
                list.push(statement);
            }
            policy.to_string()
        }
    };
    bus.policy = Some(policy);
    ch.put(bus_key(&arn), Record::Bus(bus));
    Ok(json!({}))
}

pub fn remove_permission(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let name = bus_name(db, ctx, str_of(input, "EventBusName"))?;
    let arn = bus_arn(ctx, &name);
    let Some(mut bus) = db.buses.get(&arn).cloned() else {
        return Err(not_found("EventBus does not have a policy."));
    };
    if input.get("RemoveAllPermissions").and_then(Value::as_bool).unwrap_or(false) {
        bus.policy = None;
    } else if let Some(mut policy) = bus.policy.as_deref().and_then(|p| serde_json::from_str::<Value>(p).ok()) {
        let sid = str_of(input, "StatementId").unwrap_or_default();
        if let Some(list) = policy["Statement"].as_array_mut() {
            list.retain(|s| s["Sid"] != sid);
        }
        bus.policy = Some(policy.to_string());
    }
    ch.put(bus_key(&arn), Record::Bus(bus));
    Ok(json!({}))
}

pub fn check_pattern(text: &str) -> Result<Pattern> {
    let invalid = |reason: &str| {
        AwsError::new(400, "InvalidEventPatternException", format!("Event pattern is not valid. Reason: {reason}"))
    };
    let value: Value = serde_json::from_str(text).map_err(|e| invalid(&format!("Filter is not valid JSON: {e}")))?;
    Pattern::from_value(&value).map_err(|_| invalid("Filter is not valid"))
}

pub fn put_rule(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let name = str_of(input, "Name").unwrap_or_default();
    let bus = bus_name(db, ctx, str_of(input, "EventBusName"))?;
    let pattern = str_of(input, "EventPattern");
    let schedule = str_of(input, "ScheduleExpression");
    if pattern.is_none() && schedule.is_none() {
        return Err(validation("Parameter(s) EventPattern or ScheduleExpression must be specified."));
    }
    if let Some(p) = pattern {
        check_pattern(p)?;
    }
    if let Some(s) = schedule {
        if bus != "default" {
            return Err(validation("ScheduleExpression is supported only on the default event bus."));
        }
        if !(s.starts_with("rate(") || s.starts_with("cron(")) || Schedule::parse(s).is_err() {
            return Err(validation("Parameter ScheduleExpression is not valid."));
        }
    }
    let state = str_of(input, "State").unwrap_or("ENABLED");
    let arn = rule_arn(ctx, &bus, name);
    let existing = db.rules.get(&arn);
    let rule = Rule {
        arn: arn.clone(),
        name: name.to_string(),
        bus,
        account: ctx.account.to_string(),
        region: ctx.region.to_string(),
        event_pattern: pattern.map(str::to_string),
        schedule: schedule.map(str::to_string),
        enabled: state != "DISABLED",
        description: str_of(input, "Description").map(str::to_string),
        role_arn: str_of(input, "RoleArn").map(str::to_string),
        targets: existing.map(|r| r.targets.clone()).unwrap_or_default(),
        tags: existing.map(|r| r.tags.clone()).unwrap_or_else(|| tag_list(input.get("Tags"))),
        created: existing.map_or(ctx.now, |r| if r.schedule.as_deref() == schedule { r.created } else { ctx.now }),
    };
    ch.put(rule_key(&arn), Record::Rule(rule));
    Ok(json!({"RuleArn": arn}))
}

fn rule<'s>(db: &'s Events, ctx: &Ctx, input: &Value, name_member: &str) -> Result<&'s Rule> {
    let bus = bus_name(db, ctx, str_of(input, "EventBusName"))?;
    let name = str_of(input, name_member).unwrap_or_default();
    db.rules
        .get(&rule_arn(ctx, &bus, name))
        .ok_or_else(|| not_found(format!("Rule {name} does not exist on EventBus {bus}.")))
}

fn rule_json(r: &Rule) -> Value {
    let mut out = json!({
        "Name": r.name, "Arn": r.arn, "EventBusName": r.bus,
        "State": if r.enabled { "ENABLED" } else { "DISABLED" },
    });
    if let Some(p) = &r.event_pattern {
        out["EventPattern"] = json!(p);
    }
    if let Some(s) = &r.schedule {
        out["ScheduleExpression"] = json!(s);
    }
    if let Some(d) = &r.description {
        out["Description"] = json!(d);
    }
    if let Some(role) = &r.role_arn {
        out["RoleArn"] = json!(role);
    }
    out
}

pub fn describe_rule(db: &Events, ctx: &Ctx, input: &Value) -> Result<Value> {
    let r = rule(db, ctx, input, "Name")?;
    let mut out = rule_json(r);
    out["CreatedBy"] = json!(r.account);
    Ok(out)
}

pub fn delete_rule(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    match rule(db, ctx, input, "Name") {
        Ok(r) if !r.targets.is_empty() => Err(validation("Rule can't be deleted since it has targets.")),
        Ok(r) => {
            ch.delete(rule_key(&r.arn));
            Ok(json!({}))
        }
        Err(_) => Ok(json!({})),
    }
}

pub fn set_state(db: &Events, ctx: &Ctx, input: &Value, enabled: bool, ch: &mut Changes<Record>) -> Result<Value> {
    let mut r = rule(db, ctx, input, "Name")?.clone();
    r.enabled = enabled;
    ch.put(rule_key(&r.arn), Record::Rule(r));
    Ok(json!({}))
}

fn rules_on<'s>(db: &'s Events, ctx: &'s Ctx, bus: &'s str) -> impl Iterator<Item = &'s Rule> + 's {
    db.rules.values().filter(move |r| r.account == ctx.account && r.region == ctx.region && r.bus == bus)
}

pub fn list_rules(db: &Events, ctx: &Ctx, input: &Value) -> Result<Value> {
    let bus = bus_name(db, ctx, str_of(input, "EventBusName"))?;
    let prefix = str_of(input, "NamePrefix").unwrap_or("");
    let rules: Vec<Value> = rules_on(db, ctx, &bus).filter(|r| r.name.starts_with(prefix)).map(rule_json).collect();
    Ok(json!({"Rules": rules}))
}

pub fn list_rule_names_by_target(db: &Events, ctx: &Ctx, input: &Value) -> Result<Value> {
    let bus = bus_name(db, ctx, str_of(input, "EventBusName"))?;
    let target = str_of(input, "TargetArn").unwrap_or_default();
    let names: Vec<&str> = rules_on(db, ctx, &bus)
        .filter(|r| r.targets.iter().any(|t| str_of(t, "Arn") == Some(target)))
        .map(|r| r.name.as_str())
        .collect();
    Ok(json!({"RuleNames": names}))
}

pub fn put_targets(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let mut r = rule(db, ctx, input, "Rule")?.clone();
    let mut failed: Vec<Value> = Vec::new();
    for t in input.get("Targets").and_then(Value::as_array).into_iter().flatten() {
        let id = str_of(t, "Id").unwrap_or_default();
        let given = ["Input", "InputPath", "InputTransformer"].iter().filter(|k| t.get(**k).is_some()).count();
        if given > 1 {
            return Err(validation(format!(
                "Only one of Input, InputPath, or InputTransformer must be provided for target {id}."
            )));
        }
        if let Some(input) = str_of(t, "Input") {
            if serde_json::from_str::<Value>(input).is_err() {
                return Err(validation(format!("Target {id}: Input is not valid JSON text.")));
            }
        }
        r.targets.retain(|e| str_of(e, "Id") != Some(id));
        r.targets.push(t.clone());
    }
    if r.targets.len() > 5 {
        return Err(AwsError::new(
            400,
            "LimitExceededException",
            "The requested resource exceeds the maximum number allowed.",
        ));
    }
    failed.clear();
    ch.put(rule_key(&r.arn), Record::Rule(r));
    Ok(json!({"FailedEntryCount": 0, "FailedEntries": failed}))
}

pub fn remove_targets(db: &Events, ctx: &Ctx, input: &Value, ch: &mut Changes<Record>) -> Result<Value> {
    let mut r = rule(db, ctx, input, "Rule")?.clone();
    let ids: Vec<&str> =
        input.get("Ids").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    r.targets.retain(|t| !ids.contains(&str_of(t, "Id").unwrap_or_default()));
    ch.put(rule_key(&r.arn), Record::Rule(r));
    Ok(json!({"FailedEntryCount": 0, "FailedEntries": []}))
}

pub fn list_targets_by_rule(db: &Events, ctx: &Ctx, input: &Value) -> Result<Value> {
    let r = rule(db, ctx, input, "Rule")?;
    Ok(json!({"Targets": r.targets}))
}

pub fn tag_resource(db: &Events, input: &Value, ch: &mut Changes<Record>, add: bool) -> Result<Value> {
    let arn = str_of(input, "ResourceARN").unwrap_or_default();
    let apply = |tags: &mut BTreeMap<String, String>| {
        if add {
            tags.extend(tag_list(input.get("Tags")));
        } else {
            for k in input.get("TagKeys").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                tags.remove(k);
            }
        }
    };
    if let Some(r) = db.rules.get(arn) {
        let mut r = r.clone();
        apply(&mut r.tags);
        ch.put(rule_key(arn), Record::Rule(r));
    } else if let Some(b) = db.buses.get(arn) {
        let mut b = b.clone();
        apply(&mut b.tags);
        ch.put(bus_key(arn), Record::Bus(b));
    } else {
        let name = arn.rsplit('/').next().unwrap_or(arn);
        return Err(not_found(format!("Resource {name} does not exist.")));
    }
    Ok(json!({}))
}

pub fn list_tags_for_resource(db: &Events, input: &Value) -> Result<Value> {
    let arn = str_of(input, "ResourceARN").unwrap_or_default();
    let tags = match (db.rules.get(arn), db.buses.get(arn)) {
        (Some(r), _) => &r.tags,
        (_, Some(b)) => &b.tags,
        _ => {
            let name = arn.rsplit('/').next().unwrap_or(arn);
            return Err(not_found(format!("Resource {name} does not exist.")));
        }
    };
    Ok(json!({"Tags": tags_json(tags)}))
}

pub fn test_event_pattern(input: &Value) -> Result<Value> {
    let pattern = check_pattern(str_of(input, "EventPattern").unwrap_or_default())?;
    let event: Value = serde_json::from_str(str_of(input, "Event").unwrap_or_default())
        .map_err(|_| validation("Parameter Event is not valid."))?;
    for field in ["id", "account", "source", "time", "region", "detail-type"] {
        if event.get(field).is_none() {
            return Err(validation("Parameter Event is not valid."));
        }
    }
    Ok(json!({"Result": pattern.matches(&event)}))
}
