//! AWS's CBOR form of the JSON protocol (`application/x-amz-cbor-1.1`), which the Java and
//! Kotlin SDKs use for Kinesis by default (the Java SDK's `AWS_CBOR_DISABLE` switches it off).
//!
//! The request is the JSON request's document in CBOR (RFC 8949) with two differences the
//! model's shapes tell apart: blobs are byte strings instead of base64 text, and timestamps are
//! tag 1 over the epoch time in **milliseconds** (an integer, as the AWS SDK for Java writes
//! and reads them) instead of seconds. Everything else — the `X-Amz-Target` routing, the
//! members, the errors' `__type`/`message` — is the JSON protocol's. Decoding turns the CBOR
//! body into the model-shaped JSON document the operations read; encoding turns their JSON
//! output back into CBOR along the output shape.

use base64::Engine;
use ciborium::value::{Integer, Value as Cbor};
use serde_json::{Map, Number, Value};

use crate::error::AwsError;
use crate::http::{HttpRequest, HttpResponse};
use crate::model::{ModelError, ServiceModel, Shape, ShapeType};

pub const CONTENT_TYPE: &str = "application/x-amz-cbor-1.1";

/// CBOR's standard tag for an epoch-based date/time.
const EPOCH_TAG: u64 = 1;

/// Whether the request's body is CBOR.
pub fn is_cbor(req: &HttpRequest) -> bool {
    req.header("content-type").is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with(CONTENT_TYPE))
}

/// A CBOR request body as the model-shaped JSON document of `shape` (an empty body is `{}`).
pub fn decode(model: &ServiceModel, shape: Option<&str>, body: &[u8]) -> Result<Value, ModelError> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let value: Cbor = ciborium::de::from_reader(body)
        .map_err(|e| ModelError::InvalidContent(format!("Could not parse the CBOR request body: {e}")))?;
    if !matches!(value, Cbor::Map(_)) {
        return Err(ModelError::InvalidContent("Start of structure or map found where not expected.".into()));
    }
    to_json(model, shape.and_then(|s| model.shape(s)), value)
}

fn invalid(message: impl Into<String>) -> ModelError {
    ModelError::InvalidContent(message.into())
}

fn to_json(model: &ServiceModel, shape: Option<&Shape>, value: Cbor) -> Result<Value, ModelError> {
    let target = |r: Option<&crate::model::ShapeRef>| r.and_then(|r| model.shape(&r.shape));
    Ok(match value {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Text(s) => Value::String(s),
        Cbor::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Integer(i) => integer(i)?,
        Cbor::Float(f) => Number::from_f64(f).map(Value::Number).ok_or_else(|| invalid("Invalid number."))?,
        Cbor::Tag(EPOCH_TAG, inner) => match *inner {
            // The AWS SDK for Java writes milliseconds under tag 1.
            Cbor::Integer(i) => {
                let millis = i128::from(i);
                let seconds = millis as f64 / 1000.0;
                Number::from_f64(seconds).map(Value::Number).ok_or_else(|| invalid("Invalid timestamp."))?
            }
            Cbor::Float(f) => Number::from_f64(f).map(Value::Number).ok_or_else(|| invalid("Invalid timestamp."))?,
            _ => return Err(invalid("Invalid timestamp: tag 1 must carry a number.")),
        },
        Cbor::Tag(_, inner) => to_json(model, shape, *inner)?,
        Cbor::Array(items) => {
            let member = shape.filter(|s| s.ty == ShapeType::List).and_then(|s| target(s.member.as_ref()));
            Value::Array(items.into_iter().map(|v| to_json(model, member, v)).collect::<Result<_, _>>()?)
        }
        Cbor::Map(entries) => {
            let mut out = Map::new();
            for (key, v) in entries {
                let Cbor::Text(key) = key else { return Err(invalid("Map keys must be strings.")) };
                let inner = match shape {
                    Some(s) if s.ty == ShapeType::Map => target(s.value.as_ref()),
                    Some(s) if s.ty == ShapeType::Structure => {
                        s.members.iter().find(|m| m.wire_name() == key).and_then(|m| model.shape(&m.shape))
                    }
                    _ => None,
                };
                out.insert(key, to_json(model, inner, v)?);
            }
            Value::Object(out)
        }
        _ => return Err(invalid("Unsupported CBOR value.")),
    })
}

fn integer(i: Integer) -> Result<Value, ModelError> {
    let wide = i128::from(i);
    if let Ok(n) = i64::try_from(wide) {
        Ok(Value::from(n))
    } else if let Ok(n) = u64::try_from(wide) {
        Ok(Value::from(n))
    } else {
        Err(invalid("Integer out of range."))
    }
}

/// The CBOR body of a model-shaped JSON document of `shape`.
pub fn encode(model: &ServiceModel, shape: Option<&str>, value: &Value) -> Vec<u8> {
    let cbor = to_cbor(model, shape.and_then(|s| model.shape(s)), value);
    let mut out = Vec::new();
    if let Err(e) = ciborium::ser::into_writer(&cbor, &mut out) {
        tracing::error!(error = %e, "could not encode a CBOR response");
    }
    out
}

fn to_cbor(model: &ServiceModel, shape: Option<&Shape>, value: &Value) -> Cbor {
    let target = |r: Option<&crate::model::ShapeRef>| r.and_then(|r| model.shape(&r.shape));
    let ty = shape.map(|s| s.ty);
    match value {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::String(s) if ty == Some(ShapeType::Blob) => {
            Cbor::Bytes(base64::engine::general_purpose::STANDARD.decode(s).unwrap_or_else(|_| s.as_bytes().to_vec()))
        }
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Number(n) if ty == Some(ShapeType::Timestamp) => {
            let millis = (n.as_f64().unwrap_or_default() * 1000.0).round() as i64;
            Cbor::Tag(EPOCH_TAG, Box::new(Cbor::Integer(millis.into())))
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Cbor::Integer(i.into())
            } else if let Some(u) = n.as_u64() {
                Cbor::Integer(u.into())
            } else {
                Cbor::Float(n.as_f64().unwrap_or_default())
            }
        }
        Value::Array(items) => {
            let member = shape.filter(|s| s.ty == ShapeType::List).and_then(|s| target(s.member.as_ref()));
            Cbor::Array(items.iter().map(|v| to_cbor(model, member, v)).collect())
        }
        Value::Object(map) => Cbor::Map(
            map.iter()
                .map(|(key, v)| {
                    let inner = match shape {
                        Some(s) if s.ty == ShapeType::Map => target(s.value.as_ref()),
                        Some(s) if s.ty == ShapeType::Structure => {
                            s.members.iter().find(|m| m.wire_name() == key).and_then(|m| model.shape(&m.shape))
                        }
                        _ => None,
                    };
                    (Cbor::Text(key.clone()), to_cbor(model, inner, v))
                })
                .collect(),
        ),
    }
}

/// A successful answer: the output document in CBOR.
pub fn response(model: &ServiceModel, shape: Option<&str>, output: &Value) -> HttpResponse {
    HttpResponse::new(200, CONTENT_TYPE, encode(model, shape, output))
}

/// An error as the JSON protocol words it (`__type`, `message` and the error's own members),
/// in CBOR, with `x-amzn-ErrorType`.
pub fn error(err: &AwsError) -> HttpResponse {
    let mut body = Map::new();
    body.insert("__type".into(), Value::String(err.code.clone()));
    if !err.extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("message")) {
        body.insert("message".into(), Value::String(err.message.clone()));
    }
    for (k, v) in &err.extra {
        body.insert(k.clone(), v.clone());
    }
    let cbor = to_cbor_untyped(&Value::Object(body));
    let mut out = Vec::new();
    let _ = ciborium::ser::into_writer(&cbor, &mut out);
    let short = err.code.rsplit('#').next().unwrap_or(&err.code).to_string();
    HttpResponse::new(err.status, CONTENT_TYPE, out).with_header("x-amzn-ErrorType", short)
}

fn to_cbor_untyped(value: &Value) -> Cbor {
    match value {
        Value::Object(map) => Cbor::Map(map.iter().map(|(k, v)| (Cbor::Text(k.clone()), to_cbor_untyped(v))).collect()),
        Value::Array(items) => Cbor::Array(items.iter().map(to_cbor_untyped).collect()),
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Null => Cbor::Null,
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Cbor::Integer(i.into()),
            (_, Some(u)) => Cbor::Integer(u.into()),
            _ => Cbor::Float(n.as_f64().unwrap_or_default()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ServiceModel {
        ServiceModel::parse(
            r#"{"metadata": {"protocol": "json", "jsonVersion": "1.1", "targetPrefix": "T"},
                "operations": {},
                "shapes": {
                    "In": {"type": "structure", "members": [
                        {"name": "Data", "shape": "B"}, {"name": "At", "shape": "Ts"}, {"name": "Name", "shape": "S"},
                        {"name": "Items", "shape": "L"}, {"name": "Count", "shape": "I"}]},
                    "L": {"type": "list", "member": {"shape": "In"}},
                    "B": {"type": "blob"}, "Ts": {"type": "timestamp"}, "S": {"type": "string"},
                    "I": {"type": "integer"}
                }}"#,
        )
    }

    fn cbor(v: &Cbor) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(v, &mut out).unwrap();
        out
    }

    #[test]
    fn blobs_and_millisecond_timestamps_decode_to_the_json_document() {
        let m = model();
        let body = cbor(&Cbor::Map(vec![
            (Cbor::Text("Data".into()), Cbor::Bytes(b"hi".to_vec())),
            (Cbor::Text("At".into()), Cbor::Tag(1, Box::new(Cbor::Integer(1_700_000_000_123i64.into())))),
            (Cbor::Text("Name".into()), Cbor::Text("n".into())),
            (Cbor::Text("Count".into()), Cbor::Integer(7.into())),
            (
                Cbor::Text("Items".into()),
                Cbor::Array(vec![Cbor::Map(vec![(Cbor::Text("Data".into()), Cbor::Bytes(vec![0, 255]))])]),
            ),
        ]));
        let json = decode(&m, Some("In"), &body).unwrap();
        assert_eq!(json["Data"], "aGk=");
        assert_eq!(json["At"].as_f64(), Some(1_700_000_000.123));
        assert_eq!(json["Name"], "n");
        assert_eq!(json["Count"], 7);
        assert_eq!(json["Items"][0]["Data"], "AP8=");
    }

    #[test]
    fn output_blobs_are_byte_strings_and_timestamps_tag_1_millis() {
        let m = model();
        let out = serde_json::json!({"Data": "aGk=", "At": 1_700_000_000.5, "Name": "n", "Items": [{"Data": "AP8="}]});
        let value: Cbor = ciborium::de::from_reader(&encode(&m, Some("In"), &out)[..]).unwrap();
        let Cbor::Map(entries) = value else { panic!("not a map") };
        let get = |k: &str| entries.iter().find(|(key, _)| key == &Cbor::Text(k.into())).map(|(_, v)| v.clone());
        assert_eq!(get("Data"), Some(Cbor::Bytes(b"hi".to_vec())));
        assert_eq!(get("At"), Some(Cbor::Tag(1, Box::new(Cbor::Integer(1_700_000_000_500i64.into())))));
        assert_eq!(get("Name"), Some(Cbor::Text("n".into())));
        let Some(Cbor::Array(items)) = get("Items") else { panic!("no items") };
        assert_eq!(items[0], Cbor::Map(vec![(Cbor::Text("Data".into()), Cbor::Bytes(vec![0, 255]))]));
    }

    #[test]
    fn bad_cbor_is_a_client_error() {
        let m = model();
        assert!(matches!(decode(&m, Some("In"), &[0xff, 0x00]), Err(ModelError::InvalidContent(_))));
        assert!(matches!(decode(&m, Some("In"), &cbor(&Cbor::Text("x".into()))), Err(ModelError::InvalidContent(_))));
        assert_eq!(decode(&m, Some("In"), b"").unwrap(), serde_json::json!({}));
    }
}
