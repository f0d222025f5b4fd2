//! Mapping templates (Velocity).

use serde_json::Value;

/// What a mapping template sees: `$input` (the body and the request parameters), `$context`
/// and `$stageVariables`.
#[derive(Clone)]
pub struct Input<'a> {
    pub body: String,
    /// `{"path": {}, "querystring": {}, "header": {}}`.
    pub params: Value,
    pub context: Value,
    pub stage_variables: Value,
    pub _marker: std::marker::PhantomData<&'a ()>,
}

pub fn render(template: &str, input: &Input) -> String {
    let body = if input.body.is_empty() { "{}" } else { input.body.as_str() };
    template.replace("$input.json('$')", body).replace("$input.body", &input.body)
}
