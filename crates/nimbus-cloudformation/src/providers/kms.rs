//! `AWS::KMS::Key` and `AWS::KMS::Alias` through KMS's JSON 1.1 API.

use serde_json::{json, Value};

use super::{doc_string, failure, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::boxed;
use crate::state::Resource;

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            type_name: "AWS::KMS::Key",
            replace_on: &["KeySpec", "KeyUsage", "MultiRegion", "Origin"],
            create: boxed!(create_key),
            update: Some(boxed!(update_key, 3)),
            delete: |cx, r| Box::pin(delete_key(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::KMS::Alias",
            replace_on: &["AliasName"],
            create: boxed!(create_alias),
            update: Some(boxed!(update_alias, 3)),
            delete: |cx, r| Box::pin(delete_alias(cx, r)),
            name_property: Some("AliasName"),
        },
    ]
}

async fn call(cx: &Cx, op: &str, body: Value) -> Result<Value, String> {
    cx.api.json("kms", &format!("TrentService.{op}"), "1.1", body).await.map_err(|e| failure(&e))
}

fn flag(props: &Value, name: &str, default: bool) -> bool {
    str_prop(props, name).map(|v| v == "true").unwrap_or(default)
}

fn key_created(meta: &Value) -> Created {
    Created::named(meta["KeyId"].as_str().unwrap_or_default())
        .attr("Arn", meta["Arn"].clone())
        .attr("KeyId", meta["KeyId"].clone())
}

async fn set_rotation(cx: &Cx, id: &str, props: &Value) -> Result<(), String> {
    if flag(props, "EnableKeyRotation", false) {
        let mut body = json!({"KeyId": id});
        if let Some(days) = str_prop(props, "RotationPeriodInDays").and_then(|d| d.parse::<i64>().ok()) {
            body["RotationPeriodInDays"] = json!(days);
        }
        call(cx, "EnableKeyRotation", body).await.map(|_| ())
    } else {
        call(cx, "DisableKeyRotation", json!({"KeyId": id})).await.map(|_| ())
    }
}

async fn create_key(cx: Cx, props: Value) -> Outcome {
    let mut body = json!({});
    for (prop, member) in
        [("Description", "Description"), ("KeyUsage", "KeyUsage"), ("KeySpec", "KeySpec"), ("Origin", "Origin")]
    {
        if let Some(v) = str_prop(&props, prop) {
            body[member] = Value::String(v);
        }
    }
    if let Some(p) = props.get("KeyPolicy") {
        body["Policy"] = Value::String(doc_string(p));
    }
    if flag(&props, "MultiRegion", false) {
        body["MultiRegion"] = json!(true);
    }
    if flag(&props, "BypassPolicyLockoutSafetyCheck", false) {
        body["BypassPolicyLockoutSafetyCheck"] = json!(true);
    }
    let tags = cx.tag_list(&props);
    if !tags.is_empty() {
        body["Tags"] = tags.into_iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect();
    }
    let meta = call(&cx, "CreateKey", body).await?["KeyMetadata"].clone();
    let id = meta["KeyId"].as_str().unwrap_or_default().to_string();
    let setup = async {
        if flag(&props, "EnableKeyRotation", false) {
            set_rotation(&cx, &id, &props).await?;
        }
        if !flag(&props, "Enabled", true) {
            call(&cx, "DisableKey", json!({"KeyId": id})).await?;
        }
        Ok::<(), String>(())
    };
    if let Err(e) = setup.await {
        let _ = call(&cx, "ScheduleKeyDeletion", json!({"KeyId": id, "PendingWindowInDays": 7})).await;
        return Err(e);
    }
    Ok(key_created(&meta))
}

async fn update_key(cx: Cx, current: Resource, props: Value) -> Outcome {
    let id = current.physical_id.clone().unwrap_or_default();
    let old = &current.properties;
    if old.get("Description") != props.get("Description") {
        call(
            &cx,
            "UpdateKeyDescription",
            json!({"KeyId": id, "Description": str_prop(&props, "Description").unwrap_or_default()}),
        )
        .await?;
    }
    if old.get("KeyPolicy") != props.get("KeyPolicy") {
        if let Some(p) = props.get("KeyPolicy") {
            call(&cx, "PutKeyPolicy", json!({"KeyId": id, "PolicyName": "default", "Policy": doc_string(p)})).await?;
        }
    }
    if flag(old, "Enabled", true) != flag(&props, "Enabled", true) {
        let op = if flag(&props, "Enabled", true) { "EnableKey" } else { "DisableKey" };
        call(&cx, op, json!({"KeyId": id})).await?;
    }
    if old.get("EnableKeyRotation") != props.get("EnableKeyRotation")
        || old.get("RotationPeriodInDays") != props.get("RotationPeriodInDays")
    {
        set_rotation(&cx, &id, &props).await?;
    }
    let (new_tags, old_tags) = (cx.tag_list(&props), cx.tag_list(old));
    let removed: Vec<String> =
        old_tags.iter().filter(|(k, _)| !new_tags.iter().any(|(n, _)| n == k)).map(|(k, _)| k.clone()).collect();
    if !removed.is_empty() {
        call(&cx, "UntagResource", json!({"KeyId": id, "TagKeys": removed})).await?;
    }
    if !new_tags.is_empty() && new_tags != old_tags {
        let tags: Vec<Value> = new_tags.into_iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect();
        call(&cx, "TagResource", json!({"KeyId": id, "Tags": tags})).await?;
    }
    let meta = call(&cx, "DescribeKey", json!({"KeyId": id})).await?["KeyMetadata"].clone();
    Ok(key_created(&meta))
}

/// Deleting the resource schedules the key's deletion (`PendingWindowInDays`, 30 by default).
async fn delete_key(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(id) = r.physical_id else { return Ok(()) };
    let days = str_prop(&r.properties, "PendingWindowInDays").and_then(|d| d.parse::<i64>().ok()).unwrap_or(30);
    let body = json!({"KeyId": id, "PendingWindowInDays": days});
    match cx.api.json("kms", "TrentService.ScheduleKeyDeletion", "1.1", body).await {
        Err(e) if !super::gone(&e) && e.code != "KMSInvalidStateException" => Err(failure(&e)),
        _ => Ok(()),
    }
}

async fn create_alias(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "AliasName").unwrap_or_default();
    let target = str_prop(&props, "TargetKeyId").unwrap_or_default();
    call(&cx, "CreateAlias", json!({"AliasName": name, "TargetKeyId": target})).await?;
    Ok(Created::named(name))
}

async fn update_alias(cx: Cx, current: Resource, props: Value) -> Outcome {
    let name = current.physical_id.clone().unwrap_or_default();
    let target = str_prop(&props, "TargetKeyId").unwrap_or_default();
    call(&cx, "UpdateAlias", json!({"AliasName": name, "TargetKeyId": target})).await?;
    Ok(Created::named(name))
}

async fn delete_alias(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    tolerate_gone(cx.api.json("kms", "TrentService.DeleteAlias", "1.1", json!({"AliasName": name})).await.map(|_| ()))
}
