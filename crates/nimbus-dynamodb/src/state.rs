//! DynamoDB's state: tables per account and region, their items (packed), secondary index
//! entries, stream records, backups and transaction tokens.
//!
//! Operations read a `&Db` and return a list of [`Change`]s; only [`Db::apply`] mutates, after
//! the changes are journaled. Index entries, sizes and counts are derived in `apply`, so a
//! replayed journal rebuilds exactly the same state.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::codec::Packed;
use crate::key::{PrimaryKey, Scalar};
use crate::table::TableMeta;
use crate::value::{AttrValue, Item};

/// Account and region.
pub type Scope = (String, String);

#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub packed: Packed,
    /// The item's size as DynamoDB counts it.
    pub size: u32,
}

impl Stored {
    pub fn new(item: &Item) -> Stored {
        Stored { packed: Packed::pack(item), size: item.size() as u32 }
    }

    pub fn item(&self) -> Item {
        self.packed.unpack()
    }
}

/// One secondary index's entries: (index key, table key), in index order.
#[derive(Debug, Default)]
pub struct IndexData {
    pub entries: BTreeSet<(PrimaryKey, PrimaryKey)>,
    pub size: usize,
}

/// A stream record as kept: everything GetRecords renders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    pub sequence: u64,
    pub event_id: String,
    pub event_name: String,
    /// Epoch milliseconds.
    pub created_millis: i64,
    pub keys: Value,
    pub new_image: Option<Value>,
    pub old_image: Option<Value>,
    pub size_bytes: usize,
    /// Removed by TTL (the record carries DynamoDB's service `userIdentity`).
    pub ttl: bool,
}

#[derive(Debug, Default)]
pub struct StreamLog {
    pub records: VecDeque<StreamRecord>,
    /// The highest sequence number retention removed (reads before it are refused).
    pub trimmed_through: u64,
}

#[derive(Debug, Default)]
pub struct TableData {
    pub meta: Option<TableMeta>,
    pub items: BTreeMap<PrimaryKey, Stored>,
    pub size_bytes: usize,
    pub indexes: HashMap<String, IndexData>,
    /// Stream records by stream ARN.
    pub streams: HashMap<String, StreamLog>,
    /// With TTL enabled: (expiry epoch seconds, key) of every item that has one.
    pub expiries: BTreeSet<(i64, PrimaryKey)>,
}

/// An item's TTL expiry: its TTL attribute, when that is a number of epoch seconds.
fn expiry_of(meta: &TableMeta, item: &Item) -> Option<i64> {
    let (attr, true) = meta.ttl.as_ref()? else { return None };
    match item.get(attr)? {
        AttrValue::N(n) => n.to_string().split('.').next()?.parse().ok(),
        _ => None,
    }
}

impl TableData {
    pub fn meta(&self) -> &TableMeta {
        self.meta.as_ref().expect("tables in the map have metadata")
    }

    fn index_item(&mut self, key: &PrimaryKey, item: &Item, size: usize, add: bool) {
        let Some(meta) = &self.meta else { return };
        if let Some(expiry) = expiry_of(meta, item) {
            if add {
                self.expiries.insert((expiry, key.clone()));
            } else {
                self.expiries.remove(&(expiry, key.clone()));
            }
        }
        for index in &meta.indexes {
            let Some(index_key) = index.key.index_key_of(item) else { continue };
            let data = self.indexes.entry(index.name.clone()).or_default();
            let entry = (index_key, key.clone());
            if add {
                if data.entries.insert(entry) {
                    data.size += size;
                }
            } else if data.entries.remove(&entry) {
                data.size -= size;
            }
        }
    }

    /// Rebuilds every index from the items (after indexes are added or removed).
    pub fn rebuild_indexes(&mut self) {
        self.indexes.clear();
        self.expiries.clear();
        let items: Vec<(PrimaryKey, Item, usize)> =
            self.items.iter().map(|(k, s)| (k.clone(), s.item(), s.size as usize)).collect();
        for (key, item, size) in items {
            self.index_item(&key, &item, size, true);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    pub arn: String,
    pub name: String,
    pub table: TableMeta,
    pub created: f64,
    pub size_bytes: usize,
    pub item_count: usize,
}

#[derive(Debug, Default)]
pub struct Region {
    pub tables: BTreeMap<String, TableData>,
    pub backups: BTreeMap<String, Backup>,
}

/// One durable change. Items carry their key so deletes need no item.
#[derive(Debug, Clone)]
pub enum Change {
    Table {
        scope: Scope,
        name: String,
        meta: Option<Box<TableMeta>>,
    },
    Item {
        scope: Scope,
        table: String,
        key: PrimaryKey,
        item: Option<Item>,
    },
    Record {
        scope: Scope,
        table: String,
        stream: String,
        record: Box<StreamRecord>,
    },
    /// Records older than `before_sequence` leave the stream (24-hour retention).
    Trim {
        scope: Scope,
        table: String,
        stream: String,
        before_sequence: u64,
    },
    Backup {
        scope: Scope,
        arn: String,
        backup: Option<Box<Backup>>,
    },
    Token {
        token: String,
        entry: Option<TokenEntry>,
    },
}

/// A TransactWriteItems idempotency token: the request it answered, for 10 minutes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenEntry {
    pub request_hash: String,
    pub expires_millis: i64,
}

#[derive(Debug, Default)]
pub struct Db {
    pub regions: HashMap<Scope, Region>,
    pub tokens: HashMap<String, TokenEntry>,
    /// Last stream sequence number handed out (sequence numbers are unique per service).
    pub sequence: u64,
}

impl Db {
    pub fn region(&self, scope: &Scope) -> Option<&Region> {
        self.regions.get(scope)
    }

    pub fn table(&self, scope: &Scope, name: &str) -> Option<&TableData> {
        self.regions.get(scope)?.tables.get(name)
    }

    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Table { scope, name, meta } => {
                let region = self.regions.entry(scope).or_default();
                match meta {
                    None => {
                        region.tables.remove(&name);
                    }
                    Some(meta) => {
                        let data = region.tables.entry(name).or_default();
                        let rebuild = data.meta.as_ref().map(|m| (index_names(m), &m.ttl))
                            != Some((index_names(&meta), &meta.ttl));
                        data.meta = Some(*meta);
                        if rebuild {
                            data.rebuild_indexes();
                        }
                    }
                }
            }
            Change::Item { scope, table, key, item } => {
                let Some(data) = self.regions.get_mut(&scope).and_then(|r| r.tables.get_mut(&table)) else { return };
                if let Some(old) = data.items.remove(&key) {
                    data.size_bytes -= old.size as usize;
                    data.index_item(&key, &old.item(), old.size as usize, false);
                }
                if let Some(item) = item {
                    let stored = Stored::new(&item);
                    data.size_bytes += stored.size as usize;
                    data.index_item(&key, &item, stored.size as usize, true);
                    data.items.insert(key, stored);
                }
            }
            Change::Record { scope, table, stream, record } => {
                self.sequence = self.sequence.max(record.sequence);
                let Some(data) = self.regions.get_mut(&scope).and_then(|r| r.tables.get_mut(&table)) else { return };
                data.streams.entry(stream).or_default().records.push_back(*record);
            }
            Change::Trim { scope, table, stream, before_sequence } => {
                let Some(data) = self.regions.get_mut(&scope).and_then(|r| r.tables.get_mut(&table)) else { return };
                let log = data.streams.entry(stream).or_default();
                while log.records.front().is_some_and(|r| r.sequence < before_sequence) {
                    log.records.pop_front();
                }
                log.trimmed_through = log.trimmed_through.max(before_sequence - 1);
            }
            Change::Backup { scope, arn, backup } => {
                let region = self.regions.entry(scope).or_default();
                match backup {
                    Some(b) => {
                        region.backups.insert(arn, *b);
                    }
                    None => {
                        region.backups.remove(&arn);
                    }
                }
            }
            Change::Token { token, entry } => match entry {
                Some(e) => {
                    self.tokens.insert(token, e);
                }
                None => {
                    self.tokens.remove(&token);
                }
            },
        }
    }
}

fn index_names(meta: &TableMeta) -> Vec<String> {
    meta.indexes.iter().map(|i| i.name.clone()).collect()
}

/// The value a key takes in the journal: its scalars in wire form.
pub fn key_json(key: &PrimaryKey) -> Value {
    let scalar = |s: &Scalar| s.to_value().to_json();
    match &key.1 {
        None => Value::Array(vec![scalar(&key.0)]),
        Some(r) => Value::Array(vec![scalar(&key.0), scalar(r)]),
    }
}
