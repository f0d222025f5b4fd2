//! Value types the generated shapes (`crates/<service>/src/shapes.rs`) use for blobs and
//! timestamps. In the model-shaped JSON document the fronts build, a blob is a base64 string and
//! a timestamp is epoch seconds; each protocol's encoder turns them into its own wire form.

use base64::Engine as _;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Binary data (base64 in the document).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Blob(pub Vec<u8>);

impl Blob {
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Self {
        Blob(bytes)
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        B64.decode(text.as_bytes()).map(Blob).map_err(|_| de::Error::custom("invalid base64"))
    }
}

/// A point in time, as epoch seconds with millisecond precision (what AWS's JSON protocols send).
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
pub struct Timestamp(pub f64);

impl Timestamp {
    pub fn from_millis(millis: i64) -> Timestamp {
        Timestamp(millis as f64 / 1000.0)
    }

    pub fn as_millis(&self) -> i64 {
        (self.0 * 1000.0).round() as i64
    }

    /// ISO 8601 with milliseconds, as the XML protocols write it (`2026-12-02T10:00:00.000Z`).
    pub fn to_iso8601(&self) -> String {
        chrono::DateTime::from_timestamp_millis(self.as_millis())
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }

    /// Parse epoch seconds (`"1733133600.5"`) or an ISO 8601 / RFC 3339 date-time.
    pub fn parse(text: &str) -> Option<Timestamp> {
        if let Ok(secs) = text.parse::<f64>() {
            return secs.is_finite().then_some(Timestamp(secs));
        }
        let parsed = chrono::DateTime::parse_from_rfc3339(text).ok().or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|n| n.and_utc().fixed_offset())
        })?;
        Some(Timestamp::from_millis(parsed.timestamp_millis()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Whole seconds print as integers (`1733133600`), as AWS's JSON services do.
        if self.0.fract() == 0.0 && self.0.abs() < 9.0e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;
        impl Visitor<'_> for TimestampVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("epoch seconds or an ISO 8601 date-time")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                Ok(Timestamp(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).ok_or_else(|| E::custom(format!("invalid timestamp {v:?}")))
            }
        }
        d.deserialize_any(TimestampVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_and_timestamps_round_trip_through_the_document() {
        let b: Blob = serde_json::from_value(serde_json::json!("aGk=")).unwrap();
        assert_eq!(b.0, b"hi");
        assert_eq!(serde_json::to_value(&b).unwrap(), "aGk=");
        let t: Timestamp = serde_json::from_value(serde_json::json!(1733133600.25)).unwrap();
        assert_eq!(t.as_millis(), 1733133600250);
        assert_eq!(t.to_iso8601(), "2024-12-02T10:00:00.250Z");
        assert_eq!(serde_json::to_value(Timestamp(5.0)).unwrap(), serde_json::json!(5));
        assert_eq!(Timestamp::parse("2024-12-02T10:00:00Z").unwrap().0, 1733133600.0);
        assert!(serde_json::from_value::<Blob>(serde_json::json!("%%")).is_err());
    }
}
