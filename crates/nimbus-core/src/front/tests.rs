use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::*;
use crate::clock::Clock;

fn demo_model(protocol: &str) -> String {
    json!({
        "metadata": {"protocol": protocol, "targetPrefix": "Demo_1", "jsonVersion": "1.1",
                     "apiVersion": "2020-01-01", "xmlNamespace": "http://demo/doc/2020-01-01/"},
        "operations": {
            "PutThing": {"method": "POST", "requestUri": "/", "input": "PutThingInput", "output": "PutThingOutput", "errors": []},
            "Ping": {"method": "POST", "requestUri": "/", "errors": []}
        },
        "shapes": {
            "PutThingInput": {"type": "structure", "required": ["ThingName"], "members": [
                {"name": "ThingName", "shape": "Name"}, {"name": "Count", "shape": "Int"},
                {"name": "Tags", "shape": "TagList"}, {"name": "Attributes", "shape": "AttrMap"}]},
            "PutThingOutput": {"type": "structure", "members": [
                {"name": "ThingName", "shape": "Name"}, {"name": "Total", "shape": "Int"},
                {"name": "Tags", "shape": "TagList"}, {"name": "Created", "shape": "Time"}]},
            "Name": {"type": "string", "min": 1, "max": 8},
            "Int": {"type": "integer"},
            "Time": {"type": "timestamp"},
            "Tag": {"type": "structure", "members": [{"name": "Key", "shape": "Name"}, {"name": "Value", "shape": "Name"}]},
            "TagList": {"type": "list", "member": {"shape": "Tag"}},
            "AttrMap": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Name"}}
        }
    })
    .to_string()
}

#[derive(Deserialize)]
struct PutThingInput {
    #[serde(rename = "ThingName")]
    thing_name: String,
    #[serde(rename = "Count")]
    count: Option<i32>,
    #[serde(rename = "Tags")]
    tags: Option<Vec<Value>>,
    #[serde(rename = "Attributes")]
    attributes: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct PutThingOutput {
    #[serde(rename = "ThingName")]
    thing_name: String,
    #[serde(rename = "Total")]
    total: i32,
    #[serde(rename = "Tags", skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<Value>>,
    #[serde(rename = "Created")]
    created: crate::shapes::Timestamp,
}

struct Demo(&'static ServiceModel);

impl Operations for Demo {
    fn model(&self) -> &'static ServiceModel {
        self.0
    }
    fn call<'a>(&'a self, _ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move {
            match op {
                "PutThing" => typed(input, |i: PutThingInput| {
                    if i.thing_name == "taken" {
                        return Err(AwsError::new(409, "ThingExists", "taken already"));
                    }
                    Ok(PutThingOutput {
                        total: i.count.unwrap_or(0) + i.attributes.map_or(0, |a| a.len() as i32),
                        thing_name: i.thing_name,
                        tags: i.tags,
                        created: crate::shapes::Timestamp(1733133600.0),
                    })
                }),
                _ => Err(unsupported(op)),
            }
        })
    }
}

fn service(protocol: &str) -> ModelService<Demo> {
    static JSON: OnceLock<ServiceModel> = OnceLock::new();
    static QUERY: OnceLock<ServiceModel> = OnceLock::new();
    let cell = if protocol == "json" { &JSON } else { &QUERY };
    let model = cell.get_or_init(|| ServiceModel::parse(&demo_model(protocol)));
    ModelService::new("demo", &["demo"], Arc::new(Demo(model)))
}

fn ctx() -> RequestContext {
    RequestContext {
        account: "000000000000".into(),
        region: "us-east-1".into(),
        request_id: "req-1".into(),
        access_key_id: None,
        endpoint: "http://localhost:4566".into(),
        clock: Clock::new(),
    }
}

fn request(headers: &[(&'static str, &str)], body: &str) -> HttpRequest {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.insert(*k, v.parse().unwrap());
    }
    HttpRequest {
        method: Method::POST,
        path: "/".into(),
        query: vec![],
        headers: map,
        body: Bytes::from(body.to_string()),
    }
}

fn run(svc: &ModelService<Demo>, req: HttpRequest) -> (u16, Option<String>, String) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let resp = rt.block_on(svc.respond(&ctx(), &req));
    let body = String::from_utf8(resp.body.as_bytes().unwrap().to_vec()).unwrap();
    (resp.status, resp.header("x-amzn-ErrorType").map(str::to_string), body)
}

fn json_call(target: &str, body: &str) -> (u16, Option<String>, String) {
    let svc = service("json");
    run(&svc, request(&[("x-amz-target", target), ("content-type", "application/x-amz-json-1.1")], body))
}

#[test]
fn json_protocol_decodes_validates_calls_and_encodes() {
    let (status, _, body) =
        json_call("Demo_1.PutThing", r#"{"ThingName":"t","Count":2,"Attributes":{"a":"b"},"Tags":[{"Key":"k"}]}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"ThingName": "t", "Total": 3, "Tags": [{"Key": "k"}], "Created": 1733133600})
    );
    let (status, code, body) = json_call("Demo_1.PutThing", r#"{"Count":1}"#);
    assert_eq!((status, code.as_deref()), (400, Some("ValidationException")));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["message"],
        "1 validation error detected: Value null at 'thingName' failed to satisfy constraint: Member must not be null"
    );
    let (status, code, _) = json_call("Demo_1.PutThing", r#"{"ThingName":5}"#);
    assert_eq!((status, code.as_deref()), (400, Some("SerializationException")));
    let (status, code, _) = json_call("Demo_1.PutThing", "{not json");
    assert_eq!((status, code.as_deref()), (400, Some("SerializationException")));
    let (status, code, body) = json_call("Demo_1.PutThing", r#"{"ThingName":"taken"}"#);
    assert_eq!((status, code.as_deref()), (409, Some("ThingExists")));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"__type": "ThingExists", "message": "taken already"})
    );
    let svc = service("json");
    assert!(svc.claims(&request(&[("x-amz-target", "Demo_1.Nope")], "{}")), "its prefix, any operation");
    assert!(!svc.claims(&request(&[("x-amz-target", "Other_1.PutThing")], "{}")));
    let (status, code, _) = json_call("Demo_1.Nope", "{}");
    assert_eq!((status, code.as_deref()), (400, Some("UnknownOperationException")));
    let (status, code, _) = json_call("Demo_1.Ping", "{}");
    assert_eq!((status, code.as_deref()), (501, Some("NotImplemented")));
}

#[test]
fn namespaced_error_codes_keep_the_namespace_in_the_body_only() {
    let err = AwsError::new(
        400,
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
        "Requested resource not found",
    );
    let resp = json::error(&err, "application/x-amz-json-1.0");
    assert_eq!(resp.header("x-amzn-ErrorType"), Some("ResourceNotFoundException"));
    let body: Value = serde_json::from_slice(resp.body.as_bytes().unwrap()).unwrap();
    assert_eq!(body["__type"], "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException");
}

#[test]
fn query_protocol_decodes_lists_and_maps_and_answers_xml() {
    let svc = service("query");
    let form = "Action=PutThing&Version=2020-01-01&ThingName=t&Count=4&Tags.member.1.Key=a&Tags.member.2.Key=b\
                &Attributes.entry.1.key=x&Attributes.entry.1.value=y";
    let req = request(&[("content-type", "application/x-www-form-urlencoded")], form);
    assert!(svc.claims(&req));
    let (status, _, body) = run(&svc, req);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(
            "<PutThingResponse xmlns=\"http://demo/doc/2020-01-01/\"><PutThingResult><ThingName>t</ThingName>\
         <Total>5</Total><Tags><member><Key>a</Key></member><member><Key>b</Key></member></Tags>\
         <Created>2024-12-02T10:00:00Z</Created></PutThingResult><ResponseMetadata><RequestId>req-1</RequestId>"
        ),
        "{body}"
    );
    let req = request(&[("content-type", "application/x-www-form-urlencoded")], "Action=PutThing&Version=2020-01-01");
    let (status, _, body) = run(&svc, req);
    assert_eq!(status, 400);
    assert!(body.contains("<Code>ValidationError</Code>"), "{body}");
    let req = request(&[("content-type", "application/x-www-form-urlencoded")], "Action=PutThing&ThingName=t&Count=x");
    let (status, _, body) = run(&svc, req);
    assert_eq!(status, 400);
    assert!(body.contains("<Code>InvalidParameterValue</Code>"), "{body}");
    let req = request(&[("content-type", "application/x-www-form-urlencoded")], "Action=Bogus");
    assert!(run(&svc, req).2.contains("<Code>InvalidAction</Code>"));
}
