//! The query protocol: form parameters (`Action`, `Version`, `Attributes.entry.1.key`,
//! `Tags.member.1.Key`, …) decoded by the model into the input document; the output document
//! encoded as `<OpResponse><OpResult>…</OpResult><ResponseMetadata>…` XML.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use super::xml::write_members;
use super::{log_error, Operations};
use crate::error::AwsError;
use crate::http::{HttpRequest, HttpResponse};
use crate::model::{ModelError, Operation, ServiceModel, Shape, ShapeType};
use crate::query::{self as q, QueryRequest, XmlWriter};
use crate::service::RequestContext;
use crate::shapes::Timestamp;

pub(super) fn claims(req: &HttpRequest, model: &ServiceModel) -> bool {
    let params = QueryRequest::from_http(req);
    params.action().is_some_and(|a| model.operation(a).is_some()) && params.version() == model.meta("apiVersion")
}

pub(super) async fn respond<O: Operations + ?Sized>(ops: &O, ctx: &RequestContext, req: &HttpRequest) -> HttpResponse {
    let model = ops.model();
    let xmlns = model.meta("xmlNamespace").unwrap_or("").to_string();
    let params = QueryRequest::from_http(req);
    let Some(action) = params.action().map(str::to_string) else {
        let err = AwsError::new(400, "MissingAction", "Missing Action");
        return q::error_response(&err, &xmlns, &ctx.request_id);
    };
    let Some(op) = model.operation(&action) else {
        let err = ops.unknown_action(&action, params.version());
        return q::error_response(&err, &xmlns, &ctx.request_id);
    };
    let result = super::run(ops, ctx, op, decode(model, op, &params.params)).await;
    match result {
        Ok(output) => {
            let wrapper = op.result_wrapper.clone().unwrap_or_else(|| format!("{action}Result"));
            q::response_wrapped(&action, &wrapper, &xmlns, &ctx.request_id, encode(model, op, &output).as_deref())
        }
        Err(err) => {
            log_error(model.meta("endpointPrefix").unwrap_or(""), &op.name, &err);
            q::error_response(&err, &xmlns, &ctx.request_id)
        }
    }
}

/// The form parameters as the operation's input document.
pub(super) fn decode(
    model: &ServiceModel,
    op: &Operation,
    params: &BTreeMap<String, String>,
) -> Result<Value, ModelError> {
    let input = match op.input.as_deref() {
        Some(shape) => structure(model, shape, params, "")?.unwrap_or_else(|| Value::Object(Map::new())),
        None => Value::Object(Map::new()),
    };
    Ok(input)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Whether any parameter lives at or under `key`.
fn present(params: &BTreeMap<String, String>, key: &str) -> bool {
    let dotted = format!("{key}.");
    params.range(key.to_string()..).next().is_some_and(|(k, _)| k == key || k.starts_with(&dotted))
}

fn structure(
    model: &ServiceModel,
    shape_name: &str,
    params: &BTreeMap<String, String>,
    prefix: &str,
) -> Result<Option<Value>, ModelError> {
    let shape = model.shape_of(shape_name);
    let mut obj = Map::new();
    for m in &shape.members {
        let name = m.query_name.as_deref().or(m.location_name.as_deref()).unwrap_or(&m.name);
        let key = join(prefix, name);
        if let Some(v) = value(model, &m.shape, params, &key, m.flattened)? {
            obj.insert(m.name.clone(), v);
        }
    }
    Ok((!obj.is_empty() || prefix.is_empty() || params.contains_key(prefix)).then_some(Value::Object(obj)))
}

fn value(
    model: &ServiceModel,
    shape_name: &str,
    params: &BTreeMap<String, String>,
    key: &str,
    flattened: bool,
) -> Result<Option<Value>, ModelError> {
    let shape = model.shape_of(shape_name);
    match shape.ty {
        ShapeType::Structure => {
            if !present(params, key) {
                return Ok(None);
            }
            structure(model, shape_name, params, key)
        }
        ShapeType::List => {
            let member = shape.member.as_ref().expect("list member");
            let item_prefix = if flattened || shape.flattened {
                key.to_string()
            } else {
                join(key, member.location_name.as_deref().unwrap_or("member"))
            };
            // `Name=` with nothing else is an explicitly empty list.
            if params.get(key).is_some_and(String::is_empty) && !present(params, &format!("{item_prefix}.1")) {
                return Ok(Some(Value::Array(Vec::new())));
            }
            let mut items = Vec::new();
            for i in 1.. {
                let item_key = format!("{item_prefix}.{i}");
                if !present(params, &item_key) {
                    break;
                }
                items.push(value(model, &member.shape, params, &item_key, false)?.unwrap_or(Value::Null));
            }
            Ok((!items.is_empty()).then_some(Value::Array(items)))
        }
        ShapeType::Map => {
            let entry_prefix = if flattened || shape.flattened { key.to_string() } else { join(key, "entry") };
            let key_name = shape.key.as_ref().and_then(|k| k.location_name.as_deref()).unwrap_or("key");
            let value_ref = shape.value.as_ref().expect("map value");
            let value_name = value_ref.location_name.as_deref().unwrap_or("value");
            let mut map = Map::new();
            for i in 1.. {
                let entry = format!("{entry_prefix}.{i}");
                if !present(params, &entry) {
                    break;
                }
                let Some(k) = params.get(&join(&entry, key_name)) else { continue };
                let v = value(model, &value_ref.shape, params, &join(&entry, value_name), false)?;
                map.insert(k.clone(), v.unwrap_or(Value::Null));
            }
            Ok((!map.is_empty()).then_some(Value::Object(map)))
        }
        _ => match params.get(key) {
            None => Ok(None),
            Some(text) => scalar(shape, text, key).map(Some),
        },
    }
}

fn scalar(shape: &Shape, text: &str, key: &str) -> Result<Value, ModelError> {
    let bad = || ModelError::InvalidContent(format!("Value ({text}) for parameter {key} is invalid."));
    Ok(match shape.ty {
        ShapeType::Integer | ShapeType::Long => Value::Number(text.trim().parse::<i64>().map_err(|_| bad())?.into()),
        ShapeType::Float | ShapeType::Double => {
            Number::from_f64(text.trim().parse::<f64>().map_err(|_| bad())?).map(Value::Number).ok_or_else(bad)?
        }
        ShapeType::Boolean => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad()),
        },
        ShapeType::Timestamp => {
            let t = Timestamp::parse(text).ok_or_else(bad)?;
            serde_json::to_value(t).unwrap_or(Value::Null)
        }
        _ => Value::String(text.to_string()),
    })
}

/// The inner XML of the result element, or `None` for operations without output.
pub(super) fn encode(model: &ServiceModel, op: &Operation, output: &Value) -> Option<String> {
    let shape = op.output.as_deref()?;
    let mut w = XmlWriter::new();
    write_members(model, shape, output, &mut w);
    Some(w.finish())
}
