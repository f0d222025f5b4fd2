//! Response streaming is real: the client holds the first bytes while the function is still
//! running. Each streaming handler writes, then waits for a signal file that the test creates
//! only once it has received those bytes (giving up after a few seconds and saying so), so a
//! nimbus that buffered the response would fail the test instead of hanging it.

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvokeWithResponseStreamResponseEvent as Event;
use aws_sdk_lambda::types::{FunctionUrlAuthType, InvokeMode, Runtime};
use base64::Engine;
use serde_json::json;

use crate::harness::*;

/// Long enough for a slow machine to deliver a chunk, well short of the handler's patience.
const FIRST_BYTES_WITHIN: Duration = Duration::from_secs(3);

const HANDLERS: &[u8] = br#"
import fs from "node:fs";

// Wait for the test's signal file; false if it never came.
async function signalled(path) {
  for (const end = Date.now() + 6000; Date.now() < end; ) {
    if (path && fs.existsSync(path)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

export const events = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType("text/plain");
  responseStream.write("first;");
  responseStream.write((await signalled(event.signal)) ? "after-signal;" : "no-signal;");
  if (event.fail) throw new Error("boom after streaming");
  responseStream.end("done");
});

export const http = awslambda.streamifyResponse(async (event, responseStream) => {
  const query = event.queryStringParameters || {};
  if (query.early) throw new Error("boom before streaming");
  const out = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { "content-type": "text/plain", "x-kind": "stream" },
    cookies: ["a=1", "b=2"],
  });
  out.write("first;");
  out.write((await signalled(query.signal)) ? "after-signal;" : "no-signal;");
  if (query.fail) throw new Error("boom after streaming");
  out.end("done");
});

export const raw = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType("application/x-ndjson");
  responseStream.write('{"n":1}\n');
  responseStream.end('{"n":2}\n');
});

export const buffered = async (event) => ({ statusCode: 201, body: "not a stream" });
"#;

async fn create_node(lambda: &aws_sdk_lambda::Client, name: &str, handler: &str) {
    create_function_with(lambda, name, Runtime::Nodejs22x, handler, zip_of(&[("index.mjs", HANDLERS)]), 10, &[]).await;
}

/// Every event up to the end of the stream: the payload chunks as text, and the InvokeComplete.
async fn rest_of(
    out: &mut aws_sdk_lambda::operation::invoke_with_response_stream::InvokeWithResponseStreamOutput,
) -> (Vec<String>, aws_sdk_lambda::types::InvokeWithResponseStreamCompleteEvent) {
    let mut chunks = Vec::new();
    while let Some(event) = out.event_stream.recv().await.unwrap() {
        match event {
            Event::PayloadChunk(chunk) => {
                chunks.push(String::from_utf8(chunk.payload().unwrap().as_ref().to_vec()).unwrap())
            }
            Event::InvokeComplete(done) => {
                assert!(out.event_stream.recv().await.unwrap().is_none(), "InvokeComplete ends the stream");
                return (chunks, done);
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    panic!("the stream ended without InvokeComplete");
}

#[tokio::test]
async fn invoke_with_response_stream_sends_chunks_while_the_function_runs() {
    let server = Server::start();
    let lambda = server.lambda();
    create_node(&lambda, "streamer", "index.events").await;
    let dir = TempDir::new("nimbus-stream");

    for (round, fail) in [(0, false), (1, true)] {
        let signal = dir.path().join(format!("go-{round}"));
        let payload = json!({"signal": signal, "fail": fail}).to_string();
        let call = lambda.invoke_with_response_stream().function_name("streamer").payload(Blob::new(payload)).send();
        let mut out = tokio::time::timeout(FIRST_BYTES_WITHIN, call).await.expect("answered while running").unwrap();
        assert_eq!(out.executed_version(), Some("$LATEST"));
        let first = tokio::time::timeout(FIRST_BYTES_WITHIN, out.event_stream.recv())
            .await
            .expect("the first chunk arrives before the function finishes")
            .unwrap()
            .unwrap();
        let Event::PayloadChunk(first) = first else { panic!("expected a chunk, got {first:?}") };
        assert_eq!(first.payload().unwrap().as_ref(), b"first;");
        std::fs::write(&signal, b"go").unwrap();

        let (chunks, done) = rest_of(&mut out).await;
        if fail {
            // A failure after the first bytes: what was written, then the error in InvokeComplete.
            assert_eq!(chunks.concat(), "after-signal;");
            assert_eq!(done.error_code(), Some("Error"));
            assert!(done.error_details().unwrap().contains("boom after streaming"), "{done:?}");
        } else {
            assert_eq!(chunks.concat(), "after-signal;done");
            assert_eq!(done.error_code(), None);
            assert_eq!(done.error_details(), None);
        }
    }

    // A handler that does not stream: its whole response as one chunk.
    create_node(&lambda, "buffered", "index.buffered").await;
    let mut out = lambda.invoke_with_response_stream().function_name("buffered").send().await.unwrap();
    let (chunks, done) = rest_of(&mut out).await;
    assert_eq!(chunks.len(), 1);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&chunks[0]).unwrap(),
        json!({"statusCode": 201, "body": "not a stream"})
    );
    assert_eq!(done.error_code(), None);
    // With LogType=Tail the log arrives in InvokeComplete.
    let mut out = lambda
        .invoke_with_response_stream()
        .function_name("buffered")
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .send()
        .await
        .unwrap();
    let (_, done) = rest_of(&mut out).await;
    let log = base64::engine::general_purpose::STANDARD.decode(done.log_result().unwrap()).unwrap();
    assert!(String::from_utf8_lossy(&log).contains("REPORT RequestId"));

    // Plain Invoke of a streaming function gathers what it wrote.
    let out = lambda
        .invoke()
        .function_name("streamer")
        .payload(Blob::new(json!({"signal": dir.path().join("go-0")}).to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.function_error(), None);
    assert_eq!(out.payload().unwrap().as_ref(), b"first;after-signal;done");
}

async fn public_url(lambda: &aws_sdk_lambda::Client, server: &Server, function: &str, mode: InvokeMode) -> String {
    let url = lambda
        .create_function_url_config()
        .function_name(function)
        .auth_type(FunctionUrlAuthType::None)
        .invoke_mode(mode)
        .send()
        .await
        .unwrap();
    lambda
        .add_permission()
        .function_name(function)
        .statement_id("public")
        .action("lambda:InvokeFunctionUrl")
        .principal("*")
        .function_url_auth_type(FunctionUrlAuthType::None)
        .send()
        .await
        .unwrap();
    // The path form on the host the client used (the server's own endpoint).
    assert!(url.function_url().starts_with(&server.endpoint()));
    url.function_url().trim_end_matches('/').to_string()
}

#[tokio::test]
async fn response_stream_function_urls_stream_the_body() {
    let server = Server::start();
    let lambda = server.lambda();
    create_node(&lambda, "web", "index.http").await;
    let base = public_url(&lambda, &server, "web", InvokeMode::ResponseStream).await;
    let dir = TempDir::new("nimbus-url-stream");
    let client = reqwest::Client::new();

    // The prelude becomes the status, headers and cookies; the body follows as it is written.
    let signal = dir.path().join("go");
    let url = format!("{base}/page?signal={}", signal.display());
    let mut response =
        tokio::time::timeout(FIRST_BYTES_WITHIN, client.get(&url).send()).await.expect("head while running").unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.headers()["x-kind"], "stream");
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    let first = tokio::time::timeout(FIRST_BYTES_WITHIN, response.chunk())
        .await
        .expect("the first bytes arrive before the function finishes")
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"first;");
    std::fs::write(&signal, b"go").unwrap();
    let rest = response.bytes().await.unwrap();
    assert_eq!(&rest[..], b"after-signal;done");

    // A failure after the head: the body is cut short (no final chunk), so the client sees an error.
    let url = format!("{base}/page?signal={}&fail=1", signal.display());
    // (When the failure arrives before the head has left, the connection ends with no response.)
    match client.get(&url).send().await {
        Ok(response) => {
            assert_eq!(response.status(), 201);
            assert!(response.bytes().await.is_err(), "a failed stream must not look complete");
        }
        Err(err) => assert!(err.is_request(), "{err}"),
    }

    // A failure before anything was written: Lambda's 502.
    let response = client.get(format!("{base}/page?early=1")).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap(), json!({"Message": "Internal Server Error"}));

    // A stream without HttpResponseStream: a 200 of the stream's content type.
    create_node(&lambda, "ndjson", "index.raw").await;
    let base = public_url(&lambda, &server, "ndjson", InvokeMode::ResponseStream).await;
    let response = client.get(&base).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    assert_eq!(response.text().await.unwrap(), "{\"n\":1}\n{\"n\":2}\n");

    // A handler that does not stream: its result is the body, as is (no statusCode mapping).
    create_node(&lambda, "plain", "index.buffered").await;
    let base = public_url(&lambda, &server, "plain", InvokeMode::ResponseStream).await;
    let response = client.get(&base).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({"statusCode": 201, "body": "not a stream"}));
}

/// A custom runtime streams by posting its response chunked with
/// `Lambda-Runtime-Function-Response-Mode: streaming` — here curl reading a pipe.
#[tokio::test]
async fn a_provided_runtime_streams_through_the_runtime_api() {
    let server = Server::start();
    let lambda = server.lambda();
    let bootstrap = r#"#!/bin/sh
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  SIGNAL=$(printf '%s' "$EVENT" | sed -n 's/.*"signal": *"\([^"]*\)".*/\1/p')
  {
    printf 'first;'
    i=0
    while [ ! -e "$SIGNAL" ] && [ $i -lt 600 ]; do sleep 0.01; i=$((i+1)); done
    if [ -e "$SIGNAL" ]; then printf 'after-signal'; else printf 'no-signal'; fi
  } | curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -H "Expect:" \
      -H "Lambda-Runtime-Function-Response-Mode: streaming" -H "Content-Type: text/plain" -T - >/dev/null
done
"#;
    create_function_with(
        &lambda,
        "curl-streamer",
        Runtime::Providedal2023,
        "unused",
        executable_zip("bootstrap", bootstrap.as_bytes()),
        10,
        &[],
    )
    .await;
    let dir = TempDir::new("nimbus-provided-stream");
    let signal = dir.path().join("go");
    let payload = json!({"signal": signal}).to_string();
    let mut out = lambda
        .invoke_with_response_stream()
        .function_name("curl-streamer")
        .payload(Blob::new(payload))
        .send()
        .await
        .unwrap();
    let first = tokio::time::timeout(FIRST_BYTES_WITHIN, out.event_stream.recv())
        .await
        .expect("the first chunk arrives before the function finishes")
        .unwrap()
        .unwrap();
    let Event::PayloadChunk(first) = first else { panic!("expected a chunk, got {first:?}") };
    assert_eq!(first.payload().unwrap().as_ref(), b"first;");
    std::fs::write(&signal, b"go").unwrap();
    let (chunks, done) = rest_of(&mut out).await;
    assert_eq!(chunks.concat(), "after-signal");
    assert_eq!(done.error_code(), None);
}
