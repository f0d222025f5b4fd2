//! Faults and hostile input (issue 11): each test reproduces one fault and checks that nimbus
//! holds — nothing acknowledged is lost, nothing refused is changed, nothing outside reaches in.

use std::process::Command;
use std::time::Duration;

use crate::harness::*;

/// An SQS client that never retries, so a refused write is seen as refused.
fn sqs_no_retry(server: &Server) -> aws_sdk_sqs::Client {
    sqs_as(server, "AKIDEXAMPLE")
}

fn sqs_as(server: &Server, access_key: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(access_key, "secret", None, None, "test"))
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
    command
        .arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f {kib} && exec \"$0\" --port 0 --log error --data-dir \"$1\"",));
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
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(zip.clone()))
                    .build(),
            )
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
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip.clone()))
                .build(),
        )
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
        .raw_with(
            "POST",
            "/_nimbus/reset",
            &[plain[0], plain[1], ("origin", "https://evil.example")],
            b"{}".to_vec(),
            t,
        )
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

/// Start-up removes only scratch folders carrying nimbus's marker whose owner is dead, and
/// partial blobs a crash left; a function's code is not writable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_removes_only_its_own_debris_and_code_is_read_only() {
    let tmp = std::env::temp_dir();
    let foreign = tmp.join("nimbus-999999997-lambda-not-ours");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("precious.txt"), b"someone else's").unwrap();
    let stale = tmp.join("nimbus-999999996-lambda-ours");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join(".nimbus-scratch"), "999999996 1\n").unwrap();
    let data = TempDir::new("nimbus-safety-debris");
    let blobs = data.path().join("lambda").join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(".deadbeef.0000000000000001.tmp"), b"partial").unwrap();

    let server = Server::start_with_data_dir(data.path());
    assert!(foreign.join("precious.txt").exists(), "a folder nimbus did not create survives");
    assert!(!stale.exists(), "a dead nimbus's marked folder is removed");
    assert!(!blobs.join(".deadbeef.0000000000000001.tmp").exists(), "partial blobs are swept");
    let _ = std::fs::remove_dir_all(&foreign);

    let lambda = server.lambda();
    create_function_with(
        &lambda,
        "stat-code",
        aws_sdk_lambda::types::Runtime::Python312,
        "index.handler",
        python_zip(
            "import os, stat\ndef handler(event, context):\n    root = os.environ['LAMBDA_TASK_ROOT']\n    return {'file': os.stat(os.path.join(root, 'index.py')).st_mode & 0o222, 'dir': os.stat(root).st_mode & 0o222}\n",
        ),
        30,
        &[],
    )
    .await;
    let (error, body) = invoke_json(&lambda, "stat-code", "{}").await;
    assert_eq!(error, None, "{body}");
    assert_eq!(body, serde_json::json!({"file": 0, "dir": 0}), "no write bits on code");
}

fn process_alive(pid: u32) -> bool {
    // A zombie has exited; only a running (or sleeping) process counts.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|rest| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

async fn wait_dead(pid: u32, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if !process_alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    !process_alive(pid)
}

/// A hostile function can neither kill nimbus nor leave a detached grandchild running past its
/// timeout or its deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_functions_cannot_kill_nimbus_or_outlive_their_environment() {
    let server = Server::start();
    let health = server.raw_with("GET", "/_nimbus/health", &[], Vec::new(), Duration::from_secs(10)).await.unwrap();
    let isolation: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    let isolation = isolation["lambdaIsolation"].as_str().unwrap().to_string();
    assert!(["pid-namespace", "process-group"].contains(&isolation.as_str()), "{isolation}");
    let lambda = server.lambda();
    create_function_with(
        &lambda,
        "parricide",
        aws_sdk_lambda::types::Runtime::Python312,
        "index.handler",
        python_zip("import os\ndef handler(event, context):\n    os.kill(os.getppid(), 9)\n    os.kill(1, 9)\n    return 'alive'\n"),
        10,
        &[],
    )
    .await;
    let _ = lambda.invoke().function_name("parricide").send().await;
    let health = server.raw_with("GET", "/_nimbus/health", &[], Vec::new(), Duration::from_secs(10)).await;
    assert_eq!(health.map(|r| r.status).ok(), Some(200), "nimbus survives a function killing its parent");

    // setsid + double fork: the grandchild reports its pid, then sleeps forever.
    let escape = "import os, time\ndef handler(event, context):\n    r, w = os.pipe()\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n            os.write(w, str(os.getpid()).encode() + b'\\n')\n            with open('/proc/self/stat') as f:\n                os.write(w, f.read().split()[0].encode())\n            time.sleep(3600)\n        os._exit(0)\n    os.close(w)\n    data = os.read(r, 100).decode()\n    if event.get('hang'):\n        time.sleep(60)\n    return data\n";
    create_function_with(
        &lambda,
        "escapee",
        aws_sdk_lambda::types::Runtime::Python312,
        "index.handler",
        python_zip(escape),
        2,
        &[],
    )
    .await;
    // The grandchild's host pid: the function sees namespace pids, so find it by its parent.
    let host_pid_of_sleeper = || {
        let mut found = None;
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
            let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
            let env = String::from_utf8_lossy(&env);
            if String::from_utf8_lossy(&cmd).contains("python") && env.contains("AWS_LAMBDA_FUNCTION_NAME=escapee") {
                found.get_or_insert_with(Vec::new).push(pid);
            }
        }
        found.unwrap_or_default()
    };
    let (error, _) = invoke_json(&lambda, "escapee", "{}").await;
    assert_eq!(error, None);
    let before_delete = host_pid_of_sleeper();
    assert!(!before_delete.is_empty(), "the runtime and its grandchild run");
    lambda.delete_function().function_name("escapee").send().await.unwrap();
    for pid in before_delete {
        assert!(wait_dead(pid, Duration::from_secs(10)).await, "pid {pid} outlived DeleteFunction ({isolation})");
    }

    create_function_with(
        &lambda,
        "escapee",
        aws_sdk_lambda::types::Runtime::Python312,
        "index.handler",
        python_zip(escape),
        2,
        &[],
    )
    .await;
    let (error, body) = invoke_json(&lambda, "escapee", r#"{"hang": true}"#).await;
    assert_eq!(error.as_deref(), Some("Unhandled"), "{body}");
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    for pid in host_pid_of_sleeper() {
        assert!(wait_dead(pid, Duration::from_secs(10)).await, "pid {pid} outlived a timeout ({isolation})");
    }
}

/// A function flooding stdout without newlines is bounded: the invocation completes, its log
/// is truncated with a marker, and nimbus's memory stays small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdout_flood_is_bounded() {
    let server = Server::start();
    let lambda = server.lambda();
    create_function_with(
        &lambda,
        "flood",
        aws_sdk_lambda::types::Runtime::Python312,
        "index.handler",
        python_zip("import sys\ndef handler(event, context):\n    chunk = 'x' * (1 << 20)\n    for _ in range(200):\n        sys.stdout.write(chunk)\n    sys.stdout.flush()\n    return 'done'\n"),
        120,
        &[],
    )
    .await;
    let (error, body) = invoke_json(&lambda, "flood", "{}").await;
    assert_eq!((error, body), (None, serde_json::json!("done")));
    let rss_kb = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().unwrap()))
        .unwrap();
    assert!(rss_kb < 400 * 1024, "nimbus peaked at {rss_kb} kB for 200 MB of output");
}

/// SQS keeps account boundaries: another account reaches a queue only as far as its queue
/// policy grants, as on AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_queues_are_private_to_their_account_unless_a_policy_grants() {
    let server = Server::start();
    let owner = sqs_as(&server, "111111111111");
    let other = sqs_as(&server, "222222222222");
    let url = owner.create_queue().queue_name("private").send().await.unwrap().queue_url().unwrap().to_string();
    assert!(url.contains("/111111111111/private"), "{url}");
    let err = other.send_message().queue_url(&url).message_body("x").send().await.expect_err("no policy: denied");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403), "{err:?}");
    assert!(
        format!("{err:?}")
            .contains("Access to the resource https://sqs.us-east-1.amazonaws.com/111111111111/private is denied."),
        "{err:?}"
    );
    let err = other.purge_queue().queue_url(&url).send().await.expect_err("purge denied");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
        "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:111111111111:private"}]});
    owner
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .unwrap();
    other.send_message().queue_url(&url).message_body("granted").send().await.expect("the policy grants SendMessage");
    let err = other.receive_message().queue_url(&url).send().await.expect_err("ReceiveMessage is not granted");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
    let got = owner.receive_message().queue_url(&url).send().await.unwrap();
    assert_eq!(got.messages()[0].body(), Some("granted"));
}

/// Lambda honours function policies across accounts: invoking another account's function is
/// refused until AddPermission grants the caller's account, then it runs in the owner's account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_account_invoke_follows_the_function_policy() {
    let server = Server::start();
    let owner = server.lambda_as("111111111111", REGION);
    let caller = server.lambda_as("222222222222", REGION);
    create_python_function(&owner, "shared").await;
    let arn = "arn:aws:lambda:us-east-1:111111111111:function:shared";
    let err = caller.invoke().function_name(arn).send().await.expect_err("no policy: denied");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403), "{err:?}");
    owner
        .add_permission()
        .function_name("shared")
        .statement_id("caller")
        .action("lambda:InvokeFunction")
        .principal("222222222222")
        .send()
        .await
        .unwrap();
    let out = caller
        .invoke()
        .function_name(arn)
        .payload(aws_sdk_lambda::primitives::Blob::new(r#"{"hi":1}"#))
        .send()
        .await
        .expect("the policy grants the caller");
    assert_eq!(out.function_error(), None);
    assert_eq!(out.payload().unwrap().as_ref(), br#"{"hi": 1}"#);
    // Another account still has no access.
    let third = server.lambda_as("333333333333", REGION);
    assert!(third.invoke().function_name(arn).send().await.is_err());
}

/// A 10 MB error document keeps its error type (only the body is replaced).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_error_keeps_its_type() {
    let server = Server::start();
    let lambda = server.lambda();
    create_function_with(
        &lambda,
        "big-error",
        aws_sdk_lambda::types::Runtime::Python312,
        "index.handler",
        python_zip("def handler(event, context):\n    raise ValueError('x' * 10_000_000)\n"),
        60,
        &[],
    )
    .await;
    let (error, body) = invoke_json(&lambda, "big-error", "{}").await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "ValueError", "{}", &body.to_string()[..body.to_string().len().min(300)]);
}
