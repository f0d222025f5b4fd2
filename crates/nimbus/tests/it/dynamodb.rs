//! DynamoDB through aws-sdk-dynamodb: tables, items with expressions, queries, transactions,
//! the errors the SDK parses, and transactions surviving `kill -9`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, Put, ReturnValue, ScalarAttributeType, StreamSpecification, StreamViewType, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::client::Waiters;
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
