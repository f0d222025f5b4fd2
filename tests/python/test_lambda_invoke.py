"""Invoke through boto3 and the function's logs in CloudWatch Logs."""
import base64
import io
import json
import re
import time
import uuid
import zipfile

import requests

from conftest import client

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
CODE = """
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def handler(event, context):
    print("printed", event.get("n"))
    logger.info("logged %s", event.get("n"))
    return {"doubled": event.get("n", 0) * 2}
"""


def zip_bytes(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
    return buf.getvalue()


def test_invoke_writes_platform_and_function_logs(endpoint):
    lam = client(endpoint, "lambda")
    logs = client(endpoint, "logs")
    fn = "logs-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler", Code={"ZipFile": zip_bytes({"index.py": CODE})})
    out = lam.invoke(FunctionName=fn, Payload=json.dumps({"n": 21}), LogType="Tail")
    assert json.loads(out["Payload"].read()) == {"doubled": 42}
    tail = base64.b64decode(out["LogResult"]).decode()
    assert "printed 21" in tail and "REPORT RequestId:" in tail

    group = f"/aws/lambda/{fn}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])
    messages = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=streams[0]["logStreamName"], startFromHead=True)["events"]]
    assert messages[0].startswith("START RequestId: ")
    assert any(m.startswith("printed 21") for m in messages)
    assert any("logged 21" in m and m.startswith("[INFO]") for m in messages)
    assert messages[-2].startswith("END RequestId: ")
    assert messages[-1].startswith("REPORT RequestId: ") and "Init Duration" in messages[-1]

    found = logs.filter_log_events(logGroupName=group, filterPattern="REPORT")["events"]
    assert len(found) == 1


MULTILINE = """
import logging, sys
logging.getLogger().setLevel(logging.INFO)

def handler(event, context):
    print("first line\\nsecond line")
    logging.info("logged\\nover two lines")
    sys.stdout.write("written without a newline")
    return "ok"
"""


def test_a_multi_line_print_is_one_log_event(endpoint):
    # AWS's Python runtime sends each print (and each logging record) as one event, its line
    # breaks inside; output without a final newline still belongs to the invocation.
    lam = client(endpoint, "lambda")
    logs = client(endpoint, "logs")
    fn = "multiline-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": zip_bytes({"index.py": MULTILINE})})
    out = lam.invoke(FunctionName=fn, Payload=b"{}", LogType="Tail")
    assert json.loads(out["Payload"].read()) == "ok"
    request_id = out["ResponseMetadata"]["RequestId"]
    group = f"/aws/lambda/{fn}"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    messages = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]]
    function_events = [m for m in messages if not m.startswith(("START ", "END ", "REPORT ", "INIT_START "))]
    assert function_events[0] == "first line\nsecond line\n"
    assert re.fullmatch(r"\[INFO\]\t\S+Z\t" + request_id + r"\tlogged\nover two lines\n", function_events[1]), function_events
    assert function_events[2] == "written without a newline\n"
    assert len(function_events) == 3, function_events
    assert messages.index(function_events[2]) < next(i for i, m in enumerate(messages) if m.startswith("END "))
    assert "first line\nsecond line\n" in base64.b64decode(out["LogResult"]).decode()


def test_a_multi_line_console_log_is_one_log_event(endpoint):
    lam = client(endpoint, "lambda")
    logs = client(endpoint, "logs")
    fn = "multiline-node-" + uuid.uuid4().hex[:8]
    code = 'exports.handler = async () => { console.log("first line\\nsecond line"); return "ok"; };\n'
    lam.create_function(FunctionName=fn, Runtime="nodejs22.x", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": zip_bytes({"index.js": code})})
    out = lam.invoke(FunctionName=fn, Payload=b"{}")
    request_id = out["ResponseMetadata"]["RequestId"]
    group = f"/aws/lambda/{fn}"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]
    messages = [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]]
    logged = [m for m in messages if "first line" in m]
    assert len(logged) == 1, messages
    assert re.fullmatch(r"\S+Z\t" + request_id + r"\tINFO\tfirst line\nsecond line\n", logged[0]), logged


def test_json_log_format_and_custom_group(endpoint):
    lam = client(endpoint, "lambda")
    logs = client(endpoint, "logs")
    fn = "jlogs-" + uuid.uuid4().hex[:8]
    lam.create_function(
        FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler",
        Code={"ZipFile": zip_bytes({"index.py": CODE})},
        LoggingConfig={"LogFormat": "JSON", "LogGroup": "/custom/group"},
    )
    lam.invoke(FunctionName=fn, Payload=json.dumps({"n": 1}))
    events = logs.filter_log_events(logGroupName="/custom/group")["events"]
    records = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
    types = [r.get("type") for r in records]
    assert "platform.start" in types and "platform.report" in types
    app = [r for r in records if r.get("message") == "logged 1"]
    assert app and app[0]["level"] == "INFO"


CONTEXT_CODE = """
def handler(event, context):
    cc = context.client_context
    return {"custom": cc.custom if cc else None, "env": cc.env if cc else None}

def big(event, context):
    return "x" * (7 * 1024 * 1024)
"""


def test_client_context_invoke_async_and_payload_limits(endpoint):
    lam = client(endpoint, "lambda")
    fn = "ctx-" + uuid.uuid4().hex[:8]
    code = {"ZipFile": zip_bytes({"index.py": CONTEXT_CODE})}
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler", Code=code)
    client_context = base64.b64encode(json.dumps({"custom": {"k": "v"}, "env": {"locale": "en"}}).encode()).decode()
    out = lam.invoke(FunctionName=fn, ClientContext=client_context, Payload="{}")
    assert json.loads(out["Payload"].read()) == {"custom": {"k": "v"}, "env": {"locale": "en"}}

    accepted = lam.invoke_async(FunctionName=fn, InvokeArgs=b"{}")
    assert accepted["Status"] == 202

    too_big = json.dumps({"data": "x" * (6 * 1024 * 1024)})
    try:
        lam.invoke(FunctionName=fn, Payload=too_big)
        raise AssertionError("expected RequestEntityTooLargeException")
    except lam.exceptions.ClientError as err:
        # AWS's front end refuses it before Lambda sees it.
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert err.response["Error"]["Code"] == "RequestEntityTooLargeException"

    big = fn + "-big"
    lam.create_function(FunctionName=big, Runtime="python3.12", Role=ROLE, Handler="index.big", Code=code)
    out = lam.invoke(FunctionName=big)
    assert out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"


def test_provisioned_concurrency_starts_environments_ahead_of_traffic(endpoint):
    import time
    lam = client(endpoint, "lambda")
    fn = "prov-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler", Code={"ZipFile": zip_bytes({"index.py": CODE})})
    version = lam.publish_version(FunctionName=fn)["Version"]
    try:
        lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
        raise AssertionError("expected InvalidParameterValueException")
    except lam.exceptions.InvalidParameterValueException:
        pass
    put = lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier=version, ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["Status"] == "IN_PROGRESS"
    for _ in range(100):
        got = lam.get_provisioned_concurrency_config(FunctionName=fn, Qualifier=version)
        if got["Status"] != "IN_PROGRESS":
            break
        time.sleep(0.1)
    assert got["Status"] == "READY" and got["AllocatedProvisionedConcurrentExecutions"] == 2
    envs = requests.get(f"{endpoint}/_nimbus/lambda/environments").json()["Environments"]
    assert len([e for e in envs if e["function"].endswith(":" + fn) and e["version"] == version]) == 2
    out = lam.invoke(FunctionName=fn, Qualifier=version, LogType="Tail", Payload=json.dumps({"n": 1}))
    assert "Init Duration" not in base64.b64decode(out["LogResult"]).decode()
    listed = lam.list_provisioned_concurrency_configs(FunctionName=fn)["ProvisionedConcurrencyConfigs"]
    assert listed[0]["FunctionArn"].endswith(f":{fn}:{version}")
    lam.delete_provisioned_concurrency_config(FunctionName=fn, Qualifier=version)
    try:
        lam.get_provisioned_concurrency_config(FunctionName=fn, Qualifier=version)
        raise AssertionError("expected ProvisionedConcurrencyConfigNotFoundException")
    except lam.exceptions.ProvisionedConcurrencyConfigNotFoundException:
        pass
