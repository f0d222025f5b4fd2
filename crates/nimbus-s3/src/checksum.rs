//! The digests S3 computes and checks: MD5 (ETags, `Content-MD5`) and the flexible checksums
//! CRC32, CRC32C, CRC64NVME, SHA1 and SHA256 (`x-amz-checksum-*`), fed as bytes stream by.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use md5::{Digest as _, Md5};
use sha1::Sha1;
use sha2::Sha256;

pub const ALGORITHMS: [&str; 5] = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"];

/// The canonical name of an algorithm as headers and XML spell it, if S3 knows it.
pub fn canonical(name: &str) -> Option<&'static str> {
    ALGORITHMS.iter().copied().find(|a| a.eq_ignore_ascii_case(name))
}

/// `x-amz-checksum-crc32` for `CRC32`.
pub fn header_name(algorithm: &str) -> String {
    format!("x-amz-checksum-{}", algorithm.to_ascii_lowercase())
}

pub enum Hasher {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64(crc64fast_nvme::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    pub fn new(algorithm: &str) -> Option<Hasher> {
        Some(match canonical(algorithm)? {
            "CRC32" => Hasher::Crc32(crc32fast::Hasher::new()),
            "CRC32C" => Hasher::Crc32c(0),
            "CRC64NVME" => Hasher::Crc64(crc64fast_nvme::Digest::new()),
            "SHA1" => Hasher::Sha1(Sha1::new()),
            _ => Hasher::Sha256(Sha256::new()),
        })
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc32(h) => h.update(data),
            Hasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            Hasher::Crc64(h) => h.write(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    /// The raw digest bytes (big-endian for CRCs).
    pub fn finish_raw(self) -> Vec<u8> {
        match self {
            Hasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            Hasher::Crc32c(c) => c.to_be_bytes().to_vec(),
            Hasher::Crc64(h) => h.sum64().to_be_bytes().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        }
    }

    pub fn finish(self) -> String {
        B64.encode(self.finish_raw())
    }
}

/// The checksum of `data` in one go.
pub fn of(algorithm: &str, data: &[u8]) -> Option<String> {
    let mut h = Hasher::new(algorithm)?;
    h.update(data);
    Some(h.finish())
}

/// MD5 of a stream: the ETag (hex) and `Content-MD5` (base64).
#[derive(Default)]
pub struct Md5Hasher(Md5);

impl Md5Hasher {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finish(self) -> [u8; 16] {
        self.0.finalize().into()
    }
}

pub fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

pub fn b64(data: &[u8]) -> String {
    B64.encode(data)
}

pub fn unb64(text: &str) -> Option<Vec<u8>> {
    B64.decode(text.trim()).ok()
}

/// A checksum value is well-formed when it is base64 of the algorithm's digest length.
pub fn well_formed(algorithm: &str, value: &str) -> bool {
    let len = match canonical(algorithm) {
        Some("CRC32") | Some("CRC32C") => 4,
        Some("CRC64NVME") => 8,
        Some("SHA1") => 20,
        Some("SHA256") => 32,
        _ => return false,
    };
    unb64(value).is_some_and(|raw| raw.len() == len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Values as S3 reports them for "hello world".
        assert_eq!(of("CRC32", b"hello world").unwrap(), "DUoRhQ==");
        assert_eq!(of("CRC32C", b"hello world").unwrap(), "yZRlqg==");
        assert_eq!(of("SHA1", b"hello world").unwrap(), "Kq5sNclPz7QV2+lfQIuc6R7oRu0=");
        assert_eq!(of("SHA256", b"hello world").unwrap(), "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
        assert_eq!(of("CRC64NVME", b"hello world").unwrap(), "jSnVw/bqjr4=");
        assert_eq!(hex::encode(md5(b"hello world")), "5eb63bbbe01eeed093cb22bb8f5acdc3");
        assert!(well_formed("crc32", "DUoRhQ=="));
        assert!(!well_formed("crc32", "DUoRhQ"));
    }
}
