"""Start a real nimbus on an ephemeral port for the Python (boto3 / AWS CLI) tests.

Set NIMBUS_ENDPOINT to test an already running server instead.
"""
import os
import subprocess
import pathlib
import time

import boto3
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def start_nimbus(*args, env=None):
    """A nimbus of its own on an ephemeral port (with extra environment `env`): (process, endpoint URL)."""
    binary = os.environ.get("NIMBUS_BIN", str(ROOT / "target" / "debug" / "nimbus"))
    # The AWS SDK functions import from their runtime is installed once, into a cache under target/.
    env = dict(os.environ, **(env or {}))
    env.setdefault("NIMBUS_CACHE_DIR", str(ROOT / "target" / "nimbus-cache"))
    proc = subprocess.Popen([binary, "--port", "0", "--log", "warn", *args], stdout=subprocess.PIPE, text=True,
                            env=env)
    banner = proc.stdout.readline()
    url = banner.strip().rsplit(" ", 1)[-1]
    assert url.startswith("http://"), banner
    return proc, url


@pytest.fixture(scope="session")
def endpoint():
    if os.environ.get("NIMBUS_ENDPOINT"):
        yield os.environ["NIMBUS_ENDPOINT"]
        return
    proc, url = start_nimbus()
    yield url
    proc.kill()
    proc.wait()


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def client(endpoint, service, **kwargs):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=kwargs.pop("region_name", "us-east-1"),
        aws_access_key_id=kwargs.pop("aws_access_key_id", "test"),
        aws_secret_access_key="test",
        **kwargs,
    )


def wait_for_log(logs, group, text, deadline_s=90):
    """Poll CloudWatch Logs until an event of `group` contains `text`; its events."""
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        if any(text in e["message"] for e in events):
            return events
        time.sleep(0.5)
    raise AssertionError(f"{text!r} never reached {group}")


def stack_outputs(cfn, stack):
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def run_tool(argv, cwd, endpoint, timeout=600, **env):
    """Run a deployment tool with test credentials and nimbus as its endpoint; its output."""
    full_env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="test",
                    AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1", **env)
    out = subprocess.run([str(a) for a in argv], cwd=cwd, env=full_env, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, f"{' '.join(map(str, argv))} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr
