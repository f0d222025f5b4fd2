//! Lambda event filtering (`FilterCriteria`): the EventBridge pattern language.
//!
//! A pattern is a JSON object whose keys must all match (AND). A leaf is an array of matchers,
//! any of which may match (OR): literal values, `prefix`, `suffix`, `equals-ignore-case`,
//! `wildcard`, `anything-but`, `numeric`, `exists` and `cidr`. `$or` at any level takes a list
//! of sub-patterns. An event field holding an array matches when any element does.

use serde_json::{Map, Value};

const INVALID: &str = "Invalid filter pattern definition.";
/// AWS limits a filter pattern to 4096 characters.
const MAX_PATTERN_CHARS: usize = 4096;

#[derive(Debug, Clone)]
pub struct Pattern {
    root: Map<String, Value>,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if text.chars().count() > MAX_PATTERN_CHARS {
            return Err(INVALID.to_string());
        }
        let value: Value = serde_json::from_str(text).map_err(|_| INVALID.to_string())?;
        let Value::Object(root) = value else { return Err(INVALID.to_string()) };
        check_object(&root)?;
        Ok(Pattern { root })
    }

    pub fn matches(&self, event: &Value) -> bool {
        match_object(&self.root, event)
    }
}

/// A record passes when any filter matches; with no filters everything passes.
pub fn any_matches(patterns: &[Pattern], event: &Value) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(event))
}

/// The view of an SQS record that filters see: `body` as parsed JSON when it is JSON.
pub fn sqs_record_view(record: &Value) -> Value {
    let mut view = record.clone();
    if let Some(body) = record.get("body").and_then(Value::as_str) {
        if let Ok(parsed @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(body) {
            view["body"] = parsed;
        }
    }
    view
}

fn invalid<T>() -> Result<T, String> {
    Err(INVALID.to_string())
}

fn check_object(pattern: &Map<String, Value>) -> Result<(), String> {
    if pattern.is_empty() {
        return invalid();
    }
    for (key, value) in pattern {
        match (key.as_str(), value) {
            ("$or", Value::Array(alternatives)) if alternatives.len() >= 2 => {
                for alternative in alternatives {
                    let Value::Object(sub) = alternative else { return invalid() };
                    check_object(sub)?;
                }
            }
            ("$or", _) => return invalid(),
            (_, Value::Object(sub)) => check_object(sub)?,
            (_, Value::Array(matchers)) if !matchers.is_empty() => {
                for matcher in matchers {
                    check_matcher(matcher)?;
                }
            }
            _ => return invalid(),
        }
    }
    Ok(())
}

fn check_matcher(matcher: &Value) -> Result<(), String> {
    let Value::Object(op) = matcher else {
        // Literals: strings, numbers, booleans and null.
        return if matcher.is_array() { invalid() } else { Ok(()) };
    };
    if op.len() != 1 {
        return invalid();
    }
    let (name, arg) = op.iter().next().expect("one entry");
    let ok = match name.as_str() {
        "prefix" | "suffix" => arg.is_string() || ignore_case_arg(arg).is_some(),
        "equals-ignore-case" | "wildcard" => arg.is_string(),
        "exists" => arg.is_boolean(),
        "cidr" => arg.as_str().is_some_and(|c| parse_cidr(c).is_some()),
        "numeric" => parse_numeric(arg).is_some(),
        "anything-but" => match arg {
            Value::String(_) | Value::Number(_) => true,
            Value::Array(items) => !items.is_empty() && items.iter().all(|i| i.is_string() || i.is_number()),
            Value::Object(inner) => {
                inner.len() == 1
                    && inner.iter().all(|(k, v)| match k.as_str() {
                        "prefix" | "suffix" => v.is_string(),
                        "equals-ignore-case" => v.is_string() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
                        _ => false,
                    })
            }
            _ => false,
        },
        _ => false,
    };
    if ok { Ok(()) } else { invalid() }
}

fn ignore_case_arg(arg: &Value) -> Option<&str> {
    arg.as_object().filter(|o| o.len() == 1)?.get("equals-ignore-case")?.as_str()
}

fn match_object(pattern: &Map<String, Value>, event: &Value) -> bool {
    pattern.iter().all(|(key, pat)| match (key.as_str(), pat) {
        ("$or", Value::Array(alternatives)) => {
            alternatives.iter().any(|a| a.as_object().is_some_and(|sub| match_object(sub, event)))
        }
        (_, Value::Object(sub)) => match event.get(key) {
            Some(Value::Array(items)) => items.iter().any(|item| match_object(sub, item)),
            Some(inner) => match_object(sub, inner),
            None => false,
        },
        (_, Value::Array(matchers)) => match_field(matchers, event.get(key)),
        _ => false,
    })
}

/// Whether any matcher accepts the field (missing, a value, or any element of an array).
fn match_field(matchers: &[Value], field: Option<&Value>) -> bool {
    matchers.iter().any(|m| match (m.get("exists").and_then(Value::as_bool), field) {
        (Some(wanted), field) => wanted == field.is_some_and(|f| !matches!(f, Value::Array(a) if a.is_empty())),
        (None, None) => false,
        (None, Some(Value::Array(items))) => items.iter().any(|item| match_value(m, item)),
        (None, Some(value)) => match_value(m, value),
    })
}

fn match_value(matcher: &Value, value: &Value) -> bool {
    let Value::Object(op) = matcher else { return literal_eq(matcher, value) };
    let Some((name, arg)) = op.iter().next() else { return false };
    let text = value.as_str();
    match name.as_str() {
        "prefix" => match (arg.as_str(), ignore_case_arg(arg), text) {
            (Some(p), _, Some(t)) => t.starts_with(p),
            (_, Some(p), Some(t)) => t.to_lowercase().starts_with(&p.to_lowercase()),
            _ => false,
        },
        "suffix" => match (arg.as_str(), ignore_case_arg(arg), text) {
            (Some(s), _, Some(t)) => t.ends_with(s),
            (_, Some(s), Some(t)) => t.to_lowercase().ends_with(&s.to_lowercase()),
            _ => false,
        },
        "equals-ignore-case" => matches!((arg.as_str(), text), (Some(a), Some(t)) if a.to_lowercase() == t.to_lowercase()),
        "wildcard" => matches!((arg.as_str(), text), (Some(p), Some(t)) if wildcard(p, t)),
        "numeric" => match (parse_numeric(arg), value.as_f64()) {
            (Some(conditions), Some(n)) => conditions.iter().all(|(op, bound)| compare(op, n, *bound)),
            _ => false,
        },
        "cidr" => match (arg.as_str().and_then(parse_cidr), text.and_then(parse_ipv4)) {
            (Some((network, bits)), Some(ip)) => {
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                ip & mask == network & mask
            }
            _ => false,
        },
        "anything-but" => !anything_but_excludes(arg, value),
        _ => false,
    }
}

/// Whether `anything-but`'s argument names this value (so the value is excluded).
fn anything_but_excludes(arg: &Value, value: &Value) -> bool {
    match arg {
        Value::Array(items) => items.iter().any(|i| literal_eq(i, value)),
        Value::Object(inner) => {
            let Some(text) = value.as_str() else { return false };
            inner.iter().any(|(k, v)| match (k.as_str(), v) {
                ("prefix", Value::String(p)) => text.starts_with(p.as_str()),
                ("suffix", Value::String(s)) => text.ends_with(s.as_str()),
                ("equals-ignore-case", Value::String(s)) => s.to_lowercase() == text.to_lowercase(),
                ("equals-ignore-case", Value::Array(list)) => {
                    list.iter().filter_map(Value::as_str).any(|s| s.to_lowercase() == text.to_lowercase())
                }
                _ => false,
            })
        }
        single => literal_eq(single, value),
    }
}

/// Literal equality; numbers compare by value (5 == 5.0).
fn literal_eq(pattern: &Value, value: &Value) -> bool {
    match (pattern, value) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn parse_numeric(arg: &Value) -> Option<Vec<(String, f64)>> {
    let items = arg.as_array()?;
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return None;
    }
    items
        .chunks(2)
        .map(|pair| {
            let op = pair[0].as_str().filter(|o| matches!(*o, "=" | "<" | "<=" | ">" | ">="))?;
            Some((op.to_string(), pair[1].as_f64()?))
        })
        .collect()
}

fn compare(op: &str, n: f64, bound: f64) -> bool {
    match op {
        "=" => n == bound,
        "<" => n < bound,
        "<=" => n <= bound,
        ">" => n > bound,
        ">=" => n >= bound,
        _ => false,
    }
}

/// `*` matches any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

fn parse_ipv4(text: &str) -> Option<u32> {
    let addr: std::net::Ipv4Addr = text.parse().ok()?;
    Some(u32::from(addr))
}

fn parse_cidr(text: &str) -> Option<(u32, u32)> {
    let (ip, bits) = text.split_once('/')?;
    let bits: u32 = bits.parse().ok().filter(|b| *b <= 32)?;
    Some((parse_ipv4(ip)?, bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(pattern: &str, event: Value) -> bool {
        Pattern::parse(pattern).unwrap().matches(&event)
    }

    #[test]
    fn literals_and_nesting() {
        assert!(check(r#"{"a": ["x", "y"]}"#, json!({"a": "y"})));
        assert!(!check(r#"{"a": ["x"]}"#, json!({"a": "z"})));
        assert!(check(r#"{"a": {"b": [5]}}"#, json!({"a": {"b": 5.0}})));
        assert!(!check(r#"{"a": {"b": [5]}}"#, json!({"a": 5})));
        assert!(check(r#"{"a": [true]}"#, json!({"a": true})));
        assert!(check(r#"{"a": [null]}"#, json!({"a": null})));
        assert!(check(r#"{"a": ["x"]}"#, json!({"a": ["q", "x"]})));
        assert!(!check(r#"{"a": ["x"], "b": ["y"]}"#, json!({"a": "x"})));
    }

    #[test]
    fn string_operators() {
        assert!(check(r#"{"a": [{"prefix": "ab"}]}"#, json!({"a": "abc"})));
        assert!(!check(r#"{"a": [{"prefix": "ab"}]}"#, json!({"a": "xabc"})));
        assert!(check(r#"{"a": [{"prefix": {"equals-ignore-case": "AB"}}]}"#, json!({"a": "abc"})));
        assert!(check(r#"{"a": [{"suffix": ".png"}]}"#, json!({"a": "x.png"})));
        assert!(check(r#"{"a": [{"suffix": {"equals-ignore-case": ".PNG"}}]}"#, json!({"a": "x.png"})));
        assert!(check(r#"{"a": [{"equals-ignore-case": "HeLLo"}]}"#, json!({"a": "hello"})));
        assert!(check(r#"{"a": [{"wildcard": "img*.p*g"}]}"#, json!({"a": "img01.png"})));
        assert!(!check(r#"{"a": [{"wildcard": "img*.png"}]}"#, json!({"a": "im.png"})));
    }

    #[test]
    fn anything_but_numeric_exists_cidr() {
        assert!(check(r#"{"a": [{"anything-but": "x"}]}"#, json!({"a": "y"})));
        assert!(!check(r#"{"a": [{"anything-but": ["x", "y"]}]}"#, json!({"a": "y"})));
        assert!(!check(r#"{"a": [{"anything-but": {"prefix": "in"}}]}"#, json!({"a": "init"})));
        assert!(check(r#"{"a": [{"anything-but": {"suffix": ".tmp"}}]}"#, json!({"a": "f.txt"})));
        assert!(!check(r#"{"a": [{"anything-but": {"equals-ignore-case": ["X"]}}]}"#, json!({"a": "x"})));
        assert!(!check(r#"{"a": [{"anything-but": "x"}]}"#, json!({})));
        assert!(check(r#"{"a": [{"numeric": [">", 0, "<=", 5]}]}"#, json!({"a": 5})));
        assert!(!check(r#"{"a": [{"numeric": [">", 0, "<=", 5]}]}"#, json!({"a": 6})));
        assert!(check(r#"{"a": [{"numeric": ["=", 3]}]}"#, json!({"a": 3.0})));
        assert!(!check(r#"{"a": [{"numeric": [">", 1]}]}"#, json!({"a": "5"})));
        assert!(check(r#"{"a": [{"exists": true}]}"#, json!({"a": 1})));
        assert!(check(r#"{"a": [{"exists": false}]}"#, json!({"b": 1})));
        assert!(!check(r#"{"a": [{"exists": false}]}"#, json!({"a": 1})));
        assert!(check(r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#, json!({"ip": "10.0.0.7"})));
        assert!(!check(r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#, json!({"ip": "10.0.1.7"})));
    }

    #[test]
    fn or_and_sqs_bodies() {
        let p = r#"{"$or": [{"a": ["x"]}, {"b": [{"numeric": [">", 10]}]}]}"#;
        assert!(check(p, json!({"b": 11})));
        assert!(check(p, json!({"a": "x"})));
        assert!(!check(p, json!({"a": "y", "b": 1})));
        let p = Pattern::parse(r#"{"body": {"temperature": [{"numeric": [">", 30]}]}}"#).unwrap();
        let record = json!({"messageId": "1", "body": "{\"temperature\": 35}"});
        assert!(p.matches(&sqs_record_view(&record)));
        let cold = json!({"messageId": "1", "body": "{\"temperature\": 5}"});
        assert!(!p.matches(&sqs_record_view(&cold)));
        let plain = Pattern::parse(r#"{"body": [{"prefix": "hello"}]}"#).unwrap();
        assert!(plain.matches(&sqs_record_view(&json!({"body": "hello world"}))));
        assert!(any_matches(&[], &json!({})));
    }

    #[test]
    fn invalid_patterns() {
        for bad in [r#"not json"#, r#"[]"#, r#"{}"#, r#"{"a": "x"}"#, r#"{"a": []}"#, r#"{"a": [{"nope": 1}]}"#,
                    r#"{"a": [{"numeric": [">"]}]}"#, r#"{"a": [{"exists": "yes"}]}"#, r#"{"$or": [{"a": ["x"]}]}"#,
                    r#"{"a": [{"cidr": "10.0.0.0/40"}]}"#, r#"{"a": [[1]]}"#] {
            assert_eq!(Pattern::parse(bad).unwrap_err(), INVALID, "{bad}");
        }
    }
}
