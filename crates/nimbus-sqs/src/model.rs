//! The SQS service model (generated from botocore by `model/gen_model.py`): which operations
//! exist and the shape of their inputs. Both protocols decode into the JSON shape, which is
//! checked here the way SQS's front end does: a missing required member is `MissingParameter`
//! (`The request must contain the parameter X.`), a value of the wrong type
//! `InvalidParameterValue`, a queue attribute name outside the enum `InvalidAttributeName`.

use std::collections::HashMap;
use std::sync::OnceLock;

use nimbus_core::AwsError;
use serde_json::Value;

use crate::errors;

const MODEL_JSON: &str = include_str!("../model/sqs-model.json");

pub struct Model {
    pub api_version: String,
    pub target_prefix: String,
    operations: HashMap<String, Option<String>>,
    shapes: HashMap<String, Shape>,
}

struct Shape {
    ty: String,
    required: Vec<String>,
    enumeration: Vec<String>,
    members: Vec<(String, String)>,
    member: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(Model::load)
}

impl Model {
    fn load() -> Model {
        let m: Value = serde_json::from_str(MODEL_JSON).expect("embedded model is valid JSON");
        let str_of = |v: &Value| v.as_str().map(str::to_string);
        let operations = m["operations"]
            .as_object()
            .expect("operations")
            .iter()
            .map(|(name, op)| (name.clone(), str_of(&op["input"])))
            .collect();
        let shapes = m["shapes"]
            .as_object()
            .expect("shapes")
            .iter()
            .map(|(name, s)| {
                let list = |k: &str| -> Vec<String> {
                    s[k].as_array().map(|a| a.iter().filter_map(str_of).collect()).unwrap_or_default()
                };
                let members = s["members"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|p| (str_of(&p[0]).unwrap_or_default(), str_of(&p[1]).unwrap_or_default()))
                            .collect()
                    })
                    .unwrap_or_default();
                let shape = Shape {
                    ty: str_of(&s["type"]).unwrap_or_default(),
                    required: list("required"),
                    enumeration: list("enum"),
                    members,
                    member: str_of(&s["member"]),
                    key: str_of(&s["key"]),
                    value: str_of(&s["value"]),
                };
                (name.clone(), shape)
            })
            .collect();
        Model {
            api_version: str_of(&m["apiVersion"]).unwrap_or_default(),
            target_prefix: str_of(&m["targetPrefix"]).unwrap_or_default(),
            operations,
            shapes,
        }
    }

    pub fn has_operation(&self, name: &str) -> bool {
        self.operations.contains_key(name)
    }

    pub fn operation_names(&self) -> impl Iterator<Item = &str> {
        self.operations.keys().map(String::as_str)
    }

    /// Member name → shape type of the operation's input (for decoding query parameters).
    pub fn member_type(&self, operation: &str, path: &[&str]) -> Option<&str> {
        let mut shape = self.shapes.get(self.operations.get(operation)?.as_deref()?)?;
        for part in path {
            let next = match shape.ty.as_str() {
                "structure" => shape.members.iter().find(|(n, _)| n == part).map(|(_, t)| t.as_str())?,
                "list" => shape.member.as_deref()?,
                "map" => shape.value.as_deref()?,
                _ => return None,
            };
            shape = self.shapes.get(next)?;
        }
        Some(shape.ty.as_str())
    }

    pub fn validate(&self, operation: &str, input: &Value) -> Result<(), AwsError> {
        let Some(Some(shape)) = self.operations.get(operation) else { return Ok(()) };
        if operation == "ReceiveMessage" && input.get("AttributeNames").is_some() {
            // The deprecated `AttributeNames` is modeled with queue attribute names, but SQS
            // takes message system attribute names there.
            let mut input = input.clone();
            if let Some(obj) = input.as_object_mut() {
                obj.remove("AttributeNames");
            }
            return self.check(shape, &input, "");
        }
        self.check(shape, input, "")
    }

    fn check(&self, shape_name: &str, v: &Value, name: &str) -> Result<(), AwsError> {
        let Some(shape) = self.shapes.get(shape_name) else { return Ok(()) };
        if v.is_null() {
            return Ok(());
        }
        let bad = || errors::invalid_parameter(format!("Value {} for parameter {name} is invalid.", display(v)));
        match shape.ty.as_str() {
            "structure" => {
                let obj = v.as_object().ok_or_else(bad)?;
                for req in &shape.required {
                    if obj.get(req).is_none_or(Value::is_null) {
                        return Err(errors::missing_parameter(req));
                    }
                }
                for (member, target) in &shape.members {
                    if let Some(mv) = obj.get(member) {
                        self.check(target, mv, member)?;
                    }
                }
            }
            "list" => {
                let items = v.as_array().ok_or_else(bad)?;
                let member = shape.member.as_deref().unwrap_or_default();
                for item in items {
                    self.check(member, item, name)?;
                }
            }
            "map" => {
                let obj = v.as_object().ok_or_else(bad)?;
                let key = shape.key.as_deref().unwrap_or_default();
                let value = shape.value.as_deref().unwrap_or_default();
                for (k, item) in obj {
                    self.check(key, &Value::String(k.clone()), name)?;
                    self.check(value, item, &format!("{name}.{k}"))?;
                }
            }
            "string" => {
                let s = v.as_str().ok_or_else(bad)?;
                if !shape.enumeration.is_empty() && !shape.enumeration.iter().any(|e| e == s) {
                    if shape_name == "QueueAttributeName" {
                        return Err(errors::unknown_attribute(s));
                    }
                    return Err(bad());
                }
            }
            "integer" | "long" if !(v.is_i64() || v.is_u64()) => return Err(bad()),
            "boolean" if !v.is_boolean() => return Err(bad()),
            "blob" => {
                let s = v.as_str().ok_or_else(bad)?;
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(s).map_err(|_| bad())?;
            }
            _ => {}
        }
        Ok(())
    }
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
