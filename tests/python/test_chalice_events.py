"""Chalice's event sources against nimbus: `chalice deploy` of an app with `@app.schedule`,
`@app.on_sns_message` and `@app.on_s3_event` (an EventBridge rule, an SNS subscription, a bucket
notification, each with its Lambda permission), each handler run by its service, and `chalice
delete` taking it all down again. Its own nimbus, because the test moves the clock."""
import datetime
import json
import pathlib
import shutil
import sys
import time

import pytest
import requests

from conftest import client, run_tool, start_nimbus

APP = pathlib.Path(__file__).parent / "chalice_events_app"
CHALICE = pathlib.Path(sys.executable).parent / "chalice"
TOPIC, BUCKET = "chalice-events-topic", "chalice-events-uploads"
RULE = "events-dev-every_five_minutes-event"


@pytest.fixture
def nimbus():
    proc, url = start_nimbus()
    yield url
    proc.kill()
    proc.wait()


def runs(logs, function, kind):
    """The JSON lines the app's `log` wrote for `kind` in the function's log group."""
    group = f"/aws/lambda/events-dev-{function}"
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    lines = [e["message"].strip() for e in events]
    return [r for r in (json.loads(line) for line in lines if line.startswith("{")) if r.get("kind") == kind]


def wait_for_runs(logs, function, kind, count, deadline_s=180):
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        got = runs(logs, function, kind)
        if len(got) >= count:
            return got
        time.sleep(0.5)
    raise AssertionError(f"{function} ran {len(runs(logs, function, kind))} times, expected {count}")


def test_chalice_schedule_sns_and_s3_handlers_run_and_delete_cleans_up(nimbus, tmp_path):
    sns, s3, sqs, logs = (client(nimbus, s) for s in ("sns", "s3", "sqs", "logs"))
    events, lam = client(nimbus, "events"), client(nimbus, "lambda")
    topic = sns.create_topic(Name=TOPIC)["TopicArn"]
    s3.create_bucket(Bucket=BUCKET)
    # A configuration of the bucket's own, which Chalice must merge with and leave in place.
    queue = sqs.create_queue(QueueName="audit")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn}]})})
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": [
        {"Id": "audit", "QueueArn": queue_arn, "Events": ["s3:ObjectRemoved:*"]}]})

    project = tmp_path / "events"
    shutil.copytree(APP, project)
    run_tool([CHALICE, "deploy", "--stage", "dev"], project, nimbus)

    rule = events.describe_rule(Name=RULE)
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(5 minutes)", "ENABLED")
    fn_arn = "arn:aws:lambda:us-east-1:000000000000:function:events-dev-"
    assert events.list_targets_by_rule(Rule=RULE)["Targets"] == [{"Id": "1", "Arn": fn_arn + "every_five_minutes"}]
    [sub] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert (sub["Protocol"], sub["Endpoint"]) == ("lambda", fn_arn + "on_message")
    config = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    assert [q["Id"] for q in config["QueueConfigurations"]] == ["audit"]
    [upload] = config["LambdaFunctionConfigurations"]
    assert upload["LambdaFunctionArn"] == fn_arn + "on_upload" and upload["Events"] == ["s3:ObjectCreated:*"]
    assert upload["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "uploads/"},
                                                      {"Name": "Suffix", "Value": ".jpg"}]
    assert upload["Id"], "S3 assigns an Id to a configuration sent without one"

    # rate(5 minutes) counts from the rule's creation: ten minutes later it has run twice.
    assert runs(logs, "every_five_minutes", "schedule") == []
    requests.post(f"{nimbus}/_nimbus/clock/advance", json={"seconds": 600}).raise_for_status()
    ticks = wait_for_runs(logs, "every_five_minutes", "schedule", 2)
    assert all((t["source"], t["detail_type"], t["detail"]) == ("aws.events", "Scheduled Event", {}) for t in ticks)
    assert all(t["resources"] == [rule["Arn"]] and t["account"] == "000000000000" for t in ticks)
    times = sorted(datetime.datetime.fromisoformat(t["time"].replace("Z", "+00:00")) for t in ticks)
    assert times[1] - times[0] == datetime.timedelta(minutes=5)
    now = datetime.datetime.fromisoformat(requests.get(f"{nimbus}/_nimbus/clock").json()["now"])
    assert times[1] <= now < times[1] + datetime.timedelta(minutes=5), "both runs due, a third not yet"

    # Outside the prefix or the suffix: no run. The key arrives form-encoded; Chalice decodes it.
    s3.put_object(Bucket=BUCKET, Key="elsewhere/a.jpg", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="uploads/notes.txt", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="uploads/my photo.jpg", Body=b"jpeg")
    [upload_run] = wait_for_runs(logs, "on_upload", "s3", 1)
    assert upload_run == {"kind": "s3", "bucket": BUCKET, "key": "uploads/my photo.jpg",
                          "event_name": "ObjectCreated:Put", "configuration_id": upload["Id"]}

    sns.publish(TopicArn=topic, Message="hello from sns", Subject="greeting", MessageAttributes={
        "color": {"DataType": "String", "StringValue": "red"}, "n": {"DataType": "Number", "StringValue": "7"}})
    [note] = wait_for_runs(logs, "on_message", "sns", 1)
    assert (note["message"], note["subject"]) == ("hello from sns", "greeting")
    assert note["attributes"] == {"color": {"Type": "String", "Value": "red"}, "n": {"Type": "Number", "Value": "7"}}
    sns.publish(TopicArn=topic, Message="no subject")
    assert wait_for_runs(logs, "on_message", "sns", 2)[1] == {"kind": "sns", "message": "no subject",
                                                              "subject": None, "attributes": {}}

    # Stray runs (a third tick, an upload outside the filter) would have landed by now.
    assert len(runs(logs, "every_five_minutes", "schedule")) == 2
    assert len(runs(logs, "on_upload", "s3")) == 1

    run_tool([CHALICE, "delete", "--stage", "dev"], project, nimbus)
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert not [n for n in names if n.startswith("events-dev-")], names
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_rule(Name=RULE)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    config = s3.get_bucket_notification_configuration(Bucket=BUCKET)
    assert config.get("LambdaFunctionConfigurations", []) == []
    assert [q["Id"] for q in config["QueueConfigurations"]] == ["audit"]
