//! Environment variables encrypted at rest with the function's `KMSKeyArn`, as AWS keeps them:
//! Lambda's journal holds the variables as KMS ciphertext under that key (made through
//! [`nimbus_core::crypto::KeyService`]), never in the clear. Memory holds the plain values of
//! what this process was given or has decrypted; after a restart they are decrypted once KMS
//! is wired, or, if the key could not decrypt then, when an execution environment starts (and
//! when GetFunction shows them).

use std::collections::BTreeMap;

use base64::Engine;
use nimbus_core::crypto::EncryptionContext;
use nimbus_core::{AwsError, RequestContext};
use sha2::{Digest, Sha256};

use crate::state::{Environment, SealedEnvironment, Version};
use crate::Lambda;

/// The encryption context bound to a function's variables.
fn context(function_name: &str) -> EncryptionContext {
    BTreeMap::from([("LambdaFunctionName".to_string(), function_name.to_string())])
}

fn digest(variables: &BTreeMap<String, String>) -> String {
    let json = serde_json::to_vec(variables).expect("map serializes");
    hex::encode(Sha256::digest(&json))
}

/// Whether the version's variables are still only ciphertext (journaled, not yet decrypted).
pub fn is_locked(version: &Version) -> bool {
    version.sealed_environment.is_some() && version.config.environment.as_ref().is_none_or(|e| e.variables.is_empty())
}

/// Encrypt the version's variables under its `KMSKeyArn` (again only if they or the key
/// changed); none is kept when it has no key or no variables. Call before the version is
/// stored: a key that cannot encrypt refuses the change, as on AWS.
pub fn seal(lambda: &Lambda, ctx: &RequestContext, version: &mut Version) -> Result<(), AwsError> {
    let key = version.config.kms_key_arn.clone();
    let variables = version.config.environment.as_ref().map(|e| &e.variables).filter(|v| !v.is_empty());
    let (Some(key), Some(variables)) = (key, variables) else {
        version.sealed_environment = None;
        return Ok(());
    };
    let digest = digest(variables);
    if version.sealed_environment.as_ref().is_some_and(|s| s.key == key && s.digest == digest) {
        return Ok(());
    }
    // Without KMS (a Lambda on its own, in unit tests) there is nothing to encrypt with.
    let Some(kms) = lambda.kms.read().clone() else {
        version.sealed_environment = None;
        return Ok(());
    };
    let plaintext = serde_json::to_vec(variables).expect("map serializes");
    let sealed = kms
        .encrypt(&ctx.account, &ctx.region, &key, &plaintext, &context(&version.config.function_name))
        .map_err(|e| {
            crate::error::invalid_parameter(format!(
                "Lambda was unable to configure access to your environment variables because the KMS key is invalid for CreateGrant. Please check your KMS key settings. KMS Exception: {} KMS Message: {}",
                e.code, e.message
            ))
        })?;
    version.sealed_environment = Some(SealedEnvironment {
        key,
        digest,
        ciphertext: base64::engine::general_purpose::STANDARD.encode(sealed.ciphertext),
    });
    Ok(())
}

/// Decrypt a version's journaled variables.
pub fn open(
    lambda: &Lambda,
    account: &str,
    region: &str,
    version: &Version,
) -> Result<BTreeMap<String, String>, AwsError> {
    let sealed = version.sealed_environment.as_ref().ok_or_else(|| AwsError::internal("no sealed environment"))?;
    let kms = lambda.kms.read().clone().ok_or_else(|| AwsError::internal("KMS is not available"))?;
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(&sealed.ciphertext)
        .map_err(|e| AwsError::internal(format!("sealed environment: {e}")))?;
    let opened = kms.decrypt(account, region, None, &ciphertext, &context(&version.config.function_name))?;
    serde_json::from_slice(&opened.plaintext).map_err(|e| AwsError::internal(format!("sealed environment: {e}")))
}

/// Put the plain variables back into a version whose variables are still only ciphertext.
pub fn unseal(lambda: &Lambda, account: &str, region: &str, version: &mut Version) -> Result<(), AwsError> {
    if is_locked(version) {
        let variables = open(lambda, account, region, version)?;
        version.config.environment = Some(Environment { variables });
    }
    Ok(())
}

/// A function's journal record: every version's variables that have a sealed copy are left
/// out (the ciphertext stands for them).
pub fn journal_value(function: &crate::state::Function) -> serde_json::Value {
    let mut value = serde_json::to_value(function).expect("state serializes");
    let strip = |version: &mut serde_json::Value| {
        if version.get("sealed_environment").is_some_and(|s| !s.is_null()) {
            if let Some(env) = version.get_mut("config").and_then(|c| c.get_mut("Environment")) {
                env["Variables"] = serde_json::json!({});
            }
        }
    };
    if let Some(latest) = value.get_mut("latest") {
        strip(latest);
    }
    if let Some(versions) = value.get_mut("versions").and_then(serde_json::Value::as_object_mut) {
        versions.values_mut().for_each(strip);
    }
    value
}
