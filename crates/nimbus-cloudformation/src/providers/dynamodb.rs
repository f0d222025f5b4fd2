//! `AWS::DynamoDB::Table` through DynamoDB's JSON 1.0 API.

use serde_json::{json, Value};

use super::{coerce, failure, pick, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::boxed;
use crate::state::Resource;

const NUMBERS: &[&str] = &["ReadCapacityUnits", "WriteCapacityUnits", "MaxReadRequestUnits", "MaxWriteRequestUnits"];
const BOOLEANS: &[&str] =
    &["SSEEnabled", "Enabled", "PointInTimeRecoveryEnabled", "DeletionProtectionEnabled", "StreamEnabled"];

pub fn specs() -> Vec<Spec> {
    vec![Spec {
        type_name: "AWS::DynamoDB::Table",
        replace_on: &["TableName", "KeySchema", "LocalSecondaryIndexes", "ImportSourceSpecification"],
        create: boxed!(create_table),
        update: Some(boxed!(update_table, 3)),
        delete: |cx, r| Box::pin(delete_table(cx, r)),
        name_property: Some("TableName"),
    }]
}

async fn call(cx: &Cx, op: &str, body: Value) -> Result<Value, String> {
    cx.api.json("dynamodb", &format!("DynamoDB_20120810.{op}"), "1.0", body).await.map_err(|e| failure(&e))
}

fn table_created(desc: &Value) -> Created {
    let mut c = Created::named(desc["TableName"].as_str().unwrap_or_default()).attr("Arn", desc["TableArn"].clone());
    if let Some(s) = desc.get("LatestStreamArn") {
        c = c.attr("StreamArn", s.clone());
    }
    c
}

fn stream_spec(props: &Value) -> Option<Value> {
    props
        .get("StreamSpecification")
        .and_then(|s| s.get("StreamViewType"))
        .map(|v| json!({"StreamEnabled": true, "StreamViewType": v}))
}

async fn create_table(cx: Cx, props: Value) -> Outcome {
    let mut props = props;
    coerce(&mut props, NUMBERS, BOOLEANS);
    let name = str_prop(&props, "TableName").unwrap_or_else(|| cx.generated_name(255));
    let mut body = Value::Object(pick(
        &props,
        &[
            "KeySchema",
            "AttributeDefinitions",
            "BillingMode",
            "ProvisionedThroughput",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "TableClass",
            "DeletionProtectionEnabled",
            "OnDemandThroughput",
        ],
    ));
    body["TableName"] = Value::String(name.clone());
    if let Some(s) = stream_spec(&props) {
        body["StreamSpecification"] = s;
    }
    if let Some(sse) = props.get("SSESpecification") {
        body["SSESpecification"] = Value::Object(pick(sse, &["SSEEnabled", "SSEType", "KMSMasterKeyId"]));
    }
    if body.get("BillingMode").is_none() && body.get("ProvisionedThroughput").is_none() {
        body["BillingMode"] = json!("PROVISIONED");
    }
    let tags = cx.tag_list(&props);
    if !tags.is_empty() {
        body["Tags"] = Value::Array(tags.into_iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect());
    }
    let out = call(&cx, "CreateTable", body).await?;
    if let Some(ttl) = props.get("TimeToLiveSpecification") {
        if ttl.get("Enabled") == Some(&Value::Bool(true)) {
            call(
                &cx,
                "UpdateTimeToLive",
                json!({"TableName": name, "TimeToLiveSpecification": pick(ttl, &["AttributeName", "Enabled"])}),
            )
            .await?;
        }
    }
    Ok(table_created(&out["TableDescription"]))
}

async fn update_table(cx: Cx, current: Resource, props: Value) -> Outcome {
    let mut props = props;
    coerce(&mut props, NUMBERS, BOOLEANS);
    let mut old = current.properties.clone();
    coerce(&mut old, NUMBERS, BOOLEANS);
    let name = current.physical_id.clone().unwrap_or_default();
    let mut body = json!({"TableName": name});
    let mut changed = false;
    for key in
        ["BillingMode", "ProvisionedThroughput", "AttributeDefinitions", "TableClass", "DeletionProtectionEnabled"]
    {
        if old.get(key) != props.get(key) {
            if let Some(v) = props.get(key) {
                body[key] = v.clone();
                changed = true;
            }
        }
    }
    if old.get("StreamSpecification") != props.get("StreamSpecification") {
        body["StreamSpecification"] = stream_spec(&props).unwrap_or_else(|| json!({"StreamEnabled": false}));
        changed = true;
    }
    let desc = if changed {
        call(&cx, "UpdateTable", body).await?["TableDescription"].clone()
    } else {
        call(&cx, "DescribeTable", json!({"TableName": name})).await?["Table"].clone()
    };
    if old.get("TimeToLiveSpecification") != props.get("TimeToLiveSpecification") {
        let spec = match props.get("TimeToLiveSpecification") {
            Some(ttl) => Value::Object(pick(ttl, &["AttributeName", "Enabled"])),
            None => {
                let attr = old
                    .get("TimeToLiveSpecification")
                    .and_then(|t| t.get("AttributeName"))
                    .cloned()
                    .unwrap_or(Value::Null);
                json!({"AttributeName": attr, "Enabled": false})
            }
        };
        call(&cx, "UpdateTimeToLive", json!({"TableName": name, "TimeToLiveSpecification": spec})).await?;
    }
    Ok(table_created(&desc))
}

async fn delete_table(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    tolerate_gone(
        cx.api.json("dynamodb", "DynamoDB_20120810.DeleteTable", "1.0", json!({"TableName": name})).await.map(|_| ()),
    )
}
