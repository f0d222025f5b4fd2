//! SQS through aws-sdk-sqs, and event source mappings that poll it.

use std::collections::HashSet;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, Filter, FilterCriteria, FunctionCode, FunctionResponseType, Runtime};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::harness::*;

pub(crate) fn sqs(server: &Server) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

pub(crate) async fn queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, &str)],
) -> (String, String) {
    let mut create = sqs.create_queue().queue_name(name);
    for (k, v) in attributes {
        create = create.attributes(k.clone(), *v);
    }
    let url = create.send().await.unwrap().queue_url().unwrap().to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    (url, arn)
}

/// A Python consumer that appends each record's body to `$OUT` and reports bodies starting
/// with "fail" as batch item failures.
const CONSUMER: &[u8] = br#"
import json, os

def handler(event, context):
    failures = []
    with open(os.environ["OUT"], "a") as out:
        for record in event["Records"]:
            assert record["eventSource"] == "aws:sqs"
            out.write(json.dumps({"id": record["messageId"], "body": record["body"], "group": record["attributes"].get("MessageGroupId")}) + "\n")
            if record["body"].startswith("fail"):
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"#;

async fn consumer(lambda: &aws_sdk_lambda::Client, name: &str, out: &std::path::Path) {
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .handler("index.handler")
        .role(ROLE)
        .timeout(30)
        .environment(Environment::builder().variables("OUT", out.to_str().unwrap()).build())
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("index.py", CONSUMER)]))).build())
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, &name).await;
}

fn records(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

async fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn approximate(sqs: &aws_sdk_sqs::Client, url: &str) -> (i64, i64) {
    let attrs =
        sqs.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::All).send().await.unwrap();
    let attrs = attrs.attributes().unwrap();
    let n = |k: QueueAttributeName| attrs.get(&k).and_then(|v| v.parse().ok()).unwrap_or(-1);
    (n(QueueAttributeName::ApproximateNumberOfMessages), n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}

#[tokio::test]
async fn a_thousand_messages_through_a_mapping_each_processed_once() {
    let server = Server::start();
    let (lambda, sqs) = (server.lambda(), sqs(&server));
    let dir = TempDir::new("esm-1000");
    let out = dir.path().join("seen.jsonl");
    consumer(&lambda, "drain", &out).await;
    let (url, arn) = queue(&sqs, "work", &[]).await;
    for chunk in 0..100 {
        let mut batch = sqs.send_message_batch().queue_url(&url);
        for i in 0..10 {
            batch = batch.entries(
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .message_body(format!("msg-{}", chunk * 10 + i))
                    .build()
                    .unwrap(),
            );
        }
        assert!(batch.send().await.unwrap().failed().is_empty());
    }
    lambda
        .create_event_source_mapping()
        .function_name("drain")
        .event_source_arn(&arn)
        .batch_size(10)
        .send()
        .await
        .unwrap();
    wait_for(|| records(&out).len() >= 1000, "1000 records").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let seen = records(&out);
    let bodies: HashSet<String> = seen.iter().map(|r| r["body"].as_str().unwrap().to_string()).collect();
    assert_eq!(seen.len(), 1000, "each message exactly once");
    assert_eq!(bodies.len(), 1000);
    wait_for(|| true, "").await;
    assert_eq!(approximate(&sqs, &url).await, (0, 0));
}

#[tokio::test]
async fn partial_failures_filters_and_the_dead_letter_queue() {
    let server = Server::start();
    let (lambda, sqs) = (server.lambda(), sqs(&server));
    let dir = TempDir::new("esm-dlq");
    let out = dir.path().join("seen.jsonl");
    consumer(&lambda, "picky", &out).await;
    let (dlq_url, dlq_arn) = queue(&sqs, "work-dlq", &[]).await;
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#);
    let (url, arn) = queue(
        &sqs,
        "work2",
        &[(QueueAttributeName::RedrivePolicy, &redrive), (QueueAttributeName::VisibilityTimeout, "5")],
    )
    .await;
    for body in ["ok-1", "fail-1", "skip-1", "ok-2"] {
        sqs.send_message().queue_url(&url).message_body(body).send().await.unwrap();
    }
    lambda
        .create_event_source_mapping()
        .function_name("picky")
        .event_source_arn(&arn)
        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
        .filter_criteria(
            FilterCriteria::builder()
                .filters(Filter::builder().pattern(r#"{"body": [{"prefix": "ok"}, {"prefix": "fail"}]}"#).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_for(|| records(&out).len() >= 3, "first deliveries").await;
    // The failed message comes back after its visibility timeout (nimbus's clock), twice, then
    // the redrive policy moves it to the dead-letter queue.
    for _ in 0..2 {
        reqwest::Client::new()
            .post(format!("{}/_nimbus/clock/advance", server.endpoint()))
            .body(r#"{"seconds": 6}"#)
            .send()
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    }
    let mut moved = Vec::new();
    for _ in 0..20 {
        let got = sqs.receive_message().queue_url(&dlq_url).wait_time_seconds(1).send().await.unwrap();
        moved.extend(got.messages().iter().filter_map(|m| m.body().map(str::to_string)));
        if !moved.is_empty() {
            break;
        }
        reqwest::Client::new()
            .post(format!("{}/_nimbus/clock/advance", server.endpoint()))
            .body(r#"{"seconds": 6}"#)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(moved, ["fail-1"]);
    let seen = records(&out);
    assert!(seen.iter().all(|r| r["body"] != "skip-1"), "filtered out: {seen:?}");
    assert_eq!(seen.iter().filter(|r| r["body"] == "ok-1").count(), 1);
    assert_eq!(seen.iter().filter(|r| r["body"] == "ok-2").count(), 1);
    assert_eq!(approximate(&sqs, &url).await, (0, 0));
}

#[tokio::test]
async fn fifo_order_is_kept_per_group() {
    let server = Server::start();
    let (lambda, sqs) = (server.lambda(), sqs(&server));
    let dir = TempDir::new("esm-fifo");
    let out = dir.path().join("seen.jsonl");
    consumer(&lambda, "ordered", &out).await;
    let (url, arn) = queue(
        &sqs,
        "orders.fifo",
        &[(QueueAttributeName::FifoQueue, "true"), (QueueAttributeName::ContentBasedDeduplication, "true")],
    )
    .await;
    for i in 0..30 {
        let group = if i % 2 == 0 { "a" } else { "b" };
        sqs.send_message()
            .queue_url(&url)
            .message_body(format!("{group}-{i:02}"))
            .message_group_id(group)
            .send()
            .await
            .unwrap();
    }
    lambda
        .create_event_source_mapping()
        .function_name("ordered")
        .event_source_arn(&arn)
        .batch_size(3)
        .send()
        .await
        .unwrap();
    wait_for(|| records(&out).len() >= 30, "30 fifo records").await;
    for group in ["a", "b"] {
        let bodies: Vec<String> = records(&out)
            .iter()
            .filter(|r| r["group"] == group)
            .map(|r| r["body"].as_str().unwrap().to_string())
            .collect();
        let mut sorted = bodies.clone();
        sorted.sort();
        assert_eq!(bodies, sorted, "group {group} out of order");
        assert_eq!(bodies.len(), 15);
    }
}

#[tokio::test]
async fn acknowledged_sends_survive_kill_9() {
    let dir = TempDir::new("sqs-durable");
    let server = Server::start_with_data_dir(dir.path());
    let client = sqs(&server);
    let (url, _) = queue(&client, "durable", &[]).await;
    for i in 0..50 {
        client.send_message().queue_url(&url).message_body(format!("m{i}")).send().await.unwrap();
    }
    server.kill();
    let server = Server::start_with_data_dir(dir.path());
    let client = sqs(&server);
    let url = client.get_queue_url().queue_name("durable").send().await.unwrap().queue_url().unwrap().to_string();
    let mut bodies = HashSet::new();
    for _ in 0..20 {
        let got = client.receive_message().queue_url(&url).max_number_of_messages(10).send().await.unwrap();
        if got.messages().is_empty() {
            break;
        }
        bodies.extend(got.messages().iter().filter_map(|m| m.body().map(str::to_string)));
    }
    assert_eq!(bodies.len(), 50);
}

#[tokio::test]
async fn async_failures_reach_an_sqs_destination() {
    use aws_sdk_lambda::types::{DestinationConfig, InvocationType, OnFailure};
    let server = Server::start();
    let (lambda, client) = (server.lambda(), sqs(&server));
    let (url, arn) = queue(&client, "failures", &[]).await;
    let code = b"def handler(event, context):\n    raise RuntimeError('broken')\n";
    lambda
        .create_function()
        .function_name("broken")
        .runtime(Runtime::Python312)
        .handler("index.handler")
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("index.py", code)]))).build())
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "broken").await;
    lambda
        .put_function_event_invoke_config()
        .function_name("broken")
        .maximum_retry_attempts(0)
        .destination_config(
            DestinationConfig::builder().on_failure(OnFailure::builder().destination(&arn).build()).build(),
        )
        .send()
        .await
        .unwrap();
    lambda
        .invoke()
        .function_name("broken")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(r#"{"order": 7}"#))
        .send()
        .await
        .unwrap();
    let got = client.receive_message().queue_url(&url).wait_time_seconds(10).send().await.unwrap();
    let record: serde_json::Value = serde_json::from_str(got.messages()[0].body().unwrap()).unwrap();
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestPayload"], serde_json::json!({"order": 7}));
    assert_eq!(record["responsePayload"]["errorType"], "RuntimeError");
}

/// A failed asynchronous invocation without a destination goes to the function's dead-letter
/// queue as AWS sends it: the event as the body, `RequestID`/`ErrorMessage` String and
/// `ErrorCode` Number message attributes.
#[tokio::test]
async fn async_failures_reach_the_dead_letter_queue_with_typed_attributes() {
    use aws_sdk_lambda::types::{DeadLetterConfig, InvocationType};
    let server = Server::start();
    let (lambda, client) = (server.lambda(), sqs(&server));
    let (url, arn) = queue(&client, "dead-letters", &[]).await;
    let code = b"def handler(event, context):\n    raise RuntimeError('broken on purpose')\n";
    lambda
        .create_function()
        .function_name("doomed")
        .runtime(Runtime::Python312)
        .handler("index.handler")
        .role(ROLE)
        .dead_letter_config(DeadLetterConfig::builder().target_arn(&arn).build())
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("index.py", code)]))).build())
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "doomed").await;
    lambda.put_function_event_invoke_config().function_name("doomed").maximum_retry_attempts(0).send().await.unwrap();
    let accepted = lambda
        .invoke()
        .function_name("doomed")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(r#"{"order": 8}"#))
        .send()
        .await
        .unwrap();
    let request_id = aws_sdk_lambda::operation::RequestId::request_id(&accepted).unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let message = loop {
        let got = client
            .receive_message()
            .queue_url(&url)
            .message_attribute_names("All")
            .wait_time_seconds(5)
            .send()
            .await
            .unwrap();
        if let Some(m) = got.messages().first() {
            break m.clone();
        }
        assert!(std::time::Instant::now() < deadline, "nothing reached the dead-letter queue");
    };
    assert_eq!(message.body(), Some(r#"{"order": 8}"#));
    let attributes = message.message_attributes().unwrap();
    let typed = |name: &str| {
        let a = &attributes[name];
        (a.data_type().to_string(), a.string_value().unwrap_or_default().to_string())
    };
    assert_eq!(typed("ErrorCode"), ("Number".to_string(), "200".to_string()));
    assert_eq!(typed("ErrorMessage"), ("String".to_string(), "broken on purpose".to_string()));
    assert_eq!(typed("RequestID"), ("String".to_string(), request_id));
    assert_eq!(attributes.len(), 3);

    // An empty DeadLetterConfig leaves the queue in place (as AWS answers it); an empty
    // TargetArn removes it.
    let kept = lambda
        .update_function_configuration()
        .function_name("doomed")
        .dead_letter_config(DeadLetterConfig::builder().build())
        .send()
        .await
        .unwrap();
    assert_eq!(kept.dead_letter_config().and_then(|d| d.target_arn()), Some(arn.as_str()));
    wait_updated(&lambda, "doomed").await;
    let cleared = lambda
        .update_function_configuration()
        .function_name("doomed")
        .dead_letter_config(DeadLetterConfig::builder().target_arn("").build())
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.dead_letter_config().and_then(|d| d.target_arn()), None);
}

/// A function that sends every message it gets back to its own trigger queue (with boto3, which
/// passes the invocation's trace header on), recording each invocation's `_X_AMZN_TRACE_ID`.
const LOOPER: &[u8] = br#"
import json, os
import boto3

def handler(event, context):
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"trace": os.environ.get("_X_AMZN_TRACE_ID"),
                              "header": event["Records"][0]["attributes"].get("AWSTraceHeader")}) + "\n")
    sqs = boto3.client("sqs")
    for record in event["Records"]:
        n = int(record["body"])
        if n < int(os.environ["STOP_AFTER"]):
            sqs.send_message(QueueUrl=os.environ["QUEUE_URL"], MessageBody=str(n + 1))
"#;

async fn looper(server: &Server, name: &str, out: &std::path::Path, stop_after: u32) -> (String, String) {
    let (lambda, sqs) = (server.lambda(), sqs(server));
    let (url, arn) = queue(&sqs, &format!("{name}-q"), &[]).await;
    let stop_after = stop_after.to_string();
    create_function_with(
        &lambda,
        name,
        Runtime::Python312,
        "index.handler",
        zip_of(&[("index.py", LOOPER)]),
        30,
        &[("OUT", out.to_str().unwrap()), ("QUEUE_URL", url.as_str()), ("STOP_AFTER", stop_after.as_str())],
    )
    .await;
    lambda.create_event_source_mapping().function_name(name).event_source_arn(&arn).batch_size(1).send().await.unwrap();
    (url, arn)
}

/// Wait (up to two minutes, for a busy machine) until `path` holds `expected` records, then make
/// sure no further one arrives for a few seconds; its records.
async fn settled(path: &std::path::Path, expected: usize) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while records(path).len() < expected {
        assert!(
            std::time::Instant::now() < deadline,
            "{}: only {} of {expected} records",
            path.display(),
            records(path).len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Proving absence needs a quiet period: one more hop would have come well within it.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    records(path)
}

#[tokio::test]
async fn recursive_loops_through_sqs_stop_after_16_invocations() {
    let server = Server::start();
    let sqs = sqs(&server);
    let dir = TempDir::new("esm-loop");

    // Terminate (the default): the 17th delivery of the chain is not made, and the message is
    // dropped (the queue has no dead-letter queue).
    let out = dir.path().join("loop.jsonl");
    let (url, _) = looper(&server, "looper", &out, 100).await;
    sqs.send_message().queue_url(&url).message_body("1").send().await.unwrap();
    let seen = settled(&out, 16).await;
    assert_eq!(seen.len(), 16, "{seen:?}");
    // Each invocation runs with the chain's trace: one root, the lineage count going up.
    let root = seen[0]["trace"].as_str().unwrap().split(';').next().unwrap().to_string();
    for (i, r) in seen.iter().enumerate() {
        let trace = r["trace"].as_str().unwrap();
        assert!(trace.starts_with(&root), "{trace}");
        assert!(trace.ends_with(&format!(":{}", i + 1)), "{trace}");
        if i > 0 {
            assert!(r["header"].as_str().unwrap().ends_with(&format!(":{i}")), "{r}");
        }
    }
    wait_for_empty(&sqs, &url).await;

    // Allow: no limit (the function stops itself after 20).
    let out = dir.path().join("allowed.jsonl");
    let lambda = server.lambda();
    let (url, _) = looper(&server, "allowed", &out, 20).await;
    lambda
        .put_function_recursion_config()
        .function_name("allowed")
        .recursive_loop(aws_sdk_lambda::types::RecursiveLoop::Allow)
        .send()
        .await
        .unwrap();
    sqs.send_message().queue_url(&url).message_body("1").send().await.unwrap();
    let seen = settled(&out, 20).await;
    assert_eq!(seen.len(), 20);
}

async fn wait_for_empty(sqs: &aws_sdk_sqs::Client, url: &str) {
    for _ in 0..100 {
        if approximate(sqs, url).await == (0, 0) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("queue {url} still holds messages: {:?}", approximate(sqs, url).await);
}
