//! A request's expressions: the expression parameters parsed against one set of
//! ExpressionAttributeNames/Values (unused entries refused), or the legacy parameters
//! (`Expected`, `AttributeUpdates`, `KeyConditions`, `QueryFilter`, `ScanFilter`,
//! `AttributesToGet`) translated into the same syntax trees.

use serde_json::Value;

use crate::errors::{invalid_parameter, validation, Result};
use crate::expr::ast::{Condition, Operand, Path, PathElem, SetValue, Update, UpdateOperand};
use crate::expr::{parse_condition, parse_projection, parse_update, Kind, Symbols};
use crate::value::AttrValue;

#[derive(Debug, Default)]
pub struct Expressions {
    pub condition: Option<Condition>,
    pub filter: Option<Condition>,
    pub key: Option<Condition>,
    pub update: Option<Update>,
    pub projection: Option<Vec<Path>>,
}

/// Which parameters an operation takes: each expression with its legacy counterpart.
#[derive(Clone, Copy)]
pub enum Param {
    Condition,
    Filter,
    Query,
    Update,
    Projection,
}

impl Param {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Param::Condition => ("ConditionExpression", "Expected"),
            Param::Filter => ("FilterExpression", "ScanFilter"),
            Param::Query => ("KeyConditionExpression", "KeyConditions"),
            Param::Update => ("UpdateExpression", "AttributeUpdates"),
            Param::Projection => ("ProjectionExpression", "AttributesToGet"),
        }
    }
}

fn present<'a>(input: &'a Value, name: &str) -> Option<&'a Value> {
    input.get(name).filter(|v| !v.is_null())
}

/// Parses the expression parameters `params` of `input` (QueryFilter counts as Query's filter).
pub fn parse(input: &Value, params: &[Param]) -> Result<Expressions> {
    let legacy_name = |p: Param| match (p, params.iter().any(|q| matches!(q, Param::Query))) {
        (Param::Filter, true) => "QueryFilter",
        _ => p.names().1,
    };
    let expressions: Vec<&str> = params.iter().map(|p| p.names().0).filter(|n| present(input, n).is_some()).collect();
    let mut legacy: Vec<&str> =
        params.iter().map(|p| legacy_name(*p)).filter(|n| present(input, n).is_some()).collect();
    if present(input, "ConditionalOperator").is_some() {
        legacy.push("ConditionalOperator");
    }
    if !expressions.is_empty() && !legacy.is_empty() {
        return Err(validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            legacy.join(", "),
            expressions.join(", ")
        )));
    }
    let mut syms = Symbols::new(
        present(input, "ExpressionAttributeNames"),
        present(input, "ExpressionAttributeValues"),
        !expressions.is_empty(),
    )?;
    let mut out = Expressions::default();
    let text = |name: &str| present(input, name).map(|v| v.as_str().unwrap_or_default().to_string());
    for p in params {
        let (expr_name, _) = p.names();
        if let Some(src) = text(expr_name) {
            match p {
                Param::Condition => out.condition = Some(parse_condition(&src, Kind::Condition, &mut syms)?),
                Param::Filter => out.filter = Some(parse_condition(&src, Kind::Filter, &mut syms)?),
                Param::Query => out.key = Some(parse_condition(&src, Kind::KeyCondition, &mut syms)?),
                Param::Update => out.update = Some(parse_update(&src, &mut syms)?),
                Param::Projection => out.projection = Some(parse_projection(&src, &mut syms)?),
            }
        } else if let Some(v) = present(input, legacy_name(*p)) {
            let op = input["ConditionalOperator"].as_str().unwrap_or("AND");
            match p {
                Param::Condition => out.condition = legacy_expected(v, op)?,
                Param::Filter => out.filter = legacy_conditions(v, op)?,
                Param::Query => out.key = legacy_conditions(v, "AND")?,
                Param::Update => out.update = Some(legacy_updates(v)?),
                Param::Projection => out.projection = Some(legacy_attributes(v)?),
            }
        }
    }
    syms.check_unused()?;
    Ok(out)
}

fn top(name: &str) -> Path {
    Path(vec![PathElem::Name(name.into())])
}

fn values(v: &Value) -> Result<Vec<AttrValue>> {
    v.as_array().map(|a| a.iter().map(AttrValue::from_json).collect()).unwrap_or(Ok(Vec::new()))
}

/// One legacy comparison: `{"ComparisonOperator": "EQ", "AttributeValueList": [...]}`.
fn comparison(name: &str, op: &str, args: Vec<AttrValue>) -> Result<Condition> {
    use crate::expr::ast::Cmp;
    let arity_error = || invalid_parameter(format!("Invalid number of argument(s) for the {op} ComparisonOperator"));
    let want = match op {
        "NULL" | "NOT_NULL" => Some(0),
        "BETWEEN" => Some(2),
        "IN" => None,
        _ => Some(1),
    };
    match want {
        Some(n) if args.len() != n => return Err(arity_error()),
        None if args.is_empty() => return Err(arity_error()),
        _ => {}
    }
    let path = || Operand::Path(top(name));
    let mut args = args.into_iter().map(Operand::Value);
    let mut arg = || args.next().expect("arity checked");
    let compare = |cmp: Cmp, v: Operand| Condition::Compare(path(), cmp, v);
    Ok(match op {
        "EQ" => compare(Cmp::Eq, arg()),
        "NE" => compare(Cmp::Ne, arg()),
        "LT" => compare(Cmp::Lt, arg()),
        "LE" => compare(Cmp::Le, arg()),
        "GT" => compare(Cmp::Gt, arg()),
        "GE" => compare(Cmp::Ge, arg()),
        "NULL" => Condition::NotExists(top(name)),
        "NOT_NULL" => Condition::Exists(top(name)),
        "CONTAINS" => Condition::Contains(path(), arg()),
        "NOT_CONTAINS" => Condition::Not(Box::new(Condition::Contains(path(), arg()))),
        "BEGINS_WITH" => Condition::BeginsWith(path(), arg()),
        "BETWEEN" => {
            let low = arg();
            Condition::Between(path(), low, arg())
        }
        "IN" => Condition::In(path(), args.collect()),
        other => return Err(invalid_parameter(format!("Unsupported ComparisonOperator: {other}"))),
    })
}

fn combine(conditions: Vec<Condition>, op: &str) -> Option<Condition> {
    conditions.into_iter().reduce(|a, b| match op {
        "OR" => Condition::Or(Box::new(a), Box::new(b)),
        _ => Condition::And(Box::new(a), Box::new(b)),
    })
}

/// `KeyConditions`, `QueryFilter`, `ScanFilter`.
fn legacy_conditions(v: &Value, op: &str) -> Result<Option<Condition>> {
    let mut out = Vec::new();
    for (name, c) in v.as_object().into_iter().flatten() {
        let operator = c["ComparisonOperator"].as_str().unwrap_or_default();
        out.push(comparison(name, operator, values(&c["AttributeValueList"])?)?);
    }
    Ok(combine(out, op))
}

/// `Expected`: `Exists`/`Value` or `ComparisonOperator`/`AttributeValueList` per attribute.
fn legacy_expected(v: &Value, op: &str) -> Result<Option<Condition>> {
    let mut out = Vec::new();
    for (name, e) in v.as_object().into_iter().flatten() {
        let value = present(e, "Value").map(AttrValue::from_json).transpose()?;
        let exists = e["Exists"].as_bool();
        if let Some(operator) = e["ComparisonOperator"].as_str() {
            if value.is_some() || exists.is_some() {
                return Err(invalid_parameter(format!(
                    "Value or Exists cannot be used with ComparisonOperator for Attribute: {name}"
                )));
            }
            out.push(comparison(name, operator, values(&e["AttributeValueList"])?)?);
            continue;
        }
        out.push(match (exists, value) {
            (Some(false), None) => Condition::NotExists(top(name)),
            (Some(false), Some(_)) => {
                return Err(validation(format!(
                    "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: {name}"
                )))
            }
            (_, Some(v)) => Condition::Compare(Operand::Path(top(name)), crate::expr::ast::Cmp::Eq, Operand::Value(v)),
            (_, None) => {
                return Err(validation(format!(
                    "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: {name}"
                )))
            }
        });
    }
    Ok(combine(out, op))
}

/// `AttributeUpdates`: PUT, DELETE (the attribute, or elements of a set) and ADD (numbers,
/// sets, and lists, which ADD appends to).
fn legacy_updates(v: &Value) -> Result<Update> {
    let mut update = Update::default();
    for (name, u) in v.as_object().into_iter().flatten() {
        let value = present(u, "Value").map(AttrValue::from_json).transpose()?;
        let action = u["Action"].as_str().unwrap_or("PUT");
        match (action, value) {
            ("PUT", Some(v)) => update.set.push((top(name), SetValue::Operand(UpdateOperand::Value(v)))),
            ("PUT", None) => {
                return Err(invalid_parameter(format!(
                    "Only DELETE action is allowed when no attribute value is specified: {name}"
                )))
            }
            ("DELETE", None) => update.remove.push(top(name)),
            ("DELETE", Some(v @ (AttrValue::Ss(_) | AttrValue::Ns(_) | AttrValue::Bs(_)))) => {
                update.delete.push((top(name), v))
            }
            ("DELETE", Some(_)) => {
                return Err(invalid_parameter(format!("DELETE action with value is not supported for the type {name}")))
            }
            ("ADD", Some(list @ AttrValue::L(_))) => update.set.push((
                top(name),
                SetValue::Operand(UpdateOperand::ListAppend(
                    Box::new(UpdateOperand::IfNotExists(
                        top(name),
                        Box::new(UpdateOperand::Value(AttrValue::L(Vec::new()))),
                    )),
                    Box::new(UpdateOperand::Value(list)),
                )),
            )),
            ("ADD", Some(v @ (AttrValue::N(_) | AttrValue::Ss(_) | AttrValue::Ns(_) | AttrValue::Bs(_)))) => {
                update.add.push((top(name), v))
            }
            ("ADD", Some(_)) => {
                return Err(invalid_parameter(format!("ADD action is not supported for the type {name}")))
            }
            ("ADD", None) => {
                return Err(invalid_parameter(format!(
                    "Only DELETE action is allowed when no attribute value is specified: {name}"
                )))
            }
            (other, _) => return Err(invalid_parameter(format!("Unsupported AttributeAction: {other}"))),
        }
    }
    Ok(update)
}

fn legacy_attributes(v: &Value) -> Result<Vec<Path>> {
    let names: Vec<&str> = v.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(validation(format!(
                "One or more parameter values were invalid: Duplicate value in attribute name: {n}"
            )));
        }
    }
    Ok(names.into_iter().map(top).collect())
}

/// The top-level attributes an update touches (for the key-attribute check).
pub fn update_paths(update: &Update) -> impl Iterator<Item = &Path> {
    update
        .set
        .iter()
        .map(|(p, _)| p)
        .chain(&update.remove)
        .chain(update.add.iter().map(|(p, _)| p))
        .chain(update.delete.iter().map(|(p, _)| p))
}
