//! The AWS SDK inside functions: code that imports the SDK its runtime includes on AWS (boto3,
//! `@aws-sdk/*` v3) without bundling it runs, on an SDK nimbus installs into its cache; a copy
//! the function bundles wins.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_lambda::types::Runtime;

use crate::harness::*;
use crate::sqs_esm::{queue, sqs};

/// Receive one message from a queue, waiting for it (the machine may be loaded).
async fn receive_one(sqs: &aws_sdk_sqs::Client, url: &str) -> aws_sdk_sqs::types::Message {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = sqs.receive_message().queue_url(url).wait_time_seconds(2).send().await.unwrap();
        if let Some(message) = out.messages().first() {
            return message.clone();
        }
        assert!(Instant::now() < deadline, "no message arrived on {url}");
    }
}

/// A Python interpreter that cannot import boto3: the system python3 when it has none, else a
/// bare virtual environment.
fn python_without_boto3(scratch: &Path) -> PathBuf {
    let lacks_boto3 =
        |python: &Path| Command::new(python).args(["-c", "import boto3"]).output().is_ok_and(|o| !o.status.success());
    let system = PathBuf::from("/usr/bin/python3");
    if system.is_file() && lacks_boto3(&system) {
        return system;
    }
    let venv = scratch.join("bare-python");
    let made = Command::new("python3").args(["-m", "venv", "--without-pip"]).arg(&venv).status().unwrap();
    assert!(made.success(), "python3 -m venv failed");
    let python = venv.join("bin/python3");
    assert!(lacks_boto3(&python), "{} imports boto3", python.display());
    python
}

#[tokio::test]
async fn python_function_imports_boto3_on_a_python_without_it() {
    let scratch = TempDir::new("nimbus-sdk-python");
    let python = python_without_boto3(scratch.path());
    let runtime_flag = format!("python3.12={}", python.display());
    // The test installs the SDK itself, as a user would before going offline.
    let cache = shared_cache_dir();
    let installed = Command::new(env!("CARGO_BIN_EXE_nimbus"))
        .args(["runtimes", "install", "python3.12", "--runtime", &runtime_flag, "--cache-dir"])
        .arg(&cache)
        .output()
        .unwrap();
    assert!(installed.status.success(), "install failed: {}", String::from_utf8_lossy(&installed.stderr));
    let sdk_dir = cache.join("sdk/python/boto3-1.44.8");
    assert!(String::from_utf8_lossy(&installed.stdout).contains(&sdk_dir.display().to_string()));

    let server = Server::start_with(&["--runtime", &runtime_flag]);
    let (lambda, sqs) = (server.lambda(), sqs(&server));
    let (url, _) = queue(&sqs, "from-python", &[]).await;
    let code = r#"
import sys
import boto3
import botocore

sqs = boto3.client("sqs")

def handler(event, context):
    sent = sqs.send_message(QueueUrl=event["queue"], MessageBody="hello from boto3")
    return {"boto3": boto3.__version__, "botocore": botocore.__version__, "file": boto3.__file__,
            "python": sys.executable, "id": sent["MessageId"]}
"#;
    create_function_with(&lambda, "uses-boto3", Runtime::Python312, "index.handler", python_zip(code), 30, &[]).await;
    let (error, body) = invoke_json(&lambda, "uses-boto3", &serde_json::json!({"queue": url}).to_string()).await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body["boto3"], "1.44.8");
    assert_eq!(body["botocore"], "1.44.8");
    assert_eq!(body["python"], python.display().to_string());
    assert!(body["file"].as_str().unwrap().starts_with(&sdk_dir.display().to_string()), "{body}");
    let message = receive_one(&sqs, &url).await;
    assert_eq!(message.body(), Some("hello from boto3"));
    assert_eq!(message.message_id(), body["id"].as_str());

    // A bundled copy wins over the runtime's, as on AWS.
    let bundled: &[(&str, &[u8])] = &[
        ("index.py", b"import boto3\ndef handler(event, context):\n    return {'boto3': boto3.__version__}\n"),
        ("boto3/__init__.py", b"__version__ = 'bundled'\n"),
        ("botocore/__init__.py", b"__version__ = 'bundled'\n"),
    ];
    create_function_with(&lambda, "bundles-boto3", Runtime::Python312, "index.handler", zip_of(bundled), 30, &[]).await;
    let (error, body) = invoke_json(&lambda, "bundles-boto3", "{}").await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body["boto3"], "bundled");
}

#[tokio::test]
async fn node_function_imports_the_sdk_installed_on_first_use() {
    // No `runtimes install`: the first invocation installs the client the code imports.
    let server = Server::start();
    let (lambda, sqs) = (server.lambda(), sqs(&server));
    let (url, _) = queue(&sqs, "from-node", &[]).await;
    let esm = br#"
import { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
const client = new SQSClient({});
export const handler = async (event) => {
  const out = await client.send(new SendMessageCommand({ QueueUrl: event.queue, MessageBody: "hello from @aws-sdk/client-sqs" }));
  return { id: out.MessageId };
};
"#;
    let cjs = br#"
exports.handler = async () => ({
  version: require("@aws-sdk/client-sqs/package.json").version,
  path: require.resolve("@aws-sdk/client-sqs"),
});
"#;
    let files: &[(&str, &[u8])] = &[("index.mjs", esm), ("version.js", cjs)];
    create_function_with(&lambda, "uses-sdk", Runtime::Nodejs22x, "index.handler", zip_of(files), 30, &[]).await;
    let (error, body) = invoke_json(&lambda, "uses-sdk", &serde_json::json!({"queue": url}).to_string()).await;
    assert_eq!(error, None, "{body}");
    let message = receive_one(&sqs, &url).await;
    assert_eq!(message.body(), Some("hello from @aws-sdk/client-sqs"));
    assert_eq!(message.message_id(), body["id"].as_str());

    create_function_with(&lambda, "sdk-version", Runtime::Nodejs22x, "version.handler", zip_of(files), 30, &[]).await;
    let (error, body) = invoke_json(&lambda, "sdk-version", "{}").await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body["version"], "3.1178.0");
    let sdk_dir = shared_cache_dir().join("sdk/nodejs/aws-sdk-3.1178.0/node_modules");
    assert!(body["path"].as_str().unwrap().starts_with(&sdk_dir.display().to_string()), "{body}");

    // The function's own node_modules win.
    let bundled: &[(&str, &[u8])] = &[
        ("index.mjs", b"import { origin } from '@aws-sdk/client-sqs'; export const handler = async () => origin;"),
        ("node_modules/@aws-sdk/client-sqs/package.json", br#"{"name": "@aws-sdk/client-sqs", "main": "own.js"}"#),
        ("node_modules/@aws-sdk/client-sqs/own.js", b"exports.origin = 'bundled';"),
    ];
    create_function_with(&lambda, "bundles-sdk", Runtime::Nodejs22x, "index.handler", zip_of(bundled), 30, &[]).await;
    let (error, body) = invoke_json(&lambda, "bundles-sdk", "{}").await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body, "bundled");
}

#[tokio::test]
async fn an_sdk_that_cannot_be_installed_fails_the_invoke_clearly() {
    let cache = TempDir::new("nimbus-sdk-offline");
    let mut command = Command::new(env!("CARGO_BIN_EXE_nimbus"));
    command
        .args(["--port", "0", "--log", "warn"])
        .env("NIMBUS_CACHE_DIR", cache.path())
        // A registry nothing listens on.
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .env("PIP_NO_CACHE_DIR", "1");
    let server = Server::start_command(command);
    let lambda = server.lambda();
    let code = "import boto3\ndef handler(event, context):\n    return 1\n";
    create_function_with(&lambda, "offline", Runtime::Python312, "index.handler", python_zip(code), 30, &[]).await;
    let err = lambda.invoke().function_name("offline").send().await.unwrap_err();
    let service = err.into_service_error();
    let meta = aws_sdk_lambda::error::ProvideErrorMetadata::meta(&service);
    assert_eq!(meta.code(), Some("InvalidRuntimeException"), "{service:?}");
    let message = meta.message().unwrap_or_default();
    assert!(message.contains("could not install the AWS SDK that the python3.12 runtime includes"), "{message}");
    assert!(message.contains("nimbus runtimes install python3.12"), "{message}");
    // Nothing half-installed is left to be taken for the SDK.
    assert!(!cache.path().join("sdk/python/boto3-1.44.8").exists());

    // A function that does not use the SDK needs no registry.
    let plain = "def handler(event, context):\n    return 2\n";
    create_function_with(&lambda, "plain", Runtime::Python312, "index.handler", python_zip(plain), 30, &[]).await;
    let (error, body) = invoke_json(&lambda, "plain", "{}").await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body, 2);
}
