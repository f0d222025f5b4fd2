//! A service model as data: the compact form of botocore's model that
//! `scripts/gen_models.py` writes for every service (`crates/<crate>/model/<name>.json`).
//! It routes REST requests to operations, decodes a request into one JSON input
//! document, validates that document with AWS's messages, and encodes an output
//! document into status, headers and body. The protocol fronts in [`crate::front`]
//! build on it; a service embeds its file and parses it once ([`ServiceModel::parse`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

mod decode;
mod encode;
mod pattern;
mod routing;
mod validate;

pub use pattern::Pattern;
pub use routing::RouteTemplate;

/// Why a request was refused before it reached an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// Malformed JSON body, or a body/header/query/uri value of the wrong type.
    /// AWS answers 400 `InvalidRequestContentException`.
    InvalidContent(String),
    /// Constraint failures (required, enum, length, range, pattern), with the
    /// complete AWS message (`1 validation error detected: ...`).
    /// AWS answers 400 `ValidationException`.
    Validation(String),
}

impl ModelError {
    /// The AWS error code (`x-amzn-ErrorType`) for this error.
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::InvalidContent(_) => "InvalidRequestContentException",
            ModelError::Validation(_) => "ValidationException",
        }
    }

    /// HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        400
    }

    pub fn message(&self) -> &str {
        match self {
            ModelError::InvalidContent(m) | ModelError::Validation(m) => m,
        }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for ModelError {}

/// The wire protocol families of AWS services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0 / 1.1: `POST /` with `X-Amz-Target: <prefix>.<Operation>`.
    Json,
    /// REST-JSON: operation from method + URI template, members in URI, query, headers, body.
    RestJson,
    /// Query: form-encoded `Action=<Operation>&…`, answers in XML.
    Query,
    /// REST-XML (S3 and friends).
    RestXml,
}

/// Shape types of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeType {
    String,
    Integer,
    Long,
    Float,
    Double,
    Boolean,
    Blob,
    Timestamp,
    List,
    Map,
    Structure,
    /// botocore's `bigdecimal` and friends are not used by the services nimbus serves;
    /// anything else the model may add later still parses.
    #[serde(other)]
    Other,
}

/// Where a member travels in a REST-JSON request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Location {
    #[serde(rename = "uri")]
    Uri,
    #[serde(rename = "querystring")]
    Query,
    #[serde(rename = "header")]
    Header,
    /// A map of all headers with the prefix `location_name`.
    #[serde(rename = "headers")]
    Headers,
    #[serde(rename = "statusCode")]
    StatusCode,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShapeRef {
    pub shape: String,
    #[serde(rename = "locationName")]
    pub location_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub name: String,
    pub shape: String,
    pub location: Option<Location>,
    #[serde(rename = "locationName")]
    pub location_name: Option<String>,
    #[serde(default)]
    pub jsonvalue: bool,
    #[serde(default)]
    pub streaming: bool,
    #[serde(default, rename = "idempotencyToken")]
    pub idempotency_token: bool,
    #[serde(default)]
    pub eventpayload: bool,
    #[serde(default)]
    pub flattened: bool,
    #[serde(default, rename = "xmlAttribute")]
    pub xml_attribute: bool,
    /// The query-protocol name (EC2-style services); query members otherwise use `locationName`.
    #[serde(rename = "queryName")]
    pub query_name: Option<String>,
    #[serde(rename = "timestampFormat")]
    pub timestamp_format: Option<String>,
}

impl Member {
    /// The name on the wire (header name, query key, uri label, JSON key).
    pub fn wire_name(&self) -> &str {
        self.location_name.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorInfo {
    pub code: Option<String>,
    #[serde(rename = "httpStatusCode")]
    pub http_status_code: Option<u16>,
    #[serde(default, rename = "senderFault")]
    pub sender_fault: bool,
}

#[derive(Debug, Deserialize)]
pub struct Shape {
    #[serde(rename = "type")]
    pub ty: ShapeType,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<String>,
    #[serde(default)]
    pub members: Vec<Member>,
    pub member: Option<ShapeRef>,
    pub key: Option<ShapeRef>,
    pub value: Option<ShapeRef>,
    pub payload: Option<String>,
    #[serde(default)]
    pub streaming: bool,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub jsonvalue: bool,
    #[serde(default)]
    pub exception: bool,
    #[serde(default)]
    pub eventstream: bool,
    pub error: Option<ErrorInfo>,
    /// A union: exactly one member is set.
    #[serde(default)]
    pub union: bool,
    /// A free-form JSON document (`type: structure, document: true`).
    #[serde(default)]
    pub document: bool,
    /// Lists and maps serialised without a wrapping element (query and XML protocols).
    #[serde(default)]
    pub flattened: bool,
    /// The XML element name of the shape itself, where the model gives one.
    #[serde(rename = "locationName")]
    pub location_name: Option<String>,
    #[serde(rename = "timestampFormat")]
    pub timestamp_format: Option<String>,
    /// Compiled `pattern` (anchored); `None` when it does not compile with the
    /// `regex` crate (the check is then skipped).
    #[serde(skip)]
    regex: OnceLock<Option<Pattern>>,
}

impl Shape {
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The payload member, if the shape names one.
    pub fn payload_member(&self) -> Option<&Member> {
        self.payload.as_deref().and_then(|p| self.member(p))
    }

    /// The compiled pattern, matching the whole value (Java `matches()` semantics);
    /// `None` if the shape has no pattern or it is not supported (logged once).
    pub fn regex(&self) -> Option<&Pattern> {
        let pattern = self.pattern.as_deref()?;
        self.regex
            .get_or_init(|| match Pattern::compile(pattern) {
                Ok(p) => Some(p),
                Err(error) => {
                    tracing::warn!(pattern, %error, "model pattern not supported by the regex crate; check skipped");
                    None
                }
            })
            .as_ref()
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self.ty, ShapeType::Integer | ShapeType::Long | ShapeType::Float | ShapeType::Double)
    }
}

/// One operation of the model.
#[derive(Debug)]
pub struct Operation {
    pub name: String,
    pub method: String,
    /// The model's `requestUri`, including any literal query part.
    pub uri: String,
    pub response_code: u16,
    pub input: Option<String>,
    pub output: Option<String>,
    pub errors: Vec<String>,
    pub deprecated: bool,
    /// Query protocol: the element wrapping the output (`<CreateQueueResult>`).
    pub result_wrapper: Option<String>,
    pub route: RouteTemplate,
}

#[derive(Debug, Deserialize)]
struct RawOperation {
    method: String,
    #[serde(rename = "requestUri")]
    request_uri: String,
    #[serde(rename = "responseCode", default = "default_code")]
    response_code: u16,
    input: Option<String>,
    output: Option<String>,
    #[serde(default)]
    errors: Vec<String>,
    #[serde(default)]
    deprecated: bool,
    #[serde(rename = "resultWrapper")]
    result_wrapper: Option<String>,
}

fn default_code() -> u16 {
    200
}

#[derive(Debug, Deserialize)]
struct RawModel {
    metadata: HashMap<String, String>,
    operations: std::collections::BTreeMap<String, RawOperation>,
    shapes: HashMap<String, Shape>,
}

/// The parsed service model.
#[derive(Debug)]
pub struct ServiceModel {
    pub metadata: HashMap<String, String>,
    /// Operations sorted by name.
    pub operations: Vec<Operation>,
    pub shapes: HashMap<String, Shape>,
    by_name: HashMap<String, usize>,
    /// (shape, member) enums the service checks itself, with its own message, instead of the
    /// front's generic enum failure (Lambda's `Runtime`).
    service_enums: Vec<(String, String)>,
}

impl ServiceModel {
    /// Parse a generated model embedded in the binary; a bad file is a build defect.
    pub fn parse(text: &str) -> ServiceModel {
        ServiceModel::from_json(text).unwrap_or_else(|e| panic!("generated model is invalid: {e}"))
    }

    /// Parse a model file in the format written by `scripts/gen_models.py`.
    pub fn from_json(text: &str) -> Result<ServiceModel, String> {
        let raw: RawModel = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut operations = Vec::with_capacity(raw.operations.len());
        for (name, op) in raw.operations {
            let route = RouteTemplate::parse(&op.request_uri);
            operations.push(Operation {
                name,
                method: op.method,
                uri: op.request_uri,
                response_code: op.response_code,
                input: op.input,
                output: op.output,
                errors: op.errors,
                deprecated: op.deprecated,
                result_wrapper: op.result_wrapper,
                route,
            });
        }
        let by_name = operations.iter().enumerate().map(|(i, o)| (o.name.clone(), i)).collect();
        let model =
            ServiceModel { metadata: raw.metadata, operations, shapes: raw.shapes, by_name, service_enums: Vec::new() };
        // Every referenced shape must exist, so lookups below can't fail on a good file.
        for (name, shape) in &model.shapes {
            let refs = shape
                .members
                .iter()
                .map(|m| &m.shape)
                .chain(shape.member.iter().map(|r| &r.shape))
                .chain(shape.key.iter().map(|r| &r.shape))
                .chain(shape.value.iter().map(|r| &r.shape));
            for r in refs {
                if !model.shapes.contains_key(r) {
                    return Err(format!("shape {name} refers to unknown shape {r}"));
                }
            }
        }
        for op in &model.operations {
            for s in op.input.iter().chain(op.output.iter()).chain(op.errors.iter()) {
                if !model.shapes.contains_key(s) {
                    return Err(format!("operation {} refers to unknown shape {s}", op.name));
                }
            }
        }
        Ok(model)
    }

    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.by_name.get(name).map(|&i| &self.operations[i])
    }

    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }

    /// The input shape of `op`, if it has one.
    pub fn input_shape(&self, op: &Operation) -> Option<&Shape> {
        op.input.as_deref().and_then(|s| self.shape(s))
    }

    /// The output shape of `op`, if it has one.
    pub fn output_shape(&self, op: &Operation) -> Option<&Shape> {
        op.output.as_deref().and_then(|s| self.shape(s))
    }

    /// The JSON key Lambda uses for the message in this error's body: the
    /// modeled exception's member (`Message` for e.g. ResourceNotFoundException,
    /// `message` for e.g. InvalidParameterValueException, ResourceConflictException,
    /// InvalidRequestContentException). Unmodeled errors (ValidationException,
    /// AccessDeniedException, ...) use `message`.
    pub fn error_message_key(&self, code: &str) -> &str {
        self.shape(code)
            .filter(|s| s.exception)
            .and_then(|s| s.members.iter().find(|m| m.name.eq_ignore_ascii_case("message")))
            .map_or("message", |m| m.name.as_str())
    }

    /// Whether the modeled exception carries `Type` (`"User"`/`"Service"`) in its body.
    pub fn error_has_type(&self, code: &str) -> bool {
        self.shape(code).is_some_and(|s| s.exception && s.member("Type").is_some())
    }

    /// Leave the enum check of `shape.member` to the service (it answers with its own message).
    pub fn with_service_checked_enum(mut self, shape: &str, member: &str) -> Self {
        self.service_enums.push((shape.to_string(), member.to_string()));
        self
    }

    pub(crate) fn service_checks_enum(&self, shape: &str, member: &str) -> bool {
        self.service_enums.iter().any(|(s, m)| s == shape && m == member)
    }

    /// The metadata entry `key` (`protocol`, `targetPrefix`, `jsonVersion`, `xmlNamespace`, …).
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// The protocol family the service speaks.
    pub fn protocol(&self) -> Protocol {
        match self.meta("protocol") {
            Some("json") => Protocol::Json,
            Some("query") | Some("ec2") => Protocol::Query,
            Some("rest-xml") => Protocol::RestXml,
            _ => Protocol::RestJson,
        }
    }

    /// Rename the members of nested structures between wire names (`locationName`, e.g.
    /// API Gateway v2's `allowOrigins`) and member names (`AllowOrigins`); the top level is
    /// bound by decode/encode. Values without renamed members come back unchanged.
    pub(crate) fn rename_nested(&self, shape_name: &str, v: Value, to_wire: bool) -> Value {
        let shape = self.shape_of(shape_name);
        match (shape.ty, v) {
            (ShapeType::Structure, Value::Object(obj)) if !shape.document => {
                let mut out = serde_json::Map::new();
                for (k, val) in obj {
                    let member = shape.members.iter().find(|m| if to_wire { m.name == k } else { m.wire_name() == k });
                    match member {
                        Some(m) => {
                            let key = if to_wire { m.wire_name() } else { m.name.as_str() };
                            out.insert(key.to_string(), self.rename_nested(&m.shape, val, to_wire));
                        }
                        None => {
                            out.insert(k, val);
                        }
                    }
                }
                Value::Object(out)
            }
            (ShapeType::List, Value::Array(items)) => match &shape.member {
                Some(r) => Value::Array(items.into_iter().map(|i| self.rename_nested(&r.shape, i, to_wire)).collect()),
                None => Value::Array(items),
            },
            (ShapeType::Map, Value::Object(obj)) => match &shape.value {
                Some(r) => {
                    Value::Object(obj.into_iter().map(|(k, i)| (k, self.rename_nested(&r.shape, i, to_wire))).collect())
                }
                None => Value::Object(obj),
            },
            (_, v) => v,
        }
    }

    pub(crate) fn shape_of(&self, name: &str) -> &Shape {
        // from_json checked every reference.
        &self.shapes[name]
    }
}
