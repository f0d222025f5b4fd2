//! `AWS::Events::Rule` (pattern and schedule rules with their targets) and
//! `AWS::Events::EventBus` through EventBridge's JSON 1.1 API.

use serde_json::{json, Map, Value};

use super::{coerce, doc_string, failure, pick, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::boxed;
use crate::state::Resource;

const NUMBERS: &[&str] = &["MaximumEventAgeInSeconds", "MaximumRetryAttempts", "TaskCount"];
const BOOLEANS: &[&str] = &["EnableECSManagedTags", "EnableExecuteCommand"];

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            type_name: "AWS::Events::Rule",
            replace_on: &["Name", "EventBusName"],
            create: boxed!(create_rule),
            update: Some(boxed!(update_rule, 3)),
            delete: |cx, r| Box::pin(delete_rule(cx, r)),
            name_property: Some("Name"),
        },
        Spec {
            type_name: "AWS::Events::EventBus",
            replace_on: &["Name", "EventSourceName"],
            create: boxed!(create_bus),
            update: Some(boxed!(update_bus, 3)),
            delete: |cx, r| Box::pin(delete_bus(cx, r)),
            name_property: Some("Name"),
        },
    ]
}

async fn call(cx: &Cx, op: &str, body: Value) -> Result<Value, String> {
    cx.api.json("events", &format!("AWSEvents.{op}"), "1.1", body).await.map_err(|e| failure(&e))
}

/// The bus a rule is on, unless it is the default one.
fn custom_bus(props: &Value) -> Option<String> {
    str_prop(props, "EventBusName").filter(|b| b != "default")
}

/// PutRule's body: PutRule replaces the whole rule, so every member is sent each time.
fn rule_body(name: &str, props: &Value) -> Value {
    let mut body = Value::Object(pick(props, &["ScheduleExpression", "State", "Description", "RoleArn"]));
    body["Name"] = Value::String(name.to_string());
    if let Some(bus) = custom_bus(props) {
        body["EventBusName"] = Value::String(bus);
    }
    if let Some(p) = props.get("EventPattern") {
        body["EventPattern"] = Value::String(doc_string(p));
    }
    body
}

/// The template's targets as PutTargets takes them (the members share their names).
fn targets(props: &Value) -> Vec<Value> {
    let mut list = props.get("Targets").cloned().unwrap_or(Value::Array(Vec::new()));
    coerce(&mut list, NUMBERS, BOOLEANS);
    list.as_array().cloned().unwrap_or_default()
}

fn target_ids(list: &[Value]) -> Vec<String> {
    list.iter().filter_map(|t| str_prop(t, "Id")).collect()
}

async fn put_targets(cx: &Cx, name: &str, props: &Value, list: Vec<Value>) -> Result<(), String> {
    if list.is_empty() {
        return Ok(());
    }
    let mut body = json!({"Rule": name, "Targets": list});
    if let Some(bus) = custom_bus(props) {
        body["EventBusName"] = Value::String(bus);
    }
    let out = call(cx, "PutTargets", body).await?;
    if out["FailedEntryCount"].as_i64().unwrap_or(0) > 0 {
        let entry = &out["FailedEntries"][0];
        return Err(format!(
            "Resource handler returned message: \"{}\" (HandlerErrorCode: InvalidRequest)",
            entry["ErrorMessage"].as_str().unwrap_or("PutTargets failed")
        ));
    }
    Ok(())
}

async fn remove_targets(cx: &Cx, name: &str, props: &Value, ids: Vec<String>) -> Result<(), String> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut body = json!({"Rule": name, "Ids": ids});
    if let Some(bus) = custom_bus(props) {
        body["EventBusName"] = Value::String(bus);
    }
    call(cx, "RemoveTargets", body).await.map(|_| ())
}

/// A rule on the default bus is named by its name; one on another bus by `bus|name`.
fn rule_created(name: &str, props: &Value, arn: &str) -> Created {
    let id = match custom_bus(props) {
        Some(bus) => format!("{bus}|{name}"),
        None => name.to_string(),
    };
    Created::named(id).attr("Arn", arn)
}

fn rule_name(physical_id: &str) -> &str {
    physical_id.rsplit('|').next().unwrap_or(physical_id)
}

async fn create_rule(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "Name").unwrap_or_else(|| cx.generated_name(64));
    let out = call(&cx, "PutRule", rule_body(&name, &props)).await?;
    let arn = out["RuleArn"].as_str().unwrap_or_default().to_string();
    if let Err(e) = put_targets(&cx, &name, &props, targets(&props)).await {
        let mut body = json!({"Name": name});
        if let Some(bus) = custom_bus(&props) {
            body["EventBusName"] = Value::String(bus);
        }
        let _ = call(&cx, "DeleteRule", body).await;
        return Err(e);
    }
    Ok(rule_created(&name, &props, &arn))
}

async fn update_rule(cx: Cx, current: Resource, props: Value) -> Outcome {
    let physical = current.physical_id.clone().unwrap_or_default();
    let name = rule_name(&physical).to_string();
    let out = call(&cx, "PutRule", rule_body(&name, &props)).await?;
    let arn = out["RuleArn"].as_str().unwrap_or_default().to_string();
    let wanted = targets(&props);
    let keep = target_ids(&wanted);
    let gone: Vec<String> =
        target_ids(&targets(&current.properties)).into_iter().filter(|id| !keep.contains(id)).collect();
    remove_targets(&cx, &name, &props, gone).await?;
    put_targets(&cx, &name, &props, wanted).await?;
    Ok(rule_created(&name, &props, &arn))
}

async fn delete_rule(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(physical) = r.physical_id.clone() else { return Ok(()) };
    let name = rule_name(&physical).to_string();
    let bus = custom_bus(&r.properties);
    // A rule with targets cannot be deleted: remove every target it has first.
    let mut body = json!({"Rule": name});
    if let Some(b) = &bus {
        body["EventBusName"] = Value::String(b.clone());
    }
    match cx.api.json("events", "AWSEvents.ListTargetsByRule", "1.1", body).await {
        Ok(out) => {
            let ids: Vec<String> = out["Targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["Id"].as_str().map(str::to_string))
                .collect();
            remove_targets(&cx, &name, &r.properties, ids).await?;
        }
        Err(e) if super::gone(&e) => return Ok(()),
        Err(e) => return Err(failure(&e)),
    }
    let mut body = json!({"Name": name});
    if let Some(b) = bus {
        body["EventBusName"] = Value::String(b);
    }
    tolerate_gone(cx.api.json("events", "AWSEvents.DeleteRule", "1.1", body).await.map(|_| ()))
}

fn bus_created(name: &str, arn: &str, props: &Value) -> Created {
    let policy = props.get("Policy").map(doc_string).unwrap_or_default();
    Created::named(name).attr("Arn", arn).attr("Name", name).attr("Policy", policy)
}

async fn put_policy(cx: &Cx, name: &str, props: &Value, old: Option<&Value>) -> Result<(), String> {
    match (props.get("Policy"), old.and_then(|o| o.get("Policy"))) {
        (Some(new), Some(before)) if new == before => Ok(()),
        (Some(new), _) => {
            call(cx, "PutPermission", json!({"EventBusName": name, "Policy": doc_string(new)})).await.map(|_| ())
        }
        (None, Some(_)) => {
            call(cx, "RemovePermission", json!({"EventBusName": name, "RemoveAllPermissions": true})).await.map(|_| ())
        }
        (None, None) => Ok(()),
    }
}

async fn create_bus(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "Name")
        .ok_or("Properties validation failed for resource: #: required key [Name] not found")?;
    let mut body: Map<String, Value> =
        pick(&props, &["EventSourceName", "Description", "KmsKeyIdentifier", "DeadLetterConfig"]);
    body.insert("Name".into(), Value::String(name.clone()));
    let tags = cx.tag_list(&props);
    if !tags.is_empty() {
        body.insert("Tags".into(), tags.into_iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect());
    }
    let out = call(&cx, "CreateEventBus", Value::Object(body)).await?;
    let arn = out["EventBusArn"].as_str().unwrap_or_default().to_string();
    if let Err(e) = put_policy(&cx, &name, &props, None).await {
        let _ = call(&cx, "DeleteEventBus", json!({"Name": name})).await;
        return Err(e);
    }
    Ok(bus_created(&name, &arn, &props))
}

async fn update_bus(cx: Cx, current: Resource, props: Value) -> Outcome {
    let name = current.physical_id.clone().unwrap_or_default();
    let old = &current.properties;
    let changed = ["Description", "KmsKeyIdentifier", "DeadLetterConfig"].iter().any(|k| old.get(*k) != props.get(*k));
    if changed {
        let mut body = pick(&props, &["Description", "KmsKeyIdentifier", "DeadLetterConfig"]);
        body.insert("Name".into(), Value::String(name.clone()));
        call(&cx, "UpdateEventBus", Value::Object(body)).await?;
    }
    put_policy(&cx, &name, &props, Some(old)).await?;
    let out = call(&cx, "DescribeEventBus", json!({"Name": name})).await?;
    let arn = out["Arn"].as_str().unwrap_or_default().to_string();
    let (new_tags, old_tags) = (cx.tag_list(&props), cx.tag_list(old));
    let removed: Vec<String> =
        old_tags.iter().filter(|(k, _)| !new_tags.iter().any(|(n, _)| n == k)).map(|(k, _)| k.clone()).collect();
    if !removed.is_empty() {
        call(&cx, "UntagResource", json!({"ResourceARN": arn, "TagKeys": removed})).await?;
    }
    if !new_tags.is_empty() && new_tags != old_tags {
        let tags: Vec<Value> = new_tags.into_iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        call(&cx, "TagResource", json!({"ResourceARN": arn, "Tags": tags})).await?;
    }
    Ok(bus_created(&name, &arn, &props))
}

async fn delete_bus(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    tolerate_gone(cx.api.json("events", "AWSEvents.DeleteEventBus", "1.1", json!({"Name": name})).await.map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_on_a_custom_bus_are_named_bus_pipe_rule() {
        let props = json!({"EventBusName": "orders", "EventPattern": {"source": ["app"]}, "State": "ENABLED"});
        let c = rule_created("r1", &props, "arn:aws:events:us-east-1:000000000000:rule/orders/r1");
        assert_eq!(c.physical_id, "orders|r1");
        assert_eq!(rule_name(&c.physical_id), "r1");
        let body = rule_body("r1", &props);
        assert_eq!(body["EventPattern"], "{\"source\":[\"app\"]}");
        assert_eq!(body["EventBusName"], "orders");
        let default = rule_created("r2", &json!({"EventBusName": "default"}), "arn");
        assert_eq!(default.physical_id, "r2");
    }

    #[test]
    fn target_numbers_given_as_strings_are_numbers() {
        let props = json!({"Targets": [{"Id": "t", "Arn": "arn", "RetryPolicy": {"MaximumRetryAttempts": "3"}}]});
        assert_eq!(targets(&props)[0]["RetryPolicy"]["MaximumRetryAttempts"], 3);
    }
}
