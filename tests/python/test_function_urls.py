"""Function URLs: configuration through boto3, requests through plain HTTP."""
import io
import json
import uuid
import zipfile

import requests
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import client

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
CODE = """
import json
def handler(event, context):
    if event["rawPath"] == "/plain":
        return {"just": "data"}
    return {
        "statusCode": 201,
        "headers": {"x-echo": event["requestContext"]["http"]["method"]},
        "cookies": ["a=1", "b=2"],
        "body": json.dumps({"path": event["rawPath"], "query": event.get("queryStringParameters"),
                            "body": event.get("body"), "version": event["version"],
                            "cookies": event.get("cookies")}),
    }
"""


def zip_bytes(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
    return buf.getvalue()


def make_function(lam):
    fn = "url-" + uuid.uuid4().hex[:8]
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler", Code={"ZipFile": zip_bytes({"index.py": CODE})})
    return fn


def test_public_url_config_event_and_response_mapping(endpoint):
    lam = client(endpoint, "lambda")
    fn = make_function(lam)
    created = lam.create_function_url_config(FunctionName=fn, AuthType="NONE", Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["POST"], "MaxAge": 60})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    url = created["FunctionUrl"]
    # The path form on the host the client used: it resolves on every machine.
    assert url.startswith(f"{endpoint}/_nimbus/lambda/url/") and url.endswith("/")
    url_id = url.rstrip("/").rsplit("/", 1)[-1]
    assert lam.get_function_url_config(FunctionName=fn)["AuthType"] == "NONE"
    assert len(lam.list_function_url_configs(FunctionName=fn)["FunctionUrlConfigs"]) == 1
    try:
        lam.create_function_url_config(FunctionName=fn, AuthType="NONE")
        raise AssertionError("expected a conflict")
    except lam.exceptions.ResourceConflictException:
        pass

    path_form = f"{endpoint}/_nimbus/lambda/url/{url_id}"
    # AuthType NONE still needs the resource policy AWS requires.
    assert requests.get(path_form + "/hello").status_code == 403
    lam.add_permission(FunctionName=fn, StatementId="public", Action="lambda:InvokeFunctionUrl", Principal="*", FunctionUrlAuthType="NONE")

    r = requests.post(path_form + "/hello?x=1&y=2", data='{"k": "v"}', headers={"content-type": "application/json", "cookie": "c1=v1; c2=v2"})
    assert r.status_code == 201
    assert r.headers["x-echo"] == "POST"
    body = r.json()
    assert body == {"path": "/hello", "query": {"x": "1", "y": "2"}, "body": '{"k": "v"}', "version": "2.0", "cookies": ["c1=v1", "c2=v2"]}
    assert "a=1" in r.headers.get("set-cookie", "")

    # The AWS-shaped host form is accepted too: <url-id>.lambda-url.<region>.localhost.
    host = f"{url_id}.lambda-url.us-east-1.localhost:{endpoint.rsplit(':', 1)[1]}"
    r = requests.get(endpoint + "/plain", headers={"host": host})
    assert r.status_code == 200 and r.json() == {"just": "data"}

    preflight = requests.options(path_form + "/x", headers={"origin": "https://app.example", "access-control-request-method": "POST"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-methods"] == "POST"
    assert preflight.headers["access-control-max-age"] == "60"

    lam.delete_function_url_config(FunctionName=fn)
    assert requests.get(path_form + "/hello").status_code == 404


def test_aws_iam_url_requires_a_signed_request(endpoint):
    lam = client(endpoint, "lambda")
    fn = make_function(lam)
    target = lam.create_function_url_config(FunctionName=fn, AuthType="AWS_IAM")["FunctionUrl"] + "plain"
    assert requests.get(target).status_code == 403
    request = AWSRequest(method="GET", url=target)
    SigV4Auth(Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
    r = requests.get(target, headers=dict(request.headers))
    assert r.status_code == 200 and r.json() == {"just": "data"}

    # A wrong secret or a body changed after signing: AWS's signature error.
    request = AWSRequest(method="POST", url=target, data=b'{"n": 1}')
    SigV4Auth(Credentials("test", "wrong"), "lambda", "us-east-1").add_auth(request)
    r = requests.post(target, data=b'{"n": 1}', headers=dict(request.headers))
    assert r.status_code == 403 and r.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    request = AWSRequest(method="POST", url=target, data=b'{"n": 1}')
    SigV4Auth(Credentials("test", "test"), "lambda", "us-east-1").add_auth(request)
    assert requests.post(target, data=b'{"n": 2}', headers=dict(request.headers)).status_code == 403

    # Presigned (query-string) form.
    request = AWSRequest(method="GET", url=target)
    SigV4QueryAuth(Credentials("test", "test"), "lambda", "us-east-1", expires=60).add_auth(request)
    r = requests.get(request.url)
    assert r.status_code == 200 and r.json() == {"just": "data"}
