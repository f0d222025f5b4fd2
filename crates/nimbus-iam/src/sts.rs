//! STS: who is calling, and temporary credentials for roles.
//!
//! `AssumeRole` issues `ASIA…` keys and registers them in the shared [`KeyRegistry`] for the
//! role's account, so later requests signed with them act in that account. Sessions live in
//! memory: like real STS credentials they do not outlive the emulator.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use nimbus_core::identity::{IssuedKey, KeyRegistry, RoleSessions, SessionCredentials};
use nimbus_core::AwsError;
use parking_lot::RwLock;
use rand::Rng;

use crate::errors;
use crate::iam::{self, Iam};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub access_key_id: String,
    pub account: String,
    pub role_name: String,
    pub role_id: String,
    pub session_name: String,
    pub expiration: DateTime<Utc>,
}

impl Session {
    pub fn assumed_role_arn(&self) -> String {
        format!("arn:aws:sts::{}:assumed-role/{}/{}", self.account, self.role_name, self.session_name)
    }

    pub fn assumed_role_id(&self) -> String {
        format!("{}:{}", self.role_id, self.session_name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: Option<i64>,
    /// An inline session policy, if given.
    pub policy: Option<String>,
    pub policy_arn_count: usize,
    pub tag_count: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRole {
    pub credentials: Credentials,
    pub assumed_role_id: String,
    pub arn: String,
    pub packed_policy_size: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

pub struct Sts {
    keys: KeyRegistry,
    sessions: RwLock<HashMap<String, Session>>,
    /// IAM state, when wired: known roles lend their RoleId and MaxSessionDuration.
    iam: Option<Arc<Iam>>,
    /// The sessions functions run with, one per role and session name, reused by every
    /// environment: Lambda refreshes an environment's credentials before they expire, so these
    /// never do (nor do they when a test moves nimbus's clock on).
    function_sessions: RwLock<HashMap<(String, String), SessionCredentials>>,
}

impl Sts {
    pub fn new(keys: KeyRegistry, iam: Option<Arc<Iam>>) -> Sts {
        Sts { keys, sessions: RwLock::new(HashMap::new()), iam, function_sessions: RwLock::new(HashMap::new()) }
    }

    pub fn reset(&self) {
        self.sessions.write().clear();
        self.function_sessions.write().clear();
    }

    pub fn session(&self, access_key_id: &str) -> Option<Session> {
        self.sessions.read().get(access_key_id).cloned()
    }

    /// An error if the request was signed with temporary credentials that have expired.
    pub fn check_not_expired(&self, access_key_id: Option<&str>, now: DateTime<Utc>) -> Result<(), AwsError> {
        match access_key_id.and_then(|k| self.session(k)) {
            Some(session) if session.expiration <= now => Err(errors::expired_token()),
            _ => Ok(()),
        }
    }

    pub fn get_caller_identity(&self, account: &str, access_key_id: Option<&str>) -> CallerIdentity {
        if let Some(session) = access_key_id.and_then(|k| self.session(k)) {
            return CallerIdentity {
                user_id: session.assumed_role_id(),
                account: session.account.clone(),
                arn: session.assumed_role_arn(),
            };
        }
        CallerIdentity {
            user_id: account.to_string(),
            account: account.to_string(),
            arn: format!("arn:aws:iam::{account}:root"),
        }
    }

    /// Issue credentials for a role. Roles need not exist in nimbus's IAM (cross-account roles
    /// usually don't); when one does, its id and maximum session duration apply.
    pub fn assume_role(&self, input: AssumeRole, now: DateTime<Utc>) -> Result<AssumedRole, AwsError> {
        let (account, role_name) = parse_role_arn(&input.role_arn).ok_or_else(errors::invalid_role_arn)?;
        let known = self.iam.as_ref().and_then(|iam| iam.role_by_arn(&account, &input.role_arn));
        let duration = input.duration_seconds.unwrap_or(3600);
        if let Some(role) = &known {
            if duration > i64::from(role.max_session_duration) {
                return Err(errors::duration_exceeds_max());
            }
        }
        if let Some(policy) = &input.policy {
            iam::check_document(policy)?;
        }
        let role_id = known.map_or_else(|| iam::stable_id("AROA", &input.role_arn), |r| r.id);
        let session = Session {
            access_key_id: random_key("ASIA", 16),
            account,
            role_name,
            role_id,
            session_name: input.session_name.clone(),
            expiration: now + Duration::seconds(duration),
        };
        let (assumed_role_id, arn) = (session.assumed_role_id(), session.assumed_role_arn());
        let credentials = self.issue(session);
        // Session policies and tags are packed; AWS reports the size as a percentage of the limit.
        let packed = input.policy.as_ref().map_or(0, |p| p.len()) + 100 * (input.policy_arn_count + input.tag_count);
        let packed_policy_size = (packed > 0).then(|| (packed * 100 / 2048).max(1) as u32);
        Ok(AssumedRole { credentials, assumed_role_id, arn, packed_policy_size })
    }

    /// Register a session's keys (so requests signed with them act in its account) and its
    /// identity (for GetCallerIdentity).
    fn issue(&self, session: Session) -> Credentials {
        let credentials = Credentials {
            access_key_id: session.access_key_id.clone(),
            secret_access_key: random_secret(40),
            session_token: format!("IQoJb3JpZ2luX2VjE{}", random_secret(300)),
            expiration: session.expiration,
        };
        self.keys.insert(
            &session.access_key_id,
            IssuedKey {
                account: session.account.clone(),
                secret_access_key: credentials.secret_access_key.clone(),
                session_token: Some(credentials.session_token.clone()),
                expiration: Some(credentials.expiration),
            },
        );
        self.sessions.write().insert(session.access_key_id.clone(), session);
        credentials
    }
}

impl RoleSessions for Sts {
    fn role_session(&self, role_arn: &str, session_name: &str) -> Option<SessionCredentials> {
        let key = (role_arn.to_string(), session_name.to_string());
        if let Some(credentials) = self.function_sessions.read().get(&key) {
            return Some(credentials.clone());
        }
        let (account, role_name) = parse_role_arn(role_arn)?;
        let known = self.iam.as_ref().and_then(|iam| iam.role_by_arn(&account, role_arn));
        let role_id = known.map_or_else(|| iam::stable_id("AROA", role_arn), |r| r.id);
        let session = Session {
            access_key_id: random_key("ASIA", 16),
            account,
            role_name,
            role_id,
            session_name: session_name.to_string(),
            expiration: DateTime::<Utc>::MAX_UTC,
        };
        let issued = self.issue(session);
        let credentials = SessionCredentials {
            access_key_id: issued.access_key_id,
            secret_access_key: issued.secret_access_key,
            session_token: issued.session_token,
        };
        Some(self.function_sessions.write().entry(key).or_insert(credentials).clone())
    }
}

/// `arn:aws:iam::<12 digits>:role/<path/>name` → (account, name).
pub fn parse_role_arn(arn: &str) -> Option<(String, String)> {
    let parsed = nimbus_core::arn::Arn::parse(arn)?;
    let account_ok = parsed.account.len() == 12 && parsed.account.bytes().all(|b| b.is_ascii_digit());
    if parsed.service != "iam" || !parsed.region.is_empty() || !account_ok {
        return None;
    }
    let path_and_name = parsed.resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    name_ok.then(|| (parsed.account, name.to_string()))
}

fn random_key(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::thread_rng();
    let tail: String = (0..len).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("{prefix}{tail}")
}

fn random_secret(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::CreateRole;
    use nimbus_core::journal::Records;

    #[test]
    fn assume_role_registers_key_and_identity() {
        let keys = KeyRegistry::default();
        let sts = Sts::new(keys.clone(), None);
        let now = Utc::now();
        let out = sts
            .assume_role(
                AssumeRole {
                    role_arn: "arn:aws:iam::111122223333:role/team/Deploy".into(),
                    session_name: "ci".into(),
                    ..Default::default()
                },
                now,
            )
            .unwrap();
        let akid = &out.credentials.access_key_id;
        assert!(akid.starts_with("ASIA") && akid.len() == 20);
        assert_eq!(out.credentials.expiration, now + Duration::seconds(3600));
        assert_eq!(out.arn, "arn:aws:sts::111122223333:assumed-role/Deploy/ci");
        assert!(out.assumed_role_id.starts_with("AROA") && out.assumed_role_id.ends_with(":ci"));
        assert_eq!(keys.account(akid).as_deref(), Some("111122223333"));
        let who = sts.get_caller_identity("111122223333", Some(akid));
        assert_eq!(who.arn, out.arn);
        assert_eq!(who.user_id, out.assumed_role_id);
        let root = sts.get_caller_identity("000000000000", Some("AKIDEXAMPLE"));
        assert_eq!(root.arn, "arn:aws:iam::000000000000:root");
        assert!(sts.check_not_expired(Some(akid), now + Duration::seconds(3601)).is_err());
        assert!(sts.check_not_expired(Some(akid), now).is_ok());
    }

    #[test]
    fn rejects_bad_arns_and_long_sessions() {
        let iam = Arc::new(Iam::new(None, &Records::new()));
        let role = iam
            .create_role(
                "123456789012",
                CreateRole { name: "r".into(), assume_role_policy: "{}".into(), ..Default::default() },
                Utc::now(),
            )
            .unwrap();
        let sts = Sts::new(KeyRegistry::default(), Some(iam));
        for bad in ["arn:aws:iam::123:role/x", "arn:aws:s3:::bucket/role/x", "arn:aws:iam::123456789012:user/x"] {
            let err = sts
                .assume_role(
                    AssumeRole { role_arn: bad.into(), session_name: "s1".into(), ..Default::default() },
                    Utc::now(),
                )
                .unwrap_err();
            assert_eq!((err.code.as_str(), err.message.as_str()), ("ValidationError", "Request ARN is invalid"));
        }
        let err = sts
            .assume_role(
                AssumeRole {
                    role_arn: role.arn.clone(),
                    session_name: "s1".into(),
                    duration_seconds: Some(7200),
                    ..Default::default()
                },
                Utc::now(),
            )
            .unwrap_err();
        assert_eq!(err.message, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.");
        let ok = sts
            .assume_role(AssumeRole { role_arn: role.arn, session_name: "s1".into(), ..Default::default() }, Utc::now())
            .unwrap();
        assert_eq!(ok.assumed_role_id, format!("{}:s1", role.id));
    }
}
