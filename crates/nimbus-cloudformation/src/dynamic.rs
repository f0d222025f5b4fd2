//! Dynamic references in property values: `{{resolve:ssm:name[:version]}}`,
//! `{{resolve:ssm-secure:…}}` and `{{resolve:secretsmanager:id[:SecretString[:key[:stage[:version]]]]}}`,
//! resolved through SSM's and Secrets Manager's APIs when the resource is provisioned.

use serde_json::{json, Value};

use crate::api::Api;

pub async fn resolve(api: &Api, v: Value) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) if s.contains("{{resolve:") => Value::String(resolve_text(api, &s).await?),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                out.push(Box::pin(resolve(api, i)).await?);
            }
            Value::Array(out)
        }
        Value::Object(o) => {
            let mut out = serde_json::Map::new();
            for (k, v) in o {
                out.insert(k, Box::pin(resolve(api, v)).await?);
            }
            Value::Object(out)
        }
        other => other,
    })
}

async fn resolve_text(api: &Api, text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{resolve:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end =
            after.find("}}").ok_or_else(|| format!("Incorrect format is used in the dynamic reference {rest}"))?;
        let reference = &after[..end];
        out.push_str(&one(api, reference).await?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

async fn one(api: &Api, reference: &str) -> Result<String, String> {
    let body = reference.strip_prefix("resolve:").unwrap_or(reference);
    let (service, spec) = body
        .split_once(':')
        .ok_or_else(|| format!("Incorrect format is used in the dynamic reference {{{{{reference}}}}}"))?;
    match service {
        "ssm" | "ssm-secure" => {
            let out = api
                .json("ssm", "AmazonSSM.GetParameter", "1.1", json!({"Name": spec, "WithDecryption": true}))
                .await
                .map_err(|e| {
                    format!(
                        "Unable to resolve the dynamic reference {{{{{reference}}}}}: {}",
                        if e.message.is_empty() { e.code } else { e.message }
                    )
                })?;
            Ok(out["Parameter"]["Value"].as_str().unwrap_or_default().to_string())
        }
        "secretsmanager" => {
            let parts = split_secret(spec);
            let mut req = json!({"SecretId": parts[0]});
            if !parts[3].is_empty() {
                req["VersionStage"] = json!(parts[3]);
            }
            if !parts[4].is_empty() {
                req["VersionId"] = json!(parts[4]);
            }
            let out = api.json("secretsmanager", "secretsmanager.GetSecretValue", "1.1", req).await.map_err(|e| {
                format!(
                    "Unable to resolve the dynamic reference {{{{{reference}}}}}: {}",
                    if e.message.is_empty() { e.code } else { e.message }
                )
            })?;
            let secret = out["SecretString"].as_str().unwrap_or_default().to_string();
            if parts[2].is_empty() {
                return Ok(secret);
            }
            let doc: Value = serde_json::from_str(&secret)
                .map_err(|_| format!("Could not parse SecretString JSON for {}", parts[0]))?;
            doc.get(&parts[2])
                .and_then(crate::eval::text_of)
                .ok_or_else(|| format!("Could not find SecretString key {} in secret {}", parts[2], parts[0]))
        }
        other => Err(format!("Unsupported dynamic reference service {other}")),
    }
}

/// `id[:SecretString[:key[:stage[:version]]]]`; an ARN id has colons of its own.
fn split_secret(spec: &str) -> [String; 5] {
    let (id, rest) = if spec.starts_with("arn:") {
        let parts: Vec<&str> = spec.splitn(8, ':').collect();
        let id = parts.iter().take(7).copied().collect::<Vec<_>>().join(":");
        (id, parts.get(7).copied().unwrap_or("").to_string())
    } else {
        match spec.split_once(':') {
            Some((id, rest)) => (id.to_string(), rest.to_string()),
            None => (spec.to_string(), String::new()),
        }
    };
    let mut fields = rest.split(':').map(str::to_string);
    [
        id,
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
    ]
}
