//! Tags on Lambda resources: TagResource, UntagResource, ListTags.
//!
//! Functions are tagged by their unqualified ARN. Other taggable resources (event source
//! mappings, code signing configs, capacity providers) join `with_tags` as they are built.

use std::collections::BTreeMap;

use nimbus_core::RequestContext;
use serde_json::{json, Value};

use super::new_revision;
use crate::error::{self, Result};
use crate::{ident, member, member_str, Lambda};

const MAX_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// AWS's rules for tags on any resource: at most 50, keys ≤ 128 and values ≤ 256 characters,
/// and the `aws:` prefix reserved.
pub fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(error::invalid_parameter("Number of tags exceeds resource tag limit."));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
            return Err(error::invalid_parameter(format!("Tag key must be between 1 and {MAX_KEY_CHARS} characters: {key}")));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(error::invalid_parameter(format!("Tag value must be no longer than {MAX_VALUE_CHARS} characters: {key}")));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(error::invalid_parameter(format!("Tag keys starting with 'aws:' are reserved for AWS use: {key}")));
        }
    }
    Ok(())
}

/// Run `change` on the tags of the resource an ARN names; `mutate` says whether to persist.
fn with_tags<T>(
    lambda: &Lambda,
    ctx: &RequestContext,
    arn: &str,
    mutate: bool,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<T>,
) -> Result<T> {
    let resource = nimbus_core::arn::Arn::parse(arn).map(|a| a.resource).unwrap_or_default();
    if let Some(uuid) = resource.strip_prefix("event-source-mapping:") {
        let mut store = lambda.store.write();
        let region = store.region_mut(&ctx.account, &ctx.region);
        let mapping = region
            .event_source_mappings
            .get_mut(uuid)
            .ok_or_else(|| error::not_found("The resource you requested does not exist."))?;
        let out = change(&mut mapping.tags)?;
        if mutate {
            lambda.save_mapping(ctx, uuid, Some(mapping))?;
        }
        return Ok(out);
    }
    if !resource.starts_with("function:") {
        return Err(error::not_found("The resource you requested does not exist."));
    }
    let id = ident::parse_function(ctx, arn, None)?;
    if id.qualifier.is_some() {
        return Err(error::invalid_parameter(
            "Tags on function aliases and versions are not supported. Please specify a function ARN.",
        ));
    }
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    let out = change(&mut function.tags)?;
    if mutate {
        // Tagging a function gives it a new revision, as on AWS.
        function.latest.config.revision_id = new_revision();
        lambda.save_function(ctx, &id.name, Some(function))?;
    }
    Ok(out)
}

pub fn tag_resource(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let arn = member_str(input, "Resource").unwrap_or_default();
    let new: BTreeMap<String, String> = member(input, "Tags").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default();
    if new.is_empty() {
        return Err(error::invalid_parameter("An error occurred and the request cannot be processed."));
    }
    with_tags(lambda, ctx, arn, true, |tags| {
        let mut merged = tags.clone();
        merged.extend(new);
        check_tags(&merged)?;
        *tags = merged;
        Ok(Value::Null)
    })
}

pub fn untag_resource(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let arn = member_str(input, "Resource").unwrap_or_default();
    let keys: Vec<String> = member(input, "TagKeys").and_then(|k| serde_json::from_value(k.clone()).ok()).unwrap_or_default();
    with_tags(lambda, ctx, arn, true, |tags| {
        for key in &keys {
            tags.remove(key);
        }
        Ok(Value::Null)
    })
}

pub fn list_tags(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let arn = member_str(input, "Resource").unwrap_or_default();
    with_tags(lambda, ctx, arn, false, |tags| Ok(json!({"Tags": tags})))
}
