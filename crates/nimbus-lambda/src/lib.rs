//! Nimbus's AWS Lambda: the control plane API (REST-JSON), validated from the service model.
//!
//! Layout:
//! - [`model`]: the facts of `lambda/2015-03-31` (generated data file): routing, input decoding,
//!   validation, output encoding.
//! - [`api`]: one module per API area with one plain function per operation, over [`state`].
//! - [`code`]: archive checks and code storage in the blob store.
//! - [`ident`]: function identifiers and ARNs; [`error`]: Lambda's errors by cause.
//! - [`invoke`]: the invocation engine (Runtime API, environments, runtimes); only the Invoke
//!   API calls into it.
//!
//! A request: route (method + path) → decode input → validate → handler → encode output.

pub mod api;
pub mod code;
pub mod delivery;
pub mod durable;
pub mod error;
pub mod esm;
pub mod gateway;
pub mod ident;
pub mod invoke;
pub mod model;
pub mod recursion;
pub mod sealed;
pub mod state;
pub mod urls;

use std::path::Path;

use nimbus_core::blob::BlobStore;
use nimbus_core::journal::Journal;
use nimbus_core::service::BoxFuture;
use nimbus_core::{AwsError, HttpRequest, HttpResponse, RequestContext, Service};
use parking_lot::RwLock;
use serde_json::Value;

use crate::error::Result;
use crate::state::{Function, Layer, Store};

/// The Lambda service: state, code blobs and (with `--data-dir`) the journal.
pub struct Lambda {
    pub store: state::StateLock,
    pub blobs: BlobStore,
    journal: Option<std::sync::Arc<Journal>>,
    pub invoker: invoke::Invoker,
    /// Durable executions (their own journal with `--data-dir`).
    pub durable: durable::Durable,
    /// Where destinations and dead-letter messages for other services go (wired by the binary).
    pub deliverer: RwLock<Option<std::sync::Arc<dyn nimbus_core::delivery::Deliver>>>,
    /// The queues event source mappings poll (wired by the binary).
    pub queues: RwLock<Option<std::sync::Arc<dyn nimbus_core::queue::QueueSource>>>,
    /// Where `Code.S3Bucket`/`S3Key` archives are read from (S3, wired by the binary).
    pub objects: RwLock<Option<std::sync::Arc<dyn nimbus_core::objects::ObjectReader>>>,
    pub clock: nimbus_core::clock::Clock,
    /// Where this process listens (`http://127.0.0.1:port`), once known: work resumed after a
    /// restart calls back here rather than wherever the last process listened.
    pub listen_endpoint: RwLock<Option<String>>,
    /// Access keys nimbus issued, for checking signatures on function URLs (wired by the binary).
    pub keys: RwLock<nimbus_core::identity::KeyRegistry>,
    /// The stream services Kinesis and DynamoDB Streams mappings read, and their checkpoints.
    pub streams: esm::stream::StreamSources,
    /// KMS, for functions with a `KMSKeyArn` (wired by the binary).
    pub kms: RwLock<Option<std::sync::Arc<dyn nimbus_core::crypto::KeyService>>>,
    /// How long an update is shown in progress ([`invoke::Settings::update_window`]).
    pub update_window: std::time::Duration,
    /// How long a new function is shown `Pending` ([`invoke::Settings::create_window`]).
    pub create_window: std::time::Duration,
    /// Running pollers by mapping UUID.
    pollers: parking_lot::Mutex<std::collections::HashMap<String, Vec<tokio::task::JoinHandle<()>>>>,
    /// Scratch space for unpacked code and environments; removed on drop.
    work_dir: std::path::PathBuf,
}

impl Drop for Lambda {
    fn drop(&mut self) {
        let _ = nimbus_core::scratch::remove_tree(&self.work_dir);
    }
}

impl Lambda {
    /// Open Lambda's state: in memory, or persisted under `data_dir/lambda`.
    pub fn open(
        data_dir: Option<&Path>,
        settings: invoke::Settings,
        sink: Option<std::sync::Arc<dyn nimbus_core::logs::LogSink>>,
        clock: nimbus_core::clock::Clock,
    ) -> std::io::Result<Lambda> {
        let work_dir = nimbus_core::scratch::create("lambda")?;
        let (update_window, create_window) = (settings.update_window, settings.create_window);
        let invoker = invoke::Invoker::new(&work_dir, settings, sink)?;
        let durable = durable::Durable::open(data_dir.map(|d| d.join("lambda")).as_deref())?;
        let (store, blobs, journal) = match data_dir {
            None => (Store::default(), BlobStore::scratch()?, None),
            Some(dir) => {
                let dir = dir.join("lambda");
                let (journal, records) = Journal::open(&dir, "state")?;
                let store =
                    state::load(&records).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                (store, BlobStore::open(&dir.join("blobs"))?, Some(std::sync::Arc::new(journal)))
            }
        };
        Ok(Lambda {
            store: state::StateLock::new(store, journal.clone()),
            blobs,
            journal,
            invoker,
            durable,
            deliverer: RwLock::new(None),
            queues: RwLock::new(None),
            objects: RwLock::new(None),
            clock,
            listen_endpoint: RwLock::new(None),
            keys: RwLock::default(),
            streams: esm::stream::StreamSources::open(data_dir)?,
            kms: RwLock::new(None),
            update_window,
            create_window,
            pollers: Default::default(),
            work_dir,
        })
    }

    /// Durably record a function's new state (`None`: deleted). Call with the store lock held so
    /// the journal order matches the order of changes.
    pub fn save_function(&self, ctx: &RequestContext, name: &str, function: Option<&Function>) -> Result<()> {
        let Some(journal) = &self.journal else { return Ok(()) };
        let key = state::function_key(&ctx.account, &ctx.region, name);
        let value = function.map(sealed::journal_value);
        journal.write(&[(key, value)]).map_err(error::storage_error)
    }

    pub fn save_layer(&self, ctx: &RequestContext, name: &str, layer: Option<&Layer>) -> Result<()> {
        let Some(journal) = &self.journal else { return Ok(()) };
        let key = state::layer_key(&ctx.account, &ctx.region, name);
        let value = layer.map(|l| serde_json::to_value(l).expect("state serializes"));
        journal.write(&[(key, value)]).map_err(error::storage_error)
    }

    pub fn save_code_signing_config(
        &self,
        ctx: &RequestContext,
        id: &str,
        config: Option<&state::CodeSigningConfig>,
    ) -> Result<()> {
        let Some(journal) = &self.journal else { return Ok(()) };
        let key = state::code_signing_key(&ctx.account, &ctx.region, id);
        let value = config.map(|c| serde_json::to_value(c).expect("state serializes"));
        journal.write(&[(key, value)]).map_err(error::storage_error)
    }

    pub fn save_capacity_provider(
        &self,
        ctx: &RequestContext,
        name: &str,
        provider: Option<&state::CapacityProvider>,
    ) -> Result<()> {
        let Some(journal) = &self.journal else { return Ok(()) };
        let key = state::capacity_provider_key(&ctx.account, &ctx.region, name);
        let value = provider.map(|p| serde_json::to_value(p).expect("state serializes"));
        journal.write(&[(key, value)]).map_err(error::storage_error)
    }

    /// After a restart, decrypt the variables the journal keeps only as ciphertext (call once
    /// KMS is wired). Those whose key cannot decrypt now stay sealed until an environment
    /// starts or GetFunction shows them.
    pub fn unseal_all(&self) {
        let mut store = self.store.write();
        for ((account, region), r) in store.regions_mut() {
            for function in r.functions.values_mut() {
                for version in std::iter::once(&mut function.latest).chain(function.versions.values_mut()) {
                    if let Err(err) = sealed::unseal(self, account, region, version) {
                        tracing::debug!(function = %version.config.function_arn, error = %err.message, "environment stays sealed");
                    }
                }
            }
        }
    }

    /// Durably record a queued event invocation (`None`: it has finished).
    pub fn save_event(&self, ctx: &RequestContext, id: &str, record: Option<&Value>) -> Result<()> {
        let Some(journal) = &self.journal else { return Ok(()) };
        journal
            .write(&[(state::event_key(&ctx.account, &ctx.region, id), record.cloned())])
            .map_err(error::storage_error)
    }

    pub fn save_mapping(
        &self,
        ctx: &RequestContext,
        uuid: &str,
        mapping: Option<&esm::EventSourceMapping>,
    ) -> Result<()> {
        let Some(journal) = &self.journal else { return Ok(()) };
        let key = state::mapping_key(&ctx.account, &ctx.region, uuid);
        let value = mapping.map(|m| serde_json::to_value(m).expect("state serializes"));
        journal.write(&[(key, value)]).map_err(error::storage_error)
    }

    /// Start pollers for enabled, polled mappings that have none; stop the rest.
    pub fn sync_pollers(self: &std::sync::Arc<Self>) {
        let wanted: Vec<(String, String, String, usize, esm::SourceKind)> = {
            let store = self.store.read();
            store
                .regions()
                .flat_map(|((account, region), r)| {
                    r.event_source_mappings.values().filter(|m| m.enabled && m.kind.polled()).map(move |m| {
                        // A stream mapping has one supervisor (it runs a worker per shard).
                        let concurrency = if m.kind == esm::SourceKind::Sqs {
                            m.maximum_concurrency.unwrap_or(5).clamp(1, 10) as usize
                        } else {
                            1
                        };
                        (account.clone(), region.clone(), m.uuid.clone(), concurrency, m.kind)
                    })
                })
                .collect()
        };
        let mut pollers = self.pollers.lock();
        pollers.retain(|uuid, handles| {
            let keep = wanted.iter().any(|(_, _, w, n, _)| w == uuid && *n == handles.len());
            if !keep {
                handles.iter().for_each(tokio::task::JoinHandle::abort);
            }
            keep
        });
        for (account, region, uuid, concurrency, kind) in wanted {
            pollers.entry(uuid.clone()).or_insert_with(|| {
                (0..concurrency)
                    .map(|_| {
                        let (lambda, account, region, uuid) =
                            (self.clone(), account.clone(), region.clone(), uuid.clone());
                        if kind == esm::SourceKind::Sqs {
                            tokio::spawn(esm::sqs::run(lambda, account, region, uuid))
                        } else {
                            tokio::spawn(esm::stream::run(lambda, account, region, uuid))
                        }
                    })
                    .collect()
            });
        }
    }

    /// Start the environments of provisioned-concurrency configs still `IN_PROGRESS`, then mark
    /// them `READY` (or `FAILED` with the reason).
    pub fn sync_provisioning(self: &std::sync::Arc<Self>, ctx: &RequestContext) {
        let pending: Vec<(String, String)> = {
            let store = self.store.read();
            let Some(region) = store.region(&ctx.account, &ctx.region) else { return };
            region
                .functions
                .iter()
                .flat_map(|(name, f)| {
                    f.provisioned
                        .iter()
                        .filter(|(_, p)| p.status == "IN_PROGRESS")
                        .map(move |(q, _)| (name.clone(), q.clone()))
                })
                .collect()
        };
        for (name, qualifier) in pending {
            let lambda = self.clone();
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let id = ident::FunctionId { name: name.clone(), qualifier: Some(qualifier.clone()) };
                let Ok(mut target) = api::invoke::target(&lambda, &ctx, &id) else { return };
                let requested = {
                    let store = lambda.store.read();
                    let function = store.region(&ctx.account, &ctx.region).and_then(|r| r.functions.get(&name));
                    // An alias provisions its primary version.
                    if let Some(version) =
                        function.and_then(|f| f.aliases.get(&qualifier)).map(|a| a.function_version.clone())
                    {
                        if let Some(v) = function.and_then(|f| f.resolve(Some(&version))) {
                            target.config = v.config.clone();
                        }
                    }
                    function.and_then(|f| f.provisioned.get(&qualifier)).map_or(0, |p| p.requested)
                };
                let result = lambda.invoker.provision(&lambda.blobs, &ctx, &target, requested as usize).await;
                let mut store = lambda.store.write();
                let region = store.region_mut(&ctx.account, &ctx.region);
                let Some(function) = region.functions.get_mut(&name) else { return };
                let Some(config) = function.provisioned.get_mut(&qualifier) else { return };
                match result {
                    Ok(ready) if ready as u32 == config.requested => {
                        config.status = "READY".into();
                        config.allocated = config.requested;
                    }
                    Ok(ready) => {
                        config.status = "FAILED".into();
                        config.allocated = ready as u32;
                        config.status_reason = Some("FUNCTION_ERROR_INIT_FAILURE".into());
                    }
                    Err(err) => {
                        config.status = "FAILED".into();
                        config.status_reason = Some(err.message);
                    }
                }
                let _ = lambda.save_function(&ctx, &name, Some(function));
            });
        }
    }

    /// Route, decode and validate a REST-JSON request, or answer it with an error.
    pub fn prepare(&self, req: &HttpRequest) -> std::result::Result<(&'static model::Operation, Value), HttpResponse> {
        let model = model::model();
        let Some((op, labels)) = model.route(req.method.as_str(), &req.path, &req.query) else {
            return Err(error::render(&AwsError::new(
                404,
                "UnknownOperationException",
                format!("No Lambda operation matches {} {}", req.method, req.path),
            )));
        };
        if req.body.len() > code::MAX_REQUEST_BYTES {
            let name = if op.name == "Invoke" { "InvokeFunction" } else { op.name.as_str() };
            return Err(error::render(&error::too_large(format!(
                "Request must be smaller than {} bytes for the {name} operation",
                code::MAX_REQUEST_BYTES
            ))));
        }
        model
            .decode_input(op, &labels, &req.query, &req.headers, &req.body)
            .map_err(model_error)
            .and_then(|input| api::functions::precheck(&op.name, &input, self.clock.now().date_naive()).map(|()| input))
            .and_then(|input| model.validate(op, &input).map(|()| input).map_err(model_error))
            .map(|mut input| {
                integral_numbers(&mut input);
                (op, input)
            })
            .map_err(|err| error::render(&err))
    }

    /// Encode an operation's result as AWS does.
    pub fn finish(&self, op: &model::Operation, result: Result<Value>) -> HttpResponse {
        match result {
            Ok(output) => {
                let (status, headers, body) = model::model().encode_output(op, output);
                let mut response = if status == 204 || body.is_empty() && status != 200 {
                    HttpResponse { status, headers: Vec::new(), body: Default::default() }
                } else {
                    HttpResponse::new(status, "application/json", body)
                };
                response.headers.extend(headers);
                response
            }
            Err(err) => {
                if err.status >= 500 {
                    tracing::error!(operation = %op.name, error = %err, "operation failed");
                } else {
                    tracing::debug!(operation = %op.name, error = %err, "operation rejected");
                }
                error::render(&err)
            }
        }
    }

    /// Decode, validate and run one control-plane request (blocking; not for Invoke).
    pub fn call(&self, ctx: &RequestContext, req: &HttpRequest) -> HttpResponse {
        match self.prepare(req) {
            Ok((op, input)) => self.finish(op, api::dispatch(self, ctx, &op.name, &input)),
            Err(response) => response,
        }
    }

    /// `/_nimbus/lambda/…`: code downloads and introspection.
    fn internal(&self, req: &HttpRequest) -> HttpResponse {
        if let Some(response) = code::serve_download(self, req) {
            return response;
        }
        match req.path.as_str() {
            "/_nimbus/lambda/environments" => {
                HttpResponse::json(200, &serde_json::json!({"Environments": self.invoker.environments()}))
            }
            "/_nimbus/lambda/durable" => HttpResponse::json(200, &self.durable.stats()),
            "/_nimbus/lambda/invocations" => {
                HttpResponse::json(200, &serde_json::json!({"Invocations": self.invoker.recent_invocations()}))
            }
            _ => HttpResponse::json(404, &serde_json::json!({"message": "no such nimbus endpoint"})),
        }
    }

    /// The endpoint for work that outlives requests: this process's, else the one recorded.
    pub fn endpoint_or(&self, recorded: &str) -> String {
        self.listen_endpoint.read().clone().unwrap_or_else(|| recorded.to_string())
    }

    pub fn reset(&self) {
        let mut store = self.store.write();
        store.clear();
        for (_, handles) in self.pollers.lock().drain() {
            handles.iter().for_each(tokio::task::JoinHandle::abort);
        }
        self.invoker.drop_environments(|_, _, _| true);
        self.durable.reset();
        self.streams.reset();
        if let Some(journal) = &self.journal {
            if let Err(err) = journal.clear() {
                tracing::error!(error = %err, "could not clear the Lambda journal");
            }
        }
    }
}

/// Validated input may spell integers as `3.0`; handlers read integers.
fn integral_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

fn model_error(err: model::ModelError) -> AwsError {
    match err {
        model::ModelError::InvalidContent(m) => error::invalid_content(m),
        model::ModelError::Validation(m) => error::validation(m),
    }
}

/// The HTTP face of [`Lambda`].
pub struct LambdaService {
    lambda: std::sync::Arc<Lambda>,
}

impl LambdaService {
    pub fn open(
        data_dir: Option<&Path>,
        settings: invoke::Settings,
        sink: Option<std::sync::Arc<dyn nimbus_core::logs::LogSink>>,
        clock: nimbus_core::clock::Clock,
    ) -> std::io::Result<LambdaService> {
        Ok(LambdaService { lambda: std::sync::Arc::new(Lambda::open(data_dir, settings, sink, clock)?) })
    }

    pub fn lambda(&self) -> &std::sync::Arc<Lambda> {
        &self.lambda
    }
}

impl Service for LambdaService {
    fn name(&self) -> &'static str {
        "lambda"
    }

    fn signing_names(&self) -> &'static [&'static str] {
        &["lambda"]
    }

    fn intercepts(&self, req: &HttpRequest) -> bool {
        req.path.starts_with("/_nimbus/lambda/") || urls::address(req).is_some()
    }

    fn claims(&self, req: &HttpRequest) -> bool {
        // Lambda's API paths all start with a date: /2015-03-31/, /2018-10-31/, /2021-10-31/ …
        let p = req.path.as_bytes();
        p.len() > 12 && p[0] == b'/' && p[1..5].iter().all(u8::is_ascii_digit) && p[5] == b'-'
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        let lambda = self.lambda.clone();
        Box::pin(async move {
            if urls::address(&req).is_some() {
                return urls::serve(&lambda, &ctx, &req).await;
            }
            if req.path.starts_with("/_nimbus/lambda/") {
                return lambda.internal(&req);
            }
            let (op, input) = match lambda.prepare(&req) {
                Ok(prepared) => prepared,
                Err(response) => return response,
            };
            let result = match op.name.as_str() {
                "InvokeWithResponseStream" => {
                    return api::invoke::invoke_with_response_stream(&lambda, &ctx, &input)
                        .await
                        .unwrap_or_else(|err| error::render(&err));
                }
                "Invoke" => api::invoke::invoke(&lambda, &ctx, &input).await,
                name if api::durable::is_durable_operation(name) => {
                    api::durable::dispatch(&lambda, &ctx, name, &input).await
                }
                "InvokeAsync" => api::invoke::invoke_async(&lambda, &ctx, &input).await,
                "ListFunctions" => {
                    return match api::functions::list_functions_body(&lambda, &ctx, &input) {
                        Ok(body) => HttpResponse::new(200, "application/json", body),
                        Err(err) => error::render(&err),
                    };
                }
                _ if lambda.journal.is_none() => {
                    // In memory nothing blocks for long: answer on this worker.
                    let result = api::dispatch(&lambda, &ctx, &op.name, &input);
                    if op.name.ends_with("EventSourceMapping") {
                        lambda.sync_pollers();
                    }
                    if op.name == "PutProvisionedConcurrencyConfig" {
                        lambda.sync_provisioning(&ctx);
                    }
                    result
                }
                _ => {
                    // Persisted calls fsync; keep them off the async workers.
                    let worker = lambda.clone();
                    let call_ctx = ctx.clone();
                    let result =
                        tokio::task::spawn_blocking(move || api::dispatch(&worker, &call_ctx, &op.name, &input))
                            .await
                            .unwrap_or_else(|_| Err(AwsError::internal("Internal error in nimbus")));
                    if op.name.ends_with("EventSourceMapping") {
                        lambda.sync_pollers();
                    }
                    if op.name == "PutProvisionedConcurrencyConfig" {
                        lambda.sync_provisioning(&ctx);
                    }
                    result
                }
            };
            lambda.finish(op, result)
        })
    }

    fn reset(&self) {
        self.lambda.reset();
    }
}

/// Read a member of a decoded input object.
pub(crate) fn member<'a>(input: &'a Value, name: &str) -> Option<&'a Value> {
    input.get(name).filter(|v| !v.is_null())
}

pub(crate) fn member_str<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    member(input, name).and_then(Value::as_str)
}

pub(crate) fn member_bool(input: &Value, name: &str) -> bool {
    member(input, name).and_then(Value::as_bool).unwrap_or(false)
}

impl Lambda {
    /// Delete code blobs no function, version or layer references (after a grace period that
    /// spares code stored for a change still being recorded), and unpacked code folders no
    /// environment uses.
    pub fn collect_garbage(&self) {
        let referenced: std::collections::HashSet<String> = {
            let store = self.store.read();
            let mut set = std::collections::HashSet::new();
            for (_, region) in store.regions() {
                for function in region.functions.values() {
                    for version in std::iter::once(&function.latest).chain(function.versions.values()) {
                        set.extend(version.code.iter().chain(&version.layer_code).map(|c| c.blob.clone()));
                    }
                }
                for layer in region.layers.values() {
                    set.extend(layer.versions.values().map(|v| v.code.blob.clone()));
                }
            }
            set
        };
        let deleted = self.blobs.collect_garbage(&referenced, BLOB_GRACE);
        if deleted > 0 {
            tracing::info!(deleted, "removed code blobs nothing references");
        }
        self.invoker.remove_unused_code(BLOB_GRACE);
    }
}

/// How long an unreferenced blob or unused unpacked folder is kept before it is collected.
const BLOB_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// A stable hex digest of a string, for identifiers AWS derives from content.
pub(crate) fn state_hash(s: &str) -> String {
    nimbus_core::blob::BlobStore::sha256_hex(s.as_bytes())
}

impl LambdaService {
    /// Start the periodic work: pollers of stored mappings, event invocations left queued by the
    /// last run, shutting down idle environments.
    pub fn start_background(&self) {
        self.lambda.sync_pollers();
        api::invoke::resume_events(&self.lambda);
        durable::run::spawn_scheduler(&self.lambda);
        let lambda = std::sync::Arc::downgrade(&self.lambda);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            let mut ticks: u64 = 0;
            loop {
                tick.tick().await;
                let Some(lambda) = lambda.upgrade() else { return };
                lambda.invoker.reap_idle();
                // Disk debris: code no one references, unpacked folders no one uses.
                if ticks % 12 == 0 {
                    lambda.collect_garbage();
                }
                ticks += 1;
            }
        });
    }
}
