//! `AWS::ECR::Repository` through ECR's JSON 1.1 API: the repository (tag mutability, scanning,
//! encryption, tags, lifecycle and repository policies) is a real ECR repository that
//! DescribeRepositories lists. Ref is the repository name; GetAtt answers `Arn` and
//! `RepositoryUri` from ECR. Deleting follows `EmptyOnDelete` (DeleteRepository with `force`).

use serde_json::{json, Value};

use super::{doc_string, failure, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::boxed;
use crate::state::Resource;

pub fn specs() -> Vec<Spec> {
    vec![Spec {
        type_name: "AWS::ECR::Repository",
        replace_on: &["RepositoryName", "EncryptionConfiguration"],
        create: boxed!(create_repository),
        update: Some(boxed!(update_repository, 3)),
        delete: |cx, r| Box::pin(delete_repository(cx, r)),
        name_property: Some("RepositoryName"),
    }]
}

async fn call(cx: &Cx, op: &str, body: Value) -> Result<Value, String> {
    call_raw(cx, op, body).await.map_err(|e| failure(&e))
}

async fn call_raw(cx: &Cx, op: &str, body: Value) -> Result<Value, crate::api::ApiError> {
    cx.api.json("ecr", &format!("AmazonEC2ContainerRegistry_V20150921.{op}"), "1.1", body).await
}

/// Booleans arrive as `true` or, from parameters, `"true"`.
fn flag(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn scan_on_push(props: &Value) -> bool {
    flag(props.pointer("/ImageScanningConfiguration/ScanOnPush")).unwrap_or(false)
}

/// `ImageTagMutabilityExclusionFilters` in ECR's member names.
fn exclusion_filters(props: &Value) -> Option<Value> {
    let filters = props.get("ImageTagMutabilityExclusionFilters")?.as_array()?;
    Some(
        filters
            .iter()
            .map(|f| {
                json!({
                    "filterType": f.get("ImageTagMutabilityExclusionFilterType").cloned().unwrap_or(Value::Null),
                    "filter": f.get("ImageTagMutabilityExclusionFilterValue").cloned().unwrap_or(Value::Null),
                })
            })
            .collect(),
    )
}

fn lifecycle_text(props: &Value) -> Option<String> {
    props.pointer("/LifecyclePolicy/LifecyclePolicyText").map(doc_string)
}

fn policy_text(props: &Value) -> Option<String> {
    props.get("RepositoryPolicyText").map(doc_string)
}

fn tags_json(tags: &[(String, String)]) -> Value {
    tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect()
}

fn created(repository: &Value) -> Created {
    let name = repository["repositoryName"].as_str().unwrap_or_default();
    Created::named(name)
        .attr("Arn", repository["repositoryArn"].as_str().unwrap_or_default())
        .attr("RepositoryUri", repository["repositoryUri"].as_str().unwrap_or_default())
}

/// CreateRepository's body from the resource's properties.
fn create_body(cx: &Cx, name: &str, props: &Value) -> Value {
    let mut body = json!({"repositoryName": name});
    if let Some(m) = str_prop(props, "ImageTagMutability") {
        body["imageTagMutability"] = json!(m);
    }
    if let Some(f) = exclusion_filters(props) {
        body["imageTagMutabilityExclusionFilters"] = f;
    }
    if props.get("ImageScanningConfiguration").is_some() {
        body["imageScanningConfiguration"] = json!({"scanOnPush": scan_on_push(props)});
    }
    if let Some(enc) = props.get("EncryptionConfiguration") {
        let mut conf = json!({"encryptionType": str_prop(enc, "EncryptionType").unwrap_or_else(|| "AES256".into())});
        if let Some(k) = str_prop(enc, "KmsKey") {
            conf["kmsKey"] = json!(k);
        }
        body["encryptionConfiguration"] = conf;
    }
    let tags = cx.tag_list(props);
    if !tags.is_empty() {
        body["tags"] = tags_json(&tags);
    }
    body
}

async fn create_repository(cx: Cx, props: Value) -> Outcome {
    // Generated names are lower case: ECR allows only `[a-z0-9._/-]`.
    let name = str_prop(&props, "RepositoryName").unwrap_or_else(|| cx.generated_name(256).to_ascii_lowercase());
    let out = call(&cx, "CreateRepository", create_body(&cx, &name, &props)).await?;
    if let Some(text) = lifecycle_text(&props) {
        call(&cx, "PutLifecyclePolicy", json!({"repositoryName": name, "lifecyclePolicyText": text})).await?;
    }
    if let Some(text) = policy_text(&props) {
        call(&cx, "SetRepositoryPolicy", json!({"repositoryName": name, "policyText": text})).await?;
    }
    Ok(created(&out["repository"]))
}

async fn update_repository(cx: Cx, current: Resource, props: Value) -> Outcome {
    let name = current.physical_id.clone().unwrap_or_default();
    let old = &current.properties;
    let mutability = str_prop(&props, "ImageTagMutability").unwrap_or_else(|| "MUTABLE".into());
    if str_prop(old, "ImageTagMutability").unwrap_or_else(|| "MUTABLE".into()) != mutability
        || exclusion_filters(old) != exclusion_filters(&props)
    {
        let mut body = json!({"repositoryName": name, "imageTagMutability": mutability});
        if let Some(f) = exclusion_filters(&props) {
            body["imageTagMutabilityExclusionFilters"] = f;
        }
        call(&cx, "PutImageTagMutability", body).await?;
    }
    if scan_on_push(old) != scan_on_push(&props) {
        let body = json!({"repositoryName": name, "imageScanningConfiguration": {"scanOnPush": scan_on_push(&props)}});
        call(&cx, "PutImageScanningConfiguration", body).await?;
    }
    match (lifecycle_text(old), lifecycle_text(&props)) {
        (old_text, Some(text)) if old_text.as_ref() != Some(&text) => {
            call(&cx, "PutLifecyclePolicy", json!({"repositoryName": name, "lifecyclePolicyText": text})).await?;
        }
        (Some(_), None) => {
            tolerate_gone(call_raw(&cx, "DeleteLifecyclePolicy", json!({"repositoryName": name})).await.map(|_| ()))?;
        }
        _ => {}
    }
    match (policy_text(old), policy_text(&props)) {
        (old_text, Some(text)) if old_text.as_ref() != Some(&text) => {
            call(&cx, "SetRepositoryPolicy", json!({"repositoryName": name, "policyText": text})).await?;
        }
        (Some(_), None) => {
            tolerate_gone(call_raw(&cx, "DeleteRepositoryPolicy", json!({"repositoryName": name})).await.map(|_| ()))?;
        }
        _ => {}
    }
    let described = call(&cx, "DescribeRepositories", json!({"repositoryNames": [name]})).await?;
    let repository = &described["repositories"][0];
    let arn = repository["repositoryArn"].as_str().unwrap_or_default().to_string();
    let (old_tags, new_tags) = (cx.tag_list(old), cx.tag_list(&props));
    if old_tags != new_tags {
        let gone: Vec<&String> =
            old_tags.iter().map(|(k, _)| k).filter(|k| !new_tags.iter().any(|(n, _)| n == *k)).collect();
        if !gone.is_empty() {
            call(&cx, "UntagResource", json!({"resourceArn": arn, "tagKeys": gone})).await?;
        }
        if !new_tags.is_empty() {
            call(&cx, "TagResource", json!({"resourceArn": arn, "tags": tags_json(&new_tags)})).await?;
        }
    }
    Ok(created(repository))
}

async fn delete_repository(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    let force = flag(r.properties.get("EmptyOnDelete")).unwrap_or(false);
    tolerate_gone(call_raw(&cx, "DeleteRepository", json!({"repositoryName": name, "force": force})).await.map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_map_to_ecr_members() {
        let props = json!({
            "ImageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
            "ImageTagMutabilityExclusionFilters": [
                {"ImageTagMutabilityExclusionFilterType": "WILDCARD", "ImageTagMutabilityExclusionFilterValue": "dev-*"}
            ],
            "ImageScanningConfiguration": {"ScanOnPush": "true"},
            "EncryptionConfiguration": {"EncryptionType": "KMS", "KmsKey": "alias/k"},
            "LifecyclePolicy": {"LifecyclePolicyText": {"rules": []}},
            "RepositoryPolicyText": {"Statement": []},
        });
        assert_eq!(exclusion_filters(&props).unwrap(), json!([{"filterType": "WILDCARD", "filter": "dev-*"}]));
        assert!(scan_on_push(&props));
        assert_eq!(lifecycle_text(&props).unwrap(), r#"{"rules":[]}"#);
        assert_eq!(policy_text(&props).unwrap(), r#"{"Statement":[]}"#);
    }
}
