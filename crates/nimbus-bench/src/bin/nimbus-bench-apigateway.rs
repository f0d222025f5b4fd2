//! `nimbus-bench-apigateway`: requests/s and p50/p99 through a REST API `AWS_PROXY` route and an
//! HTTP API (quick create, payload 2.0) route to a trivial Python handler, over 8 keep-alive
//! connections (path form of the `execute-api` address). A measurement, not a test.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use nimbus_bench::{percentile, verdict, Args, Conn, Res, Server};
use serde_json::{json, Value};

const CONNECTIONS: usize = 8;
const DURATION: Duration = Duration::from_secs(5);
const TARGET_RPS: f64 = 2_000.0;
const TARGET_P50_US: u64 = 3_000;
const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";
/// The control plane answers requests signed for `apigateway` (only the credential scope is read).
const SIGNED: &str =
    "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/apigateway/aws4_request, SignedHeaders=host, Signature=0";

fn handler_zip() -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file("index.py", zip::write::SimpleFileOptions::default()).expect("zip entry");
        w.write_all(b"def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n")
            .expect("zip write");
        w.finish().expect("zip finish");
    }
    buf.into_inner()
}

fn main() {
    let args = Args::parse("nimbus-bench-apigateway", &[]);
    nimbus_bench::block_on("nimbus-bench-apigateway", run(&args.nimbus));
}

async fn call(conn: &mut Conn, method: &str, path: &str, body: Value, want: u16) -> Res<Value> {
    let headers = [("Content-Type", "application/json"), ("Authorization", SIGNED)];
    let (status, answer) = conn.request_with(method, path, &headers, body.to_string().as_bytes()).await?;
    if status != want {
        return Err(format!("{method} {path} answered {status}: {}", String::from_utf8_lossy(&answer)));
    }
    serde_json::from_slice(&answer).or(Ok(Value::Null))
}

async fn run(nimbus: &str) -> Res<()> {
    let server = Server::start(nimbus).await?;
    let mut conn = Conn::connect(server.port).await?;
    let create = json!({
        "FunctionName": "apigw-bench", "Runtime": "python3.12", "Role": "arn:aws:iam::000000000000:role/r",
        "Handler": "index.handler", "MemorySize": 256,
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(handler_zip())},
    });
    let (status, body) = conn.request("POST", "/2015-03-31/functions", create.to_string().as_bytes()).await?;
    if status != 201 {
        return Err(format!("CreateFunction answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let permission =
        br#"{"StatementId":"apigw","Action":"lambda:InvokeFunction","Principal":"apigateway.amazonaws.com"}"#;
    conn.request("POST", "/2015-03-31/functions/apigw-bench/policy", permission).await?;
    let function = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:apigw-bench");

    let api = call(&mut conn, "POST", "/restapis", json!({"name": "bench"}), 201).await?;
    let (id, root) = (
        api["id"].as_str().unwrap_or_default().to_string(),
        api["rootResourceId"].as_str().unwrap_or_default().to_string(),
    );
    let method = format!("/restapis/{id}/resources/{root}/methods/GET");
    call(&mut conn, "PUT", &method, json!({"authorizationType": "NONE"}), 201).await?;
    let uri = format!("arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function}/invocations");
    call(
        &mut conn,
        "PUT",
        &format!("{method}/integration"),
        json!({"type": "AWS_PROXY", "httpMethod": "POST", "uri": uri}),
        201,
    )
    .await?;
    call(&mut conn, "POST", &format!("/restapis/{id}/deployments"), json!({"stageName": "bench"}), 201).await?;
    let http =
        call(&mut conn, "POST", "/v2/apis", json!({"name": "bench", "protocolType": "HTTP", "target": function}), 201)
            .await?;
    let http_id = http["apiId"].as_str().unwrap_or_default().to_string();

    println!(
        "nimbus-bench-apigateway: trivial Python handler, {CONNECTIONS} keep-alive connections, {}s each",
        DURATION.as_secs()
    );
    for (label, path) in [
        ("REST API, AWS_PROXY", format!("/restapis/{id}/bench/_user_request_/")),
        ("HTTP API, payload 2.0", format!("/restapis/{http_id}/$default/_user_request_/")),
    ] {
        load(server.port, label, &path).await?;
    }
    Ok(())
}

async fn load(port: u16, label: &str, path: &str) -> Res<()> {
    // Warm-up: one environment per connection.
    let mut warm = Vec::new();
    for _ in 0..CONNECTIONS {
        let path = path.to_string();
        warm.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port).await?;
            for _ in 0..20 {
                let (status, body) = conn.request("GET", &path, b"").await?;
                if status != 200 {
                    return Err(format!("{path} answered {status}: {}", String::from_utf8_lossy(&body)));
                }
            }
            Ok::<_, String>(conn)
        }));
    }
    let mut conns = Vec::new();
    for w in warm {
        conns.push(w.await.map_err(|e| e.to_string())??);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut conn in conns {
        let (path, stop) = (path.to_string(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (status, body) = conn.request("GET", &path, b"").await?;
                if status != 200 {
                    return Err(format!("{path} answered {status}: {}", String::from_utf8_lossy(&body)));
                }
                latencies.push(t.elapsed().as_micros() as u64);
            }
            Ok::<_, String>(latencies)
        }));
    }
    tokio::time::sleep(DURATION).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    let rps = all.len() as f64 / elapsed.as_secs_f64();
    let (p50, p99) = (percentile(&all, 50.0), percentile(&all, 99.0));
    println!(
        "{label}: {rps:.0} req/s, p50 {p50} us, p99 {p99} us   [target >= {TARGET_RPS} req/s and p50 <= {TARGET_P50_US} us: {}]",
        verdict(rps >= TARGET_RPS && p50 <= TARGET_P50_US)
    );
    Ok(())
}
