//! Template transforms. `AWS::Serverless-2016-10-31` (SAM) runs AWS's own implementation, the
//! `aws-sam-translator` Python package, in a subprocess (see [`sam`]); `AWS::LanguageExtensions`
//! needs no expansion here (its functions are evaluated by the engine).

use nimbus_core::RequestContext;
use serde_json::Value;

use crate::engine::ParamInput;
use crate::errors::{validation, Result};

pub async fn apply(
    mut doc: Value,
    transforms: &[String],
    ctx: &RequestContext,
    params: &[ParamInput],
) -> Result<Value> {
    for t in transforms {
        match t.as_str() {
            "AWS::Serverless-2016-10-31" => doc = crate::sam::translate(doc, ctx, params).await?,
            "AWS::LanguageExtensions" => {}
            other => {
                return Err(validation(format!(
                    "Template format error: Unrecognized transform {other}. nimbus runs AWS::Serverless-2016-10-31 and AWS::LanguageExtensions."
                )))
            }
        }
    }
    if let Some(obj) = doc.as_object_mut() {
        obj.remove("Transform");
    }
    Ok(doc)
}
