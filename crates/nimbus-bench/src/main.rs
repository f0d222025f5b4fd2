//! `nimbus-bench`: measures the figures the foundation issue sets targets for, against the real
//! `nimbus` binary over plain HTTP/1.1 keep-alive connections (unsigned Lambda REST-JSON requests
//! go to the default account and region).
//!
//! 1. startup: process spawn → first successful ListFunctions answer (median and max of 20 runs)
//! 2. idle RSS right after startup
//! 3. GetFunction throughput and latency: 8 keep-alive connections for ~5 s against one function
//! 4. CreateFunction ×10,000, then full ListFunctions pagination over them
//! 5. RSS with 10,000 functions
//!
//! It always exits 0 once it has measured: it is a measurement, not a test. It exits non-zero only
//! when it cannot measure at all (nimbus missing or not starting).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

const STARTUP_RUNS: usize = 20;
const GET_CONNECTIONS: usize = 8;
const GET_WARMUP: Duration = Duration::from_millis(500);
const GET_DURATION: Duration = Duration::from_secs(5);
const FUNCTIONS: usize = 10_000;
const CREATE_CONNECTIONS: usize = 8;

const TARGET_START_MS: f64 = 20.0;
const TARGET_IDLE_RSS_MIB: f64 = 15.0;
const TARGET_GET_RPS: f64 = 10_000.0;
const TARGET_GET_P99_US: u64 = 2_000;
const TARGET_LIST_MS: f64 = 1_000.0;
const TARGET_RSS_10K_MIB: f64 = 150.0;

use nimbus_bench::{encode_query, median, percentile, verdict, Conn, Res, Server};

fn main() {
    let mut nimbus = String::from("target/release/nimbus");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--nimbus" => match args.next() {
                Some(path) => nimbus = path,
                None => usage("--nimbus needs a path"),
            },
            "-h" | "--help" => {
                println!("usage: nimbus-bench [--nimbus PATH]   (default PATH: target/release/nimbus)");
                return;
            }
            other => usage(&format!("unknown argument '{other}'")),
        }
    }
    if !std::path::Path::new(&nimbus).is_file() {
        eprintln!("nimbus-bench: no nimbus binary at '{nimbus}' (build it: cargo build --release -p nimbus)");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    if let Err(err) = runtime.block_on(run(&nimbus)) {
        eprintln!("nimbus-bench: could not measure: {err}");
        std::process::exit(2);
    }
}

fn usage(message: &str) -> ! {
    eprintln!("nimbus-bench: {message}\nusage: nimbus-bench [--nimbus PATH]");
    std::process::exit(2);
}

async fn run(nimbus: &str) -> Res<()> {
    println!("nimbus-bench: {nimbus} ({} CPUs)", std::thread::available_parallelism().map_or(0, |n| n.get()));

    // 1 + 2: startup and idle RSS, fresh process each run.
    let mut starts = Vec::with_capacity(STARTUP_RUNS);
    let mut idle_rss = Vec::with_capacity(STARTUP_RUNS);
    for _ in 0..STARTUP_RUNS {
        let (server, elapsed) = Server::start_timed(nimbus).await?;
        idle_rss.push(server.rss_mib()?);
        starts.push(elapsed.as_secs_f64() * 1000.0);
        drop(server);
    }
    starts.sort_by(f64::total_cmp);
    idle_rss.sort_by(f64::total_cmp);
    let start_median = median(&starts);
    let start_max = starts[starts.len() - 1];
    println!(
        "1. startup (spawn -> first ListFunctions 200), {STARTUP_RUNS} runs: median {start_median:.2} ms, max {start_max:.2} ms   [target: median <= {TARGET_START_MS} ms: {}]",
        verdict(start_median <= TARGET_START_MS)
    );
    let rss_median = median(&idle_rss);
    println!(
        "2. idle RSS right after startup: {rss_median:.1} MiB (median of {STARTUP_RUNS}; max {:.1} MiB)   [target: <= {TARGET_IDLE_RSS_MIB} MiB: {}]",
        idle_rss[idle_rss.len() - 1],
        verdict(rss_median <= TARGET_IDLE_RSS_MIB)
    );

    // 3: GetFunction throughput and latency.
    let server = Server::start(nimbus).await?;
    let zip_b64 = base64::engine::general_purpose::STANDARD.encode(python_zip());
    let mut conn = Conn::connect(server.port).await?;
    let (status, body) =
        conn.request("POST", "/2015-03-31/functions", create_body("bench-get", &zip_b64).as_bytes()).await?;
    if status != 201 {
        return Err(format!("CreateFunction answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let get = get_function_load(server.port).await?;
    let rps = get.ok as f64 / get.elapsed.as_secs_f64();
    let p50 = percentile(&get.latencies_ns, 50.0) / 1000;
    let p99 = percentile(&get.latencies_ns, 99.0) / 1000;
    let max = get.latencies_ns.last().copied().unwrap_or(0) / 1000;
    println!(
        "3. GetFunction, {GET_CONNECTIONS} keep-alive connections, {:.1} s: {rps:.0} req/s, p50 {p50} us, p99 {p99} us, max {max} us, {} requests, non-200: {}   [target: >= {TARGET_GET_RPS} req/s and p99 <= {} ms: {}]",
        get.elapsed.as_secs_f64(),
        get.ok + get.bad,
        get.bad,
        TARGET_GET_P99_US / 1000,
        verdict(rps >= TARGET_GET_RPS && p99 <= TARGET_GET_P99_US && get.bad == 0)
    );
    drop(server);

    // 4: 10,000 functions, on a fresh process so the count is exactly ours.
    let server = Server::start(nimbus).await?;
    let rss_before = server.rss_mib()?;
    let created = create_functions(server.port, &zip_b64).await?;
    println!(
        "4a. CreateFunction x{FUNCTIONS} over {CREATE_CONNECTIONS} connections: {:.2} s ({:.0} req/s), p50 {} us, p99 {} us, non-201: {}{}",
        created.elapsed.as_secs_f64(),
        FUNCTIONS as f64 / created.elapsed.as_secs_f64(),
        percentile(&created.latencies_ns, 50.0) / 1000,
        percentile(&created.latencies_ns, 99.0) / 1000,
        created.bad,
        created.first_error.map(|e| format!(" (first: {e})")).unwrap_or_default()
    );
    let rss_after_create = server.rss_mib()?;
    let mut conn = Conn::connect(server.port).await?;
    let mut rss_after_list = Vec::new();
    for (label, max_items) in [("default page size", None), ("MaxItems=10000", Some(FUNCTIONS))] {
        let listed = list_all(&mut conn, max_items).await;
        rss_after_list.push(format!("after listing with {label} {:.1} MiB", server.rss_mib()?));
        match listed {
            Ok(l) => {
                let ms = l.elapsed.as_secs_f64() * 1000.0;
                let count_ok = l.count == FUNCTIONS && l.unique == FUNCTIONS;
                println!(
                    "4b. ListFunctions over all functions ({label}): {ms:.1} ms, {} pages, {} functions ({} unique){}   [target: <= {TARGET_LIST_MS} ms with exactly {FUNCTIONS}: {}]",
                    l.pages,
                    l.count,
                    l.unique,
                    if count_ok { ", count OK" } else { ", COUNT WRONG" },
                    verdict(count_ok && ms <= TARGET_LIST_MS)
                );
            }
            Err(err) => println!("4b. ListFunctions over all functions ({label}): failed: {err}   [target: <= {TARGET_LIST_MS} ms: MISSED]"),
        }
    }

    // 5: memory with 10,000 functions.
    let rss = server.rss_mib()?;
    let hwm = server.status_kib("VmHWM:").map_or(0.0, |k| k as f64 / 1024.0);
    println!(
        "5. RSS with {FUNCTIONS} functions: {rss:.1} MiB (fresh process {rss_before:.1} MiB, right after creating {rss_after_create:.1} MiB, {}, peak {hwm:.1} MiB)   [target: <= {TARGET_RSS_10K_MIB} MiB: {}]",
        rss_after_list.join(", "),
        verdict(rss <= TARGET_RSS_10K_MIB)
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------------------------

fn python_zip() -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file("index.py", zip::write::SimpleFileOptions::default()).expect("zip entry");
        w.write_all(b"def handler(event, context):\n    return {'ok': True}\n").expect("zip write");
        w.finish().expect("zip finish");
    }
    buf.into_inner()
}

fn create_body(name: &str, zip_b64: &str) -> String {
    json!({
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::000000000000:role/r",
        "Handler": "index.handler",
        "Code": {"ZipFile": zip_b64},
    })
    .to_string()
}

struct Load {
    ok: usize,
    bad: usize,
    elapsed: Duration,
    /// Sorted.
    latencies_ns: Vec<u64>,
    first_error: Option<String>,
}

async fn get_function_load(port: u16) -> Res<Load> {
    let mut conns = Vec::new();
    for _ in 0..GET_CONNECTIONS {
        conns.push(Conn::connect(port).await?);
    }
    let path = "/2015-03-31/functions/bench-get";
    let warmup_end = Instant::now() + GET_WARMUP;
    let end = warmup_end + GET_DURATION;
    let mut tasks = Vec::new();
    for mut conn in conns {
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let (mut ok, mut bad) = (0usize, 0usize);
            let mut first_error = None;
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                let result = conn.request("GET", path, b"").await;
                let ns = t.elapsed().as_nanos() as u64;
                let measuring = t >= warmup_end;
                match result {
                    Ok((200, _)) => {
                        if measuring {
                            ok += 1;
                            lat.push(ns);
                        }
                    }
                    Ok((status, body)) => {
                        bad += 1;
                        first_error.get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(&body)));
                    }
                    Err(err) => {
                        bad += 1;
                        first_error.get_or_insert(err);
                        conn = Conn::connect(port).await?;
                    }
                }
            }
            Ok::<_, String>((ok, bad, lat, first_error))
        }));
    }
    let mut load = Load { ok: 0, bad: 0, elapsed: Duration::ZERO, latencies_ns: Vec::new(), first_error: None };
    for task in tasks {
        let (ok, bad, lat, err) = task.await.map_err(|e| e.to_string())??;
        load.ok += ok;
        load.bad += bad;
        load.latencies_ns.extend(lat);
        if load.first_error.is_none() {
            load.first_error = err;
        }
    }
    // Workers stop starting requests at `end`; the window closes when the last one finishes.
    load.elapsed = Instant::now().duration_since(warmup_end);
    load.latencies_ns.sort_unstable();
    if let Some(err) = &load.first_error {
        eprintln!("nimbus-bench: GetFunction error: {err}");
    }
    Ok(load)
}

async fn create_functions(port: u16, zip_b64: &str) -> Res<Load> {
    let next = Arc::new(AtomicUsize::new(0));
    let zip_b64: Arc<str> = zip_b64.into();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CREATE_CONNECTIONS {
        let mut conn = Conn::connect(port).await?;
        let next = next.clone();
        let zip_b64 = zip_b64.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut ok, mut bad) = (0usize, 0usize);
            let mut first_error = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= FUNCTIONS {
                    break;
                }
                let body = create_body(&format!("bench-fn-{i:05}"), &zip_b64);
                let t = Instant::now();
                let result = conn.request("POST", "/2015-03-31/functions", body.as_bytes()).await;
                lat.push(t.elapsed().as_nanos() as u64);
                match result {
                    Ok((201, _)) => ok += 1,
                    Ok((status, body)) => {
                        bad += 1;
                        first_error.get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(&body)));
                    }
                    Err(err) => {
                        bad += 1;
                        first_error.get_or_insert(err);
                        conn = Conn::connect(port).await?;
                    }
                }
            }
            Ok::<_, String>((ok, bad, lat, first_error))
        }));
    }
    let mut load = Load { ok: 0, bad: 0, elapsed: Duration::ZERO, latencies_ns: Vec::new(), first_error: None };
    for task in tasks {
        let (ok, bad, lat, err) = task.await.map_err(|e| e.to_string())??;
        load.ok += ok;
        load.bad += bad;
        load.latencies_ns.extend(lat);
        if load.first_error.is_none() {
            load.first_error = err;
        }
    }
    load.elapsed = started.elapsed();
    load.latencies_ns.sort_unstable();
    Ok(load)
}

struct Listed {
    elapsed: Duration,
    pages: usize,
    count: usize,
    unique: usize,
}

async fn list_all(conn: &mut Conn, max_items: Option<usize>) -> Res<Listed> {
    let started = Instant::now();
    let mut names = HashSet::with_capacity(FUNCTIONS);
    let (mut pages, mut count) = (0, 0);
    let mut marker: Option<String> = None;
    loop {
        let mut path = String::from("/2015-03-31/functions/");
        let mut sep = '?';
        if let Some(max) = max_items {
            path.push_str(&format!("{sep}MaxItems={max}"));
            sep = '&';
        }
        if let Some(m) = &marker {
            path.push_str(&format!("{sep}Marker={}", encode_query(m)));
        }
        let (status, body) = conn.request("GET", &path, b"").await?;
        if status != 200 {
            return Err(format!("page {pages} answered {status}: {}", String::from_utf8_lossy(&body)));
        }
        let page: Value = serde_json::from_slice(&body).map_err(|e| format!("page {pages}: {e}"))?;
        pages += 1;
        for f in page["Functions"].as_array().map(Vec::as_slice).unwrap_or_default() {
            count += 1;
            if let Some(name) = f["FunctionName"].as_str() {
                names.insert(name.to_string());
            }
        }
        match page["NextMarker"].as_str() {
            Some(m) if !m.is_empty() => marker = Some(m.to_string()),
            _ => break,
        }
        if pages > 2 * FUNCTIONS {
            return Err("pagination does not end".into());
        }
    }
    Ok(Listed { elapsed: started.elapsed(), pages, count, unique: names.len() })
}
