"""The CDK CLI end to end against nimbus, as a new user runs it: `cdk bootstrap` (the CDKToolkit
stack: staging bucket, roles, the version parameter), `cdk deploy` (asset upload through the
file-publishing role, change set, execute) of tests/python/cdk_app, its HTTP API answering a
request through a NodejsFunction that queues a job for the SQS-triggered function, a Provider-framework
custom resource's attribute as an output, `cdk diff` of a change, a second deploy with it, and
`cdk destroy`. Tools from tests/deploy-tools (npm ci in the test set-up)."""
import json
import os
import shutil

import requests

import botocore.exceptions
import pytest

from conftest import ROOT, client, run_tool, stack_outputs, wait_for_log

TOOLS = ROOT / "tests" / "deploy-tools" / "node_modules"
APP = ROOT / "tests" / "python" / "cdk_app"


def cdk(endpoint, project, *args):
    return run_tool([TOOLS / ".bin" / "cdk", *args, "--no-notices"], project, endpoint,
                    CDK_DISABLE_CLI_TELEMETRY="true", CDK_DEFAULT_ACCOUNT="000000000000",
                    CDK_DEFAULT_REGION="us-east-1")


def test_cdk_bootstrap_deploy_trigger_update_destroy(endpoint, tmp_path):
    cfn, ssm, logs, lam, s3 = (client(endpoint, s) for s in ("cloudformation", "ssm", "logs", "lambda", "s3"))
    project = tmp_path / "app"
    shutil.copytree(APP, project)
    os.symlink(TOOLS, project / "node_modules")

    cdk(endpoint, project, "bootstrap", "aws://000000000000/us-east-1")
    assert cfn.describe_stacks(StackName="CDKToolkit")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    # What `cdk deploy` reads first: the bootstrap version parameter, and the staging bucket.
    version = ssm.get_parameter(Name="/cdk-bootstrap/hnb659fds/version")["Parameter"]["Value"]
    assert int(version) >= 20
    bucket = stack_outputs(cfn, "CDKToolkit")["BucketName"]
    assert bucket == "cdk-hnb659fds-assets-000000000000-us-east-1"

    out = cdk(endpoint, project, "deploy", "--require-approval", "never")
    assert "CdkWorker" in out, out
    assert cfn.describe_stacks(StackName="CdkWorker")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) >= 1, "the function's asset was uploaded"
    names = stack_outputs(cfn, "CdkWorker")
    function = names["FunctionName"]
    assert [m["BatchSize"] for m in lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]] == [5]
    # The custom resource: the Provider framework's function invoked the onEvent handler and
    # answered CloudFormation's ResponseURL; the attribute it returned is the output.
    assert names["Message"] == "hello from a custom resource"

    # esbuild bundled the NodejsFunction with the AWS SDK left out (CDK's default for Node 18+), so
    # the function imports the runtime's SDK when the HTTP API runs it.
    bundles = [p.read_text() for p in (project / "cdk.out").glob("asset.*/index.js")]
    enqueue = [b for b in bundles if "QUEUE_URL" in b]
    assert len(enqueue) == 1 and 'require("@aws-sdk/client-sqs")' in enqueue[0], "the SDK is external"
    url = f"{endpoint}/restapis/{names['ApiId']}/$default/_user_request_/jobs"
    answer = requests.post(url, json={"job": "job-api"}, timeout=120)
    assert answer.status_code == 202, answer.text
    assert answer.json()["queued"] == "job-api"
    wait_for_log(logs, f"/aws/lambda/{function}", "hello job-api")

    # `cdk diff` compares the deployed template with the changed app.
    diff = cdk(endpoint, project, "diff", "-c", "greeting=hi")
    assert "[~] AWS::Lambda::Function Worker" in diff, diff
    assert "[~] AWS::CloudFormation::CustomResource Greeting" in diff, diff

    cdk(endpoint, project, "deploy", "--require-approval", "never", "-c", "greeting=hi")
    assert cfn.describe_stacks(StackName="CdkWorker")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert json.loads(lam.invoke(FunctionName=function, Payload=b"{}")["Payload"].read()) == "hi"
    assert stack_outputs(cfn, "CdkWorker")["Message"] == "hi from a custom resource"

    cdk(endpoint, project, "destroy", "--force")
    with pytest.raises(botocore.exceptions.ClientError):
        cfn.describe_stacks(StackName="CdkWorker")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=function)
