//! S3's metadata, kept journal-first in a [`Store`]: buckets, the versions of each key, and
//! multipart uploads in progress. Object bytes are files on disk ([`crate::storage`]); a
//! record names its file.
//!
//! Journal keys: `b/<bucket>`, `o/<bucket>/<key>` (every version of the key), `u/<bucket>/<upload id>`.

use std::collections::BTreeMap;

use nimbus_core::state::Persist;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketMeta {
    pub name: String,
    pub account: String,
    pub region: String,
    /// Epoch milliseconds.
    pub created: i64,
    /// `Enabled` or `Suspended`; `None` for a bucket never versioned.
    pub versioning: Option<String>,
    /// Sub-resources kept as the client sent them (`cors`, `policy`, `lifecycle`, …).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Checksum {
    /// `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`.
    pub algorithm: String,
    /// Base64 of the digest (with `-N` for a composite multipart checksum).
    pub value: String,
    /// `FULL_OBJECT` or `COMPOSITE`.
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PartInfo {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    #[serde(default)]
    pub checksum: Option<String>,
}

/// What a PUT (or CreateMultipartUpload) says about the object besides its bytes.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ObjectHeaders {
    pub content_type: Option<String>,
    /// `Content-Encoding`, `Content-Disposition`, `Content-Language`, `Cache-Control`, `Expires`.
    #[serde(default)]
    pub content: BTreeMap<String, String>,
    /// User metadata without the `x-amz-meta-` prefix, names lower-cased as S3 keeps them.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub storage_class: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `x-amz-server-side-encryption` as asked (AES256 by default).
    pub sse: Option<String>,
    pub website_redirect: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectVersion {
    /// `null` in a bucket that was never versioned (or for writes while suspended).
    pub version_id: String,
    pub delete_marker: bool,
    /// The file holding the bytes; empty for a delete marker.
    pub file: String,
    pub size: u64,
    /// Hex, without quotes (`-N` for multipart).
    pub etag: String,
    /// Epoch milliseconds (whole seconds, as S3 reports them).
    pub last_modified: i64,
    #[serde(default)]
    pub headers: ObjectHeaders,
    #[serde(default)]
    pub checksum: Option<Checksum>,
    #[serde(default)]
    pub parts: Vec<PartInfo>,
    /// Who wrote it (account id).
    #[serde(default)]
    pub owner: String,
}

/// Every version of one key, oldest first; the last is current.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ObjectRecord {
    pub versions: Vec<ObjectVersion>,
}

impl ObjectRecord {
    pub fn current(&self) -> Option<&ObjectVersion> {
        self.versions.last()
    }

    /// The current version unless it is a delete marker.
    pub fn live(&self) -> Option<&ObjectVersion> {
        self.current().filter(|v| !v.delete_marker)
    }

    pub fn version(&self, id: &str) -> Option<&ObjectVersion> {
        self.versions.iter().find(|v| v.version_id == id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadPart {
    pub file: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: i64,
    #[serde(default)]
    pub checksum: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub id: String,
    pub key: String,
    pub initiated: i64,
    pub owner: String,
    pub headers: ObjectHeaders,
    /// `x-amz-checksum-algorithm` and `x-amz-checksum-type` of CreateMultipartUpload.
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
    #[serde(default)]
    pub parts: BTreeMap<u32, UploadPart>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    Bucket(BucketMeta),
    Object(ObjectRecord),
    Upload(Upload),
}

#[derive(Debug, Clone)]
pub struct BucketState {
    pub meta: BucketMeta,
    pub objects: BTreeMap<String, ObjectRecord>,
    pub uploads: BTreeMap<String, Upload>,
}

#[derive(Debug, Default)]
pub struct S3State {
    pub buckets: BTreeMap<String, BucketState>,
}

impl S3State {
    /// Every file a record references (to sweep files left by a crash).
    pub fn files(&self) -> std::collections::HashSet<String> {
        let mut out = std::collections::HashSet::new();
        for b in self.buckets.values() {
            for r in b.objects.values() {
                out.extend(r.versions.iter().filter(|v| !v.file.is_empty()).map(|v| v.file.clone()));
            }
            for u in b.uploads.values() {
                out.extend(u.parts.values().map(|p| p.file.clone()));
            }
        }
        out
    }
}

pub fn bucket_key(bucket: &str) -> String {
    format!("b/{bucket}")
}

pub fn object_key(bucket: &str, key: &str) -> String {
    format!("o/{bucket}/{key}")
}

pub fn upload_key(bucket: &str, id: &str) -> String {
    format!("u/{bucket}/{id}")
}

impl Persist for S3State {
    type Record = Record;

    fn apply(&mut self, key: &str, record: Option<Record>) {
        let (kind, rest) = key.split_at(2.min(key.len()));
        let (bucket, name) = rest.split_once('/').unwrap_or((rest, ""));
        match (kind, record) {
            ("b/", Some(Record::Bucket(meta))) => {
                match self.buckets.get_mut(bucket) {
                    Some(b) => b.meta = meta,
                    None => {
                        self.buckets.insert(
                            bucket.to_string(),
                            BucketState { meta, objects: BTreeMap::new(), uploads: BTreeMap::new() },
                        );
                    }
                };
            }
            ("b/", None) => {
                self.buckets.remove(bucket);
            }
            ("o/", record) => {
                let Some(b) = self.buckets.get_mut(bucket) else { return };
                match record {
                    Some(Record::Object(r)) if !r.versions.is_empty() => {
                        b.objects.insert(name.to_string(), r);
                    }
                    _ => {
                        b.objects.remove(name);
                    }
                }
            }
            ("u/", record) => {
                let Some(b) = self.buckets.get_mut(bucket) else { return };
                match record {
                    Some(Record::Upload(u)) => {
                        b.uploads.insert(name.to_string(), u);
                    }
                    _ => {
                        b.uploads.remove(name);
                    }
                }
            }
            (kind, _) => tracing::error!(kind, key, "unexpected S3 journal record"),
        }
    }
}
