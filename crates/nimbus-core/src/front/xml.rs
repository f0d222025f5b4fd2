//! Writing a model-shaped JSON document as the XML the query protocol answers with: members by
//! their `locationName`, lists in `<member>` (or flattened), maps as `<entry><key/><value/>`,
//! timestamps in ISO 8601, booleans and numbers as text.

use serde_json::Value;

use crate::model::{ServiceModel, ShapeType};
use crate::query::XmlWriter;
use crate::shapes::Timestamp;

/// Write the members of structure `shape` present in `value` (without a wrapping element).
pub fn write_members(model: &ServiceModel, shape: &str, value: &Value, w: &mut XmlWriter) {
    let Some(obj) = value.as_object() else { return };
    for m in &model.shape_of(shape).members {
        let Some(v) = obj.get(&m.name).filter(|v| !v.is_null()) else { continue };
        let name = m.location_name.as_deref().unwrap_or(&m.name);
        write_value(model, &m.shape, name, m.flattened, v, w);
    }
}

/// Write `value` of shape `shape` as element `name`.
pub fn write_value(model: &ServiceModel, shape: &str, name: &str, flattened: bool, value: &Value, w: &mut XmlWriter) {
    let s = model.shape_of(shape);
    match s.ty {
        ShapeType::Structure if !s.document => {
            let mut inner = XmlWriter::new();
            write_members(model, shape, value, &mut inner);
            if inner.as_str().is_empty() {
                w.empty(name);
            } else {
                w.open(name).raw(inner.as_str()).close(name);
            }
        }
        ShapeType::List => {
            let member = s.member.as_ref().expect("list member");
            let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
            if flattened || s.flattened {
                let item_name = member.location_name.as_deref().unwrap_or(name);
                for item in items {
                    write_value(model, &member.shape, item_name, false, item, w);
                }
            } else {
                let item_name = member.location_name.as_deref().unwrap_or("member");
                w.open(name);
                for item in items {
                    write_value(model, &member.shape, item_name, false, item, w);
                }
                w.close(name);
            }
        }
        ShapeType::Map => {
            let key_name = s.key.as_ref().and_then(|k| k.location_name.as_deref()).unwrap_or("key");
            let value_ref = s.value.as_ref().expect("map value");
            let value_name = value_ref.location_name.as_deref().unwrap_or("value");
            let Some(map) = value.as_object() else { return };
            let flat = flattened || s.flattened;
            if !flat {
                w.open(name);
            }
            for (k, v) in map {
                let entry = if flat { name } else { "entry" };
                w.open(entry).text(key_name, k);
                write_value(model, &value_ref.shape, value_name, false, v, w);
                w.close(entry);
            }
            if !flat {
                w.close(name);
            }
        }
        ShapeType::Timestamp => {
            let text = match value {
                Value::Number(n) => iso8601(Timestamp(n.as_f64().unwrap_or(0.0))),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            w.text(name, text);
        }
        _ => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            w.text(name, text);
        }
    }
}

/// ISO 8601 as AWS's XML services write it: whole seconds without a fraction
/// (`2026-12-02T10:00:00Z`, IAM's dates), milliseconds otherwise (`…T10:00:00.359Z`, STS).
fn iso8601(t: Timestamp) -> String {
    let text = t.to_iso8601();
    match text.strip_suffix(".000Z") {
        Some(whole) => format!("{whole}Z"),
        None => text,
    }
}
