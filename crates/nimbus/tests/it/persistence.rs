//! `--data-dir`: every acknowledged mutation survives `kill -9`, restarts keep values and
//! numbering, and the restarted server keeps working.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, Environment, FunctionCode, LayerVersionContentInput, Runtime};
use serde_json::Value;

use crate::harness::*;

const WRITERS: u64 = 4;
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Kill once this many mutations have been acknowledged (in total, over all writers).
const KILL_AFTER_ACKS: usize = 200;

/// What the client knows of one mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ack {
    /// Never sent: must not have happened.
    NotSent,
    /// Sent, no answer (the server died): may or may not have happened.
    InFlight,
    /// Answered with success: must have happened.
    Acked,
}

fn function_zip(writer: u64, i: u64) -> Vec<u8> {
    let handler = format!("# writer {writer} function {i}\ndef handler(event, context):\n    return {i}\n");
    zip_of(&[("index.py", handler.as_bytes()), ("data.bin", &noise(writer * 1_000 + i, 48 * 1024))])
}

fn layer_zip(writer: u64, i: u64) -> Vec<u8> {
    zip_of(&[
        ("python/lib.py", format!("LAYER = ({writer}, {i})\n").as_bytes()),
        ("python/blob.bin", &noise(1_000_000 + writer * 1_000 + i, 16 * 1024)),
    ])
}

#[derive(Debug)]
struct FunctionLog {
    name: String,
    zip: Vec<u8>,
    code_sha256: Option<String>,
    created: Ack,
    updated: Ack,
    /// Values set by the update.
    timeout: i32,
    description: String,
    env: String,
    published: Ack,
    version_description: String,
    alias: Ack,
    permission: Ack,
    statement_id: String,
}

#[derive(Debug)]
struct LayerLog {
    zip: Vec<u8>,
    ack: Ack,
    /// Set when acknowledged.
    version: Option<i64>,
    code_sha256: Option<String>,
}

#[derive(Debug, Default)]
struct WriterLog {
    functions: Vec<FunctionLog>,
    layer_name: String,
    layers: Vec<LayerLog>,
    /// Failures seen before the kill: real errors, not the crash.
    unexpected: Vec<String>,
}

/// One writer: a sequential stream of mutations, each recorded as in flight before it is sent
/// and as acknowledged when the answer arrives. Stops at the first failure (the kill).
async fn writer(lambda: aws_sdk_lambda::Client, w: u64, acks: Arc<AtomicUsize>, killed: Arc<AtomicBool>) -> WriterLog {
    let mut log = WriterLog { layer_name: format!("pl{w}"), ..Default::default() };
    macro_rules! step {
        ($slot:expr, $call:expr) => {{
            $slot = Ack::InFlight;
            match $call.await {
                Ok(out) => {
                    $slot = Ack::Acked;
                    acks.fetch_add(1, Ordering::SeqCst);
                    out
                }
                Err(err) => {
                    if !killed.load(Ordering::SeqCst) {
                        log.unexpected.push(format!("writer {w}: {err:?}"));
                    }
                    return log;
                }
            }
        }};
    }
    for i in 0.. {
        let name = format!("p{w}-{i}");
        let zip = function_zip(w, i);
        log.functions.push(FunctionLog {
            name: name.clone(),
            zip: zip.clone(),
            code_sha256: None,
            created: Ack::NotSent,
            updated: Ack::NotSent,
            timeout: 10 + (i as i32 % 50),
            description: format!("updated {w} {i}"),
            env: format!("value-{w}-{i}"),
            published: Ack::NotSent,
            version_description: format!("v1 of {w} {i}"),
            alias: Ack::NotSent,
            permission: Ack::NotSent,
            statement_id: format!("sid-{w}-{i}"),
        });
        let k = log.functions.len() - 1;
        let created = step!(
            log.functions[k].created,
            lambda
                .create_function()
                .function_name(&name)
                .runtime(Runtime::Python312)
                .role(ROLE)
                .handler("index.handler")
                .description("created")
                .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
                .send()
        );
        log.functions[k].code_sha256 = created.code_sha256().map(str::to_string);
        // Lambda creates the function before it takes an update: wait as a deploy tool does (part
        // of the update step: a kill meanwhile leaves the update unanswered).
        log.functions[k].updated = Ack::InFlight;
        if let Err(err) = settle(&lambda, &name, |c| c.state() == Some(&aws_sdk_lambda::types::State::Pending)).await {
            if !killed.load(Ordering::SeqCst) {
                log.unexpected.push(format!("writer {w}: {err}"));
            }
            return log;
        }
        let (timeout, description, env) =
            (log.functions[k].timeout, log.functions[k].description.clone(), log.functions[k].env.clone());
        step!(
            log.functions[k].updated,
            lambda
                .update_function_configuration()
                .function_name(&name)
                .timeout(timeout)
                .description(description)
                .environment(Environment::builder().variables("KEY", env).build())
                .send()
        );
        // Lambda applies an update before it publishes: wait as a deploy tool does (part of the
        // publish step: a kill meanwhile leaves the publish unanswered).
        log.functions[k].published = Ack::InFlight;
        if let Err(err) =
            settle(&lambda, &name, |c| c.last_update_status().map(|s| s.as_str()) == Some("InProgress")).await
        {
            if !killed.load(Ordering::SeqCst) {
                log.unexpected.push(format!("writer {w}: {err}"));
            }
            return log;
        }
        let version_description = log.functions[k].version_description.clone();
        let published = step!(
            log.functions[k].published,
            lambda.publish_version().function_name(&name).description(version_description).send()
        );
        if published.version() != Some("1") {
            log.unexpected.push(format!("{name}: first published version is {:?}", published.version()));
        }
        step!(
            log.functions[k].alias,
            lambda.create_alias().function_name(&name).name("live").function_version("1").send()
        );
        let sid = log.functions[k].statement_id.clone();
        step!(
            log.functions[k].permission,
            lambda
                .add_permission()
                .function_name(&name)
                .statement_id(sid)
                .action("lambda:InvokeFunction")
                .principal("s3.amazonaws.com")
                .send()
        );
        let zip = layer_zip(w, i);
        log.layers.push(LayerLog { zip: zip.clone(), ack: Ack::NotSent, version: None, code_sha256: None });
        let l = log.layers.len() - 1;
        let layer_name = log.layer_name.clone();
        let published = step!(
            log.layers[l].ack,
            lambda
                .publish_layer_version()
                .layer_name(layer_name)
                .description(format!("layer {w} {i}"))
                .compatible_runtimes(Runtime::Python312)
                .content(LayerVersionContentInput::builder().zip_file(Blob::new(zip)).build())
                .send()
        );
        log.layers[l].version = Some(published.version());
        log.layers[l].code_sha256 = published.content().and_then(|c| c.code_sha256()).map(str::to_string);
    }
    unreachable!()
}

/// Ask until `busy` no longer holds for the function's configuration, as a deploy tool waits;
/// the error (the server may have been killed meanwhile) is the writer's to judge.
async fn settle(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    busy: impl Fn(&aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput) -> bool,
) -> Result<(), String> {
    loop {
        match lambda.get_function_configuration().function_name(name).send().await {
            Ok(c) if busy(&c) => tokio::time::sleep(Duration::from_millis(25)).await,
            Ok(_) => return Ok(()),
            Err(err) => return Err(format!("{err:?}")),
        }
    }
}

async fn download(url: &str) -> Vec<u8> {
    let response = reqwest::get(url).await.unwrap_or_else(|e| panic!("download {url}: {e}"));
    assert_eq!(response.status().as_u16(), 200, "download {url}");
    response.bytes().await.unwrap().to_vec()
}

fn env_of(
    config: &aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput,
) -> Option<String> {
    config.environment().and_then(|e| e.variables()).and_then(|v| v.get("KEY")).cloned()
}

/// Check one writer's functions and layer against what it was told.
async fn verify_writer(
    lambda: &aws_sdk_lambda::Client,
    log: &WriterLog,
    listed: &[String],
    problems: &mut Vec<String>,
) {
    for f in &log.functions {
        let exists = listed.contains(&f.name);
        match (f.created, exists) {
            (Ack::Acked, false) => {
                problems.push(format!("{}: creation was acknowledged but the function is gone", f.name));
                continue;
            }
            (Ack::NotSent, true) => {
                problems.push(format!("{}: exists but was never created", f.name));
                continue;
            }
            (_, false) => continue,
            (_, true) => {}
        }
        // Code: byte for byte what was uploaded.
        let got = lambda.get_function().function_name(&f.name).send().await.unwrap();
        let location = got.code().and_then(|c| c.location()).expect("Code.Location");
        if download(location).await != f.zip {
            problems.push(format!("{}: downloaded code differs from the upload", f.name));
        }
        let config = lambda.get_function_configuration().function_name(&f.name).send().await.unwrap();
        if f.code_sha256.is_some() && config.code_sha256() != f.code_sha256.as_deref() {
            problems.push(format!(
                "{}: CodeSha256 {:?}, acknowledged {:?}",
                f.name,
                config.code_sha256(),
                f.code_sha256
            ));
        }
        let created_values = (Some(3), Some("created".to_string()), None);
        let updated_values = (Some(f.timeout), Some(f.description.clone()), Some(f.env.clone()));
        let now = (config.timeout(), config.description().map(str::to_string), env_of(&config));
        let ok = match f.updated {
            Ack::Acked => now == updated_values,
            Ack::InFlight => now == updated_values || now == created_values,
            Ack::NotSent => now == created_values,
        };
        if !ok {
            problems.push(format!(
                "{}: configuration {now:?} after update {:?} (update values {updated_values:?})",
                f.name, f.updated
            ));
        }

        let versions = lambda.list_versions_by_function().function_name(&f.name).send().await.unwrap();
        let numbers: Vec<&str> = versions.versions().iter().filter_map(|v| v.version()).collect();
        let has_v1 = match numbers.as_slice() {
            ["$LATEST"] => false,
            ["$LATEST", "1"] => true,
            other => {
                problems.push(format!("{}: versions {other:?}", f.name));
                continue;
            }
        };
        match (f.published, has_v1) {
            (Ack::Acked, false) => problems.push(format!("{}: version 1 was acknowledged but is gone", f.name)),
            (Ack::NotSent, true) => problems.push(format!("{}: version 1 exists but was never published", f.name)),
            _ => {}
        }
        if has_v1 {
            let v1 = lambda.get_function_configuration().function_name(&f.name).qualifier("1").send().await.unwrap();
            let got =
                (v1.timeout(), v1.description().map(str::to_string), env_of(&v1), v1.code_sha256().map(str::to_string));
            let want =
                (Some(f.timeout), Some(f.version_description.clone()), Some(f.env.clone()), f.code_sha256.clone());
            if got != want {
                problems.push(format!("{}: version 1 is {got:?}, published as {want:?}", f.name));
            }
            let code = lambda.get_function().function_name(&f.name).qualifier("1").send().await.unwrap();
            if download(code.code().and_then(|c| c.location()).unwrap()).await != f.zip {
                problems.push(format!("{}: version 1's code differs from the upload", f.name));
            }
        }

        let alias = lambda.get_alias().function_name(&f.name).name("live").send().await;
        match (f.alias, alias) {
            (Ack::Acked, Err(e)) => {
                problems.push(format!("{}: alias was acknowledged but reading it fails: {e:?}", f.name))
            }
            (Ack::NotSent, Ok(_)) => problems.push(format!("{}: alias exists but was never created", f.name)),
            (_, Ok(a)) if a.function_version() != Some("1") => {
                problems.push(format!("{}: alias points to {:?}", f.name, a.function_version()))
            }
            _ => {}
        }

        let policy = lambda.get_policy().function_name(&f.name).send().await;
        let sids: Vec<String> = match &policy {
            Ok(p) => {
                let doc: Value = serde_json::from_str(p.policy().unwrap_or("{}")).unwrap_or(Value::Null);
                doc["Statement"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["Sid"].as_str().map(str::to_string))
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        let has_sid = sids == [f.statement_id.clone()];
        if !sids.is_empty() && !has_sid {
            problems.push(format!("{}: policy statements {sids:?}", f.name));
        }
        match (f.permission, has_sid) {
            (Ack::Acked, false) => {
                problems.push(format!("{}: permission was acknowledged but is gone ({policy:?})", f.name))
            }
            (Ack::NotSent, true) => problems.push(format!("{}: permission exists but was never added", f.name)),
            _ => {}
        }
    }

    // Layer versions: every acknowledged one, with its content; at most the one in flight besides.
    let attempted: Vec<&LayerLog> = log.layers.iter().filter(|l| l.ack != Ack::NotSent).collect();
    if attempted.is_empty() {
        return;
    }
    let listed = match lambda.list_layer_versions().layer_name(&log.layer_name).send().await {
        Ok(out) => out.layer_versions().iter().map(|v| v.version()).collect::<Vec<i64>>(),
        Err(e) => {
            if attempted.iter().any(|l| l.ack == Ack::Acked) {
                problems.push(format!("{}: acknowledged layer versions but listing fails: {e:?}", log.layer_name));
            }
            Vec::new()
        }
    };
    let acked: Vec<&&LayerLog> = attempted.iter().filter(|l| l.ack == Ack::Acked).collect();
    for (n, l) in acked.iter().enumerate() {
        let version = l.version.unwrap();
        if version != n as i64 + 1 {
            problems.push(format!("{}: acknowledged version {} was numbered {version}", log.layer_name, n + 1));
        }
        if !listed.contains(&version) {
            problems.push(format!("{}: acknowledged version {version} is gone", log.layer_name));
            continue;
        }
        let got = lambda.get_layer_version().layer_name(&log.layer_name).version_number(version).send().await.unwrap();
        let content = got.content().unwrap();
        if content.code_sha256() != l.code_sha256.as_deref() {
            problems.push(format!(
                "{}:{version}: CodeSha256 {:?}, acknowledged {:?}",
                log.layer_name,
                content.code_sha256(),
                l.code_sha256
            ));
        }
        if download(content.location().unwrap()).await != l.zip {
            problems.push(format!("{}:{version}: downloaded content differs from the upload", log.layer_name));
        }
    }
    let extra: Vec<i64> = listed.iter().copied().filter(|v| !acked.iter().any(|l| l.version == Some(*v))).collect();
    let in_flight = attempted.iter().find(|l| l.ack == Ack::InFlight);
    match (extra.as_slice(), in_flight) {
        ([], _) => {}
        ([v], Some(l)) if *v == acked.len() as i64 + 1 => {
            let got = lambda.get_layer_version().layer_name(&log.layer_name).version_number(*v).send().await.unwrap();
            if download(got.content().unwrap().location().unwrap()).await != l.zip {
                problems
                    .push(format!("{}:{v}: the in-flight version's content differs from its upload", log.layer_name));
            }
        }
        (other, _) => {
            problems.push(format!("{}: unexpected versions {other:?} (acknowledged {})", log.layer_name, acked.len()))
        }
    }
}

async fn all_function_names(lambda: &aws_sdk_lambda::Client) -> Vec<String> {
    let mut names = Vec::new();
    let mut marker = None;
    loop {
        let page = lambda.list_functions().max_items(50).set_marker(marker).send().await.unwrap();
        names.extend(page.functions().iter().filter_map(|f| f.function_name().map(str::to_string)));
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            return names;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = TempDir::new("nimbus-it-crash");
    let server = Server::start_with_data_dir(dir.path());
    let acks = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(server.lambda_no_retry(CALL_TIMEOUT), w, acks.clone(), killed.clone())))
        .collect();

    let started = Instant::now();
    // A writer that stops early met a real error: kill anyway and report it below.
    while acks.load(Ordering::SeqCst) < KILL_AFTER_ACKS && !writers.iter().any(|w| w.is_finished()) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "writers made no progress: {} acks",
            acks.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Mid-stream: every writer has a request in flight or about to be.
    killed.store(true, Ordering::SeqCst);
    server.kill();
    let mut logs = Vec::new();
    for w in writers {
        logs.push(w.await.unwrap());
    }
    let unexpected: Vec<&String> = logs.iter().flat_map(|l| &l.unexpected).collect();
    assert!(unexpected.is_empty(), "errors before the kill: {unexpected:#?}");
    let in_flight = logs
        .iter()
        .flat_map(|l| {
            l.functions
                .iter()
                .flat_map(|f| [f.created, f.updated, f.published, f.alias, f.permission])
                .chain(l.layers.iter().map(|x| x.ack))
        })
        .filter(|a| *a == Ack::InFlight)
        .count();
    assert_eq!(in_flight, WRITERS as usize, "each writer ends with exactly one unanswered call");

    let server = Server::start_with_data_dir(dir.path());
    let lambda = server.lambda_no_retry(CALL_TIMEOUT);
    let names = all_function_names(&lambda).await;
    let mut problems = Vec::new();
    for log in &logs {
        verify_writer(&lambda, log, &names, &mut problems).await;
    }
    let known: Vec<&String> = logs.iter().flat_map(|l| l.functions.iter().map(|f| &f.name)).collect();
    for name in &names {
        if !known.contains(&name) {
            problems.push(format!("unknown function {name} after restart"));
        }
    }
    let layers = lambda.list_layers().send().await.unwrap();
    for layer in layers.layers() {
        let name = layer.layer_name().unwrap_or_default();
        if !logs.iter().any(|l| l.layer_name == name && l.layers.iter().any(|x| x.ack != Ack::NotSent)) {
            problems.push(format!("unknown layer {name} after restart"));
        }
    }
    assert!(problems.is_empty(), "after kill -9 and restart:\n{}", problems.join("\n"));

    // The restarted server works normally, and numbering continues where it stopped.
    for log in &logs {
        if let Some(f) = log.functions.iter().find(|f| f.published == Ack::Acked) {
            lambda.update_function_configuration().function_name(&f.name).timeout(99).send().await.unwrap();
            wait_updated(&lambda, &f.name).await;
            let v = lambda.publish_version().function_name(&f.name).send().await.unwrap();
            assert_eq!(v.version(), Some("2"), "{}", f.name);
            assert_eq!(v.timeout(), Some(99));
        }
        if log.layers.iter().any(|l| l.ack != Ack::NotSent) {
            let listed = lambda.list_layer_versions().layer_name(&log.layer_name).send().await.unwrap();
            let newest = listed.layer_versions().iter().map(|v| v.version()).max().unwrap_or(0);
            let acked = log.layers.iter().filter(|l| l.ack == Ack::Acked).count() as i64;
            let published = lambda
                .publish_layer_version()
                .layer_name(&log.layer_name)
                .content(LayerVersionContentInput::builder().zip_file(Blob::new(layer_zip(99, 99))).build())
                .send()
                .await
                .unwrap();
            assert_eq!(published.version(), newest + 1, "{}", log.layer_name);
            assert!(published.version() > acked, "{}: a layer version number was reused", log.layer_name);
        }
    }
    create_python_function(&lambda, "after-restart").await;
    lambda.update_function_configuration().function_name("after-restart").timeout(42).send().await.unwrap();
    let c = lambda.get_function_configuration().function_name("after-restart").send().await.unwrap();
    assert_eq!(c.timeout(), Some(42));
    server.kill();
}

/// Reads whose answers must be identical across a restart (endpoint normalized).
async fn snapshot(server: &Server) -> Vec<(String, u16, String)> {
    let mut snap = lambda_snapshot(server, &["keep", "gone", "never"], &["keep-layer", "gone-layer"]).await;
    // GetLayerVersionByArn and GetAccountSettings are reads too.
    let arn = path_escape(&format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:keep-layer:1"));
    let r = server
        .raw_with("GET", &format!("/2018-10-31/layers?find=LayerVersion&Arn={arn}"), &[], vec![], CALL_TIMEOUT)
        .await
        .unwrap();
    snap.push((
        "GetLayerVersionByArn keep-layer:1".into(),
        r.status,
        r.text().replace(&server.endpoint(), "{endpoint}"),
    ));
    snap
}

#[tokio::test]
async fn restart_keeps_values_and_numbering() {
    let dir = TempDir::new("nimbus-it-restart");
    let server = Server::start_with_data_dir(dir.path());
    let lambda = server.lambda();
    let zip1 = function_zip(7, 1);
    let zip2 = function_zip(7, 2);
    lambda
        .create_function()
        .function_name("keep")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .timeout(7)
        .memory_size(256)
        .description("kept")
        .environment(Environment::builder().variables("AA", "1").variables("BB", "two").build())
        .tags("team", "core")
        .code(FunctionCode::builder().zip_file(Blob::new(zip1.clone())).build())
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "keep").await;
    lambda.update_function_configuration().function_name("keep").timeout(9).send().await.unwrap();
    wait_updated(&lambda, "keep").await;
    assert_eq!(
        lambda.publish_version().function_name("keep").description("one").send().await.unwrap().version(),
        Some("1")
    );
    lambda.update_function_configuration().function_name("keep").timeout(11).send().await.unwrap();
    wait_updated(&lambda, "keep").await;
    assert_eq!(lambda.publish_version().function_name("keep").send().await.unwrap().version(), Some("2"));
    lambda.update_function_code().function_name("keep").zip_file(Blob::new(zip2.clone())).send().await.unwrap();
    wait_updated(&lambda, "keep").await;
    assert_eq!(lambda.publish_version().function_name("keep").send().await.unwrap().version(), Some("3"));
    lambda.delete_function().function_name("keep").qualifier("3").send().await.unwrap();
    lambda
        .create_alias()
        .function_name("keep")
        .name("live")
        .function_version("1")
        .description("the live one")
        .routing_config(AliasRoutingConfiguration::builder().additional_version_weights("2", 0.3).build())
        .send()
        .await
        .unwrap();
    lambda.create_alias().function_name("keep").name("old").function_version("2").send().await.unwrap();
    lambda
        .add_permission()
        .function_name("keep")
        .statement_id("s3")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn("arn:aws:s3:::bucket")
        .send()
        .await
        .unwrap();
    lambda
        .add_permission()
        .function_name("keep")
        .qualifier("live")
        .statement_id("sns")
        .action("lambda:InvokeFunction")
        .principal("sns.amazonaws.com")
        .send()
        .await
        .unwrap();
    lambda
        .tag_resource()
        .resource(format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:keep"))
        .tags("env", "test")
        .send()
        .await
        .unwrap();
    let layer1 = layer_zip(7, 1);
    let l1 = lambda
        .publish_layer_version()
        .layer_name("keep-layer")
        .description("first")
        .compatible_runtimes(Runtime::Python312)
        .license_info("MIT")
        .content(LayerVersionContentInput::builder().zip_file(Blob::new(layer1.clone())).build())
        .send()
        .await
        .unwrap();
    assert_eq!(l1.version(), 1);
    let l2 = lambda
        .publish_layer_version()
        .layer_name("keep-layer")
        .content(LayerVersionContentInput::builder().zip_file(Blob::new(layer_zip(7, 2))).build())
        .send()
        .await
        .unwrap();
    assert_eq!(l2.version(), 2);
    lambda.delete_layer_version().layer_name("keep-layer").version_number(2).send().await.unwrap();
    lambda
        .add_layer_version_permission()
        .layer_name("keep-layer")
        .version_number(1)
        .statement_id("everyone")
        .action("lambda:GetLayerVersion")
        .principal("*")
        .send()
        .await
        .unwrap();
    // A function and a layer that come and go leave nothing behind.
    create_python_function(&lambda, "gone").await;
    lambda.publish_version().function_name("gone").send().await.unwrap();
    lambda.delete_function().function_name("gone").send().await.unwrap();
    lambda
        .publish_layer_version()
        .layer_name("gone-layer")
        .content(LayerVersionContentInput::builder().zip_file(Blob::new(layer_zip(7, 3))).build())
        .send()
        .await
        .unwrap();
    lambda.delete_layer_version().layer_name("gone-layer").version_number(1).send().await.unwrap();

    let before = snapshot(&server).await;
    server.kill();

    for round in 0..2 {
        let server = Server::start_with_data_dir(dir.path());
        let after = snapshot(&server).await;
        let diff = snapshot_diff(&before, &after);
        assert!(diff.is_empty(), "restart {round} changed what the API shows:\n{}", diff.join("\n"));
        server.kill();
    }

    let server = Server::start_with_data_dir(dir.path());
    let lambda = server.lambda();
    // Code survives byte for byte, per version.
    let latest = lambda.get_function().function_name("keep").send().await.unwrap();
    assert_eq!(download(latest.code().unwrap().location().unwrap()).await, zip2);
    let v1 = lambda.get_function().function_name("keep").qualifier("1").send().await.unwrap();
    assert_eq!(download(v1.code().unwrap().location().unwrap()).await, zip1);
    assert_eq!(v1.configuration().unwrap().timeout(), Some(9));
    assert_eq!(v1.configuration().unwrap().description(), Some("one"));
    let layer = lambda.get_layer_version().layer_name("keep-layer").version_number(1).send().await.unwrap();
    assert_eq!(download(layer.content().unwrap().location().unwrap()).await, layer1);

    // Numbering continues: deleted numbers are not reused across the restart.
    lambda.update_function_configuration().function_name("keep").timeout(13).send().await.unwrap();
    wait_updated(&lambda, "keep").await;
    let v4 = lambda.publish_version().function_name("keep").send().await.unwrap();
    assert_eq!(v4.version(), Some("4"));
    let l3 = lambda
        .publish_layer_version()
        .layer_name("keep-layer")
        .content(LayerVersionContentInput::builder().zip_file(Blob::new(layer_zip(7, 4))).build())
        .send()
        .await
        .unwrap();
    assert_eq!(l3.version(), 3);
    let g2 = lambda
        .publish_layer_version()
        .layer_name("gone-layer")
        .content(LayerVersionContentInput::builder().zip_file(Blob::new(layer_zip(7, 5))).build())
        .send()
        .await
        .unwrap();
    assert_eq!(g2.version(), 2, "a layer whose versions were all deleted keeps counting");
    // A deleted function starts over when created again.
    create_python_function(&lambda, "gone").await;
    let versions = lambda.list_versions_by_function().function_name("gone").send().await.unwrap();
    assert_eq!(versions.versions().len(), 1);
    assert_eq!(lambda.publish_version().function_name("gone").send().await.unwrap().version(), Some("1"));
    let err = lambda
        .add_permission()
        .function_name("keep")
        .statement_id("s3")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(aws_sdk_lambda::error::ProvideErrorMetadata::code(&err), Some("ResourceConflictException"), "{err:?}");
    server.kill();

    // And the changes made after the restart are durable too.
    let server = Server::start_with_data_dir(dir.path());
    let lambda = server.lambda();
    let versions = lambda.list_versions_by_function().function_name("keep").send().await.unwrap();
    let numbers: Vec<&str> = versions.versions().iter().filter_map(|v| v.version()).collect();
    assert_eq!(numbers, ["$LATEST", "1", "2", "4"]);
    let listed = lambda.list_layer_versions().layer_name("keep-layer").send().await.unwrap();
    let mut numbers: Vec<i64> = listed.layer_versions().iter().map(|v| v.version()).collect();
    numbers.sort();
    assert_eq!(numbers, [1, 3]);
}

/// ECR: repositories with their settings, tags and policies survive `kill -9`; a deleted one
/// stays deleted.
#[tokio::test]
async fn ecr_repositories_survive_kill_9() {
    use aws_sdk_ecr::types::{ImageTagMutability, Tag};
    let dir = TempDir::new("nimbus-it-ecr-persist");
    let server = Server::start_with_data_dir(dir.path());
    let ecr = crate::ecr::ecr(&server);
    let lifecycle = r#"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":5},"action":{"type":"expire"}}]}"#;
    let created = ecr
        .create_repository()
        .repository_name("kept/app")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .tags(Tag::builder().key("team").value("core").build().unwrap())
        .send()
        .await
        .unwrap();
    let before = created.repository().unwrap().clone();
    ecr.put_lifecycle_policy().repository_name("kept/app").lifecycle_policy_text(lifecycle).send().await.unwrap();
    ecr.create_repository().repository_name("dropped").send().await.unwrap();
    ecr.delete_repository().repository_name("dropped").send().await.unwrap();
    server.kill();

    let server = Server::start_with_data_dir(dir.path());
    let ecr = crate::ecr::ecr(&server);
    let after = ecr.describe_repositories().send().await.unwrap();
    assert_eq!(after.repositories(), [before.clone()]);
    let policy = ecr.get_lifecycle_policy().repository_name("kept/app").send().await.unwrap();
    assert_eq!(policy.lifecycle_policy_text(), Some(lifecycle));
    let tags = ecr.list_tags_for_resource().resource_arn(before.repository_arn().unwrap()).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    // The restarted server keeps working.
    ecr.create_repository().repository_name("dropped").send().await.unwrap();
}
