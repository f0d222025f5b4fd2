//! Python functions run by nimbus's bundled Python bootstrap, as AWS's runtime runs them.

use aws_sdk_lambda::types::Runtime;

use crate::harness::*;

async fn create_py(lambda: &aws_sdk_lambda::Client, name: &str, files: &[(&str, &[u8])], handler: &str) {
    create_function_with(lambda, name, Runtime::Python312, handler, zip_of(files), 10, &[("GREETING", "hi")]).await;
}

#[tokio::test]
async fn python_handlers_context_errors_and_sdk_calls_back_into_nimbus() {
    let server = Server::start();
    let lambda = server.lambda();
    let code = br#"
import os

def handler(event, context):
    return {
        "event": event,
        "name": context.function_name,
        "arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
        "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 10000,
        "greeting": os.environ["GREETING"],
        "region": os.environ["AWS_REGION"],
        "fn_env": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "log_group": context.log_group_name,
    }

def fails(event, context):
    raise ValueError("bad value " + str(event.get("n")))

def lists_functions(event, context):
    import boto3
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    return sorted(names)
"#;
    create_py(&lambda, "py", &[("app/main.py", code)], "app/main.handler").await;
    let (error, body) = invoke_json(&lambda, "py", r#"{"a": [1, 2]}"#).await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body["event"], serde_json::json!({"a": [1, 2]}));
    assert_eq!(body["name"], "py");
    assert_eq!(body["arn"], "arn:aws:lambda:us-east-1:000000000000:function:py");
    assert_eq!(body["remaining_ok"], true);
    assert_eq!(body["greeting"], "hi");
    assert_eq!(body["region"], "us-east-1");
    assert_eq!(body["fn_env"], "py");
    assert_eq!(body["log_group"], "/aws/lambda/py");
    assert_eq!(body["request_id"].as_str().unwrap().len(), 36);

    create_py(&lambda, "py-fails", &[("app/main.py", code)], "app/main.fails").await;
    let (error, body) = invoke_json(&lambda, "py-fails", r#"{"n": 7}"#).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "ValueError");
    assert_eq!(body["errorMessage"], "bad value 7");
    assert!(body["stackTrace"].as_array().is_some_and(|t| !t.is_empty()), "{body}");

    create_py(&lambda, "py-missing", &[("app/main.py", code)], "nope.handler").await;
    let (error, body) = invoke_json(&lambda, "py-missing", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Runtime.ImportModuleError", "{body}");

    // boto3 inside the function reaches nimbus with no configuration at all.
    if std::process::Command::new("python3").args(["-c", "import boto3"]).status().is_ok_and(|s| s.success()) {
        create_py(&lambda, "py-sdk", &[("app/main.py", code)], "app/main.lists_functions").await;
        let (error, body) = invoke_json(&lambda, "py-sdk", "{}").await;
        assert_eq!(error, None, "{body}");
        assert_eq!(body, serde_json::json!(["py", "py-fails", "py-missing", "py-sdk"]));
    }
}

#[tokio::test]
async fn exceeding_memory_size_stops_the_function() {
    let server = Server::start();
    let lambda = server.lambda();
    let code = b"def handler(event, context):\n    hog = bytearray(400 * 1024 * 1024)\n    for i in range(0, len(hog), 4096):\n        hog[i] = 1\n    return len(hog)\n";
    create_py(&lambda, "hog", &[("index.py", code)], "index.handler").await;
    let (error, body) = invoke_json(&lambda, "hog", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    let kind = body["errorType"].as_str().unwrap();
    // Killed by the resident-memory watch, or refused by the address-space limit first.
    assert!(kind == "Runtime.OutOfMemory" || kind == "MemoryError", "{body}");
    // The next invocation gets a fresh, working environment.
    create_py(&lambda, "ok", &[("index.py", b"def handler(e, c):\n    return 1\n")], "index.handler").await;
    assert_eq!(invoke_json(&lambda, "ok", "{}").await, (None, serde_json::json!(1)));
}
