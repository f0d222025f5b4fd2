//! Function URLs with `AuthType=AWS_IAM`: requests signed with SigV4 (by aws-sigv4, the signer
//! the Rust SDK uses) are verified; unsigned, wrongly signed and tampered requests get 403.

use std::time::SystemTime;

use aws_sdk_lambda::types::{FunctionUrlAuthType, Runtime};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings};
use aws_sigv4::sign::v4;

use crate::harness::*;

struct Signer<'a> {
    access_key: &'a str,
    secret: &'a str,
    token: Option<&'a str>,
    location: SignatureLocation,
    unsigned_payload: bool,
}

impl Default for Signer<'_> {
    fn default() -> Self {
        Signer {
            access_key: "AKIDEXAMPLE",
            secret: "test",
            token: None,
            location: SignatureLocation::Headers,
            unsigned_payload: false,
        }
    }
}

impl Signer<'_> {
    /// Sign a request for `lambda` in us-east-1; the request to send, as an `http::Request`.
    fn sign(&self, method: &str, url: &str, body: &[u8]) -> http::Request<Vec<u8>> {
        let credentials = aws_credential_types::Credentials::new(
            self.access_key,
            self.secret,
            self.token.map(str::to_string),
            None,
            "t",
        );
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        settings.signature_location = self.location;
        if self.location == SignatureLocation::QueryParams {
            settings.expires_in = Some(std::time::Duration::from_secs(300));
        }
        if self.unsigned_payload {
            settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(REGION)
            .name("lambda")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let headers = [("content-type", "application/json")];
        let signable_body =
            if self.unsigned_payload { SignableBody::UnsignedPayload } else { SignableBody::Bytes(body) };
        let signable = SignableRequest::new(method, url, headers.into_iter(), signable_body).unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let mut request = request.body(body.to_vec()).unwrap();
        instructions.apply_to_request_http1x(&mut request);
        request
    }
}

async fn send(request: http::Request<Vec<u8>>) -> (u16, serde_json::Value) {
    let (parts, body) = request.into_parts();
    let response = reqwest::Client::new()
        .request(parts.method.as_str().parse().unwrap(), parts.uri.to_string())
        .headers(
            parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().parse().unwrap(), v.to_str().unwrap().parse().unwrap()))
                .collect(),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let error_type = response.headers().get("x-amzn-errortype").map(|v| v.to_str().unwrap().to_string());
    let mut body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    if let Some(t) = error_type {
        body["errorType"] = t.into();
    }
    (status, body)
}

#[tokio::test]
async fn aws_iam_urls_verify_sigv4_signatures() {
    let server = Server::start();
    let lambda = server.lambda();
    let code = b"def handler(event, context):\n    return {'method': event['requestContext']['http']['method'], 'body': event.get('body'), 'path': event['rawPath']}\n";
    create_function_with(&lambda, "iam-url", Runtime::Python312, "index.handler", python_zip_bytes(code), 10, &[])
        .await;
    let created = lambda
        .create_function_url_config()
        .function_name("iam-url")
        .auth_type(FunctionUrlAuthType::AwsIam)
        .send()
        .await
        .unwrap();
    // The path form on the host the client used.
    assert!(created.function_url().starts_with(&format!("{}/_nimbus/lambda/url/", server.endpoint())));
    let url = format!("{}items/a%20b?x=1&y=two%20words", created.function_url());

    // Signed with the conventional local secret: served.
    let (status, body) = send(Signer::default().sign("POST", &url, br#"{"k":1}"#)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, serde_json::json!({"method": "POST", "body": "{\"k\":1}", "path": "/items/a%20b"}));

    // Unsigned: AWS's bare Forbidden.
    let (status, body) = send(http::Request::get(&url).body(Vec::new()).unwrap()).await;
    assert_eq!((status, body), (403, serde_json::json!({"Message": "Forbidden"})));

    // The wrong secret, and a body changed after signing: the signature does not match.
    let (status, body) = send(Signer { secret: "wrong", ..Default::default() }.sign("POST", &url, b"{}")).await;
    assert_eq!(status, 403);
    assert_eq!(body["errorType"], "InvalidSignatureException");
    assert!(body["message"].as_str().unwrap().starts_with("The request signature we calculated does not match"));
    let mut tampered = Signer::default().sign("POST", &url, br#"{"amount":1}"#);
    *tampered.body_mut() = br#"{"amount":9}"#.to_vec();
    let (status, body) = send(tampered).await;
    assert_eq!((status, body["errorType"].as_str()), (403, Some("InvalidSignatureException")));

    // UNSIGNED-PAYLOAD (x-amz-content-sha256) signs everything but the body.
    let signer = Signer { unsigned_payload: true, ..Default::default() };
    let (status, body) = send(signer.sign("PUT", &url, b"any body")).await;
    assert_eq!((status, body["body"].as_str()), (200, Some("any body")));

    // The presigned (query-string) form.
    let presigner = Signer { location: SignatureLocation::QueryParams, ..Default::default() };
    let (status, body) = send(presigner.sign("GET", &url, b"")).await;
    assert_eq!((status, body["method"].as_str()), (200, Some("GET")));
    let mut request = presigner.sign("GET", &url, b"");
    let tampered_uri = request.uri().to_string().replace("x=1", "x=2");
    *request.uri_mut() = tampered_uri.parse().unwrap();
    assert_eq!(send(request).await.0, 403);

    // Temporary credentials from STS: their own secret and session token.
    let sts = server.sts_as("AKIDEXAMPLE", "test", None);
    let assumed = sts
        .assume_role()
        .role_arn("arn:aws:iam::000000000000:role/caller")
        .role_session_name("url")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    let sts_signer = Signer {
        access_key: creds.access_key_id(),
        secret: creds.secret_access_key(),
        token: Some(creds.session_token()),
        ..Default::default()
    };
    assert_eq!(send(sts_signer.sign("GET", &url, b"")).await.0, 200);
    let (status, body) = send(Signer { token: None, ..sts_signer }.sign("GET", &url, b"")).await;
    assert_eq!((status, body["errorType"].as_str()), (403, Some("UnrecognizedClientException")));
    let (status, _) = send(Signer { token: Some("forged"), ..sts_signer }.sign("GET", &url, b"")).await;
    assert_eq!(status, 403);
    let (status, _) = send(Signer { secret: "test", ..sts_signer }.sign("GET", &url, b"")).await;
    assert_eq!(status, 403);
}

fn python_zip_bytes(code: &[u8]) -> Vec<u8> {
    zip_of(&[("index.py", code)])
}

/// What a function URL's front end hands the function, as recorded from AWS: `rawPath` as sent
/// on the wire and `requestContext.http.path` decoded (`/pa2%Fth/1`, which an HTTP client
/// sends as `/pa2%25Fth/1`; `/space%20value` and `/space value`), the `x-forwarded-*` and
/// `x-amzn-*` headers it adds, hop-by-hop headers dropped, and the request's trace id the
/// function's own.
#[tokio::test]
async fn url_events_carry_the_raw_path_and_the_front_end_headers() {
    let server = Server::start();
    let lambda = server.lambda();
    let code = b"import json, os\ndef handler(event, context):\n    return {'statusCode': 200, 'body': json.dumps({'event': event, 'trace': os.environ.get('_X_AMZN_TRACE_ID')})}\n";
    create_function_with(&lambda, "echo-url", Runtime::Python312, "index.handler", python_zip_bytes(code), 10, &[])
        .await;
    let created = lambda
        .create_function_url_config()
        .function_name("echo-url")
        .auth_type(FunctionUrlAuthType::None)
        .send()
        .await
        .unwrap();
    lambda
        .add_permission()
        .function_name("echo-url")
        .statement_id("public")
        .action("lambda:InvokeFunctionUrl")
        .principal("*")
        .function_url_auth_type(FunctionUrlAuthType::None)
        .send()
        .await
        .unwrap();
    let url = format!("{}pa2%25Fth/1?q=query&multiQuery=foo&multiQuery=%2Fbar", created.function_url());
    let response = reqwest::Client::new()
        .post(&url)
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .header("keep-alive", "timeout=5")
        .header("ExTrA-HeadErs", "With WeiRd CapS")
        .header("content-type", "application/json")
        .body(r#"{"foo":"bar"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let out: serde_json::Value = response.json().await.unwrap();
    let event = &out["event"];
    assert_eq!(event["rawPath"], "/pa2%25Fth/1");
    assert_eq!(event["requestContext"]["http"]["path"], "/pa2%Fth/1");
    assert_eq!(event["queryStringParameters"], serde_json::json!({"q": "query", "multiQuery": "foo,/bar"}));
    let headers = event["headers"].as_object().unwrap();
    assert_eq!(headers["extra-headers"], "With WeiRd CapS");
    for dropped in ["connection", "keep-alive", "x-hop"] {
        assert!(!headers.contains_key(dropped), "{dropped} reached the function: {headers:?}");
    }
    assert_eq!(headers["x-forwarded-for"], event["requestContext"]["http"]["sourceIp"]);
    assert_eq!(headers["x-forwarded-port"], server.port.to_string());
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-amzn-tls-version"], "TLSv1.3");
    assert_eq!(headers["x-amzn-tls-cipher-suite"], "TLS_AES_128_GCM_SHA256");
    let trace = headers["x-amzn-trace-id"].as_str().unwrap();
    let root = trace.strip_prefix("Root=1-").unwrap();
    assert_eq!(root.len(), 8 + 1 + 24, "{trace}");
    let inside = out["trace"].as_str().unwrap();
    assert!(
        inside.starts_with(&format!("{trace};Parent=")),
        "the function runs in the request's trace: {inside} vs {trace}"
    );

    // A client's own trace id is kept, and the function runs in it.
    let theirs = "Root=1-5759e988-bd862e3fe1be46a994272793";
    let out: serde_json::Value = reqwest::Client::new()
        .get(format!("{}items", created.function_url()))
        .header("x-amzn-trace-id", theirs)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(out["event"]["headers"]["x-amzn-trace-id"], theirs);
    assert!(out["trace"].as_str().unwrap().starts_with(&format!("{theirs};Parent=")), "{}", out["trace"]);

    // Sent as given (reqwest keeps `%` escapes, valid or not): rawPath keeps every escape,
    // http.path decodes the valid ones (AWS's captures: `/capture/space%20value`).
    let prefix = created.function_url().strip_prefix(&server.endpoint()).unwrap().trim_end_matches('/').to_string();
    for (sent, decoded) in [
        ("/pa2%Fth/1", "/pa2%Fth/1"),
        ("/capture/space%20value", "/capture/space value"),
        ("/capture/slash%2Fvalue", "/capture/slash/value"),
        ("/capture/unicode-%CE%BB", "/capture/unicode-\u{3bb}"),
        ("/capture/literal%2525value", "/capture/literal%25value"),
        ("/double//slashes/", "/double//slashes/"),
    ] {
        let answer = server
            .raw_with("GET", &format!("{prefix}{sent}"), &[], Vec::new(), std::time::Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "{sent}: {}", answer.text());
        let out: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(out["event"]["rawPath"], sent);
        assert_eq!(out["event"]["requestContext"]["http"]["path"], decoded, "{sent}");
    }
}
