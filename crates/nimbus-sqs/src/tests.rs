use std::sync::Arc;
use std::time::{Duration, Instant};

use nimbus_core::clock::Clock;
use serde_json::{json, Value};

use crate::ops;
use crate::Sqs;

const A: &str = "000000000000";
const R: &str = "us-east-1";

fn call(sqs: &Sqs, op: &str, input: Value) -> Result<Value, nimbus_core::AwsError> {
    crate::model::model().validate(op, &input)?;
    sqs.with(A, R, "http://localhost:4566", A, |store, call| ops::dispatch(store, call, op, &input))
}

fn create(sqs: &Sqs, name: &str, attrs: Value) -> String {
    call(sqs, "CreateQueue", json!({"QueueName": name, "Attributes": attrs})).unwrap()["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn receive(sqs: &Sqs, url: &str, input: Value) -> Vec<Value> {
    let ctx = nimbus_core::RequestContext {
        account: A.into(),
        region: R.into(),
        request_id: "r".into(),
        access_key_id: None,
        endpoint: "http://localhost:4566".into(),
        clock: sqs.clock.clone(),
    };
    let mut input = input;
    input["QueueUrl"] = json!(url);
    let out = sqs.execute(&ctx, "ReceiveMessage", input).await.unwrap();
    out["Messages"].as_array().cloned().unwrap_or_default()
}

fn body(m: &Value) -> &str {
    m["Body"].as_str().unwrap()
}

#[tokio::test]
async fn urls_and_visibility_follow_the_clock() {
    let sqs = Sqs::open(None, Clock::new()).unwrap();
    let url = create(&sqs, "q1", json!({"VisibilityTimeout": "30"}));
    assert_eq!(url, "http://localhost:4566/000000000000/q1");
    call(&sqs, "SendMessage", json!({"QueueUrl": url, "MessageBody": "m"})).unwrap();
    let got = receive(&sqs, &url, json!({})).await;
    assert_eq!(got.len(), 1);
    assert!(receive(&sqs, &url, json!({})).await.is_empty());
    sqs.clock.advance(30_000);
    let again = receive(&sqs, &url, json!({"AttributeNames": ["All"]})).await;
    assert_eq!(again[0]["Attributes"]["ApproximateReceiveCount"], "2");
    // The stale receipt handle no longer deletes the re-received message.
    call(&sqs, "DeleteMessage", json!({"QueueUrl": url, "ReceiptHandle": got[0]["ReceiptHandle"]})).unwrap();
    call(&sqs, "DeleteMessage", json!({"QueueUrl": url, "ReceiptHandle": again[0]["ReceiptHandle"]})).unwrap();
    sqs.clock.advance(60_000);
    assert!(receive(&sqs, &url, json!({})).await.is_empty());
}

#[tokio::test]
async fn delay_seconds_and_counts() {
    let sqs = Sqs::open(None, Clock::new()).unwrap();
    let url = create(&sqs, "delayed", json!({}));
    call(&sqs, "SendMessage", json!({"QueueUrl": url, "MessageBody": "d", "DelaySeconds": 10})).unwrap();
    let attrs = call(&sqs, "GetQueueAttributes", json!({"QueueUrl": url, "AttributeNames": ["All"]})).unwrap();
    assert_eq!(attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"], "1");
    assert!(receive(&sqs, &url, json!({})).await.is_empty());
    sqs.clock.advance(10_000);
    assert_eq!(receive(&sqs, &url, json!({})).await.len(), 1);
    let attrs = call(&sqs, "GetQueueAttributes", json!({"QueueUrl": url, "AttributeNames": ["All"]})).unwrap();
    assert_eq!(attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"], "1");
}

#[tokio::test]
async fn fifo_orders_groups_and_deduplicates() {
    let sqs = Sqs::open(None, Clock::new()).unwrap();
    let url = create(&sqs, "f.fifo", json!({"FifoQueue": "true"}));
    let send = |b: &str, g: &str, d: &str| {
        call(
            &sqs,
            "SendMessage",
            json!({"QueueUrl": url, "MessageBody": b, "MessageGroupId": g, "MessageDeduplicationId": d}),
        )
        .unwrap()
    };
    let a1 = send("a1", "A", "1");
    let dup = send("other body", "A", "1");
    assert_eq!(a1["MessageId"], dup["MessageId"]);
    send("a2", "A", "2");
    send("b1", "B", "3");
    let err =
        call(&sqs, "SendMessage", json!({"QueueUrl": url, "MessageBody": "x", "MessageGroupId": "A"})).unwrap_err();
    assert_eq!(err.code, "InvalidParameterValueException");
    let got = receive(&sqs, &url, json!({"MaxNumberOfMessages": 10})).await;
    assert_eq!(got.iter().map(body).collect::<Vec<_>>(), ["a1", "a2", "b1"]);
    // Everything in flight: both groups blocked.
    assert!(receive(&sqs, &url, json!({})).await.is_empty());
    call(
        &sqs,
        "ChangeMessageVisibility",
        json!({"QueueUrl": url, "ReceiptHandle": got[2]["ReceiptHandle"], "VisibilityTimeout": 0}),
    )
    .unwrap();
    assert_eq!(body(&receive(&sqs, &url, json!({})).await[0]), "b1");
    // After the dedup window the same id is a new message.
    sqs.clock.advance(5 * 60 * 1000 + 1);
    let later = send("a1", "A", "1");
    assert_ne!(later["MessageId"], a1["MessageId"]);
}

#[tokio::test]
async fn redrive_moves_to_dead_letter_queue() {
    let sqs = Sqs::open(None, Clock::new()).unwrap();
    let dlq = create(&sqs, "dlq", json!({}));
    let policy =
        json!({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq", "maxReceiveCount": 1}).to_string();
    let src = create(&sqs, "src", json!({"RedrivePolicy": policy, "VisibilityTimeout": "1"}));
    call(&sqs, "SendMessage", json!({"QueueUrl": src, "MessageBody": "poison"})).unwrap();
    assert_eq!(receive(&sqs, &src, json!({})).await.len(), 1);
    sqs.clock.advance(1_000);
    assert!(receive(&sqs, &src, json!({})).await.is_empty());
    let moved = receive(&sqs, &dlq, json!({"MessageSystemAttributeNames": ["All"]})).await;
    assert_eq!(body(&moved[0]), "poison");
    assert_eq!(moved[0]["Attributes"]["DeadLetterQueueSourceArn"], "arn:aws:sqs:us-east-1:000000000000:src");
    let bad =
        json!({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq", "maxReceiveCount": 0}).to_string();
    let err =
        call(&sqs, "SetQueueAttributes", json!({"QueueUrl": src, "Attributes": {"RedrivePolicy": bad}})).unwrap_err();
    assert!(err.message.contains("valid values are from 1 to 1000 both inclusive"), "{}", err.message);
}

#[tokio::test]
async fn long_poll_wakes_on_send() {
    let sqs: Arc<Sqs> = Sqs::open(None, Clock::new()).unwrap();
    let url = create(&sqs, "lp", json!({}));
    let sender = sqs.clone();
    let u = url.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        call(&sender, "SendMessage", json!({"QueueUrl": u, "MessageBody": "now"})).unwrap();
    });
    let start = Instant::now();
    let got = receive(&sqs, &url, json!({"WaitTimeSeconds": 10})).await;
    assert_eq!(body(&got[0]), "now");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn rust_handle_and_persistence() {
    let dir = std::env::temp_dir().join(format!("nimbus-sqs-test-{:016x}", rand::random::<u64>()));
    let arn = "arn:aws:sqs:us-east-1:000000000000:p";
    {
        let sqs = Sqs::open(Some(&dir), Clock::new()).unwrap();
        create(&sqs, "p", json!({}));
        sqs.send(A, R, arn, "kept", &[("ErrorCode".into(), "500".into())]).unwrap();
        sqs.send(A, R, arn, "gone", &[]).unwrap();
        let got = sqs.receive(A, R, arn, 10, Duration::ZERO, Some(0)).await.unwrap();
        let gone = got.iter().find(|m| m.body == "gone").unwrap();
        sqs.delete(A, R, arn, std::slice::from_ref(&gone.receipt_handle)).unwrap();
    }
    let sqs = Sqs::open(Some(&dir), Clock::new()).unwrap();
    assert!(sqs.exists(A, R, arn));
    let got = sqs.receive(A, R, arn, 10, Duration::ZERO, None).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "kept");
    assert_eq!(got[0].attributes["ApproximateReceiveCount"], "2");
    assert_eq!(got[0].message_attributes["ErrorCode"]["stringValue"], "500");
    assert_eq!(got[0].md5_of_body, crate::md5::md5_hex(b"kept"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn validation_messages() {
    let sqs = Sqs::open(None, Clock::new()).unwrap();
    let err = call(&sqs, "CreateQueue", json!({"QueueName": "bad name"})).unwrap_err();
    assert_eq!(crate::errors::query_code(&err.code).0, "InvalidParameterValue");
    let err = call(&sqs, "CreateQueue", json!({"QueueName": "x", "Attributes": {"Bogus": "1"}})).unwrap_err();
    assert_eq!(err.message, "Unknown Attribute Bogus.");
    let err = call(&sqs, "CreateQueue", json!({"QueueName": "x", "Attributes": {"MaximumMessageSize": "1048577"}}))
        .unwrap_err();
    assert_eq!(err.message, "Invalid value for the parameter MaximumMessageSize.");
    let url = create(&sqs, "v", json!({}));
    let err = call(&sqs, "SendMessage", json!({"QueueUrl": url, "MessageBody": "bad \u{1}"})).unwrap_err();
    assert_eq!(err.code, "InvalidMessageContents");
    let err = call(&sqs, "SendMessage", json!({"QueueUrl": url})).unwrap_err();
    assert_eq!(err.message, "The request must contain the parameter MessageBody.");
    let err = call(&sqs, "GetQueueUrl", json!({"QueueName": "missing"})).unwrap_err();
    assert_eq!(crate::errors::query_code(&err.code).0, "AWS.SimpleQueueService.NonExistentQueue");
}
