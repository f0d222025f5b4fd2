//! KMS through aws-sdk-kms: key lifecycle on nimbus's clock, symmetric encryption bound to its
//! context, rotation, every signing algorithm, RSA encryption, HMAC, data keys, aliases
//! (including `alias/aws/*` on first use), grants, tags, and key material surviving `kill -9`.

use std::time::{Duration, Instant};

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    DataKeySpec, EncryptionAlgorithmSpec, KeySpec, KeyState, KeyUsageType, MacAlgorithmSpec, MessageType,
    SigningAlgorithmSpec,
};
use aws_sdk_kms::Client;

use crate::harness::*;

pub fn kms(server: &Server) -> Client {
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_kms::config::Region::new(REGION))
        .credentials_provider(aws_sdk_kms::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

pub async fn advance_clock(server: &Server, seconds: u64) {
    reqwest::Client::new()
        .post(format!("{}/_nimbus/clock/advance", server.endpoint()))
        .body(format!(r#"{{"seconds": {seconds}}}"#))
        .send()
        .await
        .unwrap();
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or_default().to_string()
}

async fn symmetric_key(kms: &Client) -> String {
    kms.create_key().description("test").send().await.unwrap().key_metadata().unwrap().key_id().to_string()
}

#[tokio::test]
async fn symmetric_encryption_is_bound_to_key_and_context() {
    let server = Server::start();
    let kms = kms(&server);
    let key = symmetric_key(&kms).await;
    let meta = kms.describe_key().key_id(&key).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::Enabled));
    assert_eq!(meta.key_spec(), Some(&KeySpec::SymmetricDefault));
    assert_eq!(meta.arn().unwrap(), format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"));
    assert_eq!(meta.encryption_algorithms(), [EncryptionAlgorithmSpec::SymmetricDefault]);

    let enc = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new("hello"))
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(enc.key_id().unwrap(), meta.arn().unwrap());
    let blob = enc.ciphertext_blob().unwrap().clone();
    // The blob names its key: no KeyId needed.
    let dec = kms.decrypt().ciphertext_blob(blob.clone()).encryption_context("purpose", "test").send().await.unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"hello");
    assert_eq!(dec.key_id().unwrap(), meta.arn().unwrap());

    // A changed or missing context, a tampered blob: InvalidCiphertextException.
    let err =
        kms.decrypt().ciphertext_blob(blob.clone()).encryption_context("purpose", "other").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidCiphertextException");
    let err = kms.decrypt().ciphertext_blob(blob.clone()).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidCiphertextException");
    let mut tampered = blob.clone().into_inner();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let err = kms
        .decrypt()
        .ciphertext_blob(Blob::new(tampered))
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidCiphertextException");
    let err = kms.decrypt().ciphertext_blob(Blob::new("garbage")).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidCiphertextException");

    // Naming another key: IncorrectKeyException.
    let other = symmetric_key(&kms).await;
    let err = kms
        .decrypt()
        .key_id(&other)
        .ciphertext_blob(blob.clone())
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "IncorrectKeyException");

    // ReEncrypt under the other key and context.
    let re = kms
        .re_encrypt()
        .ciphertext_blob(blob.clone())
        .source_encryption_context("purpose", "test")
        .destination_key_id(&other)
        .send()
        .await
        .unwrap();
    assert!(re.source_key_id().unwrap().ends_with(&key));
    let dec = kms.decrypt().ciphertext_blob(re.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"hello");
    assert!(dec.key_id().unwrap().ends_with(&other));

    // 4 KiB is the limit.
    kms.encrypt().key_id(&key).plaintext(Blob::new(vec![7u8; 4096])).send().await.unwrap();
    let err = kms.encrypt().key_id(&key).plaintext(Blob::new(vec![7u8; 4097])).send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(code(&err), "ValidationException");
    assert!(err.message().unwrap().contains("Member must have length less than or equal to 4096"), "{err:?}");

    // Disabled keys refuse; re-enabled they work again.
    kms.disable_key().key_id(&key).send().await.unwrap();
    let err = kms.encrypt().key_id(&key).plaintext(Blob::new("x")).send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(code(&err), "DisabledException");
    assert_eq!(err.message().unwrap(), format!("{} is disabled.", meta.arn().unwrap()));
    let err =
        kms.decrypt().ciphertext_blob(blob.clone()).encryption_context("purpose", "test").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "DisabledException");
    kms.enable_key().key_id(&key).send().await.unwrap();

    // Unknown keys.
    let err = kms
        .encrypt()
        .key_id("11111111-2222-3333-4444-555555555555")
        .plaintext(Blob::new("x"))
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert_eq!(code(&err), "NotFoundException");
    assert_eq!(
        err.message().unwrap(),
        format!("Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555' does not exist")
    );
}

#[tokio::test]
async fn data_keys_aliases_and_managed_keys() {
    let server = Server::start();
    let kms = kms(&server);
    let key = symmetric_key(&kms).await;
    kms.create_alias().alias_name("alias/app").target_key_id(&key).send().await.unwrap();
    let err = kms.create_alias().alias_name("alias/app").target_key_id(&key).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "AlreadyExistsException");

    let dk = kms.generate_data_key().key_id("alias/app").key_spec(DataKeySpec::Aes256).send().await.unwrap();
    assert_eq!(dk.plaintext().unwrap().as_ref().len(), 32);
    let dec = kms.decrypt().ciphertext_blob(dk.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    assert_eq!(dec.plaintext().unwrap(), dk.plaintext().unwrap());
    let dk = kms.generate_data_key_without_plaintext().key_id(&key).number_of_bytes(16).send().await.unwrap();
    let dec = kms.decrypt().ciphertext_blob(dk.ciphertext_blob().unwrap().clone()).send().await.unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref().len(), 16);
    let err = kms.generate_data_key().key_id(&key).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");

    let pair = kms
        .generate_data_key_pair()
        .key_id(&key)
        .key_pair_spec(aws_sdk_kms::types::DataKeyPairSpec::EccNistP256)
        .send()
        .await
        .unwrap();
    let dec = kms.decrypt().ciphertext_blob(pair.private_key_ciphertext_blob().unwrap().clone()).send().await.unwrap();
    assert_eq!(dec.plaintext().unwrap(), pair.private_key_plaintext().unwrap());
    assert!(!pair.public_key().unwrap().as_ref().is_empty());

    // alias/aws/* keys come into being on first use.
    let managed = kms.describe_key().key_id("alias/aws/ssm").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(managed.key_manager(), Some(&aws_sdk_kms::types::KeyManagerType::Aws));
    let again = kms.encrypt().key_id("alias/aws/ssm").plaintext(Blob::new("x")).send().await.unwrap();
    assert_eq!(again.key_id().unwrap(), managed.arn().unwrap());
    let aliases = kms.list_aliases().send().await.unwrap();
    let names: Vec<_> = aliases.aliases().iter().filter_map(|a| a.alias_name()).collect();
    assert!(names.contains(&"alias/app") && names.contains(&"alias/aws/ssm"), "{names:?}");
    let err = kms.create_alias().alias_name("alias/aws/mine").target_key_id(&key).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "NotAuthorizedException");
    let err = kms.describe_key().key_id("alias/nope").send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(code(&err), "NotFoundException");
    assert_eq!(err.message().unwrap(), format!("Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/nope is not found."));
    kms.delete_alias().alias_name("alias/app").send().await.unwrap();
    let err = kms.encrypt().key_id("alias/app").plaintext(Blob::new("x")).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "NotFoundException");

    let random = kms.generate_random().number_of_bytes(64).send().await.unwrap();
    assert_eq!(random.plaintext().unwrap().as_ref().len(), 64);
    let err = kms.generate_random().number_of_bytes(2000).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");
}

#[tokio::test]
async fn rotation_keeps_old_ciphertexts_and_deletion_follows_the_clock() {
    let server = Server::start();
    let kms = kms(&server);
    let key = symmetric_key(&kms).await;
    let old = kms.encrypt().key_id(&key).plaintext(Blob::new("before")).send().await.unwrap().ciphertext_blob.unwrap();
    kms.enable_key_rotation().key_id(&key).rotation_period_in_days(90).send().await.unwrap();
    let status = kms.get_key_rotation_status().key_id(&key).send().await.unwrap();
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(90));
    kms.rotate_key_on_demand().key_id(&key).send().await.unwrap();
    let new = kms.encrypt().key_id(&key).plaintext(Blob::new("after")).send().await.unwrap().ciphertext_blob.unwrap();
    for (blob, text) in [(old, "before"), (new, "after")] {
        let dec = kms.decrypt().ciphertext_blob(blob).send().await.unwrap();
        assert_eq!(dec.plaintext().unwrap().as_ref(), text.as_bytes());
    }
    // Automatic rotation fires on nimbus's clock.
    advance_clock(&server, 91 * 86_400).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rotations = kms.list_key_rotations().key_id(&key).send().await.unwrap();
        let kinds: Vec<_> =
            rotations.rotations().iter().filter_map(|r| r.rotation_type().map(|t| t.as_str().to_string())).collect();
        if kinds.len() == 2 {
            assert_eq!(kinds, ["ON_DEMAND", "AUTOMATIC"]);
            break;
        }
        assert!(Instant::now() < deadline, "no automatic rotation: {kinds:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let scheduled = kms.schedule_key_deletion().key_id(&key).pending_window_in_days(7).send().await.unwrap();
    assert_eq!(scheduled.key_state(), Some(&KeyState::PendingDeletion));
    let err = kms.encrypt().key_id(&key).plaintext(Blob::new("x")).send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(code(&err), "KMSInvalidStateException");
    assert!(err.message().unwrap().ends_with("is pending deletion."), "{err:?}");
    kms.cancel_key_deletion().key_id(&key).send().await.unwrap();
    let meta = kms.describe_key().key_id(&key).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(meta.key_state(), Some(&KeyState::Disabled));
    let err = kms.schedule_key_deletion().key_id(&key).pending_window_in_days(3).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");
    kms.schedule_key_deletion().key_id(&key).pending_window_in_days(7).send().await.unwrap();
    advance_clock(&server, 8 * 86_400).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match kms.describe_key().key_id(&key).send().await {
            Err(e) => {
                assert_eq!(code(&e.into_service_error()), "NotFoundException");
                break;
            }
            Ok(_) => assert!(Instant::now() < deadline, "key not deleted"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn every_signing_algorithm_signs_and_verifies() {
    let server = Server::start();
    let kms = kms(&server);
    for spec in [
        KeySpec::EccNistP256,
        KeySpec::EccNistP384,
        KeySpec::EccNistP521,
        KeySpec::EccSecgP256K1,
        KeySpec::EccNistEdwards25519,
        KeySpec::Rsa2048,
    ] {
        let meta = kms
            .create_key()
            .key_spec(spec.clone())
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let key = meta.key_id().to_string();
        let public = kms.get_public_key().key_id(&key).send().await.unwrap();
        assert_eq!(public.key_spec(), Some(&spec));
        assert!(public.public_key().unwrap().as_ref().starts_with(&[0x30]), "DER SubjectPublicKeyInfo");
        for algorithm in meta.signing_algorithms() {
            let sig = kms
                .sign()
                .key_id(&key)
                .message(Blob::new("message"))
                .message_type(MessageType::Raw)
                .signing_algorithm(algorithm.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{spec:?} {algorithm:?}: {:?}", e.into_service_error()));
            let ok = kms
                .verify()
                .key_id(&key)
                .message(Blob::new("message"))
                .signature(sig.signature().unwrap().clone())
                .signing_algorithm(algorithm.clone())
                .send()
                .await
                .unwrap();
            assert!(ok.signature_valid());
            let err = kms
                .verify()
                .key_id(&key)
                .message(Blob::new("changed"))
                .signature(sig.signature().unwrap().clone())
                .signing_algorithm(algorithm.clone())
                .send()
                .await
                .unwrap_err();
            assert_eq!(code(&err.into_service_error()), "KMSInvalidSignatureException", "{spec:?} {algorithm:?}");
        }
        // Encrypt with a signing key: InvalidKeyUsageException.
        let err = kms.encrypt().key_id(&key).plaintext(Blob::new("x")).send().await.unwrap_err();
        assert_eq!(code(&err.into_service_error()), "InvalidKeyUsageException");
    }
    // A digest must have the algorithm's length.
    let key = kms.create_key().key_spec(KeySpec::EccNistP256).key_usage(KeyUsageType::SignVerify).send().await.unwrap();
    let key = key.key_metadata.unwrap().key_id;
    let err = kms
        .sign()
        .key_id(&key)
        .message(Blob::new(vec![1u8; 20]))
        .message_type(MessageType::Digest)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");
    let err = kms
        .sign()
        .key_id(&key)
        .message(Blob::new("m"))
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "InvalidKeyUsageException");
}

#[tokio::test]
async fn rsa_encryption_hmac_and_bad_specs() {
    let server = Server::start();
    let kms = kms(&server);
    let key = kms.create_key().key_spec(KeySpec::Rsa2048).key_usage(KeyUsageType::EncryptDecrypt).send().await.unwrap();
    let key = key.key_metadata.unwrap().key_id;
    for alg in [EncryptionAlgorithmSpec::RsaesOaepSha1, EncryptionAlgorithmSpec::RsaesOaepSha256] {
        let ct = kms
            .encrypt()
            .key_id(&key)
            .plaintext(Blob::new("secret"))
            .encryption_algorithm(alg.clone())
            .send()
            .await
            .unwrap();
        let dec = kms
            .decrypt()
            .key_id(&key)
            .ciphertext_blob(ct.ciphertext_blob().unwrap().clone())
            .encryption_algorithm(alg.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(dec.plaintext().unwrap().as_ref(), b"secret");
    }
    let err = kms
        .encrypt()
        .key_id(&key)
        .plaintext(Blob::new(vec![0u8; 191]))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");

    let mac_key =
        kms.create_key().key_spec(KeySpec::Hmac256).key_usage(KeyUsageType::GenerateVerifyMac).send().await.unwrap();
    let mac_key = mac_key.key_metadata.unwrap().key_id;
    let mac = kms
        .generate_mac()
        .key_id(&mac_key)
        .message(Blob::new("m"))
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    assert_eq!(mac.mac().unwrap().as_ref().len(), 32);
    let ok = kms
        .verify_mac()
        .key_id(&mac_key)
        .message(Blob::new("m"))
        .mac(mac.mac().unwrap().clone())
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap();
    assert!(ok.mac_valid());
    let err = kms
        .verify_mac()
        .key_id(&mac_key)
        .message(Blob::new("other"))
        .mac(mac.mac().unwrap().clone())
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "KMSInvalidMacException");

    // A spec and usage that do not go together; a key spec outside the model.
    let err = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");
    let err = kms.create_key().key_spec(KeySpec::from("RSA_1024")).send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "ValidationException");
    let keys = kms.list_keys().send().await.unwrap();
    assert_eq!(keys.keys().len(), 2, "refused keys are not stored");
}

#[tokio::test]
async fn grants_tags_and_policies_are_stored() {
    let server = Server::start();
    let kms = kms(&server);
    let key = symmetric_key(&kms).await;
    let grant = kms
        .create_grant()
        .key_id(&key)
        .grantee_principal("arn:aws:iam::000000000000:role/app")
        .retiring_principal("arn:aws:iam::000000000000:role/admin")
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .name("g1")
        .send()
        .await
        .unwrap();
    let grants = kms.list_grants().key_id(&key).send().await.unwrap();
    assert_eq!(grants.grants().len(), 1);
    assert_eq!(grants.grants()[0].grant_id(), grant.grant_id());
    let retirable =
        kms.list_retirable_grants().retiring_principal("arn:aws:iam::000000000000:role/admin").send().await.unwrap();
    assert_eq!(retirable.grants().len(), 1);
    kms.retire_grant().grant_token(grant.grant_token().unwrap()).send().await.unwrap();
    assert!(kms.list_grants().key_id(&key).send().await.unwrap().grants().is_empty());

    kms.tag_resource()
        .key_id(&key)
        .tags(aws_sdk_kms::types::Tag::builder().tag_key("env").tag_value("dev").build().unwrap())
        .send()
        .await
        .unwrap();
    let tags = kms.list_resource_tags().key_id(&key).send().await.unwrap();
    assert_eq!(tags.tags()[0].tag_value(), "dev");
    kms.untag_resource().key_id(&key).tag_keys("env").send().await.unwrap();
    assert!(kms.list_resource_tags().key_id(&key).send().await.unwrap().tags().is_empty());

    let policy = kms.get_key_policy().key_id(&key).send().await.unwrap();
    assert!(policy.policy().unwrap().contains("kms:*"));
    let mine = r#"{"Version":"2012-10-17","Statement":[]}"#;
    kms.put_key_policy().key_id(&key).policy(mine).send().await.unwrap();
    assert_eq!(kms.get_key_policy().key_id(&key).send().await.unwrap().policy(), Some(mine));
    let err = kms.put_key_policy().key_id(&key).policy("not json").send().await.unwrap_err();
    assert_eq!(code(&err.into_service_error()), "MalformedPolicyDocumentException");

    // Multi-region keys replicate with their material.
    let mrk = kms.create_key().multi_region(true).send().await.unwrap().key_metadata.unwrap();
    assert!(mrk.key_id().starts_with("mrk-"));
    let ct = kms.encrypt().key_id(mrk.key_id()).plaintext(Blob::new("mr")).send().await.unwrap();
    kms.replicate_key().key_id(mrk.key_id()).replica_region("eu-west-1").send().await.unwrap();
    let eu = {
        let config = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .endpoint_url(server.endpoint())
            .region(aws_sdk_kms::config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_kms::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        Client::from_conf(config)
    };
    let replica = eu.describe_key().key_id(mrk.key_id()).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(
        replica.multi_region_configuration().unwrap().multi_region_key_type(),
        Some(&aws_sdk_kms::types::MultiRegionKeyType::Replica)
    );
    assert_eq!(eu.list_keys().send().await.unwrap().keys().len(), 1);
    let _ = ct;
}

#[tokio::test]
async fn keys_and_ciphertexts_survive_kill_9_and_material_is_private() {
    let dir = std::env::temp_dir().join(format!("nimbus-kms-persist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::start_with_data_dir(&dir);
    let client = kms(&server);
    let key = symmetric_key(&client).await;
    client.create_alias().alias_name("alias/kept").target_key_id(&key).send().await.unwrap();
    let blob = client
        .encrypt()
        .key_id("alias/kept")
        .plaintext(Blob::new("durable"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let sign_key =
        client.create_key().key_spec(KeySpec::EccNistP256).key_usage(KeyUsageType::SignVerify).send().await.unwrap();
    let sign_key = sign_key.key_metadata.unwrap().key_id;
    let public = client.get_public_key().key_id(&sign_key).send().await.unwrap().public_key.unwrap();
    server.kill();

    let material = dir.join("kms").join("material.journal");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&material).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "key material file is owner-only");
    }
    let state = std::fs::read_to_string(dir.join("kms").join("state.journal")).unwrap();
    let material_text = std::fs::read_to_string(&material).unwrap();
    assert!(state.contains(&key), "metadata journaled");
    let mut secrets = 0;
    for line in material_text.lines() {
        let record: serde_json::Value = serde_json::from_str(line.split_once(' ').unwrap().1).unwrap();
        for version in record["v"].as_array().unwrap() {
            assert!(!state.contains(version.as_str().unwrap()), "key material leaked into the state journal");
            secrets += 1;
        }
    }
    assert_eq!(secrets, 2);

    let server = Server::start_with_data_dir(&dir);
    let client = kms(&server);
    let dec = client.decrypt().ciphertext_blob(blob).send().await.unwrap();
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"durable");
    assert!(dec.key_id().unwrap().ends_with(&key));
    let again = client.get_public_key().key_id(&sign_key).send().await.unwrap().public_key.unwrap();
    assert_eq!(again, public);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_function_with_a_disabled_kms_key_cannot_be_invoked() {
    use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
    let server = Server::start();
    let kms = kms(&server);
    let lambda = server.lambda();
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    lambda
        .create_function()
        .function_name("env-kms")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .kms_key_arn(key.arn().unwrap())
        .environment(Environment::builder().variables("GREETING", "hi").build())
        .code(
            FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(python_zip(
                    "import os\ndef handler(event, context):\n    return os.environ['GREETING']\n",
                )))
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "env-kms").await;
    let out = lambda.invoke().function_name("env-kms").send().await.unwrap();
    assert_eq!(out.payload().unwrap().as_ref(), br#""hi""#, "the function sees plain values");
    kms.disable_key().key_id(key.key_id()).send().await.unwrap();
    let err = lambda.invoke().function_name("env-kms").send().await.unwrap_err();
    let err = err.into_service_error();
    assert_eq!(err.code(), Some("KMSDisabledException"));
    assert!(err.message().unwrap().contains("because the KMS key used is disabled"), "{err:?}");
    let config = lambda.get_function_configuration().function_name("env-kms").send().await.unwrap();
    let env = config.environment().unwrap();
    assert_eq!(env.variables(), None, "the values are not shown while the key cannot decrypt");
    let shown = env.error().unwrap();
    assert_eq!(shown.error_code(), Some("KMSDisabledException"));
    assert!(shown.message().unwrap().contains("because the KMS key used is disabled"), "{shown:?}");
    kms.enable_key().key_id(key.key_id()).send().await.unwrap();
    lambda.invoke().function_name("env-kms").send().await.unwrap();
    let config = lambda.get_function_configuration().function_name("env-kms").send().await.unwrap();
    assert_eq!(config.environment().unwrap().variables().unwrap()["GREETING"], "hi");
    assert!(config.environment().unwrap().error().is_none());
}

/// Every file nimbus keeps for Lambda under `dir`, code blobs aside, as bytes.
fn lambda_state_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pending = vec![dir.join("lambda")];
    while let Some(path) = pending.pop() {
        if path.file_name().is_some_and(|n| n == "blobs") {
            continue;
        }
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.extend(bytes);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// With `KMSKeyArn`, a function's environment variables are kept at rest as KMS ciphertext
/// (never in the clear in Lambda's journal), and after a restart the function still sees and
/// shows the plain values; a key that cannot decrypt after the restart stops it until enabled.
#[tokio::test]
async fn environment_variables_are_encrypted_at_rest_with_the_functions_key() {
    use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
    let dir = std::env::temp_dir().join(format!("nimbus-it-env-kms-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::start_with_data_dir(&dir);
    let kms = kms(&server);
    let lambda = server.lambda();
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    let code = "import os\ndef handler(event, context):\n    return os.environ['SECRET']\n";
    for (name, kms_key, value) in
        [("sealed", Some(key.arn().unwrap()), "sealed-value-7f3a"), ("plain", None, "plain-value-9c1d")]
    {
        lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::Python312)
            .role(ROLE)
            .handler("index.handler")
            .set_kms_key_arn(kms_key.map(str::to_string))
            .environment(Environment::builder().variables("SECRET", value).build())
            .code(FunctionCode::builder().zip_file(aws_sdk_lambda::primitives::Blob::new(python_zip(code))).build())
            .publish(true)
            .send()
            .await
            .unwrap();
        wait_updated(&lambda, &name).await;
    }
    let out = lambda.invoke().function_name("sealed").send().await.unwrap();
    assert_eq!(out.payload().unwrap().as_ref(), br#""sealed-value-7f3a""#);
    server.kill();

    let at_rest = lambda_state_bytes(&dir);
    assert!(contains(&at_rest, "plain-value-9c1d"), "the journal was read (a function without a key is in it)");
    assert!(!contains(&at_rest, "sealed-value-7f3a"), "a KMSKeyArn function's variable is in the journal in the clear");

    let server = Server::start_with_data_dir(&dir);
    let (kms, lambda) = (self::kms(&server), server.lambda());
    for qualifier in ["$LATEST", "1"] {
        let config =
            lambda.get_function_configuration().function_name("sealed").qualifier(qualifier).send().await.unwrap();
        assert_eq!(config.environment().unwrap().variables().unwrap()["SECRET"], "sealed-value-7f3a", "{qualifier}");
        let out = lambda.invoke().function_name("sealed").qualifier(qualifier).send().await.unwrap();
        assert_eq!(out.payload().unwrap().as_ref(), br#""sealed-value-7f3a""#, "{qualifier}");
    }
    // A change of something else keeps the variables, still sealed.
    lambda.update_function_configuration().function_name("sealed").timeout(9).send().await.unwrap();
    wait_updated(&lambda, "sealed").await;
    kms.disable_key().key_id(key.key_id()).send().await.unwrap();
    server.kill();
    assert!(!contains(&lambda_state_bytes(&dir), "sealed-value-7f3a"));

    // Restarted while the key is disabled: nothing can decrypt the variables until it is enabled.
    let server = Server::start_with_data_dir(&dir);
    let (kms, lambda) = (self::kms(&server), server.lambda());
    let err = lambda.invoke().function_name("sealed").send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("KMSDisabledException"), "{err:?}");
    let config = lambda.get_function_configuration().function_name("sealed").send().await.unwrap();
    assert_eq!(config.timeout(), Some(9));
    assert_eq!(config.environment().unwrap().error().unwrap().error_code(), Some("KMSDisabledException"));
    kms.enable_key().key_id(key.key_id()).send().await.unwrap();
    let out = lambda.invoke().function_name("sealed").send().await.unwrap();
    assert_eq!(out.payload().unwrap().as_ref(), br#""sealed-value-7f3a""#);
    let config = lambda.get_function_configuration().function_name("sealed").send().await.unwrap();
    assert_eq!(config.environment().unwrap().variables().unwrap()["SECRET"], "sealed-value-7f3a");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
