//! Stream event source mappings: Python functions driven by Kinesis and by DynamoDB Streams,
//! with AWS's event shapes, ordering, checkpoints and the error knobs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob as KBlob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    DestinationConfig, Environment, EventSourcePosition, Filter, FilterCriteria, FunctionCode, FunctionResponseType,
    OnFailure, Runtime,
};
use serde_json::Value;

use crate::harness::*;
use crate::kinesis::{advance_clock, create, kinesis};

/// Each invocation becomes one file `<ns>-<request id>.json` in `$OUT` holding the record
/// payloads (Kinesis data decoded; DynamoDB `eventName`) and the whole event. `MODE` picks a
/// failure behaviour.
const HANDLER: &[u8] = br#"
import base64, json, os, time

def handler(event, context):
    mode = os.environ.get("MODE", "")
    recs = []
    for r in event.get("Records", []):
        if "kinesis" in r:
            recs.append(base64.b64decode(r["kinesis"]["data"]).decode())
        else:
            recs.append(r["eventName"])
    line = {"records": recs}
    if mode != "quiet":
        line["event"] = event
    name = "%019d-%s.json" % (time.time_ns(), context.aws_request_id)
    with open(os.path.join(os.environ["OUT"], name), "w") as f:
        json.dump(line, f)
    if mode == "poison" and "poison" in recs:
        raise Exception("poison record")
    if mode == "flaky":
        marker = os.path.join(os.environ["OUT"], "flaky.marker")
        for r in event["Records"]:
            if base64.b64decode(r["kinesis"]["data"]).decode() == "flaky" and not os.path.exists(marker):
                open(marker, "w").close()
                return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]}]}
    if mode == "window":
        return {"state": {"count": event["state"].get("count", 0) + len(recs)}}
    return {}
"#;

struct Out(PathBuf);

impl Out {
    fn new(tag: &str) -> Out {
        let dir = std::env::temp_dir().join(format!("nimbus-stream-esm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Out(dir)
    }

    /// The invocations so far, in the order they started.
    fn invocations(&self) -> Vec<Value> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.retain(|n| n.ends_with(".json"));
        names.sort();
        names
            .iter()
            .filter_map(|n| std::fs::read_to_string(self.0.join(n)).ok())
            .filter_map(|t| serde_json::from_str(&t).ok())
            .collect()
    }

    fn records(&self) -> Vec<String> {
        self.invocations()
            .iter()
            .flat_map(|i| i["records"].as_array().cloned().unwrap_or_default())
            .filter_map(|r| r.as_str().map(String::from))
            .collect()
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn function(lambda: &aws_sdk_lambda::Client, name: &str, out: &Path, mode: &str) {
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .handler("index.handler")
        .role(ROLE)
        .timeout(30)
        .environment(Environment::builder().variables("OUT", out.to_str().unwrap()).variables("MODE", mode).build())
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("index.py", HANDLER)]))).build())
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, &name).await;
}

async fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn put(client: &aws_sdk_kinesis::Client, stream: &str, records: &[(String, String)]) {
    for chunk in records.chunks(500) {
        let entries: Vec<PutRecordsRequestEntry> = chunk
            .iter()
            .map(|(key, data)| {
                PutRecordsRequestEntry::builder().partition_key(key).data(KBlob::new(data.as_bytes())).build().unwrap()
            })
            .collect();
        let out = client.put_records().stream_name(stream).set_records(Some(entries)).send().await.unwrap();
        assert_eq!(out.failed_record_count(), Some(0));
    }
}

/// `n` records over `keys` partition keys, data `"<key>:<i>"` with `i` counting per key.
fn keyed(n: usize, keys: usize, from: usize) -> Vec<(String, String)> {
    (from..from + n).map(|i| (format!("k{}", i % keys), format!("k{}:{}", i % keys, i / keys))).collect()
}

/// Every record exactly once, and in put order per key.
fn assert_once_in_key_order(records: &[String], expected: usize) {
    let mut seen = std::collections::HashSet::new();
    let mut last: HashMap<String, i64> = HashMap::new();
    for r in records {
        assert!(seen.insert(r.clone()), "record {r} delivered twice");
        let (key, n) = r.split_once(':').unwrap();
        let n: i64 = n.parse().unwrap();
        let prev = last.insert(key.to_string(), n).unwrap_or(-1);
        assert_eq!(n, prev + 1, "record {r} out of order for its key");
    }
    assert_eq!(seen.len(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kinesis_records_reach_the_function_in_order_with_aws_event_shape() {
    let server = Server::start();
    let lambda = server.lambda();
    let client = kinesis(&server);
    let out = Out::new("shape");
    function(&lambda, "reader", &out.0, "").await;
    let arn = create(&client, "orders", 2).await;
    put(&client, "orders", &keyed(200, 7, 0)).await;
    let mapping = lambda
        .create_event_source_mapping()
        .function_name("reader")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .batch_size(50)
        .send()
        .await
        .unwrap();
    put(&client, "orders", &keyed(100, 7, 200)).await;
    wait_for(|| out.records().len() >= 300, "300 records").await;
    assert_once_in_key_order(&out.records(), 300);
    let invocations = out.invocations();
    assert!(invocations.iter().all(|i| i["records"].as_array().unwrap().len() <= 50), "BatchSize is kept");
    let record = &invocations[0]["event"]["Records"][0];
    assert_eq!(record["eventSource"], "aws:kinesis");
    assert_eq!(record["eventVersion"], "1.0");
    assert_eq!(record["eventName"], "aws:kinesis:record");
    assert_eq!(record["awsRegion"], REGION);
    assert_eq!(record["eventSourceARN"], arn.as_str());
    assert_eq!(record["invokeIdentityArn"], ROLE);
    let k = &record["kinesis"];
    assert_eq!(k["kinesisSchemaVersion"], "1.0");
    let seq = k["sequenceNumber"].as_str().unwrap();
    assert_eq!(seq.len(), 56);
    let event_id = record["eventID"].as_str().unwrap();
    assert!(event_id.starts_with("shardId-00000000000") && event_id.ends_with(&format!(":{seq}")), "{event_id}");
    assert!(k["partitionKey"].as_str().unwrap().starts_with('k'));
    assert!(k["approximateArrivalTimestamp"].as_f64().unwrap() > 1.7e9);

    let got = lambda.get_event_source_mapping().uuid(mapping.uuid().unwrap()).send().await.unwrap();
    assert_eq!(got.state(), Some("Enabled"));
    assert_eq!(got.last_processing_result(), Some("OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_stream_changes_reach_the_function() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        StreamSpecification, StreamViewType,
    };
    let server = Server::start();
    let lambda = server.lambda();
    let db = server.dynamodb();
    let out = Out::new("ddb");
    function(&lambda, "ddb-reader", &out.0, "").await;
    db.create_table()
        .table_name("people")
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().unwrap())
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let table = db.describe_table().table_name("people").send().await.unwrap();
    let stream_arn = table.table().unwrap().latest_stream_arn().unwrap().to_string();
    lambda
        .create_event_source_mapping()
        .function_name("ddb-reader")
        .event_source_arn(&stream_arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .filter_criteria(
            FilterCriteria::builder()
                .filters(
                    Filter::builder().pattern(r#"{"dynamodb": {"Keys": {"id": {"S": [{"prefix": "p"}]}}}}"#).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let item = |id: &str, name: &str| {
        HashMap::from([
            ("id".to_string(), AttributeValue::S(id.into())),
            ("name".to_string(), AttributeValue::S(name.into())),
        ])
    };
    db.put_item().table_name("people").set_item(Some(item("p1", "Ada"))).send().await.unwrap();
    db.put_item().table_name("people").set_item(Some(item("skip", "filtered out"))).send().await.unwrap();
    db.put_item().table_name("people").set_item(Some(item("p1", "Grace"))).send().await.unwrap();
    db.delete_item().table_name("people").key("id", AttributeValue::S("p1".into())).send().await.unwrap();
    wait_for(|| out.records().len() >= 3, "three stream records").await;
    assert_eq!(out.records(), ["INSERT", "MODIFY", "REMOVE"]);
    let records: Vec<Value> =
        out.invocations().iter().flat_map(|i| i["event"]["Records"].as_array().cloned().unwrap_or_default()).collect();
    let modify = &records[1];
    assert_eq!(modify["eventSource"], "aws:dynamodb");
    assert_eq!(modify["eventVersion"], "1.1");
    assert_eq!(modify["awsRegion"], REGION);
    assert_eq!(modify["eventSourceARN"], stream_arn.as_str());
    assert!(modify["eventID"].as_str().is_some_and(|s| !s.is_empty()));
    let d = &modify["dynamodb"];
    assert_eq!(d["Keys"]["id"]["S"], "p1");
    assert_eq!(d["NewImage"]["name"]["S"], "Grace");
    assert_eq!(d["OldImage"]["name"]["S"], "Ada");
    assert_eq!(d["StreamViewType"], "NEW_AND_OLD_IMAGES");
    assert!(d["SequenceNumber"].as_str().is_some());
    assert!(d["SizeBytes"].as_u64().is_some());
    assert!(d["ApproximateCreationDateTime"].as_f64().is_some());
    assert!(records[2]["dynamodb"].get("NewImage").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_record_is_bisected_to_an_sqs_on_failure_destination() {
    let server = Server::start();
    let lambda = server.lambda();
    let client = kinesis(&server);
    let sqs = crate::sqs_esm::sqs(&server);
    let queue = sqs.create_queue().queue_name("failures").send().await.unwrap().queue_url().unwrap().to_string();
    let queue_arn = "arn:aws:sqs:us-east-1:000000000000:failures";
    let out = Out::new("poison");
    function(&lambda, "picky", &out.0, "poison").await;
    let arn = create(&client, "poisoned", 1).await;
    let mut records: Vec<(String, String)> = (0..8).map(|i| ("k".to_string(), format!("k:{i}"))).collect();
    records[5].1 = "poison".into();
    put(&client, "poisoned", &records).await;
    lambda
        .create_event_source_mapping()
        .function_name("picky")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .batch_size(8)
        .bisect_batch_on_function_error(true)
        .maximum_retry_attempts(5)
        .destination_config(
            DestinationConfig::builder().on_failure(OnFailure::builder().destination(queue_arn).build()).build(),
        )
        .send()
        .await
        .unwrap();
    let mut message = None;
    for _ in 0..120 {
        let got = sqs.receive_message().queue_url(&queue).wait_time_seconds(1).send().await.unwrap();
        if let Some(m) = got.messages().first() {
            message = Some(m.body().unwrap().to_string());
            break;
        }
    }
    let message: Value = serde_json::from_str(&message.expect("an on-failure record")).unwrap();
    assert_eq!(message["requestContext"]["condition"], "RetryAttemptsExhausted");
    assert_eq!(message["requestContext"]["functionArn"], "arn:aws:lambda:us-east-1:000000000000:function:picky");
    assert_eq!(message["requestContext"]["approximateInvokeCount"], 6);
    assert_eq!(message["responseContext"]["functionError"], "Unhandled");
    assert_eq!(message["responseContext"]["statusCode"], 200);
    assert_eq!(message["version"], "1.0");
    let info = &message["KinesisBatchInfo"];
    assert_eq!(info["batchSize"], 1);
    assert_eq!(info["shardId"], "shardId-000000000000");
    assert_eq!(info["streamArn"], arn.as_str());
    assert_eq!(info["startSequenceNumber"], info["endSequenceNumber"]);
    // Every good record was processed successfully once bisection isolated the poison.
    wait_for(
        || {
            let ok: std::collections::HashSet<String> = out.records().into_iter().filter(|r| r != "poison").collect();
            ok.len() == 7
        },
        "the seven good records",
    )
    .await;
    // The shard is unblocked: a later record goes through.
    put(&client, "poisoned", &[("k".into(), "after".into())]).await;
    wait_for(|| out.records().contains(&"after".to_string()), "the record after the poison").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reported_item_failures_resume_from_the_lowest_failed_record() {
    let server = Server::start();
    let lambda = server.lambda();
    let client = kinesis(&server);
    let out = Out::new("partial");
    function(&lambda, "partial", &out.0, "flaky").await;
    let arn = create(&client, "partial", 1).await;
    let data = ["a", "b", "flaky", "c", "d"];
    put(&client, "partial", &data.iter().map(|d| ("k".to_string(), d.to_string())).collect::<Vec<_>>()).await;
    lambda
        .create_event_source_mapping()
        .function_name("partial")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
        .send()
        .await
        .unwrap();
    wait_for(|| out.invocations().len() >= 2, "the retry").await;
    let batches: Vec<Vec<String>> = out
        .invocations()
        .iter()
        .map(|i| i["records"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect())
        .collect();
    assert_eq!(batches[0], ["a", "b", "flaky", "c", "d"]);
    assert_eq!(batches[1], ["flaky", "c", "d"]);
    assert_eq!(batches.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn filters_and_a_tumbling_window_carry_state_to_the_final_invoke() {
    let server = Server::start();
    let lambda = server.lambda();
    let client = kinesis(&server);
    let out = Out::new("window");
    function(&lambda, "counter", &out.0, "window").await;
    let arn = create(&client, "window", 1).await;
    lambda
        .create_event_source_mapping()
        .function_name("counter")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .tumbling_window_in_seconds(900)
        .filter_criteria(
            FilterCriteria::builder()
                .filters(Filter::builder().pattern(r#"{"data": {"kind": ["keep"]}}"#).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let rec = |kind: &str, n: u32| ("k".to_string(), format!(r#"{{"kind": "{kind}", "n": {n}}}"#));
    put(&client, "window", &[rec("keep", 1), rec("drop", 2), rec("keep", 3)]).await;
    wait_for(|| !out.invocations().is_empty(), "the first window invocation").await;
    put(&client, "window", &[rec("keep", 4), ("k".into(), "not json".into()), rec("keep", 5)]).await;
    wait_for(|| out.records().len() >= 4, "the second window invocation").await;
    advance_clock(&server, 1000).await;
    wait_for(|| out.invocations().iter().any(|i| i["event"]["isFinalInvokeForWindow"] == true), "the final invoke")
        .await;
    let invocations = out.invocations();
    assert_eq!(out.records().len(), 4, "filtered records are skipped");
    assert!(out.records().iter().all(|r| r.contains("keep")));
    let first = &invocations[0]["event"];
    assert_eq!(first["state"], serde_json::json!({}));
    assert_eq!(first["isFinalInvokeForWindow"], false);
    assert_eq!(first["isWindowTerminatedEarly"], false);
    assert_eq!(first["shardId"], "shardId-000000000000");
    assert_eq!(first["eventSourceARN"], arn.as_str());
    assert!(first["window"]["start"].as_str().unwrap().ends_with('Z'));
    let last = &invocations.last().unwrap()["event"];
    assert_eq!(last["isFinalInvokeForWindow"], true);
    assert_eq!(last["state"]["count"], 4);
    assert_eq!(last["Records"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_records_in_parallel_lanes_keep_per_key_order_through_a_reshard() {
    let server = Server::start();
    let lambda = server.lambda();
    let client = kinesis(&server);
    let out = Out::new("parallel");
    function(&lambda, "fast", &out.0, "quiet").await;
    let arn = create(&client, "busy", 2).await;
    lambda
        .create_event_source_mapping()
        .function_name("fast")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .batch_size(500)
        .parallelization_factor(4)
        .send()
        .await
        .unwrap();
    put(&client, "busy", &keyed(5_000, 40, 0)).await;
    client
        .split_shard()
        .stream_name("busy")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("85070591730234615865843651857942052864")
        .send()
        .await
        .unwrap();
    put(&client, "busy", &keyed(5_000, 40, 5_000)).await;
    wait_for(|| out.records().len() >= 10_000, "10,000 records").await;
    assert_once_in_key_order(&out.records(), 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disabled_mapping_and_a_restart_resume_from_the_checkpoint() {
    let dir = std::env::temp_dir().join(format!("nimbus-stream-esm-persist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Out::new("resume");
    let server = Server::start_with_data_dir(&dir);
    let lambda = server.lambda();
    let client = kinesis(&server);
    function(&lambda, "resumer", &out.0, "quiet").await;
    let arn = create(&client, "resume", 1).await;
    let mapping = lambda
        .create_event_source_mapping()
        .function_name("resumer")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::Latest)
        .send()
        .await
        .unwrap();
    let uuid = mapping.uuid().unwrap().to_string();
    put(&client, "resume", &keyed(5, 1, 0)).await;
    wait_for(|| out.records().len() >= 5, "the first five").await;
    lambda.update_event_source_mapping().uuid(&uuid).enabled(false).send().await.unwrap();
    put(&client, "resume", &keyed(5, 1, 5)).await;
    lambda.update_event_source_mapping().uuid(&uuid).enabled(true).send().await.unwrap();
    wait_for(|| out.records().len() >= 10, "the five put while disabled").await;
    assert_once_in_key_order(&out.records(), 10);
    server.kill();

    let server = Server::start_with_data_dir(&dir);
    let client = kinesis(&server);
    put(&client, "resume", &keyed(5, 1, 10)).await;
    wait_for(|| out.records().iter().any(|r| r == "k0:14"), "the records after the restart").await;
    // At least once: only a batch whose checkpoint the kill cut off may come again.
    let records = out.records();
    let distinct: std::collections::HashSet<&String> = records.iter().collect();
    assert_eq!(distinct.len(), 15);
    assert!(records.len() <= 20, "at most one batch redelivered: {records:?}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn records_older_than_the_maximum_age_go_to_the_on_failure_destination() {
    let server = Server::start();
    let lambda = server.lambda();
    let client = kinesis(&server);
    let sqs = crate::sqs_esm::sqs(&server);
    let queue = sqs.create_queue().queue_name("too-old").send().await.unwrap().queue_url().unwrap().to_string();
    let out = Out::new("age");
    function(&lambda, "aged", &out.0, "quiet").await;
    let arn = create(&client, "aged", 1).await;
    put(&client, "aged", &keyed(3, 1, 0)).await;
    advance_clock(&server, 120).await;
    lambda
        .create_event_source_mapping()
        .function_name("aged")
        .event_source_arn(&arn)
        .starting_position(EventSourcePosition::TrimHorizon)
        .maximum_record_age_in_seconds(60)
        .destination_config(
            DestinationConfig::builder()
                .on_failure(OnFailure::builder().destination("arn:aws:sqs:us-east-1:000000000000:too-old").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut message = None;
    for _ in 0..120 {
        let got = sqs.receive_message().queue_url(&queue).wait_time_seconds(1).send().await.unwrap();
        if let Some(m) = got.messages().first() {
            message = Some(m.body().unwrap().to_string());
            break;
        }
    }
    let message: Value = serde_json::from_str(&message.expect("an on-failure record")).unwrap();
    assert_eq!(message["requestContext"]["condition"], "RecordAgeExceeded");
    assert_eq!(message["KinesisBatchInfo"]["batchSize"], 3);
    put(&client, "aged", &keyed(1, 1, 3)).await;
    wait_for(|| !out.records().is_empty(), "the fresh record").await;
    assert_eq!(out.records(), ["k0:3"], "expired records are never delivered");
}
