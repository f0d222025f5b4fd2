//! Real SNS message signatures: `SignatureVersion` 1 (SHA1withRSA) and 2 (SHA256withRSA) over
//! AWS's canonical string, with a key whose certificate nimbus serves at `SigningCertURL`, so
//! clients that verify signatures pass. The key is the emulator's own, shipped in the binary: it
//! proves nothing beyond "this came from nimbus", which is all a local emulator can promise.

use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use rsa::RsaPrivateKey;

pub const CERT_PEM: &str = include_str!("../keys/signing-cert.pem");
const KEY_PEM: &str = include_str!("../keys/signing-key.pem");
/// The path the certificate is served at (AWS: `/SimpleNotificationService-<hash>.pem`).
pub const CERT_PATH: &str = "/SimpleNotificationService-nimbus.pem";

pub struct Signer {
    v1: SigningKey<sha1::Sha1>,
    v2: SigningKey<sha2::Sha256>,
}

impl Default for Signer {
    fn default() -> Self {
        let key = RsaPrivateKey::from_pkcs8_pem(KEY_PEM).expect("the shipped SNS signing key parses");
        Signer { v1: SigningKey::new(key.clone()), v2: SigningKey::new(key) }
    }
}

impl Signer {
    /// Base64 signature of `fields` (name, value) in AWS's canonical form: `Name\nValue\n` each,
    /// in the order given (the caller gives them sorted, absent ones left out).
    pub fn sign(&self, version: &str, fields: &[(&str, &str)]) -> String {
        let mut text = String::new();
        for (name, value) in fields {
            text.push_str(name);
            text.push('\n');
            text.push_str(value);
            text.push('\n');
        }
        let sig = if version == "2" {
            self.v2.sign(text.as_bytes()).to_vec()
        } else {
            self.v1.sign(text.as_bytes()).to_vec()
        };
        base64::engine::general_purpose::STANDARD.encode(sig)
    }
}
