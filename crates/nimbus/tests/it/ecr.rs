//! ECR's repository control plane through aws-sdk-ecr: create/describe/delete with AWS's
//! defaults, URIs and errors, pagination, tags, lifecycle and repository policies, tag
//! mutability and scanning settings, KMS encryption, the empty image listings, and
//! GetAuthorizationToken answering NotImplemented.

use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageIdentifier, ImageScanningConfiguration, ImageTagMutability, Tag,
};
use aws_sdk_ecr::Client;

use crate::harness::*;

pub fn ecr(server: &Server) -> Client {
    let config = aws_sdk_ecr::Config::builder()
        .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_ecr::config::Region::new(REGION))
        .credentials_provider(aws_sdk_ecr::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or_default().to_string()
}

const LIFECYCLE: &str = r#"{"rules":[{"rulePriority":1,"description":"expire old","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}}]}"#;
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":["ecr:BatchGetImage"]}]}"#;

#[tokio::test]
async fn repositories_are_created_described_and_deleted() {
    let server = Server::start();
    let ecr = ecr(&server);
    let missing = ecr.describe_repositories().repository_names("serverless-app-dev").send().await.unwrap_err();
    let missing = missing.into_service_error();
    assert_eq!(code(&missing), "RepositoryNotFoundException");
    assert_eq!(
        missing.message().unwrap(),
        format!("The repository with name 'serverless-app-dev' does not exist in the registry with id '{ACCOUNT}'")
    );

    let created = ecr.create_repository().repository_name("team/web").send().await.unwrap();
    let repo = created.repository().unwrap();
    assert_eq!(repo.repository_name(), Some("team/web"));
    assert_eq!(repo.registry_id(), Some(ACCOUNT));
    assert_eq!(repo.repository_arn(), Some(format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/web").as_str()));
    assert_eq!(repo.repository_uri(), Some(format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/web").as_str()));
    assert!(repo.created_at().is_some());
    assert_eq!(repo.image_tag_mutability(), Some(&ImageTagMutability::Mutable));
    assert_eq!(repo.image_scanning_configuration().unwrap().scan_on_push(), false);
    let enc = repo.encryption_configuration().unwrap();
    assert_eq!((enc.encryption_type(), enc.kms_key()), (&EncryptionType::Aes256, None));

    let dup = ecr.create_repository().repository_name("team/web").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&dup), "RepositoryAlreadyExistsException");
    assert_eq!(
        dup.message().unwrap(),
        format!("The repository with name 'team/web' already exists in the registry with id '{ACCOUNT}'")
    );
    // The model's name rule: lower case components.
    let bad = ecr.create_repository().repository_name("Upper").send().await.unwrap_err().into_service_error();
    assert!(code(&bad).contains("Exception"), "{bad:?}");

    let settings = ecr
        .create_repository()
        .repository_name("locked")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
        .tags(Tag::builder().key("team").value("core").build().unwrap())
        .send()
        .await
        .unwrap();
    let locked = settings.repository().unwrap();
    assert_eq!(locked.image_tag_mutability(), Some(&ImageTagMutability::Immutable));
    assert!(locked.image_scanning_configuration().unwrap().scan_on_push());

    let described = ecr.describe_repositories().repository_names("locked").send().await.unwrap();
    assert_eq!(described.repositories()[0], *locked);

    // Pagination over the whole registry, in name order.
    for n in ["p-a", "p-b", "p-c"] {
        ecr.create_repository().repository_name(n).send().await.unwrap();
    }
    let mut names = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = ecr.describe_repositories().max_results(2).set_next_token(token).send().await.unwrap();
        pages += 1;
        assert!(page.repositories().len() <= 2);
        names.extend(page.repositories().iter().map(|r| r.repository_name().unwrap().to_string()));
        token = page.next_token().map(String::from);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["locked", "p-a", "p-b", "p-c", "team/web"]);
    assert_eq!(pages, 3);

    // No image can exist: listings are empty, a named image is not found.
    let images = ecr.list_images().repository_name("team/web").send().await.unwrap();
    assert!(images.image_ids().is_empty());
    let details = ecr.describe_images().repository_name("team/web").send().await.unwrap();
    assert!(details.image_details().is_empty());
    let err = ecr
        .describe_images()
        .repository_name("team/web")
        .image_ids(ImageIdentifier::builder().image_tag("latest").build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "ImageNotFoundException");
    let err = ecr.list_images().repository_name("nope").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "RepositoryNotFoundException");

    let deleted = ecr.delete_repository().repository_name("team/web").force(true).send().await.unwrap();
    assert_eq!(deleted.repository().unwrap().repository_name(), Some("team/web"));
    let err = ecr.delete_repository().repository_name("team/web").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "RepositoryNotFoundException");

    let registry = ecr.describe_registry().send().await.unwrap();
    assert_eq!(registry.registry_id(), Some(ACCOUNT));
    assert!(registry.replication_configuration().unwrap().rules().is_empty());

    // Images cannot be pushed, so no registry login is handed out.
    let err = ecr.get_authorization_token().send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "NotImplemented");
}

#[tokio::test]
async fn tags_policies_and_settings() {
    let server = Server::start();
    let ecr = ecr(&server);
    let arn = ecr
        .create_repository()
        .repository_name("app")
        .tags(Tag::builder().key("a").value("1").build().unwrap())
        .send()
        .await
        .unwrap()
        .repository()
        .unwrap()
        .repository_arn()
        .unwrap()
        .to_string();
    ecr.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("a").value("2").build().unwrap())
        .tags(Tag::builder().key("b").value("3").build().unwrap())
        .send()
        .await
        .unwrap();
    ecr.untag_resource().resource_arn(&arn).tag_keys("b").send().await.unwrap();
    let tags = ecr.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, [("a", "2")]);
    let gone_arn = format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/gone");
    let err = ecr.list_tags_for_resource().resource_arn(&gone_arn).send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "RepositoryNotFoundException");
    let err = ecr.list_tags_for_resource().resource_arn("not-an-arn").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "InvalidParameterException");

    // Lifecycle policy.
    let err = ecr.get_lifecycle_policy().repository_name("app").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "LifecyclePolicyNotFoundException");
    assert_eq!(
        err.message().unwrap(),
        format!(
            "Lifecycle policy does not exist for the repository with name 'app' in the registry with id '{ACCOUNT}'"
        )
    );
    let put = ecr.put_lifecycle_policy().repository_name("app").lifecycle_policy_text(LIFECYCLE).send().await.unwrap();
    assert_eq!((put.registry_id(), put.lifecycle_policy_text()), (Some(ACCOUNT), Some(LIFECYCLE)));
    let got = ecr.get_lifecycle_policy().repository_name("app").send().await.unwrap();
    assert_eq!(got.lifecycle_policy_text(), Some(LIFECYCLE));
    let invalid = LIFECYCLE.replace("expire", "keep");
    let err = ecr
        .put_lifecycle_policy()
        .repository_name("app")
        .lifecycle_policy_text(invalid)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "InvalidParameterException");
    let deleted = ecr.delete_lifecycle_policy().repository_name("app").send().await.unwrap();
    assert_eq!(deleted.lifecycle_policy_text(), Some(LIFECYCLE));
    let err = ecr.delete_lifecycle_policy().repository_name("app").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "LifecyclePolicyNotFoundException");

    // Repository policy.
    let err = ecr.get_repository_policy().repository_name("app").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "RepositoryPolicyNotFoundException");
    assert_eq!(
        err.message().unwrap(),
        format!(
            "Repository policy does not exist for the repository with name 'app' in the registry with id '{ACCOUNT}'"
        )
    );
    let set = ecr.set_repository_policy().repository_name("app").policy_text(POLICY).send().await.unwrap();
    assert_eq!(set.policy_text(), Some(POLICY));
    assert_eq!(ecr.get_repository_policy().repository_name("app").send().await.unwrap().policy_text(), Some(POLICY));
    let err = ecr
        .set_repository_policy()
        .repository_name("app")
        .policy_text("{not json")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "InvalidParameterException");
    ecr.delete_repository_policy().repository_name("app").send().await.unwrap();
    let err = ecr.delete_repository_policy().repository_name("app").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "RepositoryPolicyNotFoundException");

    // Settings.
    let m = ecr
        .put_image_tag_mutability()
        .repository_name("app")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .unwrap();
    assert_eq!(m.image_tag_mutability(), Some(&ImageTagMutability::Immutable));
    let s = ecr
        .put_image_scanning_configuration()
        .repository_name("app")
        .image_scanning_configuration(ImageScanningConfiguration::builder().scan_on_push(true).build())
        .send()
        .await
        .unwrap();
    assert!(s.image_scanning_configuration().unwrap().scan_on_push());
    let repo = ecr.describe_repositories().repository_names("app").send().await.unwrap();
    let repo = &repo.repositories()[0];
    assert_eq!(repo.image_tag_mutability(), Some(&ImageTagMutability::Immutable));
    assert!(repo.image_scanning_configuration().unwrap().scan_on_push());
    let err = ecr
        .put_image_tag_mutability()
        .repository_name("nope")
        .image_tag_mutability(ImageTagMutability::Mutable)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "RepositoryNotFoundException");
}

#[tokio::test]
async fn kms_encryption_resolves_the_key() {
    let server = Server::start();
    let ecr = ecr(&server);
    let repo = ecr
        .create_repository()
        .repository_name("sealed")
        .encryption_configuration(
            EncryptionConfiguration::builder().encryption_type(EncryptionType::Kms).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let enc = repo.repository().unwrap().encryption_configuration().unwrap();
    assert_eq!(enc.encryption_type(), &EncryptionType::Kms);
    let key = enc.kms_key().unwrap();
    assert!(key.starts_with(&format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/")), "{key}");
    let err = ecr
        .create_repository()
        .repository_name("badkey")
        .encryption_configuration(
            EncryptionConfiguration::builder()
                .encryption_type(EncryptionType::Kms)
                .kms_key("alias/does-not-exist")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&err), "KmsException");
    let err = ecr.describe_repositories().repository_names("badkey").send().await.unwrap_err().into_service_error();
    assert_eq!(code(&err), "RepositoryNotFoundException");
}
