//! `nimbus`: a local AWS cloud emulator centred on AWS Lambda.
//!
//! The binary parses its configuration, builds each service over the shared core (persistence
//! under `--data-dir`, the clock, the STS key registry), and serves them all on one port.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use nimbus_core::clock::Clock;
use nimbus_core::identity::KeyRegistry;
use nimbus_core::server::{self, Defaults, Router};

/// Every request builds and drops many small values (JSON documents, items, headers); with
/// glibc's allocator, malloc and free were over a third of a DynamoDB Query's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A local AWS cloud emulator centred on AWS Lambda.
///
/// Point the AWS CLI, boto3 or any AWS SDK at http://127.0.0.1:4566 (for example with
/// AWS_ENDPOINT_URL=http://127.0.0.1:4566). Every flag can also be set through the
/// environment variable shown with it.
#[derive(Debug, Parser)]
#[command(name = "nimbus", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Address to listen on. Use 0.0.0.0 to accept connections from other machines.
    #[arg(long, env = "NIMBUS_HOST", default_value = "127.0.0.1")]
    host: String,

    /// Port to listen on (0 picks a free port and prints it).
    #[arg(long, env = "NIMBUS_PORT", default_value_t = 4566)]
    port: u16,

    /// Keep state in this directory so it survives restarts (and kill -9). Without it, state
    /// lives in memory and is gone at exit.
    #[arg(long, env = "NIMBUS_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Region for requests that are not signed.
    #[arg(long, env = "NIMBUS_REGION", default_value = "us-east-1")]
    region: String,

    /// Account for requests whose access key id is not a 12-digit account id.
    #[arg(long, env = "NIMBUS_ACCOUNT", default_value = "000000000000")]
    account: String,

    /// Log filter, e.g. `info`, `debug`, `nimbus_lambda=debug`.
    #[arg(long, env = "NIMBUS_LOG", default_value = "info")]
    log: String,

    /// Shut down a function's execution environment after it has been idle this many seconds.
    #[arg(long, env = "NIMBUS_LAMBDA_IDLE_TIMEOUT", default_value_t = 600)]
    lambda_idle_timeout: u64,

    /// How long (milliseconds) a Lambda update shows `LastUpdateStatus: InProgress`, and a
    /// version it publishes `State: Pending`, as AWS does while it applies one; another update
    /// of the function meanwhile is refused with ResourceConflictException. 0 settles at once.
    #[arg(long, env = "NIMBUS_LAMBDA_UPDATE_MS", default_value_t = 250)]
    lambda_update_ms: u64,

    /// How long (milliseconds) a new Lambda function shows `State: Pending` after CreateFunction
    /// has stored and checked its code (Invoke and updates are refused meanwhile, as on AWS). 0:
    /// Active as soon as CreateFunction has answered, since nimbus has nothing left to do.
    #[arg(long, env = "NIMBUS_LAMBDA_CREATE_MS", default_value_t = 0)]
    lambda_create_ms: u64,

    /// Debug mode: lift function timeouts so a debugger can be attached to the runtime process
    /// (see `/_nimbus/lambda/environments` for its pid and command line).
    #[arg(long, env = "NIMBUS_LAMBDA_DEBUG")]
    lambda_debug: bool,

    /// Extra `Host` names to answer besides local ones (localhost, *.localhost, IP addresses,
    /// single-label names), comma-separated; `*.example.test` matches subdomains, `*` answers
    /// every name (turns DNS-rebinding protection off).
    #[arg(long, env = "NIMBUS_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,

    /// Browser origins allowed to call nimbus's API besides local ones (http://localhost:*,
    /// http://127.0.0.1:*), comma-separated, e.g. `https://app.test:8443` or `*.app.test`; `*`
    /// allows every web page (turns cross-site protection off). Function URLs and API Gateway
    /// URLs keep their own CORS rules.
    #[arg(long, env = "NIMBUS_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,

    /// Program for a runtime, e.g. `--runtime python3.12=/usr/bin/python3.12` (repeatable). The
    /// environment variable NIMBUS_RUNTIME_PYTHON3_12 does the same for one runtime.
    #[arg(long = "runtime", value_name = "RUNTIME=PATH", global = true)]
    runtimes: Vec<String>,

    /// Nimbus's cache folder, where the AWS SDK that functions import from their runtime is
    /// installed (default: $XDG_CACHE_HOME/nimbus or ~/.cache/nimbus).
    #[arg(long, env = "NIMBUS_CACHE_DIR", global = true)]
    cache_dir: Option<PathBuf>,

    /// Hand out AWS-shaped host-form URLs (`sqs.<region>.localhost`, `<id>.lambda-url.<region>.localhost`)
    /// instead of path forms on the host the client used. They need `*.localhost` to resolve to
    /// loopback; both forms are accepted on input either way.
    #[arg(long, env = "NIMBUS_AWS_HOST_URLS")]
    aws_host_urls: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// What function runtimes need besides an interpreter.
    Runtimes {
        #[command(subcommand)]
        action: RuntimesAction,
    },
}

#[derive(Debug, Subcommand)]
enum RuntimesAction {
    /// Install, once, the AWS SDK that AWS's runtimes include (boto3 for python3.10+, the AWS SDK
    /// for JavaScript v3 for nodejs18.x+) into nimbus's cache, as nimbus otherwise does on the
    /// first invocation that imports it. Without RUNTIME: every SDK.
    Install {
        /// Runtimes, e.g. `python3.12 nodejs20.x`.
        #[arg(value_name = "RUNTIME")]
        names: Vec<String>,
        /// `@aws-sdk/*` packages to install for Node.js runtimes (repeatable), e.g.
        /// `--package client-sqs`; without it, the commonly used clients.
        #[arg(long = "package", value_name = "PACKAGE")]
        packages: Vec<String>,
    },
}

fn main() {
    let args = Args::parse();
    nimbus_core::urls::set_aws_host_urls(args.aws_host_urls);
    if let Err(message) = validate(&args) {
        eprintln!("nimbus: {message}");
        std::process::exit(2);
    }
    if let Some(Command::Runtimes { action: RuntimesAction::Install { names, packages } }) = &args.command {
        std::process::exit(install_runtimes(&args, names, packages));
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    if let Err(err) = runtime.block_on(run(args)) {
        eprintln!("nimbus: {err}");
        std::process::exit(1);
    }
}

fn validate(args: &Args) -> Result<(), String> {
    if args.account.len() != 12 || !args.account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("--account must be 12 digits, got '{}'", args.account));
    }
    if let Some(bad) = args.runtimes.iter().find(|r| !r.contains('=')) {
        return Err(format!("--runtime takes RUNTIME=PATH, got '{bad}'"));
    }
    if args.region.is_empty() {
        return Err("--region must not be empty".into());
    }
    Ok(())
}

fn runtime_overrides(args: &Args) -> std::collections::HashMap<String, String> {
    args.runtimes.iter().filter_map(|r| r.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `nimbus runtimes install`: the exit status.
fn install_runtimes(args: &Args, runtimes: &[String], packages: &[String]) -> i32 {
    use nimbus_lambda::invoke::sdk;
    let known: Vec<&str> = sdk::TABLE.iter().map(|(r, _)| *r).collect();
    if let Some(bad) = runtimes.iter().find(|r| sdk::for_runtime(r).is_none()) {
        eprintln!("nimbus: {bad} includes no AWS SDK nimbus installs; runtimes that do: {}", known.join(", "));
        return 2;
    }
    let mut node_packages = Vec::new();
    for name in packages {
        match sdk::normalize_package(name) {
            Some(p) => node_packages.push(p),
            None => {
                eprintln!("nimbus: --package takes an @aws-sdk package name such as client-sqs, got '{name}'");
                return 2;
            }
        }
    }
    let any_node = runtimes.is_empty()
        || runtimes.iter().any(|r| sdk::for_runtime(r).is_some_and(|s| matches!(s.kind, sdk::Kind::Node { .. })));
    if !node_packages.is_empty() && !any_node {
        eprintln!(
            "nimbus: --package names @aws-sdk packages for Node.js runtimes; none of {} is one",
            runtimes.join(", ")
        );
        return 2;
    }
    let cache = args.cache_dir.clone().unwrap_or_else(sdk::default_cache_dir);
    let sdks = sdk::Sdks::new(&cache);
    let interpreters = nimbus_lambda::invoke::runtimes::Runtimes::probe_only(runtime_overrides(args));
    // Without runtimes: every SDK, compiled for the interpreters found for its runtimes.
    let chosen: Vec<&str> =
        if runtimes.is_empty() { known.clone() } else { runtimes.iter().map(String::as_str).collect() };
    let mut done: Vec<(&str, Option<PathBuf>)> = Vec::new();
    let mut status = 0;
    for runtime in chosen {
        let Some(sdk) = sdk::for_runtime(runtime) else { continue };
        let python = matches!(sdk.kind, sdk::Kind::Python { .. });
        // Python's compiled files are per interpreter; the Node packages serve every Node.js.
        let interpreter = if python { interpreters.interpreter_for(runtime).ok() } else { None };
        if done.iter().any(|(dir, i)| *dir == sdk.dir && (!python || *i == interpreter)) {
            continue;
        }
        if python && interpreter.is_none() && !runtimes.is_empty() {
            eprintln!("nimbus: no interpreter found for {runtime}; installing without compiling");
        }
        done.push((sdk.dir, interpreter.clone()));
        match sdks.install(sdk, interpreter.as_deref(), &node_packages) {
            Ok(()) => println!("{runtime}: {} in {}", sdk::describe(sdk), sdks.dir(sdk).display()),
            Err(reason) => {
                eprintln!("nimbus: installing the AWS SDK for {runtime} ({}) failed: {reason}", sdk::describe(sdk));
                status = 1;
            }
        }
    }
    status
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    nimbus_core::scratch::remove_stale();
    let open_files = server::raise_open_file_limit();
    tracing::debug!(?open_files, "open-file limit");
    let clock = Clock::new();
    let keys = KeyRegistry::default();
    let defaults = Defaults { account: args.account.clone(), region: args.region.clone() };
    let mut router = Router::new(defaults, clock.clone(), keys.clone(), VERSION);
    router.set_screening(nimbus_core::screen::Screening {
        allowed_hosts: args.allowed_hosts.clone(),
        allowed_origins: args.allowed_origins.clone(),
    });
    let lambda_settings = nimbus_lambda::invoke::Settings {
        idle_timeout: std::time::Duration::from_secs(args.lambda_idle_timeout),
        debug: args.lambda_debug,
        runtime_overrides: runtime_overrides(&args),
        update_window: std::time::Duration::from_millis(args.lambda_update_ms),
        create_window: std::time::Duration::from_millis(args.lambda_create_ms),
        cache_dir: args.cache_dir.clone(),
    };
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    let addr = listener.local_addr()?;
    let late_router = services::register(&mut router, args.data_dir.as_deref(), &keys, lambda_settings, addr)?;
    let router = Arc::new(router);
    late_router.bind(&router, format!("127.0.0.1:{}", addr.port()));
    // Tests and scripts wait for this exact line to learn the port.
    println!("nimbus {VERSION} listening on http://{addr}");
    tracing::info!(data_dir = ?args.data_dir, "ready");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        () = server::serve(listener, router) => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; shutting down"),
        _ = terminate.recv() => tracing::info!("terminated; shutting down"),
    }
    // Returning drops the services: runtimes are stopped and scratch folders removed.
    Ok(())
}

mod services;
