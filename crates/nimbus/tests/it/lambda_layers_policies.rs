//! Layers, resource policies, tags and account settings through aws-sdk-lambda.

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, FunctionCode, LayerVersionContentInput, Runtime};

use crate::harness::*;

#[tokio::test]
async fn layers_publish_list_attach_and_policies() {
    let server = Server::start();
    let lambda = server.lambda();
    let zip = zip_of(&[("python/helper.py", b"VALUE = 42\n")]);
    let publish = || {
        lambda
            .publish_layer_version()
            .layer_name("shared")
            .description("helpers")
            .compatible_runtimes(Runtime::Python312)
            .compatible_architectures(Architecture::X8664)
            .content(LayerVersionContentInput::builder().zip_file(Blob::new(zip.clone())).build())
            .send()
    };
    let v1 = publish().await.unwrap();
    assert_eq!(v1.version(), 1);
    assert_eq!(v1.layer_arn(), Some("arn:aws:lambda:us-east-1:000000000000:layer:shared"));
    assert_eq!(v1.layer_version_arn(), Some("arn:aws:lambda:us-east-1:000000000000:layer:shared:1"));
    let location = v1.content().unwrap().location().unwrap();
    assert_eq!(reqwest::get(location).await.unwrap().bytes().await.unwrap().as_ref(), zip.as_slice());
    let v2 = publish().await.unwrap();
    assert_eq!(v2.version(), 2);

    let listed = lambda.list_layers().compatible_runtime(Runtime::Python312).send().await.unwrap();
    assert_eq!(listed.layers().len(), 1);
    assert_eq!(listed.layers()[0].latest_matching_version().unwrap().version(), 2);
    assert!(lambda.list_layers().compatible_runtime(Runtime::Nodejs22x).send().await.unwrap().layers().is_empty());
    let versions = lambda.list_layer_versions().layer_name("shared").send().await.unwrap();
    assert_eq!(versions.layer_versions().iter().map(|v| v.version()).collect::<Vec<_>>(), [2, 1]);
    let by_arn = lambda
        .get_layer_version_by_arn()
        .arn("arn:aws:lambda:us-east-1:000000000000:layer:shared:1")
        .send()
        .await
        .unwrap();
    assert_eq!(by_arn.version(), 1);

    // Functions attach layers by ARN; a missing version is AWS's 400.
    let created = lambda
        .create_function()
        .function_name("with-layer")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .layers("arn:aws:lambda:us-east-1:000000000000:layer:shared:2")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(zip_of(&[(
                    "index.py",
                    b"import helper\ndef handler(e, c):\n    return helper.VALUE\n",
                )])))
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "with-layer").await;
    assert_eq!(created.layers()[0].arn(), Some("arn:aws:lambda:us-east-1:000000000000:layer:shared:2"));
    let out = lambda.invoke().function_name("with-layer").send().await.unwrap();
    assert_eq!(out.payload().unwrap().as_ref(), b"42", "{:?}", out.function_error());
    let err = lambda
        .update_function_configuration()
        .function_name("with-layer")
        .layers("arn:aws:lambda:us-east-1:000000000000:layer:shared:9")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_value_exception());
    assert_eq!(
        err.message(),
        Some("Layer version arn:aws:lambda:us-east-1:000000000000:layer:shared:9 does not exist.")
    );

    // Layer version policies.
    let added = lambda
        .add_layer_version_permission()
        .layer_name("shared")
        .version_number(1)
        .statement_id("everyone")
        .action("lambda:GetLayerVersion")
        .principal("*")
        .send()
        .await
        .unwrap();
    let statement: serde_json::Value = serde_json::from_str(added.statement().unwrap()).unwrap();
    assert_eq!(statement["Principal"], "*");
    assert_eq!(statement["Resource"], "arn:aws:lambda:us-east-1:000000000000:layer:shared:1");
    let policy = lambda.get_layer_version_policy().layer_name("shared").version_number(1).send().await.unwrap();
    assert_eq!(policy.revision_id(), added.revision_id());
    lambda
        .remove_layer_version_permission()
        .layer_name("shared")
        .version_number(1)
        .statement_id("everyone")
        .send()
        .await
        .unwrap();
    let err = lambda
        .get_layer_version_policy()
        .layer_name("shared")
        .version_number(1)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception());

    // Deleted version numbers are never reused.
    lambda.delete_layer_version().layer_name("shared").version_number(2).send().await.unwrap();
    lambda.delete_layer_version().layer_name("shared").version_number(2).send().await.unwrap();
    assert_eq!(publish().await.unwrap().version(), 3);
    let err = lambda
        .get_layer_version()
        .layer_name("shared")
        .version_number(2)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception());
}

#[tokio::test]
async fn function_policies_tags_and_account_settings() {
    let server = Server::start();
    let lambda = server.lambda();
    create_python_function(&lambda, "p").await;
    let added = lambda
        .add_permission()
        .function_name("p")
        .statement_id("s3")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn("arn:aws:s3:::bucket")
        .source_account("000000000000")
        .send()
        .await
        .unwrap();
    let statement: serde_json::Value = serde_json::from_str(added.statement().unwrap()).unwrap();
    assert_eq!(
        statement,
        serde_json::json!({
            "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:us-east-1:000000000000:function:p",
            "Condition": {"StringEquals": {"AWS:SourceAccount": "000000000000"}, "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}
        })
    );
    let err = lambda
        .add_permission()
        .function_name("p")
        .statement_id("s3")
        .action("lambda:InvokeFunction")
        .principal("*")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_conflict_exception());
    lambda
        .add_permission()
        .function_name("p")
        .statement_id("acct")
        .action("lambda:InvokeFunction")
        .principal("111122223333")
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value =
        serde_json::from_str(lambda.get_policy().function_name("p").send().await.unwrap().policy().unwrap()).unwrap();
    assert_eq!(policy["Version"], "2012-10-17");
    assert_eq!(policy["Id"], "default");
    assert_eq!(policy["Statement"][1]["Principal"], serde_json::json!({"AWS": "arn:aws:iam::111122223333:root"}));
    let err = lambda
        .add_permission()
        .function_name("p")
        .qualifier("$LATEST")
        .statement_id("x")
        .action("lambda:InvokeFunction")
        .principal("*")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));
    lambda.remove_permission().function_name("p").statement_id("s3").send().await.unwrap();
    lambda.remove_permission().function_name("p").statement_id("acct").send().await.unwrap();
    let err = lambda.get_policy().function_name("p").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception());

    let arn = "arn:aws:lambda:us-east-1:000000000000:function:p";
    lambda.tag_resource().resource(arn).tags("team", "core").tags("env", "dev").send().await.unwrap();
    lambda.untag_resource().resource(arn).tag_keys("env").send().await.unwrap();
    let tags = lambda.list_tags().resource(arn).send().await.unwrap();
    assert_eq!(tags.tags().unwrap().len(), 1);
    assert_eq!(tags.tags().unwrap().get("team").map(String::as_str), Some("core"));
    let err = lambda.tag_resource().resource(format!("{arn}:1")).tags("a", "b").send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));

    lambda.put_function_concurrency().function_name("p").reserved_concurrent_executions(50).send().await.unwrap();
    let settings = lambda.get_account_settings().send().await.unwrap();
    let limit = settings.account_limit().unwrap();
    assert_eq!(limit.concurrent_executions(), 1000);
    assert_eq!(limit.unreserved_concurrent_executions(), Some(950));
    assert_eq!(limit.code_size_unzipped(), 262_144_000);
    assert_eq!(settings.account_usage().unwrap().function_count(), 1);
    assert!(settings.account_usage().unwrap().total_code_size() > 0);
}
