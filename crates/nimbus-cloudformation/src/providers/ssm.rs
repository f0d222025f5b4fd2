//! `AWS::SSM::Parameter` through Parameter Store's JSON 1.1 API.

use serde_json::{json, Map, Value};

use super::{failure, pick, str_prop, tolerate_gone, Created, Cx, Outcome, Spec};
use crate::boxed;
use crate::state::Resource;

pub fn specs() -> Vec<Spec> {
    vec![Spec {
        type_name: "AWS::SSM::Parameter",
        replace_on: &["Name"],
        create: boxed!(create_parameter),
        update: Some(boxed!(update_parameter, 3)),
        delete: |cx, r| Box::pin(delete_parameter(cx, r)),
        name_property: Some("Name"),
    }]
}

/// PutParameter's body from the resource's properties (the members share their names).
fn put_body(name: &str, props: &Value) -> Map<String, Value> {
    let mut body = pick(props, &["Type", "Value", "Description", "AllowedPattern", "Tier", "DataType"]);
    body.insert("Name".into(), Value::String(name.to_string()));
    if let Some(p) = props.get("Policies") {
        body.insert("Policies".into(), Value::String(super::doc_string(p)));
    }
    body
}

fn created(name: &str, props: &Value) -> Created {
    Created::named(name)
        .attr("Type", str_prop(props, "Type").unwrap_or_else(|| "String".into()))
        .attr("Value", str_prop(props, "Value").unwrap_or_default())
}

async fn create_parameter(cx: Cx, props: Value) -> Outcome {
    let name =
        str_prop(&props, "Name").unwrap_or_else(|| format!("CFN-{}-{}", cx.logical_id, super::random_suffix(12)));
    let mut body = put_body(&name, &props);
    let tags = cx.tag_list(&props);
    if !tags.is_empty() {
        body.insert("Tags".into(), tags.into_iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect());
    }
    cx.api.json("ssm", "AmazonSSM.PutParameter", "1.1", Value::Object(body)).await.map_err(|e| failure(&e))?;
    Ok(created(&name, &props))
}

async fn update_parameter(cx: Cx, current: Resource, props: Value) -> Outcome {
    let name = current.physical_id.clone().unwrap_or_default();
    let mut body = put_body(&name, &props);
    body.insert("Overwrite".into(), Value::Bool(true));
    cx.api.json("ssm", "AmazonSSM.PutParameter", "1.1", Value::Object(body)).await.map_err(|e| failure(&e))?;
    Ok(created(&name, &props))
}

async fn delete_parameter(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(name) = r.physical_id else { return Ok(()) };
    tolerate_gone(cx.api.json("ssm", "AmazonSSM.DeleteParameter", "1.1", json!({"Name": name})).await.map(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_body_maps_properties_and_policies() {
        let props = json!({"Type": "String", "Value": "v", "Tier": "Advanced", "Policies": [{"Type": "Expiration"}]});
        let body = put_body("/app/x", &props);
        assert_eq!(body["Name"], "/app/x");
        assert_eq!(body["Value"], "v");
        assert_eq!(body["Tier"], "Advanced");
        assert_eq!(body["Policies"], "[{\"Type\":\"Expiration\"}]");
        let c = created("/app/x", &props);
        assert_eq!(c.ref_value, "/app/x");
        assert_eq!(c.attributes["Value"], "v");
    }
}
