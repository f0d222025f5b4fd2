//! `AWS::S3::Bucket` and `AWS::S3::BucketPolicy` through S3's REST interface. The bucket's
//! configuration properties (tags, versioning, CORS, lifecycle, encryption, public access block,
//! ownership controls, notifications) become the sub-resource documents S3's API takes; one
//! removed from the template on update is deleted from the bucket.

use http::Method;
use serde_json::Value;

use super::{doc_string, failure, required, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::boxed;
use crate::state::Resource;

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            type_name: "AWS::S3::Bucket",
            replace_on: &["BucketName", "ObjectLockEnabled"],
            create: boxed!(create_bucket),
            update: Some(boxed!(update_bucket, 3)),
            delete: |cx, r| Box::pin(delete_bucket(cx, r)),
            name_property: Some("BucketName"),
        },
        Spec {
            type_name: "AWS::S3::BucketPolicy",
            replace_on: &["Bucket"],
            create: boxed!(put_policy),
            update: Some(|cx, _r, p| Box::pin(put_policy(cx, p))),
            delete: |cx, r| Box::pin(delete_policy(cx, r)),
            name_property: None,
        },
    ]
}

/// What `Ref` and `Fn::GetAtt` answer for a bucket, as AWS documents them.
pub fn bucket_created(region: &str, name: &str) -> Created {
    Created::named(name)
        .attr("Arn", format!("arn:aws:s3:::{name}"))
        .attr("DomainName", format!("{name}.s3.amazonaws.com"))
        .attr("RegionalDomainName", format!("{name}.s3.{region}.amazonaws.com"))
        .attr("DualStackDomainName", format!("{name}.s3.dualstack.{region}.amazonaws.com"))
        .attr("WebsiteURL", format!("http://{name}.s3-website-{region}.amazonaws.com"))
}

fn tagging_xml(tags: &[(String, String)]) -> String {
    let mut xml = String::from("<Tagging><TagSet>");
    for (k, v) in tags {
        xml.push_str(&format!("<Tag><Key>{}</Key><Value>{}</Value></Tag>", esc(k), esc(v)));
    }
    xml.push_str("</TagSet></Tagging>");
    xml
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

async fn put_sub(cx: &Cx, name: &str, sub: &str, body: String) -> Result<(), String> {
    cx.api
        .raw(
            "s3",
            Method::PUT,
            &format!("/{name}"),
            vec![(sub.to_string(), String::new())],
            "application/xml",
            body.into_bytes(),
        )
        .await
        .map(|_| ())
        .map_err(|e| failure(&e))
}

async fn delete_sub(cx: &Cx, name: &str, sub: &str) -> Result<(), String> {
    tolerate_gone(
        cx.api
            .raw("s3", Method::DELETE, &format!("/{name}"), vec![(sub.to_string(), String::new())], "", Vec::new())
            .await
            .map(|_| ()),
    )
}

/// `<name>text</name>`, the text escaped.
fn leaf(name: &str, text: &str) -> String {
    format!("<{name}>{}</{name}>", esc(text))
}

/// `<name>…</name>` around already-built children.
fn node(name: &str, children: &str) -> String {
    format!("<{name}>{children}</{name}>")
}

fn items(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    }
}

/// One leaf per member of `v` (a string property or a list of them).
fn leaves(tag: &str, v: Option<&Value>) -> String {
    items(v).iter().filter_map(crate::eval::text_of).map(|t| leaf(tag, &t)).collect()
}

/// A leaf if the property is there.
fn opt_leaf(tag: &str, props: &Value, name: &str) -> String {
    str_prop(props, name).map(|t| leaf(tag, &t)).unwrap_or_default()
}

/// `CorsConfiguration` → PutBucketCors's `CORSConfiguration`.
fn cors_xml(cfg: &Value) -> String {
    let mut rules = String::new();
    for r in items(cfg.get("CorsRules")) {
        let mut x = opt_leaf("ID", &r, "Id");
        x += &leaves("AllowedHeader", r.get("AllowedHeaders"));
        x += &leaves("AllowedMethod", r.get("AllowedMethods"));
        x += &leaves("AllowedOrigin", r.get("AllowedOrigins"));
        x += &leaves("ExposeHeader", r.get("ExposedHeaders"));
        x += &opt_leaf("MaxAgeSeconds", &r, "MaxAge");
        rules += &node("CORSRule", &x);
    }
    node("CORSConfiguration", &rules)
}

fn tag_xml(t: &Value) -> String {
    node("Tag", &(opt_leaf("Key", t, "Key") + &opt_leaf("Value", t, "Value")))
}

/// `LifecycleConfiguration` → PutBucketLifecycleConfiguration's document.
fn lifecycle_xml(cfg: &Value) -> String {
    let mut rules = String::new();
    for r in items(cfg.get("Rules")) {
        let mut x = opt_leaf("ID", &r, "Id");
        // The filter: one condition alone, several under <And>.
        let mut conditions = Vec::new();
        if let Some(p) = str_prop(&r, "Prefix") {
            conditions.push(leaf("Prefix", &p));
        }
        for t in items(r.get("TagFilters")) {
            conditions.push(tag_xml(&t));
        }
        for (prop, tag) in
            [("ObjectSizeGreaterThan", "ObjectSizeGreaterThan"), ("ObjectSizeLessThan", "ObjectSizeLessThan")]
        {
            if let Some(v) = str_prop(&r, prop) {
                conditions.push(leaf(tag, &v));
            }
        }
        let filter = match conditions.len() {
            0 | 1 => conditions.concat(),
            _ => node("And", &conditions.concat()),
        };
        x += &node("Filter", &filter);
        x += &opt_leaf("Status", &r, "Status");
        let mut transitions = items(r.get("Transitions"));
        transitions.extend(items(r.get("Transition")));
        for t in transitions {
            let when = opt_leaf("Date", &t, "TransitionDate") + &opt_leaf("Days", &t, "TransitionInDays");
            x += &node("Transition", &(when + &opt_leaf("StorageClass", &t, "StorageClass")));
        }
        let mut noncurrent = items(r.get("NoncurrentVersionTransitions"));
        noncurrent.extend(items(r.get("NoncurrentVersionTransition")));
        for t in noncurrent {
            let inner = opt_leaf("NoncurrentDays", &t, "TransitionInDays")
                + &opt_leaf("StorageClass", &t, "StorageClass")
                + &opt_leaf("NewerNoncurrentVersions", &t, "NewerNoncurrentVersions");
            x += &node("NoncurrentVersionTransition", &inner);
        }
        let expiration = opt_leaf("Date", &r, "ExpirationDate")
            + &opt_leaf("Days", &r, "ExpirationInDays")
            + &opt_leaf("ExpiredObjectDeleteMarker", &r, "ExpiredObjectDeleteMarker");
        if !expiration.is_empty() {
            x += &node("Expiration", &expiration);
        }
        let noncurrent_expiration = match r.get("NoncurrentVersionExpiration") {
            Some(e) => {
                opt_leaf("NoncurrentDays", e, "NoncurrentDays")
                    + &opt_leaf("NewerNoncurrentVersions", e, "NewerNoncurrentVersions")
            }
            None => opt_leaf("NoncurrentDays", &r, "NoncurrentVersionExpirationInDays"),
        };
        if !noncurrent_expiration.is_empty() {
            x += &node("NoncurrentVersionExpiration", &noncurrent_expiration);
        }
        if let Some(a) = r.get("AbortIncompleteMultipartUpload") {
            x += &node("AbortIncompleteMultipartUpload", &opt_leaf("DaysAfterInitiation", a, "DaysAfterInitiation"));
        }
        rules += &node("Rule", &x);
    }
    node("LifecycleConfiguration", &rules)
}

/// `BucketEncryption` → PutBucketEncryption's `ServerSideEncryptionConfiguration`.
fn encryption_xml(cfg: &Value) -> String {
    let mut rules = String::new();
    for r in items(cfg.get("ServerSideEncryptionConfiguration")) {
        let mut x = String::new();
        if let Some(d) = r.get("ServerSideEncryptionByDefault") {
            let inner = opt_leaf("SSEAlgorithm", d, "SSEAlgorithm") + &opt_leaf("KMSMasterKeyID", d, "KMSMasterKeyID");
            x += &node("ApplyServerSideEncryptionByDefault", &inner);
        }
        x += &opt_leaf("BucketKeyEnabled", &r, "BucketKeyEnabled");
        rules += &node("Rule", &x);
    }
    node("ServerSideEncryptionConfiguration", &rules)
}

/// `PublicAccessBlockConfiguration` → PutPublicAccessBlock's document (same member names).
fn public_access_block_xml(cfg: &Value) -> String {
    let inner: String = ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"]
        .iter()
        .map(|n| opt_leaf(n, cfg, n))
        .collect();
    node("PublicAccessBlockConfiguration", &inner)
}

/// `OwnershipControls` → PutBucketOwnershipControls's document.
fn ownership_xml(cfg: &Value) -> String {
    let rules: String = items(cfg.get("Rules"))
        .iter()
        .map(|r| node("Rule", &opt_leaf("ObjectOwnership", r, "ObjectOwnership")))
        .collect();
    node("OwnershipControls", &rules)
}

fn filter_xml(c: &Value) -> String {
    let rules: Vec<Value> =
        c.get("Filter").and_then(|f| f.get("S3Key")).map(|k| items(k.get("Rules"))).unwrap_or_default();
    if rules.is_empty() {
        return String::new();
    }
    let inner: String = rules
        .iter()
        .map(|r| node("FilterRule", &(opt_leaf("Name", r, "Name") + &opt_leaf("Value", r, "Value"))))
        .collect();
    node("Filter", &node("S3Key", &inner))
}

/// `NotificationConfiguration` → PutBucketNotificationConfiguration's document.
fn notification_xml(cfg: &Value) -> String {
    let mut x = String::new();
    for (list, element, arn_prop, arn_tag) in [
        ("QueueConfigurations", "QueueConfiguration", "Queue", "Queue"),
        ("TopicConfigurations", "TopicConfiguration", "Topic", "Topic"),
        ("LambdaConfigurations", "CloudFunctionConfiguration", "Function", "CloudFunction"),
    ] {
        for c in items(cfg.get(list)) {
            let inner = opt_leaf(arn_tag, &c, arn_prop) + &opt_leaf("Event", &c, "Event") + &filter_xml(&c);
            x += &node(element, &inner);
        }
    }
    if let Some(eb) = cfg.get("EventBridgeConfiguration") {
        if eb.get("EventBridgeEnabled").and_then(crate::eval::text_of).as_deref() != Some("false") {
            x += "<EventBridgeConfiguration></EventBridgeConfiguration>";
        }
    }
    node("NotificationConfiguration", &x)
}

/// The bucket configuration properties: the sub-resource each is put to and its document.
type Document = fn(&Value) -> String;

const CONFIG: &[(&str, &str, Document)] = &[
    ("CorsConfiguration", "cors", cors_xml),
    ("LifecycleConfiguration", "lifecycle", lifecycle_xml),
    ("BucketEncryption", "encryption", encryption_xml),
    ("PublicAccessBlockConfiguration", "publicAccessBlock", public_access_block_xml),
    ("OwnershipControls", "ownershipControls", ownership_xml),
    ("NotificationConfiguration", "notification", notification_xml),
];

/// Apply the template's configuration; `old` (on update) names what was there before, so a
/// property removed from the template is removed from the bucket.
async fn configure(cx: &Cx, name: &str, props: &Value, old: Option<&Value>) -> Result<(), String> {
    let tags = cx.tag_list(props);
    if !tags.is_empty() {
        put_sub(cx, name, "tagging", tagging_xml(&tags)).await?;
    } else if old.is_some_and(|o| !cx.tag_list(o).is_empty()) {
        delete_sub(cx, name, "tagging").await?;
    }
    if let Some(status) = props.get("VersioningConfiguration").and_then(|v| str_prop(v, "Status")) {
        let xml = format!("<VersioningConfiguration><Status>{}</Status></VersioningConfiguration>", esc(&status));
        put_sub(cx, name, "versioning", xml).await?;
    }
    for (prop, sub, document) in CONFIG {
        match (props.get(*prop), old.and_then(|o| o.get(*prop))) {
            (Some(new), Some(before)) if new == before => {}
            (Some(new), _) => put_sub(cx, name, sub, document(new)).await?,
            (None, Some(_)) if *sub == "notification" => {
                put_sub(cx, name, sub, "<NotificationConfiguration></NotificationConfiguration>".into()).await?
            }
            (None, Some(_)) => delete_sub(cx, name, sub).await?,
            (None, None) => {}
        }
    }
    Ok(())
}

async fn create_bucket(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "BucketName").unwrap_or_else(|| cx.generated_name(63).to_lowercase());
    cx.api
        .raw("s3", Method::PUT, &format!("/{name}"), Vec::new(), "application/xml", Vec::new())
        .await
        .map_err(|e| failure(&e))?;
    if let Err(e) = configure(&cx, &name, &props, None).await {
        // A bucket whose configuration S3 refused is not left behind.
        let _ = cx.api.raw("s3", Method::DELETE, &format!("/{name}"), Vec::new(), "", Vec::new()).await;
        return Err(e);
    }
    Ok(bucket_created(&cx.api.region, &name))
}

async fn update_bucket(cx: Cx, old: Resource, props: Value) -> Outcome {
    let name = old.physical_id.clone().unwrap_or_default();
    configure(&cx, &name, &props, Some(&old.properties)).await?;
    Ok(bucket_created(&cx.api.region, &name))
}

async fn delete_bucket(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    tolerate_gone(cx.api.raw("s3", Method::DELETE, &format!("/{name}"), Vec::new(), "", Vec::new()).await.map(|_| ()))
}

async fn put_policy(cx: Cx, props: Value) -> Outcome {
    let bucket = str_prop(&props, "Bucket").ok_or_else(|| required(&props, "Bucket").err().unwrap_or_default())?;
    let doc = doc_string(required(&props, "PolicyDocument")?);
    cx.api
        .raw(
            "s3",
            Method::PUT,
            &format!("/{bucket}"),
            vec![("policy".into(), String::new())],
            "application/json",
            doc.into_bytes(),
        )
        .await
        .map_err(|e| failure(&e))?;
    Ok(Created::named(bucket))
}

async fn delete_policy(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    tolerate_gone(
        cx.api
            .raw("s3", Method::DELETE, &format!("/{name}"), vec![("policy".into(), String::new())], "", Vec::new())
            .await
            .map(|_| ()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_attributes_are_as_aws_documents_them() {
        let c = bucket_created("us-east-1", "my-bucket");
        assert_eq!(c.ref_value, Value::String("my-bucket".into()));
        assert_eq!(c.attributes["Arn"], "arn:aws:s3:::my-bucket");
        assert_eq!(c.attributes["DomainName"], "my-bucket.s3.amazonaws.com");
        assert_eq!(c.attributes["RegionalDomainName"], "my-bucket.s3.us-east-1.amazonaws.com");
        assert_eq!(c.attributes["WebsiteURL"], "http://my-bucket.s3-website-us-east-1.amazonaws.com");
    }

    #[test]
    fn lifecycle_rules_with_several_conditions_filter_under_and() {
        let cfg = serde_json::json!({"Rules": [{"Id": "r", "Status": "Enabled", "Prefix": "logs/",
            "TagFilters": [{"Key": "k", "Value": "v"}], "ExpirationInDays": 30,
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
            "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 90}]}]});
        assert_eq!(
            lifecycle_xml(&cfg),
            "<LifecycleConfiguration><Rule><ID>r</ID><Filter><And><Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>\
             <Status>Enabled</Status><Transition><Days>90</Days><StorageClass>GLACIER</StorageClass></Transition>\
             <Expiration><Days>30</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays></NoncurrentVersionExpiration>\
             </Rule></LifecycleConfiguration>"
        );
        let one = serde_json::json!({"Rules": [{"Status": "Enabled", "Prefix": "tmp/", "ExpirationInDays": 1}]});
        assert!(lifecycle_xml(&one).contains("<Filter><Prefix>tmp/</Prefix></Filter>"));
    }

    #[test]
    fn notification_configurations_use_s3s_element_names() {
        let cfg = serde_json::json!({
            "LambdaConfigurations": [{"Event": "s3:ObjectCreated:*", "Function": "arn:aws:lambda:us-east-1:000000000000:function:f",
                "Filter": {"S3Key": {"Rules": [{"Name": "suffix", "Value": ".csv"}]}}}],
            "TopicConfigurations": [{"Event": "s3:ObjectRemoved:*", "Topic": "arn:aws:sns:us-east-1:000000000000:t"}],
            "EventBridgeConfiguration": {"EventBridgeEnabled": true}});
        assert_eq!(
            notification_xml(&cfg),
            "<NotificationConfiguration><TopicConfiguration><Topic>arn:aws:sns:us-east-1:000000000000:t</Topic><Event>s3:ObjectRemoved:*</Event></TopicConfiguration>\
             <CloudFunctionConfiguration><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction><Event>s3:ObjectCreated:*</Event>\
             <Filter><S3Key><FilterRule><Name>suffix</Name><Value>.csv</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration>\
             <EventBridgeConfiguration></EventBridgeConfiguration></NotificationConfiguration>"
        );
    }

    #[test]
    fn cors_encryption_and_ownership_documents() {
        let cors = serde_json::json!({"CorsRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ExposedHeaders": ["ETag"], "MaxAge": 60}]});
        assert_eq!(
            cors_xml(&cors),
            "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>60</MaxAgeSeconds></CORSRule></CORSConfiguration>"
        );
        let enc = serde_json::json!({"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}}]});
        assert_eq!(
            encryption_xml(&enc),
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"
        );
        let own = serde_json::json!({"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]});
        assert_eq!(ownership_xml(&own), "<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>");
    }

    #[test]
    fn tags_are_escaped_in_the_tagging_document() {
        let xml = tagging_xml(&[("a&b".into(), "<v>".into())]);
        assert_eq!(xml, "<Tagging><TagSet><Tag><Key>a&amp;b</Key><Value>&lt;v&gt;</Value></Tag></TagSet></Tagging>");
    }
}
