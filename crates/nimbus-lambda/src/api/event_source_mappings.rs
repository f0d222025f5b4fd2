//! Event source mappings: Create/Get/List/Update/DeleteEventSourceMapping.
//!
//! Every source type AWS accepts is validated and stored; SQS, Kinesis and DynamoDB Streams
//! mappings are polled for real (`esm::sqs`, `esm::stream`); the broker types are stored only.

use nimbus_core::RequestContext;
use serde_json::{json, Map, Value};

use super::functions::{find, find_version};
use super::page;
use crate::error::{self, Result};
use crate::esm::{filter::Pattern, EventSourceMapping, SourceKind};
use crate::ident;
use crate::{member, member_bool, member_str, Lambda};

/// Members that are kept as given and returned as given.
const STORED_MEMBERS: &[&str] = &[
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "DestinationConfig",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "MaximumRetryAttempts",
    "TumblingWindowInSeconds",
    "Topics",
    "Queues",
    "SourceAccessConfigurations",
    "SelfManagedEventSource",
    "AmazonManagedKafkaEventSourceConfig",
    "SelfManagedKafkaEventSourceConfig",
    "DocumentDBEventSourceConfig",
    "KMSKeyArn",
    "MetricsConfig",
    "LoggingConfig",
    "ProvisionedPollerConfig",
];

fn not_found() -> nimbus_core::AwsError {
    error::not_found("The resource you requested does not exist.")
}

/// Resolve `FunctionName` to the ARN the mapping keeps, checking the function (and qualifier) exist.
fn function_arn(lambda: &Lambda, ctx: &RequestContext, raw: &str) -> Result<String> {
    let id = ident::parse_function(ctx, raw, None)?;
    let store = lambda.store.read();
    let function = find(store.region(&ctx.account, &ctx.region), ctx, &id)?;
    find_version(function, ctx, &id)?;
    Ok(ident::qualified_arn(ctx, &id.name, id.qualifier.as_deref()))
}

fn filters(input: &Value) -> Result<Option<Vec<String>>> {
    let Some(criteria) = member(input, "FilterCriteria") else { return Ok(None) };
    let mut out = Vec::new();
    for filter in criteria.get("Filters").and_then(Value::as_array).into_iter().flatten() {
        let pattern = filter.get("Pattern").and_then(Value::as_str).unwrap_or_default();
        Pattern::parse(pattern).map_err(error::invalid_parameter)?;
        out.push(pattern.to_string());
    }
    Ok(Some(out))
}

/// Defaults AWS fills in per source type.
fn defaults(kind: SourceKind) -> Map<String, Value> {
    let mut out = Map::new();
    if kind.is_stream() {
        out.insert("LastProcessingResult".into(), json!("No records processed"));
    }
    if matches!(kind, SourceKind::Kinesis | SourceKind::DynamoDbStreams) {
        out.insert("ParallelizationFactor".into(), json!(1));
        out.insert("DestinationConfig".into(), json!({"OnFailure": {}}));
        out.insert("MaximumRecordAgeInSeconds".into(), json!(-1));
        out.insert("BisectBatchOnFunctionError".into(), json!(false));
        out.insert("MaximumRetryAttempts".into(), json!(-1));
        out.insert("TumblingWindowInSeconds".into(), json!(0));
    }
    out
}

/// Rules the model cannot express, per source type.
fn check(kind: SourceKind, mapping: &EventSourceMapping) -> Result<()> {
    let settings = &mapping.settings;
    match kind {
        SourceKind::Sqs => {
            if settings.contains_key("StartingPosition") {
                return Err(error::invalid_parameter("StartingPosition is not valid for SQS event sources."));
            }
            if mapping.batch_size > 10 && mapping.batching_window == 0 {
                return Err(error::invalid_parameter(
                    "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
                ));
            }
        }
        SourceKind::Kinesis | SourceKind::DynamoDbStreams | SourceKind::Msk | SourceKind::SelfManagedKafka => {
            if !settings.contains_key("StartingPosition") {
                return Err(error::invalid_parameter(
                    "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.",
                ));
            }
        }
        SourceKind::Mq | SourceKind::DocumentDb => {}
    }
    if matches!(kind, SourceKind::Msk | SourceKind::SelfManagedKafka) && !settings.contains_key("Topics") {
        return Err(error::invalid_parameter("Topics must be specified for Kafka event sources."));
    }
    if kind == SourceKind::SelfManagedKafka && !settings.contains_key("SelfManagedEventSource") {
        return Err(error::invalid_parameter(
            "Unrecognized event source, must be kinesis, dynamodb stream, sqs, msk, mq or documentdb.",
        ));
    }
    if kind == SourceKind::Mq && !settings.contains_key("Queues") {
        return Err(error::invalid_parameter("Queues must be specified for Amazon MQ event sources."));
    }
    if mapping.maximum_concurrency.is_some() && kind != SourceKind::Sqs {
        return Err(error::invalid_parameter("ScalingConfig is only supported for SQS event sources."));
    }
    Ok(())
}

fn apply(mapping: &mut EventSourceMapping, input: &Value) -> Result<()> {
    if let Some(enabled) = member(input, "Enabled").and_then(Value::as_bool) {
        mapping.enabled = enabled;
    }
    if let Some(n) = member(input, "BatchSize").and_then(Value::as_u64) {
        mapping.batch_size = n as u32;
    }
    if let Some(n) = member(input, "MaximumBatchingWindowInSeconds").and_then(Value::as_u64) {
        mapping.batching_window = n as u32;
    }
    if let Some(f) = filters(input)? {
        mapping.filters = f;
    }
    if let Some(types) = member(input, "FunctionResponseTypes").and_then(|t| serde_json::from_value(t.clone()).ok()) {
        mapping.function_response_types = types;
    }
    if let Some(scaling) = member(input, "ScalingConfig") {
        mapping.maximum_concurrency = scaling.get("MaximumConcurrency").and_then(Value::as_u64).map(|n| n as u32);
    }
    for key in STORED_MEMBERS {
        if let Some(v) = member(input, key) {
            mapping.settings.insert((*key).to_string(), v.clone());
        }
    }
    Ok(())
}

pub fn create_event_source_mapping(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let source_arn = member_str(input, "EventSourceArn").map(str::to_string);
    let kind = SourceKind::of(source_arn.as_deref()).ok_or_else(|| {
        error::invalid_parameter(
            "Unrecognized event source, must be kinesis, dynamodb stream, sqs, msk, mq or documentdb.",
        )
    })?;
    let function_arn = function_arn(lambda, ctx, member_str(input, "FunctionName").unwrap_or_default())?;
    let mut mapping = EventSourceMapping {
        uuid: uuid::Uuid::new_v4().to_string(),
        kind,
        function_arn,
        event_source_arn: source_arn.clone(),
        enabled: true,
        batch_size: kind.default_batch_size(),
        batching_window: 0,
        filters: Vec::new(),
        function_response_types: Vec::new(),
        maximum_concurrency: None,
        settings: defaults(kind),
        last_modified: ctx.clock.now_millis() as f64 / 1000.0,
        tags: member(input, "Tags").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default(),
        endpoint: ctx.endpoint.clone(),
    };
    if !member_bool(input, "Enabled") && member(input, "Enabled").is_some() {
        mapping.enabled = false;
    }
    apply(&mut mapping, input)?;
    check(kind, &mapping)?;
    super::tags::check_tags(&mapping.tags)?;
    if kind == SourceKind::Sqs {
        let queues = lambda.queues.read().clone();
        if let (Some(queues), Some(arn)) = (queues, &source_arn) {
            if queues.queue_kind(&ctx.account, &ctx.region, arn).is_none() {
                return Err(error::invalid_parameter(format!(
                    "Invalid request provided: Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue {arn} does not exist or you do not have access to it."
                )));
            }
        }
    }
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    if let Some(existing) = region
        .event_source_mappings
        .values()
        .find(|m| m.event_source_arn == source_arn && m.function_arn == mapping.function_arn && kind == SourceKind::Sqs)
    {
        return Err(error::conflict(format!(
            "An event source mapping with SQS arn (\" {} \") and function (\" {} \") already exists. Please update or delete the existing mapping with UUID {}",
            source_arn.as_deref().unwrap_or_default(),
            mapping.function_arn.rsplit(':').next().unwrap_or_default(),
            existing.uuid
        )));
    }
    // AWS answers a mapping created disabled as `Disabled`, any other as `Creating`.
    let out = mapping.render(&ctx.region, &ctx.account, if mapping.enabled { "Creating" } else { "Disabled" });
    lambda.save_mapping(ctx, &mapping.uuid, Some(&mapping))?;
    region.event_source_mappings.insert(mapping.uuid.clone(), mapping);
    Ok(out)
}

pub fn get_event_source_mapping(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let uuid = member_str(input, "UUID").unwrap_or_default();
    let store = lambda.store.read();
    let mapping = store
        .region(&ctx.account, &ctx.region)
        .and_then(|r| r.event_source_mappings.get(uuid))
        .ok_or_else(not_found)?;
    Ok(mapping.render(&ctx.region, &ctx.account, mapping.state()))
}

pub fn list_event_source_mappings(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let source = member_str(input, "EventSourceArn");
    let function = match member_str(input, "FunctionName") {
        Some(raw) => Some(ident::parse_function(ctx, raw, None)?),
        None => None,
    };
    let store = lambda.store.read();
    let items: Vec<Value> = store
        .region(&ctx.account, &ctx.region)
        .map(|r| {
            r.event_source_mappings
                .values()
                .filter(|m| source.is_none_or(|s| m.event_source_arn.as_deref() == Some(s)))
                .filter(|m| {
                    function.as_ref().is_none_or(|f| {
                        ident::parse_function(ctx, &m.function_arn, None)
                            .is_ok_and(|mf| mf.name == f.name && (f.qualifier.is_none() || mf.qualifier == f.qualifier))
                    })
                })
                .map(|m| m.render(&ctx.region, &ctx.account, m.state()))
                .collect()
        })
        .unwrap_or_default();
    page("EventSourceMappings", &items, input, 100, |item| json!(item))
}

pub fn update_event_source_mapping(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let uuid = member_str(input, "UUID").unwrap_or_default().to_string();
    let new_function = match member_str(input, "FunctionName") {
        Some(raw) => Some(function_arn(lambda, ctx, raw)?),
        None => None,
    };
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let current = region.event_source_mappings.get(&uuid).ok_or_else(not_found)?;
    let mut mapping = current.clone();
    if let Some(arn) = new_function {
        mapping.function_arn = arn;
    }
    apply(&mut mapping, input)?;
    check(mapping.kind, &mapping)?;
    mapping.last_modified = ctx.clock.now_millis() as f64 / 1000.0;
    mapping.endpoint = ctx.endpoint.clone();
    // Turning a mapping on or off answers `Enabling`/`Disabling`, other changes `Updating`.
    let transition = match (current.enabled, mapping.enabled) {
        (false, true) => "Enabling",
        (true, false) => "Disabling",
        _ => "Updating",
    };
    let out = mapping.render(&ctx.region, &ctx.account, transition);
    lambda.save_mapping(ctx, &uuid, Some(&mapping))?;
    region.event_source_mappings.insert(uuid, mapping);
    Ok(out)
}

pub fn delete_event_source_mapping(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let uuid = member_str(input, "UUID").unwrap_or_default().to_string();
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let mapping = region.event_source_mappings.get(&uuid).ok_or_else(not_found)?;
    let out = mapping.render(&ctx.region, &ctx.account, "Deleting");
    lambda.save_mapping(ctx, &uuid, None)?;
    region.event_source_mappings.remove(&uuid);
    Ok(out)
}
