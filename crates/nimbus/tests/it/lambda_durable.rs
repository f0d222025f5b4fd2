//! Durable executions through aws-sdk-rust: the SDK must parse every durable answer nimbus gives
//! (operations, events, timestamps, headers). The handler speaks the protocol by hand with boto3
//! (the SDK-based handlers are exercised in tests/python/test_durable.py).

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{DurableConfig, EventType, ExecutionStatus, FunctionCode, InvocationType, Runtime};

use crate::harness::*;

/// First invocation: a step, a minute's wait and a callback, then suspend. Later invocations
/// finish once the wait and the callback have completed, returning the callback's result.
const HANDLER: &str = r#"
import boto3

def handler(event, context):
    ops = {op["Id"]: op for op in event["InitialExecutionState"]["Operations"]}
    if "step" not in ops:
        client = boto3.client("lambda")
        client.checkpoint_durable_execution(
            DurableExecutionArn=event["DurableExecutionArn"],
            CheckpointToken=event["CheckpointToken"],
            Updates=[
                {"Id": "step", "Type": "STEP", "Action": "START", "Name": "prepare", "SubType": "Step"},
                {"Id": "step", "Type": "STEP", "Action": "SUCCEED", "Payload": "\"ready\""},
                {"Id": "wait", "Type": "WAIT", "Action": "START", "Name": "a minute", "WaitOptions": {"WaitSeconds": 60}},
                {"Id": "cb", "Type": "CALLBACK", "Action": "START", "Name": "approval",
                 "CallbackOptions": {"TimeoutSeconds": 3600}},
            ],
        )
        return {"Status": "PENDING"}
    if ops["wait"]["Status"] != "SUCCEEDED" or ops["cb"]["Status"] != "SUCCEEDED":
        return {"Status": "PENDING"}
    return {"Status": "SUCCEEDED", "Result": ops["cb"]["CallbackDetails"]["Result"]}
"#;

#[tokio::test]
async fn durable_answers_parse_in_the_rust_sdk() {
    let server = Server::start();
    let lambda = server.lambda();
    lambda
        .create_function()
        .function_name("by-hand")
        .runtime(Runtime::Python312)
        .handler("index.handler")
        .role(ROLE)
        .timeout(30)
        .durable_config(DurableConfig::builder().execution_timeout(3600).build())
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("index.py", HANDLER.as_bytes())]))).build())
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "by-hand").await;

    let started = lambda
        .invoke()
        .function_name("by-hand")
        .qualifier("$LATEST")
        .invocation_type(InvocationType::Event)
        .durable_execution_name("rusty")
        .payload(Blob::new(r#"{"order": 1}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status_code(), 202);
    let arn = started.durable_execution_arn().expect("the execution's ARN header").to_string();
    assert!(arn.starts_with("arn:aws:lambda:us-east-1:000000000000:function:by-hand:$LATEST/durable-execution/rusty/"));

    // Suspended: the step, the wait and the callback are recorded, then the invocation ends.
    let history = |arn: String| {
        let lambda = lambda.clone();
        async move { lambda.get_durable_execution_history().durable_execution_arn(arn).send().await.unwrap() }
    };
    let mut events = Vec::new();
    for _ in 0..200 {
        events = history(arn.clone()).await.events().to_vec();
        if events.last().is_some_and(|e| e.event_type() == Some(&EventType::InvocationCompleted)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let kinds: Vec<_> = events.iter().filter_map(|e| e.event_type().cloned()).collect();
    assert_eq!(
        kinds,
        [
            EventType::ExecutionStarted,
            EventType::StepStarted,
            EventType::StepSucceeded,
            EventType::WaitStarted,
            EventType::CallbackStarted,
            EventType::InvocationCompleted
        ]
    );
    let ids: Vec<i32> = events.iter().map(|e| e.event_id()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    let step = &events[2];
    assert_eq!(step.name(), Some("prepare"));
    assert_eq!(step.sub_type(), Some("Step"));
    let succeeded = step.step_succeeded_details().unwrap();
    assert_eq!(succeeded.result().and_then(|r| r.payload()), Some("\"ready\""));
    assert_eq!(succeeded.retry_details().map(|r| r.current_attempt()), Some(1));
    let wait = events[3].wait_started_details().unwrap();
    assert_eq!(wait.duration(), 60);
    let started_at = events[3].event_timestamp().unwrap().secs();
    assert_eq!(wait.scheduled_end_timestamp().secs() - started_at, 60);
    let callback_id = events[4].callback_started_details().unwrap().callback_id().to_string();
    let completed = events[5].invocation_completed_details().unwrap();
    assert!(completed.end_timestamp() >= completed.start_timestamp());
    assert!(!completed.request_id().is_empty());

    let execution = lambda.get_durable_execution().durable_execution_arn(&arn).send().await.unwrap();
    assert_eq!(execution.status(), &ExecutionStatus::Running);
    assert_eq!(execution.durable_execution_name(), "rusty");
    assert_eq!(execution.function_arn(), "arn:aws:lambda:us-east-1:000000000000:function:by-hand:$LATEST");
    assert_eq!(execution.input_payload(), Some(r#"{"order": 1}"#));
    assert_eq!(execution.version(), Some("$LATEST"));

    // Complete the callback and let the minute pass: the execution resumes and ends.
    lambda
        .send_durable_execution_callback_success()
        .callback_id(&callback_id)
        .result(Blob::new(r#"{"approved":true}"#))
        .send()
        .await
        .unwrap();
    reqwest::Client::new()
        .post(format!("{}/_nimbus/clock/advance", server.endpoint()))
        .body(r#"{"seconds": 61}"#)
        .send()
        .await
        .unwrap();
    let mut execution = None;
    for _ in 0..200 {
        let got = lambda.get_durable_execution().durable_execution_arn(&arn).send().await.unwrap();
        if got.status() != &ExecutionStatus::Running {
            execution = Some(got);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let execution = execution.expect("the execution ends");
    assert_eq!(execution.status(), &ExecutionStatus::Succeeded);
    assert_eq!(execution.result(), Some(r#"{"approved":true}"#));
    assert!(execution.end_timestamp().is_some());

    let events = history(arn.clone()).await.events().to_vec();
    assert_eq!(events.last().and_then(|e| e.event_type()), Some(&EventType::ExecutionSucceeded));
    let listed = lambda
        .list_durable_executions_by_function()
        .function_name("by-hand")
        .statuses(ExecutionStatus::Succeeded)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.durable_executions().len(), 1);
    assert_eq!(listed.durable_executions()[0].durable_execution_arn(), arn);

    // A closed callback and an unknown execution answer AWS's errors.
    let err = lambda
        .send_durable_execution_callback_heartbeat()
        .callback_id(&callback_id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_callback_timeout_exception(), "{err:?}");
    let err = lambda
        .get_durable_execution()
        .durable_execution_arn(arn.replace("/rusty/", "/other/"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
}
