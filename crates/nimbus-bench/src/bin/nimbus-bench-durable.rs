//! `nimbus-bench-durable`: durable execution figures with handlers written with AWS's Python
//! durable execution SDK (installed from PyPI into the code package, as on AWS):
//! - checkpoints/s while one execution runs 1,000 steps (a synchronous invoke, start to end);
//! - callback completion → resumed invocation started, p50/p99 over a run of callbacks.
//!
//! A measurement, not a test: it exits 0 once it has measured.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use nimbus_bench::{encode_query, median, percentile, verdict, Args, Conn, Res, Server};
use serde_json::{json, Value};

const SDK: &str = "aws-durable-execution-sdk-python==3.0.0";
const STEPS: usize = 1_000;
const CALLBACKS: usize = 30;
const TARGET_CHECKPOINTS_PER_S: f64 = 2_000.0;
const TARGET_RESUME_P50_MS: f64 = 50.0;

const HANDLERS: &str = r#"
from aws_durable_execution_sdk_python import DurableContext, durable_execution


@durable_execution
def many_steps(event, context: DurableContext):
    total = 0
    for i in range(event["steps"]):
        total += context.step(lambda _, i=i: i, name=f"step {i}")
    return total


@durable_execution
def callbacks(event, context: DurableContext):
    for i in range(event["callbacks"]):
        context.create_callback(name=f"callback {i}").result()
    return "done"


def by_hand(event, context):
    """A durable handler without the SDK: it hands its ARN and token to the benchmark, which
    then checkpoints as fast as one HTTP client can, and ends when told to."""
    import json, pathlib, time
    state = event["InitialExecutionState"]["Operations"][0]["ExecutionDetails"]["InputPayload"]
    folder = pathlib.Path(json.loads(state)["folder"])
    (folder / "token.tmp").write_text(json.dumps([event["DurableExecutionArn"], event["CheckpointToken"]]))
    (folder / "token.tmp").rename(folder / "token.json")
    while not (folder / "done").exists():
        time.sleep(0.005)
    return {"Status": "SUCCEEDED", "Result": "\"ok\""}
"#;

fn main() {
    let args = Args::parse("nimbus-bench-durable", &[]);
    let zip = match package() {
        Ok(zip) => zip,
        Err(err) => {
            eprintln!("nimbus-bench-durable: cannot build the code package: {err}");
            std::process::exit(1);
        }
    };
    nimbus_bench::block_on("nimbus-bench-durable", run(&args.nimbus, &zip));
}

/// The handlers plus the SDK, zipped.
fn package() -> Res<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("nimbus-bench-durable-{}", std::process::id()));
    let status = std::process::Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--no-deps", "--target"])
        .arg(&dir)
        .arg(SDK)
        .status()
        .map_err(|e| format!("pip: {e}"))?;
    if !status.success() {
        return Err(format!("pip install {SDK} failed"));
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
        let mut stack = vec![dir.clone()];
        while let Some(path) = stack.pop() {
            for entry in std::fs::read_dir(&path).map_err(|e| e.to_string())? {
                let entry = entry.map_err(|e| e.to_string())?;
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let name = p.strip_prefix(&dir).map_err(|e| e.to_string())?.to_string_lossy().into_owned();
                    w.start_file(name, options).map_err(|e| e.to_string())?;
                    w.write_all(&std::fs::read(&p).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
                }
            }
        }
        w.start_file("handlers.py", options).map_err(|e| e.to_string())?;
        w.write_all(HANDLERS.as_bytes()).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(buf.into_inner())
}

async fn create(conn: &mut Conn, name: &str, handler: &str, zip: &[u8]) -> Res<()> {
    let body = json!({
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::000000000000:role/r",
        "Handler": handler,
        "MemorySize": 512,
        "Timeout": 900,
        "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(zip)},
        "DurableConfig": {"ExecutionTimeout": 86_400},
    });
    let (status, out) = conn.request("POST", "/2015-03-31/functions", body.to_string().as_bytes()).await?;
    if status != 201 {
        return Err(format!("CreateFunction answered {status}: {}", String::from_utf8_lossy(&out)));
    }
    Ok(())
}

async fn stats(conn: &mut Conn) -> Res<Value> {
    let (_, body) = conn.request("GET", "/_nimbus/lambda/durable", b"").await?;
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

async fn history(conn: &mut Conn, arn: &str) -> Res<Vec<Value>> {
    let path = format!("/2025-12-01/durable-executions/{}/history?MaxItems=1000", encode_query(arn));
    let (status, body) = conn.request("GET", &path, b"").await?;
    if status != 200 {
        return Err(format!("GetDurableExecutionHistory answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let out: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(out["Events"].as_array().cloned().unwrap_or_default())
}

async fn run(nimbus: &str, zip: &[u8]) -> Res<()> {
    let server = Server::start(nimbus).await?;
    let mut conn = Conn::connect(server.port).await?;
    println!("durable executions (Python SDK {SDK}, python3.12, MemorySize 512)");

    // Checkpoints: one synchronous invoke of a 1,000-step execution (after one that warms the
    // environment and the SDK's imports, as a warm function would be).
    create(&mut conn, "steps", "handlers.many_steps", zip).await?;
    let warm = json!({"steps": 10}).to_string();
    conn.request("POST", "/2015-03-31/functions/steps/invocations?Qualifier=%24LATEST", warm.as_bytes()).await?;
    let before = stats(&mut conn).await?;
    let started = Instant::now();
    let payload = json!({"steps": STEPS}).to_string();
    let (status, body) =
        conn.request("POST", "/2015-03-31/functions/steps/invocations?Qualifier=%24LATEST", payload.as_bytes()).await?;
    let elapsed = started.elapsed();
    let expected = (STEPS * (STEPS - 1) / 2).to_string();
    if status != 200 || String::from_utf8_lossy(&body) != expected {
        return Err(format!("the 1,000-step execution answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let after = stats(&mut conn).await?;
    let calls = after["Checkpoints"].as_u64().unwrap_or(0) - before["Checkpoints"].as_u64().unwrap_or(0);
    let updates = after["OperationUpdates"].as_u64().unwrap_or(0) - before["OperationUpdates"].as_u64().unwrap_or(0);
    let secs = elapsed.as_secs_f64();
    let per_s = calls as f64 / secs;
    println!(
        "  Python SDK handler, {STEPS} steps in {:.0} ms: {calls} checkpoint calls ({per_s:.0}/s), {updates} operation updates ({:.0}/s)",
        secs * 1000.0,
        updates as f64 / secs,
    );
    server_capacity(&mut conn, server.port, zip).await?;

    // Callback completion → resumed invocation started.
    create(&mut conn, "callbacks", "handlers.callbacks", zip).await?;
    let payload = json!({"callbacks": CALLBACKS}).to_string();
    let (status, body) = conn
        .request_with(
            "POST",
            "/2015-03-31/functions/callbacks/invocations?Qualifier=%24LATEST",
            &[("X-Amz-Invocation-Type", "Event")],
            payload.as_bytes(),
        )
        .await?;
    if status != 202 {
        return Err(format!("starting the callback execution answered {status}: {}", String::from_utf8_lossy(&body)));
    }
    let arn = started_arn(&mut conn).await?;
    let mut latencies_ms = Vec::with_capacity(CALLBACKS);
    for i in 0..CALLBACKS {
        // Wait until the execution is suspended on callback i.
        let callback_id = loop {
            let events = history(&mut conn, &arn).await?;
            let callbacks: Vec<&Value> = events.iter().filter(|e| e["EventType"] == "CallbackStarted").collect();
            let idle = events.last().is_some_and(|e| e["EventType"] == "InvocationCompleted");
            if callbacks.len() == i + 1 && idle {
                break callbacks[i]["CallbackStartedDetails"]["CallbackId"].as_str().unwrap_or_default().to_string();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let completed_at = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs_f64();
        let path = format!("/2025-12-01/durable-execution-callbacks/{}/succeed", encode_query(&callback_id));
        let (status, body) = conn.request_with("POST", &path, &[], b"ok").await?;
        if status != 200 {
            return Err(format!("callback success answered {status}: {}", String::from_utf8_lossy(&body)));
        }
        // The resumed invocation's start is recorded in its InvocationCompleted event.
        let resumed_at = loop {
            let events = history(&mut conn, &arn).await?;
            let completions: Vec<&Value> = events.iter().filter(|e| e["EventType"] == "InvocationCompleted").collect();
            if completions.len() == i + 2 {
                break completions[i + 1]["InvocationCompletedDetails"]["StartTimestamp"].as_f64().unwrap_or(0.0);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        if std::env::var_os("NIMBUS_BENCH_DEBUG").is_some() {
            eprintln!("callback {i}: completed {completed_at:.4} resumed {resumed_at:.4}");
        }
        // nimbus records times in whole milliseconds: compare at that resolution.
        latencies_ms.push(((resumed_at * 1000.0).round() - (completed_at * 1000.0).floor()).max(0.0));
    }
    latencies_ms.sort_by(f64::total_cmp);
    let p50 = median(&latencies_ms);
    let micros: Vec<u64> = latencies_ms.iter().map(|ms| (ms * 1000.0) as u64).collect();
    println!(
        "  callback completed → resumed invocation started (millisecond resolution), {CALLBACKS} callbacks: p50 {p50:.1} ms, p99 {:.1} ms — target p50 ≤ {TARGET_RESUME_P50_MS:.0} ms: {}",
        percentile(&micros, 0.99) as f64 / 1000.0,
        verdict(p50 <= TARGET_RESUME_P50_MS)
    );
    Ok(())
}

/// Checkpoints/s nimbus sustains: executions whose handler hands its token over, driven by
/// plain HTTP clients (one per execution) as fast as they go — one execution, then four.
async fn server_capacity(conn: &mut Conn, port: u16, zip: &[u8]) -> Res<()> {
    create(conn, "by-hand", "handlers.by_hand", zip).await?;
    for executions in [1usize, 4] {
        let mut runs = Vec::new();
        for n in 0..executions {
            let folder =
                std::env::temp_dir().join(format!("nimbus-bench-durable-{}-{executions}-{n}", std::process::id()));
            std::fs::create_dir_all(&folder).map_err(|e| e.to_string())?;
            let payload = json!({"folder": folder}).to_string();
            let (status, _) = conn
                .request_with(
                    "POST",
                    "/2015-03-31/functions/by-hand/invocations?Qualifier=%24LATEST",
                    &[("X-Amz-Invocation-Type", "Event")],
                    payload.as_bytes(),
                )
                .await?;
            if status != 202 {
                return Err(format!("starting a by-hand execution answered {status}"));
            }
            runs.push(folder);
        }
        let mut handles = Vec::new();
        let started = Instant::now();
        for folder in runs.clone() {
            handles.push(tokio::spawn(async move { drive(port, &folder).await }));
        }
        let mut total = 0u64;
        for handle in handles {
            total += handle.await.map_err(|e| e.to_string())??;
        }
        let per_s = total as f64 / started.elapsed().as_secs_f64();
        println!(
            "  nimbus alone ({executions} execution{}, one HTTP client each): {per_s:.0} checkpoints/s — target ≥ {TARGET_CHECKPOINTS_PER_S:.0}: {}",
            if executions == 1 { "" } else { "s" },
            verdict(per_s >= TARGET_CHECKPOINTS_PER_S)
        );
        for folder in runs {
            std::fs::write(folder.join("done"), b"").map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Wait for an execution's token, then checkpoint a STEP START+SUCCEED per call, STEPS times.
async fn drive(port: u16, folder: &std::path::Path) -> Res<u64> {
    let token_file = folder.join("token.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (arn, mut token) = loop {
        if let Ok(text) = std::fs::read_to_string(&token_file) {
            let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            break (v[0].as_str().unwrap_or_default().to_string(), v[1].as_str().unwrap_or_default().to_string());
        }
        if Instant::now() > deadline {
            return Err("the by-hand handler never handed over its token".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let mut conn = Conn::connect(port).await?;
    let path = format!("/2025-12-01/durable-executions/{}/checkpoint", encode_query(&arn));
    // The execution's account is in its ARN; sign the scope with it, as the SDK's client would.
    let account = arn.split(':').nth(4).unwrap_or("000000000000").to_string();
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={account}/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0"
    );
    for i in 0..STEPS {
        let body = json!({
            "CheckpointToken": token,
            "Updates": [
                {"Id": format!("s{i}"), "Type": "STEP", "Action": "START", "Name": format!("step {i}")},
                {"Id": format!("s{i}"), "Type": "STEP", "Action": "SUCCEED", "Payload": i.to_string()},
            ],
        });
        let (status, out) = conn
            .request_with(
                "POST",
                &path,
                &[("Content-Type", "application/json"), ("Authorization", &auth)],
                body.to_string().as_bytes(),
            )
            .await?;
        let out: Value = serde_json::from_slice(&out).map_err(|e| e.to_string())?;
        match out["CheckpointToken"].as_str() {
            Some(next) if status == 200 => token = next.to_string(),
            _ => return Err(format!("checkpoint answered {status}: {out}")),
        }
    }
    Ok(STEPS as u64)
}

/// The ARN of the one execution of `callbacks`.
async fn started_arn(conn: &mut Conn) -> Res<String> {
    for _ in 0..500 {
        let (_, body) = conn.request("GET", "/2025-12-01/functions/callbacks/durable-executions", b"").await?;
        let out: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if let Some(arn) = out["DurableExecutions"][0]["DurableExecutionArn"].as_str() {
            return Ok(arn.to_string());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err("the callback execution never appeared".into())
}
