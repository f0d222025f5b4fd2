//! `AWS::Scheduler::Schedule` and `AWS::Scheduler::ScheduleGroup` through EventBridge
//! Scheduler's REST-JSON API.

use http::Method;
use serde_json::{json, Map, Value};

use super::{coerce, failure, pick, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::api::seg;
use crate::boxed;
use crate::state::Resource;

const NUMBERS: &[&str] = &["MaximumWindowInMinutes", "MaximumEventAgeInSeconds", "MaximumRetryAttempts", "TaskCount"];
const BOOLEANS: &[&str] = &["EnableECSManagedTags", "EnableExecuteCommand"];

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            type_name: "AWS::Scheduler::Schedule",
            replace_on: &["Name", "GroupName"],
            create: boxed!(create_schedule),
            update: Some(boxed!(update_schedule, 3)),
            delete: |cx, r| Box::pin(delete_schedule(cx, r)),
            name_property: Some("Name"),
        },
        Spec {
            type_name: "AWS::Scheduler::ScheduleGroup",
            replace_on: &["Name"],
            create: boxed!(create_group),
            update: Some(boxed!(update_group, 3)),
            delete: |cx, r| Box::pin(delete_group(cx, r)),
            name_property: Some("Name"),
        },
    ]
}

/// An ISO 8601 date (as templates give `StartDate`/`EndDate`) as the epoch seconds the API takes.
fn epoch(v: &Value) -> Value {
    match v {
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| json!(d.timestamp_millis() as f64 / 1000.0))
            .unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

/// Create/UpdateSchedule's body: the members share the properties' names; UpdateSchedule
/// replaces the whole schedule, so every member is sent each time.
fn schedule_body(props: &Value) -> Value {
    let mut body: Map<String, Value> = pick(
        props,
        &[
            "Description",
            "ScheduleExpression",
            "ScheduleExpressionTimezone",
            "State",
            "FlexibleTimeWindow",
            "Target",
            "KmsKeyArn",
            "GroupName",
            "ActionAfterCompletion",
        ],
    );
    for date in ["StartDate", "EndDate"] {
        if let Some(v) = props.get(date) {
            body.insert(date.into(), epoch(v));
        }
    }
    let mut body = Value::Object(body);
    coerce(&mut body, NUMBERS, BOOLEANS);
    body
}

fn group_query(props: &Value) -> Vec<(String, String)> {
    str_prop(props, "GroupName").map(|g| vec![("groupName".to_string(), g)]).unwrap_or_default()
}

async fn create_schedule(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "Name").unwrap_or_else(|| cx.generated_name(64));
    let out = cx
        .api
        .rest("scheduler", Method::POST, &format!("/schedules/{}", seg(&name)), Vec::new(), Some(schedule_body(&props)))
        .await
        .map_err(|e| failure(&e))?;
    Ok(Created::named(name).attr("Arn", out["ScheduleArn"].clone()))
}

async fn update_schedule(cx: Cx, current: Resource, props: Value) -> Outcome {
    let name = current.physical_id.clone().unwrap_or_default();
    let out = cx
        .api
        .rest("scheduler", Method::PUT, &format!("/schedules/{}", seg(&name)), Vec::new(), Some(schedule_body(&props)))
        .await
        .map_err(|e| failure(&e))?;
    Ok(Created::named(name).attr("Arn", out["ScheduleArn"].clone()))
}

async fn delete_schedule(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    let path = format!("/schedules/{}", seg(&name));
    tolerate_gone(cx.api.rest("scheduler", Method::DELETE, &path, group_query(&r.properties), None).await.map(|_| ()))
}

fn tag_body(tags: Vec<(String, String)>) -> Value {
    Value::Array(tags.into_iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect())
}

async fn group_created(cx: &Cx, name: &str) -> Outcome {
    let out = cx
        .api
        .rest("scheduler", Method::GET, &format!("/schedule-groups/{}", seg(name)), Vec::new(), None)
        .await
        .map_err(|e| failure(&e))?;
    let mut c = Created::named(name).attr("Arn", out["Arn"].clone()).attr("State", out["State"].clone());
    for (att, member) in [("CreationDate", "CreationDate"), ("LastModificationDate", "LastModificationDate")] {
        if let Some(v) = out.get(member) {
            c = c.attr(att, v.clone());
        }
    }
    Ok(c)
}

async fn create_group(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "Name").unwrap_or_else(|| cx.generated_name(64));
    let mut body = json!({});
    let tags = cx.tag_list(&props);
    if !tags.is_empty() {
        body["Tags"] = tag_body(tags);
    }
    cx.api
        .rest("scheduler", Method::POST, &format!("/schedule-groups/{}", seg(&name)), Vec::new(), Some(body))
        .await
        .map_err(|e| failure(&e))?;
    group_created(&cx, &name).await
}

async fn update_group(cx: Cx, current: Resource, props: Value) -> Outcome {
    let name = current.physical_id.clone().unwrap_or_default();
    let arn = group_created(&cx, &name).await?.attributes["Arn"].as_str().unwrap_or_default().to_string();
    let (new_tags, old_tags) = (cx.tag_list(&props), cx.tag_list(&current.properties));
    let removed: Vec<(String, String)> = old_tags
        .iter()
        .filter(|(k, _)| !new_tags.iter().any(|(n, _)| n == k))
        .map(|(k, _)| ("TagKeys".to_string(), k.clone()))
        .collect();
    let path = format!("/tags/{}", seg(&arn));
    if !removed.is_empty() {
        cx.api.rest("scheduler", Method::DELETE, &path, removed, None).await.map_err(|e| failure(&e))?;
    }
    if !new_tags.is_empty() && new_tags != old_tags {
        let body = json!({"Tags": tag_body(new_tags)});
        cx.api.rest("scheduler", Method::POST, &path, Vec::new(), Some(body)).await.map_err(|e| failure(&e))?;
    }
    group_created(&cx, &name).await
}

async fn delete_group(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    let path = format!("/schedule-groups/{}", seg(&name));
    tolerate_gone(cx.api.rest("scheduler", Method::DELETE, &path, Vec::new(), None).await.map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_dates_become_epoch_seconds_and_numbers_are_numbers() {
        let props = json!({"ScheduleExpression": "rate(5 minutes)", "StartDate": "2030-01-01T00:00:00Z",
            "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": "15"},
            "Target": {"Arn": "arn:aws:lambda:us-east-1:000000000000:function:f", "RoleArn": "arn:role"}});
        let body = schedule_body(&props);
        assert_eq!(body["StartDate"], json!(1893456000.0));
        assert_eq!(body["FlexibleTimeWindow"]["MaximumWindowInMinutes"], 15);
        assert_eq!(body["Target"]["Arn"], "arn:aws:lambda:us-east-1:000000000000:function:f");
    }
}
