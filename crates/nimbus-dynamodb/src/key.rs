//! Primary keys: the key schema of a table or index, key values as ordered scalars, checking a
//! request's key or item against the schema, and KeyConditionExpression's restricted form.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::errors::{invalid_parameter, validation, Result};
use crate::expr::ast::{Cmp, Condition, Operand, Path, PathElem};
use crate::number::Number;
use crate::value::{AttrValue, Item, MAX_HASH_KEY_SIZE, MAX_RANGE_KEY_SIZE};

/// A key attribute's type (`AttributeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScalarType {
    S,
    N,
    B,
}

impl ScalarType {
    pub fn parse(s: &str) -> Option<ScalarType> {
        match s {
            "S" => Some(ScalarType::S),
            "N" => Some(ScalarType::N),
            "B" => Some(ScalarType::B),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScalarType::S => "S",
            ScalarType::N => "N",
            ScalarType::B => "B",
        }
    }
}

/// A key attribute's value, ordered as DynamoDB orders sort keys (strings and binaries by
/// bytes, numbers by value). Within one table all values of a key share one type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scalar {
    N(Number),
    S(Box<str>),
    B(Box<[u8]>),
}

impl Scalar {
    pub fn from_value(v: &AttrValue) -> Option<Scalar> {
        match v {
            AttrValue::S(s) => Some(Scalar::S(s.clone())),
            AttrValue::N(n) => Some(Scalar::N(*n)),
            AttrValue::B(b) => Some(Scalar::B(b.clone())),
            _ => None,
        }
    }

    /// A key no table key sorts before (numbers sort first, the most negative first).
    pub fn min_key() -> PrimaryKey {
        let min = Number::parse("-9.9999999999999999999999999999999999999E+125").expect("DynamoDB's smallest number");
        (Scalar::N(min), None)
    }

    pub fn to_value(&self) -> AttrValue {
        match self {
            Scalar::S(s) => AttrValue::S(s.clone()),
            Scalar::N(n) => AttrValue::N(*n),
            Scalar::B(b) => AttrValue::B(b.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttr {
    pub name: String,
    pub kind: ScalarType,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    pub hash: KeyAttr,
    pub range: Option<KeyAttr>,
}

/// A table's primary key value: partition key and, for composite keys, sort key.
pub type PrimaryKey = (Scalar, Option<Scalar>);

impl KeySchema {
    pub fn is_key(&self, name: &str) -> bool {
        self.hash.name == name || self.range.as_ref().is_some_and(|r| r.name == name)
    }

    pub fn attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        std::iter::once(&self.hash).chain(self.range.as_ref())
    }

    /// The key of a `Key` parameter: exactly the schema's attributes with the schema's types.
    pub fn key_of_request(&self, key: &Item) -> Result<PrimaryKey> {
        let mismatch = || validation("The provided key element does not match the schema");
        if key.len() != self.attrs().count() {
            return Err(mismatch());
        }
        let hash = self.scalar(key, &self.hash).ok_or_else(mismatch)??;
        let range = match &self.range {
            Some(attr) => Some(self.scalar(key, attr).ok_or_else(mismatch)??),
            None => None,
        };
        check_key_sizes(&hash, range.as_ref())?;
        Ok((hash, range))
    }

    fn scalar(&self, item: &Item, attr: &KeyAttr) -> Option<Result<Scalar>> {
        let v = item.get(&attr.name)?;
        let s = Scalar::from_value(v).filter(|s| scalar_type(s) == attr.kind)?;
        Some(check_not_empty(&s, &attr.name).map(|_| s))
    }

    /// The key of a whole item being written (PutItem): missing or mistyped key attributes
    /// get DynamoDB's messages.
    pub fn key_of_item(&self, item: &Item) -> Result<PrimaryKey> {
        let get = |attr: &KeyAttr| -> Result<Scalar> {
            let v = item
                .get(&attr.name)
                .ok_or_else(|| invalid_parameter(format!("Missing the key {} in the item", attr.name)))?;
            let s = Scalar::from_value(v).filter(|s| scalar_type(s) == attr.kind).ok_or_else(|| {
                invalid_parameter(format!(
                    "Type mismatch for key {} expected: {} actual: {}",
                    attr.name,
                    attr.kind.as_str(),
                    v.type_name()
                ))
            })?;
            check_not_empty(&s, &attr.name)?;
            Ok(s)
        };
        let hash = get(&self.hash)?;
        let range = self.range.as_ref().map(get).transpose()?;
        check_key_sizes(&hash, range.as_ref())?;
        Ok((hash, range))
    }

    /// The key attributes of an item, as a `Key`-shaped item.
    pub fn key_item(&self, key: &PrimaryKey) -> Item {
        let mut item = Item::new();
        item.insert(&self.hash.name, key.0.to_value());
        if let (Some(attr), Some(range)) = (&self.range, &key.1) {
            item.insert(&attr.name, range.to_value());
        }
        item
    }

    /// For secondary indexes: an item without the index key attributes (or with a value of
    /// the wrong type) is not in the index.
    pub fn index_key_of(&self, item: &Item) -> Option<PrimaryKey> {
        let get = |attr: &KeyAttr| Scalar::from_value(item.get(&attr.name)?).filter(|s| scalar_type(s) == attr.kind);
        let hash = get(&self.hash)?;
        let range = match &self.range {
            Some(attr) => Some(get(attr)?),
            None => None,
        };
        Some((hash, range))
    }
}

pub fn scalar_type(s: &Scalar) -> ScalarType {
    match s {
        Scalar::S(_) => ScalarType::S,
        Scalar::N(_) => ScalarType::N,
        Scalar::B(_) => ScalarType::B,
    }
}

fn check_not_empty(s: &Scalar, name: &str) -> Result<()> {
    let empty = match s {
        Scalar::S(v) => v.is_empty(),
        Scalar::B(v) => v.is_empty(),
        Scalar::N(_) => false,
    };
    if empty {
        let kind = if matches!(s, Scalar::S(_)) { "string" } else { "binary" };
        return Err(invalid_parameter(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {kind} value. Key: {name}"
        )));
    }
    Ok(())
}

fn check_key_sizes(hash: &Scalar, range: Option<&Scalar>) -> Result<()> {
    if hash.to_value().size() > MAX_HASH_KEY_SIZE {
        // DynamoDB's wording, missing space included.
        return Err(invalid_parameter(format!(
            "Size of hashkey has exceeded the maximum size limit of{MAX_HASH_KEY_SIZE} bytes"
        )));
    }
    if range.is_some_and(|r| r.to_value().size() > MAX_RANGE_KEY_SIZE) {
        return Err(invalid_parameter(format!(
            "Aggregated size of all range keys has exceeded the size limit of {MAX_RANGE_KEY_SIZE} bytes"
        )));
    }
    Ok(())
}

/// The sort-key part of a key condition.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeCondition {
    Compare(Cmp, Scalar),
    Between(Scalar, Scalar),
    BeginsWith(Scalar),
}

impl RangeCondition {
    pub fn matches(&self, v: &Scalar) -> bool {
        match self {
            RangeCondition::Compare(cmp, x) => {
                let o = v.cmp(x);
                match cmp {
                    Cmp::Eq => o == Ordering::Equal,
                    Cmp::Lt => o.is_lt(),
                    Cmp::Le => o.is_le(),
                    Cmp::Gt => o.is_gt(),
                    Cmp::Ge => o.is_ge(),
                    Cmp::Ne => o != Ordering::Equal,
                }
            }
            RangeCondition::Between(low, high) => low <= v && v <= high,
            RangeCondition::BeginsWith(prefix) => match (v, prefix) {
                (Scalar::S(s), Scalar::S(p)) => s.starts_with(&**p),
                (Scalar::B(s), Scalar::B(p)) => s.starts_with(p),
                _ => false,
            },
        }
    }

    /// Whether `v` (and so every later sort key) is beyond what the condition can match.
    pub fn is_past(&self, v: &Scalar) -> bool {
        match self {
            RangeCondition::Compare(Cmp::Eq | Cmp::Le, x) => v > x,
            RangeCondition::Compare(Cmp::Lt, x) => v >= x,
            RangeCondition::Compare(..) => false,
            RangeCondition::Between(_, high) => v > high,
            RangeCondition::BeginsWith(p) => v > p && !self.matches(v),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyCondition {
    pub hash: Scalar,
    pub range: Option<RangeCondition>,
}

fn key_condition_error(detail: impl std::fmt::Display) -> nimbus_core::AwsError {
    validation(format!("Invalid KeyConditionExpression: {detail}"))
}

/// One comparison of a key condition: the attribute it constrains and how.
struct Part {
    name: String,
    cmp: Cmp,
    values: Vec<AttrValue>,
    begins_with: bool,
}

fn key_name(op: &Operand) -> Option<String> {
    match op {
        Operand::Path(Path(elems)) if elems.len() == 1 => match &elems[0] {
            PathElem::Name(n) => Some(n.to_string()),
            PathElem::Index(_) => None,
        },
        _ => None,
    }
}

fn flatten(cond: &Condition, parts: &mut Vec<Part>) -> Result<()> {
    let not_supported = || validation("Query key condition not supported");
    match cond {
        Condition::And(a, b) => {
            flatten(a, parts)?;
            flatten(b, parts)?;
        }
        Condition::Or(..) => return Err(key_condition_error("Invalid operator used in KeyConditionExpression: OR")),
        Condition::Not(..) => return Err(key_condition_error("Invalid operator used in KeyConditionExpression: NOT")),
        Condition::In(..) => return Err(key_condition_error("Invalid operator used in KeyConditionExpression: IN")),
        Condition::Compare(_, Cmp::Ne, _) => {
            return Err(key_condition_error("Invalid operator used in KeyConditionExpression: <>"))
        }
        Condition::Exists(_) => {
            return Err(key_condition_error("Invalid operator used in KeyConditionExpression: attribute_exists"))
        }
        Condition::NotExists(_) => {
            return Err(key_condition_error("Invalid operator used in KeyConditionExpression: attribute_not_exists"))
        }
        Condition::Type(..) => {
            return Err(key_condition_error("Invalid operator used in KeyConditionExpression: attribute_type"))
        }
        Condition::Contains(..) => {
            return Err(key_condition_error("Invalid operator used in KeyConditionExpression: contains"))
        }
        Condition::Compare(a, cmp, b) => {
            // `:v = pk` is the same condition as `pk = :v`, with the comparison mirrored.
            let (name, value, cmp) = match (a, b) {
                (path, Operand::Value(v)) => (key_name(path), v, *cmp),
                (Operand::Value(v), path) => (
                    key_name(path),
                    v,
                    match cmp {
                        Cmp::Lt => Cmp::Gt,
                        Cmp::Le => Cmp::Ge,
                        Cmp::Gt => Cmp::Lt,
                        Cmp::Ge => Cmp::Le,
                        other => *other,
                    },
                ),
                _ => return Err(not_supported()),
            };
            let name = name.ok_or_else(not_supported)?;
            parts.push(Part { name, cmp, values: vec![value.clone()], begins_with: false });
        }
        Condition::Between(x, low, high) => {
            let name = key_name(x).ok_or_else(not_supported)?;
            let (Operand::Value(l), Operand::Value(h)) = (low, high) else { return Err(not_supported()) };
            parts.push(Part { name, cmp: Cmp::Ge, values: vec![l.clone(), h.clone()], begins_with: false });
        }
        Condition::BeginsWith(x, prefix) => {
            let name = key_name(x).ok_or_else(not_supported)?;
            let Operand::Value(p) = prefix else { return Err(not_supported()) };
            parts.push(Part { name, cmp: Cmp::Eq, values: vec![p.clone()], begins_with: true });
        }
    }
    Ok(())
}

impl KeyCondition {
    /// Checks a parsed KeyConditionExpression against the schema being queried.
    pub fn from_condition(cond: &Condition, schema: &KeySchema) -> Result<KeyCondition> {
        let mut parts = Vec::new();
        flatten(cond, &mut parts)?;
        if parts.len() > 2 {
            return Err(key_condition_error("Conditions can be of length 1 or 2 only"));
        }
        if parts.len() == 2 && parts[0].name == parts[1].name {
            return Err(key_condition_error("KeyConditionExpressions must only contain one condition per key"));
        }
        let hash_part = parts
            .iter()
            .position(|p| p.name == schema.hash.name)
            .ok_or_else(|| validation(format!("Query condition missed key schema element: {}", schema.hash.name)))?;
        let hash_part = parts.remove(hash_part);
        if hash_part.cmp != Cmp::Eq || hash_part.begins_with || hash_part.values.len() != 1 {
            return Err(validation("Query key condition not supported"));
        }
        let hash = typed_scalar(&hash_part.values[0], schema.hash.kind)?;
        let range = match parts.pop() {
            None => None,
            Some(part) => {
                let Some(attr) = schema.range.as_ref().filter(|r| r.name == part.name) else {
                    return Err(match &schema.range {
                        Some(r) => validation(format!("Query condition missed key schema element: {}", r.name)),
                        None => validation("Query key condition not supported"),
                    });
                };
                let values: Vec<Scalar> =
                    part.values.iter().map(|v| typed_scalar(v, attr.kind)).collect::<Result<_>>()?;
                Some(if part.begins_with {
                    if attr.kind == ScalarType::N {
                        return Err(key_condition_error(
                            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                        ));
                    }
                    RangeCondition::BeginsWith(values[0].clone())
                } else if values.len() == 2 {
                    RangeCondition::Between(values[0].clone(), values[1].clone())
                } else {
                    RangeCondition::Compare(part.cmp, values[0].clone())
                })
            }
        };
        Ok(KeyCondition { hash, range })
    }
}

fn typed_scalar(v: &AttrValue, kind: ScalarType) -> Result<Scalar> {
    Scalar::from_value(v)
        .filter(|s| scalar_type(s) == kind)
        .ok_or_else(|| invalid_parameter("Condition parameter type does not match schema type"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{parse_condition, Kind, Symbols};
    use serde_json::json;

    fn schema() -> KeySchema {
        KeySchema {
            hash: KeyAttr { name: "pk".into(), kind: ScalarType::S },
            range: Some(KeyAttr { name: "sk".into(), kind: ScalarType::N }),
        }
    }

    fn key_condition(src: &str) -> std::result::Result<KeyCondition, String> {
        let values = json!({":h": {"S": "a"}, ":n": {"N": "5"}, ":m": {"N": "9"}, ":s": {"S": "x"}});
        let mut syms = Symbols::new(None, Some(&values), true).unwrap();
        let cond = parse_condition(src, Kind::KeyCondition, &mut syms).map_err(|e| e.message)?;
        KeyCondition::from_condition(&cond, &schema()).map_err(|e| e.message)
    }

    #[test]
    fn key_conditions_take_dynamodbs_forms() {
        let n = |s: &str| Scalar::N(Number::parse(s).unwrap());
        let ok = key_condition("pk = :h AND sk BETWEEN :n AND :m").unwrap();
        assert_eq!(ok.range, Some(RangeCondition::Between(n("5"), n("9"))));
        assert_eq!(key_condition("sk > :n and pk = :h").unwrap().range, Some(RangeCondition::Compare(Cmp::Gt, n("5"))));
        assert_eq!(key_condition(":n < sk AND pk = :h").unwrap().range, Some(RangeCondition::Compare(Cmp::Gt, n("5"))));
        assert_eq!(key_condition("(pk = :h)").unwrap().range, None);
        for (src, message) in [
            (
                "pk = :h OR sk = :n",
                "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR",
            ),
            ("pk <> :h", "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: <>"),
            ("pk IN (:h)", "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: IN"),
            (
                "attribute_exists(pk)",
                "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: attribute_exists",
            ),
            (
                "pk = :h AND sk = :n AND sk = :m",
                "Invalid KeyConditionExpression: Conditions can be of length 1 or 2 only",
            ),
            (
                "pk = :h AND pk = :h",
                "Invalid KeyConditionExpression: KeyConditionExpressions must only contain one condition per key",
            ),
            ("sk = :n", "Query condition missed key schema element: pk"),
            ("pk > :h", "Query key condition not supported"),
            ("pk = :h AND attr1 = :n", "Query condition missed key schema element: sk"),
            (
                "pk = :n",
                "One or more parameter values were invalid: Condition parameter type does not match schema type",
            ),
            (
                "pk = :h AND begins_with(sk, :s)",
                "One or more parameter values were invalid: Condition parameter type does not match schema type",
            ),
        ] {
            assert_eq!(key_condition(src).unwrap_err(), message, "{src}");
        }
    }

    #[test]
    fn request_keys_must_match_the_schema() {
        let key = |v: serde_json::Value| crate::value::item_from_json(&v).unwrap();
        let s = schema();
        assert!(s.key_of_request(&key(json!({"pk": {"S": "a"}, "sk": {"N": "1"}}))).is_ok());
        for bad in [
            json!({"pk": {"S": "a"}}),
            json!({"pk": {"S": "a"}, "sk": {"S": "1"}}),
            json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "y"}}),
        ] {
            assert_eq!(
                s.key_of_request(&key(bad)).unwrap_err().message,
                "The provided key element does not match the schema"
            );
        }
        assert_eq!(
            s.key_of_item(&key(json!({"sk": {"N": "1"}}))).unwrap_err().message,
            "One or more parameter values were invalid: Missing the key pk in the item"
        );
        assert_eq!(
            s.key_of_item(&key(json!({"pk": {"N": "1"}, "sk": {"N": "1"}}))).unwrap_err().message,
            "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"
        );
        assert_eq!(
            s.key_of_item(&key(json!({"pk": {"S": ""}, "sk": {"N": "1"}}))).unwrap_err().message,
            "One or more parameter values were invalid: One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
        );
        let long = "x".repeat(2049);
        assert_eq!(
            s.key_of_item(&key(json!({"pk": {"S": long}, "sk": {"N": "1"}}))).unwrap_err().message,
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
        );
    }
}
