"""The CDK CLI end to end against nimbus, as a new user runs it: `cdk bootstrap` (the CDKToolkit
stack: staging bucket, roles, the version parameter), `cdk deploy` (asset upload through the
file-publishing role, change set, execute), the SQS trigger, a second deploy with a changed
environment, and `cdk destroy`. Tools from tests/deploy-tools (npm ci in the test set-up)."""
import json
import os
import shutil

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
    cfn, ssm, sqs, logs, lam, s3 = (client(endpoint, s) for s in ("cloudformation", "ssm", "sqs", "logs", "lambda", "s3"))
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
    sqs.send_message(QueueUrl=names["QueueUrl"], MessageBody="job-1")
    wait_for_log(logs, f"/aws/lambda/{function}", "hello job-1")

    cdk(endpoint, project, "deploy", "--require-approval", "never", "-c", "greeting=hi")
    assert cfn.describe_stacks(StackName="CdkWorker")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert json.loads(lam.invoke(FunctionName=function, Payload=b"{}")["Payload"].read()) == "hi"

    cdk(endpoint, project, "destroy", "--force")
    with pytest.raises(botocore.exceptions.ClientError):
        cfn.describe_stacks(StackName="CdkWorker")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=function)
