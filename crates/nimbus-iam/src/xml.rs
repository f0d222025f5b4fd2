//! XML rendering of IAM and STS shapes, element names as in the botocore models.

use chrono::{DateTime, Utc};
use nimbus_core::query::XmlWriter;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::iam::{iso_seconds, PolicyVersion, PolicyView, Role, Tag};
use crate::sts::{AssumedRole, CallerIdentity};

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

pub fn role(w: &mut XmlWriter, r: &Role, detail: RoleDetail) {
    w.text("Path", &r.path)
        .text("RoleName", &r.name)
        .text("RoleId", &r.id)
        .text("Arn", &r.arn)
        .text("CreateDate", &r.create_date)
        .text("AssumeRolePolicyDocument", encode_document(&r.assume_role_policy))
        .opt_text("Description", r.description.as_ref())
        .text("MaxSessionDuration", r.max_session_duration.to_string());
    if detail == RoleDetail::Listed {
        return;
    }
    if let Some(boundary) = &r.permissions_boundary {
        w.open("PermissionsBoundary")
            .text("PermissionsBoundaryType", "Policy")
            .text("PermissionsBoundaryArn", boundary)
            .close("PermissionsBoundary");
    }
    if !r.tags.is_empty() {
        tags(w, &r.tags);
    }
    if detail == RoleDetail::Full {
        w.empty("RoleLastUsed");
    }
}

pub fn tags(w: &mut XmlWriter, tags: &[Tag]) {
    w.list("Tags", tags, |w, t| {
        w.text("Key", &t.key).text("Value", &t.value);
    });
}

/// `IsTruncated` and, when truncated, `Marker`.
pub fn truncation(w: &mut XmlWriter, marker: Option<&String>) {
    w.text("IsTruncated", if marker.is_some() { "true" } else { "false" }).opt_text("Marker", marker);
}

/// A managed policy; `full` adds what only Get/CreatePolicy return (description, tags).
pub fn policy(w: &mut XmlWriter, v: &PolicyView, full: bool) {
    let p = &v.policy;
    w.text("PolicyName", &p.name)
        .text("PolicyId", &p.id)
        .text("Arn", &p.arn)
        .text("Path", &p.path)
        .text("DefaultVersionId", &p.default_version)
        .text("AttachmentCount", v.attachment_count.to_string())
        .text("PermissionsBoundaryUsageCount", "0")
        .text("IsAttachable", "true");
    if full {
        w.opt_text("Description", p.description.as_ref());
    }
    w.text("CreateDate", &p.create_date).text("UpdateDate", &p.update_date);
    if full && !p.tags.is_empty() {
        tags(w, &p.tags);
    }
}

pub fn policy_version(w: &mut XmlWriter, v: &PolicyVersion, is_default: bool) {
    w.text("Document", encode_document(&v.document))
        .text("VersionId", &v.id)
        .text("IsDefaultVersion", if is_default { "true" } else { "false" })
        .text("CreateDate", &v.create_date);
}

pub fn caller_identity(w: &mut XmlWriter, who: &CallerIdentity) {
    w.text("UserId", &who.user_id).text("Account", &who.account).text("Arn", &who.arn);
}

pub fn assumed_role(w: &mut XmlWriter, a: &AssumedRole) {
    let c = &a.credentials;
    w.open("Credentials")
        .text("AccessKeyId", &c.access_key_id)
        .text("SecretAccessKey", &c.secret_access_key)
        .text("SessionToken", &c.session_token)
        .text("Expiration", timestamp(c.expiration))
        .close("Credentials");
    w.open("AssumedRoleUser").text("AssumedRoleId", &a.assumed_role_id).text("Arn", &a.arn).close("AssumedRoleUser");
    w.opt_text("PackedPolicySize", a.packed_policy_size.map(|n| n.to_string()));
}

pub fn timestamp(t: DateTime<Utc>) -> String {
    iso_seconds(t)
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
