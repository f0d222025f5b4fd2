//! IAM and STS over the AWS query protocol.
//!
//! Each request: decode the form parameters → check `Action`/`Version` → validate against the
//! service model ([`model`]) → one plain operation function ([`iam::Iam`], [`sts::Sts`]) →
//! render the result ([`xml`]) or the error as AWS's query XML.

pub mod errors;
pub mod iam;
pub mod model;
pub mod sts;
pub mod xml;

use std::path::Path;
use std::sync::Arc;

use nimbus_core::http::{HttpRequest, HttpResponse};
use nimbus_core::identity::KeyRegistry;
use nimbus_core::journal::{Journal, Records};
use nimbus_core::query::{self, QueryRequest, XmlWriter};
use nimbus_core::service::BoxFuture;
use nimbus_core::{AwsError, RequestContext, Service};

use crate::iam::{CreatePolicy, CreateRole, Iam, Page, Tag};
use crate::model::Model;
use crate::sts::{AssumeRole, Sts};
use crate::xml::RoleDetail;

/// What an operation answers: `None` for operations without output (only `ResponseMetadata`),
/// otherwise the inner XML of `<{Action}Result>`.
type Answer = Result<Option<String>, AwsError>;

pub struct IamService {
    iam: Arc<Iam>,
}

impl IamService {
    /// `journal`: with `--data-dir`, every acknowledged mutation is written through it first;
    /// `records`: what the journal held when opened, to rebuild the state from.
    pub fn new(journal: Option<Arc<Journal>>, records: Records) -> IamService {
        IamService { iam: Arc::new(Iam::new(journal, &records)) }
    }

    /// In memory without a data dir; otherwise persisted in `DIR/iam.journal`.
    pub fn open(data_dir: Option<&Path>) -> std::io::Result<IamService> {
        match data_dir {
            Some(dir) => {
                let (journal, records) = Journal::open(dir, "iam")?;
                Ok(IamService::new(Some(Arc::new(journal)), records))
            }
            None => Ok(IamService::new(None, Records::new())),
        }
    }

    pub fn state(&self) -> Arc<Iam> {
        self.iam.clone()
    }
}

pub struct StsService {
    sts: Sts,
}

impl StsService {
    pub fn new(keys: KeyRegistry) -> StsService {
        StsService { sts: Sts::new(keys, None) }
    }

    /// STS that knows IAM's roles: their RoleId and MaxSessionDuration apply to AssumeRole.
    pub fn with_iam(keys: KeyRegistry, iam: &IamService) -> StsService {
        StsService { sts: Sts::new(keys, Some(iam.state())) }
    }
}

impl Service for IamService {
    fn name(&self) -> &'static str {
        "iam"
    }

    fn signing_names(&self) -> &'static [&'static str] {
        &["iam"]
    }

    fn claims(&self, req: &HttpRequest) -> bool {
        claims(req, model::iam())
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        Box::pin(
            async move { respond(model::iam(), &ctx, &req, |action, q| iam_operation(&self.iam, &ctx, action, q)) },
        )
    }

    fn reset(&self) {
        self.iam.reset();
    }
}

impl Service for StsService {
    fn name(&self) -> &'static str {
        "sts"
    }

    fn signing_names(&self) -> &'static [&'static str] {
        &["sts"]
    }

    fn claims(&self, req: &HttpRequest) -> bool {
        claims(req, model::sts())
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        Box::pin(
            async move { respond(model::sts(), &ctx, &req, |action, q| sts_operation(&self.sts, &ctx, action, q)) },
        )
    }

    fn reset(&self) {
        self.sts.reset();
    }
}

/// An unsigned query request naming one of the model's actions.
fn claims(req: &HttpRequest, model: &Model) -> bool {
    req.path == "/" && query::action_of(req).is_some_and(|action| model.has_operation(&action))
}

fn respond(
    model: &Model,
    ctx: &RequestContext,
    req: &HttpRequest,
    operation: impl FnOnce(&str, &QueryRequest) -> Answer,
) -> HttpResponse {
    let q = QueryRequest::from_http(req);
    let action = q.action().unwrap_or_default().to_string();
    let answer =
        check_action(model, &q).and_then(|()| model.validate(&action, &q)).and_then(|()| operation(&action, &q));
    match answer {
        Ok(result) => query::response(&action, &model.xmlns, &ctx.request_id, result.as_deref()),
        Err(err) => {
            tracing::debug!(action, code = %err.code, message = %err.message, "query error");
            query::error_response(&err, &model.xmlns, &ctx.request_id)
        }
    }
}

fn check_action(model: &Model, q: &QueryRequest) -> Result<(), AwsError> {
    let action = q.action().filter(|a| !a.is_empty()).ok_or_else(errors::missing_action)?;
    match q.version() {
        Some(version) if version != model.api_version => Err(errors::unknown_action(action, version)),
        _ if !model.has_operation(action) => Err(errors::unknown_action(action, &model.api_version)),
        _ => Ok(()),
    }
}

fn iam_operation(iam: &Iam, ctx: &RequestContext, action: &str, q: &QueryRequest) -> Answer {
    let account = ctx.account.as_str();
    let now = ctx.clock.now();
    let mut w = XmlWriter::new();
    match action {
        "CreateRole" => {
            let role = iam.create_role(
                account,
                CreateRole {
                    name: required(q, "RoleName")?,
                    path: optional(q, "Path"),
                    assume_role_policy: required(q, "AssumeRolePolicyDocument")?,
                    description: optional(q, "Description"),
                    max_session_duration: number(q, "MaxSessionDuration").map(|n| n as u32),
                    permissions_boundary: optional(q, "PermissionsBoundary"),
                    tags: tags(q),
                },
                now,
            )?;
            w.open("Role");
            xml::role(&mut w, &role, RoleDetail::Created);
            w.close("Role");
        }
        "GetRole" => {
            let role = iam.get_role(account, &required(q, "RoleName")?)?;
            w.open("Role");
            xml::role(&mut w, &role, RoleDetail::Full);
            w.close("Role");
        }
        "ListRoles" => {
            let listing = iam.list_roles(account, q.get("PathPrefix"), &page(q))?;
            w.list("Roles", &listing.items, |w, r| xml::role(w, r, RoleDetail::Listed));
            xml::truncation(&mut w, listing.marker.as_ref());
        }
        "DeleteRole" => {
            iam.delete_role(account, &required(q, "RoleName")?)?;
            return Ok(None);
        }
        "UpdateRole" => {
            iam.update_role(
                account,
                &required(q, "RoleName")?,
                optional(q, "Description"),
                number(q, "MaxSessionDuration").map(|n| n as u32),
            )?;
        }
        "UpdateRoleDescription" => {
            let role = iam.update_role(account, &required(q, "RoleName")?, Some(required(q, "Description")?), None)?;
            w.open("Role");
            xml::role(&mut w, &role, RoleDetail::Created);
            w.close("Role");
        }
        "UpdateAssumeRolePolicy" => {
            iam.update_assume_role_policy(account, &required(q, "RoleName")?, required(q, "PolicyDocument")?)?;
            return Ok(None);
        }
        "PutRolePermissionsBoundary" => {
            iam.put_role_permissions_boundary(
                account,
                &required(q, "RoleName")?,
                &required(q, "PermissionsBoundary")?,
            )?;
            return Ok(None);
        }
        "DeleteRolePermissionsBoundary" => {
            iam.delete_role_permissions_boundary(account, &required(q, "RoleName")?)?;
            return Ok(None);
        }
        "AttachRolePolicy" => {
            iam.attach_role_policy(account, &required(q, "RoleName")?, &required(q, "PolicyArn")?)?;
            return Ok(None);
        }
        "DetachRolePolicy" => {
            iam.detach_role_policy(account, &required(q, "RoleName")?, &required(q, "PolicyArn")?)?;
            return Ok(None);
        }
        "ListAttachedRolePolicies" => {
            let listing =
                iam.list_attached_role_policies(account, &required(q, "RoleName")?, q.get("PathPrefix"), &page(q))?;
            w.list("AttachedPolicies", &listing.items, |w, (name, arn)| {
                w.text("PolicyName", name).text("PolicyArn", arn);
            });
            xml::truncation(&mut w, listing.marker.as_ref());
        }
        "PutRolePolicy" => {
            iam.put_role_policy(
                account,
                &required(q, "RoleName")?,
                &required(q, "PolicyName")?,
                required(q, "PolicyDocument")?,
            )?;
            return Ok(None);
        }
        "GetRolePolicy" => {
            let (role, policy, document) =
                iam.get_role_policy(account, &required(q, "RoleName")?, &required(q, "PolicyName")?)?;
            w.text("RoleName", role).text("PolicyName", policy).text("PolicyDocument", xml::encode_document(&document));
        }
        "DeleteRolePolicy" => {
            iam.delete_role_policy(account, &required(q, "RoleName")?, &required(q, "PolicyName")?)?;
            return Ok(None);
        }
        "ListRolePolicies" => {
            let listing = iam.list_role_policies(account, &required(q, "RoleName")?, &page(q))?;
            w.open("PolicyNames");
            for name in &listing.items {
                w.text("member", name);
            }
            w.close("PolicyNames");
            xml::truncation(&mut w, listing.marker.as_ref());
        }
        "TagRole" => {
            iam.tag_role(account, &required(q, "RoleName")?, tags(q))?;
            return Ok(None);
        }
        "UntagRole" => {
            iam.untag_role(account, &required(q, "RoleName")?, &q.string_list("TagKeys"))?;
            return Ok(None);
        }
        "ListRoleTags" => {
            let listing = iam.list_role_tags(account, &required(q, "RoleName")?, &page(q))?;
            xml::tags(&mut w, &listing.items);
            xml::truncation(&mut w, listing.marker.as_ref());
        }
        "ListInstanceProfilesForRole" => {
            // Instance profiles are not emulated: a role is in none of them.
            iam.get_role(account, &required(q, "RoleName")?)?;
            w.empty("InstanceProfiles");
            xml::truncation(&mut w, None);
        }
        "CreatePolicy" => {
            let view = iam.create_policy(
                account,
                CreatePolicy {
                    name: required(q, "PolicyName")?,
                    path: optional(q, "Path"),
                    document: required(q, "PolicyDocument")?,
                    description: optional(q, "Description"),
                    tags: tags(q),
                },
                now,
            )?;
            w.open("Policy");
            xml::policy(&mut w, &view, true);
            w.close("Policy");
        }
        "GetPolicy" => {
            let view = iam.get_policy(account, &required(q, "PolicyArn")?)?;
            w.open("Policy");
            xml::policy(&mut w, &view, true);
            w.close("Policy");
        }
        "DeletePolicy" => {
            iam.delete_policy(account, &required(q, "PolicyArn")?)?;
            return Ok(None);
        }
        "ListPolicies" => {
            let only_attached = q.get("OnlyAttached").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let listing = iam.list_policies(account, q.get("Scope"), only_attached, q.get("PathPrefix"), &page(q))?;
            w.list("Policies", &listing.items, |w, v| xml::policy(w, v, false));
            xml::truncation(&mut w, listing.marker.as_ref());
        }
        "GetPolicyVersion" => {
            let (version, is_default) =
                iam.get_policy_version(account, &required(q, "PolicyArn")?, &required(q, "VersionId")?)?;
            w.open("PolicyVersion");
            xml::policy_version(&mut w, &version, is_default);
            w.close("PolicyVersion");
        }
        "ListPolicyVersions" => {
            let listing = iam.list_policy_versions(account, &required(q, "PolicyArn")?, &page(q))?;
            w.list("Versions", &listing.items, |w, (v, is_default)| xml::policy_version(w, v, *is_default));
            xml::truncation(&mut w, listing.marker.as_ref());
        }
        other => return Err(errors::not_implemented("IAM", other)),
    }
    Ok(Some(w.finish()))
}

fn sts_operation(sts: &Sts, ctx: &RequestContext, action: &str, q: &QueryRequest) -> Answer {
    let now = ctx.clock.now();
    sts.check_not_expired(ctx.access_key_id.as_deref(), now)?;
    let mut w = XmlWriter::new();
    match action {
        "GetCallerIdentity" => {
            let who = sts.get_caller_identity(&ctx.account, ctx.access_key_id.as_deref());
            xml::caller_identity(&mut w, &who);
        }
        "AssumeRole" => {
            let assumed = sts.assume_role(
                AssumeRole {
                    role_arn: required(q, "RoleArn")?,
                    session_name: required(q, "RoleSessionName")?,
                    duration_seconds: number(q, "DurationSeconds"),
                    policy: optional(q, "Policy"),
                    policy_arn_count: q.list_indexes("PolicyArns").len(),
                    tag_count: q.list_indexes("Tags").len(),
                },
                now,
            )?;
            xml::assumed_role(&mut w, &assumed);
        }
        other => return Err(errors::not_implemented("STS", other)),
    }
    Ok(Some(w.finish()))
}

/// Required members were checked by the model; this only guards direct callers.
fn required(q: &QueryRequest, name: &str) -> Result<String, AwsError> {
    q.get(name).map(str::to_string).ok_or_else(|| {
        let mut path = name.to_string();
        path[..1].make_ascii_lowercase();
        errors::validation(format!(
            "1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn optional(q: &QueryRequest, name: &str) -> Option<String> {
    q.get(name).map(str::to_string)
}

fn number(q: &QueryRequest, name: &str) -> Option<i64> {
    q.get(name).and_then(|v| v.trim().parse().ok())
}

fn page(q: &QueryRequest) -> Page {
    Page { marker: optional(q, "Marker"), max_items: number(q, "MaxItems").map(|n| n.max(1) as usize) }
}

fn tags(q: &QueryRequest) -> Vec<Tag> {
    q.struct_list("Tags")
        .into_iter()
        .map(|mut t| Tag { key: t.remove("Key").unwrap_or_default(), value: t.remove("Value").unwrap_or_default() })
        .collect()
}

#[cfg(test)]
mod tests;
