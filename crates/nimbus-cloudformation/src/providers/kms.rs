//! `AWS::KMS::Key` and `AWS::KMS::Alias` through KMS's JSON 1.1 API (real keys: the key a stack
//! creates encrypts and decrypts). Replacement rules and Ref/GetAtt as AWS's resource reference
//! gives them: a key's Ref is its key id, an alias's Ref its name.

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

/// Booleans arrive as `true` or, from parameters, `"true"`.
fn flag(props: &Value, name: &str) -> Option<bool> {
    match props.get(name)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn number(props: &Value, name: &str) -> Option<i64> {
    props.get(name).and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
}

fn key_created(arn: &str, key_id: &str) -> Created {
    Created::named(key_id).attr("Arn", arn).attr("KeyId", key_id)
}

async fn create_key(cx: Cx, props: Value) -> Outcome {
    let mut body = json!({});
    for (prop, member) in
        [("Description", "Description"), ("KeySpec", "KeySpec"), ("KeyUsage", "KeyUsage"), ("Origin", "Origin")]
    {
        if let Some(v) = str_prop(&props, prop) {
            body[member] = Value::String(v);
        }
    }
    if let Some(policy) = props.get("KeyPolicy") {
        body["Policy"] = Value::String(doc_string(policy));
    }
    if let Some(multi) = flag(&props, "MultiRegion") {
        body["MultiRegion"] = Value::Bool(multi);
    }
    if let Some(bypass) = flag(&props, "BypassPolicyLockoutSafetyCheck") {
        body["BypassPolicyLockoutSafetyCheck"] = Value::Bool(bypass);
    }
    let tags = cx.tag_list(&props);
    if !tags.is_empty() {
        body["Tags"] = tags.into_iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect();
    }
    let created = call(&cx, "CreateKey", body).await?;
    let meta = &created["KeyMetadata"];
    let (arn, key_id) = (meta["Arn"].as_str().unwrap_or_default(), meta["KeyId"].as_str().unwrap_or_default());
    if flag(&props, "EnableKeyRotation") == Some(true) {
        let mut rotation = json!({"KeyId": key_id});
        if let Some(days) = number(&props, "RotationPeriodInDays") {
            rotation["RotationPeriodInDays"] = Value::from(days);
        }
        call(&cx, "EnableKeyRotation", rotation).await?;
    }
    if flag(&props, "Enabled") == Some(false) {
        call(&cx, "DisableKey", json!({"KeyId": key_id})).await?;
    }
    Ok(key_created(arn, key_id))
}

async fn update_key(cx: Cx, current: Resource, props: Value) -> Outcome {
    let key_id = current.physical_id.clone().unwrap_or_default();
    let old = &current.properties;
    if str_prop(old, "Description") != str_prop(&props, "Description") {
        let description = str_prop(&props, "Description").unwrap_or_default();
        call(&cx, "UpdateKeyDescription", json!({"KeyId": key_id, "Description": description})).await?;
    }
    if old.get("KeyPolicy") != props.get("KeyPolicy") {
        if let Some(policy) = props.get("KeyPolicy") {
            call(&cx, "PutKeyPolicy", json!({"KeyId": key_id, "PolicyName": "default", "Policy": doc_string(policy)}))
                .await?;
        }
    }
    let enabled = flag(&props, "Enabled").unwrap_or(true);
    if flag(old, "Enabled").unwrap_or(true) != enabled {
        call(&cx, if enabled { "EnableKey" } else { "DisableKey" }, json!({"KeyId": key_id})).await?;
    }
    let rotation = flag(&props, "EnableKeyRotation").unwrap_or(false);
    let period_changed = number(old, "RotationPeriodInDays") != number(&props, "RotationPeriodInDays");
    if flag(old, "EnableKeyRotation").unwrap_or(false) != rotation || (rotation && period_changed) {
        let mut body = json!({"KeyId": key_id});
        if let (true, Some(days)) = (rotation, number(&props, "RotationPeriodInDays")) {
            body["RotationPeriodInDays"] = Value::from(days);
        }
        call(&cx, if rotation { "EnableKeyRotation" } else { "DisableKeyRotation" }, body).await?;
    }
    let (old_tags, new_tags) = (cx.tag_list(old), cx.tag_list(&props));
    if old_tags != new_tags {
        let gone: Vec<&String> =
            old_tags.iter().map(|(k, _)| k).filter(|k| !new_tags.iter().any(|(n, _)| n == *k)).collect();
        if !gone.is_empty() {
            call(&cx, "UntagResource", json!({"KeyId": key_id, "TagKeys": gone})).await?;
        }
        if !new_tags.is_empty() {
            let tags: Vec<Value> = new_tags.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect();
            call(&cx, "TagResource", json!({"KeyId": key_id, "Tags": tags})).await?;
        }
    }
    let described = call(&cx, "DescribeKey", json!({"KeyId": key_id})).await?;
    Ok(key_created(described["KeyMetadata"]["Arn"].as_str().unwrap_or_default(), &key_id))
}

/// A stack's key is scheduled for deletion (`PendingWindowInDays`, 30 by default), as on AWS.
async fn delete_key(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(key_id) = r.physical_id else { return Ok(()) };
    let days = number(&r.properties, "PendingWindowInDays").unwrap_or(30);
    let body = json!({"KeyId": key_id, "PendingWindowInDays": days});
    match cx.api.json("kms", "TrentService.ScheduleKeyDeletion", "1.1", body).await {
        // Already pending deletion: nothing left to do.
        Err(e) if e.code == "KMSInvalidStateException" => Ok(()),
        other => tolerate_gone(other.map(|_| ())),
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
    if str_prop(&current.properties, "TargetKeyId").as_deref() != Some(target.as_str()) {
        call(&cx, "UpdateAlias", json!({"AliasName": name, "TargetKeyId": target})).await?;
    }
    Ok(Created::named(name))
}

async fn delete_alias(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    tolerate_gone(cx.api.json("kms", "TrentService.DeleteAlias", "1.1", json!({"AliasName": name})).await.map(|_| ()))
}
