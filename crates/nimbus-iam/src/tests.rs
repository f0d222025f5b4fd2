//! Request-level tests: form-encoded requests in, AWS's query XML out.

use super::*;
use bytes::Bytes;
use http::{HeaderMap, Method};
use nimbus_core::clock::Clock;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn ctx(account: &str, access_key_id: Option<&str>) -> RequestContext {
    RequestContext {
        account: account.into(),
        region: "us-east-1".into(),
        request_id: "req-1".into(),
        access_key_id: access_key_id.map(str::to_string),
        endpoint: "http://localhost:4566".into(),
        clock: Clock::new(),
    }
}

fn form(pairs: &[(&str, &str)]) -> HttpRequest {
    let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/x-www-form-urlencoded; charset=utf-8".parse().unwrap());
    HttpRequest { method: Method::POST, path: "/".into(), query: Vec::new(), headers, body: Bytes::from(body) }
}

fn call(service: &dyn Service, ctx: RequestContext, pairs: &[(&str, &str)]) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let resp = rt.block_on(service.handle(ctx, form(pairs)));
    (resp.status, String::from_utf8(resp.body.as_bytes().unwrap().to_vec()).unwrap())
}

fn between<'a>(body: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = body.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {body}")) + open.len();
    let end = body[start..].find(&format!("</{tag}>")).unwrap() + start;
    &body[start..end]
}

#[test]
fn create_and_get_role_render_aws_xml() {
    let iam = IamService::open(None).unwrap();
    let acct = ctx("123456789012", Some("123456789012"));
    let (status, body) = call(
        &iam,
        acct.clone(),
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "fn-role"),
            ("AssumeRolePolicyDocument", TRUST),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "core"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<CreateRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateRoleResult><Role><Path>/</Path><RoleName>fn-role</RoleName>"), "{body}");
    assert_eq!(between(&body, "Arn"), "arn:aws:iam::123456789012:role/fn-role");
    assert_eq!(between(&body, "AssumeRolePolicyDocument"), render::encode_document(TRUST));
    assert!(body.contains("<Tags><member><Key>team</Key><Value>core</Value></member></Tags>"));
    assert!(body.ends_with("<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></CreateRoleResponse>"));

    let (status, body) = call(&iam, acct.clone(), &[("Action", "GetRole"), ("RoleName", "fn-role")]);
    assert_eq!(status, 200);
    assert!(body.contains("<RoleLastUsed/>"));
    assert_eq!(between(&body, "MaxSessionDuration"), "3600");

    let (status, body) = call(
        &iam,
        acct.clone(),
        &[("Action", "CreateRole"), ("RoleName", "fn-role"), ("AssumeRolePolicyDocument", TRUST)],
    );
    assert_eq!(status, 409);
    assert!(body.contains("<Error><Type>Sender</Type><Code>EntityAlreadyExists</Code><Message>Role with name fn-role already exists.</Message></Error><RequestId>req-1</RequestId>"), "{body}");

    let (status, body) = call(&iam, acct, &[("Action", "DeleteRole"), ("RoleName", "fn-role")]);
    assert_eq!(status, 200);
    assert!(
        body.contains("<DeleteRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata>"),
        "{body}"
    );
}

#[test]
fn inline_policy_round_trip_is_url_encoded() {
    let iam = IamService::open(None).unwrap();
    let acct = ctx("000000000000", None);
    call(&iam, acct.clone(), &[("Action", "CreateRole"), ("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST)]);
    let (status, _) = call(
        &iam,
        acct.clone(),
        &[("Action", "PutRolePolicy"), ("RoleName", "r"), ("PolicyName", "p"), ("PolicyDocument", TRUST)],
    );
    assert_eq!(status, 200);
    let (_, body) = call(&iam, acct.clone(), &[("Action", "GetRolePolicy"), ("RoleName", "r"), ("PolicyName", "p")]);
    assert_eq!(between(&body, "PolicyDocument"), render::encode_document(TRUST));
    let (_, body) = call(&iam, acct, &[("Action", "ListRolePolicies"), ("RoleName", "r")]);
    assert!(body.contains("<PolicyNames><member>p</member></PolicyNames><IsTruncated>false</IsTruncated>"), "{body}");
}

#[test]
fn protocol_errors() {
    let iam = IamService::open(None).unwrap();
    let acct = ctx("000000000000", None);
    let (status, body) = call(&iam, acct.clone(), &[("Action", "FlyToTheMoon"), ("Version", "2010-05-08")]);
    assert_eq!(status, 400);
    assert!(
        body.contains(
            "<Code>InvalidAction</Code><Message>Could not find operation FlyToTheMoon for version 2010-05-08</Message>"
        ),
        "{body}"
    );
    let (status, body) = call(&iam, acct.clone(), &[("Action", "GetRole")]);
    assert_eq!(status, 400);
    assert!(body.contains("<Code>ValidationError</Code><Message>1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null</Message>"), "{body}");
    let (status, body) = call(&iam, acct.clone(), &[("Action", "CreateUser"), ("UserName", "u")]);
    assert_eq!(status, 501);
    assert!(body.contains("<Type>Receiver</Type><Code>NotImplemented</Code>"), "{body}");
    let (status, body) = call(&iam, acct, &[("Action", "GetRole"), ("RoleName", "nope")]);
    assert_eq!(status, 404);
    assert!(body.contains("The role with name nope cannot be found."));
}

#[test]
fn claims_only_unsigned_actions_of_its_model() {
    let iam = IamService::open(None).unwrap();
    let sts = StsService::new(KeyRegistry::default());
    let create = form(&[("Action", "CreateRole"), ("Version", "2010-05-08")]);
    let who = form(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]);
    assert!(iam.claims(&create) && !iam.claims(&who));
    assert!(sts.claims(&who) && !sts.claims(&create));
}

#[test]
fn assumed_role_credentials_act_in_the_role_account() {
    let keys = KeyRegistry::default();
    let iam = IamService::open(None).unwrap();
    let sts = StsService::with_iam(keys.clone(), &iam);
    let (status, body) = call(
        &sts,
        ctx("000000000000", Some("AKIAEXAMPLE")),
        &[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", "arn:aws:iam::111122223333:role/ops/deployer"),
            ("RoleSessionName", "ci-run"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><Credentials><AccessKeyId>ASIA"), "{body}");
    let akid = between(&body, "AccessKeyId").to_string();
    assert_eq!(between(&body, "Arn"), "arn:aws:sts::111122223333:assumed-role/deployer/ci-run");
    assert_eq!(keys.account(&akid).as_deref(), Some("111122223333"));

    let (_, body) = call(&sts, ctx("111122223333", Some(&akid)), &[("Action", "GetCallerIdentity")]);
    assert_eq!(between(&body, "Account"), "111122223333");
    assert_eq!(between(&body, "Arn"), "arn:aws:sts::111122223333:assumed-role/deployer/ci-run");
    assert!(between(&body, "UserId").starts_with("AROA") && between(&body, "UserId").ends_with(":ci-run"));

    let (_, body) = call(&sts, ctx("444455556666", Some("444455556666")), &[("Action", "GetCallerIdentity")]);
    assert_eq!(between(&body, "Arn"), "arn:aws:iam::444455556666:root");

    let (status, body) = call(
        &sts,
        ctx("000000000000", None),
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::111122223333:role/x"),
            ("RoleSessionName", "bad name"),
            ("DurationSeconds", "60"),
        ],
    );
    assert_eq!(status, 400);
    assert!(body.contains("2 validation errors detected: Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*; Value '60' at 'durationSeconds'"), "{body}");
}

/// The message of a refused request, checking it is a `ValidationError`.
fn validation_message(service: &dyn Service, pairs: &[(&str, &str)]) -> String {
    let (status, body) = call(service, ctx("000000000000", None), pairs);
    assert_eq!(status, 400, "{body}");
    assert_eq!(between(&body, "Code"), "ValidationError", "{body}");
    between(&body, "Message").replace("&apos;", "'").replace("&amp;", "&")
}

#[test]
fn role_name_constraints_are_worded_as_iam_words_them() {
    let iam = IamService::open(None).unwrap();
    let get =
        |name: &str| validation_message(&iam, &[("Action", "GetRole"), ("Version", "2010-05-08"), ("RoleName", name)]);
    assert_eq!(
        get("bad name"),
        "1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    );
    assert!(get(&"r".repeat(65)).ends_with("Member must have length less than or equal to 64"));
    // Java's \w is ASCII only.
    assert!(get("rôle").contains("regular expression pattern"));
}

#[test]
fn missing_members_and_ranges_are_reported_together() {
    let iam = IamService::open(None).unwrap();
    let message =
        validation_message(&iam, &[("Action", "CreateRole"), ("Version", "2010-05-08"), ("MaxSessionDuration", "100")]);
    assert_eq!(
        message,
        "3 validation errors detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null; \
         Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null; \
         Value '100' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"
    );
    let sts = StsService::new(KeyRegistry::default());
    let message = validation_message(
        &sts,
        &[("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", "bogus"), ("RoleSessionName", "s")],
    );
    assert_eq!(
        message,
        "2 validation errors detected: Value 'bogus' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20; \
         Value 's' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"
    );
}

#[test]
fn list_members_are_checked_element_by_element() {
    let iam = IamService::open(None).unwrap();
    let long_key = "k".repeat(129);
    let message = validation_message(
        &iam,
        &[
            ("Action", "TagRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "r"),
            ("Tags.member.1.Key", &long_key),
            ("Tags.member.1.Value", "v"),
        ],
    );
    assert_eq!(
        message,
        format!("1 validation error detected: Value '{long_key}' at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128")
    );
    let message = validation_message(&iam, &[("Action", "TagRole"), ("Version", "2010-05-08"), ("RoleName", "r")]);
    assert!(message.contains("Value null at 'tags'"), "{message}");
}
