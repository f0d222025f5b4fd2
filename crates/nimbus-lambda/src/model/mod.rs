//! The Lambda service model (`lambda/2015-03-31`) as data: routing of REST-JSON
//! requests to operations, decoding of a request into one JSON input object,
//! validation of that input with AWS's messages, and encoding of an output
//! object into status, headers and body.
//!
//! The facts come from `model/lambda-model.json`, generated from botocore's
//! model by `scripts/gen_lambda_model.py`; it is embedded at compile time and
//! parsed once.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;

mod decode;
mod encode;
mod pattern;
mod routing;
mod validate;

#[cfg(test)]
mod tests;

pub use pattern::Pattern;
pub use routing::RouteTemplate;

const MODEL_JSON: &str = include_str!("../../model/lambda-model.json");

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
}

/// The embedded Lambda model, parsed on first use.
pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::from_json(MODEL_JSON).expect("embedded lambda-model.json is valid"))
}

impl ServiceModel {
    /// Parse a model file in the format written by `scripts/gen_lambda_model.py`.
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
                route,
            });
        }
        let by_name = operations.iter().enumerate().map(|(i, o)| (o.name.clone(), i)).collect();
        let model = ServiceModel { metadata: raw.metadata, operations, shapes: raw.shapes, by_name };
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

    fn shape_of(&self, name: &str) -> &Shape {
        // from_json checked every reference.
        &self.shapes[name]
    }
}
