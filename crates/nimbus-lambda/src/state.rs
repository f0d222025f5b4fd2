//! Lambda's state: functions (with versions, aliases, policies, tags) and layers, kept per
//! account and region. Published versions are immutable snapshots of `$LATEST`.
//!
//! Code bytes are not here: a version holds a [`CodeRef`] into the blob store.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `FunctionConfiguration` shape AWS returns, field for field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfig {
    pub function_name: String,
    pub function_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    pub code_size: u64,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub last_modified: String,
    pub code_sha256: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    pub tracing_config: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_arn: Option<String>,
    pub revision_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<LayerReference>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_system_configs: Option<Value>,
    pub package_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_config_response: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_profile_version_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_job_arn: Option<String>,
    pub architectures: Vec<String>,
    pub ephemeral_storage: Value,
    pub snap_start: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version_config: Option<Value>,
    pub logging_config: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_provider_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable_config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenancy_config: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LayerReference {
    pub arn: String,
    pub code_size: u64,
}

/// Where a version's code lives in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRef {
    /// Hex SHA-256: the blob's name.
    pub blob: String,
    pub size: u64,
    pub unzipped_size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub config: FunctionConfig,
    /// `None` for container-image functions.
    pub code: Option<CodeRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_uri: Option<String>,
    /// Hot reload: the code runs straight from this local folder (`S3Bucket = "hot-reload"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hot_reload_dir: Option<String>,
    /// The layers' code, in order, as resolved when the version was configured.
    #[serde(default)]
    pub layer_code: Vec<CodeRef>,
    /// `$LATEST`'s description when this version was published from it (the version's own may
    /// be PublishVersion's): a later description change is a change worth a new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_description: Option<String>,
    /// With `KMSKeyArn` and variables: the variables encrypted under that key. The journal
    /// keeps only this, not the plain values (see [`crate::sealed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_environment: Option<SealedEnvironment>,
    /// The create or update AWS is still applying to this version, if any. Not journaled:
    /// after a restart everything has settled.
    #[serde(skip)]
    pub transition: Option<Transition>,
}

/// A version's environment variables as KMS ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedEnvironment {
    /// The `KMSKeyArn` they are encrypted under.
    pub key: String,
    /// SHA-256 of the variables (as JSON): whether they changed since.
    pub digest: String,
    /// Base64 of the KMS ciphertext of the variables as JSON.
    pub ciphertext: String,
}

/// A version being created (`State: Pending`) or updated (`LastUpdateStatus: InProgress`),
/// shown so until `until` on the real clock, as AWS shows the seconds it takes to apply one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub until: std::time::Instant,
    pub kind: TransitionKind,
    /// The revision shown while it lasts; the settled one (`config.revision_id`) follows it.
    pub revision_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionKind {
    /// `State: Pending`, `StateReasonCode: Creating`.
    Creating,
    /// `LastUpdateStatus: InProgress`.
    Updating,
}

impl Version {
    /// The transition still under way at `now`.
    pub fn in_transition(&self, now: std::time::Instant) -> Option<&Transition> {
        self.transition.as_ref().filter(|t| now < t.until)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub name: String,
    pub function_version: String,
    pub description: String,
    /// `AdditionalVersionWeights`: version → weight.
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// A resource policy: the statements, in order, and a revision for optimistic locking.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub statements: Vec<Value>,
    pub revision_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    pub latest: Version,
    pub versions: BTreeMap<u64, Version>,
    /// Version numbers are never reused, even after a version is deleted.
    pub next_version: u64,
    pub aliases: BTreeMap<String, Alias>,
    /// Keyed by qualifier; `""` is the unqualified function.
    pub policies: BTreeMap<String, Policy>,
    pub tags: BTreeMap<String, String>,
    pub reserved_concurrency: Option<u32>,
    #[serde(default)]
    pub code_signing_config_arn: Option<String>,
    /// Asynchronous invocation settings, keyed by qualifier (`$LATEST`, a version or an alias).
    #[serde(default)]
    pub event_invoke_configs: BTreeMap<String, EventInvokeConfig>,
    /// Function URLs, keyed by qualifier (`""` for the unqualified function, else an alias).
    #[serde(default)]
    pub url_configs: BTreeMap<String, UrlConfig>,
    /// `PutRuntimeManagementConfig` settings by qualifier (`$LATEST`, a version or an alias).
    #[serde(default)]
    pub runtime_management: BTreeMap<String, RuntimeManagement>,
    /// Provisioned concurrency by qualifier (a version or an alias).
    #[serde(default)]
    pub provisioned: BTreeMap<String, Provisioned>,
    /// `PutFunctionRecursionConfig`; AWS's default is `Terminate`.
    #[serde(default)]
    pub recursive_loop: Option<String>,
    /// `PutFunctionScalingConfig` by published qualifier (a version number): the
    /// `FunctionScalingConfig` as given.
    #[serde(default)]
    pub scaling_configs: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisioned {
    pub requested: u32,
    pub allocated: u32,
    /// `IN_PROGRESS`, `READY` or `FAILED`.
    pub status: String,
    pub status_reason: Option<String>,
    pub last_modified: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeManagement {
    pub update_runtime_on: String,
    pub runtime_version_arn: Option<String>,
}

/// A function URL's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlConfig {
    /// The host label: `<url-id>.lambda-url.<region>.…`.
    pub url_id: String,
    pub auth_type: String,
    pub cors: Option<Value>,
    pub invoke_mode: String,
    pub creation_time: String,
    pub last_modified_time: String,
}

/// `FunctionEventInvokeConfig`: retries, event age and destinations for async invocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    pub maximum_retry_attempts: Option<u32>,
    pub maximum_event_age_seconds: Option<u32>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    /// Epoch seconds (AWS returns a timestamp number here).
    pub last_modified: f64,
}

impl Function {
    pub fn name(&self) -> &str {
        &self.latest.config.function_name
    }

    /// The version a qualifier names: `$LATEST`, a version number, or an alias's target.
    pub fn resolve(&self, qualifier: Option<&str>) -> Option<&Version> {
        match qualifier {
            None | Some("$LATEST") => Some(&self.latest),
            Some(q) if crate::ident::is_version(q) => self.versions.get(&q.parse().ok()?),
            Some(alias) => {
                let target = &self.aliases.get(alias)?.function_version;
                self.resolve(Some(target.as_str()))
            }
        }
    }

    /// Whether a qualifier names something that exists.
    pub fn has_qualifier(&self, qualifier: &str) -> bool {
        self.resolve(Some(qualifier)).is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerVersion {
    pub version: u64,
    pub description: String,
    pub created_date: String,
    /// Absent when not given at publish time (AWS omits them then).
    #[serde(default)]
    pub compatible_runtimes: Option<Vec<String>>,
    #[serde(default)]
    pub compatible_architectures: Option<Vec<String>>,
    pub license_info: Option<String>,
    pub code: CodeRef,
    pub policy: Option<Policy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub name: String,
    pub versions: BTreeMap<u64, LayerVersion>,
    pub next_version: u64,
}

/// Everything Lambda holds for one account in one region.
#[derive(Debug, Clone, Default)]
pub struct Region {
    pub functions: BTreeMap<String, Function>,
    pub layers: BTreeMap<String, Layer>,
    pub event_source_mappings: BTreeMap<String, crate::esm::EventSourceMapping>,
    /// Code signing configurations by ARN.
    pub code_signing_configs: BTreeMap<String, CodeSigningConfig>,
    /// Capacity providers by name.
    pub capacity_providers: BTreeMap<String, CapacityProvider>,
}

/// A capacity provider (Lambda Managed Instances), in AWS's `CapacityProvider` shape plus its
/// name and tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CapacityProvider {
    pub capacity_provider_arn: String,
    pub state: String,
    pub vpc_config: Value,
    pub permissions_config: Value,
    pub instance_requirements: Value,
    pub capacity_provider_scaling_config: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    pub last_modified: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A code signing configuration, in AWS's `CodeSigningConfig` shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeSigningConfig {
    pub code_signing_config_id: String,
    pub code_signing_config_arn: String,
    pub description: String,
    pub allowed_publishers: Value,
    pub code_signing_policies: Value,
    pub last_modified: String,
    /// Kept with the record; not part of AWS's `CodeSigningConfig` shape (see `render`).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
pub struct Store {
    regions: HashMap<(String, String), Region>,
    /// Event invocations that were queued but not finished when the journal was written:
    /// (account, region, event id, record). Taken once at start-up to resume them.
    pub pending_events: Vec<(String, String, String, Value)>,
}

impl Store {
    pub fn region(&self, account: &str, region: &str) -> Option<&Region> {
        self.regions.get(&(account.to_string(), region.to_string()))
    }

    pub fn region_mut(&mut self, account: &str, region: &str) -> &mut Region {
        self.regions.entry((account.to_string(), region.to_string())).or_default()
    }

    pub fn regions_mut(&mut self) -> impl Iterator<Item = (&(String, String), &mut Region)> {
        self.regions.iter_mut()
    }

    pub fn regions(&self) -> impl Iterator<Item = (&(String, String), &Region)> {
        self.regions.iter()
    }

    pub fn clear(&mut self) {
        self.regions.clear();
    }
}

/// Journal keys: one record per function and per layer.
pub fn function_key(account: &str, region: &str, name: &str) -> String {
    format!("function/{account}/{region}/{name}")
}

pub fn layer_key(account: &str, region: &str, name: &str) -> String {
    format!("layer/{account}/{region}/{name}")
}

pub fn code_signing_key(account: &str, region: &str, id: &str) -> String {
    format!("csc/{account}/{region}/{id}")
}

pub fn capacity_provider_key(account: &str, region: &str, name: &str) -> String {
    format!("cp/{account}/{region}/{name}")
}

pub fn event_key(account: &str, region: &str, id: &str) -> String {
    format!("event/{account}/{region}/{id}")
}

pub fn mapping_key(account: &str, region: &str, uuid: &str) -> String {
    format!("esm/{account}/{region}/{uuid}")
}

/// Rebuild the store from journal records.
pub fn load(records: &nimbus_core::journal::Records) -> Result<Store, String> {
    let mut store = Store::default();
    for (key, value) in records {
        let mut parts = key.splitn(4, '/');
        let (Some(kind), Some(account), Some(region), Some(name)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("bad journal key {key}"));
        };
        let target = store.region_mut(account, region);
        match kind {
            "function" => {
                let function: Function = serde_json::from_value(value.clone()).map_err(|e| format!("{key}: {e}"))?;
                target.functions.insert(name.to_string(), function);
            }
            "layer" => {
                let layer: Layer = serde_json::from_value(value.clone()).map_err(|e| format!("{key}: {e}"))?;
                target.layers.insert(name.to_string(), layer);
            }
            "csc" => {
                let config: CodeSigningConfig =
                    serde_json::from_value(value.clone()).map_err(|e| format!("{key}: {e}"))?;
                target.code_signing_configs.insert(config.code_signing_config_arn.clone(), config);
            }
            "cp" => {
                let provider: CapacityProvider =
                    serde_json::from_value(value.clone()).map_err(|e| format!("{key}: {e}"))?;
                target.capacity_providers.insert(name.to_string(), provider);
            }
            "event" => {
                store.pending_events.push((account.to_string(), region.to_string(), name.to_string(), value.clone()))
            }
            "esm" => {
                let mapping = serde_json::from_value(value.clone()).map_err(|e| format!("{key}: {e}"))?;
                target.event_source_mappings.insert(name.to_string(), mapping);
            }
            other => return Err(format!("unknown journal record kind {other}")),
        }
    }
    Ok(store)
}

/// Lambda's state behind its lock, with the journal that makes it durable.
///
/// Handlers change the state under [`StateLock::write`] and journal the result before the
/// guard is dropped. If any journal write on that thread failed meanwhile, dropping the guard
/// rebuilds memory from the journal (which a failed write leaves as it was), so a write
/// answered with an error changes nothing, and an idempotent retry is journaled again rather
/// than answered from memory the disk never saw.
pub struct StateLock {
    lock: parking_lot::RwLock<Store>,
    journal: Option<std::sync::Arc<nimbus_core::journal::Journal>>,
}

pub struct WriteGuard<'a> {
    guard: parking_lot::RwLockWriteGuard<'a, Store>,
    journal: Option<&'a nimbus_core::journal::Journal>,
}

impl StateLock {
    pub fn new(store: Store, journal: Option<std::sync::Arc<nimbus_core::journal::Journal>>) -> StateLock {
        StateLock { lock: parking_lot::RwLock::new(store), journal }
    }

    pub fn read(&self) -> parking_lot::RwLockReadGuard<'_, Store> {
        self.lock.read()
    }

    pub fn write(&self) -> WriteGuard<'_> {
        let guard = self.lock.write();
        // Failures before this operation are not its own.
        nimbus_core::journal::take_thread_failure();
        WriteGuard { guard, journal: self.journal.as_deref() }
    }
}

impl std::ops::Deref for WriteGuard<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.guard
    }
}

impl std::ops::DerefMut for WriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.guard
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        let Some(journal) = self.journal else { return };
        if !nimbus_core::journal::take_thread_failure() {
            return;
        }
        match journal.records().map_err(|e| e.to_string()).and_then(|records| load(&records)) {
            Ok(mut durable) => {
                // Queued events were taken at start-up; a rebuild must not queue them again.
                durable.pending_events.clear();
                durable.pending_events.append(&mut self.guard.pending_events);
                *self.guard = durable;
                tracing::warn!("a Lambda journal write failed; state rebuilt from the journal");
            }
            Err(err) => tracing::error!(error = %err, "could not rebuild Lambda state after a failed journal write"),
        }
    }
}
