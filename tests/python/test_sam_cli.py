"""The SAM CLI end to end against nimbus, as a new user runs it: `sam deploy --resolve-s3` (SAM's
managed bucket stack, package to S3,
change set, execute, wait on the stack events), the SQS trigger it wires, `sam logs`, a second
`sam deploy` with changed code (an UPDATE change set), `sam remote invoke`, and `sam delete`.

The SAM CLI lives in its own virtualenv (.venv-sam, from tests/requirements-sam.txt) because it
pins an older botocore than the other tests.
"""
import json

import botocore.exceptions
import pytest

from conftest import ROOT, client, run_tool, stack_outputs, wait_for_log

SAM = ROOT / ".venv-sam" / "bin" / "sam"

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Environment:
        Variables:
          GREETING: hello
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 5
  Jobs:
    Type: AWS::SQS::Queue
Outputs:
  WorkerName:
    Value: !Ref Worker
  JobsUrl:
    Value: !Ref Jobs
"""

HANDLER = """\
import os

def handler(event, context):
    for record in event.get("Records", []):
        print("{} {} {}".format(os.environ["GREETING"], "{version}", record["body"]))
    return "{version}"
"""


def sam(endpoint, project, *args, timeout=600):
    return run_tool([SAM, *args], project, endpoint, timeout=timeout, SAM_CLI_TELEMETRY="0")


def write_project(project, version):
    (project / "src").mkdir(parents=True, exist_ok=True)
    (project / "template.yaml").write_text(TEMPLATE)
    (project / "src" / "app.py").write_text(HANDLER.replace("{version}", version))


def test_sam_deploy_trigger_logs_update_and_delete(endpoint, tmp_path):
    s3, cfn, sqs, logs, lam = (client(endpoint, s) for s in ("s3", "cloudformation", "sqs", "logs", "lambda"))
    project = tmp_path / "app"
    deploy = ("deploy", "--stack-name", "sam-worker", "--resolve-s3", "--capabilities",
              "CAPABILITY_IAM", "--no-confirm-changeset", "--no-progressbar")

    write_project(project, "v1")
    out = sam(endpoint, project, *deploy)
    assert "Successfully created/updated stack - sam-worker" in out, out
    stack = cfn.describe_stacks(StackName="sam-worker")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    # --resolve-s3 made SAM's managed stack (an S3 bucket and its policy); what `sam deploy` uploaded
    # is really in that bucket: the code zip and the packaged template.
    managed = cfn.describe_stack_resource(StackName="aws-sam-cli-managed-default",
                                          LogicalResourceId="SamCliSourceBucket")["StackResourceDetail"]
    bucket = managed["PhysicalResourceId"]
    assert bucket.startswith("aws-sam-cli-managed-default-samclisourcebucket-")
    assert len(s3.list_objects_v2(Bucket=bucket).get("Contents", [])) >= 2
    names = stack_outputs(cfn, "sam-worker")
    function = names["WorkerName"]
    assert function.startswith("sam-worker-Worker-")
    mappings = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    assert [m["BatchSize"] for m in mappings] == [5]

    # The SQS trigger SAM wired runs the function; its output reaches CloudWatch Logs.
    sqs.send_message(QueueUrl=names["JobsUrl"], MessageBody="job-1")
    wait_for_log(logs, f"/aws/lambda/{function}", "hello v1 job-1")
    tail = sam(endpoint, project, "logs", "--stack-name", "sam-worker", "-n", "Worker", timeout=120)
    assert "hello v1 job-1" in tail, tail

    # A second deploy with changed code is an UPDATE change set; the function runs the new code.
    write_project(project, "v2")
    out = sam(endpoint, project, *deploy)
    assert "Successfully created/updated stack - sam-worker" in out, out
    assert cfn.describe_stacks(StackName="sam-worker")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    answer = lam.invoke(FunctionName=function, Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == "v2"
    sqs.send_message(QueueUrl=names["JobsUrl"], MessageBody="job-2")
    wait_for_log(logs, f"/aws/lambda/{function}", "hello v2 job-2")

    # `sam remote invoke` finds the function by its logical id in the stack, invokes it with the
    # event and prints the answer (on stdout, which run_tool puts first) and the log tail Lambda
    # returns (on stderr).
    event = json.dumps({"Records": [{"body": "job-3"}]})
    out = sam(endpoint, project, "remote", "invoke", "Worker", "--stack-name", "sam-worker", "--event", event,
              timeout=120)
    assert out.startswith('"v2"Invoking Lambda Function Worker'), out
    assert "hello v2 job-3" in out, out

    # Deploying the same template again changes nothing: SAM reports it and succeeds.
    out = sam(endpoint, project, *deploy, "--no-fail-on-empty-changeset")
    assert "No changes to deploy" in out, out

    sam(endpoint, project, "delete", "--stack-name", "sam-worker", "--no-prompts")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cfn.describe_stacks(StackName="sam-worker")
    assert "does not exist" in str(err.value)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=function)
    assert names["JobsUrl"] not in sqs.list_queues().get("QueueUrls", [])
