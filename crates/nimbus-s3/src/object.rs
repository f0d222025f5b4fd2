//! Objects: put (conditional writes, checksums), get/head (ranges, conditions, versions),
//! delete (delete markers), DeleteObjects, copy, tagging, ACL, GetObjectAttributes.

use std::collections::BTreeMap;

use nimbus_core::query::XmlWriter;
use nimbus_core::{AwsError, HttpResponse, RequestBody};
use percent_encoding::percent_decode_str;

use crate::errors::{self, Result};
use crate::notify::Event;
use crate::request::{self, Req};
use crate::state::{object_key, BucketState, Checksum, ObjectHeaders, ObjectRecord, ObjectVersion, Record, S3State};
use crate::wire;
use crate::{owned, S3};

const CONTENT_HEADERS: [&str; 5] =
    ["content-encoding", "content-disposition", "content-language", "cache-control", "expires"];

/// A new version id, as S3's look (32 URL-safe characters).
pub fn new_version_id() -> String {
    let raw: [u8; 24] = rand::random();
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw)
}

pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

fn unquote(etag: &str) -> &str {
    etag.trim().trim_start_matches("W/").trim_matches('"')
}

/// What the request says about the object besides its bytes.
pub fn object_headers(r: &Req<'_>) -> Result<ObjectHeaders> {
    let mut h = ObjectHeaders { content_type: r.header("content-type").map(str::to_string), ..Default::default() };
    for name in CONTENT_HEADERS {
        if let Some(v) = r.header(name) {
            // aws-chunked is the transfer's encoding, not the object's.
            if name == "content-encoding" {
                let rest: Vec<&str> =
                    v.split(',').map(str::trim).filter(|e| *e != "aws-chunked" && !e.is_empty()).collect();
                if !rest.is_empty() {
                    h.content.insert(name.to_string(), rest.join(","));
                }
                continue;
            }
            h.content.insert(name.to_string(), v.to_string());
        }
    }
    for (name, value) in r.head.headers.iter() {
        if let Some(meta) = name.as_str().strip_prefix("x-amz-meta-") {
            h.metadata.insert(meta.to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
    }
    if let Some(class) = r.header("x-amz-storage-class") {
        const CLASSES: [&str; 9] = [
            "STANDARD",
            "REDUCED_REDUNDANCY",
            "STANDARD_IA",
            "ONEZONE_IA",
            "INTELLIGENT_TIERING",
            "GLACIER",
            "DEEP_ARCHIVE",
            "GLACIER_IR",
            "EXPRESS_ONEZONE",
        ];
        if !CLASSES.contains(&class) {
            return Err(AwsError::new(400, "InvalidStorageClass", "The storage class you specified is not valid")
                .with_extra("StorageClassRequested", class));
        }
        h.storage_class = Some(class.to_string()).filter(|c| c != "STANDARD");
    }
    if let Some(tagging) = r.header("x-amz-tagging") {
        h.tags = parse_tag_query(tagging)?;
    }
    h.sse = r.header("x-amz-server-side-encryption").map(str::to_string);
    h.website_redirect = r.header("x-amz-website-redirect-location").map(str::to_string);
    Ok(h)
}

fn parse_tag_query(text: &str) -> Result<BTreeMap<String, String>> {
    let tags: BTreeMap<String, String> = form_urlencoded::parse(text.as_bytes()).into_owned().collect();
    check_tags(&tags)?;
    Ok(tags)
}

pub fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    if tags.len() > 10 {
        return Err(AwsError::new(400, "BadRequest", "Object tags cannot be greater than 10"));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(AwsError::new(400, "InvalidTag", "The TagKey you have provided is invalid"));
        }
        if v.chars().count() > 256 {
            return Err(AwsError::new(400, "InvalidTag", "The TagValue you have provided is too long"));
        }
    }
    Ok(())
}

/// The headers describing a stored version (GET, HEAD).
fn describe(v: &ObjectVersion, versioned: bool, checksum_mode: bool) -> Vec<(String, String)> {
    let mut h = vec![
        ("ETag".to_string(), quoted(&v.etag)),
        ("Last-Modified".to_string(), wire::http_date(v.last_modified)),
        ("Accept-Ranges".to_string(), "bytes".to_string()),
        ("x-amz-server-side-encryption".to_string(), v.headers.sse.clone().unwrap_or_else(|| "AES256".into())),
    ];
    if versioned {
        h.push(("x-amz-version-id".into(), v.version_id.clone()));
    }
    for (k, val) in &v.headers.content {
        h.push((k.clone(), val.clone()));
    }
    for (k, val) in &v.headers.metadata {
        h.push((format!("x-amz-meta-{k}"), val.clone()));
    }
    if let Some(class) = &v.headers.storage_class {
        h.push(("x-amz-storage-class".into(), class.clone()));
    }
    if !v.headers.tags.is_empty() {
        h.push(("x-amz-tagging-count".into(), v.headers.tags.len().to_string()));
    }
    if let Some(loc) = &v.headers.website_redirect {
        h.push(("x-amz-website-redirect-location".into(), loc.clone()));
    }
    if checksum_mode {
        if let Some(c) = &v.checksum {
            h.push((crate::checksum::header_name(&c.algorithm), c.value.clone()));
            h.push(("x-amz-checksum-type".into(), c.kind.clone()));
        }
    }
    h
}

/// The version a request names (`versionId`) or the current one.
fn pick<'a>(b: &'a BucketState, key: &str, version: Option<&str>) -> Result<&'a ObjectVersion> {
    let record = b.objects.get(key);
    match version {
        Some(id) => record.and_then(|r| r.version(id)).ok_or_else(|| {
            if id != "null" && crate::object::looks_like_version(id) {
                errors::no_such_version(key, id)
            } else {
                errors::invalid_argument("Invalid version id specified", "versionId", id)
            }
        }),
        None => record.and_then(ObjectRecord::current).ok_or_else(|| errors::no_such_key(key)),
    }
}

pub fn looks_like_version(id: &str) -> bool {
    id.len() >= 16 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Evaluate `If-Match`, `If-Unmodified-Since`, `If-None-Match`, `If-Modified-Since` as S3
/// does: `Err` is 412 or 304.
fn check_conditions(r: &Req<'_>, v: &ObjectVersion, prefix: &str) -> Result<()> {
    let h = |n: &str| r.header(&format!("{prefix}{n}"));
    let matches = |list: &str| list.split(',').any(|e| e.trim() == "*" || unquote(e) == v.etag);
    let if_match = h("if-match");
    if let Some(list) = if_match {
        if !matches(list) {
            return Err(errors::precondition_failed("If-Match"));
        }
    } else if let Some(since) = h("if-unmodified-since").and_then(wire::parse_http_date) {
        if v.last_modified > since {
            return Err(errors::precondition_failed("If-Unmodified-Since"));
        }
    }
    if let Some(list) = h("if-none-match") {
        if matches(list) {
            return Err(not_modified(v, prefix));
        }
    } else if let Some(since) = h("if-modified-since").and_then(wire::parse_http_date) {
        if v.last_modified <= since && since <= r.now_millis() {
            return Err(not_modified(v, prefix));
        }
    }
    Ok(())
}

fn not_modified(v: &ObjectVersion, prefix: &str) -> AwsError {
    if prefix.is_empty() {
        AwsError::new(304, "NotModified", "Not Modified").with_extra("ETag", quoted(&v.etag))
    } else {
        errors::precondition_failed("x-amz-copy-source-If-None-Match")
    }
}

/// `Range: bytes=a-b | a- | -n` → (start, length); `None` for no or unusable range (S3 then
/// serves the whole object).
pub fn parse_range(text: &str, size: u64) -> Result<Option<(u64, u64)>> {
    let Some(spec) = text.trim().strip_prefix("bytes=") else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else { return Ok(None) };
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (Some(start), None) if b.is_empty() => {
            if start >= size {
                return Err(errors::invalid_range(size, text));
            }
            (start, size - start)
        }
        (Some(start), Some(end)) => {
            if end < start {
                return Ok(None);
            }
            if start >= size {
                return Err(errors::invalid_range(size, text));
            }
            (start, end.min(size - 1) - start + 1)
        }
        (None, Some(n)) if a.is_empty() => {
            if n == 0 {
                return Err(errors::invalid_range(size, text));
            }
            let n = n.min(size);
            (size - n, n)
        }
        _ => return Ok(None),
    };
    Ok(Some(range))
}

impl S3 {
    pub(crate) async fn put_object(&self, r: &Req<'_>, body: &mut RequestBody) -> Result<HttpResponse> {
        let headers = object_headers(r)?;
        self.store.read(|s| owned(s, r).map(|_| ()))?;
        let plan = request::checksum_plan(r, Some("CRC64NVME"))?;
        let written = request::receive(r, body, &self.storage, &plan).await?;
        let etag = hex::encode(written.md5);
        let checksum = written.checksum.as_ref().map(|(a, v)| Checksum {
            algorithm: a.clone(),
            value: v.clone(),
            kind: "FULL_OBJECT".into(),
        });
        let size = written.file.size;
        let version = ObjectVersion {
            version_id: String::new(),
            delete_marker: false,
            file: written.file.name.clone(),
            size,
            etag: etag.clone(),
            last_modified: self.now(),
            headers,
            checksum: checksum.clone(),
            parts: Vec::new(),
            owner: r.ctx.account.clone(),
        };
        let (version_id, replaced) = self.store.write(|s, c| {
            let b = owned(s, r)?;
            let current = b.objects.get(r.key()).and_then(ObjectRecord::live);
            if let Some(cond) = r.header("if-none-match") {
                if cond.trim() == "*" && current.is_some() {
                    return Err(errors::precondition_failed("If-None-Match"));
                }
            }
            if let Some(cond) = r.header("if-match") {
                match current {
                    None => return Err(errors::no_such_key(r.key())),
                    Some(v) if !cond.split(',').any(|e| e.trim() == "*" || unquote(e) == v.etag) => {
                        return Err(errors::precondition_failed("If-Match"))
                    }
                    _ => {}
                }
            }
            Ok(self.add_version(s, c, r.bucket(), r.key(), version))
        })?;
        written.file.keep();
        self.storage_remove_all(&replaced);
        let versioned = version_header(&version_id);
        self.notify(r, Event::created("Put", r.key(), size, &etag, versioned.as_deref()));
        let mut response = HttpResponse::new(200, "application/xml", "")
            .with_header("ETag", quoted(&etag))
            .with_header("x-amz-server-side-encryption", "AES256");
        if let Some(id) = versioned {
            response = response.with_header("x-amz-version-id", id);
        }
        if let Some(c) = checksum {
            response = response
                .with_header(&crate::checksum::header_name(&c.algorithm), c.value)
                .with_header("x-amz-checksum-type", c.kind);
        }
        Ok(response)
    }

    /// Record a new version of `key` per the bucket's versioning; returns its id and the
    /// files of versions it replaced (to remove once the change is durable).
    pub(crate) fn add_version(
        &self,
        s: &S3State,
        c: &mut nimbus_core::state::Changes<Record>,
        bucket: &str,
        key: &str,
        mut version: ObjectVersion,
    ) -> (String, Vec<String>) {
        let b = &s.buckets[bucket];
        let mut record = b.objects.get(key).cloned().unwrap_or_default();
        let mut replaced = Vec::new();
        if b.meta.versioning.as_deref() == Some("Enabled") {
            version.version_id = new_version_id();
        } else {
            version.version_id = "null".into();
            record.versions.retain(|v| {
                let null = v.version_id == "null";
                if null && !v.file.is_empty() {
                    replaced.push(v.file.clone());
                }
                !null
            });
        }
        let id = version.version_id.clone();
        record.versions.push(version);
        c.put(object_key(bucket, key), Record::Object(record));
        (if b.meta.versioning.is_some() { id } else { String::new() }, replaced)
    }

    fn storage_remove_all(&self, files: &[String]) {
        for f in files {
            self.storage.remove(f);
        }
    }

    pub(crate) fn get_object(&self, r: &Req<'_>, head: bool) -> Result<HttpResponse> {
        self.enforce_lifecycle(r.bucket());
        let (v, versioned) = self.store.read(|s| {
            let b = owned(s, r)?;
            let v = pick(b, r.key(), r.query("versionId"))?.clone();
            Ok::<_, AwsError>((v, b.meta.versioning.is_some()))
        })?;
        if v.delete_marker {
            let mut err = if r.query("versionId").is_some() {
                errors::method_not_allowed(r.head.method.as_str())
            } else {
                errors::no_such_key(r.key())
            };
            err = err.with_extra("DeleteMarker", "true");
            let mut response = wire::error_response(&err, &r.ctx.request_id, head);
            response.headers.push(("x-amz-delete-marker".into(), "true".into()));
            if versioned {
                response.headers.push(("x-amz-version-id".into(), v.version_id.clone()));
            }
            return Ok(response);
        }
        match check_conditions(r, &v, "") {
            Ok(()) => {}
            Err(err) if err.status == 304 => {
                let mut response = HttpResponse::new(304, "application/xml", "");
                response.headers.clear();
                response.headers.push(("ETag".into(), quoted(&v.etag)));
                response.headers.push(("Last-Modified".into(), wire::http_date(v.last_modified)));
                return Ok(response);
            }
            Err(err) => return Err(err),
        }
        let part = r.query("partNumber").map(|p| p.parse::<u32>().unwrap_or(0));
        let range = match (part, r.header("range")) {
            (Some(n), _) => Some(part_range(&v, n)?),
            (None, Some(text)) => parse_range(text, v.size)?,
            (None, None) => None,
        };
        let asked = r.header("x-amz-checksum-mode").is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"));
        let mut headers = describe(&v, versioned, asked && range.is_none());
        // One part of a composite upload: S3 answers with that part's own checksum.
        if let (true, Some(n), Some(c)) = (asked, part, v.checksum.as_ref().filter(|c| c.kind == "COMPOSITE")) {
            if let Some(sum) = v.parts.iter().find(|p| p.number == n).and_then(|p| p.checksum.clone()) {
                headers.push((crate::checksum::header_name(&c.algorithm), sum));
                headers.push(("x-amz-checksum-type".into(), c.kind.clone()));
            }
        }
        let (status, start, len) = match range {
            Some((start, len)) => {
                headers
                    .push(("Content-Range".into(), format!("bytes {}-{}/{}", start, start + len.max(1) - 1, v.size)));
                (206, start, len)
            }
            None => (200, 0, v.size),
        };
        if let Some(n) = part {
            headers.push(("x-amz-mp-parts-count".into(), v.parts.len().max(1).to_string()));
            let _ = n;
        }
        headers.push(("Content-Length".into(), len.to_string()));
        for (param, header) in [
            ("response-content-type", "Content-Type"),
            ("response-content-language", "Content-Language"),
            ("response-expires", "Expires"),
            ("response-cache-control", "Cache-Control"),
            ("response-content-disposition", "Content-Disposition"),
            ("response-content-encoding", "Content-Encoding"),
        ] {
            if let Some(value) = r.query(param) {
                headers.retain(|(k, _)| !k.eq_ignore_ascii_case(header));
                headers.push((header.to_string(), value.to_string()));
            }
        }
        let content_type = v.headers.content_type.clone().unwrap_or_else(|| "binary/octet-stream".into());
        let mut response = HttpResponse::new(status, &content_type, "");
        if let Some(ct) = r.query("response-content-type") {
            response.headers.clear();
            response.headers.push(("Content-Type".into(), ct.to_string()));
        }
        response.headers.extend(headers);
        if !head && len > 0 {
            response.body = self.storage.read(&v.file, start, len).map_err(errors::io)?;
        }
        Ok(response)
    }

    pub(crate) fn delete_object(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let outcome = self.delete_one(r, r.key(), r.query("versionId"))?;
        let mut response = HttpResponse::new(204, "application/xml", "");
        if outcome.delete_marker {
            response = response.with_header("x-amz-delete-marker", "true");
        }
        if let Some(id) = &outcome.version_id {
            response = response.with_header("x-amz-version-id", id.clone());
        }
        Ok(response)
    }

    /// Delete `key` (or one version of it) as S3 does under the bucket's versioning.
    fn delete_one(&self, r: &Req<'_>, key: &str, version_id: Option<&str>) -> Result<Deleted> {
        let now = self.now();
        let (outcome, files) = self.store.write(|s, c| {
            let b = owned(s, r)?;
            let mut record = b.objects.get(key).cloned().unwrap_or_default();
            let mut files = Vec::new();
            let outcome = match version_id {
                Some(id) => {
                    if id != "null" && !looks_like_version(id) {
                        return Err(errors::invalid_argument("Invalid version id specified", "versionId", id));
                    }
                    let Some(at) = record.versions.iter().position(|v| v.version_id == id) else {
                        return Ok((Deleted { delete_marker: false, version_id: Some(id.to_string()) }, files));
                    };
                    let removed = record.versions.remove(at);
                    if !removed.file.is_empty() {
                        files.push(removed.file.clone());
                    }
                    Deleted { delete_marker: removed.delete_marker, version_id: Some(id.to_string()) }
                }
                None => match b.meta.versioning.as_deref() {
                    None => {
                        files.extend(record.versions.drain(..).map(|v| v.file).filter(|f| !f.is_empty()));
                        Deleted { delete_marker: false, version_id: None }
                    }
                    Some(mode) => {
                        let id = if mode == "Enabled" { new_version_id() } else { "null".to_string() };
                        if mode != "Enabled" {
                            record.versions.retain(|v| {
                                if v.version_id == "null" && !v.file.is_empty() {
                                    files.push(v.file.clone());
                                }
                                v.version_id != "null"
                            });
                        }
                        record.versions.push(ObjectVersion {
                            version_id: id.clone(),
                            delete_marker: true,
                            file: String::new(),
                            size: 0,
                            etag: String::new(),
                            last_modified: now,
                            headers: ObjectHeaders::default(),
                            checksum: None,
                            parts: Vec::new(),
                            owner: r.ctx.account.clone(),
                        });
                        Deleted { delete_marker: true, version_id: Some(id) }
                    }
                },
            };
            if b.objects.contains_key(key) {
                if record.versions.is_empty() {
                    c.delete(object_key(r.bucket(), key));
                } else {
                    c.put(object_key(r.bucket(), key), Record::Object(record));
                }
            }
            Ok((outcome, files))
        })?;
        self.storage_remove_all(&files);
        let event = if outcome.delete_marker && version_id.is_none() {
            Event::removed("DeleteMarkerCreated", key, outcome.version_id.as_deref())
        } else {
            Event::removed("Delete", key, outcome.version_id.as_deref())
        };
        self.notify(r, event);
        Ok(outcome)
    }

    pub(crate) async fn delete_objects(&self, r: &Req<'_>, body: &mut RequestBody) -> Result<HttpResponse> {
        let doc = request::read_document(r, body).await?;
        if doc.name != "Delete" {
            return Err(errors::malformed_xml());
        }
        let quiet = doc.text_of("Quiet") == Some("true");
        let objects: Vec<(String, Option<String>)> = doc
            .children("Object")
            .map(|o| {
                (o.child("Key").map(|k| k.text.clone()).unwrap_or_default(), o.text_of("VersionId").map(str::to_string))
            })
            .collect();
        if objects.is_empty() || objects.len() > 1000 {
            return Err(errors::malformed_xml());
        }
        self.store.read(|s| owned(s, r).map(|_| ()))?;
        let mut w = XmlWriter::new();
        wire::open_root(&mut w, "DeleteResult");
        for (key, version) in objects {
            match self.delete_one(r, &key, version.as_deref()) {
                Ok(d) => {
                    if !quiet {
                        w.open("Deleted").text("Key", &key);
                        if let Some(v) = &version {
                            w.text("VersionId", v);
                        }
                        if d.delete_marker {
                            w.text("DeleteMarker", "true");
                            if let Some(id) = &d.version_id {
                                if version.is_none() {
                                    w.text("DeleteMarkerVersionId", id);
                                }
                            }
                        }
                        w.close("Deleted");
                    }
                }
                Err(err) => {
                    w.open("Error").text("Key", &key);
                    w.opt_text("VersionId", version.as_deref());
                    w.text("Code", &err.code).text("Message", &err.message).close("Error");
                }
            }
        }
        w.close("DeleteResult");
        Ok(wire::xml_response(200, w.finish()))
    }

    pub(crate) async fn copy_object(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let (src_bucket, src_key, src_version) = copy_source(r)?;
        let replace = match r.header("x-amz-metadata-directive").unwrap_or("COPY") {
            "COPY" => false,
            "REPLACE" => true,
            other => {
                return Err(errors::invalid_argument("Unknown metadata directive.", "x-amz-metadata-directive", other))
            }
        };
        let (src, dest_exists) = self.store.read(|s| {
            owned(s, r)?;
            let b = s.buckets.get(&src_bucket).ok_or_else(|| errors::no_such_bucket(&src_bucket))?;
            let v = pick(b, &src_key, src_version.as_deref())?;
            if v.delete_marker {
                return Err(if src_version.is_some() {
                    errors::invalid_request(
                        "The source of a copy request may not specifically refer to a delete marker by version id.",
                    )
                } else {
                    errors::no_such_key(&src_key)
                });
            }
            Ok((v.clone(), true))
        })?;
        let _ = dest_exists;
        check_conditions(r, &src, "x-amz-copy-source-")?;
        let mut headers = if replace { object_headers(r)? } else { src.headers.clone() };
        if !replace {
            if let Some(class) = r.header("x-amz-storage-class") {
                headers.storage_class = Some(class.to_string()).filter(|c| c != "STANDARD");
            }
        }
        match r.header("x-amz-tagging-directive") {
            Some("REPLACE") => {
                headers.tags = r.header("x-amz-tagging").map(parse_tag_query).transpose()?.unwrap_or_default()
            }
            _ => headers.tags = src.headers.tags.clone(),
        }
        let same = src_bucket == r.bucket() && src_key == r.key() && src_version.is_none();
        if same
            && !replace
            && r.header("x-amz-storage-class").is_none()
            && r.header("x-amz-server-side-encryption").is_none()
            && r.header("x-amz-website-redirect-location").is_none()
        {
            return Err(errors::invalid_request("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."));
        }
        let wanted = r.header("x-amz-checksum-algorithm").and_then(crate::checksum::canonical);
        let (file, etag, mut checksum, parts) = if src.parts.is_empty() {
            (self.storage.link(&src.file).map_err(errors::io)?, src.etag.clone(), src.checksum.clone(), Vec::new())
        } else {
            // S3 writes the copy of a multipart object in one piece: an MD5 ETag without `-N` and
            // a full-object checksum (the source's algorithm unless another is asked for).
            let algorithm = wanted.or(src.checksum.as_ref().map(|c| c.algorithm.as_str())).unwrap_or("CRC64NVME");
            let incoming =
                tokio::task::block_in_place(|| self.storage.concat(std::slice::from_ref(&src.file), Some(algorithm)))
                    .map_err(errors::io)?;
            let written = incoming.finish().map_err(errors::io)?;
            let checksum = written.checksum.as_ref().map(|(a, value)| Checksum {
                algorithm: a.clone(),
                value: value.clone(),
                kind: "FULL_OBJECT".into(),
            });
            (written.file.keep(), hex::encode(written.md5), checksum, Vec::new())
        };
        let guard = FileGuard { storage: &self.storage, name: Some(file.clone()) };
        if let Some(algorithm) = wanted {
            if checksum.as_ref().is_none_or(|c| c.algorithm != algorithm || c.kind != "FULL_OBJECT") {
                let data = self.storage.read_all(&file).map_err(errors::io)?;
                checksum = crate::checksum::of(algorithm, &data).map(|value| Checksum {
                    algorithm: algorithm.to_string(),
                    value,
                    kind: "FULL_OBJECT".into(),
                });
            }
        }
        let now = self.now();
        let version = ObjectVersion {
            version_id: String::new(),
            delete_marker: false,
            file: file.clone(),
            size: src.size,
            etag: etag.clone(),
            last_modified: now,
            headers,
            checksum: checksum.clone(),
            parts,
            owner: r.ctx.account.clone(),
        };
        let (version_id, replaced) = self.store.write(|s, c| {
            owned(s, r)?;
            Ok(self.add_version(s, c, r.bucket(), r.key(), version))
        })?;
        guard.keep();
        self.storage_remove_all(&replaced);
        let versioned = version_header(&version_id);
        self.notify(r, Event::created("Copy", r.key(), src.size, &etag, versioned.as_deref()));
        let mut w = XmlWriter::new();
        wire::open_root(&mut w, "CopyObjectResult");
        w.text("ETag", quoted(&etag)).text("LastModified", wire::iso(now));
        if let Some(c) = &checksum {
            w.text("ChecksumType", &c.kind).text(&format!("Checksum{}", c.algorithm), &c.value);
        }
        w.close("CopyObjectResult");
        let mut response = wire::xml_response(200, w.finish()).with_header("x-amz-server-side-encryption", "AES256");
        if let Some(id) = versioned {
            response = response.with_header("x-amz-version-id", id);
        }
        if src_version.is_some() || src.version_id != "null" {
            response = response.with_header("x-amz-copy-source-version-id", src.version_id.clone());
        }
        Ok(response)
    }

    pub(crate) async fn put_object_tagging(&self, r: &Req<'_>, body: &mut RequestBody) -> Result<HttpResponse> {
        let doc = request::read_document(r, body).await?;
        let tags = parse_tag_set(&doc)?;
        let version = self.update_version(r, |v| v.headers.tags = tags.clone())?;
        self.notify(r, Event::plain("ObjectTagging:Put", r.key(), version.as_deref()));
        let mut response = HttpResponse::new(200, "application/xml", "");
        if let Some(id) = version {
            response = response.with_header("x-amz-version-id", id);
        }
        Ok(response)
    }

    pub(crate) fn delete_object_tagging(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let version = self.update_version(r, |v| v.headers.tags.clear())?;
        self.notify(r, Event::plain("ObjectTagging:Delete", r.key(), version.as_deref()));
        let mut response = HttpResponse::new(204, "application/xml", "");
        if let Some(id) = version {
            response = response.with_header("x-amz-version-id", id);
        }
        Ok(response)
    }

    /// Change one version's metadata in place (tags, ACL); returns its id when versioned.
    fn update_version(&self, r: &Req<'_>, f: impl FnOnce(&mut ObjectVersion)) -> Result<Option<String>> {
        self.store.write(|s, c| {
            let b = owned(s, r)?;
            let mut record = b.objects.get(r.key()).cloned().ok_or_else(|| errors::no_such_key(r.key()))?;
            let at = match r.query("versionId") {
                Some(id) => record
                    .versions
                    .iter()
                    .position(|v| v.version_id == id)
                    .ok_or_else(|| errors::no_such_version(r.key(), id))?,
                None => record.versions.len() - 1,
            };
            if record.versions[at].delete_marker {
                return Err(errors::method_not_allowed(r.head.method.as_str()));
            }
            f(&mut record.versions[at]);
            let id = record.versions[at].version_id.clone();
            c.put(object_key(r.bucket(), r.key()), Record::Object(record));
            Ok(b.meta.versioning.is_some().then_some(id))
        })
    }

    pub(crate) fn get_object_tagging(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let (v, versioned) = self.read_version(r)?;
        let mut response = wire::document("Tagging", |w| write_tag_set(w, &v.headers.tags));
        if versioned {
            response = response.with_header("x-amz-version-id", v.version_id.clone());
        }
        Ok(response)
    }

    fn read_version(&self, r: &Req<'_>) -> Result<(ObjectVersion, bool)> {
        self.store.read(|s| {
            let b = owned(s, r)?;
            let v = pick(b, r.key(), r.query("versionId"))?;
            if v.delete_marker {
                return Err(if r.query("versionId").is_some() {
                    errors::method_not_allowed(r.head.method.as_str())
                } else {
                    errors::no_such_key(r.key())
                });
            }
            Ok((v.clone(), b.meta.versioning.is_some()))
        })
    }

    pub(crate) async fn put_object_acl(&self, r: &Req<'_>, body: &mut RequestBody) -> Result<HttpResponse> {
        let bytes = request::read_body(r, body).await?;
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            crate::xml::parse(&bytes).ok_or_else(errors::malformed_xml)?;
        }
        self.read_version(r)?;
        Ok(HttpResponse::new(200, "application/xml", ""))
    }

    pub(crate) fn get_object_acl(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let (v, _) = self.read_version(r)?;
        Ok(wire::xml_response(200, crate::config::canned_acl(&v.owner, "private")))
    }

    pub(crate) fn get_object_attributes(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let wanted: Vec<String> = r
            .head
            .headers
            .get_all("x-amz-object-attributes")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|a| a.trim().to_string()))
            .filter(|a| !a.is_empty())
            .collect();
        if wanted.is_empty() {
            return Err(errors::invalid_argument("Invalid attribute name specified.", "x-amz-object-attributes", ""));
        }
        let (v, versioned) = self.read_version(r)?;
        let has = |name: &str| wanted.iter().any(|w| w == name);
        let mut response = wire::document("GetObjectAttributesResponse", |w| {
            if has("ETag") {
                w.text("ETag", &v.etag);
            }
            if has("Checksum") {
                if let Some(c) = &v.checksum {
                    // Here S3 gives a composite checksum without its `-N` part count.
                    let value = c.value.split('-').next().unwrap_or_default();
                    w.open("Checksum")
                        .text(&format!("Checksum{}", c.algorithm), value)
                        .text("ChecksumType", &c.kind)
                        .close("Checksum");
                }
            }
            if has("ObjectParts") && !v.parts.is_empty() {
                w.open("ObjectParts");
                // The parts themselves are listed only when they carry the (composite) checksum.
                if let Some(c) = v.checksum.as_ref().filter(|c| c.kind == "COMPOSITE") {
                    let number = |h: &str| r.header(h).and_then(|m| m.parse::<u32>().ok());
                    let max = number("x-amz-max-parts").unwrap_or(1000).min(1000) as usize;
                    let marker = number("x-amz-part-number-marker").unwrap_or(0);
                    let rest: Vec<&crate::state::PartInfo> = v.parts.iter().filter(|p| p.number > marker).collect();
                    let shown = &rest[..rest.len().min(max)];
                    w.text("IsTruncated", (rest.len() > max).to_string())
                        .text("MaxParts", max.to_string())
                        .text("NextPartNumberMarker", shown.last().map_or(marker, |p| p.number).to_string())
                        .text("PartNumberMarker", marker.to_string());
                    for p in shown {
                        w.open("Part").text("PartNumber", p.number.to_string()).text("Size", p.size.to_string());
                        if let Some(sum) = &p.checksum {
                            w.text(&format!("Checksum{}", c.algorithm), sum);
                        }
                        w.close("Part");
                    }
                }
                // The model's TotalPartsCount goes on the wire as PartsCount.
                w.text("PartsCount", v.parts.len().to_string()).close("ObjectParts");
            }
            if has("StorageClass") {
                w.text("StorageClass", v.headers.storage_class.as_deref().unwrap_or("STANDARD"));
            }
            if has("ObjectSize") {
                w.text("ObjectSize", v.size.to_string());
            }
        })
        .with_header("Last-Modified", wire::http_date(v.last_modified));
        if versioned {
            response = response.with_header("x-amz-version-id", v.version_id.clone());
        }
        Ok(response)
    }
}

pub struct Deleted {
    pub delete_marker: bool,
    pub version_id: Option<String>,
}

/// A version id for the response header, when the bucket has versioning.
fn version_header(id: &str) -> Option<String> {
    (!id.is_empty()).then(|| id.to_string())
}

/// `x-amz-copy-source`: `bucket/key[?versionId=…]`, URL-encoded, with or without a leading `/`.
pub fn copy_source(r: &Req<'_>) -> Result<(String, String, Option<String>)> {
    let raw = r.header("x-amz-copy-source").unwrap_or("");
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    let path = percent_decode_str(path.trim_start_matches('/')).decode_utf8_lossy().into_owned();
    let version = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "versionId").map(|(_, v)| v.into_owned());
    match path.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_string(), k.to_string(), version)),
        _ => Err(errors::invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            "x-amz-copy-source",
            raw,
        )),
    }
}

/// The byte range of part `n` of a multipart object (the whole object is part 1 otherwise).
fn part_range(v: &ObjectVersion, n: u32) -> Result<(u64, u64)> {
    if v.parts.is_empty() {
        return if n == 1 { Ok((0, v.size)) } else { Err(errors::invalid_range(v.size, &format!("part {n}"))) };
    }
    let mut start = 0;
    for p in &v.parts {
        if p.number == n {
            return Ok((start, p.size));
        }
        start += p.size;
    }
    Err(AwsError::new(416, "InvalidPartNumber", "The requested partnumber is not satisfiable")
        .with_extra("PartNumberRequested", n.to_string())
        .with_extra("ActualPartCount", v.parts.len().to_string()))
}

pub fn parse_tag_set(doc: &crate::xml::Element) -> Result<BTreeMap<String, String>> {
    if doc.name != "Tagging" {
        return Err(errors::malformed_xml());
    }
    let set = doc.child("TagSet").ok_or_else(errors::malformed_xml)?;
    let mut tags = BTreeMap::new();
    for tag in set.children("Tag") {
        let key = tag.child("Key").map(|k| k.text.clone()).ok_or_else(errors::malformed_xml)?;
        let value = tag.child("Value").map(|v| v.text.clone()).unwrap_or_default();
        if tags.insert(key, value).is_some() {
            return Err(AwsError::new(400, "InvalidTag", "Cannot provide multiple Tags with the same key"));
        }
    }
    check_tags(&tags)?;
    Ok(tags)
}

pub fn write_tag_set(w: &mut XmlWriter, tags: &BTreeMap<String, String>) {
    w.open("TagSet");
    for (k, v) in tags {
        w.open("Tag").text("Key", k).text("Value", v).close("Tag");
    }
    w.close("TagSet");
}

/// A file removed on drop unless kept (a copy whose record was refused).
struct FileGuard<'a> {
    storage: &'a crate::storage::Storage,
    name: Option<String>,
}

impl FileGuard<'_> {
    fn keep(mut self) {
        self.name = None;
    }
}

impl Drop for FileGuard<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.name.take() {
            self.storage.remove(&n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), Some((0, 10)));
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), Some((90, 10)));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), Some((90, 10)));
        assert_eq!(parse_range("bytes=50-500", 100).unwrap(), Some((50, 50)));
        assert!(parse_range("bytes=100-", 100).is_err());
        assert_eq!(parse_range("items=0-1", 100).unwrap(), None);
        assert_eq!(parse_range("bytes=5-1", 100).unwrap(), None);
    }
}
