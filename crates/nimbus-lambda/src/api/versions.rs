//! Versions: immutable snapshots of `$LATEST`.

use nimbus_core::RequestContext;
use serde_json::{json, Value};

use super::functions::{find, function_id, render, View};
use super::{new_revision, page, timestamp};
use crate::error::{self, Result};
use crate::ident;
use crate::state::{Function, FunctionConfig, Version};
use crate::{member_str, Lambda};

/// Publish `$LATEST` as the next version, unless the newest version already equals it, in which
/// case AWS hands back that version instead of creating a new one.
pub fn publish(ctx: &RequestContext, function: &mut Function, description: Option<&str>) -> Version {
    if let Some(newest) = function.versions.values().next_back() {
        let source_description = newest.source_description.as_ref().unwrap_or(&newest.config.description);
        if same_content(&newest.config, &function.latest.config)
            && newest.code == function.latest.code
            && *source_description == function.latest.config.description
        {
            return newest.clone();
        }
    }
    let number = function.next_version;
    let mut version = function.latest.clone();
    version.config.version = number.to_string();
    version.config.function_arn = ident::qualified_arn(ctx, &version.config.function_name, Some(&number.to_string()));
    version.config.revision_id = new_revision();
    version.config.last_modified = timestamp(ctx);
    version.source_description = Some(function.latest.config.description.clone());
    version.transition = None;
    if let Some(d) = description {
        version.config.description = d.to_string();
    }
    function.versions.insert(number, version.clone());
    function.next_version = number + 1;
    // Publishing also gives $LATEST a new revision, as AWS does.
    function.latest.config.revision_id = new_revision();
    version
}

/// Whether two configurations differ only in what every version has of its own.
fn same_content(a: &FunctionConfig, b: &FunctionConfig) -> bool {
    let strip = |c: &FunctionConfig| FunctionConfig {
        version: String::new(),
        function_arn: String::new(),
        revision_id: String::new(),
        last_modified: String::new(),
        description: String::new(),
        ..c.clone()
    };
    strip(a) == strip(b)
}

pub fn publish_version(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    super::functions::check_not_updating(ctx, function)?;
    if let Some(expected) = member_str(input, "CodeSha256") {
        let current = &function.latest.config.code_sha256;
        if expected != current {
            return Err(error::invalid_parameter(format!(
                "CodeSHA256 ({expected}) is different from current CodeSHA256 in $LATEST ({current}). Please try again with the CodeSHA256 in $LATEST."
            )));
        }
    }
    if let Some(expected) = member_str(input, "RevisionId") {
        if expected != function.latest.config.revision_id {
            return Err(error::revision_mismatch());
        }
    }
    let before = function.next_version;
    let version = publish(ctx, function, member_str(input, "Description"));
    if function.next_version != before {
        lambda.save_function(ctx, &id.name, Some(function))?;
    }
    Ok(super::functions::render_version(&version, View::Current))
}

pub fn list_versions_by_function(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function = find(store.region(&ctx.account, &ctx.region), ctx, &id)?;
    let all: Vec<&Version> = std::iter::once(&function.latest).chain(function.versions.values()).collect();
    page("Versions", &all, input, 50, |v| render_qualified(ctx, v))
}

/// A version in a listing: always with its qualified ARN, `$LATEST` included.
pub fn render_qualified(ctx: &RequestContext, version: &Version) -> Value {
    let mut out = render(&version.config, View::Listed);
    out["FunctionArn"] = json!(ident::qualified_arn(ctx, &version.config.function_name, Some(&version.config.version)));
    out
}
