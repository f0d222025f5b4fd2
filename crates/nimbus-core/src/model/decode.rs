//! Turning a REST-JSON request (labels, query, headers, body) into one JSON input object.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::{Location, Member, ModelError, Operation, ServiceModel, Shape, ShapeType};

pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl ServiceModel {
    /// Build the operation's input as one JSON object keyed by member names:
    /// uri labels, querystring members, header members (typed per shape) and
    /// body members. A blob/streaming `payload` member receives the raw body as
    /// base64 (absent when the body is empty) and the body is not parsed as JSON;
    /// a structure payload receives the parsed body. Otherwise the body is a
    /// JSON object (empty body = `{}`); members bound elsewhere and unknown
    /// keys in it are dropped.
    pub fn decode_input(
        &self,
        op: &Operation,
        labels: &[(String, String)],
        query: &[(String, String)],
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Value, ModelError> {
        let mut out = Map::new();
        let Some(shape) = self.input_shape(op) else {
            return Ok(Value::Object(out));
        };

        // Body first, so that bound members (uri, query, header) win.
        match shape.payload_member() {
            Some(pm) => {
                let target = self.shape_of(&pm.shape);
                match target.ty {
                    ShapeType::Structure | ShapeType::Map | ShapeType::List => {
                        if !is_blank(body) {
                            out.insert(pm.name.clone(), self.rename_nested(&pm.shape, parse_json(body)?, false));
                        }
                    }
                    ShapeType::String => {
                        if !body.is_empty() {
                            let s = std::str::from_utf8(body).map_err(|_| {
                                ModelError::InvalidContent("Could not parse request body: invalid UTF-8".into())
                            })?;
                            out.insert(pm.name.clone(), Value::String(s.to_string()));
                        }
                    }
                    _ => {
                        if !body.is_empty() {
                            out.insert(pm.name.clone(), Value::String(B64.encode(body)));
                        }
                    }
                }
            }
            None => {
                let parsed = if is_blank(body) { Value::Object(Map::new()) } else { parse_json(body)? };
                let Value::Object(obj) = parsed else {
                    return Err(ModelError::InvalidContent(format!(
                        "Could not parse request body into json: Cannot deserialize instance of `{}` out of {} token",
                        op.input.as_deref().unwrap_or("Request"),
                        json_token(&parsed)
                    )));
                };
                for m in shape.members.iter().filter(|m| m.location.is_none()) {
                    if let Some(v) = obj.get(m.wire_name()) {
                        out.insert(m.name.clone(), self.rename_nested(&m.shape, v.clone(), false));
                    }
                }
            }
        }

        for m in &shape.members {
            let Some(loc) = m.location else { continue };
            let target = self.shape_of(&m.shape);
            match loc {
                Location::Uri => {
                    if let Some((_, v)) = labels.iter().find(|(k, _)| k == m.wire_name()) {
                        out.insert(m.name.clone(), self.parse_text(m, target, v, "uri")?);
                    }
                }
                Location::Query => {
                    if let Some(v) = self.query_member(shape, m, target, query)? {
                        out.insert(m.name.clone(), v);
                    }
                }
                Location::Header => {
                    let values: Vec<String> = headers
                        .get_all(m.wire_name())
                        .iter()
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                        .collect();
                    if values.is_empty() {
                        continue;
                    }
                    let v = if target.ty == ShapeType::List {
                        let member = self.shape_of(&target.member.as_ref().expect("list member").shape);
                        let items = values
                            .iter()
                            .flat_map(|v| v.split(','))
                            .map(|s| self.parse_text(m, member, s.trim(), "header"))
                            .collect::<Result<Vec<_>, _>>()?;
                        Value::Array(items)
                    } else {
                        self.parse_text(m, target, &values.join(","), "header")?
                    };
                    out.insert(m.name.clone(), v);
                }
                Location::Headers => {
                    let prefix = m.location_name.as_deref().unwrap_or("").to_ascii_lowercase();
                    let mut map = Map::new();
                    for (name, value) in headers {
                        if let Some(rest) = name.as_str().strip_prefix(&prefix) {
                            map.insert(
                                rest.to_string(),
                                Value::String(String::from_utf8_lossy(value.as_bytes()).into()),
                            );
                        }
                    }
                    if !map.is_empty() {
                        out.insert(m.name.clone(), Value::Object(map));
                    }
                }
                Location::StatusCode => {}
            }
        }
        Ok(Value::Object(out))
    }

    fn query_member(
        &self,
        parent: &Shape,
        m: &Member,
        target: &Shape,
        query: &[(String, String)],
    ) -> Result<Option<Value>, ModelError> {
        match target.ty {
            ShapeType::List => {
                let member = self.shape_of(&target.member.as_ref().expect("list member").shape);
                let items = query
                    .iter()
                    .filter(|(k, _)| k == m.wire_name())
                    .map(|(_, v)| self.parse_text(m, member, v, "query"))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((!items.is_empty()).then_some(Value::Array(items)))
            }
            ShapeType::Map => {
                // All query parameters not bound to another member.
                let bound: Vec<&str> = parent
                    .members
                    .iter()
                    .filter(|o| o.location == Some(Location::Query) && o.location_name.is_some())
                    .map(|o| o.wire_name())
                    .collect();
                let value_shape = self.shape_of(&target.value.as_ref().expect("map value").shape);
                let mut map = Map::new();
                for (k, v) in query.iter().filter(|(k, _)| !bound.contains(&k.as_str())) {
                    if value_shape.ty == ShapeType::List {
                        let entry = map.entry(k.clone()).or_insert_with(|| Value::Array(Vec::new()));
                        if let Value::Array(a) = entry {
                            a.push(Value::String(v.clone()));
                        }
                    } else if !map.contains_key(k) {
                        map.insert(k.clone(), Value::String(v.clone()));
                    }
                }
                Ok((!map.is_empty()).then_some(Value::Object(map)))
            }
            _ => match query.iter().find(|(k, _)| k == m.wire_name()) {
                Some((_, v)) => self.parse_text(m, target, v, "query").map(Some),
                None => Ok(None),
            },
        }
    }

    /// Type a textual (uri/query/header) value per its shape.
    fn parse_text(&self, m: &Member, shape: &Shape, text: &str, place: &str) -> Result<Value, ModelError> {
        let bad = |what: &str| {
            ModelError::InvalidContent(format!(
                "Could not parse {place} parameter '{}': '{text}' is not a valid {what}",
                m.wire_name()
            ))
        };
        Ok(match shape.ty {
            ShapeType::Integer | ShapeType::Long => {
                Value::from(text.trim().parse::<i64>().map_err(|_| bad("integer"))?)
            }
            ShapeType::Float | ShapeType::Double => {
                let f = text.trim().parse::<f64>().map_err(|_| bad("number"))?;
                serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(|| bad("number"))?
            }
            ShapeType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(bad("boolean")),
            },
            ShapeType::String if m.jsonvalue || shape.jsonvalue => {
                let raw = B64.decode(text.trim()).map_err(|_| bad("base64-encoded JSON value"))?;
                serde_json::from_slice(&raw).map_err(|_| bad("base64-encoded JSON value"))?
            }
            // Strings, timestamps (kept as given) and blobs (base64 text).
            _ => Value::String(text.to_string()),
        })
    }
}

fn is_blank(body: &[u8]) -> bool {
    body.iter().all(|b| b.is_ascii_whitespace())
}

fn parse_json(body: &[u8]) -> Result<Value, ModelError> {
    serde_json::from_slice(body)
        .map_err(|e| ModelError::InvalidContent(format!("Could not parse request body into json: {e}")))
}

/// Jackson's name for the token a JSON value starts with.
pub(crate) fn json_token(v: &Value) -> &'static str {
    match v {
        Value::Null => "VALUE_NULL",
        Value::Bool(true) => "VALUE_TRUE",
        Value::Bool(false) => "VALUE_FALSE",
        Value::Number(n) if n.is_f64() => "VALUE_NUMBER_FLOAT",
        Value::Number(_) => "VALUE_NUMBER_INT",
        Value::String(_) => "VALUE_STRING",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}
