"""One request id per invocation, the environment's log stream, and live logs (issue 10)."""
import base64
import io
import json
import threading
import time
import uuid
import zipfile

import requests

from conftest import client

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

CODE = """
import os, time

def handler(event, context):
    for i in range(event.get("lines", 0)):
        print("line", i)
        time.sleep(event.get("pause", 0))
    return {
        "request_id": context.aws_request_id,
        "log_stream": context.log_stream_name,
        "log_group": context.log_group_name,
        "env_stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME"),
    }
"""


def zip_bytes(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
    return buf.getvalue()


def make_function(lam, prefix):
    fn = prefix + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": zip_bytes({"index.py": CODE})}, Timeout=30)
    return fn


def wait_for(check, timeout=60.0):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.time() < deadline, "condition not met in time"
        time.sleep(0.1)


def events_of(logs, group):
    try:
        return logs.filter_log_events(logGroupName=group)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []


def test_one_request_id_and_the_real_log_stream(endpoint):
    lam = client(endpoint, "lambda")
    logs = client(endpoint, "logs")
    fn = make_function(lam, "corr-")
    out = lam.invoke(FunctionName=fn, Payload=json.dumps({"lines": 1}), LogType="Tail")
    body = json.loads(out["Payload"].read())
    request_id = out["ResponseMetadata"]["RequestId"]
    assert out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == request_id
    assert body["request_id"] == request_id
    tail = base64.b64decode(out["LogResult"]).decode()
    assert f"START RequestId: {request_id} Version: $LATEST\n" in tail
    assert f"END RequestId: {request_id}\n" in tail
    assert f"REPORT RequestId: {request_id}\t" in tail

    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{fn}")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [body["log_stream"]]
    assert body["env_stream"] == body["log_stream"]
    assert body["log_group"] == f"/aws/lambda/{fn}"

    # Every event, the platform's and the function's, ends with a newline, as on AWS.
    messages = [e["message"] for e in events_of(logs, f"/aws/lambda/{fn}")]
    assert messages[0] == f"START RequestId: {request_id} Version: $LATEST\n"
    assert "line 0\n" in messages
    assert messages[-2] == f"END RequestId: {request_id}\n"
    assert messages[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ") and messages[-1].endswith("\t\n")

    # REPORT's Duration is the handler's time; the cold start's Init Duration is apart.
    report = messages[-1]
    fields = dict(f.split(": ", 1) for f in report.strip().split("\t")[1:])
    assert "Init Duration" in fields
    duration = float(fields["Duration"].split()[0])
    init = float(fields["Init Duration"].split()[0])
    assert duration < init or duration < 50, report

    # An Event invocation runs under the id of its 202.
    out = lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")
    assert out["StatusCode"] == 202
    event_id = out["ResponseMetadata"]["RequestId"]
    wait_for(lambda: any(e["message"] == f"END RequestId: {event_id}\n" for e in events_of(logs, f"/aws/lambda/{fn}")))


def test_logs_are_live_during_an_invocation(endpoint):
    lam = client(endpoint, "lambda")
    logs = client(endpoint, "logs")
    fn = make_function(lam, "live-")
    group = f"/aws/lambda/{fn}"
    lam.invoke(FunctionName=fn, Payload=b"{}")  # warm up
    result = {}
    worker = threading.Thread(target=lambda: result.update(out=lam.invoke(
        FunctionName=fn, Payload=json.dumps({"lines": 3, "pause": 1.0}))))
    worker.start()
    # The first line is readable while the function still runs.
    first = wait_for(lambda: [e for e in events_of(logs, group) if e["message"] == "line 0\n"], timeout=30)
    assert worker.is_alive(), "the first line appeared only after the invocation ended"
    worker.join(60)
    request_id = result["out"]["ResponseMetadata"]["RequestId"]
    events = events_of(logs, group)
    lines = [e for e in events if e["message"].startswith("line ")]
    assert [e["message"] for e in lines] == ["line 0\n", "line 1\n", "line 2\n"]
    # Each stamped when it was written: a second apart, not all at the end.
    assert lines[2]["timestamp"] - lines[0]["timestamp"] >= 1500, lines
    end = [e for e in events if e["message"] == f"END RequestId: {request_id}\n"][0]
    assert first[0]["timestamp"] < end["timestamp"]


def test_function_url_answer_carries_the_invocation_id(endpoint):
    lam = client(endpoint, "lambda")
    fn = make_function(lam, "urlid-")
    url = lam.create_function_url_config(FunctionName=fn, AuthType="NONE")["FunctionUrl"]
    lam.add_permission(FunctionName=fn, StatementId="public", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    answer = requests.get(url, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["request_id"] == answer.headers["x-amzn-RequestId"]
