//! EventBridge state: event buses and rules (with their targets), journaled one record each.

use std::collections::BTreeMap;

use nimbus_core::state::Persist;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bus {
    pub arn: String,
    pub name: String,
    pub account: String,
    pub region: String,
    pub description: Option<String>,
    pub policy: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rule {
    pub arn: String,
    pub name: String,
    pub bus: String,
    pub account: String,
    pub region: String,
    pub event_pattern: Option<String>,
    pub schedule: Option<String>,
    pub enabled: bool,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    /// Targets as the model shapes them (`Id`, `Arn`, `Input`, `InputTransformer`, …).
    pub targets: Vec<Value>,
    pub tags: BTreeMap<String, String>,
    /// Nimbus-clock millis; a rate counts from here.
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Archive {
    pub arn: String,
    pub name: String,
    pub account: String,
    pub region: String,
    /// The ARN of the bus whose events it keeps.
    pub source_arn: String,
    pub description: Option<String>,
    pub event_pattern: Option<String>,
    /// 0: kept indefinitely.
    pub retention_days: i64,
    pub kms_key: Option<String>,
    pub created: i64,
}

/// One event an archive kept: when it arrived (nimbus millis) and the event as routed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Archived {
    pub archive: String,
    pub seq: u64,
    pub time: i64,
    pub event: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Replay {
    pub arn: String,
    pub name: String,
    pub account: String,
    pub region: String,
    pub description: Option<String>,
    /// The archive's ARN.
    pub source_arn: String,
    /// `Destination` as given (`Arn`, `FilterArns`).
    pub destination: Value,
    pub event_start: i64,
    pub event_end: i64,
    /// STARTING, RUNNING, CANCELLING, COMPLETED, CANCELLED, FAILED.
    pub state: String,
    pub state_reason: Option<String>,
    pub replay_start: i64,
    pub replay_end: Option<i64>,
    pub last_replayed: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    Bus(Bus),
    Rule(Rule),
    Archive(Archive),
    Archived(Archived),
    Replay(Replay),
    /// A rule target's delivery waiting for its next retry.
    Pending(nimbus_core::delivery::Pending),
}

#[derive(Default)]
pub struct Events {
    /// Custom buses by ARN (each account's `default` bus always exists).
    pub buses: BTreeMap<String, Bus>,
    pub rules: BTreeMap<String, Rule>,
    pub archives: BTreeMap<String, Archive>,
    /// Each archive's events by sequence number.
    pub archived: BTreeMap<String, BTreeMap<u64, Archived>>,
    pub replays: BTreeMap<String, Replay>,
    /// Target deliveries waiting for a retry, by id.
    pub pending: BTreeMap<String, nimbus_core::delivery::Pending>,
}

impl Persist for Events {
    type Record = Record;

    fn apply(&mut self, key: &str, record: Option<Record>) {
        match (key.split_once('/'), record) {
            (_, Some(Record::Bus(b))) => {
                self.buses.insert(b.arn.clone(), b);
            }
            (_, Some(Record::Rule(r))) => {
                self.rules.insert(r.arn.clone(), r);
            }
            (_, Some(Record::Archive(a))) => {
                self.archives.insert(a.arn.clone(), a);
            }
            (_, Some(Record::Archived(e))) => {
                self.archived.entry(e.archive.clone()).or_default().insert(e.seq, e);
            }
            (_, Some(Record::Replay(r))) => {
                self.replays.insert(r.arn.clone(), r);
            }
            (Some(("a", arn)), None) => {
                self.archives.remove(arn);
                self.archived.remove(arn);
            }
            (Some(("e", rest)), None) => {
                if let Some((archive, seq)) = rest.rsplit_once('/') {
                    if let (Some(events), Ok(seq)) = (self.archived.get_mut(archive), seq.parse::<u64>()) {
                        events.remove(&seq);
                    }
                }
            }
            (_, Some(Record::Pending(p))) => {
                self.pending.insert(p.id.clone(), p);
            }
            (Some(("d", id)), None) => {
                self.pending.remove(id);
            }
            (Some(("p", arn)), None) => {
                self.replays.remove(arn);
            }
            (Some(("b", arn)), None) => {
                self.buses.remove(arn);
            }
            (Some(("r", arn)), None) => {
                self.rules.remove(arn);
            }
            _ => {}
        }
    }
}

pub fn bus_key(arn: &str) -> String {
    format!("b/{arn}")
}

pub fn rule_key(arn: &str) -> String {
    format!("r/{arn}")
}

pub fn archive_key(arn: &str) -> String {
    format!("a/{arn}")
}

pub fn archived_key(archive_arn: &str, seq: u64) -> String {
    format!("e/{archive_arn}/{seq:020}")
}

pub fn replay_key(arn: &str) -> String {
    format!("p/{arn}")
}

pub fn pending_key(id: &str) -> String {
    format!("d/{id}")
}
