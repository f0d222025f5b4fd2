//! IAM's and STS's results as the models' output shapes: what each operation shows of a role
//! or policy, policy documents URL-encoded as IAM returns them, dates to the second.

use nimbus_core::shapes::Timestamp;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::iam::{PolicyVersion, PolicyView, Role, Tag};
use crate::shapes as s;
use crate::sts::{AssumedRole, CallerIdentity};
use crate::sts_shapes as t;

/// RFC 3986 unreserved characters stay; everything else (spaces as `%20`) is escaped.
const DOCUMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// IAM returns policy documents URL-encoded; SDKs decode them.
pub fn encode_document(document: &str) -> String {
    utf8_percent_encode(document, DOCUMENT).to_string()
}

/// How much of a role an operation returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleDetail {
    /// ListRoles: no tags, permissions boundary or last use.
    Listed,
    /// CreateRole, UpdateRoleDescription.
    Created,
    /// GetRole: everything, including `RoleLastUsed`.
    Full,
}

/// IAM keeps its dates as ISO 8601 text to the second.
fn date(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap_or_default()
}

pub fn role(r: &Role, detail: RoleDetail) -> s::Role {
    let listed = detail == RoleDetail::Listed;
    s::Role {
        path: r.path.clone(),
        role_name: r.name.clone(),
        role_id: r.id.clone(),
        arn: r.arn.clone(),
        create_date: date(&r.create_date),
        assume_role_policy_document: Some(encode_document(&r.assume_role_policy)),
        description: r.description.clone(),
        max_session_duration: Some(r.max_session_duration as i32),
        permissions_boundary: r.permissions_boundary.as_ref().filter(|_| !listed).map(|arn| {
            s::AttachedPermissionsBoundary {
                permissions_boundary_type: Some("Policy".into()),
                permissions_boundary_arn: Some(arn.clone()),
            }
        }),
        tags: (!listed && !r.tags.is_empty()).then(|| r.tags.iter().cloned().map(tag).collect()),
        role_last_used: (detail == RoleDetail::Full).then(s::RoleLastUsed::default),
        ..Default::default()
    }
}

pub fn tag(t: Tag) -> s::Tag {
    s::Tag { key: t.key, value: t.value }
}

/// A managed policy; `full` adds what only Get/CreatePolicy return (description, tags).
pub fn policy(v: &PolicyView, full: bool) -> s::Policy {
    let p = &v.policy;
    s::Policy {
        policy_name: Some(p.name.clone()),
        policy_id: Some(p.id.clone()),
        arn: Some(p.arn.clone()),
        path: Some(p.path.clone()),
        default_version_id: Some(p.default_version.clone()),
        attachment_count: Some(v.attachment_count as i32),
        permissions_boundary_usage_count: Some(0),
        is_attachable: Some(true),
        description: p.description.clone().filter(|_| full),
        create_date: Some(date(&p.create_date)),
        update_date: Some(date(&p.update_date)),
        tags: (full && !p.tags.is_empty()).then(|| p.tags.iter().cloned().map(tag).collect()),
    }
}

pub fn policy_version(v: &PolicyVersion, is_default: bool) -> s::PolicyVersion {
    s::PolicyVersion {
        document: Some(encode_document(&v.document)),
        version_id: Some(v.id.clone()),
        is_default_version: Some(is_default),
        create_date: Some(date(&v.create_date)),
    }
}

pub fn caller_identity(who: CallerIdentity) -> t::GetCallerIdentityResponse {
    t::GetCallerIdentityResponse { user_id: Some(who.user_id), account: Some(who.account), arn: Some(who.arn) }
}

pub fn assumed_role(a: AssumedRole) -> t::AssumeRoleResponse {
    let c = a.credentials;
    t::AssumeRoleResponse {
        credentials: Some(t::Credentials {
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            expiration: Timestamp::from_millis(c.expiration.timestamp_millis()),
        }),
        assumed_role_user: Some(t::AssumedRoleUser { assumed_role_id: a.assumed_role_id, arn: a.arn }),
        packed_policy_size: a.packed_policy_size.map(|n| n as i32),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_percent_encoded_like_iam() {
        assert_eq!(
            encode_document(r#"{"Version": "2012-10-17", "Action":"sts:AssumeRole"}"#),
            "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Action%22%3A%22sts%3AAssumeRole%22%7D"
        );
    }
}
