//! `AWS::SecretsManager::Secret` (a given `SecretString` or one made by `GenerateSecretString`
//! through GetRandomPassword) through Secrets Manager's JSON 1.1 API.

use serde_json::{json, Map, Value};

use super::{failure, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::boxed;
use crate::state::Resource;

pub fn specs() -> Vec<Spec> {
    vec![Spec {
        type_name: "AWS::SecretsManager::Secret",
        replace_on: &["Name"],
        create: boxed!(create_secret),
        update: Some(boxed!(update_secret, 3)),
        delete: |cx, r| Box::pin(delete_secret(cx, r)),
        name_property: Some("Name"),
    }]
}

async fn call(cx: &Cx, op: &str, body: Value) -> Result<Value, String> {
    cx.api.json("secretsmanager", &format!("secretsmanager.{op}"), "1.1", body).await.map_err(|e| failure(&e))
}

/// GetRandomPassword's request from `GenerateSecretString` (the members share their names).
fn password_request(g: &Value) -> Value {
    let mut body = Map::new();
    for name in [
        "ExcludeLowercase",
        "ExcludeNumbers",
        "ExcludePunctuation",
        "ExcludeUppercase",
        "IncludeSpace",
        "RequireEachIncludedType",
    ] {
        if let Some(v) = str_prop(g, name) {
            body.insert(name.into(), Value::Bool(v == "true"));
        }
    }
    if let Some(v) = str_prop(g, "PasswordLength").and_then(|s| s.parse::<i64>().ok()) {
        body.insert("PasswordLength".into(), json!(v));
    }
    if let Some(v) = str_prop(g, "ExcludeCharacters") {
        body.insert("ExcludeCharacters".into(), Value::String(v));
    }
    Value::Object(body)
}

/// The generated password alone, or placed under `GenerateStringKey` in `SecretStringTemplate`.
fn generated_value(g: &Value, password: &str) -> Result<String, String> {
    match (str_prop(g, "SecretStringTemplate"), str_prop(g, "GenerateStringKey")) {
        (Some(template), Some(key)) => {
            let mut doc: Value = serde_json::from_str(&template)
                .map_err(|_| "Properties validation failed: SecretStringTemplate is not a JSON object".to_string())?;
            let obj =
                doc.as_object_mut().ok_or("Properties validation failed: SecretStringTemplate is not a JSON object")?;
            obj.insert(key, Value::String(password.to_string()));
            Ok(doc.to_string())
        }
        (None, None) => Ok(password.to_string()),
        _ => Err("Properties validation failed: SecretStringTemplate and GenerateStringKey must be specified together"
            .into()),
    }
}

async fn secret_value(cx: &Cx, props: &Value) -> Result<Option<String>, String> {
    if let Some(s) = str_prop(props, "SecretString") {
        if props.get("GenerateSecretString").is_some() {
            return Err(
                "Properties validation failed: You can't specify both SecretString and GenerateSecretString".into()
            );
        }
        return Ok(Some(s));
    }
    let Some(g) = props.get("GenerateSecretString") else { return Ok(None) };
    let out = call(cx, "GetRandomPassword", password_request(g)).await?;
    generated_value(g, out["RandomPassword"].as_str().unwrap_or_default()).map(Some)
}

fn created(arn: &str) -> Created {
    Created::named(arn).attr("Id", arn)
}

async fn create_secret(cx: Cx, props: Value) -> Outcome {
    let name = str_prop(&props, "Name").unwrap_or_else(|| format!("{}-{}", cx.logical_id, super::random_suffix(12)));
    let mut body = json!({"Name": name});
    for member in ["Description", "KmsKeyId"] {
        if let Some(v) = str_prop(&props, member) {
            body[member] = Value::String(v);
        }
    }
    if let Some(v) = secret_value(&cx, &props).await? {
        body["SecretString"] = Value::String(v);
    }
    if let Some(r) = props.get("ReplicaRegions") {
        body["AddReplicaRegions"] = r.clone();
    }
    let tags = cx.tag_list(&props);
    if !tags.is_empty() {
        body["Tags"] = tags.into_iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    }
    let out = call(&cx, "CreateSecret", body).await?;
    Ok(created(out["ARN"].as_str().unwrap_or_default()))
}

async fn update_secret(cx: Cx, current: Resource, props: Value) -> Outcome {
    let arn = current.physical_id.clone().unwrap_or_default();
    let old = &current.properties;
    let mut body = json!({"SecretId": arn});
    let mut changed = false;
    for member in ["Description", "KmsKeyId"] {
        if old.get(member) != props.get(member) {
            body[member] = Value::String(str_prop(&props, member).unwrap_or_default());
            changed = true;
        }
    }
    // A new value only when the template's value (or its generation rule) changed.
    if old.get("SecretString") != props.get("SecretString")
        || old.get("GenerateSecretString") != props.get("GenerateSecretString")
    {
        if let Some(v) = secret_value(&cx, &props).await? {
            body["SecretString"] = Value::String(v);
            changed = true;
        }
    }
    if changed {
        call(&cx, "UpdateSecret", body).await?;
    }
    let (new_tags, old_tags) = (cx.tag_list(&props), cx.tag_list(old));
    let removed: Vec<String> =
        old_tags.iter().filter(|(k, _)| !new_tags.iter().any(|(n, _)| n == k)).map(|(k, _)| k.clone()).collect();
    if !removed.is_empty() {
        call(&cx, "UntagResource", json!({"SecretId": arn, "TagKeys": removed})).await?;
    }
    if !new_tags.is_empty() && new_tags != old_tags {
        let tags: Vec<Value> = new_tags.into_iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        call(&cx, "TagResource", json!({"SecretId": arn, "Tags": tags})).await?;
    }
    Ok(created(&arn))
}

/// CloudFormation deletes a secret without a recovery window.
async fn delete_secret(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(arn) = r.physical_id else { return Ok(()) };
    let body = json!({"SecretId": arn, "ForceDeleteWithoutRecovery": true});
    tolerate_gone(cx.api.json("secretsmanager", "secretsmanager.DeleteSecret", "1.1", body).await.map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_password_goes_under_its_key_in_the_template() {
        let g = json!({"SecretStringTemplate": "{\"username\": \"admin\"}", "GenerateStringKey": "password", "PasswordLength": "16"});
        let v: Value = serde_json::from_str(&generated_value(&g, "p4ss").unwrap()).unwrap();
        assert_eq!(v, json!({"username": "admin", "password": "p4ss"}));
        assert_eq!(password_request(&g), json!({"PasswordLength": 16}));
        assert!(generated_value(&json!({"GenerateStringKey": "k"}), "x").is_err());
    }
}
