//! Publish and PublishBatch: validate the message, sign it once, and fan it out to every
//! confirmed subscription whose filter policy matches, in the shape each protocol receives
//! (the SQS JSON notification or raw body, the Lambda `Records[].Sns` event). A delivery that
//! fails goes to the subscription's `RedrivePolicy` dead-letter queue.

use std::collections::BTreeMap;

use base64::Engine;
use nimbus_core::delivery::{Delivery, Source, Targets};
use nimbus_core::pattern::Pattern;
use nimbus_core::AwsError;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::endpoint;
use crate::errors::{invalid, Result};
use crate::ops::str_of;
use crate::state::{Subscription, Topic};
use crate::Sns;

/// SNS's limit on a message with its attributes.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

#[derive(Debug, Clone)]
pub struct Attribute {
    pub data_type: String,
    /// String and Number values as text, Binary in base64.
    pub value: String,
}

/// One message to publish, validated.
#[derive(Debug, Clone)]
pub struct Message {
    pub message: String,
    pub subject: Option<String>,
    /// `MessageStructure=json`: the per-protocol messages (`default` always present).
    pub structure: Option<Map<String, Value>>,
    pub attributes: BTreeMap<String, Attribute>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

/// The publish request as SNS checks it (the same for Publish and each PublishBatch entry).
pub fn parse(input: &Value) -> Result<Message> {
    let message = str_of(input, "Message").unwrap_or_default().to_string();
    if message.is_empty() {
        return Err(invalid("Empty message"));
    }
    let subject = str_of(input, "Subject").map(str::to_string);
    if let Some(s) = &subject {
        if s.is_empty() || s.len() > 100 || s.chars().any(|c| c.is_control()) || s.starts_with(' ') {
            return Err(invalid("Subject"));
        }
    }
    let structure = match str_of(input, "MessageStructure") {
        None => None,
        Some("json") => {
            let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&message) else {
                return Err(invalid("Message Structure - JSON message body failed to parse"));
            };
            if !map.get("default").is_some_and(Value::is_string) {
                return Err(invalid("Message Structure - No default entry in JSON message body"));
            }
            Some(map)
        }
        Some(other) => return Err(invalid(format!("MessageStructure: {other}"))),
    };
    let mut attributes = BTreeMap::new();
    let mut size = message.len();
    if let Some(map) = input.get("MessageAttributes").and_then(Value::as_object) {
        if map.len() > 10 {
            return Err(invalid(
                "Number of message attributes [".to_string()
                    + &map.len().to_string()
                    + "] exceeds the allowed maximum [10].",
            ));
        }
        for (name, v) in map {
            let data_type = str_of(v, "DataType").unwrap_or_default().to_string();
            let base = data_type.split('.').next().unwrap_or_default();
            let value = if base == "Binary" {
                str_of(v, "BinaryValue").map(str::to_string)
            } else {
                str_of(v, "StringValue").map(str::to_string)
            };
            if !matches!(base, "String" | "Number" | "Binary") {
                return Err(invalid(format!(
                    "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
                )));
            }
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                return Err(invalid(format!(
                    "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{data_type}'."
                )));
            };
            if base == "Number" && value.trim().parse::<f64>().is_err() {
                return Err(invalid(format!("Could not cast message attribute '{name}' value to number.")));
            }
            if data_type == "String.Array" && !serde_json::from_str::<Value>(&value).is_ok_and(|v| v.is_array()) {
                return Err(invalid(format!(
                    "The message attribute '{name}' with type 'String.Array' has an invalid value."
                )));
            }
            size += name.len() + data_type.len() + value.len();
            attributes.insert(name.clone(), Attribute { data_type, value });
        }
    }
    if size > MAX_MESSAGE_BYTES {
        return Err(invalid("Message too long"));
    }
    Ok(Message {
        message,
        subject,
        structure,
        attributes,
        group_id: str_of(input, "MessageGroupId").map(str::to_string),
        dedup_id: str_of(input, "MessageDeduplicationId").map(str::to_string),
    })
}

/// What a published message was given: its id and, on FIFO topics, its sequence number.
#[derive(Debug, Clone)]
pub struct Published {
    pub message_id: String,
    pub sequence_number: Option<String>,
}

/// Everything one fan-out needs, taken from the state under its lock.
pub struct Fanout {
    pub topic: Topic,
    pub subscriptions: Vec<Subscription>,
}

impl Sns {
    /// FIFO checks and deduplication, then the message id and sequence number.
    pub(crate) fn admit(&self, topic: &Topic, m: &mut Message) -> Result<(Published, bool)> {
        if !topic.fifo() {
            if m.group_id.is_some() {
                return Err(invalid("MessageGroupId: The request includes MessageGroupId parameter that is not valid for this topic type"));
            }
            if m.dedup_id.is_some() {
                return Err(invalid("MessageDeduplicationId: The request includes MessageDeduplicationId parameter that is not valid for this topic type"));
            }
            return Ok((Published { message_id: uuid::Uuid::new_v4().to_string(), sequence_number: None }, true));
        }
        if m.group_id.is_none() {
            return Err(invalid("The MessageGroupId parameter is required for FIFO topics"));
        }
        if m.dedup_id.is_none() {
            if !topic.content_dedup() {
                return Err(invalid("The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly"));
            }
            m.dedup_id = Some(hex::encode(Sha256::digest(m.message.as_bytes())));
        }
        let now = self.clock.now_millis();
        let key = m.dedup_id.clone().unwrap_or_default();
        let mut fifo = self.fifo.lock();
        let window = fifo.entry(topic.arn.clone()).or_default();
        window.retain(|_, (expires, _)| *expires > now);
        if let Some((_, earlier)) = window.get(&key) {
            return Ok((earlier.clone(), false));
        }
        let seq = self.sequence.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let published = Published {
            message_id: uuid::Uuid::new_v4().to_string(),
            sequence_number: Some(format!("{:020}", 10_000_000_000_000_000_000u128 + u128::from(seq))),
        };
        window.insert(key, (now + 5 * 60 * 1000, published.clone()));
        Ok((published, true))
    }

    /// Deliver one admitted message to every matching subscription; the `http`/`https` ones
    /// are journaled before this returns (an error here means Publish must fail).
    pub(crate) fn fan_out(&self, endpoint: &str, fanout: &Fanout, m: &Message, p: &Published) -> Result<()> {
        let Some(targets) = self.targets.read().clone() else { return Ok(()) };
        let mut posts = Vec::new();
        let topic = &fanout.topic;
        let timestamp = nimbus_core::shapes::Timestamp::from_millis(self.clock.now_millis()).to_iso8601();
        let version = topic.attributes.get("SignatureVersion").map(String::as_str).unwrap_or("1").to_string();
        let mut signatures: BTreeMap<String, String> = BTreeMap::new();
        for sub in &fanout.subscriptions {
            if !sub.confirmed || !filter_matches(sub, m) {
                continue;
            }
            let text = message_for(m, &sub.protocol);
            let signature = signatures
                .entry(text.clone())
                .or_insert_with(|| {
                    let mut fields: Vec<(&str, &str)> = vec![("Message", &text), ("MessageId", &p.message_id)];
                    if let Some(s) = &m.subject {
                        fields.push(("Subject", s));
                    }
                    fields.extend([
                        ("Timestamp", timestamp.as_str()),
                        ("TopicArn", topic.arn.as_str()),
                        ("Type", "Notification"),
                    ]);
                    self.signer().sign(&version, &fields)
                })
                .clone();
            let note = Notification {
                message_id: &p.message_id,
                sequence_number: p.sequence_number.as_deref(),
                topic_arn: &topic.arn,
                subject: m.subject.as_deref(),
                message: &text,
                timestamp: &timestamp,
                version: &version,
                signature: &signature,
                cert_url: format!("{endpoint}{}", crate::sign::CERT_PATH),
                unsubscribe_url: format!("{endpoint}/?Action=Unsubscribe&SubscriptionArn={}", sub.arn),
                attributes: &m.attributes,
            };
            let (body, typed) = match sub.protocol.as_str() {
                "sqs" if sub.raw() => (text.clone(), typed_attributes(&m.attributes)),
                "sqs" => (note.sqs_json(), Vec::new()),
                "lambda" => (note.lambda_event(&sub.arn), Vec::new()),
                "http" | "https" => {
                    let body = if sub.raw() { text.clone() } else { note.sqs_json() };
                    posts.push(notification_post(topic, sub, &p.message_id, body));
                    continue;
                }
                other => {
                    tracing::debug!(protocol = other, endpoint = %sub.endpoint, "SNS delivery to this protocol is stored only");
                    continue;
                }
            };
            let delivery = Delivery::new(&topic.account, &topic.region, &sub.endpoint, body)
                .with_typed_attributes(typed)
                .in_group(m.group_id.clone(), m.dedup_id.clone())
                .from_source(Source {
                    principal: "sns.amazonaws.com".into(),
                    source_arn: Some(topic.arn.clone()),
                    source_account: Some(topic.account.clone()),
                });
            if let Err(error) = targets.deliver(&delivery) {
                tracing::warn!(subscription = %sub.arn, %error, "SNS delivery failed");
                redrive(&targets, sub, delivery, &error);
            }
        }
        self.send(posts)
    }
}

/// The POST of a notification to an `http`/`https` subscriber, retried by its delivery policy.
fn notification_post(topic: &Topic, sub: &Subscription, message_id: &str, body: String) -> crate::state::Delivery {
    let (policy, content_type) = endpoint::effective(topic, sub);
    let mut post = endpoint::Post::new(&sub.endpoint, "Notification", message_id, &topic.arn, &content_type)
        .header("x-amz-sns-subscription-arn", &sub.arn);
    if sub.raw() {
        post = post.header("x-amz-sns-rawdelivery", "true");
    }
    post.delays = policy.delays();
    post.body = body;
    Sns::delivery(&sub.arn, "Notification", Some(true), post)
}

/// Send a failed delivery to the subscription's dead-letter queue, if it has one.
pub(crate) fn redrive(targets: &Targets, sub: &Subscription, mut d: Delivery, error: &str) {
    let dlq = sub
        .attributes
        .get("RedrivePolicy")
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_string));
    let Some(dlq) = dlq else { return };
    d.target_arn = dlq;
    d.source = None;
    if let Err(e) = targets.deliver(&d) {
        tracing::warn!(subscription = %sub.arn, error = %e, first = %error, "SNS dead-letter delivery failed");
    }
}

/// Whether the subscription's filter policy (if any) lets `m` through.
pub fn filter_matches(sub: &Subscription, m: &Message) -> bool {
    let Some(policy) = sub.attributes.get("FilterPolicy") else { return true };
    let Ok(value) = serde_json::from_str::<Value>(policy) else { return false };
    if value.as_object().is_some_and(|o| o.is_empty()) {
        return true;
    }
    let Ok(pattern) = Pattern::from_value(&value) else { return false };
    let body_scope = sub.attributes.get("FilterPolicyScope").is_some_and(|s| s == "MessageBody");
    if body_scope {
        return serde_json::from_str::<Value>(&m.message).is_ok_and(|body| pattern.matches(&body));
    }
    pattern.matches(&attributes_view(&m.attributes))
}

/// Message attributes as the filter sees them: String as strings, Number as numbers,
/// String.Array as its array; Binary attributes are not matchable.
fn attributes_view(attributes: &BTreeMap<String, Attribute>) -> Value {
    let mut view = Map::new();
    for (name, a) in attributes {
        let v = match a.data_type.split('.').next().unwrap_or_default() {
            "Number" => a.value.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number),
            "String" if a.data_type == "String.Array" => serde_json::from_str(&a.value).ok(),
            "String" => Some(Value::String(a.value.clone())),
            _ => None,
        };
        if let Some(v) = v {
            view.insert(name.clone(), v);
        }
    }
    Value::Object(view)
}

/// The message a protocol receives: its own entry of a `MessageStructure=json` message, or the default.
fn message_for(m: &Message, protocol: &str) -> String {
    match &m.structure {
        None => m.message.clone(),
        Some(map) => {
            map.get(protocol).or_else(|| map.get("default")).and_then(Value::as_str).unwrap_or_default().to_string()
        }
    }
}

fn typed_attributes(attributes: &BTreeMap<String, Attribute>) -> Vec<(String, String, String)> {
    attributes.iter().map(|(k, a)| (k.clone(), a.data_type.clone(), a.value.clone())).collect()
}

struct Notification<'a> {
    message_id: &'a str,
    sequence_number: Option<&'a str>,
    topic_arn: &'a str,
    subject: Option<&'a str>,
    message: &'a str,
    timestamp: &'a str,
    version: &'a str,
    signature: &'a str,
    cert_url: String,
    unsubscribe_url: String,
    attributes: &'a BTreeMap<String, Attribute>,
}

impl Notification<'_> {
    fn attributes_json(&self) -> Value {
        let mut map = Map::new();
        for (k, a) in self.attributes {
            map.insert(k.clone(), json!({"Type": a.data_type, "Value": a.value}));
        }
        Value::Object(map)
    }

    /// The JSON notification SQS (and HTTP) subscribers receive, laid out as SNS writes it.
    fn sqs_json(&self) -> String {
        let mut fields: Vec<(&str, Value)> =
            vec![("Type", json!("Notification")), ("MessageId", json!(self.message_id))];
        if let Some(seq) = self.sequence_number {
            fields.push(("SequenceNumber", json!(seq)));
        }
        fields.push(("TopicArn", json!(self.topic_arn)));
        if let Some(s) = self.subject {
            fields.push(("Subject", json!(s)));
        }
        fields.extend([
            ("Message", json!(self.message)),
            ("Timestamp", json!(self.timestamp)),
            ("SignatureVersion", json!(self.version)),
            ("Signature", json!(self.signature)),
            ("SigningCertURL", json!(self.cert_url)),
            ("UnsubscribeURL", json!(self.unsubscribe_url)),
        ]);
        if !self.attributes.is_empty() {
            fields.push(("MessageAttributes", self.attributes_json()));
        }
        layout(&fields)
    }

    /// The event a Lambda subscriber is invoked with (`"Subject": null` when there is none).
    fn lambda_event(&self, subscription_arn: &str) -> String {
        let mut sns = json!({
            "Type": "Notification",
            "MessageId": self.message_id,
            "TopicArn": self.topic_arn,
            "Subject": self.subject,
            "Message": self.message,
            "Timestamp": self.timestamp,
            "SignatureVersion": self.version,
            "Signature": self.signature,
            "SigningCertUrl": self.cert_url,
            "UnsubscribeUrl": self.unsubscribe_url,
            "MessageAttributes": self.attributes_json(),
        });
        if let Some(seq) = self.sequence_number {
            sns["SequenceNumber"] = json!(seq);
        }
        json!({"Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription_arn,
            "Sns": sns,
        }]})
        .to_string()
    }
}

/// A JSON document laid out as SNS writes its HTTP and SQS messages (`  "Name" : value`).
pub fn layout(fields: &[(&str, Value)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("  \"{k}\" : {v}")).collect();
    format!("{{\n{}\n}}", body.join(",\n"))
}

/// Binary values arrive base64-encoded in the input document; keep them so.
pub fn is_base64(text: &str) -> bool {
    base64::engine::general_purpose::STANDARD.decode(text).is_ok()
}

pub fn batch_error(id: &str, err: &AwsError) -> Value {
    json!({"Id": id, "Code": err.code, "Message": err.message, "SenderFault": err.status < 500})
}
