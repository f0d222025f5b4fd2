//! Cryptographic operations: Encrypt/Decrypt/ReEncrypt, data keys and key pairs, Sign/Verify,
//! GetPublicKey, GenerateMac/VerifyMac, GenerateRandom and DeriveSharedSecret.
//!
//! A symmetric ciphertext blob names its key and material version, so Decrypt needs no key id:
//!
//! ```text
//! 'N' 0x01 | len(key id) u8 | key id | material version u16 BE | nonce (12) | ciphertext | tag (16)
//! ```
//!
//! The AES-GCM authenticated data binds the key's ARN and the encryption context (sorted), so
//! another key, another account or a changed context fails with `InvalidCiphertextException`.

use nimbus_core::crypto::{DataKey, EncryptionContext, KeyService, Opened, Sealed};
use nimbus_core::AwsError;
use serde_json::{json, Value};

use crate::crypto::{self, CryptoError};
use crate::errors::*;
use crate::keys::{b64, blob, check_usable, Ctx, Kms};
use crate::spec;
use crate::state::KeyMeta;
use nimbus_core::members::str_of;

const MAGIC: [u8; 2] = [b'N', 1];

fn aad(key_arn: &str, context: &EncryptionContext) -> Vec<u8> {
    let mut out = key_arn.as_bytes().to_vec();
    out.push(0);
    out.extend_from_slice(serde_json::to_string(context).unwrap_or_default().as_bytes());
    out
}

fn context_of(input: &Value, member: &str) -> EncryptionContext {
    input
        .get(member)
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

/// The key id a symmetric blob names, and the rest.
fn parse_blob(blob: &[u8]) -> Option<(String, u16, &[u8])> {
    if blob.len() < 3 || blob[..2] != MAGIC {
        return None;
    }
    let len = blob[2] as usize;
    let id = std::str::from_utf8(blob.get(3..3 + len)?).ok()?.to_string();
    let version = u16::from_be_bytes(blob.get(3 + len..5 + len)?.try_into().ok()?);
    Some((id, version, blob.get(5 + len..)?))
}

fn require_usage(key: &KeyMeta, usage: &str, op: &str) -> Result<()> {
    if key.usage != usage {
        return Err(invalid_usage(&key.arn, &key.usage, op));
    }
    Ok(())
}

fn dry_run(input: &Value) -> Result<()> {
    if input.get("DryRun").and_then(Value::as_bool) == Some(true) {
        return Err(dry_run_error());
    }
    Ok(())
}

fn dry_run_error() -> AwsError {
    crate::errors::dry_run()
}

impl Kms {
    /// Encrypt under a symmetric key's current material.
    pub fn seal(&self, key: &KeyMeta, plaintext: &[u8], context: &EncryptionContext) -> Result<Vec<u8>> {
        let (version, material) = self.current_material(key)?;
        let mut out = MAGIC.to_vec();
        out.push(key.key_id.len() as u8);
        out.extend_from_slice(key.key_id.as_bytes());
        out.extend_from_slice(&(version as u16).to_be_bytes());
        out.extend_from_slice(&crypto::seal(&material, plaintext, &aad(&key.arn, context)));
        Ok(out)
    }

    /// Decrypt a symmetric blob: find its key, check `expected` names that key, open it.
    fn unseal(
        &self,
        ctx: &Ctx,
        expected: Option<&str>,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(KeyMeta, Vec<u8>)> {
        let (key_id, version, sealed) = parse_blob(ciphertext).ok_or_else(invalid_ciphertext)?;
        let key = match self.store.read(|db| Kms::resolve(db, ctx, &key_id)) {
            Ok(k) => k,
            Err(_) => return Err(invalid_ciphertext()),
        };
        if let Some(expected) = expected {
            let named = self.key(ctx, expected)?;
            if named.arn != key.arn {
                return Err(incorrect_key());
            }
        }
        check_usable(&key)?;
        let versions = self.material(&key)?;
        let material = versions.get(version as usize).ok_or_else(invalid_ciphertext)?;
        let plaintext = crypto::open(material, sealed, &aad(&key.arn, context)).map_err(|_| invalid_ciphertext())?;
        Ok((key, plaintext))
    }

    fn encrypt_with(
        &self,
        key: &KeyMeta,
        algorithm: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Vec<u8>> {
        require_usage(key, "ENCRYPT_DECRYPT", "Encrypt")?;
        if !spec::encryption_algorithms(&key.spec, &key.usage).contains(&algorithm) {
            return Err(incompatible_algorithm(algorithm, &key.spec));
        }
        if key.spec == spec::SYMMETRIC {
            return self.seal(key, plaintext, context);
        }
        if !context.is_empty() {
            return Err(validation("EncryptionContext is not supported with asymmetric KMS keys"));
        }
        let max = crypto::rsa_max_plaintext(&key.spec, algorithm);
        if plaintext.len() > max {
            return Err(validation(format!(
                "Plaintext is too long for {algorithm} with key spec {}: at most {max} bytes",
                key.spec
            )));
        }
        let (_, material) = self.current_material(key)?;
        crypto::rsa_encrypt(&material, algorithm, plaintext).map_err(|e| validation(format!("{e:?}")))
    }

    /// Decrypt with an explicit or embedded key; returns the key and the plaintext.
    fn decrypt_with(
        &self,
        ctx: &Ctx,
        key_id: Option<&str>,
        algorithm: &str,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(KeyMeta, Vec<u8>)> {
        if let Some(id) = key_id {
            let key = self.key(ctx, id)?;
            if key.spec != spec::SYMMETRIC {
                check_usable(&key)?;
                require_usage(&key, "ENCRYPT_DECRYPT", "Decrypt")?;
                if !spec::encryption_algorithms(&key.spec, &key.usage).contains(&algorithm) {
                    return Err(incompatible_algorithm(algorithm, &key.spec));
                }
                let (_, material) = self.current_material(&key)?;
                let plain = crypto::rsa_decrypt(&material, algorithm, ciphertext).map_err(|_| invalid_ciphertext())?;
                return Ok((key, plain));
            }
            if algorithm != spec::SYMMETRIC {
                return Err(incompatible_algorithm(algorithm, &key.spec));
            }
        }
        self.unseal(ctx, key_id, ciphertext, context)
    }

    pub fn encrypt(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let key = self.usable_key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        let algorithm = str_of(input, "EncryptionAlgorithm").unwrap_or(spec::SYMMETRIC);
        let plaintext = blob(input, "Plaintext")?.unwrap_or_default();
        let ct = self.encrypt_with(&key, algorithm, &plaintext, &context_of(input, "EncryptionContext"))?;
        dry_run(input)?;
        Ok(json!({"CiphertextBlob": b64(&ct), "KeyId": key.arn, "EncryptionAlgorithm": algorithm}))
    }

    pub fn decrypt(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let ct = blob(input, "CiphertextBlob")?.unwrap_or_default();
        let algorithm = str_of(input, "EncryptionAlgorithm").unwrap_or(spec::SYMMETRIC);
        let (key, plain) =
            self.decrypt_with(ctx, str_of(input, "KeyId"), algorithm, &ct, &context_of(input, "EncryptionContext"))?;
        dry_run(input)?;
        Ok(json!({"KeyId": key.arn, "Plaintext": b64(&plain), "EncryptionAlgorithm": algorithm}))
    }

    pub fn re_encrypt(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let ct = blob(input, "CiphertextBlob")?.unwrap_or_default();
        let src_alg = str_of(input, "SourceEncryptionAlgorithm").unwrap_or(spec::SYMMETRIC);
        let dst_alg = str_of(input, "DestinationEncryptionAlgorithm").unwrap_or(spec::SYMMETRIC);
        let (source, plain) = self.decrypt_with(
            ctx,
            str_of(input, "SourceKeyId"),
            src_alg,
            &ct,
            &context_of(input, "SourceEncryptionContext"),
        )?;
        let dest = self.usable_key(ctx, str_of(input, "DestinationKeyId").unwrap_or_default())?;
        let out = self.encrypt_with(&dest, dst_alg, &plain, &context_of(input, "DestinationEncryptionContext"))?;
        dry_run(input)?;
        Ok(json!({
            "CiphertextBlob": b64(&out), "SourceKeyId": source.arn, "KeyId": dest.arn,
            "SourceEncryptionAlgorithm": src_alg, "DestinationEncryptionAlgorithm": dst_alg,
        }))
    }

    fn data_key_len(input: &Value) -> Result<usize> {
        match (input.get("NumberOfBytes").and_then(Value::as_u64), str_of(input, "KeySpec")) {
            (Some(_), Some(_)) => Err(validation("Please specify either number of bytes or key spec.")),
            (Some(n), None) => Ok(n as usize),
            (None, Some("AES_128")) => Ok(16),
            (None, Some(_)) => Ok(32),
            (None, None) => Err(validation("Please specify either number of bytes or key spec.")),
        }
    }

    pub fn generate_data_key(&self, ctx: &Ctx, input: &Value, with_plaintext: bool) -> Result<Value> {
        let len = Self::data_key_len(input)?;
        let key = self.usable_key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        if key.spec != spec::SYMMETRIC {
            return Err(invalid_usage(&key.arn, &format!("{} {}", key.spec, key.usage), "GenerateDataKey"));
        }
        let plain = crypto::random_bytes(len);
        let ct = self.seal(&key, &plain, &context_of(input, "EncryptionContext"))?;
        dry_run(input)?;
        let mut out = json!({"CiphertextBlob": b64(&ct), "KeyId": key.arn});
        if with_plaintext {
            out["Plaintext"] = json!(b64(&plain));
        }
        Ok(out)
    }

    pub fn generate_data_key_pair(&self, ctx: &Ctx, input: &Value, with_plaintext: bool) -> Result<Value> {
        let pair_spec = str_of(input, "KeyPairSpec").unwrap_or_default();
        if !spec::data_key_pair_supported(pair_spec) {
            return Err(unsupported(format!("KeyPairSpec {pair_spec} is not supported by nimbus")));
        }
        let key = self.usable_key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        if key.spec != spec::SYMMETRIC {
            return Err(invalid_usage(&key.arn, &format!("{} {}", key.spec, key.usage), "GenerateDataKeyPair"));
        }
        let private = crypto::generate(pair_spec).ok_or_else(|| unsupported(format!("KeyPairSpec {pair_spec}")))?;
        let public = crypto::public_key_der(pair_spec, &private).unwrap_or_default();
        let ct = self.seal(&key, &private, &context_of(input, "EncryptionContext"))?;
        dry_run(input)?;
        let mut out = json!({
            "PrivateKeyCiphertextBlob": b64(&ct), "PublicKey": b64(&public), "KeyId": key.arn, "KeyPairSpec": pair_spec,
        });
        if with_plaintext {
            out["PrivateKeyPlaintext"] = json!(b64(&private));
        }
        Ok(out)
    }

    /// What Sign/Verify sign: the message's digest (or the digest given), or for pure
    /// Ed25519 the message itself.
    fn to_sign(key: &KeyMeta, input: &Value, algorithm: &str) -> Result<Vec<u8>> {
        if !spec::signing_algorithms(&key.spec, &key.usage).contains(&algorithm) {
            return Err(incompatible_algorithm(algorithm, &key.spec));
        }
        let message = blob(input, "Message")?.unwrap_or_default();
        let message_type = str_of(input, "MessageType").unwrap_or("RAW");
        if algorithm == "ED25519_SHA_512" {
            if message_type != "RAW" {
                return Err(validation(format!("MessageType {message_type} is not supported with {algorithm}")));
            }
            return Ok(message);
        }
        match message_type {
            "DIGEST" => {
                if message.len() != crypto::digest_len(algorithm) {
                    return Err(validation(format!("Digest is invalid length for algorithm {algorithm}.")));
                }
                Ok(message)
            }
            "RAW" => Ok(crypto::digest_of(algorithm, &message)),
            other => Err(validation(format!("MessageType {other} is not supported with {algorithm}"))),
        }
    }

    fn signing_key(&self, ctx: &Ctx, input: &Value, op: &str) -> Result<(KeyMeta, Vec<u8>)> {
        let key = self.usable_key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        require_usage(&key, "SIGN_VERIFY", op)?;
        let (_, material) = self.current_material(&key)?;
        Ok((key, material))
    }

    pub fn sign(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (key, material) = self.signing_key(ctx, input, "Sign")?;
        let algorithm = str_of(input, "SigningAlgorithm").unwrap_or_default();
        let digest = Self::to_sign(&key, input, algorithm)?;
        let sig = crypto::sign(&key.spec, &material, algorithm, &digest).map_err(|e| validation(format!("{e:?}")))?;
        dry_run(input)?;
        Ok(json!({"KeyId": key.arn, "Signature": b64(&sig), "SigningAlgorithm": algorithm}))
    }

    pub fn verify(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (key, material) = self.signing_key(ctx, input, "Verify")?;
        let algorithm = str_of(input, "SigningAlgorithm").unwrap_or_default();
        let digest = Self::to_sign(&key, input, algorithm)?;
        let sig = blob(input, "Signature")?.unwrap_or_default();
        dry_run(input)?;
        match crypto::verify(&key.spec, &material, algorithm, &digest, &sig) {
            Ok(()) => Ok(json!({"KeyId": key.arn, "SignatureValid": true, "SigningAlgorithm": algorithm})),
            Err(CryptoError::Invalid) => Err(error("KMSInvalidSignatureException", "")),
            Err(CryptoError::BadInput(m)) => Err(validation(m)),
        }
    }

    pub fn get_public_key(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let key = self.key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        check_usable(&key)?;
        if key.spec == spec::SYMMETRIC || key.spec.starts_with("HMAC_") {
            return Err(unsupported(format!("{} key type is not supported for this operation.", key.arn)));
        }
        let (_, material) = self.current_material(&key)?;
        let public = crypto::public_key_der(&key.spec, &material)
            .ok_or_else(|| AwsError::new(500, "KMSInternalException", "unreadable key material"))?;
        let mut out = json!({
            "KeyId": key.arn, "PublicKey": b64(&public), "CustomerMasterKeySpec": key.spec,
            "KeySpec": key.spec, "KeyUsage": key.usage,
        });
        let enc = spec::encryption_algorithms(&key.spec, &key.usage);
        if !enc.is_empty() {
            out["EncryptionAlgorithms"] = json!(enc);
        }
        let sig = spec::signing_algorithms(&key.spec, &key.usage);
        if !sig.is_empty() {
            out["SigningAlgorithms"] = json!(sig);
        }
        let agree = spec::key_agreement_algorithms(&key.usage);
        if !agree.is_empty() {
            out["KeyAgreementAlgorithms"] = json!(agree);
        }
        Ok(out)
    }

    fn mac_key(&self, ctx: &Ctx, input: &Value, op: &str) -> Result<(KeyMeta, Vec<u8>, String)> {
        let key = self.usable_key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        require_usage(&key, "GENERATE_VERIFY_MAC", op)?;
        let algorithm = str_of(input, "MacAlgorithm").unwrap_or_default().to_string();
        if !spec::mac_algorithms(&key.spec).contains(&algorithm.as_str()) {
            return Err(incompatible_algorithm(&algorithm, &key.spec));
        }
        let (_, material) = self.current_material(&key)?;
        Ok((key, material, algorithm))
    }

    pub fn generate_mac(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (key, material, algorithm) = self.mac_key(ctx, input, "GenerateMac")?;
        let mac = crypto::mac(&algorithm, &material, &blob(input, "Message")?.unwrap_or_default());
        dry_run(input)?;
        Ok(json!({"Mac": b64(&mac), "MacAlgorithm": algorithm, "KeyId": key.arn}))
    }

    pub fn verify_mac(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let (key, material, algorithm) = self.mac_key(ctx, input, "VerifyMac")?;
        let mac = crypto::mac(&algorithm, &material, &blob(input, "Message")?.unwrap_or_default());
        let given = blob(input, "Mac")?.unwrap_or_default();
        dry_run(input)?;
        if !crypto::equal(&mac, &given) {
            return Err(error("KMSInvalidMacException", ""));
        }
        Ok(json!({"KeyId": key.arn, "MacValid": true, "MacAlgorithm": algorithm}))
    }

    pub fn generate_random(&self, input: &Value) -> Result<Value> {
        if input.get("CustomKeyStoreId").is_some() {
            return Err(error("CustomKeyStoreNotFoundException", "nimbus does not emulate custom key stores"));
        }
        let n = input.get("NumberOfBytes").and_then(Value::as_u64).unwrap_or(32) as usize;
        Ok(json!({"Plaintext": b64(&crypto::random_bytes(n))}))
    }

    pub fn derive_shared_secret(&self, ctx: &Ctx, input: &Value) -> Result<Value> {
        let key = self.usable_key(ctx, str_of(input, "KeyId").unwrap_or_default())?;
        require_usage(&key, "KEY_AGREEMENT", "DeriveSharedSecret")?;
        let peer = blob(input, "PublicKey")?.unwrap_or_default();
        let (_, material) = self.current_material(&key)?;
        let secret = crypto::derive_shared_secret(&key.spec, &material, &peer).map_err(|e| match e {
            CryptoError::BadInput(m) => validation(m),
            CryptoError::Invalid => validation("The public key is not valid"),
        })?;
        dry_run(input)?;
        Ok(
            json!({"KeyId": key.arn, "SharedSecret": b64(&secret), "KeyAgreementAlgorithm": "ECDH", "KeyOrigin": "AWS_KMS"}),
        )
    }
}

impl KeyService for Kms {
    fn encrypt(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
        plaintext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Sealed> {
        let ctx = self.ctx(account, region);
        let key = self.usable_key(&ctx, key_id)?;
        let ciphertext = self.encrypt_with(&key, spec::SYMMETRIC, plaintext, context)?;
        Ok(Sealed { key_arn: key.arn, ciphertext })
    }

    fn decrypt(
        &self,
        account: &str,
        region: &str,
        key_id: Option<&str>,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<Opened> {
        let ctx = self.ctx(account, region);
        let (key, plaintext) = self.unseal(&ctx, key_id, ciphertext, context)?;
        Ok(Opened { key_arn: key.arn, plaintext })
    }

    fn generate_data_key(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
        bytes: usize,
        context: &EncryptionContext,
    ) -> Result<DataKey> {
        let ctx = self.ctx(account, region);
        let key = self.usable_key(&ctx, key_id)?;
        require_usage(&key, "ENCRYPT_DECRYPT", "GenerateDataKey")?;
        let plaintext = crypto::random_bytes(bytes);
        let ciphertext = self.seal(&key, &plaintext, context)?;
        Ok(DataKey { key_arn: key.arn, plaintext, ciphertext })
    }

    fn usable_key_arn(&self, account: &str, region: &str, key_id: &str) -> Result<String> {
        let ctx = self.ctx(account, region);
        let key = self.usable_key(&ctx, key_id)?;
        require_usage(&key, "ENCRYPT_DECRYPT", "Encrypt")?;
        if key.spec != spec::SYMMETRIC {
            return Err(invalid_usage(&key.arn, &key.spec, "Encrypt"));
        }
        Ok(key.arn)
    }
}
