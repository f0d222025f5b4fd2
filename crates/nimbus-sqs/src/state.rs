//! The data: queues per account and region, their messages, deduplication windows and move
//! tasks, plus the queue mechanics (visibility, delay, retention, FIFO groups, redrive).
//!
//! All times are milliseconds on nimbus's clock. Journal records (keys are JSON arrays):
//! - `["q", account, region, name]` → queue metadata
//! - `["m", account, region, name, seq]` → one message with its receive state
//! - `["d", account, region, name]` → the FIFO deduplication window
//! - `["t", account, region, taskId]` → a message move task

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use base64::Engine;
use nimbus_core::journal::Records;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Notify;

pub type Change = (String, Option<Value>);

pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
pub const MAX_MESSAGE_SIZE: i64 = 1_048_576;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageAttribute {
    #[serde(rename = "t")]
    pub data_type: String,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none", with = "opt_b64")]
    pub binary_value: Option<Vec<u8>>,
}

mod opt_b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        Ok(s.and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok()))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub seq: u64,
    pub id: String,
    pub body: String,
    pub md5_body: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, MessageAttribute>,
    #[serde(default)]
    pub system_attributes: BTreeMap<String, MessageAttribute>,
    pub sent: i64,
    pub sender_id: String,
    /// Until when it is delayed (never received) or invisible (in flight).
    pub visible_at: i64,
    pub receive_count: u32,
    #[serde(default)]
    pub first_receive: Option<i64>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub dedup: Option<String>,
    #[serde(default)]
    pub sequence_number: Option<String>,
    /// The receipt handle of the latest receive.
    #[serde(default)]
    pub receipt: Option<String>,
    #[serde(default)]
    pub dlq_source: Option<String>,
}

impl Message {
    pub fn visible(&self, now: i64) -> bool {
        self.visible_at <= now
    }
    pub fn in_flight(&self, now: i64) -> bool {
        self.receive_count > 0 && self.visible_at > now
    }
    pub fn delayed(&self, now: i64) -> bool {
        self.receive_count == 0 && self.visible_at > now
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dedup {
    pub at: i64,
    pub message_id: String,
    #[serde(default)]
    pub sequence_number: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueMeta {
    pub name: String,
    pub fifo: bool,
    pub attributes: BTreeMap<String, String>,
    pub created: i64,
    pub last_modified: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub purged_at: Option<i64>,
}

#[derive(Debug)]
pub struct Queue {
    pub account: String,
    pub region: String,
    pub arn: String,
    pub meta: QueueMeta,
    pub messages: BTreeMap<u64, Message>,
    pub by_id: HashMap<String, u64>,
    pub dedup: BTreeMap<String, Dedup>,
    pub next_seq: u64,
    pub notify: Arc<Notify>,
    /// FIFO `ReceiveRequestAttemptId` → (when, the (seq, receipt) pairs it returned).
    pub attempts: HashMap<String, (i64, Vec<(u64, String)>)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoveTask {
    pub task_id: String,
    pub source_arn: String,
    #[serde(default)]
    pub destination_arn: Option<String>,
    #[serde(default)]
    pub max_per_second: Option<i64>,
    pub status: String,
    pub started: i64,
    pub moved: i64,
    pub to_move: i64,
    #[serde(default)]
    pub failure_reason: Option<String>,
}

impl MoveTask {
    pub fn handle(&self) -> String {
        let raw = json!({"taskId": self.task_id, "sourceArn": self.source_arn}).to_string();
        base64::engine::general_purpose::STANDARD.encode(raw)
    }
}

#[derive(Debug, Default)]
pub struct Region {
    pub queues: BTreeMap<String, Queue>,
    /// Recently deleted queue names → when.
    pub deleted: HashMap<String, i64>,
    pub tasks: BTreeMap<String, MoveTask>,
}

#[derive(Debug, Default)]
pub struct Store {
    pub regions: HashMap<(String, String), Region>,
}

pub fn queue_key(account: &str, region: &str, name: &str) -> String {
    json!(["q", account, region, name]).to_string()
}
pub fn message_key(account: &str, region: &str, name: &str, seq: u64) -> String {
    json!(["m", account, region, name, seq]).to_string()
}
pub fn dedup_key(account: &str, region: &str, name: &str) -> String {
    json!(["d", account, region, name]).to_string()
}
pub fn task_key(account: &str, region: &str, id: &str) -> String {
    json!(["t", account, region, id]).to_string()
}

pub fn queue_arn(account: &str, region: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

/// Parse `arn:aws:sqs:region:account:name`.
pub fn parse_arn(arn: &str) -> Option<(String, String, String)> {
    let a = nimbus_core::arn::Arn::parse(arn)?;
    if a.service != "sqs" || a.resource.is_empty() {
        return None;
    }
    Some((a.account, a.region, a.resource))
}

pub fn int_attr(attrs: &BTreeMap<String, String>, name: &str, default: i64) -> i64 {
    attrs.get(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

impl Queue {
    pub fn new(account: &str, region: &str, meta: QueueMeta) -> Queue {
        Queue {
            account: account.to_string(),
            region: region.to_string(),
            arn: queue_arn(account, region, &meta.name),
            meta,
            messages: BTreeMap::new(),
            by_id: HashMap::new(),
            dedup: BTreeMap::new(),
            next_seq: 0,
            notify: Arc::new(Notify::new()),
            attempts: HashMap::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.meta.name
    }

    pub fn attr(&self, name: &str, default: i64) -> i64 {
        int_attr(&self.meta.attributes, name, default)
    }

    pub fn visibility_timeout(&self) -> i64 {
        self.attr("VisibilityTimeout", 30)
    }

    pub fn meta_json(&self) -> Value {
        serde_json::to_value(&self.meta).unwrap_or(Value::Null)
    }

    pub fn meta_change(&self) -> Change {
        (queue_key(&self.account, &self.region, self.name()), Some(self.meta_json()))
    }

    pub fn message_change(&self, m: &Message) -> Change {
        (message_key(&self.account, &self.region, self.name(), m.seq), serde_json::to_value(m).ok())
    }

    pub fn message_delete(&self, seq: u64) -> Change {
        (message_key(&self.account, &self.region, self.name(), seq), None)
    }

    pub fn dedup_change(&self) -> Change {
        let v = if self.dedup.is_empty() { None } else { serde_json::to_value(&self.dedup).ok() };
        (dedup_key(&self.account, &self.region, self.name()), v)
    }

    /// The (redrive target ARN, maxReceiveCount) of the queue's redrive policy.
    pub fn redrive(&self) -> Option<(String, u32)> {
        let policy: Value = serde_json::from_str(self.meta.attributes.get("RedrivePolicy")?).ok()?;
        let target = policy["deadLetterTargetArn"].as_str()?.to_string();
        let max = match &policy["maxReceiveCount"] {
            Value::Number(n) => n.as_u64()? as u32,
            Value::String(s) => s.parse().ok()?,
            _ => return None,
        };
        Some((target, max))
    }

    pub fn alloc_seq(&mut self, now: i64) -> u64 {
        let seq = self.next_seq.max((now.max(0) as u64) * 1000);
        self.next_seq = seq + 1;
        seq
    }

    pub fn insert(&mut self, m: Message) {
        self.next_seq = self.next_seq.max(m.seq + 1);
        self.by_id.insert(m.id.clone(), m.seq);
        self.messages.insert(m.seq, m);
    }

    pub fn remove(&mut self, seq: u64) -> Option<Message> {
        let m = self.messages.remove(&seq)?;
        self.by_id.remove(&m.id);
        Some(m)
    }

    pub fn clear_messages(&mut self, changes: &mut Vec<Change>) {
        let seqs: Vec<u64> = self.messages.keys().copied().collect();
        for seq in seqs {
            self.remove(seq);
            changes.push(self.message_delete(seq));
        }
        self.attempts.clear();
    }

    /// Drop messages past the retention period and expired deduplication entries.
    pub fn tidy(&mut self, now: i64, changes: &mut Vec<Change>) {
        let retention = self.attr("MessageRetentionPeriod", 345_600) * 1000;
        let expired: Vec<u64> = self.messages.values().filter(|m| m.sent + retention <= now).map(|m| m.seq).collect();
        for seq in expired {
            self.remove(seq);
            changes.push(self.message_delete(seq));
        }
        if self.dedup.values().any(|d| d.at + DEDUP_WINDOW_MS <= now) {
            self.dedup.retain(|_, d| d.at + DEDUP_WINDOW_MS > now);
            changes.push(self.dedup_change());
        }
        self.attempts.retain(|_, (at, _)| *at + DEDUP_WINDOW_MS > now);
    }

    pub fn counts(&self, now: i64) -> (usize, usize, usize) {
        let (mut visible, mut in_flight, mut delayed) = (0, 0, 0);
        for m in self.messages.values() {
            if m.visible(now) {
                visible += 1;
            } else if m.in_flight(now) {
                in_flight += 1;
            } else {
                delayed += 1;
            }
        }
        (visible, in_flight, delayed)
    }

    /// The messages a receive may take now, in order: visible ones, and for FIFO queues only
    /// from groups with nothing in flight (and nothing still delayed ahead of them).
    pub fn candidates(&self, now: i64, max: usize) -> Vec<u64> {
        let mut out = Vec::new();
        if !self.meta.fifo {
            for m in self.messages.values() {
                if out.len() >= max {
                    break;
                }
                if m.visible(now) {
                    out.push(m.seq);
                }
            }
            return out;
        }
        let mut blocked: HashSet<&str> = HashSet::new();
        // A group with a message in flight yields nothing, wherever that message sits.
        for m in self.messages.values() {
            if m.in_flight(now) {
                blocked.insert(m.group.as_deref().unwrap_or_default());
            }
        }
        for m in self.messages.values() {
            if out.len() >= max {
                break;
            }
            let group = m.group.as_deref().unwrap_or_default();
            if blocked.contains(group) {
                continue;
            }
            if !m.visible(now) {
                blocked.insert(group);
                continue;
            }
            out.push(m.seq);
        }
        out
    }
}

pub fn receipt_handle(arn: &str, message_id: &str) -> String {
    let nonce: u64 = rand::random();
    let raw = format!("{arn} {message_id} {nonce:016x}");
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// (queue ARN, message id) of a receipt handle we issued.
pub fn parse_receipt(handle: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD.decode(handle).ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let mut parts = raw.split(' ');
    let arn = parts.next()?.to_string();
    let id = parts.next()?.to_string();
    parts.next()?;
    Some((arn, id))
}

impl Store {
    pub fn region(&self, account: &str, region: &str) -> Option<&Region> {
        self.regions.get(&(account.to_string(), region.to_string()))
    }

    pub fn region_mut(&mut self, account: &str, region: &str) -> &mut Region {
        self.regions.entry((account.to_string(), region.to_string())).or_default()
    }

    pub fn queue(&self, account: &str, region: &str, name: &str) -> Option<&Queue> {
        self.region(account, region)?.queues.get(name)
    }

    pub fn queue_mut(&mut self, account: &str, region: &str, name: &str) -> Option<&mut Queue> {
        self.regions.get_mut(&(account.to_string(), region.to_string()))?.queues.get_mut(name)
    }

    pub fn queue_by_arn(&self, arn: &str) -> Option<&Queue> {
        let (account, region, name) = parse_arn(arn)?;
        self.queue(&account, &region, &name)
    }

    pub fn queue_by_arn_mut(&mut self, arn: &str) -> Option<&mut Queue> {
        let (account, region, name) = parse_arn(arn)?;
        self.queue_mut(&account, &region, &name)
    }

    /// Put a message into another queue (dead-letter moves, redrives), as a fresh, visible
    /// message that keeps its id, body, attributes and sent time.
    pub fn transfer(
        &mut self,
        target_arn: &str,
        mut m: Message,
        source_arn: Option<&str>,
        now: i64,
        changes: &mut Vec<Change>,
    ) -> bool {
        let Some(target) = self.queue_by_arn_mut(target_arn) else { return false };
        m.seq = target.alloc_seq(now);
        m.receive_count = 0;
        m.first_receive = None;
        m.receipt = None;
        m.visible_at = now;
        if let Some(src) = source_arn {
            m.dlq_source = Some(src.to_string());
        }
        if target.meta.fifo {
            m.sequence_number = Some(sequence_number(m.seq));
            if m.group.is_none() {
                m.group = Some("default".into());
            }
        }
        changes.push(target.message_change(&m));
        target.insert(m);
        target.notify.notify_waiters();
        true
    }

    /// Rebuild from journal records.
    pub fn load(records: &Records) -> Store {
        let mut store = Store::default();
        let parsed: Vec<(Vec<Value>, &Value)> =
            records.iter().filter_map(|(k, v)| Some((serde_json::from_str::<Vec<Value>>(k).ok()?, v))).collect();
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        for kind in ["q", "m", "d", "t"] {
            for (key, value) in parsed.iter().filter(|(k, _)| k.first().and_then(Value::as_str) == Some(kind)) {
                let (account, region) = (s(&key[1]), s(&key[2]));
                match kind {
                    "q" => {
                        let Ok(meta) = serde_json::from_value::<QueueMeta>((*value).clone()) else { continue };
                        let q = Queue::new(&account, &region, meta);
                        store.region_mut(&account, &region).queues.insert(q.meta.name.clone(), q);
                    }
                    "m" => {
                        let Ok(m) = serde_json::from_value::<Message>((*value).clone()) else { continue };
                        if let Some(q) = store.queue_mut(&account, &region, &s(&key[3])) {
                            q.insert(m);
                        }
                    }
                    "d" => {
                        let Ok(d) = serde_json::from_value::<BTreeMap<String, Dedup>>((*value).clone()) else {
                            continue;
                        };
                        if let Some(q) = store.queue_mut(&account, &region, &s(&key[3])) {
                            q.dedup = d;
                        }
                    }
                    _ => {
                        let Ok(t) = serde_json::from_value::<MoveTask>((*value).clone()) else { continue };
                        store.region_mut(&account, &region).tasks.insert(t.task_id.clone(), t);
                    }
                }
            }
        }
        store
    }
}

/// FIFO `SequenceNumber`: a 20-digit, strictly increasing decimal string.
pub fn sequence_number(seq: u64) -> String {
    (10_000_000_000_000_000_000u128 + u128::from(seq)).to_string()
}
