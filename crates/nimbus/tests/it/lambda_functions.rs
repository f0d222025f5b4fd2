//! Functions, versions and aliases through aws-sdk-lambda.

use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, Environment, FunctionCode, Runtime, State};

use crate::harness::*;

#[tokio::test]
async fn create_get_and_defaults_match_aws() {
    let server = Server::start();
    let lambda = server.lambda();
    let created = create_python_function(&lambda, "hello").await;
    assert_eq!(created.function_name(), Some("hello"));
    assert_eq!(created.function_arn(), Some("arn:aws:lambda:us-east-1:000000000000:function:hello"));
    assert_eq!(created.state(), Some(&State::Pending));
    assert_eq!(created.state_reason_code().map(|c| c.as_str()), Some("Creating"));
    assert_eq!(created.timeout(), Some(3));
    assert_eq!(created.memory_size(), Some(128));
    assert_eq!(created.version(), Some("$LATEST"));
    assert_eq!(created.package_type().map(|p| p.as_str()), Some("Zip"));
    assert_eq!(created.architectures().iter().map(|a| a.as_str()).collect::<Vec<_>>(), ["x86_64"]);
    assert_eq!(created.ephemeral_storage().map(|e| e.size()), Some(512));
    assert_eq!(created.tracing_config().and_then(|t| t.mode()).map(|m| m.as_str()), Some("PassThrough"));
    let logging = created.logging_config().unwrap();
    assert_eq!(logging.log_format().map(|f| f.as_str()), Some("Text"));
    assert_eq!(logging.log_group(), Some("/aws/lambda/hello"));
    let last_modified = created.last_modified().unwrap();
    assert!(last_modified.ends_with("+0000") && last_modified.len() == 28, "{last_modified}");
    assert_eq!(created.code_sha256().unwrap().len(), 44);

    // The waiter AWS users call next works.
    let got = lambda.get_function().function_name("hello").send().await.unwrap();
    let config = got.configuration().unwrap();
    assert_eq!(config.state(), Some(&State::Active));
    assert_eq!(config.last_update_status().map(|s| s.as_str()), Some("Successful"));
    // Becoming Active gives the function a new revision, as on AWS.
    assert_ne!(config.revision_id(), created.revision_id());

    // Code.Location serves the archive back.
    let location = got.code().unwrap().location().unwrap();
    assert_eq!(got.code().unwrap().repository_type(), Some("S3"));
    let bytes = reqwest::get(location).await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), python_zip("def handler(event, context):\n    return event\n").as_slice());

    // Every identifier form resolves the same function.
    for id in [
        "hello",
        "000000000000:function:hello",
        "arn:aws:lambda:us-east-1:000000000000:function:hello",
        "hello:$LATEST",
    ] {
        let c = lambda.get_function_configuration().function_name(id).send().await.unwrap();
        assert_eq!(c.function_name(), Some("hello"), "{id}");
    }
}

#[tokio::test]
async fn errors_have_aws_codes_and_messages() {
    let server = Server::start();
    let lambda = server.lambda();
    let err = lambda.get_function().function_name("missing").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception());
    // AWS names the version it resolved: $LATEST for an unqualified name.
    assert_eq!(
        err.message(),
        Some("Function not found: arn:aws:lambda:us-east-1:000000000000:function:missing:$LATEST")
    );

    let created_dup = create_python_function(&lambda, "dup").await;
    let err = lambda
        .create_function()
        .function_name("dup")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(python_zip("x = 1"))).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_conflict_exception(), "{err:?}");
    assert_eq!(err.message(), Some("Function already exist: dup"));

    let err = lambda
        .create_function()
        .function_name("badzip")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(b"not a zip".to_vec())).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");

    let err = lambda
        .create_function()
        .function_name("escape")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(zip_of(&[("../../etc/x", b"x")]))).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");

    let err = lambda.get_function().function_name("dup").qualifier("7").send().await.unwrap_err().into_service_error();
    assert_eq!(err.message(), Some("Function not found: arn:aws:lambda:us-east-1:000000000000:function:dup:7"));

    let err = lambda.update_function_configuration().function_name("dup").memory_size(1).send().await.unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));

    let err = lambda
        .update_function_configuration()
        .function_name("dup")
        .environment(Environment::builder().variables("AWS_REGION", "x").build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_value_exception());

    let err = lambda
        .update_function_configuration()
        .function_name("dup")
        .revision_id(created_dup.revision_id().unwrap())
        .timeout(10)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_precondition_failed_exception(), "{err:?}");
    // Nothing changed.
    let config = lambda.get_function_configuration().function_name("dup").send().await.unwrap();
    assert_eq!(config.timeout(), Some(3));
}

#[tokio::test]
async fn update_code_and_configuration() {
    let server = Server::start();
    let lambda = server.lambda();
    let created = create_python_function(&lambda, "f").await;
    let updated = lambda
        .update_function_configuration()
        .function_name("f")
        .timeout(30)
        .memory_size(512)
        .description("d")
        .environment(Environment::builder().variables("ANSWER", "1").build())
        .send()
        .await
        .unwrap();
    assert_eq!(updated.last_update_status().map(|s| s.as_str()), Some("InProgress"));
    assert_eq!(updated.timeout(), Some(30));
    assert_ne!(updated.revision_id(), created.revision_id());
    lambda.wait_until_function_updated_v2().function_name("f").wait(std::time::Duration::from_secs(10)).await.unwrap();

    let zip = python_zip("def handler(e, c):\n    return 2\n");
    let dry = lambda
        .update_function_code()
        .function_name("f")
        .zip_file(Blob::new(zip.clone()))
        .dry_run(true)
        .send()
        .await
        .unwrap();
    assert_ne!(dry.code_sha256(), created.code_sha256());
    let still = lambda.get_function_configuration().function_name("f").send().await.unwrap();
    assert_eq!(still.code_sha256(), created.code_sha256());

    let published =
        lambda.update_function_code().function_name("f").zip_file(Blob::new(zip)).publish(true).send().await.unwrap();
    assert_eq!(published.version(), Some("1"));
    assert_eq!(published.function_arn(), Some("arn:aws:lambda:us-east-1:000000000000:function:f:1"));
    assert_eq!(
        published.environment().and_then(|e| e.variables()).and_then(|v| v.get("ANSWER")).map(String::as_str),
        Some("1")
    );
}

#[tokio::test]
async fn versions_are_immutable_and_not_duplicated() {
    let server = Server::start();
    let lambda = server.lambda();
    create_python_function(&lambda, "v").await;
    let v1 = lambda.publish_version().function_name("v").description("first").send().await.unwrap();
    assert_eq!(v1.version(), Some("1"));
    assert_eq!(v1.description(), Some("first"));
    // Nothing changed: AWS hands back version 1.
    let again = lambda.publish_version().function_name("v").send().await.unwrap();
    assert_eq!(again.version(), Some("1"));

    lambda.update_function_configuration().function_name("v").timeout(9).send().await.unwrap();
    wait_updated(&lambda, "v").await;
    let err =
        lambda.publish_version().function_name("v").code_sha256("wrong").send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
    let v2 = lambda.publish_version().function_name("v").send().await.unwrap();
    assert_eq!(v2.version(), Some("2"));
    assert_eq!(v2.timeout(), Some(9));
    let v1_now = lambda.get_function_configuration().function_name("v").qualifier("1").send().await.unwrap();
    assert_eq!(v1_now.timeout(), Some(3));

    let versions = lambda.list_versions_by_function().function_name("v").send().await.unwrap();
    let names: Vec<_> = versions.versions().iter().filter_map(|v| v.version()).collect();
    assert_eq!(names, ["$LATEST", "1", "2"]);

    // Deleting a version never frees its number.
    lambda.delete_function().function_name("v").qualifier("2").send().await.unwrap();
    lambda.update_function_configuration().function_name("v").timeout(10).send().await.unwrap();
    wait_updated(&lambda, "v").await;
    let v3 = lambda.publish_version().function_name("v").send().await.unwrap();
    assert_eq!(v3.version(), Some("3"));

    let err =
        lambda.delete_function().function_name("v").qualifier("$LATEST").send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_parameter_value_exception());
    let all = lambda.list_functions().function_version("ALL".into()).send().await.unwrap();
    assert_eq!(all.functions().len(), 3);
    lambda.delete_function().function_name("v").send().await.unwrap();
    assert!(lambda.list_functions().send().await.unwrap().functions().is_empty());
}

#[tokio::test]
async fn aliases_with_routing() {
    let server = Server::start();
    let lambda = server.lambda();
    create_python_function(&lambda, "a").await;
    lambda.publish_version().function_name("a").send().await.unwrap();
    lambda.update_function_configuration().function_name("a").timeout(5).send().await.unwrap();
    wait_updated(&lambda, "a").await;
    lambda.publish_version().function_name("a").send().await.unwrap();

    let alias = lambda
        .create_alias()
        .function_name("a")
        .name("live")
        .function_version("1")
        .routing_config(AliasRoutingConfiguration::builder().additional_version_weights("2", 0.25).build())
        .send()
        .await
        .unwrap();
    assert_eq!(alias.alias_arn(), Some("arn:aws:lambda:us-east-1:000000000000:function:a:live"));
    assert_eq!(
        alias.routing_config().and_then(|r| r.additional_version_weights()).and_then(|w| w.get("2")).copied(),
        Some(0.25)
    );
    let err = lambda
        .create_alias()
        .function_name("a")
        .name("live")
        .function_version("1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_conflict_exception());
    let err = lambda
        .create_alias()
        .function_name("a")
        .name("bad")
        .function_version("9")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception());
    let err = lambda
        .create_alias()
        .function_name("a")
        .name("w")
        .function_version("1")
        .routing_config(AliasRoutingConfiguration::builder().additional_version_weights("2", 1.5).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));

    // An alias resolves for reads; the ARN keeps the alias.
    let via_alias = lambda.get_function_configuration().function_name("a:live").send().await.unwrap();
    assert_eq!(via_alias.version(), Some("1"));
    assert_eq!(via_alias.function_arn(), Some("arn:aws:lambda:us-east-1:000000000000:function:a:live"));

    let err = lambda.delete_function().function_name("a").qualifier("1").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_conflict_exception());

    let updated = lambda
        .update_alias()
        .function_name("a")
        .name("live")
        .function_version("2")
        .routing_config(AliasRoutingConfiguration::builder().build())
        .send()
        .await
        .unwrap();
    assert_eq!(updated.function_version(), Some("2"));
    let listed = lambda.list_aliases().function_name("a").send().await.unwrap();
    assert_eq!(listed.aliases().len(), 1);
    lambda.delete_alias().function_name("a").name("live").send().await.unwrap();
    let err = lambda.get_alias().function_name("a").name("live").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception());
}

#[tokio::test]
async fn list_functions_paginates() {
    let server = Server::start();
    let lambda = server.lambda();
    for i in 0..7 {
        create_python_function(&lambda, &format!("fn-{i}")).await;
    }
    let mut names = Vec::new();
    let mut marker = None;
    loop {
        let page = lambda.list_functions().max_items(3).set_marker(marker).send().await.unwrap();
        assert!(page.functions().len() <= 3);
        names.extend(page.functions().iter().filter_map(|f| f.function_name().map(str::to_string)));
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    assert_eq!(names, (0..7).map(|i| format!("fn-{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn state_is_isolated_per_account_and_region() {
    let server = Server::start();
    let default = server.lambda();
    let other_account = server.lambda_as("111122223333", REGION);
    let other_region = server.lambda_as("AKIDEXAMPLE", "eu-west-1");
    create_python_function(&default, "shared-name").await;
    assert!(other_account.get_function().function_name("shared-name").send().await.is_err());
    assert!(other_region.get_function().function_name("shared-name").send().await.is_err());
    let created = create_python_function(&other_account, "shared-name").await;
    assert_eq!(created.function_arn(), Some("arn:aws:lambda:us-east-1:111122223333:function:shared-name"));
    let created = create_python_function(&other_region, "shared-name").await;
    assert_eq!(created.function_arn(), Some("arn:aws:lambda:eu-west-1:000000000000:function:shared-name"));
    assert_eq!(default.list_functions().send().await.unwrap().functions().len(), 1);
}

/// Creating and updating take a while on AWS: a new function is `State: Pending` (Invoke and
/// updates refused with AWS's texts) until it is Active; after an update `$LATEST` shows
/// `LastUpdateStatus: InProgress` and a version published with it `State: Pending` until it is
/// applied (the waiters read these), and another update meanwhile is refused with AWS's
/// conflict. The windows are stretched here so a loaded machine cannot miss them.
#[tokio::test]
async fn updates_are_in_progress_for_a_while_and_refuse_another_update() {
    let server = Server::start_with(&["--lambda-update-ms", "4000", "--lambda-create-ms", "4000"]);
    let lambda = server.lambda();
    let code = |body: &str| FunctionCode::builder().zip_file(Blob::new(python_zip(body))).build();
    let created = lambda
        .create_function()
        .function_name("sm")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(code("def handler(e, c):\n    return 1\n"))
        .publish(true)
        .send()
        .await
        .unwrap();
    assert_eq!(created.version(), Some("1"));
    assert_eq!(created.state(), Some(&State::Pending));
    assert_eq!(created.state_reason(), Some("The function is being created."));
    assert_eq!(created.state_reason_code().map(|c| c.as_str()), Some("Creating"));
    assert_eq!(created.last_update_status(), None);
    let v1 = lambda.get_function_configuration().function_name("sm").qualifier("1").send().await.unwrap();
    assert_eq!(v1.state(), Some(&State::Pending));
    assert_eq!(v1.last_update_status(), None);
    let pending = lambda.get_function_configuration().function_name("sm").send().await.unwrap();
    assert_eq!(pending.state(), Some(&State::Pending));
    assert_eq!(pending.state_reason_code().map(|c| c.as_str()), Some("Creating"));
    assert_eq!(pending.revision_id(), created.revision_id());

    // While Pending: Invoke and updates are refused, as AWS refuses them.
    for qualifier in [None, Some("1")] {
        let err = lambda
            .invoke()
            .function_name("sm")
            .set_qualifier(qualifier.map(str::to_string))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_resource_conflict_exception(), "{qualifier:?}: {err:?}");
        assert_eq!(
            err.message(),
            Some("The operation cannot be performed at this time. The function is currently in the following state: Pending")
        );
        assert_eq!(err.meta().code(), Some("ResourceConflictException"));
    }
    let err = lambda.update_function_configuration().function_name("sm").timeout(5).send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(409));
    let err = err.into_service_error();
    assert!(err.is_resource_conflict_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some("The operation cannot be performed at this time. The resource arn:aws:lambda:us-east-1:000000000000:function:sm is currently in the following state: 'Pending'. StateReasonCode: 'Creating'")
    );
    lambda.wait_until_function_active_v2().function_name("sm").wait(std::time::Duration::from_secs(60)).await.unwrap();
    let active = lambda.get_function_configuration().function_name("sm").send().await.unwrap();
    assert_eq!(active.state(), Some(&State::Active));
    assert_eq!(active.last_update_status().map(|s| s.as_str()), Some("Successful"));
    assert_eq!(active.timeout(), Some(3), "the refused update changed nothing");
    lambda
        .wait_until_published_version_active()
        .function_name("sm")
        .qualifier("1")
        .wait(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let out = lambda.invoke().function_name("sm").qualifier("1").send().await.unwrap();
    assert_eq!(out.payload().unwrap().as_ref(), b"1");

    let updated = lambda
        .update_function_code()
        .function_name("sm")
        .zip_file(Blob::new(python_zip("def handler(e, c):\n    return 2\n")))
        .publish(true)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.version(), Some("2"));
    assert_eq!(updated.state(), Some(&State::Pending));
    assert_eq!(updated.state_reason_code().map(|c| c.as_str()), Some("Creating"));
    let v2 = lambda.get_function_configuration().function_name("sm").qualifier("2").send().await.unwrap();
    assert_eq!(v2.state(), Some(&State::Pending));
    assert_eq!(v2.revision_id(), updated.revision_id());
    let latest = lambda.get_function().function_name("sm").send().await.unwrap();
    let latest = latest.configuration().unwrap();
    assert_eq!(latest.state(), Some(&State::Active));
    assert_eq!(latest.last_update_status().map(|s| s.as_str()), Some("InProgress"));
    assert_eq!(latest.last_update_status_reason(), Some("The function is being created."));
    assert_eq!(latest.last_update_status_reason_code().map(|c| c.as_str()), Some("Creating"));
    let asked = lambda.get_function_configuration().function_name("sm").qualifier("$LATEST").send().await.unwrap();
    assert_eq!(asked.function_arn(), Some("arn:aws:lambda:us-east-1:000000000000:function:sm:$LATEST"));
    assert_eq!(asked.last_update_status().map(|s| s.as_str()), Some("InProgress"));

    let conflict = "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:000000000000:function:sm";
    let err = lambda
        .update_function_configuration()
        .function_name("sm")
        .timeout(9)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_conflict_exception(), "{err:?}");
    assert_eq!(err.message(), Some(conflict));
    let err = lambda
        .update_function_code()
        .function_name("sm")
        .zip_file(Blob::new(python_zip("x = 3")))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_conflict_exception(), "{err:?}");
    assert_eq!(err.message(), Some(conflict));
    let err = lambda.publish_version().function_name("sm").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_conflict_exception(), "{err:?}");
    let refused = lambda.get_function_configuration().function_name("sm").send().await.unwrap();
    assert_eq!(refused.timeout(), Some(3), "a refused update changes nothing");

    // The waiters AWS users call see it through.
    lambda.wait_until_function_updated_v2().function_name("sm").wait(std::time::Duration::from_secs(60)).await.unwrap();
    lambda
        .wait_until_published_version_active()
        .function_name("sm")
        .qualifier("2")
        .wait(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let settled = lambda.get_function_configuration().function_name("sm").send().await.unwrap();
    assert_eq!(settled.last_update_status().map(|s| s.as_str()), Some("Successful"));
    assert_eq!(settled.last_update_status_reason(), None);
    assert_ne!(settled.revision_id(), latest.revision_id(), "being applied gives $LATEST a new revision");
    let v2 = lambda.get_function_configuration().function_name("sm").qualifier("2").send().await.unwrap();
    assert_eq!(v2.state(), Some(&State::Active));
    assert_eq!(v2.last_update_status().map(|s| s.as_str()), Some("Successful"));
    lambda.update_function_configuration().function_name("sm").timeout(9).send().await.unwrap();
}

/// AWS's runtime table: from a runtime's "Block function create" date CreateFunction refuses
/// it, from its "Block function update" date code updates of functions on it and
/// UpdateFunctionConfiguration naming it are refused (other configuration changes still go
/// through), with AWS's text. Dates follow nimbus's clock, moved here past nodejs20.x's
/// 2027-02-01 and 2027-03-03.
#[tokio::test]
async fn deprecated_runtimes_are_refused_from_their_block_dates() {
    let server = Server::start();
    let lambda = server.lambda();
    let create = |name: &str, rt: Runtime| {
        lambda
            .create_function()
            .function_name(name)
            .runtime(rt)
            .role(ROLE)
            .handler("index.handler")
            .code(FunctionCode::builder().zip_file(Blob::new(python_zip("x = 1"))).build())
            .send()
    };
    assert!(nimbus_now(&server).await.as_str() < "2027-02-01", "this test starts before nodejs20.x's blocks");

    // Blocked for creation long ago (AWS refused these in its answers recorded in 2026).
    for rt in [
        Runtime::Java8,
        Runtime::Provided,
        Runtime::Go1x,
        Runtime::Nodejs14x,
        Runtime::Nodejs12x,
        Runtime::Python37,
        Runtime::Python36,
        Runtime::Ruby27,
        Runtime::Dotnetcore31,
    ] {
        refused(create("old", rt.clone()).await.unwrap_err(), rt.as_str());
    }
    assert!(lambda.list_functions().send().await.unwrap().functions().is_empty());
    // Deprecated, but AWS moved their blocks to 2027.
    for (name, rt) in [("n20", Runtime::Nodejs20x), ("p39", Runtime::Python39), ("r32", Runtime::Ruby32)] {
        create(name, rt).await.unwrap();
        wait_updated(&lambda, name).await;
    }
    // Back to a runtime blocked for creation but not yet for updates: allowed; past both: not.
    create_python_function(&lambda, "current").await;
    lambda.update_function_configuration().function_name("current").runtime(Runtime::Java8).send().await.unwrap();
    wait_updated(&lambda, "current").await;
    let err = lambda.update_function_configuration().function_name("current").runtime(Runtime::Python36).send().await;
    refused(err.unwrap_err(), "python3.6");
    let config = lambda.get_function_configuration().function_name("current").send().await.unwrap();
    assert_eq!(config.runtime(), Some(&Runtime::Java8));

    advance_clock_to(&server, "2027-02-01").await;
    refused(create("n20-late", Runtime::Nodejs20x).await.unwrap_err(), "nodejs20.x");
    let unknown = lambda
        .create_function()
        .function_name("x")
        .runtime(Runtime::from("nodejs99.x"))
        .role(ROLE)
        .handler("h")
        .code(FunctionCode::builder().zip_file(Blob::new(python_zip("x = 1"))).build())
        .send()
        .await
        .unwrap_err();
    let offered = ProvideErrorMetadata::meta(&unknown).message().unwrap().to_string();
    assert!(offered.starts_with("Value nodejs99.x at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [python3.14, provided.al2023,"), "{offered}");
    assert!(!offered.contains("nodejs20.x") && offered.contains("nodejs22.x"), "{offered}");
    // Existing functions still take new code until the update block.
    let code =
        |name: &str| lambda.update_function_code().function_name(name).zip_file(Blob::new(python_zip("x = 2"))).send();
    code("n20").await.unwrap();
    wait_updated(&lambda, "n20").await;

    advance_clock_to(&server, "2027-03-03").await;
    refused(code("n20").await.unwrap_err(), "nodejs20.x");
    refused(code("current").await.unwrap_err(), "java8");
    let err = lambda.update_function_configuration().function_name("n20").runtime(Runtime::Nodejs20x).send().await;
    refused(err.unwrap_err(), "nodejs20.x");
    // Other configuration changes of such a function, and moving it to a current runtime, go through.
    lambda.update_function_configuration().function_name("n20").memory_size(256).send().await.unwrap();
    wait_updated(&lambda, "n20").await;
    lambda.update_function_configuration().function_name("n20").runtime(Runtime::Nodejs22x).send().await.unwrap();
    wait_updated(&lambda, "n20").await;
    code("n20").await.unwrap();
    let config = lambda.get_function_configuration().function_name("n20").send().await.unwrap();
    assert_eq!((config.runtime(), config.memory_size()), (Some(&Runtime::Nodejs22x), Some(256)));
}

/// A refusal of a blocked runtime, as AWS answers it.
fn refused<E: ProvideErrorMetadata + std::fmt::Debug>(
    err: aws_sdk_lambda::error::SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
    rt: &str,
) {
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400), "{rt}: {err:?}");
    assert_eq!(err.code(), Some("InvalidParameterValueException"), "{rt}");
    let message = format!("The runtime parameter of {rt} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.");
    assert_eq!(err.message(), Some(message.as_str()), "{rt}");
}

/// Nimbus's clock, as RFC 3339.
async fn nimbus_now(server: &Server) -> String {
    let state: serde_json::Value =
        reqwest::get(format!("{}/_nimbus/clock", server.endpoint())).await.unwrap().json().await.unwrap();
    state["now"].as_str().unwrap().to_string()
}

/// Move nimbus's clock to just after midnight (UTC) of `date`, `YYYY-MM-DD`.
async fn advance_clock_to(server: &Server, date: &str) {
    let target = chrono::DateTime::parse_from_rfc3339(&format!("{date}T00:00:01Z")).unwrap();
    let now = chrono::DateTime::parse_from_rfc3339(&nimbus_now(server).await).unwrap();
    let millis = (target - now).num_milliseconds().max(0);
    let answer = reqwest::Client::new()
        .post(format!("{}/_nimbus/clock/advance", server.endpoint()))
        .body(format!(r#"{{"milliseconds": {millis}}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}
