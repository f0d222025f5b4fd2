//! `nimbus-bench-secrets`: KMS Encrypt and Decrypt of 1 KiB and SSM GetParameter per second
//! with p50/p99 over 8 connections (JSON 1.1, in memory), against the targets
//! (>= 10,000/s each with p99 <= 2 ms). GetParameter is measured on a String parameter and on a
//! SecureString read `WithDecryption`.
//!
//! A measurement, not a test: it exits 0 once it has measured.

use std::time::Instant;

use base64::Engine;
use nimbus_bench::{percentile, verdict, Args, Conn, Res, Server};
use serde_json::{json, Value};

const CONNECTIONS: usize = 8;
const CALLS: usize = 40_000;
const TARGET_PER_SECOND: f64 = 10_000.0;
const TARGET_P99_MS: f64 = 2.0;

fn main() {
    let args = Args::parse("nimbus-bench-secrets", &[]);
    nimbus_bench::block_on("nimbus-bench-secrets", run(&args.nimbus));
}

async fn call(conn: &mut Conn, target: &str, service: &str, body: &str) -> Res<Value> {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    let headers =
        [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", target), ("Authorization", auth.as_str())];
    let (status, out) = conn.request_with("POST", "/", &headers, body.as_bytes()).await?;
    if status != 200 {
        return Err(format!("{target} answered {status}: {}", String::from_utf8_lossy(&out)));
    }
    serde_json::from_slice(&out).map_err(|e| format!("{target}: {e}"))
}

struct Rate {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `CALLS` requests with the same body spread over the connections.
async fn hammer(port: u16, target: &'static str, service: &'static str, body: String) -> Res<Rate> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port).await?;
            let mut latencies = Vec::with_capacity(CALLS / CONNECTIONS);
            for _ in 0..CALLS / CONNECTIONS {
                let t = Instant::now();
                call(&mut conn, target, service, &body).await?;
                latencies.push(t.elapsed().as_micros() as u64);
            }
            Ok::<_, String>(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Ok(Rate {
        per_second: all.len() as f64 / elapsed,
        p50_ms: percentile(&all, 50.0) as f64 / 1000.0,
        p99_ms: percentile(&all, 99.0) as f64 / 1000.0,
    })
}

fn report(n: usize, label: &str, r: &Rate) {
    println!(
        "{n}. {label}: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms ({CALLS} calls, {CONNECTIONS} connections)   [target: >= {TARGET_PER_SECOND}/s with p99 <= {TARGET_P99_MS} ms: {}]",
        r.per_second,
        r.p50_ms,
        r.p99_ms,
        verdict(r.per_second >= TARGET_PER_SECOND && r.p99_ms <= TARGET_P99_MS)
    );
}

async fn run(nimbus: &str) -> Res<()> {
    let server = Server::start(nimbus).await?;
    let port = server.port;
    let mut conn = Conn::connect(port).await?;
    println!("nimbus-bench-secrets: {CONNECTIONS} connections, JSON 1.1, in memory");

    let key = call(&mut conn, "TrentService.CreateKey", "kms", "{}").await?;
    let key_id = key["KeyMetadata"]["KeyId"].as_str().ok_or("CreateKey gave no KeyId")?.to_string();
    let plaintext = base64::engine::general_purpose::STANDARD.encode(vec![0x5au8; 1024]);
    let encrypt = json!({"KeyId": key_id, "Plaintext": plaintext, "EncryptionContext": {"app": "bench"}}).to_string();
    let blob = call(&mut conn, "TrentService.Encrypt", "kms", &encrypt).await?;
    let decrypt = json!({"CiphertextBlob": blob["CiphertextBlob"], "EncryptionContext": {"app": "bench"}}).to_string();

    let put = |name: &str, kind: &str| json!({"Name": name, "Value": "x".repeat(200), "Type": kind}).to_string();
    call(&mut conn, "AmazonSSM.PutParameter", "ssm", &put("/bench/plain", "String")).await?;
    call(&mut conn, "AmazonSSM.PutParameter", "ssm", &put("/bench/secure", "SecureString")).await?;

    let r = hammer(port, "TrentService.Encrypt", "kms", encrypt).await?;
    report(1, "KMS Encrypt 1 KiB (AES-256-GCM, encryption context)", &r);
    let r = hammer(port, "TrentService.Decrypt", "kms", decrypt).await?;
    report(2, "KMS Decrypt 1 KiB", &r);
    let r = hammer(port, "AmazonSSM.GetParameter", "ssm", json!({"Name": "/bench/plain"}).to_string()).await?;
    report(3, "SSM GetParameter (String)", &r);
    let body = json!({"Name": "/bench/secure", "WithDecryption": true}).to_string();
    let r = hammer(port, "AmazonSSM.GetParameter", "ssm", body).await?;
    report(4, "SSM GetParameter (SecureString, WithDecryption)", &r);
    println!("   nimbus RSS after the run: {:.0} MiB", server.rss_mib()?);
    Ok(())
}
