//! The shared front: a service nimbus does not emulate answers in that service's own protocol,
//! so the client shows nimbus's message instead of a parse error.

use crate::harness::Server;

fn signed_for(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/us-east-1/{service}/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=0000"
    )
}

#[tokio::test]
async fn services_not_emulated_answer_in_their_own_protocol() {
    let server = Server::start();
    let http = reqwest::Client::new();
    // Query protocol (Elastic Beanstalk's clients parse XML).
    let resp = http
        .post(server.endpoint())
        .header("authorization", signed_for("elasticbeanstalk"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=DescribeApplications&Version=2010-12-01")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 501);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("<ErrorResponse xmlns=\"http://elasticbeanstalk.amazonaws.com/docs/2010-12-01/\">"),
        "{body}"
    );
    assert!(body.contains("<Code>NotImplemented</Code>"), "{body}");
    assert!(body.contains("The service 'elasticbeanstalk' is not emulated by nimbus"), "{body}");
    // A JSON protocol service (Step Functions).
    let resp = http
        .post(server.endpoint())
        .header("authorization", signed_for("states"))
        .header("x-amz-target", "AWSStepFunctions.ListStateMachines")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 501);
    assert_eq!(resp.headers()["x-amzn-errortype"], "NotImplemented");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["message"], "The service 'states' is not emulated by nimbus");
}
