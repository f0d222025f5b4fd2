//! API Gateway REST APIs (v1) and HTTP APIs (v2): the control planes through aws-sdk-apigateway
//! and aws-sdk-apigatewayv2, every integration kind through real HTTP requests (reqwest).

use aws_sdk_apigateway::types::IntegrationType;
use aws_sdk_lambda::types::Runtime;
use serde_json::{json, Value};

use crate::harness::*;

pub fn v1(server: &Server) -> aws_sdk_apigateway::Client {
    use aws_sdk_apigateway::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_apigateway::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_apigateway::Client::from_conf(config)
}

pub fn v2(server: &Server) -> aws_sdk_apigatewayv2::Client {
    use aws_sdk_apigatewayv2::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_apigatewayv2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_apigatewayv2::Client::from_conf(config)
}

/// Echoes the event back in a proxy response (`/bad` answers a malformed one).
pub const ECHO: &str = r#"import json
def handler(event, context):
    path = event.get('path') or event.get('rawPath') or ''
    if path.endswith('/bad'):
        return {"body": {"not": "a string"}}
    if path.endswith('/boom'):
        raise Exception('boom')
    return {"statusCode": 200, "headers": {"Content-Type": "application/json", "X-Custom": "yes"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": json.dumps(event)}
"#;

pub async fn function(server: &Server, name: &str, code: &str, allow_api: Option<&str>) -> String {
    let lambda = server.lambda();
    create_function_with(&lambda, name, Runtime::Python312, "index.handler", python_zip(code), 30, &[]).await;
    if let Some(api) = allow_api {
        lambda
            .add_permission()
            .function_name(name)
            .statement_id("apigw")
            .action("lambda:InvokeFunction")
            .principal("apigateway.amazonaws.com")
            .source_arn(format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{api}/*"))
            .send()
            .await
            .unwrap();
    }
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
}

pub fn lambda_uri(function_arn: &str) -> String {
    format!("arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations")
}

async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, String) {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build().unwrap();
    let mut request = client.get(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// A REST API with `GET /items/{id}` (AWS_PROXY to `function`) deployed to stage `dev`.
async fn proxy_api(server: &Server, name: &str) -> (String, String) {
    let apigw = v1(server);
    let api = apigw.create_rest_api().name(name).send().await.unwrap();
    let api_id = api.id().unwrap().to_string();
    let root = api.root_resource_id().unwrap().to_string();
    let arn = function(server, &format!("{name}-fn"), ECHO, Some(&api_id)).await;
    let items = apigw.create_resource().rest_api_id(&api_id).parent_id(&root).path_part("items").send().await.unwrap();
    let item = apigw
        .create_resource()
        .rest_api_id(&api_id)
        .parent_id(items.id().unwrap())
        .path_part("{id}")
        .send()
        .await
        .unwrap();
    assert_eq!(item.path(), Some("/items/{id}"));
    for resource in [item.id().unwrap(), &root] {
        apigw
            .put_method()
            .rest_api_id(&api_id)
            .resource_id(resource)
            .http_method("ANY")
            .authorization_type("NONE")
            .send()
            .await
            .unwrap();
        apigw
            .put_integration()
            .rest_api_id(&api_id)
            .resource_id(resource)
            .http_method("ANY")
            .r#type(IntegrationType::AwsProxy)
            .integration_http_method("POST")
            .uri(lambda_uri(&arn))
            .send()
            .await
            .unwrap();
    }
    apigw.create_deployment().rest_api_id(&api_id).stage_name("dev").send().await.unwrap();
    (api_id, arn)
}

#[tokio::test]
async fn rest_api_control_plane_answers_like_aws() {
    let server = Server::start();
    let apigw = v1(&server);
    let api = apigw.create_rest_api().name("shop").description("d").send().await.unwrap();
    let id = api.id().unwrap();
    assert_eq!(id.len(), 10);
    assert_eq!(api.api_key_source().map(|s| s.as_str()), Some("HEADER"));
    let got = apigw.get_rest_api().rest_api_id(id).send().await.unwrap();
    assert_eq!(got.name(), Some("shop"));
    assert!(got.created_date().is_some());
    let list = apigw.get_rest_apis().send().await.unwrap();
    assert_eq!(list.items().len(), 1);
    let resources = apigw.get_resources().rest_api_id(id).send().await.unwrap();
    assert_eq!(resources.items()[0].path(), Some("/"));

    let err = apigw.get_rest_api().rest_api_id("nope").send().await.unwrap_err().into_service_error();
    assert!(err.is_not_found_exception(), "{err:?}");
    assert_eq!(err.meta().message(), Some(format!("Invalid API identifier specified {ACCOUNT}:nope").as_str()));

    let root = api.root_resource_id().unwrap();
    apigw.create_resource().rest_api_id(id).parent_id(root).path_part("a").send().await.unwrap();
    let dup = apigw.create_resource().rest_api_id(id).parent_id(root).path_part("a").send().await.unwrap_err();
    let dup = dup.into_service_error();
    assert!(dup.is_conflict_exception());
    assert_eq!(dup.meta().message(), Some("Another resource with the same parent already has this name: a"));

    let empty = apigw.create_deployment().rest_api_id(id).stage_name("dev").send().await.unwrap_err();
    assert_eq!(empty.into_service_error().meta().message(), Some("The REST API doesn't contain any methods"));

    let updated = apigw
        .update_rest_api()
        .rest_api_id(id)
        .patch_operations(
            aws_sdk_apigateway::types::PatchOperation::builder()
                .op(aws_sdk_apigateway::types::Op::Replace)
                .path("/name")
                .value("shop2")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(updated.name(), Some("shop2"));
    apigw.delete_rest_api().rest_api_id(id).send().await.unwrap();
    assert!(apigw.get_rest_apis().send().await.unwrap().items().is_empty());
}

#[tokio::test]
async fn aws_proxy_sends_the_proxy_event_and_maps_the_answer() {
    let server = Server::start();
    let (api_id, _) = proxy_api(&server, "proxy").await;
    let url = format!("{}/restapis/{api_id}/dev/_user_request_/items/42?color=red&color=blue", server.endpoint());
    let (status, headers, body) = get(&url, &[("x-thing", "1")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-custom"], "yes");
    assert_eq!(headers.get_all("set-cookie").iter().count(), 2);
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["resource"], "/items/{id}");
    assert_eq!(event["path"], "/items/42");
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["pathParameters"], json!({"id": "42"}));
    assert_eq!(event["queryStringParameters"], json!({"color": "blue"}));
    assert_eq!(event["multiValueQueryStringParameters"], json!({"color": ["red", "blue"]}));
    assert_eq!(event["headers"]["x-thing"], "1");
    assert_eq!(event["multiValueHeaders"]["x-thing"], json!(["1"]));
    assert_eq!(event["stageVariables"], Value::Null);
    assert_eq!(event["body"], Value::Null);
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(event["requestContext"]["stage"], "dev");
    assert_eq!(event["requestContext"]["resourcePath"], "/items/{id}");
    assert_eq!(event["requestContext"]["path"], "/dev/items/42");
    assert_eq!(event["requestContext"]["accountId"], ACCOUNT);
    assert_eq!(event["requestContext"]["apiId"], api_id.as_str());
    assert_eq!(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert!(event["requestContext"]["requestId"].as_str().is_some_and(|s| s.len() == 36));

    // The host form reaches the same API.
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/dev/items/7", server.endpoint()))
        .header("host", format!("{api_id}.execute-api.{REGION}.localhost:{}", server.port))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let event: Value = response.json().await.unwrap();
    assert_eq!(event["pathParameters"]["id"], "7");

    // The root resource and a malformed answer, a failing function, an unknown route.
    let (status, _, body) = get(&format!("{}/restapis/{api_id}/dev/_user_request_/", server.endpoint()), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["resource"], "/");
    let (status, headers, body) =
        get(&format!("{}/restapis/{api_id}/dev/_user_request_/items/bad", server.endpoint()), &[]).await;
    assert_eq!((status, body.as_str()), (502, r#"{"message": "Internal server error"}"#.replace(": ", ":").as_str()));
    assert_eq!(headers["x-amzn-errortype"], "InternalServerErrorException");
    let (status, _, _) =
        get(&format!("{}/restapis/{api_id}/dev/_user_request_/items/boom", server.endpoint()), &[]).await;
    assert_eq!(status, 502);
    let (status, headers, body) =
        get(&format!("{}/restapis/{api_id}/dev/_user_request_/nothing/here", server.endpoint()), &[]).await;
    assert_eq!((status, body.as_str()), (403, r#"{"message":"Missing Authentication Token"}"#));
    assert_eq!(headers["x-amzn-errortype"], "MissingAuthenticationTokenException");
    let (status, _, body) =
        get(&format!("{}/restapis/{api_id}/prod/_user_request_/items/1", server.endpoint()), &[]).await;
    assert_eq!((status, body.as_str()), (403, r#"{"message":"Forbidden"}"#));
}

#[tokio::test]
async fn a_function_without_a_permission_for_the_api_is_not_invoked() {
    let server = Server::start();
    let apigw = v1(&server);
    let api = apigw.create_rest_api().name("locked").send().await.unwrap();
    let api_id = api.id().unwrap();
    let arn = function(&server, "locked-fn", ECHO, Some("someotherapi")).await;
    let root = api.root_resource_id().unwrap();
    apigw
        .put_method()
        .rest_api_id(api_id)
        .resource_id(root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    apigw
        .put_integration()
        .rest_api_id(api_id)
        .resource_id(root)
        .http_method("GET")
        .r#type(IntegrationType::AwsProxy)
        .integration_http_method("POST")
        .uri(lambda_uri(&arn))
        .send()
        .await
        .unwrap();
    apigw.create_deployment().rest_api_id(api_id).stage_name("dev").send().await.unwrap();
    let (status, _, body) = get(&format!("{}/restapis/{api_id}/dev/_user_request_/", server.endpoint()), &[]).await;
    assert_eq!((status, body.as_str()), (500, r#"{"message":"Internal server error"}"#));
}

#[tokio::test]
async fn mock_integrations_answer_from_their_templates() {
    let server = Server::start();
    let apigw = v1(&server);
    let api = apigw.create_rest_api().name("mock").send().await.unwrap();
    let api_id = api.id().unwrap();
    let root = api.root_resource_id().unwrap();
    apigw
        .put_method()
        .rest_api_id(api_id)
        .resource_id(root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    apigw
        .put_integration()
        .rest_api_id(api_id)
        .resource_id(root)
        .http_method("GET")
        .r#type(IntegrationType::Mock)
        .request_templates("application/json", r#"{"statusCode": 201}"#)
        .send()
        .await
        .unwrap();
    apigw
        .put_method_response()
        .rest_api_id(api_id)
        .resource_id(root)
        .http_method("GET")
        .status_code("201")
        .response_parameters("method.response.header.X-Mocked", false)
        .send()
        .await
        .unwrap();
    apigw
        .put_integration_response()
        .rest_api_id(api_id)
        .resource_id(root)
        .http_method("GET")
        .status_code("201")
        .selection_pattern("201")
        .response_parameters("method.response.header.X-Mocked", "'true'")
        .response_templates("application/json", r#"{"mocked": true}"#)
        .send()
        .await
        .unwrap();
    let integration =
        apigw.get_integration().rest_api_id(api_id).resource_id(root).http_method("GET").send().await.unwrap();
    assert_eq!(integration.integration_responses().unwrap()["201"].selection_pattern(), Some("201"));
    assert_eq!(integration.passthrough_behavior(), Some("WHEN_NO_MATCH"));
    apigw.create_deployment().rest_api_id(api_id).stage_name("v1").send().await.unwrap();
    let stage = apigw.get_stage().rest_api_id(api_id).stage_name("v1").send().await.unwrap();
    assert!(stage.deployment_id().is_some());
    let (status, headers, body) =
        get(&format!("{}/restapis/{api_id}/v1/_user_request_/", server.endpoint()), &[]).await;
    assert_eq!((status, body.as_str()), (201, r#"{"mocked": true}"#));
    assert_eq!(headers["x-mocked"], "true");
}

/// A one-connection-at-a-time HTTP server answering with what it was asked (method, path,
/// a header), for HTTP_PROXY integrations.
async fn upstream() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..read]).to_string();
                let line = head.lines().next().unwrap_or_default().to_string();
                let thing = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("x-thing:").map(|v| v.trim().to_string()))
                    .unwrap_or_default();
                let body = json!({"line": line, "thing": thing}).to_string();
                let response = format!(
                    "HTTP/1.1 203 Non-Authoritative\r\nContent-Type: application/json\r\nX-Upstream: 1\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn http_api_quick_create_serves_payload_2_0_on_the_default_stage() {
    let server = Server::start();
    let apigw = v2(&server);
    let arn = function(&server, "quick-fn", ECHO, None).await;
    let api = apigw
        .create_api()
        .name("quick")
        .protocol_type(aws_sdk_apigatewayv2::types::ProtocolType::Http)
        .target(&arn)
        .send()
        .await
        .unwrap();
    let api_id = api.api_id().unwrap().to_string();
    assert_eq!(api.route_selection_expression(), Some("$request.method $request.path"));
    assert!(api.api_endpoint().unwrap().contains(&format!("{api_id}.execute-api.{REGION}.localhost")));
    let routes = apigw.get_routes().api_id(&api_id).send().await.unwrap();
    assert_eq!(routes.items()[0].route_key(), Some("$default"));
    let stages = apigw.get_stages().api_id(&api_id).send().await.unwrap();
    assert_eq!(stages.items()[0].stage_name(), Some("$default"));
    assert_eq!(stages.items()[0].auto_deploy(), Some(true));
    let integrations = apigw.get_integrations().api_id(&api_id).send().await.unwrap();
    assert_eq!(integrations.items()[0].payload_format_version(), Some("2.0"));

    // Without a permission for the API, the route cannot invoke the function.
    let url = format!("{}/restapis/{api_id}/$default/_user_request_/hello/world?a=1&a=2", server.endpoint());
    let (status, _, body) = get(&url, &[]).await;
    assert_eq!((status, body.as_str()), (500, r#"{"message":"Internal Server Error"}"#));
    server
        .lambda()
        .add_permission()
        .function_name("quick-fn")
        .statement_id("apigw")
        .action("lambda:InvokeFunction")
        .principal("apigateway.amazonaws.com")
        .source_arn(format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/*"))
        .send()
        .await
        .unwrap();
    let (status, headers, body) = get(&url, &[("cookie", "a=1; b=2")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-custom"], "yes");
    assert!(headers.contains_key("apigw-requestid"));
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["rawPath"], "/hello/world");
    assert_eq!(event["rawQueryString"], "a=1&a=2");
    assert_eq!(event["queryStringParameters"], json!({"a": "1,2"}));
    assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
    assert_eq!(event["requestContext"]["http"]["method"], "GET");
    assert_eq!(event["requestContext"]["stage"], "$default");
    assert_eq!(event["requestContext"]["apiId"], api_id.as_str());

    // The host form: no stage segment on a `$default` stage.
    let response = reqwest::Client::new()
        .post(format!("{}/x", server.endpoint()))
        .header("host", format!("{api_id}.execute-api.{REGION}.localhost:{}", server.port))
        .header("content-type", "application/json")
        .body(r#"{"k": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let event: Value = response.json().await.unwrap();
    assert_eq!(event["rawPath"], "/x");
    assert_eq!(event["body"], r#"{"k": 1}"#);
    assert_eq!(event["isBase64Encoded"], false);
}

#[tokio::test]
async fn http_api_routes_payload_1_0_http_proxy_and_cors() {
    use aws_sdk_apigatewayv2::types::{Cors, IntegrationType as V2Integration, ProtocolType};
    let server = Server::start();
    let apigw = v2(&server);
    let api = apigw.create_api().name("routes").protocol_type(ProtocolType::Http).send().await.unwrap();
    let api_id = api.api_id().unwrap().to_string();
    let arn = function(&server, "routes-fn", ECHO, Some(&api_id)).await;
    let lambda = apigw
        .create_integration()
        .api_id(&api_id)
        .integration_type(V2Integration::AwsProxy)
        .integration_uri(&arn)
        .payload_format_version("1.0")
        .send()
        .await
        .unwrap();
    let route = apigw
        .create_route()
        .api_id(&api_id)
        .route_key("GET /items/{id}")
        .target(format!("integrations/{}", lambda.integration_id().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(route.authorization_type().map(|a| a.as_str()), Some("NONE"));
    let dup = apigw.create_route().api_id(&api_id).route_key("GET /items/{id}").send().await.unwrap_err();
    assert!(dup.into_service_error().is_conflict_exception());
    let port = upstream().await;
    let proxy = apigw
        .create_integration()
        .api_id(&api_id)
        .integration_type(V2Integration::HttpProxy)
        .integration_method("ANY")
        .integration_uri(format!("http://127.0.0.1:{port}/up/{{proxy}}"))
        .payload_format_version("1.0")
        .send()
        .await
        .unwrap();
    apigw
        .create_route()
        .api_id(&api_id)
        .route_key("ANY /proxy/{proxy+}")
        .target(format!("integrations/{}", proxy.integration_id().unwrap()))
        .send()
        .await
        .unwrap();
    apigw.create_stage().api_id(&api_id).stage_name("prod").auto_deploy(true).send().await.unwrap();
    apigw
        .update_api()
        .api_id(&api_id)
        .cors_configuration(
            Cors::builder()
                .allow_origins("https://example.com")
                .allow_methods("GET")
                .allow_headers("x-thing")
                .max_age(60)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got = apigw.get_api().api_id(&api_id).send().await.unwrap();
    assert_eq!(got.cors_configuration().unwrap().allow_origins(), ["https://example.com"]);

    let base = format!("{}/restapis/{api_id}/prod/_user_request_", server.endpoint());
    let (status, headers, body) = get(&format!("{base}/items/5"), &[("origin", "https://example.com")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["access-control-allow-origin"], "https://example.com");
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["version"], "1.0");
    assert_eq!(event["resource"], "/items/{id}");
    assert_eq!(event["pathParameters"], json!({"id": "5"}));
    assert_eq!(event["requestContext"]["stage"], "prod");

    let (status, headers, body) = get(&format!("{base}/proxy/a/b?q=1"), &[("x-thing", "t")]).await;
    assert_eq!(status, 203, "{body}");
    assert_eq!(headers["x-upstream"], "1");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["line"], "GET /up/a/b?q=1 HTTP/1.1");
    assert_eq!(answer["thing"], "t");

    let (status, _, body) = get(&format!("{base}/nowhere"), &[]).await;
    assert_eq!((status, body.as_str()), (404, r#"{"message":"Not Found"}"#));

    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{base}/items/5"))
        .header("origin", "https://example.com")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-methods"], "GET");
    assert_eq!(preflight.headers()["access-control-allow-headers"], "x-thing");
    assert_eq!(preflight.headers()["access-control-max-age"], "60");

    let missing = apigw.get_route().api_id(&api_id).route_id("nope").send().await.unwrap_err().into_service_error();
    assert!(missing.is_not_found_exception(), "{missing:?}");
}

#[tokio::test]
async fn apis_survive_kill_9_with_a_data_dir() {
    use aws_sdk_apigatewayv2::types::ProtocolType;
    let dir = TempDir::new("apigw-persist");
    let server = Server::start_with_data_dir(dir.path());
    let apigw = v1(&server);
    let api = apigw.create_rest_api().name("durable").send().await.unwrap();
    let api_id = api.id().unwrap().to_string();
    let root = api.root_resource_id().unwrap().to_string();
    apigw
        .put_method()
        .rest_api_id(&api_id)
        .resource_id(&root)
        .http_method("GET")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    apigw
        .put_integration()
        .rest_api_id(&api_id)
        .resource_id(&root)
        .http_method("GET")
        .r#type(IntegrationType::Mock)
        .request_templates("application/json", r#"{"statusCode": 200}"#)
        .send()
        .await
        .unwrap();
    apigw
        .put_integration_response()
        .rest_api_id(&api_id)
        .resource_id(&root)
        .http_method("GET")
        .status_code("200")
        .response_templates("application/json", "persisted")
        .send()
        .await
        .unwrap();
    apigw.create_deployment().rest_api_id(&api_id).stage_name("live").send().await.unwrap();
    let http = v2(&server).create_api().name("durable-http").protocol_type(ProtocolType::Http).send().await.unwrap();
    let http_id = http.api_id().unwrap().to_string();
    server.kill();

    let server = Server::start_with_data_dir(dir.path());
    let got = v1(&server).get_rest_api().rest_api_id(&api_id).send().await.unwrap();
    assert_eq!(got.name(), Some("durable"));
    let stage = v1(&server).get_stage().rest_api_id(&api_id).stage_name("live").send().await.unwrap();
    assert!(stage.deployment_id().is_some());
    let (status, _, body) = get(&format!("{}/restapis/{api_id}/live/_user_request_/", server.endpoint()), &[]).await;
    assert_eq!((status, body.as_str()), (200, "persisted"));
    let http = v2(&server).get_api().api_id(&http_id).send().await.unwrap();
    assert_eq!(http.name(), Some("durable-http"));
}

#[tokio::test]
async fn aws_integrations_map_through_velocity_templates() {
    let server = Server::start();
    let apigw = v1(&server);
    let api = apigw.create_rest_api().name("custom").send().await.unwrap();
    let api_id = api.id().unwrap().to_string();
    let code = "def handler(event, context):\n    if event.get('fail'):\n        raise Exception('boom: ' + event['id'])\n    return event\n";
    let arn = function(&server, "custom-fn", code, Some(&api_id)).await;
    let item = apigw
        .create_resource()
        .rest_api_id(&api_id)
        .parent_id(api.root_resource_id().unwrap())
        .path_part("{id}")
        .send()
        .await
        .unwrap();
    let rid = item.id().unwrap();
    apigw
        .put_method()
        .rest_api_id(&api_id)
        .resource_id(rid)
        .http_method("POST")
        .authorization_type("NONE")
        .send()
        .await
        .unwrap();
    apigw
        .put_integration()
        .rest_api_id(&api_id)
        .resource_id(rid)
        .http_method("POST")
        .r#type(IntegrationType::Aws)
        .integration_http_method("POST")
        .uri(lambda_uri(&arn))
        .request_templates(
            "application/json",
            "#set($b = $input.path('$'))\n{\"id\": \"$input.params('id')\", \"fail\": $b.fail, \"tags\": [#foreach($t in $b.tags)\"$t.toUpperCase()\"#if($foreach.hasNext),#end#end], \"stage\": \"$context.stage\"}",
        )
        .send()
        .await
        .unwrap();
    for (code, pattern, template) in [
        ("200", None, "#set($r = $input.path('$'))$r.id:$r.tags[1]:$r.stage"),
        ("400", Some(".*boom.*"), "{\"error\": \"$util.escapeJavaScript($input.path('$.errorMessage'))\"}"),
    ] {
        apigw
            .put_method_response()
            .rest_api_id(&api_id)
            .resource_id(rid)
            .http_method("POST")
            .status_code(code)
            .send()
            .await
            .unwrap();
        let mut put = apigw
            .put_integration_response()
            .rest_api_id(&api_id)
            .resource_id(rid)
            .http_method("POST")
            .status_code(code)
            .response_templates("application/json", template);
        if let Some(p) = pattern {
            put = put.selection_pattern(p);
        }
        put.send().await.unwrap();
    }
    apigw.create_deployment().rest_api_id(&api_id).stage_name("dev").send().await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/restapis/{api_id}/dev/_user_request_/abc", server.endpoint());
    let ok = client
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"fail": false, "tags": ["x", "y"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "abc:Y:dev");
    let failed = client
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"fail": true, "tags": []}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 400);
    assert_eq!(failed.json::<Value>().await.unwrap(), json!({"error": "boom: abc"}));
}
