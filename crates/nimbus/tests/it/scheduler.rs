//! EventBridge Scheduler through aws-sdk-scheduler: a cron schedule in a time zone and a
//! one-time at() schedule with ActionAfterCompletion DELETE, fired by advancing nimbus's clock;
//! a Lambda target; kill -9 persistence.

use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, Target};

use crate::harness::*;
use crate::sns::{lines, queue, recorder, sqs, wait_for};

fn scheduler(server: &Server) -> aws_sdk_scheduler::Client {
    let config = aws_sdk_scheduler::Config::builder()
        .behavior_version(aws_sdk_scheduler::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_scheduler::config::Region::new(REGION))
        .credentials_provider(aws_sdk_scheduler::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_scheduler::Client::from_conf(config)
}

fn off() -> FlexibleTimeWindow {
    FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().unwrap()
}

fn target(arn: &str, input: &str) -> Target {
    Target::builder().arn(arn).role_arn("arn:aws:iam::000000000000:role/scheduler").input(input).build().unwrap()
}

async fn advance(server: &Server, seconds: u64) {
    reqwest::Client::new()
        .post(format!("{}/_nimbus/clock/advance", server.endpoint()))
        .body(format!(r#"{{"seconds": {seconds}}}"#))
        .send()
        .await
        .unwrap();
}

/// Receive and delete everything that arrives within a few long polls.
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let out =
            sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(1).send().await.unwrap();
        for m in out.messages() {
            bodies.push(m.body().unwrap_or_default().to_string());
            sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
    bodies
}

#[tokio::test]
async fn cron_in_a_time_zone_and_a_one_time_schedule_fire_on_the_clock() {
    let server = Server::start();
    let (sched, sqs) = (scheduler(&server), sqs(&server));
    let (url, arn) = queue(&sqs, "scheduled").await;
    let created = sched
        .create_schedule()
        .name("daily")
        .schedule_expression("cron(0 9 * * ? *)")
        .schedule_expression_timezone("Europe/Paris")
        .flexible_time_window(off())
        .target(target(&arn, r#"{"job": "daily"}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(created.schedule_arn(), "arn:aws:scheduler:us-east-1:000000000000:schedule/default/daily");
    // One hour from now (nimbus's clock starts at the wall clock), once, then deleted.
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S");
    sched
        .create_schedule()
        .name("once")
        .schedule_expression(format!("at({at})"))
        .flexible_time_window(off())
        .action_after_completion(ActionAfterCompletion::Delete)
        .target(target(&arn, r#"{"job": "once"}"#))
        .send()
        .await
        .unwrap();
    let err = sched
        .create_schedule()
        .name("bad")
        .schedule_expression("rate(5 minute)")
        .flexible_time_window(off())
        .target(target(&arn, "{}"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.meta().code(), Some("ValidationException"));
    assert!(drain(&sqs, &url).await.is_empty(), "nothing fires before the clock moves");

    advance(&server, 3 * 24 * 3600).await;
    let bodies = drain(&sqs, &url).await;
    let daily = bodies.iter().filter(|b| b.contains("daily")).count();
    let once = bodies.iter().filter(|b| b.contains("once")).count();
    assert_eq!(daily, 3, "three days of a daily cron: {bodies:?}");
    assert_eq!(once, 1);
    assert!(bodies.contains(&r#"{"job": "daily"}"#.to_string()), "the target gets Input as is");
    let err = sched.get_schedule().name("once").send().await.unwrap_err().into_service_error();
    assert_eq!(err.meta().code(), Some("ResourceNotFoundException"), "a completed at() schedule is deleted");
    let got = sched.get_schedule().name("daily").send().await.unwrap();
    assert_eq!(got.schedule_expression_timezone(), Some("Europe/Paris"));
}

#[tokio::test]
async fn a_rate_schedule_invokes_lambda_and_survives_kill_9() {
    let dir = TempDir::new("scheduler-persist");
    let server = Server::start_with_data_dir(dir.path());
    let (sched, lambda) = (scheduler(&server), server.lambda());
    let out = dir.path().join("ticks.jsonl");
    let function = recorder(&lambda, "tick", &out).await;
    sched.create_schedule_group().name("jobs").send().await.unwrap();
    sched
        .create_schedule()
        .name("every-hour")
        .group_name("jobs")
        .schedule_expression("rate(1 hour)")
        .flexible_time_window(off())
        .target(target(&function, r#"{"tick": true}"#))
        .send()
        .await
        .unwrap();
    server.kill();
    let server = Server::start_with_data_dir(dir.path());
    let sched = scheduler(&server);
    let listed = sched.list_schedules().group_name("jobs").send().await.unwrap();
    assert_eq!(listed.schedules().len(), 1);
    advance(&server, 2 * 3600 + 60).await;
    wait_for(|| lines(&out).len() >= 2, "two hourly invocations").await;
    assert_eq!(lines(&out)[0], serde_json::json!({"tick": true}));
}

#[tokio::test]
async fn a_failing_target_is_retried_by_its_retry_policy_then_dead_lettered() {
    use aws_sdk_scheduler::types::{DeadLetterConfig, RetryPolicy};
    use aws_sdk_sqs::types::QueueAttributeName;
    let server = Server::start();
    let (sched, sqs) = (scheduler(&server), sqs(&server));
    let (tiny_url, tiny) = queue(&sqs, "tiny").await;
    sqs.set_queue_attributes()
        .queue_url(&tiny_url)
        .attributes(QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .unwrap();
    let (dlq_url, dlq) = queue(&sqs, "schedule-dlq").await;
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S");
    let big = format!(r#"{{"blob": "{}"}}"#, "x".repeat(2000));
    let target = Target::builder()
        .arn(&tiny)
        .role_arn("arn:aws:iam::000000000000:role/scheduler")
        .input(big)
        .retry_policy(RetryPolicy::builder().maximum_retry_attempts(2).maximum_event_age_in_seconds(3600).build())
        .dead_letter_config(DeadLetterConfig::builder().arn(&dlq).build())
        .build()
        .unwrap();
    let created = sched
        .create_schedule()
        .name("too-big")
        .schedule_expression(format!("at({at})"))
        .flexible_time_window(off())
        .target(target)
        .send()
        .await
        .unwrap();
    advance(&server, 3600).await;
    // The firing failed; its retries wait for the clock, and only then is it dead.
    let mut dead = Vec::new();
    for _ in 0..60 {
        let out = sqs
            .receive_message()
            .queue_url(&dlq_url)
            .message_attribute_names("All")
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        dead = out.messages().to_vec();
        if !dead.is_empty() {
            break;
        }
        advance(&server, 5).await;
    }
    assert_eq!(dead.len(), 1, "the spent firing is in the DLQ");
    let attrs = dead[0].message_attributes().unwrap();
    assert_eq!(attrs["RETRY_ATTEMPTS"].string_value(), Some("2"));
    assert_eq!(attrs["EXHAUSTED_RETRY_CONDITION"].string_value(), Some("MaximumRetryAttemptsExhausted"));
    assert_eq!(attrs["SCHEDULE_ARN"].string_value(), Some(created.schedule_arn()));
    assert_eq!(attrs["TARGET_ARN"].string_value(), Some(tiny.as_str()));
    assert!(drain(&sqs, &tiny_url).await.is_empty());
}
