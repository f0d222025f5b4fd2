//! Buckets: create (with S3's region-constraint rules), head, list, location, delete.

use std::collections::BTreeMap;

use nimbus_core::{HttpResponse, RequestBody};

use crate::errors::{self, Result};
use crate::request::{self, Req};
use crate::state::{bucket_key, upload_key, BucketMeta, Record};
use crate::wire;
use crate::{owned, S3};

/// S3's bucket naming rules (general purpose buckets).
pub fn valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !name.starts_with("xn--")
        && !name.starts_with("sthree-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3")
}

impl S3 {
    pub(crate) fn list_buckets(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let prefix = r.query("prefix").unwrap_or("");
        let region = r.query("bucket-region");
        let max: usize = r.query("max-buckets").and_then(|m| m.parse().ok()).unwrap_or(10_000);
        let after = r.query("continuation-token").unwrap_or("");
        let (buckets, next) = self.store.read(|s| {
            let mine: Vec<BucketMeta> = s
                .buckets
                .values()
                .map(|b| &b.meta)
                .filter(|m| m.account == r.ctx.account && m.name.starts_with(prefix) && m.name.as_str() > after)
                .filter(|m| region.is_none_or(|reg| m.region == reg))
                .cloned()
                .collect();
            let next = (mine.len() > max).then(|| mine[max - 1].name.clone());
            (mine.into_iter().take(max).collect::<Vec<_>>(), next)
        });
        Ok(wire::document("ListAllMyBucketsResult", |w| {
            wire::owner(w, "Owner", &r.ctx.account);
            w.open("Buckets");
            for b in &buckets {
                w.open("Bucket")
                    .text("Name", &b.name)
                    .text("CreationDate", wire::iso(b.created))
                    .text("BucketRegion", &b.region)
                    .close("Bucket");
            }
            w.close("Buckets");
            if !prefix.is_empty() {
                w.text("Prefix", prefix);
            }
            w.opt_text("ContinuationToken", next);
        }))
    }

    pub(crate) async fn create_bucket(&self, r: &Req<'_>, body: &mut RequestBody) -> Result<HttpResponse> {
        let name = r.bucket().to_string();
        if !valid_bucket_name(&name) {
            return Err(errors::invalid_bucket_name(&name));
        }
        let bytes = request::read_body(r, body).await?;
        let constraint = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let doc = crate::xml::parse(&bytes).ok_or_else(errors::malformed_xml)?;
            if doc.name != "CreateBucketConfiguration" {
                return Err(errors::malformed_xml());
            }
            doc.text_of("LocationConstraint").filter(|c| !c.is_empty()).map(str::to_string)
        };
        let region = r.ctx.region.clone();
        match constraint.as_deref() {
            None if region != "us-east-1" => return Err(errors::illegal_location("unspecified")),
            Some("us-east-1") => return Err(errors::invalid_location("us-east-1")),
            Some(c) if c != region => {
                return Err(if crate::config::known_region(c) {
                    errors::illegal_location(c)
                } else {
                    errors::invalid_location(c)
                })
            }
            _ => {}
        }
        let created = self.now();
        self.store.write(|s, c| {
            if let Some(existing) = s.buckets.get(&name) {
                if existing.meta.account != r.ctx.account {
                    return Err(errors::bucket_exists(&name));
                }
                // us-east-1 answers a repeated create of one's own bucket with success.
                if existing.meta.region == "us-east-1" && region == "us-east-1" {
                    return Ok(());
                }
                return Err(errors::bucket_exists_owned(&name));
            }
            let mut config = BTreeMap::new();
            if let Some(ownership) = r.header("x-amz-object-ownership") {
                config.insert("ownershipControls".to_string(), crate::config::ownership_document(ownership));
            }
            if let Some(acl) = r.header("x-amz-acl") {
                config.insert("acl".to_string(), crate::config::canned_acl(&r.ctx.account, acl));
            }
            c.put(
                bucket_key(&name),
                Record::Bucket(BucketMeta {
                    name: name.clone(),
                    account: r.ctx.account.clone(),
                    region: region.clone(),
                    created,
                    versioning: None,
                    config,
                }),
            );
            Ok(())
        })?;
        Ok(HttpResponse::new(200, "application/xml", "")
            .with_header("Location", format!("/{name}"))
            .with_header("x-amz-bucket-arn", format!("arn:aws:s3:::{name}")))
    }

    pub(crate) fn head_bucket(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let region = self.store.read(|s| owned(s, r).map(|b| b.meta.region.clone()))?;
        Ok(HttpResponse::new(200, "application/xml", "")
            .with_header("x-amz-bucket-region", region)
            .with_header("x-amz-access-point-alias", "false"))
    }

    pub(crate) fn bucket_location(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let region = self.store.read(|s| owned(s, r).map(|b| b.meta.region.clone()))?;
        let mut w = nimbus_core::query::XmlWriter::new();
        // us-east-1 is the empty constraint, as S3 has always reported it.
        let text = if region == "us-east-1" { String::new() } else { region };
        w.raw(&format!(
            "<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
            wire::XMLNS,
            nimbus_core::query::escape(&text)
        ));
        Ok(wire::xml_response(200, w.finish()))
    }

    pub(crate) fn delete_bucket(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let parts = self.store.write(|s, c| {
            let b = owned(s, r)?;
            if !b.objects.is_empty() {
                return Err(errors::bucket_not_empty(r.bucket()));
            }
            let mut files = Vec::new();
            for (id, u) in &b.uploads {
                c.delete(upload_key(r.bucket(), id));
                files.extend(u.parts.values().map(|p| p.file.clone()));
            }
            c.delete(bucket_key(r.bucket()));
            Ok(files)
        })?;
        for f in parts {
            self.storage.remove(&f);
        }
        Ok(HttpResponse::new(204, "application/xml", ""))
    }
}

#[cfg(test)]
mod tests {
    use super::valid_bucket_name;

    #[test]
    fn bucket_names() {
        for good in ["abc", "my-bucket", "my.bucket.1", "a1b"] {
            assert!(valid_bucket_name(good), "{good}");
        }
        for bad in ["ab", "ABC", "-abc", "abc-", "a..b", "192.168.1.1", "a_b", &"a".repeat(64), "xn--abc"] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
