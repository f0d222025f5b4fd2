//! Validation of an input object against the model, with AWS's messages.
//!
//! Two passes, like AWS's front end: first the JSON is bound to the types of
//! the model (a wrong type is a deserialization failure:
//! `InvalidRequestContentException`), then the constraints are checked and all
//! failures reported at once in one `ValidationException`:
//!
//! `2 validation errors detected: Value 'x' at 'functionName' failed to satisfy
//! constraint: Member must satisfy regular expression pattern: ...; Value ...`
//!
//! Paths are member names with the first letter lower-cased, joined by `.`;
//! list elements are `list.N.member` (1-based). Scalar elements of a list, and
//! keys and values of a map, are reported on the collection as a whole:
//! `Value '[a, b]' at 'layers' failed to satisfy constraint: Member must
//! satisfy constraint: [<all element constraints>, Member must not be null]`
//! (`Map keys must satisfy constraint: [...]` / `Map value must satisfy
//! constraint: [...]` for maps). Values of sensitive shapes are not echoed
//! (`Value at 'environment.variables' ...`).

use base64::Engine as _;
use serde_json::Value;

use super::decode::{json_token, B64};
use super::{ModelError, Operation, ServiceModel, Shape, ShapeType};

impl ServiceModel {
    /// Validate `input` (as built by [`ServiceModel::decode_input`]) against the
    /// operation's input shape. Unknown members are ignored; `null` counts as absent.
    pub fn validate(&self, op: &Operation, input: &Value) -> Result<(), ModelError> {
        let Some(shape_name) = op.input.as_deref() else {
            return Ok(());
        };
        self.validate_shape(shape_name, input)
    }

    /// Validate a value against any named shape (top-level path is empty).
    pub fn validate_shape(&self, shape_name: &str, input: &Value) -> Result<(), ModelError> {
        self.check_types(shape_name, input, "")?;
        let mut errors = Vec::new();
        self.check(shape_name, input, "", &mut errors, false);
        if errors.is_empty() {
            return Ok(());
        }
        let n = errors.len();
        Err(ModelError::Validation(format!(
            "{n} validation error{} detected: {}",
            if n == 1 { "" } else { "s" },
            errors.join("; ")
        )))
    }

    /// Pass 1: JSON types.
    fn check_types(&self, shape_name: &str, v: &Value, path: &str) -> Result<(), ModelError> {
        if v.is_null() {
            return Ok(());
        }
        let shape = self.shape_of(shape_name);
        let ok = match shape.ty {
            ShapeType::Structure if shape.document => true,
            ShapeType::Other => true,
            ShapeType::Structure => {
                let Some(obj) = v.as_object() else {
                    return Err(type_error(shape_name, shape, v, path));
                };
                for m in &shape.members {
                    if let Some(mv) = obj.get(&m.name) {
                        self.check_types(&m.shape, mv, &join(path, &m.name))?;
                    }
                }
                true
            }
            ShapeType::List => {
                let Some(items) = v.as_array() else {
                    return Err(type_error(shape_name, shape, v, path));
                };
                let member = &shape.member.as_ref().expect("list member").shape;
                for (i, item) in items.iter().enumerate() {
                    self.check_types(member, item, &format!("{}.{}.member", path, i + 1))?;
                }
                true
            }
            ShapeType::Map => {
                let Some(obj) = v.as_object() else {
                    return Err(type_error(shape_name, shape, v, path));
                };
                let value = &shape.value.as_ref().expect("map value").shape;
                for (k, item) in obj {
                    self.check_types(value, item, &format!("{}.{k}", path))?;
                }
                true
            }
            ShapeType::String => v.is_string(),
            // Integral numbers that fit the Java type (Jackson accepts 3.0 for an int, not 1e10).
            ShapeType::Integer => {
                v.as_f64().is_some_and(|f| f.fract() == 0.0 && f >= f64::from(i32::MIN) && f <= f64::from(i32::MAX))
            }
            ShapeType::Long => v.is_i64() || v.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.2e18),
            ShapeType::Float | ShapeType::Double => v.is_number(),
            ShapeType::Boolean => v.is_boolean(),
            ShapeType::Timestamp => v.is_number() || v.is_string(),
            ShapeType::Blob => match v.as_str() {
                Some(s) => {
                    if B64.decode(s).is_err() {
                        return Err(ModelError::InvalidContent(format!(
                            "Could not parse request body into json: Cannot access base64 value at '{}': invalid base64",
                            path
                        )));
                    }
                    true
                }
                None => false,
            },
        };
        if ok {
            Ok(())
        } else {
            Err(type_error(shape_name, shape, v, path))
        }
    }

    /// Pass 2: constraints. `skip_enum` suppresses the enum check of this value.
    fn check(&self, shape_name: &str, v: &Value, path: &str, errors: &mut Vec<String>, skip_enum: bool) {
        if v.is_null() {
            return;
        }
        let shape = self.shape_of(shape_name);
        match shape.ty {
            ShapeType::Structure if shape.document => {}
            ShapeType::Structure => {
                let Some(obj) = v.as_object() else { return };
                for m in &shape.members {
                    let mpath = join(path, &m.name);
                    match obj.get(&m.name).filter(|x| !x.is_null()) {
                        None => {
                            if shape.required.contains(&m.name) {
                                errors.push(format!(
                                    "Value null at '{mpath}' failed to satisfy constraint: Member must not be null"
                                ));
                            }
                        }
                        Some(mv) => {
                            let skip = self.service_checks_enum(shape_name, &m.name);
                            self.check(&m.shape, mv, &mpath, errors, skip);
                        }
                    }
                }
            }
            ShapeType::List => {
                let Some(items) = v.as_array() else { return };
                for c in length_failures(shape, items.len()) {
                    errors.push(fail(shape, v, path, &c));
                }
                let member_name = &shape.member.as_ref().expect("list member").shape;
                let member = self.shape_of(member_name);
                if is_aggregate(member) {
                    for (i, item) in items.iter().enumerate() {
                        let ipath = format!("{path}.{}.member", i + 1);
                        if item.is_null() {
                            errors.push(format!(
                                "Value null at '{ipath}' failed to satisfy constraint: Member must not be null"
                            ));
                        } else {
                            self.check(member_name, item, &ipath, errors, false);
                        }
                    }
                } else if items.iter().any(|i| i.is_null() || !scalar_failures(member, i, false).is_empty()) {
                    errors.push(fail(
                        shape,
                        v,
                        path,
                        &format!("Member must satisfy constraint: [{}]", element_constraints(member)),
                    ));
                }
            }
            ShapeType::Map => {
                let Some(obj) = v.as_object() else { return };
                for c in length_failures(shape, obj.len()) {
                    errors.push(fail(shape, v, path, &c));
                }
                let key = self.shape_of(&shape.key.as_ref().expect("map key").shape);
                if obj.keys().any(|k| !scalar_failures(key, &Value::String(k.clone()), false).is_empty()) {
                    errors.push(fail(
                        shape,
                        v,
                        path,
                        &format!("Map keys must satisfy constraint: [{}]", element_constraints(key)),
                    ));
                }
                let value_name = &shape.value.as_ref().expect("map value").shape;
                let value = self.shape_of(value_name);
                if is_aggregate(value) {
                    for (k, item) in obj {
                        if !item.is_null() {
                            self.check(value_name, item, &format!("{path}.{k}"), errors, false);
                        }
                    }
                } else if obj.values().any(|i| i.is_null() || !scalar_failures(value, i, false).is_empty()) {
                    errors.push(fail(
                        shape,
                        v,
                        path,
                        &format!("Map value must satisfy constraint: [{}]", element_constraints(value)),
                    ));
                }
            }
            _ => {
                for c in scalar_failures(shape, v, skip_enum) {
                    errors.push(fail(shape, v, path, &c));
                }
            }
        }
    }
}

fn is_aggregate(shape: &Shape) -> bool {
    matches!(shape.ty, ShapeType::Structure | ShapeType::List | ShapeType::Map)
}

/// `a.b` with each member name's first letter lower-cased.
fn join(path: &str, member: &str) -> String {
    let mut name = String::with_capacity(member.len());
    let mut chars = member.chars();
    if let Some(c) = chars.next() {
        name.extend(c.to_lowercase());
        name.push_str(chars.as_str());
    }
    if path.is_empty() {
        name
    } else {
        format!("{path}.{name}")
    }
}

/// `Value 'x' at 'path' failed to satisfy constraint: <c>`.
fn fail(shape: &Shape, v: &Value, path: &str, constraint: &str) -> String {
    if shape.sensitive {
        format!("Value at '{path}' failed to satisfy constraint: {constraint}")
    } else {
        format!("Value '{}' at '{path}' failed to satisfy constraint: {constraint}", java_string(v))
    }
}

/// The value as Java's `toString` would print it in AWS's messages.
pub(crate) fn java_string(v: &Value) -> String {
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

fn bound(shape: &Shape, b: f64) -> String {
    if matches!(shape.ty, ShapeType::Float | ShapeType::Double) {
        if b.fract() == 0.0 {
            format!("{b:.1}")
        } else {
            b.to_string()
        }
    } else {
        format!("{}", b as i64)
    }
}

fn length_failures(shape: &Shape, len: usize) -> Vec<String> {
    let mut out = Vec::new();
    let len = len as f64;
    if let Some(max) = shape.max {
        if len > max {
            out.push(format!("Member must have length less than or equal to {}", bound(shape, max)));
        }
    }
    if let Some(min) = shape.min {
        if len < min {
            out.push(format!("Member must have length greater than or equal to {}", bound(shape, min)));
        }
    }
    out
}

/// The failed constraints of a scalar value, in AWS's order (pattern, length, enum, range).
fn scalar_failures(shape: &Shape, v: &Value, skip_enum: bool) -> Vec<String> {
    if v.is_null() {
        return Vec::new();
    }
    let mut out = Vec::new();
    match shape.ty {
        ShapeType::String => {
            let Some(s) = v.as_str() else { return out };
            if let (Some(p), Some(re)) = (shape.pattern.as_deref(), shape.regex()) {
                if !re.is_match(s) {
                    out.push(format!("Member must satisfy regular expression pattern: {p}"));
                }
            }
            out.extend(length_failures(shape, s.chars().count()));
            if !skip_enum {
                if let Some(values) = &shape.enum_values {
                    if !values.iter().any(|e| e == s) {
                        out.push(format!("Member must satisfy enum value set: [{}]", values.join(", ")));
                    }
                }
            }
        }
        ShapeType::Blob => {
            if let Some(len) = v.as_str().and_then(|s| B64.decode(s).ok()).map(|b| b.len()) {
                out.extend(length_failures(shape, len));
            }
        }
        ShapeType::Integer | ShapeType::Long | ShapeType::Float | ShapeType::Double => {
            let Some(n) = v.as_f64() else { return out };
            if let Some(max) = shape.max {
                if n > max {
                    out.push(format!("Member must have value less than or equal to {}", bound(shape, max)));
                }
            }
            if let Some(min) = shape.min {
                if n < min {
                    out.push(format!("Member must have value greater than or equal to {}", bound(shape, min)));
                }
            }
        }
        _ => {}
    }
    out
}

/// All constraints of an element shape, as listed in `Member must satisfy constraint: [...]`.
fn element_constraints(shape: &Shape) -> String {
    let mut out = Vec::new();
    match shape.ty {
        ShapeType::String | ShapeType::Blob => {
            if let Some(max) = shape.max {
                out.push(format!("Member must have length less than or equal to {}", bound(shape, max)));
            }
            if let Some(min) = shape.min {
                out.push(format!("Member must have length greater than or equal to {}", bound(shape, min)));
            }
            if let Some(p) = &shape.pattern {
                out.push(format!("Member must satisfy regular expression pattern: {p}"));
            }
            if let Some(values) = &shape.enum_values {
                out.push(format!("Member must satisfy enum value set: [{}]", values.join(", ")));
            }
        }
        ShapeType::Integer | ShapeType::Long | ShapeType::Float | ShapeType::Double => {
            if let Some(max) = shape.max {
                out.push(format!("Member must have value less than or equal to {}", bound(shape, max)));
            }
            if let Some(min) = shape.min {
                out.push(format!("Member must have value greater than or equal to {}", bound(shape, min)));
            }
        }
        _ => {}
    }
    out.push("Member must not be null".into());
    out.join(", ")
}

fn java_type(shape: &Shape, shape_name: &str) -> String {
    match shape.ty {
        ShapeType::String | ShapeType::Timestamp => "java.lang.String".into(),
        ShapeType::Integer => "java.lang.Integer".into(),
        ShapeType::Long => "java.lang.Long".into(),
        ShapeType::Float => "java.lang.Float".into(),
        ShapeType::Double => "java.lang.Double".into(),
        ShapeType::Boolean => "java.lang.Boolean".into(),
        ShapeType::Blob => "java.nio.ByteBuffer".into(),
        ShapeType::List => "java.util.List".into(),
        ShapeType::Map => "java.util.Map".into(),
        ShapeType::Structure | ShapeType::Other => shape_name.to_string(),
    }
}

/// A value of the wrong JSON type: the body can't be bound to the model.
fn type_error(shape_name: &str, shape: &Shape, v: &Value, path: &str) -> ModelError {
    let at = if path.is_empty() { String::new() } else { format!(" at '{path}'") };
    ModelError::InvalidContent(format!(
        "Could not parse request body into json: Cannot deserialize value of type `{}` from {} token{at}",
        java_type(shape, shape_name),
        json_token(v)
    ))
}
