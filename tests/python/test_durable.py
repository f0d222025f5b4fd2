"""Durable executions: real handlers written with AWS's Python durable execution SDK (from PyPI,
packaged into the function's code as on AWS) run through nimbus, asserted event by event."""
import io
import os
import json
import pathlib
import subprocess
import sys
import time
import uuid
import zipfile

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import client, start_nimbus

SDK = "aws-durable-execution-sdk-python==3.0.0"
JS_SDK = "@aws/durable-execution-sdk-js@2.4.0"
HANDLERS = pathlib.Path(__file__).parent / "durable" / "handlers.py"
JS_HANDLER = pathlib.Path(__file__).parent / "durable" / "index.mjs"


@pytest.fixture(scope="module")
def endpoint():
    """A server of this module's own: these tests advance its clock by days."""
    proc, url = serve()
    yield url
    proc.kill()
    proc.wait()


serve = start_nimbus


@pytest.fixture(scope="session")
def package(tmp_path_factory):
    """The handlers plus the SDK (boto3 comes with the runtime, as on AWS)."""
    target = tmp_path_factory.mktemp("durable-package")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), SDK],
        check=True,
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path in target.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                z.write(path, path.relative_to(target).as_posix())
        z.write(HANDLERS, "handlers.py")
    return buf.getvalue()


@pytest.fixture
def lam(endpoint):
    return client(endpoint, "lambda", aws_access_key_id="123456789012")


def create(lam, package, handler, timeout=3600, durable=True):
    name = f"{handler.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    extra = {"DurableConfig": {"ExecutionTimeout": timeout, "RetentionPeriodInDays": 1}} if durable else {}
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role="arn:aws:iam::123456789012:role/durable",
        Handler=f"handlers.{handler}",
        Code={"ZipFile": package},
        Timeout=30,
        **extra,
    )
    return name


def start(lam, name, payload=None, **kwargs):
    response = lam.invoke(
        FunctionName=name, Qualifier="$LATEST", InvocationType="Event", Payload=json.dumps(payload or {}), **kwargs
    )
    assert response["StatusCode"] == 202
    return response["DurableExecutionArn"]


def advance(endpoint, seconds):
    requests.post(f"{endpoint}/_nimbus/clock/advance", json={"seconds": seconds}).raise_for_status()


def events(lam, arn):
    return lam.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000)["Events"]


def summary(lam, arn):
    """(EventType, Name) of each event, in order."""
    return [(e["EventType"], e.get("Name")) for e in events(lam, arn)]


def wait_until(check, timeout=30):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def idle_after(lam, arn, count):
    """Wait until the execution has `count` events and the last is InvocationCompleted."""
    return wait_until(lambda: (lambda e: len(e) >= count and e[-1]["EventType"] == "InvocationCompleted" and e)(
        events(lam, arn)
    ))


def finished(lam, arn):
    return wait_until(
        lambda: (lambda d: d["Status"] != "RUNNING" and d)(lam.get_durable_execution(DurableExecutionArn=arn))
    )


def test_steps_and_a_day_long_wait_resume_when_the_clock_advances(endpoint, lam, package):
    name = create(lam, package, "steps_and_wait", timeout=7 * 86400)
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert err.value.response["Error"]["Message"] == "You cannot invoke a durable function using an unqualified ARN."
    arn = start(lam, name, {"order": 7}, DurableExecutionName="order-7")
    assert arn.startswith(f"arn:aws:lambda:us-east-1:123456789012:function:{name}:$LATEST/durable-execution/order-7/")
    idle_after(lam, arn, 5)
    assert summary(lam, arn) == [
        ("ExecutionStarted", None),
        ("StepStarted", "add"),
        ("StepSucceeded", "add"),
        ("WaitStarted", "a day"),
        ("InvocationCompleted", None),
    ]
    history = events(lam, arn)
    assert history[0]["ExecutionStartedDetails"] == {
        "Input": {"Payload": '{"order": 7}', "Truncated": False},
        "ExecutionTimeout": 604800,
    }
    assert history[2]["StepSucceededDetails"] == {
        "Result": {"Payload": "3", "Truncated": False},
        "RetryDetails": {"CurrentAttempt": 1},
    }
    assert history[3]["WaitStartedDetails"]["Duration"] == 86400
    assert [e["EventId"] for e in history] == [1, 2, 3, 4, 5]
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"

    advance(endpoint, 86400)
    done = finished(lam, arn)
    assert done["Status"] == "SUCCEEDED"
    assert json.loads(done["Result"]) == {"sum": 13, "input": {"order": 7}}
    assert done["DurableExecutionName"] == "order-7"
    assert done["FunctionArn"].endswith(f":function:{name}:$LATEST")
    assert summary(lam, arn)[5:] == [
        ("WaitSucceeded", "a day"),
        ("StepStarted", "add again"),
        ("StepSucceeded", "add again"),
        ("InvocationCompleted", None),
        ("ExecutionSucceeded", None),
    ]
    # Without execution data, payloads are left out and marked truncated.
    lean = lam.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=False)["Events"]
    assert lean[2]["StepSucceededDetails"]["Result"] == {"Truncated": True}
    newest = lam.get_durable_execution_history(DurableExecutionArn=arn, ReverseOrder=True, MaxItems=2)
    assert [e["EventType"] for e in newest["Events"]] == ["ExecutionSucceeded", "InvocationCompleted"]
    assert newest["NextMarker"]

    # The same name again: an error once the first has finished.
    with pytest.raises(ClientError) as err:
        start(lam, name, {"order": 7}, DurableExecutionName="order-7")
    assert err.value.response["Error"]["Code"] == "DurableExecutionAlreadyStartedException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_execution_names_are_idempotent_while_running(lam, package):
    name = create(lam, package, "long_wait")
    first = start(lam, name, {"a": 1}, DurableExecutionName="same")
    assert start(lam, name, {"a": 1}, DurableExecutionName="same") == first
    with pytest.raises(ClientError) as err:
        start(lam, name, {"a": 2}, DurableExecutionName="same")
    assert err.value.response["Error"]["Code"] == "DurableExecutionAlreadyStartedException"
    listed = lam.list_durable_executions_by_function(FunctionName=name, Statuses=["RUNNING"])["DurableExecutions"]
    assert [e["DurableExecutionArn"] for e in listed] == [first]
    assert lam.list_durable_executions_by_function(FunctionName=name, Statuses=["SUCCEEDED"])["DurableExecutions"] == []

    # Through an alias the execution runs (and is named by) the alias's version.
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    response = lam.invoke(FunctionName=name, Qualifier="live", InvocationType="Event", Payload=b"{}")
    assert f":function:{name}:{version}/durable-execution/" in response["DurableExecutionArn"]
    listed = lam.list_durable_executions_by_function(FunctionName=name, Qualifier="live")["DurableExecutions"]
    assert [e["DurableExecutionArn"] for e in listed] == [response["DurableExecutionArn"]]
    assert listed[0]["FunctionArn"].endswith(f":function:{name}:{version}")
    with pytest.raises(ClientError) as err:
        lam.invoke_with_response_stream(FunctionName=name, Qualifier="live", Payload=b"{}")
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_step_retries_follow_the_retry_strategy(endpoint, lam, package, tmp_path):
    name = create(lam, package, "retries")
    arn = start(lam, name, {"counter": str(tmp_path / "attempts")})
    idle_after(lam, arn, 4)
    failed = events(lam, arn)[2]
    assert failed["EventType"] == "StepFailed"
    assert failed["StepFailedDetails"]["RetryDetails"] == {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 10}
    assert failed["StepFailedDetails"]["Error"]["Payload"]["ErrorMessage"] == "attempt 1 failed"
    advance(endpoint, 10)
    idle_after(lam, arn, 7)
    second = events(lam, arn)[5]
    assert second["StepFailedDetails"]["RetryDetails"] == {"CurrentAttempt": 2, "NextAttemptDelaySeconds": 20}
    advance(endpoint, 20)
    done = finished(lam, arn)
    assert done["Status"] == "SUCCEEDED" and json.loads(done["Result"]) == "third time lucky"
    assert summary(lam, arn) == [
        ("ExecutionStarted", None),
        ("StepStarted", "flaky"),
        ("StepFailed", "flaky"),
        ("InvocationCompleted", None),
        ("StepStarted", "flaky"),
        ("StepFailed", "flaky"),
        ("InvocationCompleted", None),
        ("StepStarted", "flaky"),
        ("StepSucceeded", "flaky"),
        ("InvocationCompleted", None),
        ("ExecutionSucceeded", None),
    ]
    assert events(lam, arn)[8]["StepSucceededDetails"]["RetryDetails"]["CurrentAttempt"] == 3


def callback_id_of(lam, arn):
    started = wait_until(lambda: [e for e in events(lam, arn) if e["EventType"] == "CallbackStarted"])
    return started[0]["CallbackStartedDetails"]["CallbackId"]


def test_callbacks_completed_from_outside(lam, package):
    name = create(lam, package, "callback")
    arn = start(lam, name)
    callback_id = callback_id_of(lam, arn)
    idle_after(lam, arn, 4)
    lam.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    # The SDK hands the raw result to the handler (pass-through serdes by default).
    lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"yes")
    done = finished(lam, arn)
    assert done["Status"] == "SUCCEEDED" and json.loads(done["Result"]) == {"approved": "yes"}
    kinds = [t for t, _ in summary(lam, arn)]
    assert kinds.index("CallbackSucceeded") > kinds.index("CallbackStarted")
    succeeded = [e for e in events(lam, arn) if e["EventType"] == "CallbackSucceeded"][0]
    assert succeeded["CallbackSucceededDetails"]["Result"]["Payload"] == "yes"
    # A closed callback cannot be completed again.
    with pytest.raises(ClientError) as err:
        lam.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"again")
    assert err.value.response["Error"]["Code"] == "CallbackTimeoutException"

    failing = start(lam, name)
    lam.send_durable_execution_callback_failure(
        CallbackId=callback_id_of(lam, failing), Error={"ErrorType": "Rejected", "ErrorMessage": "no way"}
    )
    done = finished(lam, failing)
    assert done["Status"] == "FAILED"
    assert done["Error"]["ErrorMessage"] == "no way"
    assert summary(lam, failing)[-1] == ("ExecutionFailed", None)


def test_the_checkpoint_protocol_by_hand(lam, package):
    name = create(lam, package, "protocol_probe")
    arn = start(lam, name)
    done = finished(lam, arn)
    assert done["Status"] == "SUCCEEDED", done
    found = json.loads(done["Result"])
    execution_id = arn.rsplit("/", 1)[1]
    assert found == {
        "replayed": True,
        "new_state": ["a"],
        "stale": found["stale"],
        "wrong_action": "Invalid action for the given operation type.",
        "renamed": "Inconsistent operation name.",
        "page": [[execution_id], True],
    }
    assert found["stale"].startswith("Invalid checkpoint token")
    assert summary(lam, arn) == [
        ("ExecutionStarted", None),
        ("StepStarted", "a"),
        ("StepSucceeded", "a"),
        ("InvocationCompleted", None),
        ("ExecutionSucceeded", None),
    ]


def test_callback_heartbeats_and_timeouts(endpoint, lam, package):
    name = create(lam, package, "callback_timeout")
    arn = start(lam, name)
    callback_id = callback_id_of(lam, arn)
    started = [e for e in events(lam, arn) if e["EventType"] == "CallbackStarted"][0]
    assert started["CallbackStartedDetails"]["Timeout"] == 60
    assert started["CallbackStartedDetails"]["HeartbeatTimeout"] == 20
    idle_after(lam, arn, 3)
    # Heartbeats keep the callback alive past its heartbeat timeout...
    for _ in range(3):
        advance(endpoint, 15)
        lam.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    # ... but not past its overall timeout.
    advance(endpoint, 16)
    done = finished(lam, arn)
    assert done["Status"] == "SUCCEEDED" and json.loads(done["Result"]).startswith("gave up")
    timed_out = [e for e in events(lam, arn) if e["EventType"] == "CallbackTimedOut"][0]
    assert timed_out["CallbackTimedOutDetails"]["Error"]["Payload"]["ErrorType"] == "Callback.Timeout"
    with pytest.raises(ClientError) as err:
        lam.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
    assert err.value.response["Error"]["Code"] == "CallbackTimeoutException"

    # Without heartbeats the heartbeat timeout ends it first.
    arn = start(lam, name)
    callback_id_of(lam, arn)
    idle_after(lam, arn, 3)
    advance(endpoint, 21)
    finished(lam, arn)
    timed_out = [e for e in events(lam, arn) if e["EventType"] == "CallbackTimedOut"][0]
    assert timed_out["CallbackTimedOutDetails"]["Error"]["Payload"]["ErrorType"] == "Callback.Heartbeat"


def test_wait_for_condition_polls_on_the_clock(endpoint, lam, package):
    name = create(lam, package, "condition")
    arn = start(lam, name)
    idle_after(lam, arn, 4)
    first = events(lam, arn)[2]
    assert first["EventType"] == "StepSucceeded" and first["SubType"] == "WaitForCondition"
    assert first["StepSucceededDetails"]["RetryDetails"] == {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 30}
    advance(endpoint, 30)
    idle_after(lam, arn, 7)
    advance(endpoint, 30)
    done = finished(lam, arn)
    assert done["Status"] == "SUCCEEDED" and json.loads(done["Result"]) == 3


def test_map_parallel_and_child_contexts(endpoint, lam, package):
    name = create(lam, package, "fan_out")
    arn = start(lam, name)
    wait_until(lambda: any(e["EventType"] == "WaitStarted" for e in events(lam, arn)))
    advance(endpoint, 5)
    done = finished(lam, arn)
    assert done["Status"] == "SUCCEEDED", done
    assert json.loads(done["Result"]) == {"map": [10, 20, 30], "parallel": ["left", "right"], "child": "from child"}
    history = events(lam, arn)
    contexts = [(e["SubType"], e.get("Name")) for e in history if e["EventType"] == "ContextSucceeded"]
    assert ("Map", "tens") in contexts and ("Parallel", "both") in contexts and ("RunInChildContext", "child") in contexts
    assert sum(1 for sub, _ in contexts if sub == "MapIteration") == 3
    assert sum(1 for sub, _ in contexts if sub == "ParallelBranch") == 2
    # Every operation inside a context names its parent.
    ids = {e["Id"] for e in history if e["EventType"] == "ContextStarted"}
    inner = [e for e in history if e["EventType"] == "StepStarted"]
    assert inner and all(e["ParentId"] in ids for e in inner)


def test_chained_invokes_of_plain_and_durable_functions_and_a_synchronous_invoke(lam, package):
    plain = create(lam, package, "plain_handler", durable=False)
    child = create(lam, package, "callback")
    parent = create(lam, package, "chained")
    response = {}

    def run():
        response.update(
            lam.invoke(
                FunctionName=parent,
                Qualifier="$LATEST",
                Payload=json.dumps({"plain": plain, "durable": f"{child}:$LATEST"}),
            )
        )

    import threading

    thread = threading.Thread(target=run)
    thread.start()
    # The durable child waits for its callback; complete it from outside.
    children = wait_until(
        lambda: lam.list_durable_executions_by_function(FunctionName=child)["DurableExecutions"], timeout=30
    )
    child_arn = children[0]["DurableExecutionArn"]
    lam.send_durable_execution_callback_success(CallbackId=callback_id_of(lam, child_arn), Result=b"ok")
    thread.join(60)
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"plain": {"doubled": 2}, "durable": {"approved": "ok"}}
    arn = response["DurableExecutionArn"]
    history = events(lam, arn)
    started = [e for e in history if e["EventType"] == "ChainedInvokeStarted"]
    assert [e["Name"] for e in started] == ["plain", "durable child"]
    assert started[1]["ChainedInvokeStartedDetails"]["DurableExecutionArn"] == child_arn
    assert [e["EventType"] for e in history if e["EventType"].startswith("ChainedInvoke")] == [
        "ChainedInvokeStarted",
        "ChainedInvokeSucceeded",
        "ChainedInvokeStarted",
        "ChainedInvokeSucceeded",
    ]
    assert history[-1]["EventType"] == "ExecutionSucceeded"


def test_a_crashed_invocation_is_recorded_and_retried(endpoint, lam, package, tmp_path):
    name = create(lam, package, "crash_once")
    arn = start(lam, name, {"marker": str(tmp_path / "crashed")})
    crashed = idle_after(lam, arn, 4)
    assert crashed[-1]["InvocationCompletedDetails"]["Error"]["Payload"]["ErrorType"] == "Runtime.ExitError"
    advance(endpoint, 5)
    done = finished(lam, arn)
    assert done["Status"] == "SUCCEEDED" and json.loads(done["Result"]) == "after"
    assert summary(lam, arn) == [
        ("ExecutionStarted", None),
        ("StepStarted", "before"),
        ("StepSucceeded", "before"),
        ("InvocationCompleted", None),
        ("StepStarted", "after"),
        ("StepSucceeded", "after"),
        ("InvocationCompleted", None),
        ("ExecutionSucceeded", None),
    ]


def test_stop_and_execution_timeout(endpoint, lam, package):
    name = create(lam, package, "long_wait")
    arn = start(lam, name)
    idle_after(lam, arn, 3)
    stopped = lam.stop_durable_execution(DurableExecutionArn=arn, Error={"ErrorMessage": "enough"})
    assert "StopTimestamp" in stopped
    done = lam.get_durable_execution(DurableExecutionArn=arn)
    assert done["Status"] == "STOPPED"
    last = events(lam, arn)[-1]
    assert last["EventType"] == "ExecutionStopped"
    assert last["ExecutionStoppedDetails"]["Error"]["Payload"]["ErrorMessage"] == "enough"

    short = create(lam, package, "long_wait", timeout=60)
    arn = start(lam, short)
    idle_after(lam, arn, 3)
    advance(endpoint, 61)
    done = finished(lam, arn)
    assert done["Status"] == "TIMED_OUT"
    assert summary(lam, arn)[-1] == ("ExecutionTimedOut", None)
    # Histories are kept RetentionPeriodInDays (1 here) after the execution closes.
    advance(endpoint, 86400 + 5)
    wait_until(lambda: not lam.list_durable_executions_by_function(FunctionName=short)["DurableExecutions"])
    with pytest.raises(ClientError) as err:
        lam.get_durable_execution(DurableExecutionArn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as err:
        lam.get_durable_execution(DurableExecutionArn=arn.replace("/durable-execution/", "/durable-execution/x"))
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.fixture(scope="session")
def js_package(tmp_path_factory):
    """index.mjs plus the JS SDK and its dependencies from npm."""
    target = tmp_path_factory.mktemp("durable-js")
    (target / "package.json").write_text('{"name": "durable-js-test", "private": true}')
    subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", JS_SDK], cwd=target, check=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path in (target / "node_modules").rglob("*"):
            if path.is_file():
                z.write(path, path.relative_to(target).as_posix())
        z.write(JS_HANDLER, "index.mjs")
    return buf.getvalue()


def test_a_handler_written_with_the_js_sdk(endpoint, lam, js_package):
    name = f"durable-js-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="nodejs22.x",
        Role="arn:aws:iam::123456789012:role/durable",
        Handler="index.handler",
        Code={"ZipFile": js_package},
        Timeout=30,
        DurableConfig={"ExecutionTimeout": 86400},
    )
    arn = start(lam, name, {"n": 21})
    idle_after(lam, arn, 5)
    assert summary(lam, arn) == [
        ("ExecutionStarted", None),
        ("StepStarted", "double"),
        ("StepSucceeded", "double"),
        ("WaitStarted", None),
        ("InvocationCompleted", None),
    ]
    advance(endpoint, 7200)
    lam.send_durable_execution_callback_success(CallbackId=callback_id_of(lam, arn), Result=b"yes")
    done = finished(lam, arn)
    assert done["Status"] == "SUCCEEDED", done
    assert json.loads(done["Result"]) == {"doubled": 42, "approval": "yes"}
    assert summary(lam, arn)[5:8] == [("WaitSucceeded", None), ("CallbackStarted", "approval"), ("StepStarted", "publish")]
    assert summary(lam, arn)[-1] == ("ExecutionSucceeded", None)


def test_running_executions_survive_a_restart(package, tmp_path):
    """With --data-dir, a waiting execution, its timer and its history resume after kill -9."""
    data = str(tmp_path / "data")
    proc, url = serve("--data-dir", data)
    try:
        lam = client(url, "lambda", aws_access_key_id="123456789012")
        name = create(lam, package, "steps_and_wait", timeout=7 * 86400)
        arn = start(lam, name, {"n": 1})
        idle_after(lam, arn, 5)
    finally:
        proc.kill()
        proc.wait()
    proc, url = serve("--data-dir", data)
    try:
        lam = client(url, "lambda", aws_access_key_id="123456789012")
        assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
        assert len(events(lam, arn)) == 5
        advance(url, 86400)
        done = finished(lam, arn)
        assert done["Status"] == "SUCCEEDED" and json.loads(done["Result"]) == {"sum": 13, "input": {"n": 1}}
        assert [e["EventId"] for e in events(lam, arn)] == list(range(1, 11))
    finally:
        proc.kill()
        proc.wait()


def test_pause_resume_and_delete(endpoint, lam, package):
    name = create(lam, package, "steps_and_wait", timeout=7 * 86400)
    arn = start(lam, name, {"order": 1})
    idle_after(lam, arn, 5)
    # Deleting an open execution is refused.
    with pytest.raises(ClientError) as err:
        lam.delete_durable_execution(DurableExecutionArn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceConflictException"

    lam.pause_durable_execution(DurableExecutionArn=arn, Reason="maintenance", ClientToken="p-1")
    # The same request again (same client token) succeeds; a new one conflicts.
    lam.pause_durable_execution(DurableExecutionArn=arn, Reason="maintenance", ClientToken="p-1")
    with pytest.raises(ClientError) as err:
        lam.pause_durable_execution(DurableExecutionArn=arn, ClientToken="p-2")
    assert err.value.response["Error"]["Code"] == "ResourceConflictException"
    paused = lam.get_durable_execution(DurableExecutionArn=arn)
    assert paused["Status"] == "PAUSED"
    assert paused["PauseDetails"]["Reason"] == "maintenance"
    assert paused["PauseDetails"]["ExecutionTimeoutPaused"] is True
    history = events(lam, arn)
    assert history[-1]["EventType"] == "ExecutionPaused"
    assert history[-1]["ExecutionPausedDetails"]["Reason"] == {"Payload": "maintenance", "Truncated": False}
    assert history[-1]["ExecutionPausedDetails"]["ExecutionTimeoutPaused"] is True

    # Timers still complete while paused, but the function is not invoked.
    advance(endpoint, 86400)
    wait_until(lambda: ("WaitSucceeded", "a day") in summary(lam, arn))
    time.sleep(1.0)  # give a wrongly scheduled invocation time to show itself
    assert ("StepStarted", "add again") not in summary(lam, arn)
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "PAUSED"
    assert lam.list_durable_executions_by_function(FunctionName=name, Statuses=["PAUSED"])["DurableExecutions"]

    lam.resume_durable_execution(DurableExecutionArn=arn, Reason="done")
    with pytest.raises(ClientError) as err:
        lam.resume_durable_execution(DurableExecutionArn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceConflictException"
    done = finished(lam, arn)
    assert done["Status"] == "SUCCEEDED", done
    assert "PauseDetails" not in done
    kinds = [t for t, _ in summary(lam, arn)]
    assert kinds.index("ExecutionPaused") < kinds.index("WaitSucceeded") < kinds.index("ExecutionResumed")
    assert kinds.index("ExecutionResumed") < kinds.index("ExecutionSucceeded")
    resumed = [e for e in events(lam, arn) if e["EventType"] == "ExecutionResumed"][0]
    assert resumed["ExecutionResumedDetails"]["Reason"] == {"Payload": "done", "Truncated": False}

    deleted = lam.delete_durable_execution(DurableExecutionArn=arn)
    assert "DeletionRequestTimestamp" in deleted
    with pytest.raises(ClientError) as err:
        lam.get_durable_execution(DurableExecutionArn=arn)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_paused_timeout_stops_the_clock_unless_told_otherwise(endpoint, lam, package):
    name = create(lam, package, "long_wait", timeout=60)
    kept = start(lam, name)
    idle_after(lam, kept, 3)
    before = lam.get_durable_execution(DurableExecutionArn=kept)["ExpectedExecutionTimeoutTimestamp"]
    lam.pause_durable_execution(DurableExecutionArn=kept)
    ticking = start(lam, name)
    idle_after(lam, ticking, 3)
    lam.pause_durable_execution(DurableExecutionArn=ticking, ExecutionTimeoutPaused=False)
    advance(endpoint, 120)
    status = lambda arn: lam.get_durable_execution(DurableExecutionArn=arn)["Status"]
    wait_until(lambda: status(ticking) == "TIMED_OUT")
    assert summary(lam, ticking)[-1] == ("ExecutionTimedOut", None)
    paused = lam.get_durable_execution(DurableExecutionArn=kept)
    assert paused["Status"] == "PAUSED"
    assert paused["ExpectedExecutionTimeoutTimestamp"] > before
    lam.resume_durable_execution(DurableExecutionArn=kept)
    assert lam.get_durable_execution(DurableExecutionArn=kept)["Status"] == "RUNNING"
    advance(endpoint, 61)
    wait_until(lambda: status(kept) == "TIMED_OUT")
