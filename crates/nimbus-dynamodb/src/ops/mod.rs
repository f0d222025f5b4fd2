//! DynamoDB's operations as plain functions: each reads a `&Db` and the model-shaped JSON
//! input and returns its output plus the [`Change`]s to journal and apply.

pub mod batch;
pub mod expressions;
pub mod items;
pub mod partiql;
pub mod read;
pub mod streams;
pub mod tables;
pub mod ttl;

#[cfg(test)]
mod tests;

use serde_json::{json, Value};

use crate::errors::{resource_not_found, validation, Result};
use crate::key::PrimaryKey;
use crate::state::{Change, Db, Scope, StreamRecord, TableData};
use crate::value::{item_to_json, Item};

/// Who is calling and when.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub account: String,
    pub region: String,
    pub now_millis: i64,
}

impl Ctx {
    pub fn scope(&self) -> Scope {
        (self.account.clone(), self.region.clone())
    }

    pub fn now_seconds(&self) -> f64 {
        self.now_millis as f64 / 1000.0
    }
}

/// An operation's answer and what it changes.
#[derive(Debug, Default)]
pub struct Outcome {
    pub output: Value,
    pub changes: Vec<Change>,
}

impl Outcome {
    pub fn read(output: Value) -> Outcome {
        Outcome { output, changes: Vec::new() }
    }
}

pub fn dispatch(db: &Db, ctx: &Ctx, op: &str, input: &Value) -> Option<Result<Outcome>> {
    Some(match op {
        "CreateTable" => tables::create_table(db, ctx, input),
        "DescribeTable" => tables::describe_table(db, ctx, input),
        "UpdateTable" => tables::update_table(db, ctx, input),
        "DeleteTable" => tables::delete_table(db, ctx, input),
        "ListTables" => tables::list_tables(db, ctx, input),
        "UpdateTimeToLive" => tables::update_time_to_live(db, ctx, input),
        "DescribeTimeToLive" => tables::describe_time_to_live(db, ctx, input),
        "DescribeLimits" => Ok(tables::describe_limits()),
        "DescribeEndpoints" => Ok(tables::describe_endpoints(ctx)),
        "TagResource" => tables::tag_resource(db, ctx, input),
        "UntagResource" => tables::untag_resource(db, ctx, input),
        "ListTagsOfResource" => tables::list_tags_of_resource(db, ctx, input),
        "UpdateContinuousBackups" => tables::update_continuous_backups(db, ctx, input),
        "DescribeContinuousBackups" => tables::describe_continuous_backups(db, ctx, input),
        "CreateBackup" => tables::create_backup(db, ctx, input),
        "DescribeBackup" => tables::describe_backup(db, ctx, input),
        "DeleteBackup" => tables::delete_backup(db, ctx, input),
        "ListBackups" => tables::list_backups(db, ctx, input),
        "GetItem" => items::get_item(db, ctx, input),
        "PutItem" => items::put_item(db, ctx, input),
        "UpdateItem" => items::update_item(db, ctx, input),
        "DeleteItem" => items::delete_item(db, ctx, input),
        "Query" => read::query(db, ctx, input),
        "Scan" => read::scan(db, ctx, input),
        "BatchGetItem" => batch::batch_get_item(db, ctx, input),
        "BatchWriteItem" => batch::batch_write_item(db, ctx, input),
        "TransactGetItems" => batch::transact_get_items(db, ctx, input),
        "TransactWriteItems" => batch::transact_write_items(db, ctx, input),
        "ExecuteStatement" => partiql::execute_statement(db, ctx, input),
        "BatchExecuteStatement" => partiql::batch_execute_statement(db, ctx, input),
        "ExecuteTransaction" => partiql::execute_transaction(db, ctx, input),
        _ => return None,
    })
}

/// `TableName` may be a name or a table ARN.
pub fn table_name(input: &Value) -> &str {
    let name = input["TableName"].as_str().unwrap_or_default();
    match name.strip_prefix("arn:") {
        Some(rest) => rest.rsplit_once(":table/").map_or(name, |(_, n)| n),
        None => name,
    }
}

/// The table a data-plane operation names ("Requested resource not found" otherwise).
pub fn data_table<'a>(db: &'a Db, ctx: &Ctx, name: &str) -> Result<&'a TableData> {
    db.table(&ctx.scope(), name).ok_or_else(|| resource_not_found("Requested resource not found"))
}

/// `ConsumedCapacity` when asked for: reads count 4 KB units (half for eventually
/// consistent reads), writes 1 KB units.
pub fn consumed_capacity(input: &Value, table: &str, units: f64) -> Option<Value> {
    match input["ReturnConsumedCapacity"].as_str() {
        Some("TOTAL") => Some(json!({"TableName": table, "CapacityUnits": units})),
        Some("INDEXES") => Some(json!({"TableName": table, "CapacityUnits": units, "Table": {"CapacityUnits": units}})),
        _ => None,
    }
}

pub fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

pub fn write_units(size: usize) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

/// Collects the item changes of one request and the stream records they produce.
pub struct Writes<'a> {
    ctx: &'a Ctx,
    pub changes: Vec<Change>,
    sequence: u64,
}

impl<'a> Writes<'a> {
    pub fn new(db: &'a Db, ctx: &'a Ctx) -> Writes<'a> {
        Writes { ctx, changes: Vec::new(), sequence: db.sequence }
    }

    /// Writes `new` (or deletes, for `None`) over `old`. A write that changes nothing is not
    /// recorded and emits no stream record.
    pub fn write(&mut self, table: &TableData, key: &PrimaryKey, old: Option<&Item>, new: Option<&Item>, ttl: bool) {
        let unchanged = match (old, new) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
            }
            _ => false,
        };
        if unchanged {
            return;
        }
        let meta = table.meta();
        let scope = self.ctx.scope();
        self.changes.push(Change::Item {
            scope: scope.clone(),
            table: meta.name.clone(),
            key: key.clone(),
            item: new.cloned(),
        });
        let Some(stream) = meta.current_stream() else { return };
        self.sequence += 1;
        let keys = meta.key.key_item(key);
        let (with_new, with_old) = match stream.view_type.as_str() {
            "NEW_IMAGE" => (true, false),
            "OLD_IMAGE" => (false, true),
            "NEW_AND_OLD_IMAGES" => (true, true),
            _ => (false, false),
        };
        let new_image = new.filter(|_| with_new);
        let old_image = old.filter(|_| with_old);
        let size_bytes = keys.size() + new_image.map_or(0, Item::size) + old_image.map_or(0, Item::size);
        let record = StreamRecord {
            sequence: self.sequence,
            event_id: uuid::Uuid::new_v4().simple().to_string(),
            event_name: match (old, new) {
                (None, _) => "INSERT",
                (_, None) => "REMOVE",
                _ => "MODIFY",
            }
            .to_string(),
            created_millis: self.ctx.now_millis,
            keys: item_to_json(&keys),
            new_image: new_image.map(item_to_json),
            old_image: old_image.map(item_to_json),
            size_bytes,
            ttl,
        };
        self.changes.push(Change::Record {
            scope,
            table: meta.name.clone(),
            stream: stream.arn.clone(),
            record: Box::new(record),
        });
    }

    /// Continue numbering stream records after `sequence` (several scopes in one batch).
    pub fn starting_at(mut self, sequence: u64) -> Writes<'a> {
        self.sequence = sequence;
        self
    }

    pub fn sequence(&self) -> u64 {
        self.sequence
    }
}

/// `ReturnValues` names DynamoDB accepts per operation.
pub fn return_values<'v>(input: &'v Value, allowed: &[&str]) -> Result<&'v str> {
    let rv = input["ReturnValues"].as_str().unwrap_or("NONE");
    if allowed.contains(&rv) {
        Ok(rv)
    } else {
        Err(validation("Return values set to invalid value"))
    }
}
