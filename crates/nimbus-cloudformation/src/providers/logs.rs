//! `AWS::Logs::LogGroup` through CloudWatch Logs' JSON 1.1 API.

use serde_json::{json, Value};

use super::{failure, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::boxed;
use crate::state::Resource;

pub fn specs() -> Vec<Spec> {
    vec![Spec {
        type_name: "AWS::Logs::LogGroup",
        replace_on: &["LogGroupName", "LogGroupClass"],
        create: boxed!(create_group),
        update: Some(boxed!(update_group, 3)),
        delete: |cx, r| Box::pin(delete_group(cx, r)),
        name_property: Some("LogGroupName"),
    }]
}

async fn call(cx: &Cx, op: &str, body: Value) -> Result<Value, String> {
    cx.api.json("logs", &format!("Logs_20140328.{op}"), "1.1", body).await.map_err(|e| failure(&e))
}

fn created(cx: &Cx, name: &str) -> Created {
    Created::named(name).attr("Arn", format!("arn:aws:logs:{}:{}:log-group:{name}:*", cx.api.region, cx.api.account))
}

fn retention(props: &Value) -> Option<i64> {
    props.get("RetentionInDays").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
}

async fn create_group(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "LogGroupName").unwrap_or_else(|| cx.generated_name(512));
    let mut body = json!({"logGroupName": name});
    if let Some(k) = str_prop(&props, "KmsKeyId") {
        body["kmsKeyId"] = Value::String(k);
    }
    if let Some(c) = str_prop(&props, "LogGroupClass") {
        body["logGroupClass"] = Value::String(c);
    }
    let tags = cx.tag_list(&props);
    if !tags.is_empty() {
        body["tags"] = Value::Object(tags.into_iter().map(|(k, v)| (k, Value::String(v))).collect());
    }
    call(&cx, "CreateLogGroup", body).await?;
    if let Some(days) = retention(&props) {
        call(&cx, "PutRetentionPolicy", json!({"logGroupName": name, "retentionInDays": days})).await?;
    }
    Ok(created(&cx, &name))
}

async fn update_group(cx: Cx, current: Resource, props: Value) -> Outcome {
    let name = current.physical_id.clone().unwrap_or_default();
    match (retention(&current.properties), retention(&props)) {
        (old, Some(days)) if old != Some(days) => {
            call(&cx, "PutRetentionPolicy", json!({"logGroupName": name, "retentionInDays": days})).await?;
        }
        (Some(_), None) => {
            call(&cx, "DeleteRetentionPolicy", json!({"logGroupName": name})).await?;
        }
        _ => {}
    }
    Ok(created(&cx, &name))
}

async fn delete_group(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    tolerate_gone(
        cx.api.json("logs", "Logs_20140328.DeleteLogGroup", "1.1", json!({"logGroupName": name})).await.map(|_| ()),
    )
}
