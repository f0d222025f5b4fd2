//! Bucket sub-resources: versioning, tagging, CORS (served on preflight and responses),
//! lifecycle (expiration, noncurrent expiration and abort-incomplete-multipart enforced on
//! nimbus's clock), notification (see [`crate::notify`]), and the ones only stored and
//! returned: policy, ACL, encryption, ownership controls, public access block, website,
//! logging, replication, accelerate, request payment, object lock.

use nimbus_core::query::XmlWriter;
use nimbus_core::{AwsError, HttpResponse, RequestBody};

use crate::errors::{self, Result};
use crate::request::{self, Req};
use crate::state::{bucket_key, object_key, upload_key, ObjectHeaders, ObjectVersion, Record};
use crate::wire;
use crate::xml::Element;
use crate::{owned, S3};

/// Query keys that name a bucket sub-resource handled here.
const SUBRESOURCES: [&str; 17] = [
    "versioning",
    "tagging",
    "cors",
    "policy",
    "lifecycle",
    "website",
    "replication",
    "object-lock",
    "encryption",
    "ownershipControls",
    "publicAccessBlock",
    "notification",
    "acl",
    "logging",
    "accelerate",
    "requestPayment",
    "policyStatus",
];

const UNSUPPORTED: [&str; 5] = ["analytics", "metrics", "inventory", "intelligent-tiering", "metadataTable"];

pub fn subresource(r: &Req<'_>) -> Option<&'static str> {
    SUBRESOURCES.iter().chain(UNSUPPORTED.iter()).copied().find(|k| r.has(k))
}

pub fn known_region(r: &str) -> bool {
    const REGIONS: [&str; 33] = [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "af-south-1",
        "ap-east-1",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-south-1",
        "eu-south-2",
        "eu-north-1",
        "il-central-1",
        "me-south-1",
        "me-central-1",
        "sa-east-1",
        "us-gov-east-1",
        "us-gov-west-1",
        "cn-north-1",
        "cn-northwest-1",
    ];
    REGIONS.contains(&r) || r == "EU"
}

/// The ACL document of a canned ACL, as GetBucketAcl/GetObjectAcl return it.
pub fn canned_acl(account: &str, canned: &str) -> String {
    let id = wire::canonical_id(account);
    let mut w = XmlWriter::new();
    wire::open_root(&mut w, "AccessControlPolicy");
    w.open("Owner").text("ID", &id).close("Owner").open("AccessControlList");
    let grant = |w: &mut XmlWriter, grantee: &str, permission: &str| {
        w.open("Grant");
        if grantee == "owner" {
            w.raw("<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">");
            w.text("ID", &id);
        } else {
            w.raw("<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">");
            w.text("URI", grantee);
        }
        w.close("Grantee").text("Permission", permission).close("Grant");
    };
    grant(&mut w, "owner", "FULL_CONTROL");
    const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
    match canned {
        "public-read" => grant(&mut w, ALL_USERS, "READ"),
        "public-read-write" => {
            grant(&mut w, ALL_USERS, "READ");
            grant(&mut w, ALL_USERS, "WRITE");
        }
        "authenticated-read" => grant(&mut w, "http://acs.amazonaws.com/groups/global/AuthenticatedUsers", "READ"),
        _ => {}
    }
    w.close("AccessControlList").close("AccessControlPolicy");
    w.finish()
}

pub fn ownership_document(ownership: &str) -> String {
    let mut w = XmlWriter::new();
    wire::open_root(&mut w, "OwnershipControls");
    w.open("Rule").text("ObjectOwnership", ownership).close("Rule").close("OwnershipControls");
    w.finish()
}

/// What GET answers for a sub-resource never set: S3's default, or its "does not exist" error.
fn default_for(name: &str, r: &Req<'_>, account: &str) -> Result<String> {
    let bucket = r.bucket();
    let doc = |tag: &str, inner: &str| format!("<{tag} xmlns=\"{}\">{inner}</{tag}>", wire::XMLNS);
    Ok(match name {
        "tagging" => return Err(errors::no_such_tag_set(bucket)),
        "cors" => return Err(errors::no_such_config("NoSuchCORSConfiguration", "The CORS configuration does not exist", bucket)),
        "policy" => return Err(errors::no_such_config("NoSuchBucketPolicy", "The bucket policy does not exist", bucket)),
        "policyStatus" => doc("PolicyStatus", "<IsPublic>false</IsPublic>"),
        "lifecycle" => {
            return Err(errors::no_such_config("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist", bucket))
        }
        "website" => {
            return Err(errors::no_such_config(
                "NoSuchWebsiteConfiguration",
                "The specified bucket does not have a website configuration",
                bucket,
            ))
        }
        "replication" => {
            return Err(errors::no_such_config(
                "ReplicationConfigurationNotFoundError",
                "The replication configuration was not found",
                bucket,
            ))
        }
        "object-lock" => {
            return Err(errors::no_such_config(
                "ObjectLockConfigurationNotFoundError",
                "Object Lock configuration does not exist for this bucket",
                bucket,
            ))
        }
        // Since 2023 every bucket is encrypted (SSE-S3), owner-enforced and blocks public access.
        "encryption" => doc(
            "ServerSideEncryptionConfiguration",
            "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule>",
        ),
        "ownershipControls" => ownership_document("BucketOwnerEnforced"),
        "publicAccessBlock" => doc(
            "PublicAccessBlockConfiguration",
            "<BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets>",
        ),
        "notification" => doc("NotificationConfiguration", ""),
        "acl" => canned_acl(account, "private"),
        "logging" => doc("BucketLoggingStatus", ""),
        "accelerate" => doc("AccelerateConfiguration", ""),
        "requestPayment" => doc("RequestPaymentConfiguration", "<Payer>BucketOwner</Payer>"),
        _ => doc(name, ""),
    })
}

fn not_found_on_delete(name: &str) -> bool {
    !matches!(
        name,
        "tagging"
            | "cors"
            | "policy"
            | "lifecycle"
            | "website"
            | "replication"
            | "encryption"
            | "ownershipControls"
            | "publicAccessBlock"
    )
}

/// PUT/GET/DELETE of a bucket sub-resource.
pub async fn handle(s3: &S3, r: &Req<'_>, body: &mut RequestBody, name: &'static str) -> Result<HttpResponse> {
    use http::Method;
    if UNSUPPORTED.contains(&name) {
        return Err(errors::not_implemented(&format!("The bucket {name} configuration")));
    }
    let (meta, account) = s3.store.read(|s| owned(s, r).map(|b| (b.meta.clone(), b.meta.account.clone())))?;
    match r.head.method {
        Method::GET if name == "versioning" => Ok(wire::document("VersioningConfiguration", |w| {
            w.opt_text("Status", meta.versioning.as_deref());
        })),
        Method::GET if name == "policy" => match meta.config.get("policy") {
            Some(p) => Ok(HttpResponse::new(200, "application/json", p.clone())),
            None => default_for(name, r, &account).map(|b| wire::xml_response(200, b)),
        },
        Method::GET => match meta.config.get(name) {
            Some(doc) => Ok(wire::xml_response(200, doc.clone())),
            None => default_for(name, r, &account).map(|b| wire::xml_response(200, b)),
        },
        Method::PUT => {
            let bytes = request::read_body(r, body).await?;
            if let Some(md5) = r.header("content-md5") {
                match crate::checksum::unb64(md5) {
                    Some(raw) if raw.len() == 16 => {
                        if raw != crate::checksum::md5(&bytes) {
                            return Err(errors::bad_digest_md5());
                        }
                    }
                    _ => return Err(errors::invalid_digest_md5()),
                }
            }
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| errors::malformed_xml())?;
            let mut versioning = meta.versioning.clone();
            let stored = if name == "policy" {
                let ok = text.trim_start().starts_with('{') && serde_json::from_str::<serde_json::Value>(&text).is_ok();
                if !ok {
                    return Err(AwsError::new(
                        400,
                        "MalformedPolicy",
                        "Policies must be valid JSON and the first byte must be '{'",
                    ));
                }
                Some(text)
            } else if name == "acl" && text.trim().is_empty() {
                Some(canned_acl(&account, r.header("x-amz-acl").unwrap_or("private")))
            } else {
                let doc = crate::xml::parse(text.as_bytes()).ok_or_else(errors::malformed_xml)?;
                validate(s3, r, name, &doc)?;
                if name == "versioning" {
                    match doc.text_of("Status") {
                        Some(s @ ("Enabled" | "Suspended")) => versioning = Some(s.to_string()),
                        None if meta.versioning.is_none() => {}
                        None => {}
                        Some(_) => return Err(errors::malformed_xml()),
                    }
                    None
                } else if name == "notification" {
                    Some(crate::notify::canonical(&doc)?)
                } else {
                    Some(text)
                }
            };
            s3.store.write(|s, c| {
                let mut meta = owned(s, r)?.meta.clone();
                if let Some(doc) = stored {
                    meta.config.insert(name.to_string(), doc);
                }
                meta.versioning = versioning;
                c.put(bucket_key(r.bucket()), Record::Bucket(meta));
                Ok(())
            })?;
            if name == "notification" {
                crate::notify::send_test_events(s3, r);
            }
            let status = if matches!(name, "tagging" | "policy") { 204 } else { 200 };
            Ok(HttpResponse::new(status, "application/xml", ""))
        }
        Method::DELETE if not_found_on_delete(name) => Err(errors::method_not_allowed("DELETE")),
        Method::DELETE => {
            s3.store.write(|s, c| {
                let mut meta = owned(s, r)?.meta.clone();
                meta.config.remove(name);
                c.put(bucket_key(r.bucket()), Record::Bucket(meta));
                Ok(())
            })?;
            Ok(HttpResponse::new(204, "application/xml", ""))
        }
        _ => Err(errors::method_not_allowed(r.head.method.as_str())),
    }
}

/// The checks S3 makes on a sub-resource document before storing it.
fn validate(s3: &S3, r: &Req<'_>, name: &str, doc: &Element) -> Result<()> {
    match name {
        "tagging" => {
            let set = doc.child("TagSet").filter(|_| doc.name == "Tagging").ok_or_else(errors::malformed_xml)?;
            if set.children("Tag").count() > 50 {
                return Err(AwsError::new(400, "BadRequest", "Bucket tag count cannot be greater than 50"));
            }
            let mut seen = std::collections::HashSet::new();
            for tag in set.children("Tag") {
                let key = tag.text_of("Key").ok_or_else(errors::malformed_xml)?;
                if !seen.insert(key.to_string()) {
                    return Err(AwsError::new(400, "InvalidTag", "Cannot provide multiple Tags with the same key"));
                }
            }
            Ok(())
        }
        "cors" => {
            if doc.name != "CORSConfiguration" || doc.children("CORSRule").next().is_none() {
                return Err(errors::malformed_xml());
            }
            for rule in doc.children("CORSRule") {
                if rule.child("AllowedOrigin").is_none() || rule.child("AllowedMethod").is_none() {
                    return Err(errors::malformed_xml());
                }
                for m in rule.children("AllowedMethod") {
                    if !["GET", "PUT", "HEAD", "POST", "DELETE"].contains(&m.text.trim()) {
                        return Err(errors::invalid_request(format!(
                            "Found unsupported HTTP method in CORS config. Unsupported method is {}",
                            m.text.trim()
                        )));
                    }
                }
            }
            Ok(())
        }
        "lifecycle" => {
            if doc.name != "LifecycleConfiguration" || doc.children("Rule").next().is_none() {
                return Err(errors::malformed_xml());
            }
            for rule in doc.children("Rule") {
                if !matches!(rule.text_of("Status"), Some("Enabled" | "Disabled")) {
                    return Err(errors::malformed_xml());
                }
                if rule.child("Filter").is_none() && rule.child("Prefix").is_none() {
                    return Err(errors::malformed_xml());
                }
            }
            Ok(())
        }
        "notification" => crate::notify::validate(s3, r, doc),
        "versioning" if doc.name != "VersioningConfiguration" => Err(errors::malformed_xml()),
        _ => Ok(()),
    }
}

// ---- CORS ------------------------------------------------------------------------------------

struct CorsRule {
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    expose: Vec<String>,
    max_age: Option<String>,
}

fn cors_rules(s3: &S3, bucket: &str) -> Option<Vec<CorsRule>> {
    let doc = s3.store.read(|s| s.buckets.get(bucket).and_then(|b| b.meta.config.get("cors").cloned()))?;
    let doc = crate::xml::parse(doc.as_bytes())?;
    let texts = |e: &Element, n: &str| e.children(n).map(|c| c.text.trim().to_string()).collect::<Vec<_>>();
    Some(
        doc.children("CORSRule")
            .map(|r| CorsRule {
                origins: texts(r, "AllowedOrigin"),
                methods: texts(r, "AllowedMethod"),
                headers: texts(r, "AllowedHeader").into_iter().map(|h| h.to_ascii_lowercase()).collect(),
                expose: texts(r, "ExposeHeader"),
                max_age: r.text_of("MaxAgeSeconds").map(str::to_string),
            })
            .collect(),
    )
}

fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((a, b)) => text.len() >= a.len() + b.len() && text.starts_with(a) && text.ends_with(b),
    }
}

fn matching<'a>(rules: &'a [CorsRule], origin: &str, method: &str, headers: &[String]) -> Option<&'a CorsRule> {
    rules.iter().find(|rule| {
        rule.origins.iter().any(|o| wildcard(o, origin))
            && rule.methods.iter().any(|m| m == method)
            && headers.iter().all(|h| rule.headers.iter().any(|p| wildcard(p, h)))
    })
}

fn cors_headers(rule: &CorsRule, origin: &str, method: Option<&str>, out: &mut Vec<(String, String)>) {
    let any = rule.origins.iter().any(|o| o == "*");
    out.push(("Access-Control-Allow-Origin".into(), if any { "*".into() } else { origin.to_string() }));
    out.push(("Access-Control-Allow-Methods".into(), rule.methods.join(", ")));
    if !any {
        out.push(("Access-Control-Allow-Credentials".into(), "true".into()));
    }
    out.push(("Vary".into(), "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".into()));
    if !rule.expose.is_empty() {
        out.push(("Access-Control-Expose-Headers".into(), rule.expose.join(", ")));
    }
    if let (Some(age), Some(_)) = (&rule.max_age, method) {
        out.push(("Access-Control-Max-Age".into(), age.clone()));
    }
}

/// `OPTIONS` preflight, answered from the bucket's CORS rules as S3 does.
pub fn preflight(s3: &S3, r: &Req<'_>) -> Result<HttpResponse> {
    s3.store.read(|s| owned(s, r).map(|_| ()))?;
    let (Some(origin), Some(method)) = (r.header("origin"), r.header("access-control-request-method")) else {
        return Err(errors::invalid_request("Insufficient information. Origin request header needed."));
    };
    let cors_error = |m: &str| {
        AwsError::new(403, "AccessForbidden", m)
            .with_extra("Method", method)
            .with_extra("ResourceType", if r.key().is_empty() { "BUCKET" } else { "OBJECT" })
    };
    let Some(rules) = cors_rules(s3, r.bucket()) else {
        return Err(cors_error("CORSResponse: CORS is not enabled for this bucket."));
    };
    let requested: Vec<String> = r
        .header("access-control-request-headers")
        .map(|h| h.split(',').map(|x| x.trim().to_ascii_lowercase()).filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let Some(rule) = matching(&rules, origin, method, &requested) else {
        return Err(cors_error("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."));
    };
    let mut response = HttpResponse::new(200, "application/xml", "");
    cors_headers(rule, origin, Some(method), &mut response.headers);
    if !requested.is_empty() {
        response.headers.push(("Access-Control-Allow-Headers".into(), requested.join(", ")));
    }
    Ok(response)
}

/// CORS headers on an ordinary response to a browser request (`Origin` present).
pub fn add_cors_headers(s3: &S3, r: &Req<'_>, response: &mut HttpResponse) {
    let Some(origin) = r.header("origin") else { return };
    if r.bucket().is_empty() {
        return;
    }
    let Some(rules) = cors_rules(s3, r.bucket()) else { return };
    if let Some(rule) = matching(&rules, origin, r.head.method.as_str(), &[]) {
        cors_headers(rule, origin, None, &mut response.headers);
    }
}

// ---- Lifecycle -------------------------------------------------------------------------------

const DAY_MS: i64 = 86_400_000;

/// S3 acts at the first midnight (UTC) after `days` days have passed.
fn due(from: i64, days: i64) -> i64 {
    let t = from + days * DAY_MS;
    (t + DAY_MS - 1).div_euclid(DAY_MS) * DAY_MS
}

struct LifecycleRule {
    prefix: String,
    tags: Vec<(String, String)>,
    expiration_days: Option<i64>,
    expiration_date: Option<i64>,
    noncurrent_days: Option<i64>,
    abort_days: Option<i64>,
}

fn lifecycle_rules(doc: &str) -> Vec<LifecycleRule> {
    let Some(doc) = crate::xml::parse(doc.as_bytes()) else { return Vec::new() };
    let num = |e: Option<&Element>, n: &str| e.and_then(|e| e.text_of(n)).and_then(|t| t.parse::<i64>().ok());
    doc.children("Rule")
        .filter(|r| r.text_of("Status") == Some("Enabled"))
        .map(|r| {
            let filter = r.child("Filter");
            let and = filter.and_then(|f| f.child("And"));
            let prefix = and
                .and_then(|a| a.text_of("Prefix"))
                .or_else(|| filter.and_then(|f| f.text_of("Prefix")))
                .or_else(|| r.text_of("Prefix"))
                .unwrap_or("")
                .to_string();
            let tag_of = |t: &Element| {
                (t.text_of("Key").unwrap_or("").to_string(), t.text_of("Value").unwrap_or("").to_string())
            };
            let mut tags: Vec<(String, String)> =
                and.map(|a| a.children("Tag").map(tag_of).collect()).unwrap_or_default();
            if let Some(t) = filter.and_then(|f| f.child("Tag")) {
                tags.push(tag_of(t));
            }
            let expiration = r.child("Expiration");
            LifecycleRule {
                prefix,
                tags,
                expiration_days: num(expiration, "Days"),
                expiration_date: expiration
                    .and_then(|e| e.text_of("Date"))
                    .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                    .map(|d| d.timestamp_millis()),
                noncurrent_days: num(r.child("NoncurrentVersionExpiration"), "NoncurrentDays"),
                abort_days: num(r.child("AbortIncompleteMultipartUpload"), "DaysAfterInitiation"),
            }
        })
        .collect()
}

impl S3 {
    /// Apply the bucket's lifecycle rules as of nimbus's clock (run before reads of a bucket
    /// that has rules, so advancing the clock is all a test needs).
    pub(crate) fn enforce_lifecycle(&self, bucket: &str) {
        let Some(doc) =
            self.store.read(|s| s.buckets.get(bucket).and_then(|b| b.meta.config.get("lifecycle").cloned()))
        else {
            return;
        };
        let rules = lifecycle_rules(&doc);
        if rules.is_empty() {
            return;
        }
        let now = self.clock.now_millis();
        let result = self.store.write(|s, c| {
            let Some(b) = s.buckets.get(bucket) else { return Ok(Vec::new()) };
            let versioned = b.meta.versioning.as_deref() == Some("Enabled");
            let mut files = Vec::new();
            for (key, record) in &b.objects {
                let applies = |rule: &LifecycleRule, v: &ObjectVersion| {
                    key.starts_with(&rule.prefix) && rule.tags.iter().all(|(k, val)| v.headers.tags.get(k) == Some(val))
                };
                let mut changed = record.clone();
                let mut dirty = false;
                if let Some(v) = record.live() {
                    let expire = rules.iter().filter(|rule| applies(rule, v)).any(|rule| {
                        rule.expiration_days.is_some_and(|d| now >= due(v.last_modified, d))
                            || rule.expiration_date.is_some_and(|d| now >= d)
                    });
                    if expire {
                        dirty = true;
                        if versioned {
                            changed.versions.push(ObjectVersion {
                                version_id: crate::object::new_version_id(),
                                delete_marker: true,
                                file: String::new(),
                                size: 0,
                                etag: String::new(),
                                last_modified: now / 1000 * 1000,
                                headers: ObjectHeaders::default(),
                                checksum: None,
                                parts: Vec::new(),
                                owner: v.owner.clone(),
                            });
                        } else {
                            files.extend(changed.versions.drain(..).map(|v| v.file).filter(|f| !f.is_empty()));
                        }
                    }
                }
                // Noncurrent versions: counted from when the next version replaced them.
                if let Some(days) =
                    rules.iter().filter(|r| key.starts_with(&r.prefix)).filter_map(|r| r.noncurrent_days).min()
                {
                    let n = changed.versions.len();
                    let mut keep = Vec::with_capacity(n);
                    for i in 0..n {
                        let v = &changed.versions[i];
                        let superseded = changed.versions.get(i + 1).map(|next| next.last_modified);
                        if superseded.is_some_and(|t| now >= due(t, days)) {
                            dirty = true;
                            if !v.file.is_empty() {
                                files.push(v.file.clone());
                            }
                        } else {
                            keep.push(v.clone());
                        }
                    }
                    changed.versions = keep;
                }
                if dirty {
                    if changed.versions.is_empty() {
                        c.delete(object_key(bucket, key));
                    } else {
                        c.put(object_key(bucket, key), Record::Object(changed));
                    }
                }
            }
            for (id, u) in &b.uploads {
                let abort = rules
                    .iter()
                    .filter(|r| u.key.starts_with(&r.prefix))
                    .any(|r| r.abort_days.is_some_and(|d| now >= due(u.initiated, d)));
                if abort {
                    c.delete(upload_key(bucket, id));
                    files.extend(u.parts.values().map(|p| p.file.clone()));
                }
            }
            Ok(files)
        });
        match result {
            Ok(files) => files.iter().for_each(|f| self.storage.remove(f)),
            Err(err) => tracing::error!(bucket, error = %err, "lifecycle could not be applied"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_acts_at_midnight_after_the_days() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-01-01T15:00:00Z").unwrap().timestamp_millis();
        let at = chrono::DateTime::parse_from_rfc3339("2024-01-03T00:00:00Z").unwrap().timestamp_millis();
        assert_eq!(due(t, 1), at);
        assert!(wildcard("http://*.example.com", "http://a.example.com"));
        assert!(!wildcard("http://*.example.com", "https://a.example.com"));
    }
}
