//! The invocation engine: warm environment pools per function version, concurrency accounting,
//! the platform's log lines, and AWS's error payloads for timeouts, crashes and init failures.
//!
//! Only the Invoke API calls into this module.

pub mod environment;
pub mod extract;
pub mod runtime_api;
pub mod runtimes;
pub mod sdk;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use nimbus_core::identity::{RoleSessions, SessionCredentials};
use nimbus_core::logs::{LogEvent, LogSink};
use nimbus_core::{AwsError, RequestContext};
use serde_json::json;
use tokio::sync::oneshot;

use self::environment::{Environment, Failure, Spec};
pub use self::runtime_api::StreamEvent;
use self::runtime_api::{Invocation, RuntimeReply};
use self::runtimes::{Family, Runtimes};
use crate::state::{CodeRef, FunctionConfig};

/// Lambda's default account concurrency limit.
pub const ACCOUNT_CONCURRENCY: u32 = 1000;
/// Bytes of log returned by `LogType=Tail`.
const TAIL_BYTES: usize = 4096;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Idle environments are shut down after this long.
    pub idle_timeout: Duration,
    /// Lift function timeouts so a debugger can hold the runtime.
    pub debug: bool,
    /// Explicit runtime → interpreter mappings.
    pub runtime_overrides: HashMap<String, String>,
    /// How long an update shows `LastUpdateStatus: InProgress` (and a version it publishes
    /// `State: Pending`); another update meanwhile is refused, as on AWS.
    pub update_window: Duration,
    /// How long a new function shows `State: Pending` once CreateFunction has answered.
    pub create_window: Duration,
    /// Nimbus's cache folder (the AWS SDK functions import); `None`: [`sdk::default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
}

/// AWS takes seconds to apply an update; nimbus shows one for this long by default, enough for
/// a client to see the transition without slowing tools that wait for it.
pub const DEFAULT_UPDATE_WINDOW: Duration = Duration::from_millis(250);

impl Default for Settings {
    fn default() -> Self {
        Settings {
            idle_timeout: Duration::from_secs(600),
            debug: false,
            runtime_overrides: HashMap::new(),
            update_window: DEFAULT_UPDATE_WINDOW,
            create_window: Duration::ZERO,
            cache_dir: None,
        }
    }
}

/// The version an invocation runs, snapshotted from the store.
#[derive(Debug, Clone)]
pub struct Target {
    pub account: String,
    pub region: String,
    pub config: FunctionConfig,
    pub code: Option<CodeRef>,
    /// Hot reload: run straight from this folder; environments restart when its files change.
    pub hot_reload_dir: Option<PathBuf>,
    pub layer_code: Vec<CodeRef>,
    /// The ARN the caller used (qualified or not), given to the runtime.
    pub invoked_arn: String,
    pub reserved_concurrency: Option<u32>,
    /// Where the function's SDK calls should go.
    pub endpoint: String,
    /// The X-Ray trace header to run with (`Lambda-Runtime-Trace-Id`); a new trace when `None`.
    pub trace_header: Option<String>,
}

/// What the caller gets back.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub request_id: String,
    pub payload: Bytes,
    pub function_error: Option<String>,
    /// Base64 of the last 4 KB of the invocation's log.
    pub log_tail: String,
    pub executed_version: String,
    pub duration: Duration,
}

/// Environments of one function version, keyed so that any change of code or configuration
/// (a new RevisionId) gets fresh environments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PoolKey {
    account: String,
    region: String,
    function: String,
    version: String,
    revision: String,
}

/// A summary of one environment for `/_nimbus/lambda/environments`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvironmentInfo {
    pub id: String,
    pub function: String,
    pub version: String,
    pub state: &'static str,
    pub pid: Option<u32>,
    pub command_line: String,
    pub working_dir: String,
    pub invocations: u64,
    pub idle_seconds: u64,
    /// The unpacked code and layer folders it runs from (kept while it runs).
    #[serde(skip)]
    pub code_dirs: Vec<PathBuf>,
}

/// A recent invocation for `/_nimbus/lambda/invocations`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InvocationRecord {
    pub request_id: String,
    pub function_arn: String,
    pub version: String,
    pub duration_ms: f64,
    pub outcome: String,
    pub cold_start: bool,
}

pub struct Invoker {
    settings: Settings,
    runtimes: Runtimes,
    /// The AWS SDK the runtimes include, installed in nimbus's cache.
    sdks: sdk::Sdks,
    work_dir: PathBuf,
    sink: Option<Arc<dyn LogSink>>,
    idle: parking_lot::Mutex<HashMap<PoolKey, Vec<Environment>>>,
    /// In-flight invocations per function (`account/region/name`) and per account/region.
    running: parking_lot::Mutex<HashMap<String, u32>>,
    busy_info: parking_lot::Mutex<HashMap<String, EnvironmentInfo>>,
    recent: parking_lot::Mutex<std::collections::VecDeque<InvocationRecord>>,
    extract_lock: tokio::sync::Mutex<()>,
    isolation: environment::Isolation,
    /// Environments starting at once (see [`max_concurrent_cold_starts`]).
    cold_starts: tokio::sync::Semaphore,
    /// Event (asynchronous) invocations running at once (see [`max_concurrent_events`]).
    events: tokio::sync::Semaphore,
    /// STS, for the execution role's session each environment runs with (wired by the binary).
    pub roles: parking_lot::RwLock<Option<Arc<dyn RoleSessions>>>,
}

/// How many queued Event invocations run at once: `NIMBUS_LAMBDA_MAX_EVENT_CONCURRENCY`, default
/// 32. AWS would scale to the account's 1,000; on one machine that many environments only
/// thrash. The rest stay queued (journaled) and run in order as slots free up.
pub fn max_concurrent_events() -> usize {
    std::env::var("NIMBUS_LAMBDA_MAX_EVENT_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(32)
}

/// How many environments may start at once: `NIMBUS_LAMBDA_MAX_COLD_STARTS`, or twice the
/// cores (at least 4) — 200 simultaneous cold starts on 2 cores would otherwise all miss the
/// 10 s init limit together.
pub fn max_concurrent_cold_starts() -> usize {
    std::env::var("NIMBUS_LAMBDA_MAX_COLD_STARTS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| (std::thread::available_parallelism().map_or(2, usize::from) * 2).max(4))
}

impl Invoker {
    pub fn new(work_dir: &Path, settings: Settings, sink: Option<Arc<dyn LogSink>>) -> std::io::Result<Invoker> {
        std::fs::create_dir_all(work_dir)?;
        let runtimes = Runtimes::new(&work_dir.join("runtimes"), settings.runtime_overrides.clone())?;
        let sdks = sdk::Sdks::new(&settings.cache_dir.clone().unwrap_or_else(sdk::default_cache_dir));
        Ok(Invoker {
            settings,
            runtimes,
            sdks,
            work_dir: work_dir.to_path_buf(),
            sink,
            idle: Default::default(),
            running: Default::default(),
            busy_info: Default::default(),
            recent: Default::default(),
            extract_lock: tokio::sync::Mutex::new(()),
            isolation: environment::Isolation::detect(),
            cold_starts: tokio::sync::Semaphore::new(max_concurrent_cold_starts()),
            events: tokio::sync::Semaphore::new(max_concurrent_events()),
            roles: Default::default(),
        })
    }

    /// How environments are contained on this host.
    pub fn isolation(&self) -> &environment::Isolation {
        &self.isolation
    }

    pub fn set_sink(&mut self, sink: Arc<dyn LogSink>) {
        self.sink = Some(sink);
    }

    /// Wait for a slot to run a queued Event invocation in; hold it for the invocation.
    pub async fn event_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.events.acquire().await.ok()
    }

    /// Run one synchronous invocation.
    pub async fn invoke(
        &self,
        blobs: &nimbus_core::blob::BlobStore,
        ctx: &RequestContext,
        target: Target,
        payload: &[u8],
        client_context: Option<String>,
    ) -> Result<Outcome, AwsError> {
        self.invoke_streaming(blobs, ctx, target, payload, client_context, None).await
    }

    /// Run one synchronous invocation whose response, if the function streams it, goes to
    /// `stream` as it is written (the outcome's payload is then empty, or the error).
    pub async fn invoke_streaming(
        &self,
        blobs: &nimbus_core::blob::BlobStore,
        ctx: &RequestContext,
        target: Target,
        payload: &[u8],
        client_context: Option<String>,
        stream: Option<tokio::sync::mpsc::Sender<StreamEvent>>,
    ) -> Result<Outcome, AwsError> {
        if target.config.package_type == "Image" {
            return Err(AwsError::new(
                502,
                "InvalidRuntimeException",
                "nimbus cannot run container-image functions yet: the container executor is not implemented.",
            ));
        }
        let function_key = format!("{}/{}/{}", target.account, target.region, target.config.function_name);
        let account_key = format!("{}/{}", target.account, target.region);
        let _slot = self.reserve(&function_key, &account_key, target.reserved_concurrency)?;

        let key = pool_key(&target);
        // The request's own id: the one its caller's answer carries (Event invokes keep the id
        // of their 202 through every retry).
        let request_id = ctx.request_id.clone();
        let (mut env, cold) = match self.take_idle(&key) {
            Some(env) => (env, false),
            None => {
                // Cold starts queue for a bounded number of slots; the init limit counts from
                // when this one's init begins, not from when it joined the queue.
                let _permit = self.cold_starts.acquire().await.map_err(|_| AwsError::internal("shutting down"))?;
                let mut env = self.start_environment(blobs, ctx, &target, &key, false).await?;
                let init = env.initialize().await;
                env.init_outcome = Some(init);
                (env, true)
            }
        };
        self.busy_info.lock().insert(env.id.clone(), info(&env, &key, "busy"));

        let timeout = (!self.settings.debug).then(|| Duration::from_secs(u64::from(target.config.timeout)));
        let deadline_ms = chrono::Utc::now().timestamp_millis()
            + timeout.map_or(i64::from(target.config.timeout) * 1000, |t| t.as_millis() as i64);
        let (reply_tx, reply_rx) = oneshot::channel();
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload: environment::payload(payload),
            deadline_ms,
            invoked_function_arn: target.invoked_arn.clone(),
            trace_id: target
                .trace_header
                .clone()
                .unwrap_or_else(|| format!("Root={};Sampled=0", crate::recursion::new_root())),
            client_context,
            reply: reply_tx,
            stream,
        };
        let start_line = self.write_start(ctx, &target, &env, &request_id);
        // Init ran before this point, so REPORT's Duration is the handler's time alone; a cold
        // start's init is reported apart.
        let invoke_started = Instant::now();
        let result = match env.init_outcome.take() {
            Some(Err(failure)) => Err(failure),
            _ => env.invoke(invocation, reply_rx, timeout).await,
        };
        let init_duration = if cold { env.init_duration } else { None };
        let duration = invoke_started.elapsed();
        let output = env.drain_output().await;
        let (payload, function_error, healthy) = match result {
            Ok(RuntimeReply::Success(body)) => (body, None, true),
            Ok(RuntimeReply::FunctionError { body, .. }) => (error_body(body), Some("Unhandled".to_string()), true),
            Ok(RuntimeReply::ResponseTooLarge(limit)) => (
                Bytes::from(json!({"errorMessage": format!("Response payload size exceeded maximum allowed payload size ({limit} bytes)."), "errorType": "Function.ResponseSizeTooLarge"}).to_string()),
                Some("Unhandled".to_string()),
                true,
            ),
            Err(Failure::Init(init)) => (init.body, Some("Unhandled".to_string()), false),
            Err(Failure::Exited(status)) => (
                Bytes::from(json!({"errorType": "Runtime.ExitError", "errorMessage": exit_message(&request_id, &status)}).to_string()),
                Some("Unhandled".to_string()),
                false,
            ),
            Err(Failure::OutOfMemory) => (
                Bytes::from(json!({"errorType": "Runtime.OutOfMemory", "errorMessage": format!("RequestId: {request_id} Error: Runtime exited with error: signal: killed")}).to_string()),
                Some("Unhandled".to_string()),
                false,
            ),
            Err(Failure::InitTimeout) => (
                Bytes::from(json!({"errorType": "Sandbox.Timedout", "errorMessage": format!("RequestId: {request_id} Error: Runtime init phase timed out after {:.2} seconds", environment::INIT_TIMEOUT.as_secs_f64())}).to_string()),
                Some("Unhandled".to_string()),
                false,
            ),
            Err(Failure::Timeout) => (
                Bytes::from(json!({"errorType": "Sandbox.Timedout", "errorMessage": format!("RequestId: {request_id} Error: Task timed out after {:.2} seconds", f64::from(target.config.timeout))}).to_string()),
                Some("Unhandled".to_string()),
                false,
            ),
        };
        let memory_used = env.max_memory_mb();
        let log_tail = self.write_end(
            ctx,
            &target,
            &env,
            &request_id,
            start_line,
            &output,
            duration,
            memory_used,
            init_duration,
            function_error.is_some() && !healthy,
        );
        self.busy_info.lock().remove(&env.id);
        if healthy {
            self.put_idle(key, env);
        } else {
            env.kill();
        }
        self.record(InvocationRecord {
            request_id: request_id.clone(),
            function_arn: target.invoked_arn.clone(),
            version: target.config.version.clone(),
            duration_ms: duration.as_secs_f64() * 1000.0,
            outcome: match &function_error {
                None => "Success".into(),
                Some(_) => serde_json::from_slice::<serde_json::Value>(&payload)
                    .ok()
                    .and_then(|v| v.get("errorType").and_then(|t| t.as_str()).map(str::to_string))
                    .unwrap_or_else(|| "Error".into()),
            },
            cold_start: cold,
        });
        Ok(Outcome {
            request_id,
            payload,
            function_error,
            log_tail,
            executed_version: target.config.version.clone(),
            duration,
        })
    }

    /// Start (but do not initialise) a new environment for a version.
    async fn start_environment(
        &self,
        blobs: &nimbus_core::blob::BlobStore,
        ctx: &RequestContext,
        target: &Target,
        key: &PoolKey,
        provisioned: bool,
    ) -> Result<Environment, AwsError> {
        let runtime = target.config.runtime.clone().unwrap_or_default();
        let task = match &target.hot_reload_dir {
            Some(dir) => dir.clone(),
            None => self.code_dir(blobs, target.code.as_ref()).await?,
        };
        let launch = self.runtimes.launch(&runtime, &task)?;
        let opt = self.opt_dir(blobs, &target.layer_code).await?;
        let sdk = self.sdks.prepare(&runtime, &launch.program, &task, &opt, target.hot_reload_dir.is_none()).await?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let stream = log_stream_name(ctx, &target.config.version, &id);
        let launch = wrapped(launch, target, family_of(&runtime), &task, &opt);
        let (sdk, imports_sdk) = sdk.map_or((None, false), |(path, imported)| (Some(path), imported));
        let mut spec = self.spec(ctx, target, key, launch, task, opt, sdk.as_deref(), family_of(&runtime), &stream);
        if family_of(&runtime) == Some(Family::Node) {
            // Resolving ES module imports through NODE_PATH takes a loader thread before Node
            // 22.15 (~50 ms of cold start): only when NODE_PATH can matter, for code that imports
            // the runtime's SDK or has layers.
            let esm = imports_sdk || !target.layer_code.is_empty();
            spec.variables.push(("NIMBUS_LAMBDA_ESM_NODE_PATH".into(), if esm { "1" } else { "0" }.into()));
        }
        if provisioned {
            for (name, value) in &mut spec.variables {
                if name == "AWS_LAMBDA_INITIALIZATION_TYPE" {
                    *value = "provisioned-concurrency".into();
                }
            }
        }
        Environment::start_isolated(id, stream, &spec, &self.isolation).await.map_err(|e| {
            AwsError::new(502, "InvalidRuntimeException", format!("nimbus could not start the runtime: {e}"))
        })
    }

    /// Provisioned concurrency: start and initialise `count` environments for a version ahead of
    /// traffic; they wait in the pool and are never reaped for idleness. Returns how many are up.
    pub async fn provision(
        &self,
        blobs: &nimbus_core::blob::BlobStore,
        ctx: &RequestContext,
        target: &Target,
        count: usize,
    ) -> Result<usize, AwsError> {
        let key = pool_key(target);
        let mut ready = 0;
        for _ in 0..count {
            let mut env = self.start_environment(blobs, ctx, target, &key, true).await?;
            env.pinned = true;
            if env.initialize().await.is_ok() {
                self.put_idle(key.clone(), env);
                ready += 1;
            }
        }
        Ok(ready)
    }

    /// Drop the environments of one version of a function (provisioned concurrency removed).
    pub fn drop_version(&self, account: &str, region: &str, function: &str, version: &str) {
        self.idle.lock().retain(|k, _| {
            !(k.account == account && k.region == region && k.function == function && k.version == version)
        });
    }

    /// Count an invocation against the function's reserved concurrency and the account limit.
    fn reserve(&self, function_key: &str, account_key: &str, reserved: Option<u32>) -> Result<Slot<'_>, AwsError> {
        let mut running = self.running.lock();
        let function_running = running.get(function_key).copied().unwrap_or(0);
        let account_running = running.get(account_key).copied().unwrap_or(0);
        if let Some(limit) = reserved {
            if function_running >= limit {
                return Err(throttled("ReservedFunctionConcurrentInvocationLimitExceeded"));
            }
        }
        if account_running >= ACCOUNT_CONCURRENCY {
            return Err(throttled("ConcurrentInvocationLimitExceeded"));
        }
        *running.entry(function_key.to_string()).or_default() += 1;
        *running.entry(account_key.to_string()).or_default() += 1;
        Ok(Slot { invoker: self, keys: [function_key.to_string(), account_key.to_string()] })
    }

    fn take_idle(&self, key: &PoolKey) -> Option<Environment> {
        let mut idle = self.idle.lock();
        // Environments of an older revision of this version will never be used again.
        let stale: Vec<PoolKey> = idle
            .keys()
            .filter(|k| {
                k.account == key.account
                    && k.region == key.region
                    && k.function == key.function
                    && k.version == key.version
                    && k.revision != key.revision
            })
            .cloned()
            .collect();
        for k in stale {
            idle.remove(&k);
        }
        let pool = idle.get_mut(key)?;
        // Skip environments whose runtime died while idle: AWS would start a fresh one.
        while let Some(mut env) = pool.pop() {
            if env.is_alive() {
                return Some(env);
            }
        }
        None
    }

    fn put_idle(&self, key: PoolKey, env: Environment) {
        self.idle.lock().entry(key).or_default().push(env);
    }

    /// Shut down environments idle for longer than the configured time.
    pub fn reap_idle(&self) {
        let limit = self.settings.idle_timeout;
        let mut idle = self.idle.lock();
        for envs in idle.values_mut() {
            envs.retain(|e| e.pinned || e.last_used.elapsed() < limit);
        }
        idle.retain(|_, envs| !envs.is_empty());
    }

    /// Drop every environment of a function (deleted) or of everything (reset).
    pub fn drop_environments(&self, filter: impl Fn(&str, &str, &str) -> bool) {
        self.idle.lock().retain(|k, _| !filter(&k.account, &k.region, &k.function));
    }

    pub fn environments(&self) -> Vec<EnvironmentInfo> {
        let mut out: Vec<EnvironmentInfo> = self.busy_info.lock().values().cloned().collect();
        for (key, envs) in self.idle.lock().iter() {
            out.extend(envs.iter().map(|e| info(e, key, "idle")));
        }
        out
    }

    /// Remove unpacked code and layer folders that no environment uses and that were not used
    /// within `grace`.
    pub fn remove_unused_code(&self, grace: Duration) {
        let mut in_use: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
        for info in self.busy_info.lock().values() {
            in_use.extend(info.code_dirs.iter().cloned());
        }
        for envs in self.idle.lock().values() {
            for env in envs {
                in_use.extend(env.code_dirs.iter().cloned());
            }
        }
        for kind in ["code", "opt"] {
            let Ok(entries) = std::fs::read_dir(self.work_dir.join(kind)) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if in_use.contains(&path) || name.ends_with(".partial") {
                    continue;
                }
                let age = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
                if age.is_some_and(|a| a >= grace) {
                    let _ = nimbus_core::scratch::remove_tree(&path);
                }
            }
        }
    }

    pub fn recent_invocations(&self) -> Vec<InvocationRecord> {
        self.recent.lock().iter().cloned().collect()
    }

    fn record(&self, record: InvocationRecord) {
        let mut recent = self.recent.lock();
        if recent.len() == 1000 {
            recent.pop_front();
        }
        recent.push_back(record);
    }

    /// The unpacked code of a version, shared read-only by its environments.
    async fn code_dir(
        &self,
        blobs: &nimbus_core::blob::BlobStore,
        code: Option<&CodeRef>,
    ) -> Result<PathBuf, AwsError> {
        let Some(code) = code else { return Err(AwsError::internal("function has no code")) };
        self.unpacked(blobs, &format!("code/{}", code.blob), std::slice::from_ref(code)).await
    }

    /// The layers of a version, unpacked in order into one folder (later layers win).
    async fn opt_dir(&self, blobs: &nimbus_core::blob::BlobStore, layers: &[CodeRef]) -> Result<PathBuf, AwsError> {
        let id = crate::state_hash(&layers.iter().map(|l| l.blob.as_str()).collect::<Vec<_>>().join(","));
        self.unpacked(blobs, &format!("opt/{id}"), layers).await
    }

    async fn unpacked(
        &self,
        blobs: &nimbus_core::blob::BlobStore,
        name: &str,
        archives: &[CodeRef],
    ) -> Result<PathBuf, AwsError> {
        let dir = self.work_dir.join(name);
        let fresh = |dir: &Path| {
            // Recently used: garbage collection spares it.
            let _ = std::fs::File::open(dir).and_then(|f| f.set_modified(std::time::SystemTime::now()));
        };
        if dir.exists() {
            fresh(&dir);
            return Ok(dir);
        }
        let _guard = self.extract_lock.lock().await;
        if dir.exists() {
            fresh(&dir);
            return Ok(dir);
        }
        let tmp = self.work_dir.join(format!("{name}.partial"));
        let _ = nimbus_core::scratch::remove_tree(&tmp);
        let result = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(&tmp)?;
            for archive in archives {
                let bytes = blobs.get(&archive.blob)?;
                extract::unzip_into(&bytes, &tmp)?;
            }
            // Functions cannot rewrite code (AWS: /var/task is a read-only file system), nor
            // another function's that shares it by content.
            nimbus_core::scratch::make_read_only(&tmp)?;
            std::fs::rename(&tmp, &dir)
        })();
        result.map_err(|e| {
            let _ = nimbus_core::scratch::remove_tree(&tmp);
            AwsError::new(
                502,
                "InvalidZipFileException",
                format!("Lambda was unable to unzip the function's code: {e}"),
            )
        })?;
        Ok(dir)
    }

    /// What the function's SDK signs with: its execution role's session, as on AWS, when STS is
    /// wired and the role is in the function's account (AWS requires that; a stand-in role ARN
    /// from another account keeps the calls in the function's account); else the account's keys.
    fn credentials(&self, target: &Target) -> SessionCredentials {
        let in_account = nimbus_core::arn::Arn::parse(&target.config.role).is_some_and(|a| a.account == target.account);
        let roles = self.roles.read().clone();
        let session = roles
            .filter(|_| in_account)
            .and_then(|roles| roles.role_session(&target.config.role, &target.config.function_name));
        session.unwrap_or_else(|| SessionCredentials {
            // A 12-digit access key id is the account: the function's SDK calls land in its account.
            access_key_id: target.account.clone(),
            // The secret nimbus expects for keys it did not issue, so signed calls verify.
            secret_access_key: nimbus_core::sigv4::DEFAULT_SECRET.into(),
            session_token: "nimbus".into(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn spec(
        &self,
        ctx: &RequestContext,
        target: &Target,
        key: &PoolKey,
        launch: runtimes::Launch,
        task: PathBuf,
        opt: PathBuf,
        sdk: Option<&Path>,
        family: Option<Family>,
        log_stream: &str,
    ) -> Spec {
        let config = &target.config;
        let credentials = self.credentials(target);
        let runtime = config.runtime.clone().unwrap_or_default();
        let env_dir = self.work_dir.join("envs").join(uuid::Uuid::new_v4().simple().to_string());
        let log_group = log_group(config);
        let log = self.sink.as_ref().map(|sink| environment::LiveLog {
            sink: sink.clone(),
            account: target.account.clone(),
            region: target.region.clone(),
            group: log_group.clone(),
            stream: log_stream.to_string(),
            clock: ctx.clock.clone(),
        });
        let mut vars: Vec<(String, String)> = vec![
            (
                "PATH".into(),
                format!(
                    "{}:{}",
                    opt.join("bin").display(),
                    std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into())
                ),
            ),
            ("LANG".into(), "en_US.UTF-8".into()),
            ("TZ".into(), ":UTC".into()),
            ("LD_LIBRARY_PATH".into(), format!("{}:{}", opt.join("lib").display(), task.join("lib").display())),
            ("_HANDLER".into(), config.handler.clone().unwrap_or_default()),
            ("LAMBDA_TASK_ROOT".into(), task.display().to_string()),
            ("LAMBDA_RUNTIME_DIR".into(), self.runtimes.dir().display().to_string()),
            ("NIMBUS_LAMBDA_OPT_DIR".into(), opt.display().to_string()),
            ("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{runtime}")),
            ("AWS_LAMBDA_FUNCTION_NAME".into(), config.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION".into(), key.version.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), config.memory_size.to_string()),
            ("AWS_LAMBDA_LOG_GROUP_NAME".into(), log_group),
            ("AWS_LAMBDA_LOG_STREAM_NAME".into(), log_stream.to_string()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
            // X-Ray as AWS sets it (the trace header itself is per invocation: _X_AMZN_TRACE_ID).
            ("AWS_XRAY_CONTEXT_MISSING".into(), "LOG_ERROR".into()),
            ("AWS_XRAY_DAEMON_ADDRESS".into(), "169.254.79.129:2000".into()),
            ("_AWS_XRAY_DAEMON_ADDRESS".into(), "169.254.79.129".into()),
            ("_AWS_XRAY_DAEMON_PORT".into(), "2000".into()),
            ("AWS_REGION".into(), target.region.clone()),
            ("AWS_DEFAULT_REGION".into(), target.region.clone()),
            ("AWS_ACCESS_KEY_ID".into(), credentials.access_key_id),
            ("AWS_SECRET_ACCESS_KEY".into(), credentials.secret_access_key),
            ("AWS_SESSION_TOKEN".into(), credentials.session_token),
            ("AWS_ENDPOINT_URL".into(), target.endpoint.clone()),
            (
                "AWS_LAMBDA_LOG_FORMAT".into(),
                config.logging_config.get("LogFormat").and_then(|v| v.as_str()).unwrap_or("Text").to_string(),
            ),
        ];
        if let Some(level) = config.logging_config.get("ApplicationLogLevel").and_then(|v| v.as_str()) {
            vars.push(("AWS_LAMBDA_LOG_LEVEL".into(), level.to_string()));
        }
        match family {
            Some(Family::Python) => {
                let mut path = vec![task.display().to_string(), opt.join("python").display().to_string()];
                if let Some(minor) = runtime.strip_prefix("python") {
                    path.push(opt.join(format!("python/lib/python{minor}/site-packages")).display().to_string());
                }
                // The runtime's SDK last, where AWS's /var/runtime is: bundled copies win.
                path.extend(sdk.map(|s| s.display().to_string()));
                vars.push(("PYTHONPATH".into(), path.join(":")));
                vars.push(("PYTHONUNBUFFERED".into(), "1".into()));
                vars.push(("PYTHONDONTWRITEBYTECODE".into(), "1".into()));
            }
            Some(Family::Node) => {
                let major = runtime.trim_start_matches("nodejs").trim_end_matches(".x");
                // AWS's order: /opt/nodejs/node<major>/node_modules, /opt/nodejs/node_modules,
                // /var/runtime/node_modules (the SDK), then the code. NODE_PATH is searched only
                // after the node_modules folders above the importing file, so the function's own
                // node_modules (a bundled SDK) wins.
                let mut paths =
                    vec![opt.join(format!("nodejs/node{major}/node_modules")), opt.join("nodejs/node_modules")];
                paths.extend(sdk.map(Path::to_path_buf));
                paths.extend([task.join("node_modules"), task.clone()]);
                vars.push((
                    "NODE_PATH".into(),
                    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"),
                ));
            }
            _ => {}
        }
        if let Some(env) = &config.environment {
            vars.extend(env.variables.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let node = family == Some(Family::Node);
        Spec {
            launch,
            task_dir: task,
            opt_dir: opt,
            env_dir,
            variables: vars,
            memory_mb: config.memory_size,
            node,
            bundled: matches!(family, Some(Family::Python | Family::Node)),
            log,
        }
    }

    /// Write the START line (the function's own lines follow as it writes them); return it.
    fn write_start(&self, ctx: &RequestContext, target: &Target, env: &Environment, request_id: &str) -> String {
        let version = &target.config.version;
        let line = if json_logs(&target.config) {
            let time = ctx.clock.now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            json!({"time": time, "type": "platform.start", "record": {"requestId": request_id, "version": version}})
                .to_string()
        } else {
            format!("START RequestId: {request_id} Version: {version}")
        };
        self.put_platform(ctx, target, env, std::slice::from_ref(&line));
        line
    }

    /// Write END and REPORT to CloudWatch Logs; return the invocation's tail (START, the
    /// function's output, END, REPORT).
    #[allow(clippy::too_many_arguments)]
    fn write_end(
        &self,
        ctx: &RequestContext,
        target: &Target,
        env: &Environment,
        request_id: &str,
        start_line: String,
        output: &[String],
        duration: Duration,
        memory_used: u64,
        init_duration: Option<Duration>,
        crashed: bool,
    ) -> String {
        let config = &target.config;
        let json_format = json_logs(config);
        let ms = duration.as_secs_f64() * 1000.0;
        let billed = ms.ceil().max(1.0) as u64;
        let mut lines: Vec<String> = Vec::with_capacity(3);
        let time = ctx.clock.now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        if crashed && !json_format {
            lines.push(format!("RequestId: {request_id} Error: Runtime exited without providing a reason"));
        }
        if json_format {
            let mut metrics = json!({"durationMs": round2(ms), "billedDurationMs": billed, "memorySizeMB": config.memory_size, "maxMemoryUsedMB": memory_used});
            if let Some(init) = init_duration {
                metrics["initDurationMs"] = json!(round2(init.as_secs_f64() * 1000.0));
            }
            lines.push(json!({"time": time, "type": "platform.runtimeDone", "record": {"requestId": request_id, "status": if crashed {"error"} else {"success"}}}).to_string());
            lines.push(json!({"time": time, "type": "platform.report", "record": {"requestId": request_id, "metrics": metrics, "status": if crashed {"error"} else {"success"}}}).to_string());
        } else {
            lines.push(format!("END RequestId: {request_id}"));
            let mut report = format!(
                "REPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {memory_used} MB",
                config.memory_size
            );
            if let Some(init) = init_duration {
                report.push_str(&format!("\tInit Duration: {:.2} ms", init.as_secs_f64() * 1000.0));
            }
            report.push('\t');
            lines.push(report);
        }
        self.put_platform(ctx, target, env, &lines);
        let mut text = start_line;
        text.push('\n');
        for line in output.iter().chain(&lines) {
            text.push_str(line);
            text.push('\n');
        }
        let start = text.len().saturating_sub(TAIL_BYTES);
        let start = (start..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        base64::engine::general_purpose::STANDARD.encode(&text.as_bytes()[start..])
    }

    /// Store platform lines in the environment's log stream, now.
    fn put_platform(&self, ctx: &RequestContext, target: &Target, env: &Environment, lines: &[String]) {
        let Some(sink) = &self.sink else { return };
        let timestamp = ctx.clock.now_millis();
        let events = lines.iter().map(|line| LogEvent { timestamp, message: format!("{line}\n") }).collect();
        sink.put(&target.account, &target.region, &log_group(&target.config), &env.log_stream, events);
    }
}

/// The function's log group: its LoggingConfig's, else `/aws/lambda/<name>`.
fn log_group(config: &FunctionConfig) -> String {
    config
        .logging_config
        .get("LogGroup")
        .and_then(|v| v.as_str())
        .map_or_else(|| format!("/aws/lambda/{}", config.function_name), str::to_string)
}

fn json_logs(config: &FunctionConfig) -> bool {
    config.logging_config.get("LogFormat").and_then(|v| v.as_str()) == Some("JSON")
}

/// AWS's text for a runtime that exited mid-invocation: a clean exit gives no reason.
fn exit_message(request_id: &str, status: &str) -> String {
    if status == "exit status 0" {
        format!("RequestId: {request_id} Error: Runtime exited without providing a reason")
    } else {
        format!("RequestId: {request_id} Error: Runtime exited with error: {status}")
    }
}

/// `AWS_LAMBDA_EXEC_WRAPPER`: a managed runtime (Python, Node.js) starts through the wrapper
/// script, which gets the runtime's command line as its arguments — the interpreter, its flags,
/// the bootstrap (a missing wrapper fails as `Runtime.ExitError`). Custom runtimes start their
/// own `bootstrap`, as on AWS.
fn wrapped(
    launch: runtimes::Launch,
    target: &Target,
    family: Option<Family>,
    task: &Path,
    opt: &Path,
) -> runtimes::Launch {
    let wrapper = target.config.environment.as_ref().and_then(|e| e.variables.get("AWS_LAMBDA_EXEC_WRAPPER"));
    match (wrapper, family) {
        (Some(wrapper), Some(Family::Python | Family::Node)) => {
            // AWS's paths map to the environment's folders: layers under /opt, code under /var/task.
            let program = if let Some(rest) = wrapper.strip_prefix("/opt/") {
                opt.join(rest)
            } else if let Some(rest) = wrapper.strip_prefix("/var/task/") {
                task.join(rest)
            } else {
                PathBuf::from(wrapper)
            };
            let mut args = vec![launch.program.display().to_string()];
            args.extend(launch.args);
            runtimes::Launch { program, args, wrapper: true }
        }
        _ => launch,
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Releases a concurrency slot when the invocation ends, however it ends.
struct Slot<'a> {
    invoker: &'a Invoker,
    keys: [String; 2],
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut running = self.invoker.running.lock();
        for key in &self.keys {
            if let Some(n) = running.get_mut(key) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

fn throttled(reason: &str) -> AwsError {
    AwsError::new(429, "TooManyRequestsException", "Rate Exceeded.").with_extra("Reason", reason)
}

fn family_of(runtime: &str) -> Option<Family> {
    runtimes::family(runtime)
}

fn pool_key(target: &Target) -> PoolKey {
    PoolKey {
        account: target.account.clone(),
        region: target.region.clone(),
        function: target.config.function_name.clone(),
        version: target.config.version.clone(),
        revision: revision_of(target),
    }
}

fn revision_of(target: &Target) -> String {
    let mut revision = format!("{}:{}", target.config.revision_id, target.config.code_sha256);
    if let Some(dir) = &target.hot_reload_dir {
        revision.push_str(&folder_fingerprint(dir));
    }
    revision
}

/// A cheap summary of a folder's files (count, newest change, total size): any edit changes it.
fn folder_fingerprint(dir: &Path) -> String {
    let (mut count, mut newest, mut size) = (0u64, 0u128, 0u64);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if count < 100_000 {
                    stack.push(entry.path());
                }
                continue;
            }
            count += 1;
            size += meta.len();
            if let Ok(modified) = meta.modified() {
                let t = modified.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
                newest = newest.max(t);
            }
        }
    }
    format!(":{count}:{newest}:{size}")
}

/// AWS's stream naming: `2024/01/31/[$LATEST]<environment id>`.
fn log_stream_name(ctx: &RequestContext, version: &str, id: &str) -> String {
    format!("{}/[{version}]{id}", ctx.clock.now().format("%Y/%m/%d"))
}

/// The error document the runtime posted, as the caller receives it.
fn error_body(body: Bytes) -> Bytes {
    if serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
        body
    } else {
        Bytes::from(json!({"errorMessage": String::from_utf8_lossy(&body), "errorType": "Runtime.Unknown"}).to_string())
    }
}

fn info(env: &Environment, key: &PoolKey, state: &'static str) -> EnvironmentInfo {
    EnvironmentInfo {
        id: env.id.clone(),
        function: format!("arn:aws:lambda:{}:{}:function:{}", key.region, key.account, key.function),
        version: key.version.clone(),
        state,
        pid: env.pid(),
        command_line: env.command_line.clone(),
        working_dir: env.dir.display().to_string(),
        invocations: env.invocations,
        idle_seconds: env.last_used.elapsed().as_secs(),
        code_dirs: env.code_dirs.clone(),
    }
}
