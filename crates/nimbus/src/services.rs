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
    *lambda.lambda().deliverer.write() = Some(Arc::new(targets.clone()));
    *lambda.lambda().queues.write() = Some(sqs.handle());
    *lambda.lambda().listen_endpoint.write() = Some(format!("http://127.0.0.1:{}", listen.port()));
    *lambda.lambda().keys.write() = keys.clone();
    lambda.start_background();
    let dynamodb = nimbus_dynamodb::DynamoService::open(data_dir, router.clock().clone())?;
    dynamodb.start_background();
    // KMS, and the services that encrypt with it through nimbus_core::crypto::KeyService.
    let (kms, keys_kms) = nimbus_kms::KmsService::open(data_dir, router.clock().clone())?;
    nimbus_kms::KmsService::start_background(&keys_kms);
    router.add(Arc::new(kms));
    let keys_service: Arc<dyn nimbus_core::crypto::KeyService> = keys_kms.clone();
    *lambda.lambda().kms.write() = Some(keys_service.clone());
    let (ssm, _) = nimbus_ssm::SsmService::open(data_dir, router.clock().clone(), keys_service.clone())?;
    router.add(Arc::new(ssm));
    let invoker: Arc<dyn nimbus_core::invoke::FunctionInvoker> =
        Arc::new(nimbus_lambda::delivery::LambdaInvoker(lambda.lambda().clone()));
    let secrets = nimbus_secretsmanager::SecretsManagerService::open(
        data_dir,
        router.clock().clone(),
        keys_service.clone(),
        Some(invoker),
    )?;
    router.add(Arc::new(secrets));
    let iam = nimbus_iam::IamService::open(data_dir)?;
    let sts = nimbus_iam::StsService::with_iam(keys.clone(), &iam);
    router.add(Arc::new(lambda));
    router.add(Arc::new(iam));
    router.add(Arc::new(sts));
    router.add(Arc::new(logs));
    router.add(Arc::new(sqs));
    router.add(Arc::new(dynamodb));
    Ok(())
}
