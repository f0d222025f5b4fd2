"""ECR's repository control plane through boto3 and the AWS CLI: the calls deployment tools make
(DescribeRepositories of a missing repository, create, describe, delete), AWS's error shapes, and
GetAuthorizationToken answering NotImplemented (nimbus serves no Docker registry)."""
import json
import os
import subprocess
import sys
import pathlib
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import client

ACCOUNT = "000000000000"


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_boto3_repository_lifecycle_and_errors(endpoint):
    ecr = client(endpoint, "ecr")
    name = unique("serverless-app-dev")
    with pytest.raises(ClientError) as missing:
        ecr.describe_repositories(repositoryNames=[name])
    err = missing.value.response["Error"]
    assert err["Code"] == "RepositoryNotFoundException"
    assert err["Message"] == f"The repository with name '{name}' does not exist in the registry with id '{ACCOUNT}'"
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    repo = ecr.create_repository(repositoryName=name, tags=[{"Key": "team", "Value": "core"}])["repository"]
    assert repo["repositoryUri"] == f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{name}"
    assert repo["repositoryArn"] == f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{name}"
    assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}
    listed = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert [r["repositoryName"] for r in listed] == [name]
    assert ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"] == [{"Key": "team", "Value": "core"}]
    assert ecr.list_images(repositoryName=name)["imageIds"] == []

    with pytest.raises(ClientError) as dup:
        ecr.create_repository(repositoryName=name)
    assert dup.value.response["Error"]["Code"] == "RepositoryAlreadyExistsException"

    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}]})
    ecr.set_repository_policy(repositoryName=name, policyText=policy)
    assert ecr.get_repository_policy(repositoryName=name)["policyText"] == policy

    # The paginator walks every repository.
    names = [r["repositoryName"] for page in ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 1}) for r in page["repositories"]]
    assert name in names

    assert ecr.delete_repository(repositoryName=name, force=True)["repository"]["repositoryName"] == name
    with pytest.raises(ClientError) as gone:
        ecr.delete_repository(repositoryName=name)
    assert gone.value.response["Error"]["Code"] == "RepositoryNotFoundException"

    with pytest.raises(ClientError) as token:
        ecr.get_authorization_token()
    assert token.value.response["Error"]["Code"] == "NotImplemented"


def test_aws_cli_creates_and_describes(endpoint, tmp_path):
    aws = pathlib.Path(sys.executable).parent / "aws"
    name = unique("cli-repo")
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_CONFIG_FILE=str(tmp_path / "none"))

    def run(*args):
        return subprocess.run([str(aws), "ecr", *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=120)

    created = run("create-repository", "--repository-name", name, "--image-scanning-configuration", "scanOnPush=true")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["repository"]["imageScanningConfiguration"] == {"scanOnPush": True}
    described = run("describe-repositories", "--repository-names", name)
    assert json.loads(described.stdout)["repositories"][0]["repositoryName"] == name
    missing = run("describe-repositories", "--repository-names", "no-such-repo")
    assert missing.returncode != 0
    assert "RepositoryNotFoundException" in missing.stderr
    assert run("delete-repository", "--repository-name", name).returncode == 0
