//! One execution environment: a runtime process in its own process group, its own Runtime API
//! server, its own scratch folder, and the output it writes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nimbus_core::clock::Clock;
use nimbus_core::logs::{LogEvent, LogSink};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use super::runtime_api::{self, InitError, Invocation, RuntimeApiHandle, RuntimeReply};
use super::runtimes::Launch;

/// How long a runtime may take to initialise before the invocation fails (AWS: 10 s).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Output lines held for one invocation; beyond this a function flooding stdout is truncated.
const MAX_PENDING_LINES: usize = 10_000;
/// CloudWatch Logs' event size limit: longer lines become several events, as on AWS.
const MAX_LINE_BYTES: usize = 256 * 1024;
/// Output bytes held for one invocation; the rest is read (so the function never blocks on a
/// full pipe) and dropped, with a marker.
pub const MAX_INVOCATION_LOG_BYTES: usize = 4 * 1024 * 1024;

/// What the runtime wrote since the last drain, bounded in lines and bytes.
#[derive(Default)]
struct Pending {
    lines: Vec<String>,
    bytes: usize,
    truncated: bool,
}

/// Everything needed to start an environment.
#[derive(Debug, Clone)]
pub struct Spec {
    pub launch: Launch,
    pub task_dir: PathBuf,
    pub opt_dir: PathBuf,
    /// The environment's own folder (holds `tmp/`).
    pub env_dir: PathBuf,
    pub variables: Vec<(String, String)>,
    pub memory_mb: u32,
    /// Node takes a heap size flag; other runtimes get an address-space limit.
    pub node: bool,
    /// The runtime is nimbus's bundled bootstrap (Python, Node.js), which sends a multi-line
    /// record as one line with carriage returns for its line breaks.
    pub bundled: bool,
    /// Where the function's output goes as it is written (CloudWatch Logs).
    pub log: Option<LiveLog>,
}

/// The log stream an environment writes to: each line becomes its own event, stamped when it
/// was written and readable at once, as Lambda's log agent does it.
#[derive(Clone)]
pub struct LiveLog {
    pub sink: Arc<dyn LogSink>,
    pub account: String,
    pub region: String,
    pub group: String,
    pub stream: String,
    pub clock: Clock,
}

impl std::fmt::Debug for LiveLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LiveLog({} {})", self.group, self.stream)
    }
}

impl LiveLog {
    /// Store lines (without their newline) as events, each message ending in `\n` as on AWS.
    pub fn put(&self, lines: impl IntoIterator<Item = (i64, String)>) {
        let events: Vec<LogEvent> =
            lines.into_iter().map(|(timestamp, line)| LogEvent { timestamp, message: line + "\n" }).collect();
        self.sink.put(&self.account, &self.region, &self.group, &self.stream, events);
    }
}

/// Why an invocation did not produce a runtime reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Init(InitError),
    /// The process exited (status text as AWS prints it, e.g. `exit status 1`, `signal: killed`).
    Exited(String),
    Timeout,
    /// The runtime did not finish its init phase within [`INIT_TIMEOUT`].
    InitTimeout,
    /// Resident memory went past the function's memory size; the runtime was killed.
    OutOfMemory,
}

pub struct Environment {
    pub id: String,
    pub log_stream: String,
    child: Child,
    pgid: Option<i32>,
    api: RuntimeApiHandle,
    output: Arc<parking_lot::Mutex<Pending>>,
    initialized: bool,
    pub init_duration: Option<Duration>,
    pub last_used: Instant,
    pub invocations: u64,
    pub command_line: String,
    pub dir: PathBuf,
    memory_mb: u32,
    /// Provisioned concurrency: kept warm, never reaped for idleness.
    pub pinned: bool,
    /// The code and layer folders it runs from.
    pub code_dirs: Vec<PathBuf>,
    /// A cold start's init phase, run before its first invocation is handed over.
    pub init_outcome: Option<Result<(), Failure>>,
}

/// How an environment's process tree is contained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// The runtime is PID 1 of its own PID namespace (`unshare --pid`), under a launcher that
    /// dies with nimbus (`setpriv --pdeathsig`): the function cannot signal nimbus or its own
    /// supervisor, and when the namespace's first process dies the kernel kills every process
    /// in it — setsid'd, double-forked grandchildren included — on timeout, reap, delete or
    /// nimbus's own death.
    PidNamespace { setpriv: PathBuf, unshare: PathBuf },
    /// A process group of its own, killed whole; a detached grandchild can escape it.
    ProcessGroup,
}

impl Isolation {
    /// The strongest containment this host allows, found by trying it once.
    pub fn detect() -> Isolation {
        if std::env::var_os("NIMBUS_LAMBDA_ISOLATION").is_some_and(|v| v == "process-group") {
            return Isolation::ProcessGroup;
        }
        let find = |name: &str| {
            ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].iter().map(|d| Path::new(d).join(name)).find(|p| p.exists())
        };
        let (Some(setpriv), Some(unshare)) = (find("setpriv"), find("unshare")) else {
            return Isolation::ProcessGroup;
        };
        let works = std::process::Command::new(&setpriv)
            .args(["--pdeathsig", "KILL", "--"])
            .arg(&unshare)
            .args(["--pid", "--fork", "--kill-child=SIGKILL", "--", "/bin/sh", "-c", "test $$ = 1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if works {
            Isolation::PidNamespace { setpriv, unshare }
        } else {
            Isolation::ProcessGroup
        }
    }

    /// What `/_nimbus/health` says.
    pub fn describe(&self) -> &'static str {
        match self {
            Isolation::PidNamespace { .. } => "pid-namespace",
            Isolation::ProcessGroup => "process-group",
        }
    }

    /// The command that runs `program args…` contained this way.
    fn command(&self, program: &Path, args: &[std::ffi::OsString]) -> Command {
        match self {
            Isolation::PidNamespace { setpriv, unshare } => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(unshare);
                c.args(["--pid", "--fork", "--kill-child=SIGKILL", "--"]).arg(program).args(args);
                c
            }
            Isolation::ProcessGroup => {
                let mut c = Command::new(program);
                c.args(args);
                c
            }
        }
    }
}

impl Environment {
    pub async fn start(id: String, log_stream: String, spec: &Spec) -> std::io::Result<Environment> {
        Self::start_isolated(id, log_stream, spec, &Isolation::ProcessGroup).await
    }

    pub async fn start_isolated(
        id: String,
        log_stream: String,
        spec: &Spec,
        isolation: &Isolation,
    ) -> std::io::Result<Environment> {
        let api = runtime_api::start().await?;
        let tmp = spec.env_dir.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let mut command = if spec.node {
            let heap = (u64::from(spec.memory_mb) * 9 / 10).max(64);
            let flag: std::ffi::OsString = format!("--max-old-space-size={heap}").into();
            let mut args: Vec<std::ffi::OsString> = spec.launch.args.iter().map(Into::into).collect();
            // The heap flag follows the interpreter: first, or after it under a wrapper.
            args.insert(usize::from(spec.launch.wrapper && !args.is_empty()), flag);
            isolation.command(&spec.launch.program, &args)
        } else {
            // Bound the address space (memory size plus room for the interpreter's mappings).
            let limit_kb = (u64::from(spec.memory_mb) * 2 + 512) * 1024;
            let mut args: Vec<std::ffi::OsString> =
                vec!["-c".into(), format!("ulimit -v {limit_kb} 2>/dev/null; exec \"$0\" \"$@\"").into()];
            args.push(spec.launch.program.clone().into());
            args.extend(spec.launch.args.iter().map(Into::into));
            isolation.command(Path::new("/bin/sh"), &args)
        };
        command
            .current_dir(&spec.task_dir)
            .env_clear()
            .envs(spec.variables.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", api.port))
            .env("TMPDIR", &tmp)
            .env("HOME", &tmp)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let command_line = format!("{} {}", spec.launch.program.display(), spec.launch.args.join(" "));
        let mut child = command.spawn()?;
        let pgid = child.id().map(|p| p as i32);
        let output = Arc::new(parking_lot::Mutex::new(Pending::default()));
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(capture(stdout, output.clone(), spec.log.clone(), spec.bundled));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(capture(stderr, output.clone(), spec.log.clone(), spec.bundled));
        }
        Ok(Environment {
            id,
            log_stream,
            child,
            pgid,
            api,
            output,
            initialized: false,
            init_duration: None,
            last_used: Instant::now(),
            invocations: 0,
            command_line,
            dir: spec.env_dir.clone(),
            memory_mb: spec.memory_mb,
            pinned: false,
            code_dirs: vec![spec.task_dir.clone(), spec.opt_dir.clone()],
            init_outcome: None,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether the runtime process is still running (an idle one may have died or been killed).
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Run the init phase ahead of any invocation (provisioned concurrency).
    pub async fn initialize(&mut self) -> Result<(), Failure> {
        self.await_init(Instant::now()).await
    }

    /// Wait for the runtime's first `/next` (end of init), its init error, or its death.
    async fn await_init(&mut self, started: Instant) -> Result<(), Failure> {
        if self.initialized {
            return Ok(());
        }
        let ready = &mut self.api.ready;
        let outcome = tokio::select! {
            r = ready => r.map_err(|_| Failure::Exited("runtime API closed".into())),
            status = self.child.wait() => Err(Failure::Exited(exit_text(status))),
            () = tokio::time::sleep(INIT_TIMEOUT) => Err(Failure::InitTimeout),
        };
        if let Err(failure) = outcome {
            // An init error posted before exiting explains the exit better.
            return Err(self.api.api.take_init_error().map(Failure::Init).unwrap_or(failure));
        }
        self.initialized = true;
        self.init_duration = Some(started.elapsed());
        Ok(())
    }

    /// Run one invocation to its end: the runtime's reply, or why there is none.
    pub async fn invoke(
        &mut self,
        invocation: Invocation,
        reply: oneshot::Receiver<RuntimeReply>,
        timeout: Option<Duration>,
    ) -> Result<RuntimeReply, Failure> {
        let started = Instant::now();
        self.invocations += 1;
        self.last_used = Instant::now();
        if self.api.sender.send(invocation).await.is_err() {
            return Err(Failure::Exited("runtime API closed".into()));
        }
        self.await_init(started).await?;
        let remaining = timeout.map(|t| t.saturating_sub(started.elapsed()));
        let deadline = async {
            match remaining {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let pid = self.child.id();
        let memory_limit_kb = u64::from(self.memory_mb) * 1024;
        // Like Lambda's cgroup, watch resident memory and stop the function when it goes over.
        let over_memory = async {
            let Some(pid) = pid else { return std::future::pending().await };
            let mut tick = tokio::time::interval(Duration::from_millis(25));
            loop {
                tick.tick().await;
                if tree_kb(pid, "VmRSS:") > memory_limit_kb {
                    return;
                }
            }
        };
        let result = tokio::select! {
            r = reply => r.map_err(|_| Failure::Exited("runtime API closed".into())),
            status = self.child.wait() => {
                // The reply may have raced the exit.
                Err(Failure::Exited(exit_text(status)))
            }
            () = deadline => Err(Failure::Timeout),
            () = over_memory => Err(Failure::OutOfMemory),
        };
        if result.is_err() {
            self.api.api.take_in_flight();
        }
        self.last_used = Instant::now();
        result
    }

    /// Output lines written since the last call, waiting briefly for the pipes to catch up.
    pub async fn drain_output(&self) -> Vec<String> {
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        std::mem::take(&mut *self.output.lock()).lines
    }

    /// Peak resident memory of the runtime process, in MB (AWS's "Max Memory Used").
    pub fn max_memory_mb(&self) -> u64 {
        self.child.id().map_or(0, |pid| tree_kb(pid, "VmHWM:").div_ceil(1024))
    }

    /// Kill the whole process group: a function's children die with it.
    pub fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
        let _ = self.child.start_kill();
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.kill();
        let _ = nimbus_core::scratch::remove_tree(&self.dir);
    }
}

/// A memory figure summed over a process and all its descendants: the function's children
/// count against its memory size, as in Lambda's cgroup. (Launchers hold a few hundred kB.)
fn tree_kb(root: u32, field: &str) -> u64 {
    let mut total = 0;
    let mut stack = vec![root];
    let mut seen = 0;
    while let Some(pid) = stack.pop() {
        seen += 1;
        if seen > 4096 {
            break;
        }
        total += resident_kb(pid, field).unwrap_or(0);
        stack.extend(children(pid));
    }
    total
}

/// The children of a process, from `/proc/<pid>/task/<tid>/children`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(list.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    out
}

/// A memory figure (in kB) from `/proc/<pid>/status`: `VmRSS:` now, `VmHWM:` peak.
fn resident_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(field)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn exit_text(status: std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(9)) => "signal: killed".into(),
            (None, Some(sig)) => format!("signal: {sig}"),
            _ => "exited".into(),
        },
        Err(e) => e.to_string(),
    }
}

/// Read a pipe to its end, line by line, keeping what the current invocation will log (for the
/// tail, within the invocation's byte and line budget) and storing each line in the log stream
/// as soon as it is written, one event per line (from a bundled runtime, a `\r` inside a line is
/// a line break within its event). Lines that arrive together are stored together.
async fn capture<R: AsyncRead + Unpin>(
    pipe: R,
    sink: Arc<parking_lot::Mutex<Pending>>,
    log: Option<LiveLog>,
    bundled: bool,
) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    let mut written: Vec<(i64, String)> = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader).take(MAX_LINE_BYTES as u64).read_until(b'\n', &mut line).await;
        let ended = matches!(read, Ok(0) | Err(_));
        if !ended {
            let stamp = log.as_ref().map_or(0, |l| l.clock.now_millis());
            let mut pending = sink.lock();
            if pending.truncated {
                // Over budget: the rest of this invocation's output is dropped.
            } else if pending.lines.len() >= MAX_PENDING_LINES || pending.bytes + line.len() > MAX_INVOCATION_LOG_BYTES
            {
                pending.truncated = true;
                let note = format!(
                    "[nimbus] output truncated: more than {MAX_PENDING_LINES} lines or {} MB in one invocation",
                    MAX_INVOCATION_LOG_BYTES >> 20
                );
                pending.lines.push(note.clone());
                written.push((stamp, note));
            } else {
                pending.bytes += line.len();
                let text = String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']).to_string();
                // The bundled runtimes send a multi-line record (a print, a log call, a
                // traceback) as one line, its line breaks as carriage returns; AWS's runtimes
                // store such a record as one event with its line breaks. A custom runtime's
                // carriage returns stay as written, as on AWS.
                let text = if bundled { text.replace('\r', "\n") } else { text };
                pending.lines.push(text.clone());
                written.push((stamp, text));
            }
        }
        if ended || reader.buffer().is_empty() {
            if let Some(log) = &log {
                if !written.is_empty() {
                    log.put(std::mem::take(&mut written));
                }
            }
            written.clear();
        }
        if ended {
            return;
        }
    }
}

/// Used by the invoker to mint the invocation payload for the runtime.
pub fn payload(bytes: &[u8]) -> Bytes {
    if bytes.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        Bytes::copy_from_slice(bytes)
    }
}

pub fn ensure_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)
}
