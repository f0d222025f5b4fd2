//! Templates: JSON or YAML (with the short-form tags `!Ref`, `!GetAtt`, `!Sub`, …) read into one
//! JSON document in long form, then checked for the structure CloudFormation requires, with
//! its "Template format error" wording.

use serde_json::{Map, Value};

use crate::errors::{validation, Result};

/// Top-level sections a template may have.
const SECTIONS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
    "Hooks",
    "Globals",
];

/// Parse a template body (JSON or YAML) into its long-form JSON document.
pub fn parse(body: &str) -> Result<Value> {
    let trimmed = body.trim_start();
    let doc = if trimmed.starts_with('{') {
        serde_json::from_str::<Value>(body).map_err(|e| {
            validation(format!(
                "Template format error: JSON not well-formed. (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?
    } else {
        let yaml: serde_yaml::Value = serde_yaml::from_str(body).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            validation(format!("Template format error: YAML not well-formed. (line {line}, column {column})"))
        })?;
        from_yaml(yaml)?
    };
    if !doc.is_object() {
        return Err(validation("Template format error: unsupported structure."));
    }
    Ok(doc)
}

/// Check the sections a template must and may have (after any transform ran).
pub fn check(doc: &Value) -> Result<()> {
    let obj = doc.as_object().ok_or_else(|| validation("Template format error: unsupported structure."))?;
    let unknown: Vec<&str> = obj.keys().map(String::as_str).filter(|k| !SECTIONS.contains(k)).collect();
    if !unknown.is_empty() {
        return Err(validation(format!(
            "Template format error: Invalid template property or properties [{}]",
            unknown.join(", ")
        )));
    }
    if let Some(v) = obj.get("AWSTemplateFormatVersion") {
        if v.as_str() != Some("2010-09-09") {
            return Err(validation(format!(
                "Template format error: '{}' is not a supported value for AWSTemplateFormatVersion.",
                scalar_text(v)
            )));
        }
    }
    let resources = match obj.get("Resources") {
        Some(Value::Object(r)) if !r.is_empty() => r,
        _ => return Err(validation("Template format error: At least one Resources member must be defined.")),
    };
    for (name, res) in resources {
        let Some(res) = res.as_object() else {
            return Err(validation(format!(
                "Template format error: [/Resources/{name}] resource definition is malformed"
            )));
        };
        match res.get("Type") {
            Some(Value::String(_)) => {}
            _ => {
                return Err(validation(format!(
                    "Template format error: [/Resources/{name}] Every Resources object must contain a Type member."
                )))
            }
        }
        if let Some(props) = res.get("Properties") {
            if !props.is_object() {
                return Err(validation(format!(
                    "Template format error: [/Resources/{name}/Properties] Every Properties member must be an object."
                )));
            }
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(validation(format!("Template format error: Resource name {name} is non alphanumeric.")));
        }
    }
    if let Some(outputs) = obj.get("Outputs").and_then(Value::as_object) {
        for (name, out) in outputs {
            if out.get("Value").is_none() {
                return Err(validation(format!(
                    "Template format error: Every Outputs member must contain a Value object, the Outputs member {name} is missing a Value object."
                )));
            }
        }
    }
    if let Some(params) = obj.get("Parameters").and_then(Value::as_object) {
        for (name, p) in params {
            if p.get("Type").and_then(Value::as_str).is_none() {
                return Err(validation(format!(
                    "Template format error: Every Parameters object must contain a Type member. Parameter {name} is missing its Type."
                )));
            }
        }
    }
    Ok(())
}

/// The transforms a template declares (`Transform: AWS::Serverless-2016-10-31` or a list).
pub fn transforms(doc: &Value) -> Vec<String> {
    match doc.get("Transform") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        Some(Value::Object(o)) => {
            o.get("Name").and_then(Value::as_str).map(|s| vec![s.to_string()]).unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A YAML document in long form: `!Ref X` → `{"Ref": "X"}`, `!GetAtt A.B` →
/// `{"Fn::GetAtt": ["A", "B"]}`, `!Sub …` → `{"Fn::Sub": …}`, `!Condition C` → `{"Condition": "C"}`.
fn from_yaml(v: serde_yaml::Value) -> Result<Value> {
    use serde_yaml::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                serde_json::Number::from_f64(n.as_f64().unwrap_or(0.0)).map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(from_yaml).collect::<Result<_>>()?),
        Y::Mapping(m) => {
            let mut obj = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".to_string(),
                    _ => return Err(validation("Template format error: YAML not well-formed. (mapping key)")),
                };
                obj.insert(key, from_yaml(v)?);
            }
            Value::Object(obj)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = from_yaml(tagged.value)?;
            let mut obj = Map::new();
            match name {
                "Ref" => {
                    obj.insert("Ref".into(), inner);
                }
                "Condition" => {
                    obj.insert("Condition".into(), inner);
                }
                "GetAtt" => {
                    let value = match inner {
                        Value::String(s) => match s.split_once('.') {
                            Some((res, attr)) => Value::Array(vec![res.into(), attr.into()]),
                            None => Value::String(s),
                        },
                        other => other,
                    };
                    obj.insert("Fn::GetAtt".into(), value);
                }
                other => {
                    obj.insert(format!("Fn::{other}"), inner);
                }
            }
            Value::Object(obj)
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn yaml_short_forms_become_long_forms() {
        let doc = parse(
            "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub '${AWS::StackName}-q'\n      Tags:\n        - Key: k\n          Value: !GetAtt Other.Arn\n        - Key: j\n          Value: !Join [',', [!Ref A, b]]\n",
        )
        .unwrap();
        let props = &doc["Resources"]["Q"]["Properties"];
        assert_eq!(props["QueueName"], json!({"Fn::Sub": "${AWS::StackName}-q"}));
        assert_eq!(props["Tags"][0]["Value"], json!({"Fn::GetAtt": ["Other", "Arn"]}));
        assert_eq!(props["Tags"][1]["Value"], json!({"Fn::Join": [",", [{"Ref": "A"}, "b"]]}));
    }

    #[test]
    fn structure_errors_use_aws_wording() {
        let err = parse("{\"Resources\": ").unwrap_err();
        assert!(err.message.starts_with("Template format error: JSON not well-formed."), "{}", err.message);
        let err = check(&json!({"Resources": {}})).unwrap_err();
        assert_eq!(err.message, "Template format error: At least one Resources member must be defined.");
        let err = check(&json!({"Resources": {"A": {"Properties": {}}}})).unwrap_err();
        assert_eq!(
            err.message,
            "Template format error: [/Resources/A] Every Resources object must contain a Type member."
        );
        let err = check(&json!({"Foo": 1, "Resources": {"A": {"Type": "X"}}})).unwrap_err();
        assert_eq!(err.message, "Template format error: Invalid template property or properties [Foo]");
    }
}
