//! One module per API area, one plain function per operation:
//! `fn(&Lambda, &RequestContext, &input) -> Result<output>` over validated JSON input.

pub mod account;
pub mod aliases;
pub mod capacity_providers;
pub mod code_signing;
pub mod concurrency;
pub mod durable;
pub mod event_config;
pub mod event_source_mappings;
pub mod functions;
pub mod invoke;
pub mod layers;
pub mod permissions;
pub mod provisioned;
pub mod runtime_config;
pub mod runtime_lifecycle;
pub mod tags;
pub mod urls;
pub mod versions;

use nimbus_core::{AwsError, RequestContext};
use serde_json::Value;

use crate::error::Result;
use crate::Lambda;

/// Run the operation `name` on decoded, validated input.
pub fn dispatch(lambda: &Lambda, ctx: &RequestContext, name: &str, input: &Value) -> Result<Value> {
    match name {
        "CreateFunction" => functions::create_function(lambda, ctx, input),
        "GetFunction" => functions::get_function(lambda, ctx, input),
        "GetFunctionConfiguration" => functions::get_function_configuration(lambda, ctx, input),
        "ListFunctions" => functions::list_functions(lambda, ctx, input),
        "UpdateFunctionCode" => functions::update_function_code(lambda, ctx, input),
        "UpdateFunctionConfiguration" => functions::update_function_configuration(lambda, ctx, input),
        "DeleteFunction" => functions::delete_function(lambda, ctx, input),
        "PublishVersion" => versions::publish_version(lambda, ctx, input),
        "ListVersionsByFunction" => versions::list_versions_by_function(lambda, ctx, input),
        "CreateAlias" => aliases::create_alias(lambda, ctx, input),
        "GetAlias" => aliases::get_alias(lambda, ctx, input),
        "UpdateAlias" => aliases::update_alias(lambda, ctx, input),
        "DeleteAlias" => aliases::delete_alias(lambda, ctx, input),
        "ListAliases" => aliases::list_aliases(lambda, ctx, input),
        "AddPermission" => permissions::add_permission(lambda, ctx, input),
        "RemovePermission" => permissions::remove_permission(lambda, ctx, input),
        "GetPolicy" => permissions::get_policy(lambda, ctx, input),
        "PutResourcePolicy" => permissions::put_resource_policy(lambda, ctx, input),
        "GetResourcePolicy" => permissions::get_resource_policy(lambda, ctx, input),
        "DeleteResourcePolicy" => permissions::delete_resource_policy(lambda, ctx, input),
        "TagResource" => tags::tag_resource(lambda, ctx, input),
        "UntagResource" => tags::untag_resource(lambda, ctx, input),
        "ListTags" => tags::list_tags(lambda, ctx, input),
        "PutFunctionConcurrency" => concurrency::put_function_concurrency(lambda, ctx, input),
        "GetFunctionConcurrency" => concurrency::get_function_concurrency(lambda, ctx, input),
        "DeleteFunctionConcurrency" => concurrency::delete_function_concurrency(lambda, ctx, input),
        "PutFunctionEventInvokeConfig" => event_config::put_function_event_invoke_config(lambda, ctx, input),
        "UpdateFunctionEventInvokeConfig" => event_config::update_function_event_invoke_config(lambda, ctx, input),
        "GetFunctionEventInvokeConfig" => event_config::get_function_event_invoke_config(lambda, ctx, input),
        "DeleteFunctionEventInvokeConfig" => event_config::delete_function_event_invoke_config(lambda, ctx, input),
        "ListFunctionEventInvokeConfigs" => event_config::list_function_event_invoke_configs(lambda, ctx, input),
        "CreateEventSourceMapping" => event_source_mappings::create_event_source_mapping(lambda, ctx, input),
        "GetEventSourceMapping" => event_source_mappings::get_event_source_mapping(lambda, ctx, input),
        "ListEventSourceMappings" => event_source_mappings::list_event_source_mappings(lambda, ctx, input),
        "UpdateEventSourceMapping" => event_source_mappings::update_event_source_mapping(lambda, ctx, input),
        "DeleteEventSourceMapping" => event_source_mappings::delete_event_source_mapping(lambda, ctx, input),
        "CreateFunctionUrlConfig" => urls::create_function_url_config(lambda, ctx, input),
        "GetFunctionUrlConfig" => urls::get_function_url_config(lambda, ctx, input),
        "UpdateFunctionUrlConfig" => urls::update_function_url_config(lambda, ctx, input),
        "DeleteFunctionUrlConfig" => urls::delete_function_url_config(lambda, ctx, input),
        "ListFunctionUrlConfigs" => urls::list_function_url_configs(lambda, ctx, input),
        "GetRuntimeManagementConfig" => runtime_config::get_runtime_management_config(lambda, ctx, input),
        "PutRuntimeManagementConfig" => runtime_config::put_runtime_management_config(lambda, ctx, input),
        "GetFunctionRecursionConfig" => runtime_config::get_function_recursion_config(lambda, ctx, input),
        "PutFunctionRecursionConfig" => runtime_config::put_function_recursion_config(lambda, ctx, input),
        "CreateCodeSigningConfig" => code_signing::create_code_signing_config(lambda, ctx, input),
        "GetCodeSigningConfig" => code_signing::get_code_signing_config(lambda, ctx, input),
        "UpdateCodeSigningConfig" => code_signing::update_code_signing_config(lambda, ctx, input),
        "DeleteCodeSigningConfig" => code_signing::delete_code_signing_config(lambda, ctx, input),
        "ListCodeSigningConfigs" => code_signing::list_code_signing_configs(lambda, ctx, input),
        "PutFunctionCodeSigningConfig" => code_signing::put_function_code_signing_config(lambda, ctx, input),
        "GetFunctionCodeSigningConfig" => code_signing::get_function_code_signing_config(lambda, ctx, input),
        "DeleteFunctionCodeSigningConfig" => code_signing::delete_function_code_signing_config(lambda, ctx, input),
        "ListFunctionsByCodeSigningConfig" => code_signing::list_functions_by_code_signing_config(lambda, ctx, input),
        "PutProvisionedConcurrencyConfig" => provisioned::put_provisioned_concurrency_config(lambda, ctx, input),
        "GetProvisionedConcurrencyConfig" => provisioned::get_provisioned_concurrency_config(lambda, ctx, input),
        "DeleteProvisionedConcurrencyConfig" => provisioned::delete_provisioned_concurrency_config(lambda, ctx, input),
        "ListProvisionedConcurrencyConfigs" => provisioned::list_provisioned_concurrency_configs(lambda, ctx, input),
        "GetAccountSettings" => account::get_account_settings(lambda, ctx, input),
        "PublishLayerVersion" => layers::publish_layer_version(lambda, ctx, input),
        "GetLayerVersion" => layers::get_layer_version(lambda, ctx, input),
        "GetLayerVersionByArn" => layers::get_layer_version_by_arn(lambda, ctx, input),
        "ListLayers" => layers::list_layers(lambda, ctx, input),
        "ListLayerVersions" => layers::list_layer_versions(lambda, ctx, input),
        "DeleteLayerVersion" => layers::delete_layer_version(lambda, ctx, input),
        "AddLayerVersionPermission" => layers::add_layer_version_permission(lambda, ctx, input),
        "RemoveLayerVersionPermission" => layers::remove_layer_version_permission(lambda, ctx, input),
        "GetLayerVersionPolicy" => layers::get_layer_version_policy(lambda, ctx, input),
        "CreateCapacityProvider" => capacity_providers::create_capacity_provider(lambda, ctx, input),
        "GetCapacityProvider" => capacity_providers::get_capacity_provider(lambda, ctx, input),
        "UpdateCapacityProvider" => capacity_providers::update_capacity_provider(lambda, ctx, input),
        "DeleteCapacityProvider" => capacity_providers::delete_capacity_provider(lambda, ctx, input),
        "ListCapacityProviders" => capacity_providers::list_capacity_providers(lambda, ctx, input),
        "ListFunctionVersionsByCapacityProvider" => {
            capacity_providers::list_function_versions_by_capacity_provider(lambda, ctx, input)
        }
        "PutFunctionScalingConfig" => capacity_providers::put_function_scaling_config(lambda, ctx, input),
        "GetFunctionScalingConfig" => capacity_providers::get_function_scaling_config(lambda, ctx, input),
        other => Err(not_implemented(other)),
    }
}

fn not_implemented(operation: &str) -> AwsError {
    tracing::warn!(operation, "Lambda operation not implemented yet");
    AwsError::new(
        501,
        "NotImplementedException",
        format!("nimbus does not implement the Lambda operation {operation} yet"),
    )
}

/// Pagination over an ordered list: `Marker` is the position to resume from, as AWS's markers
/// are opaque strings. Returns the page and the next marker.
pub fn paginate<T: Clone>(items: &[T], input: &Value, default_max: usize) -> Result<(Vec<T>, Option<String>)> {
    let start = match crate::member_str(input, "Marker") {
        None => 0,
        Some(marker) => marker
            .parse::<usize>()
            .ok()
            .filter(|&m| m <= items.len())
            .ok_or_else(|| crate::error::invalid_parameter("Invalid pagination marker"))?,
    };
    let max = crate::member(input, "MaxItems").and_then(Value::as_u64).map_or(default_max, |m| m as usize);
    let end = start.saturating_add(max).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    Ok((items[start..end].to_vec(), next))
}

/// A List* answer: one page of `items` under `key`, rendered, with `NextMarker` when more remain.
pub fn page<T: Clone>(
    key: &str,
    items: &[T],
    input: &Value,
    default_max: usize,
    render: impl Fn(&T) -> Value,
) -> Result<Value> {
    let (page, next) = paginate(items, input, default_max)?;
    let mut out = serde_json::Map::new();
    out.insert(key.into(), Value::Array(page.iter().map(render).collect()));
    if let Some(marker) = next {
        out.insert("NextMarker".into(), Value::String(marker));
    }
    Ok(Value::Object(out))
}

/// A fresh revision id.
pub fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Lambda's timestamp format: `2024-01-31T12:34:56.789+0000`.
pub fn timestamp(ctx: &RequestContext) -> String {
    ctx.clock.now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}
