//! `AWS::CloudFormation::Stack`: a nested stack, created, updated and deleted through
//! CloudFormation's own public API (CreateStack/UpdateStack/DeleteStack with the
//! `TemplateURL`), waited on as a client would, its Outputs offered as `Outputs.<Name>`.

use std::time::Duration;

use serde_json::Value;

use super::{failure, str_prop, Created, Cx, Outcome, Spec};
use crate::api::{xml_text, xml_texts};
use crate::boxed;
use crate::state::Resource;

const VERSION: &str = "2010-05-15";

pub fn specs() -> Vec<Spec> {
    vec![Spec {
        type_name: "AWS::CloudFormation::Stack",
        replace_on: &[],
        create: boxed!(create_stack),
        update: Some(boxed!(update_stack, 3)),
        delete: |cx, r| Box::pin(delete_stack(cx, r)),
        name_property: None,
    }]
}

fn p(k: impl Into<String>, v: impl Into<String>) -> (String, String) {
    (k.into(), v.into())
}

/// The parameters CreateStack/UpdateStack share: template, parameters, capabilities, tags.
fn stack_params(cx: &Cx, props: &Value) -> Result<Vec<(String, String)>, String> {
    let url = str_prop(props, "TemplateURL")
        .ok_or("Properties validation failed for resource: #: required key [TemplateURL] not found")?;
    let mut out = vec![p("TemplateURL", url)];
    if let Some(params) = props.get("Parameters").and_then(Value::as_object) {
        for (i, (k, v)) in params.iter().enumerate() {
            let value = match v {
                Value::Array(items) => items.iter().filter_map(crate::eval::text_of).collect::<Vec<_>>().join(","),
                other => crate::eval::text_of(other).unwrap_or_default(),
            };
            out.push(p(format!("Parameters.member.{}.ParameterKey", i + 1), k.clone()));
            out.push(p(format!("Parameters.member.{}.ParameterValue", i + 1), value));
        }
    }
    // The parent stack acknowledged the capabilities for the stacks it nests.
    for (i, c) in ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"].iter().enumerate() {
        out.push(p(format!("Capabilities.member.{}", i + 1), *c));
    }
    for (i, (k, v)) in cx.tag_list(props).into_iter().enumerate() {
        out.push(p(format!("Tags.member.{}.Key", i + 1), k));
        out.push(p(format!("Tags.member.{}.Value", i + 1), v));
    }
    for (i, arn) in props.get("NotificationARNs").and_then(Value::as_array).into_iter().flatten().enumerate() {
        out.push(p(format!("NotificationARNs.member.{}", i + 1), crate::eval::text_of(arn).unwrap_or_default()));
    }
    if let Some(t) = str_prop(props, "TimeoutInMinutes") {
        out.push(p("TimeoutInMinutes", t));
    }
    Ok(out)
}

/// Poll DescribeStacks until the nested stack settles; its status and Outputs.
async fn settle(cx: &Cx, id: &str) -> Result<(String, String, Vec<(String, String)>), String> {
    loop {
        let xml = cx
            .api
            .query("cloudformation", "DescribeStacks", VERSION, &[p("StackName", id)])
            .await
            .map_err(|e| failure(&e))?;
        let status = xml_text(&xml, "StackStatus").unwrap_or_default();
        if !status.ends_with("_IN_PROGRESS") {
            let reason = xml_text(&xml, "StackStatusReason").unwrap_or_default();
            let outputs = match (xml.find("<Outputs>"), xml.find("</Outputs>")) {
                (Some(s), Some(e)) if s < e => xml_texts(&xml[s..e], "member")
                    .iter()
                    .filter_map(|m| Some((xml_text(m, "OutputKey")?, xml_text(m, "OutputValue").unwrap_or_default())))
                    .collect(),
                _ => Vec::new(),
            };
            return Ok((status, reason, outputs));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn created(id: &str, outputs: Vec<(String, String)>) -> Created {
    let mut c = Created::named(id);
    for (k, v) in outputs {
        c = c.attr(&format!("Outputs.{k}"), v);
    }
    c
}

async fn create_stack(cx: Cx, props: Value) -> Outcome {
    let name = cx.generated_name(128);
    let mut params = vec![p("StackName", name)];
    params.extend(stack_params(&cx, &props)?);
    params.push(p("DisableRollback", "false"));
    let xml = cx.api.query("cloudformation", "CreateStack", VERSION, &params).await.map_err(|e| failure(&e))?;
    let id = xml_text(&xml, "StackId").ok_or("CloudFormation answered without a StackId")?;
    let (status, reason, outputs) = settle(&cx, &id).await?;
    if status != "CREATE_COMPLETE" {
        // What the nested stack left (ROLLBACK_COMPLETE) is deleted with the failure.
        let _ = cx.api.query("cloudformation", "DeleteStack", VERSION, &[p("StackName", id.clone())]).await;
        let _ = settle(&cx, &id).await;
        return Err(format!("Embedded stack {id} was not successfully created: {reason}"));
    }
    Ok(created(&id, outputs))
}

async fn update_stack(cx: Cx, current: Resource, props: Value) -> Outcome {
    let id = current.physical_id.clone().unwrap_or_default();
    let mut params = vec![p("StackName", id.clone())];
    params.extend(stack_params(&cx, &props)?);
    match cx.api.query("cloudformation", "UpdateStack", VERSION, &params).await {
        Ok(_) => {}
        Err(e) if e.message == "No updates are to be performed." => {}
        Err(e) => return Err(failure(&e)),
    }
    let (status, reason, outputs) = settle(&cx, &id).await?;
    if status != "UPDATE_COMPLETE" && status != "CREATE_COMPLETE" {
        return Err(format!(
            "Embedded stack {id} was not successfully updated. Currently in {status} with reason: {reason}"
        ));
    }
    Ok(created(&id, outputs))
}

async fn delete_stack(cx: Cx, r: Resource) -> Result<(), String> {
    let Some(id) = r.physical_id else { return Ok(()) };
    match cx.api.query("cloudformation", "DeleteStack", VERSION, &[p("StackName", id.clone())]).await {
        Ok(_) => {}
        Err(e) if super::gone(&e) => return Ok(()),
        Err(e) => return Err(failure(&e)),
    }
    let (status, reason, _) = settle(&cx, &id).await?;
    if status != "DELETE_COMPLETE" {
        return Err(format!("Embedded stack {id} was not successfully deleted: {reason}"));
    }
    Ok(())
}
