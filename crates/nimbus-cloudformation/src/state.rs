//! Stacks and change sets as CloudFormation keeps them, persisted through the shared store:
//! `stack/<id>` and `changeset/<id>` records, each rewritten whole at every state change.

use std::collections::BTreeMap;

use nimbus_core::state::Persist;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Parameter {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub resolved: Option<String>,
    #[serde(default)]
    pub no_echo: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Resource {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: Option<String>,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub updated: String,
    /// The properties as last applied (evaluated).
    #[serde(default)]
    pub properties: Value,
    #[serde(default)]
    pub ref_value: Value,
    #[serde(default)]
    pub attributes: Map<String, Value>,
    #[serde(default)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Event {
    pub event_id: String,
    pub logical_id: String,
    pub physical_id: String,
    pub resource_type: String,
    pub timestamp: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub properties: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Output {
    pub key: String,
    pub value: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub export_name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stack {
    pub id: String,
    pub name: String,
    pub account: String,
    pub region: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub created: String,
    #[serde(default)]
    pub updated: Option<String>,
    #[serde(default)]
    pub deleted: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The template as submitted, and as processed (transforms applied, long form JSON).
    pub template_body: String,
    pub template: Value,
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub notification_arns: Vec<String>,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub disable_rollback: bool,
    #[serde(default)]
    pub termination_protection: bool,
    #[serde(default)]
    pub timeout_minutes: Option<i64>,
    #[serde(default)]
    pub stack_policy: Option<String>,
    #[serde(default)]
    pub change_set_id: Option<String>,
    #[serde(default)]
    pub resources: BTreeMap<String, Resource>,
    #[serde(default)]
    pub outputs: Vec<Output>,
    /// Oldest first (DescribeStackEvents answers newest first).
    #[serde(default)]
    pub events: Vec<Event>,
    /// Export names this stack imports (Fn::ImportValue), for ListImports and delete checks.
    #[serde(default)]
    pub imports: Vec<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
}

impl Stack {
    pub fn is_deleted(&self) -> bool {
        self.status == "DELETE_COMPLETE"
    }

    pub fn in_progress(&self) -> bool {
        self.status.ends_with("_IN_PROGRESS") && self.status != "REVIEW_IN_PROGRESS"
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChangeSet {
    pub id: String,
    pub name: String,
    pub stack_id: String,
    pub stack_name: String,
    pub change_set_type: String,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    pub execution_status: String,
    pub created: String,
    #[serde(default)]
    pub description: Option<String>,
    pub template_body: String,
    pub template: Value,
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub notification_arns: Vec<String>,
    #[serde(default)]
    pub role_arn: Option<String>,
    /// The `Changes` list as DescribeChangeSet answers it.
    #[serde(default)]
    pub changes: Vec<Value>,
    #[serde(default)]
    pub include_nested: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    Stack(Box<Stack>),
    ChangeSet(Box<ChangeSet>),
}

#[derive(Default)]
pub struct Stacks {
    /// By stack id.
    pub stacks: BTreeMap<String, Stack>,
    /// By change set id.
    pub change_sets: BTreeMap<String, ChangeSet>,
}

impl Persist for Stacks {
    type Record = Record;

    fn apply(&mut self, key: &str, record: Option<Record>) {
        match (key.split_once('/'), record) {
            (Some((_, id)), Some(Record::Stack(s))) => {
                self.stacks.insert(id.to_string(), *s);
            }
            (Some((_, id)), Some(Record::ChangeSet(c))) => {
                self.change_sets.insert(id.to_string(), *c);
            }
            (Some(("stack", id)), None) => {
                self.stacks.remove(id);
            }
            (Some(("changeset", id)), None) => {
                self.change_sets.remove(id);
            }
            _ => {}
        }
    }
}

impl Stacks {
    /// The live (not deleted) stack named `name_or_id` in this account and region, or any stack
    /// by its id.
    pub fn find(&self, account: &str, region: &str, name_or_id: &str) -> Option<&Stack> {
        if name_or_id.starts_with("arn:") {
            return self.stacks.get(name_or_id);
        }
        self.stacks
            .values()
            .filter(|s| s.account == account && s.region == region && s.name == name_or_id && !s.is_deleted())
            .max_by(|a, b| a.created.cmp(&b.created))
    }

    /// Exports of this account and region: name → (value, exporting stack id).
    pub fn exports(&self, account: &str, region: &str) -> BTreeMap<String, (String, String)> {
        let mut out = BTreeMap::new();
        for s in self.stacks.values().filter(|s| s.account == account && s.region == region && !s.is_deleted()) {
            for o in &s.outputs {
                if let Some(name) = &o.export_name {
                    out.insert(name.clone(), (o.value.clone(), s.id.clone()));
                }
            }
        }
        out
    }

    pub fn change_set(&self, account: &str, region: &str, name_or_id: &str, stack: Option<&str>) -> Option<&ChangeSet> {
        if name_or_id.starts_with("arn:") {
            return self.change_sets.get(name_or_id);
        }
        let stack = stack.and_then(|s| self.find(account, region, s))?;
        self.change_sets.values().find(|c| c.stack_id == stack.id && c.name == name_or_id)
    }
}

pub fn stack_key(id: &str) -> String {
    format!("stack/{id}")
}

pub fn change_set_key(id: &str) -> String {
    format!("changeset/{id}")
}
