//! EventBridge through aws-sdk-eventbridge: rules with patterns and input transformers to
//! Lambda and SQS, PutEvents per-entry errors, TestEventPattern, a rate schedule fired on the
//! clock, Lambda async destinations to SNS and to an event bus, and kill -9 persistence.

use aws_sdk_eventbridge::types::{InputTransformer, PutEventsRequestEntry, RuleState, Target};
use serde_json::Value;

use crate::harness::*;
use crate::sns::{allow, lines, queue, receive, recorder, sns, sqs, wait_for};

pub fn events(server: &Server) -> aws_sdk_eventbridge::Client {
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_eventbridge::config::Region::new(REGION))
        .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

fn entry(source: &str, detail_type: &str, detail: &str) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder().source(source).detail_type(detail_type).detail(detail).build()
}

/// One long poll (1 s): whatever is there now.
/// Receive and delete whatever is there now (one 1 s long poll); the count.
async fn poll_once(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    let out =
        sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(1).send().await.unwrap();
    for m in out.messages() {
        sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
    }
    out.messages().len()
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
async fn rules_route_events_to_lambda_with_a_transformer_and_to_sqs() {
    let server = Server::start();
    let (eb, sqs, lambda) = (events(&server), sqs(&server), server.lambda());
    let dir = TempDir::new("events-lambda");
    let out = dir.path().join("events.jsonl");
    let function = recorder(&lambda, "on-order", &out).await;
    let bus = eb.create_event_bus().name("shop").send().await.unwrap().event_bus_arn().unwrap().to_string();
    assert_eq!(bus, "arn:aws:events:us-east-1:000000000000:event-bus/shop");
    let rule = eb
        .put_rule()
        .name("big-orders")
        .event_bus_name("shop")
        .event_pattern(r#"{"source": ["shop.orders"], "detail": {"total": [{"numeric": [">", 100]}], "$or": [{"region": [{"prefix": "eu-"}]}, {"vip": [true]}]}}"#)
        .send()
        .await
        .unwrap()
        .rule_arn()
        .unwrap()
        .to_string();
    assert_eq!(rule, "arn:aws:events:us-east-1:000000000000:rule/shop/big-orders");
    allow(&lambda, "on-order", "events.amazonaws.com", &rule).await;
    let (url, queue_arn) = queue(&sqs, "orders").await;
    let transformer = InputTransformer::builder()
        .input_paths_map("id", "$.detail.id")
        .input_paths_map("total", "$.detail.total")
        .input_template(r#"{"order": <id>, "text": "order <id> costs <total>", "total": <total>}"#)
        .build()
        .unwrap();
    eb.put_targets()
        .rule("big-orders")
        .event_bus_name("shop")
        .targets(Target::builder().id("fn").arn(&function).input_transformer(transformer).build().unwrap())
        .targets(Target::builder().id("q").arn(&queue_arn).build().unwrap())
        .send()
        .await
        .unwrap();
    let put = eb
        .put_events()
        .entries(
            PutEventsRequestEntry::builder()
                .event_bus_name("shop")
                .source("shop.orders")
                .detail_type("Order Placed")
                .detail(r#"{"id": "o-1", "total": 150, "region": "eu-west-1"}"#)
                .build(),
        )
        .entries(
            PutEventsRequestEntry::builder()
                .event_bus_name("shop")
                .source("shop.orders")
                .detail_type("Order Placed")
                .detail(r#"{"id": "o-2", "total": 10, "vip": true}"#)
                .build(),
        )
        .entries(PutEventsRequestEntry::builder().event_bus_name("shop").detail_type("x").detail("{}").build())
        .entries(
            PutEventsRequestEntry::builder().event_bus_name("shop").source("s").detail_type("x").detail("[1").build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_entry_count(), 2);
    let results = put.entries();
    assert!(results[0].event_id().is_some());
    assert_eq!(results[2].error_code(), Some("InvalidArgument"));
    assert_eq!(
        results[2].error_message(),
        Some("Parameter Source is not valid. Reason: Source is a required argument.")
    );
    assert_eq!(results[3].error_code(), Some("MalformedDetail"));

    wait_for(|| !lines(&out).is_empty(), "the transformed event").await;
    assert_eq!(lines(&out)[0], serde_json::json!({"order": "o-1", "text": "order o-1 costs 150", "total": 150}));
    let got = receive(&sqs, &url, 1).await;
    assert_eq!(got.len(), 1, "only the matching event reaches the queue");
    let event: Value = serde_json::from_str(got[0].body().unwrap()).unwrap();
    assert_eq!(event["version"], "0");
    assert_eq!(event["id"], results[0].event_id().unwrap());
    assert_eq!(event["detail-type"], "Order Placed");
    assert_eq!(event["source"], "shop.orders");
    assert_eq!(event["account"], ACCOUNT);
    assert_eq!(event["region"], REGION);
    assert_eq!(event["resources"], serde_json::json!([]));
    assert_eq!(event["detail"]["id"], "o-1");
    assert!(event["time"].as_str().unwrap().ends_with('Z'));

    let test = eb
        .test_event_pattern()
        .event_pattern(r#"{"detail-type": [{"anything-but": "Noise"}], "detail": {"ip": [{"cidr": "10.0.0.0/8"}]}}"#)
        .event(r#"{"id": "1", "account": "1", "source": "s", "time": "2030-01-01T00:00:00Z", "region": "us-east-1", "detail-type": "Hit", "detail": {"ip": "10.1.2.3"}}"#)
        .send()
        .await
        .unwrap();
    assert!(test.result());
    let err = eb.put_rule().name("bad").event_pattern(r#"{"source": "not-a-list"}"#).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidEventPatternException"));
    let err = eb.describe_rule().name("nope").send().await.unwrap_err().into_service_error();
    assert_eq!(err.meta().code(), Some("ResourceNotFoundException"));
    assert_eq!(err.meta().message(), Some("Rule nope does not exist on EventBus default."));
}

#[tokio::test]
async fn a_rate_rule_fires_once_per_period_of_the_clock() {
    let server = Server::start();
    let (eb, sqs) = (events(&server), sqs(&server));
    let (url, arn) = queue(&sqs, "ticks").await;
    eb.put_rule().name("every-5").schedule_expression("rate(5 minutes)").send().await.unwrap();
    eb.put_targets()
        .rule("every-5")
        .targets(Target::builder().id("q").arn(&arn).build().unwrap())
        .send()
        .await
        .unwrap();
    advance(&server, 30 * 60).await;
    let got = receive(&sqs, &url, 6).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    for m in &got {
        sqs.delete_message().queue_url(&url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
    }
    let extra = poll_once(&sqs, &url).await;
    assert_eq!(got.len() + extra, 6, "30 minutes of rate(5 minutes) is six firings");
    let event: Value = serde_json::from_str(got[0].body().unwrap()).unwrap();
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["source"], "aws.events");
    assert_eq!(event["resources"][0], "arn:aws:events:us-east-1:000000000000:rule/every-5");
    assert_eq!(event["detail"], serde_json::json!({}));
    eb.disable_rule().name("every-5").send().await.unwrap();
    advance(&server, 30 * 60).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(poll_once(&sqs, &url).await, 0, "a disabled rule does not fire");
    let described = eb.describe_rule().name("every-5").send().await.unwrap();
    assert_eq!(described.state(), Some(&RuleState::Disabled));
}

#[tokio::test]
async fn lambda_async_destinations_reach_sns_and_an_event_bus() {
    use aws_sdk_lambda::types::{DestinationConfig, InvocationType, OnFailure, OnSuccess};
    let server = Server::start();
    let (eb, sqs, sns, lambda) = (events(&server), sqs(&server), sns(&server), server.lambda());
    let code = br#"
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"echo": event}
"#;
    lambda
        .create_function()
        .function_name("dest")
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .handler("index.handler")
        .role(ROLE)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip_of(&[("index.py", code)])))
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "dest").await;
    let topic = sns.create_topic().name("results").send().await.unwrap().topic_arn().unwrap().to_string();
    let (ok_url, ok_arn) = queue(&sqs, "ok-results").await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&ok_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    let (bad_url, bad_arn) = queue(&sqs, "failures").await;
    eb.put_rule()
        .name("lambda-failures")
        .event_pattern(r#"{"source": ["lambda"], "detail-type": ["Lambda Function Invocation Result - Failure"]}"#)
        .send()
        .await
        .unwrap();
    eb.put_targets()
        .rule("lambda-failures")
        .targets(Target::builder().id("q").arn(&bad_arn).build().unwrap())
        .send()
        .await
        .unwrap();
    lambda
        .put_function_event_invoke_config()
        .function_name("dest")
        .maximum_retry_attempts(0)
        .destination_config(
            DestinationConfig::builder()
                .on_success(OnSuccess::builder().destination(&topic).build())
                .on_failure(
                    OnFailure::builder().destination("arn:aws:events:us-east-1:000000000000:event-bus/default").build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    for payload in [r#"{"n": 1}"#, r#"{"fail": true}"#] {
        lambda
            .invoke()
            .function_name("dest")
            .invocation_type(InvocationType::Event)
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await
            .unwrap();
    }
    let ok = receive(&sqs, &ok_url, 1).await;
    assert_eq!(ok.len(), 1);
    let record: Value = serde_json::from_str(ok[0].body().unwrap()).unwrap();
    assert_eq!(record["version"], "1.0");
    assert_eq!(record["requestContext"]["condition"], "Success");
    assert_eq!(record["requestPayload"], serde_json::json!({"n": 1}));
    assert_eq!(record["responsePayload"], serde_json::json!({"echo": {"n": 1}}));
    let bad = receive(&sqs, &bad_url, 1).await;
    assert_eq!(bad.len(), 1);
    let event: Value = serde_json::from_str(bad[0].body().unwrap()).unwrap();
    assert_eq!(event["source"], "lambda");
    assert_eq!(event["detail-type"], "Lambda Function Invocation Result - Failure");
    assert_eq!(event["detail"]["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(event["detail"]["responseContext"]["functionError"], "Unhandled");
}

#[tokio::test]
async fn event_bridge_state_survives_kill_9() {
    let dir = TempDir::new("events-persist");
    let server = Server::start_with_data_dir(dir.path());
    let (eb, sqs_client) = (events(&server), sqs(&server));
    let (_, arn) = queue(&sqs_client, "kept-events").await;
    eb.create_event_bus().name("kept").send().await.unwrap();
    eb.put_rule().name("r").event_bus_name("kept").event_pattern(r#"{"source": ["a"]}"#).send().await.unwrap();
    eb.put_targets()
        .rule("r")
        .event_bus_name("kept")
        .targets(Target::builder().id("q").arn(&arn).build().unwrap())
        .send()
        .await
        .unwrap();
    server.kill();
    let server = Server::start_with_data_dir(dir.path());
    let (eb, sqs_client) = (events(&server), sqs(&server));
    let targets = eb.list_targets_by_rule().rule("r").event_bus_name("kept").send().await.unwrap();
    assert_eq!(targets.targets()[0].arn(), arn);
    eb.put_events().entries(entry("a", "t", "{}").to_builder_bus("kept")).send().await.unwrap();
    let url =
        sqs_client.get_queue_url().queue_name("kept-events").send().await.unwrap().queue_url().unwrap().to_string();
    assert_eq!(receive(&sqs_client, &url, 1).await.len(), 1);
}

trait OnBus {
    fn to_builder_bus(self, bus: &str) -> PutEventsRequestEntry;
}

impl OnBus for PutEventsRequestEntry {
    fn to_builder_bus(self, bus: &str) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(bus)
            .set_source(self.source().map(str::to_string))
            .set_detail_type(self.detail_type().map(str::to_string))
            .set_detail(self.detail().map(str::to_string))
            .build()
    }
}

/// Advance the clock `step` seconds at a time until `done` (a few rounds for a loaded machine).
async fn advance_until(server: &Server, step: u64, what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..60 {
        if done().await {
            return;
        }
        advance(server, step).await;
    }
    panic!("timed out advancing the clock for {what}");
}

/// An SDK error's code and message.
macro_rules! code {
    ($e:expr) => {{
        let e = $e.into_service_error();
        let meta = aws_sdk_eventbridge::error::ProvideErrorMetadata::meta(&e);
        (meta.code().unwrap_or_default().to_string(), meta.message().unwrap_or_default().to_string())
    }};
}

/// One 1 s long poll of a dead-letter queue, with the message attributes.
async fn dead_letters(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let out =
        sqs.receive_message().queue_url(url).message_attribute_names("All").wait_time_seconds(1).send().await.unwrap();
    out.messages().to_vec()
}

#[tokio::test]
async fn target_retry_policies_run_on_the_clock_before_the_dead_letter_queue() {
    use aws_sdk_eventbridge::types::{DeadLetterConfig, RetryPolicy};
    use aws_sdk_sqs::types::QueueAttributeName;
    let server = Server::start();
    let (eb, sqs) = (events(&server), sqs(&server));
    let (small_url, small) = queue(&sqs, "small").await;
    sqs.set_queue_attributes()
        .queue_url(&small_url)
        .attributes(QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .unwrap();
    let (dlq_url, dlq) = queue(&sqs, "eb-dlq").await;
    eb.put_rule().name("retrying").event_pattern(r#"{"source": ["retry"]}"#).send().await.unwrap();
    let target = |id: &str, arn: &str, attempts: i32, age: i32| {
        Target::builder()
            .id(id)
            .arn(arn)
            .retry_policy(
                RetryPolicy::builder().maximum_retry_attempts(attempts).maximum_event_age_in_seconds(age).build(),
            )
            .dead_letter_config(DeadLetterConfig::builder().arn(&dlq).build())
            .build()
            .unwrap()
    };
    eb.put_targets().rule("retrying").targets(target("small", &small, 2, 3600)).send().await.unwrap();
    let big = format!(r#"{{"blob": "{}"}}"#, "x".repeat(2000));
    eb.put_events().entries(entry("retry", "big", &big)).send().await.unwrap();
    // The first attempt failed (the queue refuses the size); the retries wait for the clock.
    assert_eq!(poll_once(&sqs, &dlq_url).await, 0, "nothing is dead before the retries ran");
    let mut dead = Vec::new();
    advance_until(&server, 5, "the retries to run out", async || {
        dead = dead_letters(&sqs, &dlq_url).await;
        !dead.is_empty()
    })
    .await;
    let attrs = dead[0].message_attributes().unwrap();
    assert_eq!(attrs["RETRY_ATTEMPTS"].string_value(), Some("2"));
    assert_eq!(attrs["EXHAUSTED_RETRY_CONDITION"].string_value(), Some("MaximumRetryAttemptsExhausted"));
    assert_eq!(attrs["TARGET_ARN"].string_value(), Some(small.as_str()));
    let event: Value = serde_json::from_str(dead[0].body().unwrap()).unwrap();
    assert_eq!(event["detail-type"], "big");
    sqs.delete_message().queue_url(&dlq_url).receipt_handle(dead[0].receipt_handle().unwrap()).send().await.unwrap();

    // A retry that finds the target fixed delivers the event.
    eb.put_events().entries(entry("retry", "later", &big)).send().await.unwrap();
    assert_eq!(poll_once(&sqs, &small_url).await, 0);
    sqs.set_queue_attributes()
        .queue_url(&small_url)
        .attributes(QueueAttributeName::MaximumMessageSize, "262144")
        .send()
        .await
        .unwrap();
    let mut delivered = 0;
    advance_until(&server, 1, "the retry to deliver", async || {
        delivered += poll_once(&sqs, &small_url).await;
        delivered > 0
    })
    .await;
    assert_eq!(delivered, 1);

    // MaximumEventAgeInSeconds bounds the retries too.
    sqs.set_queue_attributes()
        .queue_url(&small_url)
        .attributes(QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .unwrap();
    eb.put_targets().rule("retrying").targets(target("small", &small, 185, 60)).send().await.unwrap();
    eb.put_events().entries(entry("retry", "aged", &big)).send().await.unwrap();
    advance_until(&server, 20, "the event to age out", async || {
        dead = dead_letters(&sqs, &dlq_url).await;
        !dead.is_empty()
    })
    .await;
    let attrs = dead[0].message_attributes().unwrap();
    assert_eq!(attrs["EXHAUSTED_RETRY_CONDITION"].string_value(), Some("MaximumEventAgeExhausted"));
    sqs.delete_message().queue_url(&dlq_url).receipt_handle(dead[0].receipt_handle().unwrap()).send().await.unwrap();

    // A target that does not exist is not retried: its events are dead at once.
    eb.put_targets()
        .rule("retrying")
        .targets(target("gone", "arn:aws:sqs:us-east-1:000000000000:gone", 185, 3600))
        .send()
        .await
        .unwrap();
    eb.put_events().entries(entry("retry", "small", "{}")).send().await.unwrap();
    let dead = receive(&sqs, &dlq_url, 1).await;
    assert_eq!(dead.len(), 1);
    let attrs = dead[0].message_attributes().unwrap();
    assert_eq!(attrs["TARGET_ARN"].string_value(), Some("arn:aws:sqs:us-east-1:000000000000:gone"));
    assert!(!attrs.contains_key("RETRY_ATTEMPTS"));
}

#[tokio::test]
async fn archives_keep_matching_events_and_replays_send_them_back() {
    use aws_sdk_eventbridge::primitives::DateTime;
    use aws_sdk_eventbridge::types::{ReplayDestination, ReplayState};
    let dir = TempDir::new("events-archive");
    let server = Server::start_with_data_dir(dir.path());
    let (eb, sqs_client) = (events(&server), sqs(&server));
    let bus = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default");
    let (url, arn) = queue(&sqs_client, "replayed").await;
    eb.put_rule().name("orders").event_pattern(r#"{"source": ["orders"]}"#).send().await.unwrap();
    eb.put_targets().rule("orders").targets(Target::builder().id("q").arn(&arn).build().unwrap()).send().await.unwrap();
    let created = eb
        .create_archive()
        .archive_name("orders-archive")
        .event_source_arn(&bus)
        .event_pattern(r#"{"source": ["orders"]}"#)
        .description("all orders")
        .send()
        .await
        .unwrap();
    let archive_arn = created.archive_arn().unwrap().to_string();
    assert_eq!(archive_arn, format!("arn:aws:events:{REGION}:{ACCOUNT}:archive/orders-archive"));
    assert_eq!(created.state().map(|s| s.as_str()), Some("ENABLED"));
    let err = eb.create_archive().archive_name("orders-archive").event_source_arn(&bus).send().await.unwrap_err();
    assert_eq!(err.into_service_error().meta().code(), Some("ResourceAlreadyExistsException"));
    let before = DateTime::from_secs(chrono::Utc::now().timestamp() - 60);
    for n in 0..3 {
        eb.put_events().entries(entry("orders", "Order Placed", &format!(r#"{{"n": {n}}}"#))).send().await.unwrap();
    }
    eb.put_events().entries(entry("other", "Noise", "{}")).send().await.unwrap();
    assert_eq!(receive(&sqs_client, &url, 3).await.len(), 3);
    // Drain what was received (receive leaves them in flight; purge keeps the next count clean).
    sqs_client.purge_queue().queue_url(&url).send().await.unwrap();
    let described = eb.describe_archive().archive_name("orders-archive").send().await.unwrap();
    assert_eq!(described.event_count(), 3);
    assert!(described.size_bytes() > 100);
    assert_eq!(described.event_pattern(), Some(r#"{"source": ["orders"]}"#));
    assert_eq!(described.description(), Some("all orders"));
    assert_eq!(described.retention_days(), Some(0));
    let listed = eb.list_archives().name_prefix("orders").send().await.unwrap();
    assert_eq!(listed.archives().len(), 1);
    assert_eq!(listed.archives()[0].event_count(), 3);

    // Survives kill -9 with its events.
    server.kill();
    let server = Server::start_with_data_dir(dir.path());
    let (eb, sqs_client) = (events(&server), sqs(&server));
    assert_eq!(eb.describe_archive().archive_name("orders-archive").send().await.unwrap().event_count(), 3);

    let after = DateTime::from_secs(chrono::Utc::now().timestamp() + 60);
    let destination = ReplayDestination::builder().arn(&bus).build().unwrap();
    let started = eb
        .start_replay()
        .replay_name("again")
        .event_source_arn(&archive_arn)
        .event_start_time(before)
        .event_end_time(after)
        .destination(destination.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(started.state(), Some(&ReplayState::Starting));
    assert_eq!(started.replay_arn(), Some(format!("arn:aws:events:{REGION}:{ACCOUNT}:replay/again").as_str()));
    let mut states = vec!["STARTING".to_string()];
    for _ in 0..400 {
        let d = eb.describe_replay().replay_name("again").send().await.unwrap();
        let state = d.state().unwrap().as_str().to_string();
        if states.last() != Some(&state) {
            states.push(state.clone());
        }
        if state == "COMPLETED" {
            assert!(d.replay_end_time().is_some() && d.event_last_replayed_time().is_some());
            assert_eq!(d.destination().unwrap().arn(), bus);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(states.last().map(String::as_str), Some("COMPLETED"), "{states:?}");
    assert!(states.iter().all(|s| ["STARTING", "RUNNING", "COMPLETED"].contains(&s.as_str())), "{states:?}");
    let url = sqs_client.get_queue_url().queue_name("replayed").send().await.unwrap().queue_url().unwrap().to_string();
    let replayed = receive(&sqs_client, &url, 3).await;
    assert_eq!(replayed.len(), 3);
    for m in &replayed {
        let event: Value = serde_json::from_str(m.body().unwrap()).unwrap();
        assert_eq!(event["replay-name"], "again");
        assert_eq!(event["source"], "orders");
    }
    assert_eq!(eb.describe_archive().archive_name("orders-archive").send().await.unwrap().event_count(), 3);
    let listed = eb.list_replays().send().await.unwrap();
    assert_eq!(listed.replays()[0].state(), Some(&ReplayState::Completed));

    // AWS's refusals.
    let replay = |name: &str, source: &str, dest: ReplayDestination, start: DateTime, end: DateTime| {
        eb.start_replay()
            .replay_name(name)
            .event_source_arn(source)
            .event_start_time(start)
            .event_end_time(end)
            .destination(dest)
            .send()
    };
    let (c, _) = code!(replay("again", &archive_arn, destination.clone(), before, after).await.unwrap_err());
    assert_eq!(c, "ResourceAlreadyExistsException");
    let (c, m) = code!(replay("backwards", &archive_arn, destination.clone(), after, before).await.unwrap_err());
    assert_eq!(
        (c.as_str(), m.as_str()),
        (
            "ValidationException",
            "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime."
        )
    );
    eb.create_event_bus().name("elsewhere").send().await.unwrap();
    let other = ReplayDestination::builder()
        .arn(format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/elsewhere"))
        .build()
        .unwrap();
    let (c, m) = code!(replay("cross", &archive_arn, other, before, after).await.unwrap_err());
    assert_eq!(
        (c.as_str(), m.as_str()),
        (
            "ValidationException",
            "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted."
        )
    );
    let missing = format!("arn:aws:events:{REGION}:{ACCOUNT}:archive/missing");
    let (c, m) = code!(replay("none", &missing, destination, before, after).await.unwrap_err());
    assert_eq!(
        (c.as_str(), m.as_str()),
        ("ValidationException", "Parameter EventSourceArn is not valid. Reason: Archive missing does not exist.")
    );
    let (c, _) = code!(eb.cancel_replay().replay_name("again").send().await.unwrap_err());
    assert_eq!(c, "IllegalStatusException");

    // Retention on nimbus's clock, then deletion.
    eb.update_archive().archive_name("orders-archive").retention_days(1).send().await.unwrap();
    advance(&server, 2 * 86_400).await;
    let mut count = 3;
    for _ in 0..200 {
        count = eb.describe_archive().archive_name("orders-archive").send().await.unwrap().event_count();
        if count == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(count, 0, "events past the retention are swept");
    eb.delete_archive().archive_name("orders-archive").send().await.unwrap();
    let (c, m) = code!(eb.describe_archive().archive_name("orders-archive").send().await.unwrap_err());
    assert_eq!((c.as_str(), m.as_str()), ("ResourceNotFoundException", "Archive orders-archive does not exist."));
}

#[tokio::test]
async fn a_pending_target_retry_survives_kill_9_and_delivers_once() {
    use aws_sdk_sqs::types::QueueAttributeName;
    let dir = TempDir::new("events-retry-persist");
    let server = Server::start_with_data_dir(dir.path());
    let (eb, sqs_client) = (events(&server), sqs(&server));
    let (small_url, small) = queue(&sqs_client, "small-kept").await;
    sqs_client
        .set_queue_attributes()
        .queue_url(&small_url)
        .attributes(QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .unwrap();
    eb.put_rule().name("r").event_pattern(r#"{"source": ["retry"]}"#).send().await.unwrap();
    eb.put_targets().rule("r").targets(Target::builder().id("q").arn(&small).build().unwrap()).send().await.unwrap();
    let big = format!(r#"{{"blob": "{}"}}"#, "x".repeat(2000));
    let out = eb.put_events().entries(entry("retry", "big", &big)).send().await.unwrap();
    assert_eq!(out.failed_entry_count(), 0);
    // The first attempt failed; the acknowledged event waits for its retry. Kill nimbus now.
    server.kill();
    let server = Server::start_with_data_dir(dir.path());
    let sqs_client = sqs(&server);
    sqs_client
        .set_queue_attributes()
        .queue_url(&small_url)
        .attributes(QueueAttributeName::MaximumMessageSize, "262144")
        .send()
        .await
        .unwrap();
    let mut delivered = 0;
    advance_until(&server, 2, "the resumed retry to deliver", async || {
        delivered += poll_once(&sqs_client, &small_url).await;
        delivered > 0
    })
    .await;
    advance(&server, 3600).await;
    delivered += poll_once(&sqs_client, &small_url).await;
    assert_eq!(delivered, 1, "delivered exactly once");
}
