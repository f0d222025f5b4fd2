//! ExpressionAttributeNames and ExpressionAttributeValues of one request: decoded and checked
//! once, looked up by every expression of the request, and finally checked for unused entries
//! as DynamoDB does.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::errors::{validation, Result};
use crate::value::AttrValue;

#[derive(Debug, Default)]
pub struct Symbols {
    names: BTreeMap<String, String>,
    values: BTreeMap<String, AttrValue>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

fn valid_key(key: &str, sigil: char) -> bool {
    key.len() > 1 && key.starts_with(sigil) && key[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Symbols {
    /// Decodes the request's maps. `has_expressions` is whether any expression parameter was
    /// given: DynamoDB refuses the maps otherwise.
    pub fn new(names: Option<&Value>, values: Option<&Value>, has_expressions: bool) -> Result<Symbols> {
        let mut symbols = Symbols::default();
        if let Some(names) = names.filter(|v| !v.is_null()) {
            if !has_expressions {
                return Err(validation("ExpressionAttributeNames can only be specified when using expressions"));
            }
            let obj = names
                .as_object()
                .ok_or_else(|| crate::errors::serialization("Start of structure or map found where not expected"))?;
            if obj.is_empty() {
                return Err(validation("ExpressionAttributeNames must not be empty"));
            }
            for (k, v) in obj {
                if !valid_key(k, '#') {
                    return Err(validation(format!(
                        "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{k}\""
                    )));
                }
                let v = v.as_str().ok_or_else(|| crate::errors::serialization("Unexpected value type in payload"))?;
                if v.is_empty() {
                    return Err(validation(format!(
                        "ExpressionAttributeNames contains invalid value: Empty attribute name for key {k}"
                    )));
                }
                symbols.names.insert(k.clone(), v.to_string());
            }
        }
        if let Some(values) = values.filter(|v| !v.is_null()) {
            if !has_expressions {
                return Err(validation("ExpressionAttributeValues can only be specified when using expressions"));
            }
            let obj = values
                .as_object()
                .ok_or_else(|| crate::errors::serialization("Start of structure or map found where not expected"))?;
            if obj.is_empty() {
                return Err(validation("ExpressionAttributeValues must not be empty"));
            }
            for (k, v) in obj {
                if !valid_key(k, ':') {
                    return Err(validation(format!(
                        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{k}\""
                    )));
                }
                let value = AttrValue::from_json(v).map_err(|e| {
                    let mut e = e;
                    e.message = format!("ExpressionAttributeValues contains invalid value: {} for key {k}", e.message);
                    e
                })?;
                symbols.values.insert(k.clone(), value);
            }
        }
        Ok(symbols)
    }

    pub fn name(&mut self, key: &str) -> Option<String> {
        let v = self.names.get(key)?.clone();
        self.used_names.insert(key.to_string());
        Some(v)
    }

    pub fn value(&mut self, key: &str) -> Option<AttrValue> {
        let v = self.values.get(key)?.clone();
        self.used_values.insert(key.to_string());
        Some(v)
    }

    /// After every expression is parsed: names and values no expression used are refused.
    pub fn check_unused(&self) -> Result<()> {
        let unused = |all: Vec<&String>, used: &BTreeSet<String>| -> Vec<String> {
            all.into_iter().filter(|k| !used.contains(*k)).cloned().collect()
        };
        let names = unused(self.names.keys().collect(), &self.used_names);
        if !names.is_empty() {
            return Err(validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                names.join(", ")
            )));
        }
        let values = unused(self.values.keys().collect(), &self.used_values);
        if !values.is_empty() {
            return Err(validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                values.join(", ")
            )));
        }
        Ok(())
    }
}
