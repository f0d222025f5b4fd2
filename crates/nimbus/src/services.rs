//! Wiring: build every service with its persistence and register it on the router.

use std::path::Path;
use std::sync::Arc;

use nimbus_core::delivery::Targets;
use nimbus_core::identity::KeyRegistry;
use nimbus_core::server::Router;

pub fn register(
    router: &mut Router,
    data_dir: Option<&Path>,
    keys: &KeyRegistry,
    lambda_settings: nimbus_lambda::invoke::Settings,
    listen: std::net::SocketAddr,
) -> std::io::Result<()> {
    let logs = nimbus_logs::LogsService::open(data_dir, router.clock().clone())?;
    let lambda =
        nimbus_lambda::LambdaService::open(data_dir, lambda_settings, Some(logs.sink()), router.clock().clone())?;
    let sqs = nimbus_sqs::SqsService::open(data_dir, router.clock().clone())?;
    // Every service that receives deliveries registers here; every service delivering holds it.
    let targets = Targets::default();
    targets.register("sqs", sqs.handle());
    targets.register("lambda", Arc::new(nimbus_lambda::delivery::LambdaTarget(lambda.lambda().clone())));
    let sns = nimbus_sns::SnsService::open(data_dir, router.clock().clone())?;
    targets.register("sns", sns.handle());
    *sns.handle().targets.write() = Some(targets.clone());
    *sns.handle().endpoint.write() = format!("http://127.0.0.1:{}", listen.port());
    let events = nimbus_events::EventBridge::open(data_dir, router.clock().clone())?;
    targets.register("events", events.clone());
    *events.targets.write() = Some(targets.clone());
    events.start_background();
    let scheduler = nimbus_scheduler::Scheduler::open(data_dir, router.clock().clone())?;
    *scheduler.targets.write() = Some(targets.clone());
    scheduler.start_background();
    *lambda.lambda().deliverer.write() = Some(Arc::new(targets.clone()));
    *lambda.lambda().queues.write() = Some(sqs.handle());
    *lambda.lambda().listen_endpoint.write() = Some(format!("http://127.0.0.1:{}", listen.port()));
    *lambda.lambda().keys.write() = keys.clone();
    lambda.start_background();
    let dynamodb = nimbus_dynamodb::DynamoService::open(data_dir, router.clock().clone())?;
    dynamodb.start_background();
    let iam = nimbus_iam::IamService::open(data_dir)?;
    let sts = nimbus_iam::StsService::with_iam(keys.clone(), &iam);
    router.add(Arc::new(lambda));
    router.add(Arc::new(iam));
    router.add(Arc::new(sts));
    router.add(Arc::new(logs));
    router.add(Arc::new(sqs));
    router.add(Arc::new(dynamodb));
    router.add(Arc::new(sns));
    router.add(Arc::new(nimbus_events::service(events)));
    router.add(Arc::new(nimbus_scheduler::service(scheduler)));
    Ok(())
}
