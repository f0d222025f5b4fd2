//! Faults and hostile input (issue 11): each test reproduces one fault and checks that nimbus
//! holds — nothing acknowledged is lost, nothing refused is changed, nothing outside reaches in.

use std::process::Command;
use std::time::Duration;

use crate::harness::*;

/// An SQS client that never retries, so a refused write is seen as refused.
fn sqs_no_retry(server: &Server) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_sdk_sqs::config::timeout::TimeoutConfig::builder().operation_timeout(Duration::from_secs(20)).build(),
        )
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// nimbus under a file-size limit (`ulimit -f`, with SIGXFSZ ignored so writes past it fail
/// with EFBIG the way a full disk fails them) — a short append on demand.
fn start_with_file_size_limit(data_dir: &std::path::Path, kib: u64) -> Server {
    let mut command = Command::new("bash");
    command.arg("-c").arg(format!(
        "trap '' XFSZ; ulimit -f {kib} && exec \"$0\" --port 0 --log error --data-dir \"$1\"",
    ));
    command.arg(env!("CARGO_BIN_EXE_nimbus")).arg(data_dir);
    Server::start_command(command)
}

async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .unwrap();
        let batch = out.messages();
        if batch.is_empty() {
            return bodies;
        }
        bodies.extend(batch.iter().filter_map(|m| m.body().map(str::to_string)));
    }
}

/// A write cut short (full disk) is refused, leaves memory and journal as they were, and the
/// writes acknowledged after it survive a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_journal_append_is_undone_and_later_writes_survive() {
    let dir = TempDir::new("nimbus-safety-fsize");
    let server = start_with_file_size_limit(dir.path(), 256);
    let sqs = sqs_no_retry(&server);
    let url = sqs.create_queue().queue_name("fsize").send().await.unwrap().queue_url().unwrap().to_string();
    let small = |i: usize| format!("small-{i:04}-{}", "s".repeat(600));
    for i in 0..100 {
        sqs.send_message().queue_url(&url).message_body(small(i)).send().await.unwrap();
    }
    // ~100 KiB journaled; this record cannot fit under the 256 KiB limit: a short append.
    let big = "B".repeat(200 * 1024);
    let refused = sqs.send_message().queue_url(&url).message_body(&big).send().await;
    let err = refused.expect_err("a write the journal could not take must not be acknowledged");
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(500), "{err:?}");
    // The refused message is not in memory either.
    let visible = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    assert_eq!(
        visible.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages],
        "100"
    );
    // Later small writes fit again: the partial bytes were truncated away.
    for i in 100..110 {
        sqs.send_message().queue_url(&url).message_body(small(i)).send().await.expect("write after a failed one");
    }
    server.kill();

    let server = Server::start_with_data_dir(dir.path());
    let sqs = sqs_no_retry(&server);
    let mut bodies = receive_all(&sqs, &url).await;
    bodies.sort();
    let expected: Vec<String> = (0..110).map(small).collect();
    assert_eq!(bodies.len(), 110, "acknowledged messages after restart");
    assert_eq!(bodies, expected);
}

/// A Lambda write the journal refuses is answered 500 and leaves no trace: the function is not
/// in memory, a retry is journaled again, and a restart shows exactly what was acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_write_answered_500_changes_nothing() {
    let dir = TempDir::new("nimbus-safety-lambda-fsize");
    let server = start_with_file_size_limit(dir.path(), 48);
    let lambda = server.lambda_no_retry(Duration::from_secs(30));
    let zip = python_zip("def handler(event, context):\n    return 1\n");
    let mut acked = Vec::new();
    let mut refused = None;
    for i in 0..200 {
        let name = format!("fn-{i:03}");
        let out = lambda
            .create_function()
            .function_name(&name)
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .role(ROLE)
            .handler("index.handler")
            .description("d".repeat(250))
            .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(aws_sdk_lambda::primitives::Blob::new(zip.clone())).build())
            .send()
            .await;
        match out {
            Ok(_) => acked.push(name),
            Err(err) => {
                assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(500), "{err:?}");
                refused = Some(name);
                break;
            }
        }
    }
    let refused = refused.expect("the file-size limit refuses a write");
    assert!(acked.len() >= 5, "only {} functions fit", acked.len());
    let err = lambda.get_function().function_name(&refused).send().await.expect_err("refused function is absent");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
    // The retry is refused again rather than answered from memory the journal never saw.
    let again = lambda
        .create_function()
        .function_name(&refused)
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .description("d".repeat(250))
        .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(aws_sdk_lambda::primitives::Blob::new(zip.clone())).build())
        .send()
        .await;
    assert_eq!(again.expect_err("still no room").raw_response().map(|r| r.status().as_u16()), Some(500));
    server.kill();

    let server = Server::start_with_data_dir(dir.path());
    let listed = server.lambda().list_functions().max_items(1000).send().await.unwrap();
    let mut names: Vec<String> =
        listed.functions().iter().filter_map(|f| f.function_name().map(str::to_string)).collect();
    names.sort();
    assert_eq!(names, acked);
}

/// A web page cannot reach nimbus's API: a "simple" cross-origin POST to `/_nimbus/reset`, or
/// a DNS-rebound `Host`, is refused; local origins and configured ones pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_and_hosts_are_refused() {
    let server = Server::start();
    create_python_function(&server.lambda(), "kept").await;
    let t = Duration::from_secs(20);
    let plain = [("content-type", "text/plain"), ("authorization", "none")];
    let evil = server
        .raw_with("POST", "/_nimbus/reset", &[plain[0], plain[1], ("origin", "https://evil.example")], b"{}".to_vec(), t)
        .await
        .unwrap();
    assert_eq!(evil.status, 403, "{}", evil.text());
    assert!(evil.text().contains("--allowed-origins"), "{}", evil.text());
    let referer = server
        .raw_with("POST", "/_nimbus/reset", &[plain[0], ("referer", "http://evil.example/page")], Vec::new(), t)
        .await
        .unwrap();
    assert_eq!(referer.status, 403);
    let rebound = server
        .raw_with("GET", "/2015-03-31/functions/", &[("host", "rebind.evil.example:4566")], Vec::new(), t)
        .await
        .unwrap();
    assert_eq!(rebound.status, 403, "{}", rebound.text());
    assert!(server.lambda().get_function().function_name("kept").send().await.is_ok(), "state survived");
    // Local pages and S3/API Gateway style local hosts still work.
    let local = server
        .raw_with("GET", "/2015-03-31/functions/", &[("origin", "http://localhost:3000")], Vec::new(), t)
        .await
        .unwrap();
    assert_eq!(local.status, 200, "{}", local.text());
    let vhost = server
        .raw_with("GET", "/2015-03-31/functions/", &[("host", "bucket.s3.localhost:4566")], Vec::new(), t)
        .await
        .unwrap();
    assert_ne!(vhost.status, 403, "{}", vhost.text());

    let open = Server::start_with(&["--allowed-origins", "https://app.test", "--allowed-hosts", "*.corp.test"]);
    let allowed = open
        .raw_with(
            "GET",
            "/2015-03-31/functions/",
            &[("origin", "https://app.test"), ("host", "nimbus.corp.test")],
            Vec::new(),
            t,
        )
        .await
        .unwrap();
    assert_eq!(allowed.status, 200, "{}", allowed.text());
}
