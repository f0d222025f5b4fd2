//! Event source mappings: the stored configuration, and the pollers that turn queue messages
//! into invocations the way Lambda's pollers do.

pub mod filter;
pub mod sqs;
pub mod stream;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// What kind of event source a mapping reads, from its ARN (or `SelfManagedEventSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceKind {
    Sqs,
    Kinesis,
    DynamoDbStreams,
    Msk,
    SelfManagedKafka,
    Mq,
    DocumentDb,
}

impl SourceKind {
    pub fn of(event_source_arn: Option<&str>) -> Option<SourceKind> {
        let Some(arn) = event_source_arn else { return Some(SourceKind::SelfManagedKafka) };
        let parsed = nimbus_core::arn::Arn::parse(arn)?;
        Some(match parsed.service.as_str() {
            "sqs" => SourceKind::Sqs,
            "kinesis" => SourceKind::Kinesis,
            "dynamodb" => SourceKind::DynamoDbStreams,
            "kafka" => SourceKind::Msk,
            "mq" => SourceKind::Mq,
            "rds" | "docdb" => SourceKind::DocumentDb,
            _ => return None,
        })
    }

    pub fn is_stream(self) -> bool {
        matches!(
            self,
            SourceKind::Kinesis
                | SourceKind::DynamoDbStreams
                | SourceKind::Msk
                | SourceKind::SelfManagedKafka
                | SourceKind::DocumentDb
        )
    }

    pub fn default_batch_size(self) -> u32 {
        if self == SourceKind::Sqs {
            10
        } else {
            100
        }
    }

    /// Whether nimbus runs a poller for this kind (the others are stored and validated only).
    pub fn polled(self) -> bool {
        matches!(self, SourceKind::Sqs | SourceKind::Kinesis | SourceKind::DynamoDbStreams)
    }
}

/// One event source mapping. `settings` holds the configuration members as AWS returns them;
/// the typed fields are the ones pollers act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSourceMapping {
    pub uuid: String,
    pub kind: SourceKind,
    /// The function ARN as given (qualified when a version or alias was named).
    pub function_arn: String,
    pub event_source_arn: Option<String>,
    pub enabled: bool,
    pub batch_size: u32,
    pub batching_window: u32,
    #[serde(default)]
    pub filters: Vec<String>,
    #[serde(default)]
    pub function_response_types: Vec<String>,
    pub maximum_concurrency: Option<u32>,
    pub settings: Map<String, Value>,
    pub last_modified: f64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Where invoked functions should send their SDK calls (nimbus's own address).
    #[serde(default)]
    pub endpoint: String,
}

impl EventSourceMapping {
    /// The `EventSourceMappingConfiguration` AWS returns, in state `state`.
    pub fn render(&self, region: &str, account: &str, state: &str) -> Value {
        let mut out = Map::new();
        out.insert("UUID".into(), json!(self.uuid));
        out.insert("BatchSize".into(), json!(self.batch_size));
        out.insert("MaximumBatchingWindowInSeconds".into(), json!(self.batching_window));
        if let Some(arn) = &self.event_source_arn {
            out.insert("EventSourceArn".into(), json!(arn));
        }
        if !self.filters.is_empty() {
            let filters: Vec<Value> = self.filters.iter().map(|p| json!({"Pattern": p})).collect();
            out.insert("FilterCriteria".into(), json!({"Filters": filters}));
        }
        out.insert("FunctionArn".into(), json!(self.function_arn));
        out.insert("LastModified".into(), json!(self.last_modified));
        for (k, v) in &self.settings {
            out.insert(k.clone(), v.clone());
        }
        out.insert("State".into(), json!(state));
        out.insert("StateTransitionReason".into(), json!("USER_INITIATED"));
        out.insert("FunctionResponseTypes".into(), json!(self.function_response_types));
        if let Some(max) = self.maximum_concurrency {
            out.insert("ScalingConfig".into(), json!({"MaximumConcurrency": max}));
        }
        out.insert("EventSourceMappingArn".into(), json!(arn(region, account, &self.uuid)));
        Value::Object(out)
    }

    pub fn state(&self) -> &'static str {
        if self.enabled {
            "Enabled"
        } else {
            "Disabled"
        }
    }
}

pub fn arn(region: &str, account: &str, uuid: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}")
}
