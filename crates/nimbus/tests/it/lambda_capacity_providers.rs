//! Capacity providers and function scaling configs: stored, validated and related to functions
//! (nimbus runs functions natively, so no instances are launched).

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::types::{
    CapacityProviderConfig, CapacityProviderPermissionsConfig, CapacityProviderScalingConfig,
    CapacityProviderScalingMode, CapacityProviderState, CapacityProviderVpcConfig, FunctionScalingConfig,
    LambdaManagedInstancesCapacityProviderConfig, Runtime,
};

use crate::harness::*;

fn vpc() -> CapacityProviderVpcConfig {
    CapacityProviderVpcConfig::builder()
        .subnet_ids("subnet-0a1b2c3d")
        .security_group_ids("sg-0a1b2c3d")
        .build()
        .unwrap()
}

fn permissions() -> CapacityProviderPermissionsConfig {
    CapacityProviderPermissionsConfig::builder()
        .capacity_provider_operator_role_arn("arn:aws:iam::000000000000:role/cp-operator")
        .build()
        .unwrap()
}

fn on_provider(arn: &str) -> CapacityProviderConfig {
    CapacityProviderConfig::builder()
        .lambda_managed_instances_capacity_provider_config(
            LambdaManagedInstancesCapacityProviderConfig::builder().capacity_provider_arn(arn).build().unwrap(),
        )
        .build()
}

#[tokio::test]
async fn capacity_providers_lifecycle_and_relation_to_functions() {
    let server = Server::start();
    let lambda = server.lambda();
    let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:capacity-provider:fleet");

    let created = lambda
        .create_capacity_provider()
        .capacity_provider_name("fleet")
        .vpc_config(vpc())
        .permissions_config(permissions())
        .tags("team", "core")
        .send()
        .await
        .unwrap();
    let provider = created.capacity_provider().unwrap();
    assert_eq!(provider.capacity_provider_arn(), arn);
    assert_eq!(provider.state(), &CapacityProviderState::Pending);
    let got = lambda.get_capacity_provider().capacity_provider_name(&arn).send().await.unwrap();
    let provider = got.capacity_provider().unwrap();
    assert_eq!(provider.state(), &CapacityProviderState::Active);
    assert_eq!(provider.vpc_config().unwrap().subnet_ids(), ["subnet-0a1b2c3d"]);
    assert_eq!(
        provider.capacity_provider_scaling_config().unwrap().scaling_mode(),
        Some(&CapacityProviderScalingMode::Auto)
    );
    let tags = lambda.list_tags().resource(&arn).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().get("team").map(String::as_str), Some("core"));

    // Duplicates, bad ids and a Manual mode without policies are refused.
    let err = lambda
        .create_capacity_provider()
        .capacity_provider_name("fleet")
        .vpc_config(vpc())
        .permissions_config(permissions())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceConflictException"));
    let bad_vpc =
        CapacityProviderVpcConfig::builder().subnet_ids("nope").set_security_group_ids(Some(vec![])).build().unwrap();
    let err = lambda
        .create_capacity_provider()
        .capacity_provider_name("other")
        .vpc_config(bad_vpc)
        .permissions_config(permissions())
        .send()
        .await
        .unwrap_err();
    // botocore 1.44.8 gives subnet ids a pattern (`subnet-[0-9a-z]*`): the front end refuses it.
    assert_eq!(err.code(), Some("ValidationException"));
    let manual = CapacityProviderScalingConfig::builder().scaling_mode(CapacityProviderScalingMode::Manual).build();
    let err = lambda
        .update_capacity_provider()
        .capacity_provider_name("fleet")
        .capacity_provider_scaling_config(manual)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));
    let updated = lambda
        .update_capacity_provider()
        .capacity_provider_name("fleet")
        .capacity_provider_scaling_config(CapacityProviderScalingConfig::builder().max_v_cpu_count(64).build())
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated.capacity_provider().unwrap().capacity_provider_scaling_config().unwrap().max_v_cpu_count(),
        Some(64)
    );

    // Functions may only name providers that exist.
    let err = lambda
        .create_function()
        .function_name("nowhere")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(python_zip("def handler(e, c):\n    return e\n")))
                .build(),
        )
        .capacity_provider_config(on_provider(&format!("arn:aws:lambda:{REGION}:{ACCOUNT}:capacity-provider:missing")))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));

    create_python_function(&lambda, "managed").await;
    // Scaling configs need a published version on a capacity provider.
    let err = lambda.get_function_scaling_config().function_name("managed").qualifier("1").send().await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    lambda.publish_version().function_name("managed").send().await.unwrap();
    let err = lambda.get_function_scaling_config().function_name("managed").qualifier("1").send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));

    lambda
        .update_function_configuration()
        .function_name("managed")
        .capacity_provider_config(on_provider(&arn))
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "managed").await;
    // $LATEST uses it (so it cannot be deleted) but only published versions are listed.
    let listed =
        lambda.list_function_versions_by_capacity_provider().capacity_provider_name("fleet").send().await.unwrap();
    assert_eq!(listed.capacity_provider_arn(), arn);
    assert!(listed.function_versions().is_empty());
    let err = lambda.delete_capacity_provider().capacity_provider_name("fleet").send().await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceConflictException"));

    lambda.publish_version().function_name("managed").send().await.unwrap();
    let listed =
        lambda.list_function_versions_by_capacity_provider().capacity_provider_name("fleet").send().await.unwrap();
    let versions: Vec<_> = listed.function_versions().iter().map(|v| (v.function_arn(), v.state().as_str())).collect();
    assert_eq!(versions, [(format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:managed:2").as_str(), "Active")]);

    let scaling = lambda.get_function_scaling_config().function_name("managed").qualifier("2").send().await.unwrap();
    assert_eq!(scaling.applied_function_scaling_config().unwrap().min_execution_environments(), Some(3));
    let put = lambda
        .put_function_scaling_config()
        .function_name("managed")
        .qualifier("2")
        .function_scaling_config(
            FunctionScalingConfig::builder().min_execution_environments(1).max_execution_environments(4).build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(put.function_state().map(|s| s.as_str()), Some("Active"));
    let scaling = lambda.get_function_scaling_config().function_name("managed").qualifier("2").send().await.unwrap();
    assert_eq!(scaling.function_arn(), Some(format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:managed:2").as_str()));
    let applied = scaling.applied_function_scaling_config().unwrap();
    assert_eq!((applied.min_execution_environments(), applied.max_execution_environments()), (Some(1), Some(4)));
    let err = lambda
        .put_function_scaling_config()
        .function_name("managed")
        .qualifier("2")
        .function_scaling_config(
            FunctionScalingConfig::builder().min_execution_environments(5).max_execution_environments(4).build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));

    // Once no function uses it, it can be deleted: the answer says Deleting, then it is gone.
    lambda.delete_function().function_name("managed").send().await.unwrap();
    let providers = lambda.list_capacity_providers().send().await.unwrap();
    assert_eq!(providers.capacity_providers().len(), 1);
    let deleted = lambda.delete_capacity_provider().capacity_provider_name("fleet").send().await.unwrap();
    assert_eq!(deleted.capacity_provider().unwrap().state(), &CapacityProviderState::Deleting);
    let err = lambda.get_capacity_provider().capacity_provider_name("fleet").send().await.unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert!(lambda.list_capacity_providers().send().await.unwrap().capacity_providers().is_empty());
}

#[tokio::test]
async fn capacity_providers_survive_a_restart() {
    let dir = TempDir::new("nimbus-cp");
    let server = Server::start_with_data_dir(dir.path());
    server
        .lambda()
        .create_capacity_provider()
        .capacity_provider_name("kept")
        .vpc_config(vpc())
        .permissions_config(permissions())
        .send()
        .await
        .unwrap();
    server.kill();
    let server = Server::start_with_data_dir(dir.path());
    let got = server.lambda().get_capacity_provider().capacity_provider_name("kept").send().await.unwrap();
    assert_eq!(got.capacity_provider().unwrap().state(), &CapacityProviderState::Active);
}
