"""PutResourcePolicy / GetResourcePolicy / DeleteResourcePolicy through boto3, consistent with
AddPermission and GetPolicy."""
import io
import json
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import client

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def code():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(e, c):\n    return e\n")
    return buf.getvalue()


def test_resource_policy_round_trip(endpoint):
    lam = client(endpoint, "lambda")
    fn = "rp-" + uuid.uuid4().hex[:8]
    arn = lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                              Code={"ZipFile": code()})["FunctionArn"]
    lam.add_permission(FunctionName=fn, StatementId="s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com")
    got = lam.get_resource_policy(ResourceArn=arn)
    assert got["Policy"] == lam.get_policy(FunctionName=fn)["Policy"]
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "acct", "Effect": "Allow",
              "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "lambda:InvokeFunction", "Resource": arn}]}
    with pytest.raises(ClientError) as err:
        lam.put_resource_policy(ResourceArn=arn, Policy=json.dumps(policy), RevisionId=str(uuid.uuid4()))
    assert err.value.response["Error"]["Code"] == "PreconditionFailedException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    put = lam.put_resource_policy(ResourceArn=arn, Policy=json.dumps(policy), RevisionId=got["RevisionId"])
    assert lam.get_policy(FunctionName=fn)["RevisionId"] == put["RevisionId"]
    assert [s["Sid"] for s in json.loads(lam.get_policy(FunctionName=fn)["Policy"])["Statement"]] == ["acct"]

    public = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction", "Resource": arn}]}
    with pytest.raises(ClientError) as err:
        lam.put_resource_policy(ResourceArn=arn, Policy=json.dumps(public))
    assert err.value.response["Error"]["Code"] == "PublicPolicyException"

    deleted = lam.delete_resource_policy(ResourceArn=arn)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as err:
        lam.get_resource_policy(ResourceArn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
