//! What both data planes share: where a request is addressed, Lambda integration URIs, the
//! HTTP/1.1 client of HTTP integrations, header and query helpers.

use nimbus_core::HttpRequest;
use serde_json::{Map, Value};

/// The path form that needs no special host name (as LocalStack spells it).
pub const USER_REQUEST: &str = "/_user_request_";

/// Which API a data-plane request is for, and the path after the API's own address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub api_id: String,
    /// The path form names the stage; the host form leaves it in `path` (v2's `$default` stage
    /// has no path segment).
    pub stage: Option<String>,
    pub path: String,
}

/// `http://<id>.execute-api.<region>.localhost:<port>/<stage>/…` or
/// `http://127.0.0.1:<port>/restapis/<id>/<stage>/_user_request_/…`.
pub fn address(req: &HttpRequest) -> Option<Address> {
    if let Some(rest) = req.path.strip_prefix("/restapis/") {
        let (before, after) = rest.split_once(USER_REQUEST)?;
        let (id, stage) = before.split_once('/')?;
        if id.is_empty() || stage.is_empty() || stage.contains('/') {
            return None;
        }
        let path = if after.is_empty() { "/".to_string() } else { after.to_string() };
        return Some(Address { api_id: id.to_string(), stage: Some(decode(stage)), path });
    }
    let host = req.header("host")?;
    let mut labels = host.split('.');
    let id = labels.next()?;
    (labels.next()? == "execute-api").then(|| Address { api_id: id.to_string(), stage: None, path: req.path.clone() })
}

pub fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The function ARN in a Lambda integration URI
/// (`arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<arn>/invocations`), or the
/// URI itself when it is a function ARN already; stage variables substituted.
pub fn function_of(uri: &str, variables: &Value) -> Option<String> {
    let uri = substitute_stage_variables(uri, variables);
    let arn = match uri.split_once("/functions/") {
        Some((_, rest)) => rest.strip_suffix("/invocations").unwrap_or(rest).to_string(),
        None if uri.starts_with("arn:aws:lambda:") => uri,
        None => return None,
    };
    Some(arn)
}

pub fn substitute_stage_variables(text: &str, variables: &Value) -> String {
    let mut out = text.to_string();
    for (k, v) in variables.as_object().into_iter().flatten() {
        out = out.replace(&format!("${{stageVariables.{k}}}"), v.as_str().unwrap_or_default());
    }
    out
}

/// Header names lower-cased → last value, and → every value (v1's `multiValueHeaders`).
pub fn headers(req: &HttpRequest) -> (Map<String, Value>, Map<String, Value>) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in &req.headers {
        let value = Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned());
        single.insert(name.as_str().to_string(), value.clone());
        match multi.get_mut(name.as_str()) {
            Some(Value::Array(list)) => list.push(value),
            _ => {
                multi.insert(name.as_str().to_string(), Value::Array(vec![value]));
            }
        }
    }
    (single, multi)
}

/// Whether a request's content type (or an answer's accepted types) is one of the API's binary
/// media types (`*/*` and `image/*` wildcards as AWS allows).
pub fn is_binary(binary_media_types: &Value, content_type: &str) -> bool {
    let wanted: Vec<&str> = content_type.split(',').map(|t| t.split(';').next().unwrap_or("").trim()).collect();
    binary_media_types.as_array().into_iter().flatten().filter_map(Value::as_str).any(|t| {
        wanted.iter().any(|w| {
            !w.is_empty()
                && (t == "*/*"
                    || t.eq_ignore_ascii_case(w)
                    || t.strip_suffix("/*").is_some_and(|major| w.split('/').next() == Some(major)))
        })
    })
}

pub use nimbus_core::outbound::{http_call, Upstream};

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str, host: &str) -> HttpRequest {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", host.parse().unwrap());
        HttpRequest { method: http::Method::GET, path: path.into(), query: vec![], headers, body: Default::default() }
    }

    #[test]
    fn both_address_forms() {
        assert_eq!(
            address(&req("/restapis/abc123/dev/_user_request_/items/1", "127.0.0.1:4566")),
            Some(Address { api_id: "abc123".into(), stage: Some("dev".into()), path: "/items/1".into() })
        );
        assert_eq!(
            address(&req("/dev/items", "abc123.execute-api.us-east-1.localhost:4566")),
            Some(Address { api_id: "abc123".into(), stage: None, path: "/dev/items".into() })
        );
        assert_eq!(address(&req("/restapis/abc123/resources", "127.0.0.1")), None);
        assert_eq!(
            function_of(
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:${stageVariables.fn}/invocations",
                &serde_json::json!({"fn": "f"})
            ),
            Some("arn:aws:lambda:us-east-1:000000000000:function:f".into())
        );
        assert!(is_binary(&serde_json::json!(["image/*"]), "image/png"));
        assert!(!is_binary(&serde_json::json!(["image/png"]), "application/json"));
    }
}
