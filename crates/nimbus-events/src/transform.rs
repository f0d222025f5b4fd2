//! What a target receives: the whole event, `Input` (a constant), `InputPath` (a JSONPath
//! into the event) or `InputTransformer` (values picked by `InputPathsMap`, placed into
//! `InputTemplate`: inside quotes a string is inserted as its text, elsewhere as JSON).

use serde_json::{Map, Value};

/// `$`, `$.a.b`, `$.a[0].b`, `$['a']`: the value at that path, if any.
pub fn json_path<'v>(event: &'v Value, path: &str) -> Option<&'v Value> {
    let rest = path.trim().strip_prefix('$')?;
    let mut v = event;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n == '.' || n == '[' {
                        break;
                    }
                    name.push(n);
                    chars.next();
                }
                v = v.get(&name)?;
            }
            '[' => {
                let mut inner = String::new();
                for n in chars.by_ref() {
                    if n == ']' {
                        break;
                    }
                    inner.push(n);
                }
                let key = inner.trim_matches(|c| c == '\'' || c == '"');
                v = match inner.parse::<usize>() {
                    Ok(i) => v.get(i)?,
                    Err(_) => v.get(key)?,
                };
            }
            _ => return None,
        }
    }
    Some(v)
}

/// The target's input for `event`; `None` when the target has none of the three settings.
pub fn target_input(target: &Value, event: &Value, rule_arn: &str, rule_name: &str) -> String {
    if let Some(input) = target.get("Input").and_then(Value::as_str) {
        return input.to_string();
    }
    if let Some(path) = target.get("InputPath").and_then(Value::as_str) {
        return json_path(event, path).map(Value::to_string).unwrap_or_default();
    }
    if let Some(t) = target.get("InputTransformer") {
        let mut values: Map<String, Value> = Map::new();
        for (name, path) in t.get("InputPathsMap").and_then(Value::as_object).into_iter().flatten() {
            if let Some(v) = path.as_str().and_then(|p| json_path(event, p)) {
                values.insert(name.clone(), v.clone());
            }
        }
        values.insert("aws.events.rule-arn".into(), Value::String(rule_arn.into()));
        values.insert("aws.events.rule-name".into(), Value::String(rule_name.into()));
        values.insert("aws.events.event".into(), event.clone());
        values.insert("aws.events.event.json".into(), event.clone());
        values.insert("aws.events.event.ingestion-time".into(), event.get("time").cloned().unwrap_or(Value::Null));
        let template = t.get("InputTemplate").and_then(Value::as_str).unwrap_or_default();
        return fill(template, &values);
    }
    event.to_string()
}

/// Replace `<name>` placeholders, minding whether each sits inside a JSON string.
pub fn fill(template: &str, values: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let name = &rest[1..end];
                if let Some(v) = values.get(name) {
                    match (v, in_string) {
                        (Value::String(s), true) => {
                            let quoted = Value::String(s.clone()).to_string();
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        }
                        (other, true) => {
                            let text = other.to_string();
                            let quoted = Value::String(text).to_string();
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        }
                        (other, false) => out.push_str(&other.to_string()),
                    }
                    rest = &rest[end + 1..];
                    continue;
                }
                if !name.contains(|ch: char| ch.is_whitespace() || ch == '"') && !name.is_empty() {
                    // An unknown placeholder becomes empty (a path that found nothing).
                    if !in_string {
                        out.push_str("null");
                    }
                    rest = &rest[end + 1..];
                    continue;
                }
            }
        }
        if c == '"' && !escaped {
            in_string = !in_string;
        }
        escaped = c == '\\' && !escaped;
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_templates() {
        let event = json!({"detail": {"instance-id": "i-1", "state": "running", "n": 3, "list": [1, 2]}});
        assert_eq!(json_path(&event, "$.detail.state"), Some(&json!("running")));
        assert_eq!(json_path(&event, "$.detail.list[1]"), Some(&json!(2)));
        let target = json!({"InputTransformer": {
            "InputPathsMap": {"id": "$.detail.instance-id", "state": "$.detail.state", "n": "$.detail.n"},
            "InputTemplate": "{\"instance\": <id>, \"text\": \"<id> is <state>\", \"n\": <n>}"}});
        let out: Value = serde_json::from_str(&target_input(&target, &event, "arn", "r")).unwrap();
        assert_eq!(out, json!({"instance": "i-1", "text": "i-1 is running", "n": 3}));
        let plain = json!({"InputTransformer": {"InputPathsMap": {"s": "$.detail.state"},
            "InputTemplate": "\"state is <s>\""}});
        assert_eq!(target_input(&plain, &event, "a", "r"), "\"state is running\"");
        assert_eq!(target_input(&json!({"Input": "{\"k\":1}"}), &event, "a", "r"), "{\"k\":1}");
        assert_eq!(target_input(&json!({"InputPath": "$.detail.n"}), &event, "a", "r"), "3");
    }
}
