//! Start a real nimbus on an ephemeral port and build real AWS SDK clients for it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};

pub const ACCOUNT: &str = "000000000000";
pub const REGION: &str = "us-east-1";

pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    pub fn start_with_data_dir(dir: &Path) -> Server {
        Self::start_with(&["--data-dir", dir.to_str().unwrap()])
    }

    pub fn start_with(args: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_nimbus"));
        command.args(["--port", "0", "--log", "warn"]).args(args);
        Self::start_command(command)
    }

    /// Start nimbus from a prepared command (e.g. a shell that sets limits and `exec`s it); it
    /// must print nimbus's banner on stdout.
    pub fn start_command(mut command: Command) -> Server {
        // The AWS SDK functions import is installed once into a cache shared by the tests.
        if !command.get_envs().any(|(k, _)| k == "NIMBUS_CACHE_DIR") {
            command.env("NIMBUS_CACHE_DIR", shared_cache_dir());
        }
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start nimbus");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read nimbus banner");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected banner: {line:?}"));
        Server { child, port }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kill the process the hard way (`kill -9`), as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        self.lambda_as("AKIDEXAMPLE", REGION)
    }

    pub fn lambda_as(&self, access_key: &str, region: &str) -> aws_sdk_lambda::Client {
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new(access_key, "secret", None, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        let config = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_sdk_iam::config::Region::new(REGION))
            .credentials_provider(aws_sdk_iam::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_iam::Client::from_conf(config)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_sdk_dynamodb::config::Region::new(REGION))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            ))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// An aws-sdk-s3 client (path style is what the SDK picks for an IP endpoint).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_sdk_s3::config::Region::new(REGION))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn sts_as(&self, access_key: &str, secret: &str, token: Option<String>) -> aws_sdk_sts::Client {
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(aws_sdk_sts::config::Region::new(REGION))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(access_key, secret, token, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }
}

impl Drop for Server {
    /// Stop gracefully (SIGTERM) so nimbus removes its scratch folders; kill if it lingers.
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Nimbus's cache folder for the tests (`NIMBUS_CACHE_DIR` if set, else under target/): the SDK
/// runtimes include is installed there once, not into the user's cache.
pub fn shared_cache_dir() -> std::path::PathBuf {
    std::env::var_os("NIMBUS_CACHE_DIR")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("nimbus-cache"))
}

pub const ROLE: &str = "arn:aws:iam::000000000000:role/lambda-role";

/// A zip with one Python handler file.
pub fn python_zip(body: &str) -> Vec<u8> {
    zip_of(&[("index.py", body.as_bytes())])
}

pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        for (name, data) in entries {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
    }
    buf.into_inner()
}

pub async fn create_python_function(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> aws_sdk_lambda::operation::create_function::CreateFunctionOutput {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{FunctionCode, Runtime};
    let out = lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(python_zip("def handler(event, context):\n    return event\n")))
                .build(),
        )
        .send()
        .await
        .expect("create function");
    // As deploy tools do: AWS refuses invocations and updates until the function is Active.
    wait_updated(lambda, name).await;
    out
}

// ---------------------------------------------------------------------------------------------
// Helpers for the persistence and bad-input suites.

/// A raw HTTP answer: status, headers (lower-case names), body bytes.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Server {
    /// A raw request with a deadline and caller-chosen headers (the Lambda-signed `authorization`
    /// header is added unless given). `Err` on a transport failure or when the deadline passes:
    /// the server hung or dropped the connection.
    pub async fn raw_with(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        timeout: std::time::Duration,
    ) -> Result<RawResponse, String> {
        let client = reqwest::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
        let mut request = client.request(
            method.parse().map_err(|e| format!("bad method {method:?}: {e}"))?,
            format!("{}{}", self.endpoint(), path_and_query),
        );
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization")) {
            request = request.header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0",
            );
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.body(body).send().await.map_err(|e| format!("transport error: {e:?}"))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let body = response.bytes().await.map_err(|e| format!("reading body: {e:?}"))?.to_vec();
        Ok(RawResponse { status, headers, body })
    }

    /// An aws-sdk-lambda client that never retries (so a killed server means a failed call, not
    /// a call silently replayed against its successor) and gives up after `timeout`.
    pub fn lambda_no_retry(&self, timeout: std::time::Duration) -> aws_sdk_lambda::Client {
        use aws_sdk_lambda::config::retry::RetryConfig;
        use aws_sdk_lambda::config::timeout::TimeoutConfig;
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().operation_timeout(timeout).build())
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }
}

/// A fresh, empty directory under the system temp directory (removed by [`TempDir`]'s drop).
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "{prefix}-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic incompressible bytes (xorshift64*), so archives differ and have real size.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Percent-encode one path segment (everything but unreserved characters).
pub fn path_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Lambda state as its read APIs show it, for before/after comparisons: one entry per read
/// (label, status, body with this server's endpoint replaced by `{endpoint}`). Reads: every
/// function and version (`ListFunctions` ALL), and for each named function its
/// `GetFunction` (each listed version too), aliases, policies (unqualified and per version and
/// alias), tags; every layer (`ListLayers`) and for each named layer its versions, each version
/// and its policy.
pub async fn lambda_snapshot(server: &Server, functions: &[&str], layers: &[&str]) -> Vec<(String, u16, String)> {
    let timeout = std::time::Duration::from_secs(20);
    let endpoint = server.endpoint();
    let mut out = Vec::new();
    let read = move |label: String, path: String| {
        let endpoint = endpoint.clone();
        async move {
            let r = server
                .raw_with("GET", &path, &[], Vec::new(), timeout)
                .await
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            (label, r.status, r.text().replace(&endpoint, "{endpoint}"))
        }
    };
    out.push(
        read("ListFunctions ALL".into(), "/2015-03-31/functions/?FunctionVersion=ALL&MaxItems=10000".into()).await,
    );
    for f in functions {
        let fe = path_escape(f);
        let versions =
            read(format!("ListVersionsByFunction {f}"), format!("/2015-03-31/functions/{fe}/versions?MaxItems=10000"))
                .await;
        let mut qualifiers: Vec<String> = Vec::new();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&versions.2) {
            for item in v["Versions"].as_array().into_iter().flatten() {
                if let Some(q) = item["Version"].as_str() {
                    qualifiers.push(q.to_string());
                }
            }
        }
        out.push(versions);
        let aliases =
            read(format!("ListAliases {f}"), format!("/2015-03-31/functions/{fe}/aliases?MaxItems=10000")).await;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&aliases.2) {
            for item in v["Aliases"].as_array().into_iter().flatten() {
                if let Some(q) = item["Name"].as_str() {
                    qualifiers.push(q.to_string());
                }
            }
        }
        out.push(aliases);
        out.push(read(format!("GetFunction {f}"), format!("/2015-03-31/functions/{fe}")).await);
        out.push(read(format!("GetPolicy {f}"), format!("/2015-03-31/functions/{fe}/policy")).await);
        for q in &qualifiers {
            let qe = path_escape(q);
            out.push(read(format!("GetFunction {f}:{q}"), format!("/2015-03-31/functions/{fe}?Qualifier={qe}")).await);
            out.push(
                read(format!("GetPolicy {f}:{q}"), format!("/2015-03-31/functions/{fe}/policy?Qualifier={qe}")).await,
            );
        }
        let arn = path_escape(&format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{f}"));
        out.push(read(format!("ListTags {f}"), format!("/2017-03-31/tags/{arn}")).await);
    }
    out.push(read("ListLayers".into(), "/2018-10-31/layers?MaxItems=50".into()).await);
    for l in layers {
        let le = path_escape(l);
        let versions =
            read(format!("ListLayerVersions {l}"), format!("/2018-10-31/layers/{le}/versions?MaxItems=50")).await;
        let mut numbers = Vec::new();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&versions.2) {
            for item in v["LayerVersions"].as_array().into_iter().flatten() {
                if let Some(n) = item["Version"].as_i64() {
                    numbers.push(n);
                }
            }
        }
        out.push(versions);
        for n in numbers {
            out.push(read(format!("GetLayerVersion {l}:{n}"), format!("/2018-10-31/layers/{le}/versions/{n}")).await);
            out.push(
                read(format!("GetLayerVersionPolicy {l}:{n}"), format!("/2018-10-31/layers/{le}/versions/{n}/policy"))
                    .await,
            );
        }
    }
    out
}

/// Compare two snapshots; the differences, one line each (empty when equal).
pub fn snapshot_diff(before: &[(String, u16, String)], after: &[(String, u16, String)]) -> Vec<String> {
    let mut diffs = Vec::new();
    for (label, status, body) in before {
        match after.iter().find(|(l, _, _)| l == label) {
            None => diffs.push(format!("{label}: no longer read (was {status} {body})")),
            Some((_, s, b)) if s != status || b != body => {
                // Show where the bodies part, with some context.
                let at = body.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
                let window = |t: &str| {
                    let mut start = at.saturating_sub(160);
                    while !t.is_char_boundary(start) {
                        start -= 1;
                    }
                    let mut end = (at + 160).min(t.len());
                    while !t.is_char_boundary(end) {
                        end += 1;
                    }
                    format!("…{}…", &t[start..end])
                };
                diffs.push(format!("{label}: was {status} {}\n      now {s} {}", window(body), window(b)))
            }
            Some(_) => {}
        }
    }
    for (label, status, body) in after {
        if !before.iter().any(|(l, _, _)| l == label) {
            diffs.push(format!("{label}: new read {status} {body}"));
        }
    }
    diffs
}

/// A zip holding one executable file (a `provided.*` bootstrap).
pub fn executable_zip(name: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        w.start_file(name, options).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap();
    }
    buf.into_inner()
}

/// Create a function from a zip, with a runtime, handler, timeout and environment variables.
pub async fn create_function_with(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    runtime: aws_sdk_lambda::types::Runtime,
    handler: &str,
    zip: Vec<u8>,
    timeout: i32,
    variables: &[(&str, &str)],
) {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{Environment, FunctionCode};
    let mut environment = Environment::builder();
    for (key, value) in variables {
        environment = environment.variables(*key, *value);
    }
    let mut create = lambda
        .create_function()
        .function_name(name)
        .runtime(runtime)
        .handler(handler)
        .role(ROLE)
        .timeout(timeout)
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build());
    if !variables.is_empty() {
        create = create.environment(environment.build());
    }
    create.send().await.expect("create function");
    wait_updated(lambda, name).await;
}

/// Invoke synchronously; the function error (if any) and the payload as JSON.
pub async fn invoke_json(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    payload: &str,
) -> (Option<String>, serde_json::Value) {
    let out = lambda
        .invoke()
        .function_name(name)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload))
        .send()
        .await
        .unwrap();
    let body = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    (out.function_error().map(str::to_string), body)
}

/// Wait until Lambda has created `function` (`State` no longer `Pending`) and applied its last
/// update (`LastUpdateStatus` no longer `InProgress`), as a deploy tool does before invoking or
/// updating it again: AWS refuses both meanwhile.
pub async fn wait_updated(lambda: &aws_sdk_lambda::Client, function: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let config = lambda.get_function_configuration().function_name(function).send().await.unwrap();
        let pending = config.state() == Some(&aws_sdk_lambda::types::State::Pending);
        if !pending && config.last_update_status().map(|s| s.as_str()) != Some("InProgress") {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{function} still pending or updating after 60 s");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}
