//! The event pattern language of EventBridge rules, SNS filter policies and Lambda's event
//! filtering (`FilterCriteria` of event source mappings), as implemented by `aws/event-ruler`.
//! One engine for the three; each service words its own errors around [`Pattern::parse`].
//!
//! A pattern is a JSON object. Every key in it must match (AND); a nested object descends into the
//! event; a leaf is a non-empty array of matchers of which any may match (OR):
//!
//! * literals — strings, numbers (compared by value: `5` matches `5.0`), `true`/`false`, `null`;
//! * `{"prefix": "x"}`, `{"prefix": {"equals-ignore-case": "x"}}`, and the same for `suffix`;
//! * `{"equals-ignore-case": "x"}`, `{"wildcard": "a*b"}` (`\*` and `\\` escape, `**` is invalid);
//! * `{"anything-but": v | [v..] | {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": s | [s..]}}`;
//! * `{"numeric": ["=", 3]}`, `[">", 0]`, `[">", 0, "<=", 5]` (a lower bound may be followed by an
//!   upper bound; bounds within ±5e11);
//! * `{"exists": true|false}` — whether the field has a leaf value (an object or an empty array is
//!   not a leaf, so `exists: false` matches it);
//! * `{"cidr": "10.0.0.0/24"}` (IPv4 and IPv6).
//!
//! `"$or": [{..}, {..}]` (at least two objects) at any object level ORs whole sub-patterns. Where an
//! event field holds an array, the pattern matches when any element does (nested arrays are
//! flattened), and fields of one nested pattern object must all match within the same element.
//! Prefix, suffix, wildcard and ignore-case matchers only ever match strings, numeric only numbers.

use std::net::IpAddr;

use serde_json::{Map, Value};

/// The message Lambda's CreateEventSourceMapping/UpdateEventSourceMapping return
/// (`InvalidParameterValueException`) for any pattern that is not valid: bad JSON, a non-object,
/// an empty array or object, an unknown operator, a bad operand.
pub const INVALID_PATTERN_MESSAGE: &str = "Invalid filter pattern definition.";
/// `Filter.Pattern` is at most 4096 characters long (the API model's constraint).
pub const MAX_PATTERN_LENGTH: usize = 4096;
/// event-ruler's numeric range: numbers beyond ±5e11 cannot be numeric operands, and event values
/// beyond it never match a numeric comparison.
const NUMERIC_LIMIT: f64 = 5e11;

/// Field names event-ruler refuses inside a `$or` branch.
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-cidr",
];

/// A compiled filter pattern (one `Filters[].Pattern` string).
#[derive(Debug, Clone)]
pub struct Pattern {
    root: Node,
}

#[derive(Debug, Clone)]
struct Node {
    fields: Vec<(String, Field)>,
    /// Each `$or` of this object: a list of alternatives, one of which must match.
    ors: Vec<Vec<Node>>,
}

#[derive(Debug, Clone)]
enum Field {
    Object(Node),
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone)]
enum Matcher {
    Literal(Value),
    Prefix(String),
    PrefixIgnoreCase(String),
    Suffix(String),
    SuffixIgnoreCase(String),
    EqualsIgnoreCase(String),
    Wildcard(Glob),
    Numeric { lower: Option<(f64, bool)>, upper: Option<(f64, bool)> },
    Exists(bool),
    Cidr { v6: bool, low: u128, high: u128 },
    AnythingBut(AnythingBut),
}

/// What an `anything-but` excludes.
#[derive(Debug, Clone)]
enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    IgnoreCase(Vec<String>),
    Wildcards(Vec<Glob>),
}

/// A parsed wildcard pattern: `None` is `*`, `Some(c)` a literal character.
type Glob = Vec<Option<char>>;

type Parsed<T> = Result<T, String>;

fn invalid<T>() -> Parsed<T> {
    Err(INVALID_PATTERN_MESSAGE.to_string())
}

impl Pattern {
    /// Parse a pattern JSON string. Every failure gives Lambda's error text,
    /// [`INVALID_PATTERN_MESSAGE`].
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if text.chars().count() > MAX_PATTERN_LENGTH {
            return invalid();
        }
        let Ok(Value::Object(root)) = serde_json::from_str::<Value>(text) else { return invalid() };
        Ok(Pattern { root: compile_object(&root, false)? })
    }

    /// Compile an already parsed pattern (no length limit: each service applies its own).
    pub fn from_value(pattern: &Value) -> Result<Pattern, String> {
        let Value::Object(root) = pattern else { return invalid() };
        Ok(Pattern { root: compile_object(root, false)? })
    }

    /// Whether an event (as a JSON value) matches.
    pub fn matches(&self, event: &Value) -> bool {
        match_node(&self.root, Some(event))
    }
}

/// Lambda's rule: a record passes if ANY of the filters matches; no filters = everything passes.
pub fn any_matches(patterns: &[Pattern], event: &Value) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(event))
}

// ---------------------------------------------------------------------------------------------
// Compiling

fn compile_object(map: &Map<String, Value>, in_or: bool) -> Parsed<Node> {
    if map.is_empty() {
        return invalid(); // "Empty objects are not allowed"
    }
    let mut node = Node { fields: Vec::new(), ors: Vec::new() };
    for (key, value) in map {
        if key == "$or" {
            let Value::Array(alternatives) = value else { return invalid() };
            if alternatives.len() < 2 {
                return invalid(); // "There must have at least 2 Objects in $or relationship."
            }
            let mut compiled = Vec::with_capacity(alternatives.len());
            for alternative in alternatives {
                let Value::Object(sub) = alternative else { return invalid() };
                compiled.push(compile_object(sub, true)?);
            }
            node.ors.push(compiled);
            continue;
        }
        if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
            return invalid();
        }
        let field = match value {
            Value::Object(sub) => Field::Object(compile_object(sub, in_or)?),
            Value::Array(items) if !items.is_empty() => {
                Field::Leaf(items.iter().map(compile_matcher).collect::<Parsed<_>>()?)
            }
            _ => return invalid(), // "must be an object or an array" / "Empty arrays are not allowed"
        };
        node.fields.push((key.clone(), field));
    }
    Ok(node)
}

fn compile_matcher(item: &Value) -> Parsed<Matcher> {
    match item {
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => Ok(Matcher::Literal(item.clone())),
        Value::Array(_) => invalid(),
        Value::Object(op) => {
            let mut entries = op.iter();
            let (Some((name, arg)), None) = (entries.next(), entries.next()) else { return invalid() };
            compile_operator(name, arg)
        }
    }
}

fn compile_operator(name: &str, arg: &Value) -> Parsed<Matcher> {
    Ok(match (name, arg) {
        ("exactly", Value::String(s)) => Matcher::Literal(Value::String(s.clone())),
        ("prefix", Value::String(s)) => Matcher::Prefix(s.clone()),
        ("prefix", Value::Object(inner)) => Matcher::PrefixIgnoreCase(ignore_case_operand(inner)?),
        ("suffix", Value::String(s)) => Matcher::Suffix(s.clone()),
        ("suffix", Value::Object(inner)) => Matcher::SuffixIgnoreCase(ignore_case_operand(inner)?),
        ("equals-ignore-case", Value::String(s)) => Matcher::EqualsIgnoreCase(s.clone()),
        ("wildcard", Value::String(s)) => Matcher::Wildcard(parse_glob(s)?),
        ("exists", Value::Bool(b)) => Matcher::Exists(*b),
        ("cidr", Value::String(s)) => {
            let (v6, low, high) = parse_cidr(s).ok_or_else(|| INVALID_PATTERN_MESSAGE.to_string())?;
            Matcher::Cidr { v6, low, high }
        }
        ("numeric", Value::Array(terms)) => compile_numeric(terms)?,
        ("anything-but", operand) => Matcher::AnythingBut(compile_anything_but(operand)?),
        _ => return invalid(),
    })
}

/// The `{"equals-ignore-case": "x"}` inside `prefix` or `suffix`.
fn ignore_case_operand(inner: &Map<String, Value>) -> Parsed<String> {
    match (inner.len(), inner.get("equals-ignore-case")) {
        (1, Some(Value::String(s))) => Ok(s.clone()),
        _ => invalid(),
    }
}

fn numeric_operand(value: &Value) -> Parsed<f64> {
    match value.as_f64() {
        Some(n) if value.is_number() && (-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&n) => Ok(n),
        _ => invalid(),
    }
}

/// event-ruler's grammar: `["=", n]`, `["<" | "<=", n]`, or `[">" | ">=", n]` optionally
/// followed by `"<" | "<=", m` with n < m.
fn compile_numeric(terms: &[Value]) -> Parsed<Matcher> {
    let op = |i: usize| terms.get(i).and_then(Value::as_str);
    let num = |i: usize| terms.get(i).map_or_else(invalid, numeric_operand);
    let matcher = match (op(0), terms.len()) {
        (Some("="), 2) => {
            let n = num(1)?;
            Matcher::Numeric { lower: Some((n, false)), upper: Some((n, false)) }
        }
        (Some(o @ ("<" | "<=")), 2) => Matcher::Numeric { lower: None, upper: Some((num(1)?, o == "<")) },
        (Some(o @ (">" | ">=")), 2) => Matcher::Numeric { lower: Some((num(1)?, o == ">")), upper: None },
        (Some(lo @ (">" | ">=")), 4) => {
            let (bottom, top) = (num(1)?, num(3)?);
            let Some(hi @ ("<" | "<=")) = op(2) else { return invalid() };
            if bottom >= top {
                return invalid(); // "Bottom must be less than top"
            }
            Matcher::Numeric { lower: Some((bottom, lo == ">")), upper: Some((top, hi == "<")) }
        }
        _ => return invalid(),
    };
    Ok(matcher)
}

fn compile_anything_but(operand: &Value) -> Parsed<AnythingBut> {
    match operand {
        Value::String(s) => Ok(AnythingBut::Strings(vec![s.clone()])),
        Value::Number(_) => Ok(AnythingBut::Numbers(vec![numeric_operand(operand)?])),
        Value::Array(items) => {
            if items.iter().all(Value::is_string) && !items.is_empty() {
                Ok(AnythingBut::Strings(items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()))
            } else if items.iter().all(Value::is_number) && !items.is_empty() {
                Ok(AnythingBut::Numbers(items.iter().map(numeric_operand).collect::<Parsed<_>>()?))
            } else {
                invalid() // mixed types, booleans, nulls, objects, or empty
            }
        }
        Value::Object(inner) => {
            let mut entries = inner.iter();
            let (Some((name, arg)), None) = (entries.next(), entries.next()) else { return invalid() };
            let strings: Vec<String> = match arg {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
                    items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()
                }
                _ => return invalid(),
            };
            match name.as_str() {
                "prefix" | "suffix" if strings.iter().any(String::is_empty) => invalid(), // "Null prefix/suffix not allowed"
                "prefix" => Ok(AnythingBut::Prefixes(strings)),
                "suffix" => Ok(AnythingBut::Suffixes(strings)),
                "equals-ignore-case" => Ok(AnythingBut::IgnoreCase(strings.iter().map(|s| s.to_lowercase()).collect())),
                "wildcard" => Ok(AnythingBut::Wildcards(strings.iter().map(|s| parse_glob(s)).collect::<Parsed<_>>()?)),
                _ => invalid(), // "Unsupported anything-but pattern: .."
            }
        }
        Value::Bool(_) | Value::Null => invalid(),
    }
}

/// `*` is a wildcard; `\*` and `\\` are literal; any other escape and `**` are invalid.
fn parse_glob(text: &str) -> Parsed<Glob> {
    let mut glob = Vec::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => return invalid(),
            '*' => glob.push(None),
            '\\' => match chars.next() {
                Some(escaped @ ('*' | '\\')) => glob.push(Some(escaped)),
                _ => return invalid(),
            },
            other => glob.push(Some(other)),
        }
    }
    Ok(glob)
}

/// `ip/bits` as (is IPv6, low, high). Like event-ruler, the range runs from the address as
/// written to that address with all host bits set.
fn parse_cidr(text: &str) -> Option<(bool, u128, u128)> {
    let (ip, bits) = text.split_once('/')?;
    if bits.contains('/') || bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bits: u32 = bits.parse().ok()?;
    let (v6, base) = ip_to_u128(ip)?;
    let width = if v6 { 128 } else { 32 };
    if bits > width {
        return None;
    }
    let host_bits = width - bits;
    let host_mask = if host_bits == 0 {
        0
    } else if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    Some((v6, base, base | host_mask))
}

fn ip_to_u128(text: &str) -> Option<(bool, u128)> {
    match text.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some((false, u128::from(u32::from(v4)))),
        IpAddr::V6(v6) => Some((true, u128::from(v6))),
    }
}

// ---------------------------------------------------------------------------------------------
// Matching

/// `event` is `None` where the path does not exist in the event (only `exists: false` can match).
fn match_node(node: &Node, event: Option<&Value>) -> bool {
    node.fields.iter().all(|(key, field)| {
        let child = event.and_then(|e| e.get(key.as_str()));
        match field {
            Field::Object(sub) => match_object_field(sub, child),
            Field::Leaf(matchers) => {
                let mut leaves = Vec::new();
                collect_leaves(child, &mut leaves);
                matchers.iter().any(|m| match m {
                    Matcher::Exists(wanted) => *wanted != leaves.is_empty(),
                    other => leaves.iter().any(|leaf| match_value(other, leaf)),
                })
            }
        }
    }) && node.ors.iter().all(|alternatives| alternatives.iter().any(|alt| match_node(alt, event)))
}

/// A nested pattern object against an event field: an array matches when any element does.
fn match_object_field(sub: &Node, child: Option<&Value>) -> bool {
    match child {
        Some(Value::Array(_)) => {
            let mut elements = Vec::new();
            flatten(child, &mut elements);
            if elements.is_empty() {
                match_node(sub, None)
            } else {
                elements.iter().any(|e| match_node(sub, Some(e)))
            }
        }
        other => match_node(sub, other),
    }
}

fn flatten<'a>(value: Option<&'a Value>, out: &mut Vec<&'a Value>) {
    match value {
        Some(Value::Array(items)) => items.iter().for_each(|i| flatten(Some(i), out)),
        Some(v) => out.push(v),
        None => {}
    }
}

/// The leaf values at a path: scalars, or scalars inside (nested) arrays. Objects are not leaves.
fn collect_leaves<'a>(value: Option<&'a Value>, out: &mut Vec<&'a Value>) {
    match value {
        Some(Value::Array(items)) => items.iter().for_each(|i| collect_leaves(Some(i), out)),
        Some(Value::Object(_)) | None => {}
        Some(scalar) => out.push(scalar),
    }
}

fn match_value(matcher: &Matcher, value: &Value) -> bool {
    let text = value.as_str();
    match matcher {
        Matcher::Literal(literal) => literal_eq(literal, value),
        Matcher::Prefix(p) => text.is_some_and(|t| t.starts_with(p.as_str())),
        Matcher::PrefixIgnoreCase(p) => text.is_some_and(|t| t.to_lowercase().starts_with(&p.to_lowercase())),
        Matcher::Suffix(s) => text.is_some_and(|t| t.ends_with(s.as_str())),
        Matcher::SuffixIgnoreCase(s) => text.is_some_and(|t| t.to_lowercase().ends_with(&s.to_lowercase())),
        Matcher::EqualsIgnoreCase(s) => text.is_some_and(|t| t.to_lowercase() == s.to_lowercase()),
        Matcher::Wildcard(glob) => text.is_some_and(|t| glob_matches(glob, t)),
        Matcher::Numeric { lower, upper } => event_number(value).is_some_and(|n| {
            lower.is_none_or(|(b, open)| if open { n > b } else { n >= b })
                && upper.is_none_or(|(t, open)| if open { n < t } else { n <= t })
        }),
        Matcher::Exists(wanted) => *wanted, // a value is present; handled per field in match_node
        Matcher::Cidr { v6, low, high } => {
            text.and_then(ip_to_u128).is_some_and(|(is_v6, ip)| is_v6 == *v6 && (*low..=*high).contains(&ip))
        }
        Matcher::AnythingBut(excluded) => !anything_but_excludes(excluded, value),
    }
}

fn event_number(value: &Value) -> Option<f64> {
    value.as_f64().filter(|n| value.is_number() && (-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(n))
}

fn anything_but_excludes(excluded: &AnythingBut, value: &Value) -> bool {
    match (excluded, value) {
        (AnythingBut::Numbers(list), Value::Number(_)) => event_number(value).is_some_and(|n| list.contains(&n)),
        (AnythingBut::Strings(list), Value::String(t)) => list.iter().any(|s| s == t),
        (AnythingBut::Prefixes(list), Value::String(t)) => list.iter().any(|p| t.starts_with(p.as_str())),
        (AnythingBut::Suffixes(list), Value::String(t)) => list.iter().any(|s| t.ends_with(s.as_str())),
        (AnythingBut::IgnoreCase(list), Value::String(t)) => list.contains(&t.to_lowercase()),
        (AnythingBut::Wildcards(list), Value::String(t)) => list.iter().any(|g| glob_matches(g, t)),
        _ => false,
    }
}

/// Literal equality: same type; numbers by value (5 == 5.0); strings holding IP addresses by
/// address (event-ruler compares IP literals in canonical form).
fn literal_eq(literal: &Value, value: &Value) -> bool {
    match (literal, value) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => a.as_f64() == b.as_f64(),
        },
        (Value::String(a), Value::String(b)) => {
            a == b || matches!((ip_to_u128(a), ip_to_u128(b)), (Some(x), Some(y)) if x == y)
        }
        (a, b) => a == b,
    }
}

/// Glob matching with backtracking to the last `*`.
fn glob_matches(glob: &[Option<char>], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut g, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match glob.get(g) {
            Some(Some(c)) if *c == text[t] => {
                g += 1;
                t += 1;
            }
            Some(None) => {
                star = Some((g, t));
                g += 1;
            }
            _ => match star {
                Some((sg, st)) => {
                    g = sg + 1;
                    t = st + 1;
                    star = Some((sg, st + 1));
                }
                None => return false,
            },
        }
    }
    glob[g..].iter().all(Option::is_none)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(pattern: &str, event: Value) -> bool {
        Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")).matches(&event)
    }

    fn is_invalid(pattern: &str) -> bool {
        Pattern::parse(pattern).err().as_deref() == Some(INVALID_PATTERN_MESSAGE)
    }

    #[test]
    fn literal_strings_or_within_leaf() {
        assert!(check(r#"{"a": ["x", "y"]}"#, json!({"a": "y"})));
        assert!(!check(r#"{"a": ["x", "y"]}"#, json!({"a": "z"})));
    }

    #[test]
    fn literal_types_do_not_mix() {
        assert!(!check(r#"{"a": ["5"]}"#, json!({"a": 5})));
        assert!(!check(r#"{"a": [5]}"#, json!({"a": "5"})));
        assert!(!check(r#"{"a": ["true"]}"#, json!({"a": true})));
        assert!(!check(r#"{"a": [null]}"#, json!({"a": ""})));
        assert!(!check(r#"{"a": [""]}"#, json!({"a": null})));
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(check(r#"{"a": [5]}"#, json!({"a": 5.0})));
        assert!(check(r#"{"a": [5.0]}"#, json!({"a": 5})));
        assert!(check(r#"{"a": [3.018e2]}"#, json!({"a": 301.8})));
        assert!(!check(r#"{"a": [5]}"#, json!({"a": 6})));
        assert!(check(r#"{"a": [123456789012345678]}"#, json!({"a": 123456789012345678u64})));
    }

    #[test]
    fn booleans_null_and_empty_string() {
        assert!(check(r#"{"a": [true]}"#, json!({"a": true})));
        assert!(!check(r#"{"a": [true]}"#, json!({"a": false})));
        assert!(check(r#"{"a": [null]}"#, json!({"a": null})));
        assert!(!check(r#"{"a": [null]}"#, json!({})));
        assert!(check(r#"{"a": [""]}"#, json!({"a": ""})));
    }

    #[test]
    fn all_keys_must_match() {
        let p = r#"{"a": ["x"], "b": ["y"]}"#;
        assert!(check(p, json!({"a": "x", "b": "y", "c": 1})));
        assert!(!check(p, json!({"a": "x"})));
        assert!(!check(p, json!({"a": "x", "b": "n"})));
    }

    #[test]
    fn nested_objects() {
        let p = r#"{"detail": {"state": ["running"], "inner": {"n": [1]}}}"#;
        assert!(check(p, json!({"detail": {"state": "running", "inner": {"n": 1}}})));
        assert!(!check(p, json!({"detail": {"state": "running", "inner": {"n": 2}}})));
        assert!(!check(p, json!({"detail": {"state": "running"}})));
        assert!(!check(p, json!({"detail": "running"})));
    }

    #[test]
    fn leaf_pattern_does_not_match_object_value() {
        assert!(!check(r#"{"a": ["x"]}"#, json!({"a": {"b": "x"}})));
    }

    #[test]
    fn event_arrays_match_any_element() {
        assert!(check(r#"{"a": ["x"]}"#, json!({"a": ["q", "x"]})));
        assert!(check(r#"{"a": ["x"]}"#, json!({"a": [["q"], ["x"]]})));
        assert!(!check(r#"{"a": ["x"]}"#, json!({"a": ["q", "r"]})));
        assert!(!check(r#"{"a": ["x"]}"#, json!({"a": []})));
        assert!(check(r#"{"a": [{"numeric": [">", 10]}]}"#, json!({"a": [1, 20]})));
    }

    #[test]
    fn arrays_of_objects_are_matched_per_element() {
        let event = json!({"employees": [
            {"firstName": "John", "lastName": "Doe"},
            {"firstName": "Anna", "lastName": "Smith"},
        ]});
        assert!(check(r#"{"employees": {"firstName": ["Anna"]}}"#, event.clone()));
        assert!(check(r#"{"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}"#, event.clone()));
        assert!(!check(r#"{"employees": {"firstName": ["Anna"], "lastName": ["Doe"]}}"#, event));
    }

    #[test]
    fn prefix() {
        assert!(check(r#"{"a": [{"prefix": "ab"}]}"#, json!({"a": "abc"})));
        assert!(!check(r#"{"a": [{"prefix": "ab"}]}"#, json!({"a": "xabc"})));
        assert!(!check(r#"{"a": [{"prefix": "ab"}]}"#, json!({"a": "ABC"})));
        assert!(!check(r#"{"a": [{"prefix": "1"}]}"#, json!({"a": 12})));
        assert!(check(r#"{"a": [{"prefix": ""}]}"#, json!({"a": "anything"})));
    }

    #[test]
    fn prefix_ignore_case() {
        let p = r#"{"a": [{"prefix": {"equals-ignore-case": "EventB"}}]}"#;
        assert!(check(p, json!({"a": "eventbridge"})));
        assert!(check(p, json!({"a": "EVENTBRIDGE"})));
        assert!(!check(p, json!({"a": "event-bridge"})));
    }

    #[test]
    fn suffix_and_ignore_case() {
        assert!(check(r#"{"a": [{"suffix": ".png"}]}"#, json!({"a": "x.png"})));
        assert!(!check(r#"{"a": [{"suffix": ".png"}]}"#, json!({"a": "x.PNG"})));
        assert!(check(r#"{"a": [{"suffix": {"equals-ignore-case": ".PNG"}}]}"#, json!({"a": "x.png"})));
        assert!(!check(r#"{"a": [{"suffix": {"equals-ignore-case": ".PNG"}}]}"#, json!({"a": "x.jpg"})));
    }

    #[test]
    fn equals_ignore_case() {
        assert!(check(r#"{"a": [{"equals-ignore-case": "HeLLo"}]}"#, json!({"a": "hello"})));
        assert!(!check(r#"{"a": [{"equals-ignore-case": "HeLLo"}]}"#, json!({"a": "hello!"})));
        assert!(check(r#"{"a": [{"equals-ignore-case": "ÄBC"}]}"#, json!({"a": "äbc"})));
    }

    #[test]
    fn wildcard() {
        assert!(check(r#"{"a": [{"wildcard": "img*.p*g"}]}"#, json!({"a": "img01.png"})));
        assert!(check(r#"{"a": [{"wildcard": "*"}]}"#, json!({"a": ""})));
        assert!(check(r#"{"a": [{"wildcard": "a*b*c"}]}"#, json!({"a": "abcbc"})));
        assert!(!check(r#"{"a": [{"wildcard": "img*.png"}]}"#, json!({"a": "im.png"})));
        assert!(!check(r#"{"a": [{"wildcard": "a*"}]}"#, json!({"a": 1})));
    }

    #[test]
    fn wildcard_escapes() {
        assert!(check(r#"{"a": [{"wildcard": "a\\*b"}]}"#, json!({"a": "a*b"})));
        assert!(!check(r#"{"a": [{"wildcard": "a\\*b"}]}"#, json!({"a": "axb"})));
        assert!(check(r#"{"a": [{"wildcard": "a\\\\b"}]}"#, json!({"a": "a\\b"})));
    }

    #[test]
    fn anything_but_single_and_list() {
        assert!(check(r#"{"a": [{"anything-but": "x"}]}"#, json!({"a": "y"})));
        assert!(!check(r#"{"a": [{"anything-but": "x"}]}"#, json!({"a": "x"})));
        assert!(!check(r#"{"a": [{"anything-but": ["x", "y"]}]}"#, json!({"a": "y"})));
        assert!(check(r#"{"a": [{"anything-but": ["x", "y"]}]}"#, json!({"a": "z"})));
    }

    #[test]
    fn anything_but_numbers() {
        assert!(!check(r#"{"a": [{"anything-but": 100}]}"#, json!({"a": 100.0})));
        assert!(check(r#"{"a": [{"anything-but": [100, 200]}]}"#, json!({"a": 150})));
        assert!(!check(r#"{"a": [{"anything-but": [100, 200]}]}"#, json!({"a": 200})));
    }

    #[test]
    fn anything_but_needs_a_value() {
        assert!(!check(r#"{"a": [{"anything-but": "x"}]}"#, json!({})));
        assert!(check(r#"{"a": [{"anything-but": "x"}]}"#, json!({"a": null})));
        // Any element of an array that is not excluded is enough.
        assert!(check(r#"{"a": [{"anything-but": "x"}]}"#, json!({"a": ["x", "y"]})));
        assert!(!check(r#"{"a": [{"anything-but": "x"}]}"#, json!({"a": ["x"]})));
    }

    #[test]
    fn anything_but_prefix_suffix() {
        assert!(!check(r#"{"a": [{"anything-but": {"prefix": "in"}}]}"#, json!({"a": "init"})));
        assert!(check(r#"{"a": [{"anything-but": {"prefix": "in"}}]}"#, json!({"a": "running"})));
        assert!(check(r#"{"a": [{"anything-but": {"suffix": ".tmp"}}]}"#, json!({"a": "f.txt"})));
        assert!(!check(r#"{"a": [{"anything-but": {"suffix": [".tmp", ".bak"]}}]}"#, json!({"a": "f.bak"})));
    }

    #[test]
    fn anything_but_ignore_case_and_wildcard() {
        assert!(!check(r#"{"a": [{"anything-but": {"equals-ignore-case": "X"}}]}"#, json!({"a": "x"})));
        assert!(!check(r#"{"a": [{"anything-but": {"equals-ignore-case": ["Y", "X"]}}]}"#, json!({"a": "x"})));
        assert!(check(r#"{"a": [{"anything-but": {"equals-ignore-case": ["Y", "X"]}}]}"#, json!({"a": "z"})));
        assert!(!check(r#"{"p": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#, json!({"p": "/usr/lib/x"})));
        assert!(check(r#"{"p": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#, json!({"p": "/usr/bin/x"})));
    }

    #[test]
    fn numeric_range() {
        let p = r#"{"a": [{"numeric": [">", 0, "<=", 5]}]}"#;
        assert!(check(p, json!({"a": 5})));
        assert!(check(p, json!({"a": 0.5})));
        assert!(!check(p, json!({"a": 0})));
        assert!(!check(p, json!({"a": 6})));
        assert!(!check(p, json!({"a": "3"})));
    }

    #[test]
    fn numeric_single_comparisons() {
        assert!(check(r#"{"a": [{"numeric": ["=", 3]}]}"#, json!({"a": 3.0})));
        assert!(!check(r#"{"a": [{"numeric": ["=", 3]}]}"#, json!({"a": 3.1})));
        assert!(check(r#"{"a": [{"numeric": ["<", 10]}]}"#, json!({"a": -4})));
        assert!(!check(r#"{"a": [{"numeric": ["<", 10]}]}"#, json!({"a": 10})));
        assert!(check(r#"{"a": [{"numeric": [">=", 10]}]}"#, json!({"a": 10})));
        assert!(check(r#"{"a": [{"numeric": ["<=", 10]}]}"#, json!({"a": 10})));
    }

    #[test]
    fn exists_true() {
        let p = r#"{"a": [{"exists": true}]}"#;
        assert!(check(p, json!({"a": 1})));
        assert!(check(p, json!({"a": null})));
        assert!(check(p, json!({"a": ["x"]})));
        assert!(!check(p, json!({"b": 1})));
        assert!(!check(p, json!({"a": {"c": 1}})), "exists works on leaves only");
        assert!(!check(p, json!({"a": []})));
    }

    #[test]
    fn exists_false() {
        let p = r#"{"a": [{"exists": false}]}"#;
        assert!(check(p, json!({"b": 1})));
        assert!(!check(p, json!({"a": 1})));
        assert!(!check(p, json!({"a": null})));
        assert!(check(p, json!({"a": {"c": 1}})));
        assert!(check(p, json!({"a": []})));
    }

    #[test]
    fn exists_false_under_missing_parent() {
        let p = r#"{"detail": {"c-count": [{"exists": false}]}}"#;
        assert!(check(p, json!({})));
        assert!(check(p, json!({"detail": {"state": "x"}})));
        assert!(!check(p, json!({"detail": {"c-count": 3}})));
    }

    #[test]
    fn exists_combined_with_values() {
        let p = r#"{"a": ["x", {"exists": false}]}"#;
        assert!(check(p, json!({})));
        assert!(check(p, json!({"a": "x"})));
        assert!(!check(p, json!({"a": "y"})));
    }

    #[test]
    fn cidr_ipv4() {
        let p = r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#;
        assert!(check(p, json!({"ip": "10.0.0.7"})));
        assert!(check(p, json!({"ip": "10.0.0.255"})));
        assert!(!check(p, json!({"ip": "10.0.1.7"})));
        assert!(!check(p, json!({"ip": "not an ip"})));
        assert!(!check(p, json!({"ip": "::1"})));
    }

    #[test]
    fn cidr_ipv6_and_ip_literals() {
        let p = r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#;
        assert!(check(p, json!({"ip": "2001:db8:1::5"})));
        assert!(!check(p, json!({"ip": "2001:db9::5"})));
        assert!(check(r#"{"ip": ["::1"]}"#, json!({"ip": "0:0:0:0:0:0:0:1"})));
    }

    #[test]
    fn or_at_top_level() {
        let p = r#"{"$or": [{"a": ["x"]}, {"b": [{"numeric": [">", 10]}]}]}"#;
        assert!(check(p, json!({"b": 11})));
        assert!(check(p, json!({"a": "x"})));
        assert!(!check(p, json!({"a": "y", "b": 1})));
    }

    #[test]
    fn or_combined_with_and() {
        let p = r#"{"source": ["aws.cloudwatch"], "$or": [
            {"metricName": ["CPUUtilization"]},
            {"metricType": ["MetricType"], "namespace": ["AWS/EC2"]}
        ]}"#;
        assert!(check(p, json!({"source": "aws.cloudwatch", "metricName": "CPUUtilization"})));
        assert!(check(p, json!({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2"})));
        assert!(!check(p, json!({"source": "aws.cloudwatch", "metricType": "MetricType"})));
        assert!(!check(p, json!({"source": "aws.ec2", "metricName": "CPUUtilization"})));
    }

    #[test]
    fn or_nested_inside_object() {
        let p = r#"{"detail": {"$or": [{"c": [1]}, {"d": [{"prefix": "x"}]}]}}"#;
        assert!(check(p, json!({"detail": {"d": "xyz"}})));
        assert!(!check(p, json!({"detail": {"c": 2}})));
        assert!(!check(p, json!({"c": 1})));
    }

    #[test]
    fn any_matches_ors_filters() {
        let filters = [Pattern::parse(r#"{"a": ["x"]}"#).unwrap(), Pattern::parse(r#"{"b": ["y"]}"#).unwrap()];
        assert!(any_matches(&filters, &json!({"b": "y"})));
        assert!(!any_matches(&filters, &json!({"a": "y"})));
        assert!(any_matches(&[], &json!({"anything": 1})));
    }

    #[test]
    fn invalid_json_and_shapes() {
        for bad in [
            "not json",
            "",
            "[]",
            "null",
            "\"x\"",
            "{}",
            r#"{"a": "x"}"#,
            r#"{"a": 1}"#,
            r#"{"a": []}"#,
            r#"{"a": {}}"#,
            r#"{"a": [[1]]}"#,
            r#"{"a": ["x"],}"#,
        ] {
            assert!(is_invalid(bad), "{bad}");
        }
    }

    #[test]
    fn invalid_operators() {
        for bad in [
            r#"{"a": [{"nope": 1}]}"#,
            r#"{"a": [{}]}"#,
            r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#,
            r#"{"a": [{"prefix": 1}]}"#,
            r#"{"a": [{"prefix": {"nope": "x"}}]}"#,
            r#"{"a": [{"suffix": {"equals-ignore-case": 1}}]}"#,
            r#"{"a": [{"equals-ignore-case": ["x"]}]}"#,
            r#"{"a": [{"exists": "yes"}]}"#,
            r#"{"a": [{"cidr": "10.0.0.0/40"}]}"#,
            r#"{"a": [{"cidr": "10.0.0.0"}]}"#,
            r#"{"a": [{"cidr": "nope/8"}]}"#,
            r#"{"a": [{"wildcard": "a**b"}]}"#,
            r#"{"a": [{"wildcard": "a\\b"}]}"#,
        ] {
            assert!(is_invalid(bad), "{bad}");
        }
    }

    #[test]
    fn invalid_numeric() {
        for bad in [
            r#"{"a": [{"numeric": [">"]}]}"#,
            r#"{"a": [{"numeric": []}]}"#,
            r#"{"a": [{"numeric": 5}]}"#,
            r#"{"a": [{"numeric": ["==", 5]}]}"#,
            r#"{"a": [{"numeric": [">", "5"]}]}"#,
            r#"{"a": [{"numeric": ["=", 5, "<", 6]}]}"#,
            r#"{"a": [{"numeric": ["<", 5, ">", 0]}]}"#,
            r#"{"a": [{"numeric": [">", 5, "<", 5]}]}"#,
            r#"{"a": [{"numeric": [">", 5, ">", 6]}]}"#,
            r#"{"a": [{"numeric": [">", 0, "<", 5, "<", 6]}]}"#,
            r#"{"a": [{"numeric": [">", 1e12]}]}"#,
        ] {
            assert!(is_invalid(bad), "{bad}");
        }
    }

    #[test]
    fn invalid_anything_but() {
        for bad in [
            r#"{"a": [{"anything-but": []}]}"#,
            r#"{"a": [{"anything-but": ["x", 1]}]}"#,
            r#"{"a": [{"anything-but": [true]}]}"#,
            r#"{"a": [{"anything-but": null}]}"#,
            r#"{"a": [{"anything-but": {"prefix": ""}}]}"#,
            r#"{"a": [{"anything-but": {"numeric": [">", 1]}}]}"#,
            r#"{"a": [{"anything-but": {"prefix": "a", "suffix": "b"}}]}"#,
            r#"{"a": [{"anything-but": {"equals-ignore-case": 5}}]}"#,
            r#"{"a": [{"anything-but": {"wildcard": "**"}}]}"#,
        ] {
            assert!(is_invalid(bad), "{bad}");
        }
    }

    #[test]
    fn invalid_or() {
        for bad in [
            r#"{"$or": [{"a": ["x"]}]}"#,
            r#"{"$or": {"a": ["x"]}}"#,
            r#"{"$or": [{"a": ["x"]}, "b"]}"#,
            r#"{"$or": [{"a": ["x"]}, {}]}"#,
            r#"{"$or": [{"a": ["x"]}, {"prefix": ["y"]}]}"#,
        ] {
            assert!(is_invalid(bad), "{bad}");
        }
    }

    #[test]
    fn pattern_length_limit() {
        let values: Vec<String> = (0..1000).map(|i| format!("\"v{i}\"")).collect();
        let long = format!(r#"{{"a": [{}]}}"#, values.join(","));
        assert!(long.len() > MAX_PATTERN_LENGTH);
        assert!(is_invalid(&long));
        let ok = format!(r#"{{"a": [{}]}}"#, values[..100].join(","));
        assert!(Pattern::parse(&ok).is_ok());
    }

    #[test]
    fn valid_patterns_parse() {
        for good in [
            r#"{"a": [{"numeric": [">=", -5e11, "<", 5e11]}]}"#,
            r#"{"a": [{"anything-but": {"prefix": ["us-", "eu-"]}}]}"#,
            r#"{"a": [{"cidr": "::/0"}, {"cidr": "0.0.0.0/0"}]}"#,
            r#"{"a": [null, true, 1.5, "x", {"exists": true}]}"#,
            r#"{"a": {"$or": [{"b": ["x"]}, {"c": {"d": [1]}}]}}"#,
        ] {
            assert!(Pattern::parse(good).is_ok(), "{good}");
        }
    }
}
