//! Resource providers: for each resource type, how its properties become calls to the owning
//! service's public API (create, update in place, delete), which property changes force a
//! replacement (from AWS's resource specification), and what `Ref` and `Fn::GetAtt` answer.

mod apigateway;
mod dynamodb;
mod ecr;
mod events;
mod iam;
mod kinesis;
mod kms;
mod lambda;
mod logs;
mod misc;
mod nested;
mod s3;
mod scheduler;
mod secrets;
mod sns;
mod sqs;
mod ssm;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use nimbus_core::service::BoxFuture;
use rand::Rng;
use serde_json::{Map, Value};

use crate::api::{Api, ApiError};
use crate::state::Resource;

/// What a provider needs to know about the resource it works on.
#[derive(Clone)]
pub struct Cx {
    pub api: Api,
    pub stack_name: String,
    pub stack_id: String,
    pub logical_id: String,
    pub resource_type: String,
    /// Stack tags, propagated to resources that take tags.
    pub tags: Vec<(String, String)>,
    /// Base URL of nimbus as the outside sees it (for ResponseURLs and the like).
    pub endpoint: String,
}

impl Cx {
    /// AWS's generated physical name: `{stack}-{logicalId}-{RANDOM}`, shortened to `max`.
    pub fn generated_name(&self, max: usize) -> String {
        let suffix = random_suffix(12);
        let room = max.saturating_sub(suffix.len() + 2);
        let mut stack: String = self.stack_name.clone();
        let mut logical: String = self.logical_id.clone();
        while stack.len() + logical.len() > room {
            if stack.len() >= logical.len() && !stack.is_empty() {
                stack.pop();
            } else {
                logical.pop();
            }
        }
        format!("{stack}-{logical}-{suffix}")
    }

    pub fn tag_list(&self, props: &Value) -> Vec<(String, String)> {
        let mut tags: BTreeMap<String, String> = self.tags.iter().cloned().collect();
        if let Some(items) = props.get("Tags").and_then(Value::as_array) {
            for t in items {
                if let (Some(k), Some(v)) = (t.get("Key").and_then(Value::as_str), t.get("Value")) {
                    tags.insert(k.to_string(), crate::eval::text_of(v).unwrap_or_default());
                }
            }
        } else if let Some(map) = props.get("Tags").and_then(Value::as_object) {
            for (k, v) in map {
                tags.insert(k.clone(), crate::eval::text_of(v).unwrap_or_default());
            }
        }
        tags.into_iter().collect()
    }
}

pub fn random_suffix(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

/// A created (or updated) resource: its physical id and what `Ref`/`Fn::GetAtt` answer.
#[derive(Debug, Clone, Default)]
pub struct Created {
    pub physical_id: String,
    pub ref_value: Value,
    pub attributes: Map<String, Value>,
}

impl Created {
    pub fn named(physical_id: impl Into<String>) -> Created {
        let physical_id = physical_id.into();
        Created { ref_value: Value::String(physical_id.clone()), physical_id, attributes: Map::new() }
    }

    pub fn attr(mut self, name: &str, value: impl Into<Value>) -> Created {
        self.attributes.insert(name.to_string(), value.into());
        self
    }
}

pub type Outcome = Result<Created, String>;
pub type CreateFn = fn(Cx, Value) -> BoxFuture<'static, Outcome>;
pub type UpdateFn = fn(Cx, Resource, Value) -> BoxFuture<'static, Outcome>;
pub type DeleteFn = fn(Cx, Resource) -> BoxFuture<'static, Result<(), String>>;

pub struct Spec {
    pub type_name: &'static str,
    /// Properties whose change replaces the resource; `["*"]`: every change does.
    pub replace_on: &'static [&'static str],
    pub create: CreateFn,
    /// `None`: the type has no in-place update, every change replaces it.
    pub update: Option<UpdateFn>,
    pub delete: DeleteFn,
    /// The property naming the resource (a custom name cannot be replaced in place).
    pub name_property: Option<&'static str>,
}

impl Spec {
    /// Whether changing `old` into `new` replaces the resource.
    pub fn replaces(&self, old: &Value, new: &Value) -> bool {
        if self.update.is_none() || self.replace_on.contains(&"*") {
            return true;
        }
        self.replace_on.iter().any(|p| old.get(*p) != new.get(*p))
    }

    pub fn requires_recreation(&self, property: &str) -> &'static str {
        if self.update.is_none() || self.replace_on.contains(&"*") || self.replace_on.contains(&property) {
            "Always"
        } else {
            "Never"
        }
    }
}

fn registry() -> &'static BTreeMap<&'static str, Spec> {
    static REGISTRY: OnceLock<BTreeMap<&'static str, Spec>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut all = Vec::new();
        all.extend(sqs::specs());
        all.extend(lambda::specs());
        all.extend(iam::specs());
        all.extend(dynamodb::specs());
        all.extend(logs::specs());
        all.extend(misc::specs());
        all.extend(ecr::specs());
        all.extend(s3::specs());
        all.extend(ssm::specs());
        all.extend(sns::specs());
        all.extend(events::specs());
        all.extend(scheduler::specs());
        all.extend(apigateway::specs());
        all.extend(kinesis::specs());
        all.extend(secrets::specs());
        all.extend(kms::specs());
        all.extend(nested::specs());
        all.extend(crate::custom::specs());
        all.into_iter().map(|s| (s.type_name, s)).collect()
    })
}

/// The provider of a resource type; custom resources (`Custom::*`) share one.
pub fn spec(type_name: &str) -> Option<&'static Spec> {
    let key = if type_name.starts_with("Custom::") { "AWS::CloudFormation::CustomResource" } else { type_name };
    registry().get(key)
}

/// A failed call, in the words CloudFormation's resource events use.
pub fn failure(err: &ApiError) -> String {
    let handler_code = match err.code.as_str() {
        c if c.contains("AlreadyExist") || c.contains("Conflict") || c == "ResourceInUseException" => "AlreadyExists",
        c if c.contains("NotFound") || c == "NoSuchEntity" || c.starts_with("NonExistent") || c == "NoSuchBucket" => {
            "NotFound"
        }
        "NotImplemented" => "NotStabilized",
        c if c.contains("Validation") || c.contains("InvalidParameter") || c.contains("InvalidRequest") => {
            "InvalidRequest"
        }
        "AccessDenied" | "AccessDeniedException" => "AccessDenied",
        _ => "GeneralServiceException",
    };
    let token = uuid::Uuid::new_v4();
    let message = if err.message.is_empty() { err.code.clone() } else { err.message.clone() };
    format!(
        "Resource handler returned message: \"{message}\" (RequestToken: {token}, HandlerErrorCode: {handler_code})"
    )
}

/// Whether a delete failed only because the resource is already gone.
pub fn gone(err: &ApiError) -> bool {
    err.status == 404
        || err.code.contains("NotFound")
        || err.code == "NoSuchEntity"
        || err.code == "AWS.SimpleQueueService.NonExistentQueue"
        || err.code == "QueueDoesNotExist"
        || err.code == "NoSuchBucket"
}

/// Deletes that tolerate an already-deleted resource.
pub fn tolerate_gone(r: Result<(), ApiError>) -> Result<(), String> {
    match r {
        Err(e) if !gone(&e) => Err(failure(&e)),
        _ => Ok(()),
    }
}

/// A string property, or a required-property failure.
pub fn required<'a>(props: &'a Value, name: &str) -> Result<&'a Value, String> {
    props
        .get(name)
        .ok_or_else(|| format!("Properties validation failed for resource: #: required key [{name}] not found"))
}

pub fn str_prop(props: &Value, name: &str) -> Option<String> {
    props.get(name).and_then(crate::eval::text_of)
}

/// A JSON document property as the string APIs take (policies given inline as objects).
pub fn doc_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Numbers and booleans templates give as strings (parameters are strings), converted for
/// the named members, at any depth.
pub fn coerce(v: &mut Value, numbers: &[&str], booleans: &[&str]) {
    match v {
        Value::Object(o) => {
            for (k, item) in o.iter_mut() {
                if let Value::String(s) = item {
                    if numbers.contains(&k.as_str()) {
                        if let Ok(n) = s.parse::<i64>() {
                            *item = Value::from(n);
                        } else if let Some(n) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                            *item = Value::Number(n);
                        }
                        continue;
                    }
                    if booleans.contains(&k.as_str()) && (s == "true" || s == "false") {
                        *item = Value::Bool(s == "true");
                        continue;
                    }
                }
                coerce(item, numbers, booleans);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| coerce(i, numbers, booleans)),
        _ => {}
    }
}

/// Copy the listed members of `props` (those present) into a new object.
pub fn pick(props: &Value, names: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for n in names {
        if let Some(v) = props.get(*n) {
            out.insert((*n).to_string(), v.clone());
        }
    }
    out
}

/// Box an async provider function into the registry's function-pointer shape.
#[macro_export]
macro_rules! boxed {
    ($f:path) => {
        |cx, a| Box::pin($f(cx, a))
    };
    ($f:path, 3) => {
        |cx, r, p| Box::pin($f(cx, r, p))
    };
}
