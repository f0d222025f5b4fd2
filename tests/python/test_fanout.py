"""SNS, EventBridge and EventBridge Scheduler through boto3: fan-out to SQS with a filter
policy, a rule with an input transformer, a cron schedule driven by the clock."""

import json
import time
import uuid

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import client, start_nimbus


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def queue(sqs, qname):
    url = sqs.create_queue(QueueName=qname)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url, n, polls=10):
    got = []
    for _ in range(polls):
        if len(got) >= n:
            break
        out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"])
        for m in out.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def test_sns_fan_out_with_filter_policy_and_errors(endpoint):
    sns, sqs = client(endpoint, "sns"), client(endpoint, "sqs")
    topic = sns.create_topic(Name=name("t"))["TopicArn"]
    all_url, all_arn = queue(sqs, name("all"))
    red_url, red_arn = queue(sqs, name("red"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=all_arn, Attributes={"RawMessageDelivery": "true"})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=red_arn,
                  Attributes={"FilterPolicy": json.dumps({"color": [{"anything-but": ["blue"]}]})})
    for color in ["red", "blue"]:
        sns.publish(TopicArn=topic, Message=f"a {color} one",
                    MessageAttributes={"color": {"DataType": "String", "StringValue": color}})
    assert sorted(m["Body"] for m in receive(sqs, all_url, 2)) == ["a blue one", "a red one"]
    reds = receive(sqs, red_url, 1)
    assert len(reds) == 1
    note = json.loads(reds[0]["Body"])
    assert note["Type"] == "Notification" and note["Message"] == "a red one"
    assert note["MessageAttributes"]["color"] == {"Type": "String", "Value": "red"}
    with pytest.raises(ClientError) as e:
        sns.publish(TopicArn=topic + "-missing", Message="x")
    assert e.value.response["Error"]["Code"] == "NotFound"
    assert e.value.response["Error"]["Message"] == "Topic does not exist"
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=topic, Protocol="carrier-pigeon", Endpoint="x")
    assert e.value.response["Error"]["Code"] == "InvalidParameter"


def test_eventbridge_rule_with_input_transformer_to_sqs(endpoint):
    events, sqs = client(endpoint, "events"), client(endpoint, "sqs")
    url, arn = queue(sqs, name("ev"))
    rule = name("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["app"], "detail": {"level": [{"prefix": "ERR"}]}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn, "InputTransformer": {
        "InputPathsMap": {"level": "$.detail.level", "msg": "$.detail.msg"},
        "InputTemplate": '{"alert": "<level>: <msg>"}'}}])
    out = events.put_events(Entries=[
        {"Source": "app", "DetailType": "log", "Detail": json.dumps({"level": "ERROR", "msg": "disk full"})},
        {"Source": "app", "DetailType": "log", "Detail": json.dumps({"level": "INFO", "msg": "fine"})},
    ])
    assert out["FailedEntryCount"] == 0
    got = receive(sqs, url, 1)
    assert [json.loads(m["Body"]) for m in got] == [{"alert": "ERROR: disk full"}]
    assert events.test_event_pattern(
        EventPattern=json.dumps({"detail": {"n": [{"numeric": [">=", 10]}]}}),
        Event=json.dumps({"id": "1", "account": "1", "source": "s", "time": "2030-01-01T00:00:00Z",
                          "region": "us-east-1", "detail-type": "d", "detail": {"n": 12}}))["Result"] is True


def test_scheduler_cron_fires_as_the_clock_moves():
    proc, url = start_nimbus()
    try:
        scheduler, sqs = client(url, "scheduler"), client(url, "sqs")
        qurl, arn = queue(sqs, "ticks")
        scheduler.create_schedule(
            Name="hourly", ScheduleExpression="cron(0 * * * ? *)", ScheduleExpressionTimezone="Asia/Tokyo",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": arn, "RoleArn": "arn:aws:iam::000000000000:role/s", "Input": '{"tick": 1}'})
        requests.post(f"{url}/_nimbus/clock/advance", json={"seconds": 5 * 3600}).raise_for_status()
        got = receive(sqs, qurl, 6, polls=4)
        assert len(got) == 5, [m["Body"] for m in got]
        assert got[0]["Body"] == '{"tick": 1}'
        with pytest.raises(ClientError) as e:
            scheduler.get_schedule(Name="nope")
        assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    finally:
        proc.kill()
        proc.wait()
