"""S3 through boto3 (transfer manager, presigned URLs, CORS, lifecycle on nimbus's clock) and
the AWS CLI (`aws s3 mb/cp/sync/ls/rm/rb`, multipart for large files)."""
import json
import os
import subprocess
import urllib.request
import uuid

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from conftest import client, start_nimbus


def bucket_name():
    return "b-" + uuid.uuid4().hex[:16]


def error(exc):
    e = exc.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]


def test_transfer_manager_upload_and_download(endpoint, tmp_path):
    s3 = client(endpoint, "s3")
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(12 * 1024 * 1024 + 17))
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(str(src), b, "big.bin", Config=config)
    head = s3.head_object(Bucket=b, Key="big.bin")
    assert head["ContentLength"] == src.stat().st_size
    assert head["ETag"].endswith('-3"')
    dst = tmp_path / "dst.bin"
    s3.download_file(b, "big.bin", str(dst), Config=config)
    assert dst.read_bytes() == src.read_bytes()
    # Single-part upload with boto3's default trailing checksum.
    s3.upload_file(str(src), b, "single.bin", Config=TransferConfig(multipart_threshold=64 * 1024 * 1024))
    attrs = s3.get_object_attributes(Bucket=b, Key="single.bin", ObjectAttributes=["ObjectSize", "Checksum", "ETag"])
    assert attrs["ObjectSize"] == src.stat().st_size
    assert "Checksum" in attrs


def test_errors_and_region_rules(endpoint):
    s3 = client(endpoint, "s3")
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket_name(), Key="k")
    assert error(exc) == ("404", 404)
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket="x")
    assert error(exc) == ("InvalidBucketName", 400)
    west = client(endpoint, "s3", region_name="eu-west-1")
    with pytest.raises(ClientError) as exc:
        west.create_bucket(Bucket=bucket_name())
    assert error(exc) == ("IllegalLocationConstraintException", 400)
    b = bucket_name()
    west.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert west.get_bucket_location(Bucket=b)["LocationConstraint"] == "eu-west-1"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=b, Key="missing")
    assert error(exc) == ("NoSuchKey", 404)
    assert exc.value.response["Error"]["Message"] == "The specified key does not exist."


def test_presigned_get_and_put(endpoint):
    s3 = client(endpoint, "s3")
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "p"}, ExpiresIn=300)
    req = urllib.request.Request(url, data=b"via presigned put", method="PUT")
    assert urllib.request.urlopen(req).status == 200
    url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "p"}, ExpiresIn=300)
    assert urllib.request.urlopen(url).read() == b"via presigned put"


def test_cors_preflight_and_headers():
    # A web page's origin reaches nimbus only when allowed (see "Configuration"); the bucket's
    # CORS rules then decide what the browser may do.
    proc, endpoint = start_nimbus("--allowed-origins", "http://app.test")
    try:
        s3 = client(endpoint, "s3")
        b = bucket_name()
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="k", Body=b"x")
        req = urllib.request.Request(f"{endpoint}/{b}/k", method="OPTIONS", headers={"Origin": "http://app.test", "Access-Control-Request-Method": "GET"})
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(req)
        assert exc.value.code == 403
        assert b"CORSResponse" in exc.value.read()
        s3.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["http://app.test"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 60}]})
        assert s3.get_bucket_cors(Bucket=b)["CORSRules"][0]["AllowedMethods"] == ["GET", "PUT"]
        resp = urllib.request.urlopen(req)
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "http://app.test"
        assert resp.headers["Access-Control-Allow-Methods"] == "GET, PUT"
        assert resp.headers["Access-Control-Max-Age"] == "60"
    finally:
        proc.kill()
        proc.wait()


def test_lifecycle_expires_on_the_clock(tmp_path):
    proc, endpoint = start_nimbus()
    try:
        s3 = client(endpoint, "s3")
        b = bucket_name()
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="logs/old", Body=b"x")
        s3.put_object(Bucket=b, Key="keep/me", Body=b"x")
        s3.create_multipart_upload(Bucket=b, Key="logs/pending")
        s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
            {"ID": "expire-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 1},
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        ]})
        assert s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"][0]["ID"] == "expire-logs"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]]
        assert keys == ["keep/me", "logs/old"]
        body = json.dumps({"seconds": 2 * 86400}).encode()
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/_nimbus/clock/advance", data=body, method="POST"))
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", [])]
        assert keys == ["keep/me"]
        assert s3.list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    finally:
        proc.kill()
        proc.wait()


def test_aws_cli_cp_sync_ls_rm(endpoint, tmp_path):
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1", "PATH": os.environ["PATH"]}

    def aws(*args):
        quiet = ["--only-show-errors"] if args[0] in ("cp", "sync", "rm") else []
        return subprocess.run(["aws", "--endpoint-url", endpoint, "s3", *args, *quiet], env=env, capture_output=True, text=True, check=True).stdout

    b = bucket_name()
    aws("mb", f"s3://{b}")
    assert b in aws("ls")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))
    aws("cp", str(big), f"s3://{b}/big.bin")
    head = client(endpoint, "s3").head_object(Bucket=b, Key="big.bin")
    assert head["ETag"].endswith('-3"'), head["ETag"]  # 8 MiB parts
    back = tmp_path / "back.bin"
    aws("cp", f"s3://{b}/big.bin", str(back))
    assert back.read_bytes() == big.read_bytes()
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.txt").write_text("b")
    aws("sync", str(tree), f"s3://{b}/tree")
    listing = aws("ls", f"s3://{b}/tree/", "--recursive")
    assert "tree/a.txt" in listing and "tree/sub/b.txt" in listing
    out = tmp_path / "out"
    aws("sync", f"s3://{b}/tree", str(out))
    assert (out / "sub" / "b.txt").read_text() == "b"
    failed = subprocess.run(["aws", "--endpoint-url", endpoint, "s3", "rb", f"s3://{b}"], env=env, capture_output=True, text=True)
    assert failed.returncode != 0 and "BucketNotEmpty" in failed.stderr
    aws("rm", f"s3://{b}", "--recursive")
    aws("rb", f"s3://{b}")
    assert b not in aws("ls")


def test_multipart_checksums_in_attributes_parts_and_copies(endpoint):
    """The figures S3 itself answered for these bytes (LocalStack's AWS-validated snapshots of
    TestS3MultipartUploadChecksum): a composite CRC32 upload's attributes list its parts, one part
    reads back with its own checksum, and a copy is a single-part object."""
    s3 = client(endpoint, "s3")
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    upload = s3.create_multipart_upload(Bucket=b, Key="mpu", ChecksumAlgorithm="CRC32")["UploadId"]
    data = b"a" * (5 * 1024 * 1024 + 1)
    parts = []
    for n, body in enumerate([data, data, data[:10]], start=1):
        out = s3.upload_part(Bucket=b, Key="mpu", UploadId=upload, PartNumber=n, Body=body, ChecksumAlgorithm="CRC32")
        parts.append({"PartNumber": n, "ETag": out["ETag"], "ChecksumCRC32": out["ChecksumCRC32"]})
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=b, Key="mpu", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]})
    assert error(exc) == ("InvalidRequest", 400)
    assert exc.value.response["Error"]["Message"] == (
        "The upload was created using a crc32 checksum. The complete request must include the checksum for each "
        "part. It was missing for part 1 in the request.")
    done = s3.complete_multipart_upload(Bucket=b, Key="mpu", UploadId=upload, MultipartUpload={"Parts": parts})
    assert (done["ETag"], done["ChecksumCRC32"]) == ('"4d45984fc3feb2ac9b22683c49674b56-3"', "5FRUiw==-3")

    attrs = s3.get_object_attributes(Bucket=b, Key="mpu", ObjectAttributes=["Checksum", "ETag", "ObjectParts"])
    assert attrs["Checksum"] == {"ChecksumCRC32": "5FRUiw==", "ChecksumType": "COMPOSITE"}
    assert attrs["ObjectParts"] == {
        "TotalPartsCount": 3, "PartNumberMarker": 0, "NextPartNumberMarker": 3, "MaxParts": 1000, "IsTruncated": False,
        "Parts": [{"PartNumber": 1, "Size": 5242881, "ChecksumCRC32": "NRU+Sw=="},
                  {"PartNumber": 2, "Size": 5242881, "ChecksumCRC32": "NRU+Sw=="},
                  {"PartNumber": 3, "Size": 10, "ChecksumCRC32": "TBHN8A=="}]}
    page = s3.get_object_attributes(Bucket=b, Key="mpu", ObjectAttributes=["ObjectParts"], MaxParts=1, PartNumberMarker=1)
    assert page["ObjectParts"]["IsTruncated"] is True
    assert [p["PartNumber"] for p in page["ObjectParts"]["Parts"]] == [2]
    assert page["ObjectParts"]["NextPartNumberMarker"] == 2
    third = s3.get_object(Bucket=b, Key="mpu", PartNumber=3, ChecksumMode="ENABLED")
    assert (third["ChecksumCRC32"], third["ChecksumType"], third["PartsCount"]) == ("TBHN8A==", "COMPOSITE", 3)
    assert third["Body"].read() == data[:10]

    copy = s3.copy_object(Bucket=b, Key="copy", CopySource=f"{b}/mpu")["CopyObjectResult"]
    assert (copy["ETag"], copy["ChecksumCRC32"], copy["ChecksumType"]) == (
        '"a0397ee2df08832642af5d7e57c5760c"', "qSEQSA==", "FULL_OBJECT")
    assert "ObjectParts" not in s3.get_object_attributes(Bucket=b, Key="copy", ObjectAttributes=["ObjectParts"])

    # An upload created without a checksum gets S3's default: a full-object CRC64NVME.
    plain = s3.create_multipart_upload(Bucket=b, Key="plain")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="plain", UploadId=plain, PartNumber=1, Body=b"aaa")["ETag"]
    done = s3.complete_multipart_upload(Bucket=b, Key="plain", UploadId=plain,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert (done["ETag"], done["ChecksumCRC64NVME"], done["ChecksumType"]) == (
        '"e2c3da976e66ec9e7dc128fbc782fc91-1"', "Rnr2/5P7Gsk=", "FULL_OBJECT")
    attrs = s3.get_object_attributes(Bucket=b, Key="plain", ObjectAttributes=["Checksum", "ObjectParts"])
    assert attrs["ObjectParts"] == {"TotalPartsCount": 1}
    copy = s3.copy_object(Bucket=b, Key="plain-copy", CopySource=f"{b}/plain")["CopyObjectResult"]
    assert (copy["ETag"], copy["ChecksumCRC64NVME"]) == ('"47bce5c74f589f4867dbd57e9ca9f808"', "Rnr2/5P7Gsk=")

    # Location names the key form-encoded, as S3 does (the JS SDK's Upload turns `%2F` back into `/`).
    spaced = s3.create_multipart_upload(Bucket=b, Key="dir/a b.txt")["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="dir/a b.txt", UploadId=spaced, PartNumber=1, Body=b"x")["ETag"]
    done = s3.complete_multipart_upload(Bucket=b, Key="dir/a b.txt", UploadId=spaced,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert done["Location"] == f"{endpoint}/{b}/dir%2Fa+b.txt"
