"""Durable handlers written with AWS's durable execution SDK, exactly as they would run on AWS."""
import os
import pathlib

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python.waits import (
    WaitForConditionConfig,
    WaitStrategyConfig,
    create_wait_strategy,
)


@durable_step
def add(step_context: StepContext, a: int, b: int) -> int:
    return a + b


@durable_execution
def steps_and_wait(event, context: DurableContext):
    x = context.step(add(1, 2), name="add")
    context.wait(Duration.from_hours(24), name="a day")
    return {"sum": context.step(add(x, 10), name="add again"), "input": event}


@durable_execution
def retries(event, context: DurableContext):
    counter = pathlib.Path(event["counter"])

    def flaky(step_context: StepContext):
        attempts = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(attempts))
        if attempts < 3:
            raise RuntimeError(f"attempt {attempts} failed")
        return "third time lucky"

    strategy = create_retry_strategy(
        RetryStrategyConfig(max_attempts=5, initial_delay=Duration.from_seconds(10), jitter_strategy=JitterStrategy.NONE)
    )
    return context.step(flaky, name="flaky", config=StepConfig(retry_strategy=strategy))


@durable_execution
def callback(event, context: DurableContext):
    cb = context.create_callback(name="approval")
    context.step(lambda _: cb.callback_id, name="publish id")
    return {"approved": cb.result()}


@durable_execution
def condition(event, context: DurableContext):
    def check(state, check_context):
        return state + 1

    strategy = create_wait_strategy(
        WaitStrategyConfig(
            should_continue_polling=lambda s: s < 3,
            initial_delay=Duration.from_seconds(30),
            backoff_rate=1,
            jitter_strategy=JitterStrategy.NONE,
        )
    )
    return context.wait_for_condition(check, WaitForConditionConfig(wait_strategy=strategy, initial_state=0), name="poll")


@durable_execution
def fan_out(event, context: DurableContext):
    mapped = context.map([1, 2, 3], lambda ctx, item, index, items: ctx.step(lambda _: item * 10), name="tens")
    branches = context.parallel(
        [lambda ctx: ctx.step(lambda _: "left"), lambda ctx: ctx.step(lambda _: "right")], name="both"
    )

    def child(ctx: DurableContext):
        ctx.wait(Duration.from_seconds(5), name="inner wait")
        return ctx.step(lambda _: "from child", name="inner step")

    return {
        "map": mapped.get_results(),
        "parallel": branches.get_results(),
        "child": context.run_in_child_context(child, name="child"),
    }


@durable_execution
def chained(event, context: DurableContext):
    plain = context.invoke(event["plain"], {"n": 1}, name="plain")
    durable = context.invoke(event["durable"], {"from": "parent"}, name="durable child")
    return {"plain": plain, "durable": durable}


def plain_handler(event, context):
    return {"doubled": event["n"] * 2}


@durable_execution
def crash_once(event, context: DurableContext):
    context.step(lambda _: "before", name="before")
    marker = pathlib.Path(event["marker"])
    if not marker.exists():
        marker.write_text("crashed")
        os._exit(3)
    return context.step(lambda _: "after", name="after")


@durable_execution
def long_wait(event, context: DurableContext):
    context.wait(Duration.from_days(3), name="long")
    return "done"


@durable_execution
def callback_timeout(event, context: DurableContext):
    from aws_durable_execution_sdk_python import CallbackTimeoutError
    from aws_durable_execution_sdk_python.config import CallbackConfig

    cb = context.create_callback(
        name="approval",
        config=CallbackConfig(timeout=Duration.from_seconds(60), heartbeat_timeout=Duration.from_seconds(20)),
    )
    try:
        return cb.result()
    except CallbackTimeoutError as e:
        return f"gave up: {e}"


def protocol_probe(event, context):
    """A durable handler written against the service protocol by hand (no SDK): it probes
    token rotation, client-token replay, batch validation and state paging, then completes the
    execution with an EXECUTION checkpoint and returns an output the service must ignore."""
    import json

    import boto3

    client = boto3.client("lambda")
    arn = event["DurableExecutionArn"]
    execution_id = event["InitialExecutionState"]["Operations"][0]["Id"]
    token = event["CheckpointToken"]
    found = {}

    def checkpoint(updates, **extra):
        return client.checkpoint_durable_execution(
            DurableExecutionArn=arn, CheckpointToken=token, Updates=updates, **extra
        )

    def refused(updates):
        try:
            checkpoint(updates)
            return "accepted"
        except client.exceptions.InvalidParameterValueException as e:
            return e.response["Error"]["Message"]

    start = [{"Id": "a", "Type": "STEP", "Action": "START", "Name": "a"}]
    first = checkpoint(start, ClientToken="once")
    again = checkpoint(start, ClientToken="once")
    found["replayed"] = first["CheckpointToken"] == again["CheckpointToken"]
    found["new_state"] = [op["Id"] for op in first["NewExecutionState"]["Operations"]]
    found["stale"] = refused([])
    token = first["CheckpointToken"]
    found["wrong_action"] = refused([{"Id": "w", "Type": "WAIT", "Action": "SUCCEED"}])
    found["renamed"] = refused([{"Id": "a", "Type": "STEP", "Action": "SUCCEED", "Name": "b"}])
    page = client.get_durable_execution_state(DurableExecutionArn=arn, CheckpointToken=token, MaxItems=1)
    found["page"] = [[op["Id"] for op in page["Operations"]], bool(page.get("NextMarker"))]
    checkpoint(
        [
            {"Id": "a", "Type": "STEP", "Action": "SUCCEED", "Payload": "1"},
            {"Id": execution_id, "Type": "EXECUTION", "Action": "SUCCEED", "Payload": json.dumps(found)},
        ]
    )
    return {"Status": "SUCCEEDED", "Result": json.dumps("this output is ignored")}
