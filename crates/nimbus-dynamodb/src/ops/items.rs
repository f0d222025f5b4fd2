//! GetItem, PutItem, UpdateItem and DeleteItem, and the checks every item write shares.

use serde_json::{json, Value};

use super::expressions::{self, update_paths, Param};
use super::{consumed_capacity, data_table, read_units, return_values, table_name, write_units, Ctx, Outcome, Writes};
use crate::errors::{conditional_check_failed, invalid_parameter, validation, Result};
use crate::expr::ast::Condition;
use crate::expr::{eval, update};
use crate::key::{scalar_type, PrimaryKey, Scalar};
use crate::state::{Db, TableData};
use crate::table::TableMeta;
use crate::value::{item_from_json, item_to_json, Item, MAX_ITEM_SIZE};

pub fn item_too_large() -> nimbus_core::AwsError {
    validation("Item size has exceeded the maximum allowed size")
}

/// An item about to be stored: size limit and secondary-index key types.
pub fn check_item(meta: &TableMeta, item: &Item) -> Result<()> {
    if item.size() > MAX_ITEM_SIZE {
        return Err(item_too_large());
    }
    for index in &meta.indexes {
        for attr in index.key.attrs() {
            let Some(v) = item.get(&attr.name) else { continue };
            let typed = Scalar::from_value(v).filter(|s| scalar_type(s) == attr.kind);
            match typed {
                None => {
                    return Err(invalid_parameter(format!(
                        "Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                        attr.name,
                        attr.kind.as_str(),
                        v.type_name(),
                        index.name
                    )))
                }
                Some(Scalar::S(s)) if s.is_empty() => {
                    return Err(validation(format!(
                        "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: {}, IndexKey: {}",
                        index.name, attr.name
                    )))
                }
                Some(Scalar::B(b)) if b.is_empty() => {
                    return Err(validation(format!(
                        "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty binary value. IndexName: {}, IndexKey: {}",
                        index.name, attr.name
                    )))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Fails with ConditionalCheckFailedException (with the item when
/// `ReturnValuesOnConditionCheckFailure` is `ALL_OLD`) if `cond` does not hold.
pub fn check_condition(cond: Option<&Condition>, old: Option<&Item>, input: &Value) -> Result<()> {
    let Some(cond) = cond else { return Ok(()) };
    let empty = Item::new();
    if eval::matches(old.unwrap_or(&empty), cond) {
        return Ok(());
    }
    let mut err = conditional_check_failed();
    if input["ReturnValuesOnConditionCheckFailure"].as_str() == Some("ALL_OLD") {
        if let Some(old) = old {
            err = err.with_extra("Item", item_to_json(old));
        }
    }
    Err(err)
}

pub fn request_key(table: &TableData, v: &Value) -> Result<(PrimaryKey, Item)> {
    let key_item = item_from_json(v)?;
    let key = table.meta().key.key_of_request(&key_item)?;
    Ok((key, key_item))
}

pub fn current(table: &TableData, key: &PrimaryKey) -> Option<Item> {
    table.items.get(key).map(|s| s.item())
}

fn with_capacity(mut output: Value, input: &Value, table: &str, units: f64) -> Value {
    if let Some(c) = consumed_capacity(input, table, units) {
        output["ConsumedCapacity"] = c;
    }
    output
}

pub fn get_item(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let exprs = expressions::parse(input, &[Param::Projection])?;
    let table = data_table(db, ctx, table_name(input))?;
    let (key, _) = request_key(table, &input["Key"])?;
    let consistent = input["ConsistentRead"].as_bool().unwrap_or(false);
    let stored = table.items.get(&key);
    let mut output = json!({});
    if let Some(stored) = stored {
        let item = stored.item();
        let item = match &exprs.projection {
            Some(paths) => eval::project(&item, paths),
            None => item,
        };
        output["Item"] = item_to_json(&item);
    }
    let size = stored.map_or(0, |s| s.size as usize);
    Ok(Outcome::read(with_capacity(output, input, &table.meta().name, read_units(size, consistent))))
}

pub fn put_item(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let exprs = expressions::parse(input, &[Param::Condition])?;
    let rv = return_values(input, &["NONE", "ALL_OLD"])?;
    let table = data_table(db, ctx, table_name(input))?;
    let item = item_from_json(&input["Item"])?;
    let meta = table.meta();
    let key = meta.key.key_of_item(&item)?;
    check_item(meta, &item)?;
    let old = current(table, &key);
    check_condition(exprs.condition.as_ref(), old.as_ref(), input)?;
    let mut writes = Writes::new(db, ctx);
    writes.write(table, &key, old.as_ref(), Some(&item), false);
    let mut output = json!({});
    if let (Some(old), "ALL_OLD") = (&old, rv) {
        output["Attributes"] = item_to_json(old);
    }
    let units = write_units(item.size().max(old.as_ref().map_or(0, Item::size)));
    Ok(Outcome { output: with_capacity(output, input, &meta.name, units), changes: writes.changes })
}

/// The item an update produces from `old` (or from the bare key when there is none).
pub fn updated_item(
    meta: &TableMeta,
    key_item: &Item,
    old: Option<&Item>,
    upd: Option<&crate::expr::ast::Update>,
) -> Result<Item> {
    let mut item = old.cloned().unwrap_or_else(|| key_item.clone());
    if let Some(upd) = upd {
        for path in update_paths(upd) {
            if meta.key.is_key(path.top()) {
                return Err(invalid_parameter(format!(
                    "Cannot update attribute {}. This attribute is part of the key",
                    path.top()
                )));
            }
        }
        update::apply(upd, &mut item)?;
    }
    check_item(meta, &item)?;
    Ok(item)
}

pub fn update_item(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let exprs = expressions::parse(input, &[Param::Update, Param::Condition])?;
    let rv = return_values(input, &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"])?;
    let table = data_table(db, ctx, table_name(input))?;
    let meta = table.meta();
    let (key, key_item) = request_key(table, &input["Key"])?;
    let old = current(table, &key);
    check_condition(exprs.condition.as_ref(), old.as_ref(), input)?;
    let new = updated_item(meta, &key_item, old.as_ref(), exprs.update.as_ref())?;
    let mut writes = Writes::new(db, ctx);
    writes.write(table, &key, old.as_ref(), Some(&new), false);
    let mut output = json!({});
    let updated_paths: Vec<_> = exprs.update.iter().flat_map(update_paths).cloned().collect();
    let attributes = match rv {
        "ALL_OLD" => old.clone(),
        "ALL_NEW" => Some(new.clone()),
        "UPDATED_OLD" => old.as_ref().map(|o| eval::project(o, &updated_paths)),
        "UPDATED_NEW" => Some(eval::project(&new, &updated_paths)),
        _ => None,
    };
    if let Some(attrs) = attributes.filter(|a| !a.is_empty()) {
        output["Attributes"] = item_to_json(&attrs);
    }
    let units = write_units(new.size().max(old.as_ref().map_or(0, Item::size)));
    Ok(Outcome { output: with_capacity(output, input, &meta.name, units), changes: writes.changes })
}

pub fn delete_item(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let exprs = expressions::parse(input, &[Param::Condition])?;
    let rv = return_values(input, &["NONE", "ALL_OLD"])?;
    let table = data_table(db, ctx, table_name(input))?;
    let meta = table.meta();
    let (key, _) = request_key(table, &input["Key"])?;
    let old = current(table, &key);
    check_condition(exprs.condition.as_ref(), old.as_ref(), input)?;
    let mut writes = Writes::new(db, ctx);
    writes.write(table, &key, old.as_ref(), None, false);
    let mut output = json!({});
    if let (Some(old), "ALL_OLD") = (&old, rv) {
        output["Attributes"] = item_to_json(old);
    }
    let units = write_units(old.as_ref().map_or(0, Item::size));
    Ok(Outcome { output: with_capacity(output, input, &meta.name, units), changes: writes.changes })
}

/// An `Attributes`-style object from an optional item (absent when empty).
pub fn attributes(item: Option<&Item>) -> Option<Value> {
    item.filter(|i| !i.is_empty()).map(|i| Value::Object(crate::value::map_to_json(i)))
}
