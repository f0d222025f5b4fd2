"""The Serverless Framework v3 end to end against nimbus: `serverless deploy` (deployment bucket
stack, package upload, change set), the SQS trigger, an `http` event (a REST API the framework
builds in CloudFormation) answering requests, `serverless info`, `serverless invoke`,
`serverless logs`, a second deploy with a changed environment, and `serverless remove`. Tools from tests/deploy-tools
(npm ci in the test set-up); serverless-localstack points the framework at nimbus's port."""
import json
import os
import re
import shutil
import urllib.parse
import urllib.request

import botocore.exceptions
import pytest

from conftest import ROOT, client, run_tool, stack_outputs, wait_for_log

TOOLS = ROOT / "tests" / "deploy-tools" / "node_modules"
APP = ROOT / "tests" / "python" / "serverless_app"


def sls(endpoint, project, *args, **env):
    port = str(urllib.parse.urlsplit(endpoint).port)
    return run_tool([TOOLS / ".bin" / "serverless", *args], project, endpoint, NIMBUS_PORT=port,
                    SLS_TELEMETRY_DISABLED="1", SLS_NOTIFICATIONS_MODE="off", **env)


def get_json(url):
    with urllib.request.urlopen(url, timeout=60) as answer:
        assert answer.status == 200
        return json.loads(answer.read())


def test_serverless_deploy_trigger_invoke_logs_update_remove(endpoint, tmp_path):
    cfn, sqs, logs, lam, apigw = (client(endpoint, s) for s in ("cloudformation", "sqs", "logs", "lambda", "apigateway"))
    project = tmp_path / "app"
    shutil.copytree(APP, project)
    os.symlink(TOOLS, project / "node_modules")

    out = sls(endpoint, project, "deploy", "--verbose")
    assert "slsworker-dev" in out, out
    assert cfn.describe_stacks(StackName="slsworker-dev")["Stacks"][0]["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    function = "slsworker-dev-worker"
    assert [m["BatchSize"] for m in lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]] == [5]
    sqs.send_message(QueueUrl=stack_outputs(cfn, "slsworker-dev")["JobsUrl"], MessageBody="job-1")
    wait_for_log(logs, f"/aws/lambda/{function}", "hello job-1")

    # The `http` event: `serverless info` prints the stage's endpoint (serverless-localstack
    # rewrites AWS's execute-api address to the path form nimbus serves; being no longer https://,
    # the framework prints it without the routes), and the route answers.
    info = sls(endpoint, project, "info")
    match = re.search(r"endpoint: (http://localhost:\d+/restapis/(\w+)/dev/_user_request_)$", info, re.M)
    assert match, info
    base, api_id = match.groups()
    url = base + "/hello"
    assert [a["name"] for a in apigw.get_rest_apis()["items"] if a["id"] == api_id] == ["dev-slsworker"]
    assert get_json(url + "?name=ada") == {"greeting": "hello", "path": "/hello", "name": "ada"}

    assert '"hello"' in sls(endpoint, project, "invoke", "-f", "worker").splitlines()
    assert "hello job-1" in sls(endpoint, project, "logs", "-f", "worker")

    sls(endpoint, project, "deploy", GREETING="hi")
    assert json.loads(lam.invoke(FunctionName=function, Payload=b"{}")["Payload"].read()) == "hi"
    # The update replaced the stage's AWS::ApiGateway::Deployment; the stage answers with the new code.
    assert get_json(url + "?name=bo")["greeting"] == "hi"

    sls(endpoint, project, "remove")
    with pytest.raises(botocore.exceptions.ClientError):
        cfn.describe_stacks(StackName="slsworker-dev")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=function)
    assert api_id not in [a["id"] for a in apigw.get_rest_apis()["items"]]
