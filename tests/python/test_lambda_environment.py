"""The function's environment as AWS sets it (issue 10)."""
import io
import json
import time
import uuid
import zipfile

from conftest import client

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
CODE = """
import os

def handler(event, context):
    keys = ["AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_ADDRESS",
            "_AWS_XRAY_DAEMON_PORT", "_X_AMZN_TRACE_ID", "AWS_LAMBDA_INITIALIZATION_TYPE",
            "AWS_LAMBDA_LOG_STREAM_NAME", "WRAPPED"]
    return {k: os.environ.get(k) for k in keys}
"""
WRAPPER = """#!/bin/sh
export WRAPPED="yes:$#"
exec "$@"
"""


def package(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, body in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, body)
    return buf.getvalue()


def test_xray_variables_trace_id_and_exec_wrapper(endpoint):
    lam = client(endpoint, "lambda")
    fn = "env-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": package({"index.py": CODE, "wrapper.sh": WRAPPER})},
                        Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper.sh"}})
    env = json.loads(lam.invoke(FunctionName=fn, Payload=b"{}")["Payload"].read())
    assert env["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"
    assert env["AWS_XRAY_DAEMON_ADDRESS"] == "169.254.79.129:2000"
    assert env["_AWS_XRAY_DAEMON_ADDRESS"] == "169.254.79.129"
    assert env["_AWS_XRAY_DAEMON_PORT"] == "2000"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"]
    # The wrapper ran with the runtime's command line as its arguments.
    assert env["WRAPPED"].startswith("yes:") and int(env["WRAPPED"].split(":")[1]) >= 1

    # A wrapper that is not there: the runtime cannot start.
    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/missing"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    out = lam.invoke(FunctionName=fn, Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"].read())["errorType"] == "Runtime.ExitError"


NODE_CODE = """
exports.handler = async () => ({
  wrapped: process.env.WRAPPED,
  argv0: process.argv0,
  execArgv: process.execArgv,
  heap: require("v8").getHeapStatistics().heap_size_limit,
});
"""
NODE_WRAPPER = """#!/bin/sh
export WRAPPED="yes:$1"
exec "$@"
"""


def test_exec_wrapper_for_nodejs(endpoint):
    # As for Python: the wrapper gets the runtime's command line (node, its flags, the
    # bootstrap), and the function's memory size still bounds node's heap.
    lam = client(endpoint, "lambda")
    fn = "node-wrap-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime="nodejs22.x", Role=ROLE, Handler="index.handler", MemorySize=256,
                        Code={"ZipFile": package({"index.js": NODE_CODE, "wrapper.sh": NODE_WRAPPER})},
                        Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrapper.sh"}})
    out = json.loads(lam.invoke(FunctionName=fn, Payload=b"{}")["Payload"].read())
    assert out["wrapped"].startswith("yes:") and out["wrapped"].endswith("node"), out
    assert any(a.startswith("--max-old-space-size=") for a in out["execArgv"]), out
    assert out["heap"] < 512 * 1024 * 1024, out

    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/missing"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    out = lam.invoke(FunctionName=fn, Payload=b"{}")
    assert out["FunctionError"] == "Unhandled"
    assert json.loads(out["Payload"].read())["errorType"] == "Runtime.ExitError"


def test_provisioned_environments_say_so(endpoint):
    lam = client(endpoint, "lambda")
    fn = "prov-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": package({"index.py": CODE})})
    version = lam.publish_version(FunctionName=fn)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=fn, Qualifier=version, ProvisionedConcurrentExecutions=1)
    deadline = time.time() + 60
    while lam.get_provisioned_concurrency_config(FunctionName=fn, Qualifier=version)["Status"] != "READY":
        assert time.time() < deadline
        time.sleep(0.1)
    env = json.loads(lam.invoke(FunctionName=fn, Qualifier=version, Payload=b"{}")["Payload"].read())
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"


WHOAMI = """
import os
import boto3

def handler(event, context):
    who = boto3.client("sts").get_caller_identity()
    # A signed call with the session's keys reaches the function's own account.
    queue = boto3.client("sqs").create_queue(QueueName=event["queue"])["QueueUrl"]
    return {"arn": who["Arn"], "user": who["UserId"], "account": who["Account"], "queue": queue,
            "key": os.environ["AWS_ACCESS_KEY_ID"][:4], "token": bool(os.environ["AWS_SESSION_TOKEN"])}
"""


def test_functions_run_with_their_execution_roles_session(endpoint):
    lam, sqs = client(endpoint, "lambda"), client(endpoint, "sqs")
    fn = "whoami-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": package({"index.py": WHOAMI})})
    queue = "from-" + fn
    out = lam.invoke(FunctionName=fn, Payload=json.dumps({"queue": queue}).encode())
    who = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, who
    assert who["arn"] == f"arn:aws:sts::000000000000:assumed-role/lambda-role/{fn}"
    assert who["user"].startswith("AROA") and who["user"].endswith(f":{fn}")
    assert (who["account"], who["key"], who["token"]) == ("000000000000", "ASIA", True)
    assert sqs.get_queue_url(QueueName=queue)["QueueUrl"] == who["queue"]

    # A stand-in role from another account (as many examples write) keeps the function's calls in
    # its own account.
    other = "other-" + fn
    lam.create_function(FunctionName=other, Runtime="python3.12", Role="arn:aws:iam::123456789012:role/x",
                        Handler="index.handler", Code={"ZipFile": package({"index.py": WHOAMI})})
    who = json.loads(lam.invoke(FunctionName=other, Payload=json.dumps({"queue": queue + "-2"}).encode())["Payload"].read())
    assert who["account"] == "000000000000", who
    assert sqs.get_queue_url(QueueName=queue + "-2")["QueueUrl"] == who["queue"]
