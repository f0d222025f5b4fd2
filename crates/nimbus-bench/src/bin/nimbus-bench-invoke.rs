//! `nimbus-bench-invoke`: invocation figures for a trivial handler on each native runtime —
//! cold start (CreateFunction sent → first Invoke answered), warm Invoke p50/p99 and invokes/s
//! with 1 and 4 concurrent clients. A measurement, not a test: it exits 0 once it has measured.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use nimbus_bench::{median, percentile, verdict, Conn, Res, Server};
use serde_json::json;

const COLD_RUNS: usize = 5;
const WARM_DURATION: Duration = Duration::from_secs(4);

const TARGET_WARM_P50_US: u64 = 2_000;
const URL_CONNECTIONS: usize = 8;
const TARGET_URL_RPS: f64 = 1_000.0;
const TARGET_URL_P50_US: u64 = 3_000;
const TARGET_RPS_4: f64 = 1_000.0;
const STREAM_RUNS: usize = 30;
const STREAM_WAIT_MS: u64 = 100;
/// The first bytes of a streamed response should arrive in a few milliseconds, not after the wait.
const TARGET_STREAM_TTFB_US: u64 = 5_000;

struct Runtime {
    label: &'static str,
    runtime: &'static str,
    handler: &'static str,
    zip: Vec<u8>,
    cold_target_ms: f64,
}

fn zip_of(name: &str, data: &[u8], mode: u32) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default().unix_permissions(mode);
        w.start_file(name, options).expect("zip entry");
        w.write_all(data).expect("zip write");
        w.finish().expect("zip finish");
    }
    buf.into_inner()
}

fn main() {
    let mut nimbus = String::from("target/release/nimbus");
    let mut bootstrap = String::from("target/release/rust-echo-bootstrap");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--nimbus", Some(path)) => nimbus = path,
            ("--bootstrap", Some(path)) => bootstrap = path,
            _ => {
                eprintln!("usage: nimbus-bench-invoke [--nimbus PATH] [--bootstrap PATH-TO-provided-BOOTSTRAP]");
                std::process::exit(2);
            }
        }
    }
    let mut runtimes = vec![
        Runtime {
            label: "python3.12",
            runtime: "python3.12",
            handler: "index.handler",
            zip: zip_of("index.py", b"def handler(event, context):\n    return {'ok': True}\n", 0o644),
            cold_target_ms: 100.0,
        },
        Runtime {
            label: "nodejs22.x",
            runtime: "nodejs22.x",
            handler: "index.handler",
            zip: zip_of("index.mjs", b"export const handler = async (event) => ({ ok: true });\n", 0o644),
            cold_target_ms: 150.0,
        },
    ];
    match std::fs::read(&bootstrap) {
        Ok(bytes) => runtimes.push(Runtime {
            label: "provided.al2023 (Rust lambda_runtime)",
            runtime: "provided.al2023",
            handler: "bootstrap",
            zip: zip_of("bootstrap", &bytes, 0o755),
            cold_target_ms: 20.0,
        }),
        Err(_) => eprintln!("nimbus-bench-invoke: no provided bootstrap at {bootstrap}; build it: cargo build --release -p nimbus-fixtures"),
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    if let Err(err) = rt.block_on(run(&nimbus, &runtimes)) {
        eprintln!("nimbus-bench-invoke: {err}");
        std::process::exit(1);
    }
}

fn create_body(name: &str, rt: &Runtime) -> String {
    json!({
        "FunctionName": name,
        "Runtime": rt.runtime,
        "Role": "arn:aws:iam::000000000000:role/r",
        "Handler": rt.handler,
        "MemorySize": 256,
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(&rt.zip)},
    })
    .to_string()
}

async fn invoke(conn: &mut Conn, name: &str) -> Res<()> {
    let (status, body) = conn.request("POST", &format!("/2015-03-31/functions/{name}/invocations"), b"{}").await?;
    // A function error is also a 200; its payload names an errorType.
    if status != 200 || body.windows(11).any(|w| w == b"\"errorType\"") {
        return Err(format!("invoke answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    Ok(())
}

async fn run(nimbus: &str, runtimes: &[Runtime]) -> Res<()> {
    let server = Server::start(nimbus).await?;
    let mut conn = Conn::connect(server.port).await?;
    println!("nimbus-bench-invoke: trivial handlers, MemorySize 256, one nimbus process");
    for (i, rt) in runtimes.iter().enumerate() {
        // Cold start: CreateFunction sent → first Invoke answered, on a fresh function each run.
        let mut colds = Vec::new();
        for run in 0..COLD_RUNS {
            let name = format!("cold-{i}-{run}");
            let started = Instant::now();
            let (status, body) =
                conn.request("POST", "/2015-03-31/functions", create_body(&name, rt).as_bytes()).await?;
            if status != 201 {
                return Err(format!("CreateFunction answered {status}: {}", String::from_utf8_lossy(&body)));
            }
            invoke(&mut conn, &name).await?;
            colds.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        colds.sort_by(f64::total_cmp);
        let cold = median(&colds);
        println!(
            "{}: cold start median {cold:.1} ms (max {:.1} ms)   [target: <= {} ms: {}]",
            rt.label,
            colds[colds.len() - 1],
            rt.cold_target_ms,
            verdict(cold <= rt.cold_target_ms)
        );
        let name = format!("cold-{i}-0");
        for clients in [1usize, 4] {
            let (latencies, count, elapsed) = warm_load(server.port, &name, clients).await?;
            let rps = count as f64 / elapsed.as_secs_f64();
            let p50 = percentile(&latencies, 50.0);
            let p99 = percentile(&latencies, 99.0);
            let target = if clients == 1 {
                format!("[target p50 <= {} us: {}]", TARGET_WARM_P50_US, verdict(p50 <= TARGET_WARM_P50_US))
            } else {
                format!("[target >= {TARGET_RPS_4} invokes/s: {}]", verdict(rps >= TARGET_RPS_4))
            };
            println!(
                "{}: warm, {clients} client(s): {rps:.0} invokes/s, p50 {p50} us, p99 {p99} us   {target}",
                rt.label
            );
        }
    }
    function_url(server.port, &mut conn, &runtimes[0]).await?;
    streaming_url(&mut conn).await
}

/// A `RESPONSE_STREAM` function URL whose Node handler writes its first bytes, waits, then
/// writes the rest: the first bytes must reach the client long before the function ends.
async fn streaming_url(conn: &mut Conn) -> Res<()> {
    let code = format!(
        "export const handler = awslambda.streamifyResponse(async (event, stream) => {{\n\
         const out = awslambda.HttpResponseStream.from(stream, {{ statusCode: 200, headers: {{ \"content-type\": \"text/plain\" }} }});\n\
         out.write(\"first bytes\\n\");\n\
         await new Promise((r) => setTimeout(r, {STREAM_WAIT_MS}));\n\
         out.end(\"the rest\\n\");\n\
         }});\n"
    );
    let rt = Runtime {
        label: "nodejs22.x",
        runtime: "nodejs22.x",
        handler: "index.handler",
        zip: zip_of("index.mjs", code.as_bytes(), 0o644),
        cold_target_ms: 0.0,
    };
    let path = public_url(conn, "stream-bench", &rt, "RESPONSE_STREAM").await?;
    let (mut first_bytes, mut wholes) = (Vec::new(), Vec::new());
    for run in 0..=STREAM_RUNS {
        let (status, first, whole, body) = conn.request_timed("GET", &path).await?;
        if status != 200 || body != b"first bytes\nthe rest\n" {
            return Err(format!("streaming URL answered {status}: {}", String::from_utf8_lossy(&body)));
        }
        if run > 0 {
            // Run 0 includes the cold start.
            first_bytes.push(first.as_micros() as u64);
            wholes.push(whole.as_micros() as u64);
        }
    }
    first_bytes.sort_unstable();
    wholes.sort_unstable();
    let (p50, p99) = (percentile(&first_bytes, 50.0), percentile(&first_bytes, 99.0));
    println!(
        "streaming function URL ({}, writes, waits {STREAM_WAIT_MS} ms, writes; {STREAM_RUNS} warm requests): time to first byte p50 {p50} us, p99 {p99} us; whole response p50 {} us   [target: first byte p50 <= {TARGET_STREAM_TTFB_US} us: {}]",
        rt.label,
        percentile(&wholes, 50.0),
        verdict(p50 <= TARGET_STREAM_TTFB_US)
    );
    Ok(())
}

/// Create a function with a public URL (path form); the URL's path.
async fn public_url(conn: &mut Conn, name: &str, rt: &Runtime, invoke_mode: &str) -> Res<String> {
    let (status, body) = conn.request("POST", "/2015-03-31/functions", create_body(name, rt).as_bytes()).await?;
    if status != 201 {
        return Err(format!("CreateFunction answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let config = json!({"AuthType": "NONE", "InvokeMode": invoke_mode}).to_string();
    let (status, body) = conn.request("POST", &format!("/2021-10-31/functions/{name}/url"), config.as_bytes()).await?;
    if status != 201 {
        return Err(format!("CreateFunctionUrlConfig answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let url: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    // The path form nimbus hands out: http://127.0.0.1:<port>/_nimbus/lambda/url/<url-id>/
    let full = url["FunctionUrl"].as_str().unwrap_or_default();
    let path = full.splitn(4, '/').nth(3).map(|p| format!("/{p}")).ok_or(format!("unexpected FunctionUrl {full}"))?;
    let permission =
        br#"{"StatementId":"public","Action":"lambda:InvokeFunctionUrl","Principal":"*","FunctionUrlAuthType":"NONE"}"#;
    conn.request("POST", &format!("/2015-03-31/functions/{name}/policy"), permission).await?;
    Ok(format!("{path}hello"))
}

/// A function URL in front of a warm trivial handler, 8 keep-alive connections (path form).
async fn function_url(port: u16, conn: &mut Conn, rt: &Runtime) -> Res<()> {
    let path = public_url(conn, "url-bench", rt, "BUFFERED").await?;
    let mut tasks = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    for _ in 0..URL_CONNECTIONS {
        let path = path.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port).await?;
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let (status, body) = conn.request("GET", &path, b"").await?;
                if status != 200 {
                    return Err(format!("function URL answered {status}: {}", String::from_utf8_lossy(&body)));
                }
                latencies.push(t.elapsed().as_micros() as u64);
            }
            Ok::<_, String>(latencies)
        }));
    }
    tokio::time::sleep(WARM_DURATION).await;
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
        "function URL ({}, {URL_CONNECTIONS} keep-alive connections, cold start included): {rps:.0} req/s, p50 {p50} us, p99 {p99} us   [target >= {TARGET_URL_RPS} req/s and p50 <= {TARGET_URL_P50_US} us: {}]",
        rt.label,
        verdict(rps >= TARGET_URL_RPS && p50 <= TARGET_URL_P50_US)
    );
    Ok(())
}

/// Invoke `name` from `clients` keep-alive connections for a few seconds (after a warm-up that
/// starts one environment per client); latencies in microseconds, sorted.
async fn warm_load(port: u16, name: &str, clients: usize) -> Res<(Vec<u64>, usize, Duration)> {
    let mut conns = Vec::new();
    for _ in 0..clients {
        conns.push(Conn::connect(port).await?);
    }
    // Warm-up: concurrent invokes so each client has an environment.
    let mut warm = Vec::new();
    for mut conn in conns {
        let name = name.to_string();
        warm.push(tokio::spawn(async move {
            for _ in 0..20 {
                invoke(&mut conn, &name).await?;
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
        let name = name.to_string();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                invoke(&mut conn, &name).await?;
                latencies.push(t.elapsed().as_micros() as u64);
            }
            Ok::<_, String>(latencies)
        }));
    }
    tokio::time::sleep(WARM_DURATION).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    let count = all.len();
    Ok((all, count, elapsed))
}
