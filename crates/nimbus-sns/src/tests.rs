use std::collections::BTreeMap;

use serde_json::json;

use crate::publish::{filter_matches, parse};
use crate::state::Subscription;

fn sub(policy: &str, scope: Option<&str>) -> Subscription {
    let mut attributes = BTreeMap::from([("FilterPolicy".to_string(), policy.to_string())]);
    if let Some(s) = scope {
        attributes.insert("FilterPolicyScope".into(), s.into());
    }
    Subscription {
        arn: "arn:aws:sns:us-east-1:1:t:x".into(),
        topic_arn: "arn:aws:sns:us-east-1:1:t".into(),
        protocol: "sqs".into(),
        endpoint: "arn:aws:sqs:us-east-1:1:q".into(),
        owner: "1".into(),
        attributes,
        confirmed: true,
        token: None,
    }
}

#[test]
fn filter_policies_on_attributes_and_body() {
    let m = parse(&json!({"Message": "{\"price\": 12}", "MessageAttributes": {
        "kind": {"DataType": "String", "StringValue": "order"},
        "n": {"DataType": "Number", "StringValue": "7"},
        "tags": {"DataType": "String.Array", "StringValue": "[\"a\", \"b\"]"}}}))
    .unwrap();
    assert!(filter_matches(&sub(r#"{"kind": ["order"], "n": [{"numeric": [">", 5]}]}"#, None), &m));
    assert!(filter_matches(&sub(r#"{"tags": ["b"]}"#, None), &m));
    assert!(!filter_matches(&sub(r#"{"kind": ["refund"]}"#, None), &m));
    assert!(!filter_matches(&sub(r#"{"missing": [{"exists": true}]}"#, None), &m));
    assert!(filter_matches(&sub(r#"{"price": [{"numeric": [">=", 10]}]}"#, Some("MessageBody")), &m));
    assert!(!filter_matches(&sub(r#"{"price": [{"numeric": [">=", 100]}]}"#, Some("MessageBody")), &m));
}

#[test]
fn publish_input_is_checked_with_sns_wording() {
    let err = parse(&json!({"Message": ""})).unwrap_err();
    assert_eq!((err.code.as_str(), err.message.as_str()), ("InvalidParameter", "Invalid parameter: Empty message"));
    let err = parse(&json!({"Message": "{}", "MessageStructure": "json"})).unwrap_err();
    assert_eq!(err.message, "Invalid parameter: Message Structure - No default entry in JSON message body");
    let err = parse(&json!({"Message": "x", "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}}}))
        .unwrap_err();
    assert_eq!(err.message, "Invalid parameter: Could not cast message attribute 'n' value to number.");
}

#[test]
fn signatures_verify_with_the_signing_key() {
    use base64::Engine;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::Verifier;
    let signer = crate::sign::Signer::default();
    let fields =
        [("Message", "hi"), ("MessageId", "1"), ("Timestamp", "t"), ("TopicArn", "a"), ("Type", "Notification")];
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../keys/signing-key.pem")).unwrap();
    let text = "Message\nhi\nMessageId\n1\nTimestamp\nt\nTopicArn\na\nType\nNotification\n";
    for version in ["1", "2"] {
        let sig = base64::engine::general_purpose::STANDARD.decode(signer.sign(version, &fields)).unwrap();
        let sig = Signature::try_from(sig.as_slice()).unwrap();
        let ok = if version == "1" {
            VerifyingKey::<sha1::Sha1>::new(key.to_public_key()).verify(text.as_bytes(), &sig).is_ok()
        } else {
            VerifyingKey::<sha2::Sha256>::new(key.to_public_key()).verify(text.as_bytes(), &sig).is_ok()
        };
        assert!(ok, "version {version}");
    }
}
