//! HTTP API (v2) parameter mapping: an integration's `RequestParameters`
//! (`append:`/`overwrite:`/`remove:` of `header.<name>` and `querystring.<name>`, and
//! `overwrite:path`) and `ResponseParameters` by status code (`header.<name>` and
//! `overwrite:statuscode`). Values are literals mixed with `$request.header.<name>`,
//! `$request.querystring.<name>`, `$request.path.<name>`, `$request.path`, `$request.body.<path>`,
//! `$context.<name>`, `$stageVariables.<name>` and, in responses, `$response.header.<name>`,
//! `$response.body.<path>`.

use std::sync::OnceLock;

use nimbus_core::HttpResponse;
use regex::Regex;
use serde_json::Value;

/// What mapping expressions can read.
pub struct Sources<'a> {
    pub headers: &'a [(String, String)],
    pub query: &'a [(String, String)],
    pub path: &'a str,
    pub path_params: &'a serde_json::Map<String, Value>,
    pub body: &'a [u8],
    pub context: &'a Value,
    pub variables: &'a Value,
    /// The integration's answer, for response mappings.
    pub response: Option<(&'a [(String, String)], &'a [u8])>,
}

fn expression() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"\$(?:request\.(?:header|querystring|path|body)(?:\.[A-Za-z0-9_\-\[\]]+)*|request\.path|response\.(?:header|body)(?:\.[A-Za-z0-9_\-\[\]]+)+|context(?:\.[A-Za-z0-9_\-]+)+|stageVariables\.[A-Za-z0-9_\-]+)",
        )
        .expect("mapping expression pattern")
    })
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
}

/// `a.b[0].c` in a JSON document, as text (strings bare, other values as JSON).
fn json_path(body: &[u8], path: &str) -> Option<String> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    let mut cur = &doc;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            cur = cur.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(match cur {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn lookup(expr: &str, s: &Sources) -> String {
    let body_path = |rest: &str, body: &[u8]| json_path(body, rest).unwrap_or_default();
    if let Some(name) = expr.strip_prefix("$request.header.") {
        return header(s.headers, name).join(",");
    }
    if let Some(name) = expr.strip_prefix("$request.querystring.") {
        let values: Vec<&str> = s.query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect();
        return values.join(",");
    }
    if let Some(name) = expr.strip_prefix("$request.path.") {
        return s.path_params.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    }
    if expr == "$request.path" {
        return s.path.to_string();
    }
    if let Some(rest) = expr.strip_prefix("$request.body") {
        return body_path(rest, s.body);
    }
    if let Some(name) = expr.strip_prefix("$response.header.") {
        return s.response.map(|(h, _)| header(h, name).join(",")).unwrap_or_default();
    }
    if let Some(rest) = expr.strip_prefix("$response.body") {
        return s.response.map(|(_, b)| body_path(rest, b)).unwrap_or_default();
    }
    if let Some(name) = expr.strip_prefix("$stageVariables.") {
        return s.variables[name].as_str().unwrap_or_default().to_string();
    }
    if let Some(rest) = expr.strip_prefix("$context.") {
        let value = rest.split('.').try_fold(s.context, |v, p| v.get(p));
        return match value {
            Some(Value::String(v)) => v.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
    }
    String::new()
}

/// A mapping value with its expressions replaced.
pub fn render(value: &str, s: &Sources) -> String {
    expression().replace_all(value, |c: &regex::Captures| lookup(&c[0], s)).into_owned()
}

/// A request as an HTTP integration will receive it.
pub struct Mapped {
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub path: Option<String>,
}

/// Headers API Gateway does not let a mapping touch.
fn reserved(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "connection" | "content-length" | "host" | "transfer-encoding" | "upgrade" | "expect" | "te" | "trailer"
    ) || n.starts_with("x-amzn-")
        || n.starts_with("apigw-")
}

/// Apply an integration's `RequestParameters` to the request's headers, query string and path.
pub fn map_request(parameters: &Value, s: &Sources) -> Mapped {
    let mut out = Mapped { headers: s.headers.to_vec(), query: s.query.to_vec(), path: None };
    for (key, value) in parameters.as_object().into_iter().flatten() {
        let Some((action, target)) = key.split_once(':') else { continue };
        let value = render(value.as_str().unwrap_or_default(), s);
        if target == "path" {
            if action == "overwrite" {
                out.path = Some(if value.starts_with('/') { value } else { format!("/{value}") });
            }
            continue;
        }
        let Some((place, name)) = target.split_once('.') else { continue };
        let list = match place {
            "header" if !reserved(name) => &mut out.headers,
            "querystring" => &mut out.query,
            _ => continue,
        };
        let same = |k: &String| if place == "header" { k.eq_ignore_ascii_case(name) } else { k == name };
        match action {
            "remove" => list.retain(|(k, _)| !same(k)),
            "overwrite" => {
                list.retain(|(k, _)| !same(k));
                list.push((name.to_string(), value));
            }
            "append" => list.push((name.to_string(), value)),
            _ => {}
        }
    }
    out
}

/// Apply the integration's `ResponseParameters` for the answer's status code.
pub fn map_response(parameters: &Value, response: &mut HttpResponse, s: &Sources) {
    let Some(for_status) = parameters.get(response.status.to_string()).and_then(Value::as_object) else { return };
    for (key, value) in for_status {
        let Some((action, target)) = key.split_once(':') else { continue };
        let value = render(value.as_str().unwrap_or_default(), s);
        if target == "statuscode" {
            if action == "overwrite" {
                if let Ok(code) = value.trim().parse::<u16>() {
                    if (100..600).contains(&code) {
                        response.status = code;
                    }
                }
            }
            continue;
        }
        let Some(name) = target.strip_prefix("header.") else { continue };
        if reserved(name) || http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            continue;
        }
        match action {
            "remove" => response.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name)),
            "overwrite" => {
                response.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
                if http::HeaderValue::from_str(&value).is_ok() {
                    response.headers.push((name.to_string(), value));
                }
            }
            "append" => {
                if http::HeaderValue::from_str(&value).is_ok() {
                    response.headers.push((name.to_string(), value));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_and_responses_are_mapped() {
        let headers = vec![("x-a".to_string(), "1".to_string()), ("x-gone".to_string(), "g".to_string())];
        let query = vec![("q".to_string(), "v".to_string())];
        let params = json!({"id": "42"}).as_object().unwrap().clone();
        let context = json!({"requestId": "r-1", "authorizer": {"claims": {"sub": "u"}}});
        let s = Sources {
            headers: &headers,
            query: &query,
            path: "/items/42",
            path_params: &params,
            body: br#"{"user": {"name": "ann", "tags": ["x", "y"]}}"#,
            context: &context,
            variables: &json!({"env": "prod"}),
            response: None,
        };
        assert_eq!(
            render("id=$request.path.id; $request.body.user.name; $request.body.user.tags[1]", &s),
            "id=42; ann; y"
        );
        assert_eq!(render("$context.authorizer.claims.sub@$stageVariables.env $context.requestId", &s), "u@prod r-1");
        let mapped = map_request(
            &json!({"append:header.x-a": "2", "overwrite:header.x-user": "$request.body.user.name",
                    "remove:header.x-gone": "''", "overwrite:querystring.q": "$request.header.x-a",
                    "append:querystring.from": "$request.path", "overwrite:path": "/v2$request.path",
                    "overwrite:header.host": "evil"}),
            &s,
        );
        assert_eq!(header(&mapped.headers, "x-a"), ["1", "2"]);
        assert_eq!(header(&mapped.headers, "x-user"), ["ann"]);
        assert!(header(&mapped.headers, "x-gone").is_empty());
        assert!(header(&mapped.headers, "host").is_empty());
        assert_eq!(mapped.query, [("q".to_string(), "1".to_string()), ("from".to_string(), "/items/42".to_string())]);
        assert_eq!(mapped.path.as_deref(), Some("/v2/items/42"));

        let up_headers = vec![("x-up".to_string(), "u".to_string())];
        let s = Sources { response: Some((&up_headers, br#"{"n": 3}"#)), ..s };
        let mut response = HttpResponse::new(200, "application/json", "{}".to_string()).with_header("x-drop", "d");
        map_response(
            &json!({"200": {"overwrite:statuscode": "201", "append:header.x-n": "$response.body.n",
                            "overwrite:header.x-from": "$response.header.x-up", "remove:header.x-drop": "''"},
                    "500": {"overwrite:statuscode": "503"}}),
            &mut response,
            &s,
        );
        assert_eq!(response.status, 201);
        assert_eq!(response.header("x-n"), Some("3"));
        assert_eq!(response.header("x-from"), Some("u"));
        assert_eq!(response.header("x-drop"), None);
    }
}
