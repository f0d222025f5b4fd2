//! Reading members of an input document the front has decoded and validated, and writing the
//! `[{Key, Value}]` tag lists most services answer with. Handlers that take typed shapes do not
//! need these; handlers that read the document do, and share one spelling of each.

use std::borrow::Borrow;

use serde_json::{json, Value};

/// A string member, if present.
pub fn str_of<'v>(input: &'v Value, member: &str) -> Option<&'v str> {
    input.get(member).and_then(Value::as_str)
}

/// A boolean member, if present.
pub fn bool_of(input: &Value, member: &str) -> Option<bool> {
    input.get(member).and_then(Value::as_bool)
}

/// An integer member, if present.
pub fn int_of(input: &Value, member: &str) -> Option<i64> {
    input.get(member).and_then(Value::as_i64)
}

/// The names of a tag's two members: `Key`/`Value` in most services, `TagKey`/`TagValue` in KMS.
#[derive(Clone, Copy)]
pub struct TagNames {
    pub key: &'static str,
    pub value: &'static str,
}

pub const KEY_VALUE: TagNames = TagNames { key: "Key", value: "Value" };

/// The pairs of a tag list (`[{Key, Value}, …]`) in their order; a missing value is empty.
pub fn tags_of(list: Option<&Value>, names: TagNames) -> Vec<(String, String)> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| Some((str_of(t, names.key)?.to_string(), str_of(t, names.value).unwrap_or("").to_string())))
        .collect()
}

/// Pairs (a slice of them or a map's entries) as a tag list, `[{Key, Value}, …]`.
pub fn tags_json<K: AsRef<str>, V: AsRef<str>, P: Borrow<(K, V)>>(
    tags: impl IntoIterator<Item = P>,
    names: TagNames,
) -> Value {
    let tag = |pair: P| {
        let (k, v) = pair.borrow();
        json!({ names.key: k.as_ref(), names.value: v.as_ref() })
    };
    tags.into_iter().map(tag).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_lists_round_trip_in_order_and_tolerate_a_missing_value() {
        let input = json!({"Tags": [{"Key": "b", "Value": "2"}, {"Key": "a"}, {"Value": "no key"}]});
        let tags = tags_of(input.get("Tags"), KEY_VALUE);
        assert_eq!(tags, vec![("b".into(), "2".into()), ("a".into(), String::new())]);
        let back = tags_json(&tags, KEY_VALUE);
        let map: std::collections::BTreeMap<String, String> = tags.iter().cloned().collect();
        assert_eq!(tags_json(&map, KEY_VALUE), json!([{"Key": "a", "Value": ""}, {"Key": "b", "Value": "2"}]));
        assert_eq!(back, json!([{"Key": "b", "Value": "2"}, {"Key": "a", "Value": ""}]));
        let kms = TagNames { key: "TagKey", value: "TagValue" };
        assert_eq!(tags_json([("k", "v")], kms), json!([{"TagKey": "k", "TagValue": "v"}]));
        assert!(tags_of(None, KEY_VALUE).is_empty());
        assert_eq!(str_of(&json!({"A": 1}), "A"), None);
        assert_eq!(bool_of(&json!({"A": true}), "A"), Some(true));
        assert_eq!(int_of(&json!({"A": 7}), "A"), Some(7));
    }
}
