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
