//! Kinesis Data Streams through aws-sdk-kinesis: streams, shards, records, iterators,
//! resharding, consumers, tags, retention, errors, and records surviving `kill -9`.

use std::collections::HashMap;

use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{
    PutRecordsRequestEntry, ShardFilter, ShardFilterType, ShardIteratorType, StreamMode, StreamModeDetails,
};
use aws_sdk_kinesis::Client;

use crate::harness::*;

pub fn kinesis(server: &Server) -> Client {
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_kinesis::config::Region::new(REGION))
        .credentials_provider(aws_sdk_kinesis::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

pub async fn advance_clock(server: &Server, seconds: u64) {
    let response = reqwest::Client::new()
        .post(format!("{}/_nimbus/clock/advance", server.endpoint()))
        .body(format!(r#"{{"seconds": {seconds}}}"#))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

pub async fn create(client: &Client, name: &str, shards: i32) -> String {
    client.create_stream().stream_name(name).shard_count(shards).send().await.unwrap();
    let summary = client.describe_stream_summary().stream_name(name).send().await.unwrap();
    summary.stream_description_summary().unwrap().stream_arn().to_string()
}

async fn read_all(client: &Client, name: &str, shard: &str) -> Vec<aws_sdk_kinesis::types::Record> {
    let it = client
        .get_shard_iterator()
        .stream_name(name)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let mut iterator = it.shard_iterator().map(String::from);
    let mut out = Vec::new();
    while let Some(current) = iterator {
        let got = client.get_records().shard_iterator(current).send().await.unwrap();
        if got.records().is_empty() && got.millis_behind_latest() == Some(0) {
            break;
        }
        out.extend(got.records().iter().cloned());
        iterator = got.next_shard_iterator().map(String::from);
    }
    out
}

#[tokio::test]
async fn streams_are_created_described_listed_and_deleted() {
    let server = Server::start();
    let client = kinesis(&server);
    let arn = create(&client, "orders", 3).await;
    assert_eq!(arn, "arn:aws:kinesis:us-east-1:000000000000:stream/orders");
    client
        .create_stream()
        .stream_name("clicks")
        .stream_mode_details(StreamModeDetails::builder().stream_mode(StreamMode::OnDemand).build().unwrap())
        .send()
        .await
        .unwrap();

    let description = client.describe_stream().stream_name("orders").send().await.unwrap();
    let d = description.stream_description().unwrap();
    assert_eq!(d.stream_status().as_str(), "ACTIVE");
    assert_eq!(d.retention_period_hours(), 24);
    assert_eq!(d.shards().len(), 3);
    let first = &d.shards()[0];
    assert_eq!(first.shard_id(), "shardId-000000000000");
    assert_eq!(first.hash_key_range().unwrap().starting_hash_key(), "0");
    assert_eq!(first.hash_key_range().unwrap().ending_hash_key(), "113427455640312821154458202477256070484");
    assert_eq!(d.shards()[2].hash_key_range().unwrap().ending_hash_key(), "340282366920938463463374607431768211455");
    assert_eq!(first.sequence_number_range().unwrap().starting_sequence_number().len(), 56);
    assert!(first.sequence_number_range().unwrap().ending_sequence_number().is_none());

    let summary = client.describe_stream_summary().stream_name("clicks").send().await.unwrap();
    let s = summary.stream_description_summary().unwrap();
    assert_eq!(s.open_shard_count(), 4);
    assert_eq!(s.stream_mode_details().unwrap().stream_mode(), &StreamMode::OnDemand);

    let listed = client.list_streams().limit(1).send().await.unwrap();
    assert_eq!(listed.stream_names(), ["clicks"]);
    assert!(listed.has_more_streams());
    let rest = client.list_streams().next_token(listed.next_token().unwrap()).send().await.unwrap();
    assert_eq!(rest.stream_names(), ["orders"]);
    assert_eq!(rest.stream_summaries()[0].stream_arn(), arn);

    // ListShards pages with NextToken and filters.
    let page = client.list_shards().stream_name("orders").max_results(2).send().await.unwrap();
    assert_eq!(page.shards().len(), 2);
    let next = client.list_shards().next_token(page.next_token().unwrap()).send().await.unwrap();
    assert_eq!(next.shards().len(), 1);
    assert_eq!(next.shards()[0].shard_id(), "shardId-000000000002");
    let after = client
        .list_shards()
        .stream_name("orders")
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::AfterShardId)
                .shard_id("shardId-000000000000")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(after.shards().len(), 2);

    let err = client.create_stream().stream_name("orders").shard_count(1).send().await.unwrap_err();
    let err = err.into_service_error();
    assert!(err.is_resource_in_use_exception(), "{err:?}");
    assert_eq!(err.meta().message(), Some("Stream orders under account 000000000000 already exists."));

    client.delete_stream().stream_name("orders").send().await.unwrap();
    let err = client.describe_stream().stream_name("orders").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(err.meta().message(), Some("Stream orders under account 000000000000 not found."));
}

#[tokio::test]
async fn records_route_by_md5_and_read_back_in_order() {
    let server = Server::start();
    let client = kinesis(&server);
    create(&client, "events", 2).await;
    // MD5("a") starts 0x0c… (low half: shard 0); MD5("b") starts 0x92… (high half: shard 1).
    let a = client.put_record().stream_name("events").partition_key("a").data(Blob::new("one")).send().await.unwrap();
    assert_eq!(a.shard_id(), "shardId-000000000000");
    let b = client.put_record().stream_name("events").partition_key("b").data(Blob::new("two")).send().await.unwrap();
    assert_eq!(b.shard_id(), "shardId-000000000001");
    let explicit = client
        .put_record()
        .stream_name("events")
        .partition_key("a")
        .explicit_hash_key("340282366920938463463374607431768211455")
        .data(Blob::new("three"))
        .send()
        .await
        .unwrap();
    assert_eq!(explicit.shard_id(), "shardId-000000000001");
    assert!(explicit.sequence_number() > b.sequence_number());

    let entries: Vec<PutRecordsRequestEntry> = (0..50)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("key-{}", i % 5))
                .data(Blob::new(format!("batch-{i}")))
                .build()
                .unwrap()
        })
        .collect();
    let put = client.put_records().stream_name("events").set_records(Some(entries)).send().await.unwrap();
    assert_eq!(put.failed_record_count(), Some(0));
    assert_eq!(put.records().len(), 50);

    let mut by_shard: HashMap<String, Vec<String>> = HashMap::new();
    for r in put.records() {
        by_shard.entry(r.shard_id().unwrap().to_string()).or_default().push(r.sequence_number().unwrap().to_string());
    }
    let shard1 = read_all(&client, "events", "shardId-000000000001").await;
    assert_eq!(shard1[0].data().as_ref(), b"two");
    assert_eq!(shard1[1].data().as_ref(), b"three");
    let sequences: Vec<String> = shard1.iter().skip(2).map(|r| r.sequence_number().to_string()).collect();
    assert_eq!(sequences, by_shard.get("shardId-000000000001").cloned().unwrap_or_default());
    let mut sorted = sequences.clone();
    sorted.sort();
    assert_eq!(sorted, sequences, "sequence numbers grow within a shard");
    let shard0 = read_all(&client, "events", "shardId-000000000000").await;
    assert_eq!(shard0.len() + shard1.len(), 53);
    assert!(shard0[0].approximate_arrival_timestamp().is_some());

    // Limit, MillisBehindLatest, AT/AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP.
    let it = client
        .get_shard_iterator()
        .stream_name("events")
        .shard_id("shardId-000000000001")
        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
        .starting_sequence_number(b.sequence_number())
        .send()
        .await
        .unwrap();
    let got = client.get_records().shard_iterator(it.shard_iterator().unwrap()).limit(1).send().await.unwrap();
    assert_eq!(got.records().len(), 1);
    assert_eq!(got.records()[0].data().as_ref(), b"three");
    let latest = client
        .get_shard_iterator()
        .stream_name("events")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::Latest)
        .send()
        .await
        .unwrap();
    let none = client.get_records().shard_iterator(latest.shard_iterator().unwrap()).send().await.unwrap();
    assert!(none.records().is_empty());
    assert_eq!(none.millis_behind_latest(), Some(0));
    client.put_record().stream_name("events").partition_key("a").data(Blob::new("late")).send().await.unwrap();
    let late = client.get_records().shard_iterator(none.next_shard_iterator().unwrap()).send().await.unwrap();
    assert_eq!(late.records().len(), 1);
    assert_eq!(late.records()[0].data().as_ref(), b"late");
    let future = client
        .get_shard_iterator()
        .stream_name("events")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_secs(4_000_000_000))
        .send()
        .await
        .unwrap();
    let empty = client.get_records().shard_iterator(future.shard_iterator().unwrap()).send().await.unwrap();
    assert!(empty.records().is_empty());

    // A sequence number of another shard is refused with AWS's words.
    let err = client
        .get_shard_iterator()
        .stream_name("events")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(b.sequence_number())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_eq!(
        err.meta().message(),
        Some("Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a shard with shardId-000000000000")
    );
}

#[tokio::test]
async fn bad_records_and_expired_iterators_get_kinesis_errors() {
    let server = Server::start();
    let client = kinesis(&server);
    create(&client, "strict", 1).await;
    let big = vec![b'x'; 1024 * 1024 + 1];
    let err =
        client.put_record().stream_name("strict").partition_key("k").data(Blob::new(big)).send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(err.meta().code(), Some("ValidationException"));
    assert_eq!(
        err.meta().message(),
        Some("1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576")
    );
    let err =
        client.put_record().stream_name("strict").partition_key("").data(Blob::new("x")).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("ValidationException"));
    let long_key = "k".repeat(257);
    let err = client
        .put_record()
        .stream_name("strict")
        .partition_key(long_key)
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("ValidationException"));
    let err = client
        .put_record()
        .stream_name("strict")
        .partition_key("k")
        .explicit_hash_key("340282366920938463463374607431768211456")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    // Six records of 1 MiB exceed the 5 MiB request limit.
    let entries: Vec<PutRecordsRequestEntry> = (0..6)
        .map(|i| {
            PutRecordsRequestEntry::builder()
                .partition_key(format!("k{i}"))
                .data(Blob::new(vec![b'y'; 1024 * 1024]))
                .build()
                .unwrap()
        })
        .collect();
    let err = client.put_records().stream_name("strict").set_records(Some(entries)).send().await.unwrap_err();
    let err = err.into_service_error();
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_eq!(err.meta().message(), Some("Records size exceeds 5 MB limit"));
    let err =
        client.put_record().stream_name("missing").partition_key("k").data(Blob::new("x")).send().await.unwrap_err();
    assert!(err.into_service_error().is_resource_not_found_exception());
    // Nothing of the refused requests was stored.
    assert!(read_all(&client, "strict", "shardId-000000000000").await.is_empty());

    client.put_record().stream_name("strict").partition_key("k").data(Blob::new("kept")).send().await.unwrap();
    let it = client
        .get_shard_iterator()
        .stream_name("strict")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    advance_clock(&server, 301).await;
    let err = client.get_records().shard_iterator(it.shard_iterator().unwrap()).send().await.unwrap_err();
    let err = err.into_service_error();
    assert!(err.is_expired_iterator_exception(), "{err:?}");
    assert!(err.meta().message().unwrap().starts_with("Iterator expired. The iterator was created at time "));
    let err = client.get_records().shard_iterator("not-an-iterator").send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    // The record is still there for a fresh iterator.
    assert_eq!(read_all(&client, "strict", "shardId-000000000000").await.len(), 1);
}

#[tokio::test]
async fn retention_tags_encryption_and_consumers() {
    let server = Server::start();
    let client = kinesis(&server);
    let arn = create(&client, "kept", 1).await;
    client.put_record().stream_name("kept").partition_key("k").data(Blob::new("old")).send().await.unwrap();
    let err = client.decrease_stream_retention_period().stream_name("kept").retention_period_hours(12).send().await;
    let err = err.unwrap_err().into_service_error();
    assert_eq!(
        err.meta().message(),
        Some("Minimum allowed retention period is 24 hours. Requested retention period (12 hours) is too short.")
    );
    client.increase_stream_retention_period().stream_name("kept").retention_period_hours(48).send().await.unwrap();
    let err = client.increase_stream_retention_period().stream_name("kept").retention_period_hours(30).send().await;
    assert!(err.unwrap_err().into_service_error().is_invalid_argument_exception());
    // 25 hours later the record is still within 48 hours; 24 more and it is trimmed.
    advance_clock(&server, 25 * 3600).await;
    assert_eq!(read_all(&client, "kept", "shardId-000000000000").await.len(), 1);
    advance_clock(&server, 24 * 3600).await;
    let mut trimmed = false;
    for _ in 0..100 {
        if read_all(&client, "kept", "shardId-000000000000").await.is_empty() {
            trimmed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(trimmed, "records older than the retention period are trimmed");

    client.add_tags_to_stream().stream_name("kept").tags("team", "data").tags("env", "dev").send().await.unwrap();
    client.remove_tags_from_stream().stream_name("kept").tag_keys("env").send().await.unwrap();
    let tags = client.list_tags_for_stream().stream_name("kept").send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].key(), "team");
    let by_arn = client.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(by_arn.tags().len(), 1);

    client
        .start_stream_encryption()
        .stream_name("kept")
        .encryption_type(aws_sdk_kinesis::types::EncryptionType::Kms)
        .key_id("alias/aws/kinesis")
        .send()
        .await
        .unwrap();
    let d = client.describe_stream_summary().stream_name("kept").send().await.unwrap();
    let d = d.stream_description_summary().unwrap();
    assert_eq!(d.encryption_type().map(|e| e.as_str()), Some("KMS"));
    assert_eq!(d.key_id(), Some("alias/aws/kinesis"));
    assert_eq!(d.retention_period_hours(), 48);

    let registered = client.register_stream_consumer().stream_arn(&arn).consumer_name("fan").send().await.unwrap();
    let consumer = registered.consumer().unwrap();
    assert!(consumer.consumer_arn().starts_with(&format!("{arn}/consumer/fan:")));
    let described = client.describe_stream_consumer().stream_arn(&arn).consumer_name("fan").send().await.unwrap();
    assert_eq!(described.consumer_description().unwrap().stream_arn(), arn);
    let listed = client.list_stream_consumers().stream_arn(&arn).send().await.unwrap();
    assert_eq!(listed.consumers().len(), 1);
    let err = client.delete_stream().stream_name("kept").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_in_use_exception(), "{err:?}");
    client.deregister_stream_consumer().consumer_arn(consumer.consumer_arn()).send().await.unwrap();
    assert!(client.list_stream_consumers().stream_arn(&arn).send().await.unwrap().consumers().is_empty());
    client.delete_stream().stream_name("kept").send().await.unwrap();
}

#[tokio::test]
async fn resharding_closes_parents_that_stay_readable() {
    let server = Server::start();
    let client = kinesis(&server);
    create(&client, "reshard", 1).await;
    client.put_record().stream_name("reshard").partition_key("a").data(Blob::new("before")).send().await.unwrap();
    client
        .split_shard()
        .stream_name("reshard")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .unwrap();
    let shards = client.list_shards().stream_name("reshard").send().await.unwrap();
    let shards = shards.shards();
    assert_eq!(shards.len(), 3);
    assert!(shards[0].sequence_number_range().unwrap().ending_sequence_number().is_some());
    assert_eq!(shards[1].parent_shard_id(), Some("shardId-000000000000"));
    assert_eq!(shards[2].hash_key_range().unwrap().starting_hash_key(), "170141183460469231731687303715884105728");
    let open = client
        .list_shards()
        .stream_name("reshard")
        .shard_filter(ShardFilter::builder().r#type(ShardFilterType::AtLatest).build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(open.shards().len(), 2);

    let after =
        client.put_record().stream_name("reshard").partition_key("a").data(Blob::new("after")).send().await.unwrap();
    assert_eq!(after.shard_id(), "shardId-000000000001");
    // The closed parent still has its record; reading it to the end names the children.
    let it = client
        .get_shard_iterator()
        .stream_name("reshard")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let got = client.get_records().shard_iterator(it.shard_iterator().unwrap()).send().await.unwrap();
    assert_eq!(got.records().len(), 1);
    assert_eq!(got.records()[0].data().as_ref(), b"before");
    assert!(got.next_shard_iterator().is_none());
    assert_eq!(got.child_shards().len(), 2);

    client
        .merge_shards()
        .stream_name("reshard")
        .shard_to_merge("shardId-000000000001")
        .adjacent_shard_to_merge("shardId-000000000002")
        .send()
        .await
        .unwrap();
    let err = client
        .split_shard()
        .stream_name("reshard")
        .shard_to_split("shardId-000000000001")
        .new_starting_hash_key("5")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    let updated = client
        .update_shard_count()
        .stream_name("reshard")
        .target_shard_count(2)
        .scaling_type(aws_sdk_kinesis::types::ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.current_shard_count(), Some(1));
    assert_eq!(updated.target_shard_count(), Some(2));
    let shards = client.list_shards().stream_name("reshard").send().await.unwrap();
    let merged = &shards.shards()[3];
    assert_eq!(merged.parent_shard_id(), Some("shardId-000000000001"));
    assert_eq!(merged.adjacent_parent_shard_id(), Some("shardId-000000000002"));
    let newest: Vec<_> = shards.shards().iter().skip(4).collect();
    assert_eq!(newest.len(), 2);
    assert!(newest.iter().all(|s| s.parent_shard_id() == Some("shardId-000000000003")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_records_survive_kill_9() {
    let dir = std::env::temp_dir().join(format!("nimbus-kinesis-persist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::start_with_data_dir(&dir);
    let client = kinesis(&server);
    create(&client, "durable", 2).await;
    client.add_tags_to_stream().stream_name("durable").tags("k", "v").send().await.unwrap();
    let mut acked = Vec::new();
    for batch in 0..20 {
        let entries: Vec<PutRecordsRequestEntry> = (0..25)
            .map(|i| {
                PutRecordsRequestEntry::builder()
                    .partition_key(format!("p{i}"))
                    .data(Blob::new(format!("{batch}-{i}")))
                    .build()
                    .unwrap()
            })
            .collect();
        let put = client.put_records().stream_name("durable").set_records(Some(entries)).send().await.unwrap();
        acked.extend(put.records().iter().map(|r| r.sequence_number().unwrap().to_string()));
    }
    client
        .split_shard()
        .stream_name("durable")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("1000")
        .send()
        .await
        .unwrap();
    let last =
        client.put_record().stream_name("durable").partition_key("p1").data(Blob::new("last")).send().await.unwrap();
    server.kill();

    let server = Server::start_with_data_dir(&dir);
    let client = kinesis(&server);
    let shards = client.list_shards().stream_name("durable").send().await.unwrap();
    assert_eq!(shards.shards().len(), 4);
    let mut seen = Vec::new();
    for shard in shards.shards() {
        seen.extend(
            read_all(&client, "durable", shard.shard_id()).await.iter().map(|r| r.sequence_number().to_string()),
        );
    }
    for seq in &acked {
        assert!(seen.contains(seq), "acknowledged record {seq} lost");
    }
    assert!(seen.contains(&last.sequence_number().to_string()));
    assert_eq!(seen.len(), acked.len() + 1);
    // New records sort after the old ones.
    let next =
        client.put_record().stream_name("durable").partition_key("p1").data(Blob::new("next")).send().await.unwrap();
    assert_eq!(next.shard_id(), last.shard_id());
    assert!(next.sequence_number() > last.sequence_number());
    let tags = client.list_tags_for_stream().stream_name("durable").send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
