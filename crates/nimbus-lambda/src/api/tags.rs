//! Tags on Lambda resources: TagResource, UntagResource, ListTags.
//!
//! The model's pattern admits four kinds of ARN: functions (tagged by their unqualified ARN),
//! event source mappings, code signing configs and capacity providers. [`Taggable`] names them;
//! a new kind of resource joins by giving [`with_tags`] a way to reach its tags.

use std::collections::BTreeMap;

use nimbus_core::{AwsError, RequestContext};
use serde_json::{json, Value};

use super::new_revision;
use crate::error::{self, Result};
use crate::{ident, member, member_str, Lambda};

const MAX_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// AWS's rules for tags on any resource: at most 50 (the only one with a recorded AWS message),
/// keys ≤ 128 and values ≤ 256 characters, and the `aws:` prefix reserved.
pub fn check_tags(tags: &BTreeMap<String, String>) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(error::invalid_parameter("Number of tags exceeds resource tag limit."));
    }
    for (key, value) in tags {
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
            return Err(error::invalid_parameter(format!(
                "Tag key must be between 1 and {MAX_KEY_CHARS} characters: {key}"
            )));
        }
        if value.chars().count() > MAX_VALUE_CHARS {
            return Err(error::invalid_parameter(format!(
                "Tag value must be no longer than {MAX_VALUE_CHARS} characters: {key}"
            )));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(error::invalid_parameter(format!(
                "Tag keys starting with 'aws:' are reserved for AWS use: {key}"
            )));
        }
    }
    Ok(())
}

/// A taggable resource, by the kind its ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Taggable {
    Function(String),
    EventSourceMapping(String),
    CodeSigningConfig(String),
    CapacityProvider(String),
}

fn resource_not_found() -> AwsError {
    error::not_found("The resource you requested does not exist.")
}

/// What a `Resource` ARN names. The model has checked its shape already.
fn parse(ctx: &RequestContext, arn: &str) -> Result<Taggable> {
    let parsed = nimbus_core::arn::Arn::parse(arn).ok_or_else(resource_not_found)?;
    let (kind, rest) = parsed.resource.split_once(':').ok_or_else(resource_not_found)?;
    if kind == "function" {
        let id = ident::parse_function(ctx, arn, None)?;
        if id.qualifier.is_some() {
            return Err(error::invalid_parameter(
                "Tags on function aliases and versions are not supported. Please specify a function ARN.",
            ));
        }
        return Ok(Taggable::Function(id.name));
    }
    // The same reachability rules as for function ARNs.
    if parsed.region != ctx.region {
        return Err(resource_not_found());
    }
    if parsed.account != ctx.account {
        return Err(AwsError::new(403, "AccessDeniedException", ""));
    }
    match kind {
        "event-source-mapping" => Ok(Taggable::EventSourceMapping(rest.to_string())),
        "code-signing-config" => Ok(Taggable::CodeSigningConfig(arn.to_string())),
        "capacity-provider" => Ok(Taggable::CapacityProvider(rest.to_string())),
        _ => Err(resource_not_found()),
    }
}

/// Run `change` on the tags of the resource an ARN names; `mutate` says whether to persist.
fn with_tags<T>(
    lambda: &Lambda,
    ctx: &RequestContext,
    arn: &str,
    mutate: bool,
    change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<T>,
) -> Result<T> {
    let resource = parse(ctx, arn)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    match resource {
        Taggable::Function(name) => {
            let function = region
                .functions
                .get_mut(&name)
                .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &name)))?;
            let out = change(&mut function.tags)?;
            if mutate {
                // Tagging and untagging give the function a new revision, as on AWS.
                function.latest.config.revision_id = new_revision();
                lambda.save_function(ctx, &name, Some(function))?;
            }
            Ok(out)
        }
        Taggable::EventSourceMapping(uuid) => {
            let mapping = region.event_source_mappings.get_mut(&uuid).ok_or_else(resource_not_found)?;
            let out = change(&mut mapping.tags)?;
            if mutate {
                lambda.save_mapping(ctx, &uuid, Some(mapping))?;
            }
            Ok(out)
        }
        Taggable::CodeSigningConfig(arn) => {
            let config = region.code_signing_configs.get_mut(&arn).ok_or_else(|| {
                error::not_found(format!("The Lambda code signing configuration {arn} can not be found."))
            })?;
            let out = change(&mut config.tags)?;
            if mutate {
                lambda.save_code_signing_config(ctx, &config.code_signing_config_id.clone(), Some(config))?;
            }
            Ok(out)
        }
        Taggable::CapacityProvider(name) => {
            let provider =
                region.capacity_providers.get_mut(&name).ok_or_else(|| super::capacity_providers::not_found(&name))?;
            let out = change(&mut provider.tags)?;
            if mutate {
                lambda.save_capacity_provider(ctx, &name, Some(provider))?;
            }
            Ok(out)
        }
    }
}

pub fn tag_resource(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let arn = member_str(input, "Resource").unwrap_or_default();
    let new: BTreeMap<String, String> =
        member(input, "Tags").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default();
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
    let keys: Vec<String> =
        member(input, "TagKeys").and_then(|k| serde_json::from_value(k.clone()).ok()).unwrap_or_default();
    if member(input, "TagKeys").is_none() {
        return Err(error::validation(
            "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::permissions::tests::{create, ctx, lambda};

    const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

    fn tags_of(l: &Lambda, c: &RequestContext) -> Value {
        list_tags(l, c, &json!({"Resource": ARN})).unwrap()
    }

    #[test]
    fn tag_lifecycle() {
        let (l, c) = (lambda(), ctx());
        create(&l, &c, "f");
        assert_eq!(tags_of(&l, &c), json!({"Tags": {}}));
        let before =
            l.store.read().region(&c.account, &c.region).unwrap().functions["f"].latest.config.revision_id.clone();
        assert_eq!(tag_resource(&l, &c, &json!({"Resource": ARN, "Tags": {"A": "a", "C": "c"}})).unwrap(), Value::Null);
        let after =
            l.store.read().region(&c.account, &c.region).unwrap().functions["f"].latest.config.revision_id.clone();
        assert_ne!(before, after);
        tag_resource(&l, &c, &json!({"Resource": ARN, "Tags": {"C": "c2", "D": "d"}})).unwrap();
        assert_eq!(tags_of(&l, &c), json!({"Tags": {"A": "a", "C": "c2", "D": "d"}}));
        untag_resource(&l, &c, &json!({"Resource": ARN, "TagKeys": ["A", "F"]})).unwrap();
        untag_resource(&l, &c, &json!({"Resource": ARN, "TagKeys": ["nothing"]})).unwrap();
        assert_eq!(tags_of(&l, &c), json!({"Tags": {"C": "c2", "D": "d"}}));
    }

    #[test]
    fn errors_follow_aws() {
        let (l, c) = (lambda(), ctx());
        let err = tag_resource(&l, &c, &json!({"Resource": ARN, "Tags": {"A": "a"}})).unwrap_err();
        assert_eq!(
            (err.status, err.message.as_str()),
            (404, "Function not found: arn:aws:lambda:us-east-1:123456789012:function:f")
        );
        assert_eq!(list_tags(&l, &c, &json!({"Resource": ARN})).unwrap_err().status, 404);
        assert_eq!(untag_resource(&l, &c, &json!({"Resource": ARN, "TagKeys": ["A"]})).unwrap_err().status, 404);

        create(&l, &c, "f");
        let err = tag_resource(&l, &c, &json!({"Resource": ARN, "Tags": {}})).unwrap_err();
        assert_eq!(err.message, "An error occurred and the request cannot be processed.");
        for qualified in [format!("{ARN}:1"), format!("{ARN}:live"), format!("{ARN}:$LATEST")] {
            let err = tag_resource(&l, &c, &json!({"Resource": qualified, "Tags": {"A": "a"}})).unwrap_err();
            assert_eq!(err.code, "InvalidParameterValueException");
            assert_eq!(
                err.message,
                "Tags on function aliases and versions are not supported. Please specify a function ARN."
            );
        }
        let err =
            list_tags(&l, &c, &json!({"Resource": "arn:aws:lambda:eu-west-1:123456789012:function:f"})).unwrap_err();
        assert_eq!(err.message, "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')");

        let many: BTreeMap<String, String> = (0..50).map(|i| (format!("k{i}"), "v".to_string())).collect();
        tag_resource(&l, &c, &json!({"Resource": ARN, "Tags": many})).unwrap();
        let err = tag_resource(&l, &c, &json!({"Resource": ARN, "Tags": {"one-more": "v"}})).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.message.as_str()),
            ("InvalidParameterValueException", "Number of tags exceeds resource tag limit.")
        );
        // Replacing an existing key stays within the limit.
        tag_resource(&l, &c, &json!({"Resource": ARN, "Tags": {"k0": "w"}})).unwrap();
    }

    #[test]
    fn other_resource_kinds() {
        let (l, c) = (lambda(), ctx());
        let esm = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:0a1b2c3d-0000-1111-2222-333344445555";
        let err = list_tags(&l, &c, &json!({"Resource": esm})).unwrap_err();
        assert_eq!((err.status, err.message.as_str()), (404, "The resource you requested does not exist."));
        let csc = "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdef0";
        let err = tag_resource(&l, &c, &json!({"Resource": csc, "Tags": {"A": "a"}})).unwrap_err();
        assert_eq!(err.message, format!("The Lambda code signing configuration {csc} can not be found."));
        let cp = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:cp1";
        assert_eq!(list_tags(&l, &c, &json!({"Resource": cp})).unwrap_err().status, 404);
    }
}
