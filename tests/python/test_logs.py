"""CloudWatch Logs through boto3: groups, streams, events, filters, retention, tags."""
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import client


@pytest.fixture
def logs(endpoint):
    return client(endpoint, "logs")


@pytest.fixture
def group(logs):
    name = f"/test/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name, tags={"env": "test"})
    yield name
    try:
        logs.delete_log_group(logGroupName=name)
    except ClientError:
        pass


def now_ms():
    return int(time.time() * 1000)


def error_of(exc_info):
    err = exc_info.value.response["Error"]
    return err["Code"], err["Message"]


def test_log_group_lifecycle(logs, group):
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName=group)
    assert error_of(e) == ("ResourceAlreadyExistsException", "The specified log group already exists")
    found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert len(found) == 1
    g = found[0]
    assert g["logGroupName"] == group
    assert g["arn"].endswith(f":log-group:{group}:*")
    assert g["logGroupArn"] == g["arn"][:-2]
    assert g["logGroupClass"] == "STANDARD"
    assert g["storedBytes"] == 0
    with pytest.raises(ClientError) as e:
        logs.describe_log_groups(logGroupNamePrefix="a", logGroupNamePattern="b")
    assert error_of(e)[0] == "InvalidParameterException"
    logs.delete_log_group(logGroupName=group)
    with pytest.raises(ClientError) as e:
        logs.delete_log_group(logGroupName=group)
    assert error_of(e) == ("ResourceNotFoundException", "The specified log group does not exist.")


def test_validation_error(logs):
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="bad:name")
    code, message = error_of(e)
    assert code == "InvalidParameterException"
    assert message.startswith("1 validation error detected: Value 'bad:name' at 'logGroupName'")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_put_and_get_events(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    t = now_ms()
    out = logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[{"timestamp": t + i, "message": f"line {i}"} for i in range(5)],
    )
    assert len(out["nextSequenceToken"]) == 56
    assert "rejectedLogEventsInfo" not in out
    page = logs.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True, limit=3)
    assert [e["message"] for e in page["events"]] == ["line 0", "line 1", "line 2"]
    page2 = logs.get_log_events(
        logGroupName=group, logStreamName="s1", startFromHead=True, limit=3, nextToken=page["nextForwardToken"]
    )
    assert [e["message"] for e in page2["events"]] == ["line 3", "line 4"]
    end = logs.get_log_events(logGroupName=group, logStreamName="s1", nextToken=page2["nextForwardToken"])
    assert end["events"] == []
    assert end["nextForwardToken"] == page2["nextForwardToken"]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert streams[0]["firstEventTimestamp"] == t
    assert streams[0]["lastEventTimestamp"] == t + 4


def test_put_rules(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms()
    with pytest.raises(ClientError) as e:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}],
        )
    assert error_of(e) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    out = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": t, "message": "ok"}, {"timestamp": t + 3 * 3600 * 1000, "message": "future"}],
    )
    assert out["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName=group, logStreamName="nope", logEvents=[{"timestamp": t, "message": "x"}])
    assert error_of(e) == ("ResourceNotFoundException", "The specified log stream does not exist.")


def test_filter_log_events(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="a")
    logs.create_log_stream(logGroupName=group, logStreamName="b")
    t = now_ms()
    logs.put_log_events(logGroupName=group, logStreamName="a", logEvents=[
        {"timestamp": t, "message": "ERROR something broke"},
        {"timestamp": t + 1, "message": json.dumps({"level": "info", "latency": 12})},
    ])
    logs.put_log_events(logGroupName=group, logStreamName="b", logEvents=[
        {"timestamp": t + 2, "message": "INFO all good"},
    ])
    def messages(**kw):
        return [e["message"] for e in logs.filter_log_events(logGroupName=group, **kw)["events"]]
    assert messages(filterPattern="ERROR") == ["ERROR something broke"]
    assert len(messages(filterPattern="?ERROR ?INFO")) == 2
    assert len(messages(filterPattern='{ $.latency > 10 }')) == 1
    assert messages(logStreamNames=["b"]) == ["INFO all good"]
    events = logs.filter_log_events(logGroupName=group)["events"]
    assert [e["logStreamName"] for e in events] == ["a", "a", "b"]
    assert all({"eventId", "ingestionTime", "timestamp"} <= e.keys() for e in events)
    pages = list(logs.get_paginator("filter_log_events").paginate(logGroupName=group, PaginationConfig={"PageSize": 1}))
    assert sum(len(p["events"]) for p in pages) == 3


def test_retention_and_tags(logs, group):
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 7
    with pytest.raises(ClientError) as e:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert error_of(e)[0] == "InvalidParameterException"
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    logs.tag_resource(resourceArn=arn, tags={"team": "core"})
    logs.tag_log_group(logGroupName=group, tags={"old": "api"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "test", "team": "core", "old": "api"}
    logs.untag_resource(resourceArn=arn, tagKeys=["env"])
    logs.untag_log_group(logGroupName=group, tags=["old"])
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"team": "core"}


def test_unknown_operation(endpoint):
    import urllib.request
    req = urllib.request.Request(
        endpoint + "/",
        data=b"{}",
        headers={"X-Amz-Target": "Logs_20140328.NoSuchThing", "Content-Type": "application/x-amz-json-1.1"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 400
    assert e.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
