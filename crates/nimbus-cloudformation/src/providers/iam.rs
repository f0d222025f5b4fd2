//! `AWS::IAM::Role`, `Policy` and `ManagedPolicy` through IAM's query API.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{doc_string, failure, required, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::api::{xml_text, ApiResult};
use crate::boxed;
use crate::state::Resource;

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            type_name: "AWS::IAM::Role",
            replace_on: &["RoleName", "Path"],
            create: boxed!(create_role),
            update: Some(boxed!(update_role, 3)),
            delete: |cx, r| Box::pin(delete_role(cx, r)),
            name_property: Some("RoleName"),
        },
        Spec {
            type_name: "AWS::IAM::Policy",
            replace_on: &[],
            create: boxed!(create_policy),
            update: Some(boxed!(update_policy, 3)),
            delete: |cx, r| Box::pin(delete_policy(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::IAM::RolePolicy",
            replace_on: &["RoleName", "PolicyName"],
            create: boxed!(create_policy),
            update: Some(boxed!(update_policy, 3)),
            delete: |cx, r| Box::pin(delete_policy(cx, r)),
            name_property: None,
        },
        Spec {
            type_name: "AWS::IAM::ManagedPolicy",
            replace_on: &["ManagedPolicyName", "Path", "Description"],
            create: boxed!(create_managed),
            update: Some(boxed!(update_managed, 3)),
            delete: |cx, r| Box::pin(delete_managed(cx, r)),
            name_property: Some("ManagedPolicyName"),
        },
    ]
}

async fn iam(cx: &Cx, action: &str, params: &[(&str, String)]) -> ApiResult<String> {
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
    cx.api.query("iam", action, "2010-05-08", &params).await
}

fn role_created(xml: &str) -> Created {
    let name = xml_text(xml, "RoleName").unwrap_or_default();
    Created::named(name)
        .attr("Arn", xml_text(xml, "Arn").unwrap_or_default())
        .attr("RoleId", xml_text(xml, "RoleId").unwrap_or_default())
}

fn inline_policies(props: &Value) -> BTreeMap<String, String> {
    props
        .get("Policies")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|p| Some((str_prop(p, "PolicyName")?, doc_string(p.get("PolicyDocument")?))))
                .collect()
        })
        .unwrap_or_default()
}

fn strings(props: &Value, name: &str) -> Vec<String> {
    props
        .get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(crate::eval::text_of).collect())
        .unwrap_or_default()
}

async fn create_role(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "RoleName").unwrap_or_else(|| cx.generated_name(64));
    let mut params = vec![
        ("RoleName", name.clone()),
        ("AssumeRolePolicyDocument", doc_string(required(&props, "AssumeRolePolicyDocument")?)),
    ];
    for key in ["Path", "Description", "MaxSessionDuration", "PermissionsBoundary"] {
        if let Some(v) = str_prop(&props, key) {
            params.push((key, v));
        }
    }
    let tags = cx.tag_list(&props);
    let mut owned: Vec<(String, String)> = Vec::new();
    for (i, (k, v)) in tags.iter().enumerate() {
        owned.push((format!("Tags.member.{}.Key", i + 1), k.clone()));
        owned.push((format!("Tags.member.{}.Value", i + 1), v.clone()));
    }
    let mut all: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
    all.extend(owned);
    let xml = cx.api.query("iam", "CreateRole", "2010-05-08", &all).await.map_err(|e| failure(&e))?;
    for (policy, doc) in inline_policies(&props) {
        iam(&cx, "PutRolePolicy", &[("RoleName", name.clone()), ("PolicyName", policy), ("PolicyDocument", doc)])
            .await
            .map_err(|e| failure(&e))?;
    }
    for arn in strings(&props, "ManagedPolicyArns") {
        iam(&cx, "AttachRolePolicy", &[("RoleName", name.clone()), ("PolicyArn", arn)])
            .await
            .map_err(|e| failure(&e))?;
    }
    Ok(role_created(&xml))
}

async fn update_role(cx: Cx, current: Resource, props: Value) -> Outcome {
    let name = current.physical_id.clone().unwrap_or_default();
    let old = &current.properties;
    if old.get("AssumeRolePolicyDocument") != props.get("AssumeRolePolicyDocument") {
        let doc = doc_string(required(&props, "AssumeRolePolicyDocument")?);
        iam(&cx, "UpdateAssumeRolePolicy", &[("RoleName", name.clone()), ("PolicyDocument", doc)])
            .await
            .map_err(|e| failure(&e))?;
    }
    if old.get("Description") != props.get("Description")
        || old.get("MaxSessionDuration") != props.get("MaxSessionDuration")
    {
        let mut params =
            vec![("RoleName", name.clone()), ("Description", str_prop(&props, "Description").unwrap_or_default())];
        if let Some(d) = str_prop(&props, "MaxSessionDuration") {
            params.push(("MaxSessionDuration", d));
        }
        iam(&cx, "UpdateRole", &params).await.map_err(|e| failure(&e))?;
    }
    let (before, after) = (inline_policies(old), inline_policies(&props));
    for (policy, doc) in &after {
        if before.get(policy) != Some(doc) {
            iam(
                &cx,
                "PutRolePolicy",
                &[("RoleName", name.clone()), ("PolicyName", policy.clone()), ("PolicyDocument", doc.clone())],
            )
            .await
            .map_err(|e| failure(&e))?;
        }
    }
    for policy in before.keys().filter(|p| !after.contains_key(*p)) {
        tolerate_gone(
            iam(&cx, "DeleteRolePolicy", &[("RoleName", name.clone()), ("PolicyName", policy.clone())])
                .await
                .map(|_| ()),
        )?;
    }
    let (before, after) = (strings(old, "ManagedPolicyArns"), strings(&props, "ManagedPolicyArns"));
    for arn in after.iter().filter(|a| !before.contains(a)) {
        iam(&cx, "AttachRolePolicy", &[("RoleName", name.clone()), ("PolicyArn", arn.clone())])
            .await
            .map_err(|e| failure(&e))?;
    }
    for arn in before.iter().filter(|a| !after.contains(a)) {
        tolerate_gone(
            iam(&cx, "DetachRolePolicy", &[("RoleName", name.clone()), ("PolicyArn", arn.clone())]).await.map(|_| ()),
        )?;
    }
    let xml = iam(&cx, "GetRole", &[("RoleName", name)]).await.map_err(|e| failure(&e))?;
    Ok(role_created(&xml))
}

async fn delete_role(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    for arn in strings(&r.properties, "ManagedPolicyArns") {
        tolerate_gone(
            iam(&cx, "DetachRolePolicy", &[("RoleName", name.clone()), ("PolicyArn", arn)]).await.map(|_| ()),
        )?;
    }
    for policy in inline_policies(&r.properties).into_keys() {
        tolerate_gone(
            iam(&cx, "DeleteRolePolicy", &[("RoleName", name.clone()), ("PolicyName", policy)]).await.map(|_| ()),
        )?;
    }
    tolerate_gone(iam(&cx, "DeleteRole", &[("RoleName", name)]).await.map(|_| ()))
}

/// Roles an inline policy (`AWS::IAM::Policy` or `RolePolicy`) attaches to.
fn policy_roles(props: &Value) -> Vec<String> {
    let mut roles = strings(props, "Roles");
    if let Some(r) = str_prop(props, "RoleName") {
        roles.push(r);
    }
    roles
}

async fn put_inline(cx: &Cx, props: &Value) -> Result<(), String> {
    let policy = str_prop(props, "PolicyName")
        .ok_or("Properties validation failed for resource: #: required key [PolicyName] not found")?;
    let doc = doc_string(required(props, "PolicyDocument")?);
    for role in policy_roles(props) {
        iam(
            cx,
            "PutRolePolicy",
            &[("RoleName", role), ("PolicyName", policy.clone()), ("PolicyDocument", doc.clone())],
        )
        .await
        .map_err(|e| failure(&e))?;
    }
    for user in strings(props, "Users") {
        iam(
            cx,
            "PutUserPolicy",
            &[("UserName", user), ("PolicyName", policy.clone()), ("PolicyDocument", doc.clone())],
        )
        .await
        .map_err(|e| failure(&e))?;
    }
    for group in strings(props, "Groups") {
        iam(
            cx,
            "PutGroupPolicy",
            &[("GroupName", group), ("PolicyName", policy.clone()), ("PolicyDocument", doc.clone())],
        )
        .await
        .map_err(|e| failure(&e))?;
    }
    Ok(())
}

async fn remove_inline(cx: &Cx, props: &Value, keep: &[String]) -> Result<(), String> {
    let policy = str_prop(props, "PolicyName").unwrap_or_default();
    for role in policy_roles(props).into_iter().filter(|r| !keep.contains(r)) {
        tolerate_gone(
            iam(cx, "DeleteRolePolicy", &[("RoleName", role), ("PolicyName", policy.clone())]).await.map(|_| ()),
        )?;
    }
    Ok(())
}

async fn create_policy(cx: Cx, props: Value) -> Outcome {
    put_inline(&cx, &props).await?;
    Ok(Created::named(cx.generated_name(64)).attr("Id", Value::Null))
}

async fn update_policy(cx: Cx, current: Resource, props: Value) -> Outcome {
    put_inline(&cx, &props).await?;
    let same_name = str_prop(&current.properties, "PolicyName") == str_prop(&props, "PolicyName");
    let keep = if same_name { policy_roles(&props) } else { Vec::new() };
    remove_inline(&cx, &current.properties, &keep).await?;
    Ok(Created::named(current.physical_id.unwrap_or_default()))
}

async fn delete_policy(cx: Cx, r: Resource) -> Result<(), String> {
    remove_inline(&cx, &r.properties, &[]).await
}

async fn create_managed(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "ManagedPolicyName").unwrap_or_else(|| cx.generated_name(128));
    let mut params = vec![("PolicyName", name), ("PolicyDocument", doc_string(required(&props, "PolicyDocument")?))];
    for key in ["Path", "Description"] {
        if let Some(v) = str_prop(&props, key) {
            params.push((key, v));
        }
    }
    let xml = iam(&cx, "CreatePolicy", &params).await.map_err(|e| failure(&e))?;
    let arn = xml_text(&xml, "Arn").unwrap_or_default();
    attach_managed(&cx, &arn, &strings(&props, "Roles"), &[]).await?;
    Ok(Created::named(arn.clone())
        .attr("PolicyArn", arn)
        .attr("PolicyId", xml_text(&xml, "PolicyId").unwrap_or_default()))
}

async fn attach_managed(cx: &Cx, arn: &str, roles: &[String], before: &[String]) -> Result<(), String> {
    for role in roles.iter().filter(|r| !before.contains(r)) {
        iam(cx, "AttachRolePolicy", &[("RoleName", role.clone()), ("PolicyArn", arn.to_string())])
            .await
            .map_err(|e| failure(&e))?;
    }
    for role in before.iter().filter(|r| !roles.contains(r)) {
        tolerate_gone(
            iam(cx, "DetachRolePolicy", &[("RoleName", role.clone()), ("PolicyArn", arn.to_string())])
                .await
                .map(|_| ()),
        )?;
    }
    Ok(())
}

async fn update_managed(cx: Cx, current: Resource, props: Value) -> Outcome {
    let arn = current.physical_id.clone().unwrap_or_default();
    if current.properties.get("PolicyDocument") != props.get("PolicyDocument") {
        let doc = doc_string(required(&props, "PolicyDocument")?);
        iam(
            &cx,
            "CreatePolicyVersion",
            &[("PolicyArn", arn.clone()), ("PolicyDocument", doc), ("SetAsDefault", "true".into())],
        )
        .await
        .map_err(|e| failure(&e))?;
    }
    attach_managed(&cx, &arn, &strings(&props, "Roles"), &strings(&current.properties, "Roles")).await?;
    let mut c = Created::named(arn.clone()).attr("PolicyArn", arn);
    if let Some(id) = current.attributes.get("PolicyId") {
        c = c.attr("PolicyId", id.clone());
    }
    Ok(c)
}

async fn delete_managed(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(arn) = r.physical_id else { return Ok(()) };
    attach_managed(&cx, &arn, &[], &strings(&r.properties, "Roles")).await?;
    tolerate_gone(iam(&cx, "DeletePolicy", &[("PolicyArn", arn)]).await.map(|_| ()))
}
