//! Nimbus's Amazon EventBridge on the shared model-driven front (AWS JSON 1.1, `AWSEvents`).
//!
//! Buses and rules live in the journaled [`state::Events`] ([`ops`]); `PutEvents` builds AWS's
//! event envelope, matches every enabled rule of the bus with the shared pattern engine
//! ([`nimbus_core::pattern`]) and hands each target its input ([`transform`]) through
//! [`nimbus_core::delivery::Targets`]. Rules with a `ScheduleExpression` fire on nimbus's
//! clock ([`nimbus_core::schedule`]), once per due occurrence. EventBridge is also the `events`
//! delivery target (Lambda destinations, bus-to-bus targets, Scheduler).

pub mod archive;
pub mod ops;
pub mod state;
pub mod transform;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use chrono::TimeZone;
use nimbus_core::clock::Clock;
use nimbus_core::delivery::{self, Deliver, Delivery, Pending, RetryJournal, RetryPolicy, Source, Targets};
use nimbus_core::front::{unsupported, ModelService, OpResult, Operations};
use nimbus_core::model::ServiceModel;
use nimbus_core::pattern::Pattern;
use nimbus_core::schedule::{event_time, Schedule};
use nimbus_core::service::BoxFuture;
use nimbus_core::state::Store;
use nimbus_core::{AwsError, RequestContext};
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};

use crate::ops::{str_of, Ctx};
use crate::state::{Events, Rule};

pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/events.json")))
}

pub struct EventBridge {
    me: Weak<EventBridge>,
    store: Store<Events>,
    clock: Clock,
    pub targets: RwLock<Option<Targets>>,
    /// Next firing (nimbus millis) of each scheduled rule, by rule ARN.
    next_fire: Mutex<HashMap<String, i64>>,
    /// Compiled patterns by their text, so PutEvents does not reparse them.
    patterns: Mutex<HashMap<String, Arc<Pattern>>>,
    /// The next sequence number of an archived event.
    archive_seq: std::sync::atomic::AtomicU64,
}

impl EventBridge {
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<Arc<EventBridge>> {
        let store = Store::open(data_dir, "events")?;
        let me = Arc::new_cyclic(|me| EventBridge {
            me: me.clone(),
            store,
            clock,
            targets: RwLock::new(None),
            next_fire: Mutex::default(),
            patterns: Mutex::default(),
            archive_seq: std::sync::atomic::AtomicU64::new(0),
        });
        let last = me.store.read(|db| db.archived.values().filter_map(|e| e.keys().next_back().copied()).max());
        me.archive_seq.store(last.map_or(1, |n| n + 1), std::sync::atomic::Ordering::Relaxed);
        // Count from start-up, so a clock advanced before the first tick still fires.
        let now = me.clock.now();
        let seeded: HashMap<String, i64> = me.store.read(|db| {
            db.rules
                .values()
                .filter_map(|r| {
                    let schedule = Schedule::parse(r.schedule.as_deref()?).ok()?;
                    let anchor = chrono::Utc.timestamp_millis_opt(r.created).single()?;
                    let next = schedule.next_after(now.max(anchor), anchor, chrono_tz::Tz::UTC)?;
                    Some((r.arn.clone(), next.timestamp_millis()))
                })
                .collect()
        });
        *me.next_fire.lock() = seeded;
        Ok(me)
    }

    fn pattern(&self, text: &str) -> Option<Arc<Pattern>> {
        let mut cache = self.patterns.lock();
        if let Some(p) = cache.get(text) {
            return Some(p.clone());
        }
        let p = Arc::new(ops::check_pattern(text).ok()?);
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(text.to_string(), p.clone());
        Some(p)
    }

    fn put_events(&self, ctx: &RequestContext, input: &Value) -> OpResult {
        let entries = input.get("Entries").and_then(Value::as_array).cloned().unwrap_or_default();
        let now = self.clock.now();
        let mut results = Vec::with_capacity(entries.len());
        let mut failed = 0;
        for e in &entries {
            match self.put_one(&ctx.account, &ctx.region, e, now) {
                Ok(id) => results.push(json!({"EventId": id})),
                Err((code, message)) => {
                    failed += 1;
                    results.push(json!({"ErrorCode": code, "ErrorMessage": message}));
                }
            }
        }
        Ok(json!({"FailedEntryCount": failed, "Entries": results}))
    }

    /// Validate one PutEvents entry, build its event and route it.
    fn put_one(
        &self,
        account: &str,
        region: &str,
        e: &Value,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String, (&'static str, String)> {
        let required = |name: &str| {
            str_of(e, name).filter(|s| !s.is_empty()).ok_or((
                "InvalidArgument",
                format!("Parameter {name} is not valid. Reason: {name} is a required argument."),
            ))
        };
        let source = required("Source")?;
        let detail_type = required("DetailType")?;
        let detail_text = required("Detail")?;
        let detail: Value = serde_json::from_str(detail_text)
            .ok()
            .filter(Value::is_object)
            .ok_or(("MalformedDetail", "Detail is malformed.".to_string()))?;
        let time = e
            .get("Time")
            .and_then(Value::as_f64)
            .and_then(|t| chrono::Utc.timestamp_millis_opt((t * 1000.0) as i64).single())
            .unwrap_or(now);
        let ctx = Ctx { account, region, now: now.timestamp_millis() };
        let bus = self
            .store
            .read(|db| ops::bus_name(db, &ctx, str_of(e, "EventBusName")))
            .map_err(|err| ("ResourceNotFoundException", err.message))?;
        let id = uuid::Uuid::new_v4().to_string();
        let event = json!({
            "version": "0",
            "id": id,
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": event_time(time),
            "region": region,
            "resources": e.get("Resources").cloned().unwrap_or_else(|| json!([])),
            "detail": detail,
        });
        self.route(account, region, &bus, &event).map_err(|e| ("InternalException", e.message))?;
        Ok(id)
    }

    /// Send `event` to the targets of every enabled rule on `bus` whose pattern matches, after
    /// keeping it in every archive of the bus whose pattern matches.
    /// An error says the retries it needs could not be journaled.
    pub fn route(&self, account: &str, region: &str, bus: &str, event: &Value) -> Result<(), AwsError> {
        self.archive(account, region, bus, event);
        self.route_to_rules(account, region, bus, event, None)
    }

    /// Journal `event` into each matching archive of `bus` (replayed events are not kept again).
    fn archive(&self, account: &str, region: &str, bus: &str, event: &Value) {
        if event.get("replay-name").is_some() {
            return;
        }
        let ctx = Ctx { account, region, now: 0 };
        let source = ops::bus_arn(&ctx, bus);
        let archives: Vec<(String, Option<String>)> = self.store.read(|db| {
            db.archives
                .values()
                .filter(|a| a.source_arn == source)
                .map(|a| (a.arn.clone(), a.event_pattern.clone()))
                .collect()
        });
        if archives.is_empty() {
            return;
        }
        let text = event.to_string();
        let now = self.clock.now_millis();
        let keep: Vec<String> = archives
            .into_iter()
            .filter(|(_, p)| p.as_deref().is_none_or(|p| self.pattern(p).is_some_and(|p| p.matches(event))))
            .map(|(arn, _)| arn)
            .collect();
        if keep.is_empty() {
            return;
        }
        let result = self.store.write(|db, ch| {
            for arn in &keep {
                if !db.archives.contains_key(arn) {
                    continue;
                }
                let seq = self.archive_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let kept = state::Archived { archive: arn.clone(), seq, time: now, event: text.clone() };
                ch.put(state::archived_key(arn, seq), state::Record::Archived(kept));
            }
            Ok(())
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "could not archive an event");
        }
    }

    /// Deliver `event` to the matching rules of `bus` (only those in `only`, when given).
    fn route_to_rules(
        &self,
        account: &str,
        region: &str,
        bus: &str,
        event: &Value,
        only: Option<&[String]>,
    ) -> Result<(), AwsError> {
        let rules: Vec<Rule> = self.store.read(|db| {
            db.rules
                .values()
                .filter(|r| r.enabled && r.account == account && r.region == region && r.bus == bus)
                .filter(|r| r.event_pattern.is_some() && !r.targets.is_empty())
                .filter(|r| only.is_none_or(|o| o.contains(&r.arn)))
                .cloned()
                .collect()
        });
        let mut retries = Vec::new();
        for rule in rules {
            let matched = rule.event_pattern.as_deref().and_then(|p| self.pattern(p)).is_some_and(|p| p.matches(event));
            if matched {
                retries.extend(self.deliver_to_targets(&rule, event));
            }
        }
        self.retry(retries)
    }

    /// Make the first attempt of each of `rule`'s targets; the deliveries to retry come back.
    fn deliver_to_targets(&self, rule: &Rule, event: &Value) -> Vec<Pending> {
        let Some(targets) = self.targets.read().clone() else { return Vec::new() };
        let received = self.clock.now_millis();
        let mut retries = Vec::new();
        for target in &rule.targets {
            let arn = str_of(target, "Arn").unwrap_or_default().to_string();
            let payload = transform::target_input(target, event, &rule.arn, &rule.name);
            let group = target.pointer("/SqsParameters/MessageGroupId").and_then(Value::as_str).map(str::to_string);
            let d = Delivery::new(&rule.account, &rule.region, &arn, payload)
                .in_group(group.clone(), group.as_ref().map(|_| uuid::Uuid::new_v4().to_string()))
                .from_source(Source {
                    principal: "events.amazonaws.com".into(),
                    source_arn: Some(rule.arn.clone()),
                    source_account: Some(rule.account.clone()),
                });
            let policy = RetryPolicy::from_json(target.get("RetryPolicy"));
            let dlq = target.pointer("/DeadLetterConfig/Arn").and_then(Value::as_str);
            let dead_letter = dlq.map(|dlq| (dlq.to_string(), event.to_string()));
            let origin = ("RULE_ARN".to_string(), rule.arn.clone());
            retries.extend(delivery::attempt(&targets, &self.clock, d, policy, origin, dead_letter, received));
        }
        retries
    }

    /// Journal deliveries whose first attempt failed (one batch, before the event is
    /// acknowledged), then run their retries.
    fn retry(&self, retries: Vec<Pending>) -> Result<(), AwsError> {
        if retries.is_empty() {
            return Ok(());
        }
        self.store.write(|_, ch| {
            for p in &retries {
                ch.put(state::pending_key(&p.id), state::Record::Pending(p.clone()));
            }
            Ok(())
        })?;
        self.start_retries(retries);
        Ok(())
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
        let pending: Vec<Pending> = self.store.read(|db| db.pending.values().cloned().collect());
        self.start_retries(pending);
    }

    /// Fire every scheduled rule occurrence due by now on nimbus's clock (each one once).
    pub fn tick(&self) {
        let now = self.clock.now();
        let rules: Vec<Rule> =
            self.store.read(|db| db.rules.values().filter(|r| r.schedule.is_some()).cloned().collect());
        let mut live = std::collections::HashSet::new();
        for rule in rules {
            live.insert(rule.arn.clone());
            let Some(schedule) = rule.schedule.as_deref().and_then(|s| Schedule::parse(s).ok()) else { continue };
            let anchor = chrono::Utc.timestamp_millis_opt(rule.created).single().unwrap_or(now);
            let mut due = Vec::new();
            {
                let mut next_fire = self.next_fire.lock();
                let next = next_fire.entry(rule.arn.clone()).or_insert_with(|| {
                    schedule
                        .next_after(now.max(anchor), anchor, chrono_tz::Tz::UTC)
                        .map_or(i64::MAX, |t| t.timestamp_millis())
                });
                while *next <= now.timestamp_millis() && due.len() < 10_000 {
                    let at = chrono::Utc.timestamp_millis_opt(*next).single().unwrap_or(now);
                    due.push(at);
                    *next =
                        schedule.next_after(at, anchor, chrono_tz::Tz::UTC).map_or(i64::MAX, |t| t.timestamp_millis());
                }
            }
            if !rule.enabled || rule.targets.is_empty() {
                continue;
            }
            for at in due {
                let event = json!({
                    "version": "0",
                    "id": uuid::Uuid::new_v4().to_string(),
                    "detail-type": "Scheduled Event",
                    "source": "aws.events",
                    "account": rule.account,
                    "time": event_time(at),
                    "region": rule.region,
                    "resources": [rule.arn],
                    "detail": {},
                });
                let retries = self.deliver_to_targets(&rule, &event);
                if let Err(e) = self.retry(retries) {
                    tracing::error!(rule = %rule.arn, error = %e, "could not journal a scheduled event's retries");
                }
            }
        }
        self.next_fire.lock().retain(|arn, _| live.contains(arn));
    }

    /// Move each replay one step (STARTING → RUNNING → its events sent, COMPLETED; CANCELLING →
    /// CANCELLED) and drop archived events older than their archive's retention.
    fn tick_archives(&self) {
        let now = self.clock.now_millis();
        let (replays, expired) = self.store.read(|db| {
            let replays: Vec<state::Replay> = db
                .replays
                .values()
                .filter(|r| matches!(r.state.as_str(), "STARTING" | "RUNNING" | "CANCELLING"))
                .cloned()
                .collect();
            let mut expired = Vec::new();
            for a in db.archives.values().filter(|a| a.retention_days > 0) {
                let cutoff = now - a.retention_days * 86_400_000;
                let old = db.archived.get(&a.arn).into_iter().flat_map(|e| e.values()).take_while(|e| e.time < cutoff);
                expired.extend(old.map(|e| state::archived_key(&a.arn, e.seq)));
            }
            (replays, expired)
        });
        if !expired.is_empty() {
            let result = self.store.write(|_, ch| {
                for key in &expired {
                    ch.delete(key.clone());
                }
                Ok(())
            });
            if let Err(e) = result {
                tracing::error!(error = %e, "could not sweep archived events");
            }
        }
        for mut r in replays {
            let state = r.state.clone();
            match state.as_str() {
                "STARTING" => r.state = "RUNNING".into(),
                "CANCELLING" => {
                    r.state = "CANCELLED".into();
                    r.replay_end = Some(now);
                }
                _ => {
                    let events: Vec<(i64, String)> = self.store.read(|db| {
                        db.archived
                            .get(&r.source_arn)
                            .into_iter()
                            .flat_map(|e| e.values())
                            .filter(|e| e.time >= r.event_start && e.time < r.event_end)
                            .map(|e| (e.time, e.event.clone()))
                            .collect()
                    });
                    let bus = r.destination["Arn"]
                        .as_str()
                        .and_then(|a| a.rsplit_once(":event-bus/"))
                        .map(|(_, b)| b.to_string());
                    let filter: Option<Vec<String>> = r.destination["FilterArns"]
                        .as_array()
                        .filter(|l| !l.is_empty())
                        .map(|l| l.iter().filter_map(Value::as_str).map(str::to_string).collect());
                    if let Some(bus) = bus {
                        for (time, text) in &events {
                            let Ok(mut event) = serde_json::from_str::<Value>(text) else { continue };
                            event["replay-name"] = json!(r.name);
                            if let Err(e) = self.route_to_rules(&r.account, &r.region, &bus, &event, filter.as_deref())
                            {
                                tracing::error!(replay = %r.arn, error = %e, "could not journal a replayed event's retries");
                            }
                            r.last_replayed = Some(*time);
                        }
                    }
                    r.state = "COMPLETED".into();
                    r.replay_end = Some(self.clock.now_millis());
                }
            }
            let result = self.store.write(|db, ch| {
                // A replay deleted or cancelled meanwhile keeps what the API made of it.
                let current = db.replays.get(&r.arn).map(|c| c.state.as_str());
                if current == Some("CANCELLING") && r.state != "CANCELLED" {
                    return Ok(());
                }
                if current.is_some() {
                    ch.put(state::replay_key(&r.arn), state::Record::Replay(r.clone()));
                }
                Ok(())
            });
            if let Err(e) = result {
                tracing::error!(error = %e, "could not record a replay's progress");
            }
        }
    }

    /// Tick every 100 ms (real time) so schedules follow nimbus's clock closely.
    pub fn start_background(self: &Arc<Self>) {
        let me: Weak<EventBridge> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let Some(me) = me.upgrade() else { return };
                me.tick();
                me.tick_archives();
            }
        });
    }

    fn run(&self, ctx: &RequestContext, op: &str, input: &Value) -> OpResult {
        let c = Ctx { account: &ctx.account, region: &ctx.region, now: self.clock.now_millis() };
        let write = |f: &dyn Fn(&Events, &mut nimbus_core::state::Changes<state::Record>) -> OpResult| {
            self.store.write(|db, ch| f(db, ch))
        };
        let out = match op {
            "CreateEventBus" => write(&|db, ch| ops::create_event_bus(db, &c, input, ch)),
            "DeleteEventBus" => write(&|db, ch| ops::delete_event_bus(db, &c, input, ch)),
            "DescribeEventBus" => self.store.read(|db| ops::describe_event_bus(db, &c, input)),
            "ListEventBuses" => self.store.read(|db| ops::list_event_buses(db, &c, input)),
            "PutPermission" => write(&|db, ch| ops::put_permission(db, &c, input, ch)),
            "RemovePermission" => write(&|db, ch| ops::remove_permission(db, &c, input, ch)),
            "PutRule" => write(&|db, ch| ops::put_rule(db, &c, input, ch)),
            "DescribeRule" => self.store.read(|db| ops::describe_rule(db, &c, input)),
            "DeleteRule" => write(&|db, ch| ops::delete_rule(db, &c, input, ch)),
            "EnableRule" => write(&|db, ch| ops::set_state(db, &c, input, true, ch)),
            "DisableRule" => write(&|db, ch| ops::set_state(db, &c, input, false, ch)),
            "ListRules" => self.store.read(|db| ops::list_rules(db, &c, input)),
            "ListRuleNamesByTarget" => self.store.read(|db| ops::list_rule_names_by_target(db, &c, input)),
            "PutTargets" => write(&|db, ch| ops::put_targets(db, &c, input, ch)),
            "RemoveTargets" => write(&|db, ch| ops::remove_targets(db, &c, input, ch)),
            "ListTargetsByRule" => self.store.read(|db| ops::list_targets_by_rule(db, &c, input)),
            "TagResource" => write(&|db, ch| ops::tag_resource(db, input, ch, true)),
            "UntagResource" => write(&|db, ch| ops::tag_resource(db, input, ch, false)),
            "ListTagsForResource" => self.store.read(|db| ops::list_tags_for_resource(db, input)),
            "TestEventPattern" => ops::test_event_pattern(input),
            "PutEvents" => self.put_events(ctx, input),
            "CreateArchive" => write(&|db, ch| archive::create_archive(db, &c, input, ch)),
            "DescribeArchive" => self.store.read(|db| archive::describe_archive(db, &c, input)),
            "ListArchives" => self.store.read(|db| archive::list_archives(db, &c, input)),
            "UpdateArchive" => write(&|db, ch| archive::update_archive(db, &c, input, ch)),
            "DeleteArchive" => write(&|db, ch| archive::delete_archive(db, &c, input, ch)),
            "StartReplay" => write(&|db, ch| archive::start_replay(db, &c, input, ch)),
            "DescribeReplay" => self.store.read(|db| archive::describe_replay(db, &c, input)),
            "ListReplays" => self.store.read(|db| archive::list_replays(db, &c, input)),
            "CancelReplay" => write(&|db, ch| archive::cancel_replay(db, &c, input, ch)),
            _ => Err(unsupported(op)),
        };
        if let (Ok(result), "PutRule") = (&out, op) {
            // The schedule counts from the rule's creation, fixed now, so a clock advanced right
            // after PutRule still sees every occurrence.
            let arn = str_of(result, "RuleArn").unwrap_or_default().to_string();
            let rule = self.store.read(|db| db.rules.get(&arn).cloned());
            let next = rule.and_then(|r| {
                let schedule = Schedule::parse(r.schedule.as_deref()?).ok()?;
                let anchor = chrono::Utc.timestamp_millis_opt(r.created).single()?;
                schedule.next_after(self.clock.now().max(anchor), anchor, chrono_tz::Tz::UTC)
            });
            let mut next_fire = self.next_fire.lock();
            match next {
                Some(t) => next_fire.insert(arn, t.timestamp_millis()),
                None => next_fire.remove(&arn),
            };
        }
        out
    }
}

impl Operations for EventBridge {
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

/// Rule targets' pending retries are `Pending` records of the events journal.
impl RetryJournal for EventBridge {
    fn progress(&self, p: &Pending) -> bool {
        let saved = self.store.write(|db, ch| {
            let kept = db.pending.contains_key(&p.id);
            if kept {
                ch.put(state::pending_key(&p.id), state::Record::Pending(p.clone()));
            }
            Ok(kept)
        });
        saved.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not record an EventBridge target's retry");
            true
        })
    }

    fn forget(&self, id: &str) -> bool {
        let forgotten = self.store.write(|db, ch| {
            let kept = db.pending.contains_key(id);
            if kept {
                ch.delete(state::pending_key(id));
            }
            Ok(kept)
        });
        forgotten.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not record the end of an EventBridge target's retries");
            true
        })
    }
}

/// EventBridge as a delivery target: the message is a whole event (bus-to-bus, routed as is)
/// or a PutEvents entry (`Source`, `DetailType`, `Detail`, `Resources`) — Lambda destinations.
impl Deliver for EventBridge {
    fn deliver(&self, d: &Delivery) -> Result<(), String> {
        let bus = d
            .target_arn
            .rsplit_once(":event-bus/")
            .map(|(_, n)| n.to_string())
            .ok_or_else(|| format!("{} is not an event bus ARN", d.target_arn))?;
        let ctx = Ctx { account: &d.account, region: &d.region, now: 0 };
        self.store.read(|db| ops::bus_name(db, &ctx, Some(&bus))).map_err(|e| e.message)?;
        let message: Value = serde_json::from_str(&d.message).map_err(|e| format!("not an event: {e}"))?;
        if message.get("detail-type").is_some() {
            return self.route(&d.account, &d.region, &bus, &message).map_err(|e| e.message);
        }
        let mut entry = message;
        if let Some(detail) = entry.get("Detail").filter(|v| v.is_object()).cloned() {
            entry["Detail"] = Value::String(detail.to_string());
        }
        entry["EventBusName"] = Value::String(bus);
        self.put_one(&d.account, &d.region, &entry, self.clock.now()).map(|_| ()).map_err(|(_, m)| m)
    }

    fn reachable(&self, d: &Delivery) -> bool {
        let Some((_, bus)) = d.target_arn.rsplit_once(":event-bus/") else { return false };
        let ctx = Ctx { account: &d.account, region: &d.region, now: 0 };
        self.store.read(|db| ops::bus_name(db, &ctx, Some(bus)).is_ok())
    }
}

pub fn service(events: Arc<EventBridge>) -> ModelService<EventBridge> {
    ModelService::new("events", &["events"], events)
}

/// The error AwsError type is re-exported for callers building their own.
pub type Error = AwsError;
