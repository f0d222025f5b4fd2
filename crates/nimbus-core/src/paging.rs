//! Offset pagination as services answer it: `MaxResults` items from an opaque `NextToken`
//! (here the offset), and a `NextToken` while more remain.

use serde_json::{json, Value};

/// A page of `items` under `member`, read from `input`'s `NextToken` and `MaxResults`.
pub fn by_token(input: &Value, items: Vec<Value>, member: &str, default_max: usize) -> Value {
    let start = input
        .get("NextToken")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0)
        .min(items.len());
    let max = input.get("MaxResults").and_then(Value::as_u64).map_or(default_max, |m| m as usize);
    let end = start.saturating_add(max).min(items.len());
    let mut out = json!({ member: items[start..end].to_vec() });
    if end < items.len() {
        out["NextToken"] = json!(end.to_string());
    }
    out
}
