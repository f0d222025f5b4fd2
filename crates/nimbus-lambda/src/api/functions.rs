//! Functions: create, read, list, update code and configuration, delete.

use std::collections::BTreeMap;

use nimbus_core::RequestContext;
use serde_json::{json, Value};

use super::{new_revision, runtime_lifecycle, timestamp};
use crate::code;
use crate::error::{self, Result};
use crate::ident::{self, FunctionId};
use crate::state::{
    CodeRef, Environment, Function, FunctionConfig, LayerReference, Transition, TransitionKind, Version,
};
use crate::{member, member_bool, member_str, Lambda};

/// Environment variables the Lambda runtime sets itself.
const RESERVED_ENV_KEYS: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

const MAX_ENV_BYTES: usize = 4096;
const MAX_LAYERS: usize = 5;

/// How a configuration is shown: AWS reports the transition a call started, then the settled state.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Right after CreateFunction, or of a version just published with an update: `State: Pending`.
    Created,
    /// Right after an update: `LastUpdateStatus: InProgress`.
    Updating,
    /// Get*: the settled state, or the transition still under way.
    Current,
    /// List*: without the state fields, as AWS documents.
    Listed,
}

pub fn render(config: &FunctionConfig, view: View) -> Value {
    render_with(config, view, None)
}

/// A version as `view` shows it: a create or update still under way (see
/// [`crate::state::Transition`]) is shown as such, with the revision it has meanwhile.
pub fn render_version(version: &Version, view: View) -> Value {
    let transition = version.transition.as_ref();
    match (view, version.in_transition(std::time::Instant::now())) {
        (View::Current, Some(t)) => {
            let view = match t.kind {
                TransitionKind::Creating => View::Created,
                TransitionKind::Updating => View::Updating,
            };
            render_with(&version.config, view, Some(&t.revision_id))
        }
        (View::Created | View::Updating, _) => {
            render_with(&version.config, view, transition.map(|t| t.revision_id.as_str()))
        }
        _ => render_with(&version.config, view, None),
    }
}

fn render_with(config: &FunctionConfig, view: View, revision: Option<&str>) -> Value {
    let mut config = config.clone();
    // The transition's revision: settling gives the function another one.
    let revision = || revision.map_or_else(new_revision, str::to_string);
    match view {
        View::Created => {
            config.revision_id = revision();
            config.state = Some("Pending".into());
            config.state_reason = Some("The function is being created.".into());
            config.state_reason_code = Some("Creating".into());
            config.last_update_status = None;
            config.last_update_status_reason = None;
            config.last_update_status_reason_code = None;
        }
        View::Updating => {
            config.revision_id = revision();
            config.last_update_status = Some("InProgress".into());
            config.last_update_status_reason = Some("The function is being created.".into());
            config.last_update_status_reason_code = Some("Creating".into());
        }
        View::Current => {}
        View::Listed => config = listed_view(&config),
    }
    serde_json::to_value(config).expect("config serializes")
}

/// Start showing a create or update of `version` for `window`.
pub fn begin_transition(version: &mut Version, kind: TransitionKind, window: std::time::Duration) {
    version.transition =
        Some(Transition { until: std::time::Instant::now() + window, kind, revision_id: new_revision() });
}

/// AWS refuses to change a function while it is still being created or an update of it is
/// still being applied, with a message that says which.
pub fn check_not_updating(ctx: &RequestContext, function: &Function) -> Result<()> {
    let arn = ident::function_arn(ctx, function.name());
    match function.latest.in_transition(std::time::Instant::now()).map(|t| t.kind) {
        Some(TransitionKind::Creating) => Err(error::conflict(format!(
            "The operation cannot be performed at this time. The resource {arn} is currently in the following state: 'Pending'. StateReasonCode: 'Creating'"
        ))),
        Some(TransitionKind::Updating) => Err(error::conflict(format!(
            "The operation cannot be performed at this time. An update is in progress for resource: {arn}"
        ))),
        None => Ok(()),
    }
}

/// AWS refuses to invoke a version that is still being created (`State: Pending`).
pub fn check_invocable(version: &Version) -> Result<()> {
    match version.in_transition(std::time::Instant::now()) {
        Some(t) if t.kind == TransitionKind::Creating => Err(error::conflict(
            "The operation cannot be performed at this time. The function is currently in the following state: Pending",
        )),
        _ => Ok(()),
    }
}

/// Look up the function an identifier names, or AWS's not-found error.
pub fn find<'a>(
    lambda_region: Option<&'a crate::state::Region>,
    ctx: &RequestContext,
    id: &FunctionId,
) -> Result<&'a Function> {
    lambda_region
        .and_then(|r| r.functions.get(&id.name))
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))
}

/// [`find`] for the operations whose not-found message names the version AWS resolved
/// (Invoke, GetFunction): `…:function:name:$LATEST` when unqualified, else the qualifier.
pub fn find_resolved<'a>(
    lambda_region: Option<&'a crate::state::Region>,
    ctx: &RequestContext,
    id: &FunctionId,
) -> Result<&'a Function> {
    lambda_region.and_then(|r| r.functions.get(&id.name)).ok_or_else(|| {
        let qualifier = id.qualifier.as_deref().unwrap_or("$LATEST");
        error::function_not_found(&ident::qualified_arn(ctx, &id.name, Some(qualifier)))
    })
}

/// The version a qualified identifier names, or AWS's not-found error.
pub fn find_version<'a>(function: &'a Function, ctx: &RequestContext, id: &FunctionId) -> Result<&'a Version> {
    function
        .resolve(id.qualifier.as_deref())
        .ok_or_else(|| error::function_not_found(&ident::qualified_arn(ctx, &id.name, id.qualifier.as_deref())))
}

pub fn function_id(ctx: &RequestContext, input: &Value) -> Result<FunctionId> {
    let raw = member_str(input, "FunctionName").unwrap_or_default();
    ident::parse_function(ctx, raw, member_str(input, "Qualifier"))
}

pub fn create_function(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    if id.qualifier.is_some() {
        return Err(error::invalid_parameter(
            "Unsupported: qualified function ARNs cannot be used to create a function.",
        ));
    }
    let name = id.name;
    if name.len() > 64 {
        // AWS reports this one as a parameter error, in validation wording.
        return Err(error::invalid_parameter(format!(
            "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"
        )));
    }
    let package_type = member_str(input, "PackageType").unwrap_or("Zip").to_string();
    let code_input = member(input, "Code").cloned().unwrap_or(json!({}));
    let runtime = member_str(input, "Runtime").map(str::to_string);
    let handler = member_str(input, "Handler").map(str::to_string);
    let (code, image_uri) = if package_type == "Image" {
        if runtime.is_some() || handler.is_some() {
            return Err(error::invalid_parameter(
                "Runtime and Handler are not supported for functions created with container images.",
            ));
        }
        let uri = member_str(&code_input, "ImageUri").ok_or_else(|| {
            error::invalid_parameter("Please provide ImageUri when creating a function with PackageType Image.")
        })?;
        (None, Some(uri.to_string()))
    } else {
        if runtime.is_none() || handler.is_none() {
            return Err(error::invalid_parameter(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
            ));
        }
        if member(&code_input, "ImageUri").is_some() {
            return Err(error::invalid_parameter(
                "Please don't provide ImageUri when creating a function with PackageType Zip.",
            ));
        }
        (Some(code_source(lambda, ctx, &code_input)?), None)
    };
    if let Some(rt) = &runtime {
        runtime_lifecycle::check_create(rt, today(ctx))?;
    }
    let environment = environment(input)?;
    let now = timestamp(ctx);
    let mut config = FunctionConfig {
        function_name: name.clone(),
        function_arn: ident::function_arn(ctx, &name),
        runtime,
        role: member_str(input, "Role").unwrap_or_default().to_string(),
        handler,
        code_size: 0,
        description: member_str(input, "Description").unwrap_or_default().to_string(),
        timeout: member(input, "Timeout").and_then(Value::as_u64).unwrap_or(3) as u32,
        memory_size: member(input, "MemorySize").and_then(Value::as_u64).unwrap_or(128) as u32,
        last_modified: now,
        code_sha256: image_digest(image_uri.as_deref()),
        version: "$LATEST".into(),
        vpc_config: member(input, "VpcConfig").map(vpc_config_response),
        dead_letter_config: member(input, "DeadLetterConfig").cloned(),
        environment,
        kms_key_arn: member_str(input, "KMSKeyArn").map(str::to_string),
        tracing_config: json!({"Mode": member(input, "TracingConfig").and_then(|t| t.get("Mode")).cloned().unwrap_or(json!("PassThrough"))}),
        master_arn: None,
        revision_id: new_revision(),
        layers: None,
        state: Some("Active".into()),
        state_reason: None,
        state_reason_code: None,
        last_update_status: Some("Successful".into()),
        last_update_status_reason: None,
        last_update_status_reason_code: None,
        file_system_configs: member(input, "FileSystemConfigs").cloned(),
        package_type,
        image_config_response: member(input, "ImageConfig").map(|c| json!({"ImageConfig": c})),
        signing_profile_version_arn: None,
        signing_job_arn: None,
        architectures: member(input, "Architectures")
            .and_then(|a| serde_json::from_value(a.clone()).ok())
            .unwrap_or_else(|| vec!["x86_64".to_string()]),
        ephemeral_storage: json!({"Size": member(input, "EphemeralStorage").and_then(|e| e.get("Size")).cloned().unwrap_or(json!(512))}),
        snap_start: snap_start_response(member(input, "SnapStart")),
        runtime_version_config: None,
        logging_config: logging_config(&name, None, member(input, "LoggingConfig"))?,
        capacity_provider_config: member(input, "CapacityProviderConfig").cloned(),
        durable_config: member(input, "DurableConfig").cloned(),
        tenancy_config: member(input, "TenancyConfig").cloned(),
    };
    config.runtime_version_config = config.runtime.as_deref().map(|rt| runtime_version_config(ctx, rt));

    let mut store = lambda.store.write();
    let layer_refs = resolve_layers(&store, ctx, member(input, "Layers"))?;
    let zip = match &code {
        Some(Source::Zip(c)) => Some(c),
        _ => None,
    };
    check_total_size(zip, &layer_refs)?;
    apply_layers(&mut config, &layer_refs);
    let region = store.region_mut(&ctx.account, &ctx.region);
    super::capacity_providers::check_reference(region, ctx, member(input, "CapacityProviderConfig"))?;
    if region.functions.contains_key(&name) {
        return Err(error::conflict(format!("Function already exist: {name}")));
    }
    super::code_signing::check_deployment(region, ctx, member_str(input, "CodeSigningConfigArn"), &name)?;
    let tags: BTreeMap<String, String> =
        member(input, "Tags").and_then(|t| serde_json::from_value(t.clone()).ok()).unwrap_or_default();
    super::tags::check_tags(&tags)?;
    let mut latest = Version {
        config,
        code: None,
        image_uri,
        hot_reload_dir: None,
        layer_code: layer_refs.into_iter().map(|(_, c)| c).collect(),
        source_description: None,
        sealed_environment: None,
        transition: None,
    };
    if let Some(source) = code {
        set_code(&mut latest, source);
    }
    crate::sealed::seal(lambda, ctx, &mut latest)?;
    let mut function = Function {
        latest,
        versions: BTreeMap::new(),
        next_version: 1,
        aliases: BTreeMap::new(),
        policies: BTreeMap::new(),
        tags,
        reserved_concurrency: None,
        code_signing_config_arn: member_str(input, "CodeSigningConfigArn").map(str::to_string),
        event_invoke_configs: BTreeMap::new(),
        url_configs: BTreeMap::new(),
        runtime_management: BTreeMap::new(),
        provisioned: BTreeMap::new(),
        recursive_loop: None,
        scaling_configs: Default::default(),
    };
    // `$LATEST` is shown being created for a while (invocations and updates are refused
    // meanwhile), as AWS shows it until the function is Active.
    begin_transition(&mut function.latest, TransitionKind::Creating, lambda.create_window);
    let mut shown = render_version(&function.latest, View::Created);
    if member_bool(input, "Publish") {
        // The published version is shown being created for a while, as AWS shows it.
        let number = super::versions::publish(ctx, &mut function, None).config.version;
        if let Some(version) = number.parse().ok().and_then(|n: u64| function.versions.get_mut(&n)) {
            begin_transition(version, TransitionKind::Creating, lambda.create_window);
        }
        shown["Version"] = json!(number);
    }
    lambda.save_function(ctx, &name, Some(&function))?;
    region.functions.insert(name, function);
    Ok(shown)
}

pub fn get_function(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let store = lambda.store.read();
    let function = find_resolved(store.region(&ctx.account, &ctx.region), ctx, &id)?;
    let version = find_version(function, ctx, &id)?;
    let mut config = render_version(version, View::Current);
    if crate::sealed::is_locked(version) {
        // Journaled as ciphertext and not decrypted yet: shown decrypted, or why it cannot be.
        config["Environment"] = match crate::sealed::open(lambda, &ctx.account, &ctx.region, version) {
            Ok(variables) => json!({"Variables": variables}),
            Err(e) => {
                let e = super::invoke::kms_failure(&e);
                json!({"Error": {"ErrorCode": e.code, "Message": e.message}})
            }
        };
    } else if let Some(e) = super::invoke::kms_key_error(lambda, ctx, &version.config) {
        config["Environment"] = json!({"Error": {"ErrorCode": e.code, "Message": e.message}});
    }
    if let Some(q) = id.qualifier.as_deref().filter(|q| !ident::is_version(q)) {
        // Asked through an alias (or as `$LATEST`): the ARN carries the qualifier, the version
        // stays the target's.
        config["FunctionArn"] = json!(ident::qualified_arn(ctx, &id.name, Some(q)));
    }
    let code_location = match (&version.code, &version.image_uri) {
        (Some(code), _) => json!({"RepositoryType": "S3", "Location": code::download_url(ctx, code)}),
        (None, None) if version.hot_reload_dir.is_some() => json!({"RepositoryType": "S3"}),
        (None, Some(uri)) => json!({"RepositoryType": "ECR", "ImageUri": uri, "ResolvedImageUri": uri}),
        (None, None) => json!({}),
    };
    let mut out = json!({"Configuration": config, "Code": code_location});
    if !function.tags.is_empty() {
        out["Tags"] = json!(function.tags);
    }
    if let Some(reserved) = function.reserved_concurrency {
        out["Concurrency"] = json!({"ReservedConcurrentExecutions": reserved});
    }
    Ok(out)
}

pub fn get_function_configuration(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let mut out = get_function(lambda, ctx, input)?;
    Ok(out["Configuration"].take())
}

pub fn list_functions(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let body = list_functions_body(lambda, ctx, input)?;
    serde_json::from_slice(&body).map_err(|e| nimbus_core::AwsError::internal(e.to_string()))
}

/// ListFunctions, serialized straight from the stored configurations: building a JSON tree per
/// function would cost ~10 KB of short-lived allocations each on large listings.
pub fn list_functions_body(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Vec<u8>> {
    let all_versions = match member_str(input, "FunctionVersion") {
        None => false,
        Some("ALL") => true,
        Some(other) => {
            return Err(error::validation(format!(
                "1 validation error detected: Value '{other}' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]"
            )))
        }
    };
    if member(input, "MasterRegion").is_some() && !all_versions {
        return Err(error::invalid_parameter("MasterRegion is only supported when FunctionVersion is ALL."));
    }
    let max = member(input, "MaxItems").and_then(Value::as_u64).unwrap_or(50) as usize;
    // The marker is the position to resume at: "<name>" or "<name>:<version>".
    let marker = member_str(input, "Marker").map(|m| match m.split_once(':') {
        Some((name, v)) => (name.to_string(), v.parse::<u64>().ok()),
        None => (m.to_string(), None),
    });
    let store = lambda.store.read();
    let mut body = Vec::with_capacity(max.min(1000) * 1024);
    body.extend_from_slice(b"{\"Functions\":[");
    let mut listed = 0usize;
    let mut next_marker = None;
    if let Some(region) = store.region(&ctx.account, &ctx.region) {
        let start = marker.as_ref().map_or("", |(name, _)| name.as_str());
        'functions: for (name, function) in region.functions.range(start.to_string()..) {
            // `None` stands for $LATEST, listed first.
            let mut entries: Vec<(Option<u64>, &Version)> = vec![(None, &function.latest)];
            if all_versions {
                entries.extend(function.versions.iter().map(|(n, v)| (Some(*n), v)));
            }
            for (number, version) in entries {
                if let Some((marker_name, marker_version)) = &marker {
                    if marker_name == name && number < *marker_version {
                        continue;
                    }
                }
                if listed == max {
                    next_marker = Some(match number {
                        None => name.clone(),
                        Some(n) => format!("{name}:{n}"),
                    });
                    break 'functions;
                }
                if listed > 0 {
                    body.push(b',');
                }
                let mut config = listed_view(&version.config);
                if all_versions {
                    config.function_arn = ident::qualified_arn(ctx, &config.function_name, Some(&config.version));
                }
                serde_json::to_writer(&mut body, &config).expect("config serializes");
                listed += 1;
            }
        }
    }
    body.push(b']');
    if let Some(marker) = next_marker {
        body.extend_from_slice(b",\"NextMarker\":");
        serde_json::to_writer(&mut body, &marker).expect("string serializes");
    }
    body.push(b'}');
    Ok(body)
}

/// A configuration as List* operations show it: without the state fields.
fn listed_view(config: &FunctionConfig) -> FunctionConfig {
    FunctionConfig {
        state: None,
        state_reason: None,
        state_reason_code: None,
        last_update_status: None,
        last_update_status_reason: None,
        last_update_status_reason_code: None,
        runtime_version_config: None,
        ..config.clone()
    }
}

pub fn update_function_code(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let dry_run = member_bool(input, "DryRun");
    // Store the new archive before taking the lock: blob writes are slow and idempotent.
    let new_code = if member(input, "ZipFile").is_some() || member(input, "S3Bucket").is_some() {
        Some(code_source(lambda, ctx, input)?)
    } else {
        None
    };
    let new_image = member_str(input, "ImageUri").map(str::to_string);
    if new_code.is_none() && new_image.is_none() {
        return Err(error::invalid_parameter("Please provide a source for function code."));
    }
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let csc = region.functions.get(&id.name).and_then(|f| f.code_signing_config_arn.clone());
    super::code_signing::check_deployment(region, ctx, csc.as_deref(), &id.name)?;
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    check_not_updating(ctx, function)?;
    check_revision(input, &function.latest.config.revision_id)?;
    // A function on a runtime past AWS's update block can no longer get new code.
    if let Some(rt) = function.latest.config.runtime.as_deref() {
        runtime_lifecycle::check_update(rt, today(ctx))?;
    }
    let is_image = function.latest.config.package_type == "Image";
    if is_image && new_code.is_some() {
        return Err(error::invalid_parameter(
            "Please provide ImageUri when updating a function with packageType Image.",
        ));
    }
    if !is_image && new_image.is_some() {
        return Err(error::invalid_parameter(
            "Please don't provide ImageUri when updating a function with packageType Zip.",
        ));
    }
    if let Some(Source::Zip(code)) = &new_code {
        let layer_sizes: Vec<(LayerReference, CodeRef)> = function
            .latest
            .config
            .layers
            .iter()
            .flatten()
            .cloned()
            .zip(function.latest.layer_code.iter().cloned())
            .collect();
        check_total_size(Some(code), &layer_sizes)?;
    }
    let mut latest = function.latest.clone();
    if let Some(source) = new_code {
        set_code(&mut latest, source);
    }
    if let Some(uri) = new_image {
        latest.config.code_sha256 = image_digest(Some(&uri));
        latest.image_uri = Some(uri);
    }
    if let Some(archs) = member(input, "Architectures").and_then(|a| serde_json::from_value(a.clone()).ok()) {
        latest.config.architectures = archs;
    }
    latest.config.last_modified = timestamp(ctx);
    latest.config.revision_id = new_revision();
    if dry_run {
        return Ok(render(&latest.config, View::Current));
    }
    function.latest = latest;
    begin_transition(&mut function.latest, TransitionKind::Updating, lambda.update_window);
    let shown = if member_bool(input, "Publish") {
        // AWS answers with the new version, itself still being created.
        let before = function.next_version;
        let number = super::versions::publish(ctx, function, None).config.version;
        let created = function.next_version != before;
        match number.parse().ok().and_then(|n: u64| function.versions.get_mut(&n)) {
            Some(version) if created => {
                begin_transition(version, TransitionKind::Creating, lambda.update_window);
                render_version(version, View::Created)
            }
            // Nothing new to publish: the version that has this code already.
            Some(version) => render_version(version, View::Current),
            None => render_version(&function.latest, View::Updating),
        }
    } else {
        render_version(&function.latest, View::Updating)
    };
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(shown)
}

pub fn update_function_configuration(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let mut store = lambda.store.write();
    let layer_refs = match member(input, "Layers") {
        Some(layers) => Some(resolve_layers(&store, ctx, Some(layers))?),
        None => None,
    };
    let region = store.region_mut(&ctx.account, &ctx.region);
    super::capacity_providers::check_reference(region, ctx, member(input, "CapacityProviderConfig"))?;
    let function = region
        .functions
        .get_mut(&id.name)
        .ok_or_else(|| error::function_not_found(&ident::function_arn(ctx, &id.name)))?;
    check_not_updating(ctx, function)?;
    check_revision(input, &function.latest.config.revision_id)?;
    let mut latest = function.latest.clone();
    // Variables still only in ciphertext are needed in the clear to change or re-encrypt them.
    crate::sealed::unseal(lambda, &ctx.account, &ctx.region, &mut latest)
        .map_err(|e| super::invoke::kms_failure(&e))?;
    let config = &mut latest.config;
    let is_image = config.package_type == "Image";
    if let Some(rt) = member_str(input, "Runtime") {
        if is_image {
            return Err(error::invalid_parameter(
                "Please don't provide Runtime when updating a function with packageType Image.",
            ));
        }
        // Naming a runtime past its update block is refused (even the function's own); other
        // configuration changes of such a function go through, as on AWS.
        runtime_lifecycle::check_update(rt, today(ctx))?;
        config.runtime = Some(rt.to_string());
        config.runtime_version_config = Some(runtime_version_config(ctx, rt));
    }
    if let Some(handler) = member_str(input, "Handler") {
        if is_image {
            return Err(error::invalid_parameter(
                "Please don't provide Handler when updating a function with packageType Image.",
            ));
        }
        config.handler = Some(handler.to_string());
    }
    if let Some(role) = member_str(input, "Role") {
        config.role = role.to_string();
    }
    if let Some(d) = member_str(input, "Description") {
        config.description = d.to_string();
    }
    if let Some(t) = member(input, "Timeout").and_then(Value::as_u64) {
        config.timeout = t as u32;
    }
    if let Some(m) = member(input, "MemorySize").and_then(Value::as_u64) {
        config.memory_size = m as u32;
    }
    if member(input, "Environment").is_some() {
        config.environment = environment(input)?;
    }
    if let Some(vpc) = member(input, "VpcConfig") {
        config.vpc_config = Some(vpc_config_response(vpc));
    }
    // `TargetArn: ""` clears the dead-letter queue; `DeadLetterConfig: {}` leaves it as it is,
    // as AWS answers it.
    if let Some(target) = member(input, "DeadLetterConfig").and_then(|d| d.get("TargetArn")).and_then(Value::as_str) {
        config.dead_letter_config = (!target.is_empty()).then(|| json!({"TargetArn": target}));
    }
    if let Some(kms) = member_str(input, "KMSKeyArn") {
        config.kms_key_arn = (!kms.is_empty()).then(|| kms.to_string());
    }
    if let Some(mode) = member(input, "TracingConfig").and_then(|t| t.get("Mode")) {
        config.tracing_config = json!({"Mode": mode});
    }
    if let Some(fs) = member(input, "FileSystemConfigs") {
        config.file_system_configs = fs.as_array().filter(|a| !a.is_empty()).map(|_| fs.clone());
    }
    if let Some(ic) = member(input, "ImageConfig") {
        config.image_config_response = Some(json!({"ImageConfig": ic}));
    }
    if let Some(size) = member(input, "EphemeralStorage").and_then(|e| e.get("Size")) {
        config.ephemeral_storage = json!({"Size": size});
    }
    if let Some(snap) = member(input, "SnapStart") {
        config.snap_start = snap_start_response(Some(snap));
    }
    if let Some(logging) = member(input, "LoggingConfig") {
        config.logging_config = logging_config(&id.name, Some(&config.logging_config), Some(logging))?;
    }
    if let Some(cp) = member(input, "CapacityProviderConfig") {
        config.capacity_provider_config = Some(cp.clone());
    }
    if let Some(durable) = member(input, "DurableConfig") {
        config.durable_config = Some(durable.clone());
    }
    if let Some(refs) = layer_refs {
        check_total_size(latest.code.as_ref(), &refs)?;
        apply_layers(&mut latest.config, &refs);
        latest.layer_code = refs.into_iter().map(|(_, c)| c).collect();
    }
    crate::sealed::seal(lambda, ctx, &mut latest)?;
    latest.config.last_modified = timestamp(ctx);
    latest.config.revision_id = new_revision();
    function.latest = latest;
    begin_transition(&mut function.latest, TransitionKind::Updating, lambda.update_window);
    lambda.save_function(ctx, &id.name, Some(function))?;
    Ok(render_version(&function.latest, View::Updating))
}

pub fn delete_function(lambda: &Lambda, ctx: &RequestContext, input: &Value) -> Result<Value> {
    let id = function_id(ctx, input)?;
    let mut store = lambda.store.write();
    let region = store.region_mut(&ctx.account, &ctx.region);
    let Some(function) = region.functions.get_mut(&id.name) else {
        return Err(error::function_not_found(&ident::function_arn(ctx, &id.name)));
    };
    match id.qualifier.as_deref() {
        None => {
            lambda.save_function(ctx, &id.name, None)?;
            region.functions.remove(&id.name);
            // Its idle environments go now, not at the idle reaper's next pass.
            lambda.invoker.drop_environments(|a, r, f| a == ctx.account && r == ctx.region && f == id.name);
        }
        Some("$LATEST") => {
            return Err(error::invalid_parameter("$LATEST version cannot be deleted without deleting the function."));
        }
        Some(q) if ident::is_version(q) => {
            let number: u64 =
                q.parse().map_err(|_| error::function_not_found(&ident::qualified_arn(ctx, &id.name, Some(q))))?;
            if !function.versions.contains_key(&number) {
                // Deleting a version that is not there succeeds, as on AWS.
                return Ok(json!({"StatusCode": 204}));
            }
            let referencing: Vec<&str> = function
                .aliases
                .values()
                .filter(|a| a.function_version == q || a.weights.contains_key(q))
                .map(|a| a.name.as_str())
                .collect();
            if !referencing.is_empty() {
                return Err(error::conflict(format!(
                    "Unable to delete version because the following aliases reference it: [{}]",
                    referencing.join(", ")
                )));
            }
            function.versions.remove(&number);
            function.policies.remove(q);
            lambda.save_function(ctx, &id.name, Some(function))?;
        }
        Some(alias) if !function.aliases.contains_key(alias) => {
            return Err(error::function_not_found(&ident::qualified_arn(ctx, &id.name, Some(alias))));
        }
        Some(_alias) => {
            return Err(error::invalid_parameter("Deletion of aliases is not supported."));
        }
    }
    // AWS binds the status to the output's StatusCode: 204.
    Ok(json!({"StatusCode": 204}))
}

/// The bucket name that means "run the code from the local folder named by S3Key".
pub const HOT_RELOAD_BUCKET: &str = "hot-reload";
/// What AWS tools see as the CodeSha256 of hot-reloaded code (the folder changes under us).
const HOT_RELOAD_SHA: &str = "hot-reloading-hash-not-available";

/// Where new code comes from.
enum Source {
    Zip(CodeRef),
    Folder(String),
}

fn code_source(lambda: &Lambda, ctx: &RequestContext, code_input: &Value) -> Result<Source> {
    if member_str(code_input, "S3Bucket") == Some(HOT_RELOAD_BUCKET) {
        let folder = member_str(code_input, "S3Key").unwrap_or_default();
        let path = std::path::Path::new(folder);
        if !path.is_absolute() || !path.is_dir() {
            return Err(error::invalid_parameter(format!(
                "Hot reload needs S3Key to be an absolute path to a local folder; '{folder}' is not one."
            )));
        }
        return Ok(Source::Folder(folder.to_string()));
    }
    upload_code(lambda, ctx, code_input).map(Source::Zip)
}

/// Point a version at new code.
fn set_code(version: &mut Version, source: Source) {
    match source {
        Source::Zip(code) => {
            version.config.code_sha256 = code::code_sha256(&code);
            version.config.code_size = code.size;
            version.code = Some(code);
            version.hot_reload_dir = None;
        }
        Source::Folder(folder) => {
            version.config.code_sha256 = HOT_RELOAD_SHA.to_string();
            version.config.code_size = 0;
            version.code = None;
            version.hot_reload_dir = Some(folder);
        }
    }
}

/// Store the code a `FunctionCode`-like input carries (`ZipFile`, or an S3 location).
fn upload_code(lambda: &Lambda, ctx: &RequestContext, code_input: &Value) -> Result<CodeRef> {
    if let Some(zip) = member_str(code_input, "ZipFile") {
        let bytes = code::decode_zip_member(zip)?;
        return code::store_zip(lambda, &bytes);
    }
    if member_str(code_input, "S3Bucket").is_some() {
        return code::store_from_s3(lambda, ctx, code_input);
    }
    Err(error::invalid_parameter("Please provide a source for function code."))
}

/// The date on nimbus's clock (UTC), which AWS's runtime blocks are compared with.
fn today(ctx: &RequestContext) -> chrono::NaiveDate {
    ctx.clock.now().date_naive()
}

fn check_revision(input: &Value, current: &str) -> Result<()> {
    match member_str(input, "RevisionId") {
        Some(expected) if expected != current => Err(error::revision_mismatch()),
        _ => Ok(()),
    }
}

fn environment(input: &Value) -> Result<Option<Environment>> {
    let Some(env) = member(input, "Environment") else { return Ok(None) };
    let variables: BTreeMap<String, String> = env
        .get("Variables")
        .filter(|v| !v.is_null())
        .map(|v| serde_json::from_value(v.clone()))
        .transpose()
        .map_err(|e| error::invalid_content(format!("Could not parse request body into json: {e}")))?
        .unwrap_or_default();
    let reserved: Vec<&str> = variables.keys().map(String::as_str).filter(|k| RESERVED_ENV_KEYS.contains(k)).collect();
    if !reserved.is_empty() {
        return Err(error::invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(",")
        )));
    }
    let measured = serde_json::to_string(&variables).expect("map serializes");
    if measured.len() > MAX_ENV_BYTES {
        return Err(error::invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(Some(Environment { variables }))
}

fn vpc_config_response(vpc: &Value) -> Value {
    let subnets = vpc.get("SubnetIds").cloned().unwrap_or(json!([]));
    let groups = vpc.get("SecurityGroupIds").cloned().unwrap_or(json!([]));
    let ipv6 = vpc.get("Ipv6AllowedForDualStack").cloned().unwrap_or(json!(false));
    // Without EC2 there is no VPC to look up; AWS reports an empty id when there are no subnets.
    let vpc_id = subnets
        .as_array()
        .and_then(|s| s.first())
        .and_then(Value::as_str)
        .map(|s| format!("vpc-{}", &crate::state_hash(s)[..17]))
        .unwrap_or_default();
    json!({"SubnetIds": subnets, "SecurityGroupIds": groups, "VpcId": vpc_id, "Ipv6AllowedForDualStack": ipv6})
}

fn snap_start_response(input: Option<&Value>) -> Value {
    let apply_on = input.and_then(|s| s.get("ApplyOn")).and_then(Value::as_str).unwrap_or("None");
    json!({"ApplyOn": apply_on, "OptimizationStatus": "Off"})
}

fn logging_config(name: &str, current: Option<&Value>, input: Option<&Value>) -> Result<Value> {
    let mut config =
        current.cloned().unwrap_or_else(|| json!({"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{name}")}));
    if let Some(input) = input.and_then(Value::as_object) {
        for (k, v) in input {
            if !v.is_null() {
                config[k] = v.clone();
            }
        }
    }
    if config["LogFormat"] == "JSON" {
        for key in ["ApplicationLogLevel", "SystemLogLevel"] {
            if config.get(key).is_none() {
                config[key] = json!("INFO");
            }
        }
    } else if config.get("ApplicationLogLevel").is_some() || config.get("SystemLogLevel").is_some() {
        if input.is_some_and(|i| i.get("ApplicationLogLevel").is_some() || i.get("SystemLogLevel").is_some()) {
            return Err(error::invalid_parameter(
                "Unable to set the log level when the log format is Text. Please change the log format to JSON.",
            ));
        }
        if let Some(obj) = config.as_object_mut() {
            obj.remove("ApplicationLogLevel");
            obj.remove("SystemLogLevel");
        }
    }
    Ok(config)
}

fn runtime_version_config(ctx: &RequestContext, runtime: &str) -> Value {
    json!({"RuntimeVersionArn": format!("arn:aws:lambda:{}::runtime:{}", ctx.region, crate::state_hash(runtime))})
}

fn image_digest(uri: Option<&str>) -> String {
    crate::state_hash(uri.unwrap_or_default())
}

/// Resolve `Layers` (ARNs with versions) against the store: every layer version must exist.
fn resolve_layers(
    store: &crate::state::Store,
    ctx: &RequestContext,
    layers: Option<&Value>,
) -> Result<Vec<(LayerReference, CodeRef)>> {
    let arns: Vec<String> = layers.and_then(|l| serde_json::from_value(l.clone()).ok()).unwrap_or_default();
    if arns.len() > MAX_LAYERS {
        return Err(error::invalid_parameter(format!("Cannot reference more than {MAX_LAYERS} layers.")));
    }
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for arn in arns {
        let not_found = || error::invalid_parameter(format!("Layer version {arn} does not exist."));
        let parsed = nimbus_core::arn::Arn::parse(&arn).ok_or_else(not_found)?;
        let mut parts = parsed.resource.splitn(3, ':');
        let (Some("layer"), Some(name), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(not_found());
        };
        if parsed.region != ctx.region {
            return Err(error::invalid_parameter(format!(
                "Layers are not in the same region as the function. Layers are expected to be in region {}.",
                ctx.region
            )));
        }
        let layer_id = format!("{}:{}:{name}", parsed.account, parsed.region);
        if let Some((_, first)) = seen.iter().find(|(id, _)| *id == layer_id) {
            return Err(error::invalid_parameter(format!(
                "Two different versions of the same layer are not allowed to be referenced in the same function. {first} and {arn} are versions of the same layer."
            )));
        }
        seen.push((layer_id, arn.clone()));
        let layer_version = version
            .parse::<u64>()
            .ok()
            .and_then(|v| store.region(&parsed.account, &parsed.region)?.layers.get(name)?.versions.get(&v))
            .ok_or_else(not_found)?;
        out.push((LayerReference { arn: arn.clone(), code_size: layer_version.code.size }, layer_version.code.clone()));
    }
    Ok(out)
}

fn apply_layers(config: &mut FunctionConfig, layers: &[(LayerReference, CodeRef)]) {
    config.layers = (!layers.is_empty()).then(|| layers.iter().map(|(r, _)| r.clone()).collect());
}

fn check_total_size(code: Option<&CodeRef>, layers: &[(LayerReference, CodeRef)]) -> Result<()> {
    let total = code.map_or(0, |c| c.unzipped_size) + layers.iter().map(|(_, c)| c.unzipped_size).sum::<u64>();
    if total > code::MAX_UNZIPPED_BYTES {
        return Err(error::invalid_parameter(format!(
            "Function code combined with layers exceeds the maximum allowed size of {} bytes. The actual size is {total} bytes.",
            code::MAX_UNZIPPED_BYTES
        )));
    }
    Ok(())
}

/// The service's own limit on `Timeout`: the model only says "at least 1".
const MAX_TIMEOUT_SECONDS: u64 = 900;
/// The memory limit of functions that do not run on a capacity provider (the model allows
/// 32768 for those that do).
const MAX_MEMORY_MB: u64 = 10_240;

/// Checks AWS makes before model validation: an unknown runtime is a parameter error, not a
/// validation error.
pub fn precheck(operation: &str, input: &Value, today: chrono::NaiveDate) -> Result<()> {
    if !matches!(operation, "CreateFunction" | "UpdateFunctionConfiguration") {
        return Ok(());
    }
    if let Some(timeout) = member(input, "Timeout").and_then(Value::as_u64).filter(|t| *t > MAX_TIMEOUT_SECONDS) {
        return Err(error::validation(format!(
            "1 validation error detected: Value '{timeout}' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to {MAX_TIMEOUT_SECONDS}"
        )));
    }
    let on_capacity_provider = member(input, "CapacityProviderConfig").is_some();
    if let Some(memory) =
        member(input, "MemorySize").and_then(Value::as_u64).filter(|m| *m > MAX_MEMORY_MB && !on_capacity_provider)
    {
        return Err(error::validation(format!(
            "1 validation error detected: Value '{memory}' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to {MAX_MEMORY_MB}"
        )));
    }
    if let Some(runtime) = member_str(input, "Runtime") {
        let known = crate::model::model()
            .shape("Runtime")
            .and_then(|shape| shape.enum_values.as_ref())
            .is_some_and(|values| values.iter().any(|v| v == runtime));
        if !known {
            return Err(error::invalid_parameter(format!(
                "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
                runtime_lifecycle::offered(today).join(", ")
            )));
        }
    }
    Ok(())
}
