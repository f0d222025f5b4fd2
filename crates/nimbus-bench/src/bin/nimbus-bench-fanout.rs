//! `nimbus-bench-fanout`: SNS, EventBridge and Scheduler figures —
//! Publish → Lambda handler start and PutEvents → Lambda handler start (p50/p99, the handler
//! writes when it started), PutEvents entries per second over 8 connections (10 entries a call,
//! one non-matching rule on the bus), and SNS → 10 SQS queues fan-out (messages delivered per
//! second, enveloped and signed).
//!
//! A measurement, not a test: it exits 0 once it has measured.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use nimbus_bench::{encode_query, percentile, verdict, Args, Conn, Res, Server};
use serde_json::{json, Value};

const CONNECTIONS: usize = 8;
const TRIGGERS: usize = 200;
const PUT_EVENTS_CALLS: usize = 4_000;
const FANOUT_PUBLISHES: usize = 2_000;
const TARGET_TRIGGER_P50_MS: f64 = 20.0;
const TARGET_ENTRIES: f64 = 10_000.0;

fn main() {
    let args = Args::parse("nimbus-bench-fanout", &[]);
    nimbus_bench::block_on("nimbus-bench-fanout", run(&args.nimbus));
}

fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

async fn query(conn: &mut Conn, params: &[(&str, &str)]) -> Res<String> {
    let mut body = String::from("Version=2010-03-31");
    for (k, v) in params {
        body.push_str(&format!("&{k}={}", encode_query(v)));
    }
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let (status, out) = conn.request_with("POST", "/", &headers, body.as_bytes()).await?;
    let text = String::from_utf8_lossy(&out).into_owned();
    if status != 200 {
        return Err(format!("{params:?} answered {status}: {text}"));
    }
    Ok(text)
}

fn xml_field(text: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    text.split_once(&open)
        .and_then(|(_, r)| r.split_once(&format!("</{tag}>")))
        .map(|(v, _)| v.to_string())
        .unwrap_or_default()
}

async fn events(conn: &mut Conn, op: &str, body: &Value) -> Res<Value> {
    let target = format!("AWSEvents.{op}");
    let headers = [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", target.as_str())];
    let (status, out) = conn.request_with("POST", "/", &headers, body.to_string().as_bytes()).await?;
    if status != 200 {
        return Err(format!("{op} answered {status}: {}", String::from_utf8_lossy(&out)));
    }
    serde_json::from_slice(&out).map_err(|e| format!("{op}: {e}"))
}

async fn sqs(conn: &mut Conn, op: &str, body: &Value) -> Res<Value> {
    let target = format!("AmazonSQS.{op}");
    let headers = [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", target.as_str())];
    let (status, out) = conn.request_with("POST", "/", &headers, body.to_string().as_bytes()).await?;
    if status != 200 {
        return Err(format!("{op} answered {status}: {}", String::from_utf8_lossy(&out)));
    }
    serde_json::from_slice(&out).map_err(|e| format!("{op}: {e}"))
}

/// A Python handler that appends (its start time − the `t0` in the event) in microseconds.
const HANDLER: &str = r#"
import json, os, time
def handler(event, context):
    start = time.time_ns() // 1000
    if "Records" in event:
        t0 = json.loads(event["Records"][0]["Sns"]["Message"])["t0"]
    else:
        t0 = event["detail"]["t0"]
    with open(os.environ["OUT"], "a") as out:
        out.write(str(start - t0) + "\n")
"#;

fn zip_of(name: &str, data: &[u8]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file(name, zip::write::SimpleFileOptions::default().unix_permissions(0o644)).expect("zip");
        w.write_all(data).expect("zip");
        w.finish().expect("zip");
    }
    buf.into_inner()
}

async fn function(conn: &mut Conn, name: &str, out: &str, principal: &str) -> Res<String> {
    let body = json!({
        "FunctionName": name, "Runtime": "python3.12", "Role": "arn:aws:iam::000000000000:role/r",
        "Handler": "index.handler", "MemorySize": 256,
        "Environment": {"Variables": {"OUT": out}},
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip_of("index.py", HANDLER.as_bytes()))},
    });
    let (status, answer) = conn.request("POST", "/2015-03-31/functions", body.to_string().as_bytes()).await?;
    if status != 201 {
        return Err(format!("CreateFunction answered {status}: {}", String::from_utf8_lossy(&answer)));
    }
    let permission = json!({"StatementId": "p", "Action": "lambda:InvokeFunction", "Principal": principal});
    conn.request("POST", &format!("/2015-03-31/functions/{name}/policy"), permission.to_string().as_bytes()).await?;
    let v: Value = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
    Ok(v["FunctionArn"].as_str().unwrap_or_default().to_string())
}

fn recorded(path: &str) -> Vec<u64> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// Trigger `TRIGGERS` times, one at a time (each waits for its handler), after 5 warm-ups.
async fn trigger_latency(
    conn: &mut Conn,
    out: &str,
    mut trigger: impl FnMut(u64) -> (String, Vec<u8>, Vec<(String, String)>),
) -> Res<(u64, u64)> {
    for i in 0..TRIGGERS + 5 {
        let (path, body, headers) = trigger(now_us());
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, answer) = conn.request_with("POST", &path, &headers, &body).await?;
        if status != 200 {
            return Err(format!("trigger answered {status}: {}", String::from_utf8_lossy(&answer)));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while recorded(out).len() <= i {
            if Instant::now() > deadline {
                return Err("a handler never ran".into());
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }
    let mut lat: Vec<u64> = recorded(out).into_iter().skip(5).collect();
    lat.sort_unstable();
    Ok((percentile(&lat, 50.0), percentile(&lat, 99.0)))
}

async fn run(nimbus: &str) -> Res<()> {
    let server = Server::start(nimbus).await?;
    let port = server.port;
    let mut conn = Conn::connect(port).await?;
    let dir = std::env::temp_dir().join(format!("nimbus-bench-fanout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let (sns_out, events_out) =
        (dir.join("sns.txt").display().to_string(), dir.join("events.txt").display().to_string());

    // Publish → Lambda.
    let topic = xml_field(&query(&mut conn, &[("Action", "CreateTopic"), ("Name", "bench")]).await?, "TopicArn");
    let f1 = function(&mut conn, "on-sns", &sns_out, "sns.amazonaws.com").await?;
    query(&mut conn, &[("Action", "Subscribe"), ("TopicArn", &topic), ("Protocol", "lambda"), ("Endpoint", &f1)])
        .await?;
    let form = [("Content-Type".to_string(), "application/x-www-form-urlencoded".to_string())].to_vec();
    let (sns_p50, sns_p99) = trigger_latency(&mut conn, &sns_out, |t0| {
        let message = json!({"t0": t0}).to_string();
        let body = format!(
            "Action=Publish&Version=2010-03-31&TopicArn={}&Message={}",
            encode_query(&topic),
            encode_query(&message)
        );
        ("/".into(), body.into_bytes(), form.clone())
    })
    .await?;
    println!(
        "Publish -> Lambda handler start:   p50 {:.2} ms  p99 {:.2} ms  (target p50 <= {TARGET_TRIGGER_P50_MS} ms: {})",
        sns_p50 as f64 / 1000.0,
        sns_p99 as f64 / 1000.0,
        verdict(sns_p50 as f64 / 1000.0 <= TARGET_TRIGGER_P50_MS)
    );

    // PutEvents → rule → Lambda.
    let f2 = function(&mut conn, "on-event", &events_out, "events.amazonaws.com").await?;
    events(&mut conn, "PutRule", &json!({"Name": "bench", "EventPattern": r#"{"source": ["bench"]}"#})).await?;
    events(&mut conn, "PutTargets", &json!({"Rule": "bench", "Targets": [{"Id": "f", "Arn": f2}]})).await?;
    let json11 = vec![
        ("Content-Type".to_string(), "application/x-amz-json-1.1".to_string()),
        ("X-Amz-Target".to_string(), "AWSEvents.PutEvents".to_string()),
    ];
    let (ev_p50, ev_p99) = trigger_latency(&mut conn, &events_out, |t0| {
        let body =
            json!({"Entries": [{"Source": "bench", "DetailType": "t", "Detail": json!({"t0": t0}).to_string()}]});
        ("/".into(), body.to_string().into_bytes(), json11.clone())
    })
    .await?;
    println!(
        "PutEvents -> Lambda handler start: p50 {:.2} ms  p99 {:.2} ms  (target p50 <= {TARGET_TRIGGER_P50_MS} ms: {})",
        ev_p50 as f64 / 1000.0,
        ev_p99 as f64 / 1000.0,
        verdict(ev_p50 as f64 / 1000.0 <= TARGET_TRIGGER_P50_MS)
    );

    // PutEvents throughput on a bus with one rule that does not match.
    events(&mut conn, "CreateEventBus", &json!({"Name": "load"})).await?;
    events(
        &mut conn,
        "PutRule",
        &json!({"Name": "other", "EventBusName": "load", "EventPattern": r#"{"source": ["elsewhere"]}"#}),
    )
    .await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port).await?;
            let entries: Vec<Value> = (0..10)
                .map(|i| json!({"EventBusName": "load", "Source": "load", "DetailType": "t", "Detail": json!({"i": i, "payload": "x".repeat(100)}).to_string()}))
                .collect();
            let body = json!({"Entries": entries});
            for _ in 0..PUT_EVENTS_CALLS / CONNECTIONS {
                let out = events(&mut conn, "PutEvents", &body).await?;
                if out["FailedEntryCount"] != 0 {
                    return Err(format!("entries failed: {out}"));
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let entries_per_sec = (PUT_EVENTS_CALLS * 10) as f64 / started.elapsed().as_secs_f64();
    println!(
        "PutEvents entries/s (8 connections, 10 a call): {entries_per_sec:.0}  (target >= {TARGET_ENTRIES}: {})",
        verdict(entries_per_sec >= TARGET_ENTRIES)
    );

    // SNS → 10 SQS queues.
    let fan = xml_field(&query(&mut conn, &[("Action", "CreateTopic"), ("Name", "fan")]).await?, "TopicArn");
    let mut urls = Vec::new();
    for i in 0..10 {
        let q = sqs(&mut conn, "CreateQueue", &json!({"QueueName": format!("fan-{i}")})).await?;
        let url = q["QueueUrl"].as_str().unwrap_or_default().to_string();
        let arn = format!("arn:aws:sqs:us-east-1:000000000000:fan-{i}");
        query(&mut conn, &[("Action", "Subscribe"), ("TopicArn", &fan), ("Protocol", "sqs"), ("Endpoint", &arn)])
            .await?;
        urls.push(url);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let fan = fan.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port).await?;
            for i in 0..FANOUT_PUBLISHES / CONNECTIONS {
                query(&mut conn, &[("Action", "Publish"), ("TopicArn", &fan), ("Message", &format!("message {i}"))])
                    .await?;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut delivered = 0;
    for url in &urls {
        let a = sqs(
            &mut conn,
            "GetQueueAttributes",
            &json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]}),
        )
        .await?;
        delivered +=
            a["Attributes"]["ApproximateNumberOfMessages"].as_str().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
    }
    println!(
        "SNS -> 10 SQS fan-out: {:.0} messages delivered/s ({delivered} of {} in {elapsed:.2} s, {:.0} publishes/s)",
        delivered as f64 / elapsed,
        FANOUT_PUBLISHES * 10,
        FANOUT_PUBLISHES as f64 / elapsed
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
