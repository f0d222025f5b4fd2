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

// ---------------------------------------------------------------------------------------------
// Enhanced fan-out: SubscribeToShard's event stream, over HTTP/1.1 and h2c.

mod efo {
    use std::time::{Duration, Instant};

    use aws_sdk_kinesis::operation::subscribe_to_shard::SubscribeToShardOutput;
    use aws_sdk_kinesis::primitives::Blob;
    use aws_sdk_kinesis::types::{
        Record, ShardIteratorType, StartingPosition, SubscribeToShardEvent, SubscribeToShardEventStream,
    };
    use aws_sdk_kinesis::Client;

    use super::{advance_clock, create, kinesis};
    use crate::harness::*;

    /// Generous for a loaded machine; the push itself is far quicker (see `PUSH`).
    const DEADLINE: Duration = Duration::from_secs(30);
    /// A record put while subscribed must arrive well before the 5-second empty heartbeat
    /// would have carried it: it is pushed, not polled.
    const PUSH: Duration = Duration::from_millis(2_500);

    /// An aws-sdk-kinesis client over h2c (HTTP/2 with prior knowledge), as the Java SDK's
    /// Netty client talks HTTP/2 to a plain `http://` endpoint.
    pub mod h2c {
        use aws_smithy_runtime_api::client::http::{
            HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
            SharedHttpConnector,
        };
        use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
        use aws_smithy_runtime_api::client::result::ConnectorError;
        use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
        use aws_smithy_types::body::SdkBody;
        use hyper_util::client::legacy::connect::HttpConnector as Tcp;
        use hyper_util::client::legacy::Client;
        use hyper_util::rt::TokioExecutor;

        #[derive(Debug, Clone)]
        struct H2c(Client<Tcp, SdkBody>);

        impl HttpConnector for H2c {
            fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
                let client = self.0.clone();
                HttpConnectorFuture::new(async move {
                    let request = request.try_into_http1x().map_err(|e| ConnectorError::other(e.into(), None))?;
                    let response = client.request(request).await.map_err(|e| ConnectorError::io(e.into()))?;
                    assert_eq!(response.version(), http::Version::HTTP_2, "the answer came over HTTP/2");
                    let (parts, body) = response.into_parts();
                    let response = http::Response::from_parts(parts, SdkBody::from_body_1_x(body));
                    aws_smithy_runtime_api::http::Response::try_from(response)
                        .map_err(|e| ConnectorError::other(e.into(), None))
                })
            }
        }

        impl HttpClient for H2c {
            fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
                SharedHttpConnector::new(self.clone())
            }
        }

        pub fn client() -> SharedHttpClient {
            SharedHttpClient::new(H2c(Client::builder(TokioExecutor::new()).http2_only(true).build_http()))
        }
    }

    fn kinesis_h2c(server: &Server) -> Client {
        let config = aws_sdk_kinesis::Config::builder()
            .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
            .endpoint_url(server.endpoint())
            .region(aws_sdk_kinesis::config::Region::new(REGION))
            .credentials_provider(aws_sdk_kinesis::config::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .http_client(h2c::client())
            .build();
        Client::from_conf(config)
    }

    async fn consumer(client: &Client, stream_arn: &str, name: &str) -> String {
        let registered =
            client.register_stream_consumer().stream_arn(stream_arn).consumer_name(name).send().await.unwrap();
        registered.consumer().unwrap().consumer_arn().to_string()
    }

    async fn subscribe(
        client: &Client,
        consumer: &str,
        shard: &str,
        position: StartingPosition,
    ) -> SubscribeToShardOutput {
        client
            .subscribe_to_shard()
            .consumer_arn(consumer)
            .shard_id(shard)
            .starting_position(position)
            .send()
            .await
            .unwrap()
    }

    fn at(kind: ShardIteratorType) -> StartingPosition {
        StartingPosition::builder().r#type(kind).build().unwrap()
    }

    /// The next event of the stream, within the deadline; `None` when the stream ended.
    async fn next_event(out: &mut SubscribeToShardOutput) -> Option<SubscribeToShardEvent> {
        let got = tokio::time::timeout(DEADLINE, out.event_stream.recv()).await.expect("an event within the deadline");
        match got.unwrap() {
            Some(SubscribeToShardEventStream::SubscribeToShardEvent(event)) => Some(event),
            Some(other) => panic!("unexpected event {other:?}"),
            None => None,
        }
    }

    /// Events until `n` records have come (heartbeats with none are skipped).
    async fn records(out: &mut SubscribeToShardOutput, n: usize) -> (Vec<Record>, SubscribeToShardEvent) {
        let mut got = Vec::new();
        loop {
            let event = next_event(out).await.expect("the stream goes on");
            got.extend(event.records().iter().cloned());
            if got.len() >= n {
                return (got, event);
            }
        }
    }

    fn data(records: &[Record]) -> Vec<String> {
        records.iter().map(|r| String::from_utf8(r.data().as_ref().to_vec()).unwrap()).collect()
    }

    async fn put(client: &Client, stream: &str, text: &str) -> String {
        let out =
            client.put_record().stream_name(stream).partition_key("k").data(Blob::new(text)).send().await.unwrap();
        out.sequence_number().to_string()
    }

    /// What a Rust user's SDK does against `http://`: its default client speaks HTTP/1.1 there
    /// (HTTP/2 is negotiated only over TLS), and the event stream arrives as a chunked body.
    #[tokio::test]
    async fn subscribe_to_shard_pushes_records_as_an_event_stream() {
        let server = Server::start();
        let client = kinesis(&server);
        let arn = create(&client, "fan", 1).await;
        let first = put(&client, "fan", "one").await;
        put(&client, "fan", "two").await;
        let fan = consumer(&client, &arn, "reader").await;
        let shard = "shardId-000000000000";

        let mut sub = subscribe(&client, &fan, shard, at(ShardIteratorType::TrimHorizon)).await;
        let (got, event) = records(&mut sub, 2).await;
        assert_eq!(data(&got), ["one", "two"]);
        assert_eq!(got[0].sequence_number(), first);
        assert_eq!(got[0].partition_key(), Some("k"));
        assert!(got[0].approximate_arrival_timestamp().is_some());
        assert_eq!(event.continuation_sequence_number(), got[1].sequence_number());
        assert_eq!(event.millis_behind_latest(), 0);
        assert!(event.child_shards().is_empty());

        // Pushed while subscribed: it arrives long before the 5-second heartbeat.
        let sent = Instant::now();
        let third = put(&client, "fan", "three").await;
        let (got, _) = records(&mut sub, 1).await;
        assert!(sent.elapsed() < PUSH, "took {:?}", sent.elapsed());
        assert_eq!(data(&got), ["three"]);

        // A second call within 5 seconds is refused.
        let err = client
            .subscribe_to_shard()
            .consumer_arn(&fan)
            .shard_id(shard)
            .starting_position(at(ShardIteratorType::Latest))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_resource_in_use_exception(), "{err:?}");

        // Five seconds on, a new call takes over (reading on after a sequence number) and the
        // first stream ends with ResourceInUseException.
        advance_clock(&server, 6).await;
        let after = StartingPosition::builder()
            .r#type(ShardIteratorType::AfterSequenceNumber)
            .sequence_number(&first)
            .build()
            .unwrap();
        let mut taken = subscribe(&client, &fan, shard, after).await;
        let (got, _) = records(&mut taken, 2).await;
        assert_eq!(data(&got), ["two", "three"]);
        let ended = loop {
            match tokio::time::timeout(DEADLINE, sub.event_stream.recv()).await.unwrap() {
                Ok(Some(_)) => continue,
                other => break other,
            }
        };
        let err = ended.unwrap_err().into_service_error();
        assert!(err.is_resource_in_use_exception(), "{err:?}");

        // AT_SEQUENCE_NUMBER and AT_TIMESTAMP from another consumer.
        let other = consumer(&client, &arn, "second").await;
        let at_third = StartingPosition::builder()
            .r#type(ShardIteratorType::AtSequenceNumber)
            .sequence_number(&third)
            .build()
            .unwrap();
        let mut from_third = subscribe(&client, &other, shard, at_third).await;
        assert_eq!(data(&records(&mut from_third, 1).await.0), ["three"]);
        drop(from_third);
        let other_shard_consumer = consumer(&client, &arn, "third").await;
        let since = aws_sdk_kinesis::primitives::DateTime::from_secs(0);
        let by_time =
            StartingPosition::builder().r#type(ShardIteratorType::AtTimestamp).timestamp(since).build().unwrap();
        let mut all = subscribe(&client, &other_shard_consumer, shard, by_time).await;
        assert_eq!(data(&records(&mut all, 3).await.0), ["one", "two", "three"]);

        // LATEST sees only what comes after.
        let latest_consumer = consumer(&client, &arn, "latest").await;
        let mut latest = subscribe(&client, &latest_consumer, shard, at(ShardIteratorType::Latest)).await;
        put(&client, "fan", "four").await;
        assert_eq!(data(&records(&mut latest, 1).await.0), ["four"]);

        // Subscriptions last five minutes (nimbus's clock), then the stream ends.
        advance_clock(&server, 301).await;
        while next_event(&mut latest).await.is_some() {}

        // Unknown consumers and shards, and missing sequence numbers, are refused up front.
        let err = client
            .subscribe_to_shard()
            .consumer_arn(format!("{arn}/consumer/nobody:1"))
            .shard_id(shard)
            .starting_position(at(ShardIteratorType::Latest))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        let err = client
            .subscribe_to_shard()
            .consumer_arn(&latest_consumer)
            .shard_id("shardId-000000000009")
            .starting_position(at(ShardIteratorType::Latest))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_resource_not_found_exception(), "{err:?}");
        let err = client
            .subscribe_to_shard()
            .consumer_arn(&latest_consumer)
            .shard_id(shard)
            .starting_position(at(ShardIteratorType::AtSequenceNumber))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_invalid_argument_exception(), "{err:?}");
    }

    /// A closed shard read to its end: the last event names the children, then the stream ends.
    #[tokio::test]
    async fn a_closed_shard_ends_with_its_child_shards() {
        let server = Server::start();
        let client = kinesis(&server);
        let arn = create(&client, "split", 1).await;
        put(&client, "split", "before").await;
        client
            .split_shard()
            .stream_name("split")
            .shard_to_split("shardId-000000000000")
            .new_starting_hash_key("170141183460469231731687303715884105728")
            .send()
            .await
            .unwrap();
        let fan = consumer(&client, &arn, "reader").await;
        let mut sub = subscribe(&client, &fan, "shardId-000000000000", at(ShardIteratorType::TrimHorizon)).await;
        let mut got = Vec::new();
        let last = loop {
            let event = next_event(&mut sub).await.expect("events up to the children");
            got.extend(event.records().iter().cloned());
            if !event.child_shards().is_empty() {
                break event;
            }
        };
        assert_eq!(data(&got), ["before"]);
        let children: Vec<&str> = last.child_shards().iter().map(|c| c.shard_id()).collect();
        assert_eq!(children, ["shardId-000000000001", "shardId-000000000002"]);
        assert_eq!(last.child_shards()[0].parent_shards(), ["shardId-000000000000"]);
        // No continuation at the end of a closed shard (the SDK reads the missing member as "").
        assert_eq!(last.continuation_sequence_number(), "");
        assert!(next_event(&mut sub).await.is_none(), "the stream ends after the children");
    }

    /// The same port speaks h2c: the SDK over HTTP/2 with prior knowledge, for SubscribeToShard
    /// and for plain calls, to Kinesis and to another service.
    #[tokio::test]
    async fn h2c_requests_work_for_streams_and_other_services() {
        let server = Server::start();
        let client = kinesis_h2c(&server);
        let arn = create(&client, "h2", 1).await;
        put(&client, "h2", "over-h2").await;
        let fan = consumer(&client, &arn, "reader").await;
        let mut sub = subscribe(&client, &fan, "shardId-000000000000", at(ShardIteratorType::TrimHorizon)).await;
        assert_eq!(data(&records(&mut sub, 1).await.0), ["over-h2"]);
        let sent = Instant::now();
        put(&client, "h2", "pushed").await;
        assert_eq!(data(&records(&mut sub, 1).await.0), ["pushed"]);
        assert!(sent.elapsed() < PUSH, "took {:?}", sent.elapsed());

        // Another protocol (REST-XML, signed with the payload hash) over the same kind of client.
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(server.endpoint())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
            .force_path_style(true)
            .http_client(h2c::client())
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(config);
        s3.create_bucket().bucket("h2-bucket").send().await.unwrap();
        s3.put_object().bucket("h2-bucket").key("k").body(b"h2 body".to_vec().into()).send().await.unwrap();
        let got = s3.get_object().bucket("h2-bucket").key("k").send().await.unwrap();
        assert_eq!(got.body.collect().await.unwrap().into_bytes().as_ref(), b"h2 body");

        // And HTTP/1.1 keeps working beside it on the same port.
        let plain = kinesis(&server);
        let listed = plain.list_streams().send().await.unwrap();
        assert_eq!(listed.stream_names(), ["h2"]);
    }
}

// ---------------------------------------------------------------------------------------------
// CBOR (`application/x-amz-cbor-1.1`), as the AWS SDK for Java sends Kinesis requests unless
// `AWS_CBOR_DISABLE` is set: Jackson's CBOR generator writes indefinite-length maps, blobs as
// byte strings and timestamps as tag 1 over epoch milliseconds.

mod cbor {
    use std::time::Duration;

    use ciborium::value::Value as Cbor;

    use super::{create, kinesis};
    use crate::harness::*;

    const AUTH: &str =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0";

    /// A hand-built CBOR item: a text string.
    fn text(out: &mut Vec<u8>, s: &str) {
        head(out, 3, s.len());
        out.extend_from_slice(s.as_bytes());
    }

    fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        head(out, 2, b.len());
        out.extend_from_slice(b);
    }

    /// A major type and length (RFC 8949 §3).
    fn head(out: &mut Vec<u8>, major: u8, len: usize) {
        let m = major << 5;
        match len {
            0..=23 => out.push(m | len as u8),
            24..=0xff => out.extend_from_slice(&[m | 24, len as u8]),
            _ => {
                out.push(m | 25);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
        }
    }

    /// Tag 1 over an unsigned 64-bit integer, as Jackson writes `writeTag(1); writeNumber(long)`.
    fn epoch_millis(out: &mut Vec<u8>, millis: u64) {
        out.push(0xc1);
        out.push(0x1b);
        out.extend_from_slice(&millis.to_be_bytes());
    }

    async fn call(server: &Server, op: &str, body: Vec<u8>) -> RawResponse {
        let target = format!("Kinesis_20131202.{op}");
        let headers = [
            ("authorization", AUTH),
            ("content-type", "application/x-amz-cbor-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        server.raw_with("POST", "/", &headers, body, Duration::from_secs(30)).await.unwrap()
    }

    fn parse(r: &RawResponse) -> Cbor {
        assert_eq!(r.header("content-type"), Some("application/x-amz-cbor-1.1"), "{}", r.text());
        ciborium::de::from_reader(&r.body[..]).unwrap()
    }

    fn get<'a>(v: &'a Cbor, key: &str) -> &'a Cbor {
        let Cbor::Map(entries) = v else { panic!("not a map: {v:?}") };
        entries
            .iter()
            .find(|(k, _)| k == &Cbor::Text(key.into()))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {key} in {v:?}"))
    }

    fn as_text(v: &Cbor) -> &str {
        match v {
            Cbor::Text(s) => s,
            other => panic!("not text: {other:?}"),
        }
    }

    #[tokio::test]
    async fn java_sdk_style_cbor_requests_get_cbor_answers() {
        let server = Server::start();
        let sdk = kinesis(&server);
        create(&sdk, "cbor", 1).await;

        // PutRecord: {"StreamName", "Data" (bytes), "PartitionKey"} in an indefinite-length map.
        let payload = [0u8, 1, 2, 250, 255];
        let mut body = vec![0xbf];
        text(&mut body, "StreamName");
        text(&mut body, "cbor");
        text(&mut body, "Data");
        bytes(&mut body, &payload);
        text(&mut body, "PartitionKey");
        text(&mut body, "pk");
        body.push(0xff);
        let put = call(&server, "PutRecord", body).await;
        assert_eq!(put.status, 200, "{}", put.text());
        let put = parse(&put);
        assert_eq!(as_text(get(&put, "ShardId")), "shardId-000000000000");
        let sequence = as_text(get(&put, "SequenceNumber")).to_string();
        assert_eq!(sequence.len(), 56);

        // The record is the same one the JSON protocol reads back.
        let via_json = sdk
            .get_shard_iterator()
            .stream_name("cbor")
            .shard_id("shardId-000000000000")
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap();
        let got = sdk.get_records().shard_iterator(via_json.shard_iterator().unwrap()).send().await.unwrap();
        assert_eq!(got.records()[0].data().as_ref(), payload);

        // GetShardIterator AT_TIMESTAMP with a tag-1 millisecond timestamp, then GetRecords.
        let mut body = vec![0xbf];
        text(&mut body, "StreamName");
        text(&mut body, "cbor");
        text(&mut body, "ShardId");
        text(&mut body, "shardId-000000000000");
        text(&mut body, "ShardIteratorType");
        text(&mut body, "AT_TIMESTAMP");
        text(&mut body, "Timestamp");
        epoch_millis(&mut body, 1_000);
        body.push(0xff);
        let it = call(&server, "GetShardIterator", body).await;
        assert_eq!(it.status, 200, "{}", it.text());
        let iterator = as_text(get(&parse(&it), "ShardIterator")).to_string();
        let mut body = vec![0xbf];
        text(&mut body, "ShardIterator");
        text(&mut body, &iterator);
        body.push(0xff);
        let records = call(&server, "GetRecords", body).await;
        assert_eq!(records.status, 200, "{}", records.text());
        let records = parse(&records);
        let Cbor::Array(list) = get(&records, "Records") else { panic!("no records list") };
        assert_eq!(list.len(), 1);
        assert_eq!(get(&list[0], "Data"), &Cbor::Bytes(payload.to_vec()), "blobs are byte strings");
        assert_eq!(as_text(get(&list[0], "SequenceNumber")), sequence);
        assert_eq!(as_text(get(&list[0], "PartitionKey")), "pk");
        let Cbor::Tag(1, millis) = get(&list[0], "ApproximateArrivalTimestamp") else {
            panic!("timestamps are tag 1: {list:?}")
        };
        let Cbor::Integer(millis) = **millis else { panic!("tag 1 over an integer") };
        let millis = i128::from(millis);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i128;
        assert!((now - millis).abs() < 600_000, "epoch milliseconds near now: {millis}");
        assert!(matches!(get(&records, "MillisBehindLatest"), Cbor::Integer(_)));

        // Errors keep the JSON protocol's members, in CBOR.
        let mut body = vec![0xbf];
        text(&mut body, "StreamName");
        text(&mut body, "missing");
        body.push(0xff);
        let err = call(&server, "DescribeStreamSummary", body).await;
        assert_eq!(err.status, 400);
        assert_eq!(err.header("x-amzn-errortype"), Some("ResourceNotFoundException"));
        let doc = parse(&err);
        assert_eq!(as_text(get(&doc, "__type")), "ResourceNotFoundException");
        assert!(as_text(get(&doc, "message")).contains("missing"));

        // A body that is not CBOR, and a missing required member.
        let bad = call(&server, "PutRecord", vec![0xbf, 0x6a, b'S']).await;
        assert_eq!(bad.status, 400);
        assert_eq!(as_text(get(&parse(&bad), "__type")), "SerializationException");
        let mut body = vec![0xbf];
        text(&mut body, "StreamName");
        text(&mut body, "cbor");
        body.push(0xff);
        let missing = call(&server, "PutRecord", body).await;
        assert_eq!(missing.status, 400);
        assert_eq!(as_text(get(&parse(&missing), "__type")), "ValidationException");
    }
}
