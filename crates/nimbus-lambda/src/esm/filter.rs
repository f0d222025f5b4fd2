//! Lambda event filtering (`FilterCriteria` of event source mappings): the shared event pattern
//! engine ([`nimbus_core::pattern`]) over Lambda's views of SQS and Kinesis records.

use serde_json::{Map, Value};

pub use nimbus_core::pattern::{any_matches, Pattern, INVALID_PATTERN_MESSAGE, MAX_PATTERN_LENGTH};

/// The value an SQS record is matched as: the record, with `body` replaced by its parsed JSON
/// when it is valid JSON (so `{"body": {"k": [..]}}` reaches into it), left a plain string
/// otherwise (so `{"body": [{"prefix": ".."}]}` works, and object patterns on it never match).
pub fn sqs_record_view(record: &Value) -> Value {
    let mut view = record.clone();
    if let Some(body) = record.get("body").and_then(Value::as_str) {
        if let Ok(parsed) = serde_json::from_str::<Value>(body) {
            view["body"] = parsed;
        }
    }
    view
}

/// The value a Kinesis record (`{"kinesis": {.., "data": base64}, "eventSource": ..}`) is matched
/// as: the fields of `kinesis` lifted to the top level (Lambda's patterns say `{"data": ..}`),
/// beside the record's other fields, with `data` base64-decoded and parsed as JSON. Lambda's docs
/// say Kinesis data that is not valid JSON is dropped by a filter on `data`, so then `data` is
/// left out of the view (patterns on metadata alone still apply).
pub fn kinesis_record_view(record: &Value) -> Value {
    let mut view = Map::new();
    if let Value::Object(fields) = record {
        for (key, value) in fields {
            if key != "kinesis" {
                view.insert(key.clone(), value.clone());
            }
        }
    }
    if let Some(Value::Object(kinesis)) = record.get("kinesis") {
        for (key, value) in kinesis {
            if key == "data" {
                let parsed = value
                    .as_str()
                    .and_then(base64_decode)
                    .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
                if let Some(parsed) = parsed {
                    view.insert(key.clone(), parsed);
                }
            } else {
                view.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(view)
}

/// Standard or URL-safe base64, padding optional; `None` when malformed.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.trim_end_matches('=').bytes() {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'\r' | b'\n' => continue,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(pattern: &str, event: Value) -> bool {
        Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")).matches(&event)
    }

    #[test]
    fn sqs_json_body_numeric() {
        let p = Pattern::parse(r#"{"body": {"temperature": [{"numeric": [">", 30]}]}}"#).unwrap();
        let hot = json!({"messageId": "1", "body": "{\"temperature\": 35}"});
        let cold = json!({"messageId": "2", "body": "{\"temperature\": 5}"});
        assert!(p.matches(&sqs_record_view(&hot)));
        assert!(!p.matches(&sqs_record_view(&cold)));
    }

    #[test]
    fn sqs_plain_text_body() {
        let p = Pattern::parse(r#"{"body": [{"prefix": "hello"}]}"#).unwrap();
        assert!(p.matches(&sqs_record_view(&json!({"body": "hello world"}))));
        assert!(!p.matches(&sqs_record_view(&json!({"body": "goodbye"}))));
        // A JSON pattern never matches a plain-text body, and vice versa.
        let json_pattern = Pattern::parse(r#"{"body": {"k": ["v"]}}"#).unwrap();
        assert!(!json_pattern.matches(&sqs_record_view(&json!({"body": "k=v"}))));
        assert!(!p.matches(&sqs_record_view(&json!({"body": "{\"hello\": 1}"}))));
    }

    #[test]
    fn sqs_metadata_and_body() {
        let p =
            Pattern::parse(r#"{"attributes": {"ApproximateReceiveCount": ["1"]}, "body": {"RequestCode": ["BBBB"]}}"#)
                .unwrap();
        let record = json!({"attributes": {"ApproximateReceiveCount": "1"}, "body": "{\"RequestCode\": \"BBBB\"}"});
        assert!(p.matches(&sqs_record_view(&record)));
        let record = json!({"attributes": {"ApproximateReceiveCount": "2"}, "body": "{\"RequestCode\": \"BBBB\"}"});
        assert!(!p.matches(&sqs_record_view(&record)));
    }

    #[test]
    fn kinesis_data_is_decoded() {
        // {"order": {"type": "buy"}}
        let record = json!({"kinesis": {"partitionKey": "1", "data": "eyJvcmRlciI6IHsidHlwZSI6ICJidXkifX0="},
                            "eventSource": "aws:kinesis"});
        let view = kinesis_record_view(&record);
        assert!(check(r#"{"data": {"order": {"type": ["buy"]}}}"#, view.clone()));
        assert!(check(r#"{"partitionKey": ["1"], "eventSource": ["aws:kinesis"]}"#, view));
        // "hello" is not JSON: a filter on data drops it, metadata filters still apply.
        let plain = kinesis_record_view(&json!({"kinesis": {"partitionKey": "1", "data": "aGVsbG8="}}));
        assert!(!check(r#"{"data": [{"prefix": "h"}]}"#, plain.clone()));
        assert!(check(r#"{"partitionKey": ["1"]}"#, plain));
    }

    #[test]
    fn base64_decoding() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGk").unwrap(), b"hi");
        assert!(base64_decode("a$b").is_none());
    }
}
