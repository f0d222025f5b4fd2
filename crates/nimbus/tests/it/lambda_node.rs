//! Node.js functions run by nimbus's bundled Node bootstrap.

use aws_sdk_lambda::types::Runtime;

use crate::harness::*;

async fn create_node(lambda: &aws_sdk_lambda::Client, name: &str, files: &[(&str, &[u8])], handler: &str) {
    create_function_with(lambda, name, Runtime::Nodejs22x, handler, zip_of(files), 10, &[]).await;
}

#[tokio::test]
async fn node_handlers_esm_cjs_callbacks_errors() {
    let server = Server::start();
    let lambda = server.lambda();
    let esm = br#"
export const handler = async (event, context) => {
  console.log("hello", event.n);
  return { n: event.n * 2, name: context.functionName, memory: context.memoryLimitInMB,
           arn: context.invokedFunctionArn, remaining: context.getRemainingTimeInMillis() > 0,
           region: process.env.AWS_REGION };
};
export const fails = async () => { throw new TypeError("nope"); };
"#;
    let cjs = br#"
exports.cb = function (event, context, callback) { setTimeout(() => callback(null, { via: "callback", id: context.awsRequestId.length }), 5); };
exports.cbError = function (event, context, callback) { callback(new Error("cb failed")); };
"#;
    let files: &[(&str, &[u8])] = &[("index.mjs", esm), ("lib/legacy.js", cjs)];
    create_node(&lambda, "esm", files, "index.handler").await;
    let (error, body) = invoke_json(&lambda, "esm", r#"{"n": 21}"#).await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body["n"], 42);
    assert_eq!(body["name"], "esm");
    assert_eq!(body["memory"], "128");
    assert_eq!(body["arn"], "arn:aws:lambda:us-east-1:000000000000:function:esm");
    assert_eq!(body["remaining"], true);
    assert_eq!(body["region"], "us-east-1");

    create_node(&lambda, "esm-fails", files, "index.fails").await;
    let (error, body) = invoke_json(&lambda, "esm-fails", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "TypeError");
    assert_eq!(body["errorMessage"], "nope");
    assert!(body["trace"].as_array().is_some_and(|t| !t.is_empty()), "{body}");

    create_node(&lambda, "cjs", files, "lib/legacy.cb").await;
    let (error, body) = invoke_json(&lambda, "cjs", "{}").await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body, serde_json::json!({"via": "callback", "id": 36}));

    create_node(&lambda, "cjs-error", files, "lib/legacy.cbError").await;
    let (error, body) = invoke_json(&lambda, "cjs-error", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorMessage"], "cb failed");

    create_node(&lambda, "missing", files, "nothere.handler").await;
    let (_, body) = invoke_json(&lambda, "missing", "{}").await;
    assert_eq!(body["errorType"], "Runtime.ImportModuleError", "{body}");
    create_node(&lambda, "not-exported", files, "index.nothing").await;
    let (_, body) = invoke_json(&lambda, "not-exported", "{}").await;
    assert_eq!(body["errorType"], "Runtime.HandlerNotFound", "{body}");
}

#[tokio::test]
async fn node_streaming_handler_through_invoke_with_response_stream() {
    use aws_sdk_lambda::types::InvokeWithResponseStreamResponseEvent as Event;
    let server = Server::start();
    let lambda = server.lambda();
    let code = br#"
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType("text/plain");
  responseStream.write("hello ");
  await new Promise((r) => setTimeout(r, 10));
  responseStream.write("streaming ");
  responseStream.end("world");
});
"#;
    create_node(&lambda, "streamer", &[("index.mjs", code)], "index.handler").await;
    let mut out = lambda.invoke_with_response_stream().function_name("streamer").send().await.unwrap();
    let mut body = Vec::new();
    while let Some(event) = out.event_stream.recv().await.unwrap() {
        match event {
            Event::PayloadChunk(chunk) => body.extend_from_slice(chunk.payload().unwrap().as_ref()),
            Event::InvokeComplete(done) => assert_eq!(done.error_code(), None),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(String::from_utf8(body).unwrap(), "hello streaming world");
}
