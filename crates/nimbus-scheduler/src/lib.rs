//! Nimbus's Amazon EventBridge Scheduler on the shared model-driven front (REST-JSON).
//!
//! Schedules and schedule groups live in a journaled [`Store`]; a background tick fires every
//! due occurrence of each enabled schedule on nimbus's clock ([`nimbus_core::schedule`]:
//! `at()`, `rate()`, `cron()` in `ScheduleExpressionTimezone`, within `StartDate`/`EndDate`),
//! delivering `Target.Input` through [`nimbus_core::delivery::Targets`] (Lambda, SQS with
//! `MessageGroupId`, SNS, EventBridge with `EventBridgeParameters`). Scheduler acts with the
//! target's execution role, so Lambda targets need no resource policy, as on AWS. A schedule
//! with `ActionAfterCompletion: DELETE` is deleted after its last occurrence.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use nimbus_core::clock::Clock;
use nimbus_core::delivery::{self, Delivery, Pending, RetryJournal, RetryPolicy, Targets};
use nimbus_core::front::{unsupported, ModelService, OpResult, Operations};
use nimbus_core::model::ServiceModel;
use nimbus_core::schedule::{parse_timezone, Schedule};
use nimbus_core::service::BoxFuture;
use nimbus_core::state::{Changes, Persist, Store};
use nimbus_core::{AwsError, RequestContext};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/scheduler.json")))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    /// A schedule: its ARN, account, region and the model-shaped document GetSchedule answers.
    Schedule {
        arn: String,
        account: String,
        region: String,
        doc: Value,
    },
    Group {
        arn: String,
        account: String,
        region: String,
        name: String,
        created: f64,
        tags: BTreeMap<String, String>,
    },
    /// The last occurrence of a schedule that was fired (under [`fired_key`]), so a restart
    /// neither fires it again nor counts from before it.
    Fired {
        at: i64,
    },
    /// A target delivery waiting for its next retry (under [`pending_key`]).
    Pending(Pending),
}

/// Where a schedule's last firing is kept: under the schedule's ARN, so deleting its group
/// deletes it too.
fn fired_key(arn: &str) -> String {
    format!("{arn}#fired")
}

fn pending_key(id: &str) -> String {
    format!("pending/{id}")
}

#[derive(Default)]
pub struct Schedules {
    pub records: BTreeMap<String, Record>,
}

impl Persist for Schedules {
    type Record = Record;
    fn apply(&mut self, key: &str, record: Option<Record>) {
        match record {
            Some(r) => self.records.insert(key.to_string(), r),
            None => self.records.remove(key),
        };
    }
}

fn validation(m: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationException", m)
}

fn not_found(m: impl Into<String>) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", m)
}

fn str_of<'v>(v: &'v Value, k: &str) -> Option<&'v str> {
    v.get(k).and_then(Value::as_str)
}

pub struct Scheduler {
    me: Weak<Scheduler>,
    store: Store<Schedules>,
    clock: Clock,
    pub targets: RwLock<Option<Targets>>,
    next_fire: Mutex<HashMap<String, i64>>,
}

fn schedule_arn(ctx: &RequestContext, group: &str, name: &str) -> String {
    format!("arn:aws:scheduler:{}:{}:schedule/{group}/{name}", ctx.region, ctx.account)
}

fn group_arn(ctx: &RequestContext, name: &str) -> String {
    format!("arn:aws:scheduler:{}:{}:schedule-group/{name}", ctx.region, ctx.account)
}

fn millis_of(v: Option<&Value>) -> Option<i64> {
    v.and_then(Value::as_f64).map(|s| (s * 1000.0) as i64)
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// The next occurrence of a schedule document strictly after `after` (within its dates).
fn next_occurrence(doc: &Value, after: i64) -> Option<i64> {
    let schedule = Schedule::parse(str_of(doc, "ScheduleExpression")?).ok()?;
    let tz = str_of(doc, "ScheduleExpressionTimezone").and_then(parse_timezone).unwrap_or(chrono_tz::Tz::UTC);
    let start = millis_of(doc.get("StartDate"));
    let end = millis_of(doc.get("EndDate"));
    let anchor = start.or_else(|| millis_of(doc.get("CreationDate"))).unwrap_or(after);
    let from = start.map_or(after, |s| after.max(s - 1));
    let next = schedule.next_after(utc(from), utc(anchor), tz)?.timestamp_millis();
    end.map_or(true, |e| next <= e).then_some(next)
}

impl Scheduler {
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<Arc<Scheduler>> {
        let store = Store::open(data_dir, "scheduler")?;
        let me = Arc::new_cyclic(|me| Scheduler {
            me: me.clone(),
            store,
            clock,
            targets: RwLock::new(None),
            next_fire: Mutex::default(),
        });
        // Count from start-up (so a clock advanced before the first tick still fires), or from
        // the last firing when that is later (nimbus's clock starts again from the wall clock).
        let now = me.clock.now_millis();
        let seeded: HashMap<String, i64> = me.store.read(|s| {
            s.records
                .values()
                .filter_map(|r| match r {
                    Record::Schedule { arn, doc, .. } => {
                        let fired = match s.records.get(&fired_key(arn)) {
                            Some(Record::Fired { at }) => *at,
                            _ => i64::MIN,
                        };
                        Some((arn.clone(), next_occurrence(doc, now.max(fired))?))
                    }
                    _ => None,
                })
                .collect()
        });
        *me.next_fire.lock() = seeded;
        Ok(me)
    }

    fn group_exists(&self, ctx: &RequestContext, group: &str) -> bool {
        group == "default" || self.store.read(|s| s.records.contains_key(&group_arn(ctx, group)))
    }

    fn check(&self, ctx: &RequestContext, input: &Value) -> Result<String, AwsError> {
        let group = str_of(input, "GroupName").unwrap_or("default").to_string();
        if !self.group_exists(ctx, &group) {
            return Err(not_found(format!("Schedule group {group} does not exist.")));
        }
        let expr = str_of(input, "ScheduleExpression").unwrap_or_default();
        if Schedule::parse(expr).is_err() {
            return Err(validation(format!("Invalid Schedule Expression {expr}.")));
        }
        if let Some(tz) = str_of(input, "ScheduleExpressionTimezone") {
            if parse_timezone(tz).is_none() {
                return Err(validation(format!("Invalid ScheduleExpressionTimezone {tz}.")));
            }
        }
        let target = str_of(&input["Target"], "Arn").unwrap_or_default();
        if !target.starts_with("arn:") {
            return Err(validation(format!("Invalid Target Arn {target}.")));
        }
        Ok(group)
    }

    fn put_schedule(&self, ctx: &RequestContext, input: &Value, create: bool) -> OpResult {
        let group = self.check(ctx, input)?;
        let name = str_of(input, "Name").unwrap_or_default();
        let arn = schedule_arn(ctx, &group, name);
        let now = self.clock.now_millis() as f64 / 1000.0;
        let doc = self.store.write(|s, ch: &mut Changes<Record>| {
            let existing = match s.records.get(&arn) {
                Some(Record::Schedule { doc, .. }) => Some(doc.clone()),
                _ => None,
            };
            match (&existing, create) {
                (Some(_), true) => {
                    return Err(AwsError::new(409, "ConflictException", format!("Schedule {name} already exists.")))
                }
                (None, false) => return Err(not_found(format!("Schedule {name} does not exist."))),
                _ => {}
            }
            let mut doc = input.clone();
            if let Some(o) = doc.as_object_mut() {
                o.remove("ClientToken");
                o.insert("Arn".into(), json!(arn));
                o.insert("GroupName".into(), json!(group));
                o.entry("State").or_insert(json!("ENABLED"));
                o.entry("ActionAfterCompletion").or_insert(json!("NONE"));
                let created = existing.as_ref().and_then(|e| e.get("CreationDate").cloned()).unwrap_or(json!(now));
                o.insert("CreationDate".into(), created);
                o.insert("LastModificationDate".into(), json!(now));
            }
            ch.put(
                arn.clone(),
                Record::Schedule {
                    arn: arn.clone(),
                    account: ctx.account.clone(),
                    region: ctx.region.clone(),
                    doc: doc.clone(),
                },
            );
            Ok(doc)
        })?;
        let next = next_occurrence(&doc, self.clock.now_millis());
        let mut fire = self.next_fire.lock();
        match next {
            Some(n) => fire.insert(arn.clone(), n),
            None => fire.remove(&arn),
        };
        Ok(json!({"ScheduleArn": arn}))
    }

    fn schedule_doc(&self, ctx: &RequestContext, input: &Value) -> Result<(String, Value), AwsError> {
        let group = str_of(input, "GroupName").unwrap_or("default");
        let name = str_of(input, "Name").unwrap_or_default();
        let arn = schedule_arn(ctx, group, name);
        match self.store.read(|s| s.records.get(&arn).cloned()) {
            Some(Record::Schedule { doc, .. }) => Ok((arn, doc)),
            _ => Err(not_found(format!("Schedule {name} does not exist."))),
        }
    }

    fn run(&self, ctx: &RequestContext, op: &str, input: &Value) -> OpResult {
        match op {
            "CreateSchedule" => self.put_schedule(ctx, input, true),
            "UpdateSchedule" => self.put_schedule(ctx, input, false),
            "GetSchedule" => self.schedule_doc(ctx, input).map(|(_, d)| d),
            "DeleteSchedule" => {
                let (arn, _) = self.schedule_doc(ctx, input)?;
                self.store.write(|_, ch| {
                    ch.delete(arn.clone());
                    ch.delete(fired_key(&arn));
                    Ok(())
                })?;
                self.next_fire.lock().remove(&arn);
                Ok(json!({}))
            }
            "ListSchedules" => {
                let group = str_of(input, "GroupName");
                let prefix = str_of(input, "NamePrefix").unwrap_or("");
                let state = str_of(input, "State");
                let list: Vec<Value> = self.store.read(|s| {
                    s.records
                        .values()
                        .filter_map(|r| match r {
                            Record::Schedule { account, region, doc, .. }
                                if *account == ctx.account && *region == ctx.region =>
                            {
                                Some(doc)
                            }
                            _ => None,
                        })
                        .filter(|d| group.map_or(true, |g| str_of(d, "GroupName") == Some(g)))
                        .filter(|d| str_of(d, "Name").unwrap_or("").starts_with(prefix))
                        .filter(|d| state.map_or(true, |st| str_of(d, "State") == Some(st)))
                        .map(|d| {
                            json!({"Arn": d["Arn"], "Name": d["Name"], "GroupName": d["GroupName"], "State": d["State"],
                                   "CreationDate": d["CreationDate"], "LastModificationDate": d["LastModificationDate"],
                                   "Target": {"Arn": d["Target"]["Arn"]}})
                        })
                        .collect()
                });
                Ok(json!({"Schedules": list}))
            }
            "CreateScheduleGroup" => {
                let name = str_of(input, "Name").unwrap_or_default().to_string();
                let arn = group_arn(ctx, &name);
                if name == "default" || self.group_exists(ctx, &name) {
                    return Err(AwsError::new(
                        409,
                        "ConflictException",
                        format!("Schedule group {name} already exists."),
                    ));
                }
                let tags = input["Tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| Some((str_of(t, "Key")?.to_string(), str_of(t, "Value")?.to_string())))
                    .collect();
                let created = self.clock.now_millis() as f64 / 1000.0;
                self.store.write(|_, ch| {
                    ch.put(
                        arn.clone(),
                        Record::Group {
                            arn: arn.clone(),
                            account: ctx.account.clone(),
                            region: ctx.region.clone(),
                            name,
                            created,
                            tags,
                        },
                    );
                    Ok(())
                })?;
                Ok(json!({"ScheduleGroupArn": arn}))
            }
            "GetScheduleGroup" => {
                let name = str_of(input, "Name").unwrap_or_default();
                let created = match self.store.read(|s| s.records.get(&group_arn(ctx, name)).cloned()) {
                    Some(Record::Group { created, .. }) => created,
                    _ if name == "default" => 0.0,
                    _ => return Err(not_found(format!("Schedule group {name} does not exist."))),
                };
                Ok(json!({"Arn": group_arn(ctx, name), "Name": name, "State": "ACTIVE",
                          "CreationDate": created, "LastModificationDate": created}))
            }
            "DeleteScheduleGroup" => {
                let name = str_of(input, "Name").unwrap_or_default().to_string();
                if name == "default" {
                    return Err(validation("The default schedule group cannot be deleted."));
                }
                let arn = group_arn(ctx, &name);
                if !self.group_exists(ctx, &name) {
                    return Err(not_found(format!("Schedule group {name} does not exist.")));
                }
                let prefix = format!("arn:aws:scheduler:{}:{}:schedule/{name}/", ctx.region, ctx.account);
                self.store.write(|s, ch| {
                    ch.delete(arn.clone());
                    for k in s.records.keys().filter(|k| k.starts_with(&prefix)) {
                        ch.delete(k.clone());
                    }
                    Ok(())
                })?;
                self.next_fire.lock().retain(|k, _| !k.starts_with(&prefix));
                Ok(json!({}))
            }
            "ListScheduleGroups" => {
                let mut groups = vec![json!({"Arn": group_arn(ctx, "default"), "Name": "default", "State": "ACTIVE"})];
                self.store.read(|s| {
                    for r in s.records.values() {
                        if let Record::Group { arn, account, region, name, created, .. } = r {
                            if *account == ctx.account && *region == ctx.region {
                                groups.push(json!({"Arn": arn, "Name": name, "State": "ACTIVE", "CreationDate": created, "LastModificationDate": created}));
                            }
                        }
                    }
                });
                Ok(json!({"ScheduleGroups": groups}))
            }
            "TagResource" | "UntagResource" | "ListTagsForResource" => {
                let arn = str_of(input, "ResourceArn").unwrap_or_default().to_string();
                self.store.write(|s, ch| {
                    let Some(Record::Group { arn: a, account, region, name, created, tags }) =
                        s.records.get(&arn).cloned()
                    else {
                        return Err(not_found(format!("Resource {arn} does not exist.")));
                    };
                    let mut tags = tags;
                    match op {
                        "TagResource" => {
                            for t in input["Tags"].as_array().into_iter().flatten() {
                                if let (Some(k), Some(v)) = (str_of(t, "Key"), str_of(t, "Value")) {
                                    tags.insert(k.into(), v.into());
                                }
                            }
                        }
                        "UntagResource" => {
                            for k in input["TagKeys"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                                tags.remove(k);
                            }
                        }
                        _ => {
                            let list: Vec<Value> = tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
                            return Ok(json!({"Tags": list}));
                        }
                    }
                    ch.put(arn.clone(), Record::Group { arn: a, account, region, name, created, tags });
                    Ok(json!({}))
                })
            }
            _ => Err(unsupported(op)),
        }
    }

    /// Fire every due occurrence of every enabled schedule (each once), then delete finished
    /// schedules whose `ActionAfterCompletion` is `DELETE`.
    pub fn tick(&self) {
        let now = self.clock.now_millis();
        let schedules: Vec<(String, String, String, Value)> = self.store.read(|s| {
            s.records
                .values()
                .filter_map(|r| match r {
                    Record::Schedule { arn, account, region, doc } => {
                        Some((arn.clone(), account.clone(), region.clone(), doc.clone()))
                    }
                    _ => None,
                })
                .collect()
        });
        let mut finished = Vec::new();
        for (arn, account, region, doc) in schedules {
            let mut due = Vec::new();
            let done = {
                let mut fire = self.next_fire.lock();
                let next = fire.entry(arn.clone()).or_insert_with(|| next_occurrence(&doc, now).unwrap_or(i64::MAX));
                while *next <= now && due.len() < 10_000 {
                    due.push(*next);
                    *next = next_occurrence(&doc, *next).unwrap_or(i64::MAX);
                }
                *next == i64::MAX
            };
            if let (Some(last), Some("ENABLED")) = (due.last(), str_of(&doc, "State")) {
                let retries: Vec<Pending> =
                    due.iter().filter_map(|at| self.fire(&account, &region, &arn, &doc, *at)).collect();
                // The firing is done once this is journaled: the occurrence, with the retries it needs.
                let result = self.store.write(|s, ch| {
                    if s.records.contains_key(&arn) {
                        ch.put(fired_key(&arn), Record::Fired { at: *last });
                    }
                    for p in &retries {
                        ch.put(pending_key(&p.id), Record::Pending(p.clone()));
                    }
                    Ok(())
                });
                match result {
                    Ok(()) => self.start_retries(retries),
                    Err(e) => tracing::error!(schedule = %arn, error = %e, "could not journal a schedule's firing"),
                }
            }
            if done && str_of(&doc, "ActionAfterCompletion") == Some("DELETE") {
                finished.push(arn);
            }
        }
        if !finished.is_empty() {
            let result = self.store.write(|_, ch| {
                for arn in &finished {
                    ch.delete(arn.clone());
                    ch.delete(fired_key(arn));
                }
                Ok(())
            });
            if let Err(e) = result {
                tracing::error!(error = %e, "could not delete completed schedules");
            }
            let mut fire = self.next_fire.lock();
            for arn in &finished {
                fire.remove(arn);
            }
        }
    }

    /// The first attempt of one firing; the delivery to retry, if it failed, comes back.
    fn fire(&self, account: &str, region: &str, arn: &str, doc: &Value, _at: i64) -> Option<Pending> {
        let targets = self.targets.read().clone()?;
        let target = &doc["Target"];
        let target_arn = str_of(target, "Arn").unwrap_or_default();
        let input = str_of(target, "Input").unwrap_or("{}").to_string();
        let message = if target_arn.starts_with("arn:aws:events:") {
            let p = &target["EventBridgeParameters"];
            let detail: Value = serde_json::from_str(&input).unwrap_or(json!({}));
            json!({"Source": str_of(p, "Source").unwrap_or("aws.scheduler"),
                   "DetailType": str_of(p, "DetailType").unwrap_or("Scheduled Event"),
                   "Detail": detail, "Resources": [arn]})
            .to_string()
        } else {
            input
        };
        let group = target.pointer("/SqsParameters/MessageGroupId").and_then(Value::as_str).map(str::to_string);
        let d = Delivery::new(account, region, target_arn, message.clone())
            .in_group(group.clone(), group.map(|_| uuid::Uuid::new_v4().to_string()));
        let policy = RetryPolicy::from_json(target.get("RetryPolicy"));
        let dlq = target.pointer("/DeadLetterConfig/Arn").and_then(Value::as_str);
        let dead_letter = dlq.map(|dlq| (dlq.to_string(), message));
        let origin = ("SCHEDULE_ARN".to_string(), arn.to_string());
        delivery::attempt(&targets, &self.clock, d, policy, origin, dead_letter, self.clock.now_millis())
    }

    fn start_retries(&self, retries: Vec<Pending>) {
        let Some(targets) = self.targets.read().clone() else { return };
        for p in retries {
            let journal: Weak<dyn RetryJournal> = self.me.clone();
            delivery::retry(&targets, &self.clock, journal, p);
        }
    }

    /// Go on with the retries the last run had not finished (once the targets are wired).
    pub fn resume_retries(&self) {
        let pending: Vec<Pending> = self.store.read(|s| {
            s.records
                .values()
                .filter_map(|r| match r {
                    Record::Pending(p) => Some(p.clone()),
                    _ => None,
                })
                .collect()
        });
        self.start_retries(pending);
    }

    pub fn start_background(self: &Arc<Self>) {
        let me: Weak<Scheduler> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let Some(me) = me.upgrade() else { return };
                me.tick();
            }
        });
    }
}

impl Operations for Scheduler {
    fn model(&self) -> &'static ServiceModel {
        model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move { self.run(ctx, op, &input) })
    }

    fn reset(&self) {
        self.store.reset();
        self.next_fire.lock().clear();
    }
}

/// Targets' pending retries are `Pending` records of the scheduler journal.
impl RetryJournal for Scheduler {
    fn progress(&self, p: &Pending) -> bool {
        let saved = self.store.write(|s, ch| {
            let kept = s.records.contains_key(&pending_key(&p.id));
            if kept {
                ch.put(pending_key(&p.id), Record::Pending(p.clone()));
            }
            Ok(kept)
        });
        saved.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not record a Scheduler target's retry");
            true
        })
    }

    fn forget(&self, id: &str) -> bool {
        let forgotten = self.store.write(|s, ch| {
            let kept = s.records.contains_key(&pending_key(id));
            if kept {
                ch.delete(pending_key(id));
            }
            Ok(kept)
        });
        forgotten.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not record the end of a Scheduler target's retries");
            true
        })
    }
}

pub fn service(s: Arc<Scheduler>) -> ModelService<Scheduler> {
    ModelService::new("scheduler", &["scheduler"], s)
}
