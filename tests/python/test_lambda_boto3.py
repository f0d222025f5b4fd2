"""The Lambda control plane through boto3 and the AWS CLI, as users drive it."""
import io
import json
import subprocess
import uuid
import zipfile

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import client

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zip_bytes(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
    return buf.getvalue()


CODE = zip_bytes({"index.py": "def handler(event, context):\n    return event\n"})


def name():
    return "fn-" + uuid.uuid4().hex[:12]


def create(lam, fn, **kwargs):
    return lam.create_function(
        FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler", Code={"ZipFile": CODE}, **kwargs
    )


def test_create_wait_get_and_download(endpoint):
    lam = client(endpoint, "lambda")
    fn = name()
    created = create(lam, fn, Environment={"Variables": {"KEY": "value"}}, Tags={"team": "a"})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["State"] == "Pending"
    assert "LastUpdateStatus" not in created
    lam.get_waiter("function_active_v2").wait(FunctionName=fn, WaiterConfig={"Delay": 1})
    got = lam.get_function(FunctionName=fn)
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["Environment"] == {"Variables": {"KEY": "value"}}
    assert got["Tags"] == {"team": "a"}
    assert requests.get(got["Code"]["Location"]).content == CODE


def test_error_shapes_match_aws(endpoint):
    lam = client(endpoint, "lambda")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="does-not-exist")
    err = e.value.response
    assert err["Error"]["Code"] == "ResourceNotFoundException"
    # AWS names the version it resolved: $LATEST for an unqualified name.
    assert err["Error"]["Message"] == "Function not found: arn:aws:lambda:us-east-1:000000000000:function:does-not-exist:$LATEST"
    assert err["Type"] == "User"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 404

    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName=name(), Runtime="python3.12", Role="r1", Handler="h.h", Code={"ZipFile": CODE})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"].startswith("1 validation error detected: Value 'r1' at 'role'")

    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName=name(), Runtime="python9", Role=ROLE, Handler="h.h", Code={"ZipFile": CODE})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert e.value.response["Error"]["Message"].startswith("Value python9 at 'runtime' failed to satisfy constraint")

    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName=name(), Runtime="python3.12", Role=ROLE, Handler="h.h", Code={"ZipFile": b"junk"})
    assert e.value.response["Error"]["Message"] == "Could not unzip uploaded file. Please check your file, then try to upload again."


def test_versions_aliases_and_paginators(endpoint):
    lam = client(endpoint, "lambda")
    fn = name()
    create(lam, fn)
    v1 = lam.publish_version(FunctionName=fn)
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201 and v1["Version"] == "1"
    lam.update_function_configuration(FunctionName=fn, Timeout=10)
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn, WaiterConfig={"Delay": 1})
    assert lam.publish_version(FunctionName=fn)["Version"] == "2"
    alias = lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert alias["AliasArn"].endswith(f":function:{fn}:live")
    versions = [v["Version"] for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=fn, PaginationConfig={"PageSize": 1}) for v in page["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    names = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}) for f in page["Functions"]]
    assert fn in names and len(names) == len(set(names))


def test_aws_cli_round_trip(endpoint, tmp_path):
    fn = name()
    code = tmp_path / "code.zip"
    code.write_bytes(CODE)
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1", "PATH": __import__("os").environ["PATH"]}
    base = ["aws", "--endpoint-url", endpoint, "--output", "json", "lambda"]
    out = subprocess.run(
        base + ["create-function", "--function-name", fn, "--runtime", "python3.12", "--role", ROLE, "--handler", "index.handler", "--zip-file", f"fileb://{code}"],
        env=env, capture_output=True, text=True, check=True,
    )
    assert json.loads(out.stdout)["FunctionName"] == fn
    subprocess.run(base + ["wait", "function-active-v2", "--function-name", fn], env=env, check=True)
    out = subprocess.run(base + ["get-function-configuration", "--function-name", fn], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["State"] == "Active"
    bad = subprocess.run(base + ["get-function", "--function-name", "nope-" + fn], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "ResourceNotFoundException" in bad.stderr
    subprocess.run(base + ["delete-function", "--function-name", fn], env=env, check=True)


def test_runtime_management_and_recursion_configs(endpoint):
    lam = client(endpoint, "lambda")
    fn = name()
    create(lam, fn)
    got = lam.get_runtime_management_config(FunctionName=fn)
    assert got["UpdateRuntimeOn"] == "Auto"
    assert got["FunctionArn"].endswith(f":function:{fn}:$LATEST")
    arn = "arn:aws:lambda:us-east-1::runtime:" + "a" * 64
    put = lam.put_runtime_management_config(FunctionName=fn, UpdateRuntimeOn="Manual", RuntimeVersionArn=arn)
    assert put["RuntimeVersionArn"] == arn
    assert lam.get_runtime_management_config(FunctionName=fn)["UpdateRuntimeOn"] == "Manual"
    with pytest.raises(ClientError) as e:
        lam.put_runtime_management_config(FunctionName=fn, UpdateRuntimeOn="Manual")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"

    assert lam.get_function_recursion_config(FunctionName=fn)["RecursiveLoop"] == "Terminate"
    assert lam.put_function_recursion_config(FunctionName=fn, RecursiveLoop="Allow")["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName=fn)["RecursiveLoop"] == "Allow"


def test_code_signing_configs_and_enforcement(endpoint):
    lam = client(endpoint, "lambda")
    profile = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/p/abcdefghij"
    warn = lam.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [profile]}, Tags={"k": "v"})["CodeSigningConfig"]
    assert warn["CodeSigningConfigArn"].startswith("arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-")
    assert warn["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert lam.list_tags(Resource=warn["CodeSigningConfigArn"])["Tags"] == {"k": "v"}
    enforce = lam.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [profile]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
    )["CodeSigningConfig"]

    # Warn: unsigned code deploys. Enforce: it is refused.
    fn = name()
    create(lam, fn, CodeSigningConfigArn=warn["CodeSigningConfigArn"])
    assert lam.get_function_code_signing_config(FunctionName=fn)["CodeSigningConfigArn"] == warn["CodeSigningConfigArn"]
    assert lam.list_functions_by_code_signing_config(CodeSigningConfigArn=warn["CodeSigningConfigArn"])["FunctionArns"] == [
        f"arn:aws:lambda:us-east-1:000000000000:function:{fn}"
    ]
    with pytest.raises(ClientError) as e:
        create(lam, name(), CodeSigningConfigArn=enforce["CodeSigningConfigArn"])
    assert e.value.response["Error"]["Code"] == "CodeVerificationFailedException"
    lam.put_function_code_signing_config(FunctionName=fn, CodeSigningConfigArn=enforce["CodeSigningConfigArn"])
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName=fn, ZipFile=CODE)
    assert e.value.response["Error"]["Code"] == "CodeVerificationFailedException"

    with pytest.raises(ClientError) as e:
        lam.delete_code_signing_config(CodeSigningConfigArn=enforce["CodeSigningConfigArn"])
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    lam.delete_function_code_signing_config(FunctionName=fn)
    lam.delete_code_signing_config(CodeSigningConfigArn=enforce["CodeSigningConfigArn"])
    with pytest.raises(ClientError) as e:
        lam.get_code_signing_config(CodeSigningConfigArn=enforce["CodeSigningConfigArn"])
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
