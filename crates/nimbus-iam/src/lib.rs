//! IAM and STS over the AWS query protocol, on the shared model-driven front
//! (`nimbus_core::front`): the front decodes the form into the model's input document,
//! validates it, and encodes the typed output ([`shapes`], [`sts_shapes`], generated from the
//! models) as query XML. This crate holds only the operations ([`iam::Iam`], [`sts::Sts`]) and
//! how their results read as AWS shapes ([`render`]).

pub mod errors;
pub mod iam;
pub mod render;
pub mod shapes;
pub mod sts;
pub mod sts_shapes;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use nimbus_core::front::{typed, ModelService, OpResult, Operations};
use nimbus_core::http::{HttpRequest, HttpResponse};
use nimbus_core::identity::KeyRegistry;
use nimbus_core::journal::{Journal, Records};
use nimbus_core::model::ServiceModel;
use nimbus_core::service::BoxFuture;
use nimbus_core::{AwsError, RequestContext, Service};
use serde_json::Value;

use crate::iam::{CreatePolicy, CreateRole, Iam, Listing, Page, Tag};
use crate::render::RoleDetail;
use crate::shapes as s;
use crate::sts::{AssumeRole, Sts};

pub fn iam_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/iam.json")))
}

pub fn sts_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/sts.json")))
}

pub struct IamOps(Arc<Iam>);
pub struct StsOps(Arc<Sts>);

pub struct IamService {
    iam: Arc<Iam>,
    front: ModelService<IamOps>,
}

impl IamService {
    /// `journal`: with `--data-dir`, every acknowledged mutation is written through it first;
    /// `records`: what the journal held when opened, to rebuild the state from.
    pub fn new(journal: Option<Arc<Journal>>, records: Records) -> IamService {
        let iam = Arc::new(Iam::new(journal, &records));
        IamService { front: ModelService::new("iam", &["iam"], Arc::new(IamOps(iam.clone()))), iam }
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
    front: ModelService<StsOps>,
    sts: Arc<Sts>,
}

impl StsService {
    pub fn new(keys: KeyRegistry) -> StsService {
        StsService::from_sts(Sts::new(keys, None))
    }

    /// STS that knows IAM's roles: their RoleId and MaxSessionDuration apply to AssumeRole.
    pub fn with_iam(keys: KeyRegistry, iam: &IamService) -> StsService {
        StsService::from_sts(Sts::new(keys, Some(iam.state())))
    }

    fn from_sts(sts: Sts) -> StsService {
        let sts = Arc::new(sts);
        StsService { front: ModelService::new("sts", &["sts"], Arc::new(StsOps(sts.clone()))), sts }
    }

    /// Role sessions for other services (Lambda's execution roles).
    pub fn role_sessions(&self) -> Arc<dyn nimbus_core::identity::RoleSessions> {
        self.sts.clone()
    }
}

/// Both services are their model-driven front.
macro_rules! delegate_service {
    ($service:ty) => {
        impl Service for $service {
            fn name(&self) -> &'static str {
                self.front.name()
            }

            fn signing_names(&self) -> &'static [&'static str] {
                self.front.signing_names()
            }

            fn claims(&self, req: &HttpRequest) -> bool {
                self.front.claims(req)
            }

            fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
                self.front.handle(ctx, req)
            }

            fn reset(&self) {
                self.front.reset()
            }
        }
    };
}

delegate_service!(IamService);
delegate_service!(StsService);

impl Operations for IamOps {
    fn model(&self) -> &'static ServiceModel {
        iam_model()
    }

    fn unknown_action(&self, action: &str, version: Option<&str>) -> AwsError {
        let version = version.or(self.model().meta("apiVersion")).unwrap_or_default();
        errors::unknown_action(action, version)
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move { iam_operation(&self.0, ctx, op, input) })
    }

    fn reset(&self) {
        self.0.reset();
    }
}

impl Operations for StsOps {
    fn model(&self) -> &'static ServiceModel {
        sts_model()
    }

    fn unknown_action(&self, action: &str, version: Option<&str>) -> AwsError {
        let version = version.or(self.model().meta("apiVersion")).unwrap_or_default();
        errors::unknown_action(action, version)
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move { sts_operation(&self.0, ctx, op, input) })
    }

    fn reset(&self) {
        self.0.reset();
    }
}

/// Operations without an output answer only `ResponseMetadata`.
fn done<T>(result: Result<T, AwsError>) -> Result<Value, AwsError> {
    result.map(|_| Value::Null)
}

fn iam_operation(iam: &Iam, ctx: &RequestContext, op: &str, input: Value) -> OpResult {
    let account = ctx.account.as_str();
    let now = ctx.clock.now();
    match op {
        "CreateRole" => typed(input, |i: s::CreateRoleRequest| {
            let role = iam.create_role(
                account,
                CreateRole {
                    name: i.role_name,
                    path: i.path,
                    assume_role_policy: i.assume_role_policy_document,
                    description: i.description,
                    max_session_duration: i.max_session_duration.map(|n| n as u32),
                    permissions_boundary: i.permissions_boundary,
                    tags: tags(i.tags),
                },
                now,
            )?;
            Ok(s::CreateRoleResponse { role: render::role(&role, RoleDetail::Created) })
        }),
        "GetRole" => typed(input, |i: s::GetRoleRequest| {
            let role = iam.get_role(account, &i.role_name)?;
            Ok(s::GetRoleResponse { role: render::role(&role, RoleDetail::Full) })
        }),
        "ListRoles" => typed(input, |i: s::ListRolesRequest| {
            let listing = iam.list_roles(account, i.path_prefix.as_deref(), &page(i.marker, i.max_items))?;
            let (roles, is_truncated, marker) = split(listing, |r| render::role(&r, RoleDetail::Listed));
            Ok(s::ListRolesResponse { roles, is_truncated, marker })
        }),
        "DeleteRole" => typed(input, |i: s::DeleteRoleRequest| done(iam.delete_role(account, &i.role_name))),
        "UpdateRole" => typed(input, |i: s::UpdateRoleRequest| {
            let max = i.max_session_duration.map(|n| n as u32);
            iam.update_role(account, &i.role_name, i.description, max)?;
            Ok(s::UpdateRoleResponse {})
        }),
        "UpdateRoleDescription" => typed(input, |i: s::UpdateRoleDescriptionRequest| {
            let role = iam.update_role(account, &i.role_name, Some(i.description), None)?;
            Ok(s::UpdateRoleDescriptionResponse { role: Some(render::role(&role, RoleDetail::Created)) })
        }),
        "UpdateAssumeRolePolicy" => typed(input, |i: s::UpdateAssumeRolePolicyRequest| {
            done(iam.update_assume_role_policy(account, &i.role_name, i.policy_document))
        }),
        "PutRolePermissionsBoundary" => typed(input, |i: s::PutRolePermissionsBoundaryRequest| {
            done(iam.put_role_permissions_boundary(account, &i.role_name, &i.permissions_boundary))
        }),
        "DeleteRolePermissionsBoundary" => typed(input, |i: s::DeleteRolePermissionsBoundaryRequest| {
            done(iam.delete_role_permissions_boundary(account, &i.role_name))
        }),
        "AttachRolePolicy" => typed(input, |i: s::AttachRolePolicyRequest| {
            done(iam.attach_role_policy(account, &i.role_name, &i.policy_arn))
        }),
        "DetachRolePolicy" => typed(input, |i: s::DetachRolePolicyRequest| {
            done(iam.detach_role_policy(account, &i.role_name, &i.policy_arn))
        }),
        "ListAttachedRolePolicies" => typed(input, |i: s::ListAttachedRolePoliciesRequest| {
            let listing = iam.list_attached_role_policies(
                account,
                &i.role_name,
                i.path_prefix.as_deref(),
                &page(i.marker, i.max_items),
            )?;
            let (attached, is_truncated, marker) =
                split(listing, |(name, arn)| s::AttachedPolicy { policy_name: Some(name), policy_arn: Some(arn) });
            Ok(s::ListAttachedRolePoliciesResponse { attached_policies: Some(attached), is_truncated, marker })
        }),
        "PutRolePolicy" => typed(input, |i: s::PutRolePolicyRequest| {
            done(iam.put_role_policy(account, &i.role_name, &i.policy_name, i.policy_document))
        }),
        "GetRolePolicy" => typed(input, |i: s::GetRolePolicyRequest| {
            let (role_name, policy_name, document) = iam.get_role_policy(account, &i.role_name, &i.policy_name)?;
            Ok(s::GetRolePolicyResponse { role_name, policy_name, policy_document: render::encode_document(&document) })
        }),
        "DeleteRolePolicy" => typed(input, |i: s::DeleteRolePolicyRequest| {
            done(iam.delete_role_policy(account, &i.role_name, &i.policy_name))
        }),
        "ListRolePolicies" => typed(input, |i: s::ListRolePoliciesRequest| {
            let listing = iam.list_role_policies(account, &i.role_name, &page(i.marker, i.max_items))?;
            let (policy_names, is_truncated, marker) = split(listing, |name| name);
            Ok(s::ListRolePoliciesResponse { policy_names, is_truncated, marker })
        }),
        "TagRole" => typed(input, |i: s::TagRoleRequest| done(iam.tag_role(account, &i.role_name, tags(Some(i.tags))))),
        "UntagRole" => typed(input, |i: s::UntagRoleRequest| done(iam.untag_role(account, &i.role_name, &i.tag_keys))),
        "ListRoleTags" => typed(input, |i: s::ListRoleTagsRequest| {
            let listing = iam.list_role_tags(account, &i.role_name, &page(i.marker, i.max_items))?;
            let (tags, is_truncated, marker) = split(listing, render::tag);
            Ok(s::ListRoleTagsResponse { tags, is_truncated, marker })
        }),
        "ListInstanceProfilesForRole" => typed(input, |i: s::ListInstanceProfilesForRoleRequest| {
            // Instance profiles are not emulated: a role is in none of them.
            iam.get_role(account, &i.role_name)?;
            Ok(s::ListInstanceProfilesForRoleResponse {
                instance_profiles: Vec::new(),
                is_truncated: Some(false),
                marker: None,
            })
        }),
        "CreatePolicy" => typed(input, |i: s::CreatePolicyRequest| {
            let view = iam.create_policy(
                account,
                CreatePolicy {
                    name: i.policy_name,
                    path: i.path,
                    document: i.policy_document,
                    description: i.description,
                    tags: tags(i.tags),
                },
                now,
            )?;
            Ok(s::CreatePolicyResponse { policy: Some(render::policy(&view, true)) })
        }),
        "GetPolicy" => typed(input, |i: s::GetPolicyRequest| {
            let view = iam.get_policy(account, &i.policy_arn)?;
            Ok(s::GetPolicyResponse { policy: Some(render::policy(&view, true)) })
        }),
        "DeletePolicy" => typed(input, |i: s::DeletePolicyRequest| done(iam.delete_policy(account, &i.policy_arn))),
        "ListPolicies" => typed(input, |i: s::ListPoliciesRequest| {
            let listing = iam.list_policies(
                account,
                i.scope.as_deref(),
                i.only_attached.unwrap_or(false),
                i.path_prefix.as_deref(),
                &page(i.marker, i.max_items),
            )?;
            let (policies, is_truncated, marker) = split(listing, |v| render::policy(&v, false));
            Ok(s::ListPoliciesResponse { policies: Some(policies), is_truncated, marker })
        }),
        "GetPolicyVersion" => typed(input, |i: s::GetPolicyVersionRequest| {
            let (version, is_default) = iam.get_policy_version(account, &i.policy_arn, &i.version_id)?;
            Ok(s::GetPolicyVersionResponse { policy_version: Some(render::policy_version(&version, is_default)) })
        }),
        "ListPolicyVersions" => typed(input, |i: s::ListPolicyVersionsRequest| {
            let listing = iam.list_policy_versions(account, &i.policy_arn, &page(i.marker, i.max_items))?;
            let (versions, is_truncated, marker) = split(listing, |(v, d)| render::policy_version(&v, d));
            Ok(s::ListPolicyVersionsResponse { versions: Some(versions), is_truncated, marker })
        }),
        other => Err(errors::not_implemented("IAM", other)),
    }
}

fn sts_operation(sts: &Sts, ctx: &RequestContext, op: &str, input: Value) -> OpResult {
    use crate::sts_shapes as t;
    let now = ctx.clock.now();
    sts.check_not_expired(ctx.access_key_id.as_deref(), now)?;
    match op {
        "GetCallerIdentity" => typed(input, |_: t::GetCallerIdentityRequest| {
            Ok(render::caller_identity(sts.get_caller_identity(&ctx.account, ctx.access_key_id.as_deref())))
        }),
        "AssumeRole" => typed(input, |i: t::AssumeRoleRequest| {
            let assumed = sts.assume_role(
                AssumeRole {
                    role_arn: i.role_arn,
                    session_name: i.role_session_name,
                    duration_seconds: i.duration_seconds.map(i64::from),
                    policy: i.policy,
                    policy_arn_count: i.policy_arns.map_or(0, |p| p.len()),
                    tag_count: i.tags.map_or(0, |t| t.len()),
                },
                now,
            )?;
            Ok(render::assumed_role(assumed))
        }),
        other => Err(errors::not_implemented("STS", other)),
    }
}

fn page(marker: Option<String>, max_items: Option<i32>) -> Page {
    Page { marker, max_items: max_items.map(|n| n.max(1) as usize) }
}

/// A listing as AWS's list outputs carry it: the items, `IsTruncated`, and the next `Marker`.
fn split<T, U>(listing: Listing<T>, f: impl FnMut(T) -> U) -> (Vec<U>, Option<bool>, Option<String>) {
    let truncated = listing.marker.is_some();
    (listing.items.into_iter().map(f).collect(), Some(truncated), listing.marker)
}

fn tags(tags: Option<Vec<s::Tag>>) -> Vec<Tag> {
    tags.unwrap_or_default().into_iter().map(|t| Tag { key: t.key, value: t.value }).collect()
}

#[cfg(test)]
mod tests;
