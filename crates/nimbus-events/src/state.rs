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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    Bus(Bus),
    Rule(Rule),
}

#[derive(Default)]
pub struct Events {
    /// Custom buses by ARN (each account's `default` bus always exists).
    pub buses: BTreeMap<String, Bus>,
    pub rules: BTreeMap<String, Rule>,
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
