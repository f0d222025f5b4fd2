//! Helpers AWS places beside inline (`Code.ZipFile`) function source, so custom-resource
//! handlers can `import cfnresponse` / `require('cfn-response')` as on AWS. Written for nimbus
//! to the documented interface: `send(event, context, status, data, physicalResourceId, noEcho, reason)`.

pub const CFNRESPONSE_PY: &str = r#"import json
import urllib.request

SUCCESS = "SUCCESS"
FAILED = "FAILED"


def send(event, context, responseStatus, responseData, physicalResourceId=None, noEcho=False, reason=None):
    body = {
        "Status": responseStatus,
        "Reason": reason or ("See the details in CloudWatch Log Stream: " + (getattr(context, "log_stream_name", None) or "")),
        "PhysicalResourceId": physicalResourceId or getattr(context, "log_stream_name", None) or event["LogicalResourceId"],
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": noEcho,
        "Data": responseData or {},
    }
    data = json.dumps(body).encode("utf-8")
    req = urllib.request.Request(event["ResponseURL"], data=data, method="PUT",
                                 headers={"Content-Type": "", "Content-Length": str(len(data))})
    try:
        with urllib.request.urlopen(req) as resp:
            print("Status code:", resp.status)
    except Exception as e:
        print("send(..) failed executing request: " + str(e))
"#;

pub const CFN_RESPONSE_JS: &str = r#"exports.SUCCESS = "SUCCESS";
exports.FAILED = "FAILED";

exports.send = function (event, context, responseStatus, responseData, physicalResourceId, noEcho, reason) {
  return new Promise((resolve) => {
    const body = JSON.stringify({
      Status: responseStatus,
      Reason: reason || ("See the details in CloudWatch Log Stream: " + context.logStreamName),
      PhysicalResourceId: physicalResourceId || context.logStreamName,
      StackId: event.StackId,
      RequestId: event.RequestId,
      LogicalResourceId: event.LogicalResourceId,
      NoEcho: noEcho || false,
      Data: responseData || {},
    });
    const url = new URL(event.ResponseURL);
    const lib = url.protocol === "https:" ? require("https") : require("http");
    const req = lib.request({
      hostname: url.hostname, port: url.port, path: url.pathname + url.search, method: "PUT",
      headers: { "content-type": "", "content-length": Buffer.byteLength(body) },
    }, (res) => { res.resume(); res.on("end", () => { if (context.done) context.done(); resolve(); }); });
    req.on("error", (err) => { console.log("send(..) failed executing https.request(..): " + err); if (context.done) context.done(); resolve(); });
    req.write(body);
    req.end();
  });
};
"#;

// ---------------------------------------------------------------------------------------------
// Lambda-backed custom resources (`AWS::CloudFormation::CustomResource`, `Custom::*`)
// ---------------------------------------------------------------------------------------------

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use http::Method;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::providers::{failure, Created, Cx, Outcome, Spec};
use crate::state::Resource;

/// Where functions PUT their response: `{endpoint}/_nimbus/cloudformation/response/{token}`.
pub const RESPONSE_PATH: &str = "/_nimbus/cloudformation/response/";

/// How long nimbus waits for a custom resource's response (AWS waits up to an hour).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(300);

fn waiting() -> &'static Mutex<HashMap<String, oneshot::Sender<Value>>> {
    static WAITING: OnceLock<Mutex<HashMap<String, oneshot::Sender<Value>>>> = OnceLock::new();
    WAITING.get_or_init(Default::default)
}

/// A response PUT to a ResponseURL: hand it to the waiting operation.
pub fn deliver(path: &str, body: &[u8]) -> bool {
    let token = path.strip_prefix(RESPONSE_PATH).unwrap_or_default();
    let Some(tx) = waiting().lock().remove(token) else { return false };
    let doc: Value = serde_json::from_slice(body)
        .unwrap_or(json!({"Status": "FAILED", "Reason": "The response was not valid JSON"}));
    tx.send(doc).is_ok()
}

pub fn specs() -> Vec<Spec> {
    vec![Spec {
        type_name: "AWS::CloudFormation::CustomResource",
        replace_on: &["ServiceToken"],
        create: |cx, p| Box::pin(create(cx, p)),
        update: Some(|cx, r, p| Box::pin(update(cx, r, p))),
        delete: |cx, r| Box::pin(delete(cx, r)),
        name_property: None,
    }]
}

async fn request(cx: &Cx, kind: &str, props: &Value, current: Option<&Resource>) -> Result<Value, String> {
    let token = props
        .get("ServiceToken")
        .and_then(Value::as_str)
        .ok_or("Properties validation failed for resource: #: required key [ServiceToken] not found")?
        .to_string();
    let key = uuid::Uuid::new_v4().to_string();
    let (tx, rx) = oneshot::channel();
    waiting().lock().insert(key.clone(), tx);
    let request_id = uuid::Uuid::new_v4().to_string();
    let resource_type = current.map(|r| r.resource_type.clone()).unwrap_or_else(|| cx.resource_type.clone());
    let mut event = json!({
        "RequestType": kind,
        "ServiceToken": token,
        "ResponseURL": format!("{}{RESPONSE_PATH}{key}", cx.endpoint),
        "StackId": cx.stack_id,
        "RequestId": request_id,
        "LogicalResourceId": cx.logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": props,
    });
    if let Some(r) = current {
        event["PhysicalResourceId"] = json!(r.physical_id);
        if kind == "Update" {
            event["OldResourceProperties"] = r.properties.clone();
        }
    }
    let path = format!("/2015-03-31/functions/{}/invocations", crate::api::seg(&token));
    let invoked = cx.api.rest("lambda", Method::POST, &path, Vec::new(), Some(event)).await;
    let crashed = match invoked {
        Err(e) => {
            waiting().lock().remove(&key);
            return Err(failure(&e));
        }
        Ok(answer) => {
            answer.get("errorType").is_some().then(|| answer["errorMessage"].as_str().unwrap_or_default().to_string())
        }
    };
    // A handler that raised before answering never will: a short grace, then fail.
    let wait = if crashed.is_some() { Duration::from_secs(1) } else { RESPONSE_TIMEOUT };
    let response = match tokio::time::timeout(wait, rx).await {
        Ok(Ok(r)) => r,
        _ => {
            waiting().lock().remove(&key);
            if let Some(message) = crashed {
                return Err(format!(
                    "The custom resource function failed without responding: {message} (RequestId: {request_id})"
                ));
            }
            return Err(format!("CloudFormation did not receive a response from your Custom Resource. Please check your logs for requestId [{request_id}]. If you are using the Python cfn-response module, you may need to update your Lambda function code so that CloudFormation can attach the updated version."));
        }
    };
    if response.get("Status").and_then(Value::as_str) != Some("SUCCESS") {
        let reason = response.get("Reason").and_then(Value::as_str).unwrap_or_default();
        return Err(format!("Received response status [FAILED] from custom resource. Message returned: {reason} (RequestId: {request_id})"));
    }
    Ok(response)
}

fn created(response: &Value, fallback: &str) -> Created {
    let physical =
        response.get("PhysicalResourceId").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or(fallback);
    let mut c = Created::named(physical);
    if let Some(data) = response.get("Data").and_then(Value::as_object) {
        for (k, v) in data {
            c = c.attr(k, v.clone());
        }
    }
    c
}

async fn create(cx: Cx, props: Value) -> Outcome {
    let response = request(&cx, "Create", &props, None).await?;
    Ok(created(&response, &cx.generated_name(64)))
}

async fn update(cx: Cx, current: Resource, props: Value) -> Outcome {
    let fallback = current.physical_id.clone().unwrap_or_default();
    let response = request(&cx, "Update", &props, Some(&current)).await?;
    Ok(created(&response, &fallback))
}

async fn delete(cx: Cx, r: Resource) -> Result<(), String> {
    let props = r.properties.clone();
    match request(&cx, "Delete", &props, Some(&r)).await {
        // A function that no longer exists cannot answer; AWS's delete would wait and fail,
        // nimbus lets the stack go.
        Err(e) if e.contains("HandlerErrorCode: NotFound") => Ok(()),
        other => other.map(|_| ()),
    }
}
