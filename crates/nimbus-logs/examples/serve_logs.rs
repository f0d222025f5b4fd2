//! CloudWatch Logs alone on an ephemeral port, for trying the service before it is wired into
//! the `nimbus` binary: `cargo run -p nimbus-logs --example serve_logs` prints the URL.

use std::sync::Arc;

use nimbus_core::clock::Clock;
use nimbus_core::identity::KeyRegistry;
use nimbus_core::server::{serve, Defaults, Router};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let clock = Clock::new();
    let defaults = Defaults { account: "000000000000".into(), region: "us-east-1".into() };
    let mut router = Router::new(defaults, clock.clone(), KeyRegistry::default(), "dev");
    router.add(Arc::new(nimbus_logs::LogsService::open(None, clock)?));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("nimbus-logs listening on http://{}", listener.local_addr()?);
    serve(listener, Arc::new(router)).await;
    Ok(())
}
