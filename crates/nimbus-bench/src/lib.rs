//! Shared pieces of nimbus's benchmark programs: starting the real `nimbus` binary, a minimal
//! HTTP/1.1 keep-alive client (no hyper client, so building the benchmarks does not change the
//! features the server is built with), and percentile arithmetic.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub type Res<T> = Result<T, String>;

pub fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// The command line
// ---------------------------------------------------------------------------------------------

/// A benchmark's command line: `--nimbus PATH` (default `target/release/nimbus`) and the
/// options it names, each `--name VALUE`. Anything else prints the usage and exits 2.
pub struct Args {
    pub nimbus: String,
    options: Vec<(&'static str, String)>,
}

impl Args {
    /// `options`: each option's name (without `--`) and the placeholder its usage line shows.
    pub fn parse(program: &str, options: &[(&'static str, &str)]) -> Args {
        let usage = || {
            let extra: String = options.iter().map(|(name, value)| format!(" [--{name} {value}]")).collect();
            eprintln!("usage: {program} [--nimbus PATH]{extra}");
            std::process::exit(2);
        };
        let mut parsed = Args { nimbus: String::from("target/release/nimbus"), options: Vec::new() };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let Some(name) = arg.strip_prefix("--") else { usage() };
            let Some(value) = args.next() else { usage() };
            match options.iter().find(|(known, _)| *known == name) {
                Some((known, _)) => parsed.options.push((known, value)),
                None if name == "nimbus" => parsed.nimbus = value,
                None => usage(),
            }
        }
        parsed
    }

    /// The value given for `--name`, if any (the last one wins).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.options.iter().rev().find(|(known, _)| *known == name).map(|(_, v)| v.as_str())
    }
}

/// Run a benchmark's async body on a multi-threaded runtime; an error is printed as
/// `program: error` and exits 1.
pub fn block_on<T>(program: &str, body: impl std::future::Future<Output = Res<T>>) -> T {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(body) {
        Ok(value) => value,
        Err(err) => {
            eprintln!("{program}: {err}");
            std::process::exit(1);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The nimbus process
// ---------------------------------------------------------------------------------------------

pub struct Server {
    child: Child,
    // Held open so nimbus never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    pub port: u16,
}

impl Server {
    pub async fn start(nimbus: &str) -> Res<Server> {
        Ok(Server::start_timed(nimbus).await?.0)
    }

    /// Spawn nimbus on a free port; the duration runs from just before the spawn to the first
    /// successful ListFunctions answer (health is polled first, as fast as possible).
    pub async fn start_timed(nimbus: &str) -> Res<(Server, Duration)> {
        Server::start_timed_with(nimbus, &[]).await
    }

    /// [`Server::start_timed`] with extra arguments (e.g. `--data-dir`).
    pub async fn start_timed_with(nimbus: &str, args: &[&str]) -> Res<(Server, Duration)> {
        let started = Instant::now();
        let mut child = Command::new(nimbus)
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning {nimbus}: {e}"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let read = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let n = reader.read_line(&mut line).map_err(|e| e.to_string())?;
            Ok::<_, String>((reader, line, n))
        })
        .await
        .map_err(|e| e.to_string());
        let (stdout, line, n) = match read.and_then(|r| r) {
            Ok(v) => v,
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("reading nimbus's first line: {err}"));
            }
        };
        let port = line
            .trim()
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .filter(|_| n > 0 && line.contains("listening on"));
        let Some(port) = port else {
            let _ = child.kill();
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            return Err(format!("nimbus did not print its listening line (got {line:?}, {status})"));
        };
        let server = Server { child, _stdout: stdout, port };

        let deadline = started + Duration::from_secs(10);
        let mut conn = loop {
            if let Ok(mut conn) = Conn::connect(port).await {
                if let Ok((200, _)) = conn.request("GET", "/_nimbus/health", b"").await {
                    break conn;
                }
            }
            if Instant::now() > deadline {
                return Err("nimbus never answered /_nimbus/health".into());
            }
            tokio::task::yield_now().await;
        };
        loop {
            match conn.request("GET", "/2015-03-31/functions/", b"").await {
                Ok((200, _)) => break,
                Ok((status, body)) if Instant::now() > deadline => {
                    return Err(format!("ListFunctions answered {status}: {}", String::from_utf8_lossy(&body)))
                }
                Err(err) if Instant::now() > deadline => return Err(format!("ListFunctions: {err}")),
                Err(_) => conn = Conn::connect(port).await?,
                Ok(_) => {}
            }
        }
        let elapsed = started.elapsed();
        Ok((server, elapsed))
    }

    pub fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()
    }

    pub fn rss_mib(&self) -> Res<f64> {
        self.status_kib("VmRSS:")
            .map(|kib| kib as f64 / 1024.0)
            .ok_or_else(|| format!("no VmRSS in /proc/{}/status", self.child.id()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 keep-alive client (Content-Length and chunked responses)
// ---------------------------------------------------------------------------------------------

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    port: u16,
    /// The last answer said `Connection: close` (moto's server does on every answer): the next
    /// request opens a new connection.
    closed: bool,
}

impl Conn {
    pub async fn connect(port: u16) -> Res<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Conn { stream, buf: Vec::with_capacity(64 * 1024), port, closed: false })
    }

    /// One request; returns the status and the body. The connection stays open.
    pub async fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Res<(u16, Vec<u8>)> {
        self.request_with(method, path, &[("Content-Type", "application/json")], body).await
    }

    /// One request with the given headers (Host and Content-Length are added).
    pub async fn request_with(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Res<(u16, Vec<u8>)> {
        self.exchange(method, path, headers, body).await.map(|(status, body, _)| (status, body))
    }

    /// One bodiless request, timed: status, time to the first byte of the body (for a chunked
    /// answer, the first chunk's data), time to the whole body, and the body.
    pub async fn request_timed(&mut self, method: &str, path: &str) -> Res<(u16, Duration, Duration, Vec<u8>)> {
        let started = Instant::now();
        let (status, body, first) = self.exchange(method, path, &[], b"").await?;
        let total = started.elapsed();
        Ok((status, first.map_or(total, |t| t.duration_since(started)), total, body))
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Res<(u16, Vec<u8>, Option<Instant>)> {
        if self.closed {
            *self = Conn::connect(self.port).await?;
        }
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n", self.port, body.len());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut req = Vec::with_capacity(head.len() + body.len());
        req.extend_from_slice(head.as_bytes());
        req.extend_from_slice(body);
        self.stream.write_all(&req).await.map_err(|e| format!("write: {e}"))?;

        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| "non-UTF-8 response head".to_string())?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line in {head:?}"))?;
        let (mut length, mut chunked) = (None, false);
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse::<usize>().ok();
                } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
                    self.closed = true;
                }
            }
        }
        self.buf.drain(..head_end);
        if chunked {
            let (body, first) = self.read_chunks().await?;
            return Ok((status, body, first));
        }
        let length = length.unwrap_or(0);
        while self.buf.len() < length {
            self.fill().await?;
        }
        Ok((status, self.buf.drain(..length).collect(), None))
    }

    pub async fn read_chunked(&mut self) -> Res<Vec<u8>> {
        self.read_chunks().await.map(|(body, _)| body)
    }

    /// A chunked body, and when its first data arrived.
    async fn read_chunks(&mut self) -> Res<(Vec<u8>, Option<Instant>)> {
        let mut body = Vec::new();
        let mut first = None;
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf, b"\r\n") {
                    break i;
                }
                self.fill().await?;
            };
            let size_text = std::str::from_utf8(&self.buf[..line_end]).unwrap_or("");
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers (none expected) end with an empty line.
                loop {
                    if let Some(i) = find(&self.buf, b"\r\n") {
                        let empty = i == 0;
                        self.buf.drain(..i + 2);
                        if empty {
                            return Ok((body, first));
                        }
                    } else {
                        self.fill().await?;
                    }
                }
            }
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            first.get_or_insert_with(Instant::now);
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    pub async fn fill(&mut self) -> Res<()> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed by nimbus".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
