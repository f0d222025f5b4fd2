//! S3 through aws-sdk-s3: buckets, objects (ranges, conditions, metadata, checksums),
//! listing, multipart, presigned URLs, virtual-host addressing, S3's XML errors, and
//! durability across kill -9.

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};

use crate::harness::{Server, TempDir};

async fn body(out: aws_sdk_s3::operation::get_object::GetObjectOutput) -> Vec<u8> {
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

fn code<E: ProvideErrorMetadata>(err: &E) -> String {
    err.code().unwrap_or("").to_string()
}

#[tokio::test]
async fn buckets_objects_and_errors() {
    let server = Server::start();
    let s3 = server.s3();
    s3.create_bucket().bucket("alpha").send().await.unwrap();
    let listed = s3.list_buckets().send().await.unwrap();
    assert_eq!(listed.buckets().iter().filter_map(|b| b.name()).collect::<Vec<_>>(), ["alpha"]);
    s3.head_bucket().bucket("alpha").send().await.unwrap();

    let put = s3
        .put_object()
        .bucket("alpha")
        .key("dir/hello world.txt")
        .body(ByteStream::from_static(b"hello world"))
        .content_type("text/plain")
        .metadata("color", "blue")
        .send()
        .await
        .unwrap();
    assert_eq!(put.e_tag(), Some("\"5eb63bbbe01eeed093cb22bb8f5acdc3\""));

    let got = s3.get_object().bucket("alpha").key("dir/hello world.txt").send().await.unwrap();
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.metadata().unwrap().get("color").map(String::as_str), Some("blue"));
    assert_eq!(got.content_length(), Some(11));
    assert_eq!(body(got).await, b"hello world");

    let ranged = s3.get_object().bucket("alpha").key("dir/hello world.txt").range("bytes=6-").send().await.unwrap();
    assert_eq!(ranged.content_range(), Some("bytes 6-10/11"));
    assert_eq!(body(ranged).await, b"world");
    let err = s3.get_object().bucket("alpha").key("dir/hello world.txt").range("bytes=50-").send().await.unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "InvalidRange");

    let err = s3.get_object().bucket("alpha").key("dir/hello world.txt").if_match("\"nope\"").send().await.unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 412);
    let err = s3
        .get_object()
        .bucket("alpha")
        .key("dir/hello world.txt")
        .if_none_match("\"5eb63bbbe01eeed093cb22bb8f5acdc3\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 304);

    // Conditional write: If-None-Match: * refuses to overwrite.
    let err = s3
        .put_object()
        .bucket("alpha")
        .key("dir/hello world.txt")
        .if_none_match("*")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "PreconditionFailed");

    let head = s3.head_object().bucket("alpha").key("dir/hello world.txt").send().await.unwrap();
    assert_eq!(head.content_length(), Some(11));

    let err = s3.get_object().bucket("alpha").key("missing").send().await.unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_no_such_key(), "{service:?}");
    assert_eq!(service.message(), Some("The specified key does not exist."));
    assert!(service.request_id().is_some_and(|r| !r.is_empty()));
    let err = s3.get_object().bucket("nobucket").key("k").send().await.unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "NoSuchBucket");
    let err = s3.create_bucket().bucket("Bad_Name").send().await.unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "InvalidBucketName");

    s3.copy_object().bucket("alpha").key("copy.txt").copy_source("alpha/dir/hello%20world.txt").send().await.unwrap();
    let copy = s3.get_object().bucket("alpha").key("copy.txt").send().await.unwrap();
    assert_eq!(copy.metadata().unwrap().get("color").map(String::as_str), Some("blue"));

    let err = s3.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "BucketNotEmpty");
    let deleted = s3
        .delete_objects()
        .bucket("alpha")
        .delete(
            aws_sdk_s3::types::Delete::builder()
                .objects(aws_sdk_s3::types::ObjectIdentifier::builder().key("copy.txt").build().unwrap())
                .objects(aws_sdk_s3::types::ObjectIdentifier::builder().key("dir/hello world.txt").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.deleted().len(), 2);
    s3.delete_bucket().bucket("alpha").send().await.unwrap();
    assert!(s3.head_bucket().bucket("alpha").send().await.is_err());
}

#[tokio::test]
async fn listing_with_prefixes_and_pages() {
    let server = Server::start();
    let s3 = server.s3();
    s3.create_bucket().bucket("lister").send().await.unwrap();
    for key in ["a/1", "a/2", "b/1", "c", "d"] {
        s3.put_object().bucket("lister").key(key).body(ByteStream::from_static(b"x")).send().await.unwrap();
    }
    let page = s3.list_objects_v2().bucket("lister").delimiter("/").send().await.unwrap();
    let prefixes: Vec<_> = page.common_prefixes().iter().filter_map(|p| p.prefix()).collect();
    assert_eq!(prefixes, ["a/", "b/"]);
    assert_eq!(page.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["c", "d"]);
    assert_eq!(page.key_count(), Some(4));

    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket("lister")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        if page.is_truncated() != Some(true) {
            break;
        }
        token = page.next_continuation_token().map(str::to_string);
    }
    assert_eq!(keys, ["a/1", "a/2", "b/1", "c", "d"]);
    let after = s3.list_objects_v2().bucket("lister").start_after("b/1").send().await.unwrap();
    assert_eq!(after.contents().iter().filter_map(|o| o.key()).collect::<Vec<_>>(), ["c", "d"]);
    let v1 = s3.list_objects().bucket("lister").prefix("a/").send().await.unwrap();
    assert_eq!(v1.contents().len(), 2);
}

#[tokio::test]
async fn checksums_multipart_and_bad_digests() {
    let server = Server::start();
    let s3 = server.s3();
    s3.create_bucket().bucket("sums").send().await.unwrap();
    // The SDK streams with aws-chunked and a trailing checksum for each algorithm.
    for (algorithm, expected) in [
        (ChecksumAlgorithm::Crc32, "DUoRhQ=="),
        (ChecksumAlgorithm::Crc32C, "yZRlqg=="),
        (ChecksumAlgorithm::Crc64Nvme, "jSnVw/bqjr4="),
        (ChecksumAlgorithm::Sha1, "Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
        (ChecksumAlgorithm::Sha256, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="),
    ] {
        let key = format!("k-{}", algorithm.as_str());
        s3.put_object()
            .bucket("sums")
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from_static(b"hello world"))
            .send()
            .await
            .unwrap();
        let head = s3
            .head_object()
            .bucket("sums")
            .key(&key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let got = head
            .checksum_crc32()
            .or(head.checksum_crc32_c())
            .or(head.checksum_crc64_nvme())
            .or(head.checksum_sha1())
            .or(head.checksum_sha256());
        assert_eq!(got, Some(expected), "{algorithm:?}");
    }
    // A wrong checksum or Content-MD5: S3's error, nothing stored.
    let err = s3
        .put_object()
        .bucket("sums")
        .key("bad")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"hello world"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "BadDigest");
    let err = s3
        .put_object()
        .bucket("sums")
        .key("bad")
        .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
        .body(ByteStream::from_static(b"hello world"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "BadDigest");
    assert!(s3.head_object().bucket("sums").key("bad").send().await.is_err(), "nothing was stored");

    // Multipart: two parts, the first at the 5 MiB minimum.
    let created = s3
        .create_multipart_upload()
        .bucket("sums")
        .key("big")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    let id = created.upload_id().unwrap().to_string();
    let part1 = vec![b'a'; 5 * 1024 * 1024];
    let part2 = b"tail".to_vec();
    let mut parts = Vec::new();
    for (n, data) in [(1, part1.clone()), (2, part2.clone())] {
        let out = s3
            .upload_part()
            .bucket("sums")
            .key("big")
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(data))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
                .build(),
        );
    }
    let listed = s3.list_parts().bucket("sums").key("big").upload_id(&id).send().await.unwrap();
    assert_eq!(listed.parts().len(), 2);
    // Parts out of order are refused.
    let err = s3
        .complete_multipart_upload()
        .bucket("sums")
        .key("big")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(parts[1].clone()).parts(parts[0].clone()).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "InvalidPartOrder");
    let done = s3
        .complete_multipart_upload()
        .bucket("sums")
        .key("big")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    assert!(done.e_tag().unwrap().ends_with("-2\""), "{:?}", done.e_tag());
    let got = s3.get_object().bucket("sums").key("big").send().await.unwrap();
    assert_eq!(got.content_length(), Some((part1.len() + part2.len()) as i64));
    let bytes = body(got).await;
    assert_eq!(&bytes[bytes.len() - 4..], b"tail");
    let err = s3.list_parts().bucket("sums").key("big").upload_id(&id).send().await.unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "NoSuchUpload");

    // A too-small first part.
    let small = s3.create_multipart_upload().bucket("sums").key("small").send().await.unwrap();
    let sid = small.upload_id().unwrap();
    let mut parts = Vec::new();
    for n in 1..=2 {
        let out = s3
            .upload_part()
            .bucket("sums")
            .key("small")
            .upload_id(sid)
            .part_number(n)
            .body(ByteStream::from_static(b"tiny"))
            .send()
            .await
            .unwrap();
        parts.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag().unwrap()).build());
    }
    let err = s3
        .complete_multipart_upload()
        .bucket("sums")
        .key("small")
        .upload_id(sid)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "EntityTooSmall");
    s3.abort_multipart_upload().bucket("sums").key("small").upload_id(sid).send().await.unwrap();
}

#[tokio::test]
async fn presigned_urls_expire_on_nimbus_clock() {
    let server = Server::start();
    let s3 = server.s3();
    s3.create_bucket().bucket("signed").send().await.unwrap();
    let config = PresigningConfig::expires_in(std::time::Duration::from_secs(60)).unwrap();
    let put = s3.put_object().bucket("signed").key("p.txt").presigned(config.clone()).await.unwrap();
    let http = reqwest::Client::new();
    let answer = http.put(put.uri()).body("presigned body").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let get = s3.get_object().bucket("signed").key("p.txt").presigned(config).await.unwrap();
    let answer = http.get(get.uri()).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "presigned body");

    http.post(format!("{}/_nimbus/clock/advance", server.endpoint()))
        .json(&serde_json::json!({"seconds": 120}))
        .send()
        .await
        .unwrap();
    let answer = http.get(get.uri()).send().await.unwrap();
    assert_eq!(answer.status(), 403);
    let text = answer.text().await.unwrap();
    assert!(text.contains("<Code>AccessDenied</Code>") && text.contains("Request has expired"), "{text}");
}

#[tokio::test]
async fn virtual_host_addressing_and_xml_errors() {
    let server = Server::start();
    let s3 = server.s3();
    s3.create_bucket().bucket("vhost").send().await.unwrap();
    let auth =
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
    let host = format!("vhost.s3.localhost.localstack.cloud:{}", server.port);
    let timeout = std::time::Duration::from_secs(30);
    let put = server
        .raw_with("PUT", "/key.txt", &[("host", &host), ("authorization", auth)], b"via host".to_vec(), timeout)
        .await
        .unwrap();
    assert_eq!(put.status, 200, "{}", put.text());
    let got = s3.get_object().bucket("vhost").key("key.txt").send().await.unwrap();
    assert_eq!(body(got).await, b"via host");
    let listed = server
        .raw_with("GET", "/?list-type=2", &[("host", &host), ("authorization", auth)], vec![], timeout)
        .await
        .unwrap();
    assert!(listed.text().contains("<Key>key.txt</Key>"), "{}", listed.text());

    let missing =
        server.raw_with("GET", "/nope", &[("host", &host), ("authorization", auth)], vec![], timeout).await.unwrap();
    assert_eq!(missing.status, 404);
    let text = missing.text();
    for part in [
        "<Code>NoSuchKey</Code>",
        "<Message>The specified key does not exist.</Message>",
        "<Key>nope</Key>",
        "<RequestId>",
        "<HostId>",
    ] {
        assert!(text.contains(part), "{part} missing from {text}");
    }
    assert!(missing.header("x-amz-request-id").is_some());
    // Malformed XML, a key over 1,024 bytes.
    let bad = server
        .raw_with("POST", "/vhost?delete", &[("authorization", auth)], b"<Delete><Object>".to_vec(), timeout)
        .await
        .unwrap();
    assert!(bad.text().contains("<Code>MalformedXML</Code>"), "{}", bad.text());
    let long = format!("/vhost/{}", "k".repeat(1025));
    let bad = server.raw_with("PUT", &long, &[("authorization", auth)], b"x".to_vec(), timeout).await.unwrap();
    assert!(bad.text().contains("<Code>KeyTooLongError</Code>"), "{}", bad.text());
    // A truncated aws-chunked body stores nothing.
    let bad = server
        .raw_with(
            "PUT",
            "/vhost/chunked",
            &[
                ("authorization", auth),
                ("content-encoding", "aws-chunked"),
                ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                ("x-amz-decoded-content-length", "11"),
            ],
            b"b\r\nhello".to_vec(),
            timeout,
        )
        .await
        .unwrap();
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(s3.head_object().bucket("vhost").key("chunked").send().await.is_err());
}

#[tokio::test]
async fn versioning_and_tagging() {
    let server = Server::start();
    let s3 = server.s3();
    s3.create_bucket().bucket("versions").send().await.unwrap();
    s3.put_bucket_versioning()
        .bucket("versions")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let v1 = s3.put_object().bucket("versions").key("k").body(ByteStream::from_static(b"one")).send().await.unwrap();
    let v2 = s3.put_object().bucket("versions").key("k").body(ByteStream::from_static(b"two")).send().await.unwrap();
    assert_ne!(v1.version_id(), v2.version_id());
    let old = s3.get_object().bucket("versions").key("k").version_id(v1.version_id().unwrap()).send().await.unwrap();
    assert_eq!(body(old).await, b"one");
    let del = s3.delete_object().bucket("versions").key("k").send().await.unwrap();
    assert_eq!(del.delete_marker(), Some(true));
    assert!(s3.get_object().bucket("versions").key("k").send().await.is_err());
    let listed = s3.list_object_versions().bucket("versions").send().await.unwrap();
    assert_eq!(listed.versions().len(), 2);
    assert_eq!(listed.delete_markers().len(), 1);

    s3.put_object()
        .bucket("versions")
        .key("t")
        .body(ByteStream::from_static(b"x"))
        .tagging("a=1&b=2")
        .send()
        .await
        .unwrap();
    let tags = s3.get_object_tagging().bucket("versions").key("t").send().await.unwrap();
    assert_eq!(tags.tag_set().len(), 2);
    let err = s3.get_bucket_cors().bucket("versions").send().await.unwrap_err();
    assert_eq!(code(err.as_service_error().unwrap()), "NoSuchCORSConfiguration");
}

#[tokio::test]
async fn objects_survive_kill_9() {
    let dir = TempDir::new("nimbus-s3-persist");
    let server = Server::start_with_data_dir(&dir.0);
    let s3 = server.s3();
    s3.create_bucket().bucket("durable").send().await.unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    s3.put_object().bucket("durable").key("blob").body(ByteStream::from(data.clone())).send().await.unwrap();
    s3.put_object().bucket("durable").key("gone").body(ByteStream::from_static(b"x")).send().await.unwrap();
    s3.delete_object().bucket("durable").key("gone").send().await.unwrap();
    server.kill();

    let server = Server::start_with_data_dir(&dir.0);
    let s3 = server.s3();
    let got = s3.get_object().bucket("durable").key("blob").send().await.unwrap();
    assert_eq!(body(got).await, data);
    assert!(s3.head_object().bucket("durable").key("gone").send().await.is_err());
}
