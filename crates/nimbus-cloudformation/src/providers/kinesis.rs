//! `AWS::Kinesis::Stream` through Kinesis's JSON 1.1 API.

use std::time::Duration;

use serde_json::{json, Value};

use super::{failure, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::boxed;
use crate::state::Resource;

pub fn specs() -> Vec<Spec> {
    vec![Spec {
        type_name: "AWS::Kinesis::Stream",
        replace_on: &["Name"],
        create: boxed!(create_stream),
        update: Some(boxed!(update_stream, 3)),
        delete: |cx, r| Box::pin(delete_stream(cx, r)),
        name_property: Some("Name"),
    }]
}

async fn call(cx: &Cx, op: &str, body: Value) -> Result<Value, String> {
    cx.api.json("kinesis", &format!("Kinesis_20131202.{op}"), "1.1", body).await.map_err(|e| failure(&e))
}

fn number(props: &Value, name: &str) -> Option<i64> {
    str_prop(props, name).and_then(|s| s.parse().ok())
}

fn mode(props: &Value) -> String {
    props.get("StreamModeDetails").and_then(|m| str_prop(m, "StreamMode")).unwrap_or_else(|| "PROVISIONED".into())
}

/// Kinesis takes a stream through CREATING/UPDATING; the next call waits for ACTIVE.
async fn until_active(cx: &Cx, name: &str) -> Result<Value, String> {
    for _ in 0..600 {
        let out = call(cx, "DescribeStreamSummary", json!({"StreamName": name})).await?;
        if out["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE" {
            return Ok(out["StreamDescriptionSummary"].clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("Stream {name} did not become ACTIVE"))
}

fn created(summary: &Value) -> Created {
    Created::named(summary["StreamName"].as_str().unwrap_or_default()).attr("Arn", summary["StreamARN"].clone())
}

async fn set_retention(cx: &Cx, name: &str, from: i64, to: i64) -> Result<(), String> {
    if to == from {
        return Ok(());
    }
    let op = if to > from { "IncreaseStreamRetentionPeriod" } else { "DecreaseStreamRetentionPeriod" };
    call(cx, op, json!({"StreamName": name, "RetentionPeriodHours": to})).await?;
    until_active(cx, name).await.map(|_| ())
}

fn encryption(props: &Value) -> Option<(String, String)> {
    let e = props.get("StreamEncryption")?;
    Some((str_prop(e, "EncryptionType").unwrap_or_else(|| "KMS".into()), str_prop(e, "KeyId").unwrap_or_default()))
}

async fn create_stream(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "Name").unwrap_or_else(|| cx.generated_name(128));
    let mode = mode(&props);
    let mut body = json!({"StreamName": name, "StreamModeDetails": {"StreamMode": mode}});
    if mode == "PROVISIONED" {
        body["ShardCount"] = json!(number(&props, "ShardCount").unwrap_or(1));
    }
    call(&cx, "CreateStream", body).await?;
    let result = async {
        let summary = until_active(&cx, &name).await?;
        let current = summary["RetentionPeriodHours"].as_i64().unwrap_or(24);
        if let Some(hours) = number(&props, "RetentionPeriodHours") {
            set_retention(&cx, &name, current, hours).await?;
        }
        if let Some((kind, key)) = encryption(&props) {
            call(&cx, "StartStreamEncryption", json!({"StreamName": name, "EncryptionType": kind, "KeyId": key}))
                .await?;
            until_active(&cx, &name).await?;
        }
        let tags = cx.tag_list(&props);
        if !tags.is_empty() {
            let map: serde_json::Map<String, Value> = tags.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            call(&cx, "AddTagsToStream", json!({"StreamName": name, "Tags": map})).await?;
        }
        until_active(&cx, &name).await
    }
    .await;
    match result {
        Ok(summary) => Ok(created(&summary)),
        Err(e) => {
            let _ = call(&cx, "DeleteStream", json!({"StreamName": name, "EnforceConsumerDeletion": true})).await;
            Err(e)
        }
    }
}

async fn update_stream(cx: Cx, current: Resource, props: Value) -> Outcome {
    let name = current.physical_id.clone().unwrap_or_default();
    let old = &current.properties;
    let summary = until_active(&cx, &name).await?;
    if mode(old) != mode(&props) {
        let arn = summary["StreamARN"].clone();
        call(&cx, "UpdateStreamMode", json!({"StreamARN": arn, "StreamModeDetails": {"StreamMode": mode(&props)}}))
            .await?;
        until_active(&cx, &name).await?;
    }
    if mode(&props) == "PROVISIONED" {
        let want = number(&props, "ShardCount").unwrap_or(1);
        let open = summary["OpenShardCount"].as_i64().unwrap_or(want);
        if want != open {
            call(
                &cx,
                "UpdateShardCount",
                json!({"StreamName": name, "TargetShardCount": want, "ScalingType": "UNIFORM_SCALING"}),
            )
            .await?;
            until_active(&cx, &name).await?;
        }
    }
    let current_hours = summary["RetentionPeriodHours"].as_i64().unwrap_or(24);
    set_retention(&cx, &name, current_hours, number(&props, "RetentionPeriodHours").unwrap_or(24)).await?;
    match (encryption(old), encryption(&props)) {
        (a, b) if a == b => {}
        (Some((kind, key)), None) => {
            call(&cx, "StopStreamEncryption", json!({"StreamName": name, "EncryptionType": kind, "KeyId": key}))
                .await?;
            until_active(&cx, &name).await?;
        }
        (_, Some((kind, key))) => {
            call(&cx, "StartStreamEncryption", json!({"StreamName": name, "EncryptionType": kind, "KeyId": key}))
                .await?;
            until_active(&cx, &name).await?;
        }
        (None, None) => {}
    }
    let (new_tags, old_tags) = (cx.tag_list(&props), cx.tag_list(old));
    let removed: Vec<String> =
        old_tags.iter().filter(|(k, _)| !new_tags.iter().any(|(n, _)| n == k)).map(|(k, _)| k.clone()).collect();
    if !removed.is_empty() {
        call(&cx, "RemoveTagsFromStream", json!({"StreamName": name, "TagKeys": removed})).await?;
    }
    if !new_tags.is_empty() && new_tags != old_tags {
        let map: serde_json::Map<String, Value> = new_tags.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        call(&cx, "AddTagsToStream", json!({"StreamName": name, "Tags": map})).await?;
    }
    Ok(created(&until_active(&cx, &name).await?))
}

async fn delete_stream(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    let body = json!({"StreamName": name, "EnforceConsumerDeletion": true});
    tolerate_gone(cx.api.json("kinesis", "Kinesis_20131202.DeleteStream", "1.1", body).await.map(|_| ()))
}
