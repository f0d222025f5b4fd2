//! `nimbus-bench-crashloop`: nothing acknowledged is lost across `kill -9`.
//!
//! N rounds on one `--data-dir`: start nimbus, run 4 writers at once — Lambda CreateFunction,
//! SQS SendMessage, SQS CreateQueue, CloudWatch Logs PutLogEvents, each write unique — and
//! `kill -9` nimbus at a random moment. A write counts as acknowledged only when its 200 answer
//! arrived before the kill. After the last round a fresh nimbus reads everything back and the
//! program prints acknowledged writes and losses per writer (it exits 1 on any loss).

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use nimbus_bench::{Args, Conn, Res, Server};
use serde_json::{json, Value};

const WRITERS: [&str; 4] = ["lambda CreateFunction", "sqs SendMessage", "sqs CreateQueue", "logs PutLogEvents"];

fn main() {
    let args = Args::parse("nimbus-bench-crashloop", &[("rounds", "N")]);
    let rounds = args.get("rounds").and_then(|n| n.parse().ok()).unwrap_or(100);
    if nimbus_bench::block_on("nimbus-bench-crashloop", run(&args.nimbus, rounds)) != 0 {
        std::process::exit(1);
    }
}

/// A tiny xorshift so kill points differ per round without a dependency.
fn random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn tiny_zip(tag: &str) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file("index.py", zip::write::SimpleFileOptions::default()).expect("zip");
        w.write_all(format!("# {tag}\ndef handler(event, context):\n    return 1\n").as_bytes()).expect("zip");
        w.finish().expect("zip");
    }
    buf.into_inner()
}

async fn json_call(conn: &mut Conn, target: &str, content_type: &str, body: Value) -> Res<(u16, Value)> {
    let headers = [("Content-Type", content_type), ("X-Amz-Target", target)];
    let (status, out) = conn.request_with("POST", "/", &headers, body.to_string().as_bytes()).await?;
    Ok((status, serde_json::from_slice(&out).unwrap_or(Value::Null)))
}

async fn sqs(conn: &mut Conn, op: &str, body: Value) -> Res<(u16, Value)> {
    json_call(conn, &format!("AmazonSQS.{op}"), "application/x-amz-json-1.0", body).await
}

async fn logs(conn: &mut Conn, op: &str, body: Value) -> Res<(u16, Value)> {
    json_call(conn, &format!("Logs_20140328.{op}"), "application/x-amz-json-1.1", body).await
}

/// One writer's unique write number `i` in round `round`; `Ok(true)` when acknowledged.
async fn write(conn: &mut Conn, writer: usize, round: usize, i: usize, queue_url: &str) -> Res<bool> {
    let tag = format!("r{round:03}-{i:05}");
    let status = match writer {
        0 => {
            let body = json!({
                "FunctionName": format!("crash-{tag}"), "Runtime": "python3.12",
                "Role": "arn:aws:iam::000000000000:role/r", "Handler": "index.handler",
                "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(tiny_zip(&tag))},
            });
            conn.request("POST", "/2015-03-31/functions", body.to_string().as_bytes()).await?.0
        }
        1 => sqs(conn, "SendMessage", json!({"QueueUrl": queue_url, "MessageBody": tag})).await?.0,
        2 => sqs(conn, "CreateQueue", json!({"QueueName": format!("crash-{tag}")})).await?.0,
        _ => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
            let body = json!({"logGroupName": "crash", "logStreamName": "s",
                "logEvents": [{"timestamp": now as i64, "message": tag}]});
            logs(conn, "PutLogEvents", body).await?.0
        }
    };
    Ok(matches!(status, 200 | 201))
}

async fn run(nimbus: &str, rounds: usize) -> Res<usize> {
    let dir = std::env::temp_dir().join(format!("nimbus-crashloop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data_dir = dir.to_string_lossy().into_owned();
    let args = ["--data-dir", data_dir.as_str()];
    let acked: Arc<Mutex<Vec<HashSet<String>>>> = Arc::new(Mutex::new(vec![HashSet::new(); 4]));
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
    let started = Instant::now();
    let mut queue_url = String::new();
    for round in 0..rounds {
        let (server, _) = Server::start_timed_with(nimbus, &args).await?;
        let port = server.port;
        if round == 0 {
            let mut conn = Conn::connect(port).await?;
            let (_, created) = sqs(&mut conn, "CreateQueue", json!({"QueueName": "crash-messages"})).await?;
            queue_url = created["QueueUrl"].as_str().unwrap_or_default().to_string();
            logs(&mut conn, "CreateLogGroup", json!({"logGroupName": "crash"})).await?;
            logs(&mut conn, "CreateLogStream", json!({"logGroupName": "crash", "logStreamName": "s"})).await?;
        }
        let mut tasks = Vec::new();
        for writer in 0..4 {
            let acked = acked.clone();
            let url = queue_url.clone();
            tasks.push(tokio::spawn(async move {
                let Ok(mut conn) = Conn::connect(port).await else { return };
                for i in 0.. {
                    match write(&mut conn, writer, round, i, &url).await {
                        Ok(true) => {
                            let tag = format!("r{round:03}-{i:05}");
                            acked.lock().expect("acks").get_mut(writer).expect("writer").insert(tag);
                        }
                        Ok(false) => {}
                        // The server died mid-request: not acknowledged.
                        Err(err) => {
                            if std::env::var_os("CRASHLOOP_DEBUG").is_some() {
                                eprintln!("writer {writer} round {round} write {i}: {err}");
                            }
                            return;
                        }
                    }
                }
            }));
        }
        // Kill at a random point 20 ms – 1.5 s into the writes (`CRASHLOOP_WINDOW_MS` changes the span).
        let window: u64 = std::env::var("CRASHLOOP_WINDOW_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1500);
        tokio::time::sleep(Duration::from_millis(20 + random(&mut seed) % window)).await;
        drop(server); // SIGKILL, then reap
        for task in tasks {
            let _ = task.await;
        }
    }

    let (server, _) = Server::start_timed_with(nimbus, &args).await?;
    let mut conn = Conn::connect(server.port).await?;
    let mut found: Vec<HashSet<String>> = vec![HashSet::new(); 4];
    // Lambda: every function.
    let mut marker: Option<String> = None;
    loop {
        let path = match &marker {
            Some(m) => format!("/2015-03-31/functions/?MaxItems=50&Marker={}", nimbus_bench::encode_query(m)),
            None => "/2015-03-31/functions/?MaxItems=50".into(),
        };
        let (_, body) = conn.request("GET", &path, b"").await?;
        let page: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        for f in page["Functions"].as_array().into_iter().flatten() {
            if let Some(tag) = f["FunctionName"].as_str().and_then(|n| n.strip_prefix("crash-")) {
                found[0].insert(tag.to_string());
            }
        }
        marker = page["NextMarker"].as_str().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    // SQS messages: receive until three empty answers in a row.
    let mut empty = 0;
    while empty < 3 {
        let (_, got) = sqs(
            &mut conn,
            "ReceiveMessage",
            json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "VisibilityTimeout": 3600}),
        )
        .await?;
        let messages = got["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            empty += 1;
        }
        for m in messages {
            found[1].insert(m["Body"].as_str().unwrap_or_default().to_string());
        }
    }
    // SQS queues.
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"QueueNamePrefix": "crash-r", "MaxResults": 1000});
        if let Some(t) = &token {
            body["NextToken"] = json!(t);
        }
        let (_, page) = sqs(&mut conn, "ListQueues", body).await?;
        for url in page["QueueUrls"].as_array().into_iter().flatten() {
            if let Some(tag) = url.as_str().and_then(|u| u.rsplit('/').next()).and_then(|n| n.strip_prefix("crash-")) {
                found[2].insert(tag.to_string());
            }
        }
        token = page["NextToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    // Logs.
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"logGroupName": "crash", "logStreamName": "s", "startFromHead": true});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let (_, page) = logs(&mut conn, "GetLogEvents", body).await?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        for e in &events {
            found[3].insert(e["message"].as_str().unwrap_or_default().to_string());
        }
        let next = page["nextForwardToken"].as_str().map(str::to_string);
        if events.is_empty() || next == token {
            break;
        }
        token = next;
    }

    let acked = acked.lock().expect("acks").clone();
    println!(
        "nimbus crash loop: {rounds} rounds of kill -9 under 4 writers ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    let mut lost_total = 0;
    for (writer, name) in WRITERS.iter().enumerate() {
        let lost: Vec<&String> = acked[writer].iter().filter(|t| !found[writer].contains(*t)).collect();
        lost_total += lost.len();
        println!(
            "  {name:<24} acknowledged {:>6}  found {:>6}  lost {:>3}{}",
            acked[writer].len(),
            found[writer].len(),
            lost.len(),
            if lost.is_empty() { String::new() } else { format!("  e.g. {:?}", &lost[..lost.len().min(5)]) }
        );
    }
    println!("  total lost: {lost_total}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(lost_total)
}
