//! `AWS::SQS::Queue` and `AWS::SQS::QueuePolicy` through SQS's JSON protocol.

use serde_json::{json, Map, Value};

use super::{failure, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::boxed;
use crate::state::Resource;

const ATTRIBUTES: &[&str] = &[
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            type_name: "AWS::SQS::Queue",
            replace_on: &["QueueName", "FifoQueue"],
            create: boxed!(create_queue),
            update: Some(boxed!(update_queue, 3)),
            delete: |cx, r| Box::pin(delete_queue(cx, r)),
            name_property: Some("QueueName"),
        },
        Spec {
            type_name: "AWS::SQS::QueuePolicy",
            replace_on: &[],
            create: boxed!(put_policy),
            update: Some(|cx, _r, p| Box::pin(put_policy(cx, p))),
            delete: |cx, r| Box::pin(delete_policy(cx, r)),
            name_property: None,
        },
    ]
}

async fn call(cx: &Cx, op: &str, body: Value) -> Result<Value, String> {
    cx.api.json("sqs", &format!("AmazonSQS.{op}"), "1.0", body).await.map_err(|e| failure(&e))
}

fn attributes(props: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for name in ATTRIBUTES {
        if let Some(v) = props.get(*name) {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Object(_) | Value::Array(_) => v.to_string(),
                other => other.to_string(),
            };
            out.insert((*name).to_string(), Value::String(text));
        }
    }
    out
}

fn created(cx: &Cx, url: &str) -> Created {
    let name = url.rsplit('/').next().unwrap_or_default().to_string();
    let arn = format!("arn:aws:sqs:{}:{}:{name}", cx.api.region, cx.api.account);
    Created { physical_id: url.to_string(), ref_value: Value::String(url.to_string()), attributes: Map::new() }
        .attr("Arn", arn)
        .attr("QueueName", name)
        .attr("QueueUrl", url)
}

async fn create_queue(cx: Cx, props: Value) -> Outcome {
    let fifo = props.get("FifoQueue").is_some_and(|v| v == &json!(true) || v == &json!("true"));
    let name = match props.get("QueueName").and_then(Value::as_str) {
        Some(n) => n.to_string(),
        None if fifo => format!("{}.fifo", cx.generated_name(75)),
        None => cx.generated_name(80),
    };
    let mut body = json!({"QueueName": name, "Attributes": attributes(&props)});
    let tags = cx.tag_list(&props);
    if !tags.is_empty() {
        body["tags"] = Value::Object(tags.into_iter().map(|(k, v)| (k, Value::String(v))).collect());
    }
    let out = call(&cx, "CreateQueue", body).await?;
    let url = out["QueueUrl"].as_str().ok_or("SQS answered without a QueueUrl")?;
    Ok(created(&cx, url))
}

async fn update_queue(cx: Cx, current: Resource, props: Value) -> Outcome {
    let url = current.physical_id.clone().unwrap_or_default();
    let mut attrs = attributes(&props);
    // Attributes removed from the template go back to SQS's defaults.
    for (name, default) in [
        ("DelaySeconds", "0"),
        ("MaximumMessageSize", "262144"),
        ("MessageRetentionPeriod", "345600"),
        ("ReceiveMessageWaitTimeSeconds", "0"),
        ("VisibilityTimeout", "30"),
        ("RedrivePolicy", ""),
    ] {
        if current.properties.get(name).is_some() && props.get(name).is_none() {
            attrs.insert(name.to_string(), Value::String(default.to_string()));
        }
    }
    attrs.remove("FifoQueue");
    if !attrs.is_empty() {
        call(&cx, "SetQueueAttributes", json!({"QueueUrl": url, "Attributes": attrs})).await?;
    }
    Ok(created(&cx, &url))
}

async fn delete_queue(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(url) = r.physical_id else { return Ok(()) };
    tolerate_gone(cx.api.json("sqs", "AmazonSQS.DeleteQueue", "1.0", json!({"QueueUrl": url})).await.map(|_| ()))
}

async fn put_policy(cx: Cx, props: Value) -> Outcome {
    let doc = super::doc_string(super::required(&props, "PolicyDocument")?);
    let queues = props.get("Queues").and_then(Value::as_array).cloned().unwrap_or_default();
    for q in &queues {
        let url = q.as_str().unwrap_or_default();
        call(&cx, "SetQueueAttributes", json!({"QueueUrl": url, "Attributes": {"Policy": doc}})).await?;
    }
    Ok(Created::named(cx.generated_name(64)))
}

async fn delete_policy(cx: Cx, r: Resource) -> Result<(), String> {
    let queues = r.properties.get("Queues").and_then(Value::as_array).cloned().unwrap_or_default();
    for q in queues {
        let url = q.as_str().unwrap_or_default().to_string();
        let body = json!({"QueueUrl": url, "Attributes": {"Policy": ""}});
        tolerate_gone(cx.api.json("sqs", "AmazonSQS.SetQueueAttributes", "1.0", body).await.map(|_| ()))?;
    }
    Ok(())
}
