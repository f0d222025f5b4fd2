"""Kinesis Data Streams through boto3 (and the AWS CLI): streams, records, iterators, waiters,
resharding, consumers and Kinesis's errors."""
import json
import os
import subprocess
import sys
import uuid

import botocore.exceptions
import pytest

from conftest import client


def kinesis(endpoint):
    return client(endpoint, "kinesis")


def new_stream(k, shards=1):
    name = "py-" + uuid.uuid4().hex[:10]
    k.create_stream(StreamName=name, ShardCount=shards)
    k.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    return name


def read_shard(k, name, shard_id, kind="TRIM_HORIZON"):
    it = k.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType=kind)["ShardIterator"]
    records = []
    while it:
        out = k.get_records(ShardIterator=it)
        records.extend(out["Records"])
        if not out["Records"] and out["MillisBehindLatest"] == 0:
            break
        it = out.get("NextShardIterator")
    return records


def test_put_and_read_records_with_boto3(endpoint):
    k = kinesis(endpoint)
    name = new_stream(k, shards=2)
    first = k.put_record(StreamName=name, PartitionKey="a", Data=b"hello")
    assert first["ShardId"] == "shardId-000000000000"
    assert len(first["SequenceNumber"]) == 56
    out = k.put_records(
        StreamName=name,
        Records=[{"PartitionKey": "key-%d" % i, "Data": json.dumps({"n": i}).encode()} for i in range(20)],
    )
    assert out["FailedRecordCount"] == 0
    assert len(out["Records"]) == 20
    shards = k.list_shards(StreamName=name)["Shards"]
    assert [s["ShardId"] for s in shards] == ["shardId-000000000000", "shardId-000000000001"]
    records = []
    for s in shards:
        records.extend(read_shard(k, name, s["ShardId"]))
    assert len(records) == 21
    assert b"hello" in [r["Data"] for r in records]
    assert all("ApproximateArrivalTimestamp" in r and r["PartitionKey"] for r in records)

    after = k.get_shard_iterator(
        StreamName=name,
        ShardId="shardId-000000000000",
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        StartingSequenceNumber=first["SequenceNumber"],
    )["ShardIterator"]
    rest = k.get_records(ShardIterator=after, Limit=1)
    assert len(rest["Records"]) <= 1
    assert all(r["SequenceNumber"] > first["SequenceNumber"] for r in rest["Records"])


def test_describe_summary_tags_retention_and_delete(endpoint):
    k = kinesis(endpoint)
    name = new_stream(k, shards=3)
    summary = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["RetentionPeriodHours"] == 24
    assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    k.add_tags_to_stream(StreamName=name, Tags={"team": "data"})
    assert k.list_tags_for_stream(StreamName=name)["Tags"] == [{"Key": "team", "Value": "data"}]
    k.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=168)
    assert k.describe_stream(StreamName=name)["StreamDescription"]["RetentionPeriodHours"] == 168
    with pytest.raises(botocore.exceptions.ClientError) as err:
        k.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=9000)
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"
    k.delete_stream(StreamName=name)
    with pytest.raises(k.exceptions.ResourceNotFoundException) as err:
        k.describe_stream(StreamName=name)
    assert err.value.response["Error"]["Message"] == "Stream %s under account 000000000000 not found." % name


def test_errors_use_kinesis_codes(endpoint):
    k = kinesis(endpoint)
    name = new_stream(k)
    with pytest.raises(k.exceptions.ResourceInUseException):
        k.create_stream(StreamName=name, ShardCount=1)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        k.put_record(StreamName=name, PartitionKey="k", Data=b"x" * (1024 * 1024 + 1))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(k.exceptions.InvalidArgumentException):
        k.get_shard_iterator(
            StreamName=name,
            ShardId="shardId-000000000000",
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber="12",
        )
    with pytest.raises(k.exceptions.ResourceNotFoundException):
        k.get_shard_iterator(StreamName=name, ShardId="shardId-000000000009", ShardIteratorType="LATEST")
    # The current model makes PartitionKey optional; Kinesis itself still requires it.
    with pytest.raises(botocore.exceptions.ClientError) as err:
        k.put_record(StreamName=name, Data=b"x")
    assert err.value.response["Error"]["Message"] == (
        "1 validation error detected: Value null at 'partitionKey' failed to satisfy constraint: Member must not be null"
    )


def test_resharding_and_consumers(endpoint):
    k = kinesis(endpoint)
    name = new_stream(k, shards=2)
    arn = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    out = k.update_shard_count(StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert (out["CurrentShardCount"], out["TargetShardCount"]) == (2, 4)
    shards = k.list_shards(StreamName=name)["Shards"]
    assert len(shards) == 6
    open_shards = k.list_shards(StreamName=name, ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert len(open_shards) == 4
    assert all(s.get("ParentShardId") in ("shardId-000000000000", "shardId-000000000001") for s in open_shards)
    consumer = k.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
    assert consumer["ConsumerStatus"] == "ACTIVE"
    assert consumer["ConsumerARN"].startswith(arn + "/consumer/app:")
    assert [c["ConsumerName"] for c in k.list_stream_consumers(StreamARN=arn)["Consumers"]] == ["app"]
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_aws_cli_puts_and_lists(endpoint):
    k = kinesis(endpoint)
    name = new_stream(k)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    # The pinned AWS CLI v1 beside this Python sends blob arguments as given (v2 would want base64).
    base = [os.path.join(os.path.dirname(sys.executable), "aws"), "--endpoint-url", endpoint, "kinesis"]
    put = subprocess.run(
        base + ["put-record", "--stream-name", name, "--partition-key", "k", "--data", "hello", "--output", "json"],
        capture_output=True, text=True, env=env, check=True,
    )
    assert json.loads(put.stdout)["ShardId"] == "shardId-000000000000"
    listed = subprocess.run(base + ["list-streams", "--output", "json"], capture_output=True, text=True, env=env, check=True)
    assert name in json.loads(listed.stdout)["StreamNames"]
    assert [r["Data"] for r in read_shard(k, name, "shardId-000000000000")] == [b"hello"]


def test_subscribe_to_shard_event_stream_with_boto3(endpoint):
    """boto3 reads SubscribeToShard's event stream over HTTP/1.1: the initial response, then
    SubscribeToShardEvents with the records, pushed as they are put."""
    import time

    k = kinesis(endpoint)
    name = new_stream(k)
    arn = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    first = k.put_record(StreamName=name, PartitionKey="p", Data=b"one")["SequenceNumber"]
    consumer = k.register_stream_consumer(StreamARN=arn, ConsumerName="efo")["Consumer"]["ConsumerARN"]
    out = k.subscribe_to_shard(
        ConsumerARN=consumer, ShardId="shardId-000000000000", StartingPosition={"Type": "TRIM_HORIZON"}
    )
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    events = iter(out["EventStream"])

    def next_records(n, deadline_s=30):
        got, deadline = [], time.monotonic() + deadline_s
        while len(got) < n:
            assert time.monotonic() < deadline, "records did not arrive"
            event = next(events)["SubscribeToShardEvent"]
            got.extend(event["Records"])
        return got, event

    got, event = next_records(1)
    assert [r["Data"] for r in got] == [b"one"]
    assert got[0]["SequenceNumber"] == first
    assert got[0]["PartitionKey"] == "p"
    assert "ApproximateArrivalTimestamp" in got[0]
    assert event["ContinuationSequenceNumber"] == first
    assert event["MillisBehindLatest"] == 0

    sent = time.monotonic()
    k.put_record(StreamName=name, PartitionKey="p", Data=b"two")
    got, _ = next_records(1)
    assert [r["Data"] for r in got] == [b"two"]
    assert time.monotonic() - sent < 2.5, "pushed, not carried by the 5-second heartbeat"

    with pytest.raises(botocore.exceptions.ClientError) as err:
        k.subscribe_to_shard(
            ConsumerARN=consumer, ShardId="shardId-000000000000", StartingPosition={"Type": "LATEST"}
        )
    assert err.value.response["Error"]["Code"] == "ResourceInUseException"
    out["EventStream"].close()
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
