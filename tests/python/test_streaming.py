"""Response streaming through boto3 and curl: the first bytes reach the client while the
function is still running (it waits for a file the test creates only after seeing them)."""
import io
import json
import os
import subprocess
import tempfile
import uuid
import zipfile

import requests

from conftest import client

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
NODE = """
import fs from "node:fs";
async function signalled(path) {
  for (const end = Date.now() + 6000; Date.now() < end; ) {
    if (path && fs.existsSync(path)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}
export const events = awslambda.streamifyResponse(async (event, stream) => {
  stream.write("first;");
  stream.end((await signalled(event.signal)) ? "after-signal" : "no-signal");
});
export const http = awslambda.streamifyResponse(async (event, stream) => {
  const out = awslambda.HttpResponseStream.from(stream, { statusCode: 202, headers: { "content-type": "text/plain" } });
  out.write("first;");
  out.end((await signalled(event.queryStringParameters.signal)) ? "after-signal" : "no-signal");
});
"""
PYTHON = """
def handler(event, context):
    return {"statusCode": 418, "body": "python does not stream"}
"""


def zip_bytes(name, body):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, body)
    return buf.getvalue()


def create(lam, runtime, handler, files):
    fn = "stream-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime=runtime, Role=ROLE, Handler=handler, Timeout=10,
                        Code={"ZipFile": zip_bytes(*files)})
    return fn


def streaming_url(lam, endpoint, fn):
    url = lam.create_function_url_config(FunctionName=fn, AuthType="NONE", InvokeMode="RESPONSE_STREAM")["FunctionUrl"]
    lam.add_permission(FunctionName=fn, StatementId="public", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    return url.rstrip("/")


def test_boto3_receives_chunks_while_the_function_runs(endpoint):
    lam = client(endpoint, "lambda")
    fn = create(lam, "nodejs22.x", "index.events", ("index.mjs", NODE))
    with tempfile.TemporaryDirectory() as tmp:
        signal = os.path.join(tmp, "go")
        out = lam.invoke_with_response_stream(FunctionName=fn, Payload=json.dumps({"signal": signal}))
        assert out["ResponseMetadata"]["HTTPHeaders"]["x-amz-executed-version"] == "$LATEST"
        events = iter(out["EventStream"])
        assert next(events) == {"PayloadChunk": {"Payload": b"first;"}}
        open(signal, "w").close()
        rest = list(events)
    assert rest == [{"PayloadChunk": {"Payload": b"after-signal"}}, {"InvokeComplete": {}}]


def test_curl_no_buffer_reads_a_streaming_url_as_it_is_written(endpoint):
    lam = client(endpoint, "lambda")
    fn = create(lam, "nodejs22.x", "index.http", ("index.mjs", NODE))
    base = streaming_url(lam, endpoint, fn)
    with tempfile.TemporaryDirectory() as tmp:
        signal = os.path.join(tmp, "go")
        curl = subprocess.Popen(["curl", "-sS", "--no-buffer", "-i", f"{base}/?signal={signal}"],
                                stdout=subprocess.PIPE)
        try:
            head = b""
            while not head.endswith(b"first;"):
                byte = curl.stdout.read(1)
                assert byte, head
                head += byte
            assert head.startswith(b"HTTP/1.1 202"), head
            assert b"transfer-encoding: chunked" in head.lower()
            open(signal, "w").close()
            assert curl.stdout.read() == b"after-signal"
        finally:
            curl.kill()
            curl.wait()


def test_python_handlers_do_not_stream_their_result_is_the_body(endpoint):
    # AWS's Python runtime has no response streaming: under RESPONSE_STREAM the result is sent as is.
    lam = client(endpoint, "lambda")
    fn = create(lam, "python3.12", "index.handler", ("index.py", PYTHON))
    r = requests.get(streaming_url(lam, endpoint, fn) + "/")
    assert r.status_code == 200
    assert r.json() == {"statusCode": 418, "body": "python does not stream"}
    events = list(lam.invoke_with_response_stream(FunctionName=fn)["EventStream"])
    assert len(events) == 2 and json.loads(events[0]["PayloadChunk"]["Payload"])["statusCode"] == 418
    assert events[1] == {"InvokeComplete": {}}
