//! SNS through aws-sdk-sns: topics, subscriptions, fan-out to SQS (enveloped and raw) and
//! Lambda (`Records[].Sns`), filter policies, FIFO, PublishBatch, real signatures, DLQs.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::harness::*;

pub fn sns(server: &Server) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_sns::config::Region::new(REGION))
        .credentials_provider(aws_sdk_sns::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

pub fn sqs(server: &Server) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// A queue's URL and ARN.
pub async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    let mut create = sqs.create_queue().queue_name(name);
    if name.ends_with(".fifo") {
        create = create.attributes(QueueAttributeName::FifoQueue, "true");
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

/// Receive until `n` messages arrived (long polls, generous for a loaded machine).
pub async fn receive(sqs: &aws_sdk_sqs::Client, url: &str, n: usize) -> Vec<aws_sdk_sqs::types::Message> {
    let mut got = Vec::new();
    for _ in 0..40 {
        if got.len() >= n {
            break;
        }
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap();
        got.extend(out.messages().iter().cloned());
    }
    got
}

/// A Python function that appends each event it gets to `$OUT`, one JSON line each.
pub const RECORDER: &[u8] = br#"
import json, os

def handler(event, context):
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps(event) + "\n")
    return {"ok": True}
"#;

pub async fn recorder(lambda: &aws_sdk_lambda::Client, name: &str, out: &std::path::Path) -> String {
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .handler("index.handler")
        .role(ROLE)
        .timeout(30)
        .environment(Environment::builder().variables("OUT", out.to_str().unwrap()).build())
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("index.py", RECORDER)]))).build())
        .send()
        .await
        .unwrap()
        .function_arn()
        .unwrap()
        .to_string()
}

pub async fn allow(lambda: &aws_sdk_lambda::Client, function: &str, principal: &str, source_arn: &str) {
    lambda
        .add_permission()
        .function_name(function)
        .statement_id(format!("allow-{}", principal.replace('.', "-")))
        .action("lambda:InvokeFunction")
        .principal(principal)
        .source_arn(source_arn)
        .send()
        .await
        .unwrap();
}

pub fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

pub async fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn string_attr(v: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder().data_type("String").string_value(v).build().unwrap()
}

#[tokio::test]
async fn publish_fans_out_to_sqs_enveloped_raw_and_filtered() {
    let server = Server::start();
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns.create_topic().name("orders").send().await.unwrap().topic_arn().unwrap().to_string();
    assert_eq!(topic, "arn:aws:sns:us-east-1:000000000000:orders");
    let (env_url, env_arn) = queue(&sqs, "enveloped").await;
    let (raw_url, raw_arn) = queue(&sqs, "raw").await;
    let (red_url, red_arn) = queue(&sqs, "red-only").await;
    let (body_url, body_arn) = queue(&sqs, "big-only").await;
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&env_arn).send().await.unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&raw_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    let red = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&red_arn)
        .attributes("FilterPolicy", r#"{"color": ["red"], "size": [{"numeric": [">", 3]}]}"#)
        .send()
        .await
        .unwrap()
        .subscription_arn()
        .unwrap()
        .to_string();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&body_arn)
        .attributes("FilterPolicy", r#"{"order": {"total": [{"numeric": [">=", 100]}]}}"#)
        .attributes("FilterPolicyScope", "MessageBody")
        .send()
        .await
        .unwrap();

    let number = MessageAttributeValue::builder().data_type("Number").string_value("5").build().unwrap();
    let first = sns
        .publish()
        .topic_arn(&topic)
        .subject("New order")
        .message(r#"{"order": {"total": 150}}"#)
        .message_attributes("color", string_attr("red"))
        .message_attributes("size", number)
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message(r#"{"order": {"total": 5}}"#)
        .message_attributes("color", string_attr("blue"))
        .send()
        .await
        .unwrap();

    let enveloped = receive(&sqs, &env_url, 2).await;
    assert_eq!(enveloped.len(), 2);
    let note: Value =
        serde_json::from_str(enveloped.iter().find(|m| m.body().unwrap().contains("150")).unwrap().body().unwrap())
            .unwrap();
    assert_eq!(note["Type"], "Notification");
    assert_eq!(note["MessageId"], first.message_id().unwrap());
    assert_eq!(note["TopicArn"], topic.as_str());
    assert_eq!(note["Subject"], "New order");
    assert_eq!(note["Message"], r#"{"order": {"total": 150}}"#);
    assert_eq!(note["SignatureVersion"], "1");
    assert_eq!(note["MessageAttributes"]["color"], serde_json::json!({"Type": "String", "Value": "red"}));
    assert_eq!(note["MessageAttributes"]["size"], serde_json::json!({"Type": "Number", "Value": "5"}));
    assert!(note["UnsubscribeURL"].as_str().unwrap().contains("Action=Unsubscribe&SubscriptionArn=arn:aws:sns:"));
    verify_signature(&note).await;

    let raw = receive(&sqs, &raw_url, 2).await;
    let raw_first = raw.iter().find(|m| m.body() == Some(r#"{"order": {"total": 150}}"#)).expect("raw body");
    let attrs = raw_first.message_attributes().unwrap();
    assert_eq!(attrs["color"].string_value(), Some("red"));
    assert_eq!(attrs["size"].data_type(), "Number");

    let reds = receive(&sqs, &red_url, 1).await;
    assert_eq!(reds.len(), 1, "only the red, size>3 message passes the attribute policy");
    assert!(reds[0].body().unwrap().contains("150"));
    let bigs = receive(&sqs, &body_url, 1).await;
    assert_eq!(bigs.len(), 1, "only the total>=100 message passes the body policy");
    assert!(bigs[0].body().unwrap().contains("150"));

    let attrs = sns.get_subscription_attributes().subscription_arn(&red).send().await.unwrap();
    let attrs = attrs.attributes().unwrap();
    assert_eq!(attrs["FilterPolicyScope"], "MessageAttributes");
    assert_eq!(attrs["PendingConfirmation"], "false");
    let topic_attrs = sns.get_topic_attributes().topic_arn(&topic).send().await.unwrap();
    assert_eq!(topic_attrs.attributes().unwrap()["SubscriptionsConfirmed"], "4");

    // Unsubscribing through the URL in the message stops deliveries to that queue.
    let unsubscribe = note["UnsubscribeURL"].as_str().unwrap().to_string();
    let status = reqwest::get(&unsubscribe).await.unwrap().status();
    assert_eq!(status, 200);
    let subs = sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.unwrap();
    assert!(subs.subscriptions().iter().all(|s| s.endpoint() != Some(env_arn.as_str())));
}

/// Check `note`'s signature against the certificate at its `SigningCertURL`, with openssl.
async fn verify_signature(note: &Value) {
    verify_signed_fields(note, &["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]).await;
}

/// Check the signature over `fields` (AWS's canonical order, absent ones skipped).
async fn verify_signed_fields(note: &Value, fields: &[&str]) {
    use base64::Engine;
    let cert = reqwest::get(note["SigningCertURL"].as_str().unwrap()).await.unwrap().text().await.unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    let mut text = String::new();
    for k in fields {
        if let Some(v) = note[k].as_str() {
            text.push_str(&format!("{k}\n{v}\n"));
        }
    }
    let dir = TempDir::new("sns-signature");
    let (cert_path, key_path, sig_path, text_path) =
        (dir.path().join("c.pem"), dir.path().join("k.pem"), dir.path().join("s.bin"), dir.path().join("t.txt"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&text_path, text).unwrap();
    let sig = base64::engine::general_purpose::STANDARD.decode(note["Signature"].as_str().unwrap()).unwrap();
    std::fs::write(&sig_path, sig).unwrap();
    let pubkey = std::process::Command::new("openssl")
        .args(["x509", "-pubkey", "-noout", "-in"])
        .arg(&cert_path)
        .output()
        .expect("openssl");
    std::fs::write(&key_path, pubkey.stdout).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha1", "-verify"])
        .arg(&key_path)
        .arg("-signature")
        .arg(&sig_path)
        .arg(&text_path)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK", "{out:?}");
}

#[tokio::test]
async fn lambda_subscription_gets_the_sns_event_and_needs_permission() {
    let server = Server::start();
    let (sns, sqs, lambda) = (sns(&server), sqs(&server), server.lambda());
    let dir = TempDir::new("sns-lambda");
    let out = dir.path().join("events.jsonl");
    let function = recorder(&lambda, "on-sns", &out).await;
    let topic = sns.create_topic().name("alerts").send().await.unwrap().topic_arn().unwrap().to_string();
    // Without a resource policy for sns.amazonaws.com the delivery fails into the DLQ.
    let (dlq_url, dlq_arn) = queue(&sqs, "sns-dlq").await;
    let sub = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("lambda")
        .endpoint(&function)
        .attributes("RedrivePolicy", format!(r#"{{"deadLetterTargetArn": "{dlq_arn}"}}"#))
        .send()
        .await
        .unwrap()
        .subscription_arn()
        .unwrap()
        .to_string();
    sns.publish().topic_arn(&topic).message("denied").send().await.unwrap();
    let dead = receive(&sqs, &dlq_url, 1).await;
    assert_eq!(dead.len(), 1, "the undeliverable message is in the subscription's DLQ");
    assert!(dead[0].body().unwrap().contains("denied"));

    allow(&lambda, "on-sns", "sns.amazonaws.com", &topic).await;
    let published = sns.publish().topic_arn(&topic).message("hello lambda").send().await.unwrap();
    wait_for(|| !lines(&out).is_empty(), "the SNS event").await;
    let event = &lines(&out)[0];
    let record = &event["Records"][0];
    assert_eq!(record["EventSource"], "aws:sns");
    assert_eq!(record["EventVersion"], "1.0");
    assert_eq!(record["EventSubscriptionArn"], sub.as_str());
    let n = &record["Sns"];
    assert_eq!(n["Type"], "Notification");
    assert_eq!(n["MessageId"], published.message_id().unwrap());
    assert_eq!(n["TopicArn"], topic.as_str());
    assert!(n.as_object().unwrap().contains_key("Subject") && n["Subject"].is_null(), "Subject is null: {n}");
    assert_eq!(n["Message"], "hello lambda");
    assert_eq!(n["SignatureVersion"], "1");
    assert!(n["SigningCertUrl"].as_str().unwrap().ends_with(".pem"));
    assert!(n["UnsubscribeUrl"].as_str().unwrap().contains("Action=Unsubscribe"));
    assert_eq!(n["MessageAttributes"], serde_json::json!({}));
    assert!(n["Timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn fifo_topics_deduplicate_and_keep_groups_and_batches_report_per_entry() {
    let server = Server::start();
    let (sns, sqs) = (sns(&server), sqs(&server));
    let err = sns.create_topic().name("plain.fifo").send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidParameter"));
    let topic = sns
        .create_topic()
        .name("ledger.fifo")
        .attributes("FifoTopic", "true")
        .attributes("ContentBasedDeduplication", "true")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_string();
    let (url, arn) = queue(&sqs, "ledger.fifo").await;
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&arn).send().await.unwrap();
    let err = sns.publish().topic_arn(&topic).message("no group").send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(err.meta().code(), Some("InvalidParameter"));
    assert_eq!(
        err.meta().message(),
        Some("Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    );
    let a = sns.publish().topic_arn(&topic).message("one").message_group_id("g1").send().await.unwrap();
    let again = sns.publish().topic_arn(&topic).message("one").message_group_id("g1").send().await.unwrap();
    assert_eq!(a.message_id(), again.message_id(), "a duplicate within 5 minutes is the same message");
    let b = sns.publish().topic_arn(&topic).message("two").message_group_id("g1").send().await.unwrap();
    assert!(b.sequence_number().unwrap() > a.sequence_number().unwrap());
    let got = receive(&sqs, &url, 2).await;
    let messages: Vec<String> = got
        .iter()
        .map(|m| serde_json::from_str::<Value>(m.body().unwrap()).unwrap()["Message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(messages, ["one", "two"]);

    let plain = sns.create_topic().name("batch").send().await.unwrap().topic_arn().unwrap().to_string();
    let entry = |id: &str, m: &str| PublishBatchRequestEntry::builder().id(id).message(m).build().unwrap();
    let out = sns
        .publish_batch()
        .topic_arn(&plain)
        .publish_batch_request_entries(entry("ok", "fine"))
        .publish_batch_request_entries(entry("bad", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(out.successful().len(), 1);
    assert_eq!(out.successful()[0].id(), Some("ok"));
    assert_eq!(out.failed()[0].id(), "bad");
    assert_eq!(out.failed()[0].code(), "InvalidParameter");
    assert!(out.failed()[0].sender_fault());
    let mut too_many = sns.publish_batch().topic_arn(&plain);
    for i in 0..11 {
        too_many = too_many.publish_batch_request_entries(entry(&i.to_string(), "m"));
    }
    let err = too_many.send().await.unwrap_err().into_service_error();
    assert_eq!(err.meta().code(), Some("TooManyEntriesInBatchRequest"));
    let err = sns.get_topic_attributes().topic_arn(format!("{plain}-gone")).send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(err.meta().code(), Some("NotFound"));
    assert_eq!(err.meta().message(), Some("Topic does not exist"));
}

#[tokio::test]
async fn sns_state_survives_kill_9() {
    let dir = TempDir::new("sns-persist");
    let server = Server::start_with_data_dir(dir.path());
    let (sns_client, sqs_client) = (sns(&server), sqs(&server));
    let topic = sns_client.create_topic().name("kept").send().await.unwrap().topic_arn().unwrap().to_string();
    let (_, arn) = queue(&sqs_client, "kept-q").await;
    sns_client
        .subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    sns_client
        .tag_resource()
        .resource_arn(&topic)
        .tags(aws_sdk_sns::types::Tag::builder().key("k").value("v").build().unwrap())
        .send()
        .await
        .unwrap();
    server.kill();
    let server = Server::start_with_data_dir(dir.path());
    let (sns_client, sqs_client) = (sns(&server), sqs(&server));
    let subs = sns_client.list_subscriptions_by_topic().topic_arn(&topic).send().await.unwrap();
    assert_eq!(subs.subscriptions().len(), 1);
    let tags = sns_client.list_tags_for_resource().resource_arn(&topic).send().await.unwrap();
    assert_eq!(tags.tags()[0].value(), "v");
    sns_client.publish().topic_arn(&topic).message("after restart").send().await.unwrap();
    let url = sqs_client.get_queue_url().queue_name("kept-q").send().await.unwrap().queue_url().unwrap().to_string();
    let got = receive(&sqs_client, &url, 1).await;
    assert_eq!(got[0].body(), Some("after restart"));
}

/// One request an endpoint in the test received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: std::collections::HashMap<String, String>,
    pub body: String,
}

/// A small HTTP endpoint the test runs (as a user's subscriber would): it records each POST
/// and answers with the next scripted status (200 once the script is empty).
pub struct Endpoint {
    pub url: String,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
    pub script: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>,
}

impl Endpoint {
    pub async fn start() -> Endpoint {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let script = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let (r, sc) = (received.clone(), script.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                let (r, sc) = (r.clone(), sc.clone());
                tokio::spawn(async move {
                    let mut raw = Vec::new();
                    let mut buf = [0u8; 8192];
                    let (head_end, length) = loop {
                        let n = stream.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        raw.extend_from_slice(&buf[..n]);
                        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (end + 4, length);
                        }
                    };
                    while raw.len() < head_end + length {
                        let n = stream.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        raw.extend_from_slice(&buf[..n]);
                    }
                    let head = String::from_utf8_lossy(&raw[..head_end - 4]).to_string();
                    let mut lines = head.split("\r\n");
                    let path = lines.next().unwrap_or("").split(' ').nth(1).unwrap_or("").to_string();
                    let headers = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    let body = String::from_utf8_lossy(&raw[head_end..]).to_string();
                    r.lock().unwrap().push(Received { path, headers, body });
                    let status = sc.lock().unwrap().pop_front().unwrap_or(200);
                    let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        Endpoint { url, received, script }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize, what: &str) -> Vec<Received> {
        wait_for(|| self.received.lock().unwrap().len() >= n, what).await;
        self.received()
    }
}

async fn advance(server: &Server, seconds: u64) {
    let status = reqwest::Client::new()
        .post(format!("{}/_nimbus/clock/advance", server.endpoint()))
        .body(format!(r#"{{"seconds": {seconds}}}"#))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn http_subscriptions_confirm_then_get_notifications_with_retries_and_a_dlq() {
    let server = Server::start();
    let (sns, sqs) = (sns(&server), sqs(&server));
    let topic = sns.create_topic().name("hooks").send().await.unwrap().topic_arn().unwrap().to_string();
    let endpoint = Endpoint::start().await;
    let pending = sns.subscribe().topic_arn(&topic).protocol("http").endpoint(&endpoint.url).send().await.unwrap();
    assert_eq!(pending.subscription_arn(), Some("pending confirmation"));

    // The confirmation handshake, as SNS sends it.
    let got = endpoint.wait_for(1, "the SubscriptionConfirmation").await;
    let confirmation = &got[0];
    assert_eq!(confirmation.path, "/hook");
    assert_eq!(confirmation.headers["x-amz-sns-message-type"], "SubscriptionConfirmation");
    assert_eq!(confirmation.headers["x-amz-sns-topic-arn"], topic);
    assert_eq!(confirmation.headers["content-type"], "text/plain; charset=UTF-8");
    assert_eq!(confirmation.headers["user-agent"], "Amazon Simple Notification Service Agent");
    assert!(!confirmation.headers.contains_key("x-amz-sns-subscription-arn"));
    let body: Value = serde_json::from_str(&confirmation.body).unwrap();
    assert_eq!(body["Type"], "SubscriptionConfirmation");
    assert_eq!(body["MessageId"], confirmation.headers["x-amz-sns-message-id"].as_str());
    assert_eq!(body["TopicArn"], topic.as_str());
    assert_eq!(
        body["Message"],
        format!(
            "You have chosen to subscribe to the topic {topic}.\nTo confirm the subscription, visit the SubscribeURL included in this message."
        )
    );
    let token = body["Token"].as_str().unwrap().to_string();
    let subscribe_url = body["SubscribeURL"].as_str().unwrap().to_string();
    assert!(subscribe_url.contains("Action=ConfirmSubscription") && subscribe_url.contains(&token));
    assert_eq!(body["SignatureVersion"], "1");
    verify_signed_fields(&body, &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"])
        .await;
    let listed = sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.unwrap();
    assert_eq!(listed.subscriptions()[0].subscription_arn(), Some("PendingConfirmation"));
    let published = sns.publish().topic_arn(&topic).message("before confirming").send().await.unwrap();
    assert!(published.message_id().is_some());

    // Visiting SubscribeURL confirms it (ConfirmSubscription's XML answer).
    let answer = reqwest::get(&subscribe_url).await.unwrap();
    assert_eq!(answer.status(), 200);
    let xml = answer.text().await.unwrap();
    assert!(xml.contains("<ConfirmSubscriptionResult>"), "{xml}");
    let listed = sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.unwrap();
    let sub_arn = listed.subscriptions()[0].subscription_arn().unwrap().to_string();
    assert!(sub_arn.starts_with(&format!("{topic}:")), "{sub_arn}");
    let again = sns.confirm_subscription().topic_arn(&topic).token(&token).send().await.unwrap();
    assert_eq!(again.subscription_arn(), Some(sub_arn.as_str()));

    let attrs = sns.get_subscription_attributes().subscription_arn(&sub_arn).send().await.unwrap();
    let effective: Value = serde_json::from_str(&attrs.attributes().unwrap()["EffectiveDeliveryPolicy"]).unwrap();
    assert_eq!(effective["healthyRetryPolicy"]["numRetries"], 3);
    assert_eq!(effective["healthyRetryPolicy"]["minDelayTarget"], 20);
    assert_eq!(effective["requestPolicy"]["headerContentType"], "text/plain; charset=UTF-8");
    assert!(effective["sicklyRetryPolicy"].is_null());
    // A topic-level policy becomes the subscription's effective one, and the topic reports it.
    let topic_policy =
        r#"{"http": {"defaultHealthyRetryPolicy": {"numRetries": 5, "minDelayTarget": 1, "maxDelayTarget": 9}}}"#;
    sns.set_topic_attributes()
        .topic_arn(&topic)
        .attribute_name("DeliveryPolicy")
        .attribute_value(topic_policy)
        .send()
        .await
        .unwrap();
    let attrs = sns.get_subscription_attributes().subscription_arn(&sub_arn).send().await.unwrap();
    let effective: Value = serde_json::from_str(&attrs.attributes().unwrap()["EffectiveDeliveryPolicy"]).unwrap();
    assert_eq!(effective["healthyRetryPolicy"]["numRetries"], 5);
    let attrs = sns.get_topic_attributes().topic_arn(&topic).send().await.unwrap();
    let effective: Value = serde_json::from_str(&attrs.attributes().unwrap()["EffectiveDeliveryPolicy"]).unwrap();
    assert_eq!(effective["http"]["defaultHealthyRetryPolicy"]["numRetries"], 5);
    assert_eq!(effective["http"]["defaultRequestPolicy"]["headerContentType"], "text/plain; charset=UTF-8");

    // A notification, enveloped, with the subscription's header.
    let published = sns.publish().topic_arn(&topic).subject("Hi").message("hello endpoint").send().await.unwrap();
    let got = endpoint.wait_for(2, "the Notification").await;
    assert_eq!(got.len(), 2, "nothing was sent before the subscription was confirmed");
    let note = &got[1];
    assert_eq!(note.headers["x-amz-sns-message-type"], "Notification");
    assert_eq!(note.headers["x-amz-sns-message-id"], published.message_id().unwrap());
    assert_eq!(note.headers["x-amz-sns-subscription-arn"], sub_arn);
    assert_eq!(note.headers["x-amz-sns-topic-arn"], topic);
    let body: Value = serde_json::from_str(&note.body).unwrap();
    assert_eq!(body["Type"], "Notification");
    assert_eq!(body["Subject"], "Hi");
    assert_eq!(body["Message"], "hello endpoint");
    assert!(body["UnsubscribeURL"].as_str().unwrap().contains(&sub_arn));
    verify_signature(&body).await;

    // Raw delivery: the message itself; 5xx answers are retried per the subscription's policy
    // on nimbus's clock, then the message goes to the dead-letter queue.
    let (dlq_url, dlq_arn) = queue(&sqs, "hook-dlq").await;
    for (name, value) in [
        ("RawMessageDelivery", "true".to_string()),
        (
            "DeliveryPolicy",
            r#"{"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 30, "maxDelayTarget": 30}}"#.into(),
        ),
        ("RedrivePolicy", format!(r#"{{"deadLetterTargetArn": "{dlq_arn}"}}"#)),
    ] {
        sns.set_subscription_attributes()
            .subscription_arn(&sub_arn)
            .attribute_name(name)
            .attribute_value(value)
            .send()
            .await
            .unwrap();
    }
    let err = sns
        .set_subscription_attributes()
        .subscription_arn(&sub_arn)
        .attribute_name("DeliveryPolicy")
        .attribute_value(r#"{"healthyRetryPolicy": {"minDelayTarget": 30, "maxDelayTarget": 5}}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidParameter"));
    endpoint.script.lock().unwrap().extend([500, 503, 500]);
    sns.publish().topic_arn(&topic).message("raw and failing").send().await.unwrap();
    let got = endpoint.wait_for(3, "the first attempt").await;
    assert_eq!(got[2].body, "raw and failing");
    assert_eq!(got[2].headers["x-amz-sns-rawdelivery"], "true");
    advance(&server, 30).await;
    endpoint.wait_for(4, "the first retry").await;
    advance(&server, 30).await;
    let got = endpoint.wait_for(5, "the second retry").await;
    assert!(got[3..].iter().all(|r| r.body == "raw and failing"));
    let dead = receive(&sqs, &dlq_url, 1).await;
    assert_eq!(dead.len(), 1, "the spent message is in the DLQ");
    assert_eq!(dead[0].body(), Some("raw and failing"));
    assert_eq!(endpoint.received().len(), 5, "two retries, no more");

    // A retry that succeeds delivers once and sends nothing to the DLQ.
    endpoint.script.lock().unwrap().push_back(500);
    sns.publish().topic_arn(&topic).message("second time lucky").send().await.unwrap();
    endpoint.wait_for(6, "the failing attempt").await;
    advance(&server, 30).await;
    let got = endpoint.wait_for(7, "the successful retry").await;
    assert_eq!(got[6].body, "second time lucky");

    // Unsubscribing stops the retries of a failing delivery: a second endpoint, subscribed
    // afterwards, gets its notification while the first gets nothing more.
    endpoint.script.lock().unwrap().push_back(500);
    sns.publish().topic_arn(&topic).message("then unsubscribed").send().await.unwrap();
    endpoint.wait_for(8, "the failing attempt before unsubscribing").await;
    sns.unsubscribe().subscription_arn(&sub_arn).send().await.unwrap();
    // The endpoint is told, with a token that could restore the subscription.
    let got = endpoint.wait_for(9, "the UnsubscribeConfirmation").await;
    let goodbye = &got[8];
    assert_eq!(goodbye.headers["x-amz-sns-message-type"], "UnsubscribeConfirmation");
    assert_eq!(goodbye.headers["x-amz-sns-subscription-arn"], sub_arn);
    let body: Value = serde_json::from_str(&goodbye.body).unwrap();
    assert_eq!(
        body["Message"],
        format!(
            "You have chosen to deactivate subscription {sub_arn}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message."
        )
    );
    verify_signed_fields(&body, &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"])
        .await;
    let restore_token = body["Token"].as_str().unwrap().to_string();
    let err = sns.get_subscription_attributes().subscription_arn(&sub_arn).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("NotFound"));
    let second = Endpoint::start().await;
    sns.subscribe().topic_arn(&topic).protocol("http").endpoint(&second.url).send().await.unwrap();
    let token = serde_json::from_str::<Value>(&second.wait_for(1, "the second confirmation").await[0].body).unwrap()
        ["Token"]
        .as_str()
        .unwrap()
        .to_string();
    sns.confirm_subscription().topic_arn(&topic).token(&token).send().await.unwrap();
    advance(&server, 30).await;
    sns.publish().topic_arn(&topic).message("only the second").send().await.unwrap();
    let got = second.wait_for(2, "the second endpoint's notification").await;
    assert!(got[1].body.contains("only the second"));
    advance(&server, 30).await;
    sns.publish().topic_arn(&topic).message("still only the second").send().await.unwrap();
    second.wait_for(3, "the second endpoint's next notification").await;
    assert_eq!(endpoint.received().len(), 9, "no retry after the subscription was deleted");

    // The unsubscribe token restores the subscription, under its ARN.
    let restored = sns.confirm_subscription().topic_arn(&topic).token(&restore_token).send().await.unwrap();
    assert_eq!(restored.subscription_arn(), Some(sub_arn.as_str()));
    sns.publish().topic_arn(&topic).message("welcome back").send().await.unwrap();
    let got = endpoint.wait_for(10, "the restored subscription's notification").await;
    assert_eq!(got[9].body, "welcome back", "raw delivery kept");
}
