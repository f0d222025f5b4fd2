"""Start a real nimbus on an ephemeral port for the Python (boto3 / AWS CLI) tests.

Set NIMBUS_ENDPOINT to test an already running server instead.
"""
import os
import subprocess
import pathlib

import boto3
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def start_nimbus(*args):
    """A nimbus of its own on an ephemeral port: (process, endpoint URL)."""
    binary = os.environ.get("NIMBUS_BIN", str(ROOT / "target" / "debug" / "nimbus"))
    # The AWS SDK functions import from their runtime is installed once, into a cache under target/.
    env = dict(os.environ)
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
