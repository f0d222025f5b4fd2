//! Multipart uploads: create, upload part (and part copy), complete (order, ETag and size
//! rules; `-N` ETags; composite or full-object checksums), abort, list parts, list uploads.

use nimbus_core::query::XmlWriter;
use nimbus_core::{AwsError, HttpResponse, RequestBody};

use crate::checksum;
use crate::errors::{self, Result};
use crate::notify::Event;
use crate::object::{copy_source, object_headers, parse_range, quoted};
use crate::request::{self, Req};
use crate::state::{upload_key, Checksum, ObjectVersion, PartInfo, Record, Upload, UploadPart};
use crate::wire;
use crate::{owned, S3};

const MIN_PART: u64 = 5 * 1024 * 1024;

fn part_number(r: &Req<'_>) -> Result<u32> {
    let text = r.query("partNumber").unwrap_or("");
    match text.parse::<u32>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(errors::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            text,
        )),
    }
}

impl S3 {
    fn upload(&self, r: &Req<'_>) -> Result<Upload> {
        let id = r.query("uploadId").unwrap_or("");
        self.store.read(|s| {
            let b = owned(s, r)?;
            b.uploads.get(id).filter(|u| u.key == r.key()).cloned().ok_or_else(|| errors::no_such_upload(id))
        })
    }

    pub(crate) fn create_upload(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let headers = object_headers(r)?;
        let algorithm = match r.header("x-amz-checksum-algorithm") {
            Some(a) => Some(checksum::canonical(a).ok_or_else(|| {
                errors::invalid_argument("Checksum algorithm provided is unsupported.", "x-amz-checksum-algorithm", a)
            })?),
            None => None,
        };
        let kind = match r.header("x-amz-checksum-type") {
            Some(t @ ("COMPOSITE" | "FULL_OBJECT")) => Some(t.to_string()),
            Some(t) => {
                return Err(errors::invalid_argument(
                    "Value for x-amz-checksum-type header is invalid.",
                    "x-amz-checksum-type",
                    t,
                ))
            }
            None => algorithm.map(|a| if a == "CRC64NVME" { "FULL_OBJECT" } else { "COMPOSITE" }.to_string()),
        };
        if kind.as_deref() == Some("COMPOSITE") && algorithm == Some("CRC64NVME") {
            return Err(errors::invalid_request(
                "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
            ));
        }
        if kind.as_deref() == Some("FULL_OBJECT") && matches!(algorithm, Some("SHA1" | "SHA256")) {
            return Err(errors::invalid_request(format!(
                "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                algorithm.unwrap_or_default().to_ascii_lowercase()
            )));
        }
        let id = crate::object::new_version_id() + &crate::object::new_version_id();
        let upload = Upload {
            id: id.clone(),
            key: r.key().to_string(),
            initiated: self.now(),
            owner: r.ctx.account.clone(),
            headers,
            checksum_algorithm: algorithm.map(str::to_string),
            checksum_type: kind.clone(),
            parts: Default::default(),
        };
        self.store.write(|s, c| {
            owned(s, r)?;
            c.put(upload_key(r.bucket(), &id), Record::Upload(upload));
            Ok(())
        })?;
        let mut response = wire::document("InitiateMultipartUploadResult", |w| {
            w.text("Bucket", r.bucket()).text("Key", r.key()).text("UploadId", &id);
        })
        .with_header("x-amz-server-side-encryption", "AES256");
        if let Some(a) = algorithm {
            response = response.with_header("x-amz-checksum-algorithm", a);
        }
        if let Some(k) = kind {
            response = response.with_header("x-amz-checksum-type", k);
        }
        Ok(response)
    }

    pub(crate) async fn upload_part(&self, r: &Req<'_>, body: &mut RequestBody) -> Result<HttpResponse> {
        let n = part_number(r)?;
        let upload = self.upload(r)?;
        let plan = request::checksum_plan(r, upload.checksum_algorithm.as_deref())?;
        if let (Some(want), Some(got)) = (&upload.checksum_algorithm, &plan.algorithm) {
            if want != got {
                return Err(errors::invalid_request(format!(
                    "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                    want.to_ascii_lowercase(),
                    got.to_ascii_lowercase()
                )));
            }
        }
        let written = request::receive(r, body, &self.storage, &plan).await?;
        let etag = hex::encode(written.md5);
        let part = UploadPart {
            file: written.file.name.clone(),
            size: written.file.size,
            etag: etag.clone(),
            last_modified: self.now(),
            checksum: written.checksum.as_ref().map(|(_, v)| v.clone()),
        };
        let response_checksum = written.checksum.clone();
        self.save_part(r, &upload.id, n, part)?;
        written.file.keep();
        let mut response = HttpResponse::new(200, "application/xml", "")
            .with_header("ETag", quoted(&etag))
            .with_header("x-amz-server-side-encryption", "AES256");
        if let Some((a, v)) = response_checksum.filter(|_| {
            plan.algorithm.is_some()
                && (upload.checksum_algorithm.is_some() || plan.header_value.is_some() || plan.trailer)
        }) {
            response = response.with_header(&checksum::header_name(&a), v);
        }
        Ok(response)
    }

    /// Record part `n` (replacing an earlier upload of it, whose file then goes).
    fn save_part(&self, r: &Req<'_>, id: &str, n: u32, part: UploadPart) -> Result<()> {
        let old = self.store.write(|s, c| {
            let b = owned(s, r)?;
            let mut upload = b.uploads.get(id).cloned().ok_or_else(|| errors::no_such_upload(id))?;
            let old = upload.parts.insert(n, part.clone());
            c.put(upload_key(r.bucket(), id), Record::Upload(upload));
            Ok(old)
        })?;
        if let Some(old) = old {
            self.storage.remove(&old.file);
        }
        Ok(())
    }

    pub(crate) async fn upload_part_copy(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let n = part_number(r)?;
        let upload = self.upload(r)?;
        let (src_bucket, src_key, src_version) = copy_source(r)?;
        let src = self.store.read(|s| {
            let b = s.buckets.get(&src_bucket).ok_or_else(|| errors::no_such_bucket(&src_bucket))?;
            let record = b.objects.get(&src_key).ok_or_else(|| errors::no_such_key(&src_key))?;
            let v = match &src_version {
                Some(id) => record.version(id).ok_or_else(|| errors::no_such_version(&src_key, id))?,
                None => record.live().ok_or_else(|| errors::no_such_key(&src_key))?,
            };
            Ok::<ObjectVersion, AwsError>(v.clone())
        })?;
        let (start, len) = match r.header("x-amz-copy-source-range") {
            Some(text) => match parse_range(text, src.size) {
                Ok(Some(range)) if text.contains('-') && !text.trim_start_matches("bytes=").starts_with('-') => range,
                _ => {
                    return Err(errors::invalid_argument(
                        "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
                        "x-amz-copy-source-range",
                        text,
                    ))
                }
            },
            None => (0, src.size),
        };
        let mut file = self.storage.create(upload.checksum_algorithm.as_deref()).map_err(errors::io)?;
        let data = self.storage.read_all(&src.file).map_err(errors::io)?;
        file.write(&data[start as usize..(start + len) as usize]).map_err(errors::io)?;
        let written = file.finish().map_err(errors::io)?;
        let etag = hex::encode(written.md5);
        let now = self.now();
        let part = UploadPart {
            file: written.file.name.clone(),
            size: written.file.size,
            etag: etag.clone(),
            last_modified: now,
            checksum: written.checksum.as_ref().map(|(_, v)| v.clone()),
        };
        self.save_part(r, &upload.id, n, part)?;
        written.file.keep();
        Ok(wire::document("CopyPartResult", |w| {
            w.text("ETag", quoted(&etag)).text("LastModified", wire::iso(now));
            if let Some((a, v)) = &written.checksum {
                w.text(&format!("Checksum{a}"), v);
            }
        }))
    }

    pub(crate) async fn complete_upload(&self, r: &Req<'_>, body: &mut RequestBody) -> Result<HttpResponse> {
        let upload = self.upload(r)?;
        let doc = request::read_document(r, body).await?;
        if doc.name != "CompleteMultipartUpload" {
            return Err(errors::malformed_xml());
        }
        let mut chosen = Vec::new();
        let mut previous = 0;
        for p in doc.children("Part") {
            let n: u32 = p.text_of("PartNumber").and_then(|t| t.parse().ok()).ok_or_else(errors::malformed_xml)?;
            if n <= previous {
                return Err(errors::invalid_part_order());
            }
            previous = n;
            let etag = p.text_of("ETag").unwrap_or("").trim_matches('"').to_string();
            let stored = upload.parts.get(&n).filter(|s| s.etag == etag).ok_or_else(errors::invalid_part)?;
            if let Some(algorithm) = &upload.checksum_algorithm {
                match p.text_of(&format!("Checksum{algorithm}")) {
                    Some(given) if stored.checksum.as_deref() != Some(given) => return Err(errors::invalid_part()),
                    // A composite checksum is built from the parts' checksums, so each must be named.
                    None if upload.checksum_type.as_deref() == Some("COMPOSITE") => {
                        return Err(errors::invalid_request(format!(
                            "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {n} in the request.",
                            algorithm.to_ascii_lowercase()
                        )))
                    }
                    _ => {}
                }
            }
            chosen.push((n, stored.clone()));
        }
        if chosen.is_empty() {
            return Err(errors::malformed_xml());
        }
        for (i, (_, p)) in chosen.iter().enumerate() {
            if i + 1 < chosen.len() && p.size < MIN_PART {
                return Err(errors::entity_too_small(p.size));
            }
        }
        let files: Vec<String> = chosen.iter().map(|(_, p)| p.file.clone()).collect();
        let full = upload.checksum_type.as_deref() == Some("FULL_OBJECT");
        // An upload created without a checksum still gets S3's default, a full-object CRC64NVME.
        let hash_with = match upload.checksum_algorithm.as_deref() {
            None => Some("CRC64NVME"),
            Some(a) => full.then_some(a),
        };
        let file = tokio::task::block_in_place(|| self.storage.concat(&files, hash_with)).map_err(errors::io)?;
        let written = file.finish().map_err(errors::io)?;
        let mut md5s = Vec::new();
        for (_, p) in &chosen {
            md5s.extend(hex::decode(&p.etag).unwrap_or_default());
        }
        let etag = format!("{}-{}", hex::encode(checksum::md5(&md5s)), chosen.len());
        let checksum = match (&upload.checksum_algorithm, full) {
            (Some(a), true) => written.checksum.as_ref().map(|(_, v)| Checksum {
                algorithm: a.clone(),
                value: v.clone(),
                kind: "FULL_OBJECT".into(),
            }),
            (Some(a), false) => {
                let mut raw = Vec::new();
                for (_, p) in &chosen {
                    raw.extend(p.checksum.as_deref().and_then(checksum::unb64).unwrap_or_default());
                }
                checksum::of(a, &raw).map(|v| Checksum {
                    algorithm: a.clone(),
                    value: format!("{v}-{}", chosen.len()),
                    kind: "COMPOSITE".into(),
                })
            }
            (None, _) => written.checksum.as_ref().map(|(a, v)| Checksum {
                algorithm: a.clone(),
                value: v.clone(),
                kind: "FULL_OBJECT".into(),
            }),
        };
        let size = written.file.size;
        let version = ObjectVersion {
            version_id: String::new(),
            delete_marker: false,
            file: written.file.name.clone(),
            size,
            etag: etag.clone(),
            last_modified: self.now(),
            headers: upload.headers.clone(),
            checksum: checksum.clone(),
            parts: chosen
                .iter()
                .map(|(n, p)| PartInfo { number: *n, size: p.size, etag: p.etag.clone(), checksum: p.checksum.clone() })
                .collect(),
            owner: upload.owner.clone(),
        };
        let (version_id, mut replaced) = self.store.write(|s, c| {
            let b = owned(s, r)?;
            if !b.uploads.contains_key(&upload.id) {
                return Err(errors::no_such_upload(&upload.id));
            }
            c.delete(upload_key(r.bucket(), &upload.id));
            Ok(self.add_version(s, c, r.bucket(), r.key(), version))
        })?;
        written.file.keep();
        replaced.extend(upload.parts.values().map(|p| p.file.clone()));
        for f in replaced {
            self.storage.remove(&f);
        }
        let versioned = (!version_id.is_empty()).then_some(version_id);
        self.notify(r, Event::created("CompleteMultipartUpload", r.key(), size, &etag, versioned.as_deref()));
        // S3 form-encodes the key here (`/` as `%2F`, space as `+`), unlike the request path.
        let key: String = form_urlencoded::byte_serialize(r.key().as_bytes()).collect();
        let location = format!("{}/{}/{}", r.ctx.endpoint, r.bucket(), key);
        let mut response = wire::document("CompleteMultipartUploadResult", |w| {
            w.text("Location", &location).text("Bucket", r.bucket()).text("Key", r.key()).text("ETag", quoted(&etag));
            if let Some(c) = &checksum {
                w.text(&format!("Checksum{}", c.algorithm), &c.value).text("ChecksumType", &c.kind);
            }
        })
        .with_header("x-amz-server-side-encryption", "AES256");
        if let Some(id) = versioned {
            response = response.with_header("x-amz-version-id", id);
        }
        Ok(response)
    }

    pub(crate) fn abort_upload(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let id = r.query("uploadId").unwrap_or("").to_string();
        let files = self.store.write(|s, c| {
            let b = owned(s, r)?;
            let u = b.uploads.get(&id).filter(|u| u.key == r.key()).ok_or_else(|| errors::no_such_upload(&id))?;
            c.delete(upload_key(r.bucket(), &id));
            Ok(u.parts.values().map(|p| p.file.clone()).collect::<Vec<_>>())
        })?;
        for f in files {
            self.storage.remove(&f);
        }
        Ok(HttpResponse::new(204, "application/xml", ""))
    }

    pub(crate) fn list_parts(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let upload = self.upload(r)?;
        let marker: u32 = r.query("part-number-marker").and_then(|m| m.parse().ok()).unwrap_or(0);
        let max: usize = r.query("max-parts").and_then(|m| m.parse().ok()).unwrap_or(1000).min(1000);
        let parts: Vec<(&u32, &UploadPart)> = upload.parts.range(marker + 1..).collect();
        let truncated = parts.len() > max;
        let shown = &parts[..parts.len().min(max)];
        Ok(wire::document("ListPartsResult", |w| {
            w.text("Bucket", r.bucket()).text("Key", r.key()).text("UploadId", &upload.id);
            w.text("PartNumberMarker", marker.to_string());
            if let Some((n, _)) = shown.last() {
                w.text("NextPartNumberMarker", n.to_string());
            }
            w.text("MaxParts", max.to_string()).text("IsTruncated", truncated.to_string());
            for (n, p) in shown {
                w.open("Part")
                    .text("PartNumber", n.to_string())
                    .text("LastModified", wire::iso(p.last_modified))
                    .text("ETag", quoted(&p.etag))
                    .text("Size", p.size.to_string());
                if let (Some(a), Some(v)) = (&upload.checksum_algorithm, &p.checksum) {
                    w.text(&format!("Checksum{a}"), v);
                }
                w.close("Part");
            }
            wire::owner(w, "Initiator", &upload.owner);
            wire::owner(w, "Owner", &upload.owner);
            w.text("StorageClass", upload.headers.storage_class.as_deref().unwrap_or("STANDARD"));
            w.opt_text("ChecksumAlgorithm", upload.checksum_algorithm.as_deref());
            w.opt_text("ChecksumType", upload.checksum_type.as_deref());
        }))
    }

    pub(crate) fn list_uploads(&self, r: &Req<'_>) -> Result<HttpResponse> {
        let prefix = r.query("prefix").unwrap_or("");
        let max: usize = r.query("max-uploads").and_then(|m| m.parse().ok()).unwrap_or(1000).min(1000);
        let key_marker = r.query("key-marker").unwrap_or("");
        let mut uploads = self.store.read(|s| {
            owned(s, r).map(|b| {
                b.uploads
                    .values()
                    .filter(|u| u.key.starts_with(prefix) && u.key.as_str() > key_marker)
                    .cloned()
                    .collect::<Vec<_>>()
            })
        })?;
        uploads.sort_by(|a, b| (&a.key, a.initiated, &a.id).cmp(&(&b.key, b.initiated, &b.id)));
        let truncated = uploads.len() > max;
        uploads.truncate(max);
        let mut w = XmlWriter::new();
        wire::open_root(&mut w, "ListMultipartUploadsResult");
        w.text("Bucket", r.bucket())
            .text("KeyMarker", key_marker)
            .text("UploadIdMarker", r.query("upload-id-marker").unwrap_or(""));
        if truncated {
            if let Some(last) = uploads.last() {
                w.text("NextKeyMarker", &last.key).text("NextUploadIdMarker", &last.id);
            }
        }
        if !prefix.is_empty() {
            w.text("Prefix", prefix);
        }
        w.text("MaxUploads", max.to_string()).text("IsTruncated", truncated.to_string());
        for u in &uploads {
            w.open("Upload").text("Key", &u.key).text("UploadId", &u.id);
            wire::owner(&mut w, "Initiator", &u.owner);
            wire::owner(&mut w, "Owner", &u.owner);
            w.text("StorageClass", u.headers.storage_class.as_deref().unwrap_or("STANDARD"))
                .text("Initiated", wire::iso(u.initiated));
            w.opt_text("ChecksumAlgorithm", u.checksum_algorithm.as_deref());
            w.opt_text("ChecksumType", u.checksum_type.as_deref());
            w.close("Upload");
        }
        w.close("ListMultipartUploadsResult");
        Ok(wire::xml_response(200, w.finish()))
    }
}
