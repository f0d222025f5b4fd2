//! `nimbus-bench-sqs`: SQS and event source mapping figures — send+receive+delete messages/s
//! with the single and the batch APIs, queue-to-handler latency (SendMessage sent → handler
//! started, p50/p99) and 10,000 messages drained through a mapping with none lost.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::Engine;
use nimbus_bench::{percentile, verdict, Args, Conn, Res, Server};
use serde_json::{json, Value};

const MESSAGES: usize = 10_000;
const SINGLE_MESSAGES: usize = 3_000;
const CLIENTS: usize = 4;
const LATENCY_SAMPLES: usize = 200;

const TARGET_BATCH_RATE: f64 = 5_000.0;
const TARGET_P50_MS: f64 = 50.0;

fn main() {
    let args = Args::parse("nimbus-bench-sqs", &[]);
    nimbus_bench::block_on("nimbus-bench-sqs", run(&args.nimbus));
}

async fn sqs(conn: &mut Conn, op: &str, body: Value) -> Res<Value> {
    let target = format!("AmazonSQS.{op}");
    let headers = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", target.as_str())];
    let (status, out) = conn.request_with("POST", "/", &headers, body.to_string().as_bytes()).await?;
    if status != 200 {
        return Err(format!("{op} answered {status}: {}", String::from_utf8_lossy(&out)));
    }
    serde_json::from_slice(&out).map_err(|e| format!("{op}: {e}"))
}

async fn create_queue(conn: &mut Conn, name: &str) -> Res<(String, String)> {
    let url = sqs(conn, "CreateQueue", json!({"QueueName": name})).await?["QueueUrl"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let attrs = sqs(conn, "GetQueueAttributes", json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]})).await?;
    Ok((url, attrs["Attributes"]["QueueArn"].as_str().unwrap_or_default().to_string()))
}

/// Send, receive and delete `total` messages from `CLIENTS` connections; `batch` uses the batch APIs.
async fn round_trips(port: u16, url: &str, total: usize, batch: bool) -> Res<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port).await?;
            let share = total / CLIENTS;
            let per_call = if batch { 10 } else { 1 };
            let mut done = 0;
            while done < share {
                if batch {
                    let entries: Vec<Value> = (0..10)
                        .map(|i| json!({"Id": format!("e{i}"), "MessageBody": format!("c{client}-{done}-{i}")}))
                        .collect();
                    sqs(&mut conn, "SendMessageBatch", json!({"QueueUrl": url, "Entries": entries})).await?;
                } else {
                    sqs(&mut conn, "SendMessage", json!({"QueueUrl": url, "MessageBody": format!("c{client}-{done}")}))
                        .await?;
                }
                let received =
                    sqs(&mut conn, "ReceiveMessage", json!({"QueueUrl": url, "MaxNumberOfMessages": per_call})).await?;
                let handles: Vec<String> = received["Messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["ReceiptHandle"].as_str().map(str::to_string))
                    .collect();
                if batch {
                    let entries: Vec<Value> = handles
                        .iter()
                        .enumerate()
                        .map(|(i, h)| json!({"Id": format!("d{i}"), "ReceiptHandle": h}))
                        .collect();
                    if !entries.is_empty() {
                        sqs(&mut conn, "DeleteMessageBatch", json!({"QueueUrl": url, "Entries": entries})).await?;
                    }
                } else {
                    for h in &handles {
                        sqs(&mut conn, "DeleteMessage", json!({"QueueUrl": url, "ReceiptHandle": h})).await?;
                    }
                }
                done += per_call;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

fn handler_zip() -> Vec<u8> {
    use std::io::Write;
    // Records when the handler starts, per message: (start time - send time embedded in the body).
    let code = br#"
import os, time
def handler(event, context):
    started = time.time()
    with open(os.environ["OUT"], "a") as out:
        for r in event["Records"]:
            out.write("%s %f\n" % (r["messageId"], started))
    return {}
"#;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file("index.py", zip::write::SimpleFileOptions::default()).expect("zip");
        w.write_all(code).expect("zip");
        w.finish().expect("zip");
    }
    buf.into_inner()
}

async fn run(nimbus: &str) -> Res<()> {
    let server = Server::start(nimbus).await?;
    let port = server.port;
    let mut conn = Conn::connect(port).await?;
    println!("nimbus-bench-sqs: {CLIENTS} clients, JSON protocol");

    let (url, _) = create_queue(&mut conn, "bench-single").await?;
    let single = round_trips(port, &url, SINGLE_MESSAGES, false).await?;
    println!("1. send+receive+delete, single-message APIs: {single:.0} messages/s ({SINGLE_MESSAGES} messages)");
    let (url, _) = create_queue(&mut conn, "bench-batch").await?;
    let batch = round_trips(port, &url, MESSAGES, true).await?;
    println!(
        "2. send+receive+delete, batch APIs: {batch:.0} messages/s ({MESSAGES} messages)   [target: >= {TARGET_BATCH_RATE} messages/s: {}]",
        verdict(batch >= TARGET_BATCH_RATE)
    );

    // A mapping with a trivial Python handler that notes when it started for each message.
    let out = std::env::temp_dir().join(format!("nimbus-bench-sqs-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let create = json!({
        "FunctionName": "drain", "Runtime": "python3.12", "Role": "arn:aws:iam::000000000000:role/r",
        "Handler": "index.handler", "Timeout": 30,
        "Environment": {"Variables": {"OUT": out.display().to_string()}},
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(handler_zip())},
    });
    let (status, body) = conn.request("POST", "/2015-03-31/functions", create.to_string().as_bytes()).await?;
    if status != 201 {
        return Err(format!("CreateFunction answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let (url, arn) = create_queue(&mut conn, "bench-esm").await?;
    let mapping = json!({"FunctionName": "drain", "EventSourceArn": arn, "BatchSize": 10});
    let (status, body) =
        conn.request("POST", "/2015-03-31/event-source-mappings", mapping.to_string().as_bytes()).await?;
    if status != 202 {
        return Err(format!("CreateEventSourceMapping answered {status}: {}", String::from_utf8_lossy(&body)));
    }

    // 3: latency, one message at a time so queueing does not dominate.
    let mut sent_at = std::collections::HashMap::new();
    for _ in 0..LATENCY_SAMPLES {
        // Timed from just before SendMessage is sent: the handler often starts before the
        // client has even read SendMessage's answer, so "after it returns" would read as zero.
        let sent = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let reply = sqs(&mut conn, "SendMessage", json!({"QueueUrl": url, "MessageBody": "ping"})).await?;
        sent_at.insert(reply["MessageId"].as_str().unwrap_or_default().to_string(), sent);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = wait_for_lines(&out, LATENCY_SAMPLES, Duration::from_secs(60)).await;
    let mut latencies: Vec<u64> = seen
        .iter()
        .filter_map(|(id, started)| sent_at.get(id).map(|sent| ((started - sent).max(0.0) * 1_000_000.0) as u64))
        .collect();
    latencies.sort_unstable();
    let p50 = percentile(&latencies, 50.0) as f64 / 1000.0;
    let p99 = percentile(&latencies, 99.0) as f64 / 1000.0;
    println!(
        "3. queue-to-handler latency ({} messages): p50 {p50:.1} ms, p99 {p99:.1} ms   [target: p50 <= {TARGET_P50_MS} ms: {}]",
        latencies.len(),
        verdict(p50 <= TARGET_P50_MS)
    );

    // 4: drain 10,000 messages through the mapping.
    let _ = std::fs::remove_file(&out);
    let started = Instant::now();
    for chunk in 0..MESSAGES / 10 {
        let entries: Vec<Value> =
            (0..10).map(|i| json!({"Id": format!("e{i}"), "MessageBody": format!("m{}", chunk * 10 + i)})).collect();
        sqs(&mut conn, "SendMessageBatch", json!({"QueueUrl": url, "Entries": entries})).await?;
    }
    let seen = wait_for_lines(&out, MESSAGES, Duration::from_secs(300)).await;
    let elapsed = started.elapsed();
    let unique: HashSet<&String> = seen.iter().map(|(id, _)| id).collect();
    let left = sqs(&mut conn, "GetQueueAttributes", json!({"QueueUrl": url, "AttributeNames": ["All"]})).await?;
    let visible = left["Attributes"]["ApproximateNumberOfMessages"].as_str().unwrap_or("?").to_string();
    let in_flight = left["Attributes"]["ApproximateNumberOfMessagesNotVisible"].as_str().unwrap_or("?").to_string();
    println!(
        "4. {MESSAGES} messages sent and drained through the mapping in {:.2} s ({:.0} messages/s): {} handled, {} unique, queue left with {visible} visible / {in_flight} in flight   [target: none lost: {}]",
        elapsed.as_secs_f64(),
        MESSAGES as f64 / elapsed.as_secs_f64(),
        seen.len(),
        unique.len(),
        verdict(unique.len() == MESSAGES)
    );
    let _ = std::fs::remove_file(&out);
    Ok(())
}

/// Read "<message id> <handler start>" lines until `want` arrived or the time is up.
async fn wait_for_lines(path: &std::path::Path, want: usize, limit: Duration) -> Vec<(String, f64)> {
    let deadline = Instant::now() + limit;
    loop {
        let lines: Vec<(String, f64)> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (id, t) = l.split_once(' ')?;
                Some((id.to_string(), t.parse().ok()?))
            })
            .collect();
        if lines.len() >= want || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
