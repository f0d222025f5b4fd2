//! BatchGetItem, BatchWriteItem, TransactGetItems and TransactWriteItems. A batch or a
//! transaction is one list of changes, journaled as one batch.

use std::collections::HashSet;

use serde_json::{json, Value};

use super::expressions::{self, Param};
use super::items::{check_condition, check_item, current, request_key, updated_item};
use super::{data_table, Ctx, Outcome, Writes};
use crate::errors::{service, validation, Result};
use crate::expr::eval;
use crate::key::PrimaryKey;
use crate::state::{Change, Db, TokenEntry};
use crate::value::{item_from_json, item_to_json};

/// BatchGetItem answers at most 16 MB; the rest comes back as UnprocessedKeys.
const BATCH_GET_BYTES: usize = 16 * 1024 * 1024;
const IDEMPOTENCY_MILLIS: i64 = 10 * 60 * 1000;

fn tables_of(input: &Value) -> Vec<(&String, &Value)> {
    input["RequestItems"].as_object().map(|m| m.iter().collect()).unwrap_or_default()
}

fn table_of_name(name: &str) -> &str {
    name.rsplit_once(":table/").map_or(name, |(_, n)| n)
}

pub fn batch_get_item(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let requests = tables_of(input);
    let total: usize = requests.iter().map(|(_, r)| r["Keys"].as_array().map_or(0, Vec::len)).sum();
    if total > 100 {
        return Err(validation("Too many items requested for the BatchGetItem call"));
    }
    let mut responses = serde_json::Map::new();
    let mut unprocessed = serde_json::Map::new();
    let mut bytes = 0usize;
    for (name, request) in requests {
        let exprs = expressions::parse(request, &[Param::Projection])?;
        let table = data_table(db, ctx, table_of_name(name))?;
        let mut seen = HashSet::new();
        let mut items = Vec::new();
        let mut left = Vec::new();
        for key_json in request["Keys"].as_array().into_iter().flatten() {
            let (key, _) = request_key(table, key_json)?;
            if !seen.insert(key.clone()) {
                return Err(validation("Provided list of item keys contains duplicates"));
            }
            if bytes > BATCH_GET_BYTES {
                left.push(key_json.clone());
                continue;
            }
            if let Some(stored) = table.items.get(&key) {
                bytes += stored.size as usize;
                let item = stored.item();
                let item = match &exprs.projection {
                    Some(paths) => eval::project(&item, paths),
                    None => item,
                };
                items.push(item_to_json(&item));
            }
        }
        responses.insert(name.clone(), Value::Array(items));
        if !left.is_empty() {
            let mut rest = request.clone();
            rest["Keys"] = Value::Array(left);
            unprocessed.insert(name.clone(), rest);
        }
    }
    Ok(Outcome::read(json!({"Responses": responses, "UnprocessedKeys": unprocessed})))
}

pub fn batch_write_item(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let requests = tables_of(input);
    let total: usize = requests.iter().map(|(_, r)| r.as_array().map_or(0, Vec::len)).sum();
    if total > 25 {
        return Err(validation("Too many items requested for the BatchWriteItem call"));
    }
    let mut writes = Writes::new(db, ctx);
    for (name, list) in requests {
        let table = data_table(db, ctx, table_of_name(name))?;
        let meta = table.meta();
        let mut seen: HashSet<PrimaryKey> = HashSet::new();
        let mut planned = Vec::new();
        for request in list.as_array().into_iter().flatten() {
            let put = request.get("PutRequest").filter(|v| !v.is_null());
            let delete = request.get("DeleteRequest").filter(|v| !v.is_null());
            let (key, new) = match (put, delete) {
                (Some(put), None) => {
                    let item = item_from_json(&put["Item"])?;
                    let key = meta.key.key_of_item(&item)?;
                    check_item(meta, &item)?;
                    (key, Some(item))
                }
                (None, Some(delete)) => (request_key(table, &delete["Key"])?.0, None),
                _ => {
                    return Err(validation(
                        "Supplied WriteRequest is empty, must contain exactly one of the supported request types",
                    ))
                }
            };
            if !seen.insert(key.clone()) {
                return Err(validation("Provided list of item keys contains duplicates"));
            }
            planned.push((key, new));
        }
        for (key, new) in planned {
            let old = current(table, &key);
            writes.write(table, &key, old.as_ref(), new.as_ref(), false);
        }
    }
    Ok(Outcome { output: json!({"UnprocessedItems": {}}), changes: writes.changes })
}

fn transact_items(input: &Value) -> Result<&Vec<Value>> {
    let items = input["TransactItems"].as_array().ok_or_else(|| {
        validation("1 validation error detected: Value null at 'transactItems' failed to satisfy constraint: Member must not be null")
    })?;
    if items.len() > 100 {
        return Err(validation(
            "1 validation error detected at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100.",
        ));
    }
    Ok(items)
}

fn one_operation_per_item(seen: &mut HashSet<(String, PrimaryKey)>, table: &str, key: &PrimaryKey) -> Result<()> {
    if !seen.insert((table.to_string(), key.clone())) {
        return Err(validation("Transaction request cannot include multiple operations on one item"));
    }
    Ok(())
}

pub fn transact_get_items(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let mut responses = Vec::new();
    for entry in transact_items(input)? {
        let get = &entry["Get"];
        let exprs = expressions::parse(get, &[Param::Projection])?;
        let table = data_table(db, ctx, table_of_name(get["TableName"].as_str().unwrap_or_default()))?;
        let (key, _) = request_key(table, &get["Key"])?;
        responses.push(match current(table, &key) {
            Some(item) => {
                let item = match &exprs.projection {
                    Some(paths) => eval::project(&item, paths),
                    None => item,
                };
                json!({"Item": item_to_json(&item)})
            }
            None => json!({}),
        });
    }
    Ok(Outcome::read(json!({"Responses": responses})))
}

/// Why one action of a transaction would not go through.
struct Reason {
    code: &'static str,
    message: String,
    item: Option<Value>,
}

pub fn transact_write_items(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let items = transact_items(input)?;
    let token = input["ClientRequestToken"].as_str();
    let request_hash = {
        let mut copy = input.clone();
        copy.as_object_mut().map(|o| o.remove("ClientRequestToken"));
        let text = copy.to_string();
        format!("{:016x}", text.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3)))
    };
    if let Some(token) = token {
        if let Some(entry) = db.tokens.get(token).filter(|e| e.expires_millis > ctx.now_millis) {
            if entry.request_hash == request_hash {
                // A retry of a transaction already applied: the same answer, no second write.
                return Ok(Outcome::read(json!({})));
            }
            return Err(service(
                "IdempotentParameterMismatchException",
                "The request uses the same client token as a previous, but non-identical request.",
            ));
        }
    }
    let mut writes = Writes::new(db, ctx);
    let mut seen = HashSet::new();
    let mut reasons: Vec<Option<Reason>> = Vec::new();
    let mut planned = Vec::new();
    for entry in items {
        let (kind, action) = ["ConditionCheck", "Put", "Delete", "Update"]
            .iter()
            .find_map(|k| entry.get(*k).filter(|v| !v.is_null()).map(|v| (*k, v)))
            .ok_or_else(|| validation("TransactItems can only contain one of Check, Put, Update or Delete"))?;
        let params: &[Param] = match kind {
            "Update" => &[Param::Update, Param::Condition],
            _ => &[Param::Condition],
        };
        let exprs = expressions::parse(action, params)?;
        if kind == "ConditionCheck" && exprs.condition.is_none() {
            return Err(validation("The ConditionExpression parameter is required for a ConditionCheck"));
        }
        let table = data_table(db, ctx, table_of_name(action["TableName"].as_str().unwrap_or_default()))?;
        let meta = table.meta();
        let (key, key_item, put) = if kind == "Put" {
            let item = item_from_json(&action["Item"])?;
            let key = meta.key.key_of_item(&item)?;
            check_item(meta, &item)?;
            let key_item = meta.key.key_item(&key);
            (key, key_item, Some(item))
        } else {
            let (key, key_item) = request_key(table, &action["Key"])?;
            (key, key_item, None)
        };
        one_operation_per_item(&mut seen, &meta.name, &key)?;
        let old = current(table, &key);
        let reason = match check_condition(exprs.condition.as_ref(), old.as_ref(), action) {
            Err(e) => Some(Reason {
                code: "ConditionalCheckFailed",
                message: e.message.clone(),
                item: e.extra.iter().find(|(k, _)| k == "Item").map(|(_, v)| v.clone()),
            }),
            Ok(()) => None,
        };
        let new = match (kind, reason.is_none()) {
            ("Put", true) => Some(put),
            ("Delete", true) => Some(None),
            ("Update", true) => match updated_item(meta, &key_item, old.as_ref(), exprs.update.as_ref()) {
                Ok(item) => Some(Some(item)),
                Err(e) => {
                    reasons.push(Some(Reason { code: "ValidationError", message: e.message, item: None }));
                    continue;
                }
            },
            _ => None,
        };
        reasons.push(reason);
        if let Some(new) = new {
            planned.push((table, key, old, new));
        }
    }
    if reasons.iter().any(Option::is_some) {
        let codes: Vec<&str> = reasons.iter().map(|r| r.as_ref().map_or("None", |r| r.code)).collect();
        let list: Vec<Value> = reasons
            .iter()
            .map(|r| match r {
                None => json!({"Code": "None"}),
                Some(r) => {
                    let mut v = json!({"Code": r.code, "Message": r.message});
                    if let Some(item) = &r.item {
                        v["Item"] = item.clone();
                    }
                    v
                }
            })
            .collect();
        return Err(service(
            "TransactionCanceledException",
            format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
        )
        .with_extra("CancellationReasons", Value::Array(list)));
    }
    for (table, key, old, new) in planned {
        writes.write(table, &key, old.as_ref(), new.as_ref(), false);
    }
    let mut changes = writes.changes;
    if let Some(token) = token {
        let entry = TokenEntry { request_hash, expires_millis: ctx.now_millis + IDEMPOTENCY_MILLIS };
        changes.push(Change::Token { token: token.to_string(), entry: Some(entry) });
    }
    Ok(Outcome { output: json!({}), changes })
}
