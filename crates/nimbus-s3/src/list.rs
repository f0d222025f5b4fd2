//! ListObjects (v1 and v2) and ListObjectVersions: prefix, delimiter and common prefixes,
//! markers, start-after, continuation tokens, URL encoding of keys.

use nimbus_core::query::XmlWriter;
use nimbus_core::HttpResponse;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::errors::{self, Result};
use crate::object::quoted;
use crate::request::Req;
use crate::state::ObjectVersion;
use crate::wire;
use crate::{owned, S3};

/// S3's `encoding-type=url`: everything but unreserved characters, and `/` kept.
const KEY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~').remove(b'/');

fn encoder(r: &Req<'_>) -> Result<impl Fn(&str) -> String> {
    let url = match r.query("encoding-type") {
        None => false,
        Some("url") => true,
        Some(other) => {
            return Err(errors::invalid_argument(
                "Invalid Encoding Method specified in Request",
                "encoding-type",
                other,
            ))
        }
    };
    Ok(move |s: &str| if url { utf8_percent_encode(s, KEY_ENCODE).to_string() } else { s.to_string() })
}

fn max_keys(r: &Req<'_>, name: &str) -> Result<usize> {
    match r.query(name) {
        None => Ok(1000),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 0 => Ok((n as usize).min(1000)),
            _ => Err(errors::invalid_argument(
                format!("Provided {name} not an integer or within integer range"),
                name,
                text,
            )),
        },
    }
}

enum Entry {
    Key(String, ObjectVersion),
    Prefix(String),
}

impl S3 {
    pub(crate) fn list_objects(&self, r: &Req<'_>, v2: bool) -> Result<HttpResponse> {
        self.enforce_lifecycle(r.bucket());
        let enc = encoder(r)?;
        let prefix = r.query("prefix").unwrap_or("");
        let delimiter = r.query("delimiter").filter(|d| !d.is_empty());
        let max = max_keys(r, "max-keys")?;
        let token = r.query("continuation-token");
        let start = if v2 {
            match token {
                Some(t) => String::from_utf8(crate::checksum::unb64(t).unwrap_or_default()).map_err(|_| {
                    errors::invalid_argument("The continuation token provided is incorrect", "continuation-token", t)
                })?,
                None => r.query("start-after").unwrap_or("").to_string(),
            }
        } else {
            r.query("marker").unwrap_or("").to_string()
        };
        let fetch_owner = !v2 || r.query("fetch-owner") == Some("true");
        let (entries, truncated, last) = self.store.read(|s| {
            let b = owned(s, r)?;
            let mut entries = Vec::new();
            let mut truncated = false;
            let mut last = String::new();
            let mut last_prefix: Option<String> = None;
            let range =
                b.objects.range::<str, _>((std::ops::Bound::Excluded(start.as_str()), std::ops::Bound::Unbounded));
            for (key, record) in range {
                if !key.starts_with(prefix) {
                    if key.as_str() > prefix && !prefix.is_empty() {
                        break;
                    }
                    continue;
                }
                let Some(v) = record.live() else { continue };
                let common = delimiter
                    .and_then(|d| key[prefix.len()..].find(d).map(|at| key[..prefix.len() + at + d.len()].to_string()));
                if let Some(cp) = &common {
                    if last_prefix.as_deref() == Some(cp.as_str()) {
                        continue;
                    }
                }
                if entries.len() == max {
                    truncated = true;
                    break;
                }
                match common {
                    Some(cp) => {
                        last = cp.clone();
                        last_prefix = Some(cp.clone());
                        entries.push(Entry::Prefix(cp));
                    }
                    None => {
                        last = key.clone();
                        entries.push(Entry::Key(key.clone(), v.clone()));
                    }
                }
            }
            Ok::<_, nimbus_core::AwsError>((entries, truncated, last))
        })?;
        // A common prefix is resumed after every key under it.
        let resume = if entries.last().is_some_and(|e| matches!(e, Entry::Prefix(_))) {
            format!("{last}\u{10FFFF}")
        } else {
            last.clone()
        };
        let mut w = XmlWriter::new();
        wire::open_root(&mut w, "ListBucketResult");
        w.text("Name", r.bucket()).text("Prefix", enc(prefix));
        if v2 {
            w.opt_text("ContinuationToken", token);
            if truncated {
                w.text("NextContinuationToken", crate::checksum::b64(resume.as_bytes()));
            }
            w.opt_text("StartAfter", r.query("start-after").map(&enc));
            w.text("KeyCount", entries.len().to_string());
        } else {
            w.text("Marker", enc(r.query("marker").unwrap_or("")));
            if truncated && delimiter.is_some() {
                w.text("NextMarker", enc(&last));
            }
        }
        w.text("MaxKeys", max.to_string());
        w.opt_text("Delimiter", delimiter.map(&enc));
        w.opt_text("EncodingType", r.query("encoding-type"));
        w.text("IsTruncated", truncated.to_string());
        for e in &entries {
            if let Entry::Key(key, v) = e {
                w.open("Contents")
                    .text("Key", enc(key))
                    .text("LastModified", wire::iso(v.last_modified))
                    .text("ETag", quoted(&v.etag));
                if let Some(c) = &v.checksum {
                    w.text("ChecksumAlgorithm", &c.algorithm).text("ChecksumType", &c.kind);
                }
                w.text("Size", v.size.to_string());
                if fetch_owner {
                    wire::owner(&mut w, "Owner", &v.owner);
                }
                w.text("StorageClass", v.headers.storage_class.as_deref().unwrap_or("STANDARD")).close("Contents");
            }
        }
        for e in &entries {
            if let Entry::Prefix(p) = e {
                w.open("CommonPrefixes").text("Prefix", enc(p)).close("CommonPrefixes");
            }
        }
        w.close("ListBucketResult");
        Ok(wire::xml_response(200, w.finish()))
    }

    pub(crate) fn list_object_versions(&self, r: &Req<'_>) -> Result<HttpResponse> {
        self.enforce_lifecycle(r.bucket());
        let enc = encoder(r)?;
        let prefix = r.query("prefix").unwrap_or("");
        let delimiter = r.query("delimiter").filter(|d| !d.is_empty());
        let max = max_keys(r, "max-keys")?;
        let key_marker = r.query("key-marker").unwrap_or("");
        let version_marker = r.query("version-id-marker").filter(|v| !v.is_empty());
        if version_marker.is_some() && key_marker.is_empty() {
            return Err(errors::invalid_argument(
                "A version-id marker cannot be specified without a key marker.",
                "version-id-marker",
                version_marker.unwrap_or(""),
            ));
        }
        let mut rows: Vec<(String, ObjectVersion, bool)> = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut truncated = false;
        let mut next: Option<(String, String)> = None;
        self.store.read(|s| {
            let b = owned(s, r)?;
            'keys: for (key, record) in
                b.objects.range::<str, _>((std::ops::Bound::Included(key_marker), std::ops::Bound::Unbounded))
            {
                if !key.starts_with(prefix) {
                    continue;
                }
                if let Some(d) = delimiter {
                    if let Some(at) = key[prefix.len()..].find(d) {
                        let cp = key[..prefix.len() + at + d.len()].to_string();
                        if prefixes.last() != Some(&cp) && key.as_str() > key_marker {
                            if rows.len() + prefixes.len() == max {
                                truncated = true;
                                break;
                            }
                            prefixes.push(cp);
                        }
                        continue;
                    }
                }
                // Newest first; resume after the marker version of the marker key.
                let mut versions: Vec<&ObjectVersion> = record.versions.iter().rev().collect();
                if key == key_marker {
                    match version_marker {
                        None => continue,
                        Some(m) => match versions.iter().position(|v| v.version_id == m) {
                            Some(at) => versions = versions.split_off(at + 1),
                            None => continue,
                        },
                    }
                }
                let latest_id = record.current().map(|v| v.version_id.clone()).unwrap_or_default();
                for v in versions {
                    if rows.len() + prefixes.len() == max {
                        truncated = true;
                        next = rows.last().map(|(k, v, _)| (k.clone(), v.version_id.clone()));
                        break 'keys;
                    }
                    rows.push((key.clone(), v.clone(), v.version_id == latest_id));
                }
            }
            Ok::<_, nimbus_core::AwsError>(())
        })?;
        if truncated && next.is_none() {
            next = rows.last().map(|(k, v, _)| (k.clone(), v.version_id.clone()));
        }
        let mut w = XmlWriter::new();
        wire::open_root(&mut w, "ListVersionsResult");
        w.text("Name", r.bucket())
            .text("Prefix", enc(prefix))
            .text("KeyMarker", enc(key_marker))
            .text("VersionIdMarker", version_marker.unwrap_or(""));
        if let Some((k, v)) = next.filter(|_| truncated) {
            w.text("NextKeyMarker", enc(&k)).text("NextVersionIdMarker", v);
        }
        w.text("MaxKeys", max.to_string());
        w.opt_text("Delimiter", delimiter.map(&enc));
        w.opt_text("EncodingType", r.query("encoding-type"));
        w.text("IsTruncated", truncated.to_string());
        for (key, v, latest) in &rows {
            if v.delete_marker {
                w.open("DeleteMarker");
                wire::owner(&mut w, "Owner", &v.owner);
                w.text("Key", enc(key))
                    .text("VersionId", &v.version_id)
                    .text("IsLatest", latest.to_string())
                    .text("LastModified", wire::iso(v.last_modified))
                    .close("DeleteMarker");
            } else {
                w.open("Version").text("ETag", quoted(&v.etag)).text("Size", v.size.to_string());
                wire::owner(&mut w, "Owner", &v.owner);
                w.text("StorageClass", v.headers.storage_class.as_deref().unwrap_or("STANDARD"))
                    .text("Key", enc(key))
                    .text("VersionId", &v.version_id)
                    .text("IsLatest", latest.to_string())
                    .text("LastModified", wire::iso(v.last_modified));
                if let Some(c) = &v.checksum {
                    w.text("ChecksumAlgorithm", &c.algorithm).text("ChecksumType", &c.kind);
                }
                w.close("Version");
            }
        }
        for p in &prefixes {
            w.open("CommonPrefixes").text("Prefix", enc(p)).close("CommonPrefixes");
        }
        w.close("ListVersionsResult");
        Ok(wire::xml_response(200, w.finish()))
    }
}
