"""API Gateway through the tools people deploy with: `chalice deploy` (ImportRestApi, a Lambda
TOKEN authorizer, CORS) and `aws apigateway get-export` for the OpenAPI round trip."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import uuid

import requests

from conftest import client

APP = pathlib.Path(__file__).parent / "chalice_app"
BIN = pathlib.Path(sys.executable).parent


def deploy(endpoint, tmp_path):
    project = tmp_path / "demo"
    shutil.copytree(APP, project)
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1")
    out = subprocess.run([str(BIN / "chalice"), "deploy", "--stage", "dev"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    deployed = json.loads((project / ".chalice" / "deployed" / "dev.json").read_text())
    api_id = next(r["rest_api_id"] for r in deployed["resources"] if r["resource_type"] == "rest_api")
    return project, env, api_id


def test_chalice_app_routes_authorizer_and_cors(endpoint, tmp_path):
    project, env, api_id = deploy(endpoint, tmp_path)
    base = f"{endpoint}/restapis/{api_id}/api/_user_request_"
    assert requests.get(f"{base}/").json() == {"hello": "world"}
    r = requests.put(f"{base}/items/7", json={"a": 1})
    assert r.status_code == 200 and r.json() == {"id": "7", "method": "PUT", "body": {"a": 1}}

    r = requests.get(f"{base}/private")
    assert (r.status_code, r.json()) == (401, {"message": "Unauthorized"})
    r = requests.get(f"{base}/private", headers={"Authorization": "deny"})
    assert (r.status_code, r.json()) == (403, {"Message": "User is not authorized to access this resource"})
    r = requests.get(f"{base}/private", headers={"Authorization": "allow"})
    assert (r.status_code, r.json()) == (200, {"principal": "alice", "team": "blue"})

    r = requests.options(f"{base}/cors")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    r = requests.get(f"{base}/cors")
    assert r.json() == {"cors": True} and r.headers["Access-Control-Allow-Origin"] == "*"
    assert requests.get(f"{base}/nope").status_code == 403

    # The host form answers the same.
    port = endpoint.rsplit(":", 1)[1]
    r = requests.get(f"http://127.0.0.1:{port}/api/items/9", headers={"Host": f"{api_id}.execute-api.us-east-1.localhost:{port}"})
    assert r.json()["id"] == "9"

    # A second deploy updates the API in place (PutRestApi, mode=overwrite).
    out = subprocess.run([str(BIN / "chalice"), "deploy", "--stage", "dev"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert requests.get(f"{base}/").json() == {"hello": "world"}


SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "petstore", "version": "1.0"},
    "paths": {
        "/pets/{id}": {
            "get": {
                "parameters": [{"name": "id", "in": "path", "required": True, "type": "string"}],
                "responses": {"200": {"description": "ok", "headers": {"X-Pet": {"type": "string"}}}},
                "x-amazon-apigateway-integration": {
                    "type": "mock", "requestTemplates": {"application/json": "{\"statusCode\": 200}"},
                    "responses": {"default": {"statusCode": "200",
                                              "responseParameters": {"method.response.header.X-Pet": "'cat'"},
                                              "responseTemplates": {"application/json": "{\"pet\": \"cat\"}"}}},
                },
            }
        }
    },
}


def test_openapi_import_export_round_trip(endpoint, tmp_path):
    apigw = client(endpoint, "apigateway")
    api = apigw.import_rest_api(body=json.dumps(SWAGGER).encode())
    api_id = api["id"]
    assert api["name"] == "petstore"
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/pets", "/pets/{id}"]
    apigw.create_deployment(restApiId=api_id, stageName="v1")
    r = requests.get(f"{endpoint}/restapis/{api_id}/v1/_user_request_/pets/1")
    assert (r.status_code, r.json(), r.headers["X-Pet"]) == (200, {"pet": "cat"}, "cat")

    out = tmp_path / "export.json"
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    subprocess.run([str(BIN / "aws"), "--endpoint-url", endpoint, "apigateway", "get-export", "--rest-api-id", api_id,
                    "--stage-name", "v1", "--export-type", "swagger", "--parameters", "extensions=integrations",
                    str(out)], check=True, env=env, capture_output=True, timeout=120)
    exported = json.loads(out.read_text())
    assert exported["swagger"] == "2.0" and exported["basePath"] == "/v1"
    get = exported["paths"]["/pets/{id}"]["get"]
    assert get["x-amazon-apigateway-integration"]["type"] == "mock"
    assert get["responses"]["200"]["headers"] == {"X-Pet": {"type": "string"}}

    again = apigw.import_rest_api(body=out.read_bytes())
    apigw.create_deployment(restApiId=again["id"], stageName="v1")
    r = requests.get(f"{endpoint}/restapis/{again['id']}/v1/_user_request_/pets/2")
    assert (r.status_code, r.json()) == (200, {"pet": "cat"})

    yaml_export = apigw.get_export(restApiId=api_id, stageName="v1", exportType="oas30", accepts="application/yaml")
    assert yaml_export["contentType"] == "application/yaml"
    assert b"openapi: 3.0.1" in yaml_export["body"].read()

    missing = apigw.exceptions.NotFoundException
    try:
        apigw.get_rest_api(restApiId="x" + uuid.uuid4().hex[:9])
        raise AssertionError("expected NotFoundException")
    except missing as e:
        assert e.response["Error"]["Message"].startswith("Invalid API identifier specified")


VALIDATED = {
    "openapi": "3.0.1",
    "info": {"title": "validated", "version": "1.0"},
    "x-amazon-apigateway-request-validators": {
        "all": {"validateRequestBody": True, "validateRequestParameters": True},
        "params": {"validateRequestBody": False, "validateRequestParameters": True},
    },
    "x-amazon-apigateway-request-validator": "all",
    "components": {"schemas": {
        "Owner": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}},
        "Pet": {"type": "object", "required": ["name"],
                "properties": {"name": {"type": "string"}, "owner": {"$ref": "#/components/schemas/Owner"}}},
    }},
    "paths": {
        "/pets": {
            "post": {
                "parameters": [{"name": "x-trace", "in": "header", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
                "responses": {"200": {"description": "ok"}},
                "x-amazon-apigateway-integration": {
                    "type": "mock", "requestTemplates": {"application/json": "{\"statusCode\": 200}"},
                    "responses": {"default": {"statusCode": "200",
                                              "responseTemplates": {"application/json": "{\"created\": true}"}}},
                },
            },
            "get": {
                "x-amazon-apigateway-request-validator": "params",
                "parameters": [{"name": "limit", "in": "query", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}},
                "x-amazon-apigateway-integration": {
                    "type": "mock", "requestTemplates": {"application/json": "{\"statusCode\": 200}"},
                    "responses": {"default": {"statusCode": "200",
                                              "responseTemplates": {"application/json": "{\"listed\": true}"}}},
                },
            },
        }
    },
}


def test_imported_request_validators_check_parameters_and_bodies(endpoint):
    apigw = client(endpoint, "apigateway")
    api_id = apigw.import_rest_api(body=json.dumps(VALIDATED).encode())["id"]
    validators = {v["name"]: v for v in apigw.get_request_validators(restApiId=api_id)["items"]}
    assert validators["params"]["validateRequestBody"] is False
    models = {m["name"]: m for m in apigw.get_models(restApiId=api_id)["items"]}
    assert set(models) >= {"Owner", "Pet"}
    assert f"/restapis/{api_id}/models/Owner" in models["Pet"]["schema"]
    pets = next(r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/pets")
    method = apigw.get_method(restApiId=api_id, resourceId=pets["id"], httpMethod="POST")
    assert method["requestValidatorId"] == validators["all"]["id"]
    assert method["requestModels"] == {"application/json": "Pet"}
    apigw.create_deployment(restApiId=api_id, stageName="v1")
    url = f"{endpoint}/restapis/{api_id}/v1/_user_request_/pets"

    r = requests.post(url, json={"name": "rex"})
    assert (r.status_code, r.json()) == (400, {"message": "Missing required request parameters: [x-trace]"})
    assert r.headers["x-amzn-ErrorType"] == "BadRequestException"
    r = requests.post(url, json={"name": "rex", "owner": {"id": "seven"}}, headers={"x-trace": "1"})
    assert (r.status_code, r.json()) == (400, {"message": "Invalid request body"})
    r = requests.post(url, json={"name": "rex", "owner": {"id": 7}}, headers={"x-trace": "1"})
    assert (r.status_code, r.json()) == (200, {"created": True})

    # The parameters-only validator ignores the body.
    r = requests.get(url)
    assert (r.status_code, r.json()) == (400, {"message": "Missing required request parameters: [limit]"})
    r = requests.get(url + "?limit=5", data="not json", headers={"content-type": "application/json"})
    assert (r.status_code, r.json()) == (200, {"listed": True})


# A WebSocket chat function: `$connect` refuses `?deny=1`; `echo` answers (a two-way route);
# `post` answers through `@connections` with boto3 (GetConnection, PostToConnection, and a
# GoneException for a connection that does not exist); `bye` closes its own connection
# (DeleteConnection); `$disconnect` records itself in DynamoDB.
CHAT = r'''import json, os
import boto3

def management(ctx):
    endpoint = os.environ["AWS_ENDPOINT_URL"] + "/restapis/" + ctx["apiId"] + "/" + ctx["stage"] + "/_user_request_"
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)

def handler(event, context):
    ctx = event["requestContext"]
    route = ctx["routeKey"]
    if route == "$connect":
        if (event.get("queryStringParameters") or {}).get("deny") == "1":
            return {"statusCode": 403}
        return {"statusCode": 200}
    if route == "$disconnect":
        boto3.client("dynamodb").put_item(TableName="ws-log", Item={
            "id": {"S": ctx["connectionId"]}, "eventType": {"S": ctx["eventType"]},
            "code": {"N": str(ctx.get("disconnectStatusCode"))}})
        return {"statusCode": 200}
    if route == "echo":
        return {"statusCode": 200, "body": json.dumps({"echo": json.loads(event["body"]), "route": route,
                "eventType": ctx["eventType"], "connectionId": ctx["connectionId"], "hasMessageId": "messageId" in ctx})}
    if route == "post":
        client = management(ctx)
        info = client.get_connection(ConnectionId=ctx["connectionId"])
        client.post_to_connection(ConnectionId=ctx["connectionId"], Data=json.dumps(
            {"posted": True, "sourceIp": info["Identity"]["SourceIp"]}).encode())
        try:
            client.post_to_connection(ConnectionId="nobody=", Data=b"x")
        except client.exceptions.GoneException:
            client.post_to_connection(ConnectionId=ctx["connectionId"], Data=b"gone ok")
        return {"statusCode": 200}
    if route == "bye":
        management(ctx).delete_connection(ConnectionId=ctx["connectionId"])
        return {"statusCode": 200}
    return {"statusCode": 200, "body": "default:" + event["body"]}
'''


def _zip(files):
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
    return buf.getvalue()


def _wait_for_item(db, connection_id, deadline=60):
    import time
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        item = db.get_item(TableName="ws-log", Key={"id": {"S": connection_id}}).get("Item")
        if item:
            return item
        time.sleep(0.2)
    raise AssertionError(f"$disconnect never ran for {connection_id}")


def test_websocket_chat_routes_and_connections(endpoint):
    import websocket  # websocket-client

    v2 = client(endpoint, "apigatewayv2")
    lam = client(endpoint, "lambda")
    db = client(endpoint, "dynamodb")
    api = v2.create_api(Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")
    api_id = api["ApiId"]
    assert api["ApiEndpoint"].startswith("ws://")
    fn = "chat-" + uuid.uuid4().hex[:8]
    arn = lam.create_function(FunctionName=fn, Runtime="python3.12", Role="arn:aws:iam::000000000000:role/lambda-role",
                              Handler="index.handler", Code={"ZipFile": _zip({"index.py": CHAT})}, Timeout=30)["FunctionArn"]
    lam.add_permission(FunctionName=fn, StatementId="apigw", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*")
    db.create_table(TableName="ws-log", AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    integration = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri)
    target = "integrations/" + integration["IntegrationId"]
    for key in ["$connect", "$disconnect", "$default", "echo", "post", "bye"]:
        extra = {"RouteResponseSelectionExpression": "$default"} if key in ("echo", "$default") else {}
        v2.create_route(ApiId=api_id, RouteKey=key, Target=target, **extra)
    v2.create_stage(ApiId=api_id, StageName="dev")
    port = endpoint.rsplit(":", 1)[1]
    url = f"ws://127.0.0.1:{port}/restapis/{api_id}/dev/_user_request_"

    # `$connect` decides: a non-2xx answer refuses the handshake with that status.
    try:
        websocket.create_connection(url + "?deny=1", timeout=60)
        raise AssertionError("expected the handshake to be refused")
    except websocket.WebSocketBadStatusException as e:
        assert e.status_code == 403

    ws = websocket.create_connection(url, timeout=60)
    ws.send(json.dumps({"action": "echo", "n": 1}))
    reply = json.loads(ws.recv())
    assert reply["echo"] == {"action": "echo", "n": 1}
    assert (reply["route"], reply["eventType"], reply["hasMessageId"]) == ("echo", "MESSAGE", True)
    connection_id = reply["connectionId"]

    ws.send(json.dumps({"action": "unknown"}))
    assert ws.recv() == 'default:{"action": "unknown"}'

    ws.send(json.dumps({"action": "post"}))
    assert json.loads(ws.recv()) == {"posted": True, "sourceIp": "127.0.0.1"}
    assert ws.recv() == "gone ok"

    # DeleteConnection closes the socket; `$disconnect` runs.
    ws.send(json.dumps({"action": "bye"}))
    opcode, _ = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    ws.close()
    assert _wait_for_item(db, connection_id)["eventType"] == {"S": "DISCONNECT"}

    # The host form connects too; a client's close reaches `$disconnect` with its status code.
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/dev", timeout=60,
                                     host=f"{api_id}.execute-api.us-east-1.localhost:{port}")
    ws.send(json.dumps({"action": "echo"}))
    second = json.loads(ws.recv())["connectionId"]
    assert second != connection_id
    ws.close(status=4001)
    assert _wait_for_item(db, second)["code"] == {"N": "4001"}
    gone = client(f"{endpoint}/restapis/{api_id}/dev/_user_request_", "apigatewaymanagementapi")
    try:
        gone.get_connection(ConnectionId=second)
        raise AssertionError("expected GoneException")
    except gone.exceptions.GoneException:
        pass
