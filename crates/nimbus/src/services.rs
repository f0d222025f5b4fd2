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
) -> std::io::Result<Arc<nimbus_cloudformation::api::LateRouter>> {
    let logs = nimbus_logs::LogsService::open(data_dir, router.clock().clone())?;
    let lambda =
        nimbus_lambda::LambdaService::open(data_dir, lambda_settings, Some(logs.sink()), router.clock().clone())?;
    // Functions run with their execution role's STS session.
    let iam = nimbus_iam::IamService::open(data_dir)?;
    let sts = nimbus_iam::StsService::with_iam(keys.clone(), &iam);
    *lambda.lambda().invoker.roles.write() = Some(sts.role_sessions());
    let sqs = nimbus_sqs::SqsService::open(data_dir, router.clock().clone())?;
    // Every service that receives deliveries registers here; every service delivering holds it.
    let targets = Targets::default();
    targets.register("sqs", sqs.handle());
    targets.register("lambda", Arc::new(nimbus_lambda::delivery::LambdaTarget(lambda.lambda().clone())));
    let sns = nimbus_sns::SnsService::open(data_dir, router.clock().clone())?;
    targets.register("sns", sns.handle());
    *sns.handle().targets.write() = Some(targets.clone());
    *sns.handle().endpoint.write() = format!("http://127.0.0.1:{}", listen.port());
    // HTTP/S deliveries the last run had not finished go on, now that their DLQs are reachable.
    sns.handle().resume_deliveries();
    let events = nimbus_events::EventBridge::open(data_dir, router.clock().clone())?;
    targets.register("events", events.clone());
    *events.targets.write() = Some(targets.clone());
    events.start_background();
    let scheduler = nimbus_scheduler::Scheduler::open(data_dir, router.clock().clone())?;
    *scheduler.targets.write() = Some(targets.clone());
    scheduler.start_background();
    // Target retries the last run had not finished go on, now that every target is wired.
    events.resume_retries();
    scheduler.resume_retries();
    *lambda.lambda().deliverer.write() = Some(Arc::new(targets.clone()));
    *lambda.lambda().queues.write() = Some(sqs.handle());
    *lambda.lambda().listen_endpoint.write() = Some(format!("http://127.0.0.1:{}", listen.port()));
    *lambda.lambda().keys.write() = keys.clone();
    lambda.start_background();
    router.add_health_fact("lambdaIsolation", serde_json::json!(lambda.lambda().invoker.isolation().describe()));
    let dynamodb = nimbus_dynamodb::DynamoService::open(data_dir, router.clock().clone())?;
    dynamodb.start_background();
    let s3 = nimbus_s3::S3Service::open(data_dir, router.clock().clone())?;
    *s3.s3().targets.write() = Some(targets.clone());
    *lambda.lambda().objects.write() = Some(s3.s3().clone());
    // Stream event source mappings read Kinesis and DynamoDB Streams through StreamReader.
    let kinesis = nimbus_kinesis::Kinesis::open(data_dir, router.clock().clone())?;
    kinesis.start_background();
    let streams = &lambda.lambda().streams;
    streams.register(nimbus_lambda::esm::SourceKind::Kinesis, kinesis.clone());
    streams.register(nimbus_lambda::esm::SourceKind::DynamoDbStreams, dynamodb.dynamo().clone());
    // KMS, and the services that encrypt with it through nimbus_core::crypto::KeyService.
    let (kms, keys_kms) = nimbus_kms::KmsService::open(data_dir, router.clock().clone())?;
    nimbus_kms::KmsService::start_background(&keys_kms);
    router.add(Arc::new(kms));
    let keys_service: Arc<dyn nimbus_core::crypto::KeyService> = keys_kms.clone();
    *lambda.lambda().kms.write() = Some(keys_service.clone());
    // The journal keeps KMSKeyArn functions' variables as ciphertext: decrypt them now.
    lambda.lambda().unseal_all();
    let (ssm, _) = nimbus_ssm::SsmService::open(data_dir, router.clock().clone(), keys_service.clone())?;
    router.add(Arc::new(ssm));
    let invoker: Arc<dyn nimbus_core::invoke::FunctionInvoker> =
        Arc::new(nimbus_lambda::gateway::LambdaInvoker(lambda.lambda().clone()));
    let secrets = nimbus_secretsmanager::SecretsManagerService::open(
        data_dir,
        router.clock().clone(),
        keys_service.clone(),
        Some(invoker),
    )?;
    router.add(Arc::new(secrets));
    let (ecr, _) = nimbus_ecr::EcrService::open(data_dir, router.clock().clone(), Some(keys_service.clone()))?;
    router.add(Arc::new(ecr));
    let lambda_handle = lambda.lambda().clone();
    router.add(Arc::new(lambda));
    router.add(Arc::new(iam));
    router.add(Arc::new(sts));
    router.add(Arc::new(logs));
    router.add(Arc::new(sqs));
    router.add(Arc::new(dynamodb));
    router.add(Arc::new(sns));
    let apigateway = nimbus_apigateway::ApiGatewayService::open(data_dir, router.clock().clone())?;
    *apigateway.gateway().invoker.write() = Some(Arc::new(nimbus_lambda::gateway::LambdaInvoker(lambda_handle)));
    *apigateway.gateway().keys.write() = keys.clone();
    router.add(Arc::new(apigateway));
    router.add(Arc::new(kinesis.service()));
    router.add(Arc::new(nimbus_events::service(events)));
    router.add(Arc::new(nimbus_scheduler::service(scheduler)));
    // CloudFormation provisions through the other services' public APIs, via the router
    // (bound in main once it is built).
    let late_router = Arc::new(nimbus_cloudformation::api::LateRouter::default());
    let cloudformation =
        nimbus_cloudformation::CloudFormationService::open(data_dir, router.clock().clone(), late_router.clone())?;
    router.add(Arc::new(cloudformation));
    // Last: S3 claims unsigned requests addressed to one of its buckets.
    router.add(Arc::new(s3));
    Ok(late_router)
}
