use serde_json::{json, Value};

use super::*;

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn op(name: &str) -> &'static Operation {
    model().operation(name).unwrap_or_else(|| panic!("no operation {name}"))
}

fn sample_label(name: &str, shape: Option<&Shape>) -> String {
    match shape.map(|s| s.ty) {
        Some(ShapeType::Integer) | Some(ShapeType::Long) => "7".into(),
        _ => format!("sample-{}", name.to_ascii_lowercase()),
    }
}

fn label_shape(op: &Operation, label: &str) -> Option<&'static Shape> {
    let m = model();
    let input = m.input_shape(op)?;
    let member = input.members.iter().find(|mm| mm.location == Some(Location::Uri) && mm.wire_name() == label)?;
    m.shape(&member.shape)
}

fn validation_message(op_name: &str, input: Value) -> String {
    match model().validate(op(op_name), &input) {
        Err(ModelError::Validation(m)) => m,
        other => panic!("expected ValidationException, got {other:?}"),
    }
}

fn create_function(extra: Value) -> Value {
    let mut base = json!({
        "FunctionName": "my-function",
        "Role": "arn:aws:iam::123456789012:role/lambda-role",
        "Code": {"ZipFile": "UEsDBA=="},
        "Runtime": "python3.12",
        "Handler": "app.handler",
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[test]
fn model_loads_all_operations() {
    let m = model();
    assert_eq!(m.metadata.get("protocol").map(String::as_str), Some("rest-json"));
    assert!(m.operations.len() >= 85, "{} operations", m.operations.len());
    let invoke = op("Invoke");
    assert_eq!(invoke.method, "POST");
    assert_eq!(invoke.uri, "/2015-03-31/functions/{FunctionName}/invocations");
    assert_eq!(invoke.input.as_deref(), Some("InvocationRequest"));
    assert_eq!(op("CreateFunction").response_code, 201);
    assert_eq!(op("DeleteAlias").response_code, 204);
    assert_eq!(op("DeleteAlias").output, None);
}

#[test]
fn every_operation_routes_back_to_itself() {
    let m = model();
    for o in &m.operations {
        let labels: Vec<(String, String)> =
            o.route.labels().map(|(l, _)| (l.to_string(), sample_label(l, label_shape(o, l)))).collect();
        let (path, query) = o.route.render(&labels);
        let (found, got) =
            m.route(&o.method, &path, &query).unwrap_or_else(|| panic!("{} {} {path} did not route", o.name, o.method));
        assert_eq!(found.name, o.name, "{} {path} {query:?} routed to {}", o.method, found.name);
        assert_eq!(got, labels, "{}", o.name);

        // ARNs as labels, percent-encoded as SDKs send them.
        let arn_labels: Vec<(String, String)> = o
            .route
            .labels()
            .map(|(l, _)| match label_shape(o, l).map(|s| s.ty) {
                Some(ShapeType::Integer) | Some(ShapeType::Long) => (l.to_string(), "12".to_string()),
                _ => (l.to_string(), format!("arn:aws:lambda:us-east-1:123456789012:function:{l}:$LATEST")),
            })
            .collect();
        let (path, query) = o.route.render(&arn_labels);
        let (found, got) = m.route(&o.method, &path, &query).expect("arn route");
        assert_eq!(found.name, o.name, "{path}");
        assert_eq!(got, arn_labels);
    }
}

#[test]
fn literal_query_parts_disambiguate() {
    let m = model();
    let (o, labels) =
        m.route("GET", "/2019-09-30/functions/f1/provisioned-concurrency", &q(&[("List", "ALL")])).unwrap();
    assert_eq!(o.name, "ListProvisionedConcurrencyConfigs");
    assert_eq!(labels, q(&[("FunctionName", "f1")]));
    let (o, _) =
        m.route("GET", "/2019-09-30/functions/f1/provisioned-concurrency", &q(&[("Qualifier", "live")])).unwrap();
    assert_eq!(o.name, "GetProvisionedConcurrencyConfig");

    let arn = "arn:aws:lambda:us-east-1:123456789012:layer:l:1";
    let (o, _) = m.route("GET", "/2018-10-31/layers", &q(&[("find", "LayerVersion"), ("Arn", arn)])).unwrap();
    assert_eq!(o.name, "GetLayerVersionByArn");
    let (o, _) = m.route("GET", "/2018-10-31/layers", &[]).unwrap();
    assert_eq!(o.name, "ListLayers");
}

#[test]
fn routing_edge_cases() {
    let m = model();
    // Trailing slash (older SDKs send /functions/).
    assert_eq!(m.route("GET", "/2015-03-31/functions/", &[]).unwrap().0.name, "ListFunctions");
    assert_eq!(m.route("POST", "/2015-03-31/functions", &[]).unwrap().0.name, "CreateFunction");
    // Percent-encoded ARN label is decoded.
    let (o, labels) = m
        .route("GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af", &[])
        .unwrap();
    assert_eq!(o.name, "GetFunction");
    assert_eq!(labels[0].1, "arn:aws:lambda:us-east-1:123456789012:function:f");
    // Unencoded colons work too.
    let (o, _) = m.route("POST", "/2015-03-31/functions/my:fn/invocations", &[]).unwrap();
    assert_eq!(o.name, "Invoke");
    // Empty label, wrong method, unknown path.
    assert!(m.route("GET", "/2015-03-31/functions//configuration", &[]).is_none());
    assert!(m.route("PATCH", "/2015-03-31/functions/f", &[]).is_none());
    assert!(m.route("GET", "/2015-03-31/nothing", &[]).is_none());
    assert!(m.path_exists("/2015-03-31/functions/f", &[]));
    // Method is matched case-insensitively.
    assert_eq!(m.route("get", "/2015-03-31/functions/f", &[]).unwrap().0.name, "GetFunction");
}

#[test]
fn greedy_labels() {
    let t = RouteTemplate::parse("/objects/{Key+}/meta?x");
    assert_eq!(t.matches("/objects/a/b%20c/meta", &q(&[("x", "")])), Some(q(&[("Key", "a/b c")])));
    assert_eq!(t.matches("/objects/meta", &q(&[("x", "")])), None);
    assert_eq!(t.matches("/objects/a/meta", &[]), None);
}

#[test]
fn decode_invoke_headers_query_and_raw_payload() {
    let m = model();
    let o = op("Invoke");
    let mut headers = http::HeaderMap::new();
    headers.insert("x-amz-invocation-type", "Event".parse().unwrap());
    headers.insert("X-Amz-Log-Type", "Tail".parse().unwrap());
    headers.insert("X-Amz-Client-Context", "eyJhIjoxfQ==".parse().unwrap());
    let body = br#"{"not": "parsed"}"#;
    let input = m.decode_input(o, &q(&[("FunctionName", "f")]), &q(&[("Qualifier", "live")]), &headers, body).unwrap();
    assert_eq!(
        input,
        json!({
            "FunctionName": "f",
            "Qualifier": "live",
            "InvocationType": "Event",
            "LogType": "Tail",
            "ClientContext": "eyJhIjoxfQ==",
            "Payload": "eyJub3QiOiAicGFyc2VkIn0=",
        })
    );
    // A body that is not JSON is still taken as raw bytes (Invoke checks it itself).
    let input = m.decode_input(o, &q(&[("FunctionName", "f")]), &[], &http::HeaderMap::new(), b"\xff\x00").unwrap();
    assert_eq!(input["Payload"], "/wA=");
    // Empty body: no Payload member.
    let input = m.decode_input(o, &q(&[("FunctionName", "f")]), &[], &http::HeaderMap::new(), b"").unwrap();
    assert_eq!(input, json!({"FunctionName": "f"}));
    m.validate(o, &input).unwrap();
}

#[test]
fn decode_typed_query_members() {
    let m = model();
    let o = op("ListFunctions");
    let none = http::HeaderMap::new();
    let input = m
        .decode_input(o, &[], &q(&[("MaxItems", "10"), ("FunctionVersion", "ALL"), ("Unknown", "x")]), &none, b"")
        .unwrap();
    assert_eq!(input, json!({"MaxItems": 10, "FunctionVersion": "ALL"}));
    m.validate(o, &input).unwrap();

    let err = m.decode_input(o, &[], &q(&[("MaxItems", "ten")]), &none, b"").unwrap_err();
    assert!(matches!(err, ModelError::InvalidContent(_)), "{err:?}");

    // List-valued query member, repeated key.
    let o = op("UntagResource");
    let input =
        m.decode_input(o, &q(&[("Resource", "arn:x")]), &q(&[("tagKeys", "a"), ("tagKeys", "b")]), &none, b"").unwrap();
    assert_eq!(input, json!({"Resource": "arn:x", "TagKeys": ["a", "b"]}));

    // Long uri label.
    let o = op("GetLayerVersion");
    let input = m.decode_input(o, &q(&[("LayerName", "l"), ("VersionNumber", "3")]), &[], &none, b"").unwrap();
    assert_eq!(input, json!({"LayerName": "l", "VersionNumber": 3}));
    let err = m.decode_input(o, &q(&[("LayerName", "l"), ("VersionNumber", "x")]), &[], &none, b"").unwrap_err();
    assert!(matches!(err, ModelError::InvalidContent(_)));

    // Boolean query member.
    let o = op("DeleteFunction");
    assert!(model().input_shape(o).is_some());
    let o = op("GetFunctionConfiguration");
    let input = m.decode_input(o, &q(&[("FunctionName", "f")]), &q(&[("Qualifier", "1")]), &none, b"").unwrap();
    assert_eq!(input, json!({"FunctionName": "f", "Qualifier": "1"}));
}

#[test]
fn decode_json_body() {
    let m = model();
    let none = http::HeaderMap::new();
    let o = op("UpdateFunctionConfiguration");
    // Uri-bound member in the body is ignored; the label wins. Unknown keys dropped.
    let input = m
        .decode_input(
            o,
            &q(&[("FunctionName", "f")]),
            &[],
            &none,
            br#"{"FunctionName": "other", "MemorySize": 256, "Bogus": 1}"#,
        )
        .unwrap();
    assert_eq!(input, json!({"FunctionName": "f", "MemorySize": 256}));
    // Empty and whitespace bodies are {}.
    let input = m.decode_input(o, &q(&[("FunctionName", "f")]), &[], &none, b"  \n").unwrap();
    assert_eq!(input, json!({"FunctionName": "f"}));
    // Malformed body.
    let err = m.decode_input(o, &q(&[("FunctionName", "f")]), &[], &none, b"{nope").unwrap_err();
    match err {
        ModelError::InvalidContent(msg) => {
            assert!(msg.starts_with("Could not parse request body into json: "), "{msg}")
        }
        other => panic!("{other:?}"),
    }
    // Non-object body.
    let err = m.decode_input(o, &q(&[("FunctionName", "f")]), &[], &none, b"[1]").unwrap_err();
    assert!(matches!(err, ModelError::InvalidContent(_)));
}

#[test]
fn wrong_json_type_is_invalid_content() {
    let err = model().validate(op("CreateFunction"), &create_function(json!({"MemorySize": "abc"}))).unwrap_err();
    match err {
        ModelError::InvalidContent(msg) => {
            assert!(msg.starts_with("Could not parse request body into json: "), "{msg}");
            assert!(msg.contains("java.lang.Integer"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    let err = model().validate(op("CreateFunction"), &create_function(json!({"Environment": []}))).unwrap_err();
    assert!(matches!(err, ModelError::InvalidContent(_)));
    let err = model()
        .validate(op("CreateFunction"), &create_function(json!({"Code": {"ZipFile": "not base64!"}})))
        .unwrap_err();
    assert!(matches!(err, ModelError::InvalidContent(_)));
}

#[test]
fn valid_create_function_passes() {
    let m = model();
    m.validate(op("CreateFunction"), &create_function(json!({}))).unwrap();
    m.validate(
        op("CreateFunction"),
        &create_function(json!({
            "MemorySize": 512,
            "Timeout": 30,
            "Architectures": ["arm64"],
            "Environment": {"Variables": {"A_B": "1", "KEY2": "x"}},
            "Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:my-layer:3"],
            "Tags": {"team": "x"},
            "Description": null,
        })),
    )
    .unwrap();
}

#[test]
fn function_name_pattern_and_length() {
    let pattern = model().shape("FunctionName").unwrap().pattern.clone().unwrap();
    let msg = validation_message("CreateFunction", create_function(json!({"FunctionName": "bad name"})));
    assert_eq!(
        msg,
        format!(
            "1 validation error detected: Value 'bad name' at 'functionName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: {pattern}"
        )
    );
    let long = "a".repeat(141);
    let msg = validation_message("CreateFunction", create_function(json!({"FunctionName": long})));
    assert_eq!(
        msg,
        format!(
            "1 validation error detected: Value '{long}' at 'functionName' failed to satisfy constraint: \
             Member must have length less than or equal to 140"
        )
    );
    let long_bad = "a b".repeat(50);
    let msg = validation_message("CreateFunction", create_function(json!({"FunctionName": long_bad})));
    assert_eq!(
        msg,
        format!(
            "2 validation errors detected: Value '{long_bad}' at 'functionName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: {pattern}; Value '{long_bad}' at 'functionName' \
             failed to satisfy constraint: Member must have length less than or equal to 140"
        )
    );
    // Labels are validated like body members (GetFunction: NamespacedFunctionName, max 256).
    let msg = validation_message("GetFunction", json!({"FunctionName": "x".repeat(257)}));
    assert!(msg.ends_with("Member must have length less than or equal to 256"), "{msg}");
}

#[test]
fn ranges() {
    let msg = validation_message("CreateFunction", create_function(json!({"MemorySize": 64})));
    assert_eq!(
        msg,
        "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: \
         Member must have value greater than or equal to 128"
    );
    let msg = validation_message("CreateFunction", create_function(json!({"MemorySize": 5555555})));
    assert_eq!(
        msg,
        "1 validation error detected: Value '5555555' at 'memorySize' failed to satisfy constraint: \
         Member must have value less than or equal to 32768"
    );
    let msg = validation_message("UpdateFunctionConfiguration", json!({"FunctionName": "f", "Timeout": 0}));
    assert_eq!(
        msg,
        "1 validation error detected: Value '0' at 'timeout' failed to satisfy constraint: \
         Member must have value greater than or equal to 1"
    );
    let msg = validation_message(
        "CreateFunction",
        create_function(json!({"MemorySize": 1, "Timeout": 0, "EphemeralStorage": {"Size": 40000}})),
    );
    assert!(msg.starts_with("3 validation errors detected: "), "{msg}");
    assert!(msg.contains(
        "Value '40000' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value less than or equal to 32768"
    ));
}

#[test]
fn required_members() {
    let msg = validation_message("CreateFunction", json!({"FunctionName": "f", "Code": {}}));
    assert_eq!(
        msg,
        "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"
    );
    let msg = validation_message("CreateFunction", json!({}));
    assert!(msg.starts_with("3 validation errors detected: Value null at 'functionName'"), "{msg}");
}

#[test]
fn enums_lists_and_maps() {
    let msg = validation_message("Invoke", json!({"FunctionName": "f", "InvocationType": "Sometimes"}));
    assert_eq!(
        msg,
        "1 validation error detected: Value 'Sometimes' at 'invocationType' failed to satisfy constraint: \
         Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
    );
    // Scalar list elements are reported on the list.
    let msg = validation_message("CreateFunction", create_function(json!({"Architectures": ["foo"]})));
    assert_eq!(
        msg,
        "1 validation error detected: Value '[foo]' at 'architectures' failed to satisfy constraint: \
         Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"
    );
    let msg = validation_message("CreateFunction", create_function(json!({"Architectures": ["x86_64", "arm64"]})));
    assert_eq!(
        msg,
        "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: \
         Member must have length less than or equal to 1"
    );
    // Sensitive map: value not echoed.
    let msg =
        validation_message("CreateFunction", create_function(json!({"Environment": {"Variables": {"_BAD": "1"}}})));
    assert_eq!(
        msg,
        "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: \
         Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+, \
         Member must not be null]"
    );
    // Runtime's enum is left to the service (InvalidParameterValueException there).
    model().validate(op("CreateFunction"), &create_function(json!({"Runtime": "python1.0"}))).unwrap();
    // ... but CompatibleRuntimes elements are checked by the model.
    let msg = validation_message(
        "PublishLayerVersion",
        json!({"LayerName": "l", "Content": {}, "CompatibleRuntimes": ["cobol"]}),
    );
    assert!(msg.starts_with("1 validation error detected: Value '[cobol]' at 'compatibleRuntimes'"), "{msg}");
    // Structures in lists: path.N.member.field
    let msg = validation_message(
        "CheckpointDurableExecution",
        json!({"DurableExecutionArn": "arn:aws:lambda:us-east-1:123456789012:function:f:1/durable-execution/a/b",
               "CheckpointToken": "t", "Updates": [{}]}),
    );
    assert!(msg.contains("at 'updates.1.member."), "{msg}");
}

#[test]
fn qualifier_pattern() {
    let pattern = {
        let input = model().input_shape(op("GetFunction")).unwrap();
        let shape = &input.member("Qualifier").unwrap().shape;
        model().shape(shape).unwrap().pattern.clone().unwrap()
    };
    let msg = validation_message("GetFunction", json!({"FunctionName": "f", "Qualifier": "a b"}));
    assert_eq!(
        msg,
        format!(
            "1 validation error detected: Value 'a b' at 'qualifier' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: {pattern}"
        )
    );
}

#[test]
fn all_patterns_compile() {
    let mut bad = Vec::new();
    for (name, shape) in &model().shapes {
        if shape.pattern.is_some() && shape.regex().is_none() {
            bad.push(format!("{name}: {}", shape.pattern.as_deref().unwrap()));
        }
    }
    bad.sort();
    assert!(bad.is_empty(), "patterns that don't compile (their checks are skipped): {bad:#?}");
}

#[test]
fn encode_invoke_output() {
    let m = model();
    let (status, headers, body) = m.encode_output(
        op("Invoke"),
        json!({
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "ExecutedVersion": "$LATEST",
            "Payload": "eyJhIjoxfQ==",
        }),
    );
    assert_eq!(status, 200);
    assert_eq!(
        headers,
        vec![
            ("X-Amz-Function-Error".to_string(), "Unhandled".to_string()),
            ("X-Amz-Executed-Version".to_string(), "$LATEST".to_string()),
        ]
    );
    assert_eq!(body, br#"{"a":1}"#);
    let (status, _, body) = m.encode_output(op("Invoke"), json!({"StatusCode": 202}));
    assert_eq!((status, body.len()), (202, 0));
}

#[test]
fn encode_json_outputs() {
    let m = model();
    let (status, headers, body) =
        m.encode_output(op("CreateFunction"), json!({"FunctionName": "f", "MemorySize": 128, "Extra": 1}));
    assert_eq!(status, 201);
    assert!(headers.is_empty());
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v, json!({"FunctionName": "f", "MemorySize": 128}));
    let (status, _, body) = m.encode_output(op("DeleteAlias"), Value::Null);
    assert_eq!((status, body.len()), (204, 0));
}

#[test]
fn error_body_keys_follow_the_model() {
    let m = model();
    assert_eq!(m.error_message_key("ResourceNotFoundException"), "Message");
    assert_eq!(m.error_message_key("InvalidParameterValueException"), "message");
    assert_eq!(m.error_message_key("InvalidRequestContentException"), "message");
    assert_eq!(m.error_message_key("ValidationException"), "message");
    assert!(m.error_has_type("ResourceConflictException"));
    assert!(!m.error_has_type("ValidationException"));
}

#[test]
fn alias_names_use_lookahead_pattern() {
    let msg = validation_message("CreateAlias", json!({"FunctionName": "f", "Name": "123", "FunctionVersion": "1"}));
    assert!(
        msg.starts_with(
            "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: \
                             Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        ),
        "{msg}"
    );
    model().validate(op("CreateAlias"), &json!({"FunctionName": "f", "Name": "live", "FunctionVersion": "1"})).unwrap();
}
