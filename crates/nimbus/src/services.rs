//! Wiring: build every service with its persistence and register it on the router.

use std::path::Path;
use std::sync::Arc;

use nimbus_core::identity::KeyRegistry;
use nimbus_core::server::Router;

pub fn register(
    router: &mut Router,
    data_dir: Option<&Path>,
    keys: &KeyRegistry,
    lambda_settings: nimbus_lambda::invoke::Settings,
) -> std::io::Result<()> {
    let lambda = nimbus_lambda::LambdaService::open(data_dir, lambda_settings, None)?;
    lambda.start_background();
    let iam = nimbus_iam::IamService::open(data_dir)?;
    let sts = nimbus_iam::StsService::with_iam(keys.clone(), &iam);
    router.add(Arc::new(lambda));
    router.add(Arc::new(iam));
    router.add(Arc::new(sts));
    Ok(())
}
