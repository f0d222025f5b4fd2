//! `nimbus-bench-kinesis`: Kinesis and stream event source mapping figures — PutRecords
//! records/s (500-record calls over 4 connections), the time from PutRecord being sent to the
//! handler starting (p50/p99), and 100,000 records drained through a mapping with a trivial
//! Python handler, checked for none lost and none reordered per partition key.
//!
//! A measurement, not a test: it exits 0 once it has measured.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use nimbus_bench::{percentile, verdict, Args, Conn, Res, Server};
use serde_json::{json, Value};

const CLIENTS: usize = 4;
const PUT_RECORDS: usize = 200_000;
const BATCH: usize = 500;
const LATENCY_SAMPLES: usize = 200;
const DRAIN_RECORDS: usize = 100_000;
const DRAIN_KEYS: usize = 1_000;

const TARGET_PUT_RATE: f64 = 20_000.0;
const TARGET_P50_MS: f64 = 50.0;

fn main() {
    let args = Args::parse("nimbus-bench-kinesis", &[]);
    nimbus_bench::block_on("nimbus-bench-kinesis", run(&args.nimbus));
}

async fn kinesis(conn: &mut Conn, op: &str, body: &Value) -> Res<Value> {
    let target = format!("Kinesis_20131202.{op}");
    let headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", target.as_str()),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0",
        ),
    ];
    let (status, out) = conn.request_with("POST", "/", &headers, body.to_string().as_bytes()).await?;
    if status != 200 {
        return Err(format!("{op} answered {status}: {}", String::from_utf8_lossy(&out)));
    }
    if out.is_empty() {
        return Ok(Value::Null); // operations without an output shape answer an empty body
    }
    serde_json::from_slice(&out).map_err(|e| format!("{op}: {e}"))
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// `records` of ~100 bytes each as PutRecords entries.
fn entries(records: &[(String, String)]) -> Vec<Value> {
    records.iter().map(|(key, data)| json!({"PartitionKey": key, "Data": b64(data)})).collect()
}

async fn put_batch(conn: &mut Conn, stream: &str, records: &[(String, String)]) -> Res<()> {
    let out = kinesis(conn, "PutRecords", &json!({"StreamName": stream, "Records": entries(records)})).await?;
    if out["FailedRecordCount"].as_u64() != Some(0) {
        return Err(format!("PutRecords failed records: {out}"));
    }
    Ok(())
}

async fn put_rate(port: u16, stream: &str) -> Res<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let stream = stream.to_string();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port).await?;
            let payload = "x".repeat(90);
            for call in 0..PUT_RECORDS / CLIENTS / BATCH {
                let records: Vec<(String, String)> =
                    (0..BATCH).map(|i| (format!("c{client}-{i}"), format!("{call:06}{i:04}{payload}"))).collect();
                put_batch(&mut conn, &stream, &records).await?;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(PUT_RECORDS as f64 / started.elapsed().as_secs_f64())
}

/// A handler that writes one file per invocation: `<data> <start time>` per record.
fn handler_zip() -> Vec<u8> {
    use std::io::Write;
    let code = br#"
import base64, os, time
def handler(event, context):
    started = time.time()
    lines = ["%s %f" % (base64.b64decode(r["kinesis"]["data"]).decode(), started) for r in event["Records"]]
    name = "%019d-%s" % (time.time_ns(), context.aws_request_id)
    # Written aside and renamed, so the reader never sees half a file.
    tmp = os.path.join(os.environ["OUT"], "." + name)
    with open(tmp, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.rename(tmp, os.path.join(os.environ["OUT"], name))
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

/// Every `<data> <start>` line written so far, invocation by invocation in start order. Files
/// already parsed are kept in `cache`, so polling does not reread 100,000 lines each time.
fn lines(dir: &Path, cache: &mut std::collections::BTreeMap<String, Vec<(String, f64)>>) -> Vec<(String, f64)> {
    let names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    for name in names.into_iter().filter(|n| !n.starts_with('.')) {
        if cache.contains_key(&name) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(dir.join(&name)) else { continue };
        let parsed = text
            .lines()
            .filter_map(|l| {
                let (data, t) = l.rsplit_once(' ')?;
                Some((data.to_string(), t.parse().ok()?))
            })
            .collect();
        cache.insert(name, parsed);
    }
    cache.values().flatten().cloned().collect()
}

async fn wait_for(dir: &Path, want: usize, limit: Duration) -> Vec<(String, f64)> {
    let deadline = Instant::now() + limit;
    let mut cache = std::collections::BTreeMap::new();
    loop {
        let count: usize = {
            lines(dir, &mut cache);
            cache.values().map(Vec::len).sum()
        };
        if count >= want || Instant::now() > deadline {
            return lines(dir, &mut cache);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn mapping(conn: &mut Conn, function: &str, stream_arn: &str, batch: usize) -> Res<()> {
    let body = json!({"FunctionName": function, "EventSourceArn": stream_arn, "StartingPosition": "LATEST", "BatchSize": batch});
    let (status, out) = conn.request("POST", "/2015-03-31/event-source-mappings", body.to_string().as_bytes()).await?;
    if status != 202 {
        return Err(format!("CreateEventSourceMapping answered {status}: {}", String::from_utf8_lossy(&out)));
    }
    Ok(())
}

async fn function(conn: &mut Conn, name: &str, out: &Path) -> Res<()> {
    let create = json!({
        "FunctionName": name, "Runtime": "python3.12", "Role": "arn:aws:iam::000000000000:role/r",
        "Handler": "index.handler", "Timeout": 60,
        "Environment": {"Variables": {"OUT": out.display().to_string()}},
        "Code": {"ZipFile": b64_bytes(&handler_zip())},
    });
    let (status, body) = conn.request("POST", "/2015-03-31/functions", create.to_string().as_bytes()).await?;
    if status != 201 {
        return Err(format!("CreateFunction answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(())
}

fn b64_bytes(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn now_secs() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

async fn create_stream(conn: &mut Conn, name: &str, shards: usize) -> Res<String> {
    kinesis(conn, "CreateStream", &json!({"StreamName": name, "ShardCount": shards})).await?;
    let summary = kinesis(conn, "DescribeStreamSummary", &json!({"StreamName": name})).await?;
    Ok(summary["StreamDescriptionSummary"]["StreamARN"].as_str().unwrap_or_default().to_string())
}

async fn run(nimbus: &str) -> Res<()> {
    let server = Server::start(nimbus).await?;
    let port = server.port;
    let mut conn = Conn::connect(port).await?;
    println!("nimbus-bench-kinesis: {CLIENTS} clients, JSON 1.1, records of ~100 bytes");

    create_stream(&mut conn, "bench-put", 4).await?;
    let rate = put_rate(port, "bench-put").await?;
    println!(
        "1. PutRecords ({BATCH} records a call, 4 shards): {rate:.0} records/s ({PUT_RECORDS} records)   [target: >= {TARGET_PUT_RATE} records/s: {}]",
        verdict(rate >= TARGET_PUT_RATE)
    );

    let dir = std::env::temp_dir().join(format!("nimbus-bench-kinesis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let latency_dir = dir.join("latency");
    let drain_dir = dir.join("drain");
    std::fs::create_dir_all(&latency_dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&drain_dir).map_err(|e| e.to_string())?;

    // 2: PutRecord → handler start, one record at a time so queueing does not dominate.
    function(&mut conn, "latency", &latency_dir).await?;
    let arn = create_stream(&mut conn, "bench-latency", 1).await?;
    mapping(&mut conn, "latency", &arn, 100).await?;
    // Warm the environment first (the first invocation starts Python).
    kinesis(&mut conn, "PutRecord", &json!({"StreamName": "bench-latency", "PartitionKey": "w", "Data": b64("warm")}))
        .await?;
    wait_for(&latency_dir, 1, Duration::from_secs(60)).await;
    let mut sent_at = HashMap::new();
    for i in 0..LATENCY_SAMPLES {
        let data = format!("p{i}");
        // Timed from just before PutRecord is sent (the handler may start before the answer is read).
        sent_at.insert(data.clone(), now_secs());
        kinesis(
            &mut conn,
            "PutRecord",
            &json!({"StreamName": "bench-latency", "PartitionKey": "k", "Data": b64(&data)}),
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seen = wait_for(&latency_dir, LATENCY_SAMPLES + 1, Duration::from_secs(60)).await;
    let mut latencies: Vec<u64> = seen
        .iter()
        .filter_map(|(data, started)| sent_at.get(data).map(|sent| ((started - sent).max(0.0) * 1_000_000.0) as u64))
        .collect();
    latencies.sort_unstable();
    let p50 = percentile(&latencies, 50.0) as f64 / 1000.0;
    let p99 = percentile(&latencies, 99.0) as f64 / 1000.0;
    println!(
        "2. PutRecord-to-handler latency ({} records): p50 {p50:.1} ms, p99 {p99:.1} ms   [target: p50 <= {TARGET_P50_MS} ms: {}]",
        latencies.len(),
        verdict(p50 <= TARGET_P50_MS)
    );

    // 3: drain 100,000 records through a mapping on 4 shards.
    function(&mut conn, "drain", &drain_dir).await?;
    let arn = create_stream(&mut conn, "bench-drain", 4).await?;
    mapping(&mut conn, "drain", &arn, 500).await?;
    let started = Instant::now();
    let records: Vec<(String, String)> = (0..DRAIN_RECORDS)
        .map(|i| (format!("k{}", i % DRAIN_KEYS), format!("k{}:{}", i % DRAIN_KEYS, i / DRAIN_KEYS)))
        .collect();
    for chunk in records.chunks(BATCH) {
        put_batch(&mut conn, "bench-drain", chunk).await?;
    }
    let seen = wait_for(&drain_dir, DRAIN_RECORDS, Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    let mut last: HashMap<&str, i64> = HashMap::new();
    let mut unique = std::collections::HashSet::new();
    let mut reordered = 0;
    for (data, _) in &seen {
        unique.insert(data.as_str());
        let Some((key, n)) = data.split_once(':') else { continue };
        let n: i64 = n.parse().unwrap_or(-1);
        if last.insert(key, n).is_some_and(|prev| n <= prev) {
            reordered += 1;
        }
    }
    println!(
        "3. {DRAIN_RECORDS} records put and drained through a mapping (4 shards, BatchSize 500) in {:.2} s ({:.0} records/s): {} handled, {} unique, {reordered} out of order per key   [target: none lost or reordered: {}]",
        elapsed.as_secs_f64(),
        DRAIN_RECORDS as f64 / elapsed.as_secs_f64(),
        seen.len(),
        unique.len(),
        verdict(unique.len() == DRAIN_RECORDS && reordered == 0)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
