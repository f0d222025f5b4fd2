//! Types CloudFormation itself implements: `AWS::CDK::Metadata`,
//! `AWS::CloudFormation::WaitConditionHandle` / `WaitCondition`.

use serde_json::Value;

use super::{Created, Cx, Outcome, Spec};

pub fn specs() -> Vec<Spec> {
    vec![
        Spec {
            type_name: "AWS::CDK::Metadata",
            replace_on: &[],
            create: |cx, _p| Box::pin(nothing(cx)),
            update: Some(|_cx, r, _p| Box::pin(async move { Ok(Created::named(r.physical_id.unwrap_or_default())) })),
            delete: |_cx, _r| Box::pin(async { Ok(()) }),
            name_property: None,
        },
        Spec {
            type_name: "AWS::CloudFormation::WaitConditionHandle",
            replace_on: &[],
            create: |cx, _p| Box::pin(wait_handle(cx)),
            update: Some(|_cx, r, _p| Box::pin(async move { Ok(Created::named(r.physical_id.unwrap_or_default())) })),
            delete: |_cx, _r| Box::pin(async { Ok(()) }),
            name_property: None,
        },
        Spec {
            type_name: "AWS::CloudFormation::WaitCondition",
            replace_on: &[],
            create: |cx, _p| Box::pin(wait_condition(cx)),
            update: Some(|_cx, r, _p| {
                Box::pin(async move { Ok(Created::named(r.physical_id.unwrap_or_default()).attr("Data", "{}")) })
            }),
            delete: |_cx, _r| Box::pin(async { Ok(()) }),
            name_property: None,
        },
    ]
}

async fn nothing(cx: Cx) -> Outcome {
    Ok(Created::named(uuid::Uuid::new_v4().to_string()).attr("Id", Value::String(cx.logical_id)))
}

/// A handle's physical id is the presigned URL signals are sent to.
async fn wait_handle(cx: Cx) -> Outcome {
    let url = format!(
        "{}/_nimbus/cloudformation/wait/{}/{}",
        cx.endpoint,
        crate::providers::random_suffix(16),
        cx.logical_id
    );
    Ok(Created::named(url))
}

/// Wait conditions complete at once: nothing in nimbus sends their signals late.
async fn wait_condition(cx: Cx) -> Outcome {
    Ok(Created::named(format!("{}-{}", cx.stack_id, cx.logical_id)).attr("Data", "{}"))
}
