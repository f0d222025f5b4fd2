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
    # Other tests' stacks (CDK's bootstrap stack) may export too on the shared server.
    exports = {e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]}
    assert exports["plain-group"] == "/app/plain"
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


def wait_stack(cfn, stack, deadline=240):
    """Poll until the stack leaves *_IN_PROGRESS (as the CLI and SDK waiters do)."""
    import time
    end = time.time() + deadline
    while True:
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            return status
        assert time.time() < end, f"{stack} still {status}"
        time.sleep(0.3)


def physical(cfn, stack, logical):
    res = cfn.describe_stack_resource(StackName=stack, LogicalResourceId=logical)["StackResourceDetail"]
    return res["PhysicalResourceId"]


def receive_until(sqs, url, predicate, deadline=90):
    """Messages from the queue until one satisfies `predicate` (it is returned)."""
    import time
    end = time.time() + deadline
    seen = []
    while time.time() < end:
        for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if predicate(m["Body"]):
                return m["Body"]
    raise AssertionError(f"no matching message on {url}; saw {seen}")


SNS_TEMPLATE = """
Parameters:
  Display: {Type: String}
  Inline: {Type: String, AllowedValues: ["yes", "no"]}
Conditions:
  WithInline: !Equals [!Ref Inline, "yes"]
Resources:
  Inbox:
    Type: AWS::SQS::Queue
  Raw:
    Type: AWS::SQS::Queue
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Ref Display
      Tags: [{Key: team, Value: core}]
      Subscription: !If
        - WithInline
        - [{Protocol: sqs, Endpoint: !GetAtt Inbox.Arn}]
        - !Ref AWS::NoValue
  RawSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Raw.Arn
      RawMessageDelivery: true
      FilterPolicy: {kind: [order]}
  Policy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Topic]
      PolicyDocument:
        Version: '2012-10-17'
        Statement: [{Sid: s3, Effect: Allow, Principal: {Service: s3.amazonaws.com}, Action: sns:Publish, Resource: !Ref Topic}]
Outputs:
  TopicArn: {Value: !Ref Topic}
  TopicName: {Value: !GetAtt Topic.TopicName}
  Subscription: {Value: !Ref RawSubscription}
"""


def test_sns_topic_subscriptions_and_policy_through_sns(endpoint):
    cfn, sns, sqs = client(endpoint, "cloudformation"), client(endpoint, "sns"), client(endpoint, "sqs")
    params = lambda display, inline: [{"ParameterKey": "Display", "ParameterValue": display},
                                      {"ParameterKey": "Inline", "ParameterValue": inline}]
    stack_id = cfn.create_stack(StackName="topics", TemplateBody=SNS_TEMPLATE, Parameters=params("Alerts", "yes"))["StackId"]
    assert wait_stack(cfn, "topics") == "CREATE_COMPLETE"
    out = outputs(cfn, "topics")
    arn = out["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:000000000000:{out['TopicName']}"
    assert out["TopicName"].startswith("topics-Topic-")
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "Alerts"
    assert json.loads(attrs["Policy"])["Statement"][0]["Sid"] == "s3"
    assert {"Key": "team", "Value": "core"} in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    inbox, raw = physical(cfn, "topics", "Inbox"), physical(cfn, "topics", "Raw")
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert sorted(s["Endpoint"] for s in subs) == sorted(
        [inbox_arn, sqs.get_queue_attributes(QueueUrl=raw, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]])
    sub_attrs = sns.get_subscription_attributes(SubscriptionArn=out["Subscription"])["Attributes"]
    assert sub_attrs["RawMessageDelivery"] == "true"
    assert json.loads(sub_attrs["FilterPolicy"]) == {"kind": ["order"]}

    # Published messages really reach both queues (the raw one only through its filter).
    sns.publish(TopicArn=arn, Message="hello", MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}})
    assert json.loads(receive_until(sqs, inbox, lambda b: "hello" in b))["Message"] == "hello"
    assert receive_until(sqs, raw, lambda b: b == "hello") == "hello"

    # Update in place: the display name changes, the inline subscription goes.
    cfn.update_stack(StackName="topics", TemplateBody=SNS_TEMPLATE, Parameters=params("Pager", "no"))
    assert wait_stack(cfn, "topics") == "UPDATE_COMPLETE"
    assert outputs(cfn, "topics")["TopicArn"] == arn, "same topic"
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Pager"
    subs = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in subs] == [out["Subscription"]]

    cfn.delete_stack(StackName="topics")
    assert wait_stack(cfn, stack_id) == "DELETE_COMPLETE"
    assert arn not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]


EVENTS_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Rate: {Type: String, Default: rate(5 minutes)}
Resources:
  Ticks:
    Type: AWS::SQS::Queue
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: shop-bus
  ToQueue:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern: {source: [shop], detail-type: [order]}
      Targets:
        - Id: queue
          Arn: !GetAtt Ticks.Arn
          InputTransformer:
            InputPathsMap: {id: $.detail.id}
            InputTemplate: '{"via": "rule", "order": <id>}'
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Timeout: 30
      InlineCode: |
        import json, os, boto3
        def handler(event, context):
            via = event.get("via") or event.get("source")
            boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE"],
                MessageBody=json.dumps({"via": via, "resources": event.get("resources", [])}))
      Environment:
        Variables:
          QUEUE: !Ref Ticks
      Policies:
        - SQSSendMessagePolicy:
            QueueName: !GetAtt Ticks.QueueName
      Events:
        Every:
          Type: Schedule
          Properties:
            Schedule: !Ref Rate
        Later:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(7 minutes)
            Input: '{"via": "scheduler"}'
        Orders:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: {source: [shop]}
Outputs:
  RuleName: {Value: !Ref TickerEvery}
  RuleArn: {Value: !GetAtt TickerEvery.Arn}
  QueueRule: {Value: !Ref ToQueue}
  Schedule: {Value: !Ref TickerLater}
"""


def test_sam_schedule_rules_and_scheduler_fire_the_function_on_the_clock(tmp_path):
    import requests
    from conftest import start_nimbus
    proc, endpoint = start_nimbus()
    try:
        cfn, events, sqs = client(endpoint, "cloudformation"), client(endpoint, "events"), client(endpoint, "sqs")
        scheduler = client(endpoint, "scheduler")
        stack_id = cfn.create_stack(StackName="ticks", TemplateBody=EVENTS_TEMPLATE,
                                    Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])["StackId"]
        assert wait_stack(cfn, "ticks", deadline=400) == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="ticks")
        out = outputs(cfn, "ticks")
        rule = events.describe_rule(Name=out["RuleName"])
        assert (rule["ScheduleExpression"], rule["State"], rule["Arn"]) == ("rate(5 minutes)", "ENABLED", out["RuleArn"])
        assert out["RuleName"].startswith("ticks-TickerEvery-")
        bus_rule = out["QueueRule"]
        assert bus_rule.startswith("shop-bus|ticks-ToQueue-"), bus_rule
        targets = events.list_targets_by_rule(Rule=bus_rule.split("|")[1], EventBusName="shop-bus")["Targets"]
        assert targets[0]["Id"] == "queue"
        schedule = scheduler.get_schedule(Name=out["Schedule"])
        assert schedule["ScheduleExpression"] == "rate(7 minutes)"
        queue = physical(cfn, "ticks", "Ticks")

        def advance(seconds):
            requests.post(f"{endpoint}/_nimbus/clock/advance", json={"seconds": seconds}).raise_for_status()

        # The SAM Schedule event's rule invokes the function when the clock passes 5 minutes…
        advance(6 * 60)
        body = json.loads(receive_until(sqs, queue, lambda b: '"aws.events"' in b, deadline=120))
        assert body["resources"] == [out["RuleArn"]]
        # …and the ScheduleV2 event's schedule at 7.
        advance(2 * 60)
        receive_until(sqs, queue, lambda b: '"scheduler"' in b, deadline=120)
        # An event on the stack's bus reaches the function (EventBridgeRule) and the queue rule.
        entry = {"Source": "shop", "DetailType": "order", "Detail": json.dumps({"id": 42}), "EventBusName": "shop-bus"}
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        assert json.loads(receive_until(sqs, queue, lambda b: '"rule"' in b)) == {"via": "rule", "order": 42}
        receive_until(sqs, queue, lambda b: '"shop"' in b, deadline=120)

        # Update in place: the rule keeps its name with the new schedule.
        cfn.update_stack(StackName="ticks", TemplateBody=EVENTS_TEMPLATE,
                         Parameters=[{"ParameterKey": "Rate", "ParameterValue": "rate(1 hour)"}],
                         Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
        assert wait_stack(cfn, "ticks", deadline=400) == "UPDATE_COMPLETE"
        assert events.describe_rule(Name=out["RuleName"])["ScheduleExpression"] == "rate(1 hour)"

        cfn.delete_stack(StackName="ticks")
        assert wait_stack(cfn, stack_id, deadline=400) == "DELETE_COMPLETE"
        names = [r["Name"] for r in events.list_rules()["Rules"]]
        assert out["RuleName"] not in names
        assert "shop-bus" not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]
        assert out["Schedule"] not in [s["Name"] for s in scheduler.list_schedules()["Schedules"]]
    finally:
        proc.kill()
        proc.wait()


API_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting: {Type: String, Default: hello}
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import json, os
        def handler(event, context):
            version = event.get("version", "1.0")
            path = event.get("rawPath") or event.get("path")
            return {"statusCode": 200, "headers": {"content-type": "application/json"},
                    "body": json.dumps({"greeting": os.environ["GREETING"], "path": path, "version": version})}
      Environment:
        Variables:
          GREETING: !Ref Greeting
      Events:
        Rest:
          Type: Api
          Properties:
            Path: /hello/{name}
            Method: get
        Http:
          Type: HttpApi
          Properties: {Path: /hi, Method: get}
Outputs:
  RestId: {Value: !Ref ServerlessRestApi}
  HttpId: {Value: !Ref ServerlessHttpApi}
  HttpEndpoint: {Value: !GetAtt ServerlessHttpApi.ApiEndpoint}
"""


def test_sam_api_and_http_api_events_answer_over_http(endpoint):
    import requests
    cfn, apigw, apigw2 = client(endpoint, "cloudformation"), client(endpoint, "apigateway"), client(endpoint, "apigatewayv2")
    caps = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    stack_id = cfn.create_stack(StackName="apis", TemplateBody=API_TEMPLATE, Capabilities=caps)["StackId"]
    assert wait_stack(cfn, "apis", deadline=400) == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="apis")
    out = outputs(cfn, "apis")
    types = {r["ResourceType"] for r in cfn.list_stack_resources(StackName="apis")["StackResourceSummaries"]}
    assert {"AWS::ApiGateway::RestApi", "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage",
            "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Stage"} <= types
    rest_id, http_id = out["RestId"], out["HttpId"]
    paths = {r["path"] for r in apigw.get_resources(restApiId=rest_id)["items"]}
    assert "/hello/{name}" in paths
    assert apigw.get_stage(restApiId=rest_id, stageName="Prod")["deploymentId"]
    assert [r["RouteKey"] for r in apigw2.get_routes(ApiId=http_id)["Items"]] == ["GET /hi"]

    def get(url):
        import time
        end = time.time() + 120
        while True:
            r = requests.get(url, timeout=60)
            if r.status_code == 200 or time.time() > end:
                return r
            time.sleep(0.5)

    r = get(f"{endpoint}/restapis/{rest_id}/Prod/_user_request_/hello/world")
    assert r.status_code == 200, r.text
    assert r.json() == {"greeting": "hello", "path": "/hello/world", "version": "1.0"}
    r = get(f"{endpoint}/restapis/{http_id}/$default/_user_request_/hi")
    assert r.status_code == 200, r.text
    assert r.json() == {"greeting": "hello", "path": "/hi", "version": "2.0"}

    # A code change redeploys: the same APIs answer with the new environment.
    cfn.update_stack(StackName="apis", TemplateBody=API_TEMPLATE, Capabilities=caps,
                     Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "bonjour"}])
    assert wait_stack(cfn, "apis", deadline=400) == "UPDATE_COMPLETE"
    assert outputs(cfn, "apis")["RestId"] == rest_id
    import time
    end = time.time() + 60
    while get(f"{endpoint}/restapis/{rest_id}/Prod/_user_request_/hello/x").json()["greeting"] != "bonjour":
        assert time.time() < end
        time.sleep(0.5)

    cfn.delete_stack(StackName="apis")
    assert wait_stack(cfn, stack_id, deadline=400) == "DELETE_COMPLETE"
    assert rest_id not in [a["id"] for a in apigw.get_rest_apis()["items"]]
    assert http_id not in [a["ApiId"] for a in apigw2.get_apis()["Items"]]


PLAIN_API_TEMPLATE = """
Parameters:
  Answer: {Type: String, Default: '{"ok": true}'}
Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Name: plain-api
      Description: built resource by resource
  Items:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref Api
      ParentId: !GetAtt Api.RootResourceId
      PathPart: items
  GetItems:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Items
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 200}'}
        IntegrationResponses:
          - StatusCode: '200'
            ResponseTemplates: {application/json: !Ref Answer}
      MethodResponses: [{StatusCode: '200'}]
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: GetItems
    Properties:
      RestApiId: !Ref Api
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref Api
      DeploymentId: !Ref Deployment
      StageName: v1
      Variables: {mode: test}
  Http:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: plain-http
      ProtocolType: HTTP
  Backend:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Http
      IntegrationType: HTTP_PROXY
      IntegrationMethod: GET
      IntegrationUri: !Sub 'ENDPOINT/restapis/${Api}/v1/_user_request_/items'
      PayloadFormatVersion: '1.0'
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Http
      RouteKey: GET /proxied
      Target: !Sub 'integrations/${Backend}'
  HttpStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      ApiId: !Ref Http
      StageName: $default
      AutoDeploy: true
Outputs:
  Api: {Value: !Ref Api}
  Http: {Value: !Ref Http}
  Root: {Value: !GetAtt Api.RootResourceId}
"""


def test_plain_rest_and_http_api_resources_through_api_gateway(endpoint):
    import requests
    cfn, apigw, apigw2 = client(endpoint, "cloudformation"), client(endpoint, "apigateway"), client(endpoint, "apigatewayv2")
    body = PLAIN_API_TEMPLATE.replace("ENDPOINT", endpoint)
    stack_id = cfn.create_stack(StackName="plain-apis", TemplateBody=body)["StackId"]
    assert wait_stack(cfn, "plain-apis") == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="plain-apis")
    out = outputs(cfn, "plain-apis")
    api = apigw.get_rest_api(restApiId=out["Api"])
    assert (api["name"], api["description"]) == ("plain-api", "built resource by resource")
    root = [r for r in apigw.get_resources(restApiId=out["Api"])["items"] if r["path"] == "/"][0]
    assert root["id"] == out["Root"]
    stage = apigw.get_stage(restApiId=out["Api"], stageName="v1")
    assert stage["variables"] == {"mode": "test"}
    r = requests.get(f"{endpoint}/restapis/{out['Api']}/v1/_user_request_/items", timeout=30)
    assert (r.status_code, r.json()) == (200, {"ok": True})
    r = requests.get(f"{endpoint}/restapis/{out['Http']}/$default/_user_request_/proxied", timeout=30)
    assert (r.status_code, r.json()) == (200, {"ok": True}), r.text

    # The method is updated in place; a new deployment is needed for the stage to serve it,
    # as on AWS, so the old answer is still served.
    cfn.update_stack(StackName="plain-apis", TemplateBody=body,
                     Parameters=[{"ParameterKey": "Answer", "ParameterValue": '{"ok": false}'}])
    assert wait_stack(cfn, "plain-apis") == "UPDATE_COMPLETE"
    integ = apigw.get_integration(restApiId=out["Api"], resourceId=physical(cfn, "plain-apis", "Items"), httpMethod="GET")
    assert integ["integrationResponses"]["200"]["responseTemplates"] == {"application/json": '{"ok": false}'}
    r = requests.get(f"{endpoint}/restapis/{out['Api']}/v1/_user_request_/items", timeout=30)
    assert r.json() == {"ok": True}

    cfn.delete_stack(StackName="plain-apis")
    assert wait_stack(cfn, stack_id) == "DELETE_COMPLETE"
    assert out["Api"] not in [a["id"] for a in apigw.get_rest_apis()["items"]]
    assert out["Http"] not in [a["ApiId"] for a in apigw2.get_apis()["Items"]]


STAGED_DEPLOYMENT_TEMPLATE = """
Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: staged-api}
  GetRoot:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !GetAtt Api.RootResourceId
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: MOCK
        RequestTemplates: {application/json: '{"statusCode": 200}'}
        IntegrationResponses: [{StatusCode: '200', ResponseTemplates: {application/json: '{"deployment": "DEPLOY"}'}}]
      MethodResponses: [{StatusCode: '200'}]
  DEPLOY:
    Type: AWS::ApiGateway::Deployment
    DependsOn: GetRoot
    Properties: {RestApiId: !Ref Api, StageName: live}
Outputs:
  Api: {Value: !Ref Api}
"""


def test_a_new_deployment_resource_takes_over_its_stage_and_the_old_one_leaves_it(endpoint):
    """The Serverless Framework's pattern: each deploy adds a Deployment (a new logical id) with the
    same StageName; deleting the old one after the update must leave the stage, now the new
    deployment's, in place. Deleting the stack then deletes the stage with its deployment."""
    import requests
    cfn, apigw = client(endpoint, "cloudformation"), client(endpoint, "apigateway")
    stack_id = cfn.create_stack(StackName="staged-api",
                                TemplateBody=STAGED_DEPLOYMENT_TEMPLATE.replace("DEPLOY", "DeployOne"))["StackId"]
    assert wait_stack(cfn, "staged-api") == "CREATE_COMPLETE"
    api = outputs(cfn, "staged-api")["Api"]
    first = physical(cfn, "staged-api", "DeployOne")

    cfn.update_stack(StackName="staged-api", TemplateBody=STAGED_DEPLOYMENT_TEMPLATE.replace("DEPLOY", "DeployTwo"))
    assert wait_stack(cfn, "staged-api") == "UPDATE_COMPLETE", cfn.describe_stack_events(StackName="staged-api")
    second = physical(cfn, "staged-api", "DeployTwo")
    assert apigw.get_stage(restApiId=api, stageName="live")["deploymentId"] == second
    assert [d["id"] for d in apigw.get_deployments(restApiId=api)["items"]] == [second]
    assert first != second
    r = requests.get(f"{endpoint}/restapis/{api}/live/_user_request_/", timeout=30)
    assert (r.status_code, r.json()) == (200, {"deployment": "DeployTwo"})

    cfn.delete_stack(StackName="staged-api")
    assert wait_stack(cfn, stack_id) == "DELETE_COMPLETE", cfn.describe_stack_events(StackName=stack_id)
    assert api not in [a["id"] for a in apigw.get_rest_apis()["items"]]


DATA_TEMPLATE = """
Parameters:
  Hours: {Type: Number, Default: 48}
  AliasTarget: {Type: String, Default: First, AllowedValues: [First, Second]}
Conditions:
  ToFirst: !Equals [!Ref AliasTarget, First]
Resources:
  Stream:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: 2
      RetentionPeriodHours: !Ref Hours
      Tags: [{Key: team, Value: data}]
  DbSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Description: !Sub 'kept for ${Hours} hours'
      GenerateSecretString:
        SecretStringTemplate: '{"username": "admin"}'
        GenerateStringKey: password
        PasswordLength: 20
        ExcludePunctuation: true
  First:
    Type: AWS::KMS::Key
    Properties:
      Description: first key
      EnableKeyRotation: true
  Second:
    Type: AWS::KMS::Key
    Properties:
      Description: second key
      PendingWindowInDays: 7
  Alias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: alias/cfn-data
      TargetKeyId: !If [ToFirst, !Ref First, !Ref Second]
Outputs:
  StreamArn: {Value: !GetAtt Stream.Arn}
  Secret: {Value: !Ref DbSecret}
  FirstArn: {Value: !GetAtt First.Arn}
"""


def test_kinesis_secrets_manager_and_kms_resources_through_their_services(endpoint):
    cfn, kinesis = client(endpoint, "cloudformation"), client(endpoint, "kinesis")
    sm, kms = client(endpoint, "secretsmanager"), client(endpoint, "kms")
    stack_id = cfn.create_stack(StackName="data", TemplateBody=DATA_TEMPLATE)["StackId"]
    assert wait_stack(cfn, "data") == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="data")
    out = outputs(cfn, "data")
    stream = physical(cfn, "data", "Stream")
    assert stream.startswith("data-Stream-")
    summary = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    assert (summary["StreamARN"], summary["OpenShardCount"], summary["RetentionPeriodHours"]) == (out["StreamArn"], 2, 48)
    assert {"Key": "team", "Value": "data"} in kinesis.list_tags_for_stream(StreamName=stream)["Tags"]
    kinesis.put_record(StreamName=stream, Data=b"x", PartitionKey="k")

    secret = sm.describe_secret(SecretId=out["Secret"])
    assert secret["ARN"] == out["Secret"] and secret["Name"].startswith("DbSecret-")
    value = json.loads(sm.get_secret_value(SecretId=out["Secret"])["SecretString"])
    assert value["username"] == "admin" and len(value["password"]) == 20 and value["password"].isalnum()

    first = physical(cfn, "data", "First")
    meta = kms.describe_key(KeyId=first)["KeyMetadata"]
    assert (meta["Arn"], meta["Description"], meta["KeyState"]) == (out["FirstArn"], "first key", "Enabled")
    assert kms.get_key_rotation_status(KeyId=first)["KeyRotationEnabled"] is True
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/cfn-data"] == first
    blob = kms.encrypt(KeyId="alias/cfn-data", Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"

    # Updates in place: retention grows, the secret's description changes (its value stays),
    # the alias moves to the second key.
    cfn.update_stack(StackName="data", TemplateBody=DATA_TEMPLATE, Parameters=[
        {"ParameterKey": "Hours", "ParameterValue": "72"}, {"ParameterKey": "AliasTarget", "ParameterValue": "Second"}])
    assert wait_stack(cfn, "data") == "UPDATE_COMPLETE", cfn.describe_stack_events(StackName="data")
    assert physical(cfn, "data", "Stream") == stream
    assert kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["RetentionPeriodHours"] == 72
    assert sm.describe_secret(SecretId=out["Secret"])["Description"] == "kept for 72 hours"
    assert json.loads(sm.get_secret_value(SecretId=out["Secret"])["SecretString"]) == value
    second = physical(cfn, "data", "Second")
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/cfn-data"] == second

    cfn.delete_stack(StackName="data")
    assert wait_stack(cfn, stack_id) == "DELETE_COMPLETE"
    assert stream not in kinesis.list_streams()["StreamNames"]
    try:
        sm.describe_secret(SecretId=out["Secret"])
        raise AssertionError("the secret is still there")
    except sm.exceptions.ResourceNotFoundException:
        pass
    assert kms.describe_key(KeyId=first)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert "alias/cfn-data" not in [a["AliasName"] for a in kms.list_aliases()["Aliases"]]


CHILD_TEMPLATE = """
Parameters:
  Timeout: {Type: Number}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref Timeout
Outputs:
  QueueUrl: {Value: !Ref Queue}
"""

PARENT_TEMPLATE = """
Parameters:
  Timeout: {Type: Number, Default: 40}
Resources:
  Child:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: https://s3.amazonaws.com/nested-templates/child.yaml
      Parameters:
        Timeout: !Ref Timeout
Outputs:
  QueueUrl: {Value: !GetAtt Child.Outputs.QueueUrl}
  ChildId: {Value: !Ref Child}
"""


def test_nested_stack_from_s3_is_created_updated_and_deleted_with_its_parent(endpoint):
    cfn, s3, sqs = client(endpoint, "cloudformation"), client(endpoint, "s3"), client(endpoint, "sqs")
    s3.create_bucket(Bucket="nested-templates")
    s3.put_object(Bucket="nested-templates", Key="child.yaml", Body=CHILD_TEMPLATE.encode())
    stack_id = cfn.create_stack(StackName="parent", TemplateBody=PARENT_TEMPLATE)["StackId"]
    assert wait_stack(cfn, "parent") == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="parent")
    out = outputs(cfn, "parent")
    child = cfn.describe_stacks(StackName=out["ChildId"])["Stacks"][0]
    assert child["StackName"].startswith("parent-Child-") and child["StackStatus"] == "CREATE_COMPLETE"
    attrs = sqs.get_queue_attributes(QueueUrl=out["QueueUrl"], AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "40"

    cfn.update_stack(StackName="parent", TemplateBody=PARENT_TEMPLATE,
                     Parameters=[{"ParameterKey": "Timeout", "ParameterValue": "90"}])
    assert wait_stack(cfn, "parent") == "UPDATE_COMPLETE"
    assert cfn.describe_stacks(StackName=out["ChildId"])["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    attrs = sqs.get_queue_attributes(QueueUrl=out["QueueUrl"], AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "90"

    cfn.delete_stack(StackName="parent")
    assert wait_stack(cfn, stack_id) == "DELETE_COMPLETE"
    assert cfn.describe_stacks(StackName=out["ChildId"])["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert out["QueueUrl"] not in sqs.list_queues().get("QueueUrls", [])


S3_EVENT_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Seen:
    Type: AWS::SQS::Queue
  Uploads:
    Type: AWS::S3::Bucket
  OnUpload:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import json, os, boto3
        def handler(event, context):
            keys = [r["s3"]["object"]["key"] for r in event["Records"]]
            boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE"], MessageBody=json.dumps({"keys": keys}))
      Environment:
        Variables:
          QUEUE: !Ref Seen
      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref Uploads
            Events: s3:ObjectCreated:*
            Filter:
              S3Key:
                Rules: [{Name: suffix, Value: .csv}]
"""


def test_sam_s3_event_invokes_the_function_through_the_buckets_notification(endpoint):
    cfn, s3, sqs = client(endpoint, "cloudformation"), client(endpoint, "s3"), client(endpoint, "sqs")
    caps = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    stack_id = cfn.create_stack(StackName="uploads", TemplateBody=S3_EVENT_TEMPLATE, Capabilities=caps)["StackId"]
    assert wait_stack(cfn, "uploads", deadline=400) == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="uploads")
    bucket, queue = physical(cfn, "uploads", "Uploads"), physical(cfn, "uploads", "Seen")
    config = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert config[0]["Events"] == ["s3:ObjectCreated:*"]
    assert config[0]["Filter"]["Key"]["FilterRules"][0]["Value"] == ".csv"
    s3.put_object(Bucket=bucket, Key="skip.txt", Body=b"no")
    s3.put_object(Bucket=bucket, Key="in/data.csv", Body=b"a,b")
    def only_csv(body):
        assert "skip.txt" not in body, "the suffix filter lets only .csv keys through"
        return "data.csv" in body
    assert json.loads(receive_until(sqs, queue, only_csv, deadline=120)) == {"keys": ["in/data.csv"]}
    late = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2).get("Messages", [])
    assert not [m for m in late if "skip.txt" in m["Body"]]
    for key in ["skip.txt", "in/data.csv"]:
        s3.delete_object(Bucket=bucket, Key=key)
    cfn.delete_stack(StackName="uploads")
    assert wait_stack(cfn, stack_id, deadline=400) == "DELETE_COMPLETE"
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_a_configuration_s3_refuses_fails_the_bucket_and_leaves_nothing_behind(endpoint):
    cfn, s3 = client(endpoint, "cloudformation"), client(endpoint, "s3")
    body = json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {
        "BucketName": "cfn-bad-cors",
        "CorsConfiguration": {"CorsRules": [{"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]}]}}}}})
    stack_id = cfn.create_stack(StackName="bad-bucket", TemplateBody=body)["StackId"]
    assert wait_stack(cfn, "bad-bucket") == "ROLLBACK_COMPLETE"
    failed = [e for e in cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED" and e["LogicalResourceId"] == "Bucket"]
    assert failed[0]["ResourceStatusReason"].startswith(
        'Resource handler returned message: "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"')
    assert "cfn-bad-cors" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    cfn.delete_stack(StackName="bad-bucket")
    assert wait_stack(cfn, stack_id) == "DELETE_COMPLETE"


BUCKET_TO_TOPIC_TEMPLATE = """
Resources:
  Inbox:
    Type: AWS::SQS::Queue
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      Subscription: [{Protocol: sqs, Endpoint: !GetAtt Inbox.Arn}]
  TopicPolicy:
    Type: AWS::SNS::TopicPolicy
    Properties:
      Topics: [!Ref Topic]
      PolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: s3.amazonaws.com}, Action: sns:Publish, Resource: !Ref Topic}]
  Bucket:
    Type: AWS::S3::Bucket
    DependsOn: TopicPolicy
    Properties:
      NotificationConfiguration:
        TopicConfigurations:
          - Event: s3:ObjectRemoved:*
            Topic: !Ref Topic
        EventBridgeConfiguration:
          EventBridgeEnabled: true
"""


def test_bucket_notifications_reach_an_sns_topic_of_the_stack(endpoint):
    cfn, s3, sqs = client(endpoint, "cloudformation"), client(endpoint, "s3"), client(endpoint, "sqs")
    stack_id = cfn.create_stack(StackName="bucket-topic", TemplateBody=BUCKET_TO_TOPIC_TEMPLATE)["StackId"]
    assert wait_stack(cfn, "bucket-topic") == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="bucket-topic")
    bucket, inbox = physical(cfn, "bucket-topic", "Bucket"), physical(cfn, "bucket-topic", "Inbox")
    config = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert config["TopicConfigurations"][0]["TopicArn"] == physical(cfn, "bucket-topic", "Topic")
    assert "EventBridgeConfiguration" in config
    s3.put_object(Bucket=bucket, Key="gone.txt", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="gone.txt")
    body = receive_until(sqs, inbox, lambda b: "ObjectRemoved" in b)
    record = json.loads(json.loads(body)["Message"])["Records"][0]
    assert (record["eventName"], record["s3"]["object"]["key"]) == ("ObjectRemoved:Delete", "gone.txt")
    cfn.delete_stack(StackName="bucket-topic")
    assert wait_stack(cfn, stack_id) == "DELETE_COMPLETE"


KINESIS_EVENT_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Seen:
    Type: AWS::SQS::Queue
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: 1
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        import base64, json, os, boto3
        def handler(event, context):
            data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
            boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE"], MessageBody=json.dumps({"data": data}))
      Environment:
        Variables:
          QUEUE: !Ref Seen
      Events:
        Stream:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 10
"""


def test_sam_kinesis_event_reads_the_stacks_stream(endpoint):
    cfn, kinesis, sqs = client(endpoint, "cloudformation"), client(endpoint, "kinesis"), client(endpoint, "sqs")
    caps = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    stack_id = cfn.create_stack(StackName="clicks", TemplateBody=KINESIS_EVENT_TEMPLATE, Capabilities=caps)["StackId"]
    assert wait_stack(cfn, "clicks", deadline=400) == "CREATE_COMPLETE", cfn.describe_stack_events(StackName="clicks")
    stream, queue = physical(cfn, "clicks", "Clicks"), physical(cfn, "clicks", "Seen")
    kinesis.put_record(StreamName=stream, Data=b"click-1", PartitionKey="u1")
    body = json.loads(receive_until(sqs, queue, lambda b: "click-1" in b, deadline=120))
    assert body == {"data": ["click-1"]}
    cfn.delete_stack(StackName="clicks")
    assert wait_stack(cfn, stack_id, deadline=400) == "DELETE_COMPLETE"
    assert stream not in kinesis.list_streams()["StreamNames"]


def sam_cli():
    """The SAM CLI the test set-up installs into .venv-sam (tests/requirements-sam.txt)."""
    from conftest import ROOT
    return str(ROOT / ".venv-sam" / "bin" / "sam")


SAM_APP = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Items:
    Type: AWS::Serverless::SimpleTable
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Environment: {Variables: {TABLE: !Ref Items}}
      Events:
        Get:
          Type: Api
          Properties:
            Path: /hello
            Method: get
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(5 minutes)
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Events:
        Q:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
Outputs:
  RestId:
    Value: !Ref ServerlessRestApi
"""


def test_sam_deploy_redeploy_and_delete_with_the_sam_cli(endpoint, tmp_path):
    import pytest
    import requests
    sam = sam_cli()
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(SAM_APP)
    code = 'import json\ndef handler(event, context):\n    return {"statusCode": 200, "body": json.dumps({"hello": "VERSION"})}\n'
    (tmp_path / "src" / "app.py").write_text(code.replace("VERSION", "v1"))
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, SAM_CLI_TELEMETRY="0")

    def run(*args):
        return subprocess.run([sam, *args], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)

    deploy = ("deploy", "--stack-name", "sam-cli-app", "--resolve-s3", "--capabilities", "CAPABILITY_IAM",
              "--no-confirm-changeset", "--no-fail-on-empty-changeset")
    done = run(*deploy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Successfully created/updated stack - sam-cli-app" in done.stdout
    rest_id = outputs(client(endpoint, "cloudformation"), "sam-cli-app")["RestId"]
    url = f"{endpoint}/restapis/{rest_id}/Prod/_user_request_/hello"
    assert requests.get(url, timeout=60).json() == {"hello": "v1"}

    # A code change: the change set modifies both functions in place.
    (tmp_path / "src" / "app.py").write_text(code.replace("VERSION", "v2"))
    done = run(*deploy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Modify" in done.stdout and "AWS::Lambda::Function" in done.stdout
    assert requests.get(url, timeout=60).json() == {"hello": "v2"}

    done = run("delete", "--stack-name", "sam-cli-app", "--no-prompts")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Deleted successfully" in done.stdout
    assert rest_id not in [a["id"] for a in client(endpoint, "apigateway").get_rest_apis()["items"]]
