//! SigV4 signature verification, for the places where nimbus checks signatures (function URLs
//! with `AuthType=AWS_IAM`): canonical request, string to sign, the HMAC key chain, in the
//! `Authorization` header form and the presigned query-string form.
//!
//! Secrets: keys issued by nimbus's STS are checked against the secret (and session token) STS
//! handed out; any other key is checked against [`DEFAULT_SECRET`], the secret local AWS tooling
//! conventionally uses (`AWS_SECRET_ACCESS_KEY=test`).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use sha2::{Digest, Sha256};

use crate::http::HttpRequest;
use crate::identity::KeyRegistry;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The secret access key expected for access keys nimbus did not issue.
pub const DEFAULT_SECRET: &str = "test";
/// How far a request's date may be from the server's, as AWS allows.
pub const MAX_SKEW_MINUTES: i64 = 15;
/// The longest validity of a presigned request (`X-Amz-Expires`), seven days.
pub const MAX_EXPIRES_SECONDS: i64 = 604_800;

const AMZ_DATE: &str = "%Y%m%dT%H%M%SZ";

/// Why a request's signature was not accepted, with AWS's error type and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Not signed at all.
    Missing,
    /// Signed, but the signature parts are incomplete or malformed.
    Incomplete(String),
    /// The signature (or a signed value) does not match.
    Invalid(String),
    /// The session token is missing, unknown or wrong.
    InvalidToken,
    /// The temporary credentials have expired.
    ExpiredToken,
}

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your \
                        AWS Secret Access Key and signing method. Consult the service documentation for details.";

impl Failure {
    pub fn error_type(&self) -> &'static str {
        match self {
            Failure::Missing => "MissingAuthenticationTokenException",
            Failure::Incomplete(_) => "IncompleteSignatureException",
            Failure::Invalid(_) => "InvalidSignatureException",
            Failure::InvalidToken => "UnrecognizedClientException",
            Failure::ExpiredToken => "ExpiredTokenException",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Failure::Missing => "Missing Authentication Token".into(),
            Failure::Incomplete(m) | Failure::Invalid(m) => m.clone(),
            Failure::InvalidToken => "The security token included in the request is invalid.".into(),
            Failure::ExpiredToken => "The security token included in the request is expired".into(),
        }
    }
}

/// The signature parts of a request, from its `Authorization` header or its query string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    access_key_id: String,
    /// `date/region/service/aws4_request`
    scope: String,
    scope_date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
    amz_date: String,
    security_token: Option<String>,
    /// `X-Amz-Expires` of a presigned request; `None` for the header form.
    expires: Option<i64>,
}

/// Who signed a request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    pub region: String,
}

/// What the verifier needs besides the request.
pub struct Verifier<'a> {
    pub keys: &'a KeyRegistry,
    /// The signing name the request must be scoped to (`lambda`).
    pub service: &'a str,
    /// The region the request must be scoped to.
    pub region: &'a str,
    /// The real time: clients sign with the machine's clock, so skew is measured against it.
    pub wall_now: DateTime<Utc>,
    /// Nimbus's (advanceable) time, against which STS credentials expire.
    pub clock_now: DateTime<Utc>,
}

impl Verifier<'_> {
    pub fn verify(&self, req: &HttpRequest) -> Result<Verified, Failure> {
        let parts = parts(req)?;
        if parts.service != self.service {
            return Err(Failure::Invalid(format!(
                "Credential should be scoped to correct service: '{}'. ",
                self.service
            )));
        }
        if parts.region != self.region {
            return Err(Failure::Invalid(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                parts.region
            )));
        }
        let date = NaiveDateTime::parse_from_str(&parts.amz_date, AMZ_DATE)
            .map_err(|_| {
                Failure::Incomplete(format!("Date must be in ISO-8601 'basic format'. Got '{}'.", parts.amz_date))
            })?
            .and_utc();
        if parts.scope_date != parts.amz_date[..8] {
            return Err(Failure::Invalid(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != \
                 '{}', from '{}'.",
                parts.scope_date,
                &parts.amz_date[..8],
                parts.amz_date
            )));
        }
        self.check_time(date, parts.expires)?;
        let secret = match self.keys.issued(&parts.access_key_id) {
            Some(issued) => {
                let token_ok = match (&issued.session_token, &parts.security_token) {
                    (Some(expected), Some(given)) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
                    (None, _) => true,
                    (Some(_), None) => false,
                };
                if !token_ok {
                    return Err(Failure::InvalidToken);
                }
                if issued.expiration.is_some_and(|e| e <= self.clock_now) {
                    return Err(Failure::ExpiredToken);
                }
                issued.secret_access_key
            }
            None => DEFAULT_SECRET.to_string(),
        };
        let key = signing_key(&secret, &parts.scope_date, &parts.region, &parts.service);
        let candidates = payload_hashes(req, parts.expires.is_some())?;
        let matches = candidates.iter().any(|payload_hash| {
            let canonical = canonical_request(req, &parts.signed_headers, payload_hash, parts.expires.is_some());
            let to_sign = string_to_sign(&parts.amz_date, &parts.scope, &canonical);
            let expected = hex::encode(hmac_sha256(&key, to_sign.as_bytes()));
            constant_time_eq(expected.as_bytes(), parts.signature.as_bytes())
        });
        if !matches {
            return Err(Failure::Invalid(MISMATCH.into()));
        }
        Ok(Verified { access_key_id: parts.access_key_id, region: parts.region })
    }

    fn check_time(&self, date: DateTime<Utc>, expires: Option<i64>) -> Result<(), Failure> {
        let fmt = |t: DateTime<Utc>| t.format(AMZ_DATE).to_string();
        let skew = Duration::minutes(MAX_SKEW_MINUTES);
        if date > self.wall_now + skew {
            return Err(Failure::Invalid(format!(
                "Signature not yet current: {} is still later than {} ({} + {MAX_SKEW_MINUTES} min.)",
                fmt(date),
                fmt(self.wall_now + skew),
                fmt(self.wall_now)
            )));
        }
        match expires {
            // A presigned request is good from its date for `X-Amz-Expires` seconds.
            Some(seconds) => {
                let until = date + Duration::seconds(seconds);
                if until < self.wall_now {
                    return Err(Failure::Invalid(format!(
                        "Signature expired: {} is now earlier than {} ({} - {seconds} sec.)",
                        fmt(date),
                        fmt(self.wall_now - Duration::seconds(seconds)),
                        fmt(self.wall_now)
                    )));
                }
            }
            None if date < self.wall_now - skew => {
                return Err(Failure::Invalid(format!(
                    "Signature expired: {} is now earlier than {} ({} - {MAX_SKEW_MINUTES} min.)",
                    fmt(date),
                    fmt(self.wall_now - skew),
                    fmt(self.wall_now)
                )));
            }
            None => {}
        }
        Ok(())
    }
}

/// Whether a request carries a SigV4 signature at all (header or query form).
pub fn is_signed(req: &HttpRequest) -> bool {
    req.header("authorization").is_some() || req.query_param("X-Amz-Signature").is_some()
}

fn parts(req: &HttpRequest) -> Result<Parts, Failure> {
    if let Some(auth) = req.header("authorization") {
        return header_parts(req, auth);
    }
    if req.query_param("X-Amz-Algorithm").is_some() || req.query_param("X-Amz-Signature").is_some() {
        return query_parts(req);
    }
    Err(Failure::Missing)
}

fn header_parts(req: &HttpRequest, auth: &str) -> Result<Parts, Failure> {
    let Some(rest) = auth.strip_prefix(ALGORITHM) else {
        return Err(Failure::Incomplete(format!(
            "Authorization header requires existence of the '{ALGORITHM}' algorithm. Authorization={auth}"
        )));
    };
    let field = |name: &str| {
        rest.split(',').map(str::trim).find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
    };
    let mut missing = String::new();
    for name in ["Credential", "Signature", "SignedHeaders"] {
        if field(name).is_none() {
            missing.push_str(&format!("Authorization header requires '{name}' parameter. "));
        }
    }
    let amz_date = req.header("x-amz-date");
    if amz_date.is_none() {
        missing.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    }
    if !missing.is_empty() {
        return Err(Failure::Incomplete(format!("{missing}Authorization={auth}")));
    }
    let signed_headers = field("SignedHeaders").unwrap_or_default();
    build(
        field("Credential").unwrap_or_default(),
        signed_headers,
        field("Signature").unwrap_or_default(),
        amz_date.unwrap_or_default(),
        req.header("x-amz-security-token"),
        None,
    )
}

fn query_parts(req: &HttpRequest) -> Result<Parts, Failure> {
    let mut missing = Vec::new();
    let mut get = |name: &'static str| {
        let value = req.query_param(name);
        if value.is_none() {
            missing.push(name);
        }
        value.unwrap_or_default()
    };
    let algorithm = get("X-Amz-Algorithm");
    let credential = get("X-Amz-Credential");
    let signed_headers = get("X-Amz-SignedHeaders");
    let signature = get("X-Amz-Signature");
    let date = get("X-Amz-Date");
    let expires = get("X-Amz-Expires");
    if !missing.is_empty() {
        let list = missing.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(", ");
        return Err(Failure::Incomplete(format!(
            "AWS query-string parameters must include {list}. Re-examine the query-string parameters."
        )));
    }
    if algorithm != ALGORITHM {
        return Err(Failure::Incomplete(format!("Unsupported AWS 'algorithm': '{algorithm}'")));
    }
    let expires = expires.parse::<i64>().ok().filter(|e| (1..=MAX_EXPIRES_SECONDS).contains(e)).ok_or_else(|| {
        Failure::Incomplete(format!(
            "X-Amz-Expires must be a number of seconds between 1 and {MAX_EXPIRES_SECONDS}, not '{expires}'."
        ))
    })?;
    build(credential, signed_headers, signature, date, req.query_param("X-Amz-Security-Token"), Some(expires))
}

fn build(
    credential: &str,
    signed_headers: &str,
    signature: &str,
    amz_date: &str,
    security_token: Option<&str>,
    expires: Option<i64>,
) -> Result<Parts, Failure> {
    let pieces: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = pieces[..] else {
        return Err(Failure::Incomplete(format!(
            "Credential should have five slash-separated parts (access key, date, region, service, \
             aws4_request), not '{credential}'."
        )));
    };
    if terminator != "aws4_request" {
        return Err(Failure::Invalid(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
        )));
    }
    let signed_headers: Vec<String> = signed_headers.split(';').map(str::to_string).collect();
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(Failure::Invalid(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    if amz_date.len() < 8 || !amz_date.is_char_boundary(8) {
        return Err(Failure::Incomplete(format!("Date must be in ISO-8601 'basic format'. Got '{amz_date}'.")));
    }
    Ok(Parts {
        access_key_id: access_key_id.to_string(),
        scope: format!("{date}/{region}/{service}/{terminator}"),
        scope_date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers,
        signature: signature.to_string(),
        amz_date: amz_date.to_string(),
        security_token: security_token.map(str::to_string),
        expires,
    })
}

/// The payload hashes a valid signature may have used. A declared `x-amz-content-sha256` must
/// be `UNSIGNED-PAYLOAD` or the body's real hash. Presigned URLs are signed either over the
/// body's hash (botocore) or over `UNSIGNED-PAYLOAD` (S3-style signers).
fn payload_hashes(req: &HttpRequest, presigned: bool) -> Result<Vec<String>, Failure> {
    let body_hash = hex::encode(Sha256::digest(&req.body));
    match req.header("x-amz-content-sha256") {
        Some(UNSIGNED_PAYLOAD) => Ok(vec![UNSIGNED_PAYLOAD.to_string()]),
        Some(declared) if declared.eq_ignore_ascii_case(&body_hash) => Ok(vec![declared.to_string()]),
        Some(_) => {
            Err(Failure::Invalid("The provided 'x-amz-content-sha256' header does not match what was computed.".into()))
        }
        None if presigned => Ok(vec![body_hash, UNSIGNED_PAYLOAD.to_string()]),
        None => Ok(vec![body_hash]),
    }
}

/// The canonical request, as the signer built it.
fn canonical_request(req: &HttpRequest, signed_headers: &[String], payload_hash: &str, presigned: bool) -> String {
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| !(presigned && k == "X-Amz-Signature"))
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    query.sort();
    let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let mut headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!(
        "{}\n{}\n{query}\n{headers}\n{}\n{payload_hash}",
        req.method.as_str(),
        uri_encode(&normalize_path(&req.path), false),
        signed_headers.join(";"),
    )
}

fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())))
}

/// The signing key: HMAC chain over date, region, service and `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Compare without an early exit, so timing does not reveal how much of a signature matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// SigV4 URI encoding: everything but unreserved characters, and `/` too unless it is a path.
fn uri_encode(s: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (b == b'/' && !encode_slash) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Remove `.` and `..` segments and empty segments (AWS's signers normalize paths this way for
/// every service but S3), keeping a leading and a trailing slash.
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let trailing = path.ends_with('/') && !segments.is_empty();
    format!("/{}{}", segments.join("/"), if trailing { "/" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, Method};

    fn request(
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpRequest {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        HttpRequest {
            method,
            path: path.into(),
            query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            headers: map,
            body: bytes::Bytes::copy_from_slice(body),
        }
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// The `get-vanilla` case of AWS's SigV4 test suite.
    #[test]
    fn get_vanilla_signature() {
        let req = request(
            Method::GET,
            "/",
            &[],
            &[("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")],
            b"",
        );
        let empty = hex::encode(Sha256::digest(b""));
        let canonical = canonical_request(&req, &["host".into(), "x-amz-date".into()], &empty, false);
        let to_sign = string_to_sign("20150830T123600Z", "20150830/us-east-1/service/aws4_request", &canonical);
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service");
        assert_eq!(
            hex::encode(hmac_sha256(&key, to_sign.as_bytes())),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    fn signed(secret: &str, body: &[u8], date: DateTime<Utc>) -> HttpRequest {
        let amz_date = date.format(AMZ_DATE).to_string();
        let mut req = request(
            Method::POST,
            "/a%20b/./c",
            &[("x", "1 2"), ("a", "")],
            &[("host", "id.lambda-url.us-east-1.localhost"), ("x-amz-date", &amz_date)],
            body,
        );
        let signed_headers = vec!["host".to_string(), "x-amz-date".to_string()];
        let scope = format!("{}/us-east-1/lambda/aws4_request", &amz_date[..8]);
        let canonical = canonical_request(&req, &signed_headers, &hex::encode(Sha256::digest(body)), false);
        let key = signing_key(secret, &amz_date[..8], "us-east-1", "lambda");
        let signature = hex::encode(hmac_sha256(&key, string_to_sign(&amz_date, &scope, &canonical).as_bytes()));
        let auth = format!("{ALGORITHM} Credential=AKID/{scope}, SignedHeaders=host;x-amz-date, Signature={signature}");
        req.headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        req
    }

    fn verifier(keys: &KeyRegistry, now: DateTime<Utc>) -> Verifier<'_> {
        Verifier { keys, service: "lambda", region: "us-east-1", wall_now: now, clock_now: now }
    }

    #[test]
    fn verifies_and_rejects() {
        let keys = KeyRegistry::default();
        let now = Utc::now();
        let v = verifier(&keys, now);
        assert!(v.verify(&signed("test", b"hi", now)).is_ok());
        assert_eq!(v.verify(&signed("nope", b"hi", now)), Err(Failure::Invalid(MISMATCH.into())));
        let mut tampered = signed("test", b"hi", now);
        tampered.body = bytes::Bytes::from_static(b"ho");
        assert_eq!(v.verify(&tampered), Err(Failure::Invalid(MISMATCH.into())));
        let old = v.verify(&signed("test", b"hi", now - Duration::minutes(16))).unwrap_err();
        assert!(old.message().starts_with("Signature expired"), "{old:?}");
        assert!(v.verify(&signed("test", b"hi", now - Duration::minutes(14))).is_ok());
        let unsigned = request(Method::GET, "/", &[], &[("host", "h")], b"");
        assert_eq!(v.verify(&unsigned), Err(Failure::Missing));
        let wrong_service = Verifier { service: "sqs", ..verifier(&keys, now) };
        assert!(matches!(wrong_service.verify(&signed("test", b"", now)), Err(Failure::Invalid(_))));
    }

    #[test]
    fn issued_keys_need_their_secret_and_token() {
        let keys = KeyRegistry::default();
        let now = Utc::now();
        keys.insert(
            "AKID",
            crate::identity::IssuedKey {
                account: "111122223333".into(),
                secret_access_key: "s3cret".into(),
                session_token: Some("tok".into()),
                expiration: Some(now + Duration::hours(1)),
            },
        );
        let v = verifier(&keys, now);
        let mut req = signed("s3cret", b"", now);
        assert_eq!(v.verify(&req), Err(Failure::InvalidToken));
        req.headers.insert("x-amz-security-token", HeaderValue::from_static("tok"));
        assert!(v.verify(&req).is_ok());
        let later = Verifier { clock_now: now + Duration::hours(2), ..verifier(&keys, now) };
        assert_eq!(later.verify(&req), Err(Failure::ExpiredToken));
        assert_eq!(v.verify(&signed("test", b"", now)), Err(Failure::InvalidToken));
    }

    #[test]
    fn normalizes_paths() {
        assert_eq!(normalize_path("/a/./b/../c//d/"), "/a/c/d/");
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("/.."), "/");
        assert_eq!(uri_encode("/a%20b", false), "/a%2520b");
    }
}
