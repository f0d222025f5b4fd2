//! Invoke runs the function's code: custom runtimes (`provided.*` shell bootstraps speaking the
//! Runtime API with curl), errors, timeouts, crashes, throttling, logs and aliases.

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, InvocationType, LogType, Runtime};
use base64::Engine;

use crate::harness::*;

/// A `provided.al2023` bootstrap: the loop AWS's custom-runtime tutorial shows, with `body`
/// computing the response from `$EVENT` (and free to misbehave).
fn shell_bootstrap(body: &str) -> Vec<u8> {
    let script = format!(
        r#"#!/bin/sh
API="http://${{AWS_LAMBDA_RUNTIME_API}}/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sSf -D "$HEADERS" "$API/invocation/next") || exit 1
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  {body}
done
"#
    );
    executable_zip("bootstrap", script.as_bytes())
}

async fn create_provided(lambda: &aws_sdk_lambda::Client, name: &str, zip: Vec<u8>, timeout: i32) {
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .handler("unused")
        .role(ROLE)
        .timeout(timeout)
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .send()
        .await
        .expect("create function");
    wait_updated(&lambda, &name).await;
}

const ECHO: &str = r#"echo "handling $EVENT"
  curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -d "{\"echo\": $EVENT}" >/dev/null"#;

#[tokio::test]
async fn provided_runtime_round_trip_with_logs() {
    let server = Server::start();
    let lambda = server.lambda();
    create_provided(&lambda, "echo", shell_bootstrap(ECHO), 3).await;
    let out = lambda
        .invoke()
        .function_name("echo")
        .payload(Blob::new(r#"{"n":1}"#))
        .log_type(LogType::Tail)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), None);
    assert_eq!(out.executed_version(), Some("$LATEST"));
    let payload: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload, serde_json::json!({"echo": {"n": 1}}));
    let log = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(out.log_result().unwrap()).unwrap())
        .unwrap();
    let lines: Vec<&str> = log.lines().collect();
    // One request id: the answer's is the one on START/END/REPORT.
    let request_id = out.request_id().expect("x-amzn-RequestId").to_string();
    assert_eq!(lines[0], format!("START RequestId: {request_id} Version: $LATEST"), "{log}");
    assert_eq!(lines[2], format!("END RequestId: {request_id}"), "{log}");
    assert_eq!(lines[1], r#"handling {"n":1}"#);
    assert!(lines[2].starts_with("END RequestId: "));
    assert!(lines[3].starts_with("REPORT RequestId: ") && lines[3].contains("Init Duration: "), "{log}");

    // Warm: the same environment answers, without an init phase.
    let out = lambda.invoke().function_name("echo").log_type(LogType::Tail).send().await.unwrap();
    let log = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(out.log_result().unwrap()).unwrap())
        .unwrap();
    assert!(!log.contains("Init Duration"), "{log}");
    let payload: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload, serde_json::json!({"echo": {}}));
    let envs: serde_json::Value =
        reqwest::get(format!("{}/_nimbus/lambda/environments", server.endpoint())).await.unwrap().json().await.unwrap();
    assert_eq!(envs["Environments"].as_array().unwrap().len(), 1);

    // The same function through InvokeWithResponseStream: chunks, then InvokeComplete.
    use aws_sdk_lambda::types::InvokeWithResponseStreamResponseEvent as Event;
    let mut stream = lambda
        .invoke_with_response_stream()
        .function_name("echo")
        .payload(Blob::new(r#"{"s":true}"#))
        .log_type(LogType::Tail)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.executed_version(), Some("$LATEST"));
    let stream_id = stream.request_id().expect("x-amzn-RequestId").to_string();
    let mut body = Vec::new();
    let mut completed = false;
    while let Some(event) = stream.event_stream.recv().await.unwrap() {
        match event {
            Event::PayloadChunk(chunk) => body.extend_from_slice(chunk.payload().unwrap().as_ref()),
            Event::InvokeComplete(done) => {
                assert_eq!(done.error_code(), None);
                let tail = base64::engine::general_purpose::STANDARD.decode(done.log_result().unwrap()).unwrap();
                let tail = String::from_utf8(tail).unwrap();
                assert!(tail.starts_with(&format!("START RequestId: {stream_id} Version: $LATEST\n")), "{tail}");
                completed = true;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(completed);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap(), serde_json::json!({"echo": {"s": true}}));
}

#[tokio::test]
async fn function_errors_timeouts_and_crashes() {
    let server = Server::start();
    let lambda = server.lambda();
    let fail = r#"curl -sS -X POST "$API/invocation/$REQUEST_ID/error" -H "Lambda-Runtime-Function-Error-Type: Custom.Boom" -d '{"errorMessage":"boom","errorType":"Custom.Boom"}' >/dev/null"#;
    create_provided(&lambda, "fails", shell_bootstrap(fail), 3).await;
    let out = lambda.invoke().function_name("fails").send().await.unwrap();
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), Some("Unhandled"));
    let payload: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload["errorType"], "Custom.Boom");

    // A hung function is killed, with its children, and answers AWS's timeout error.
    let hang = r#"sleep 300 & echo $! > "$TMPDIR/child.pid"; sleep 300"#;
    create_provided(&lambda, "hangs", shell_bootstrap(hang), 1).await;
    let started = std::time::Instant::now();
    let out = lambda.invoke().function_name("hangs").send().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(out.function_error(), Some("Unhandled"));
    let payload: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload["errorType"], "Sandbox.Timedout");
    assert!(payload["errorMessage"].as_str().unwrap().ends_with("Task timed out after 1.00 seconds"), "{payload}");

    // A runtime that exits mid-invoke reports Runtime.ExitError; the next invoke gets a fresh one.
    create_provided(&lambda, "crashes", shell_bootstrap("exit 3"), 3).await;
    for _ in 0..2 {
        let out = lambda.invoke().function_name("crashes").send().await.unwrap();
        let payload: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
        assert_eq!(payload["errorType"], "Runtime.ExitError", "{payload}");
        assert!(payload["errorMessage"].as_str().unwrap().ends_with("Runtime exited with error: exit status 3"));
    }
    // Flooding stdout neither blocks the function nor grows nimbus without bound.
    let flood = r#"yes flood | head -n 300000
  curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -d '"done"' >/dev/null"#;
    create_provided(&lambda, "floods", shell_bootstrap(flood), 20).await;
    let out = lambda.invoke().function_name("floods").log_type(LogType::Tail).send().await.unwrap();
    assert_eq!(out.function_error(), None);
    assert_eq!(out.payload().unwrap().as_ref(), b"\"done\"");
    let log = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(out.log_result().unwrap()).unwrap())
        .unwrap();
    assert!(log.contains("output truncated"), "{log}");

    // nimbus itself is fine.
    create_provided(&lambda, "after", shell_bootstrap(ECHO), 3).await;
    assert_eq!(lambda.invoke().function_name("after").send().await.unwrap().function_error(), None);

    // A warm environment whose runtime dies while idle is replaced, not reported as an error.
    let envs: serde_json::Value =
        reqwest::get(format!("{}/_nimbus/lambda/environments", server.endpoint())).await.unwrap().json().await.unwrap();
    let pid = envs["Environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["function"].as_str().unwrap().ends_with(":after"))
        .and_then(|e| e["pid"].as_u64())
        .unwrap();
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(lambda.invoke().function_name("after").send().await.unwrap().function_error(), None);
}

#[tokio::test]
async fn invocation_types_qualifiers_and_throttling() {
    let server = Server::start();
    let lambda = server.lambda();
    create_provided(&lambda, "q", shell_bootstrap(ECHO), 3).await;
    let dry = lambda.invoke().function_name("q").invocation_type(InvocationType::DryRun).send().await.unwrap();
    assert_eq!(dry.status_code(), 204);
    let event = lambda
        .invoke()
        .function_name("q")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new("{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(event.status_code(), 202);

    lambda.publish_version().function_name("q").send().await.unwrap();
    lambda.create_alias().function_name("q").name("live").function_version("1").send().await.unwrap();
    let out = lambda.invoke().function_name("q").qualifier("live").send().await.unwrap();
    assert_eq!(out.executed_version(), Some("1"));
    let out = lambda.invoke().function_name("q:1").send().await.unwrap();
    assert_eq!(out.executed_version(), Some("1"));

    let err = lambda.invoke().function_name("q").payload(Blob::new("not json")).send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidRequestContentException"));
    let err = lambda.invoke().function_name("missing").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception());

    lambda.put_function_concurrency().function_name("q").reserved_concurrent_executions(0).send().await.unwrap();
    let err = lambda.invoke().function_name("q").send().await.unwrap_err().into_service_error();
    assert!(err.is_too_many_requests_exception(), "{err:?}");
    lambda.delete_function_concurrency().function_name("q").send().await.unwrap();
    assert_eq!(lambda.invoke().function_name("q").send().await.unwrap().status_code(), 200);
}

#[tokio::test]
async fn async_retries_follow_the_clock_and_reach_the_failure_destination() {
    use aws_sdk_lambda::types::{DestinationConfig, OnFailure};
    let server = Server::start();
    let lambda = server.lambda();
    let dir = std::env::temp_dir().join(format!("nimbus-dest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let records = dir.join("records.jsonl");
    let attempts = dir.join("attempts");

    let collect = r#"echo "$EVENT" >> "$OUT"
  curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -d '{}' >/dev/null"#;
    create_function_with(
        &lambda,
        "collector",
        Runtime::Providedal2023,
        "unused",
        shell_bootstrap(collect),
        3,
        &[("OUT", records.to_str().unwrap())],
    )
    .await;
    let fail = r#"echo x >> "$ATTEMPTS"
  curl -sS -X POST "$API/invocation/$REQUEST_ID/error" -d '{"errorMessage":"no","errorType":"Nope"}' >/dev/null"#;
    create_function_with(
        &lambda,
        "flaky",
        Runtime::Providedal2023,
        "unused",
        shell_bootstrap(fail),
        3,
        &[("ATTEMPTS", attempts.to_str().unwrap())],
    )
    .await;
    let collector_arn = "arn:aws:lambda:us-east-1:000000000000:function:collector";
    let config = lambda
        .put_function_event_invoke_config()
        .function_name("flaky")
        .maximum_retry_attempts(1)
        .destination_config(
            DestinationConfig::builder().on_failure(OnFailure::builder().destination(collector_arn).build()).build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(config.function_arn(), Some("arn:aws:lambda:us-east-1:000000000000:function:flaky:$LATEST"));
    assert_eq!(config.maximum_retry_attempts(), Some(1));

    lambda
        .invoke()
        .function_name("flaky")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(r#"{"k":"v"}"#))
        .send()
        .await
        .unwrap();
    let count = |path: &std::path::Path| std::fs::read_to_string(path).map(|s| s.lines().count()).unwrap_or(0);
    wait_for(|| count(&attempts) == 1).await;
    // The retry waits a minute of nimbus time; nothing happens until the clock moves.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(count(&attempts), 1);
    reqwest::Client::new()
        .post(format!("{}/_nimbus/clock/advance", server.endpoint()))
        .body(r#"{"seconds": 61}"#)
        .send()
        .await
        .unwrap();
    wait_for(|| count(&records) == 1).await;
    assert_eq!(count(&attempts), 2);
    let record: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&records).unwrap().trim()).unwrap();
    assert_eq!(record["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(record["requestContext"]["approximateInvokeCount"], 2);
    assert_eq!(record["requestContext"]["functionArn"], "arn:aws:lambda:us-east-1:000000000000:function:flaky:$LATEST");
    assert_eq!(record["requestPayload"], serde_json::json!({"k": "v"}));
    assert_eq!(record["responseContext"]["functionError"], "Unhandled");
    assert_eq!(record["responsePayload"]["errorType"], "Nope");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Generous, for a busy 2-core machine: a restart, a cold start and retries all come first.
async fn wait_for(mut done: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("condition not reached in 60 s");
}

#[tokio::test]
async fn hot_reload_runs_from_a_local_folder_and_picks_up_edits() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start();
    let lambda = server.lambda();
    let dir = std::env::temp_dir().join(format!("nimbus-hot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |answer: &str| {
        let script = format!(
            r#"#!/bin/sh
API="http://${{AWS_LAMBDA_RUNTIME_API}}/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sSf -D "$HEADERS" "$API/invocation/next") || exit 1
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -d '"{answer}"' >/dev/null
done
"#
        );
        let path = dir.join("bootstrap");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    write("first");
    let created = lambda
        .create_function()
        .function_name("hot")
        .runtime(Runtime::Providedal2023)
        .handler("unused")
        .role(ROLE)
        .code(FunctionCode::builder().s3_bucket("hot-reload").s3_key(dir.to_str().unwrap()).build())
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "hot").await;
    assert_eq!(created.code_sha256(), Some("hot-reloading-hash-not-available"));
    let answer = |out: aws_sdk_lambda::operation::invoke::InvokeOutput| {
        String::from_utf8(out.payload().unwrap().as_ref().to_vec()).unwrap()
    };
    assert_eq!(answer(lambda.invoke().function_name("hot").send().await.unwrap()), "\"first\"");
    write("second-edit");
    assert_eq!(answer(lambda.invoke().function_name("hot").send().await.unwrap()), "\"second-edit\"");

    let err = lambda
        .create_function()
        .function_name("hot-bad")
        .runtime(Runtime::Providedal2023)
        .handler("unused")
        .role(ROLE)
        .code(FunctionCode::builder().s3_bucket("hot-reload").s3_key("relative/path").build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_value_exception());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bootstrap built with AWS's `lambda_runtime` crate (crates/nimbus-fixtures) runs unchanged.
#[tokio::test]
async fn rust_lambda_runtime_crate_bootstrap() {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_nimbus")).with_file_name("rust-echo-bootstrap");
    let bytes = std::fs::read(&binary).unwrap_or_else(|_| {
        panic!("{} missing: build the workspace first (cargo build --workspace --bins)", binary.display())
    });
    let server = Server::start();
    let lambda = server.lambda();
    lambda
        .create_function()
        .function_name("rusty")
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(ROLE)
        .memory_size(256)
        .code(FunctionCode::builder().zip_file(Blob::new(executable_zip("bootstrap", &bytes))).build())
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "rusty").await;
    let out = lambda.invoke().function_name("rusty").payload(Blob::new(r#"{"hello":"rust"}"#)).send().await.unwrap();
    assert_eq!(out.function_error(), None);
    let body: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["echo"], serde_json::json!({"hello": "rust"}));
    assert_eq!(body["function_arn"], "arn:aws:lambda:us-east-1:000000000000:function:rusty");
    assert_eq!(body["function_name"], "rusty");
    assert_eq!(body["memory"], 256);
    assert_eq!(body["deadline_in_future"], true);
    assert_eq!(body["request_id"].as_str().unwrap().len(), 36);

    let out = lambda.invoke().function_name("rusty").payload(Blob::new(r#"{"fail":1}"#)).send().await.unwrap();
    assert_eq!(out.function_error(), Some("Unhandled"));
    let body: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["errorMessage"], "asked to fail");
}

#[tokio::test]
async fn queued_events_survive_a_restart() {
    let dir = TempDir::new("events-restart");
    let data = dir.path().join("data");
    let attempts = dir.path().join("attempts");
    let server = Server::start_with_data_dir(&data);
    let lambda = server.lambda();
    let fail = r#"echo x >> "$ATTEMPTS"
  curl -sS -X POST "$API/invocation/$REQUEST_ID/error" -d '{"errorMessage":"no","errorType":"Nope"}' >/dev/null"#;
    create_function_with(
        &lambda,
        "retried",
        Runtime::Providedal2023,
        "unused",
        shell_bootstrap(fail),
        3,
        &[("ATTEMPTS", attempts.to_str().unwrap())],
    )
    .await;
    lambda.invoke().function_name("retried").invocation_type(InvocationType::Event).send().await.unwrap();
    let count = |path: &std::path::Path| std::fs::read_to_string(path).map(|s| s.lines().count()).unwrap_or(0);
    wait_for(|| count(&attempts) == 1).await;
    // (Give nimbus a moment to record the failed attempt: one that dies unrecorded runs again.)
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // The retry is a minute away on nimbus's clock when nimbus dies.
    server.kill();
    let server = Server::start_with_data_dir(&data);
    // The queued event resumes after the restart, keeping its retry schedule and its count:
    // two retries in all (a minute, then two minutes after the first attempt), not two more.
    let advance = |seconds: u64| {
        let url = format!("{}/_nimbus/clock/advance", server.endpoint());
        async move {
            reqwest::Client::new().post(url).body(format!(r#"{{"seconds": {seconds}}}"#)).send().await.unwrap();
        }
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(count(&attempts), 1, "the retry waits for its due time");
    advance(61).await;
    wait_for(|| count(&attempts) == 2).await;
    // The attempt is counted when the function runs; nimbus schedules the next retry (now +
    // 2 min) only once it has the reply. Advancing before that would move the clock under it.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    advance(121).await;
    wait_for(|| count(&attempts) == 3).await;
    advance(600).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(count(&attempts), 3, "retries exhausted");
    drop(server);
}
