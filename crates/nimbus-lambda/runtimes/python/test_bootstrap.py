"""Tests for bootstrap.py against an in-process fake Lambda Runtime API.

Run: python3 -m pytest crates/nimbus-lambda/runtimes/python -q
"""
import json
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap.py")
PREFIX = "/2018-06-01/runtime"
# interpreter that runs the bootstrap (the runtime must work on 3.8+)
PYTHON = os.environ.get("NIMBUS_TEST_PYTHON", sys.executable)
PYVER = subprocess.run([PYTHON, "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"],
                       stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()


class FakeRuntimeAPI:
    """Serves queued events on /next and records everything posted back."""

    def __init__(self):
        self.events = queue.Queue()
        self.posts = queue.Queue()
        self.next_times = queue.Queue()
        self.drop_after_next = False  # close the socket silently after serving /next
        self.stopping = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                assert self.path == PREFIX + "/invocation/next", self.path
                api.next_times.put(time.monotonic())
                while True:
                    try:
                        body, headers = api.events.get(timeout=0.1)
                        break
                    except queue.Empty:
                        if api.stopping:
                            self.close_connection = True
                            return
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if api.drop_after_next:
                    self.close_connection = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                api.posts.put((self.path, dict(self.headers), body))
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "16")
                self.end_headers()
                self.wfile.write(b'{"status":"OK"}\n')

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the runtime going away mid-connection is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = "127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()


class Env:
    def __init__(self, tmp_path, files, handler, extra_env=None, pass_fds=()):
        self.task = tmp_path / "task"
        for name, src in files.items():
            path = self.task / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(src))
        self.task.mkdir(exist_ok=True)
        self.api = FakeRuntimeAPI()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_X_AMZN", "PYTHON"))}
        env.update({
            "AWS_LAMBDA_RUNTIME_API": self.api.address, "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(self.task), "LAMBDA_RUNTIME_DIR": os.path.dirname(BOOTSTRAP),
            "AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]abc",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "TZ": ":UTC", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(self.task),
        })
        env.update(extra_env or {})
        self.start = time.monotonic()
        self.proc = subprocess.Popen([PYTHON, BOOTSTRAP], cwd=str(self.task), env=env, pass_fds=pass_fds,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def invoke(self, event, raw=None, headers=None, timeout=10):
        rid = str(uuid.uuid4())
        h = {"Lambda-Runtime-Aws-Request-Id": rid,
             "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 5000),
             "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
             "Lambda-Runtime-Trace-Id": "Root=1-5e1b4151-5ac6c58f5b5daa6532e4f3a6;Parent=1;Sampled=1",
             "Content-Type": "application/json"}
        h.update(headers or {})
        self.api.events.put((raw if raw is not None else json.dumps(event).encode(), h))
        path, hdrs, body = self.api.posts.get(timeout=timeout)
        assert path.startswith(PREFIX + "/invocation/%s/" % rid), path
        return path.rsplit("/", 1)[1], hdrs, body, rid

    def init_error(self, timeout=10):
        path, hdrs, body = self.api.posts.get(timeout=timeout)
        assert path == PREFIX + "/init/error"
        return hdrs, json.loads(body)

    def stop(self, expect_exit=False):
        if expect_exit:
            self.proc.wait(timeout=10)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=10)
        self.api.close()
        return self.proc.returncode, out.decode(), err.decode()


@pytest.fixture
def make_env(tmp_path):
    envs = []

    def make(files, handler="index.handler", **kw):
        e = Env(tmp_path, files, handler, **kw)
        envs.append(e)
        return e

    yield make
    for e in envs:
        if e.proc.poll() is None:
            e.proc.kill()
            e.proc.wait()


def test_success_and_sigterm(make_env):
    env = make_env({"index.py": """
        def handler(event, context):
            print("got", event["x"])
            return {"y": event["x"] * 2, "s": "é"}
    """})
    kind, hdrs, body, _ = env.invoke({"x": 21})
    assert kind == "response"
    assert hdrs["Content-Type"] == "application/json"
    assert body.decode() == '{"y": 42, "s": "é"}'  # python3.12: ensure_ascii=False
    kind, _, body, _ = env.invoke({"x": 1})
    assert json.loads(body)["y"] == 2
    rc, out, err = env.stop()
    assert rc == 0, err
    assert "got 21\n" in out and "got 1\n" in out


def test_handler_exception(make_env):
    env = make_env({"index.py": """
        def handler(event, context):
            if event.get("fail"):
                helper()
            return "ok"

        def helper():
            raise ValueError('x')
    """})
    kind, hdrs, body, rid = env.invoke({"fail": True})
    assert kind == "error"
    assert hdrs["Lambda-Runtime-Function-Error-Type"] == "ValueError"
    err = json.loads(body)
    index = str(env.task / "index.py")
    assert err == {
        "errorMessage": "x", "errorType": "ValueError", "requestId": rid,
        "stackTrace": [
            '  File "%s", line 4, in handler\n    helper()\n' % index,
            '  File "%s", line 8, in helper\n    raise ValueError(\'x\')\n' % index,
        ],
    }
    xray = json.loads(hdrs["Lambda-Runtime-Function-XRay-Error-Cause"])
    assert xray["exceptions"][0]["type"] == "ValueError" and xray["paths"] == [index]
    kind, _, body, _ = env.invoke({})  # keeps serving after a handler error
    assert (kind, body) == ("response", b'"ok"')
    rc, out, _ = env.stop()
    assert ("[ERROR] ValueError: x\rTraceback (most recent call last):\r"
            '\u00a0\u00a0File "%s", line 4, in handler\r\u00a0\u00a0\u00a0\u00a0helper()\r' % index) in out


INIT_CASES = [
    ("missing module", {}, "index.handler", "Runtime.ImportModuleError",
     "Unable to import module 'index': No module named 'index'"),
    ("missing dependency", {"index.py": "import requestz\n"}, "index.handler",
     "Runtime.ImportModuleError", "Unable to import module 'index': No module named 'requestz'"),
    ("missing handler", {"index.py": "x = 1\n"}, "index.nope", "Runtime.HandlerNotFound",
     "Handler 'nope' missing on module 'index'"),
    ("malformed", {"index.py": ""}, "x", "Runtime.MalformedHandlerName",
     "Bad handler 'x': not enough values to unpack (expected 2, got 1)"),
    ("syntax", {"index.py": "a = 1\nb = 2\nc = = 3\n"}, "index.handler",
     "Runtime.UserCodeSyntaxError", "Syntax error in module 'index': invalid syntax (index.py, line 3)"),
    ("builtin", {}, "sys.handler", "Runtime.BuiltInModuleConflict",
     "Cannot use built-in module sys as a handler module"),
    ("raises at import", {"index.py": "raise KeyError('boom')\n"}, "index.handler", "KeyError", "'boom'"),
]


@pytest.mark.parametrize("files,handler,etype,msg", [c[1:] for c in INIT_CASES],
                         ids=[c[0] for c in INIT_CASES])
def test_init_errors(make_env, files, handler, etype, msg):
    env = make_env(files, handler)
    hdrs, err = env.init_error()
    assert hdrs["Lambda-Runtime-Function-Error-Type"] == etype
    assert set(err) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert (err["errorType"], err["errorMessage"], err["requestId"]) == (etype, msg, "")
    if etype == "Runtime.UserCodeSyntaxError":
        assert err["stackTrace"] == ['  File "%s" Line 3\n    c = = 3\n' % (env.task / "index.py")]
    elif etype == "KeyError":
        assert err["stackTrace"][-1] == '  File "%s", line 1, in <module>\n    raise KeyError(\'boom\')\n' % (
            env.task / "index.py")
        assert not any("/bootstrap.py" in line for line in err["stackTrace"])
    else:
        assert err["stackTrace"] == []
    rc, out, _ = env.stop(expect_exit=True)
    assert rc == 1
    assert re.search(r"^\[WARNING\]\t\S+Z\t\tLAMBDA_WARNING: Unhandled exception\.", out, re.M)
    assert "[ERROR] %s: %s\rTraceback (most recent call last):" % (etype, msg) in out


CONTEXT_HANDLER = {"index.py": """
    import os
    def handler(event, context):
        cc = context.client_context
        return {
            "function_name": context.function_name, "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb, "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name, "log_stream_name": context.log_stream_name,
            "remaining": context.get_remaining_time_in_millis(), "tenant_id": context.tenant_id,
            "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
            "client_context": None if cc is None else {
                "custom": cc.custom, "env": cc.env,
                "client": None if cc.client is None else [cc.client.installation_id, cc.client.app_title,
                    cc.client.app_version_name, cc.client.app_version_code, cc.client.app_package_name]},
            "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        }
"""}


def test_context(make_env):
    env = make_env(CONTEXT_HANDLER)
    client_context = {"client": {"installation_id": "i", "app_title": "t", "app_version_name": "vn",
                                 "app_version_code": "vc", "app_package_name": "p"},
                      "custom": {"k": "v"}, "env": {"platform": "x"}}
    kind, _, body, rid = env.invoke({}, headers={
        "Lambda-Runtime-Client-Context": json.dumps(client_context),
        "Lambda-Runtime-Cognito-Identity": json.dumps({"cognitoIdentityId": "id1",
                                                       "cognitoIdentityPoolId": "pool1"}),
        "Lambda-Runtime-Aws-Tenant-Id": "tenant-a"})
    ctx = json.loads(body)
    assert kind == "response"
    assert 4000 < ctx.pop("remaining") <= 5000
    assert ctx == {
        "function_name": "fn", "function_version": "$LATEST",
        "invoked_function_arn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
        "memory_limit_in_mb": "256", "aws_request_id": rid, "log_group_name": "/aws/lambda/fn",
        "log_stream_name": "2024/01/01/[$LATEST]abc", "tenant_id": "tenant-a",
        "identity": ["id1", "pool1"],
        "client_context": {"custom": {"k": "v"}, "env": {"platform": "x"},
                           "client": ["i", "t", "vn", "vc", "p"]},
        "trace": "Root=1-5e1b4151-5ac6c58f5b5daa6532e4f3a6;Parent=1;Sampled=1",
    }
    # no optional headers: identity object with None fields, no client context, trace env removed
    _, _, body, _ = env.invoke({}, headers={"Lambda-Runtime-Trace-Id": "",
                                           "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) - 10)})
    ctx = json.loads(body)
    assert (ctx["identity"], ctx["client_context"], ctx["tenant_id"], ctx["trace"], ctx["remaining"]) == (
        [None, None], None, None, None, 0)
    # client context without "client"
    _, _, body, _ = env.invoke({}, headers={"Lambda-Runtime-Client-Context": '{"custom": {"a": 1}}'})
    assert json.loads(body)["client_context"] == {"custom": {"a": 1}, "env": None, "client": None}
    # malformed client context header
    kind, _, body, _ = env.invoke({}, headers={"Lambda-Runtime-Client-Context": "{"})
    assert kind == "error" and json.loads(body)["errorType"] == "Runtime.LambdaContextUnmarshalError"


@pytest.mark.parametrize("files,handler", [
    ({"src/app.py": "def lambda_handler(e, c):\n    return __name__\n"}, "src/app.lambda_handler"),
    ({"pkg/__init__.py": "", "pkg/mod.py": "def fn(e, c):\n    return __name__\n"}, "pkg.mod.fn"),
    ({"a/b/c.py": "def h(e, c):\n    return __name__\n"}, "a/b/c.h"),
])
def test_nested_handlers(make_env, files, handler):
    env = make_env(files, handler)
    kind, _, body, _ = env.invoke({})
    assert (kind, json.loads(body)) == ("response", handler.rsplit(".", 1)[0].replace("/", "."))


def test_layers_on_sys_path(make_env, tmp_path):
    opt = tmp_path / "opt"
    ver = PYVER
    (opt / "python").mkdir(parents=True)
    (opt / "python" / "layer_a.py").write_text("A = 'a'\n")
    sp = opt / "python" / "lib" / ver / "site-packages"
    sp.mkdir(parents=True)
    (sp / "layer_b.py").write_text("B = 'b'\n")
    env = make_env({"index.py": """
        import sys, layer_a, layer_b
        def handler(e, c):
            return [layer_a.A, layer_b.B, sys.path[:3]]
    """}, extra_env={"NIMBUS_LAMBDA_OPT_DIR": str(opt)})
    _, _, body, _ = env.invoke({})
    assert json.loads(body) == ["a", "b", [str(env.task), str(sp), str(opt / "python")]]


def test_text_logging(make_env):
    env = make_env({"index.py": """
        import logging
        logger = logging.getLogger()
        def handler(event, context):
            logger.info("hidden")
            logger.warning("hello %s", "world")
            logging.getLogger("child").error("child msg")
            return 1
    """})
    _, _, _, rid = env.invoke({})
    _, out, _ = env.stop()
    assert "hidden" not in out  # root logger defaults to WARNING, as on AWS
    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.search(r"^\[WARNING\]\t%s\t%s\thello world$" % (ts, rid), out, re.M), out
    assert re.search(r"^\[ERROR\]\t%s\t%s\tchild msg$" % (ts, rid), out, re.M), out


def test_json_logging(make_env):
    env = make_env({"index.py": """
        import logging
        logger = logging.getLogger("app")
        def handler(event, context):
            logger.debug("dbg", extra={"k": 1})
            try:
                1 / 0
            except ZeroDivisionError:
                logger.exception("oops")
            raise RuntimeError("bad")
    """}, extra_env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    kind, _, _, rid = env.invoke({})
    assert kind == "error"
    _, out, _ = env.stop()
    records = [json.loads(line) for line in out.splitlines()]
    dbg, exc, err = records
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", dbg.pop("timestamp"))
    assert dbg == {"level": "DEBUG", "message": "dbg", "logger": "app", "requestId": rid, "k": 1}
    assert (exc["level"], exc["errorType"], exc["errorMessage"]) == ("ERROR", "ZeroDivisionError",
                                                                    "division by zero")
    assert exc["location"].endswith("index.py:handler:9") and exc["stackTrace"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", err.pop("timestamp"))
    assert err["level"] == "ERROR" and err["errorType"] == "RuntimeError" and err["requestId"] == rid


def test_json_log_level_filter(make_env):
    env = make_env({"index.py": """
        import logging
        def handler(event, context):
            logging.warning("w")
            logging.error("e")
    """}, extra_env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "ERROR"})
    env.invoke({})
    _, out, _ = env.stop()
    assert [json.loads(line)["message"] for line in out.splitlines()] == ["e"]


def test_marshalling(make_env):
    env = make_env({"index.py": """
        from decimal import Decimal
        def handler(event, context):
            kind = event["kind"]
            if kind == "decimal":
                return {"d": Decimal("1.10"), "i": Decimal("3"), "l": [Decimal("-0.5e3")], "nan": Decimal("NaN")}
            if kind == "set":
                return {"s": {1}}
            if kind == "bytes":
                return b"\\x00raw"
            if kind == "none":
                return None
            return event
    """})
    _, _, body, _ = env.invoke({"kind": "decimal"})
    assert body == b'{"d": 1.10, "i": 3, "l": [-5E+2], "nan": NaN}'
    kind, hdrs, body, rid = env.invoke({"kind": "set"})
    assert kind == "error" and hdrs["Lambda-Runtime-Function-Error-Type"] == "Runtime.MarshalError"
    assert json.loads(body) == {"errorMessage": "Unable to marshal response: Object of type set is not "
                                "JSON serializable", "errorType": "Runtime.MarshalError",
                                "requestId": rid, "stackTrace": []}
    kind, hdrs, body, _ = env.invoke({"kind": "bytes"})
    assert (kind, hdrs["Content-Type"], body) == ("response", "application/unknown", b"\x00raw")
    _, _, body, _ = env.invoke({"kind": "none"})
    assert body == b"null"
    kind, hdrs, body, rid = env.invoke(None, raw=b"{not json")
    assert kind == "error"
    assert json.loads(body) == {"errorMessage": "Unable to unmarshal input: Expecting property name "
                                "enclosed in double quotes: line 1 column 2 (char 1)",
                                "errorType": "Runtime.UnmarshalError", "requestId": rid, "stackTrace": []}


def test_ascii_escaping_before_312(make_env):
    env = make_env({"index.py": "def handler(e, c):\n    return 'é'\n"},
                   extra_env={"AWS_EXECUTION_ENV": "AWS_Lambda_python3.11"})
    assert env.invoke({})[2] == b'"\\u00e9"'


def test_reconnects_when_server_drops_connection(make_env):
    env = make_env({"index.py": """
        import time
        def handler(event, context):
            time.sleep(0.2)
            return event
    """})
    env.api.drop_after_next = True
    for i in range(3):
        kind, _, body, _ = env.invoke(i)
        assert (kind, body) == ("response", str(i).encode())
    assert env.stop()[0] == 0


def test_startup_time(make_env):
    env = make_env({"index.py": "def handler(e, c):\n    return 1\n"})
    first_next = env.api.next_times.get(timeout=10)
    elapsed_ms = (first_next - env.start) * 1000
    base = time.monotonic()
    subprocess.run([PYTHON, "-c", "pass"], check=True)
    bare_ms = (time.monotonic() - base) * 1000
    print("\nstartup: process start -> first /next = %.1f ms (bare `python3 -c pass` = %.1f ms)"
          % (elapsed_ms, bare_ms))
    assert elapsed_ms < 2000


def test_telemetry_log_fd(make_env):
    """With _LAMBDA_TELEMETRY_LOG_FD, log records and errors go there as AWS frames."""
    r, w = os.pipe()
    env = make_env({"index.py": """
        import logging
        def handler(event, context):
            print("to stdout")
            logging.warning("multi\\nline")
            raise ValueError("x")
    """}, extra_env={"_LAMBDA_TELEMETRY_LOG_FD": str(w)}, pass_fds=(w,))
    os.close(w)
    kind, _, _, rid = env.invoke({})
    assert kind == "error"
    _, out, _ = env.stop()
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    frames = []
    while data:
        ftype, n = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
        frames.append((ftype, data[16:16 + n].decode()))
        data = data[16 + n:]
    assert out == "to stdout\n"
    (t1, warning), (t2, error) = frames
    assert t1 == 0xA55A0003 and re.fullmatch(r"\[WARNING\]\t\S+Z\t%s\tmulti\nline\n" % rid, warning)
    assert t2 == 0xA55A0017 and error.startswith("[ERROR] ValueError: x\nTraceback (most recent call last):\n")


def test_each_print_is_one_record_on_stdout(make_env):
    """A multi-line print (and a write without a newline) is one stdout line, its own line
    breaks as carriage returns: nimbus's log capture makes each such line one event."""
    env = make_env({"index.py": """
        import sys
        def handler(event, context):
            print("first\\nsecond")
            print("a", "b", sep="\\n", end="!\\n")
            sys.stdout.write("no newline")
            return 1
    """})
    kind, _, _, _ = env.invoke({})
    assert kind == "response"
    _, out, _ = env.stop()
    assert out == "first\rsecond\na\rb!\nno newline\n", repr(out)


# ---------------------------------------------------------------- the Runtime API client itself
def _bootstrap_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("nimbus_bootstrap_under_test", BOOTSTRAP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ScriptedServer:
    """A raw socket server: each request read gets the next scripted answer, written in the
    given pieces (to split status lines, headers and chunks across reads); `None` closes."""

    def __init__(self, answers):
        import socket as socket_module
        self.answers, self.requests, self.connections = list(answers), [], 0
        self.listener = socket_module.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _read_request(self, conn, buf):
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None, b""
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += conn.recv(65536)
        return (head.decode("latin-1"), rest[:length]), rest[length:]

    def _serve(self):
        while self.answers:
            conn, _ = self.listener.accept()
            self.connections += 1
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            while self.answers:
                request, buf = self._read_request(conn, buf)
                if request is None:
                    break
                self.requests.append(request)
                answer = self.answers.pop(0)
                if answer is None:
                    conn.close()
                    break
                for piece in answer:
                    conn.sendall(piece)
                    time.sleep(0.01)
                if b"connection: close" in b"".join(answer).lower():
                    conn.close()
                    break


import socket  # noqa: E402  (for ScriptedServer)


def test_client_reads_lengths_chunks_continues_and_keeps_alive():
    bootstrap = _bootstrap_module()
    next_head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"lambda-runtime-aws-request-id: id-1\r\nLambda-Runtime-Deadline-Ms: 42\r\n"
                 b"X-Twice: first\r\nX-Twice: second\r\nContent-Length: 10\r\n\r\n")
    server = ScriptedServer([
        # Content-Length body, status line and headers split across reads.
        [next_head[:7], next_head[7:60], next_head[60:], b'{"a"', b': 1}\r\n'[:-2] + b'  '],
        # 100 Continue, then a chunked answer with an extension and a trailer, in pieces.
        [b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r",
         b"\nabcd\r\n3\r\nefg\r\n0\r\nTrailer: x\r\n\r\n"],
        # No length: the body runs to the close; the next call reconnects.
        [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end"],
        [b"HTTP/1.1 204 No Content\r\n\r\n"],
    ])
    client = bootstrap.RuntimeClient(server.address)
    resp, body = client.call("GET", "/invocation/next")
    assert (resp.status, body) == (200, b'{"a": 1}  ')
    assert resp.headers.get("Lambda-Runtime-Aws-Request-Id") == "id-1"
    assert resp.headers.get("lambda-runtime-deadline-ms") == "42"
    assert resp.headers.get("X-Twice") == "first"
    assert resp.headers.get("Missing") is None
    resp, body = client.call("POST", "/invocation/id-1/response", "é".encode("utf-8"),
                             {"Content-Type": "application/json"})
    assert (resp.status, body) == (202, b"abcdefg")
    resp, body = client.call("POST", "/init/error", b"", {"Lambda-Runtime-Function-Error-Type": "E"})
    assert (resp.status, body) == (200, b"to the end")
    resp, body = client.call("GET", "/invocation/next")
    assert (resp.status, body) == (204, b"")
    assert server.connections == 2
    heads = [head for head, _ in server.requests]
    assert heads[0].startswith("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n")
    assert "Content-Length" not in heads[0]
    assert "\r\nContent-Length: 2\r\n" in heads[1] and "\r\nContent-Type: application/json" in heads[1]
    assert server.requests[1][1] == "é".encode("utf-8")
    assert "\r\nContent-Length: 0\r\n" in heads[2]
    assert "\r\nLambda-Runtime-Function-Error-Type: E" in heads[2]
    assert all(("\r\nHost: %s" % server.address) in h for h in heads)


def test_client_retries_once_on_a_dropped_connection_then_gives_up():
    bootstrap = _bootstrap_module()
    ok = [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]
    server = ScriptedServer([None, ok, None, None])
    client = bootstrap.RuntimeClient(server.address)
    assert client.call("GET", "/invocation/next")[1] == b"ok"
    with pytest.raises(OSError):
        client.call("GET", "/invocation/next")


def test_text_without_newlines_goes_out_in_event_sized_pieces():
    """A flood without newlines is not held in the function's memory: it goes out every 256 KB."""
    import io
    out = io.StringIO()
    stream = _bootstrap_module().Unbuffered(out)
    for _ in range(10):
        stream.write("x" * 100000)
    stream.flush()
    assert [len(line) for line in out.getvalue().split("\n")[:-1]] == [300000, 300000, 300000, 100000]
