"""CloudFormation with the AWS CLI (`aws cloudformation deploy`) and boto3: a SAM template
(function + SQS event + SimpleTable) through AWS's own transform, a plain template, empty
change sets as the CLI reads them, and the deployed function running."""
import json
import os
import subprocess

from conftest import client

SAM_TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Items:
    Type: AWS::Serverless::SimpleTable
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import os
        def handler(event, context):
            return {"table": os.environ["TABLE"], "records": len(event.get("Records", []))}
      Environment:
        Variables:
          TABLE: !Ref Items
      Policies:
        - DynamoDBCrudPolicy:
            TableName: !Ref Items
      Events:
        FromQueue:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 5
Outputs:
  WorkerName:
    Value: !Ref Worker
  TableName:
    Value: !Ref Items
"""


def cli(endpoint, *args):
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_PAGER="")
    return subprocess.run(["aws", *args], capture_output=True, text=True, env=env, timeout=300)


def outputs(cfn, stack):
    desc = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}


def test_aws_cloudformation_deploy_of_a_sam_template(endpoint, tmp_path):
    template = tmp_path / "template.yaml"
    template.write_text(SAM_TEMPLATE)
    run = cli(endpoint, "cloudformation", "deploy", "--stack-name", "sam-app",
              "--template-file", str(template), "--capabilities", "CAPABILITY_IAM")
    assert run.returncode == 0, run.stderr
    assert "Successfully created/updated stack - sam-app" in run.stdout

    cfn = client(endpoint, "cloudformation")
    out = outputs(cfn, "sam-app")
    types = {r["LogicalResourceId"]: r["ResourceType"]
             for r in cfn.list_stack_resources(StackName="sam-app")["StackResourceSummaries"]}
    assert types == {
        "Jobs": "AWS::SQS::Queue",
        "Items": "AWS::DynamoDB::Table",
        "Worker": "AWS::Lambda::Function",
        "WorkerRole": "AWS::IAM::Role",
        "WorkerFromQueue": "AWS::Lambda::EventSourceMapping",
    }
    lam = client(endpoint, "lambda")
    result = lam.invoke(FunctionName=out["WorkerName"], Payload=b"{}")
    assert json.loads(result["Payload"].read()) == {"table": out["TableName"], "records": 0}
    mappings = lam.list_event_source_mappings(FunctionName=out["WorkerName"])["EventSourceMappings"]
    assert [m["BatchSize"] for m in mappings] == [5]
    client(endpoint, "dynamodb").describe_table(TableName=out["TableName"])
    processed = cfn.get_template(StackName="sam-app", TemplateStage="Processed")["TemplateBody"]
    assert "AWS::Serverless::Function" not in processed

    # Nothing changed: the CLI reads the FAILED change set as "no changes".
    again = cli(endpoint, "cloudformation", "deploy", "--stack-name", "sam-app", "--template-file", str(template),
                "--capabilities", "CAPABILITY_IAM", "--no-fail-on-empty-changeset")
    assert again.returncode == 0, again.stderr
    assert "No changes to deploy. Stack sam-app is up to date" in again.stdout


def test_plain_template_create_delete_and_outputs_with_boto3(endpoint):
    cfn = client(endpoint, "cloudformation")
    body = json.dumps({
        "Parameters": {"Env": {"Type": "String", "AllowedValues": ["dev", "prod"], "Default": "dev"}},
        "Mappings": {"Sizes": {"dev": {"Retention": 7}, "prod": {"Retention": 30}}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
        "Resources": {
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {
                "LogGroupName": {"Fn::Sub": "/app/${AWS::StackName}"},
                "RetentionInDays": {"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Retention"]}}},
            "ProdOnly": {"Type": "AWS::SQS::Queue", "Condition": "IsProd"},
        },
        "Outputs": {"Group": {"Value": {"Ref": "Logs"}, "Export": {"Name": "plain-group"}}},
    })
    cfn.create_stack(StackName="plain", TemplateBody=body)
    cfn.get_waiter("stack_create_complete").wait(StackName="plain", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    assert outputs(cfn, "plain") == {"Group": "/app/plain"}
    resources = cfn.describe_stack_resources(StackName="plain")["StackResources"]
    assert [r["LogicalResourceId"] for r in resources] == ["Logs"]
    groups = client(endpoint, "logs").describe_log_groups(logGroupNamePrefix="/app/plain")["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [("/app/plain", 7)]
    assert cfn.list_exports()["Exports"][0]["Name"] == "plain-group"
    summary = cfn.get_template_summary(TemplateBody=body)
    assert summary["Parameters"][0]["ParameterKey"] == "Env"
    assert summary["ResourceTypes"] == ["AWS::Logs::LogGroup", "AWS::SQS::Queue"]

    cfn.delete_stack(StackName="plain")
    cfn.get_waiter("stack_delete_complete").wait(StackName="plain", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    assert client(endpoint, "logs").describe_log_groups(logGroupNamePrefix="/app/plain")["logGroups"] == []


CUSTOM_TEMPLATE = """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]}
  Provider:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code:
        ZipFile: |
          import cfnresponse
          def handler(event, context):
              name = event["ResourceProperties"].get("Name", "")
              if name == "fail":
                  cfnresponse.send(event, context, cfnresponse.FAILED, {}, reason="asked to fail")
                  return
              data = {"Greeting": "hello " + name, "Type": event["RequestType"]}
              cfnresponse.send(event, context, cfnresponse.SUCCESS, data, "greeting-" + name)
  Greeting:
    Type: Custom::Greeting
    Properties:
      ServiceToken: !GetAtt Provider.Arn
      Name: NAME
Outputs:
  Greeting:
    Value: !GetAtt Greeting.Greeting
"""


def test_lambda_backed_custom_resource_answers_through_its_response_url(endpoint):
    cfn = client(endpoint, "cloudformation")
    cfn.create_stack(StackName="custom", TemplateBody=CUSTOM_TEMPLATE.replace("NAME", "world"), Capabilities=["CAPABILITY_IAM"])
    cfn.get_waiter("stack_create_complete").wait(StackName="custom", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    assert outputs(cfn, "custom") == {"Greeting": "hello world"}
    res = cfn.describe_stack_resource(StackName="custom", LogicalResourceId="Greeting")["StackResourceDetail"]
    assert (res["PhysicalResourceId"], res["ResourceType"]) == ("greeting-world", "Custom::Greeting")

    cfn.update_stack(StackName="custom", TemplateBody=CUSTOM_TEMPLATE.replace("NAME", "fail"), Capabilities=["CAPABILITY_IAM"])
    status = None
    for _ in range(240):
        status = cfn.describe_stacks(StackName="custom")["Stacks"][0]["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            break
        __import__("time").sleep(0.5)
    assert status == "UPDATE_ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName="custom")["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "UPDATE_FAILED"]
    assert failed[0]["ResourceStatusReason"].startswith(
        "Received response status [FAILED] from custom resource. Message returned: asked to fail")
    assert outputs(cfn, "custom") == {"Greeting": "hello world"}

    cfn.delete_stack(StackName="custom")
    cfn.get_waiter("stack_delete_complete").wait(StackName="custom", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
