//! What both API versions share: ids, errors by cause, patch operations, member access.

use nimbus_core::AwsError;
use rand::Rng;
use serde_json::{Map, Value};

/// API Gateway's ids: lowercase letters and digits.
pub fn new_id(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

pub fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "NotFoundException", message)
}

pub fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "ConflictException", message)
}

pub fn bad_request(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "BadRequestException", message)
}

pub fn str_of<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str)
}

/// `input[key]` as a string, or the empty string.
pub fn text(input: &Value, key: &str) -> String {
    str_of(input, key).unwrap_or_default().to_string()
}

/// Copy the members `keys` that `input` has into `doc`.
pub fn copy(doc: &mut Value, input: &Value, keys: &[&str]) {
    for key in keys {
        if let Some(v) = input.get(*key).filter(|v| !v.is_null()) {
            doc[*key] = v.clone();
        }
    }
}

/// A list answer: `{items: [...]}` (v1 `item` on the wire) or v2's `Items`.
pub fn items(key: &str, list: Vec<Value>) -> Value {
    let mut out = Map::new();
    out.insert(key.to_string(), Value::Array(list));
    Value::Object(out)
}

/// Apply v1's `patchOperations` (`add`, `replace`, `remove`, `copy`, `move` on JSON-pointer-like
/// paths, `~1` for `/`) to a document. Values come as strings; they take the type of the value
/// they replace (booleans and numbers), and `add` on a list appends.
pub fn apply_patch(doc: &mut Value, input: &Value) -> Result<(), AwsError> {
    for op in input["patchOperations"].as_array().into_iter().flatten() {
        let path: Vec<String> = str_of(op, "path")
            .unwrap_or_default()
            .split('/')
            .skip(1)
            .map(|p| p.replace("~1", "/").replace("~0", "~"))
            .collect();
        if path.is_empty() || path.iter().all(String::is_empty) {
            return Err(bad_request(format!("Invalid patch path {}", str_of(op, "path").unwrap_or_default())));
        }
        let value = op.get("value").cloned().unwrap_or(Value::Null);
        match str_of(op, "op").unwrap_or("replace") {
            "remove" => remove(doc, &path),
            "add" | "replace" => set(doc, &path, value),
            "copy" | "move" => {
                let from: Vec<String> =
                    str_of(op, "from").unwrap_or_default().split('/').skip(1).map(|p| p.replace("~1", "/")).collect();
                let moved = get(doc, &from).cloned().unwrap_or(Value::Null);
                if str_of(op, "op") == Some("move") {
                    remove(doc, &from);
                }
                set(doc, &path, moved);
            }
            other => return Err(bad_request(format!("Invalid patch operation specified. Must be one of: [add, remove, move, test, replace, copy], got {other}"))),
        }
    }
    Ok(())
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |v, p| v.get(p.as_str()))
}

fn set(doc: &mut Value, path: &[String], value: Value) {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut cur = doc;
    for p in parents {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = cur.as_object_mut().expect("object").entry(p.clone()).or_insert(Value::Object(Map::new()));
    }
    if !cur.is_object() && !cur.is_array() {
        *cur = Value::Object(Map::new());
    }
    if let Value::Array(list) = cur {
        // `add /binaryMediaTypes/image~1png`: the last segment is the element.
        let item = Value::String(last.clone());
        if !list.contains(&item) {
            list.push(item);
        }
        return;
    }
    let obj = cur.as_object_mut().expect("object");
    if last.is_empty() {
        return;
    }
    // `replace /minimumCompressionSize ""` unsets a number (Chalice does this on every deploy).
    let numeric = obj.get(last.as_str()).is_some_and(Value::is_number) || last == "minimumCompressionSize";
    if numeric && value == "" {
        obj.remove(last.as_str());
        return;
    }
    let typed = match (obj.get(last.as_str()), &value) {
        (Some(Value::Bool(_)), Value::String(s)) => s.parse::<bool>().map(Value::Bool).unwrap_or(value),
        (Some(Value::Number(_)), Value::String(s)) => {
            s.parse::<i64>().map(Value::from).or_else(|_| s.parse::<f64>().map(Value::from)).unwrap_or(value)
        }
        (Some(Value::Array(_)), Value::String(s)) if !s.starts_with('[') => {
            Value::Array(s.split(',').map(|p| Value::String(p.trim().to_string())).collect())
        }
        _ => value,
    };
    obj.insert(last.clone(), typed);
}

fn remove(doc: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cur = doc;
    for p in parents {
        match cur.get_mut(p.as_str()) {
            Some(next) => cur = next,
            None => return,
        }
    }
    match cur {
        Value::Object(obj) => {
            obj.remove(last.as_str());
        }
        Value::Array(list) => list.retain(|v| v.as_str() != Some(last.as_str())),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn patches_keep_types_and_append_to_lists() {
        let mut doc = json!({"name": "a", "apiKeyRequired": false, "binaryMediaTypes": [], "variables": {}});
        let patch = json!({"patchOperations": [
            {"op": "replace", "path": "/name", "value": "b"},
            {"op": "replace", "path": "/apiKeyRequired", "value": "true"},
            {"op": "add", "path": "/binaryMediaTypes/image~1png"},
            {"op": "replace", "path": "/variables/env", "value": "prod"},
            {"op": "remove", "path": "/description"},
        ]});
        apply_patch(&mut doc, &patch).unwrap();
        assert_eq!(
            doc,
            json!({"name": "b", "apiKeyRequired": true, "binaryMediaTypes": ["image/png"], "variables": {"env": "prod"}})
        );
        apply_patch(&mut doc, &json!({"patchOperations": [{"op": "remove", "path": "/binaryMediaTypes/image~1png"}]}))
            .unwrap();
        assert_eq!(doc["binaryMediaTypes"], json!([]));
    }
}
