"""Control-plane answers as AWS gives them (issue 10)."""
import io
import json
import uuid
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import client, start_nimbus

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def code(body="def handler(e, c):\n    return e\n"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", body)
    return buf.getvalue()


def make(lam, **extra):
    fn = "cp-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": code()}, **extra)
    return fn


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    r = err.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"]["Message"]


def test_publish_version_on_a_configuration_only_change(endpoint):
    lam = client(endpoint, "lambda")
    fn = make(lam)
    assert lam.publish_version(FunctionName=fn)["Version"] == "1"
    assert lam.publish_version(FunctionName=fn)["Version"] == "1"  # nothing changed
    lam.update_function_configuration(FunctionName=fn, Description="new words")
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    assert lam.publish_version(FunctionName=fn)["Version"] == "2"
    lam.update_function_configuration(FunctionName=fn, Timeout=9)
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    assert lam.publish_version(FunctionName=fn)["Version"] == "3"


def test_delete_function_statuses(endpoint):
    lam = client(endpoint, "lambda")
    fn = make(lam)
    assert error_of(lam.delete_function, FunctionName=fn, Qualifier="$LATEST")[:2] == (400, "InvalidParameterValueException")
    # A version that is not there: success, as on AWS.
    assert lam.delete_function(FunctionName=fn, Qualifier="7")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.delete_function(FunctionName=fn)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_alias_and_event_config_errors(endpoint):
    lam = client(endpoint, "lambda")
    fn = make(lam)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{fn}:nope"
    assert error_of(lam.update_alias, FunctionName=fn, Name="nope", Description="x") == (404, "ResourceNotFoundException", f"Alias not found: {arn}")
    assert error_of(lam.delete_alias, FunctionName=fn, Name="nope") == (404, "ResourceNotFoundException", f"Alias not found: {arn}")
    assert error_of(lam.get_alias, FunctionName=fn, Name="nope") == (404, "ResourceNotFoundException", f"Cannot find alias arn: {arn}")
    assert error_of(lam.put_function_event_invoke_config, FunctionName=fn) == (
        400, "InvalidParameterValueException", "You must specify at least one of error handling or destination setting.")


def test_url_config_omits_an_unset_invoke_mode(endpoint):
    lam = client(endpoint, "lambda")
    fn = make(lam)
    created = lam.create_function_url_config(FunctionName=fn, AuthType="NONE")
    assert "InvokeMode" not in created
    assert "InvokeMode" not in lam.get_function_url_config(FunctionName=fn)
    updated = lam.update_function_url_config(FunctionName=fn, InvokeMode="BUFFERED")
    assert updated["InvokeMode"] == "BUFFERED"


def test_oversized_invoke_and_deprecated_runtimes(endpoint):
    lam = client(endpoint, "lambda")
    fn = make(lam)
    payload = json.dumps({"x": "a" * 6_300_000})
    assert error_of(lam.invoke, FunctionName=fn, Payload=payload) == (
        413, "RequestEntityTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
    # Blocked for creation by AWS's runtime table; nodejs18.x/python3.9 are deprecated but not
    # blocked before 2027-02-01.
    for runtime in ["java8", "provided", "go1.x", "nodejs14.x", "python3.7", "ruby2.7"]:
        status, kind, message = error_of(lam.create_function, FunctionName="old-" + uuid.uuid4().hex[:6], Runtime=runtime,
                                         Role=ROLE, Handler="index.handler", Code={"ZipFile": code()})
        assert (status, kind) == (400, "InvalidParameterValueException"), runtime
        assert message == (f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
                           "functions. We recommend you use a supported runtime while creating or updating functions."), message
    for runtime in ["nodejs18.x", "python3.9"]:
        name = "deprecated-" + uuid.uuid4().hex[:6]
        lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler="index.handler", Code={"ZipFile": code()})
        lam.delete_function(FunctionName=name)


def test_a_runtime_that_exits_cleanly_gives_no_reason(endpoint):
    lam = client(endpoint, "lambda")
    fn = make(lam)
    lam.update_function_code(FunctionName=fn, ZipFile=code("import os\ndef handler(e, c):\n    os._exit(0)\n"))
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    out = lam.invoke(FunctionName=fn, Payload=b"{}")
    body = json.loads(out["Payload"].read())
    assert body["errorType"] == "Runtime.ExitError"
    request_id = out["ResponseMetadata"]["RequestId"]
    assert body["errorMessage"] == f"RequestId: {request_id} Error: Runtime exited without providing a reason"


def test_aws_host_urls_behind_a_flag():
    from conftest import start_nimbus
    proc, url = start_nimbus("--aws-host-urls")
    try:
        sqs = client(url, "sqs")
        port = url.rsplit(":", 1)[1]
        queue = sqs.create_queue(QueueName="hosted")["QueueUrl"]
        assert queue == f"http://sqs.us-east-1.localhost:{port}/000000000000/hosted"
        # Either form addresses the queue.
        sqs.send_message(QueueUrl=queue, MessageBody="a")
        sqs.send_message(QueueUrl=f"{url}/000000000000/hosted", MessageBody="b")
        attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
        assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "2"
        lam = client(url, "lambda")
        fn = make(lam)
        function_url = lam.create_function_url_config(FunctionName=fn, AuthType="NONE")["FunctionUrl"]
        assert function_url.endswith(f".lambda-url.us-east-1.localhost:{port}/")
    finally:
        proc.kill()
        proc.wait()


def test_sqs_event_records_carry_one_value_per_attribute(endpoint):
    import time as _time
    lam = client(endpoint, "lambda")
    sqs = client(endpoint, "sqs")
    logs = client(endpoint, "logs")
    fn = "esm-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": code("import json\ndef handler(e, c):\n    print('EVENT ' + json.dumps(e))\n")})
    queue = sqs.create_queue(QueueName=fn)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=1)
    sqs.send_message(QueueUrl=queue, MessageBody="plain")
    sqs.send_message(QueueUrl=queue, MessageBody="attrs", MessageAttributes={
        "s": {"DataType": "String", "StringValue": "v"}, "b": {"DataType": "Binary", "BinaryValue": b"\x01"}})
    records = {}
    deadline = _time.time() + 60
    while len(records) < 2:
        assert _time.time() < deadline, records
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{fn}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        for e in events:
            if e["message"].startswith("EVENT "):
                record = json.loads(e["message"][6:])["Records"][0]
                records[record["body"]] = record
        _time.sleep(0.2)
    assert "md5OfMessageAttributes" not in records["plain"]
    attrs = records["attrs"]["messageAttributes"]
    assert attrs["s"] == {"stringValue": "v", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    assert attrs["b"] == {"binaryValue": "AQ==", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}
    assert records["attrs"]["md5OfMessageAttributes"]


def test_function_not_found_names_the_resolved_version(endpoint):
    lam = client(endpoint, "lambda")
    base = "arn:aws:lambda:us-east-1:000000000000:function:nowhere"
    assert error_of(lam.invoke, FunctionName="nowhere")[2] == f"Function not found: {base}:$LATEST"
    assert error_of(lam.get_function, FunctionName="nowhere", Qualifier="1")[2] == f"Function not found: {base}:1"


@pytest.fixture
def slow_updates():
    """A nimbus whose updates stay in progress for 3 s, so a loaded machine cannot miss them."""
    proc, url = start_nimbus("--lambda-update-ms", "3000")
    yield url
    proc.kill()
    proc.wait()


def test_an_update_in_progress_refuses_another_and_waiters_see_it_through(slow_updates):
    # As recorded from AWS (test_lambda_concurrent_code_updates / _config_updates).
    lam = client(slow_updates, "lambda")
    fn = make(lam, Timeout=30)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{fn}"
    updated = lam.update_function_code(FunctionName=fn, ZipFile=code("def handler(e, c):\n    return 1\n"), Publish=True)
    assert (updated["Version"], updated["State"], updated["StateReasonCode"]) == ("1", "Pending", "Creating")
    assert "LastUpdateStatus" not in updated
    latest = lam.get_function(FunctionName=fn)["Configuration"]
    assert (latest["State"], latest["LastUpdateStatus"], latest["LastUpdateStatusReasonCode"]) == ("Active", "InProgress", "Creating")
    assert lam.get_function(FunctionName=fn, Qualifier="1")["Configuration"]["State"] == "Pending"
    with pytest.raises(ClientError) as err:
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": {"TEST": "TEST2"}})
    r = err.value.response
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert r["Error"] == {"Code": "ResourceConflictException", "Message": f"The operation cannot be performed at this time. An update is in progress for resource: {arn}"}
    assert r["Type"] == "User"
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    lam.get_waiter("published_version_active").wait(FunctionName=fn, Qualifier="1", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    settled = lam.get_function(FunctionName=fn)["Configuration"]
    assert settled["LastUpdateStatus"] == "Successful" and settled["RevisionId"] != latest["RevisionId"]
    assert "Environment" not in settled or settled["Environment"].get("Variables", {}).get("TEST") is None
    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": {"TEST": "TEST2"}})


def test_a_new_function_is_pending_until_active():
    """CreateFunction answers Pending; until the function is Active, Invoke and updates are
    refused with AWS's texts; boto3's function_active_v2 waiter sees it through."""
    from conftest import start_nimbus
    proc, url = start_nimbus("--lambda-create-ms", "3000")
    try:
        lam = client(url, "lambda")
        created = lam.create_function(FunctionName="pending", Runtime="python3.12", Role=ROLE, Handler="index.handler",
                                      Code={"ZipFile": code("def handler(e, c):\n    return 'ran'\n")})
        assert (created["State"], created["StateReason"], created["StateReasonCode"]) == (
            "Pending", "The function is being created.", "Creating")
        assert lam.get_function(FunctionName="pending")["Configuration"]["State"] == "Pending"
        assert error_of(lam.invoke, FunctionName="pending", Payload=b"{}") == (
            409, "ResourceConflictException",
            "The operation cannot be performed at this time. The function is currently in the following state: Pending")
        arn = "arn:aws:lambda:us-east-1:000000000000:function:pending"
        assert error_of(lam.update_function_code, FunctionName="pending", ZipFile=code()) == (
            409, "ResourceConflictException",
            f"The operation cannot be performed at this time. The resource {arn} is currently in the following state: "
            "'Pending'. StateReasonCode: 'Creating'")
        lam.get_waiter("function_active_v2").wait(FunctionName="pending", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        active = lam.get_function(FunctionName="pending")["Configuration"]
        assert (active["State"], active["LastUpdateStatus"]) == ("Active", "Successful")
        assert json.loads(lam.invoke(FunctionName="pending", Payload=b"{}")["Payload"].read()) == "ran"
    finally:
        proc.kill()
        proc.wait()
