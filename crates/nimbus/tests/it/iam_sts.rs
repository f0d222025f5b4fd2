//! IAM roles and STS through aws-sdk-iam and aws-sdk-sts.

use crate::harness::*;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

#[tokio::test]
async fn roles_policies_and_assumed_credentials() {
    let server = Server::start();
    let iam = server.iam();
    let created = iam.create_role().role_name("lambda-role").assume_role_policy_document(TRUST).send().await.unwrap();
    let role = created.role().unwrap();
    assert_eq!(role.arn(), "arn:aws:iam::000000000000:role/lambda-role");
    assert!(role.role_id().starts_with("AROA"));
    let err = iam
        .create_role()
        .role_name("lambda-role")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_entity_already_exists_exception());

    iam.put_role_policy()
        .role_name("lambda-role")
        .policy_name("inline")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("lambda-role")
        .policy_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
        .send()
        .await
        .unwrap();
    assert_eq!(iam.list_role_policies().role_name("lambda-role").send().await.unwrap().policy_names(), ["inline"]);
    assert_eq!(
        iam.list_attached_role_policies().role_name("lambda-role").send().await.unwrap().attached_policies().len(),
        1
    );
    let err = iam.delete_role().role_name("lambda-role").send().await.unwrap_err().into_service_error();
    assert!(err.is_delete_conflict_exception());

    let sts = server.sts_as("AKIDEXAMPLE", "secret", None);
    let me = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.account(), Some("000000000000"));
    assert_eq!(me.arn(), Some("arn:aws:iam::000000000000:root"));
    let other = server.sts_as("111122223333", "secret", None).get_caller_identity().send().await.unwrap();
    assert_eq!(other.account(), Some("111122223333"));

    let assumed = sts.assume_role().role_arn(role.arn()).role_session_name("tests").send().await.unwrap();
    let creds = assumed.credentials().unwrap();
    assert!(creds.access_key_id().starts_with("ASIA"));
    let as_role =
        server.sts_as(creds.access_key_id(), creds.secret_access_key(), Some(creds.session_token().to_string()));
    let who = as_role.get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn(), Some("arn:aws:sts::000000000000:assumed-role/lambda-role/tests"));

    let missing = iam.get_role().role_name("nope").send().await.unwrap_err().into_service_error();
    assert!(missing.is_no_such_entity_exception());
}
