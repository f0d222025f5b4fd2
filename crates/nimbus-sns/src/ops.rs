//! One plain function per SNS management operation over [`Topics`], on the model-shaped input
//! document; the changes go into [`Changes`] and are durable before the answer leaves.

use std::collections::BTreeMap;

use nimbus_core::pattern::Pattern;
use nimbus_core::state::Changes;
use serde_json::{json, Value};

use crate::errors::{invalid, no_resource, no_subscription, no_topic, Result};
use crate::state::*;

/// Who is asking, and where.
pub struct Ctx<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub endpoint: &'a str,
}

const PAGE: usize = 100;
const TOPIC_ATTRIBUTES: &[&str] = &[
    "DisplayName",
    "Policy",
    "DeliveryPolicy",
    "KmsMasterKeyId",
    "FifoTopic",
    "ContentBasedDeduplication",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
    "FifoThroughputScope",
    "DataProtectionPolicy",
    "HTTPSuccessFeedbackRoleArn",
    "HTTPSuccessFeedbackSampleRate",
    "HTTPFailureFeedbackRoleArn",
    "LambdaSuccessFeedbackRoleArn",
    "LambdaSuccessFeedbackSampleRate",
    "LambdaFailureFeedbackRoleArn",
    "SQSSuccessFeedbackRoleArn",
    "SQSSuccessFeedbackSampleRate",
    "SQSFailureFeedbackRoleArn",
    "ApplicationSuccessFeedbackRoleArn",
    "ApplicationSuccessFeedbackSampleRate",
    "ApplicationFailureFeedbackRoleArn",
    "FirehoseSuccessFeedbackRoleArn",
    "FirehoseSuccessFeedbackSampleRate",
    "FirehoseFailureFeedbackRoleArn",
];
const SUBSCRIPTION_ATTRIBUTES: &[&str] = &[
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
];
pub const PROTOCOLS: &[&str] =
    &["http", "https", "email", "email-json", "sms", "sqs", "application", "lambda", "firehose"];

pub fn str_of<'v>(input: &'v Value, name: &str) -> Option<&'v str> {
    input.get(name).and_then(Value::as_str)
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

fn tag_list(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|t| Some((str_of(t, "Key")?.to_string(), str_of(t, "Value").unwrap_or("").to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub fn topic_arn(ctx: &Ctx, name: &str) -> String {
    format!("arn:aws:sns:{}:{}:{name}", ctx.region, ctx.account)
}

/// The topic an ARN names, in the caller's account and region (ARN parts win when present).
pub fn topic<'s>(db: &'s Topics, arn: &str) -> Result<&'s Topic> {
    if !arn.starts_with("arn:") || arn.split(':').count() != 6 {
        return Err(invalid("TopicArn"));
    }
    db.topics.get(arn).ok_or_else(no_topic)
}

fn paged<T: Clone>(items: Vec<T>, token: Option<&str>) -> (Vec<T>, Option<String>) {
    let start = token.and_then(|t| t.parse::<usize>().ok()).unwrap_or(0);
    let page: Vec<T> = items.iter().skip(start).take(PAGE).cloned().collect();
    let next = (start + PAGE < items.len()).then(|| (start + PAGE).to_string());
    (page, next)
}

fn default_policy(arn: &str, account: &str) -> String {
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                       "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                       "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
            "Resource": arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}}
        }]
    })
    .to_string()
}

fn valid_topic_name(name: &str, fifo: bool) -> bool {
    let base = if fifo { name.strip_suffix(".fifo") } else { Some(name) };
    base.is_some_and(|b| {
        !b.is_empty() && name.len() <= 256 && b.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

fn check_topic_attribute(name: &str, value: &str) -> Result<()> {
    if !TOPIC_ATTRIBUTES.contains(&name) {
        return Err(invalid(format!("AttributeName")));
    }
    match name {
        "Policy" | "DataProtectionPolicy" | "ArchivePolicy"
            if serde_json::from_str::<Value>(value).map(|v| !v.is_object()).unwrap_or(true) =>
        {
            Err(invalid(format!("{name}: failed to parse JSON")))
        }
        "DeliveryPolicy" => crate::endpoint::check_delivery_policy(value, true).map_err(invalid),
        "SignatureVersion" if value != "1" && value != "2" => {
            Err(invalid("SignatureVersion: Invalid value [".to_string() + value + "]. Valid values: 1, 2."))
        }
        _ => Ok(()),
    }
}

pub fn create_topic(db: &Topics, ctx: &Ctx, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let name = str_of(input, "Name").unwrap_or_default();
    let attributes = string_map(input.get("Attributes"));
    let fifo = attributes.get("FifoTopic").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !valid_topic_name(name, fifo) {
        if name.ends_with(".fifo") && !fifo {
            return Err(invalid("Topic Name"));
        }
        return Err(invalid(if fifo {
            "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."
        } else {
            "Topic Name"
        }));
    }
    for (k, v) in &attributes {
        check_topic_attribute(k, v)?;
    }
    let arn = topic_arn(ctx, name);
    let tags = tag_list(input.get("Tags"));
    if let Some(existing) = db.topics.get(&arn) {
        // Idempotent when the attributes agree; tags on an existing topic must agree too.
        let differs = attributes.iter().any(|(k, v)| existing.attributes.get(k).is_some_and(|e| e != v));
        if differs {
            return Err(invalid("Attributes Reason: Topic already exists with different attributes"));
        }
        if !tags.is_empty() && tags != existing.tags {
            return Err(invalid("Tags Reason: Topic already exists with different tags"));
        }
        return Ok(json!({"TopicArn": arn}));
    }
    let topic = Topic {
        arn: arn.clone(),
        name: name.to_string(),
        account: ctx.account.to_string(),
        region: ctx.region.to_string(),
        attributes,
        tags,
        data_protection_policy: str_of(input, "DataProtectionPolicy").map(str::to_string),
    };
    changes.put(topic_key(&arn), Record::Topic(topic));
    Ok(json!({"TopicArn": arn}))
}

pub fn delete_topic(db: &Topics, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let arn = str_of(input, "TopicArn").unwrap_or_default();
    // Deleting a topic that does not exist succeeds, as on AWS.
    if db.topics.contains_key(arn) {
        changes.delete(topic_key(arn));
        for s in db.subscriptions_of(arn) {
            changes.delete(subscription_key(&s.arn));
        }
        for s in db.unsubscribed.values().filter(|s| s.topic_arn == arn) {
            changes.delete(unsubscribed_key(&s.arn));
        }
    }
    Ok(json!({}))
}

pub fn get_topic_attributes(db: &Topics, input: &Value) -> Result<Value> {
    let t = topic(db, str_of(input, "TopicArn").unwrap_or_default())?;
    let subs: Vec<&Subscription> = db.subscriptions_of(&t.arn).collect();
    let mut attrs: BTreeMap<String, String> = BTreeMap::new();
    attrs.insert("TopicArn".into(), t.arn.clone());
    attrs.insert("Owner".into(), t.account.clone());
    attrs.insert("Policy".into(), default_policy(&t.arn, &t.account));
    attrs.insert("DisplayName".into(), String::new());
    attrs.insert("SubscriptionsConfirmed".into(), subs.iter().filter(|s| s.confirmed).count().to_string());
    attrs.insert("SubscriptionsPending".into(), subs.iter().filter(|s| !s.confirmed).count().to_string());
    attrs.insert("SubscriptionsDeleted".into(), "0".into());
    // AWS's HTTP defaults, with what the topic's own DeliveryPolicy sets in their place.
    let mut effective = json!({"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 20, "maxDelayTarget": 20,
        "numRetries": 3, "numMaxDelayRetries": 0, "numNoDelayRetries": 0, "numMinDelayRetries": 0,
        "backoffFunction": "linear"}, "disableSubscriptionOverrides": false,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}}});
    let own = t.attributes.get("DeliveryPolicy").and_then(|p| serde_json::from_str::<Value>(p).ok());
    if let Some(Value::Object(http)) = own.as_ref().map(|p| &p["http"]) {
        for (k, v) in http {
            effective["http"][k.as_str()] = v.clone();
        }
    }
    attrs.insert("EffectiveDeliveryPolicy".into(), effective.to_string());
    if t.fifo() {
        attrs.insert("FifoTopic".into(), "true".into());
        attrs.insert("ContentBasedDeduplication".into(), "false".into());
    }
    for (k, v) in &t.attributes {
        attrs.insert(k.clone(), v.clone());
    }
    Ok(json!({"Attributes": attrs}))
}

pub fn set_topic_attributes(db: &Topics, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let mut t = topic(db, str_of(input, "TopicArn").unwrap_or_default())?.clone();
    let name = str_of(input, "AttributeName").unwrap_or_default();
    let value = str_of(input, "AttributeValue").unwrap_or_default();
    check_topic_attribute(name, value)?;
    if name == "FifoTopic" {
        return Err(invalid("AttributeName"));
    }
    if name == "ContentBasedDeduplication" && !t.fifo() {
        return Err(invalid("ContentBasedDeduplication: Content based deduplication can only be set for FIFO topics"));
    }
    t.attributes.insert(name.to_string(), value.to_string());
    changes.put(topic_key(&t.arn), Record::Topic(t));
    Ok(json!({}))
}

pub fn list_topics(db: &Topics, ctx: &Ctx, input: &Value) -> Result<Value> {
    let arns: Vec<Value> = db
        .topics
        .values()
        .filter(|t| t.account == ctx.account && t.region == ctx.region)
        .map(|t| json!({"TopicArn": t.arn}))
        .collect();
    let (page, next) = paged(arns, str_of(input, "NextToken"));
    let mut out = json!({"Topics": page});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

/// A filter policy must be a JSON object the pattern engine accepts.
fn check_filter_policy(text: &str) -> Result<()> {
    let value: Value = serde_json::from_str(text).map_err(|_| invalid("FilterPolicy: failed to parse JSON."))?;
    if value.as_object().is_some_and(|o| o.is_empty()) {
        return Ok(()); // `{}` clears the policy
    }
    Pattern::from_value(&value).map(|_| ()).map_err(|_| invalid("FilterPolicy: Invalid filter policy"))
}

fn check_subscription_attribute(name: &str, value: &str) -> Result<()> {
    if !SUBSCRIPTION_ATTRIBUTES.contains(&name) {
        return Err(invalid("AttributeName"));
    }
    match name {
        "FilterPolicy" => check_filter_policy(value),
        "DeliveryPolicy" => crate::endpoint::check_delivery_policy(value, false).map_err(invalid),
        "FilterPolicyScope" if value != "MessageAttributes" && value != "MessageBody" => Err(invalid(
            "FilterPolicyScope: Invalid filter policy scope, it must be one of: MessageAttributes, MessageBody",
        )),
        "RawMessageDelivery" if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") => {
            Err(invalid("RawMessageDelivery: Invalid value [".to_string() + value + "]. Must be true or false."))
        }
        "RedrivePolicy" => {
            let v: Value = serde_json::from_str(value).map_err(|_| invalid("RedrivePolicy: failed to parse JSON."))?;
            match str_of(&v, "deadLetterTargetArn") {
                Some(arn) if arn.starts_with("arn:aws:sqs:") => Ok(()),
                _ => Err(invalid("RedrivePolicy: deadLetterTargetArn is an invalid arn")),
            }
        }
        _ => Ok(()),
    }
}

pub fn subscribe(db: &Topics, ctx: &Ctx, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let t = topic(db, str_of(input, "TopicArn").unwrap_or_default())?;
    let protocol = str_of(input, "Protocol").unwrap_or_default();
    if !PROTOCOLS.contains(&protocol) {
        return Err(invalid(format!("Amazon SNS does not support this protocol string: {protocol}")));
    }
    let endpoint = str_of(input, "Endpoint").unwrap_or_default();
    match protocol {
        "sqs" if !endpoint.starts_with("arn:aws:sqs:") => return Err(invalid("SQS endpoint ARN")),
        "lambda" if !endpoint.starts_with("arn:aws:lambda:") => return Err(invalid("Lambda endpoint ARN")),
        "http" if !endpoint.starts_with("http://") => return Err(invalid("Invalid endpoint URL")),
        "https" if !endpoint.starts_with("https://") => return Err(invalid("Invalid endpoint URL")),
        "email" | "email-json" if !endpoint.contains('@') => return Err(invalid("Email address")),
        _ => {}
    }
    let attributes = string_map(input.get("Attributes"));
    for (k, v) in &attributes {
        check_subscription_attribute(k, v)?;
    }
    if t.fifo() && !(protocol == "sqs" && endpoint.ends_with(".fifo")) && protocol != "sqs" {
        return Err(invalid("Invalid parameter: Endpoint Reason: FIFO topic only supports SQS FIFO queues"));
    }
    if attributes.get("RawMessageDelivery").is_some() && !matches!(protocol, "sqs" | "http" | "https" | "firehose") {
        return Err(invalid("Attributes: RawMessageDelivery is not supported for this protocol"));
    }
    let return_arn = input.get("ReturnSubscriptionArn").and_then(Value::as_bool).unwrap_or(false);
    if let Some(existing) = db.subscriptions_of(&t.arn).find(|s| s.protocol == protocol && s.endpoint == endpoint) {
        if attributes.iter().any(|(k, v)| existing.attributes.get(k) != Some(v)) {
            return Err(invalid("Attributes Reason: Subscription already exists with different attributes"));
        }
        let arn = if existing.confirmed || return_arn { existing.arn.clone() } else { "pending confirmation".into() };
        return Ok(json!({"SubscriptionArn": arn}));
    }
    let arn = format!("{}:{}", t.arn, uuid::Uuid::new_v4());
    // Queues and functions are confirmed at once; endpoints that answer (http/https) or people
    // (email, sms) confirm with the token.
    let confirmed = matches!(protocol, "sqs" | "lambda" | "application" | "firehose");
    let sub = Subscription {
        arn: arn.clone(),
        topic_arn: t.arn.clone(),
        protocol: protocol.to_string(),
        endpoint: endpoint.to_string(),
        owner: ctx.account.to_string(),
        attributes,
        confirmed,
        token: (!confirmed).then(|| hex::encode(uuid::Uuid::new_v4().as_bytes()).repeat(4)),
    };
    changes.put(subscription_key(&arn), Record::Subscription(sub));
    Ok(json!({"SubscriptionArn": if confirmed || return_arn { arn } else { "pending confirmation".into() }}))
}

pub fn confirm_subscription(db: &Topics, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let t = topic(db, str_of(input, "TopicArn").unwrap_or_default())?;
    let token = str_of(input, "Token").unwrap_or_default();
    let restorable = db.unsubscribed.values().find(|s| s.topic_arn == t.arn && s.token.as_deref() == Some(token));
    if let Some(gone) = restorable {
        // The token of an UnsubscribeConfirmation restores the subscription.
        let mut s = gone.clone();
        s.confirmed = true;
        changes.delete(unsubscribed_key(&s.arn));
        changes.put(subscription_key(&s.arn), Record::Subscription(s.clone()));
        return Ok(json!({"SubscriptionArn": s.arn}));
    }
    let sub =
        db.subscriptions_of(&t.arn).find(|s| s.token.as_deref() == Some(token)).ok_or_else(|| invalid("Token"))?;
    if !sub.confirmed {
        let mut s = sub.clone();
        s.confirmed = true;
        changes.put(subscription_key(&s.arn), Record::Subscription(s));
    }
    Ok(json!({"SubscriptionArn": sub.arn}))
}

pub fn unsubscribe(db: &Topics, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let arn = str_of(input, "SubscriptionArn").unwrap_or_default();
    if arn.split(':').count() != 7 {
        return Err(invalid("SubscriptionArn Reason: An ARN must have at least 6 elements, not 1"));
    }
    if let Some(s) = db.subscriptions.get(arn) {
        changes.delete(subscription_key(arn));
        if s.confirmed && matches!(s.protocol.as_str(), "http" | "https") {
            let mut gone = s.clone();
            gone.token = Some(hex::encode(uuid::Uuid::new_v4().as_bytes()).repeat(4));
            changes.put(unsubscribed_key(arn), Record::Unsubscribed(gone));
        }
    }
    Ok(json!({}))
}

fn subscription<'s>(db: &'s Topics, arn: &str) -> Result<&'s Subscription> {
    db.subscriptions.get(arn).ok_or_else(no_subscription)
}

pub fn get_subscription_attributes(db: &Topics, input: &Value) -> Result<Value> {
    let s = subscription(db, str_of(input, "SubscriptionArn").unwrap_or_default())?;
    let mut attrs: BTreeMap<String, String> = BTreeMap::new();
    attrs.insert("SubscriptionArn".into(), s.arn.clone());
    attrs.insert("TopicArn".into(), s.topic_arn.clone());
    attrs.insert("Protocol".into(), s.protocol.clone());
    attrs.insert("Endpoint".into(), s.endpoint.clone());
    attrs.insert("Owner".into(), s.owner.clone());
    attrs.insert("ConfirmationWasAuthenticated".into(), "true".into());
    attrs.insert("PendingConfirmation".into(), (!s.confirmed).to_string());
    attrs.insert("RawMessageDelivery".into(), "false".into());
    attrs.insert("SubscriptionPrincipal".into(), format!("arn:aws:iam::{}:root", s.owner));
    for (k, v) in &s.attributes {
        attrs.insert(k.clone(), v.clone());
    }
    if matches!(s.protocol.as_str(), "http" | "https") {
        if let Some(t) = db.topics.get(&s.topic_arn) {
            attrs.insert("EffectiveDeliveryPolicy".into(), effective_delivery_policy(t, s).to_string());
        }
    }
    if attrs.contains_key("FilterPolicy") && !attrs.contains_key("FilterPolicyScope") {
        attrs.insert("FilterPolicyScope".into(), "MessageAttributes".into());
    }
    Ok(json!({"Attributes": attrs}))
}

/// An `http`/`https` subscription's `EffectiveDeliveryPolicy`: its own `DeliveryPolicy` when
/// the topic allows overrides, else the topic's HTTP defaults (AWS's when the topic has none).
fn effective_delivery_policy(t: &Topic, s: &Subscription) -> Value {
    let parse = |text: Option<&String>| text.and_then(|p| serde_json::from_str::<Value>(p).ok());
    let topic = parse(t.attributes.get("DeliveryPolicy")).unwrap_or(Value::Null);
    let http = &topic["http"];
    let own = parse(s.attributes.get("DeliveryPolicy")).filter(|_| http["disableSubscriptionOverrides"] != true);
    let section = |own_key: &str, topic_key: &str, default: Value| match &own {
        Some(p) => p.get(own_key).cloned().unwrap_or(Value::Null),
        None => http.get(topic_key).cloned().unwrap_or(default),
    };
    let r = crate::endpoint::RetryPolicy::default();
    let default_retry = json!({
        "minDelayTarget": r.min_delay, "maxDelayTarget": r.max_delay, "numRetries": r.num_retries,
        "numMaxDelayRetries": 0, "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear",
    });
    let healthy = match &own {
        Some(p) if p.get("healthyRetryPolicy").is_none() => default_retry.clone(),
        _ => section("healthyRetryPolicy", "defaultHealthyRetryPolicy", default_retry),
    };
    json!({
        "healthyRetryPolicy": healthy,
        "sicklyRetryPolicy": section("sicklyRetryPolicy", "defaultSicklyRetryPolicy", Value::Null),
        "throttlePolicy": section("throttlePolicy", "defaultThrottlePolicy", Value::Null),
        "requestPolicy": section("requestPolicy", "defaultRequestPolicy",
            json!({"headerContentType": crate::endpoint::DEFAULT_CONTENT_TYPE})),
        "guaranteed": own.as_ref().and_then(|p| p.get("guaranteed").cloned()).unwrap_or(json!(false)),
    })
}

pub fn set_subscription_attributes(db: &Topics, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let mut s = subscription(db, str_of(input, "SubscriptionArn").unwrap_or_default())?.clone();
    let name = str_of(input, "AttributeName").unwrap_or_default();
    let value = str_of(input, "AttributeValue").unwrap_or_default();
    check_subscription_attribute(name, value)?;
    if name == "RawMessageDelivery" && !matches!(s.protocol.as_str(), "sqs" | "http" | "https" | "firehose") {
        return Err(invalid("AttributeName: RawMessageDelivery is not supported for this protocol"));
    }
    if name == "FilterPolicy" && (value.is_empty() || value == "{}") {
        s.attributes.remove("FilterPolicy");
    } else {
        s.attributes.insert(name.to_string(), value.to_string());
    }
    changes.put(subscription_key(&s.arn), Record::Subscription(s));
    Ok(json!({}))
}

fn subscription_summary(s: &Subscription) -> Value {
    json!({
        "SubscriptionArn": if s.confirmed { s.arn.as_str() } else { "PendingConfirmation" },
        "Owner": s.owner, "Protocol": s.protocol, "Endpoint": s.endpoint, "TopicArn": s.topic_arn,
    })
}

pub fn list_subscriptions(db: &Topics, ctx: &Ctx, input: &Value) -> Result<Value> {
    let prefix = format!("arn:aws:sns:{}:{}:", ctx.region, ctx.account);
    let subs: Vec<Value> =
        db.subscriptions.values().filter(|s| s.topic_arn.starts_with(&prefix)).map(subscription_summary).collect();
    let (page, next) = paged(subs, str_of(input, "NextToken"));
    let mut out = json!({"Subscriptions": page});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

pub fn list_subscriptions_by_topic(db: &Topics, input: &Value) -> Result<Value> {
    let t = topic(db, str_of(input, "TopicArn").unwrap_or_default())?;
    let subs: Vec<Value> = db.subscriptions_of(&t.arn).map(subscription_summary).collect();
    let (page, next) = paged(subs, str_of(input, "NextToken"));
    let mut out = json!({"Subscriptions": page});
    if let Some(n) = next {
        out["NextToken"] = json!(n);
    }
    Ok(out)
}

fn tagged<'s>(db: &'s Topics, input: &Value) -> Result<&'s Topic> {
    db.topics.get(str_of(input, "ResourceArn").unwrap_or_default()).ok_or_else(no_resource)
}

pub fn tag_resource(db: &Topics, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let mut t = tagged(db, input)?.clone();
    t.tags.extend(tag_list(input.get("Tags")));
    if t.tags.len() > 50 {
        return Err(nimbus_core::AwsError::new(
            400,
            "TagLimitExceeded",
            "Could not complete request: tag quota of per resource exceeded",
        ));
    }
    changes.put(topic_key(&t.arn), Record::Topic(t));
    Ok(json!({}))
}

pub fn untag_resource(db: &Topics, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let mut t = tagged(db, input)?.clone();
    for k in input.get("TagKeys").and_then(Value::as_array).into_iter().flatten() {
        if let Some(k) = k.as_str() {
            t.tags.remove(k);
        }
    }
    changes.put(topic_key(&t.arn), Record::Topic(t));
    Ok(json!({}))
}

pub fn list_tags_for_resource(db: &Topics, input: &Value) -> Result<Value> {
    let t = tagged(db, input)?;
    let tags: Vec<Value> = t.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    Ok(json!({"Tags": tags}))
}

pub fn put_data_protection_policy(db: &Topics, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let mut t = topic(db, str_of(input, "ResourceArn").unwrap_or_default())?.clone();
    let policy = str_of(input, "DataProtectionPolicy").unwrap_or_default();
    if serde_json::from_str::<Value>(policy).map(|v| !v.is_object()).unwrap_or(true) {
        return Err(invalid("DataProtectionPolicy: failed to parse JSON"));
    }
    t.data_protection_policy = Some(policy.to_string());
    changes.put(topic_key(&t.arn), Record::Topic(t));
    Ok(json!({}))
}

pub fn get_data_protection_policy(db: &Topics, input: &Value) -> Result<Value> {
    let t = topic(db, str_of(input, "ResourceArn").unwrap_or_default())?;
    Ok(match &t.data_protection_policy {
        Some(p) => json!({"DataProtectionPolicy": p}),
        None => json!({}),
    })
}

/// AddPermission / RemovePermission edit the stored topic policy (stored, not enforced).
pub fn add_permission(db: &Topics, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let mut t = topic(db, str_of(input, "TopicArn").unwrap_or_default())?.clone();
    let label = str_of(input, "Label").unwrap_or_default();
    let mut policy: Value = t
        .attributes
        .get("Policy")
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_else(|| serde_json::from_str(&default_policy(&t.arn, &t.account)).unwrap_or_default());
    let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
    if statements.iter().any(|s| s["Sid"] == label) {
        return Err(invalid("Statement already exists"));
    }
    let principals: Vec<String> = input["AWSAccountId"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|a| format!("arn:aws:iam::{a}:root"))
        .collect();
    let actions: Vec<String> = input["ActionName"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|a| format!("SNS:{a}"))
        .collect();
    let mut statements = statements;
    statements.push(json!({"Sid": label, "Effect": "Allow", "Principal": {"AWS": principals},
                           "Action": actions, "Resource": t.arn}));
    policy["Statement"] = Value::Array(statements);
    t.attributes.insert("Policy".into(), policy.to_string());
    changes.put(topic_key(&t.arn), Record::Topic(t));
    Ok(json!({}))
}

pub fn remove_permission(db: &Topics, input: &Value, changes: &mut Changes<Record>) -> Result<Value> {
    let mut t = topic(db, str_of(input, "TopicArn").unwrap_or_default())?.clone();
    let label = str_of(input, "Label").unwrap_or_default();
    let Some(mut policy) = t.attributes.get("Policy").and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return Ok(json!({}));
    };
    if let Some(list) = policy["Statement"].as_array_mut() {
        list.retain(|s| s["Sid"] != label);
    }
    t.attributes.insert("Policy".into(), policy.to_string());
    changes.put(topic_key(&t.arn), Record::Topic(t));
    Ok(json!({}))
}
