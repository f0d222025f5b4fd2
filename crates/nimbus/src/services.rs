//! Wiring: build every service with its persistence and register it on the router.

use std::path::Path;
use std::sync::Arc;

use nimbus_core::identity::KeyRegistry;
use nimbus_core::server::Router;

pub fn register(router: &mut Router, data_dir: Option<&Path>, _keys: &KeyRegistry) -> std::io::Result<()> {
    let lambda = nimbus_lambda::LambdaService::open(data_dir)?;
    router.add(Arc::new(lambda));
    Ok(())
}
