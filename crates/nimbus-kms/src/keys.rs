//! Keys: the [`Kms`] state handle, key resolution (id, ARN, alias, alias ARN), and the key
//! lifecycle operations (create, describe, list, enable/disable, deletion, rotation, aliases,
//! policies, grants, tags, replication).

use std::path::Path;

use base64::Engine;
use nimbus_core::clock::Clock;
use nimbus_core::members::str_of;
use nimbus_core::state::{Changes, Store};
use serde_json::{json, Value};

use crate::crypto;
use crate::errors::*;
use crate::spec;
use crate::state::{material_record, Alias, Db, Grant, KeyMeta, MaterialRecord, Materials, Record, Rotation};

pub const DAY_SECS: f64 = 86_400.0;

/// The caller's account and region and the time, as one operation sees them.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub account: String,
    pub region: String,
    /// Epoch seconds.
    pub now: f64,
}

impl Ctx {
    pub fn key_arn(&self, key_id: &str) -> String {
        format!("arn:aws:kms:{}:{}:key/{key_id}", self.region, self.account)
    }

    pub fn alias_arn(&self, name: &str) -> String {
        format!("arn:aws:kms:{}:{}:{name}", self.region, self.account)
    }

    fn in_region(&self, region: &str) -> Ctx {
        Ctx { region: region.to_string(), ..self.clone() }
    }
}

pub struct Kms {
    pub(crate) store: Store<Db>,
    pub(crate) materials: Store<Materials>,
    pub(crate) clock: Clock,
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A blob member (base64 in the decoded input).
pub fn blob(input: &Value, member: &str) -> Result<Option<Vec<u8>>> {
    match input.get(member).and_then(Value::as_str) {
        None => Ok(None),
        Some(s) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Some)
            .map_err(|_| error("SerializationException", format!("Invalid base64 in {member}"))),
    }
}

/// A paginated list answer: `Limit` items from `Marker` on.
pub fn page(input: &Value, items: Vec<Value>, member: &str) -> Value {
    let start = str_of(input, "Marker").and_then(|m| m.parse::<usize>().ok()).unwrap_or(0);
    let limit = input.get("Limit").and_then(Value::as_u64).unwrap_or(100) as usize;
    let end = (start + limit).min(items.len());
    let slice: Vec<Value> = items.get(start.min(items.len())..end).unwrap_or_default().to_vec();
    let mut out = json!({ member: slice, "Truncated": end < items.len() });
    if end < items.len() {
        out["NextMarker"] = json!(end.to_string());
    }
    out
}

fn default_policy(account: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

fn material_id() -> String {
    hex::encode(crypto::random_bytes(32))
}

/// What a `KeyId` parameter names.
enum KeyRef {
    Key(String),
    Alias(String),
}

impl Kms {
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<Kms> {
        Ok(Kms {
            store: Store::open(data_dir, "kms")?,
            materials: Store::open_private(data_dir, "kms", "material")?,
            clock,
        })
    }

    pub fn ctx(&self, account: &str, region: &str) -> Ctx {
        Ctx { account: account.to_string(), region: region.to_string(), now: self.clock.now_millis() as f64 / 1000.0 }
    }

    pub fn reset(&self) {
        self.store.reset();
        self.materials.reset();
    }

    fn key_ref(ctx: &Ctx, key_id: &str) -> Result<KeyRef> {
        if let Some(rest) = key_id.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            if parts.len() != 5 || parts[1] != "kms" {
                return Err(invalid_arn(key_id));
            }
            return if parts[4].starts_with("alias/") {
                Ok(KeyRef::Alias(key_id.to_string()))
            } else if parts[4].starts_with("key/") {
                Ok(KeyRef::Key(key_id.to_string()))
            } else {
                Err(invalid_arn(key_id))
            };
        }
        if key_id.starts_with("alias/") {
            return Ok(KeyRef::Alias(ctx.alias_arn(key_id)));
        }
        Ok(KeyRef::Key(ctx.key_arn(key_id)))
    }

    /// The key a `KeyId` names (a key, its ARN, an alias or an alias ARN).
    pub fn resolve(db: &Db, ctx: &Ctx, key_id: &str) -> Result<KeyMeta> {
        match Self::key_ref(ctx, key_id)? {
            KeyRef::Key(arn) => db.keys.get(&arn).cloned().ok_or_else(|| key_not_found(&arn)),
            KeyRef::Alias(alias_arn) => {
                let alias = db.aliases.get(&alias_arn).ok_or_else(|| alias_not_found(&alias_arn))?;
                let (prefix, _) = alias_arn.rsplit_once(":alias/").unwrap_or((&alias_arn, ""));
                let arn = format!("{prefix}:key/{}", alias.target_key_id);
                db.keys.get(&arn).cloned().ok_or_else(|| key_not_found(&arn))
            }
        }
    }

    /// Resolve `key_id`, creating the AWS managed key of an `alias/aws/<service>` on first use.
    pub fn key(&self, ctx: &Ctx, key_id: &str) -> Result<KeyMeta> {
        match self.store.read(|db| Self::resolve(db, ctx, key_id)) {
            Err(e) if e.code == "NotFoundException" => {
                let name = match Self::key_ref(ctx, key_id)? {
                    KeyRef::Alias(arn) => arn.split_once(':').and_then(|_| arn.split(':').nth(5)).map(String::from),
                    KeyRef::Key(_) => None,
                };
                match name {
                    Some(name) if name.starts_with("alias/aws/") && name.len() > "alias/aws/".len() => {
                        self.create_managed(ctx, &name)?;
                        self.store.read(|db| Self::resolve(db, ctx, key_id))
                    }
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    /// The key if it can be used now (enabled; not pending deletion or import).
    pub fn usable_key(&self, ctx: &Ctx, key_id: &str) -> Result<KeyMeta> {
        let key = self.key(ctx, key_id)?;
        check_usable(&key)?;
        Ok(key)
    }

    pub fn material(&self, key: &KeyMeta) -> Result<Vec<Vec<u8>>> {
        self.materials
            .read(|m| m.by_key.get(&key.arn).cloned())
            .ok_or_else(|| nimbus_core::AwsError::new(500, "KMSInternalException", "The key material is missing"))
    }

    pub fn current_material(&self, key: &KeyMeta) -> Result<(usize, Vec<u8>)> {
        let mut versions = self.material(key)?;
        let index = versions.len() - 1;
        Ok((index, versions.pop().unwrap_or_default()))
    }

    fn put_key(changes: &mut Changes<Record>, key: &KeyMeta) {
        changes.put(format!("k|{}", key.arn), Record::Key(Box::new(key.clone())));
    }

    /// Change a key in place (read, modify, journal).
    fn update(&self, ctx: &Ctx, key_id: &str, f: impl FnOnce(&mut KeyMeta) -> Result<Value>) -> Result<Value> {
        // Resolve first so alias/aws/* keys exist.
        self.key(ctx, key_id)?;
        self.store.write(|db, changes| {
            let mut key = Self::resolve(db, ctx, key_id)?;
            let out = f(&mut key)?;
            Self::put_key(changes, &key);
            Ok(out)
        })
    }

    fn new_meta(ctx: &Ctx, key_id: String, spec: &str, usage: &str) -> KeyMeta {
        KeyMeta {
            account: ctx.account.clone(),
            region: ctx.region.clone(),
            arn: ctx.key_arn(&key_id),
            key_id,
            created: ctx.now,
            description: String::new(),
            usage: usage.to_string(),
            spec: spec.to_string(),
            origin: "AWS_KMS".to_string(),
            manager: "CUSTOMER".to_string(),
            state: "Enabled".to_string(),
            deletion_date: None,
            pending_window_days: None,
            multi_region: false,
            primary_region: None,
            replica_regions: Vec::new(),
            policy: default_policy(&ctx.account),
            tags: Vec::new(),
            grants: Vec::new(),
            rotation_enabled: false,
            rotation_period_days: None,
            next_rotation: None,
            material_ids: Vec::new(),
            rotations: Vec::new(),
        }
    }

    fn create_managed(&self, ctx: &Ctx, alias_name: &str) -> Result<()> {
        let service = alias_name.trim_start_matches("alias/aws/");
        let key_id = uuid::Uuid::new_v4().to_string();
        let mut meta = Self::new_meta(ctx, key_id.clone(), spec::SYMMETRIC, "ENCRYPT_DECRYPT");
        meta.manager = "AWS".to_string();
        meta.description = format!("Default key that protects my {service} data when no other key is defined");
        meta.rotation_enabled = true;
        meta.rotation_period_days = Some(365);
        meta.next_rotation = Some(ctx.now + 365.0 * DAY_SECS);
        let material = crypto::generate(spec::SYMMETRIC).unwrap_or_default();
        meta.material_ids.push(material_id());
        self.materials.write(|_, c| Ok(c.put(meta.arn.clone(), material_record(&[material]))))?;
        let alias_arn = ctx.alias_arn(alias_name);
        self.store.write(|db, changes| {
            // Another request may have created it meanwhile.
            if db.aliases.contains_key(&alias_arn) {
                return Ok(());
            }
            Self::put_key(changes, &meta);
            let alias = Alias {
                name: alias_name.to_string(),
                arn: alias_arn.clone(),
                target_key_id: key_id.clone(),
                created: ctx.now,
                updated: ctx.now,
            };
            changes.put(format!("a|{alias_arn}"), Record::Alias(alias));
            Ok(())
        })
    }

    pub fn create_key(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let spec = str_of(input, "KeySpec").or(str_of(input, "CustomerMasterKeySpec")).unwrap_or(spec::SYMMETRIC);
        if input.get("KeySpec").is_some() && input.get("CustomerMasterKeySpec").is_some() {
            return Err(validation("You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec parameter is deprecated. Use KeySpec only."));
        }
        if !spec::supported(spec) {
            return Err(unsupported(format!("KeySpec {spec} is not supported by nimbus in this region")));
        }
        let usage = match str_of(input, "KeyUsage") {
            Some(u) => u,
            None => spec::default_usage(spec).ok_or_else(|| {
                validation(format!("You must specify a KeyUsage value for an asymmetric KMS key with KeySpec {spec}."))
            })?,
        };
        if !spec::usages(spec).contains(&usage) {
            return Err(validation(format!("KeyUsage {usage} is not compatible with KeySpec {spec}")));
        }
        let origin = str_of(input, "Origin").unwrap_or("AWS_KMS");
        if origin == "AWS_CLOUDHSM" || origin == "EXTERNAL_KEY_STORE" {
            return Err(unsupported(format!(
                "Origin {origin} needs a custom key store, which nimbus does not emulate"
            )));
        }
        if let Some(policy) = str_of(input, "Policy") {
            check_policy(policy)?;
        }
        let multi_region = input.get("MultiRegion").and_then(Value::as_bool).unwrap_or(false);
        let key_id = if multi_region {
            format!("mrk-{}", uuid::Uuid::new_v4().simple())
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        let mut meta = Self::new_meta(ctx, key_id, spec, usage);
        meta.description = str_of(input, "Description").unwrap_or_default().to_string();
        meta.origin = origin.to_string();
        meta.multi_region = multi_region;
        if multi_region {
            meta.primary_region = Some(ctx.region.clone());
        }
        if let Some(policy) = str_of(input, "Policy") {
            meta.policy = policy.to_string();
        }
        meta.tags = tags_of(input)?;
        if origin == "EXTERNAL" {
            // Material comes from ImportKeyMaterial, which nimbus does not emulate.
            meta.state = "PendingImport".to_string();
        } else {
            let material =
                crypto::generate(spec).ok_or_else(|| unsupported(format!("KeySpec {spec} is not supported")))?;
            meta.material_ids.push(material_id());
            self.materials.write(|_, c| Ok(c.put(meta.arn.clone(), material_record(&[material]))))?;
        }
        let out = json!({ "KeyMetadata": metadata(&meta) });
        self.store.write(|_, changes| {
            Self::put_key(changes, &meta);
            Ok(())
        })?;
        Ok(out)
    }

    pub fn describe_key(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let key = self.key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        Ok(json!({ "KeyMetadata": metadata(&key) }))
    }

    pub fn list_keys(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let items = self.store.read(|db| {
            db.keys_in(&ctx.account, &ctx.region)
                .map(|k| json!({"KeyId": k.key_id, "KeyArn": k.arn}))
                .collect::<Vec<_>>()
        });
        Ok(page(input, items, "Keys"))
    }

    pub fn set_enabled(&self, ctx: &Ctx, input: &Value, enabled: bool) -> Result<Value> {
        self.update(ctx, str_of(input, "KeyId").unwrap_or_default(), |key| {
            if key.manager == "AWS" {
                return Err(unsupported(format!("{} is an AWS managed key; its state cannot be changed.", key.arn)));
            }
            match key.state.as_str() {
                "PendingDeletion" => return Err(invalid_state(format!("{} is pending deletion.", key.arn))),
                "PendingImport" => return Err(invalid_state(format!("{} is pending import.", key.arn))),
                _ => {}
            }
            key.state = if enabled { "Enabled" } else { "Disabled" }.to_string();
            Ok(Value::Null)
        })
    }

    pub fn schedule_deletion(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let days = input.get("PendingWindowInDays").and_then(Value::as_i64).unwrap_or(30);
        // The model allows 1–365; KMS itself takes 7–30.
        if days < 7 {
            return Err(validation(format!("1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value greater than or equal to 7")));
        }
        if days > 30 {
            return Err(validation(format!("1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value less than or equal to 30")));
        }
        let now = ctx.now;
        self.update(ctx, str_of(input, "KeyId").unwrap_or_default(), |key| {
            if key.manager == "AWS" {
                return Err(unsupported(format!("{} is an AWS managed key and cannot be deleted.", key.arn)));
            }
            if key.state == "PendingDeletion" {
                return Err(invalid_state(format!("{} is pending deletion.", key.arn)));
            }
            let date = now + days as f64 * DAY_SECS;
            key.state = "PendingDeletion".to_string();
            key.deletion_date = Some(date);
            key.pending_window_days = Some(days);
            Ok(json!({"KeyId": key.arn, "DeletionDate": date, "KeyState": "PendingDeletion", "PendingWindowInDays": days}))
        })
    }

    pub fn cancel_deletion(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        self.update(ctx, str_of(input, "KeyId").unwrap_or_default(), |key| {
            if key.state != "PendingDeletion" {
                return Err(invalid_state(format!("{} is not pending deletion.", key.arn)));
            }
            key.state = "Disabled".to_string();
            key.deletion_date = None;
            key.pending_window_days = None;
            Ok(json!({"KeyId": key.arn}))
        })
    }

    pub fn update_description(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let description = str_of(input, "Description").unwrap_or_default().to_string();
        self.update(ctx, str_of(input, "KeyId").unwrap_or_default(), |key| {
            key.description = description;
            Ok(Value::Null)
        })
    }

    // ---- aliases ----

    fn check_alias_name(name: &str) -> Result<()> {
        if !name.starts_with("alias/") || name == "alias/" {
            return Err(validation("Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"));
        }
        if name.starts_with("alias/aws/") {
            return Err(error("NotAuthorizedException", "Cannot create alias with prefix 'alias/aws/'"));
        }
        Ok(())
    }

    /// The customer managed key an alias may point at.
    fn alias_target(db: &Db, ctx: &Ctx, target: &str) -> Result<KeyMeta> {
        if target.starts_with("alias/") || target.contains(":alias/") {
            return Err(validation("Aliases must refer to keys. Not aliases"));
        }
        let key = Self::resolve(db, ctx, target)?;
        if key.manager == "AWS" {
            return Err(error("NotAuthorizedException", "Cannot point an alias at an AWS managed key"));
        }
        if key.state == "PendingDeletion" {
            return Err(invalid_state(format!("{} is pending deletion.", key.arn)));
        }
        Ok(key)
    }

    pub fn create_alias(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let name = str_of(input, "AliasName").unwrap_or_default();
        Self::check_alias_name(name)?;
        let target = str_of(input, "TargetKeyId").unwrap_or_default();
        let arn = ctx.alias_arn(name);
        self.store.write(|db, changes| {
            if db.aliases.contains_key(&arn) {
                return Err(error("AlreadyExistsException", format!("An alias with the name {arn} already exists")));
            }
            let key = Self::alias_target(db, ctx, target)?;
            let alias = Alias {
                name: name.to_string(),
                arn: arn.clone(),
                target_key_id: key.key_id,
                created: ctx.now,
                updated: ctx.now,
            };
            changes.put(format!("a|{arn}"), Record::Alias(alias));
            Ok(Value::Null)
        })
    }

    pub fn update_alias(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let name = str_of(input, "AliasName").unwrap_or_default();
        Self::check_alias_name(name)?;
        let target = str_of(input, "TargetKeyId").unwrap_or_default();
        let arn = ctx.alias_arn(name);
        self.store.write(|db, changes| {
            let mut alias = db.aliases.get(&arn).cloned().ok_or_else(|| alias_not_found(&arn))?;
            let key = Self::alias_target(db, ctx, target)?;
            let old = Self::resolve(db, ctx, &alias.target_key_id)?;
            if old.usage != key.usage || (old.spec == spec::SYMMETRIC) != (key.spec == spec::SYMMETRIC) {
                return Err(validation(format!(
                    "{} key usage or key spec does not match that of the key the alias points at",
                    key.arn
                )));
            }
            alias.target_key_id = key.key_id;
            alias.updated = ctx.now;
            changes.put(format!("a|{arn}"), Record::Alias(alias));
            Ok(Value::Null)
        })
    }

    pub fn delete_alias(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let name = str_of(input, "AliasName").unwrap_or_default();
        if name.starts_with("alias/aws/") {
            return Err(error("NotAuthorizedException", "Cannot delete alias with prefix 'alias/aws/'"));
        }
        let arn = ctx.alias_arn(name);
        self.store.write(|db, changes| {
            if !db.aliases.contains_key(&arn) {
                return Err(alias_not_found(&arn));
            }
            changes.delete(format!("a|{arn}"));
            Ok(Value::Null)
        })
    }

    pub fn list_aliases(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let filter = match str_of(input, "KeyId") {
            Some(k) => Some(self.key(ctx, k)?.key_id),
            None => None,
        };
        let items = self.store.read(|db| {
            db.aliases_in(&ctx.account, &ctx.region)
                .filter(|a| filter.as_ref().is_none_or(|k| &a.target_key_id == k))
                .map(|a| {
                    json!({
                        "AliasName": a.name, "AliasArn": a.arn, "TargetKeyId": a.target_key_id,
                        "CreationDate": a.created, "LastUpdatedDate": a.updated,
                    })
                })
                .collect::<Vec<_>>()
        });
        Ok(page(input, items, "Aliases"))
    }

    // ---- rotation ----

    fn check_rotatable(key: &KeyMeta) -> Result<()> {
        if key.spec != spec::SYMMETRIC || key.origin != "AWS_KMS" {
            return Err(unsupported(format!("{} key does not support automatic key rotation.", key.arn)));
        }
        check_usable(key)
    }

    pub fn enable_rotation(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let period = input.get("RotationPeriodInDays").and_then(Value::as_i64).unwrap_or(365);
        let now = ctx.now;
        self.update(ctx, str_of(input, "KeyId").unwrap_or_default(), |key| {
            Self::check_rotatable(key)?;
            key.rotation_enabled = true;
            key.rotation_period_days = Some(period);
            key.next_rotation = Some(now + period as f64 * DAY_SECS);
            Ok(Value::Null)
        })
    }

    pub fn disable_rotation(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        self.update(ctx, str_of(input, "KeyId").unwrap_or_default(), |key| {
            Self::check_rotatable(key)?;
            if key.manager == "AWS" {
                return Err(unsupported(format!("{} is an AWS managed key; its rotation cannot be changed.", key.arn)));
            }
            key.rotation_enabled = false;
            key.next_rotation = None;
            Ok(Value::Null)
        })
    }

    pub fn rotation_status(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let key = self.key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        let mut out = json!({"KeyRotationEnabled": key.rotation_enabled, "KeyId": key.arn});
        if key.rotation_enabled {
            out["RotationPeriodInDays"] = json!(key.rotation_period_days);
            out["NextRotationDate"] = json!(key.next_rotation);
        }
        Ok(out)
    }

    /// Add a version of the material: new encryptions use it, old ciphertexts still decrypt.
    fn rotate(&self, ctx: &Ctx, key: &KeyMeta, kind: &str) -> Result<()> {
        let mut versions = self.material(key)?;
        versions.push(crypto::generate(spec::SYMMETRIC).unwrap_or_default());
        self.materials.write(|_, c| Ok(c.put(key.arn.clone(), material_record(&versions))))?;
        let arn = key.arn.clone();
        self.store.write(|db, changes| {
            let Some(mut key) = db.keys.get(&arn).cloned() else { return Ok(()) };
            let id = material_id();
            key.material_ids.push(id.clone());
            key.rotations.push(Rotation { date: ctx.now, kind: kind.to_string(), material_id: id });
            if kind == "AUTOMATIC" {
                let period = key.rotation_period_days.unwrap_or(365) as f64 * DAY_SECS;
                key.next_rotation = Some(key.next_rotation.unwrap_or(ctx.now) + period);
            }
            Self::put_key(changes, &key);
            Ok(())
        })
    }

    pub fn rotate_on_demand(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let key = self.key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        Self::check_rotatable(&key)?;
        if key.manager == "AWS" {
            return Err(unsupported(format!("{} is an AWS managed key; it cannot be rotated on demand.", key.arn)));
        }
        self.rotate(ctx, &key, "ON_DEMAND")?;
        Ok(json!({"KeyId": key.key_id}))
    }

    pub fn list_rotations(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let key = self.key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        if key.spec != spec::SYMMETRIC {
            return Err(unsupported(format!("{} key does not support key rotation.", key.arn)));
        }
        let items = key
            .rotations
            .iter()
            .map(|r| json!({"KeyId": key.key_id, "RotationDate": r.date, "RotationType": r.kind, "KeyMaterialId": r.material_id}))
            .collect();
        Ok(page(input, items, "Rotations"))
    }

    // ---- policies, grants, tags ----

    pub fn get_policy(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let key = self.key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        let name = str_of(input, "PolicyName").unwrap_or("default");
        if name != "default" {
            return Err(error("NotFoundException", format!("No such policy exists: {name}")));
        }
        Ok(json!({"Policy": key.policy, "PolicyName": "default"}))
    }

    pub fn put_policy(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let policy = str_of(input, "Policy").unwrap_or_default().to_string();
        check_policy(&policy)?;
        self.update(ctx, str_of(input, "KeyId").unwrap_or_default(), |key| {
            key.policy = policy;
            Ok(Value::Null)
        })
    }

    pub fn list_policies(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        self.key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        Ok(json!({"PolicyNames": ["default"], "Truncated": false}))
    }

    pub fn create_grant(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let grant = Grant {
            grant_id: hex::encode(crypto::random_bytes(32)),
            grant_token: b64(&crypto::random_bytes(96)),
            name: str_of(input, "Name").map(String::from),
            grantee: str_of(input, "GranteePrincipal").unwrap_or_default().to_string(),
            retiring: str_of(input, "RetiringPrincipal").map(String::from),
            operations: input["Operations"]
                .as_array()
                .map(|l| l.iter().filter_map(|o| o.as_str().map(String::from)).collect())
                .unwrap_or_default(),
            constraints: input.get("Constraints").cloned(),
            created: ctx.now,
        };
        let out = json!({"GrantId": grant.grant_id, "GrantToken": grant.grant_token});
        self.update(ctx, str_of(input, "KeyId").unwrap_or_default(), |key| {
            if key.state == "PendingDeletion" {
                return Err(invalid_state(format!("{} is pending deletion.", key.arn)));
            }
            key.grants.push(grant);
            Ok(out)
        })
    }

    fn grant_json(key: &KeyMeta, g: &Grant) -> Value {
        let mut v = json!({
            "KeyId": key.arn, "GrantId": g.grant_id, "CreationDate": g.created,
            "GranteePrincipal": g.grantee, "IssuingAccount": format!("arn:aws:iam::{}:root", key.account),
            "Operations": g.operations,
        });
        if let Some(n) = &g.name {
            v["Name"] = json!(n);
        }
        if let Some(r) = &g.retiring {
            v["RetiringPrincipal"] = json!(r);
        }
        if let Some(c) = &g.constraints {
            v["Constraints"] = c.clone();
        }
        v
    }

    pub fn list_grants(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let key = self.key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        let id = str_of(input, "GrantId");
        let grantee = str_of(input, "GranteePrincipal");
        let items = key
            .grants
            .iter()
            .filter(|g| id.is_none_or(|i| i == g.grant_id) && grantee.is_none_or(|p| p == g.grantee))
            .map(|g| Self::grant_json(&key, g))
            .collect();
        Ok(page(input, items, "Grants"))
    }

    pub fn list_retirable_grants(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let principal = str_of(input, "RetiringPrincipal").unwrap_or_default();
        let items = self.store.read(|db| {
            db.keys_in(&ctx.account, &ctx.region)
                .flat_map(|k| {
                    k.grants.iter().filter(|g| g.retiring.as_deref() == Some(principal)).map(|g| Self::grant_json(k, g))
                })
                .collect::<Vec<_>>()
        });
        Ok(page(input, items, "Grants"))
    }

    fn remove_grant(&self, ctx: &Ctx, key_id: &str, grant_id: &str) -> Result<Value> {
        self.update(ctx, key_id, |key| {
            let before = key.grants.len();
            key.grants.retain(|g| g.grant_id != grant_id);
            if key.grants.len() == before {
                return Err(error("NotFoundException", format!("Grant ID {grant_id} not found")));
            }
            Ok(Value::Null)
        })
    }

    pub fn revoke_grant(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        self.remove_grant(ctx, str_of(input, "KeyId").unwrap_or_default(), str_of(input, "GrantId").unwrap_or_default())
    }

    pub fn retire_grant(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        if let Some(token) = str_of(input, "GrantToken") {
            let found = self.store.read(|db| {
                db.keys_in(&ctx.account, &ctx.region).find_map(|k| {
                    k.grants.iter().find(|g| g.grant_token == token).map(|g| (k.arn.clone(), g.grant_id.clone()))
                })
            });
            let (arn, id) = found.ok_or_else(|| error("InvalidGrantTokenException", "Invalid grant token"))?;
            return self.remove_grant(ctx, &arn, &id);
        }
        match (str_of(input, "KeyId"), str_of(input, "GrantId")) {
            (Some(k), Some(g)) => self.remove_grant(ctx, k, g),
            _ => Err(validation("Either GrantToken or both KeyId and GrantId must be specified")),
        }
    }

    pub fn tag(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let tags = tags_of(input)?;
        self.update(ctx, str_of(input, "KeyId").unwrap_or_default(), |key| {
            check_customer(key)?;
            for (k, v) in tags {
                key.tags.retain(|(old, _)| old != &k);
                key.tags.push((k, v));
            }
            if key.tags.len() > 50 {
                return Err(error("TagException", "Too many tags"));
            }
            Ok(Value::Null)
        })
    }

    pub fn untag(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let keys: Vec<String> =
            input["TagKeys"].as_array().into_iter().flatten().filter_map(|k| k.as_str().map(String::from)).collect();
        self.update(ctx, str_of(input, "KeyId").unwrap_or_default(), |key| {
            check_customer(key)?;
            key.tags.retain(|(k, _)| !keys.contains(k));
            Ok(Value::Null)
        })
    }

    pub fn list_tags(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let key = self.key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        let items = key.tags.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect();
        Ok(page(input, items, "Tags"))
    }

    // ---- multi-region ----

    pub fn replicate_key(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let primary = self.key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        let region = str_of(input, "ReplicaRegion").unwrap_or_default().to_string();
        if !primary.multi_region || primary.primary_region.as_deref() != Some(&ctx.region) {
            return Err(unsupported(format!("{} is not a multi-Region primary key.", primary.arn)));
        }
        if region == ctx.region {
            return Err(validation(format!("Replica region {region} is the region of the primary key")));
        }
        let there = ctx.in_region(&region);
        let mut replica = primary.clone();
        replica.region = region.clone();
        replica.arn = there.key_arn(&primary.key_id);
        replica.created = ctx.now;
        replica.grants.clear();
        replica.replica_regions.clear();
        replica.tags = tags_of(input)?;
        if let Some(d) = str_of(input, "Description") {
            replica.description = d.to_string();
        }
        if let Some(p) = str_of(input, "Policy") {
            check_policy(p)?;
            replica.policy = p.to_string();
        }
        let material = self.material(&primary)?;
        if self.store.read(|db| db.keys.contains_key(&replica.arn)) {
            return Err(error("AlreadyExistsException", format!("{} already exists", replica.arn)));
        }
        self.materials.write(|_, c| Ok(c.put(replica.arn.clone(), MaterialRecord(material_record(&material).0))))?;
        let out_meta = self.store.write(|db, changes| {
            let mut primary = db.keys.get(&primary.arn).cloned().ok_or_else(|| key_not_found(&primary.arn))?;
            primary.replica_regions.push(region.clone());
            replica.replica_regions = primary.replica_regions.clone();
            Self::put_key(changes, &primary);
            Self::put_key(changes, &replica);
            Ok(metadata_with(&replica, Some(&primary)))
        })?;
        let tags: Vec<Value> = replica.tags.iter().map(|(k, v)| json!({"TagKey": k, "TagValue": v})).collect();
        Ok(json!({"ReplicaKeyMetadata": out_meta, "ReplicaPolicy": replica.policy, "ReplicaTags": tags}))
    }

    /// Keys past their deletion date disappear (with their aliases and material); keys due
    /// for automatic rotation rotate. Runs on nimbus's clock.
    pub fn sweep(&self) {
        let now = self.clock.now_millis() as f64 / 1000.0;
        let (due_deletion, due_rotation): (Vec<KeyMeta>, Vec<KeyMeta>) = self.store.read(|db| {
            let del = db.keys.values().filter(|k| k.deletion_date.is_some_and(|d| d <= now)).cloned().collect();
            let rot = db
                .keys
                .values()
                .filter(|k| k.rotation_enabled && k.state == "Enabled" && k.next_rotation.is_some_and(|d| d <= now))
                .cloned()
                .collect();
            (del, rot)
        });
        for key in due_rotation {
            let ctx = Ctx { account: key.account.clone(), region: key.region.clone(), now };
            if let Err(e) = self.rotate(&ctx, &key, "AUTOMATIC") {
                tracing::error!(key = %key.arn, error = %e, "automatic key rotation failed");
            }
        }
        for key in due_deletion {
            let result = self.store.write(|db, changes| {
                changes.delete(format!("k|{}", key.arn));
                let prefix = key.arn.split(":key/").next().unwrap_or_default().to_string();
                for alias in db.aliases.values() {
                    if alias.target_key_id == key.key_id && alias.arn.starts_with(&prefix) {
                        changes.delete(format!("a|{}", alias.arn));
                    }
                }
                Ok(())
            });
            let result = result.and_then(|_| self.materials.write(|_, c| Ok(c.delete(key.arn.clone()))));
            if let Err(e) = result {
                tracing::error!(key = %key.arn, error = %e, "deleting a key past its deletion date failed");
            }
        }
    }
}

pub fn check_usable(key: &KeyMeta) -> Result<()> {
    match key.state.as_str() {
        "Enabled" => Ok(()),
        "Disabled" => Err(disabled(&key.arn)),
        "PendingDeletion" => Err(invalid_state(format!("{} is pending deletion.", key.arn))),
        "PendingImport" => Err(invalid_state(format!("{} is pending import.", key.arn))),
        other => Err(invalid_state(format!("{} is {other}.", key.arn))),
    }
}

fn check_customer(key: &KeyMeta) -> Result<()> {
    if key.manager == "AWS" {
        return Err(unsupported(format!("{} is an AWS managed key.", key.arn)));
    }
    Ok(())
}

fn check_policy(policy: &str) -> Result<()> {
    match serde_json::from_str::<Value>(policy) {
        Ok(v) if v.is_object() => Ok(()),
        _ => Err(error(
            "MalformedPolicyDocumentException",
            "The new key policy will not allow you to update the key policy in the future.",
        )),
    }
}

fn tags_of(input: &Value) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for t in input["Tags"].as_array().into_iter().flatten() {
        let k = t["TagKey"].as_str().unwrap_or_default().to_string();
        let v = t["TagValue"].as_str().unwrap_or_default().to_string();
        if k.starts_with("aws:") {
            return Err(error("TagException", "Tags beginning with aws: are reserved"));
        }
        out.retain(|(old, _)| old != &k);
        out.push((k, v));
    }
    Ok(out)
}

/// `KeyMetadata` as DescribeKey answers it.
pub fn metadata(key: &KeyMeta) -> Value {
    metadata_with(key, None)
}

fn metadata_with(key: &KeyMeta, primary: Option<&KeyMeta>) -> Value {
    let mut m = json!({
        "AWSAccountId": key.account,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.created,
        "Enabled": key.enabled(),
        "Description": key.description,
        "KeyUsage": key.usage,
        "KeyState": key.state,
        "Origin": key.origin,
        "KeyManager": key.manager,
        "CustomerMasterKeySpec": key.spec,
        "KeySpec": key.spec,
        "MultiRegion": key.multi_region,
    });
    let enc = spec::encryption_algorithms(&key.spec, &key.usage);
    if !enc.is_empty() {
        m["EncryptionAlgorithms"] = json!(enc);
    }
    let sig = spec::signing_algorithms(&key.spec, &key.usage);
    if !sig.is_empty() {
        m["SigningAlgorithms"] = json!(sig);
    }
    let mac = spec::mac_algorithms(&key.spec);
    if !mac.is_empty() {
        m["MacAlgorithms"] = json!(mac);
    }
    let agree = spec::key_agreement_algorithms(&key.usage);
    if !agree.is_empty() {
        m["KeyAgreementAlgorithms"] = json!(agree);
    }
    if let Some(d) = key.deletion_date {
        m["DeletionDate"] = json!(d);
        m["PendingDeletionWindowInDays"] = json!(key.pending_window_days);
    }
    if key.spec == spec::SYMMETRIC {
        if let Some(id) = key.material_ids.last() {
            m["CurrentKeyMaterialId"] = json!(id);
        }
    }
    if key.multi_region {
        let primary_region = key.primary_region.clone().unwrap_or_else(|| key.region.clone());
        let arn_in = |region: &str| key.arn.replacen(&format!(":{}:", key.region), &format!(":{region}:"), 1);
        let regions = primary.map(|p| p.replica_regions.clone()).unwrap_or_else(|| key.replica_regions.clone());
        m["MultiRegionConfiguration"] = json!({
            "MultiRegionKeyType": if primary_region == key.region { "PRIMARY" } else { "REPLICA" },
            "PrimaryKey": {"Arn": arn_in(&primary_region), "Region": primary_region},
            "ReplicaKeys": regions.iter().map(|r| json!({"Arn": arn_in(r), "Region": r})).collect::<Vec<_>>(),
        });
    }
    m
}
