//! Parameter Store: parameters with their versions, labels, tiers, policies and tags, one
//! journal record per parameter. SecureString values are stored as KMS ciphertext (the key
//! `alias/aws/ssm` unless the caller names one), bound to the parameter's ARN as encryption
//! context, and decrypted only for `WithDecryption`.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use nimbus_core::clock::Clock;
use nimbus_core::crypto::{EncryptionContext, KeyService};
use nimbus_core::members::{bool_of, str_of, tags_of, KEY_VALUE};
use nimbus_core::state::{Keyed, Store};
use nimbus_core::AwsError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub type Result<T> = std::result::Result<T, AwsError>;

pub const DEFAULT_KEY: &str = "alias/aws/ssm";
const MAX_VERSIONS: usize = 100;
const MAX_LABELS: usize = 10;
const STANDARD_MAX: usize = 4096;
const ADVANCED_MAX: usize = 8192;

pub fn error(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, code, message)
}

pub fn validation(message: impl Into<String>) -> AwsError {
    error("ValidationException", message)
}

fn not_found(_name: &str) -> AwsError {
    // AWS sends ParameterNotFound without a message.
    error("ParameterNotFound", "")
}

fn version_not_found(name: &str, selector: &str) -> AwsError {
    error(
        "ParameterVersionNotFound",
        format!("Systems Manager could not find version {selector} of {name}. Verify the version and try again."),
    )
}

const NAME_RULES: &str = "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Version {
    pub version: u64,
    /// The plain value, or for SecureString the base64 KMS ciphertext.
    pub value: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub key_id: Option<String>,
    pub description: Option<String>,
    pub allowed_pattern: Option<String>,
    pub tier: String,
    pub policies: Option<String>,
    pub data_type: String,
    pub labels: Vec<String>,
    /// Epoch seconds.
    pub modified: f64,
    pub user: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub arn: String,
    pub versions: Vec<Version>,
    pub tags: Vec<(String, String)>,
}

impl Parameter {
    fn latest(&self) -> &Version {
        self.versions.last().expect("a parameter has at least one version")
    }
}

/// Parameters by `<account>|<region>|<name>`.
pub type Db = Keyed<Parameter>;

#[derive(Debug, Clone)]
pub struct Ctx {
    pub account: String,
    pub region: String,
    pub now: f64,
    pub user: String,
}

impl Ctx {
    fn key(&self, name: &str) -> String {
        format!("{}|{}|{name}", self.account, self.region)
    }

    fn prefix(&self) -> String {
        format!("{}|{}|", self.account, self.region)
    }

    pub fn arn(&self, name: &str) -> String {
        format!("arn:aws:ssm:{}:{}:parameter/{}", self.region, self.account, name.trim_start_matches('/'))
    }
}

pub struct Ssm {
    store: Store<Db>,
    clock: Clock,
    keys: Arc<dyn KeyService>,
}

/// A parameter name from a request, `arn:…:parameter/…` or a plain name.
fn plain_name(name: &str) -> String {
    match name.strip_prefix("arn:") {
        Some(rest) => match rest.split_once(":parameter") {
            Some((_, n)) if n.starts_with("//") || n.starts_with('/') && n[1..].contains('/') => n.to_string(),
            Some((_, n)) => n.trim_start_matches('/').to_string(),
            None => name.to_string(),
        },
        None => name.to_string(),
    }
}

fn check_name(name: &str) -> Result<()> {
    let lower = name.trim_start_matches('/').to_ascii_lowercase();
    let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
    if lower.starts_with("aws") || lower.starts_with("ssm") || !valid_chars || name.contains("//") {
        return Err(validation(NAME_RULES));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(validation("Parameter name must be a fully qualified name."));
    }
    if name.matches('/').count() > 15 {
        return Err(error(
            "HierarchyLevelLimitExceededException",
            "A hierarchy can have a maximum of 15 levels. For more information, see Requirements and Constraints for Parameter Names in the AWS Systems Manager User Guide.",
        ));
    }
    Ok(())
}

fn check_label(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    !label.is_empty()
        && label.len() <= 100
        && !label.starts_with(|c: char| c.is_ascii_digit())
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
        && label.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// `name`, `name:3` or `name:label`.
fn split_selector(name: &str) -> (String, Option<String>) {
    let plain = plain_name(name);
    match plain.rsplit_once(':') {
        Some((n, sel)) if !sel.is_empty() && !sel.contains('/') => (n.to_string(), Some(sel.to_string())),
        _ => (plain, None),
    }
}

fn kms_error(e: AwsError) -> AwsError {
    match e.code.as_str() {
        "NotFoundException" | "InvalidArnException" => error("InvalidKeyId", e.message),
        _ => e,
    }
}

impl Ssm {
    pub fn open(data_dir: Option<&Path>, clock: Clock, keys: Arc<dyn KeyService>) -> std::io::Result<Ssm> {
        Ok(Ssm { store: Store::open(data_dir, "ssm")?, clock, keys })
    }

    pub fn ctx(&self, account: &str, region: &str) -> Ctx {
        Ctx {
            account: account.to_string(),
            region: region.to_string(),
            now: self.clock.now_millis() as f64 / 1000.0,
            user: format!("arn:aws:iam::{account}:root"),
        }
    }

    pub fn reset(&self) {
        self.store.reset();
    }

    fn context(arn: &str) -> EncryptionContext {
        EncryptionContext::from([("PARAMETER_ARN".to_string(), arn.to_string())])
    }

    pub fn put_parameter(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let name = plain_name(str_of(input, "Name").unwrap_or_default());
        check_name(&name)?;
        let value = str_of(input, "Value").unwrap_or_default().to_string();
        let overwrite = bool_of(input, "Overwrite").unwrap_or(false);
        let tags = tags_of(input.get("Tags"), KEY_VALUE);
        if overwrite && !tags.is_empty() {
            return Err(validation("Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource."));
        }
        let existing = self.store.read(|db| db.0.get(&ctx.key(&name)).cloned());
        if existing.is_some() && !overwrite {
            return Err(error(
                "ParameterAlreadyExists",
                "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
            ));
        }
        let previous = existing.as_ref().map(|p| p.latest().clone());
        let kind = match (str_of(input, "Type"), &previous) {
            (Some(t), _) => t.to_string(),
            (None, Some(p)) => p.kind.clone(),
            (None, None) => return Err(validation("A parameter type is required when you create a parameter.")),
        };
        if kind != "SecureString" && input.get("KeyId").is_some() {
            return Err(validation("KeyId is required for SecureString type parameter only."));
        }
        if value.is_empty() {
            return Err(validation("1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1"));
        }
        let requested_tier =
            str_of(input, "Tier").map(String::from).or_else(|| previous.as_ref().map(|p| p.tier.clone()));
        let policies = str_of(input, "Policies").map(String::from);
        let tier = match requested_tier.as_deref() {
            Some("Advanced") => "Advanced",
            Some("Intelligent-Tiering") | None if value.len() > STANDARD_MAX || policies.is_some() => {
                if requested_tier.is_none() {
                    "Standard"
                } else {
                    "Advanced"
                }
            }
            _ => "Standard",
        }
        .to_string();
        if let Some(prev) = &previous {
            if prev.tier == "Advanced" && tier == "Standard" && str_of(input, "Tier") == Some("Standard") {
                return Err(validation("This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter."));
            }
        }
        if tier == "Standard" && value.len() > STANDARD_MAX {
            return Err(validation("Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"));
        }
        if value.len() > ADVANCED_MAX {
            return Err(validation("Advanced tier parameters support a maximum parameter value of 8192 characters."));
        }
        if let Some(p) = &policies {
            if tier != "Advanced" {
                return Err(validation("A parameter policy can only be attached to an advanced parameter."));
            }
            if !serde_json::from_str::<Value>(p).is_ok_and(|v| v.is_array()) {
                return Err(error("InvalidPolicyTypeException", "The policy type is not supported. Parameter Store supports the following policy types: Expiration, ExpirationNotification, and NoChangeNotification."));
            }
        }
        let allowed_pattern = str_of(input, "AllowedPattern").map(String::from);
        if let Some(pattern) = &allowed_pattern {
            let re = nimbus_core::model::Pattern::compile(pattern).map_err(|_| {
                error("InvalidAllowedPatternException", "The request does not meet the regular expression requirement.")
            })?;
            if !re.is_match(&value) {
                return Err(error(
                    "ParameterPatternMismatchException",
                    format!("Parameter value, cannot be validated against allowedPattern: {pattern}"),
                ));
            }
        }
        let data_type = str_of(input, "DataType").unwrap_or("text").to_string();
        match data_type.as_str() {
            "text" | "aws:ssm:integration" => {}
            "aws:ec2:image" => {
                if !value.starts_with("ami-") {
                    return Err(validation(format!(
                        "The parameter value {value} is not a valid Amazon Machine Image (AMI) ID."
                    )));
                }
            }
            other => {
                return Err(validation(format!(
                    "The following data type is not supported: {other} (Data type names are all lowercase.)"
                )))
            }
        }
        let arn = ctx.arn(&name);
        let (stored, key_id) = if kind == "SecureString" {
            let key_id = str_of(input, "KeyId").map(String::from).unwrap_or_else(|| DEFAULT_KEY.to_string());
            let sealed = self
                .keys
                .encrypt(&ctx.account, &ctx.region, &key_id, value.as_bytes(), &Self::context(&arn))
                .map_err(kms_error)?;
            (base64::engine::general_purpose::STANDARD.encode(sealed.ciphertext), Some(key_id))
        } else {
            (value, None)
        };
        let key = ctx.key(&name);
        self.store.write(|db, changes| {
            let mut param = match db.0.get(&key) {
                Some(p) if overwrite => p.clone(),
                Some(_) => {
                    return Err(error(
                        "ParameterAlreadyExists",
                        "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
                    ))
                }
                None => Parameter { name: name.clone(), arn: arn.clone(), versions: Vec::new(), tags: tags.clone() },
            };
            let number = param.versions.last().map_or(1, |v| v.version + 1);
            if param.versions.len() >= MAX_VERSIONS {
                let oldest = &param.versions[0];
                if !oldest.labels.is_empty() {
                    return Err(error("ParameterMaxVersionLimitExceeded", format!(
                        "You attempted to create a new version of {name} by calling the PutParameter API with the overwrite flag. Version {}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.",
                        oldest.version
                    )));
                }
                param.versions.remove(0);
            }
            let description = str_of(input, "Description")
                .map(String::from)
                .or_else(|| param.versions.last().and_then(|v| v.description.clone()));
            param.versions.push(Version {
                version: number,
                value: stored,
                kind,
                key_id,
                description,
                allowed_pattern: allowed_pattern.or_else(|| param.versions.last().and_then(|v| v.allowed_pattern.clone())),
                tier: tier.clone(),
                policies,
                data_type,
                labels: Vec::new(),
                modified: ctx.now,
                user: ctx.user.clone(),
            });
            changes.put(key.clone(), param);
            Ok(json!({"Version": number, "Tier": tier}))
        })
    }

    /// The value a client sees: plain, or for SecureString the ciphertext unless decrypting.
    fn shown_value(&self, ctx: &Ctx, param: &Parameter, v: &Version, decrypt: bool) -> Result<String> {
        if v.kind != "SecureString" || !decrypt {
            return Ok(v.value.clone());
        }
        let blob = base64::engine::general_purpose::STANDARD.decode(&v.value).unwrap_or_default();
        let opened =
            self.keys.decrypt(&ctx.account, &ctx.region, None, &blob, &Self::context(&param.arn)).map_err(kms_error)?;
        String::from_utf8(opened.plaintext).map_err(|_| AwsError::internal("SecureString value is not UTF-8"))
    }

    fn parameter_json(
        &self,
        ctx: &Ctx,
        param: &Parameter,
        v: &Version,
        selector: Option<&str>,
        decrypt: bool,
    ) -> Result<Value> {
        let mut out = json!({
            "Name": param.name,
            "Type": v.kind,
            "Value": self.shown_value(ctx, param, v, decrypt)?,
            "Version": v.version,
            "LastModifiedDate": v.modified,
            "ARN": param.arn,
            "DataType": v.data_type,
        });
        if let Some(s) = selector {
            out["Selector"] = json!(format!(":{s}"));
        }
        Ok(out)
    }

    /// The version `selector` picks (`None`: the latest).
    fn select<'a>(param: &'a Parameter, selector: Option<&str>) -> Result<&'a Version> {
        let Some(sel) = selector else { return Ok(param.latest()) };
        let found = match sel.parse::<u64>() {
            Ok(n) => param.versions.iter().find(|v| v.version == n),
            Err(_) => param.versions.iter().find(|v| v.labels.iter().any(|l| l == sel)),
        };
        found.ok_or_else(|| version_not_found(&param.name, sel))
    }

    fn lookup(&self, ctx: &Ctx, name: &str) -> Option<Parameter> {
        self.store.read(|db| db.0.get(&ctx.key(name)).cloned())
    }

    pub fn get_parameter(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (name, selector) = split_selector(str_of(input, "Name").unwrap_or_default());
        let param = self.lookup(ctx, &name).ok_or_else(|| not_found(&name))?;
        let v = Self::select(&param, selector.as_deref())?;
        let decrypt = bool_of(input, "WithDecryption").unwrap_or(false);
        Ok(json!({"Parameter": self.parameter_json(ctx, &param, v, selector.as_deref(), decrypt)?}))
    }

    pub fn get_parameters(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let decrypt = bool_of(input, "WithDecryption").unwrap_or(false);
        let mut found = Vec::new();
        let mut invalid = Vec::new();
        for raw in input["Names"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let (name, selector) = split_selector(raw);
            let Some(param) = self.lookup(ctx, &name) else {
                invalid.push(json!(raw));
                continue;
            };
            match Self::select(&param, selector.as_deref()) {
                Ok(v) => found.push(self.parameter_json(ctx, &param, v, selector.as_deref(), decrypt)?),
                Err(_) => invalid.push(json!(raw)),
            }
        }
        Ok(json!({"Parameters": found, "InvalidParameters": invalid}))
    }

    fn all_params(&self, ctx: &Ctx) -> Vec<Parameter> {
        let prefix = ctx.prefix();
        self.store.read(|db| {
            db.0.range(prefix.clone()..).take_while(|(k, _)| k.starts_with(&prefix)).map(|(_, p)| p.clone()).collect()
        })
    }

    pub fn get_parameters_by_path(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let path = str_of(input, "Path").unwrap_or_default();
        if !path.starts_with('/') {
            return Err(validation(format!("The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_.")));
        }
        let recursive = bool_of(input, "Recursive").unwrap_or(false);
        let filters = input["ParameterFilters"].as_array().cloned().unwrap_or_default();
        for f in &filters {
            let key = f["Key"].as_str().unwrap_or_default();
            if !(matches!(key, "Type" | "KeyId" | "Label") || key.starts_with("tag:")) {
                return Err(error(
                    "InvalidFilterKey",
                    format!("The following filter key is not valid: {key}. Valid filter keys include: [Type, KeyId, Label]."),
                ));
            }
        }
        let base = if path.ends_with('/') { path.to_string() } else { format!("{path}/") };
        let decrypt = bool_of(input, "WithDecryption").unwrap_or(false);
        let mut items = Vec::new();
        for param in self.all_params(ctx) {
            let Some(rest) = param.name.strip_prefix(&base) else { continue };
            if rest.is_empty() || (!recursive && rest.contains('/')) {
                continue;
            }
            if !filters.iter().all(|f| matches_filter(&param, f)) {
                continue;
            }
            items.push(self.parameter_json(ctx, &param, param.latest(), None, decrypt)?);
        }
        Ok(paged(input, items, "Parameters", 10))
    }

    pub fn delete_parameter(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let name = plain_name(str_of(input, "Name").unwrap_or_default());
        let key = ctx.key(&name);
        self.store.write(|db, changes| {
            if !db.0.contains_key(&key) {
                return Err(not_found(&name));
            }
            changes.delete(key.clone());
            Ok(json!({}))
        })
    }

    pub fn delete_parameters(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let names: Vec<String> =
            input["Names"].as_array().into_iter().flatten().filter_map(|n| n.as_str().map(plain_name)).collect();
        self.store.write(|db, changes| {
            let (mut deleted, mut invalid) = (Vec::new(), Vec::new());
            for name in names {
                if db.0.contains_key(&ctx.key(&name)) && !deleted.contains(&name) {
                    changes.delete(ctx.key(&name));
                    deleted.push(name);
                } else if !deleted.contains(&name) {
                    invalid.push(name);
                }
            }
            Ok(json!({"DeletedParameters": deleted, "InvalidParameters": invalid}))
        })
    }

    fn metadata(param: &Parameter) -> Value {
        let v = param.latest();
        let mut out = json!({
            "Name": param.name, "ARN": param.arn, "Type": v.kind, "LastModifiedDate": v.modified,
            "LastModifiedUser": v.user, "Version": v.version, "Tier": v.tier, "DataType": v.data_type,
            "Policies": policies_json(v),
        });
        if let Some(k) = &v.key_id {
            out["KeyId"] = json!(k);
        }
        if let Some(d) = &v.description {
            out["Description"] = json!(d);
        }
        if let Some(p) = &v.allowed_pattern {
            out["AllowedPattern"] = json!(p);
        }
        out
    }

    pub fn describe_parameters(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let filters = input["ParameterFilters"].as_array().cloned().unwrap_or_default();
        let legacy = input["Filters"].as_array().cloned().unwrap_or_default();
        if !filters.is_empty() && !legacy.is_empty() {
            return Err(validation("You can use either Filters or ParameterFilters in a single request."));
        }
        for f in &filters {
            let key = f["Key"].as_str().unwrap_or_default();
            let option = f["Option"].as_str();
            let valid = match key {
                "Name" => option.is_none_or(|o| matches!(o, "Equals" | "BeginsWith" | "Contains")),
                "Path" => option.is_none_or(|o| matches!(o, "Recursive" | "OneLevel")),
                _ => option.is_none_or(|o| o == "Equals" || (key == "KeyId" && o == "BeginsWith")),
            };
            if !valid {
                return Err(error(
                    "InvalidFilterOption",
                    format!("The filter option is not valid for the key {key}: {}", option.unwrap_or_default()),
                ));
            }
        }
        let items = self
            .all_params(ctx)
            .iter()
            .filter(|p| filters.iter().all(|f| matches_filter(p, f)))
            .filter(|p| {
                legacy.iter().all(|f| {
                    let values: Vec<&str> =
                        f["Values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                    let actual = match f["Key"].as_str() {
                        Some("Name") => Some(p.name.clone()),
                        Some("Type") => Some(p.latest().kind.clone()),
                        Some("KeyId") => p.latest().key_id.clone(),
                        _ => None,
                    };
                    actual.is_some_and(|a| values.iter().any(|v| a.starts_with(v)))
                })
            })
            .map(Self::metadata)
            .collect();
        Ok(paged(input, items, "Parameters", 50))
    }

    pub fn get_parameter_history(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let name = plain_name(str_of(input, "Name").unwrap_or_default());
        let param = self.lookup(ctx, &name).ok_or_else(|| not_found(&name))?;
        let decrypt = bool_of(input, "WithDecryption").unwrap_or(false);
        let mut items = Vec::new();
        for v in &param.versions {
            let mut h = json!({
                "Name": param.name, "Type": v.kind, "LastModifiedDate": v.modified, "LastModifiedUser": v.user,
                "Value": self.shown_value(ctx, &param, v, decrypt)?, "Version": v.version, "Labels": v.labels,
                "Tier": v.tier, "Policies": policies_json(v), "DataType": v.data_type,
            });
            if let Some(k) = &v.key_id {
                h["KeyId"] = json!(k);
            }
            if let Some(d) = &v.description {
                h["Description"] = json!(d);
            }
            if let Some(p) = &v.allowed_pattern {
                h["AllowedPattern"] = json!(p);
            }
            items.push(h);
        }
        Ok(paged(input, items, "Parameters", 50))
    }

    pub fn label_version(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let name = plain_name(str_of(input, "Name").unwrap_or_default());
        let labels: Vec<String> =
            input["Labels"].as_array().into_iter().flatten().filter_map(|l| l.as_str().map(String::from)).collect();
        let key = ctx.key(&name);
        self.store.write(|db, changes| {
            let mut param = db.0.get(&key).cloned().ok_or_else(|| not_found(&name))?;
            let number = match input.get("ParameterVersion").and_then(Value::as_u64) {
                Some(n) => n,
                None => param.latest().version,
            };
            let index = param
                .versions
                .iter()
                .position(|v| v.version == number)
                .ok_or_else(|| version_not_found(&name, &number.to_string()))?;
            let (valid, invalid): (Vec<String>, Vec<String>) = labels.into_iter().partition(|l| check_label(l));
            for label in &valid {
                for v in &mut param.versions {
                    v.labels.retain(|l| l != label);
                }
                if !param.versions[index].labels.contains(label) {
                    param.versions[index].labels.push(label.clone());
                }
            }
            if param.versions[index].labels.len() > MAX_LABELS {
                return Err(error(
                    "ParameterVersionLabelLimitExceeded",
                    "A parameter version can have maximum 10 labels.Move one or more labels to another version and try again.",
                ));
            }
            if !valid.is_empty() {
                changes.put(key.clone(), param);
            }
            Ok(json!({"InvalidLabels": invalid, "ParameterVersion": number}))
        })
    }

    pub fn unlabel_version(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let name = plain_name(str_of(input, "Name").unwrap_or_default());
        let labels: Vec<String> =
            input["Labels"].as_array().into_iter().flatten().filter_map(|l| l.as_str().map(String::from)).collect();
        let number = input.get("ParameterVersion").and_then(Value::as_u64).unwrap_or_default();
        let key = ctx.key(&name);
        self.store.write(|db, changes| {
            let mut param = db.0.get(&key).cloned().ok_or_else(|| not_found(&name))?;
            let v = param
                .versions
                .iter_mut()
                .find(|v| v.version == number)
                .ok_or_else(|| version_not_found(&name, &number.to_string()))?;
            let (removed, invalid): (Vec<String>, Vec<String>) = labels.into_iter().partition(|l| v.labels.contains(l));
            v.labels.retain(|l| !removed.contains(l));
            if !removed.is_empty() {
                changes.put(key.clone(), param);
            }
            Ok(json!({"RemovedLabels": removed, "InvalidLabels": invalid}))
        })
    }

    fn tag_target(input: &Value) -> Result<String> {
        match str_of(input, "ResourceType") {
            Some("Parameter") => Ok(plain_name(str_of(input, "ResourceId").unwrap_or_default())),
            _ => Err(error(
                "InvalidResourceType",
                "The resource type is not valid. Nimbus emulates tags on parameters only.",
            )),
        }
    }

    fn change_tags(&self, ctx: &Ctx, input: &Value, f: impl FnOnce(&mut Vec<(String, String)>)) -> Result<Value> {
        let name = Self::tag_target(input)?;
        let key = ctx.key(&name);
        self.store.write(|db, changes| {
            let mut param = db.0.get(&key).cloned().ok_or_else(|| {
                error(
                    "InvalidResourceId",
                    "The resource ID is not valid. Verify that you entered the correct ID and try again.",
                )
            })?;
            f(&mut param.tags);
            if param.tags.len() > 50 {
                return Err(error(
                    "TooManyTagsError",
                    "The Targets parameter includes too many tags. Remove one or more tags and try the request again.",
                ));
            }
            changes.put(key.clone(), param);
            Ok(json!({}))
        })
    }

    pub fn add_tags(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let tags = tags_of(input.get("Tags"), KEY_VALUE);
        self.change_tags(ctx, input, |list| {
            for (k, v) in tags {
                list.retain(|(old, _)| old != &k);
                list.push((k, v));
            }
        })
    }

    pub fn remove_tags(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let keys: Vec<String> =
            input["TagKeys"].as_array().into_iter().flatten().filter_map(|k| k.as_str().map(String::from)).collect();
        self.change_tags(ctx, input, |list| list.retain(|(k, _)| !keys.contains(k)))
    }

    pub fn list_tags(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let name = Self::tag_target(input)?;
        let param = self.lookup(ctx, &name).ok_or_else(|| {
            error(
                "InvalidResourceId",
                "The resource ID is not valid. Verify that you entered the correct ID and try again.",
            )
        })?;
        let list: Vec<Value> = param.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        Ok(json!({"TagList": list}))
    }
}

fn policies_json(v: &Version) -> Value {
    match &v.policies {
        None => json!([]),
        Some(p) => {
            let list: Vec<Value> = serde_json::from_str::<Vec<Value>>(p).unwrap_or_default();
            json!(list
                .iter()
                .map(|one| json!({"PolicyText": one.to_string(), "PolicyType": one["Type"], "PolicyStatus": "Pending"}))
                .collect::<Vec<_>>())
        }
    }
}

/// One `ParameterStringFilter` against a parameter's latest version.
fn matches_filter(p: &Parameter, f: &Value) -> bool {
    let key = f["Key"].as_str().unwrap_or_default();
    let option = f["Option"].as_str().unwrap_or("Equals");
    let values: Vec<&str> = f["Values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let v = p.latest();
    let any = |actual: &str| values.is_empty() || values.iter().any(|x| *x == actual);
    match key {
        "Name" => values.iter().any(|x| {
            let x = x.trim_start_matches('/');
            let name = p.name.trim_start_matches('/');
            match option {
                "BeginsWith" => name.starts_with(x),
                "Contains" => name.contains(x),
                _ => name == x,
            }
        }),
        "Type" => any(&v.kind),
        "KeyId" => v.key_id.as_deref().is_some_and(|k| match option {
            "BeginsWith" => values.iter().any(|x| k.starts_with(x)),
            _ => any(k),
        }),
        "Tier" => any(&v.tier),
        "DataType" => any(&v.data_type),
        "Label" => p.versions.iter().any(|ver| ver.labels.iter().any(|l| values.contains(&l.as_str()))),
        "Path" => values.iter().any(|path| {
            let base = if path.ends_with('/') { path.to_string() } else { format!("{path}/") };
            match p.name.strip_prefix(&base) {
                Some(rest) if !rest.is_empty() => option == "Recursive" || !rest.contains('/'),
                _ => false,
            }
        }),
        k if k.starts_with("tag:") => {
            let tag = &k[4..];
            p.tags.iter().any(|(tk, tv)| tk == tag && (values.is_empty() || values.contains(&tv.as_str())))
        }
        _ => false,
    }
}

use nimbus_core::paging::by_token as paged;
