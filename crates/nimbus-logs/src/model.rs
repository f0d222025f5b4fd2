//! The CloudWatch Logs service model (generated from botocore by `model/gen_model.py`): which
//! operations exist and the constraints on the inputs of the emulated ones, checked the way
//! AWS's front end does. Logs reports constraint failures as `InvalidParameterException`:
//!
//! `2 validation errors detected: Value '' at 'logGroupNamePrefix' failed to satisfy constraint:
//! Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+; Value '' at
//! 'logGroupNamePrefix' failed to satisfy constraint: Member must have length greater than or
//! equal to 1`
//!
//! A value of the wrong JSON type cannot be bound to the model at all: `SerializationException`.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::errors;
use nimbus_core::AwsError;

const MODEL_JSON: &str = include_str!("../model/logs-model.json");

pub struct Model {
    pub target_prefix: String,
    /// Operation name → (emulated, input shape).
    operations: HashMap<String, (bool, Option<String>)>,
    shapes: HashMap<String, Shape>,
}

struct Shape {
    ty: String,
    required: Vec<String>,
    min: Option<i64>,
    max: Option<i64>,
    pattern: Option<(String, Regex)>,
    enumeration: Vec<String>,
    members: Vec<(String, String)>,
    member: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

/// What the model says about an `X-Amz-Target` operation name.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Unknown,
    NotEmulated,
    Emulated,
}

pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(Model::load)
}

impl Model {
    fn load() -> Model {
        let m: Value = serde_json::from_str(MODEL_JSON).expect("embedded model is valid JSON");
        let operations = m["operations"]
            .as_object()
            .expect("operations")
            .iter()
            .map(|(name, op)| {
                let emulated = op["emulated"].as_bool().unwrap_or(false);
                (name.clone(), (emulated, op["input"].as_str().map(str::to_string)))
            })
            .collect();
        let str_of = |v: &Value| v.as_str().map(str::to_string);
        let shapes = m["shapes"]
            .as_object()
            .expect("shapes")
            .iter()
            .map(|(name, s)| {
                let list = |k: &str| -> Vec<String> {
                    s[k].as_array().map(|a| a.iter().filter_map(str_of).collect()).unwrap_or_default()
                };
                let pattern = s["pattern"].as_str().map(|p| {
                    let re = Regex::new(&format!(r"\A(?:{p})\z")).expect("model patterns compile");
                    (p.to_string(), re)
                });
                let members = s["members"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|pair| (str_of(&pair[0]).unwrap_or_default(), str_of(&pair[1]).unwrap_or_default()))
                            .collect()
                    })
                    .unwrap_or_default();
                let shape = Shape {
                    ty: str_of(&s["type"]).unwrap_or_default(),
                    required: list("required"),
                    min: s["min"].as_i64(),
                    max: s["max"].as_i64(),
                    pattern,
                    enumeration: list("enum"),
                    members,
                    member: str_of(&s["member"]),
                    key: str_of(&s["key"]),
                    value: str_of(&s["value"]),
                };
                (name.clone(), shape)
            })
            .collect();
        Model { target_prefix: str_of(&m["targetPrefix"]).unwrap_or_default(), operations, shapes }
    }

    pub fn lookup(&self, operation: &str) -> Lookup {
        match self.operations.get(operation) {
            None => Lookup::Unknown,
            Some((false, _)) => Lookup::NotEmulated,
            Some((true, _)) => Lookup::Emulated,
        }
    }

    /// Check `input` against the operation's input shape: types first (a failure there is a
    /// `SerializationException`), then all constraints, reported together.
    pub fn validate(&self, operation: &str, input: &Value) -> Result<(), AwsError> {
        let Some((_, Some(shape))) = self.operations.get(operation) else { return Ok(()) };
        self.check_types(shape, input, "")?;
        let mut failures = Vec::new();
        self.check(shape, input, "", &mut failures);
        if failures.is_empty() {
            return Ok(());
        }
        let n = failures.len();
        Err(errors::invalid_parameter(format!(
            "{n} validation error{} detected: {}",
            if n == 1 { "" } else { "s" },
            failures.join("; ")
        )))
    }

    fn shape(&self, name: &str) -> &Shape {
        self.shapes.get(name).expect("shape referenced by the model")
    }

    fn check_types(&self, shape_name: &str, v: &Value, path: &str) -> Result<(), AwsError> {
        if v.is_null() {
            return Ok(());
        }
        let shape = self.shape(shape_name);
        let ok = match shape.ty.as_str() {
            "structure" => {
                let Some(obj) = v.as_object() else { return Err(type_error(shape, v, path)) };
                for (name, target) in &shape.members {
                    if let Some(mv) = obj.get(name) {
                        self.check_types(target, mv, &join(path, name))?;
                    }
                }
                true
            }
            "list" => {
                let Some(items) = v.as_array() else { return Err(type_error(shape, v, path)) };
                let member = shape.member.as_deref().expect("list member");
                for (i, item) in items.iter().enumerate() {
                    self.check_types(member, item, &format!("{path}.{}.member", i + 1))?;
                }
                true
            }
            "map" => {
                let Some(obj) = v.as_object() else { return Err(type_error(shape, v, path)) };
                let value = shape.value.as_deref().expect("map value");
                for (k, item) in obj {
                    self.check_types(value, item, &format!("{path}.{k}"))?;
                }
                true
            }
            "string" => v.is_string(),
            "integer" | "long" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
            "boolean" => v.is_boolean(),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(type_error(shape, v, path))
        }
    }

    fn check(&self, shape_name: &str, v: &Value, path: &str, out: &mut Vec<String>) {
        if v.is_null() {
            return;
        }
        let shape = self.shape(shape_name);
        match shape.ty.as_str() {
            "structure" => {
                let Some(obj) = v.as_object() else { return };
                for (name, target) in &shape.members {
                    let mpath = join(path, name);
                    match obj.get(name).filter(|x| !x.is_null()) {
                        None if shape.required.contains(name) => out.push(format!(
                            "Value null at '{mpath}' failed to satisfy constraint: Member must not be null"
                        )),
                        None => {}
                        Some(mv) => self.check(target, mv, &mpath, out),
                    }
                }
            }
            "list" => {
                let Some(items) = v.as_array() else { return };
                for c in length_failures(shape, items.len()) {
                    out.push(fail(v, path, &c));
                }
                let member_name = shape.member.as_deref().expect("list member");
                let member = self.shape(member_name);
                if matches!(member.ty.as_str(), "structure" | "list" | "map") {
                    for (i, item) in items.iter().enumerate() {
                        let ipath = format!("{path}.{}.member", i + 1);
                        if item.is_null() {
                            out.push(format!(
                                "Value null at '{ipath}' failed to satisfy constraint: Member must not be null"
                            ));
                        } else {
                            self.check(member_name, item, &ipath, out);
                        }
                    }
                } else if items.iter().any(|i| i.is_null() || !scalar_failures(member, i).is_empty()) {
                    // Scalar elements are reported on the list as a whole, with every constraint.
                    out.push(fail(
                        v,
                        path,
                        &format!("Member must satisfy constraint: [{}]", element_constraints(member)),
                    ));
                }
            }
            "map" => {
                let Some(obj) = v.as_object() else { return };
                for c in length_failures(shape, obj.len()) {
                    out.push(fail(v, path, &c));
                }
                let key = self.shape(shape.key.as_deref().expect("map key"));
                if obj.keys().any(|k| !scalar_failures(key, &Value::String(k.clone())).is_empty()) {
                    out.push(fail(
                        v,
                        path,
                        &format!("Map keys must satisfy constraint: [{}]", element_constraints(key)),
                    ));
                }
                let value = self.shape(shape.value.as_deref().expect("map value"));
                if obj.values().any(|i| i.is_null() || !scalar_failures(value, i).is_empty()) {
                    out.push(fail(
                        v,
                        path,
                        &format!("Map value must satisfy constraint: [{}]", element_constraints(value)),
                    ));
                }
            }
            _ => {
                for c in scalar_failures(shape, v) {
                    out.push(fail(v, path, &c));
                }
            }
        }
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_string()
    } else {
        format!("{path}.{member}")
    }
}

fn fail(v: &Value, path: &str, constraint: &str) -> String {
    format!("Value '{}' at '{path}' failed to satisfy constraint: {constraint}", java_string(v))
}

/// The value as Java's `toString` prints it in AWS's messages.
fn java_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(java_string).collect::<Vec<_>>().join(", ")),
        Value::Object(obj) => {
            format!("{{{}}}", obj.iter().map(|(k, v)| format!("{k}={}", java_string(v))).collect::<Vec<_>>().join(", "))
        }
    }
}

fn length_failures(shape: &Shape, len: usize) -> Vec<String> {
    let len = len as i64;
    let mut out = Vec::new();
    if let Some(max) = shape.max.filter(|&m| len > m) {
        out.push(format!("Member must have length less than or equal to {max}"));
    }
    if let Some(min) = shape.min.filter(|&m| len < m) {
        out.push(format!("Member must have length greater than or equal to {min}"));
    }
    out
}

/// Failed constraints of a scalar, in AWS's order (pattern, length, enum; or range).
fn scalar_failures(shape: &Shape, v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match shape.ty.as_str() {
        "string" => {
            let Some(s) = v.as_str() else { return out };
            if let Some((p, re)) = &shape.pattern {
                if !re.is_match(s) {
                    out.push(format!("Member must satisfy regular expression pattern: {p}"));
                }
            }
            out.extend(length_failures(shape, s.chars().count()));
            if !shape.enumeration.is_empty() && !shape.enumeration.iter().any(|e| e == s) {
                out.push(format!("Member must satisfy enum value set: [{}]", shape.enumeration.join(", ")));
            }
        }
        "integer" | "long" => {
            let Some(n) = v.as_f64() else { return out };
            if let Some(max) = shape.max.filter(|&m| n > m as f64) {
                out.push(format!("Member must have value less than or equal to {max}"));
            }
            if let Some(min) = shape.min.filter(|&m| n < m as f64) {
                out.push(format!("Member must have value greater than or equal to {min}"));
            }
        }
        _ => {}
    }
    out
}

fn element_constraints(shape: &Shape) -> String {
    let mut out = Vec::new();
    let noun = if shape.ty == "string" { "length" } else { "value" };
    if let Some(max) = shape.max {
        out.push(format!("Member must have {noun} less than or equal to {max}"));
    }
    if let Some(min) = shape.min {
        out.push(format!("Member must have {noun} greater than or equal to {min}"));
    }
    if let Some((p, _)) = &shape.pattern {
        out.push(format!("Member must satisfy regular expression pattern: {p}"));
    }
    if !shape.enumeration.is_empty() {
        out.push(format!("Member must satisfy enum value set: [{}]", shape.enumeration.join(", ")));
    }
    out.push("Member must not be null".into());
    out.join(", ")
}

fn type_error(shape: &Shape, v: &Value, path: &str) -> AwsError {
    let found = match v {
        Value::String(_) => "STRING_VALUE",
        Value::Number(_) => "NUMBER_VALUE",
        Value::Bool(_) => "BOOLEAN_VALUE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::Null => "VALUE_NULL",
    };
    let at = if path.is_empty() { String::new() } else { format!(" at '{path}'") };
    errors::serialization(format!("Unexpected {found} for a {} value{at}", shape.ty))
}
