//! KMS's state: key metadata and aliases in the service journal, key material in a journal of
//! its own (owner-only, never in the metadata journal or the logs).
//!
//! Journal keys: `k|<key arn>` for a key, `a|<alias arn>` for an alias; material by key ARN.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use nimbus_core::state::Persist;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Grant {
    pub grant_id: String,
    pub grant_token: String,
    pub name: Option<String>,
    pub grantee: String,
    pub retiring: Option<String>,
    pub operations: Vec<String>,
    pub constraints: Option<serde_json::Value>,
    pub created: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Rotation {
    pub date: f64,
    pub kind: String,
    pub material_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyMeta {
    pub account: String,
    pub region: String,
    pub key_id: String,
    pub arn: String,
    /// Epoch seconds, as the wire has them.
    pub created: f64,
    pub description: String,
    pub usage: String,
    pub spec: String,
    pub origin: String,
    /// `CUSTOMER` or `AWS` (the `alias/aws/*` keys).
    pub manager: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport`.
    pub state: String,
    pub deletion_date: Option<f64>,
    pub pending_window_days: Option<i64>,
    pub multi_region: bool,
    /// Multi-region keys: the primary's region and the replicas' regions.
    pub primary_region: Option<String>,
    pub replica_regions: Vec<String>,
    pub policy: String,
    pub tags: Vec<(String, String)>,
    pub grants: Vec<Grant>,
    pub rotation_enabled: bool,
    pub rotation_period_days: Option<i64>,
    pub next_rotation: Option<f64>,
    /// One id per version of the key material, oldest first; the last is current.
    pub material_ids: Vec<String>,
    pub rotations: Vec<Rotation>,
}

impl KeyMeta {
    pub fn enabled(&self) -> bool {
        self.state == "Enabled"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alias {
    pub name: String,
    pub arn: String,
    pub target_key_id: String,
    pub created: f64,
    pub updated: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Record {
    Key(Box<KeyMeta>),
    Alias(Alias),
}

/// Keys and aliases by ARN (so one account and region are one ARN prefix).
#[derive(Default)]
pub struct Db {
    pub keys: BTreeMap<String, KeyMeta>,
    pub aliases: BTreeMap<String, Alias>,
}

impl Db {
    /// Keys of one account and region, in ARN order.
    pub fn keys_in<'a>(&'a self, account: &str, region: &str) -> impl Iterator<Item = &'a KeyMeta> + 'a {
        let prefix = format!("arn:aws:kms:{region}:{account}:key/");
        self.keys.range(prefix.clone()..).take_while(move |(k, _)| k.starts_with(&prefix)).map(|(_, v)| v)
    }

    pub fn aliases_in<'a>(&'a self, account: &str, region: &str) -> impl Iterator<Item = &'a Alias> + 'a {
        let prefix = format!("arn:aws:kms:{region}:{account}:alias/");
        self.aliases.range(prefix.clone()..).take_while(move |(k, _)| k.starts_with(&prefix)).map(|(_, v)| v)
    }
}

impl Persist for Db {
    type Record = Record;

    fn apply(&mut self, key: &str, record: Option<Record>) {
        let Some((kind, arn)) = key.split_once('|') else { return };
        match (kind, record) {
            ("k", Some(Record::Key(meta))) => {
                self.keys.insert(arn.to_string(), *meta);
            }
            ("k", None) => {
                self.keys.remove(arn);
            }
            ("a", Some(Record::Alias(alias))) => {
                self.aliases.insert(arn.to_string(), alias);
            }
            ("a", None) => {
                self.aliases.remove(arn);
            }
            _ => tracing::warn!(key, "KMS journal record of an unknown kind; ignored"),
        }
    }
}

/// Every version of one key's material, base64 in the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaterialRecord(pub Vec<String>);

/// Key material by key ARN, decoded.
#[derive(Default)]
pub struct Materials {
    pub by_key: std::collections::HashMap<String, Vec<Vec<u8>>>,
}

impl Persist for Materials {
    type Record = MaterialRecord;

    fn apply(&mut self, key: &str, record: Option<MaterialRecord>) {
        match record {
            Some(MaterialRecord(versions)) => {
                let decoded: Option<Vec<Vec<u8>>> =
                    versions.iter().map(|v| base64::engine::general_purpose::STANDARD.decode(v).ok()).collect();
                match decoded {
                    Some(d) => {
                        self.by_key.insert(key.to_string(), d);
                    }
                    None => tracing::error!(key, "unreadable key material record; dropped"),
                }
            }
            None => {
                self.by_key.remove(key);
            }
        }
    }
}

pub fn material_record(versions: &[Vec<u8>]) -> MaterialRecord {
    MaterialRecord(versions.iter().map(|v| base64::engine::general_purpose::STANDARD.encode(v)).collect())
}
