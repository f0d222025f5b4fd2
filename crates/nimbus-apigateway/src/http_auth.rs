//! HTTP API (v2) route authorization: JWT authorizers (tokens verified against the issuer's
//! JWKS, found through its OpenID discovery document) and Lambda `REQUEST` authorizers
//! (payload format 1.0 and 2.0, simple and IAM-policy answers, results cached by identity).
//!
//! Answers as HTTP APIs give them: a missing or invalid token is `401 {"message":"Unauthorized"}`,
//! a token without the route's scopes or a denying authorizer is `403 {"message":"Forbidden"}`,
//! a failing authorizer function is `500 {"message":"Internal Server Error"}`.

use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use nimbus_core::delivery::Source;
use nimbus_core::invoke::Invocation;
use nimbus_core::{HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::serve::{self, function_of};
use crate::util::str_of;
use crate::ApiGateway;

/// How long an issuer's keys are kept (AWS caches them for two hours).
const JWKS_TTL_MILLIS: i64 = 2 * 60 * 60 * 1000;

/// What an authorizer let through, for `requestContext.authorizer` of the integration's event.
#[derive(Debug, Clone, PartialEq)]
pub enum Authorized {
    None,
    Jwt { claims: Map<String, Value>, scopes: Option<Vec<String>> },
    Lambda { context: Map<String, Value>, principal_id: Option<Value> },
}

impl Authorized {
    /// `requestContext.authorizer` in payload format 2.0 (`None` when there is no authorizer).
    pub fn v2(&self) -> Option<Value> {
        match self {
            Authorized::None => None,
            Authorized::Jwt { claims, scopes } => Some(json!({"jwt": {"claims": claims, "scopes": scopes}})),
            Authorized::Lambda { context, .. } => Some(json!({"lambda": context})),
        }
    }

    /// `requestContext.authorizer` in payload format 1.0.
    pub fn v1(&self) -> Option<Value> {
        match self {
            Authorized::None => None,
            Authorized::Jwt { claims, scopes } => Some(json!({"claims": claims, "scopes": scopes})),
            Authorized::Lambda { context, principal_id } => {
                let mut out = json!({"lambda": context});
                if let Some(p) = principal_id {
                    out["principalId"] = p.clone();
                }
                Some(out)
            }
        }
    }
}

pub fn unauthorized() -> HttpResponse {
    HttpResponse::json(401, &json!({"message": "Unauthorized"}))
}

pub fn forbidden() -> HttpResponse {
    HttpResponse::json(403, &json!({"message": "Forbidden"}))
}

fn internal_error() -> HttpResponse {
    HttpResponse::json(500, &json!({"message": "Internal Server Error"}))
}

/// What authorization needs to know about the matched route.
pub struct RouteAuth<'a> {
    pub api_id: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub variables: &'a Value,
    /// `arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`.
    pub route_arn: String,
    /// `AuthorizationScopes` of the route.
    pub scopes: Vec<String>,
    pub path_params: &'a Map<String, Value>,
    pub stage: &'a str,
}

/// The value of one identity source (`$request.header.X`, `$request.querystring.X`,
/// `$context.X`, `$stageVariables.X`); `None` when absent or empty.
pub fn identity_value(req: &HttpRequest, route: &RouteAuth, source: &str) -> Option<String> {
    let source = source.trim();
    let value = if let Some(h) = source.strip_prefix("$request.header.") {
        let values: Vec<String> = req
            .headers
            .get_all(h.to_ascii_lowercase().as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    } else if let Some(q) = source.strip_prefix("$request.querystring.") {
        let values: Vec<&str> = req.query.iter().filter(|(k, _)| k == q).map(|(_, v)| v.as_str()).collect();
        (!values.is_empty()).then(|| values.join(","))
    } else if let Some(v) = source.strip_prefix("$stageVariables.") {
        route.variables[v].as_str().map(str::to_string)
    } else if let Some(c) = source.strip_prefix("$context.") {
        match c {
            "stage" => Some(route.stage.to_string()),
            "apiId" => Some(route.api_id.to_string()),
            "accountId" => Some(route.account.to_string()),
            "httpMethod" => Some(req.method.as_str().to_string()),
            _ => None,
        }
    } else if let Some(p) = source.strip_prefix("$request.path.") {
        route.path_params.get(p).and_then(Value::as_str).map(str::to_string)
    } else {
        None
    };
    value.filter(|v| !v.is_empty())
}

fn identity_sources(authorizer: &Value) -> Vec<String> {
    match &authorizer["IdentitySource"] {
        Value::Array(list) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Value::String(s) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// JWT authorizers

/// A claim as HTTP APIs hand it to integrations: strings as they are, everything else in its
/// text form (`[a b]` for a list, as AWS flattens them).
fn claim_text(value: &Value) -> Value {
    match value {
        Value::String(_) => value.clone(),
        Value::Array(list) => {
            let parts: Vec<String> =
                list.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect();
            Value::String(format!("[{}]", parts.join(" ")))
        }
        Value::Number(n) => Value::String(match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        }),
        Value::Null => Value::Null,
        other => Value::String(other.to_string()),
    }
}

/// The token's scopes (`scope`, space-separated, or `scp`, a list or a string).
fn token_scopes(claims: &Map<String, Value>) -> Option<Vec<String>> {
    let from = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
            Value::Array(list) => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        }
    };
    claims.get("scope").or_else(|| claims.get("scp")).map(from)
}

async fn get_json(url: &str) -> Result<Value, String> {
    let up =
        serve::http_call("GET", url, &[("Accept".into(), "application/json".into())], b"", Duration::from_secs(10))
            .await?;
    if up.status != 200 {
        return Err(format!("{url} answered {}", up.status));
    }
    serde_json::from_slice(&up.body).map_err(|e| format!("{url} is not JSON: {e}"))
}

/// The issuer's keys: `<issuer>/.well-known/openid-configuration` → `jwks_uri` → its `keys`.
async fn fetch_jwks(issuer: &str) -> Result<Vec<Value>, String> {
    let discovery = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let config = get_json(&discovery).await?;
    let jwks_uri = str_of(&config, "jwks_uri").ok_or_else(|| format!("{discovery} has no jwks_uri"))?;
    let jwks = get_json(jwks_uri).await?;
    Ok(jwks["keys"].as_array().cloned().unwrap_or_default())
}

async fn issuer_keys(gw: &ApiGateway, issuer: &str, refresh: bool) -> Result<Vec<Value>, String> {
    let now = gw.clock.now_millis();
    if !refresh {
        if let Some((until, keys)) = gw.jwks_cache.lock().get(issuer) {
            if *until > now {
                return Ok(keys.clone());
            }
        }
    }
    let keys = fetch_jwks(issuer).await?;
    gw.jwks_cache.lock().insert(issuer.to_string(), (now + JWKS_TTL_MILLIS, keys.clone()));
    Ok(keys)
}

fn find_key(keys: &[Value], kid: Option<&str>) -> Option<Jwk> {
    keys.iter()
        .filter(|k| kid.is_none() || str_of(k, "kid") == kid)
        .find_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
}

/// Why a token was refused: `Unauthorized` (401) or `Forbidden` (403, missing scopes).
#[derive(Debug, PartialEq, Eq)]
pub enum JwtRefusal {
    Unauthorized(String),
    Forbidden,
}

/// Check a token's claims (after its signature) as AWS does: `iss`, `aud` or `client_id`,
/// `exp`, `nbf`, `iat` against nimbus's clock, then the route's scopes.
pub fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    audience: &[String],
    route_scopes: &[String],
    now_secs: i64,
) -> Result<(), JwtRefusal> {
    let refuse = |why: &str| Err(JwtRefusal::Unauthorized(why.to_string()));
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return refuse("the token does not have a valid issuer");
    }
    if !audience.is_empty() {
        let mut given: Vec<&str> = match claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if let Some(client) = claims.get("client_id").and_then(Value::as_str) {
            given.push(client);
        }
        if !given.iter().any(|g| audience.iter().any(|a| a == g)) {
            return refuse("the token does not have a valid audience");
        }
    }
    let number = |k: &str| claims.get(k).and_then(Value::as_f64);
    match number("exp") {
        Some(exp) if (now_secs as f64) < exp => {}
        Some(_) => return refuse("the token has expired"),
        None => return refuse("the token has no exp claim"),
    }
    if number("nbf").is_some_and(|nbf| nbf > now_secs as f64) {
        return refuse("the token is not valid yet");
    }
    if number("iat").is_some_and(|iat| iat > now_secs as f64) {
        return refuse("the token was issued in the future");
    }
    if !route_scopes.is_empty() {
        let scopes = token_scopes(claims).unwrap_or_default();
        if !scopes.iter().any(|s| route_scopes.contains(s)) {
            return Err(JwtRefusal::Forbidden);
        }
    }
    Ok(())
}

const RSA_ALGORITHMS: [Algorithm; 6] =
    [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512];

pub async fn jwt(
    gw: &ApiGateway,
    req: &HttpRequest,
    route: &RouteAuth<'_>,
    authorizer: &Value,
) -> Result<Authorized, HttpResponse> {
    let sources = identity_sources(authorizer);
    let source = sources.first().map_or("$request.header.Authorization", String::as_str);
    let Some(raw) = identity_value(req, route, source) else { return Err(unauthorized()) };
    let token = raw.strip_prefix("Bearer ").or_else(|| raw.strip_prefix("bearer ")).unwrap_or(&raw).trim();
    let refuse = |why: &str| {
        tracing::info!(api = route.api_id, reason = why, "HTTP API JWT authorizer refused the token");
        unauthorized()
    };
    let Ok(header) = jsonwebtoken::decode_header(token) else { return Err(refuse("the token is not a JWT")) };
    if !RSA_ALGORITHMS.contains(&header.alg) {
        return Err(refuse(&format!("signing method {:?} is invalid (only RSA algorithms are supported)", header.alg)));
    }
    let config = &authorizer["JwtConfiguration"];
    let issuer = str_of(config, "Issuer").unwrap_or_default();
    let audience: Vec<String> =
        config["Audience"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
    let kid = header.kid.as_deref();
    let mut key = None;
    for refresh in [false, true] {
        match issuer_keys(gw, issuer, refresh).await {
            Ok(keys) => {
                key = find_key(&keys, kid);
                if key.is_some() {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(api = route.api_id, issuer, error = %e, "HTTP API JWT authorizer could not fetch the issuer's keys");
                return Err(unauthorized());
            }
        }
    }
    let Some(jwk) = key else { return Err(refuse("no key of the issuer matches the token's kid")) };
    let Ok(decoding) = DecodingKey::from_jwk(&jwk) else { return Err(refuse("the issuer's key is not usable")) };
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = match jsonwebtoken::decode::<Map<String, Value>>(token, &decoding, &validation) {
        Ok(data) => data.claims,
        Err(e) => return Err(refuse(&e.to_string())),
    };
    let now_secs = gw.clock.now_millis().div_euclid(1000);
    match check_claims(&claims, issuer, &audience, &route.scopes, now_secs) {
        Ok(()) => {}
        Err(JwtRefusal::Unauthorized(why)) => return Err(refuse(&why)),
        Err(JwtRefusal::Forbidden) => return Err(forbidden()),
    }
    let scopes = token_scopes(&claims);
    let claims = claims.iter().map(|(k, v)| (k.clone(), claim_text(v))).collect();
    Ok(Authorized::Jwt { claims, scopes })
}

// ---------------------------------------------------------------------------------------------
// Lambda authorizers

/// Run a Lambda `REQUEST` authorizer. `event_v1` / `event_v2` are the integration events of the
/// request (payload 1.0 / 2.0), which the authorizer events are built from.
pub async fn lambda(
    gw: &ApiGateway,
    req: &HttpRequest,
    route: &RouteAuth<'_>,
    authorizer: &Value,
    event_v1: impl FnOnce() -> Value,
    event_v2: impl FnOnce() -> Value,
) -> Result<Authorized, HttpResponse> {
    let authorizer_id = str_of(authorizer, "AuthorizerId").unwrap_or_default();
    let version = str_of(authorizer, "AuthorizerPayloadFormatVersion").unwrap_or("2.0");
    let simple = version == "2.0" && authorizer["EnableSimpleResponses"] == true;
    let sources = identity_sources(authorizer);
    let mut identity = Vec::new();
    for source in &sources {
        match identity_value(req, route, source) {
            Some(v) => identity.push(v),
            None => return Err(unauthorized()),
        }
    }
    let ttl = authorizer["AuthorizerResultTtlInSeconds"].as_i64().unwrap_or(0).clamp(0, 3600);
    let cache_key = (ttl > 0 && !identity.is_empty())
        .then(|| format!("v2/{}/{authorizer_id}/{}", route.api_id, identity.join(",")));
    let now = gw.clock.now_millis();
    let cached = cache_key
        .as_ref()
        .and_then(|k| gw.authorizer_cache.lock().get(k).filter(|(until, _)| *until > now).map(|(_, v)| v.clone()));
    let answer = match cached {
        Some(answer) => answer,
        None => {
            let event = if version == "1.0" {
                let mut event = event_v1();
                let joined = identity.join(",");
                if let Some(o) = event.as_object_mut() {
                    o.remove("body");
                    o.remove("isBase64Encoded");
                }
                event["type"] = json!("REQUEST");
                event["methodArn"] = json!(route.route_arn);
                event["identitySource"] = json!(joined);
                event["authorizationToken"] = json!(joined);
                event
            } else {
                let mut event = event_v2();
                if let Some(o) = event.as_object_mut() {
                    o.remove("body");
                    o.remove("isBase64Encoded");
                }
                event["type"] = json!("REQUEST");
                event["routeArn"] = json!(route.route_arn);
                event["identitySource"] = json!(identity);
                event
            };
            let answer = invoke(gw, route, authorizer, event).await?;
            if let Some(key) = cache_key {
                gw.authorizer_cache.lock().insert(key, (now + ttl * 1000, answer.clone()));
            }
            answer
        }
    };
    let context = answer["context"].as_object().cloned().unwrap_or_default();
    if simple {
        return match answer.get("isAuthorized") {
            Some(Value::Bool(true)) => Ok(Authorized::Lambda { context, principal_id: None }),
            Some(Value::Bool(false)) => Err(forbidden()),
            _ => {
                tracing::warn!(
                    api = route.api_id,
                    "HTTP API Lambda authorizer answered without a boolean isAuthorized"
                );
                Err(internal_error())
            }
        };
    }
    if !answer["policyDocument"].is_object() {
        tracing::warn!(api = route.api_id, "HTTP API Lambda authorizer answered without a policyDocument");
        return Err(internal_error());
    }
    match crate::rest::evaluate(&answer["policyDocument"], &route.route_arn) {
        Some(true) => Ok(Authorized::Lambda { context, principal_id: answer.get("principalId").cloned() }),
        _ => Err(forbidden()),
    }
}

/// Invoke the authorizer's function; its answer, or the response to send.
async fn invoke(
    gw: &ApiGateway,
    route: &RouteAuth<'_>,
    authorizer: &Value,
    event: Value,
) -> Result<Value, HttpResponse> {
    let Some(invoker) = gw.invoker.read().clone() else { return Err(internal_error()) };
    let Some(function) = function_of(str_of(authorizer, "AuthorizerUri").unwrap_or_default(), route.variables) else {
        return Err(internal_error());
    };
    let authorizer_id = str_of(authorizer, "AuthorizerId").unwrap_or_default();
    let call = Invocation {
        account: nimbus_core::arn::Arn::parse(&function)
            .map(|a| a.account)
            .filter(|a| !a.is_empty())
            .unwrap_or(route.account.to_string()),
        region: route.region.to_string(),
        function,
        payload: event.to_string().into_bytes(),
        source: Source {
            principal: "apigateway.amazonaws.com".into(),
            source_arn: Some(format!(
                "arn:aws:execute-api:{}:{}:{}/authorizers/{authorizer_id}",
                route.region, route.account, route.api_id
            )),
            source_account: Some(route.account.to_string()),
        },
    };
    match tokio::time::timeout(Duration::from_secs(10), invoker.invoke(call)).await {
        Err(_) => Err(internal_error()),
        Ok(Err(err)) => {
            tracing::warn!(code = %err.code, message = %err.message, "HTTP API could not invoke the authorizer's function");
            Err(internal_error())
        }
        Ok(Ok(result)) => {
            let body: Value = serde_json::from_slice(&result.payload).unwrap_or(Value::Null);
            if result.function_error.is_some() {
                if body["errorMessage"] == "Unauthorized" {
                    return Err(unauthorized());
                }
                return Err(internal_error());
            }
            if !body.is_object() {
                return Err(internal_error());
            }
            Ok(body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn claims_are_checked_like_aws() {
        let iss = "http://issuer.test";
        let aud = vec!["app".to_string()];
        let ok = claims(json!({"iss": iss, "aud": "app", "exp": 2000, "nbf": 900, "iat": 900, "scope": "read write"}));
        assert_eq!(check_claims(&ok, iss, &aud, &[], 1000), Ok(()));
        assert_eq!(check_claims(&ok, iss, &aud, &["write".into()], 1000), Ok(()));
        assert_eq!(check_claims(&ok, iss, &aud, &["admin".into()], 1000), Err(JwtRefusal::Forbidden));
        assert!(matches!(check_claims(&ok, iss, &aud, &[], 2000), Err(JwtRefusal::Unauthorized(_))));
        assert!(matches!(check_claims(&ok, iss, &aud, &[], 899), Err(JwtRefusal::Unauthorized(_))));
        assert!(matches!(check_claims(&ok, "http://other", &aud, &[], 1000), Err(JwtRefusal::Unauthorized(_))));
        assert!(matches!(check_claims(&ok, iss, &["other".into()], &[], 1000), Err(JwtRefusal::Unauthorized(_))));
        // Cognito access tokens carry `client_id` instead of `aud`; `scp` lists work too.
        let cognito = claims(json!({"iss": iss, "client_id": "app", "exp": 2000, "scp": ["admin"]}));
        assert_eq!(check_claims(&cognito, iss, &aud, &["admin".into()], 1000), Ok(()));
        let no_exp = claims(json!({"iss": iss, "aud": "app"}));
        assert!(matches!(check_claims(&no_exp, iss, &aud, &[], 1000), Err(JwtRefusal::Unauthorized(_))));
    }

    #[test]
    fn claims_reach_integrations_as_text() {
        assert_eq!(claim_text(&json!(1700000000)), json!("1700000000"));
        assert_eq!(claim_text(&json!(["a", "b"])), json!("[a b]"));
        assert_eq!(claim_text(&json!(true)), json!("true"));
        assert_eq!(claim_text(&json!("x")), json!("x"));
    }
}
