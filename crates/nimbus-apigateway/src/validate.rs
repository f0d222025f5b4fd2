//! REST API request validation: a method's request validator checks its required
//! `requestParameters` (`BAD_REQUEST_PARAMETERS`) and its body against the `requestModels`
//! model, a JSON Schema draft 4 document (`BAD_REQUEST_BODY`), as API Gateway does.

use jsonschema::{Draft, Registry};
use nimbus_core::HttpRequest;
use serde_json::{Map, Value};

use crate::state::Docs;
use crate::util::str_of;

/// The names of the method's required parameters the request lacks (in the order of their
/// `method.request.*` keys).
pub fn missing_parameters(method: &Value, req: &HttpRequest, path_params: &Map<String, Value>) -> Vec<String> {
    let mut required: Vec<&String> = method["requestParameters"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| **v == true)
        .map(|(k, _)| k)
        .collect();
    required.sort();
    let mut missing = Vec::new();
    for key in required {
        let Some((place, name)) = key.strip_prefix("method.request.").and_then(|r| r.split_once('.')) else { continue };
        let present = match place {
            "header" => req.headers.contains_key(name.to_ascii_lowercase().as_str()),
            "querystring" => req.query.iter().any(|(k, _)| k == name),
            "path" => path_params.get(name).and_then(Value::as_str).is_some_and(|v| !v.is_empty()),
            _ => true,
        };
        if !present {
            missing.push(name.to_string());
        }
    }
    missing
}

/// A model's address in `$ref`s (`https://apigateway.amazonaws.com/restapis/<id>/models/<name>`).
pub fn model_uri(api_id: &str, name: &str) -> String {
    format!("https://apigateway.amazonaws.com/restapis/{api_id}/models/{name}")
}

/// API Gateway's `Empty` model, which every REST API starts with.
pub fn empty_schema() -> Value {
    serde_json::json!({"$schema": "http://json-schema.org/draft-04/schema#", "title": "Empty Schema", "type": "object"})
}

/// Whether the body satisfies the method's model for JSON (`application/json`, else
/// `$default`; none is the `Empty` model, an object). An empty body is validated as `{}`; a body that is
/// not JSON, or a model that cannot be compiled, is invalid.
pub fn body_is_valid(method: &Value, models: &Docs, api_id: &str, body: &[u8]) -> bool {
    let request_models = &method["requestModels"];
    let name =
        str_of(request_models, "application/json").or_else(|| str_of(request_models, "$default")).unwrap_or("Empty");
    let parse = |doc: &Value| str_of(doc, "schema").and_then(|s| serde_json::from_str::<Value>(s).ok());
    let schema = models.get(name).and_then(parse).or_else(|| (name == "Empty").then(empty_schema));
    let Some(schema) = schema else {
        tracing::warn!(
            api = api_id,
            model = name,
            "request validation: the method's model does not exist or is not JSON"
        );
        return false;
    };
    let instance: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => return false,
        }
    };
    let others: Vec<(String, Value)> =
        models.iter().filter_map(|(n, doc)| parse(doc).map(|s| (model_uri(api_id, n), s))).collect();
    let registry = match Registry::new().draft(Draft::Draft4).extend(others.iter().map(|(u, s)| (u.as_str(), s))) {
        Ok(builder) => builder.prepare(),
        Err(e) => Err(e),
    };
    let registry = match registry {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(api = api_id, model = name, error = %e, "request validation: the API's models do not resolve");
            return false;
        }
    };
    let validator = jsonschema::options()
        .with_draft(Draft::Draft4)
        .with_registry(&registry)
        .with_base_uri(model_uri(api_id, name))
        .build(&schema);
    match validator {
        Ok(v) => v.is_valid(&instance),
        Err(e) => {
            tracing::warn!(api = api_id, model = name, error = %e, "request validation: the model is not a usable schema");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn models() -> Docs {
        let mut docs = Docs::new();
        let pet = json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
                         "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1},
                         "owner": {"$ref": "https://apigateway.amazonaws.com/restapis/abc/models/Owner"}}});
        docs.insert("Pet".into(), json!({"name": "Pet", "schema": pet.to_string()}));
        let owner = json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}});
        docs.insert("Owner".into(), json!({"name": "Owner", "schema": owner.to_string()}));
        docs
    }

    #[test]
    fn bodies_are_checked_against_draft_4_models_with_refs() {
        let method = json!({"requestModels": {"application/json": "Pet"}});
        let m = models();
        assert!(body_is_valid(&method, &m, "abc", br#"{"name": "rex"}"#));
        assert!(body_is_valid(&method, &m, "abc", br#"{"name": "rex", "owner": {"id": 3}}"#));
        assert!(!body_is_valid(&method, &m, "abc", br#"{"name": "rex", "owner": {"id": "x"}}"#));
        assert!(!body_is_valid(&method, &m, "abc", br#"{"name": ""}"#));
        assert!(!body_is_valid(&method, &m, "abc", b""));
        assert!(!body_is_valid(&method, &m, "abc", b"not json"));
        assert!(body_is_valid(&json!({}), &m, "abc", br#"{"any": 1}"#));
        assert!(!body_is_valid(&json!({}), &m, "abc", b"[1]"));
        assert!(body_is_valid(&json!({"requestModels": {"application/json": "Empty"}}), &m, "abc", b""));
        assert!(!body_is_valid(&json!({"requestModels": {"application/json": "Nope"}}), &m, "abc", b"{}"));
    }
}
