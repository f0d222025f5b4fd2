//! Secrets Manager through aws-sdk-secretsmanager: secrets and versions with staging labels,
//! binary values, deletion on nimbus's clock, random passwords, batch reads, rotation by a real
//! Python rotation function (the four steps, then again on schedule), and `kill -9`.

use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, RotationRulesType, Tag};
use aws_sdk_secretsmanager::Client;

use crate::harness::*;

pub fn secrets(server: &Server) -> Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_secretsmanager::config::Region::new(REGION))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or_default().to_string()
}

#[tokio::test]
async fn secrets_versions_and_staging_labels() {
    let server = Server::start();
    let sm = secrets(&server);
    let created = sm.create_secret().name("app/db").secret_string("v1").description("db creds").send().await.unwrap();
    let arn = created.arn().unwrap().to_string();
    assert!(arn.starts_with(&format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:app/db-")), "{arn}");
    assert_eq!(arn.len(), format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:app/db-").len() + 6);
    let v1 = created.version_id().unwrap().to_string();
    let err = sm.create_secret().name("app/db").secret_string("again").send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(code(&err), "ResourceExistsException");
    assert_eq!(err.message().unwrap(), "The operation failed because the secret app/db already exists.");

    // By name, by full ARN, by ARN without the random suffix.
    for id in [String::from("app/db"), arn.clone(), arn[..arn.len() - 7].to_string()] {
        let got = sm.get_secret_value().secret_id(&id).send().await.unwrap();
        assert_eq!(got.secret_string(), Some("v1"), "{id}");
        assert_eq!(got.version_stages(), ["AWSCURRENT"]);
    }

    let put = sm.put_secret_value().secret_id("app/db").secret_string("v2").send().await.unwrap();
    let v2 = put.version_id().unwrap().to_string();
    let previous = sm.get_secret_value().secret_id("app/db").version_stage("AWSPREVIOUS").send().await.unwrap();
    assert_eq!((previous.secret_string(), previous.version_id()), (Some("v1"), Some(v1.as_str())));
    let current = sm.get_secret_value().secret_id("app/db").send().await.unwrap();
    assert_eq!(current.secret_string(), Some("v2"));
    let by_id = sm.get_secret_value().secret_id("app/db").version_id(&v1).send().await.unwrap();
    assert_eq!(by_id.secret_string(), Some("v1"));

    // The same token again is idempotent; with another value it is refused.
    let again =
        sm.put_secret_value().secret_id("app/db").secret_string("v2").client_request_token(&v2).send().await.unwrap();
    assert_eq!(again.version_id(), Some(v2.as_str()));
    let err = sm
        .put_secret_value()
        .secret_id("app/db")
        .secret_string("other")
        .client_request_token(&v2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ResourceExistsException");

    // Move AWSCURRENT back by hand.
    let err = sm
        .update_secret_version_stage()
        .secret_id("app/db")
        .version_stage("AWSCURRENT")
        .move_to_version_id(&v1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidParameterException");
    sm.update_secret_version_stage()
        .secret_id("app/db")
        .version_stage("AWSCURRENT")
        .move_to_version_id(&v1)
        .remove_from_version_id(&v2)
        .send()
        .await
        .unwrap();
    let described = sm.describe_secret().secret_id("app/db").send().await.unwrap();
    let stages = described.version_ids_to_stages().unwrap();
    assert_eq!(stages[&v1], ["AWSCURRENT"]);
    assert_eq!(stages[&v2], ["AWSPREVIOUS"]);
    assert_eq!(described.description(), Some("db creds"));
    let versions = sm.list_secret_version_ids().secret_id("app/db").send().await.unwrap();
    assert_eq!(versions.versions().len(), 2);

    // Binary secrets, UpdateSecret, tags, policies, filters.
    sm.create_secret().name("bin").secret_binary(Blob::new(vec![0u8, 1, 2, 255])).send().await.unwrap();
    let bin = sm.get_secret_value().secret_id("bin").send().await.unwrap();
    assert_eq!(bin.secret_binary().unwrap().as_ref(), [0u8, 1, 2, 255]);
    assert!(bin.secret_string().is_none());
    let err =
        sm.create_secret().name("both").secret_string("s").secret_binary(Blob::new("b")).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidParameterException");
    let err = sm.create_secret().name("bad name#").secret_string("s").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidParameterException");
    sm.update_secret().secret_id("bin").description("binary").secret_string("now text").send().await.unwrap();
    assert_eq!(sm.get_secret_value().secret_id("bin").send().await.unwrap().secret_string(), Some("now text"));
    sm.tag_resource().secret_id("bin").tags(Tag::builder().key("team").value("core").build()).send().await.unwrap();
    let listed = sm
        .list_secrets()
        .filters(Filter::builder().key(FilterNameStringType::TagKey).values("team").build())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.secret_list().len(), 1);
    assert_eq!(listed.secret_list()[0].name(), Some("bin"));
    sm.put_resource_policy()
        .secret_id("bin")
        .resource_policy(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    let policy = sm.get_resource_policy().secret_id("bin").send().await.unwrap();
    assert!(policy.resource_policy().unwrap().contains("2012-10-17"));

    let batch = sm.batch_get_secret_value().secret_id_list("app/db").secret_id_list("nope").send().await.unwrap();
    assert_eq!(batch.secret_values().len(), 1);
    assert_eq!(batch.errors()[0].error_code(), Some("ResourceNotFoundException"));

    let err = sm.get_secret_value().secret_id("missing").send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(code(&err), "ResourceNotFoundException");
    assert_eq!(err.message().unwrap(), "Secrets Manager can't find the specified secret.");

    // The value is encrypted at rest under the AWS managed key, created on first use.
    let kms = crate::kms::kms(&server);
    kms.describe_key().key_id("alias/aws/secretsmanager").send().await.unwrap();
}

#[tokio::test]
async fn deletion_follows_the_clock_and_passwords_follow_their_options() {
    let server = Server::start();
    let sm = secrets(&server);
    sm.create_secret().name("temp").secret_string("x").send().await.unwrap();
    let err = sm.delete_secret().secret_id("temp").recovery_window_in_days(3).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidParameterException");
    let deleted = sm.delete_secret().secret_id("temp").recovery_window_in_days(7).send().await.unwrap();
    assert!(deleted.deletion_date().is_some());
    let err = sm.get_secret_value().secret_id("temp").send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(code(&err), "InvalidRequestException");
    assert_eq!(
        err.message().unwrap(),
        "You can't perform this operation on the secret because it was marked for deletion."
    );
    assert!(sm.list_secrets().send().await.unwrap().secret_list().is_empty());
    assert_eq!(sm.list_secrets().include_planned_deletion(true).send().await.unwrap().secret_list().len(), 1);
    sm.restore_secret().secret_id("temp").send().await.unwrap();
    assert_eq!(sm.get_secret_value().secret_id("temp").send().await.unwrap().secret_string(), Some("x"));

    sm.delete_secret().secret_id("temp").recovery_window_in_days(7).send().await.unwrap();
    crate::kms::advance_clock(&server, 8 * 86_400).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match sm.describe_secret().secret_id("temp").send().await {
            Err(e) => {
                assert_eq!(code(&e.into_service_error()), "ResourceNotFoundException");
                break;
            }
            Ok(_) => assert!(Instant::now() < deadline, "secret not deleted after its recovery window"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sm.create_secret().name("gone").secret_string("x").send().await.unwrap();
    sm.delete_secret().secret_id("gone").force_delete_without_recovery(true).send().await.unwrap();
    let err = sm.describe_secret().secret_id("gone").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ResourceNotFoundException");

    let p = sm.get_random_password().send().await.unwrap().random_password.unwrap();
    assert_eq!(p.len(), 32);
    let p = sm
        .get_random_password()
        .password_length(50)
        .exclude_punctuation(true)
        .exclude_uppercase(true)
        .exclude_characters("abc")
        .include_space(true)
        .send()
        .await
        .unwrap()
        .random_password
        .unwrap();
    assert_eq!(p.len(), 50);
    assert!(p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == ' '), "{p}");
    assert!(!p.contains(['a', 'b', 'c']), "{p}");
    assert!(p.contains(' ') && p.chars().any(|c| c.is_ascii_digit()), "each included type: {p}");
    let err = sm
        .get_random_password()
        .exclude_lowercase(true)
        .exclude_uppercase(true)
        .exclude_numbers(true)
        .exclude_punctuation(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidParameterException");
    let err = sm.get_random_password().password_length(2).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidParameterException", "too short for every type");
    let err = sm.get_random_password().password_length(5000).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");
}

/// A rotation function written the way AWS's templates are: it checks the staged version,
/// stores the new value as AWSPENDING in createSecret and moves AWSCURRENT in finishSecret.
pub const ROTATION_FUNCTION: &str = r#"
import json
import boto3

sm = boto3.client("secretsmanager")

def handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    versions = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    if token not in versions:
        raise ValueError("Secret version %s has no stage for rotation" % token)
    if "AWSCURRENT" in versions[token]:
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError("Secret version %s not set as AWSPENDING" % token)
    if step == "createSecret":
        current = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except sm.exceptions.ResourceNotFoundException:
            current["password"] = sm.get_random_password(ExcludePunctuation=True)["RandomPassword"]
            current["rotations"] = current.get("rotations", 0) + 1
            sm.put_secret_value(SecretId=arn, ClientRequestToken=token,
                                SecretString=json.dumps(current), VersionStages=["AWSPENDING"])
    elif step in ("setSecret", "testSecret"):
        pass
    elif step == "finishSecret":
        old = next(v for v, stages in versions.items() if "AWSCURRENT" in stages)
        sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT",
                                       MoveToVersionId=token, RemoveFromVersionId=old)
    else:
        raise ValueError("unknown step " + step)
"#;

async fn rotations_of(sm: &Client, id: &str) -> i64 {
    let value = sm.get_secret_value().secret_id(id).send().await.unwrap();
    let doc: serde_json::Value = serde_json::from_str(value.secret_string().unwrap()).unwrap();
    doc["rotations"].as_i64().unwrap_or(0)
}

async fn wait_for_rotations(sm: &Client, id: &str, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if rotations_of(sm, id).await >= n {
            return;
        }
        assert!(Instant::now() < deadline, "rotation {n} did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn rotate_secret_runs_the_rotation_function_and_its_schedule() {
    if !std::process::Command::new("python3").args(["-c", "import boto3"]).status().is_ok_and(|s| s.success()) {
        eprintln!("skipping: python3 with boto3 is needed for the rotation function");
        return;
    }
    let server = Server::start();
    let sm = secrets(&server);
    let lambda = server.lambda();
    let function = lambda
        .create_function()
        .function_name("rotator")
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .timeout(60)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(python_zip(ROTATION_FUNCTION)))
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "rotator").await;
    let function_arn = function.function_arn().unwrap().to_string();
    // As on AWS, Secrets Manager may invoke the rotation function only if its policy allows it.
    lambda
        .add_permission()
        .function_name("rotator")
        .statement_id("secretsmanager")
        .action("lambda:InvokeFunction")
        .principal("secretsmanager.amazonaws.com")
        .send()
        .await
        .unwrap();
    let created = sm
        .create_secret()
        .name("rotated")
        .secret_string(r#"{"user":"app","password":"initial"}"#)
        .send()
        .await
        .unwrap();
    let first = created.version_id().unwrap().to_string();

    let rotated = sm
        .rotate_secret()
        .secret_id("rotated")
        .rotation_lambda_arn(&function_arn)
        .rotation_rules(RotationRulesType::builder().automatically_after_days(30).build())
        .send()
        .await
        .unwrap();
    let pending = rotated.version_id().unwrap().to_string();
    wait_for_rotations(&sm, "rotated", 1).await;
    let current = sm.get_secret_value().secret_id("rotated").send().await.unwrap();
    assert_eq!(current.version_id(), Some(pending.as_str()));
    let doc: serde_json::Value = serde_json::from_str(current.secret_string().unwrap()).unwrap();
    assert_ne!(doc["password"], "initial");
    assert_eq!(doc["user"], "app");
    let described = sm.describe_secret().secret_id("rotated").send().await.unwrap();
    assert_eq!(described.rotation_enabled(), Some(true));
    assert_eq!(described.rotation_lambda_arn(), Some(function_arn.as_str()));
    assert!(described.last_rotated_date().is_some());
    assert!(described.next_rotation_date().is_some());
    let stages = described.version_ids_to_stages().unwrap();
    assert_eq!(stages[&first], ["AWSPREVIOUS"]);
    assert_eq!(stages[&pending], ["AWSCURRENT"], "AWSPENDING is removed once rotation finishes");

    // The schedule fires on nimbus's clock.
    crate::kms::advance_clock(&server, 31 * 86_400).await;
    wait_for_rotations(&sm, "rotated", 2).await;
}

#[tokio::test]
async fn secrets_survive_kill_9_encrypted_at_rest() {
    let dir = std::env::temp_dir().join(format!("nimbus-sm-persist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::start_with_data_dir(&dir);
    let sm = secrets(&server);
    sm.create_secret().name("kept").secret_string("plain-text-value").send().await.unwrap();
    sm.put_secret_value().secret_id("kept").secret_string("second-value").send().await.unwrap();
    sm.delete_secret().secret_id("kept").recovery_window_in_days(10).send().await.unwrap();
    sm.restore_secret().secret_id("kept").send().await.unwrap();
    server.kill();
    let journal = std::fs::read_to_string(dir.join("secretsmanager").join("state.journal")).unwrap();
    assert!(!journal.contains("plain-text-value") && !journal.contains("second-value"), "values are encrypted at rest");
    let server = Server::start_with_data_dir(&dir);
    let sm = secrets(&server);
    assert_eq!(sm.get_secret_value().secret_id("kept").send().await.unwrap().secret_string(), Some("second-value"));
    let previous = sm.get_secret_value().secret_id("kept").version_stage("AWSPREVIOUS").send().await.unwrap();
    assert_eq!(previous.secret_string(), Some("plain-text-value"));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
