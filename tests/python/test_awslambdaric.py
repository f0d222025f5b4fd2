"""AWS's own Python runtime interface client (awslambdaric, from PyPI) runs unchanged under
nimbus as a provided.al2023 bootstrap: a third-party check of the Runtime API."""
import json
import os
import stat
import subprocess
import sys
import uuid
import zipfile

import pytest

from conftest import client

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zip_dir(root, out):
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for folder, _, files in os.walk(root):
            for name in files:
                path = os.path.join(folder, name)
                info = zipfile.ZipInfo(os.path.relpath(path, root))
                info.external_attr = (os.stat(path).st_mode & 0xFFFF) << 16
                with open(path, "rb") as f:
                    z.writestr(info, f.read())


def test_awslambdaric_bootstrap(endpoint, tmp_path):
    package = tmp_path / "package"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(package), "awslambdaric"],
        capture_output=True, text=True,
    )
    if installed.returncode != 0:
        pytest.skip("awslambdaric does not install on this machine: " + installed.stderr[-400:])
    (package / "index.py").write_text(
        "def handler(event, context):\n"
        "    return {'ric': True, 'event': event, 'fn': context.function_name, 'left': context.get_remaining_time_in_millis() > 0}\n"
        "def fails(event, context):\n"
        "    raise KeyError('missing')\n"
    )
    bootstrap = package / "bootstrap"
    bootstrap.write_text(f'#!/bin/sh\nexport PYTHONPATH="$LAMBDA_TASK_ROOT"\nexec {sys.executable} -m awslambdaric "$_HANDLER"\n')
    bootstrap.chmod(bootstrap.stat().st_mode | stat.S_IEXEC)
    archive = tmp_path / "fn.zip"
    zip_dir(package, archive)

    lam = client(endpoint, "lambda")
    name = "ric-" + uuid.uuid4().hex[:8]
    for fn, handler in ((name, "index.handler"), (name + "-fails", "index.fails")):
        lam.create_function(FunctionName=fn, Runtime="provided.al2023", Role=ROLE, Handler=handler,
                            Timeout=30, Code={"ZipFile": archive.read_bytes()})
    out = lam.invoke(FunctionName=name, Payload=json.dumps({"x": 1}))
    assert "FunctionError" not in out, out["Payload"].read()
    assert json.loads(out["Payload"].read()) == {"ric": True, "event": {"x": 1}, "fn": name, "left": True}

    out = lam.invoke(FunctionName=name + "-fails", Payload="{}")
    assert out["FunctionError"] == "Unhandled"
    error = json.loads(out["Payload"].read())
    assert error["errorType"] == "KeyError"
    assert error["errorMessage"] == "'missing'"
