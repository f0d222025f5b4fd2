//! SSM Parameter Store through aws-sdk-ssm: String/StringList/SecureString (KMS), versions,
//! selectors and labels, paths and filters, history, tiers, tags, AWS's errors, other SSM
//! areas answering NotImplemented, and parameters surviving `kill -9`.

use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterTier, ParameterType, ResourceTypeForTagging, Tag};
use aws_sdk_ssm::Client;

use crate::harness::*;

pub fn ssm(server: &Server) -> Client {
    let config = aws_sdk_ssm::Config::builder()
        .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_ssm::config::Region::new(REGION))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or_default().to_string()
}

async fn put(ssm: &Client, name: &str, value: &str, kind: ParameterType) -> i64 {
    ssm.put_parameter().name(name).value(value).r#type(kind).send().await.unwrap().version
}

#[tokio::test]
async fn parameters_versions_labels_and_selectors() {
    let server = Server::start();
    let ssm = ssm(&server);
    assert_eq!(put(&ssm, "/app/db/host", "db1", ParameterType::String).await, 1);
    let err =
        ssm.put_parameter().name("/app/db/host").value("x").r#type(ParameterType::String).send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(code(&err), "ParameterAlreadyExists");
    assert_eq!(
        err.message().unwrap(),
        "The parameter already exists. To overwrite this value, set the overwrite option in the request to true."
    );
    let v2 = ssm.put_parameter().name("/app/db/host").value("db2").overwrite(true).send().await.unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.tier(), Some(&ParameterTier::Standard));

    let got = ssm.get_parameter().name("/app/db/host").send().await.unwrap().parameter.unwrap();
    assert_eq!((got.value(), got.version, got.r#type()), (Some("db2"), 2, Some(&ParameterType::String)));
    assert_eq!(got.arn(), Some(format!("arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/db/host").as_str()));
    let v1 = ssm.get_parameter().name("/app/db/host:1").send().await.unwrap().parameter.unwrap();
    assert_eq!((v1.value(), v1.selector()), (Some("db1"), Some(":1")));

    let label = ssm
        .label_parameter_version()
        .name("/app/db/host")
        .parameter_version(1)
        .labels("stable")
        .labels("9bad")
        .send()
        .await
        .unwrap();
    assert_eq!(label.invalid_labels(), ["9bad"]);
    let stable = ssm.get_parameter().name("/app/db/host:stable").send().await.unwrap().parameter.unwrap();
    assert_eq!(stable.value(), Some("db1"));
    // A label moves to the version it is put on.
    ssm.label_parameter_version().name("/app/db/host").labels("stable").send().await.unwrap();
    let stable = ssm.get_parameter().name("/app/db/host:stable").send().await.unwrap().parameter.unwrap();
    assert_eq!(stable.value(), Some("db2"));
    let un = ssm
        .unlabel_parameter_version()
        .name("/app/db/host")
        .parameter_version(2)
        .labels("stable")
        .labels("nope")
        .send()
        .await
        .unwrap();
    assert_eq!((un.removed_labels(), un.invalid_labels()), (&["stable".to_string()][..], &["nope".to_string()][..]));

    let err = ssm.get_parameter().name("/app/db/host:7").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ParameterVersionNotFound");
    let err = ssm.get_parameter().name("/missing").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ParameterNotFound");

    let history = ssm.get_parameter_history().name("/app/db/host").send().await.unwrap();
    let values: Vec<_> = history.parameters().iter().filter_map(|p| p.value()).collect();
    assert_eq!(values, ["db1", "db2"]);

    put(&ssm, "/app/list", "a,b,c", ParameterType::StringList).await;
    let many = ssm.get_parameters().names("/app/list").names("/app/db/host").names("/nope").send().await.unwrap();
    assert_eq!(many.parameters().len(), 2);
    assert_eq!(many.invalid_parameters(), ["/nope"]);

    let deleted = ssm.delete_parameters().names("/app/list").names("/nope").send().await.unwrap();
    assert_eq!(
        (deleted.deleted_parameters(), deleted.invalid_parameters()),
        (&["/app/list".to_string()][..], &["/nope".to_string()][..])
    );
    ssm.delete_parameter().name("/app/db/host").send().await.unwrap();
    let err = ssm.delete_parameter().name("/app/db/host").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ParameterNotFound");
}

#[tokio::test]
async fn secure_strings_are_encrypted_with_kms() {
    let server = Server::start();
    let ssm = ssm(&server);
    let kms = crate::kms::kms(&server);
    put(&ssm, "/app/secret", "hunter2", ParameterType::SecureString).await;
    let hidden = ssm.get_parameter().name("/app/secret").send().await.unwrap().parameter.unwrap();
    assert_ne!(hidden.value(), Some("hunter2"), "without decryption the value stays ciphertext");
    let shown = ssm.get_parameter().name("/app/secret").with_decryption(true).send().await.unwrap().parameter.unwrap();
    assert_eq!(shown.value(), Some("hunter2"));
    // The default key is the AWS managed alias/aws/ssm, created on first use.
    let meta = kms.describe_key().key_id("alias/aws/ssm").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(meta.key_manager(), Some(&aws_sdk_kms::types::KeyManagerType::Aws));
    let described = ssm.describe_parameters().send().await.unwrap();
    assert_eq!(described.parameters()[0].key_id(), Some("alias/aws/ssm"));

    // A customer key; disabling it stops decryption.
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    ssm.put_parameter()
        .name("/app/own")
        .value("mine")
        .r#type(ParameterType::SecureString)
        .key_id(&key)
        .send()
        .await
        .unwrap();
    let own = ssm.get_parameter().name("/app/own").with_decryption(true).send().await.unwrap().parameter.unwrap();
    assert_eq!(own.value(), Some("mine"));
    kms.disable_key().key_id(&key).send().await.unwrap();
    let err = ssm.get_parameter().name("/app/own").with_decryption(true).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "DisabledException");
    let err = ssm
        .put_parameter()
        .name("/app/bad-key")
        .value("x")
        .r#type(ParameterType::SecureString)
        .key_id("alias/does-not-exist")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidKeyId");
    let err = ssm.get_parameter().name("/app/bad-key").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ParameterNotFound", "a refused put stores nothing");
}

#[tokio::test]
async fn paths_filters_pagination_tags_and_limits() {
    let server = Server::start();
    let ssm = ssm(&server);
    for name in ["/svc/a", "/svc/b", "/svc/deep/c", "/other/d"] {
        put(&ssm, name, "v", ParameterType::String).await;
    }
    let one_level = ssm.get_parameters_by_path().path("/svc").send().await.unwrap();
    let names: Vec<_> = one_level.parameters().iter().filter_map(|p| p.name()).collect();
    assert_eq!(names, ["/svc/a", "/svc/b"]);
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let page = ssm
            .get_parameters_by_path()
            .path("/svc")
            .recursive(true)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        all.extend(page.parameters().iter().filter_map(|p| p.name().map(String::from)));
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(all, ["/svc/a", "/svc/b", "/svc/deep/c"]);

    let begins = ssm
        .describe_parameters()
        .parameter_filters(
            ParameterStringFilter::builder().key("Name").option("BeginsWith").values("/svc/d").build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(begins.parameters().len(), 1);
    let err = ssm
        .describe_parameters()
        .parameter_filters(ParameterStringFilter::builder().key("Name").option("Sideways").values("x").build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidFilterOption");

    ssm.add_tags_to_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id("/svc/a")
        .tags(Tag::builder().key("team").value("core").build().unwrap())
        .send()
        .await
        .unwrap();
    let tags = ssm
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id("/svc/a")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_list()[0].value(), "core");
    let tagged = ssm
        .describe_parameters()
        .parameter_filters(ParameterStringFilter::builder().key("tag:team").values("core").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.parameters().len(), 1);

    // Names and values outside AWS's rules: AWS's errors, nothing stored.
    let err =
        ssm.put_parameter().name("/aws/reserved").value("x").r#type(ParameterType::String).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");
    let err = ssm.put_parameter().name("bad name!").value("x").r#type(ParameterType::String).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");
    let deep = format!("/{}", (0..16).map(|i| format!("l{i}")).collect::<Vec<_>>().join("/"));
    let err = ssm.put_parameter().name(&deep).value("x").r#type(ParameterType::String).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "HierarchyLevelLimitExceededException");
    let big = "x".repeat(4097);
    let err = ssm.put_parameter().name("/big").value(&big).r#type(ParameterType::String).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");
    let ok = ssm
        .put_parameter()
        .name("/big")
        .value(&big)
        .r#type(ParameterType::String)
        .tier(ParameterTier::Advanced)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.tier(), Some(&ParameterTier::Advanced));
    let err = ssm.put_parameter().name("/typeless").value("x").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");
    let err = ssm
        .put_parameter()
        .name("/pattern")
        .value("abc")
        .r#type(ParameterType::String)
        .allowed_pattern("^\\d+$")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ParameterPatternMismatchException");
    let names: Vec<_> = ssm
        .describe_parameters()
        .send()
        .await
        .unwrap()
        .parameters()
        .iter()
        .filter_map(|p| p.name().map(String::from))
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");

    // Other SSM areas are not emulated, and say so in SSM's protocol.
    let err = ssm.list_documents().send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "NotImplemented");
}

#[tokio::test]
async fn parameters_survive_kill_9() {
    let dir = std::env::temp_dir().join(format!("nimbus-ssm-persist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::start_with_data_dir(&dir);
    let client = ssm(&server);
    put(&client, "/kept/plain", "p", ParameterType::String).await;
    put(&client, "/kept/secure", "s3cret", ParameterType::SecureString).await;
    client.label_parameter_version().name("/kept/plain").labels("live").send().await.unwrap();
    server.kill();
    let journal = std::fs::read_to_string(dir.join("ssm").join("state.journal")).unwrap();
    assert!(!journal.contains("s3cret"), "SecureString values are journaled encrypted");
    let server = Server::start_with_data_dir(&dir);
    let client = ssm(&server);
    let plain = client.get_parameter().name("/kept/plain:live").send().await.unwrap().parameter.unwrap();
    assert_eq!(plain.value(), Some("p"));
    let secure =
        client.get_parameter().name("/kept/secure").with_decryption(true).send().await.unwrap().parameter.unwrap();
    assert_eq!(secure.value(), Some("s3cret"));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
