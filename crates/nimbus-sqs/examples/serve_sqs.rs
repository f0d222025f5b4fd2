//! SQS alone on an ephemeral port (or `PORT`), for trying the service before it is wired into
//! the `nimbus` binary: `cargo run -p nimbus-sqs --example serve_sqs` prints the URL.

use std::sync::Arc;

use nimbus_core::clock::Clock;
use nimbus_core::identity::KeyRegistry;
use nimbus_core::server::{serve, Defaults, Router};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let clock = Clock::new();
    let defaults = Defaults { account: "000000000000".into(), region: "us-east-1".into() };
    let mut router = Router::new(defaults, clock.clone(), KeyRegistry::default(), "dev");
    let data_dir = std::env::var_os("NIMBUS_DATA_DIR").map(std::path::PathBuf::from);
    router.add(Arc::new(nimbus_sqs::SqsService::open(data_dir.as_deref(), clock)?));
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(0u16);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("nimbus-sqs listening on http://{}", listener.local_addr()?);
    serve(listener, Arc::new(router)).await;
    Ok(())
}
