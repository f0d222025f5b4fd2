//! `nimbus-bench-dynamodb`: DynamoDB figures over the JSON protocol —
//! GetItem and PutItem per second with p50/p99 over 8 connections, Query of 100 items from a
//! 1,000,000-item table, a Scan of 100,000 items, and nimbus's RSS holding 1,000,000 items of
//! ~200 bytes. With `--moto URL` the GetItem/PutItem figures are also taken from a running
//! moto server (`moto_server`), side by side.
//!
//! A measurement, not a test: it exits 0 once it has measured.

use std::time::{Duration, Instant};

use nimbus_bench::{percentile, verdict, Args, Conn, Res, Server};
use serde_json::{json, Value};

const CONNECTIONS: usize = 8;
const ITEMS: usize = 1_000_000;
const PARTITION: usize = 100;
const SCAN_ITEMS: usize = 100_000;
const GETS: usize = 40_000;
const PUTS: usize = 20_000;
const QUERIES: usize = 300;

const TARGET_GETS: f64 = 20_000.0;
const TARGET_GET_P99_MS: f64 = 2.0;
const TARGET_PUTS: f64 = 10_000.0;
const TARGET_QUERY_P50_MS: f64 = 2.0;
const TARGET_RSS_MIB: f64 = 600.0;

fn main() {
    let args = Args::parse("nimbus-bench-dynamodb", &[("moto", "http://127.0.0.1:PORT")]);
    nimbus_bench::block_on("nimbus-bench-dynamodb", run(&args.nimbus, args.get("moto")));
}

async fn call(conn: &mut Conn, op: &str, body: &Value) -> Res<Value> {
    let target = format!("DynamoDB_20120810.{op}");
    let headers = [
        ("Content-Type", "application/x-amz-json-1.0"),
        ("X-Amz-Target", target.as_str()),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"),
    ];
    let (status, out) = conn.request_with("POST", "/", &headers, body.to_string().as_bytes()).await?;
    if status != 200 {
        return Err(format!("{op} answered {status}: {}", String::from_utf8_lossy(&out)));
    }
    serde_json::from_slice(&out).map_err(|e| format!("{op}: {e}"))
}

/// An item of about 200 bytes as DynamoDB counts them.
fn item(i: usize) -> Value {
    json!({
        "pk": {"S": format!("user#{:07}", i / PARTITION)},
        "sk": {"N": (i % PARTITION).to_string()},
        "name": {"S": format!("Customer number {i:08}")},
        "email": {"S": format!("customer.{i:08}@example.com")},
        "score": {"N": format!("{}.{}", i % 997, i % 89)},
        "tags": {"SS": ["alpha", "beta", "gamma"]},
        "note": {"S": "x".repeat(90)},
    })
}

fn key(i: usize) -> Value {
    json!({"pk": {"S": format!("user#{:07}", i / PARTITION)}, "sk": {"N": (i % PARTITION).to_string()}})
}

async fn create_table(conn: &mut Conn, name: &str) -> Res<()> {
    call(
        conn,
        "CreateTable",
        &json!({
            "TableName": name,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    )
    .await
    .map(|_| ())
}

/// Loads items `0..count` with BatchWriteItem (25 a call) over the connections.
async fn load(port: u16, table: &str, count: usize) -> Res<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let table = table.to_string();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port).await?;
            let mut i = c * 25;
            while i < count {
                let puts: Vec<Value> =
                    (i..(i + 25).min(count)).map(|j| json!({"PutRequest": {"Item": item(j)}})).collect();
                let out = call(&mut conn, "BatchWriteItem", &json!({"RequestItems": {table.as_str(): puts}})).await?;
                if out["UnprocessedItems"].as_object().is_some_and(|u| !u.is_empty()) {
                    return Err("BatchWriteItem left items unprocessed".to_string());
                }
                i += 25 * CONNECTIONS;
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

struct Rate {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `total` calls of `op` spread over the connections; `body(i)` builds call `i`.
async fn hammer(port: u16, op: &'static str, total: usize, body: fn(usize, &str) -> Value, table: &str) -> Res<Rate> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let table = table.to_string();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(port).await?;
            let mut latencies = Vec::with_capacity(total / CONNECTIONS);
            for k in 0..total / CONNECTIONS {
                let i = (k * CONNECTIONS + c).wrapping_mul(7919) % ITEMS;
                let b = body(i, &table);
                let t = Instant::now();
                call(&mut conn, op, &b).await?;
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

fn get_body(i: usize, table: &str) -> Value {
    json!({"TableName": table, "Key": key(i)})
}

fn put_body(i: usize, table: &str) -> Value {
    json!({"TableName": table, "Item": item(i)})
}

async fn point_ops(port: u16, table: &str, label: &str) -> Res<(Rate, Rate)> {
    let gets = hammer(port, "GetItem", GETS, get_body, table).await?;
    println!(
        "{label} GetItem: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms ({GETS} calls, {CONNECTIONS} connections)",
        gets.per_second, gets.p50_ms, gets.p99_ms
    );
    let puts = hammer(port, "PutItem", PUTS, put_body, table).await?;
    println!(
        "{label} PutItem: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms ({PUTS} calls, {CONNECTIONS} connections)",
        puts.per_second, puts.p50_ms, puts.p99_ms
    );
    Ok((gets, puts))
}

async fn run(nimbus: &str, moto: Option<&str>) -> Res<()> {
    let server = Server::start(nimbus).await?;
    let port = server.port;
    let mut conn = Conn::connect(port).await?;
    println!("nimbus-bench-dynamodb: {CONNECTIONS} connections, JSON protocol, in memory");
    let idle = server.rss_mib()?;

    create_table(&mut conn, "big").await?;
    let rate = load(port, "big", ITEMS).await?;
    let rss = server.rss_mib()?;
    println!("1. loaded {ITEMS} items of ~200 bytes with BatchWriteItem: {rate:.0} items/s");
    println!(
        "2. RSS with {ITEMS} items: {rss:.0} MiB (idle {idle:.0} MiB)   [target: <= {TARGET_RSS_MIB} MiB: {}]",
        verdict(rss <= TARGET_RSS_MIB)
    );
    let (gets, puts) = point_ops(port, "big", "3.").await?;
    println!(
        "   targets: GetItem >= {TARGET_GETS}/s with p99 <= {TARGET_GET_P99_MS} ms: {}; PutItem >= {TARGET_PUTS}/s: {}",
        verdict(gets.per_second >= TARGET_GETS && gets.p99_ms <= TARGET_GET_P99_MS),
        verdict(puts.per_second >= TARGET_PUTS)
    );

    // The first connection sat idle through the load; nimbus lets idle connections go after
    // its header timeout, as servers do, so the queries take a fresh one.
    conn = Conn::connect(port).await?;
    let mut latencies = Vec::new();
    for q in 0..QUERIES {
        let partition = (q * 7919) % (ITEMS / PARTITION);
        let body = json!({
            "TableName": "big",
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": format!("user#{partition:07}")}}
        });
        let t = Instant::now();
        let out = call(&mut conn, "Query", &body).await?;
        latencies.push(t.elapsed().as_micros() as u64);
        if out["Count"] != json!(PARTITION) {
            return Err(format!("Query returned {} items, not {PARTITION}", out["Count"]));
        }
    }
    latencies.sort_unstable();
    let p50 = percentile(&latencies, 50.0) as f64 / 1000.0;
    println!(
        "4. Query of {PARTITION} items from the {ITEMS}-item table: p50 {p50:.2} ms, p99 {:.2} ms ({QUERIES} queries)   [target: p50 <= {TARGET_QUERY_P50_MS} ms: {}]",
        percentile(&latencies, 99.0) as f64 / 1000.0,
        verdict(p50 <= TARGET_QUERY_P50_MS)
    );

    create_table(&mut conn, "scan").await?;
    load(port, "scan", SCAN_ITEMS).await?;
    conn = Conn::connect(port).await?;
    let started = Instant::now();
    let (mut seen, mut pages, mut start): (u64, usize, Option<Value>) = (0, 0, None);
    loop {
        let mut body = json!({"TableName": "scan"});
        if let Some(s) = start.take() {
            body["ExclusiveStartKey"] = s;
        }
        let out = call(&mut conn, "Scan", &body).await?;
        seen += out["Count"].as_u64().unwrap_or(0);
        pages += 1;
        match out.get("LastEvaluatedKey") {
            Some(k) => start = Some(k.clone()),
            None => break,
        }
    }
    let took = started.elapsed();
    if seen != SCAN_ITEMS as u64 {
        return Err(format!("Scan saw {seen} items, not {SCAN_ITEMS}"));
    }
    println!(
        "5. Scan of {SCAN_ITEMS} items: {:.0} ms in {pages} pages of 1 MB ({:.0} items/s)",
        ms(took),
        seen as f64 / took.as_secs_f64()
    );

    if let Some(url) = moto {
        let moto_port: u16 = url
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .ok_or("--moto needs http://host:port")?;
        let mut mconn = Conn::connect(moto_port).await?;
        create_table(&mut mconn, "big").await?;
        // moto is far slower: a smaller table is enough for point reads and writes.
        load_small(moto_port, 20_000).await?;
        let (mgets, mputs) = point_ops_small(moto_port).await?;
        println!(
            "6. side by side: nimbus GetItem {:.0}/s vs moto {:.0}/s ({:.0}x); PutItem {:.0}/s vs {:.0}/s ({:.0}x)   [target: >= 20x moto's GetItem/s: {}]",
            gets.per_second,
            mgets.per_second,
            gets.per_second / mgets.per_second,
            puts.per_second,
            mputs.per_second,
            puts.per_second / mputs.per_second,
            verdict(gets.per_second >= 20.0 * mgets.per_second)
        );
    }
    Ok(())
}

/// moto's table holds the first `count` items; point calls address those.
async fn load_small(port: u16, count: usize) -> Res<()> {
    load(port, "big", count).await.map(|_| ())
}

async fn point_ops_small(port: u16) -> Res<(Rate, Rate)> {
    fn small_get(i: usize, table: &str) -> Value {
        get_body(i % 20_000, table)
    }
    fn small_put(i: usize, table: &str) -> Value {
        put_body(i % 20_000, table)
    }
    let gets = hammer(port, "GetItem", 4_000, small_get, "big").await?;
    println!("   moto GetItem: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms", gets.per_second, gets.p50_ms, gets.p99_ms);
    let puts = hammer(port, "PutItem", 2_000, small_put, "big").await?;
    println!("   moto PutItem: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms", puts.per_second, puts.p50_ms, puts.p99_ms);
    Ok((gets, puts))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
