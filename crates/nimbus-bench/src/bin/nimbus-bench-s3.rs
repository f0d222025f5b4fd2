//! `nimbus-bench-s3`: S3 figures over REST-XML — 4 KiB PUT and GET requests per second with
//! p50/p99 over 8 connections, one 1 GiB object up and down (throughput, and nimbus's RSS while
//! it uploads), and ListObjectsV2 over 100,000 keys. With `--moto URL` the 4 KiB figures are
//! also taken from a running moto server (`moto_server`), side by side.
//!
//! A measurement, not a test: it exits 0 once it has measured.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nimbus_bench::{find, percentile, verdict, Args, Conn, Res, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNECTIONS: usize = 8;
const SMALL: usize = 4096;
const PUTS: usize = 20_000;
const GETS: usize = 40_000;
const MOTO_CALLS: usize = 2_000;
const BIG: u64 = 1 << 30;
const LIST_KEYS: usize = 100_000;

const TARGET_GETS: f64 = 10_000.0;
const TARGET_DOWN_MBS: f64 = 500.0;
const TARGET_RSS_DELTA_MIB: f64 = 64.0;
const TARGET_VS_MOTO: f64 = 20.0;

const AUTH: &str =
    "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";

fn main() {
    let args = Args::parse("nimbus-bench-s3", &[("moto", "http://127.0.0.1:PORT")]);
    nimbus_bench::block_on("nimbus-bench-s3", run(&args.nimbus, args.get("moto")));
}

async fn call(conn: &mut Conn, method: &str, path: &str, body: &[u8]) -> Res<Vec<u8>> {
    let (status, out) = conn.request_with(method, path, &[("Authorization", AUTH)], body).await?;
    if status != 200 {
        return Err(format!("{method} {path} answered {status}: {}", String::from_utf8_lossy(&out)));
    }
    Ok(out)
}

struct Rate {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `total` requests over the connections: PUT of 4 KiB objects, or GET of them.
async fn hammer(port: u16, put: bool, total: usize, keys: usize) -> Res<Rate> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port).await?;
            let body = vec![b'x'; SMALL];
            let mut latencies = Vec::with_capacity(total / CONNECTIONS);
            for k in 0..total / CONNECTIONS {
                let i = (k * CONNECTIONS + c) % keys;
                let path = format!("/bench/small-{i:06}");
                let t = Instant::now();
                if put {
                    call(&mut conn, "PUT", &path, &body).await?;
                } else {
                    let got = call(&mut conn, "GET", &path, b"").await?;
                    if got.len() != SMALL {
                        return Err(format!("GET returned {} bytes", got.len()));
                    }
                }
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

async fn small_objects(port: u16, label: &str, puts: usize, gets: usize) -> Res<(Rate, Rate)> {
    let mut conn = Conn::connect(port).await?;
    let _ = conn.request_with("PUT", "/bench", &[("Authorization", AUTH)], b"").await?;
    let put = hammer(port, true, puts, puts).await?;
    println!(
        "{label} PUT 4 KiB: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms ({puts} requests, {CONNECTIONS} connections)",
        put.per_second, put.p50_ms, put.p99_ms
    );
    let get = hammer(port, false, gets, puts).await?;
    println!(
        "{label} GET 4 KiB: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms ({gets} requests, {CONNECTIONS} connections)",
        get.per_second, get.p50_ms, get.p99_ms
    );
    Ok((put, get))
}

/// Upload `BIG` bytes in 1 MiB writes without holding them; returns seconds.
async fn upload_big(port: u16) -> Res<f64> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let head = format!(
        "PUT /bench/big HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {AUTH}\r\nContent-Length: {BIG}\r\n\r\n"
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
    let chunk = vec![b'z'; 1 << 20];
    for _ in 0..(BIG >> 20) {
        stream.write_all(&chunk).await.map_err(|e| e.to_string())?;
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while find(&answer, b"\r\n\r\n").is_none() {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before the answer".into());
        }
        answer.extend_from_slice(&buf[..n]);
    }
    if !answer.starts_with(b"HTTP/1.1 200") {
        return Err(format!("upload answered {}", String::from_utf8_lossy(&answer)));
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Download the big object, counting bytes; returns seconds.
async fn download_big(port: u16) -> Res<f64> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    let head = format!("GET /bench/big HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {AUTH}\r\n\r\n");
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 20];
    let mut head_seen = Vec::new();
    let mut body = 0u64;
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed mid-body".into());
        }
        if head_seen.len() < 1 << 16 && find(&head_seen, b"\r\n\r\n").is_none() {
            head_seen.extend_from_slice(&buf[..n]);
            if let Some(at) = find(&head_seen, b"\r\n\r\n") {
                body += (head_seen.len() - at - 4) as u64;
            }
        } else {
            body += n as u64;
        }
        if body >= BIG {
            break;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

async fn run(nimbus: &str, moto: Option<&str>) -> Res<()> {
    let server = Arc::new(Server::start(nimbus).await?);
    let port = server.port;
    println!("nimbus-bench-s3: {CONNECTIONS} connections, REST-XML path style, objects in a scratch folder");
    let (_, get) = small_objects(port, "1.", PUTS, GETS).await?;
    println!("   target: GET >= {TARGET_GETS}/s: {}", verdict(get.per_second >= TARGET_GETS));

    let idle = server.rss_mib()?;
    let uploading = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (server, uploading) = (server.clone(), uploading.clone());
        tokio::spawn(async move {
            let mut peak = 0f64;
            while uploading.load(Ordering::Relaxed) {
                peak = peak.max(server.rss_mib().unwrap_or(0.0));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        })
    };
    let up = upload_big(port).await;
    uploading.store(false, Ordering::Relaxed);
    let peak = sampler.await.map_err(|e| e.to_string())?;
    let up = up?;
    println!("2. 1 GiB upload: {:.0} MB/s ({up:.2} s)", mb_per_s(BIG, up));
    println!(
        "3. RSS during the upload: peak {peak:.0} MiB, idle before {idle:.0} MiB (+{:.0} MiB)   [target: <= +{TARGET_RSS_DELTA_MIB} MiB: {}]",
        peak - idle,
        verdict(peak - idle <= TARGET_RSS_DELTA_MIB)
    );
    let down = download_big(port).await?;
    println!(
        "4. 1 GiB download: {:.0} MB/s ({down:.2} s)   [target: >= {TARGET_DOWN_MBS} MB/s: {}]",
        mb_per_s(BIG, down),
        verdict(mb_per_s(BIG, down) >= TARGET_DOWN_MBS)
    );

    // 100,000 keys (empty objects) listed 1,000 a page.
    let mut conn = Conn::connect(port).await?;
    call(&mut conn, "PUT", "/listing", b"").await?;
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port).await?;
            let mut i = c;
            while i < LIST_KEYS {
                call(&mut conn, "PUT", &format!("/listing/key-{i:07}"), b"").await?;
                i += CONNECTIONS;
            }
            Ok::<_, String>(())
        }));
    }
    let mut conn = Conn::connect(port).await?;
    call(&mut conn, "PUT", "/listing", b"")
        .await
        .or_else(|e| if e.contains("409") { Ok(Vec::new()) } else { Err(e) })?;
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let started = Instant::now();
    let (mut seen, mut pages, mut token): (usize, usize, Option<String>) = (0, 0, None);
    loop {
        let path = match &token {
            Some(t) => format!("/listing?list-type=2&continuation-token={}", nimbus_bench::encode_query(t)),
            None => "/listing?list-type=2".to_string(),
        };
        let out = String::from_utf8(call(&mut conn, "GET", &path, b"").await?).map_err(|e| e.to_string())?;
        seen += out.matches("<Key>").count();
        pages += 1;
        token = out
            .split("<NextContinuationToken>")
            .nth(1)
            .and_then(|rest| rest.split("</NextContinuationToken>").next())
            .map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let took = started.elapsed().as_secs_f64();
    if seen != LIST_KEYS {
        return Err(format!("ListObjectsV2 saw {seen} keys, not {LIST_KEYS}"));
    }
    println!(
        "5. ListObjectsV2 over {LIST_KEYS} keys: {:.0} ms in {pages} pages of 1,000 ({:.2} ms a page)",
        took * 1000.0,
        took * 1000.0 / pages as f64
    );

    if let Some(url) = moto {
        let moto_port: u16 = url
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .ok_or("--moto needs http://host:port")?;
        let (mput, mget) = small_objects(moto_port, "6. moto", MOTO_CALLS, MOTO_CALLS).await?;
        let (nput, nget) = small_objects(port, "   nimbus", MOTO_CALLS, MOTO_CALLS).await?;
        let (rput, rget) = (nput.per_second / mput.per_second, nget.per_second / mget.per_second);
        println!(
            "   nimbus/moto: PUT {rput:.1}x, GET {rget:.1}x   [target: >= {TARGET_VS_MOTO}x: {}]",
            verdict(rput >= TARGET_VS_MOTO && rget >= TARGET_VS_MOTO)
        );
    } else {
        println!("6. moto: not measured (pass --moto http://127.0.0.1:PORT of a running moto_server)");
    }
    Ok(())
}
