//! The query protocol: flattened form parameters → the JSON input shape, and the JSON output
//! shape → SQS's XML (element names of the 2012-11-05 query API).

use std::collections::BTreeMap;

use nimbus_core::query::XmlWriter;
use serde_json::{json, Map, Value};

use crate::model::model;

type Params = BTreeMap<String, String>;

/// `prefix.N[.rest]` → N → rest → value (rest is "" for `prefix.N` itself).
fn indexed(params: &Params, prefix: &str) -> BTreeMap<u32, Params> {
    let head = format!("{prefix}.");
    let mut out: BTreeMap<u32, Params> = BTreeMap::new();
    for (k, v) in params {
        let Some(rest) = k.strip_prefix(&head) else { continue };
        let (n, tail) = rest.split_once('.').unwrap_or((rest, ""));
        let Ok(n) = n.parse::<u32>() else { continue };
        out.entry(n).or_default().insert(tail.to_string(), v.clone());
    }
    out
}

const LISTS: &[(&str, &str)] = &[
    ("AttributeNames", "AttributeName"),
    ("MessageSystemAttributeNames", "MessageSystemAttributeName"),
    ("MessageAttributeNames", "MessageAttributeName"),
    ("TagKeys", "TagKey"),
    ("AWSAccountIds", "AWSAccountId"),
    ("Actions", "ActionName"),
];

const STRING_MAPS: &[(&str, &str, &str, &str)] =
    &[("Attributes", "Attribute", "Name", "Value"), ("tags", "Tag", "Key", "Value"), ("Tags", "Tag", "Key", "Value")];

const ATTRIBUTE_MAPS: &[(&str, &str)] =
    &[("MessageAttributes", "MessageAttribute"), ("MessageSystemAttributes", "MessageSystemAttribute")];

const ENTRY_PREFIXES: &[&str] =
    &["SendMessageBatchRequestEntry", "DeleteMessageBatchRequestEntry", "ChangeMessageVisibilityBatchRequestEntry"];

/// Decode query parameters into the operation's JSON input.
pub fn decode(params: &Params, op: &str, path: &[&str]) -> Value {
    let m = model();
    let has = |name: &str| {
        let mut p = path.to_vec();
        p.push(name);
        m.member_type(op, &p).map(str::to_string)
    };
    let mut obj = Map::new();
    for (k, v) in params {
        if k.contains('.') || (path.is_empty() && (k == "Action" || k == "Version")) {
            continue;
        }
        let value = match has(k).as_deref() {
            Some("integer" | "long") => v.trim().parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(v)),
            Some("boolean") => match v.as_str() {
                "true" => json!(true),
                "false" => json!(false),
                _ => json!(v),
            },
            Some(_) => json!(v),
            None => continue,
        };
        obj.insert(k.clone(), value);
    }
    for (json_name, prefix) in LISTS {
        if has(json_name).is_some() {
            let items: Vec<Value> =
                indexed(params, prefix).into_values().filter_map(|e| e.get("").map(|v| json!(v))).collect();
            if !items.is_empty() {
                obj.insert(json_name.to_string(), Value::Array(items));
            }
        }
    }
    for (json_name, prefix, key, value) in STRING_MAPS {
        if has(json_name).is_some() {
            let map: Map<String, Value> = indexed(params, prefix)
                .into_values()
                .filter_map(|e| Some((e.get(*key)?.clone(), json!(e.get(*value).cloned().unwrap_or_default()))))
                .collect();
            if !map.is_empty() {
                obj.insert(json_name.to_string(), Value::Object(map));
            }
        }
    }
    for (json_name, prefix) in ATTRIBUTE_MAPS {
        if has(json_name).is_some() {
            let map: Map<String, Value> = indexed(params, prefix)
                .into_values()
                .filter_map(|e| {
                    let name = e.get("Name")?.clone();
                    let mut v = Map::new();
                    for f in ["DataType", "StringValue", "BinaryValue"] {
                        if let Some(x) = e.get(&format!("Value.{f}")) {
                            v.insert(f.to_string(), json!(x));
                        }
                    }
                    Some((name, Value::Object(v)))
                })
                .collect();
            if !map.is_empty() {
                obj.insert(json_name.to_string(), Value::Object(map));
            }
        }
    }
    if has("Entries").is_some() {
        for prefix in ENTRY_PREFIXES {
            let entries: Vec<Value> = indexed(params, prefix)
                .into_values()
                .map(|sub| {
                    let mut p = path.to_vec();
                    p.extend(["Entries", "member"]);
                    decode(&sub, op, &p)
                })
                .collect();
            if !entries.is_empty() {
                obj.insert("Entries".into(), Value::Array(entries));
            }
        }
    }
    Value::Object(obj)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn fields(w: &mut XmlWriter, v: &Value, order: &[&str]) {
    for k in order {
        if let Some(x) = v.get(*k).filter(|x| !x.is_null()) {
            w.text(k, scalar(x));
        }
    }
}

fn name_values(w: &mut XmlWriter, tag: &str, key: &str, value: &str, map: Option<&Value>) {
    for (k, v) in map.and_then(Value::as_object).into_iter().flatten() {
        w.open(tag).text(key, k).text(value, scalar(v)).close(tag);
    }
}

const SEND_FIELDS: &[&str] = &[
    "Id",
    "MessageId",
    "MD5OfMessageBody",
    "MD5OfMessageAttributes",
    "MD5OfMessageSystemAttributes",
    "SequenceNumber",
];

/// The inner XML of `<{Op}Result>`; `None` for operations without output.
pub fn encode(op: &str, out: &Value) -> Option<String> {
    let mut w = XmlWriter::new();
    match op {
        "CreateQueue" | "GetQueueUrl" => fields(&mut w, out, &["QueueUrl"]),
        "ListQueues" | "ListDeadLetterSourceQueues" => {
            let key = if op == "ListQueues" { "QueueUrls" } else { "queueUrls" };
            for url in out.get(key).and_then(Value::as_array).into_iter().flatten() {
                w.text("QueueUrl", scalar(url));
            }
            fields(&mut w, out, &["NextToken"]);
        }
        "GetQueueAttributes" => name_values(&mut w, "Attribute", "Name", "Value", out.get("Attributes")),
        "ListQueueTags" => name_values(&mut w, "Tag", "Key", "Value", out.get("Tags")),
        "SendMessage" => fields(&mut w, out, SEND_FIELDS),
        "SendMessageBatch" | "DeleteMessageBatch" | "ChangeMessageVisibilityBatch" => {
            let tag = format!("{op}ResultEntry");
            for e in out.get("Successful").and_then(Value::as_array).into_iter().flatten() {
                w.open(&tag);
                fields(&mut w, e, SEND_FIELDS);
                w.close(&tag);
            }
            for e in out.get("Failed").and_then(Value::as_array).into_iter().flatten() {
                w.open("BatchResultErrorEntry");
                fields(&mut w, e, &["Id", "SenderFault", "Code", "Message"]);
                w.close("BatchResultErrorEntry");
            }
        }
        "ReceiveMessage" => {
            for m in out.get("Messages").and_then(Value::as_array).into_iter().flatten() {
                w.open("Message");
                fields(&mut w, m, &["MessageId", "ReceiptHandle", "MD5OfBody", "Body"]);
                name_values(&mut w, "Attribute", "Name", "Value", m.get("Attributes"));
                fields(&mut w, m, &["MD5OfMessageAttributes"]);
                for (k, a) in m.get("MessageAttributes").and_then(Value::as_object).into_iter().flatten() {
                    w.open("MessageAttribute").text("Name", k).open("Value");
                    fields(&mut w, a, &["StringValue", "BinaryValue", "DataType"]);
                    w.close("Value").close("MessageAttribute");
                }
                w.close("Message");
            }
        }
        "StartMessageMoveTask" => fields(&mut w, out, &["TaskHandle"]),
        "CancelMessageMoveTask" => fields(&mut w, out, &["ApproximateNumberOfMessagesMoved"]),
        "ListMessageMoveTasks" => {
            for e in out.get("Results").and_then(Value::as_array).into_iter().flatten() {
                w.open("ListMessageMoveTasksResultEntry");
                fields(
                    &mut w,
                    e,
                    &[
                        "TaskHandle",
                        "Status",
                        "SourceArn",
                        "DestinationArn",
                        "MaxNumberOfMessagesPerSecond",
                        "ApproximateNumberOfMessagesMoved",
                        "ApproximateNumberOfMessagesToMove",
                        "FailureReason",
                        "StartedTimestamp",
                    ],
                );
                w.close("ListMessageMoveTasksResultEntry");
            }
        }
        _ => return None,
    }
    Some(w.finish())
}
