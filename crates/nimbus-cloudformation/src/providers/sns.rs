//! `AWS::SNS::Topic` (with its inline `Subscription` list), `AWS::SNS::Subscription`,
//! `AWS::SNS::TopicPolicy` and `AWS::SNS::TopicInlinePolicy` through SNS's query API.

use serde_json::Value;

use super::{doc_string, failure, required, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::api::{xml_text, xml_texts};
use crate::boxed;
use crate::state::Resource;

const VERSION: &str = "2010-03-31";

/// Topic properties that are SNS topic attributes of the same name.
const TOPIC_ATTRIBUTES: &[&str] = &[
    "DisplayName",
    "KmsMasterKeyId",
    "ContentBasedDeduplication",
    "SignatureVersion",
    "TracingConfig",
    "FifoThroughputScope",
    "ArchivePolicy",
];

/// Subscription properties that are subscription attributes of the same name.
const SUBSCRIPTION_ATTRIBUTES: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            type_name: "AWS::SNS::Topic",
            replace_on: &["TopicName", "FifoTopic"],
            create: boxed!(create_topic),
            update: Some(boxed!(update_topic, 3)),
            delete: |cx, r| Box::pin(delete_topic(cx, r)),
            name_property: Some("TopicName"),
        },
        Spec {
            type_name: "AWS::SNS::Subscription",
            replace_on: &["Endpoint", "Protocol", "TopicArn", "Region"],
            create: boxed!(create_subscription),
            update: Some(boxed!(update_subscription, 3)),
            delete: |cx, r| Box::pin(delete_subscription(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::SNS::TopicPolicy",
            replace_on: &[],
            create: boxed!(create_topic_policy),
            update: Some(boxed!(update_topic_policy, 3)),
            delete: |cx, r| Box::pin(delete_topic_policy(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::SNS::TopicInlinePolicy",
            replace_on: &["TopicArn"],
            create: boxed!(create_inline_policy),
            update: Some(|cx, _r, p| Box::pin(create_inline_policy(cx, p))),
            delete: |cx, r| Box::pin(delete_inline_policy(cx, r)),
            name_property: None,
        },
    ]
}

async fn call(cx: &Cx, action: &str, params: Vec<(String, String)>) -> Result<String, String> {
    cx.api.query("sns", action, VERSION, &params).await.map_err(|e| failure(&e))
}

fn p(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// A property's value as an SNS attribute string (JSON documents serialized).
fn attr_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// `DeliveryStatusLogging` → the `{Protocol}SuccessFeedbackRoleArn`… topic attributes.
fn logging_attributes(props: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for item in props.get("DeliveryStatusLogging").and_then(Value::as_array).into_iter().flatten() {
        let prefix = match str_prop(item, "Protocol").unwrap_or_default().as_str() {
            "http/s" => "HTTP",
            "sqs" => "SQS",
            "lambda" => "Lambda",
            "firehose" => "Firehose",
            "application" => "Application",
            _ => continue,
        };
        for (member, suffix) in [
            ("SuccessFeedbackRoleArn", "SuccessFeedbackRoleArn"),
            ("SuccessFeedbackSampleRate", "SuccessFeedbackSampleRate"),
            ("FailureFeedbackRoleArn", "FailureFeedbackRoleArn"),
        ] {
            if let Some(v) = str_prop(item, member) {
                out.push((format!("{prefix}{suffix}"), v));
            }
        }
    }
    out
}

fn topic_attributes(props: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        TOPIC_ATTRIBUTES.iter().filter_map(|n| props.get(*n).map(|v| (n.to_string(), attr_text(v)))).collect();
    out.extend(logging_attributes(props));
    out
}

fn is_fifo(props: &Value) -> bool {
    props.get("FifoTopic").and_then(crate::eval::text_of).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn topic_created(arn: &str) -> Created {
    let name = arn.rsplit(':').next().unwrap_or_default().to_string();
    Created::named(arn).attr("TopicArn", arn).attr("TopicName", name)
}

/// The inline `Subscription` list as (protocol, endpoint) pairs.
fn inline_subscriptions(props: &Value) -> Vec<(String, String)> {
    props
        .get("Subscription")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| Some((str_prop(s, "Protocol")?, str_prop(s, "Endpoint")?)))
        .collect()
}

async fn subscribe(
    cx: &Cx,
    topic: &str,
    protocol: &str,
    endpoint: &str,
    attrs: &[(String, String)],
) -> Result<String, String> {
    let mut params = vec![
        p("TopicArn", topic),
        p("Protocol", protocol),
        p("Endpoint", endpoint),
        p("ReturnSubscriptionArn", "true"),
    ];
    for (i, (k, v)) in attrs.iter().enumerate() {
        params.push(p(&format!("Attributes.entry.{}.key", i + 1), k.clone()));
        params.push(p(&format!("Attributes.entry.{}.value", i + 1), v.clone()));
    }
    let xml = call(cx, "Subscribe", params).await?;
    xml_text(&xml, "SubscriptionArn").ok_or_else(|| "SNS answered without a SubscriptionArn".to_string())
}

async fn create_topic(cx: Cx, props: Value) -> Outcome {
    let name = match str_prop(&props, "TopicName") {
        Some(n) => n,
        None if is_fifo(&props) => format!("{}.fifo", cx.generated_name(251)),
        None => cx.generated_name(256),
    };
    let mut params = vec![p("Name", name)];
    let mut attrs = topic_attributes(&props);
    if is_fifo(&props) {
        attrs.push(("FifoTopic".into(), "true".into()));
    }
    for (i, (k, v)) in attrs.iter().enumerate() {
        params.push(p(&format!("Attributes.entry.{}.key", i + 1), k.clone()));
        params.push(p(&format!("Attributes.entry.{}.value", i + 1), v.clone()));
    }
    for (i, (k, v)) in cx.tag_list(&props).into_iter().enumerate() {
        params.push(p(&format!("Tags.member.{}.Key", i + 1), k));
        params.push(p(&format!("Tags.member.{}.Value", i + 1), v));
    }
    if let Some(d) = props.get("DataProtectionPolicy") {
        params.push(p("DataProtectionPolicy", doc_string(d)));
    }
    let xml = call(&cx, "CreateTopic", params).await?;
    let arn = xml_text(&xml, "TopicArn").ok_or("SNS answered without a TopicArn")?;
    for (protocol, endpoint) in inline_subscriptions(&props) {
        if let Err(e) = subscribe(&cx, &arn, &protocol, &endpoint, &[]).await {
            let _ = cx.api.query("sns", "DeleteTopic", VERSION, &[p("TopicArn", arn.clone())]).await;
            return Err(e);
        }
    }
    Ok(topic_created(&arn))
}

/// The topic's current subscriptions as (subscription ARN, protocol, endpoint).
async fn subscriptions_of(cx: &Cx, topic: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = vec![p("TopicArn", topic)];
        if let Some(t) = &token {
            params.push(p("NextToken", t.clone()));
        }
        let xml = call(cx, "ListSubscriptionsByTopic", params).await?;
        for member in xml_texts(&xml, "member") {
            let (Some(arn), Some(protocol), Some(endpoint)) =
                (xml_text(&member, "SubscriptionArn"), xml_text(&member, "Protocol"), xml_text(&member, "Endpoint"))
            else {
                continue;
            };
            out.push((arn, protocol, endpoint));
        }
        token = xml_text(&xml, "NextToken").filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(out);
        }
    }
}

async fn update_topic(cx: Cx, current: Resource, props: Value) -> Outcome {
    let arn = current.physical_id.clone().unwrap_or_default();
    let old = &current.properties;
    let mut attrs = topic_attributes(&props);
    // Attributes dropped from the template go back to SNS's defaults.
    let had: Vec<(String, String)> = topic_attributes(old);
    for (name, _) in had {
        if !attrs.iter().any(|(n, _)| *n == name) {
            let default = match name.as_str() {
                "SignatureVersion" => "1",
                "TracingConfig" => "PassThrough",
                "ContentBasedDeduplication" => "false",
                "FifoThroughputScope" => "Topic",
                "ArchivePolicy" => "{}",
                _ => "",
            };
            attrs.push((name, default.to_string()));
        }
    }
    let before = topic_attributes(old);
    for (name, value) in attrs {
        if before.iter().any(|(n, v)| *n == name && *v == value) {
            continue;
        }
        call(
            &cx,
            "SetTopicAttributes",
            vec![p("TopicArn", arn.clone()), p("AttributeName", name), p("AttributeValue", value)],
        )
        .await?;
    }
    if old.get("DataProtectionPolicy") != props.get("DataProtectionPolicy") {
        let doc = props.get("DataProtectionPolicy").map(doc_string).unwrap_or_default();
        call(&cx, "PutDataProtectionPolicy", vec![p("ResourceArn", arn.clone()), p("DataProtectionPolicy", doc)])
            .await?;
    }
    // Tags: set the template's, remove the ones no longer there.
    let new_tags = cx.tag_list(&props);
    let old_tags = cx.tag_list(old);
    let removed: Vec<String> =
        old_tags.iter().filter(|(k, _)| !new_tags.iter().any(|(n, _)| n == k)).map(|(k, _)| k.clone()).collect();
    if !removed.is_empty() {
        let mut params = vec![p("ResourceArn", arn.clone())];
        params.extend(removed.into_iter().enumerate().map(|(i, k)| p(&format!("TagKeys.member.{}", i + 1), k)));
        call(&cx, "UntagResource", params).await?;
    }
    if !new_tags.is_empty() && new_tags != old_tags {
        let mut params = vec![p("ResourceArn", arn.clone())];
        for (i, (k, v)) in new_tags.into_iter().enumerate() {
            params.push(p(&format!("Tags.member.{}.Key", i + 1), k));
            params.push(p(&format!("Tags.member.{}.Value", i + 1), v));
        }
        call(&cx, "TagResource", params).await?;
    }
    // Inline subscriptions: subscribe the added ones, unsubscribe the removed ones.
    let wanted = inline_subscriptions(&props);
    let previous = inline_subscriptions(old);
    if wanted != previous {
        let existing = subscriptions_of(&cx, &arn).await?;
        for (protocol, endpoint) in &previous {
            if wanted.contains(&(protocol.clone(), endpoint.clone())) {
                continue;
            }
            for (sub, _, _) in existing.iter().filter(|(_, pr, ep)| pr == protocol && ep == endpoint) {
                if sub.starts_with("arn:") {
                    call(&cx, "Unsubscribe", vec![p("SubscriptionArn", sub.clone())]).await?;
                }
            }
        }
        for (protocol, endpoint) in &wanted {
            if !previous.contains(&(protocol.clone(), endpoint.clone())) {
                subscribe(&cx, &arn, protocol, endpoint, &[]).await?;
            }
        }
    }
    Ok(topic_created(&arn))
}

async fn delete_topic(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(arn) = r.physical_id else { return Ok(()) };
    tolerate_gone(cx.api.query("sns", "DeleteTopic", VERSION, &[p("TopicArn", arn)]).await.map(|_| ()))
}

fn subscription_attributes(props: &Value) -> Vec<(String, String)> {
    SUBSCRIPTION_ATTRIBUTES.iter().filter_map(|n| props.get(*n).map(|v| (n.to_string(), attr_text(v)))).collect()
}

async fn create_subscription(cx: Cx, props: Value) -> Outcome {
    let topic = str_prop(&props, "TopicArn").ok_or_else(|| required(&props, "TopicArn").unwrap_err())?;
    let protocol = str_prop(&props, "Protocol").ok_or_else(|| required(&props, "Protocol").unwrap_err())?;
    let endpoint = str_prop(&props, "Endpoint").unwrap_or_default();
    // `Region`: the topic's region, when it is not the stack's.
    let mut cx = cx;
    if let Some(region) = str_prop(&props, "Region") {
        cx.api.region = region;
    }
    let arn = subscribe(&cx, &topic, &protocol, &endpoint, &subscription_attributes(&props)).await?;
    Ok(Created::named(arn.clone()).attr("Arn", arn))
}

/// Calls about a subscription go to its topic's region (`Region` may differ from the stack's).
fn in_region_of(mut cx: Cx, arn: &str) -> Cx {
    if let Some(region) = arn.split(':').nth(3).filter(|r| !r.is_empty()) {
        cx.api.region = region.to_string();
    }
    cx
}

async fn update_subscription(cx: Cx, current: Resource, props: Value) -> Outcome {
    let arn = current.physical_id.clone().unwrap_or_default();
    let cx = in_region_of(cx, &arn);
    let before = subscription_attributes(&current.properties);
    let mut attrs = subscription_attributes(&props);
    for (name, _) in &before {
        if !attrs.iter().any(|(n, _)| n == name) {
            let default = if name == "RawMessageDelivery" { "false" } else { "" };
            attrs.push((name.clone(), default.to_string()));
        }
    }
    for (name, value) in attrs {
        if before.iter().any(|(n, v)| *n == name && *v == value) {
            continue;
        }
        call(
            &cx,
            "SetSubscriptionAttributes",
            vec![p("SubscriptionArn", arn.clone()), p("AttributeName", name), p("AttributeValue", value)],
        )
        .await?;
    }
    Ok(Created::named(arn.clone()).attr("Arn", arn))
}

async fn delete_subscription(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(arn) = r.physical_id.filter(|a| a.starts_with("arn:")) else { return Ok(()) };
    let cx = in_region_of(cx, &arn);
    tolerate_gone(cx.api.query("sns", "Unsubscribe", VERSION, &[p("SubscriptionArn", arn)]).await.map(|_| ()))
}

fn topics_of(props: &Value) -> Vec<String> {
    props.get("Topics").and_then(Value::as_array).into_iter().flatten().filter_map(crate::eval::text_of).collect()
}

async fn set_policy(cx: &Cx, topic: &str, doc: String) -> Result<(), String> {
    call(cx, "SetTopicAttributes", vec![p("TopicArn", topic), p("AttributeName", "Policy"), p("AttributeValue", doc)])
        .await
        .map(|_| ())
}

async fn create_topic_policy(cx: Cx, props: Value) -> Outcome {
    let doc = doc_string(required(&props, "PolicyDocument")?);
    required(&props, "Topics")?;
    for topic in topics_of(&props) {
        set_policy(&cx, &topic, doc.clone()).await?;
    }
    let id = cx.generated_name(256);
    Ok(Created::named(id.clone()).attr("Id", id))
}

async fn update_topic_policy(cx: Cx, current: Resource, props: Value) -> Outcome {
    let doc = doc_string(required(&props, "PolicyDocument")?);
    let topics = topics_of(&props);
    // Topics no longer listed get SNS's default policy back.
    for old in topics_of(&current.properties) {
        if !topics.contains(&old) {
            reset_policy(&cx, &old).await?;
        }
    }
    for topic in &topics {
        set_policy(&cx, topic, doc.clone()).await?;
    }
    let id = current.physical_id.unwrap_or_default();
    Ok(Created::named(id.clone()).attr("Id", id))
}

/// The policy SNS gives a new topic, which deleting a topic policy restores.
fn default_policy(topic: &str) -> String {
    let owner = topic.split(':').nth(4).unwrap_or_default();
    serde_json::json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                       "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                       "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
            "Resource": topic,
            "Condition": {"StringEquals": {"AWS:SourceOwner": owner}}
        }]
    })
    .to_string()
}

async fn reset_policy(cx: &Cx, topic: &str) -> Result<(), String> {
    let params = [p("TopicArn", topic), p("AttributeName", "Policy"), p("AttributeValue", default_policy(topic))];
    tolerate_gone(cx.api.query("sns", "SetTopicAttributes", VERSION, &params).await.map(|_| ()))
}

async fn delete_topic_policy(cx: Cx, r: Resource) -> Result<(), String> {
    for topic in topics_of(&r.properties) {
        reset_policy(&cx, &topic).await?;
    }
    Ok(())
}

async fn create_inline_policy(cx: Cx, props: Value) -> Outcome {
    let topic = str_prop(&props, "TopicArn").ok_or_else(|| required(&props, "TopicArn").unwrap_err())?;
    let doc = doc_string(required(&props, "PolicyDocument")?);
    set_policy(&cx, &topic, doc).await?;
    Ok(Created::named(topic))
}

async fn delete_inline_policy(cx: Cx, r: Resource) -> Result<(), String> {
    match str_prop(&r.properties, "TopicArn") {
        Some(topic) => reset_policy(&cx, &topic).await,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn topic_properties_become_sns_attributes() {
        let props = json!({"DisplayName": "Alerts", "ArchivePolicy": {"MessageRetentionPeriod": "7"},
            "DeliveryStatusLogging": [{"Protocol": "sqs", "SuccessFeedbackRoleArn": "arn:role", "SuccessFeedbackSampleRate": "50"}]});
        let attrs = topic_attributes(&props);
        assert!(attrs.contains(&("DisplayName".into(), "Alerts".into())));
        assert!(attrs.contains(&("ArchivePolicy".into(), "{\"MessageRetentionPeriod\":\"7\"}".into())));
        assert!(attrs.contains(&("SQSSuccessFeedbackRoleArn".into(), "arn:role".into())));
        assert!(attrs.contains(&("SQSSuccessFeedbackSampleRate".into(), "50".into())));
        let c = topic_created("arn:aws:sns:us-east-1:000000000000:alerts");
        assert_eq!(c.ref_value, "arn:aws:sns:us-east-1:000000000000:alerts");
        assert_eq!(c.attributes["TopicName"], "alerts");
    }
}
