//! DynamoDB's data model: attribute values, items, their wire form (`{"S": "x"}`), the sizes
//! DynamoDB bills and limits by, and the checks it applies to every value it accepts.

use std::cmp::Ordering;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{Map as JsonMap, Value};

use crate::errors::{invalid_parameter, serialization, validation, Result};
use crate::number::Number;

/// Items may hold at most 400 KB, counted as DynamoDB counts (see [`AttrValue::size`]).
pub const MAX_ITEM_SIZE: usize = 400 * 1024;
pub const MAX_HASH_KEY_SIZE: usize = 2048;
pub const MAX_RANGE_KEY_SIZE: usize = 1024;
/// Maps and lists nest at most 32 levels deep.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    S(Box<str>),
    N(Number),
    B(Box<[u8]>),
    Ss(Vec<Box<str>>),
    Ns(Vec<Number>),
    Bs(Vec<Box<[u8]>>),
    M(Map),
    L(Vec<AttrValue>),
    Null,
    Bool(bool),
}

/// A map (and an item): attributes sorted by name, compact and binary-searchable.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map(Vec<(Box<str>, AttrValue)>);

pub type Item = Map;

impl Map {
    pub fn new() -> Map {
        Map(Vec::new())
    }

    pub fn get(&self, name: &str) -> Option<&AttrValue> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(name)).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut AttrValue> {
        match self.0.binary_search_by(|(k, _)| (**k).cmp(name)) {
            Ok(i) => Some(&mut self.0[i].1),
            Err(_) => None,
        }
    }

    pub fn insert(&mut self, name: &str, value: AttrValue) -> Option<AttrValue> {
        match self.0.binary_search_by(|(k, _)| (**k).cmp(name)) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name.into(), value));
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<AttrValue> {
        match self.0.binary_search_by(|(k, _)| (**k).cmp(name)) {
            Ok(i) => Some(self.0.remove(i).1),
            Err(_) => None,
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &AttrValue)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    /// Size as DynamoDB counts it: each attribute's name bytes plus its value's size.
    pub fn size(&self) -> usize {
        self.0.iter().map(|(k, v)| k.len() + v.size()).sum()
    }

    pub fn shrink(&mut self) {
        self.0.shrink_to_fit();
    }
}

impl FromIterator<(String, AttrValue)> for Map {
    fn from_iter<I: IntoIterator<Item = (String, AttrValue)>>(iter: I) -> Map {
        let mut map = Map::new();
        for (k, v) in iter {
            map.insert(&k, v);
        }
        map
    }
}

/// The type descriptors of the wire form, also used by `attribute_type`.
pub const TYPE_NAMES: [&str; 10] = ["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"];

impl AttrValue {
    pub fn type_name(&self) -> &'static str {
        match self {
            AttrValue::S(_) => "S",
            AttrValue::N(_) => "N",
            AttrValue::B(_) => "B",
            AttrValue::Ss(_) => "SS",
            AttrValue::Ns(_) => "NS",
            AttrValue::Bs(_) => "BS",
            AttrValue::M(_) => "M",
            AttrValue::L(_) => "L",
            AttrValue::Null => "NULL",
            AttrValue::Bool(_) => "BOOL",
        }
    }

    /// Bytes DynamoDB counts for this value (the developer guide's "Item sizes and formats"):
    /// strings and binaries by length, numbers one byte per two significant digits plus one,
    /// booleans and nulls one byte, lists and maps three bytes plus one per element.
    pub fn size(&self) -> usize {
        match self {
            AttrValue::S(s) => s.len(),
            AttrValue::N(n) => number_size(n),
            AttrValue::B(b) => b.len(),
            AttrValue::Ss(v) => v.iter().map(|s| s.len()).sum(),
            AttrValue::Ns(v) => v.iter().map(number_size).sum(),
            AttrValue::Bs(v) => v.iter().map(|b| b.len()).sum(),
            AttrValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>(),
            AttrValue::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            AttrValue::Null | AttrValue::Bool(_) => 1,
        }
    }

    /// Levels of maps and lists below and including this value (a scalar is 0).
    pub fn depth(&self) -> usize {
        match self {
            AttrValue::M(m) => 1 + m.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            AttrValue::L(l) => 1 + l.iter().map(AttrValue::depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    pub fn to_json(&self) -> Value {
        let mut obj = JsonMap::with_capacity(1);
        let inner = match self {
            AttrValue::S(s) => Value::String(s.to_string()),
            AttrValue::N(n) => Value::String(n.to_string()),
            AttrValue::B(b) => Value::String(BASE64.encode(b)),
            AttrValue::Ss(v) => v.iter().map(|s| Value::String(s.to_string())).collect(),
            AttrValue::Ns(v) => v.iter().map(|n| Value::String(n.to_string())).collect(),
            AttrValue::Bs(v) => v.iter().map(|b| Value::String(BASE64.encode(b))).collect(),
            AttrValue::M(m) => Value::Object(map_to_json(m)),
            AttrValue::L(l) => l.iter().map(AttrValue::to_json).collect(),
            AttrValue::Null => Value::Bool(true),
            AttrValue::Bool(b) => Value::Bool(*b),
        };
        obj.insert(self.type_name().to_string(), inner);
        Value::Object(obj)
    }

    /// Decodes one wire-form value, with DynamoDB's errors for every malformed case.
    pub fn from_json(value: &Value) -> Result<AttrValue> {
        let v = Self::from_json_at(value, 1)?;
        Ok(v)
    }

    fn from_json_at(value: &Value, depth: usize) -> Result<AttrValue> {
        let obj = value
            .as_object()
            .ok_or_else(|| serialization(format!("{} cannot be converted to AttributeValue", json_kind(value))))?;
        // Members set to null are absent, as the SDKs' serializers treat them.
        let mut members = obj.iter().filter(|(_, v)| !v.is_null());
        let (tag, inner) = match (members.next(), members.next()) {
            (None, _) => {
                return Err(validation(
                    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(validation(
                    "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                ))
            }
            (Some(member), None) => member,
        };
        let nested = |depth: usize| {
            if depth > MAX_DEPTH {
                Err(validation("Nesting Levels have exceeded supported limits"))
            } else {
                Ok(())
            }
        };
        Ok(match tag.as_str() {
            "S" => AttrValue::S(json_str(inner, "String")?.into()),
            "N" => AttrValue::N(parse_number(json_str(inner, "String")?)?),
            "B" => AttrValue::B(decode_binary(inner)?),
            "BOOL" => AttrValue::Bool(inner.as_bool().ok_or_else(|| mismatch(inner, "Boolean"))?),
            "NULL" => match inner.as_bool() {
                Some(true) => AttrValue::Null,
                Some(false) => return Err(invalid_parameter("Null attribute value types must have the value of true")),
                None => return Err(mismatch(inner, "Boolean")),
            },
            "SS" => {
                let items: Vec<Box<str>> =
                    json_list(inner)?.iter().map(|v| json_str(v, "String").map(Into::into)).collect::<Result<_>>()?;
                check_set(&items, "string", |s| s.to_string())?;
                AttrValue::Ss(items)
            }
            "NS" => {
                let texts: Vec<&str> =
                    json_list(inner)?.iter().map(|v| json_str(v, "String")).collect::<Result<_>>()?;
                let items: Vec<Number> = texts.iter().map(|t| parse_number(t)).collect::<Result<_>>()?;
                if items.is_empty() {
                    return Err(empty_set("number"));
                }
                if has_duplicates(&items) {
                    return Err(duplicates(texts.iter().map(|t| t.to_string())));
                }
                AttrValue::Ns(items)
            }
            "BS" => {
                let items: Vec<Box<[u8]>> = json_list(inner)?.iter().map(decode_binary).collect::<Result<_>>()?;
                check_set(&items, "binary", |b| BASE64.encode(b))?;
                AttrValue::Bs(items)
            }
            "M" => {
                nested(depth)?;
                let obj = inner.as_object().ok_or_else(|| mismatch(inner, "Map"))?;
                let mut map = Map::new();
                for (k, v) in obj {
                    map.insert(k, Self::from_json_at(v, depth + 1)?);
                }
                AttrValue::M(map)
            }
            "L" => {
                nested(depth)?;
                let items = json_list(inner)?;
                AttrValue::L(items.iter().map(|v| Self::from_json_at(v, depth + 1)).collect::<Result<_>>()?)
            }
            other => {
                return Err(serialization(format!("Unknown AttributeValue member: {other}")));
            }
        })
    }

    /// Whether two values are equal as DynamoDB compares them (sets ignore order).
    pub fn same(&self, other: &AttrValue) -> bool {
        match (self, other) {
            (AttrValue::Ss(a), AttrValue::Ss(b)) => a.len() == b.len() && a.iter().all(|x| b.contains(x)),
            (AttrValue::Ns(a), AttrValue::Ns(b)) => a.len() == b.len() && a.iter().all(|x| b.contains(x)),
            (AttrValue::Bs(a), AttrValue::Bs(b)) => a.len() == b.len() && a.iter().all(|x| b.contains(x)),
            (AttrValue::M(a), AttrValue::M(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|((ka, va), (kb, vb))| ka == kb && va.same(vb))
            }
            (AttrValue::L(a), AttrValue::L(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y)),
            _ => self == other,
        }
    }

    /// Order of two scalars of the same type (S, N, B), as key conditions and comparisons use.
    pub fn compare(&self, other: &AttrValue) -> Option<Ordering> {
        match (self, other) {
            (AttrValue::S(a), AttrValue::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (AttrValue::N(a), AttrValue::N(b)) => Some(a.cmp(b)),
            (AttrValue::B(a), AttrValue::B(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

fn number_size(n: &Number) -> usize {
    (n.significant_digits() as usize).div_ceil(2) + 1
}

pub fn parse_number(text: &str) -> Result<Number> {
    Number::parse(text).map_err(|e| validation(e.to_string()))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL_VALUE",
        Value::Bool(_) => "BOOLEAN_VALUE",
        Value::Number(_) => "NUMBER_VALUE",
        Value::String(_) => "STRING_VALUE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

fn mismatch(v: &Value, target: &str) -> nimbus_core::AwsError {
    serialization(format!("{} cannot be converted to {target}", json_kind(v)))
}

fn json_str<'a>(v: &'a Value, target: &str) -> Result<&'a str> {
    v.as_str().ok_or_else(|| mismatch(v, target))
}

fn json_list(v: &Value) -> Result<&Vec<Value>> {
    v.as_array().ok_or_else(|| mismatch(v, "List"))
}

fn decode_binary(v: &Value) -> Result<Box<[u8]>> {
    let text = json_str(v, "Blob")?;
    BASE64.decode(text).map(Vec::into_boxed_slice).map_err(|_| {
        serialization(
            "Base64 encoded length is expected a multiple of 4 bytes but found: ".to_string() + &text.len().to_string(),
        )
    })
}

fn empty_set(kind: &str) -> nimbus_core::AwsError {
    // DynamoDB's wording, double space included.
    invalid_parameter(format!("An {kind} set  may not be empty"))
}

fn duplicates(items: impl Iterator<Item = String>) -> nimbus_core::AwsError {
    invalid_parameter(format!("Input collection [{}] contains duplicates.", items.collect::<Vec<_>>().join(", ")))
}

fn has_duplicates<T: PartialEq>(items: &[T]) -> bool {
    items.iter().enumerate().any(|(i, x)| items[..i].contains(x))
}

fn check_set<T: PartialEq>(items: &[T], kind: &str, show: impl Fn(&T) -> String) -> Result<()> {
    if items.is_empty() {
        return Err(empty_set(kind));
    }
    if has_duplicates(items) {
        return Err(duplicates(items.iter().map(show)));
    }
    Ok(())
}

pub fn map_to_json(map: &Map) -> JsonMap<String, Value> {
    map.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()
}

pub fn item_to_json(item: &Item) -> Value {
    Value::Object(map_to_json(item))
}

/// Decodes an item (or key, or ExpressionAttributeValues) object.
pub fn item_from_json(value: &Value) -> Result<Item> {
    let obj = value.as_object().ok_or_else(|| mismatch(value, "Map"))?;
    let mut item = Map::new();
    for (k, v) in obj {
        item.insert(k, AttrValue::from_json(v)?);
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: Value) -> std::result::Result<AttrValue, String> {
        AttrValue::from_json(&v).map_err(|e| format!("{}: {}", e.code.rsplit('#').next().unwrap(), e.message))
    }

    #[test]
    fn round_trips_every_type() {
        for v in [
            json!({"S": "héllo"}),
            json!({"S": ""}),
            json!({"N": "-1.5"}),
            json!({"B": "AAEC"}),
            json!({"B": ""}),
            json!({"SS": ["a", "b"]}),
            json!({"NS": ["1", "2.5"]}),
            json!({"BS": ["AA==", "AQ=="]}),
            json!({"M": {"a": {"L": [{"NULL": true}, {"BOOL": false}]}}}),
            json!({"L": []}),
            json!({"M": {}}),
        ] {
            assert_eq!(decode(v.clone()).unwrap().to_json(), v);
        }
        assert_eq!(decode(json!({"N": "1E2"})).unwrap().to_json(), json!({"N": "100"}));
    }

    #[test]
    fn refuses_malformed_values_as_dynamodb_does() {
        let cases = [
            (json!({}), "ValidationException: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
            (json!({"S": null}), "ValidationException: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
            (json!({"S": "a", "N": "1"}), "ValidationException: Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"),
            (json!({"SS": []}), "ValidationException: One or more parameter values were invalid: An string set  may not be empty"),
            (json!({"NS": []}), "ValidationException: One or more parameter values were invalid: An number set  may not be empty"),
            (json!({"BS": []}), "ValidationException: One or more parameter values were invalid: An binary set  may not be empty"),
            (json!({"SS": ["a", "a"]}), "ValidationException: One or more parameter values were invalid: Input collection [a, a] contains duplicates."),
            (json!({"NS": ["1", "1.0"]}), "ValidationException: One or more parameter values were invalid: Input collection [1, 1.0] contains duplicates."),
            (json!({"NULL": false}), "ValidationException: One or more parameter values were invalid: Null attribute value types must have the value of true"),
            (json!({"N": "x1"}), "ValidationException: The parameter cannot be converted to a numeric value: x1"),
            (json!({"N": "1E126"}), "ValidationException: Number overflow. Attempting to store a number with magnitude larger than supported range"),
            (json!({"S": 5}), "SerializationException: NUMBER_VALUE cannot be converted to String"),
            (json!({"BOOL": "true"}), "SerializationException: STRING_VALUE cannot be converted to Boolean"),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(input.clone()).unwrap_err(), expected, "{input}");
        }
    }

    #[test]
    fn nesting_is_limited_to_32_levels() {
        let nest = |levels: usize| {
            let mut v = json!({"S": "leaf"});
            for _ in 0..levels {
                v = json!({"L": [v]});
            }
            v
        };
        assert_eq!(decode(nest(32)).unwrap().depth(), 32);
        assert_eq!(decode(nest(33)).unwrap_err(), "ValidationException: Nesting Levels have exceeded supported limits");
    }

    #[test]
    fn sizes_follow_the_developer_guide() {
        let size = |v: Value| decode(v).unwrap().size();
        assert_eq!(size(json!({"S": "abc"})), 3);
        assert_eq!(size(json!({"S": "é"})), 2);
        assert_eq!(size(json!({"N": "1"})), 2);
        assert_eq!(size(json!({"N": "123"})), 3);
        assert_eq!(size(json!({"N": "-1234.5"})), 4);
        assert_eq!(size(json!({"B": "AAEC"})), 3);
        assert_eq!(size(json!({"BOOL": true})), 1);
        assert_eq!(size(json!({"NULL": true})), 1);
        assert_eq!(size(json!({"SS": ["ab", "c"]})), 3);
        assert_eq!(size(json!({"L": []})), 3);
        assert_eq!(size(json!({"L": [{"S": "ab"}]})), 6);
        assert_eq!(size(json!({"M": {"k": {"S": "ab"}}})), 7);
        let item = item_from_json(&json!({"id": {"S": "abc"}, "n": {"N": "12"}})).unwrap();
        assert_eq!(item.size(), 2 + 3 + 1 + 2);
    }

    #[test]
    fn sets_compare_without_order() {
        let a = decode(json!({"SS": ["a", "b"]})).unwrap();
        let b = decode(json!({"SS": ["b", "a"]})).unwrap();
        assert!(a.same(&b));
        assert!(!a.same(&decode(json!({"SS": ["a"]})).unwrap()));
    }
}
