"""IAM roles and policies, and STS, through boto3 as users drive them.

Runs against NIMBUS_ENDPOINT if set, otherwise starts target/debug/nimbus (see conftest.py).
Each test works in its own account (a 12-digit access key id is the account), so tests do not
see each other's roles.
"""
import json
import random
import uuid

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import client

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": "*"}],
}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
NO_CLIENT_VALIDATION = Config(parameter_validation=False)


def new_account():
    return str(random.randint(10**11, 10**12 - 1))


def iam_client(endpoint, account, **kwargs):
    return client(endpoint, "iam", aws_access_key_id=account, **kwargs)


def error(exc_info):
    err = exc_info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def role_name():
    return "role-" + uuid.uuid4().hex[:10]


@pytest.fixture
def account():
    return new_account()


@pytest.fixture
def iam(endpoint, account):
    return iam_client(endpoint, account)


def test_create_get_list_delete_role(iam, account):
    name = role_name()
    created = iam.create_role(
        RoleName=name,
        Path="/service/",
        AssumeRolePolicyDocument=json.dumps(TRUST),
        Description="runs functions",
        Tags=[{"Key": "team", "Value": "core"}],
    )["Role"]
    assert created["RoleName"] == name
    assert created["Path"] == "/service/"
    assert created["Arn"] == f"arn:aws:iam::{account}:role/service/{name}"
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["RoleId"][4:].isupper() or created["RoleId"][4:].isalnum()
    # botocore URL-decodes and parses the document IAM returns encoded.
    assert created["AssumeRolePolicyDocument"] == TRUST
    assert created["MaxSessionDuration"] == 3600
    assert created["Description"] == "runs functions"
    assert created["Tags"] == [{"Key": "team", "Value": "core"}]

    got = iam.get_role(RoleName=name)["Role"]
    assert got["RoleId"] == created["RoleId"]
    assert got["CreateDate"] == created["CreateDate"]
    assert got["AssumeRolePolicyDocument"] == TRUST
    assert "RoleLastUsed" in got

    listed = iam.list_roles()
    assert [r["RoleName"] for r in listed["Roles"]] == [name]
    assert listed["IsTruncated"] is False
    assert "Tags" not in listed["Roles"][0]
    assert iam.list_roles(PathPrefix="/other/")["Roles"] == []

    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=name)
    assert error(exc) == ("NoSuchEntity", f"The role with name {name} cannot be found.", 404)


def test_role_names_are_unique_regardless_of_case(iam):
    name = role_name()
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=name.upper(), AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(exc) == ("EntityAlreadyExists", f"Role with name {name.upper()} already exists.", 409)


def test_iam_is_global_but_per_account(endpoint, account):
    name = role_name()
    iam_client(endpoint, account, region_name="eu-west-1").create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST)
    )
    assert iam_client(endpoint, account, region_name="us-west-2").get_role(RoleName=name)["Role"]["RoleName"] == name
    with pytest.raises(ClientError) as exc:
        iam_client(endpoint, new_account()).get_role(RoleName=name)
    assert error(exc)[0] == "NoSuchEntity"


def test_validation_errors(endpoint, account):
    iam = iam_client(endpoint, account, config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="bad name", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(exc) == (
        "ValidationError",
        "1 validation error detected: Value 'bad name' at 'roleName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        400,
    )
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="r" * 65, AssumeRolePolicyDocument=json.dumps(TRUST), MaxSessionDuration=60)
    code, message, status = error(exc)
    assert (code, status) == ("ValidationError", 400)
    assert message.startswith("2 validation errors detected: ")
    assert "Member must have length less than or equal to 64" in message
    assert "Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600" in message
    with pytest.raises(ClientError) as exc:
        iam.get_role()
    assert error(exc) == (
        "ValidationError",
        "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null",
        400,
    )
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="r", Path="no-slashes", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(exc)[0] == "ValidationError"


def test_malformed_policy_documents(iam):
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=role_name(), AssumeRolePolicyDocument="{not json")
    assert error(exc) == ("MalformedPolicyDocument", "This policy contains invalid Json", 400)
    name = role_name()
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    with pytest.raises(ClientError) as exc:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument="nope")
    assert error(exc)[0] == "MalformedPolicyDocument"
    with pytest.raises(ClientError) as exc:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument="[")
    assert error(exc)[0] == "MalformedPolicyDocument"


def test_update_role_and_trust_policy(iam):
    name = role_name()
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.update_role(RoleName=name, Description="new", MaxSessionDuration=7200)
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["Description"], got["MaxSessionDuration"]) == ("new", 7200)
    described = iam.update_role_description(RoleName=name, Description="newer")["Role"]
    assert described["Description"] == "newer"
    trust = dict(TRUST, Statement=[dict(TRUST["Statement"][0], Principal={"Service": "edgelambda.amazonaws.com"})])
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == trust


def test_attached_and_inline_policies_block_delete(iam, account):
    name = role_name()
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName=name, PolicyArn=BASIC)
    attached = iam.list_attached_role_policies(RoleName=name)
    assert attached["AttachedPolicies"] == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}]
    assert attached["IsTruncated"] is False
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=name)
    assert error(exc) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
    iam.detach_role_policy(RoleName=name, PolicyArn=BASIC)
    with pytest.raises(ClientError) as exc:
        iam.detach_role_policy(RoleName=name, PolicyArn=BASIC)
    assert error(exc)[0::2] == ("NoSuchEntity", 404)

    iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps(INLINE))
    got = iam.get_role_policy(RoleName=name, PolicyName="logs")
    assert (got["RoleName"], got["PolicyName"], got["PolicyDocument"]) == (name, "logs", INLINE)
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["logs"]
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=name)
    assert error(exc) == ("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
    with pytest.raises(ClientError) as exc:
        iam.get_role_policy(RoleName=name, PolicyName="missing")
    assert error(exc) == ("NoSuchEntity", "The role policy with name missing cannot be found.", 404)
    iam.delete_role_policy(RoleName=name, PolicyName="logs")
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    iam.delete_role(RoleName=name)


def test_attach_validates_policy_arns(iam, account):
    name = role_name()
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:s3:::not-a-policy-arn")
    assert error(exc) == ("InvalidInput", "ARN arn:aws:s3:::not-a-policy-arn is not valid.", 400)
    missing = f"arn:aws:iam::{account}:policy/missing"
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName=name, PolicyArn=missing)
    assert error(exc) == ("NoSuchEntity", f"Policy {missing} does not exist or is not attachable.", 404)
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName="no-such-role", PolicyArn=BASIC)
    assert error(exc)[0] == "NoSuchEntity"


def test_customer_managed_policies(iam, account):
    created = iam.create_policy(PolicyName="team-logs", Path="/team/", PolicyDocument=json.dumps(INLINE), Description="d")[
        "Policy"
    ]
    arn = f"arn:aws:iam::{account}:policy/team/team-logs"
    assert created["Arn"] == arn
    assert created["DefaultVersionId"] == "v1"
    assert created["PolicyId"].startswith("ANPA")
    with pytest.raises(ClientError) as exc:
        iam.create_policy(PolicyName="team-logs", PolicyDocument=json.dumps(INLINE))
    assert error(exc)[0::2] == ("EntityAlreadyExists", 409)

    name = role_name()
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == INLINE and version["IsDefaultVersion"] is True
    assert [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]] == [arn]
    assert [p["Arn"] for p in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]] == [arn]
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert error(exc)[0::2] == ("DeleteConflict", 409)
    iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_policy(PolicyArn=arn)
    assert error(exc)[0::2] == ("NoSuchEntity", 404)


def test_role_tags(iam):
    name = role_name()
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), Tags=[{"Key": "env", "Value": "dev"}])
    iam.tag_role(RoleName=name, Tags=[{"Key": "Env", "Value": "prod"}, {"Key": "team", "Value": "a"}])
    tags = iam.list_role_tags(RoleName=name)
    assert tags["Tags"] == [{"Key": "Env", "Value": "prod"}, {"Key": "team", "Value": "a"}]
    assert tags["IsTruncated"] is False
    iam.untag_role(RoleName=name, TagKeys=["ENV"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "team", "Value": "a"}]
    assert iam.get_role(RoleName=name)["Role"]["Tags"] == [{"Key": "team", "Value": "a"}]
    with pytest.raises(ClientError) as exc:
        iam.tag_role(RoleName=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    assert error(exc)[0] == "InvalidInput"


def test_list_roles_paginates(iam):
    names = sorted(role_name() for _ in range(5))
    for name in names:
        iam.create_role(RoleName=name, Path="/paged/", AssumeRolePolicyDocument=json.dumps(TRUST))
    first = iam.list_roles(PathPrefix="/paged/", MaxItems=2)
    assert first["IsTruncated"] is True and first["Marker"]
    assert [r["RoleName"] for r in first["Roles"]] == names[:2]
    pages = iam.get_paginator("list_roles").paginate(PathPrefix="/paged/", PaginationConfig={"PageSize": 2})
    assert [r["RoleName"] for page in pages for r in page["Roles"]] == names


def test_get_caller_identity_for_long_term_keys(endpoint):
    who = client(endpoint, "sts").get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{who['Account']}:root"
    assert len(who["Account"]) == 12
    account = new_account()
    who = client(endpoint, "sts", aws_access_key_id=account).get_caller_identity()
    assert (who["Account"], who["Arn"], who["UserId"]) == (account, f"arn:aws:iam::{account}:root", account)


def test_assume_role_credentials_act_in_the_role_account(endpoint, account):
    iam = iam_client(endpoint, account)
    name = role_name()
    role = iam.create_role(RoleName=name, Path="/ops/", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    sts = client(endpoint, "sts", aws_access_key_id=new_account())
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ci-run", DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert creds["SecretAccessKey"] and creds["SessionToken"]
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/{name}/ci-run"
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:ci-run"

    session = dict(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name="us-east-1",
        endpoint_url=endpoint,
    )
    import boto3

    who = boto3.client("sts", **session).get_caller_identity()
    assert who["Account"] == account
    assert who["Arn"] == f"arn:aws:sts::{account}:assumed-role/{name}/ci-run"
    assert who["UserId"] == f"{role['RoleId']}:ci-run"
    # IAM calls signed with the temporary key act in the role's account.
    assert boto3.client("iam", **session).get_role(RoleName=name)["Role"]["Arn"] == role["Arn"]


def test_assume_role_validation(endpoint, account):
    sts = client(endpoint, "sts", config=NO_CLIENT_VALIDATION)
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn="bogus", RoleSessionName="s1")
    assert error(exc) == (
        "ValidationError",
        "1 validation error detected: Value 'bogus' at 'roleArn' failed to satisfy constraint: "
        "Member must have length greater than or equal to 20",
        400,
    )
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn="arn:aws:iam::123456789012:user/someone", RoleSessionName="s1")
    assert error(exc) == ("ValidationError", "Request ARN is invalid", 400)
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/r", RoleSessionName="bad session", DurationSeconds=60)
    code, message, status = error(exc)
    assert (code, status) == ("ValidationError", 400)
    assert message.startswith("2 validation errors detected: Value 'bad session' at 'roleSessionName'")
    assert "Value '60' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900" in message
    # A known role's MaxSessionDuration caps the session.
    iam = iam_client(endpoint, account)
    name = role_name()
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7200)
    assert error(exc) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        400,
    )


def test_unknown_action_and_raw_query_protocol(endpoint):
    resp = requests.post(
        endpoint + "/",
        data={"Action": "FlyToTheMoon", "Version": "2010-05-08"},
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x"},
    )
    assert resp.status_code == 400
    assert resp.headers["Content-Type"].startswith("text/xml")
    assert "<Code>InvalidAction</Code>" in resp.text
    assert "Could not find operation FlyToTheMoon for version 2010-05-08" in resp.text
    assert '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">' in resp.text
    # Unsigned requests are routed by their Action.
    resp = requests.post(endpoint + "/", data={"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert resp.status_code == 200, resp.text
    assert '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">' in resp.text
