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

/// An OpenID issuer for JWT authorizers: `/.well-known/openid-configuration` pointing at
/// `/jwks`, which serves `jwks`. Answers any number of connections.
async fn issuer(jwks: Value) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let issuer = base.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let (base, jwks) = (base.clone(), jwks.clone());
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
                let path = head.split(' ').nth(1).unwrap_or_default().to_string();
                let (status, body) = match path.as_str() {
                    "/.well-known/openid-configuration" => {
                        ("200 OK", json!({"issuer": base, "jwks_uri": format!("{base}/jwks")}).to_string())
                    }
                    "/jwks" => ("200 OK", jwks.to_string()),
                    _ => ("404 Not Found", "{}".to_string()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    issuer
}

/// An RSA signing key and its public JWK (`kid` given).
fn rsa_key(kid: &str) -> (jsonwebtoken::EncodingKey, Value) {
    use base64::Engine;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let der = key.to_pkcs1_der().unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk = json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                     "n": b64.encode(key.n().to_bytes_be()), "e": b64.encode(key.e().to_bytes_be())});
    (jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()), jwk)
}

fn sign(key: &jsonwebtoken::EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// An HTTP API with an AWS_PROXY integration to ECHO and a `$default` auto-deployed stage.
async fn http_api_with_echo(server: &Server, name: &str, payload: &str) -> (String, String, String) {
    use aws_sdk_apigatewayv2::types::{IntegrationType as V2Integration, ProtocolType};
    let apigw = v2(server);
    let api = apigw.create_api().name(name).protocol_type(ProtocolType::Http).send().await.unwrap();
    let api_id = api.api_id().unwrap().to_string();
    let arn = function(server, &format!("{name}-fn"), ECHO, Some(&api_id)).await;
    let integration = apigw
        .create_integration()
        .api_id(&api_id)
        .integration_type(V2Integration::AwsProxy)
        .integration_uri(&arn)
        .payload_format_version(payload)
        .send()
        .await
        .unwrap();
    apigw.create_stage().api_id(&api_id).stage_name("$default").auto_deploy(true).send().await.unwrap();
    let base = format!("{}/restapis/{api_id}/$default/_user_request_", server.endpoint());
    (api_id, integration.integration_id().unwrap().to_string(), base)
}

#[tokio::test]
async fn http_api_jwt_authorizers_verify_tokens_against_the_issuers_keys() {
    use aws_sdk_apigatewayv2::types::{AuthorizationType, AuthorizerType, JwtConfiguration};
    let server = Server::start();
    let apigw = v2(&server);
    let (key, jwk) = rsa_key("key-1");
    let (other_key, _) = rsa_key("key-1");
    let issuer = issuer(json!({"keys": [jwk]})).await;
    let (api_id, integration, base) = http_api_with_echo(&server, "jwt", "2.0").await;
    let authorizer = apigw
        .create_authorizer()
        .api_id(&api_id)
        .name("jwt")
        .authorizer_type(AuthorizerType::Jwt)
        .identity_source("$request.header.Authorization")
        .jwt_configuration(JwtConfiguration::builder().issuer(&issuer).audience("my-app").build())
        .send()
        .await
        .unwrap();
    assert_eq!(authorizer.jwt_configuration().unwrap().issuer(), Some(issuer.as_str()));
    for (key, scopes) in [("GET /me", vec![]), ("GET /admin", vec!["admin".to_string()])] {
        apigw
            .create_route()
            .api_id(&api_id)
            .route_key(key)
            .target(format!("integrations/{integration}"))
            .authorization_type(AuthorizationType::Jwt)
            .authorizer_id(authorizer.authorizer_id().unwrap())
            .set_authorization_scopes(Some(scopes))
            .send()
            .await
            .unwrap();
    }
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": issuer, "aud": "my-app", "sub": "user-1", "iat": now - 10, "exp": now + 600,
                        "scope": "read write", "groups": ["a", "b"]});
    let token = sign(&key, "key-1", &claims);

    let (status, _, body) = get(&format!("{base}/me"), &[]).await;
    assert_eq!((status, body.as_str()), (401, r#"{"message":"Unauthorized"}"#));
    let bearer = format!("Bearer {token}");
    let (status, _, body) = get(&format!("{base}/me"), &[("authorization", &bearer)]).await;
    assert_eq!(status, 200, "{body}");
    let event: Value = serde_json::from_str(&body).unwrap();
    let jwt = &event["requestContext"]["authorizer"]["jwt"];
    assert_eq!(jwt["claims"]["sub"], "user-1");
    assert_eq!(jwt["claims"]["exp"], (now + 600).to_string());
    assert_eq!(jwt["claims"]["groups"], "[a b]");
    assert_eq!(jwt["scopes"], json!(["read", "write"]));
    // The token alone (no `Bearer `) is accepted too.
    let (status, _, _) = get(&format!("{base}/me"), &[("authorization", &token)]).await;
    assert_eq!(status, 200);

    // A valid token without one of the route's scopes is forbidden.
    let (status, _, body) = get(&format!("{base}/admin"), &[("authorization", &bearer)]).await;
    assert_eq!((status, body.as_str()), (403, r#"{"message":"Forbidden"}"#));
    let admin = sign(&key, "key-1", &json!({"iss": issuer, "aud": "my-app", "exp": now + 600, "scope": "admin"}));
    let (status, _, body) = get(&format!("{base}/admin"), &[("authorization", &admin)]).await;
    assert_eq!(status, 200, "{body}");

    // Each failed check is a 401: audience (a Cognito `client_id` counts), issuer, expiry,
    // not-before, signature, algorithm.
    let cognito = sign(&key, "key-1", &json!({"iss": issuer, "client_id": "my-app", "exp": now + 600}));
    assert_eq!(get(&format!("{base}/me"), &[("authorization", &cognito)]).await.0, 200);
    let refused = [
        sign(&key, "key-1", &json!({"iss": issuer, "aud": "other", "exp": now + 600})),
        sign(&key, "key-1", &json!({"iss": "http://elsewhere", "aud": "my-app", "exp": now + 600})),
        sign(&key, "key-1", &json!({"iss": issuer, "aud": "my-app", "exp": now - 5})),
        sign(&key, "key-1", &json!({"iss": issuer, "aud": "my-app", "exp": now + 600, "nbf": now + 300})),
        sign(&other_key, "key-1", &claims),
        sign(&key, "unknown-kid", &claims),
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"secret"),
        )
        .unwrap(),
        "not-a-jwt".to_string(),
    ];
    for (i, token) in refused.iter().enumerate() {
        let (status, _, body) = get(&format!("{base}/me"), &[("authorization", token)]).await;
        assert_eq!((status, body.as_str()), (401, r#"{"message":"Unauthorized"}"#), "token {i}");
    }

    // Expiry follows nimbus's clock.
    let advanced = reqwest::Client::new()
        .post(format!("{}/_nimbus/clock/advance", server.endpoint()))
        .json(&json!({"seconds": 900}))
        .send()
        .await
        .unwrap();
    assert!(advanced.status().is_success());
    let (status, _, _) = get(&format!("{base}/me"), &[("authorization", &bearer)]).await;
    assert_eq!(status, 401);
}

/// A Lambda authorizer: `x-token: good` is allowed, `bad` denied, `boom` fails; the context
/// says what the authorizer saw, with a fresh nonce per call (to show caching).
const AUTHORIZER: &str = r#"import json, uuid
def handler(event, context):
    source = event['identitySource']
    token = source[0] if isinstance(source, list) else source.split(',')[0]
    if token == 'boom':
        raise Exception('boom')
    seen = {"nonce": str(uuid.uuid4()), "version": event['version'], "type": event['type'], "source": json.dumps(source),
            "token": event.get('authorizationToken', '')}
    path = event.get('rawPath') or event.get('path') or ''
    if path.endswith('/simple'):
        return {"isAuthorized": token == 'good', "context": seen}
    arn = event.get('routeArn') or event.get('methodArn')
    seen["arn"] = arn
    effect = 'Allow' if token == 'good' else 'Deny'
    return {"principalId": "me", "context": seen, "policyDocument": {"Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn}]}}
"#;

#[tokio::test]
async fn http_api_lambda_authorizers_simple_and_policy_answers_both_payload_formats() {
    use aws_sdk_apigatewayv2::types::{AuthorizationType, AuthorizerType, IntegrationType as V2Integration};
    let server = Server::start();
    let apigw = v2(&server);
    let (api_id, integration, base) = http_api_with_echo(&server, "lauth", "2.0").await;
    let echo = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:lauth-fn");
    let v1_integration = apigw
        .create_integration()
        .api_id(&api_id)
        .integration_type(V2Integration::AwsProxy)
        .integration_uri(&echo)
        .payload_format_version("1.0")
        .send()
        .await
        .unwrap();
    let auth_fn = function(&server, "lauth-authorizer", AUTHORIZER, Some(&api_id)).await;
    let mut ids = Vec::new();
    for (name, version, simple, sources, ttl) in [
        ("simple", "2.0", true, vec!["$request.header.x-token"], 300),
        ("policy", "2.0", false, vec!["$request.header.x-token", "$request.querystring.q"], 0),
        ("v1", "1.0", false, vec!["$request.header.x-token"], 0),
    ] {
        let created = apigw
            .create_authorizer()
            .api_id(&api_id)
            .name(name)
            .authorizer_type(AuthorizerType::Request)
            .authorizer_uri(lambda_uri(&auth_fn))
            .authorizer_payload_format_version(version)
            .enable_simple_responses(simple)
            .set_identity_source(Some(sources.into_iter().map(str::to_string).collect()))
            .authorizer_result_ttl_in_seconds(ttl)
            .send()
            .await
            .unwrap();
        ids.push(created.authorizer_id().unwrap().to_string());
    }
    for (i, (key, target)) in [
        ("GET /simple", &integration),
        ("GET /policy", &integration),
        ("GET /v1", &v1_integration.integration_id().unwrap().to_string()),
    ]
    .into_iter()
    .enumerate()
    {
        apigw
            .create_route()
            .api_id(&api_id)
            .route_key(key)
            .target(format!("integrations/{target}"))
            .authorization_type(AuthorizationType::Custom)
            .authorizer_id(&ids[i])
            .send()
            .await
            .unwrap();
    }

    // Simple answers; a missing identity source is a 401 without calling the function.
    let (status, _, body) = get(&format!("{base}/simple"), &[]).await;
    assert_eq!((status, body.as_str()), (401, r#"{"message":"Unauthorized"}"#));
    let (status, _, body) = get(&format!("{base}/simple"), &[("x-token", "good")]).await;
    assert_eq!(status, 200, "{body}");
    let event: Value = serde_json::from_str(&body).unwrap();
    let seen = &event["requestContext"]["authorizer"]["lambda"];
    assert_eq!((seen["version"].as_str(), seen["type"].as_str()), (Some("2.0"), Some("REQUEST")));
    assert_eq!(seen["source"], r#"["good"]"#);
    // Cached for the TTL: the second request does not call the authorizer.
    let (_, _, body) = get(&format!("{base}/simple"), &[("x-token", "good")]).await;
    let again: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(again["requestContext"]["authorizer"]["lambda"]["nonce"], seen["nonce"]);
    let (status, _, body) = get(&format!("{base}/simple"), &[("x-token", "bad")]).await;
    assert_eq!((status, body.as_str()), (403, r#"{"message":"Forbidden"}"#));
    let (status, _, body) = get(&format!("{base}/simple"), &[("x-token", "boom")]).await;
    assert_eq!((status, body.as_str()), (500, r#"{"message":"Internal Server Error"}"#));

    // IAM-policy answers (payload 2.0), evaluated for the route ARN; every identity source is needed.
    let (status, _, _) = get(&format!("{base}/policy"), &[("x-token", "good")]).await;
    assert_eq!(status, 401);
    let (status, _, body) = get(&format!("{base}/policy?q=1"), &[("x-token", "good")]).await;
    assert_eq!(status, 200, "{body}");
    let event: Value = serde_json::from_str(&body).unwrap();
    let seen = &event["requestContext"]["authorizer"]["lambda"];
    assert_eq!(seen["source"], r#"["good", "1"]"#);
    assert_eq!(seen["arn"], format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/$default/GET/policy"));
    let (status, _, body) = get(&format!("{base}/policy?q=1"), &[("x-token", "bad")]).await;
    assert_eq!((status, body.as_str()), (403, r#"{"message":"Forbidden"}"#));
    // TTL 0: every request calls the authorizer.
    let (_, _, first) = get(&format!("{base}/policy?q=1"), &[("x-token", "good")]).await;
    let (_, _, second) = get(&format!("{base}/policy?q=1"), &[("x-token", "good")]).await;
    let nonce =
        |b: &str| serde_json::from_str::<Value>(b).unwrap()["requestContext"]["authorizer"]["lambda"]["nonce"].clone();
    assert_ne!(nonce(&first), nonce(&second));

    // Payload 1.0: `methodArn`, `identitySource` and `authorizationToken` as strings; the 1.0
    // integration event carries the context too.
    let (status, _, body) = get(&format!("{base}/v1"), &[("x-token", "good")]).await;
    assert_eq!(status, 200, "{body}");
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["version"], "1.0");
    let seen = &event["requestContext"]["authorizer"]["lambda"];
    assert_eq!(
        (seen["version"].as_str(), seen["source"].as_str(), seen["token"].as_str()),
        (Some("1.0"), Some("\"good\""), Some("good"))
    );
    assert_eq!(event["requestContext"]["authorizer"]["principalId"], "me");
    let (status, _, _) = get(&format!("{base}/v1"), &[("x-token", "bad")]).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn rest_api_request_validators_check_parameters_and_bodies_against_models() {
    let server = Server::start();
    let apigw = v1(&server);
    let api = apigw.create_rest_api().name("validated").send().await.unwrap();
    let api_id = api.id().unwrap().to_string();
    let root = api.root_resource_id().unwrap().to_string();
    let arn = function(&server, "validated-fn", ECHO, Some(&api_id)).await;
    let owner = json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
                       "required": ["id"], "properties": {"id": {"type": "integer"}}});
    apigw
        .create_model()
        .rest_api_id(&api_id)
        .name("Owner")
        .content_type("application/json")
        .schema(owner.to_string())
        .send()
        .await
        .unwrap();
    let pet = json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "required": ["name"],
                     "properties": {"name": {"type": "string", "minLength": 1},
                                    "owner": {"$ref": format!("https://apigateway.amazonaws.com/restapis/{api_id}/models/Owner")}}});
    apigw
        .create_model()
        .rest_api_id(&api_id)
        .name("Pet")
        .content_type("application/json")
        .schema(pet.to_string())
        .send()
        .await
        .unwrap();
    let validator = apigw
        .create_request_validator()
        .rest_api_id(&api_id)
        .name("all")
        .validate_request_body(true)
        .validate_request_parameters(true)
        .send()
        .await
        .unwrap();
    assert_eq!(validator.validate_request_body(), true);
    let pets = apigw.create_resource().rest_api_id(&api_id).parent_id(&root).path_part("pets").send().await.unwrap();
    let pets_id = pets.id().unwrap();
    apigw
        .put_method()
        .rest_api_id(&api_id)
        .resource_id(pets_id)
        .http_method("POST")
        .authorization_type("NONE")
        .request_validator_id(validator.id().unwrap())
        .request_parameters("method.request.querystring.owner", true)
        .request_parameters("method.request.header.x-trace", true)
        .request_parameters("method.request.querystring.optional", false)
        .request_models("application/json", "Pet")
        .send()
        .await
        .unwrap();
    apigw
        .put_integration()
        .rest_api_id(&api_id)
        .resource_id(pets_id)
        .http_method("POST")
        .r#type(IntegrationType::AwsProxy)
        .integration_http_method("POST")
        .uri(lambda_uri(&arn))
        .send()
        .await
        .unwrap();
    apigw.create_deployment().rest_api_id(&api_id).stage_name("dev").send().await.unwrap();

    let url = format!("{}/restapis/{api_id}/dev/_user_request_/pets", server.endpoint());
    let client = reqwest::Client::new();
    let post = |query: &str, trace: bool, body: &str| {
        let mut request =
            client.post(format!("{url}{query}")).header("content-type", "application/json").body(body.to_string());
        if trace {
            request = request.header("x-trace", "t-1");
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let error_type = response.headers().get("x-amzn-errortype").map(|v| v.to_str().unwrap().to_string());
            (status, error_type, response.text().await.unwrap())
        }
    };
    let good = r#"{"name": "rex", "owner": {"id": 7}}"#;
    let (status, error_type, body) = post("", false, good).await;
    assert_eq!(
        (status, body.as_str()),
        (400, r#"{"message":"Missing required request parameters: [x-trace, owner]"}"#)
    );
    assert_eq!(error_type.as_deref(), Some("BadRequestException"));
    let (status, _, body) = post("?owner=me", false, good).await;
    assert_eq!((status, body.as_str()), (400, r#"{"message":"Missing required request parameters: [x-trace]"}"#));
    for bad in [r#"{"owner": {"id": 7}}"#, r#"{"name": "rex", "owner": {"id": "seven"}}"#, "not json", ""] {
        let (status, error_type, body) = post("?owner=me", true, bad).await;
        assert_eq!((status, body.as_str()), (400, r#"{"message":"Invalid request body"}"#), "{bad}");
        assert_eq!(error_type.as_deref(), Some("BadRequestException"));
    }
    let (status, _, body) = post("?owner=me", true, good).await;
    assert_eq!(status, 200, "{body}");
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["body"], good);

    // The API's own BAD_REQUEST_BODY gateway response (after a redeployment).
    apigw
        .put_gateway_response()
        .rest_api_id(&api_id)
        .response_type(aws_sdk_apigateway::types::GatewayResponseType::BadRequestBody)
        .status_code("422")
        .response_templates("application/json", r#"{"error": $context.error.messageString}"#)
        .send()
        .await
        .unwrap();
    apigw.create_deployment().rest_api_id(&api_id).stage_name("dev").send().await.unwrap();
    let (status, _, body) = post("?owner=me", true, "{}").await;
    assert_eq!((status, body.as_str()), (422, r#"{"error": "Invalid request body"}"#));
}

#[tokio::test]
async fn http_api_parameter_mapping_rewrites_requests_and_responses() {
    use aws_sdk_apigatewayv2::types::IntegrationType as V2Integration;
    use std::collections::HashMap;
    let server = Server::start();
    let apigw = v2(&server);
    let (api_id, lambda_integration, base) = http_api_with_echo(&server, "mapping", "2.0").await;
    apigw
        .update_integration()
        .api_id(&api_id)
        .integration_id(&lambda_integration)
        .request_parameters("append:header.x-added", "from-$request.querystring.q")
        .request_parameters("remove:querystring.secret", "''")
        .response_parameters(
            "200",
            HashMap::from([
                ("overwrite:statuscode".to_string(), "202".to_string()),
                ("overwrite:header.x-custom".to_string(), "changed-$context.stage".to_string()),
            ]),
        )
        .send()
        .await
        .unwrap();
    apigw
        .create_route()
        .api_id(&api_id)
        .route_key("GET /fn")
        .target(format!("integrations/{lambda_integration}"))
        .send()
        .await
        .unwrap();
    let port = upstream().await;
    let proxy = apigw
        .create_integration()
        .api_id(&api_id)
        .integration_type(V2Integration::HttpProxy)
        .integration_method("GET")
        .integration_uri(format!("http://127.0.0.1:{port}/up"))
        .payload_format_version("1.0")
        .request_parameters("overwrite:header.x-thing", "mapped-$request.querystring.name $request.path.id")
        .request_parameters("remove:querystring.name", "''")
        .request_parameters("append:querystring.added", "$request.header.x-in")
        .request_parameters("overwrite:path", "/mapped$request.path")
        .response_parameters(
            "203",
            HashMap::from([
                ("overwrite:statuscode".to_string(), "200".to_string()),
                ("append:header.x-mapped".to_string(), "$response.header.X-Upstream".to_string()),
                ("remove:header.x-upstream".to_string(), "''".to_string()),
            ]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(proxy.request_parameters().unwrap()["overwrite:path"], "/mapped$request.path");
    apigw
        .create_route()
        .api_id(&api_id)
        .route_key("GET /items/{id}")
        .target(format!("integrations/{}", proxy.integration_id().unwrap()))
        .send()
        .await
        .unwrap();

    let (status, headers, body) = get(&format!("{base}/items/5?name=bob"), &[("x-in", "v")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-mapped"], "1");
    assert!(!headers.contains_key("x-upstream"));
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["line"], "GET /mapped/items/5?added=v HTTP/1.1");
    assert_eq!(answer["thing"], "mapped-bob 5");

    let (status, headers, body) = get(&format!("{base}/fn?q=1&secret=s"), &[]).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(headers["x-custom"], "changed-$default");
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["headers"]["x-added"], "from-1");
    assert_eq!(event["queryStringParameters"], json!({"q": "1"}));
}
