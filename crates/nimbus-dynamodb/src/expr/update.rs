//! Applying an update expression. Every SET value is computed from the item as it was before
//! the update (DynamoDB evaluates all operands first), then SET, REMOVE, ADD and DELETE apply.

use super::ast::{Path, PathElem, SetValue, Update, UpdateOperand};
use super::eval::resolve;
use crate::errors::{validation, Result};
use crate::value::{AttrValue, Map};

fn missing_attribute() -> nimbus_core::AwsError {
    validation("The provided expression refers to an attribute that does not exist in the item")
}

fn wrong_type() -> nimbus_core::AwsError {
    validation("An operand in the update expression has an incorrect data type")
}

fn invalid_path() -> nimbus_core::AwsError {
    validation("The document path provided in the update expression is invalid for update")
}

fn operand(item: &Map, op: &UpdateOperand) -> Result<AttrValue> {
    match op {
        UpdateOperand::Path(p) => resolve(item, p).cloned().ok_or_else(missing_attribute),
        UpdateOperand::Value(v) => Ok(v.clone()),
        UpdateOperand::IfNotExists(p, fallback) => match resolve(item, p) {
            Some(v) => Ok(v.clone()),
            None => operand(item, fallback),
        },
        UpdateOperand::ListAppend(a, b) => match (operand(item, a)?, operand(item, b)?) {
            (AttrValue::L(mut a), AttrValue::L(b)) => {
                a.extend(b);
                Ok(AttrValue::L(a))
            }
            _ => Err(wrong_type()),
        },
    }
}

fn set_value(item: &Map, value: &SetValue) -> Result<AttrValue> {
    let arithmetic = |a: &UpdateOperand, b: &UpdateOperand, minus: bool| -> Result<AttrValue> {
        match (operand(item, a)?, operand(item, b)?) {
            (AttrValue::N(a), AttrValue::N(b)) => {
                let r = if minus { a.sub(&b) } else { a.add(&b) };
                r.map(AttrValue::N).map_err(|e| validation(e.to_string()))
            }
            _ => Err(wrong_type()),
        }
    };
    match value {
        SetValue::Operand(op) => operand(item, op),
        SetValue::Plus(a, b) => arithmetic(a, b, false),
        SetValue::Minus(a, b) => arithmetic(a, b, true),
    }
}

/// The container holding the last element of `path`, created nowhere: DynamoDB requires the
/// parent of a nested path to exist.
fn parent_mut<'a>(item: &'a mut Map, path: &Path) -> Result<Option<&'a mut AttrValue>> {
    let elems = &path.0[..path.0.len() - 1];
    let Some((first, rest)) = elems.split_first() else { return Ok(None) };
    let PathElem::Name(first) = first else { return Err(invalid_path()) };
    let mut current = item.get_mut(first).ok_or_else(invalid_path)?;
    for elem in rest {
        current = match (elem, current) {
            (PathElem::Name(n), AttrValue::M(m)) => m.get_mut(n).ok_or_else(invalid_path)?,
            (PathElem::Index(i), AttrValue::L(l)) => l.get_mut(*i).ok_or_else(invalid_path)?,
            _ => return Err(invalid_path()),
        };
    }
    Ok(Some(current))
}

fn set_path(item: &mut Map, path: &Path, value: AttrValue) -> Result<()> {
    let last = path.0.last().expect("paths are never empty");
    match (parent_mut(item, path)?, last) {
        (None, PathElem::Name(n)) => {
            item.insert(n, value);
        }
        (Some(AttrValue::M(m)), PathElem::Name(n)) => {
            m.insert(n, value);
        }
        // An index past the end appends.
        (Some(AttrValue::L(l)), PathElem::Index(i)) => match l.get_mut(*i) {
            Some(slot) => *slot = value,
            None => l.push(value),
        },
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn remove_path(item: &mut Map, path: &Path) -> Result<()> {
    let last = path.0.last().expect("paths are never empty");
    match (parent_mut(item, path)?, last) {
        (None, PathElem::Name(n)) => {
            item.remove(n);
        }
        (Some(AttrValue::M(m)), PathElem::Name(n)) => {
            m.remove(n);
        }
        (Some(AttrValue::L(l)), PathElem::Index(i)) => {
            if *i < l.len() {
                l.remove(*i);
            }
        }
        _ => return Err(invalid_path()),
    }
    Ok(())
}

fn get_mut<'a>(item: &'a mut Map, path: &Path) -> Result<Option<&'a mut AttrValue>> {
    let last = path.0.last().expect("paths are never empty");
    if let [PathElem::Name(n)] = &path.0[..] {
        return Ok(item.get_mut(n));
    }
    Ok(match (parent_mut(item, path)?, last) {
        (Some(AttrValue::M(m)), PathElem::Name(n)) => m.get_mut(n),
        (Some(AttrValue::L(l)), PathElem::Index(i)) => l.get_mut(*i),
        _ => return Err(invalid_path()),
    })
}

fn union<T: PartialEq + Clone>(set: &mut Vec<T>, more: &[T]) {
    for x in more {
        if !set.contains(x) {
            set.push(x.clone());
        }
    }
}

fn add(item: &mut Map, path: &Path, value: &AttrValue) -> Result<()> {
    let Some(existing) = get_mut(item, path)? else { return set_path(item, path, value.clone()) };
    match (existing, value) {
        (AttrValue::N(a), AttrValue::N(b)) => *a = a.add(b).map_err(|e| validation(e.to_string()))?,
        (AttrValue::Ss(a), AttrValue::Ss(b)) => union(a, b),
        (AttrValue::Ns(a), AttrValue::Ns(b)) => union(a, b),
        (AttrValue::Bs(a), AttrValue::Bs(b)) => union(a, b),
        _ => return Err(wrong_type()),
    }
    Ok(())
}

fn delete(item: &mut Map, path: &Path, value: &AttrValue) -> Result<()> {
    let Some(existing) = get_mut(item, path)? else { return Ok(()) };
    let now_empty = match (existing, value) {
        (AttrValue::Ss(a), AttrValue::Ss(b)) => {
            a.retain(|x| !b.contains(x));
            a.is_empty()
        }
        (AttrValue::Ns(a), AttrValue::Ns(b)) => {
            a.retain(|x| !b.contains(x));
            a.is_empty()
        }
        (AttrValue::Bs(a), AttrValue::Bs(b)) => {
            a.retain(|x| !b.contains(x));
            a.is_empty()
        }
        _ => return Err(wrong_type()),
    };
    // Sets are never empty: deleting the last element deletes the attribute.
    if now_empty {
        remove_path(item, path)?;
    }
    Ok(())
}

/// Applies `update` to `item` in place. On error the item may be partly changed: callers apply
/// to a copy.
pub fn apply(update: &Update, item: &mut Map) -> Result<()> {
    let values: Vec<AttrValue> = update.set.iter().map(|(_, v)| set_value(item, v)).collect::<Result<_>>()?;
    for ((path, _), value) in update.set.iter().zip(values) {
        set_path(item, path, value)?;
    }
    // Remove later list elements first so earlier indexes still name the same elements.
    let mut removals: Vec<&Path> = update.remove.iter().collect();
    removals.sort_by(|a, b| b.0.iter().map(order_key).cmp(a.0.iter().map(order_key)));
    for path in removals {
        remove_path(item, path)?;
    }
    for (path, value) in &update.add {
        add(item, path, value)?;
    }
    for (path, value) in &update.delete {
        delete(item, path, value)?;
    }
    Ok(())
}

fn order_key(e: &PathElem) -> (u8, usize, &str) {
    match e {
        PathElem::Name(n) => (0, 0, n),
        PathElem::Index(i) => (1, *i, ""),
    }
}
