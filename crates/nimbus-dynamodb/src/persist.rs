//! How [`Change`]s become journal records and back. Keys name what they hold, with the
//! variable part last so it may contain anything:
//!
//! ```text
//! a|<account>|<region>|<table>                     table metadata (sorts first: replayed first)
//! b|<account>|<region>|<backup arn>                backup
//! i|<account>|<region>|<table>|<key json>          item
//! k|<token>                                        TransactWriteItems idempotency token
//! r|<account>|<region>|<table>|<seq>|<stream arn>  stream record
//! x|<account>|<region>|<table>|<stream arn>        highest trimmed sequence number
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::key::{PrimaryKey, Scalar};
use crate::state::{key_json, Backup, Change, Db, StreamRecord, TokenEntry};
use crate::table::TableMeta;
use crate::value::{item_from_json, item_to_json, AttrValue, Item};

#[derive(Debug, Serialize, Deserialize)]
pub enum Record {
    Table(Box<TableMeta>),
    Item(#[serde(serialize_with = "ser_item", deserialize_with = "de_item")] Item),
    Stream(Box<StreamRecord>),
    Trimmed(u64),
    Backup(Box<Backup>),
    Token(TokenEntry),
}

fn ser_item<S: Serializer>(item: &Item, s: S) -> Result<S::Ok, S::Error> {
    item_to_json(item).serialize(s)
}

fn de_item<'de, D: Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
    let v = Value::deserialize(d)?;
    item_from_json(&v).map_err(|e| serde::de::Error::custom(e.message))
}

fn parse_key(text: &str) -> Option<PrimaryKey> {
    let v: Value = serde_json::from_str(text).ok()?;
    let parts = v.as_array()?;
    let scalar = |v: &Value| Scalar::from_value(&AttrValue::from_json(v).ok()?);
    let hash = scalar(parts.first()?)?;
    let range = match parts.get(1) {
        Some(r) => Some(scalar(r)?),
        None => None,
    };
    Some((hash, range))
}

/// The journal entries of one change (a table deletion also drops its items and records).
pub fn entries(db: &Db, change: Change) -> Vec<(String, Option<Record>)> {
    match change {
        Change::Table { scope: (a, r), name, meta } => {
            let key = format!("a|{a}|{r}|{name}");
            match meta {
                Some(meta) => vec![(key, Some(Record::Table(meta)))],
                None => {
                    let mut out = vec![(key, None)];
                    if let Some(table) = db.table(&(a.clone(), r.clone()), &name) {
                        for k in table.items.keys() {
                            out.push((format!("i|{a}|{r}|{name}|{}", key_json(k)), None));
                        }
                        for (arn, log) in &table.streams {
                            for rec in &log.records {
                                out.push((format!("r|{a}|{r}|{name}|{}|{arn}", rec.sequence), None));
                            }
                            out.push((format!("x|{a}|{r}|{name}|{arn}"), None));
                        }
                    }
                    out
                }
            }
        }
        Change::Item { scope: (a, r), table, key, item } => {
            vec![(format!("i|{a}|{r}|{table}|{}", key_json(&key)), item.map(Record::Item))]
        }
        Change::Record { scope: (a, r), table, stream, record } => {
            vec![(format!("r|{a}|{r}|{table}|{}|{stream}", record.sequence), Some(Record::Stream(record)))]
        }
        Change::Trim { scope: (a, r), table, stream, before_sequence } => {
            let mut out = Vec::new();
            if let Some(log) = db.table(&(a.clone(), r.clone()), &table).and_then(|t| t.streams.get(&stream)) {
                for rec in log.records.iter().take_while(|rec| rec.sequence < before_sequence) {
                    out.push((format!("r|{a}|{r}|{table}|{}|{stream}", rec.sequence), None));
                }
            }
            out.push((format!("x|{a}|{r}|{table}|{stream}"), Some(Record::Trimmed(before_sequence - 1))));
            out
        }
        Change::Backup { scope: (a, r), arn, backup } => vec![(format!("b|{a}|{r}|{arn}"), backup.map(Record::Backup))],
        Change::Token { token, entry } => vec![(format!("k|{token}"), entry.map(Record::Token))],
    }
}

/// The change a journal entry stands for.
pub fn change_of(key: &str, record: Option<Record>) -> Option<Change> {
    let (kind, rest) = key.split_once('|')?;
    if kind == "k" {
        let entry = match record {
            Some(Record::Token(e)) => Some(e),
            _ => None,
        };
        return Some(Change::Token { token: rest.to_string(), entry });
    }
    let mut parts = rest.splitn(3, '|');
    let scope = (parts.next()?.to_string(), parts.next()?.to_string());
    let rest = parts.next()?;
    Some(match (kind, record) {
        ("a", Some(Record::Table(meta))) => Change::Table { scope, name: rest.to_string(), meta: Some(meta) },
        ("a", None) => Change::Table { scope, name: rest.to_string(), meta: None },
        ("b", Some(Record::Backup(b))) => Change::Backup { scope, arn: rest.to_string(), backup: Some(b) },
        ("b", None) => Change::Backup { scope, arn: rest.to_string(), backup: None },
        ("i", record) => {
            let (table, key) = rest.split_once('|')?;
            let item = match record {
                Some(Record::Item(item)) => Some(item),
                _ => None,
            };
            Change::Item { scope, table: table.to_string(), key: parse_key(key)?, item }
        }
        ("r", Some(Record::Stream(record))) => {
            let mut p = rest.splitn(3, '|');
            let table = p.next()?.to_string();
            let _seq = p.next()?;
            Change::Record { scope, table, stream: p.next()?.to_string(), record }
        }
        ("x", Some(Record::Trimmed(through))) => {
            let (table, stream) = rest.split_once('|')?;
            Change::Trim { scope, table: table.to_string(), stream: stream.to_string(), before_sequence: through + 1 }
        }
        // Deleted records and trims need no replay: their absence is the state.
        _ => return None,
    })
}

impl nimbus_core::state::Persist for Db {
    type Record = Record;

    fn apply(&mut self, key: &str, record: Option<Record>) {
        // A stream record's delete is the trim that already happened: nothing to undo.
        if key.starts_with("r|") && record.is_none() {
            return;
        }
        if let Some(change) = change_of(key, record) {
            Db::apply(self, change);
        }
    }
}
