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
