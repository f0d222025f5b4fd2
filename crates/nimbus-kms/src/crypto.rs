//! The cryptography, with RustCrypto's audited, constant-time crates: AES-256-GCM for symmetric
//! keys (what KMS uses), RSA OAEP/PSS/PKCS#1 v1.5, ECDSA on the NIST curves and secp256k1,
//! Ed25519 and HMAC-SHA-2. Private material is kept as PKCS#8 DER (asymmetric) or raw bytes.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::{Oaep, Pkcs1v15Sign, Pss, RsaPrivateKey};
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

/// Why an operation failed, for the caller to word as KMS does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// The ciphertext or signature does not verify (tampered, other key, other context).
    Invalid,
    /// The input cannot be used with this key (too long for RSA, malformed public key…).
    BadInput(String),
}

pub type Result<T> = std::result::Result<T, CryptoError>;

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    OsRng.fill_bytes(&mut out);
    out
}

/// Fresh private material for a key spec (see [`crate::spec`]); `None` for specs nimbus cannot
/// generate.
pub fn generate(spec: &str) -> Option<Vec<u8>> {
    let der =
        |r: std::result::Result<rsa::pkcs8::SecretDocument, rsa::pkcs8::Error>| r.ok().map(|d| d.as_bytes().to_vec());
    match spec {
        "SYMMETRIC_DEFAULT" => Some(random_bytes(32)),
        "HMAC_224" => Some(random_bytes(28)),
        "HMAC_256" => Some(random_bytes(32)),
        "HMAC_384" => Some(random_bytes(48)),
        "HMAC_512" => Some(random_bytes(64)),
        "RSA_2048" | "RSA_3072" | "RSA_4096" => {
            let bits = spec[4..].parse().ok()?;
            let key = RsaPrivateKey::new(&mut OsRng, bits).ok()?;
            der(key.to_pkcs8_der())
        }
        "ECC_NIST_P256" => der(p256::SecretKey::random(&mut OsRng).to_pkcs8_der()),
        "ECC_NIST_P384" => der(p384::SecretKey::random(&mut OsRng).to_pkcs8_der()),
        "ECC_NIST_P521" => der(p521::SecretKey::random(&mut OsRng).to_pkcs8_der()),
        "ECC_SECG_P256K1" => der(k256::SecretKey::random(&mut OsRng).to_pkcs8_der()),
        "ECC_NIST_EDWARDS25519" => {
            let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
            der(key.to_pkcs8_der())
        }
        _ => None,
    }
}

/// The DER `SubjectPublicKeyInfo` of an asymmetric key.
pub fn public_key_der(spec: &str, private: &[u8]) -> Option<Vec<u8>> {
    let der =
        |r: std::result::Result<rsa::pkcs8::Document, rsa::pkcs8::spki::Error>| r.ok().map(|d| d.as_bytes().to_vec());
    match spec {
        s if s.starts_with("RSA_") => {
            der(RsaPrivateKey::from_pkcs8_der(private).ok()?.to_public_key().to_public_key_der())
        }
        "ECC_NIST_P256" => der(p256::SecretKey::from_pkcs8_der(private).ok()?.public_key().to_public_key_der()),
        "ECC_NIST_P384" => der(p384::SecretKey::from_pkcs8_der(private).ok()?.public_key().to_public_key_der()),
        "ECC_NIST_P521" => der(p521::SecretKey::from_pkcs8_der(private).ok()?.public_key().to_public_key_der()),
        "ECC_SECG_P256K1" => der(k256::SecretKey::from_pkcs8_der(private).ok()?.public_key().to_public_key_der()),
        "ECC_NIST_EDWARDS25519" => {
            der(ed25519_dalek::SigningKey::from_pkcs8_der(private).ok()?.verifying_key().to_public_key_der())
        }
        _ => None,
    }
}

/// AES-256-GCM with `aad` authenticated; the output is `nonce || ciphertext || tag`.
pub fn seal(key: &[u8], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(key).expect("symmetric material is 32 bytes");
    let nonce = random_bytes(12);
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad })
        .expect("AES-GCM encryption of at most 4 KiB cannot fail");
    let mut out = nonce;
    out.extend_from_slice(&ct);
    out
}

pub fn open(key: &[u8], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() < 12 + 16 {
        return Err(CryptoError::Invalid);
    }
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::Invalid)?;
    let (nonce, ct) = sealed.split_at(12);
    cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad }).map_err(|_| CryptoError::Invalid)
}

fn rsa_key(private: &[u8]) -> Result<RsaPrivateKey> {
    RsaPrivateKey::from_pkcs8_der(private).map_err(|_| CryptoError::BadInput("unreadable key material".into()))
}

fn oaep(algorithm: &str) -> Oaep {
    if algorithm == "RSAES_OAEP_SHA_1" {
        Oaep::new::<sha1::Sha1>()
    } else {
        Oaep::new::<Sha256>()
    }
}

/// The most plaintext RSA OAEP takes for this key size and hash.
pub fn rsa_max_plaintext(spec: &str, algorithm: &str) -> usize {
    let bytes: usize = spec.get(4..).and_then(|b| b.parse::<usize>().ok()).unwrap_or(2048) / 8;
    let hash = if algorithm == "RSAES_OAEP_SHA_1" { 20 } else { 32 };
    bytes - 2 * hash - 2
}

pub fn rsa_encrypt(private: &[u8], algorithm: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
    let public = rsa_key(private)?.to_public_key();
    public.encrypt(&mut OsRng, oaep(algorithm), plaintext).map_err(|e| CryptoError::BadInput(e.to_string()))
}

pub fn rsa_decrypt(private: &[u8], algorithm: &str, ciphertext: &[u8]) -> Result<Vec<u8>> {
    rsa_key(private)?.decrypt(oaep(algorithm), ciphertext).map_err(|_| CryptoError::Invalid)
}

/// The digest a signing algorithm signs, and its length.
pub fn digest_of(algorithm: &str, message: &[u8]) -> Vec<u8> {
    match hash_name(algorithm) {
        "SHA_384" => Sha384::digest(message).to_vec(),
        "SHA_512" => Sha512::digest(message).to_vec(),
        _ => Sha256::digest(message).to_vec(),
    }
}

pub fn digest_len(algorithm: &str) -> usize {
    match hash_name(algorithm) {
        "SHA_384" => 48,
        "SHA_512" => 64,
        _ => 32,
    }
}

fn hash_name(algorithm: &str) -> &str {
    ["SHA_256", "SHA_384", "SHA_512"].into_iter().find(|h| algorithm.ends_with(h)).unwrap_or("SHA_256")
}

/// Sign a digest (`RAW` messages are hashed by the caller, except pure Ed25519's message).
pub fn sign(spec: &str, private: &[u8], algorithm: &str, digest_or_message: &[u8]) -> Result<Vec<u8>> {
    use ecdsa_traits::*;
    let bad = |_| CryptoError::BadInput("unreadable key material".into());
    match spec {
        s if s.starts_with("RSA_") => {
            let key = rsa_key(private)?;
            let out = if algorithm.starts_with("RSASSA_PSS") {
                key.sign_with_rng(&mut OsRng, pss(algorithm), digest_or_message)
            } else {
                key.sign(pkcs1(algorithm), digest_or_message)
            };
            out.map_err(|e| CryptoError::BadInput(e.to_string()))
        }
        "ECC_NIST_P256" => {
            let key = p256::ecdsa::SigningKey::from_pkcs8_der(private).map_err(bad)?;
            let sig: p256::ecdsa::Signature =
                key.sign_prehash(digest_or_message).map_err(|e| CryptoError::BadInput(e.to_string()))?;
            Ok(sig.to_der().as_bytes().to_vec())
        }
        "ECC_NIST_P384" => {
            let key = p384::ecdsa::SigningKey::from_pkcs8_der(private).map_err(bad)?;
            let sig: p384::ecdsa::Signature =
                key.sign_prehash(digest_or_message).map_err(|e| CryptoError::BadInput(e.to_string()))?;
            Ok(sig.to_der().as_bytes().to_vec())
        }
        "ECC_NIST_P521" => {
            let secret = p521::SecretKey::from_pkcs8_der(private).map_err(bad)?;
            let key = p521::ecdsa::SigningKey::from_bytes(&secret.to_bytes())
                .map_err(|e| CryptoError::BadInput(e.to_string()))?;
            let sig: p521::ecdsa::Signature =
                key.sign_prehash(digest_or_message).map_err(|e| CryptoError::BadInput(e.to_string()))?;
            Ok(sig.to_der().as_bytes().to_vec())
        }
        "ECC_SECG_P256K1" => {
            let key = k256::ecdsa::SigningKey::from_pkcs8_der(private).map_err(bad)?;
            let sig: k256::ecdsa::Signature =
                key.sign_prehash(digest_or_message).map_err(|e| CryptoError::BadInput(e.to_string()))?;
            Ok(sig.to_der().as_bytes().to_vec())
        }
        "ECC_NIST_EDWARDS25519" => {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(private).map_err(bad)?;
            if algorithm == "ED25519_PH_SHA_512" {
                let prehashed = Sha512Prehashed::from_digest(digest_or_message)?;
                let sig = key.sign_prehashed(prehashed.0, None).map_err(|e| CryptoError::BadInput(e.to_string()))?;
                Ok(sig.to_bytes().to_vec())
            } else {
                use ed25519_dalek::Signer;
                Ok(key.sign(digest_or_message).to_bytes().to_vec())
            }
        }
        _ => Err(CryptoError::BadInput(format!("{spec} cannot sign"))),
    }
}

pub fn verify(spec: &str, private: &[u8], algorithm: &str, digest_or_message: &[u8], signature: &[u8]) -> Result<()> {
    use ecdsa_traits::*;
    let bad = |_| CryptoError::BadInput("unreadable key material".into());
    let ok = match spec {
        s if s.starts_with("RSA_") => {
            let public = rsa_key(private)?.to_public_key();
            if algorithm.starts_with("RSASSA_PSS") {
                public.verify(pss(algorithm), digest_or_message, signature).is_ok()
            } else {
                public.verify(pkcs1(algorithm), digest_or_message, signature).is_ok()
            }
        }
        "ECC_NIST_P256" => {
            let key = p256::ecdsa::SigningKey::from_pkcs8_der(private).map_err(bad)?;
            p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|sig| key.verifying_key().verify_prehash(digest_or_message, &sig).is_ok())
        }
        "ECC_NIST_P384" => {
            let key = p384::ecdsa::SigningKey::from_pkcs8_der(private).map_err(bad)?;
            p384::ecdsa::Signature::from_der(signature)
                .is_ok_and(|sig| key.verifying_key().verify_prehash(digest_or_message, &sig).is_ok())
        }
        "ECC_NIST_P521" => {
            let secret = p521::SecretKey::from_pkcs8_der(private).map_err(bad)?;
            let key = p521::ecdsa::VerifyingKey::from_affine(*secret.public_key().as_affine())
                .map_err(|e| CryptoError::BadInput(e.to_string()))?;
            p521::ecdsa::Signature::from_der(signature)
                .is_ok_and(|sig| key.verify_prehash(digest_or_message, &sig).is_ok())
        }
        "ECC_SECG_P256K1" => {
            let key = k256::ecdsa::SigningKey::from_pkcs8_der(private).map_err(bad)?;
            k256::ecdsa::Signature::from_der(signature).is_ok_and(|sig| {
                // Accept high-S signatures too, as KMS does (other signers do not normalize).
                let sig = sig.normalize_s().unwrap_or(sig);
                key.verifying_key().verify_prehash(digest_or_message, &sig).is_ok()
            })
        }
        "ECC_NIST_EDWARDS25519" => {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(private).map_err(bad)?;
            let Ok(sig) = ed25519_dalek::Signature::from_slice(signature) else { return Err(CryptoError::Invalid) };
            if algorithm == "ED25519_PH_SHA_512" {
                let prehashed = Sha512Prehashed::from_digest(digest_or_message)?;
                key.verifying_key().verify_prehashed(prehashed.0, None, &sig).is_ok()
            } else {
                key.verifying_key().verify_strict(digest_or_message, &sig).is_ok()
            }
        }
        _ => return Err(CryptoError::BadInput(format!("{spec} cannot verify"))),
    };
    if ok {
        Ok(())
    } else {
        Err(CryptoError::Invalid)
    }
}

mod ecdsa_traits {
    pub use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
}

/// A SHA-512 "hasher" already holding a digest, for Ed25519ph over a caller's digest.
struct Sha512Prehashed(Sha512Fixed);

impl Sha512Prehashed {
    fn from_digest(digest: &[u8]) -> Result<Self> {
        if digest.len() != 64 {
            return Err(CryptoError::BadInput("ED25519_PH_SHA_512 digests are 64 bytes".into()));
        }
        let mut d = [0u8; 64];
        d.copy_from_slice(digest);
        Ok(Sha512Prehashed(Sha512Fixed(d)))
    }
}

/// Implements just enough of `Digest` to hand a finished SHA-512 digest to ed25519-dalek.
#[derive(Clone)]
struct Sha512Fixed([u8; 64]);

impl Default for Sha512Fixed {
    fn default() -> Self {
        Sha512Fixed([0; 64])
    }
}

impl sha2::digest::OutputSizeUser for Sha512Fixed {
    type OutputSize = sha2::digest::consts::U64;
}

impl sha2::digest::Update for Sha512Fixed {
    fn update(&mut self, _data: &[u8]) {}
}

impl sha2::digest::FixedOutput for Sha512Fixed {
    fn finalize_into(self, out: &mut sha2::digest::Output<Self>) {
        out.copy_from_slice(&self.0);
    }
}

impl sha2::digest::HashMarker for Sha512Fixed {}

fn pss(algorithm: &str) -> Pss {
    match hash_name(algorithm) {
        "SHA_384" => Pss::new::<Sha384>(),
        "SHA_512" => Pss::new::<Sha512>(),
        _ => Pss::new::<Sha256>(),
    }
}

fn pkcs1(algorithm: &str) -> Pkcs1v15Sign {
    match hash_name(algorithm) {
        "SHA_384" => Pkcs1v15Sign::new::<Sha384>(),
        "SHA_512" => Pkcs1v15Sign::new::<Sha512>(),
        _ => Pkcs1v15Sign::new::<Sha256>(),
    }
}

pub fn mac(algorithm: &str, key: &[u8], message: &[u8]) -> Vec<u8> {
    macro_rules! run {
        ($h:ty) => {{
            let mut m = <Hmac<$h> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(message);
            m.finalize().into_bytes().to_vec()
        }};
    }
    match algorithm {
        "HMAC_SHA_224" => run!(Sha224),
        "HMAC_SHA_384" => run!(Sha384),
        "HMAC_SHA_512" => run!(Sha512),
        _ => run!(Sha256),
    }
}

/// Constant-time comparison for MAC verification.
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// ECDH with the key's private scalar and a peer's DER `SubjectPublicKeyInfo` (raw x-coordinate).
pub fn derive_shared_secret(spec: &str, private: &[u8], peer_der: &[u8]) -> Result<Vec<u8>> {
    use rsa::pkcs8::DecodePublicKey;
    let bad_key = |_| CryptoError::BadInput("unreadable key material".into());
    let bad_peer = |_| CryptoError::BadInput("The public key is not a valid DER-encoded key of the key's curve".into());
    macro_rules! ecdh {
        ($curve:ident) => {{
            let secret = $curve::SecretKey::from_pkcs8_der(private).map_err(bad_key)?;
            let peer = $curve::PublicKey::from_public_key_der(peer_der).map_err(bad_peer)?;
            let shared = $curve::ecdh::diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());
            Ok(shared.raw_secret_bytes().to_vec())
        }};
    }
    match spec {
        "ECC_NIST_P256" => ecdh!(p256),
        "ECC_NIST_P384" => ecdh!(p384),
        "ECC_NIST_P521" => ecdh!(p521),
        "ECC_SECG_P256K1" => ecdh!(k256),
        _ => Err(CryptoError::BadInput(format!("{spec} cannot derive shared secrets"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_round_trip_binds_aad() {
        let key = generate("SYMMETRIC_DEFAULT").unwrap();
        let sealed = seal(&key, b"hello", b"ctx");
        assert_eq!(open(&key, &sealed, b"ctx").unwrap(), b"hello");
        assert_eq!(open(&key, &sealed, b"other"), Err(CryptoError::Invalid));
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert_eq!(open(&key, &tampered, b"ctx"), Err(CryptoError::Invalid));
    }

    #[test]
    fn every_signing_spec_signs_and_verifies() {
        for (spec, algorithms) in [
            ("ECC_NIST_P256", &["ECDSA_SHA_256"][..]),
            ("ECC_NIST_P384", &["ECDSA_SHA_384"]),
            ("ECC_NIST_P521", &["ECDSA_SHA_512"]),
            ("ECC_SECG_P256K1", &["ECDSA_SHA_256"]),
            ("RSA_2048", &["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_512", "RSASSA_PKCS1_V1_5_SHA_384"]),
        ] {
            let key = generate(spec).unwrap();
            assert!(public_key_der(spec, &key).is_some(), "{spec}");
            for alg in algorithms {
                let digest = digest_of(alg, b"message");
                let sig = sign(spec, &key, alg, &digest).unwrap();
                verify(spec, &key, alg, &digest, &sig).unwrap_or_else(|e| panic!("{spec} {alg}: {e:?}"));
                let other = digest_of(alg, b"other");
                assert_eq!(verify(spec, &key, alg, &other, &sig), Err(CryptoError::Invalid), "{spec} {alg}");
            }
        }
        let key = generate("ECC_NIST_EDWARDS25519").unwrap();
        let sig = sign("ECC_NIST_EDWARDS25519", &key, "ED25519_SHA_512", b"m").unwrap();
        verify("ECC_NIST_EDWARDS25519", &key, "ED25519_SHA_512", b"m", &sig).unwrap();
        let d = digest_of("X_SHA_512", b"m");
        let sig = sign("ECC_NIST_EDWARDS25519", &key, "ED25519_PH_SHA_512", &d).unwrap();
        verify("ECC_NIST_EDWARDS25519", &key, "ED25519_PH_SHA_512", &d, &sig).unwrap();
    }

    #[test]
    fn rsa_oaep_round_trip() {
        let key = generate("RSA_2048").unwrap();
        for alg in ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] {
            let ct = rsa_encrypt(&key, alg, b"secret").unwrap();
            assert_eq!(rsa_decrypt(&key, alg, &ct).unwrap(), b"secret");
        }
        assert_eq!(rsa_max_plaintext("RSA_2048", "RSAES_OAEP_SHA_256"), 190);
        assert_eq!(rsa_max_plaintext("RSA_2048", "RSAES_OAEP_SHA_1"), 214);
    }

    #[test]
    fn ecdh_agrees() {
        let a = generate("ECC_NIST_P256").unwrap();
        let b = generate("ECC_NIST_P256").unwrap();
        let ab = derive_shared_secret("ECC_NIST_P256", &a, &public_key_der("ECC_NIST_P256", &b).unwrap()).unwrap();
        let ba = derive_shared_secret("ECC_NIST_P256", &b, &public_key_der("ECC_NIST_P256", &a).unwrap()).unwrap();
        assert_eq!(ab, ba);
    }
}
