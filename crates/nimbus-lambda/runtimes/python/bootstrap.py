"""Nimbus Python runtime bootstrap.

A standard-library-only client of the AWS Lambda Runtime API that behaves, as
seen by function code, like AWS's Python runtime interface client
(awslambdaric): handler loading, context object, logging setup, JSON
(un)marshalling and error payloads. Run as `python3 bootstrap.py` with
cwd = the function code directory and the usual Lambda environment.
"""
import importlib
import json
import logging
import os
import re
import signal
import socket
import sys
import time

API = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
XRAY_HEADER = "Lambda-Runtime-Function-XRay-Error-Cause"
LOG_FORMAT_JSON = (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
_lvl = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
LOG_LEVEL = {None: "", "TRACE": "DEBUG"}.get(_lvl, _lvl).upper()
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. To determine if the runtime has been updated, check the "
    "runtime version in the INIT_START log entry. If this error correlates with a change in the "
    "runtime version, you may be able to mitigate this error by temporarily rolling back to the "
    "previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)
_m = re.match(r"AWS_Lambda_python3\.(\d+)$", os.environ.get("AWS_EXECUTION_ENV", ""))
ENSURE_ASCII = not (_m and int(_m.group(1)) >= 12)  # 3.12+ returns raw unicode
_RAW = "@@nimbus-raw-%s-" % os.urandom(6).hex()
_RAW_RE = re.compile('"%s(\\d+)"' % re.escape(_RAW))

request_id = None  # current invocation, read by the logging filter
tenant_id = None


class FaultError(Exception):
    def __init__(self, error_type, msg, trace=None):
        super().__init__(msg)
        self.error_type, self.msg, self.trace = error_type, msg, trace


# ---------------------------------------------------------------- JSON
def to_json(obj, ensure_ascii=None):
    """json.dumps like awslambdaric's simplejson encoder: Decimal -> number."""
    raws = []

    def default(o):
        dec = sys.modules.get("decimal")
        if dec is not None and isinstance(o, dec.Decimal):
            if o.is_nan():
                return float("nan")
            raws.append(str(o))
            return "%s%d" % (_RAW, len(raws) - 1)
        if isinstance(o, (bytes, bytearray)):  # simplejson decodes bytes as UTF-8
            return bytes(o).decode("utf-8")
        raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)

    out = json.dumps(obj, default=default,
                     ensure_ascii=ENSURE_ASCII if ensure_ascii is None else ensure_ascii)
    return _RAW_RE.sub(lambda m: raws[int(m.group(1))], out) if raws else out


# ---------------------------------------------------------------- logging
def _frame_type(levelno, is_json):
    k = min(50, max(0, levelno)) // 10
    return (0xA55A0000 + (2 if is_json else 3) + (4 * k + 4 if k else 0)).to_bytes(4, "big")


class LogSink:
    """stdout (awslambdaric's StandardLogSink) or the framed telemetry fd."""

    def __init__(self):
        fd = os.environ.pop("_LAMBDA_TELEMETRY_LOG_FD", None)
        self.file = os.fdopen(int(fd), "wb", 0) if fd else None

    def log(self, msg, frame_type=None):
        if self.file is None:
            sys.stdout.write(msg)
            return
        data = msg.encode("utf-8")
        self.file.write((frame_type or _frame_type(0, False)) + len(data).to_bytes(4, "big")
                        + (time.time_ns() // 1000).to_bytes(8, "big") + data)

    def log_error(self, lines):
        if self.file is None:
            sys.stdout.write("\r".join(lines) + "\n")
        else:
            self.log("\n".join(lines), _frame_type(logging.ERROR, LOG_FORMAT_JSON))


class LambdaHandler(logging.Handler):
    def __init__(self, sink, framed):
        super().__init__()
        self.sink, self.framed = sink, framed

    def emit(self, record):
        msg = self.format(record)
        ft = None
        if self.framed:
            ft = getattr(record, "_frame_type", None) or _frame_type(record.levelno, False)
        self.sink.log(msg, ft)


class JsonFormatter(logging.Formatter):
    RESERVED = {"name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module",
                "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
                "relativeCreated", "thread", "threadName", "processName", "process",
                "aws_request_id", "tenant_id", "_frame_type"}

    def format(self, record):
        record.levelno = min(50, max(0, record.levelno)) // 10 * 10
        record.levelname = logging.getLevelName(record.levelno)
        record._frame_type = _frame_type(record.levelno, True)
        ts = time.strftime(DATETIME_FORMAT, time.gmtime(record.created))
        exc = record.exc_info
        if exc:
            import traceback
        out = {
            "timestamp": "%s.%03dZ" % (ts, int(record.msecs)),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc[2]) if exc else None,
            "errorType": exc[0].__name__ if exc else None,
            "errorMessage": str(exc[1]) if exc else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": "%s:%s:%s" % (record.pathname, record.funcName, record.lineno) if exc else None,
        }
        if getattr(record, "tenant_id", None) is not None:
            out["tenantId"] = record.tenant_id
        out.update((k, v) for k, v in record.__dict__.items() if k not in self.RESERVED and k not in out)
        return json.dumps({k: v for k, v in out.items() if v is not None}, ensure_ascii=False) + "\n"


def _add_request_fields(record):
    record.aws_request_id = request_id or ""
    record.tenant_id = tenant_id
    return True


def setup_logging(sink):
    logging.Formatter.converter = time.gmtime
    handler = LambdaHandler(sink, framed=sink.file is not None and (LOG_FORMAT_JSON or bool(LOG_LEVEL)))
    if LOG_FORMAT_JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            DATETIME_FORMAT))
    if LOG_LEVEL in logging._nameToLevel:
        logging.getLogger().setLevel(LOG_LEVEL)
    handler.addFilter(_add_request_fields)
    logging.getLogger().addHandler(handler)


def log_error(err, sink):
    if LOG_FORMAT_JSON:
        ts = time.strftime(DATETIME_FORMAT, time.gmtime())
        sink.log_error([to_json(dict({"timestamp": ts, "level": "ERROR"}, **err))])
        return
    head = "[ERROR]"
    if err["errorType"]:
        head += " " + err["errorType"] + (":" if err["errorMessage"] else "")
    if err["errorMessage"]:
        head += " " + err["errorMessage"]
    lines = [head, "Traceback (most recent call last):"]
    for element in err["stackTrace"]:
        for line in element.splitlines() or [""]:
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    sink.log_error(lines)


class Unbuffered:
    """stdout/stderr as AWS's Python runtime logs them: each print (or write) is one log event,
    however many lines it has. The text of writes up to a newline goes out as one line whose
    own line breaks are sent as carriage returns; nimbus's log capture turns them back."""

    # Text without a newline goes out once it reaches CloudWatch's event size (256 KB), as
    # AWS splits long lines, so a flood without newlines cannot fill the function's memory.
    MAX_PENDING = 256 * 1024

    def __init__(self, stream):
        self.stream = stream
        self.pending = []
        self.pending_size = 0

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, msg):
        if not isinstance(msg, str):
            return self.stream.write(msg)  # the stream's own TypeError
        self.pending.append(msg)
        self.pending_size += len(msg)
        if msg.endswith("\n") or self.pending_size >= self.MAX_PENDING:
            self.flush()
        return len(msg)

    def writelines(self, msgs):
        self.write("".join(msgs))

    def flush(self):
        if self.pending:
            text = "".join(self.pending)
            self.pending, self.pending_size = [], 0
            if text.endswith("\n"):
                text = text[:-1]
            self.stream.write(text.replace("\r\n", "\n").replace("\n", "\r") + "\n")
        self.stream.flush()


def install_print():
    """print() writes its whole line at once, so that one print is one write, hence one event
    (the built-in print writes each argument and separator apart)."""
    import builtins
    builtin_print = builtins.print

    def print(*objects, sep=" ", end="\n", file=None, flush=False):
        target = sys.stdout if file is None else file
        if not isinstance(target, Unbuffered):
            return builtin_print(*objects, sep=sep, end=end, file=file, flush=flush)
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if not isinstance(sep, str) or not isinstance(end, str):
            return builtin_print(*objects, sep=sep, end=end, file=file, flush=flush)
        target.write(sep.join(str(o) for o in objects) + end)
        if flush:
            target.flush()

    print.__doc__ = builtin_print.__doc__
    builtins.print = print


def flush_output():
    """What the handler wrote without a final newline belongs to its invocation."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


# ---------------------------------------------------------------- errors
def make_error(msg, error_type, trace, invoke_id=None):
    return {"errorMessage": msg or "", "errorType": error_type or "",
            "requestId": invoke_id or "", "stackTrace": trace or []}


def user_frames(tb):
    """Traceback frames with the leading bootstrap frames removed."""
    import traceback
    frames = list(traceback.extract_tb(tb))
    for i, frame in enumerate(frames):
        if "/bootstrap.py" not in frame.filename:
            return frames[i:]
    return frames


def xray_fault(error_type, msg, frames):
    return {"working_directory": os.getcwd(),
            "exceptions": [{"message": msg, "type": error_type,
                            "stack": [{"label": f.name, "path": f.filename, "line": f.lineno}
                                      for f in frames]}],
            "paths": list(dict.fromkeys(f.filename for f in frames))}


def error_from_exception(exc, invoke_id=None):
    """(error payload, xray cause) for any exception, as awslambdaric builds them."""
    if isinstance(exc, FaultError):
        return (make_error(exc.msg, exc.error_type, exc.trace, invoke_id),
                xray_fault("LambdaValidationError", exc.msg, []))
    import traceback
    frames = user_frames(exc.__traceback__)
    name = type(exc).__name__
    # plain tuples, like awslambdaric: no 3.11+ column carets in the trace
    trace = traceback.format_list([(f.filename, f.lineno, f.name, f.line) for f in frames])
    return (make_error(str(exc), name, trace, invoke_id),
            xray_fault(name, str(exc), frames))


# ---------------------------------------------------------------- handler
def load_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultError("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (handler, e))
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultError("Runtime.BuiltInModuleConflict",
                             "Cannot use built-in module %s as a handler module" % modname)
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultError("Runtime.ImportModuleError",
                         "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultError("Runtime.UserCodeSyntaxError",
                         "Syntax error in module '%s': %s" % (modname, e), trace)
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultError("Runtime.HandlerNotFound",
                         "Handler '%s' missing on module '%s'" % (fname, modname))


def setup_sys_path():
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]  # the runtime dir must not shadow function modules
    dirs = [os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()]
    opt = os.environ.get("NIMBUS_LAMBDA_OPT_DIR")
    if opt:
        ver = "python%d.%d" % sys.version_info[:2]
        dirs += [os.path.join(opt, "python", "lib", ver, "site-packages"), os.path.join(opt, "python")]
    sys.path[:] = dirs + [p for p in sys.path if p not in dirs]
    import site
    for d in dirs:  # process .pth files in the task root and layers, as AWS does
        if os.path.isdir(d):
            site.addsitedir(d)


# ---------------------------------------------------------------- context
class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code",
                 "app_package_name")


class ClientContext:
    __slots__ = ("custom", "env", "client")


def _from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, d.get(field))
    return obj


def _parse_header(value, name):
    try:
        return json.loads(value)
    except Exception as e:
        raise FaultError("Runtime.LambdaContextUnmarshalError", "Unable to parse %s JSON: %s" % (name, e))


class LambdaContext:
    def __init__(self, invoke_id, client_context, cognito_identity, deadline_ms,
                 invoked_function_arn=None, tenant=None):
        env = os.environ.get
        self.aws_request_id = invoke_id
        self.log_group_name = env("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a str, as on AWS
        self.function_version = env("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant
        self.client_context = _from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _from_dict(Client, self.client_context.client)
        self.identity = _from_dict(CognitoIdentity, cognito_identity or {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        delta = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta if delta > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        keys = ("aws_request_id", "log_group_name", "log_stream_name", "function_name",
                "memory_limit_in_mb", "function_version", "invoked_function_arn",
                "client_context", "identity", "tenant_id")
        return "LambdaContext([%s])" % ",".join("%s=%s" % (k, getattr(self, k)) for k in keys)


# ---------------------------------------------------------------- Runtime API
class Headers(dict):
    """Response headers by lower-case name; the first of repeated headers wins."""

    def get(self, name, default=None):
        return dict.get(self, name.lower(), default)


class Response:
    __slots__ = ("status", "headers")

    def __init__(self, status, headers):
        self.status, self.headers = status, headers


class BadResponse(ConnectionError):
    """The Runtime API's answer could not be read (the connection is dropped and retried)."""


class RuntimeClient:
    """One persistent HTTP/1.1 connection, parsed by hand (http.client costs ~160 us per
    answer): status line, headers, a Content-Length, chunked or read-to-close body, keep-alive.
    Reconnects once if the server dropped the connection."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.address = (host.strip("[]") or "127.0.0.1", int(port or 80))
        self.host = address
        self.sock, self.buf = None, b""

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock, self.buf = None, b""

    def call(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(self.address)
                    self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._send(method, path, body, headers)
                resp, data = self._receive()
                break
            except OSError:  # BadResponse included
                self.close()
                if attempt:
                    raise
        if not 200 <= resp.status < 300:
            sys.stderr.write("nimbus-runtime: %s %s -> %d %s\n" % (method, path, resp.status, data[:500]))
            if resp.status >= 500 or path.endswith("/next"):
                sys.exit(1)  # Runtime API: container error, exit promptly
        return resp, data

    def _send(self, method, path, body, headers):
        if isinstance(body, str):
            body = body.encode("utf-8")
        head = "%s %s%s HTTP/1.1\r\nHost: %s\r\n" % (method, API, path, self.host)
        if body is not None or method == "POST":
            head += "Content-Length: %d\r\n" % (len(body) if body else 0)
        if headers:
            head += "".join("%s: %s\r\n" % kv for kv in headers.items())
        data = (head + "\r\n").encode("latin-1")
        if body and len(body) < 65536:
            self.sock.sendall(data + body)
        else:
            self.sock.sendall(data)
            if body:
                self.sock.sendall(body)

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise BadResponse("the Runtime API closed the connection")
        return chunk

    def _receive(self):
        while True:  # 1xx answers (100 Continue) precede the real one
            buf = self.buf
            end = buf.find(b"\r\n\r\n")
            while end < 0:
                buf += self._recv()
                end = buf.find(b"\r\n\r\n", max(0, len(buf) - 65536 - 3))
            lines = buf[:end].decode("latin-1").split("\r\n")
            rest = buf[end + 4:]
            version, _, status = lines[0].partition(" ")
            try:
                status = int(status[:3])
            except ValueError:
                raise BadResponse("bad status line %r" % lines[0][:100])
            if not version.startswith("HTTP/"):
                raise BadResponse("bad status line %r" % lines[0][:100])
            headers = Headers()
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    name = name.strip().lower()
                    if name not in headers:
                        headers[name] = value.strip()
            if 100 <= status < 200 and status != 101:
                self.buf = rest
                continue
            break
        close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            data, rest = self._chunked(rest)
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise BadResponse("bad Content-Length %r" % headers["content-length"])
            if len(rest) < length:
                parts, have = [rest], len(rest)
                while have < length:
                    chunk = self._recv()
                    parts.append(chunk)
                    have += len(chunk)
                rest = b"".join(parts)
            data, rest = rest[:length], rest[length:]
        elif status in (204, 304):
            data = b""
        else:  # no length: the body runs to the end of the connection
            parts = [rest]
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                parts.append(chunk)
            data, rest, close = b"".join(parts), b"", True
        self.buf = rest
        if close:
            self.close()
        return Response(status, headers), data

    def _chunked(self, rest):
        parts = []
        while True:
            while b"\r\n" not in rest:
                rest += self._recv()
            line, _, rest = rest.partition(b"\r\n")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadResponse("bad chunk size %r" % line[:100])
            if size == 0:
                while True:  # trailers, up to an empty line
                    while b"\r\n" not in rest:
                        rest += self._recv()
                    line, _, rest = rest.partition(b"\r\n")
                    if not line:
                        return b"".join(parts), rest
            while len(rest) < size + 2:
                rest += self._recv()
            parts.append(rest[:size])
            rest = rest[size + 2:]

    def post_error(self, path, err, xray=None):
        error_type = err["errorType"].encode("ascii", "replace").decode()  # header-safe
        headers = {"Content-Type": "application/json", ERROR_TYPE_HEADER: error_type}
        cause = to_json(xray, ensure_ascii=True) if xray else ""
        if cause and len(cause) < 1024 * 1024:
            headers[XRAY_HEADER] = cause
        self.call("POST", path, to_json(err).encode("utf-8"), headers)


def handle_invocation(client, handler, resp, body, sink):
    h = resp.headers
    invoke_id = h.get("Lambda-Runtime-Aws-Request-Id")
    try:
        cc, ci = h.get("Lambda-Runtime-Client-Context"), h.get("Lambda-Runtime-Cognito-Identity")
        context = LambdaContext(
            invoke_id, _parse_header(cc, "Client Context") if cc else None,
            _parse_header(ci, "Cognito Identity") if ci else None,
            int(h.get("Lambda-Runtime-Deadline-Ms") or 0),
            h.get("Lambda-Runtime-Invoked-Function-Arn"), h.get("Lambda-Runtime-Aws-Tenant-Id"))
        content_type = h.get("Content-Type")
        if content_type and not content_type.startswith("application/json"):
            event = body
        else:
            try:
                event = json.loads(body)
            except Exception as e:
                raise FaultError("Runtime.UnmarshalError", "Unable to unmarshal input: %s" % e)
        result = handler(event, context)
        if isinstance(result, bytes):
            payload, result_type = result, "application/unknown"
        else:
            try:
                payload, result_type = to_json(result).encode("utf-8"), "application/json"
            except Exception as e:
                raise FaultError("Runtime.MarshalError", "Unable to marshal response: %s" % e)
    except Exception as e:
        err, xray = error_from_exception(e, invoke_id)
        log_error(err, sink)
        flush_output()
        client.post_error("/invocation/%s/error" % invoke_id, err, xray)
        return
    flush_output()
    client.call("POST", "/invocation/%s/response" % invoke_id, payload, {"Content-Type": result_type})


def main():
    global request_id, tenant_id
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    sys.stdout, sys.stderr = Unbuffered(sys.stdout), Unbuffered(sys.stderr)
    install_print()
    sink = LogSink()
    setup_logging(sink)
    client = RuntimeClient(os.environ.get("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"))
    setup_sys_path()
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Exception as e:
        err, _ = error_from_exception(e)
        logging.warning(UNHANDLED_WARNING)
        log_error(err, sink)
        client.post_error("/init/error", err)  # no X-Ray cause on init, as awslambdaric
        sys.exit(1)
    while True:
        resp, body = client.call("GET", "/invocation/next")
        request_id = resp.headers.get("Lambda-Runtime-Aws-Request-Id")
        tenant_id = resp.headers.get("Lambda-Runtime-Aws-Tenant-Id")
        trace_id = resp.headers.get("Lambda-Runtime-Trace-Id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        handle_invocation(client, handler, resp, body, sink)


if __name__ == "__main__":
    main()
