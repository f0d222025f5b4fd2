//! Bucket notifications: the configuration's checks (known events, prefix/suffix filter rules,
//! overlapping configurations, destinations S3 can reach, with `s3:TestEvent` sent to each
//! queue), and event records in AWS's shape delivered through [`nimbus_core::delivery`] to
//! SQS queues and Lambda functions (whose resource policy must allow `s3.amazonaws.com`).

use std::sync::atomic::{AtomicU64, Ordering};

use nimbus_core::delivery::{Delivery, Source};
use nimbus_core::AwsError;
use serde_json::json;

use crate::errors::{self, Result};
use crate::request::Req;
use crate::wire;
use crate::xml::Element;
use crate::S3;

const EVENTS: [&str; 28] = [
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:Replication:OperationNotTracked",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
    "s3:ObjectRestore:Delete",
];

/// The subject S3 publishes its notifications to SNS topics with.
const SNS_SUBJECT: &str = "Amazon S3 Notification";

/// One destination of a notification configuration.
#[derive(Debug, Clone)]
pub struct Destination {
    pub id: String,
    pub arn: String,
    /// `queue`, `function` or `topic`.
    pub kind: &'static str,
    pub events: Vec<String>,
    pub prefix: String,
    pub suffix: String,
    /// The filter rules as S3 returns them: `Prefix`/`Suffix`, in the order given.
    pub filter_rules: Vec<(&'static str, String)>,
}

/// Something that happened to an object, as a notification names it.
pub struct Event {
    /// `ObjectCreated:Put`, `ObjectRemoved:DeleteMarkerCreated`, …
    pub name: String,
    pub key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

impl Event {
    pub fn created(how: &str, key: &str, size: u64, etag: &str, version: Option<&str>) -> Event {
        Event {
            name: format!("ObjectCreated:{how}"),
            key: key.to_string(),
            size: Some(size),
            etag: Some(etag.to_string()),
            version_id: version.map(str::to_string),
        }
    }

    pub fn removed(how: &str, key: &str, version: Option<&str>) -> Event {
        Event::plain(&format!("ObjectRemoved:{how}"), key, version)
    }

    pub fn plain(name: &str, key: &str, version: Option<&str>) -> Event {
        Event {
            name: name.to_string(),
            key: key.to_string(),
            size: None,
            etag: None,
            version_id: version.map(str::to_string),
        }
    }
}

pub fn parse(doc: &Element) -> Result<Vec<Destination>> {
    let mut out = Vec::new();
    for (tag, arn_tag, kind) in [
        ("QueueConfiguration", "Queue", "queue"),
        ("CloudFunctionConfiguration", "CloudFunction", "function"),
        ("TopicConfiguration", "Topic", "topic"),
    ] {
        for c in doc.children(tag) {
            let arn = c.text_of(arn_tag).ok_or_else(errors::malformed_xml)?.to_string();
            let events: Vec<String> = c.children("Event").map(|e| e.text.trim().to_string()).collect();
            if events.is_empty() {
                return Err(errors::malformed_xml());
            }
            for e in &events {
                if !EVENTS.contains(&e.as_str()) {
                    return Err(errors::invalid_argument("The event is not supported for notifications", e, ""));
                }
            }
            let (mut prefix, mut suffix) = (None::<String>, None::<String>);
            let mut filter_rules = Vec::new();
            for rule in c
                .child("Filter")
                .and_then(|f| f.child("S3Key"))
                .map(|k| k.children("FilterRule").collect::<Vec<_>>())
                .unwrap_or_default()
            {
                let name = rule.text_of("Name").unwrap_or("").to_ascii_lowercase();
                let value = rule.text_of("Value").unwrap_or("").to_string();
                let (slot, canonical) = match name.as_str() {
                    "prefix" => (&mut prefix, "Prefix"),
                    "suffix" => (&mut suffix, "Suffix"),
                    _ => {
                        return Err(errors::invalid_argument(
                            "filter rule name must be either prefix or suffix",
                            "FilterRule",
                            &name,
                        ))
                    }
                };
                if slot.is_some() {
                    return Err(errors::invalid_argument(
                        format!("Cannot specify more than one {name} rule in a filter."),
                        "FilterRule",
                        &name,
                    ));
                }
                *slot = Some(value.clone());
                filter_rules.push((canonical, value));
            }
            // S3 assigns an Id to a configuration sent without one; `canonical` stores it, so
            // GetBucketNotificationConfiguration and every event's `configurationId` show the same.
            let id = c.text_of("Id").map(str::to_string).unwrap_or_else(assigned_id);
            out.push(Destination {
                id,
                arn,
                kind,
                events,
                prefix: prefix.unwrap_or_default(),
                suffix: suffix.unwrap_or_default(),
                filter_rules,
            });
        }
    }
    Ok(out)
}

/// An Id in the shape S3 assigns (base64 of a UUID, 48 characters).
fn assigned_id() -> String {
    crate::checksum::b64(uuid::Uuid::new_v4().to_string().as_bytes())
}

/// The document S3 keeps and returns for a valid configuration: each configuration with its Id
/// (assigned when missing), ARN, events and filter rules named `Prefix`/`Suffix`, in the model's
/// order (topics, queues, functions), then `EventBridgeConfiguration`.
pub fn canonical(doc: &Element) -> Result<String> {
    let destinations = parse(doc)?;
    let mut w = nimbus_core::query::XmlWriter::new();
    wire::open_root(&mut w, "NotificationConfiguration");
    for (kind, tag, arn_tag) in [
        ("topic", "TopicConfiguration", "Topic"),
        ("queue", "QueueConfiguration", "Queue"),
        ("function", "CloudFunctionConfiguration", "CloudFunction"),
    ] {
        for d in destinations.iter().filter(|d| d.kind == kind) {
            w.open(tag).text("Id", &d.id).text(arn_tag, &d.arn);
            for e in &d.events {
                w.text("Event", e);
            }
            if !d.filter_rules.is_empty() {
                w.open("Filter").open("S3Key");
                for (name, value) in &d.filter_rules {
                    w.open("FilterRule").text("Name", name).text("Value", value).close("FilterRule");
                }
                w.close("S3Key").close("Filter");
            }
            w.close(tag);
        }
    }
    if doc.child("EventBridgeConfiguration").is_some() {
        w.empty("EventBridgeConfiguration");
    }
    w.close("NotificationConfiguration");
    Ok(w.finish())
}

fn events_overlap(a: &str, b: &str) -> bool {
    let family = |e: &str| e.rsplit_once(':').map(|(f, _)| f.to_string()).unwrap_or_default();
    a == b || (a.ends_with(":*") && family(a) == family(b)) || (b.ends_with(":*") && family(a) == family(b))
}

/// S3's checks on PutBucketNotificationConfiguration.
pub fn validate(s3: &S3, r: &Req<'_>, doc: &Element) -> Result<()> {
    if doc.name != "NotificationConfiguration" {
        return Err(errors::malformed_xml());
    }
    let destinations = parse(doc)?;
    for (i, a) in destinations.iter().enumerate() {
        for b in &destinations[i + 1..] {
            let shared = a.events.iter().any(|x| b.events.iter().any(|y| events_overlap(x, y)));
            let prefixes = a.prefix.starts_with(&b.prefix) || b.prefix.starts_with(&a.prefix);
            let suffixes = a.suffix.ends_with(&b.suffix) || b.suffix.ends_with(&a.suffix);
            if shared && prefixes && suffixes {
                return Err(errors::invalid_argument(
                    "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
                    "Event",
                    "",
                ));
            }
        }
    }
    if r.header("x-amz-skip-destination-validation") == Some("true") {
        return Ok(());
    }
    let targets = s3.targets.read().clone();
    let mut unreachable = Vec::new();
    for d in &destinations {
        let ok = match (&targets, d.kind) {
            (Some(t), "queue") => t.deliver(&test_delivery(r, d)).is_ok(),
            (Some(t), "topic") => t.deliver(&test_delivery(r, d).with_subject(SNS_SUBJECT)).is_ok(),
            (Some(t), _) => t.accepts(&d.arn),
            (None, _) => false,
        };
        if !ok {
            unreachable.push(d);
        }
    }
    if let Some(d) = unreachable.first() {
        let what = match d.kind {
            "queue" => "queue",
            "function" => "function",
            _ => "topic",
        };
        return Err(AwsError::new(
            400,
            "InvalidArgument",
            "Unable to validate the following destination configurations",
        )
        .with_extra("ArgumentName1", d.arn.clone())
        .with_extra(
            "ArgumentValue1",
            format!("Permissions on the destination {what} do not allow S3 to publish notifications from this bucket"),
        ));
    }
    Ok(())
}

fn arn_account_region(arn: &str) -> (String, String) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    (parts.get(4).unwrap_or(&"").to_string(), parts.get(3).unwrap_or(&"").to_string())
}

fn source(bucket: &str, owner: &str) -> Source {
    Source {
        principal: "s3.amazonaws.com".into(),
        source_arn: Some(format!("arn:aws:s3:::{bucket}")),
        source_account: Some(owner.to_string()),
    }
}

fn test_delivery(r: &Req<'_>, d: &Destination) -> Delivery {
    let message = json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": wire::iso(r.now_millis()),
        "Bucket": r.bucket(),
        "RequestId": r.ctx.request_id,
        "HostId": wire::host_id(&r.ctx.request_id),
    });
    let (account, region) = arn_account_region(&d.arn);
    Delivery::new(&account, &region, &d.arn, message.to_string()).from_source(source(r.bucket(), &r.ctx.account))
}

/// The test event already went out (to queues and topics) while validating; nothing more to send.
pub fn send_test_events(_s3: &S3, _r: &Req<'_>) {}

fn sequencer() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let _ = NEXT.compare_exchange(
        0,
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    format!("{:016X}", NEXT.fetch_add(1, Ordering::SeqCst))
}

/// S3's key encoding in event records: form-style (`+` for spaces), `/` kept.
fn event_key(key: &str) -> String {
    key.split('/')
        .map(|seg| form_urlencoded::byte_serialize(seg.as_bytes()).collect::<String>())
        .collect::<Vec<_>>()
        .join("/")
}

impl S3 {
    /// Send `event` to every destination of the bucket's configuration that wants it.
    pub(crate) fn notify(&self, r: &Req<'_>, event: Event) {
        let Some((doc, owner, region)) = self.store.read(|s| {
            s.buckets.get(r.bucket()).and_then(|b| {
                b.meta.config.get("notification").map(|d| (d.clone(), b.meta.account.clone(), b.meta.region.clone()))
            })
        }) else {
            return;
        };
        let Some(config) = crate::xml::parse(doc.as_bytes()) else { return };
        let Ok(destinations) = parse(&config) else { return };
        let Some(targets) = self.targets.read().clone() else { return };
        let full = format!("s3:{}", event.name);
        let sequencer = sequencer();
        if config.child("EventBridgeConfiguration").is_some() {
            if let Some(e) = eventbridge_event(r, &event, &owner, &region, &sequencer, self.clock.now_millis()) {
                let bus = format!("arn:aws:events:{region}:{owner}:event-bus/default");
                if let Err(err) = targets.deliver(&Delivery::new(&owner, &region, &bus, e.to_string())) {
                    tracing::warn!(bucket = r.bucket(), error = %err, "S3 event not delivered to EventBridge");
                }
            }
        }
        for d in destinations {
            let wanted =
                d.events.iter().any(|e| *e == full || (e.ends_with(":*") && full.starts_with(&e[..e.len() - 1])));
            if !wanted || !event.key.starts_with(&d.prefix) || !event.key.ends_with(&d.suffix) {
                continue;
            }
            let mut object = json!({"key": event_key(&event.key), "sequencer": sequencer});
            if let Some(size) = event.size {
                object["size"] = json!(size);
            }
            if let Some(etag) = &event.etag {
                object["eTag"] = json!(etag);
            }
            if let Some(v) = &event.version_id {
                object["versionId"] = json!(v);
            }
            let principal = format!("AWS:{}", r.ctx.access_key_id.clone().unwrap_or_else(|| r.ctx.account.clone()));
            let record = json!({
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": wire::iso(self.clock.now_millis()),
                "eventName": event.name,
                "userIdentity": {"principalId": principal},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": r.ctx.request_id, "x-amz-id-2": wire::host_id(&r.ctx.request_id)},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": d.id,
                    "bucket": {"name": r.bucket(), "ownerIdentity": {"principalId": owner_principal(&owner)}, "arn": format!("arn:aws:s3:::{}", r.bucket())},
                    "object": object,
                },
            });
            let (account, target_region) = arn_account_region(&d.arn);
            let mut delivery =
                Delivery::new(&account, &target_region, &d.arn, json!({"Records": [record]}).to_string())
                    .from_source(source(r.bucket(), &owner));
            if d.kind == "topic" {
                delivery = delivery.with_subject(SNS_SUBJECT);
            }
            if let Err(err) = targets.deliver(&delivery) {
                tracing::warn!(bucket = r.bucket(), target = %d.arn, error = %err, "S3 notification not delivered");
            }
        }
    }
}

/// The event S3 sends to the account's default event bus (`EventBridgeConfiguration`): every
/// object event, `source: aws.s3`, the `detail-type` naming what happened, the key unencoded.
fn eventbridge_event(
    r: &Req<'_>,
    event: &Event,
    owner: &str,
    region: &str,
    sequencer: &str,
    now: i64,
) -> Option<serde_json::Value> {
    let (family, how) = event.name.split_once(':')?;
    let (detail_type, reason, deletion) = match (family, how) {
        ("ObjectCreated", "Put") => ("Object Created", Some("PutObject"), None),
        ("ObjectCreated", "Post") => ("Object Created", Some("POST Object"), None),
        ("ObjectCreated", "Copy") => ("Object Created", Some("CopyObject"), None),
        ("ObjectCreated", "CompleteMultipartUpload") => ("Object Created", Some("CompleteMultipartUpload"), None),
        ("ObjectRemoved", "Delete") => ("Object Deleted", Some(delete_reason(r)), Some("Permanently Deleted")),
        ("ObjectRemoved", "DeleteMarkerCreated") => {
            ("Object Deleted", Some(delete_reason(r)), Some("Delete Marker Created"))
        }
        ("ObjectTagging", "Put") => ("Object Tags Added", None, None),
        ("ObjectTagging", "Delete") => ("Object Tags Deleted", None, None),
        ("ObjectAcl", "Put") => ("Object ACL Updated", None, None),
        _ => return None,
    };
    let mut object = json!({"key": event.key});
    if let Some(size) = event.size {
        object["size"] = json!(size);
    }
    if let Some(etag) = &event.etag {
        object["etag"] = json!(etag);
    }
    if let Some(v) = &event.version_id {
        object["version-id"] = json!(v);
    }
    if family == "ObjectCreated" || family == "ObjectRemoved" {
        object["sequencer"] = json!(sequencer);
    }
    let mut detail = json!({
        "version": "0",
        "bucket": {"name": r.bucket()},
        "object": object,
        "request-id": r.ctx.request_id,
        "requester": r.ctx.account,
        "source-ip-address": "127.0.0.1",
    });
    if let Some(reason) = reason {
        detail["reason"] = json!(reason);
    }
    if let Some(deletion) = deletion {
        detail["deletion-type"] = json!(deletion);
    }
    Some(json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": owner,
        "time": nimbus_core::schedule::event_time(chrono::DateTime::from_timestamp_millis(now)?),
        "region": region,
        "resources": [format!("arn:aws:s3:::{}", r.bucket())],
        "detail": detail,
    }))
}

/// DeleteObject, or DeleteObjects for a key of a multi-object delete (`POST ?delete`).
fn delete_reason(r: &Req<'_>) -> &'static str {
    if r.has("delete") {
        "DeleteObjects"
    } else {
        "DeleteObject"
    }
}

/// The bucket owner's principal id as event records show it.
fn owner_principal(account: &str) -> String {
    format!("A{}", wire::canonical_id(account)[..13].to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(xml: &str) -> Element {
        crate::xml::parse(xml.as_bytes()).unwrap()
    }

    #[test]
    fn parses_filters_and_refuses_unknown_events_and_rules() {
        let config = doc(
            r#"<NotificationConfiguration><QueueConfiguration><Id>q</Id><Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>Prefix</Name><Value>in/</Value></FilterRule><FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule></S3Key></Filter></QueueConfiguration></NotificationConfiguration>"#,
        );
        let parsed = parse(&config).unwrap();
        assert_eq!((parsed[0].prefix.as_str(), parsed[0].suffix.as_str(), parsed[0].kind), ("in/", ".jpg", "queue"));
        let bad = doc(
            r#"<NotificationConfiguration><QueueConfiguration><Queue>arn</Queue><Event>s3:Nope</Event></QueueConfiguration></NotificationConfiguration>"#,
        );
        assert_eq!(parse(&bad).unwrap_err().message, "The event is not supported for notifications");
        let bad = doc(
            r#"<NotificationConfiguration><QueueConfiguration><Queue>arn</Queue><Event>s3:ObjectCreated:Put</Event><Filter><S3Key><FilterRule><Name>middle</Name><Value>x</Value></FilterRule></S3Key></Filter></QueueConfiguration></NotificationConfiguration>"#,
        );
        assert!(parse(&bad).unwrap_err().message.contains("prefix or suffix"));
    }

    #[test]
    fn canonical_document_keeps_assigned_ids_and_names_rules_as_s3_does() {
        let sent = doc(
            r#"<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CloudFunctionConfiguration><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>suffix</Name><Value>.jpg</Value></FilterRule><FilterRule><Name>PREFIX</Name><Value>in/</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration><QueueConfiguration><Id>mine</Id><Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue><Event>s3:ObjectRemoved:*</Event></QueueConfiguration><EventBridgeConfiguration/></NotificationConfiguration>"#,
        );
        let stored = canonical(&sent).unwrap();
        let again = parse(&doc(&stored)).unwrap();
        let function = again.iter().find(|d| d.kind == "function").unwrap();
        // The assigned Id is written into the document, so every later read sees the same one.
        assert_eq!(function.id.len(), 48);
        assert!(stored.contains(&format!("<CloudFunctionConfiguration><Id>{}</Id>", function.id)));
        assert_eq!(again.iter().find(|d| d.kind == "queue").unwrap().id, "mine");
        assert!(stored.contains(
            "<Filter><S3Key><FilterRule><Name>Suffix</Name><Value>.jpg</Value></FilterRule><FilterRule><Name>Prefix</Name><Value>in/</Value></FilterRule></S3Key></Filter>"
        ));
        // Model order: queues before functions, EventBridge last.
        assert!(stored.find("<QueueConfiguration>").unwrap() < stored.find("<CloudFunctionConfiguration>").unwrap());
        assert!(stored.ends_with("<EventBridgeConfiguration/></NotificationConfiguration>"));
    }

    #[test]
    fn event_families_overlap_through_wildcards() {
        assert!(events_overlap("s3:ObjectCreated:*", "s3:ObjectCreated:Put"));
        assert!(events_overlap("s3:ObjectCreated:Put", "s3:ObjectCreated:Put"));
        assert!(!events_overlap("s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"));
        assert!(!events_overlap("s3:ObjectCreated:*", "s3:ObjectRemoved:*"));
        assert_eq!(event_key("in/a file+b.txt"), "in/a+file%2Bb.txt");
    }
}
