//! Who is calling: account, region and service, read from the SigV4 credential.
//!
//! Nimbus does not check signatures on API calls (clients sign with any secret); it only reads
//! the credential scope `AKID/date/region/service/aws4_request` from the `Authorization` header
//! or from the `X-Amz-Credential` query parameter of presigned URLs.

use http::HeaderMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
}

/// Parse the credential scope of a SigV4-signed request, if it is signed.
pub fn credential(headers: &HeaderMap, query: &[(String, String)]) -> Option<Credential> {
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
        let scope = rest.split(',').map(str::trim).find_map(|part| part.strip_prefix("Credential="))?;
        return parse_scope(scope);
    }
    query.iter().find(|(k, _)| k == "X-Amz-Credential").and_then(|(_, v)| parse_scope(v))
}

fn parse_scope(scope: &str) -> Option<Credential> {
    let mut parts = scope.split('/');
    let access_key_id = parts.next()?.to_string();
    let _date = parts.next()?;
    let region = parts.next()?.to_string();
    let service = parts.next()?.to_string();
    Some(Credential { access_key_id, region, service })
}

/// AWS's rule for nimbus: a 12-digit access key id *is* the account id; anything else is the
/// default account. Temporary keys issued by STS map back through `lookup`.
pub fn account_for_key(access_key_id: &str, default_account: &str) -> String {
    if access_key_id.len() == 12 && access_key_id.bytes().all(|b| b.is_ascii_digit()) {
        access_key_id.to_string()
    } else {
        default_account.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scope_from_authorization_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=111122223333/20240101/eu-west-1/lambda/aws4_request, SignedHeaders=host, Signature=abc"
                .parse()
                .unwrap(),
        );
        let cred = credential(&headers, &[]).unwrap();
        assert_eq!(cred.access_key_id, "111122223333");
        assert_eq!(cred.region, "eu-west-1");
        assert_eq!(cred.service, "lambda");
        assert_eq!(account_for_key(&cred.access_key_id, "000000000000"), "111122223333");
        assert_eq!(account_for_key("AKIDEXAMPLE", "000000000000"), "000000000000");
    }

    #[test]
    fn reads_scope_from_presigned_query() {
        let q = vec![("X-Amz-Credential".into(), "AKID/20240101/us-west-2/sts/aws4_request".into())];
        let cred = credential(&HeaderMap::new(), &q).unwrap();
        assert_eq!(cred.region, "us-west-2");
        assert_eq!(cred.service, "sts");
    }
}

/// Access keys nimbus issued (STS temporary credentials), with what a signature check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    pub account: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub expiration: Option<chrono::DateTime<chrono::Utc>>,
}

/// Temporary access keys issued by STS, mapped to the account they act for and their secrets.
#[derive(Debug, Clone, Default)]
pub struct KeyRegistry {
    keys: std::sync::Arc<parking_lot::RwLock<std::collections::HashMap<String, IssuedKey>>>,
}

impl KeyRegistry {
    pub fn insert(&self, access_key_id: &str, key: IssuedKey) {
        self.keys.write().insert(access_key_id.to_string(), key);
    }

    pub fn account(&self, access_key_id: &str) -> Option<String> {
        self.keys.read().get(access_key_id).map(|k| k.account.clone())
    }

    pub fn issued(&self, access_key_id: &str) -> Option<IssuedKey> {
        self.keys.read().get(access_key_id).cloned()
    }
}

/// Temporary credentials of a role session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

/// Sessions for roles, as STS issues them: Lambda runs each function with its execution role's
/// session, so `sts get-caller-identity` inside a function answers
/// `arn:aws:sts::<account>:assumed-role/<role>/<function>` as on AWS.
pub trait RoleSessions: Send + Sync {
    /// Credentials acting as `role_arn` in session `session_name`; `None` for an ARN that is not
    /// a role's.
    fn role_session(&self, role_arn: &str, session_name: &str) -> Option<SessionCredentials>;
}
