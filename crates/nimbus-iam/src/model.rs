//! The IAM and STS service models (generated from botocore by `model/gen_model.py`): which
//! actions exist and the constraints on their inputs, checked the way AWS's front end does
//! (`1 validation error detected: Value 'x' at 'roleName' failed to satisfy constraint: …`).

use std::collections::HashMap;
use std::sync::OnceLock;

use nimbus_core::query::QueryRequest;
use nimbus_core::AwsError;
use regex::Regex;
use serde_json::Value;

use crate::errors;

const MODEL_JSON: &str = include_str!("../model/iam-sts-model.json");

pub struct Model {
    pub api_version: String,
    pub xmlns: String,
    /// Operation name → input shape name.
    operations: HashMap<String, Option<String>>,
    shapes: HashMap<String, Shape>,
}

struct Shape {
    ty: String,
    required: Vec<String>,
    min: Option<i64>,
    max: Option<i64>,
    /// `None` when the pattern has no `regex` equivalent (it is then not checked).
    pattern: Option<(String, Option<Regex>)>,
    enumeration: Vec<String>,
    members: Vec<(String, String)>,
    member: Option<String>,
}

pub fn iam() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::load("iam"))
}

pub fn sts() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::load("sts"))
}

impl Model {
    fn load(service: &str) -> Model {
        let all: Value = serde_json::from_str(MODEL_JSON).expect("embedded model is valid JSON");
        let m = &all[service];
        let operations = m["operations"]
            .as_object()
            .expect("operations")
            .iter()
            .map(|(name, op)| (name.clone(), op["input"].as_str().map(str::to_string)))
            .collect();
        let shapes = m["shapes"]
            .as_object()
            .expect("shapes")
            .iter()
            .map(|(name, s)| (name.clone(), Shape::from_json(s)))
            .collect();
        Model {
            api_version: m["apiVersion"].as_str().unwrap_or_default().to_string(),
            xmlns: m["xmlNamespace"].as_str().unwrap_or_default().to_string(),
            operations,
            shapes,
        }
    }

    pub fn has_operation(&self, name: &str) -> bool {
        self.operations.contains_key(name)
    }

    /// Check every input member of `operation` against the model; all failures are reported
    /// in one `ValidationError`, as AWS does.
    pub fn validate(&self, operation: &str, q: &QueryRequest) -> Result<(), AwsError> {
        let Some(Some(input)) = self.operations.get(operation) else {
            return Ok(());
        };
        let mut failures = Vec::new();
        self.check_structure(input, "", "", q, &mut failures);
        if failures.is_empty() {
            return Ok(());
        }
        let n = failures.len();
        Err(errors::validation(format!(
            "{n} validation error{} detected: {}",
            if n == 1 { "" } else { "s" },
            failures.join("; ")
        )))
    }

    fn check_structure(
        &self,
        shape_name: &str,
        key_prefix: &str,
        path_prefix: &str,
        q: &QueryRequest,
        out: &mut Vec<String>,
    ) {
        let Some(shape) = self.shapes.get(shape_name) else {
            return;
        };
        for (member, target) in &shape.members {
            let key = format!("{key_prefix}{member}");
            let path = format!("{path_prefix}{}", lower_first(member));
            let required = shape.required.iter().any(|r| r == member);
            let Some(target_shape) = self.shapes.get(target) else {
                continue;
            };
            match target_shape.ty.as_str() {
                "structure" => {
                    let nested = format!("{key}.");
                    if q.params.keys().any(|k| k.starts_with(&nested)) {
                        self.check_structure(target, &nested, &format!("{path}."), q, out);
                    } else if required {
                        out.push(null_failure(&path));
                    }
                }
                "list" => {
                    let indexes = q.list_indexes(&key);
                    if indexes.is_empty() {
                        // An empty list is sent as `Key=` by botocore.
                        if required && q.get(&key).is_none() {
                            out.push(null_failure(&path));
                        }
                        continue;
                    }
                    let count = indexes.len() as i64;
                    let shown = format!("[{}]", q.string_list(&key).join(", "));
                    if let Some(max) = target_shape.max.filter(|max| count > *max) {
                        out.push(failure(
                            &shown,
                            &path,
                            &format!("Member must have length less than or equal to {max}"),
                        ));
                    }
                    if let Some(min) = target_shape.min.filter(|min| count < *min) {
                        out.push(failure(
                            &shown,
                            &path,
                            &format!("Member must have length greater than or equal to {min}"),
                        ));
                    }
                    let Some(element) = target_shape.member.as_deref() else {
                        continue;
                    };
                    for i in indexes {
                        let element_key = format!("{key}.member.{i}");
                        let element_path = format!("{path}.{i}.member");
                        if self.shapes.get(element).is_some_and(|s| s.ty == "structure") {
                            self.check_structure(
                                element,
                                &format!("{element_key}."),
                                &format!("{element_path}."),
                                q,
                                out,
                            );
                        } else if let (Some(value), Some(s)) = (q.get(&element_key), self.shapes.get(element)) {
                            check_scalar(s, value, &element_path, out);
                        }
                    }
                }
                _ => match q.get(&key) {
                    Some(value) => check_scalar(target_shape, value, &path, out),
                    None if required => out.push(null_failure(&path)),
                    None => {}
                },
            }
        }
    }
}

impl Shape {
    fn from_json(s: &Value) -> Shape {
        let strings = |v: &Value| -> Vec<String> {
            v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
        };
        Shape {
            ty: s["type"].as_str().unwrap_or("string").to_string(),
            required: strings(&s["required"]),
            min: s["min"].as_i64(),
            max: s["max"].as_i64(),
            pattern: s["pattern"].as_str().map(|p| (p.to_string(), compile_java_pattern(p))),
            enumeration: strings(&s["enum"]),
            members: s["members"]
                .as_array()
                .map(|a| {
                    a.iter().filter_map(|m| Some((m[0].as_str()?.to_string(), m[1].as_str()?.to_string()))).collect()
                })
                .unwrap_or_default(),
            member: s["member"].as_str().map(str::to_string),
        }
    }
}

/// Failures for one scalar value, in AWS's order: pattern, length, enum, range.
fn check_scalar(shape: &Shape, value: &str, path: &str, out: &mut Vec<String>) {
    match shape.ty.as_str() {
        "string" => {
            if let Some((java, Some(re))) = &shape.pattern {
                if !re.is_match(value) {
                    out.push(failure(value, path, &format!("Member must satisfy regular expression pattern: {java}")));
                }
            }
            // Java measures strings in UTF-16 code units.
            let len = value.encode_utf16().count() as i64;
            if let Some(max) = shape.max.filter(|max| len > *max) {
                out.push(failure(value, path, &format!("Member must have length less than or equal to {max}")));
            }
            if let Some(min) = shape.min.filter(|min| len < *min) {
                out.push(failure(value, path, &format!("Member must have length greater than or equal to {min}")));
            }
            if !shape.enumeration.is_empty() && !shape.enumeration.iter().any(|e| e == value) {
                out.push(failure(
                    value,
                    path,
                    &format!("Member must satisfy enum value set: [{}]", shape.enumeration.join(", ")),
                ));
            }
        }
        "integer" | "long" => match value.trim().parse::<i64>() {
            Ok(n) => {
                if let Some(max) = shape.max.filter(|max| n > *max) {
                    out.push(failure(value, path, &format!("Member must have value less than or equal to {max}")));
                }
                if let Some(min) = shape.min.filter(|min| n < *min) {
                    out.push(failure(value, path, &format!("Member must have value greater than or equal to {min}")));
                }
            }
            Err(_) => out.push(failure(value, path, "Member must be a number")),
        },
        "boolean" if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") => {
            out.push(failure(value, path, "Member must be a boolean"));
        }
        _ => {}
    }
}

fn failure(value: &str, path: &str, constraint: &str) -> String {
    format!("Value '{value}' at '{path}' failed to satisfy constraint: {constraint}")
}

fn null_failure(path: &str) -> String {
    format!("Value null at '{path}' failed to satisfy constraint: Member must not be null")
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Model patterns are Java regexes matched against the whole value. Translate the Java-only
/// pieces (`\uXXXX`, ASCII-only `\w`/`\d`, `\/`) and anchor; `None` if it still won't compile.
fn compile_java_pattern(java: &str) -> Option<Regex> {
    let mut out = String::new();
    let mut in_class = false;
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('u') => {
                    let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                    out.push_str(&format!("\\x{{{hex}}}"));
                }
                Some('w') => out.push_str(if in_class { "0-9A-Za-z_" } else { "[0-9A-Za-z_]" }),
                Some('d') => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                Some('/') => out.push('/'),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push_str("\\\\"),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    Regex::new(&format!(r"\A(?:{out})\z")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> QueryRequest {
        QueryRequest::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn all_string_patterns_compile_or_are_known_unsupported() {
        for model in [iam(), sts()] {
            for (name, shape) in &model.shapes {
                if let Some((java, re)) = &shape.pattern {
                    assert!(re.is_some() || java.contains("(?!"), "{name}: {java}");
                }
            }
        }
    }

    #[test]
    fn role_name_constraints() {
        let err = iam().validate("GetRole", &q(&[("RoleName", "bad name")])).unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert_eq!(
            err.message,
            "1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        );
        let long = "r".repeat(65);
        let err = iam().validate("GetRole", &q(&[("RoleName", &long)])).unwrap_err();
        assert!(err.message.ends_with("Member must have length less than or equal to 64"), "{}", err.message);
        assert!(iam().validate("GetRole", &q(&[("RoleName", "ok+=,.@_-1")])).is_ok());
        // Java's \w is ASCII only.
        assert!(iam().validate("GetRole", &q(&[("RoleName", "rôle")])).is_err());
    }

    #[test]
    fn missing_members_and_ranges() {
        let err = iam().validate("CreateRole", &q(&[("MaxSessionDuration", "100")])).unwrap_err();
        assert_eq!(
            err.message,
            "3 validation errors detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null; \
             Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null; \
             Value '100' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"
        );
        let err = sts().validate("AssumeRole", &q(&[("RoleArn", "bogus"), ("RoleSessionName", "s")])).unwrap_err();
        assert_eq!(
            err.message,
            "2 validation errors detected: Value 'bogus' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20; \
             Value 's' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"
        );
    }

    #[test]
    fn list_members() {
        let long_key = "k".repeat(129);
        let err = iam()
            .validate(
                "TagRole",
                &q(&[("RoleName", "r"), ("Tags.member.1.Key", &long_key), ("Tags.member.1.Value", "v")]),
            )
            .unwrap_err();
        assert_eq!(
            err.message,
            format!("1 validation error detected: Value '{long_key}' at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128")
        );
        let err = iam().validate("TagRole", &q(&[("RoleName", "r")])).unwrap_err();
        assert!(err.message.contains("Value null at 'tags'"), "{}", err.message);
    }
}
