//! What each key spec can do: its key usages and, per usage, its algorithms (KMS's table).

pub const SYMMETRIC: &str = "SYMMETRIC_DEFAULT";

/// Key specs nimbus generates material for. SM2 (China Regions only), ML-DSA and ML-KEM are in
/// the model but answered `UnsupportedOperationException`.
pub fn supported(spec: &str) -> bool {
    matches!(
        spec,
        "SYMMETRIC_DEFAULT"
            | "RSA_2048"
            | "RSA_3072"
            | "RSA_4096"
            | "ECC_NIST_P256"
            | "ECC_NIST_P384"
            | "ECC_NIST_P521"
            | "ECC_SECG_P256K1"
            | "ECC_NIST_EDWARDS25519"
            | "HMAC_224"
            | "HMAC_256"
            | "HMAC_384"
            | "HMAC_512"
    )
}

pub fn usages(spec: &str) -> &'static [&'static str] {
    match spec {
        "SYMMETRIC_DEFAULT" => &["ENCRYPT_DECRYPT"],
        s if s.starts_with("RSA_") => &["ENCRYPT_DECRYPT", "SIGN_VERIFY"],
        "ECC_NIST_EDWARDS25519" => &["SIGN_VERIFY"],
        s if s.starts_with("ECC_") => &["SIGN_VERIFY", "KEY_AGREEMENT"],
        s if s.starts_with("HMAC_") => &["GENERATE_VERIFY_MAC"],
        _ => &[],
    }
}

/// The usage a key gets when CreateKey names none (only unambiguous specs have one).
pub fn default_usage(spec: &str) -> Option<&'static str> {
    match spec {
        "SYMMETRIC_DEFAULT" => Some("ENCRYPT_DECRYPT"),
        s if s.starts_with("HMAC_") => Some("GENERATE_VERIFY_MAC"),
        _ => None,
    }
}

pub fn encryption_algorithms(spec: &str, usage: &str) -> Vec<&'static str> {
    match (spec, usage) {
        ("SYMMETRIC_DEFAULT", _) => vec!["SYMMETRIC_DEFAULT"],
        (s, "ENCRYPT_DECRYPT") if s.starts_with("RSA_") => vec!["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"],
        _ => vec![],
    }
}

pub fn signing_algorithms(spec: &str, usage: &str) -> Vec<&'static str> {
    if usage != "SIGN_VERIFY" {
        return vec![];
    }
    match spec {
        s if s.starts_with("RSA_") => vec![
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PKCS1_V1_5_SHA_512",
            "RSASSA_PSS_SHA_256",
            "RSASSA_PSS_SHA_384",
            "RSASSA_PSS_SHA_512",
        ],
        "ECC_NIST_P256" | "ECC_SECG_P256K1" => vec!["ECDSA_SHA_256"],
        "ECC_NIST_P384" => vec!["ECDSA_SHA_384"],
        "ECC_NIST_P521" => vec!["ECDSA_SHA_512"],
        "ECC_NIST_EDWARDS25519" => vec!["ED25519_SHA_512", "ED25519_PH_SHA_512"],
        _ => vec![],
    }
}

pub fn mac_algorithms(spec: &str) -> Vec<&'static str> {
    match spec {
        "HMAC_224" => vec!["HMAC_SHA_224"],
        "HMAC_256" => vec!["HMAC_SHA_256"],
        "HMAC_384" => vec!["HMAC_SHA_384"],
        "HMAC_512" => vec!["HMAC_SHA_512"],
        _ => vec![],
    }
}

pub fn key_agreement_algorithms(usage: &str) -> Vec<&'static str> {
    if usage == "KEY_AGREEMENT" {
        vec!["ECDH"]
    } else {
        vec![]
    }
}

/// Data key pair specs nimbus generates (GenerateDataKeyPair).
pub fn data_key_pair_supported(spec: &str) -> bool {
    spec.starts_with("RSA_")
        || matches!(
            spec,
            "ECC_NIST_P256" | "ECC_NIST_P384" | "ECC_NIST_P521" | "ECC_SECG_P256K1" | "ECC_NIST_EDWARDS25519"
        )
}
