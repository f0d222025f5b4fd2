//! Turning an operation's output object into status, headers and body.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::decode::B64;
use super::{Location, Operation, ServiceModel, ShapeType};

impl ServiceModel {
    /// Encode an output object (keyed by member names): `header` members go to
    /// headers (jsonvalue: base64 of the JSON), a `statusCode` member overrides
    /// the status, the `payload` member becomes the raw body (blob: base64
    /// decoded; string: as is; structure: JSON; absent: empty body), everything
    /// else goes into the JSON body object. Status defaults to
    /// `op.response_code`. Operations without an output shape answer an empty body.
    pub fn encode_output(&self, op: &Operation, output: Value) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut status = op.response_code;
        let mut headers = Vec::new();
        let Some(shape) = self.output_shape(op) else {
            return (status, headers, Vec::new());
        };
        let mut obj = match output {
            Value::Object(o) => o,
            _ => Map::new(),
        };
        let mut body_obj = Map::new();
        let mut payload_body: Option<Vec<u8>> = None;
        let payload = shape.payload.as_deref();

        for m in &shape.members {
            let Some(v) = obj.remove(&m.name) else {
                continue;
            };
            if v.is_null() {
                continue;
            }
            let target = self.shape_of(&m.shape);
            if Some(m.name.as_str()) == payload {
                payload_body = Some(match (target.ty, v) {
                    (ShapeType::Blob, Value::String(s)) => B64.decode(s.as_bytes()).unwrap_or_else(|_| s.into_bytes()),
                    (_, Value::String(s)) => s.into_bytes(),
                    (_, other) => serde_json::to_vec(&self.rename_nested(&m.shape, other, true)).unwrap_or_default(),
                });
                continue;
            }
            match m.location {
                Some(Location::Header) => {
                    let text = if m.jsonvalue || target.jsonvalue {
                        B64.encode(serde_json::to_vec(&v).unwrap_or_default())
                    } else {
                        header_text(&v)
                    };
                    headers.push((m.wire_name().to_string(), text));
                }
                Some(Location::Headers) => {
                    let prefix = m.location_name.as_deref().unwrap_or("");
                    if let Value::Object(map) = v {
                        for (k, hv) in map {
                            headers.push((format!("{prefix}{k}"), header_text(&hv)));
                        }
                    }
                }
                Some(Location::StatusCode) => {
                    if let Some(code) = v.as_u64().and_then(|c| u16::try_from(c).ok()) {
                        status = code;
                    }
                }
                Some(Location::Uri) | Some(Location::Query) => {}
                None => {
                    body_obj.insert(m.wire_name().to_string(), self.rename_nested(&m.shape, v, true));
                }
            }
        }
        let body = match payload {
            Some(_) => payload_body.unwrap_or_default(),
            None => serde_json::to_vec(&Value::Object(body_obj)).unwrap_or_default(),
        };
        (status, headers, body)
    }
}

fn header_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(header_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
