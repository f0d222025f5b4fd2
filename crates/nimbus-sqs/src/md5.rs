//! MD5 (RFC 1321) and SQS's message-attribute digest.
//!
//! SQS answers `MD5OfMessageBody` (MD5 of the UTF-8 body) and `MD5OfMessageAttributes`: MD5
//! over the attributes sorted by name, each encoded as
//! `len(name) name len(type) type transport value-len value` — lengths are 4-byte big-endian,
//! transport is 1 for `String`/`Number` (value as UTF-8) and 2 for `Binary` (raw bytes). SDKs
//! (Java, Go, .NET) recompute both and reject mismatches, so this must be exact.

use std::collections::BTreeMap;

use crate::state::MessageAttribute;

const S: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15,
    21,
];

fn k(i: usize) -> u32 {
    // floor(abs(sin(i + 1)) * 2^32)
    ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32
}

pub fn md5(data: &[u8]) -> [u8; 16] {
    let mut a0: u32 = 0x6745_2301;
    let mut b0: u32 = 0xefcd_ab89;
    let mut c0: u32 = 0x98ba_dcfe;
    let mut d0: u32 = 0x1032_5476;
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    let table: Vec<u32> = (0..64).map(k).collect();
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk.chunks(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(table[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&a0.to_le_bytes());
    out[4..8].copy_from_slice(&b0.to_le_bytes());
    out[8..12].copy_from_slice(&c0.to_le_bytes());
    out[12..].copy_from_slice(&d0.to_le_bytes());
    out
}

pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5(data))
}

/// `MD5OfMessageAttributes` / `MD5OfMessageSystemAttributes`; `None` without attributes.
pub fn attributes_md5(attributes: &BTreeMap<String, MessageAttribute>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut buf = Vec::new();
    let put = |bytes: &[u8], buf: &mut Vec<u8>| {
        buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        buf.extend_from_slice(bytes);
    };
    // BTreeMap iterates by name in byte order, as AWS sorts.
    for (name, attr) in attributes {
        put(name.as_bytes(), &mut buf);
        put(attr.data_type.as_bytes(), &mut buf);
        if let Some(binary) = &attr.binary_value {
            buf.push(2);
            put(binary, &mut buf);
        } else {
            buf.push(1);
            put(attr.string_value.as_deref().unwrap_or_default().as_bytes(), &mut buf);
        }
    }
    Some(md5_hex(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_reference_vectors() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
        let long = vec![b'a'; 1000];
        assert_eq!(md5_hex(&long), "cabe45dcc9ae5b66ba86600cca6b8ba8");
    }

    fn s(data_type: &str, value: &str) -> MessageAttribute {
        MessageAttribute { data_type: data_type.into(), string_value: Some(value.into()), binary_value: None }
    }

    #[test]
    fn attribute_digests_match_aws() {
        // Values SQS returns (and SDK checksum tests assert).
        let mut one = BTreeMap::new();
        one.insert("SellerName".to_string(), s("String", "Example Store"));
        assert_eq!(attributes_md5(&one).unwrap(), "cd28f3b68aeee4b2eac9c66f2f694b58");
        let mut two = BTreeMap::new();
        two.insert("ordinal".to_string(), s("Number", "1"));
        two.insert("category".to_string(), s("String", "test"));
        assert_eq!(attributes_md5(&two).unwrap(), "d21ae90c49061e927f57df5f5d72be1f");
        assert_eq!(attributes_md5(&BTreeMap::new()), None);
    }
}
