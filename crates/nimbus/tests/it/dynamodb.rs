//! DynamoDB through aws-sdk-dynamodb: tables, items with expressions, queries, transactions,
//! the errors the SDK parses, and transactions surviving `kill -9`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, Put, ReturnValue, ScalarAttributeType, StreamSpecification, StreamViewType, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;

use crate::harness::*;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

async fn create_table(db: &Client, name: &str) {
    db.create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("sk").attribute_type(ScalarAttributeType::N).build().unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("g").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build().unwrap())
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("byG")
                .key_schema(KeySchemaElement::builder().attribute_name("g").key_type(KeyType::Hash).build().unwrap())
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .unwrap(),
        )
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
}

#[tokio::test]
async fn tables_through_the_sdk() {
    let server = Server::start();
    let db = server.dynamodb();
    create_table(&db, "orders").await;
    db.wait_until_table_exists().table_name("orders").wait(Duration::from_secs(20)).await.unwrap();
    let described = db.describe_table().table_name("orders").send().await.unwrap();
    let table = described.table().unwrap();
    assert_eq!(table.table_status().unwrap().as_str(), "ACTIVE");
    assert_eq!(table.table_arn().unwrap(), "arn:aws:dynamodb:us-east-1:000000000000:table/orders");
    assert!(table
        .latest_stream_arn()
        .unwrap()
        .starts_with("arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/"));
    assert_eq!(table.global_secondary_indexes()[0].index_name(), Some("byG"));

    let err = db.describe_table().table_name("missing").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception());
    assert_eq!(err.message(), Some("Requested resource not found: Table: missing not found"));
    let err = db.create_table().table_name("orders").send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");

    let listed = db.list_tables().send().await.unwrap();
    assert_eq!(listed.table_names(), ["orders"]);
    db.delete_table().table_name("orders").send().await.unwrap();
    db.wait_until_table_not_exists().table_name("orders").wait(Duration::from_secs(20)).await.unwrap();
}

#[tokio::test]
async fn items_queries_and_errors_through_the_sdk() {
    let server = Server::start();
    let db = server.dynamodb();
    create_table(&db, "t").await;
    for i in 0..30 {
        db.put_item()
            .table_name("t")
            .item("pk", s("user"))
            .item("sk", n(i))
            .item("g", s(if i % 3 == 0 { "three" } else { "other" }))
            .item("amount", n("1.5"))
            .send()
            .await
            .unwrap();
    }
    let key = HashMap::from([("pk".to_string(), s("user")), ("sk".to_string(), n(7))]);
    let updated = db
        .update_item()
        .table_name("t")
        .set_key(Some(key.clone()))
        .update_expression("SET amount = amount + :d, #t = list_append(if_not_exists(#t, :empty), :l) REMOVE g")
        .expression_attribute_names("#t", "tags")
        .expression_attribute_values(":d", n("0.25"))
        .expression_attribute_values(":empty", AttributeValue::L(vec![]))
        .expression_attribute_values(":l", AttributeValue::L(vec![s("x")]))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    let attrs = updated.attributes().unwrap();
    assert_eq!(attrs["amount"], n("1.75"));
    assert_eq!(attrs["tags"], AttributeValue::L(vec![s("x")]));
    assert!(!attrs.contains_key("g"));

    let err = db
        .put_item()
        .table_name("t")
        .item("pk", s("user"))
        .item("sk", n(7))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match err {
        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) => {
            assert_eq!(e.message(), Some("The conditional request failed"));
            assert_eq!(e.item().unwrap()["amount"], n("1.75"));
        }
        other => panic!("expected ConditionalCheckFailedException, got {other:?}"),
    }

    let err = db
        .update_item()
        .table_name("t")
        .set_key(Some(key.clone()))
        .update_expression("SET a = :v,")
        .expression_attribute_values(":v", n(1))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ValidationException"));
    assert_eq!(err.message(), Some("Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \",\""));
    let err = db
        .get_item()
        .table_name("t")
        .set_key(Some(key.clone()))
        .projection_expression("amount")
        .expression_attribute_names("#unused", "x")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        err.message(),
        Some("Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}")
    );

    // Pages of 7 through the paginator; a filter and a range condition.
    let pages: Vec<_> = db
        .query()
        .table_name("t")
        .key_condition_expression("pk = :p AND sk BETWEEN :lo AND :hi")
        .expression_attribute_values(":p", s("user"))
        .expression_attribute_values(":lo", n(5))
        .expression_attribute_values(":hi", n(25))
        .limit(7)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let sks: Vec<i64> =
        pages.iter().flat_map(|p| p.items()).map(|i| i["sk"].as_n().unwrap().parse().unwrap()).collect();
    assert_eq!(sks, (5..=25).collect::<Vec<_>>());
    let index = db
        .query()
        .table_name("t")
        .index_name("byG")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("three"))
        .send()
        .await
        .unwrap();
    assert_eq!(index.count(), 10);
    let scan = db
        .scan()
        .table_name("t")
        .filter_expression("size(tags) = :one")
        .expression_attribute_values(":one", n(1))
        .send()
        .await
        .unwrap();
    assert_eq!((scan.count(), scan.scanned_count()), (1, 30));

    let cancelled = db
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(Put::builder().table_name("t").item("pk", s("new")).item("sk", n(1)).build().unwrap())
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name("t")
                        .set_key(Some(key.clone()))
                        .update_expression("SET amount = :z")
                        .condition_expression("amount = :z")
                        .expression_attribute_values(":z", n(0))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match cancelled {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => {
            let codes: Vec<_> =
                e.cancellation_reasons().iter().map(|r| r.code().unwrap_or_default().to_string()).collect();
            assert_eq!(codes, ["None", "ConditionalCheckFailed"]);
        }
        other => panic!("expected TransactionCanceledException, got {other:?}"),
    }
    let missing = db.get_item().table_name("t").key("pk", s("new")).key("sk", n(1)).send().await.unwrap();
    assert!(missing.item().is_none(), "a cancelled transaction writes nothing");
}

const WRITERS: usize = 4;
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

fn no_retry(server: &Server) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_dynamodb::config::Region::new(REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder().operation_timeout(CALL_TIMEOUT).build(),
        )
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

/// Transaction `i` of writer `w`: two items and the writer's counter, all or nothing.
async fn transaction(db: &Client, w: usize, i: usize) -> Result<(), String> {
    let put = |suffix: &str| {
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name("crash")
                    .item("pk", s(&format!("w{w}")))
                    .item("sk", n(i * 2 + (suffix == "b") as usize))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    db.transact_write_items()
        .transact_items(put("a"))
        .transact_items(put("b"))
        .transact_items(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name("crash")
                        .key("pk", s("counter"))
                        .key("sk", n(w))
                        .update_expression("ADD done :one")
                        .expression_attribute_values(":one", n(1))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactions_survive_kill_9_whole() {
    let dir = TempDir::new("nimbus-it-ddb-crash");
    let server = Server::start_with_data_dir(dir.path());
    create_table(&server.dynamodb(), "crash").await;
    let acks = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (db, acks, killed) = (no_retry(&server), acks.clone(), killed.clone());
            tokio::spawn(async move {
                let mut acked = 0usize;
                loop {
                    match transaction(&db, w, acked).await {
                        Ok(()) => {
                            acked += 1;
                            acks.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => return (acked, (!killed.load(Ordering::SeqCst)).then_some(e)),
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while acks.load(Ordering::SeqCst) < 200 && !writers.iter().any(|w| w.is_finished()) {
        assert!(started.elapsed() < Duration::from_secs(60), "writers made no progress");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    killed.store(true, Ordering::SeqCst);
    server.kill();
    let mut acked = Vec::new();
    for w in writers {
        let (n, unexpected) = w.await.unwrap();
        assert!(unexpected.is_none(), "error before the kill: {unexpected:?}");
        acked.push(n);
    }

    let server = Server::start_with_data_dir(dir.path());
    let db = server.dynamodb();
    for (w, acked) in acked.iter().enumerate() {
        let items = db
            .query()
            .table_name("crash")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s(&format!("w{w}")))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap();
        let counter = db.get_item().table_name("crash").key("pk", s("counter")).key("sk", n(w)).send().await.unwrap();
        let done: usize = counter.item().map_or(0, |i| i["done"].as_n().unwrap().parse().unwrap());
        // Every acknowledged transaction is there; the one in flight is there whole or not at all.
        assert!(done == *acked || done == acked + 1, "writer {w}: {acked} acknowledged, counter {done}");
        assert_eq!(items.len(), done * 2, "writer {w}: items of exactly the applied transactions");
    }
}

/// One raw DynamoDB (or Streams) request, signed for `dynamodb`.
async fn raw(server: &Server, target: &str, body: &[u8]) -> RawResponse {
    server
        .raw_with(
            "POST",
            "/",
            &[
                ("x-amz-target", target),
                ("content-type", "application/x-amz-json-1.0"),
                ("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"),
            ],
            body.to_vec(),
            Duration::from_secs(15),
        )
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"))
}

/// Everything a client can read back, to prove a refused request changed nothing.
async fn snapshot(db: &Client) -> String {
    let tables = db.list_tables().send().await.unwrap();
    let mut out = format!("{:?}", tables.table_names());
    for name in tables.table_names() {
        let d = db.describe_table().table_name(name).send().await.unwrap();
        let t = d.table().unwrap();
        let mut items: Vec<String> = db
            .scan()
            .table_name(name)
            .send()
            .await
            .unwrap()
            .items()
            .iter()
            .map(|i| format!("{:?}", i.iter().collect::<std::collections::BTreeMap<_, _>>()))
            .collect();
        items.sort();
        out += &format!(
            "{name}: {:?} {:?} {:?} {:?} {items:?}",
            t.item_count(),
            t.global_secondary_indexes(),
            t.stream_specification(),
            t.deletion_protection_enabled()
        );
        out += &format!(
            "{:?}",
            db.describe_time_to_live().table_name(name).send().await.unwrap().time_to_live_description()
        );
        out += &format!(
            "{:?}",
            db.list_tags_of_resource().resource_arn(t.table_arn().unwrap()).send().await.unwrap().tags()
        );
    }
    out
}

/// Values of the wrong JSON type for a model shape.
fn wrong_values(ty: &str) -> Vec<serde_json::Value> {
    use serde_json::json;
    match ty {
        "string" => vec![json!({"a": 1}), json!(["a"]), json!(5), json!(true)],
        "integer" | "long" => vec![json!("10"), json!({}), json!([1]), json!(1.5), json!(true), json!(-1e300)],
        "boolean" => vec![json!("yes"), json!(2), json!({})],
        "blob" => vec![json!(5), json!({}), json!("%%%not base64")],
        "map" => vec![json!([]), json!("k=v"), json!(5), json!({"k": 5})],
        "list" => vec![json!({}), json!("a"), json!(5), json!([5])],
        "structure" => vec![json!("s"), json!([]), json!(5)],
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn bad_input_gets_4xx_and_changes_nothing() {
    use serde_json::json;
    let server = Server::start();
    let db = server.dynamodb();
    create_table(&db, "seed").await;
    db.put_item().table_name("seed").item("pk", s("a")).item("sk", n(1)).item("v", n(1)).send().await.unwrap();
    let before = snapshot(&db).await;
    let mut cases: Vec<(String, String, Vec<u8>, Option<&str>)> = Vec::new();

    // Generated: every member of every operation of both models, with wrong JSON types.
    for (prefix, file) in [("DynamoDB_20120810", "dynamodb.json"), ("DynamoDBStreams_20120810", "dynamodbstreams.json")]
    {
        let path = format!("{}/../nimbus-dynamodb/model/{file}", env!("CARGO_MANIFEST_DIR"));
        let model: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for (op, spec) in model["operations"].as_object().unwrap() {
            let target = format!("{prefix}.{op}");
            cases.push((
                format!("{op} not json"),
                target.clone(),
                b"{\"TableName\": ".to_vec(),
                Some("SerializationException"),
            ));
            cases.push((format!("{op} array body"), target.clone(), b"[]".to_vec(), Some("SerializationException")));
            let input = spec["input"].as_str().unwrap_or_default();
            for member in model["shapes"][input]["members"].as_array().into_iter().flatten() {
                let name = member["name"].as_str().unwrap();
                let ty = model["shapes"][member["shape"].as_str().unwrap()]["type"].as_str().unwrap_or_default();
                for wrong in wrong_values(ty) {
                    let body = json!({"TableName": "seed", name: wrong});
                    cases.push((format!("{op}.{name} = {wrong}"), target.clone(), body.to_string().into_bytes(), None));
                }
            }
        }
    }
    // Semantic: what the model allows and DynamoDB still refuses.
    let d = "DynamoDB_20120810.";
    let key = json!({"pk": {"S": "a"}, "sk": {"N": "1"}});
    let deep = (0..40).fold(json!({"S": "x"}), |v, _| json!({"L": [v]}));
    for (label, op, body, code) in [
        (
            "empty attribute value",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}, "x": {}}}),
            "ValidationException",
        ),
        (
            "two types",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}, "x": {"S": "a", "N": "1"}}}),
            "ValidationException",
        ),
        (
            "nested 40 deep",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}, "x": deep}}),
            "ValidationException",
        ),
        (
            "bad number",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "b"}, "sk": {"N": "one"}}}),
            "ValidationException",
        ),
        (
            "number overflow",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "b"}, "sk": {"N": "1e200"}}}),
            "ValidationException",
        ),
        (
            "empty set",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}, "x": {"NS": []}}}),
            "ValidationException",
        ),
        (
            "duplicate set",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}, "x": {"SS": ["a", "a"]}}}),
            "ValidationException",
        ),
        (
            "bad base64",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}, "x": {"B": "%%%"}}}),
            "SerializationException",
        ),
        (
            "NULL false",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}, "x": {"NULL": false}}}),
            "ValidationException",
        ),
        ("missing key", "PutItem", json!({"TableName": "seed", "Item": {"pk": {"S": "b"}}}), "ValidationException"),
        (
            "index key type",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}, "g": {"N": "1"}}}),
            "ValidationException",
        ),
        (
            "too big",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}, "x": {"S": "x".repeat(410_000)}}}),
            "ValidationException",
        ),
        (
            "failed condition",
            "PutItem",
            json!({"TableName": "seed", "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}, "ConditionExpression": "attribute_not_exists(pk)"}),
            "ConditionalCheckFailedException",
        ),
        (
            "bad condition",
            "DeleteItem",
            json!({"TableName": "seed", "Key": key, "ConditionExpression": "v = = :x"}),
            "ValidationException",
        ),
        (
            "update syntax",
            "UpdateItem",
            json!({"TableName": "seed", "Key": key, "UpdateExpression": "SET v = v +"}),
            "ValidationException",
        ),
        (
            "update key attribute",
            "UpdateItem",
            json!({"TableName": "seed", "Key": key, "UpdateExpression": "SET sk = :x", "ExpressionAttributeValues": {":x": {"N": "2"}}}),
            "ValidationException",
        ),
        (
            "update wrong type",
            "UpdateItem",
            json!({"TableName": "seed", "Key": key, "UpdateExpression": "SET v = v + :x", "ExpressionAttributeValues": {":x": {"S": "2"}}}),
            "ValidationException",
        ),
        (
            "unused value",
            "UpdateItem",
            json!({"TableName": "seed", "Key": key, "UpdateExpression": "SET v = :x", "ExpressionAttributeValues": {":x": {"N": "2"}, ":y": {"N": "3"}}}),
            "ValidationException",
        ),
        (
            "runtime type error",
            "UpdateItem",
            json!({"TableName": "seed", "Key": key, "UpdateExpression": "ADD pk2 :x DELETE v :s", "ExpressionAttributeValues": {":x": {"N": "2"}, ":s": {"SS": ["a"]}}}),
            "ValidationException",
        ),
        (
            "mixed legacy",
            "UpdateItem",
            json!({"TableName": "seed", "Key": key, "UpdateExpression": "SET v = :x", "AttributeUpdates": {"w": {"Action": "DELETE"}}, "ExpressionAttributeValues": {":x": {"N": "2"}}}),
            "ValidationException",
        ),
        ("wrong key", "GetItem", json!({"TableName": "seed", "Key": {"pk": {"S": "a"}}}), "ValidationException"),
        ("unknown table", "GetItem", json!({"TableName": "nope", "Key": key}), "ResourceNotFoundException"),
        (
            "query no key",
            "Query",
            json!({"TableName": "seed", "KeyConditionExpression": "v = :x", "ExpressionAttributeValues": {":x": {"N": "2"}}}),
            "ValidationException",
        ),
        (
            "query bad start",
            "Query",
            json!({"TableName": "seed", "KeyConditionExpression": "pk = :x", "ExpressionAttributeValues": {":x": {"S": "a"}}, "ExclusiveStartKey": {"zz": {"S": "a"}}}),
            "ValidationException",
        ),
        ("scan segment", "Scan", json!({"TableName": "seed", "Segment": 4, "TotalSegments": 2}), "ValidationException"),
        (
            "batch duplicates",
            "BatchWriteItem",
            json!({"RequestItems": {"seed": [{"DeleteRequest": {"Key": key}}, {"DeleteRequest": {"Key": key}}]}}),
            "ValidationException",
        ),
        (
            "batch half bad",
            "BatchWriteItem",
            json!({"RequestItems": {"seed": [{"PutRequest": {"Item": {"pk": {"S": "z"}, "sk": {"N": "9"}}}}, {"PutRequest": {"Item": {"pk": {"S": "z"}}}}]}}),
            "ValidationException",
        ),
        (
            "transaction cancelled",
            "TransactWriteItems",
            json!({"TransactItems": [{"Put": {"TableName": "seed", "Item": {"pk": {"S": "t"}, "sk": {"N": "1"}}}}, {"ConditionCheck": {"TableName": "seed", "Key": key, "ConditionExpression": "attribute_not_exists(pk)"}}]}),
            "TransactionCanceledException",
        ),
        (
            "transaction same item",
            "TransactWriteItems",
            json!({"TransactItems": [{"Delete": {"TableName": "seed", "Key": key}}, {"Delete": {"TableName": "seed", "Key": key}}]}),
            "ValidationException",
        ),
        (
            "create no key schema",
            "CreateTable",
            json!({"TableName": "fresh", "BillingMode": "PAY_PER_REQUEST"}),
            "ValidationException",
        ),
        (
            "create bad billing",
            "CreateTable",
            json!({"TableName": "fresh", "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}),
            "ValidationException",
        ),
        (
            "create existing",
            "CreateTable",
            json!({"TableName": "seed", "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}),
            "ResourceInUseException",
        ),
        ("update nothing", "UpdateTable", json!({"TableName": "seed"}), "ValidationException"),
        (
            "stream twice",
            "UpdateTable",
            json!({"TableName": "seed", "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "KEYS_ONLY"}}),
            "ValidationException",
        ),
        (
            "ttl off twice",
            "UpdateTimeToLive",
            json!({"TableName": "seed", "TimeToLiveSpecification": {"Enabled": false, "AttributeName": "x"}}),
            "ValidationException",
        ),
        (
            "tag unknown",
            "TagResource",
            json!({"ResourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/nope", "Tags": [{"Key": "a", "Value": "b"}]}),
            "ResourceNotFoundException",
        ),
        ("partiql garbage", "ExecuteStatement", json!({"Statement": "SELEKT * FROM seed"}), "ValidationException"),
        (
            "partiql insert duplicate",
            "ExecuteStatement",
            json!({"Statement": "INSERT INTO \"seed\" VALUE {'pk': 'a', 'sk': 1}"}),
            "DuplicateItemException",
        ),
        (
            "partiql update missing",
            "ExecuteStatement",
            json!({"Statement": "UPDATE \"seed\" SET v = 5 WHERE pk = 'none' AND sk = 1"}),
            "ConditionalCheckFailedException",
        ),
    ] {
        cases.push((label.to_string(), format!("{d}{op}"), body.to_string().into_bytes(), Some(code)));
    }
    for (label, body) in [
        ("garbage iterator", json!({"ShardIterator": "garbage"})),
        (
            "unknown stream",
            json!({"StreamArn": "arn:aws:dynamodb:us-east-1:000000000000:table/nope/stream/2020-01-01T00:00:00.000"}),
        ),
    ] {
        let op = if label.contains("iterator") { "GetRecords" } else { "DescribeStream" };
        cases.push((label.to_string(), format!("DynamoDBStreams_20120810.{op}"), body.to_string().into_bytes(), None));
    }

    let mut failures = Vec::new();
    for (label, target, body, code) in &cases {
        let r = raw(&server, target, body).await;
        let error_type = r.header("x-amzn-ErrorType").unwrap_or_default().to_string();
        let parsed: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        let has_message = parsed.get("message").or(parsed.get("Message")).is_some_and(|m| m.is_string());
        let not_emulated = r.status == 501 && error_type == "NotImplemented";
        let ok = (400..500).contains(&r.status) && has_message && !error_type.is_empty() || not_emulated;
        if !ok || code.is_some_and(|c| c != error_type) {
            failures.push(format!("{label}: {} {error_type} {}", r.status, r.text()));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert_eq!(snapshot(&db).await, before, "a refused request changed state");
}
