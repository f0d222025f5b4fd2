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
        "Reason": reason or ("See the details in CloudWatch Log Stream: " + getattr(context, "log_stream_name", "")),
        "PhysicalResourceId": physicalResourceId or getattr(context, "log_stream_name", "resource"),
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
