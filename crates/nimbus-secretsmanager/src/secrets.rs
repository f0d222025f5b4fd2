//! Secrets: versions with staging labels, envelope-encrypted values (a KMS data key per
//! version, AES-256-GCM locally, as Secrets Manager does), deletion with a recovery window on
//! nimbus's clock, tags, resource policies and replication (stored).

use std::path::Path;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use nimbus_core::clock::Clock;
use nimbus_core::crypto::{EncryptionContext, KeyService};
use nimbus_core::members::{bool_of, str_of, tags_json, tags_of, KEY_VALUE};
use nimbus_core::state::{Keyed, Store};
use nimbus_core::AwsError;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub type Result<T> = std::result::Result<T, AwsError>;

pub const DEFAULT_KEY: &str = "alias/aws/secretsmanager";
pub const CURRENT: &str = "AWSCURRENT";
pub const PREVIOUS: &str = "AWSPREVIOUS";
pub const PENDING: &str = "AWSPENDING";
const DAY: f64 = 86_400.0;

pub fn error(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, code, message)
}

pub fn not_found() -> AwsError {
    error("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    error("InvalidParameterException", message)
}

pub fn invalid_request(message: impl Into<String>) -> AwsError {
    error("InvalidRequestException", message)
}

fn marked_for_deletion() -> AwsError {
    invalid_request("You can't perform this operation on the secret because it was marked for deletion.")
}

fn b64() -> &'static base64::engine::GeneralPurpose {
    &base64::engine::general_purpose::STANDARD
}

/// One version's value, sealed: the data key under KMS, the value under the data key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SealedValue {
    pub key_arn: String,
    pub data_key: String,
    pub ciphertext: String,
    pub binary: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SecretVersion {
    pub id: String,
    pub stages: Vec<String>,
    pub created: f64,
    pub last_accessed: Option<f64>,
    /// `None` for the version a rotation creates before its function stores the value.
    pub value: Option<SealedValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Rotation {
    pub enabled: bool,
    pub lambda_arn: Option<String>,
    pub rules: Option<Value>,
    pub last_rotated: Option<f64>,
    pub next_rotation: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Secret {
    pub account: String,
    pub region: String,
    pub name: String,
    pub arn: String,
    pub description: Option<String>,
    pub kms_key_id: Option<String>,
    pub versions: Vec<SecretVersion>,
    pub tags: Vec<(String, String)>,
    pub policy: Option<String>,
    pub rotation: Rotation,
    pub created: f64,
    pub last_changed: f64,
    pub last_accessed: Option<f64>,
    /// When DeleteSecret was called, and when the secret goes for good.
    pub deleted_date: Option<f64>,
    pub delete_at: Option<f64>,
    pub replicas: Vec<Value>,
}

impl Secret {
    fn version_with(&self, stage: &str) -> Option<&SecretVersion> {
        self.versions.iter().find(|v| v.stages.iter().any(|s| s == stage))
    }

    fn stages_map(&self, include_empty: bool) -> Value {
        let mut m = serde_json::Map::new();
        for v in &self.versions {
            if include_empty || !v.stages.is_empty() {
                m.insert(v.id.clone(), json!(v.stages));
            }
        }
        Value::Object(m)
    }

    /// Move `stage` to version `to`, taking it from whichever version has it; moving
    /// AWSCURRENT makes the old current AWSPREVIOUS.
    pub fn move_stage(&mut self, stage: &str, to: &str) {
        let old = self.version_with(stage).map(|v| v.id.clone());
        for v in &mut self.versions {
            v.stages.retain(|s| s != stage);
        }
        if let Some(v) = self.versions.iter_mut().find(|v| v.id == to) {
            v.stages.push(stage.to_string());
        }
        if stage == CURRENT {
            if let Some(old) = old.filter(|o| o != to) {
                for v in &mut self.versions {
                    v.stages.retain(|s| s != PREVIOUS);
                }
                if let Some(v) = self.versions.iter_mut().find(|v| v.id == old) {
                    v.stages.push(PREVIOUS.to_string());
                }
            }
        }
    }
}

/// Secrets by ARN.
pub type Db = Keyed<Secret>;

#[derive(Debug, Clone)]
pub struct Ctx {
    pub account: String,
    pub region: String,
    pub now: f64,
}

impl Ctx {
    fn prefix(&self) -> String {
        format!("arn:aws:secretsmanager:{}:{}:secret:", self.region, self.account)
    }
}

pub struct Secrets {
    pub(crate) store: Store<Db>,
    pub(crate) clock: Clock,
    keys: Arc<dyn KeyService>,
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-!".contains(c)) {
        return Err(invalid_parameter(
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
        ));
    }
    Ok(())
}

fn kms_error(e: AwsError) -> AwsError {
    match e.code.as_str() {
        "NotFoundException" | "InvalidArnException" | "InvalidKeyUsageException" => {
            error("KMSInvalidStateException", e.message).with_code_if_absent()
        }
        "DisabledException" | "KMSInvalidStateException" => {
            error("InvalidRequestException", format!("Access to KMS is not allowed. {}", e.message))
        }
        "InvalidCiphertextException" => error(
            "DecryptionFailure",
            "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
        ),
        _ => e,
    }
}

trait CodeIfAbsent {
    fn with_code_if_absent(self) -> Self;
}

impl CodeIfAbsent for AwsError {
    /// Secrets Manager answers an unknown key with its own `ResourceNotFoundException`-like text.
    fn with_code_if_absent(mut self) -> Self {
        self.code = "InvalidParameterException".into();
        self.message = format!("The specified KMS key is not valid. {}", self.message);
        self
    }
}

/// `(value, binary)` from a request's SecretString / SecretBinary.
fn value_of(input: &Value) -> Result<Option<(Vec<u8>, bool)>> {
    match (str_of(input, "SecretString"), str_of(input, "SecretBinary")) {
        (Some(_), Some(_)) => Err(invalid_parameter(
            "You can't specify both a binary secret value and a string secret value in the same secret.",
        )),
        (Some(s), None) => Ok(Some((s.as_bytes().to_vec(), false))),
        (None, Some(b)) => {
            let bytes = b64().decode(b).map_err(|_| invalid_parameter("SecretBinary is not valid base64"))?;
            Ok(Some((bytes, true)))
        }
        (None, None) => Ok(None),
    }
}

impl Secrets {
    pub fn open(data_dir: Option<&Path>, clock: Clock, keys: Arc<dyn KeyService>) -> std::io::Result<Secrets> {
        Ok(Secrets { store: Store::open(data_dir, "secretsmanager")?, clock, keys })
    }

    pub fn ctx(&self, account: &str, region: &str) -> Ctx {
        Ctx { account: account.to_string(), region: region.to_string(), now: self.clock.now_millis() as f64 / 1000.0 }
    }

    pub fn reset(&self) {
        self.store.reset();
    }

    fn context(arn: &str, version: &str) -> EncryptionContext {
        EncryptionContext::from([
            ("SecretARN".to_string(), arn.to_string()),
            ("SecretVersionId".to_string(), version.to_string()),
        ])
    }

    fn seal(&self, ctx: &Ctx, secret: &Secret, version: &str, value: &[u8], binary: bool) -> Result<SealedValue> {
        let key = secret.kms_key_id.clone().unwrap_or_else(|| DEFAULT_KEY.to_string());
        let context = Self::context(&secret.arn, version);
        let dk = self.keys.generate_data_key(&ctx.account, &ctx.region, &key, 32, &context).map_err(kms_error)?;
        let cipher = Aes256Gcm::new_from_slice(&dk.plaintext).map_err(|_| AwsError::internal("bad data key"))?;
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: value, aad: version.as_bytes() })
            .map_err(|_| AwsError::internal("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(SealedValue {
            key_arn: dk.key_arn,
            data_key: b64().encode(dk.ciphertext),
            ciphertext: b64().encode(out),
            binary,
        })
    }

    fn unseal(&self, ctx: &Ctx, secret: &Secret, version: &SecretVersion) -> Result<Option<(Vec<u8>, bool)>> {
        let Some(sealed) = &version.value else { return Ok(None) };
        let context = Self::context(&secret.arn, &version.id);
        let edk = b64().decode(&sealed.data_key).unwrap_or_default();
        let dk = self.keys.decrypt(&ctx.account, &ctx.region, None, &edk, &context).map_err(kms_error)?;
        let cipher = Aes256Gcm::new_from_slice(&dk.plaintext).map_err(|_| AwsError::internal("bad data key"))?;
        let blob = b64().decode(&sealed.ciphertext).unwrap_or_default();
        if blob.len() < 12 {
            return Err(AwsError::internal("damaged secret value"));
        }
        let (nonce, ct) = blob.split_at(12);
        let plain = cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: version.id.as_bytes() }).map_err(
            |_| {
                error(
                    "DecryptionFailure",
                    "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
                )
            },
        )?;
        Ok(Some((plain, sealed.binary)))
    }

    /// The secret a `SecretId` names: a name, a full ARN, or an ARN without the random suffix.
    pub fn find(db: &Db, ctx: &Ctx, id: &str) -> Option<Secret> {
        if id.starts_with("arn:") {
            if let Some(s) = db.0.get(id) {
                return Some(s.clone());
            }
            let (_, name) = id.split_once(":secret:")?;
            return db.0.values().find(|s| id.starts_with(&ctx.prefix()) && s.name == name).cloned();
        }
        let prefix = ctx.prefix();
        db.0.range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, s)| s)
            .find(|s| s.name == id)
            .cloned()
    }

    pub fn secret(&self, ctx: &Ctx, id: &str) -> Result<Secret> {
        self.store.read(|db| Self::find(db, ctx, id)).ok_or_else(not_found)
    }

    fn save(&self, secret: &Secret) -> Result<()> {
        self.store.write(|_, changes| {
            changes.put(secret.arn.clone(), secret.clone());
            Ok(())
        })
    }

    /// Change a secret in place under the store's lock.
    fn update<T>(&self, ctx: &Ctx, id: &str, f: impl FnOnce(&mut Secret) -> Result<T>) -> Result<T> {
        self.store.write(|db, changes| {
            let mut secret = Self::find(db, ctx, id).ok_or_else(not_found)?;
            let out = f(&mut secret)?;
            changes.put(secret.arn.clone(), secret);
            Ok(out)
        })
    }

    pub fn create_secret(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let name = str_of(input, "Name").unwrap_or_default().to_string();
        check_name(&name)?;
        let value = value_of(input)?;
        let token =
            str_of(input, "ClientRequestToken").map(String::from).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if let Some(existing) = self.store.read(|db| Self::find(db, ctx, &name)) {
            if existing.deleted_date.is_some() {
                return Err(invalid_request(format!(
                    "You can't create this secret because a secret with this name is already scheduled for deletion."
                )));
            }
            // Retrying with the same token is idempotent.
            if existing.versions.iter().any(|v| v.id == token) {
                return Ok(json!({"ARN": existing.arn, "Name": existing.name, "VersionId": token}));
            }
            return Err(error(
                "ResourceExistsException",
                format!("The operation failed because the secret {name} already exists."),
            ));
        }
        let suffix: String = (0..6)
            .map(|_| {
                char::from(
                    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        [rand::thread_rng().gen_range(0..62)],
                )
            })
            .collect();
        let arn = format!("{}{name}-{suffix}", ctx.prefix());
        let mut secret = Secret {
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            name: name.clone(),
            arn: arn.clone(),
            description: str_of(input, "Description").map(String::from),
            kms_key_id: str_of(input, "KmsKeyId").map(String::from),
            versions: Vec::new(),
            tags: tags_of(input.get("Tags"), KEY_VALUE),
            policy: None,
            rotation: Rotation::default(),
            created: ctx.now,
            last_changed: ctx.now,
            last_accessed: None,
            deleted_date: None,
            delete_at: None,
            replicas: Vec::new(),
        };
        if let Some(key) = &secret.kms_key_id {
            self.keys.usable_key_arn(&ctx.account, &ctx.region, key).map_err(kms_error)?;
        }
        let mut out = json!({"ARN": arn, "Name": name});
        if let Some((bytes, binary)) = value {
            let sealed = self.seal(ctx, &secret, &token, &bytes, binary)?;
            secret.versions.push(SecretVersion {
                id: token.clone(),
                stages: vec![CURRENT.to_string()],
                created: ctx.now,
                last_accessed: None,
                value: Some(sealed),
            });
            out["VersionId"] = json!(token);
        }
        secret.replicas = replicas_of(input, &secret);
        if !secret.replicas.is_empty() {
            out["ReplicationStatus"] = json!(secret.replicas);
        }
        self.store.write(|db, changes| {
            if Self::find(db, ctx, &name).is_some() {
                return Err(error(
                    "ResourceExistsException",
                    format!("The operation failed because the secret {name} already exists."),
                ));
            }
            changes.put(arn.clone(), secret);
            Ok(out)
        })
    }

    pub fn get_secret_value(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let secret = self.secret(ctx, str_of(input, "SecretId").unwrap_or_default())?;
        self.value_json(ctx, &secret, str_of(input, "VersionId"), str_of(input, "VersionStage"))
    }

    fn value_json(&self, ctx: &Ctx, secret: &Secret, version_id: Option<&str>, stage: Option<&str>) -> Result<Value> {
        if secret.deleted_date.is_some() {
            return Err(marked_for_deletion());
        }
        let version = match (version_id, stage) {
            (Some(id), stage) => {
                let v = secret.versions.iter().find(|v| v.id == id).ok_or_else(|| {
                    error(
                        "ResourceNotFoundException",
                        format!("Secrets Manager can't find the specified secret value for VersionId: {id}"),
                    )
                })?;
                if let Some(stage) = stage {
                    if !v.stages.iter().any(|s| s == stage) {
                        return Err(invalid_request(format!(
                            "You provided a VersionStage that is not associated to the provided VersionId."
                        )));
                    }
                }
                v
            }
            (None, stage) => {
                let stage = stage.unwrap_or(CURRENT);
                secret.version_with(stage).ok_or_else(|| {
                    error(
                        "ResourceNotFoundException",
                        format!("Secrets Manager can't find the specified secret value for staging label: {stage}"),
                    )
                })?
            }
        };
        let (value, binary) = self.unseal(ctx, secret, version)?.ok_or_else(|| {
            error(
                "ResourceNotFoundException",
                format!("Secrets Manager can't find the specified secret value for VersionId: {}", version.id),
            )
        })?;
        let mut out = json!({
            "ARN": secret.arn, "Name": secret.name, "VersionId": version.id,
            "VersionStages": version.stages, "CreatedDate": version.created,
        });
        if binary {
            out["SecretBinary"] = json!(b64().encode(value));
        } else {
            out["SecretString"] = json!(String::from_utf8_lossy(&value));
        }
        Ok(out)
    }

    /// Add a version (PutSecretValue, UpdateSecret with a value, a rotation function's put).
    fn add_version(&self, ctx: &Ctx, id: &str, input: &Value, default_stages: bool) -> Result<Value> {
        let (bytes, binary) = value_of(input)?
            .ok_or_else(|| invalid_parameter("You must provide either SecretString or SecretBinary."))?;
        let token =
            str_of(input, "ClientRequestToken").map(String::from).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let stages: Vec<String> = match input.get("VersionStages").and_then(Value::as_array) {
            Some(list) => list.iter().filter_map(|s| s.as_str().map(String::from)).collect(),
            None if default_stages => vec![CURRENT.to_string()],
            None => vec![CURRENT.to_string()],
        };
        let secret = self.secret(ctx, id)?;
        if secret.deleted_date.is_some() {
            return Err(marked_for_deletion());
        }
        if let Some(existing) = secret.versions.iter().find(|v| v.id == token) {
            if let Some(current) = self.unseal(ctx, &secret, existing)? {
                if current == (bytes.clone(), binary) {
                    return Ok(
                        json!({"ARN": secret.arn, "Name": secret.name, "VersionId": token, "VersionStages": existing.stages}),
                    );
                }
                return Err(error(
                    "ResourceExistsException",
                    "You can't modify an existing version, you can only create a new version.",
                ));
            }
        }
        let sealed = self.seal(ctx, &secret, &token, &bytes, binary)?;
        self.update(ctx, id, |s| {
            match s.versions.iter_mut().find(|v| v.id == token) {
                // The placeholder a rotation made: fill it in.
                Some(v) => v.value = Some(sealed),
                None => s.versions.push(SecretVersion {
                    id: token.clone(),
                    stages: Vec::new(),
                    created: ctx.now,
                    last_accessed: None,
                    value: Some(sealed),
                }),
            }
            for stage in &stages {
                s.move_stage(stage, &token);
            }
            s.last_changed = ctx.now;
            let v = s.versions.iter().find(|v| v.id == token).map(|v| v.stages.clone()).unwrap_or_default();
            Ok(json!({"ARN": s.arn, "Name": s.name, "VersionId": token, "VersionStages": v}))
        })
    }

    pub fn put_secret_value(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        self.add_version(ctx, str_of(input, "SecretId").unwrap_or_default(), input, true)
    }

    pub fn update_secret(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let id = str_of(input, "SecretId").unwrap_or_default();
        let secret = self.secret(ctx, id)?;
        if secret.deleted_date.is_some() {
            return Err(marked_for_deletion());
        }
        if let Some(key) = str_of(input, "KmsKeyId") {
            self.keys.usable_key_arn(&ctx.account, &ctx.region, key).map_err(kms_error)?;
        }
        let description = str_of(input, "Description").map(String::from);
        let key = str_of(input, "KmsKeyId").map(String::from);
        self.update(ctx, id, |s| {
            if description.is_some() {
                s.description = description;
            }
            if key.is_some() {
                s.kms_key_id = key;
            }
            s.last_changed = ctx.now;
            Ok(())
        })?;
        if value_of(input)?.is_some() {
            let mut put = input.clone();
            put.as_object_mut().map(|o| o.remove("VersionStages"));
            let out = self.add_version(ctx, id, &put, true)?;
            return Ok(json!({"ARN": out["ARN"], "Name": out["Name"], "VersionId": out["VersionId"]}));
        }
        Ok(json!({"ARN": secret.arn, "Name": secret.name}))
    }

    pub fn describe(&self, secret: &Secret, list_entry: bool) -> Value {
        let mut out = json!({
            "ARN": secret.arn, "Name": secret.name, "LastChangedDate": secret.last_changed,
            "CreatedDate": secret.created, "PrimaryRegion": secret.region,
        });
        if let Some(d) = &secret.description {
            out["Description"] = json!(d);
        }
        if let Some(k) = &secret.kms_key_id {
            out["KmsKeyId"] = json!(k);
        }
        if secret.rotation.enabled || secret.rotation.lambda_arn.is_some() {
            out["RotationEnabled"] = json!(secret.rotation.enabled);
        }
        if let Some(l) = &secret.rotation.lambda_arn {
            out["RotationLambdaARN"] = json!(l);
        }
        if let Some(r) = &secret.rotation.rules {
            out["RotationRules"] = r.clone();
        }
        if let Some(d) = secret.rotation.last_rotated {
            out["LastRotatedDate"] = json!(d);
        }
        if let (true, Some(d)) = (secret.rotation.enabled, secret.rotation.next_rotation) {
            out["NextRotationDate"] = json!(d);
        }
        if let Some(d) = secret.last_accessed {
            out["LastAccessedDate"] = json!(d);
        }
        if let Some(d) = secret.deleted_date {
            out["DeletedDate"] = json!(d);
        }
        if !secret.tags.is_empty() {
            out["Tags"] = tags_json(&secret.tags, KEY_VALUE);
        }
        let member = if list_entry { "SecretVersionsToStages" } else { "VersionIdsToStages" };
        out[member] = secret.stages_map(false);
        if !list_entry && !secret.replicas.is_empty() {
            out["ReplicationStatus"] = json!(secret.replicas);
        }
        out
    }

    pub fn describe_secret(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let secret = self.secret(ctx, str_of(input, "SecretId").unwrap_or_default())?;
        Ok(self.describe(&secret, false))
    }

    fn matches_filters(secret: &Secret, filters: &[Value]) -> bool {
        filters.iter().all(|f| {
            let values: Vec<&str> = f["Values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            values.iter().any(|v| {
                let (negate, v) = match v.strip_prefix('!') {
                    Some(rest) => (true, rest),
                    None => (false, *v),
                };
                let lower = v.to_lowercase();
                let prefix = |s: &str| s.to_lowercase().starts_with(&lower);
                let hit = match f["Key"].as_str().unwrap_or_default() {
                    "name" => prefix(&secret.name),
                    "description" => secret.description.as_deref().is_some_and(prefix),
                    "tag-key" => secret.tags.iter().any(|(k, _)| prefix(k)),
                    "tag-value" => secret.tags.iter().any(|(_, val)| prefix(val)),
                    "primary-region" => secret.region == v,
                    "owning-service" => false,
                    "all" => {
                        prefix(&secret.name)
                            || secret.description.as_deref().is_some_and(prefix)
                            || secret.tags.iter().any(|(k, val)| prefix(k) || prefix(val))
                    }
                    _ => false,
                };
                hit != negate
            })
        })
    }

    fn listed(&self, ctx: &Ctx, filters: &[Value], include_deleted: bool) -> Vec<Secret> {
        let prefix = ctx.prefix();
        self.store.read(|db| {
            db.0.range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(_, s)| s)
                .filter(|s| include_deleted || s.deleted_date.is_none())
                .filter(|s| Self::matches_filters(s, filters))
                .cloned()
                .collect()
        })
    }

    pub fn list_secrets(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let filters = input["Filters"].as_array().cloned().unwrap_or_default();
        let mut secrets = self.listed(ctx, &filters, bool_of(input, "IncludePlannedDeletion").unwrap_or(false));
        match str_of(input, "SortBy").unwrap_or("created-date") {
            "name" => secrets.sort_by(|a, b| a.name.cmp(&b.name)),
            "last-accessed-date" => secrets
                .sort_by(|a, b| a.last_accessed.partial_cmp(&b.last_accessed).unwrap_or(std::cmp::Ordering::Equal)),
            "last-changed-date" => secrets.sort_by(|a, b| a.last_changed.total_cmp(&b.last_changed)),
            _ => secrets.sort_by(|a, b| a.created.total_cmp(&b.created)),
        }
        if str_of(input, "SortOrder") != Some("asc") {
            secrets.reverse();
        }
        let items = secrets.iter().map(|s| self.describe(s, true)).collect();
        Ok(paged(input, items, "SecretList", 100))
    }

    pub fn batch_get(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let ids: Option<Vec<String>> = input
            .get("SecretIdList")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(|s| s.as_str().map(String::from)).collect());
        let filters = input.get("Filters").and_then(Value::as_array).cloned();
        let (mut values, mut errors) = (Vec::new(), Vec::new());
        match (ids, filters) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(invalid_parameter("Either 'SecretIdList' or 'Filters' must be provided, but not both."))
            }
            (Some(ids), None) => {
                if input.get("MaxResults").is_some() {
                    return Err(invalid_parameter(
                        "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is provided.",
                    ));
                }
                for id in ids {
                    let found = self.secret(ctx, &id).and_then(|s| self.value_json(ctx, &s, None, None));
                    match found {
                        Ok(v) => values.push(v),
                        Err(e) => errors.push(json!({"SecretId": id, "ErrorCode": e.code, "Message": e.message})),
                    }
                }
                Ok(json!({"SecretValues": values, "Errors": errors}))
            }
            (None, Some(filters)) => {
                for s in self.listed(ctx, &filters, false) {
                    match self.value_json(ctx, &s, None, None) {
                        Ok(v) => values.push(v),
                        Err(e) => errors.push(json!({"SecretId": s.arn, "ErrorCode": e.code, "Message": e.message})),
                    }
                }
                let mut out = paged(input, values, "SecretValues", 20);
                out["Errors"] = json!(errors);
                Ok(out)
            }
        }
    }

    pub fn list_version_ids(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let secret = self.secret(ctx, str_of(input, "SecretId").unwrap_or_default())?;
        let include_deprecated = bool_of(input, "IncludeDeprecated").unwrap_or(false);
        let items = secret
            .versions
            .iter()
            .filter(|v| include_deprecated || !v.stages.is_empty())
            .map(|v| {
                let mut o = json!({"VersionId": v.id, "VersionStages": v.stages, "CreatedDate": v.created});
                if let Some(s) = &v.value {
                    o["KmsKeyIds"] = json!([s.key_arn]);
                }
                o
            })
            .collect();
        let mut out = paged(input, items, "Versions", 100);
        out["ARN"] = json!(secret.arn);
        out["Name"] = json!(secret.name);
        Ok(out)
    }

    pub fn update_version_stage(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let stage = str_of(input, "VersionStage").unwrap_or_default().to_string();
        let remove_from = str_of(input, "RemoveFromVersionId").map(String::from);
        let move_to = str_of(input, "MoveToVersionId").map(String::from);
        self.update(ctx, str_of(input, "SecretId").unwrap_or_default(), |s| {
            if s.deleted_date.is_some() {
                return Err(marked_for_deletion());
            }
            let holder = s.version_with(&stage).map(|v| v.id.clone());
            if let Some(to) = &move_to {
                if !s.versions.iter().any(|v| &v.id == to) {
                    return Err(invalid_parameter(format!("The version {to} does not exist for this secret.")));
                }
                if let Some(h) = &holder {
                    if h != to && remove_from.as_deref() != Some(h) {
                        return Err(invalid_parameter(format!(
                            "The parameter RemoveFromVersionId can't be empty. Staging label {stage} is currently attached to version {h}, so you must explicitly reference that version in RemoveFromVersionId."
                        )));
                    }
                }
                s.move_stage(&stage, to);
            } else if let Some(from) = &remove_from {
                if holder.as_deref() != Some(from) {
                    return Err(invalid_parameter(format!("The staging label {stage} is not attached to version {from}.")));
                }
                if stage == CURRENT {
                    return Err(invalid_parameter("You can't remove the staging label AWSCURRENT from a version; move it to another version instead."));
                }
                for v in &mut s.versions {
                    v.stages.retain(|x| x != &stage);
                }
            }
            s.last_changed = ctx.now;
            Ok(json!({"ARN": s.arn, "Name": s.name}))
        })
    }

    pub fn delete_secret(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let force = bool_of(input, "ForceDeleteWithoutRecovery").unwrap_or(false);
        let window = input.get("RecoveryWindowInDays").and_then(Value::as_i64);
        if force && window.is_some() {
            return Err(invalid_parameter(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
            ));
        }
        let window = window.unwrap_or(30);
        if !(7..=30).contains(&window) {
            return Err(invalid_parameter("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."));
        }
        let id = str_of(input, "SecretId").unwrap_or_default();
        self.store.write(|db, changes| {
            let mut s = Self::find(db, ctx, id).ok_or_else(not_found)?;
            if force {
                changes.delete(s.arn.clone());
                return Ok(json!({"ARN": s.arn, "Name": s.name, "DeletionDate": ctx.now}));
            }
            if s.deleted_date.is_some() {
                return Err(marked_for_deletion());
            }
            let at = ctx.now + window as f64 * DAY;
            s.deleted_date = Some(ctx.now);
            s.delete_at = Some(at);
            let out = json!({"ARN": s.arn, "Name": s.name, "DeletionDate": at});
            changes.put(s.arn.clone(), s);
            Ok(out)
        })
    }

    pub fn restore_secret(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        self.update(ctx, str_of(input, "SecretId").unwrap_or_default(), |s| {
            s.deleted_date = None;
            s.delete_at = None;
            Ok(json!({"ARN": s.arn, "Name": s.name}))
        })
    }

    pub fn tag(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let tags = tags_of(input.get("Tags"), KEY_VALUE);
        self.update(ctx, str_of(input, "SecretId").unwrap_or_default(), |s| {
            for (k, v) in tags {
                s.tags.retain(|(old, _)| old != &k);
                s.tags.push((k, v));
            }
            Ok(Value::Null)
        })
    }

    pub fn untag(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let keys: Vec<String> =
            input["TagKeys"].as_array().into_iter().flatten().filter_map(|k| k.as_str().map(String::from)).collect();
        self.update(ctx, str_of(input, "SecretId").unwrap_or_default(), |s| {
            s.tags.retain(|(k, _)| !keys.contains(k));
            Ok(Value::Null)
        })
    }

    pub fn put_policy(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let policy = str_of(input, "ResourcePolicy").unwrap_or_default().to_string();
        if !serde_json::from_str::<Value>(&policy).is_ok_and(|v| v.is_object()) {
            return Err(error(
                "MalformedPolicyDocumentException",
                "This resource policy contains an unsupported syntax.",
            ));
        }
        self.update(ctx, str_of(input, "SecretId").unwrap_or_default(), |s| {
            s.policy = Some(policy);
            Ok(json!({"ARN": s.arn, "Name": s.name}))
        })
    }

    pub fn get_policy(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let s = self.secret(ctx, str_of(input, "SecretId").unwrap_or_default())?;
        let mut out = json!({"ARN": s.arn, "Name": s.name});
        if let Some(p) = &s.policy {
            out["ResourcePolicy"] = json!(p);
        }
        Ok(out)
    }

    pub fn delete_policy(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        self.update(ctx, str_of(input, "SecretId").unwrap_or_default(), |s| {
            s.policy = None;
            Ok(json!({"ARN": s.arn, "Name": s.name}))
        })
    }

    pub fn validate_policy(&self, input: &Value) -> Result<Value> {
        let ok = serde_json::from_str::<Value>(str_of(input, "ResourcePolicy").unwrap_or_default())
            .is_ok_and(|v| v.is_object());
        if !ok {
            return Err(error(
                "MalformedPolicyDocumentException",
                "This resource policy contains an unsupported syntax.",
            ));
        }
        Ok(json!({"PolicyValidationPassed": true, "ValidationErrors": []}))
    }

    pub fn replicate(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        self.update(ctx, str_of(input, "SecretId").unwrap_or_default(), |s| {
            let add = replicas_of(input, s);
            for r in add {
                s.replicas.retain(|old| old["Region"] != r["Region"]);
                s.replicas.push(r);
            }
            Ok(json!({"ARN": s.arn, "ReplicationStatus": s.replicas}))
        })
    }

    pub fn remove_regions(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let regions: Vec<Value> = input["RemoveReplicaRegions"].as_array().cloned().unwrap_or_default();
        self.update(ctx, str_of(input, "SecretId").unwrap_or_default(), |s| {
            s.replicas.retain(|r| !regions.contains(&r["Region"]));
            Ok(json!({"ARN": s.arn, "ReplicationStatus": s.replicas}))
        })
    }

    pub fn stop_replication(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let s = self.secret(ctx, str_of(input, "SecretId").unwrap_or_default())?;
        Ok(json!({"ARN": s.arn}))
    }

    /// Secrets past their recovery window go for good.
    pub fn sweep_deleted(&self) {
        let now = self.clock.now_millis() as f64 / 1000.0;
        let result = self.store.write(|db, changes| {
            for s in db.0.values().filter(|s| s.delete_at.is_some_and(|at| at <= now)) {
                changes.delete(s.arn.clone());
            }
            Ok(())
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "deleting secrets past their recovery window failed");
        }
    }

    pub(crate) fn save_secret(&self, secret: &Secret) -> Result<()> {
        self.save(secret)
    }
}

fn replicas_of(input: &Value, secret: &Secret) -> Vec<Value> {
    input["AddReplicaRegions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            json!({
                "Region": r["Region"],
                "KmsKeyId": r.get("KmsKeyId").cloned().unwrap_or_else(|| json!(DEFAULT_KEY)),
                "Status": "InSync",
                "StatusMessage": format!("Replication of {} is stored by nimbus, not performed", secret.name),
            })
        })
        .collect()
}

pub use nimbus_core::paging::by_token as paged;

/// GetRandomPassword with every option.
pub fn random_password(input: &Value) -> Result<Value> {
    const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    let length = input.get("PasswordLength").and_then(Value::as_u64).unwrap_or(32) as usize;
    let exclude: Vec<char> = str_of(input, "ExcludeCharacters").unwrap_or_default().chars().collect();
    let flag = |m: &str| bool_of(input, m).unwrap_or(false);
    let mut classes: Vec<Vec<char>> = Vec::new();
    let mut add = |chars: &str, on: bool| {
        if on {
            let set: Vec<char> = chars.chars().filter(|c| !exclude.contains(c)).collect();
            if !set.is_empty() {
                classes.push(set);
            }
        }
    };
    add("abcdefghijklmnopqrstuvwxyz", !flag("ExcludeLowercase"));
    add("ABCDEFGHIJKLMNOPQRSTUVWXYZ", !flag("ExcludeUppercase"));
    add("0123456789", !flag("ExcludeNumbers"));
    add(PUNCTUATION, !flag("ExcludePunctuation"));
    add(" ", flag("IncludeSpace"));
    if classes.is_empty() {
        return Err(invalid_parameter("The password can't be generated because every character type is excluded."));
    }
    let require_each = bool_of(input, "RequireEachIncludedType").unwrap_or(true);
    if require_each && classes.len() > length {
        return Err(invalid_parameter("The password length is too short to include every required character type."));
    }
    let all: Vec<char> = classes.iter().flatten().copied().collect();
    let mut rng = rand::rngs::OsRng;
    let mut chars: Vec<char> = Vec::with_capacity(length);
    if require_each {
        for class in &classes {
            chars.push(class[rng.gen_range(0..class.len())]);
        }
    }
    while chars.len() < length {
        chars.push(all[rng.gen_range(0..all.len())]);
    }
    // Shuffle so the required characters are not in fixed places.
    for i in (1..chars.len()).rev() {
        let j = rng.gen_range(0..=i);
        chars.swap(i, j);
    }
    Ok(json!({"RandomPassword": chars.into_iter().collect::<String>()}))
}
