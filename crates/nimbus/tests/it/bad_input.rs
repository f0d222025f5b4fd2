//! A corpus of bad requests against every foundation operation, sent raw.
//!
//! Every case must be answered with a 4xx (never a 5xx, never a hang or a dropped connection),
//! an `x-amzn-ErrorType` header and a JSON body with a message, and must leave the state exactly
//! as it was (compared through the read APIs before and after; nothing ignored). Where AWS's
//! code is known for sure the case checks it too.
//!
//! Wrong-type cases are generated from the service model: every body member of every operation
//! that takes a body (and the members of its structures, lists and maps) gets values of the
//! wrong JSON types.

use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, LayerVersionContentInput, Runtime};
use serde_json::{json, Map, Value};

use crate::harness::*;

const TIMEOUT: Duration = Duration::from_secs(15);
const F: &str = "/2015-03-31/functions";
const L: &str = "/2018-10-31/layers";
const SEED_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:seed";
const SEED_LAYER_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:layer:seedlayer";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Any 4xx.
    Any,
    /// This `x-amzn-ErrorType` (and a 4xx).
    Code(&'static str),
    /// This status and error type.
    Exactly(u16, &'static str),
}

struct Case {
    label: String,
    method: &'static str,
    path: String,
    body: Vec<u8>,
    expect: Expect,
}

fn case(label: impl Into<String>, method: &'static str, path: impl Into<String>, body: impl Into<Vec<u8>>) -> Case {
    Case { label: label.into(), method, path: path.into(), body: body.into(), expect: Expect::Any }
}

impl Case {
    fn code(mut self, code: &'static str) -> Case {
        self.expect = Expect::Code(code);
        self
    }

    fn exactly(mut self, status: u16, code: &'static str) -> Case {
        self.expect = Expect::Exactly(status, code);
        self
    }
}

const INVALID_CONTENT: &str = "InvalidRequestContentException";
const VALIDATION: &str = "ValidationException";
const INVALID_PARAMETER: &str = "InvalidParameterValueException";
const NOT_FOUND: &str = "ResourceNotFoundException";
const CONFLICT: &str = "ResourceConflictException";
const PRECONDITION: &str = "PreconditionFailedException";
const TOO_LARGE: &str = "RequestEntityTooLargeException";

// ------------------------------------------------------------------------------------------
// Payloads.

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        out.push(A[(n >> 18) as usize & 63] as char);
        out.push(A[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { A[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { A[n as usize & 63] as char } else { '=' });
    }
    out
}

fn good_zip() -> Vec<u8> {
    python_zip("def handler(event, context):\n    return 'new'\n")
}

fn symlink_zip() -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        w.add_symlink("index.py", "/etc/passwd", zip::write::SimpleFileOptions::default()).unwrap();
        w.finish().unwrap();
    }
    buf.into_inner()
}

/// A zip whose one entry claims to unzip to ~4 GB (header fields patched).
fn bomb_claim_zip() -> Vec<u8> {
    let mut zip = zip_of(&[("index.py", b"x = 1\n")]);
    let patch = |zip: &mut Vec<u8>, signature: &[u8; 4], offset: usize| {
        let at = zip.windows(4).position(|w| w == signature).expect("zip header");
        zip[at + offset..at + offset + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    };
    patch(&mut zip, b"PK\x03\x04", 22);
    patch(&mut zip, b"PK\x01\x02", 24);
    zip
}

/// Archives Lambda must refuse, with the code AWS answers (None: any 4xx).
fn bad_zips() -> Vec<(&'static str, String, Option<&'static str>)> {
    let good = good_zip();
    vec![
        ("not base64", "!!!! not base64 !!!!".to_string(), None),
        ("base64 with a bad tail", format!("{}=", b64(&good)), None),
        ("empty", String::new(), None),
        ("garbage bytes", b64(b"this is not a zip archive at all"), Some(INVALID_PARAMETER)),
        ("random bytes", b64(&noise(9, 4096)), Some(INVALID_PARAMETER)),
        ("truncated zip", b64(&good[..good.len() / 2]), Some(INVALID_PARAMETER)),
        ("zip local header only", b64(&good[..30]), Some(INVALID_PARAMETER)),
        ("entry ../", b64(&zip_of(&[("../evil.py", b"x")])), Some(INVALID_PARAMETER)),
        ("entry a/../../", b64(&zip_of(&[("index.py", b"x"), ("a/../../evil.py", b"x")])), Some(INVALID_PARAMETER)),
        ("entry absolute", b64(&zip_of(&[("/etc/cron.d/evil", b"x")])), Some(INVALID_PARAMETER)),
        ("entry symlink", b64(&symlink_zip()), Some(INVALID_PARAMETER)),
        ("claims 4 GB unzipped", b64(&bomb_claim_zip()), Some(INVALID_PARAMETER)),
    ]
}

fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut v = base.clone();
    v[key] = value;
    v
}

fn without(base: &Value, key: &str) -> Value {
    let mut v = base.clone();
    v.as_object_mut().unwrap().remove(key);
    v
}

fn body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn huge(n: usize) -> String {
    "x".repeat(n)
}

// ------------------------------------------------------------------------------------------
// The model, for generated cases.

struct Model(Value);

impl Model {
    fn load() -> Model {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../nimbus-lambda/model/lambda.json");
        Model(serde_json::from_str(&std::fs::read_to_string(path).expect("read the Lambda model")).unwrap())
    }

    fn shape(&self, name: &str) -> &Value {
        &self.0["shapes"][name]
    }

    fn ty(&self, name: &str) -> &str {
        self.shape(name)["type"].as_str().unwrap_or("")
    }

    /// Body members of a structure: (name, shape).
    fn body_members(&self, shape: &str) -> Vec<(String, String)> {
        self.shape(shape)["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m.get("location").is_none())
            .map(|m| (m["name"].as_str().unwrap().to_string(), m["shape"].as_str().unwrap().to_string()))
            .collect()
    }

    fn required(&self, shape: &str) -> Vec<String> {
        self.shape(shape)["required"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    /// Values of the wrong JSON type for a shape, with what AWS's deserializer surely answers.
    fn wrong_values(&self, shape: &str) -> Vec<(&'static str, Value, Expect)> {
        let content = Expect::Code(INVALID_CONTENT);
        match self.ty(shape) {
            "string" => vec![
                ("object", json!({"a": 1}), content),
                ("array", json!(["a"]), content),
                ("number", json!(5), Expect::Any),
                ("boolean", json!(true), Expect::Any),
            ],
            "integer" | "long" => vec![
                ("string", json!("10"), Expect::Any),
                ("object", json!({}), content),
                ("array", json!([1]), content),
                ("fraction", json!(1.5), Expect::Any),
                ("boolean", json!(true), Expect::Any),
                ("1e10", json!(1e10), Expect::Any),
                ("-1e300", json!(-1e300), Expect::Any),
            ],
            "double" | "float" => vec![("string", json!("0.5"), Expect::Any), ("object", json!({}), content)],
            "boolean" => vec![
                ("string", json!("yes"), Expect::Any),
                ("number", json!(2), Expect::Any),
                ("object", json!({}), content),
            ],
            "blob" => vec![
                ("number", json!(5), Expect::Any),
                ("object", json!({}), content),
                ("array", json!([1, 2]), content),
            ],
            "map" => {
                vec![("array", json!([]), content), ("string", json!("k=v"), content), ("number", json!(5), content)]
            }
            "list" => {
                vec![("object", json!({}), content), ("string", json!("a"), Expect::Any), ("number", json!(5), content)]
            }
            "structure" => {
                vec![("string", json!("s"), content), ("array", json!([]), content), ("number", json!(5), content)]
            }
            _ => Vec::new(),
        }
    }

    /// Wrong-type variants of one member: the member itself, then one level inside it.
    fn member_variants(&self, member: &str, shape: &str, base: Option<&Value>) -> Vec<(String, Value, Expect)> {
        let mut out: Vec<(String, Value, Expect)> =
            self.wrong_values(shape).into_iter().map(|(d, v, e)| (format!("{member}={d}"), v, e)).collect();
        match self.ty(shape) {
            "structure" => {
                for (sub, sub_shape) in self.body_members(shape) {
                    for (d, v, e) in self.wrong_values(&sub_shape) {
                        let mut value = base.filter(|b| b.is_object()).cloned().unwrap_or_else(|| json!({}));
                        value[&sub] = v;
                        out.push((format!("{member}.{sub}={d}"), value, e));
                    }
                }
            }
            "list" => {
                let element = self.shape(shape)["member"]["shape"].as_str().unwrap().to_string();
                for (d, v, e) in self.wrong_values(&element) {
                    out.push((format!("{member}[0]={d}"), json!([v]), e));
                }
                out.push((format!("{member}[0]=null"), json!([null]), Expect::Any));
            }
            "map" => {
                let value_shape = self.shape(shape)["value"]["shape"].as_str().unwrap().to_string();
                for (d, v, e) in self.wrong_values(&value_shape) {
                    out.push((format!("{member}{{k}}={d}"), json!({"Key": v}), e));
                }
            }
            _ => {}
        }
        out
    }
}

/// An operation that takes a JSON body, with a valid body to mutate.
struct BodyOp {
    name: &'static str,
    method: &'static str,
    path: String,
    input: &'static str,
    base: Value,
}

fn body_ops() -> Vec<BodyOp> {
    let zip = b64(&good_zip());
    vec![
        BodyOp {
            name: "CreateFunction",
            method: "POST",
            path: F.to_string(),
            input: "CreateFunctionRequest",
            base: json!({"FunctionName": "fresh", "Runtime": "python3.12", "Role": ROLE, "Handler": "index.handler", "Code": {"ZipFile": zip}}),
        },
        BodyOp {
            name: "UpdateFunctionCode",
            method: "PUT",
            path: format!("{F}/seed/code"),
            input: "UpdateFunctionCodeRequest",
            base: json!({"ZipFile": zip}),
        },
        BodyOp {
            name: "UpdateFunctionConfiguration",
            method: "PUT",
            path: format!("{F}/seed/configuration"),
            input: "UpdateFunctionConfigurationRequest",
            base: json!({"Timeout": 5}),
        },
        BodyOp {
            name: "PublishVersion",
            method: "POST",
            path: format!("{F}/seed/versions"),
            input: "PublishVersionRequest",
            base: json!({}),
        },
        BodyOp {
            name: "CreateAlias",
            method: "POST",
            path: format!("{F}/seed/aliases"),
            input: "CreateAliasRequest",
            base: json!({"Name": "other", "FunctionVersion": "1"}),
        },
        BodyOp {
            name: "UpdateAlias",
            method: "PUT",
            path: format!("{F}/seed/aliases/live"),
            input: "UpdateAliasRequest",
            base: json!({"Description": "changed"}),
        },
        BodyOp {
            name: "AddPermission",
            method: "POST",
            path: format!("{F}/seed/policy"),
            input: "AddPermissionRequest",
            base: json!({"StatementId": "new-sid", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}),
        },
        BodyOp {
            name: "TagResource",
            method: "POST",
            path: format!("/2017-03-31/tags/{}", path_escape(SEED_ARN)),
            input: "TagResourceRequest",
            base: json!({"Tags": {"new": "tag"}}),
        },
        BodyOp {
            name: "PublishLayerVersion",
            method: "POST",
            path: format!("{L}/seedlayer/versions"),
            input: "PublishLayerVersionRequest",
            base: json!({"Content": {"ZipFile": zip}, "CompatibleRuntimes": ["python3.12"]}),
        },
        BodyOp {
            name: "AddLayerVersionPermission",
            method: "POST",
            path: format!("{L}/seedlayer/versions/1/policy"),
            input: "AddLayerVersionPermissionRequest",
            base: json!({"StatementId": "new-sid", "Action": "lambda:GetLayerVersion", "Principal": "*"}),
        },
        BodyOp {
            name: "CheckpointDurableExecution",
            method: "POST",
            path: format!("/2025-12-01/durable-executions/{DURABLE_ARN}/checkpoint"),
            input: "CheckpointDurableExecutionRequest",
            base: json!({"CheckpointToken": "dG9rZW4=", "Updates": [{"Id": "s", "Type": "STEP", "Action": "START"}]}),
        },
    ]
}

/// A durable execution ARN (percent-encoded as a path label) that names no execution.
const DURABLE_ARN: &str =
    "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aseed%3A%24LATEST%2Fdurable-execution%2Fn%2Fx";

// ------------------------------------------------------------------------------------------
// The corpus.

fn malformed_bodies() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    vec![
        ("unterminated object", b"{".to_vec(), Some(INVALID_CONTENT)),
        ("not json", b"not json".to_vec(), Some(INVALID_CONTENT)),
        ("unterminated member", b"{\"FunctionName\":".to_vec(), Some(INVALID_CONTENT)),
        ("trailing garbage", b"{\"Description\":\"a\"}}".to_vec(), Some(INVALID_CONTENT)),
        ("trailing comma", b"{\"Description\":\"a\",}".to_vec(), Some(INVALID_CONTENT)),
        ("single quotes", b"{'Description':'a'}".to_vec(), Some(INVALID_CONTENT)),
        ("NaN", b"{\"Timeout\": NaN}".to_vec(), Some(INVALID_CONTENT)),
        ("control character in string", b"{\"Description\":\"a\x01b\"}".to_vec(), Some(INVALID_CONTENT)),
        ("invalid UTF-8", b"{\"Description\":\"\xff\xfe\"}".to_vec(), None),
        ("lone surrogate escape", b"{\"Description\":\"\\ud800\"}".to_vec(), None),
        ("NUL bytes", b"\x00\x00\x00".to_vec(), None),
        ("top-level array", b"[1,2]".to_vec(), Some(INVALID_CONTENT)),
        ("top-level string", b"\"s\"".to_vec(), Some(INVALID_CONTENT)),
        ("top-level number", b"123".to_vec(), Some(INVALID_CONTENT)),
        ("top-level null", b"null".to_vec(), None),
        ("nested 100000 deep", "[".repeat(100_000).into_bytes(), None),
        ("object nested 100000 deep", "{\"a\":".repeat(100_000).into_bytes(), None),
        ("number out of range", b"{\"Timeout\": 1e999}".to_vec(), None),
    ]
}

fn corpus(model: &Model) -> Vec<Case> {
    let mut cases = Vec::new();
    let seed = format!("{F}/seed");

    // Every body operation: malformed JSON, wrong types, missing and null required members.
    for op in body_ops() {
        for (what, bytes, code) in malformed_bodies() {
            let c = case(format!("{} malformed body: {what}", op.name), op.method, op.path.clone(), bytes);
            cases.push(match code {
                Some(code) => c.code(code),
                None => c,
            });
        }
        let truncated = body(&op.base);
        // (`{}` cut short is an empty body, which is valid.)
        if truncated.len() > 2 {
            cases.push(
                case(
                    format!("{} truncated body", op.name),
                    op.method,
                    op.path.clone(),
                    truncated[..truncated.len().saturating_sub(2)].to_vec(),
                )
                .code(INVALID_CONTENT),
            );
        }
        for (member, shape) in model.body_members(op.input) {
            for (label, value, expect) in model.member_variants(&member, &shape, op.base.get(&member)) {
                let mut c = case(
                    format!("{} wrong type {label}", op.name),
                    op.method,
                    op.path.clone(),
                    body(&with(&op.base, &member, value)),
                );
                c.expect = expect;
                cases.push(c);
            }
            if model.ty(&shape) == "string" {
                cases.push(case(
                    format!("{} huge {member} (100 kB)", op.name),
                    op.method,
                    op.path.clone(),
                    body(&with(&op.base, &member, json!(huge(100_000)))),
                ));
            }
        }
        for member in model.required(op.input) {
            if op.base.get(&member).is_some() {
                cases.push(
                    case(
                        format!("{} missing required {member}", op.name),
                        op.method,
                        op.path.clone(),
                        body(&without(&op.base, &member)),
                    )
                    .code(VALIDATION),
                );
                cases.push(
                    case(
                        format!("{} null required {member}", op.name),
                        op.method,
                        op.path.clone(),
                        body(&with(&op.base, &member, Value::Null)),
                    )
                    .code(VALIDATION),
                );
            }
        }
        if !model.required(op.input).iter().all(|m| op.base.get(m).is_none()) {
            cases.push(
                case(format!("{} empty object", op.name), op.method, op.path.clone(), b"{}".to_vec()).code(VALIDATION),
            );
            cases
                .push(case(format!("{} empty body", op.name), op.method, op.path.clone(), Vec::new()).code(VALIDATION));
        }
    }

    // Archives.
    let create = body_ops().into_iter().next().unwrap().base;
    for (what, zip, code) in bad_zips() {
        let c = case(
            format!("CreateFunction zip: {what}"),
            "POST",
            F,
            body(&with(&create, "Code", json!({"ZipFile": zip}))),
        );
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(
            format!("UpdateFunctionCode zip: {what}"),
            "PUT",
            format!("{seed}/code"),
            body(&json!({"ZipFile": zip})),
        );
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(
            format!("UpdateFunctionCode zip (dry run): {what}"),
            "PUT",
            format!("{seed}/code"),
            body(&json!({"ZipFile": zip, "DryRun": true})),
        );
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(
            format!("PublishLayerVersion zip: {what}"),
            "POST",
            format!("{L}/seedlayer/versions"),
            body(&json!({"Content": {"ZipFile": zip}})),
        );
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(
            format!("PublishLayerVersion new layer zip: {what}"),
            "POST",
            format!("{L}/newlayer/versions"),
            body(&json!({"Content": {"ZipFile": zip}})),
        );
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
    }

    // CreateFunction: values of the right type that AWS refuses.
    let cf = |label: &str, v: Value| case(format!("CreateFunction {label}"), "POST", F, body(&v));
    cases.push(cf("existing name", with(&create, "FunctionName", json!("seed"))).exactly(409, CONFLICT));
    cases.push(cf("existing name by ARN", with(&create, "FunctionName", json!(SEED_ARN))).exactly(409, CONFLICT));
    cases.push(cf("qualified name", with(&create, "FunctionName", json!("fresh:1"))));
    cases.push(cf("name with space", with(&create, "FunctionName", json!("bad name"))).code(VALIDATION));
    cases.push(cf("name with dot", with(&create, "FunctionName", json!("bad.name"))));
    cases.push(cf("name unicode", with(&create, "FunctionName", json!("fünction"))).code(VALIDATION));
    cases.push(cf("name empty", with(&create, "FunctionName", json!(""))).code(VALIDATION));
    cases.push(cf("name 65 chars", with(&create, "FunctionName", json!("a".repeat(65)))));
    cases.push(cf("name 141 chars", with(&create, "FunctionName", json!("a".repeat(141)))).code(VALIDATION));
    cases.push(cf(
        "name in another region",
        with(&create, "FunctionName", json!("arn:aws:lambda:eu-west-1:000000000000:function:fresh")),
    ));
    cases.push(cf("runtime unknown", with(&create, "Runtime", json!("python9.9"))).code(INVALID_PARAMETER));
    cases.push(cf("runtime deprecated", with(&create, "Runtime", json!("python2.7"))).code(INVALID_PARAMETER));
    cases.push(cf("runtime empty", with(&create, "Runtime", json!(""))));
    cases.push(cf("no runtime", without(&create, "Runtime")).code(INVALID_PARAMETER));
    cases.push(cf("no handler", without(&create, "Handler")).code(INVALID_PARAMETER));
    cases.push(cf("handler with space", with(&create, "Handler", json!("index handler"))).code(VALIDATION));
    cases.push(cf("handler 129 chars", with(&create, "Handler", json!("h".repeat(129)))).code(VALIDATION));
    cases.push(cf("role not an ARN", with(&create, "Role", json!("lambda-role"))).code(VALIDATION));
    cases.push(cf("role of another service", with(&create, "Role", json!("arn:aws:s3:::bucket"))).code(VALIDATION));
    cases.push(cf("timeout 0", with(&create, "Timeout", json!(0))).code(VALIDATION));
    cases.push(cf("timeout -1", with(&create, "Timeout", json!(-1))).code(VALIDATION));
    cases.push(cf("timeout 901", with(&create, "Timeout", json!(901))).code(VALIDATION));
    cases.push(cf("timeout 2^32", with(&create, "Timeout", json!(4_294_967_296u64))).code(VALIDATION));
    cases.push(cf("timeout 2^64", with(&create, "Timeout", json!(18_446_744_073_709_551_615u64))));
    cases.push(cf("timeout 1e10", with(&create, "Timeout", json!(1e10))));
    cases.push(cf("memory 127", with(&create, "MemorySize", json!(127))).code(VALIDATION));
    cases.push(cf("memory 10241", with(&create, "MemorySize", json!(10241))));
    cases.push(cf("memory 2^32+128", with(&create, "MemorySize", json!(4_294_967_424u64))));
    cases.push(cf("description 257 chars", with(&create, "Description", json!("d".repeat(257)))).code(VALIDATION));
    cases.push(cf("code empty", with(&create, "Code", json!({}))).code(INVALID_PARAMETER));
    cases.push(cf("code from S3 without key", with(&create, "Code", json!({"S3Bucket": "bucket"}))));
    cases.push(
        cf(
            "code image on zip package",
            with(&create, "Code", json!({"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/r:latest"})),
        )
        .code(INVALID_PARAMETER),
    );
    cases.push(
        cf(
            "image package without image",
            with(&without(&without(&create, "Runtime"), "Handler"), "PackageType", json!("Image")),
        )
        .code(INVALID_PARAMETER),
    );
    cases.push(cf("package type unknown", with(&create, "PackageType", json!("Tarball"))).code(VALIDATION));
    cases.push(cf("architecture unknown", with(&create, "Architectures", json!(["arm"]))).code(VALIDATION));
    cases.push(cf("two architectures", with(&create, "Architectures", json!(["x86_64", "arm64"]))).code(VALIDATION));
    cases.push(
        cf("env reserved key", with(&create, "Environment", json!({"Variables": {"AWS_REGION": "x"}})))
            .code(INVALID_PARAMETER),
    );
    cases.push(cf("env bad key", with(&create, "Environment", json!({"Variables": {"1abc": "x"}}))).code(VALIDATION));
    cases.push(
        cf("env over 4 KB", with(&create, "Environment", json!({"Variables": {"BIG": huge(5000)}})))
            .code(INVALID_PARAMETER),
    );
    cases.push(cf("env huge key", with(&create, "Environment", json!({"Variables": {huge(100_000): "x"}}))));
    cases.push(
        cf("tracing mode unknown", with(&create, "TracingConfig", json!({"Mode": "Sometimes"}))).code(VALIDATION),
    );
    cases.push(cf("ephemeral storage 511", with(&create, "EphemeralStorage", json!({"Size": 511}))).code(VALIDATION));
    cases.push(
        cf("ephemeral storage 32769", with(&create, "EphemeralStorage", json!({"Size": 32769}))).code(VALIDATION),
    );
    cases.push(cf("log format unknown", with(&create, "LoggingConfig", json!({"LogFormat": "XML"}))).code(VALIDATION));
    cases.push(
        cf(
            "log level with text format",
            with(&create, "LoggingConfig", json!({"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"})),
        )
        .code(INVALID_PARAMETER),
    );
    cases.push(cf("layer not an ARN", with(&create, "Layers", json!(["seedlayer"]))).code(VALIDATION));
    cases.push(
        cf("layer version missing", with(&create, "Layers", json!([format!("{SEED_LAYER_ARN}:99")])))
            .code(INVALID_PARAMETER),
    );
    cases.push(
        cf(
            "layer twice",
            with(&create, "Layers", json!([format!("{SEED_LAYER_ARN}:1"), format!("{SEED_LAYER_ARN}:1")])),
        )
        .code(INVALID_PARAMETER),
    );
    cases.push(cf("six layers", with(&create, "Layers", json!(vec![format!("{SEED_LAYER_ARN}:1"); 6]))));
    cases.push(cf("tag key reserved", with(&create, "Tags", json!({"aws:reserved": "x"}))));
    cases.push(cf("tag key 129 chars", with(&create, "Tags", json!({"k".repeat(129): "x"}))));
    cases.push(cf("tag value 257 chars", with(&create, "Tags", json!({"k": "v".repeat(257)}))));
    cases.push(cf(
        "51 tags",
        with(&create, "Tags", Value::Object((0..51).map(|i| (format!("k{i}"), json!("v"))).collect::<Map<_, _>>())),
    ));
    cases.push(cf("KMS key not an ARN", with(&create, "KMSKeyArn", json!("my-key"))).code(VALIDATION));
    cases.push(
        cf("dead letter target not an ARN", with(&create, "DeadLetterConfig", json!({"TargetArn": "queue"})))
            .code(VALIDATION),
    );

    // Function identifiers in paths, for every function operation.
    let bad_names: Vec<(String, String, Option<&'static str>)> = vec![
        ("unknown".into(), "nope".into(), Some(NOT_FOUND)),
        ("unknown by ARN".into(), path_escape("arn:aws:lambda:us-east-1:000000000000:function:nope"), Some(NOT_FOUND)),
        (
            "in another region".into(),
            path_escape("arn:aws:lambda:eu-west-1:000000000000:function:seed"),
            Some(NOT_FOUND),
        ),
        ("qualifier $$".into(), "seed:$$".into(), Some(VALIDATION)),
        ("qualifier %24%24".into(), "seed%3A%24%24".into(), Some(VALIDATION)),
        ("two qualifiers".into(), "seed:1:2".into(), Some(VALIDATION)),
        ("qualifier too long".into(), format!("seed:{}", "q".repeat(300)), Some(VALIDATION)),
        ("257 chars".into(), "a".repeat(257), Some(VALIDATION)),
        ("60000 chars".into(), "a".repeat(60_000), Some(VALIDATION)),
        ("unicode".into(), path_escape("fünction"), Some(VALIDATION)),
        ("invalid UTF-8 escapes".into(), "%FF%FE".into(), Some(VALIDATION)),
        ("NUL".into(), "seed%00".into(), Some(VALIDATION)),
        ("encoded slash".into(), "seed%2Fcode".into(), Some(VALIDATION)),
        // (The client normalizes this one to `..` and the path collapses: any 4xx.)
        ("dot-dot".into(), "%2E%2E".into(), None),
        ("encoded traversal".into(), "..%2F..%2Fetc%2Fpasswd".into(), Some(VALIDATION)),
        ("bad percent escape".into(), "seed%zz".into(), Some(VALIDATION)),
        ("lone percent".into(), "seed%".into(), Some(VALIDATION)),
        ("zero-width space".into(), "seed%E2%80%8B".into(), Some(VALIDATION)),
        ("space".into(), "se%20ed".into(), Some(VALIDATION)),
        ("not a function ARN".into(), path_escape("arn:aws:s3:::bucket"), Some(VALIDATION)),
        ("layer ARN".into(), path_escape(&format!("{SEED_LAYER_ARN}:1")), Some(VALIDATION)),
    ];
    let function_ops: Vec<(&str, &'static str, &str, Vec<u8>)> = vec![
        ("GetFunction", "GET", "", Vec::new()),
        ("GetFunctionConfiguration", "GET", "/configuration", Vec::new()),
        ("DeleteFunction", "DELETE", "", Vec::new()),
        ("UpdateFunctionCode", "PUT", "/code", body(&json!({"ZipFile": b64(&good_zip())}))),
        ("UpdateFunctionConfiguration", "PUT", "/configuration", body(&json!({"Timeout": 7}))),
        ("PublishVersion", "POST", "/versions", body(&json!({"Description": "x"}))),
        ("ListVersionsByFunction", "GET", "/versions", Vec::new()),
        ("CreateAlias", "POST", "/aliases", body(&json!({"Name": "other", "FunctionVersion": "1"}))),
        ("ListAliases", "GET", "/aliases", Vec::new()),
        ("GetAlias", "GET", "/aliases/live", Vec::new()),
        ("UpdateAlias", "PUT", "/aliases/live", body(&json!({"Description": "changed"}))),
        ("DeleteAlias", "DELETE", "/aliases/live", Vec::new()),
        (
            "AddPermission",
            "POST",
            "/policy",
            body(
                &json!({"StatementId": "new-sid", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}),
            ),
        ),
        ("RemovePermission", "DELETE", "/policy/seed-sid", Vec::new()),
        ("GetPolicy", "GET", "/policy", Vec::new()),
    ];
    for (op, method, suffix, op_body) in &function_ops {
        for (what, name, code) in &bad_names {
            let c = case(format!("{op} function {what}"), method, format!("{F}/{name}{suffix}"), op_body.clone());
            cases.push(match *code {
                Some(code) => c.code(code),
                None => c,
            });
        }
        // `GET /2015-03-31/functions/` is ListFunctions.
        if *op != "GetFunction" {
            cases.push(case(format!("{op} empty function name"), method, format!("{F}/{suffix}"), op_body.clone()));
        }
    }

    // Qualifiers as a query parameter.
    let qualified_ops: Vec<(&str, &'static str, String, Vec<u8>)> = vec![
        ("GetFunction", "GET", seed.clone(), Vec::new()),
        ("GetFunctionConfiguration", "GET", format!("{seed}/configuration"), Vec::new()),
        ("DeleteFunction", "DELETE", seed.clone(), Vec::new()),
        ("GetPolicy", "GET", format!("{seed}/policy"), Vec::new()),
        (
            "AddPermission",
            "POST",
            format!("{seed}/policy"),
            body(
                &json!({"StatementId": "new-sid", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}),
            ),
        ),
        ("RemovePermission", "DELETE", format!("{seed}/policy/seed-sid"), Vec::new()),
    ];
    let bad_qualifiers: Vec<(&str, String, Option<&'static str>)> = vec![
        ("missing version", "99".into(), Some(NOT_FOUND)),
        ("huge version", "99999999999999999999999".into(), Some(NOT_FOUND)),
        ("missing alias", "nope".into(), Some(NOT_FOUND)),
        ("$$", "%24%24".into(), None),
        ("129 chars", "q".repeat(129), Some(VALIDATION)),
        ("unicode", path_escape("ä"), Some(VALIDATION)),
        ("space", "a%20b".into(), Some(VALIDATION)),
        ("colon", "a%3Ab".into(), Some(VALIDATION)),
        ("fraction", "1.5".into(), Some(VALIDATION)),
        ("negative", "-1".into(), None),
        ("invalid UTF-8", "%FF".into(), Some(VALIDATION)),
    ];
    for (op, method, path, op_body) in &qualified_ops {
        for (what, q, code) in &bad_qualifiers {
            // Deleting a version that is not there succeeds on AWS (tests/python/test_lambda_control_plane.py).
            if *op == "DeleteFunction" && *what == "missing version" {
                continue;
            }
            // DeleteFunction refuses any alias qualifier before looking it up.
            let code = if *op == "DeleteFunction" && *what == "missing alias" { &None } else { code };
            let c = case(format!("{op} qualifier {what}"), method, format!("{path}?Qualifier={q}"), op_body.clone());
            cases.push(match *code {
                Some(code) => c.code(code),
                None => c,
            });
        }
        let mismatch = path.replacen("/seed", "/seed:1", 1);
        cases.push(
            case(
                format!("{op} qualifier differs from the name's"),
                method,
                format!("{mismatch}?Qualifier=2"),
                op_body.clone(),
            )
            .code(INVALID_PARAMETER),
        );
    }
    cases.push(
        case("DeleteFunction $LATEST", "DELETE", format!("{seed}?Qualifier=%24LATEST"), Vec::new())
            .code(INVALID_PARAMETER),
    );
    cases.push(
        case("DeleteFunction alias", "DELETE", format!("{seed}?Qualifier=live"), Vec::new()).code(INVALID_PARAMETER),
    );
    cases.push(
        case("DeleteFunction version an alias uses", "DELETE", format!("{seed}?Qualifier=1"), Vec::new())
            .exactly(409, CONFLICT),
    );
    cases.push(
        case("DeleteFunction version an alias uses (in name)", "DELETE", format!("{F}/seed:1"), Vec::new())
            .exactly(409, CONFLICT),
    );

    // List operations: bad paging and filters.
    let max_items: Vec<(&str, &str, Option<&'static str>)> = vec![
        ("abc", "abc", None),
        ("-1", "-1", Some(VALIDATION)),
        ("0", "0", Some(VALIDATION)),
        ("1.5", "1.5", None),
        ("empty", "", None),
        ("2^63", "9223372036854775808", None),
        ("2^31", "2147483648", None),
    ];
    for (op, path) in [
        ("ListFunctions", F.to_string()),
        ("ListVersionsByFunction", format!("{seed}/versions")),
        ("ListAliases", format!("{seed}/aliases")),
        ("ListLayers", L.to_string()),
        ("ListLayerVersions", format!("{L}/seedlayer/versions")),
    ] {
        for (what, v, code) in &max_items {
            let c = case(format!("{op} MaxItems={what}"), "GET", format!("{path}?MaxItems={v}"), Vec::new());
            cases.push(match *code {
                Some(code) => c.code(code),
                None => c,
            });
        }
    }
    cases.push(case("ListFunctions MaxItems=10001", "GET", format!("{F}?MaxItems=10001"), Vec::new()).code(VALIDATION));
    cases.push(case("ListLayers MaxItems=51", "GET", format!("{L}?MaxItems=51"), Vec::new()).code(VALIDATION));
    cases.push(
        case("ListLayerVersions MaxItems=51", "GET", format!("{L}/seedlayer/versions?MaxItems=51"), Vec::new())
            .code(VALIDATION),
    );
    cases.push(
        case("ListFunctions FunctionVersion=LATEST", "GET", format!("{F}?FunctionVersion=LATEST"), Vec::new())
            .code(VALIDATION),
    );
    cases.push(
        case("ListFunctions FunctionVersion=all", "GET", format!("{F}?FunctionVersion=all"), Vec::new())
            .code(VALIDATION),
    );
    cases.push(
        case("ListFunctions MasterRegion without ALL", "GET", format!("{F}?MasterRegion=us-east-1"), Vec::new())
            .code(INVALID_PARAMETER),
    );
    cases.push(
        case(
            "ListFunctions MasterRegion bogus",
            "GET",
            format!("{F}?MasterRegion=mars&FunctionVersion=ALL"),
            Vec::new(),
        )
        .code(VALIDATION),
    );
    cases.push(case("ListVersionsByFunction bad marker", "GET", format!("{seed}/versions?Marker=garbage"), Vec::new()));
    cases.push(
        case("ListAliases FunctionVersion=$$", "GET", format!("{seed}/aliases?FunctionVersion=%24%24"), Vec::new())
            .code(VALIDATION),
    );
    cases.push(
        case(
            "ListAliases FunctionVersion huge",
            "GET",
            format!("{seed}/aliases?FunctionVersion={}", "9".repeat(1025)),
            Vec::new(),
        )
        .code(VALIDATION),
    );
    cases.push(
        case("ListLayers CompatibleRuntime unknown", "GET", format!("{L}?CompatibleRuntime=python9"), Vec::new())
            .code(VALIDATION),
    );
    cases.push(
        case("ListLayers CompatibleArchitecture unknown", "GET", format!("{L}?CompatibleArchitecture=arm"), Vec::new())
            .code(VALIDATION),
    );
    cases.push(
        case(
            "ListLayerVersions CompatibleRuntime unknown",
            "GET",
            format!("{L}/seedlayer/versions?CompatibleRuntime=python9"),
            Vec::new(),
        )
        .code(VALIDATION),
    );
    cases.push(
        case("ListLayerVersions bad layer name", "GET", format!("{L}/bad%20name/versions"), Vec::new())
            .code(VALIDATION),
    );

    // Aliases.
    for (what, name, code) in [
        ("unknown", "nope", Some(NOT_FOUND)),
        ("numeric", "123", Some(VALIDATION)),
        ("$$", "%24%24", Some(VALIDATION)),
        ("129 chars", &*"a".repeat(129), Some(VALIDATION)),
        ("unicode", "%C3%A4", Some(VALIDATION)),
        ("invalid UTF-8", "%FF", Some(VALIDATION)),
    ] {
        for (op, method, op_body) in [
            ("GetAlias", "GET", Vec::new()),
            ("UpdateAlias", "PUT", body(&json!({"Description": "changed"}))),
            ("DeleteAlias", "DELETE", Vec::new()),
        ] {
            // Deleting an alias that does not exist succeeds on AWS.
            if op == "DeleteAlias" && what == "unknown" {
                continue;
            }
            let c = case(format!("{op} alias {what}"), method, format!("{seed}/aliases/{name}"), op_body);
            cases.push(match code {
                Some(code) => c.code(code),
                None => c,
            });
        }
    }
    let alias =
        |label: &str, method: &'static str, path: String, v: Value| case(label.to_string(), method, path, body(&v));
    let aliases = format!("{seed}/aliases");
    let live = format!("{seed}/aliases/live");
    cases.push(
        alias("CreateAlias existing", "POST", aliases.clone(), json!({"Name": "live", "FunctionVersion": "1"}))
            .exactly(409, CONFLICT),
    );
    cases.push(
        alias(
            "CreateAlias missing version",
            "POST",
            aliases.clone(),
            json!({"Name": "other", "FunctionVersion": "99"}),
        )
        .code(NOT_FOUND),
    );
    cases.push(
        alias("CreateAlias numeric name", "POST", aliases.clone(), json!({"Name": "12", "FunctionVersion": "1"}))
            .code(VALIDATION),
    );
    cases.push(
        alias(
            "CreateAlias version pattern",
            "POST",
            aliases.clone(),
            json!({"Name": "other", "FunctionVersion": "v1"}),
        )
        .code(VALIDATION),
    );
    cases.push(alias("CreateAlias weight > 1", "POST", aliases.clone(), json!({"Name": "other", "FunctionVersion": "$LATEST", "RoutingConfig": {"AdditionalVersionWeights": {"1": 1.5}}})).code(VALIDATION));
    cases.push(alias("CreateAlias weight < 0", "POST", aliases.clone(), json!({"Name": "other", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"1": -0.5}}})).code(VALIDATION));
    cases.push(
        alias(
            "CreateAlias weight on own version",
            "POST",
            aliases.clone(),
            json!({"Name": "other", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}}),
        )
        .code(INVALID_PARAMETER),
    );
    cases.push(
        alias(
            "CreateAlias weight on missing version",
            "POST",
            aliases.clone(),
            json!({"Name": "other", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"7": 0.5}}}),
        )
        .code(INVALID_PARAMETER),
    );
    cases.push(alias(
        "CreateAlias weight key not a version",
        "POST",
        aliases.clone(),
        json!({"Name": "other", "FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"$$": 0.5}}}),
    ));
    cases.push(
        alias(
            "CreateAlias description 257",
            "POST",
            aliases.clone(),
            json!({"Name": "other", "FunctionVersion": "1", "Description": "d".repeat(257)}),
        )
        .code(VALIDATION),
    );
    cases.push(
        alias("UpdateAlias missing version", "PUT", live.clone(), json!({"FunctionVersion": "99"})).code(NOT_FOUND),
    );
    cases.push(
        alias(
            "UpdateAlias wrong revision",
            "PUT",
            live.clone(),
            json!({"Description": "x", "RevisionId": "00000000-0000-0000-0000-000000000000"}),
        )
        .exactly(412, PRECONDITION),
    );
    cases.push(
        alias(
            "UpdateAlias weight > 1",
            "PUT",
            live.clone(),
            json!({"RoutingConfig": {"AdditionalVersionWeights": {"1": 2.0}}}),
        )
        .code(VALIDATION),
    );

    // Versions.
    cases.push(
        case(
            "PublishVersion wrong CodeSha256",
            "POST",
            format!("{seed}/versions"),
            body(&json!({"CodeSha256": "wrong"})),
        )
        .code(INVALID_PARAMETER),
    );
    cases.push(
        case(
            "PublishVersion wrong revision",
            "POST",
            format!("{seed}/versions"),
            body(&json!({"RevisionId": "wrong"})),
        )
        .exactly(412, PRECONDITION),
    );
    cases.push(
        case(
            "PublishVersion description 257",
            "POST",
            format!("{seed}/versions"),
            body(&json!({"Description": "d".repeat(257)})),
        )
        .code(VALIDATION),
    );

    // Function updates that AWS refuses.
    let ufc = |label: &str, v: Value| {
        case(format!("UpdateFunctionConfiguration {label}"), "PUT", format!("{seed}/configuration"), body(&v))
    };
    cases.push(ufc("wrong revision", json!({"Timeout": 9, "RevisionId": "wrong"})).exactly(412, PRECONDITION));
    cases.push(ufc("timeout 0", json!({"Timeout": 0})).code(VALIDATION));
    cases.push(ufc("timeout 901", json!({"Timeout": 901})).code(VALIDATION));
    cases.push(ufc("timeout 1e10", json!({"Timeout": 1e10})));
    cases.push(ufc("timeout 2^64", json!({"Timeout": 18_446_744_073_709_551_615u64})));
    cases.push(ufc("memory 1", json!({"MemorySize": 1})).code(VALIDATION));
    cases.push(ufc("memory 10241", json!({"MemorySize": 10241})));
    cases.push(ufc("memory 1e9", json!({"MemorySize": 1e9})));
    cases.push(ufc("runtime unknown", json!({"Runtime": "cobol"})).code(INVALID_PARAMETER));
    cases.push(ufc("runtime deprecated", json!({"Runtime": "nodejs12.x"})).code(INVALID_PARAMETER));
    cases.push(ufc("role not an ARN", json!({"Role": "role"})).code(VALIDATION));
    cases.push(ufc("handler with space", json!({"Handler": "a b"})).code(VALIDATION));
    cases.push(ufc("description 257", json!({"Description": "d".repeat(257)})).code(VALIDATION));
    cases.push(
        ufc("env reserved", json!({"Environment": {"Variables": {"AWS_LAMBDA_RUNTIME_API": "x"}}}))
            .code(INVALID_PARAMETER),
    );
    cases.push(
        ufc("env over 4 KB", json!({"Environment": {"Variables": {"AA": huge(2100), "BB": huge(2100)}}}))
            .code(INVALID_PARAMETER),
    );
    cases.push(ufc("env bad key", json!({"Environment": {"Variables": {"_x": "1"}}})).code(VALIDATION));
    cases.push(ufc("layer missing", json!({"Layers": [format!("{SEED_LAYER_ARN}:99")]})).code(INVALID_PARAMETER));
    cases.push(
        ufc("layer of unknown layer", json!({"Layers": ["arn:aws:lambda:us-east-1:000000000000:layer:nope:1"]}))
            .code(INVALID_PARAMETER),
    );
    cases.push(
        ufc("layer in another region", json!({"Layers": ["arn:aws:lambda:eu-west-1:000000000000:layer:seedlayer:1"]}))
            .code(INVALID_PARAMETER),
    );
    cases.push(ufc("ephemeral storage 100000", json!({"EphemeralStorage": {"Size": 100000}})).code(VALIDATION));
    cases.push(
        ufc("log level with text", json!({"LoggingConfig": {"ApplicationLogLevel": "TRACE"}})).code(INVALID_PARAMETER),
    );
    let ufcode =
        |label: &str, v: Value| case(format!("UpdateFunctionCode {label}"), "PUT", format!("{seed}/code"), body(&v));
    cases.push(ufcode("no source", json!({})).code(INVALID_PARAMETER));
    cases.push(ufcode("only flags", json!({"Publish": true, "DryRun": false})).code(INVALID_PARAMETER));
    cases.push(
        ufcode("wrong revision", json!({"ZipFile": b64(&good_zip()), "RevisionId": "wrong"}))
            .exactly(412, PRECONDITION),
    );
    cases.push(
        ufcode("image on zip function", json!({"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/r:latest"}))
            .code(INVALID_PARAMETER),
    );
    cases.push(
        ufcode("architecture unknown", json!({"ZipFile": b64(&good_zip()), "Architectures": ["sparc"]}))
            .code(VALIDATION),
    );
    cases.push(ufcode("S3 bucket name invalid", json!({"S3Bucket": "B!", "S3Key": "k"})).code(VALIDATION));

    // Permissions.
    let policy = format!("{seed}/policy");
    let perm = |label: &str, v: Value| case(format!("AddPermission {label}"), "POST", policy.clone(), body(&v));
    let p = json!({"StatementId": "new-sid", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"});
    cases.push(perm("existing statement", with(&p, "StatementId", json!("seed-sid"))).exactly(409, CONFLICT));
    cases.push(perm("statement id with space", with(&p, "StatementId", json!("a b"))).code(VALIDATION));
    cases.push(perm("statement id 101 chars", with(&p, "StatementId", json!("s".repeat(101)))).code(VALIDATION));
    cases.push(perm("action of another service", with(&p, "Action", json!("s3:GetObject"))).code(VALIDATION));
    cases.push(perm("action empty", with(&p, "Action", json!(""))).code(VALIDATION));
    cases.push(perm("principal with space", with(&p, "Principal", json!("s3 amazonaws"))).code(VALIDATION));
    cases.push(perm("principal 100 kB", with(&p, "Principal", json!(huge(100_000)))));
    cases.push(perm("source ARN not an ARN", with(&p, "SourceArn", json!("bucket"))).code(VALIDATION));
    cases.push(perm("source account not 12 digits", with(&p, "SourceAccount", json!("123"))).code(VALIDATION));
    cases.push(perm("org id bad", with(&p, "PrincipalOrgID", json!("org"))).code(VALIDATION));
    cases.push(perm("url auth type unknown", with(&p, "FunctionUrlAuthType", json!("MAYBE"))).code(VALIDATION));
    cases.push(perm("event source token bad", with(&p, "EventSourceToken", json!("a b"))).code(VALIDATION));
    cases.push(perm("wrong revision", with(&p, "RevisionId", json!("wrong"))).exactly(412, PRECONDITION));
    cases.push(
        case("RemovePermission unknown statement", "DELETE", format!("{policy}/nope"), Vec::new()).code(NOT_FOUND),
    );
    cases.push(
        case("RemovePermission statement with space", "DELETE", format!("{policy}/a%20b"), Vec::new()).code(VALIDATION),
    );
    cases.push(
        case("RemovePermission statement 101 chars", "DELETE", format!("{policy}/{}", "s".repeat(101)), Vec::new())
            .code(VALIDATION),
    );
    cases.push(
        case("RemovePermission wrong revision", "DELETE", format!("{policy}/seed-sid?RevisionId=wrong"), Vec::new())
            .exactly(412, PRECONDITION),
    );
    cases.push(
        case(
            "RemovePermission on version without policy",
            "DELETE",
            format!("{policy}/seed-sid?Qualifier=1"),
            Vec::new(),
        )
        .code(NOT_FOUND),
    );

    // Tags.
    let tags = |resource: &str| format!("/2017-03-31/tags/{}", path_escape(resource));
    let unknown_arn = "arn:aws:lambda:us-east-1:000000000000:function:nope";
    for (what, resource, code) in [
        ("not an ARN", "seed", Some(VALIDATION)),
        ("unknown function", unknown_arn, Some(NOT_FOUND)),
        ("S3 ARN", "arn:aws:s3:::bucket", Some(VALIDATION)),
        ("layer ARN", SEED_LAYER_ARN, Some(VALIDATION)),
        ("other region", "arn:aws:lambda:eu-west-1:000000000000:function:seed", None),
        // botocore 1.44.8 allows resource ARNs of up to 10,000 characters: not found, not invalid.
        ("257 chars", &*format!("{SEED_ARN}{}", "x".repeat(257)), Some(NOT_FOUND)),
        ("10001 chars", &*format!("{SEED_ARN}{}", "x".repeat(10_001)), Some(VALIDATION)),
        ("unicode", "arn:aws:lambda:us-east-1:000000000000:function:sééd", Some(VALIDATION)),
    ] {
        let c = case(format!("TagResource {what}"), "POST", tags(resource), body(&json!({"Tags": {"k": "v"}})));
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(format!("UntagResource {what}"), "DELETE", format!("{}?tagKeys=t", tags(resource)), Vec::new());
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(format!("ListTags {what}"), "GET", tags(resource), Vec::new());
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
    }
    cases.push(
        case("TagResource raw garbage resource", "POST", "/2017-03-31/tags/%FF%00", body(&json!({"Tags": {"k": "v"}})))
            .code(VALIDATION),
    );
    cases.push(case(
        "TagResource version ARN",
        "POST",
        tags(&format!("{SEED_ARN}:1")),
        body(&json!({"Tags": {"k": "v"}})),
    ));
    cases.push(case("TagResource reserved key", "POST", tags(SEED_ARN), body(&json!({"Tags": {"aws:x": "v"}}))));
    cases.push(case(
        "TagResource key 129 chars",
        "POST",
        tags(SEED_ARN),
        body(&json!({"Tags": {"k".repeat(129): "v"}})),
    ));
    cases.push(case(
        "TagResource value 257 chars",
        "POST",
        tags(SEED_ARN),
        body(&json!({"Tags": {"k": "v".repeat(257)}})),
    ));
    cases.push(case(
        "TagResource 51 tags",
        "POST",
        tags(SEED_ARN),
        body(&json!({"Tags": (0..51).map(|i| (format!("k{i}"), json!("v"))).collect::<Map<_, _>>()})),
    ));
    cases.push(case("UntagResource without tagKeys", "DELETE", tags(SEED_ARN), Vec::new()).code(VALIDATION));

    // Account settings: only GET exists.
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        cases.push(case(format!("{method} account-settings"), method, "/2016-08-19/account-settings", b"{}".to_vec()));
    }
    cases.push(case("GetAccountSettings wrong date", "GET", "/2015-03-31/account-settings", Vec::new()));
    cases.push(case("GetAccountSettings extra segment", "GET", "/2016-08-19/account-settings/x", Vec::new()));

    // Layers.
    let lv = |n: &str| format!("{L}/seedlayer/versions/{n}");
    for (what, n, code) in [
        ("missing", "99", Some(NOT_FOUND)),
        ("zero", "0", None),
        ("negative", "-1", None),
        ("not a number", "abc", None),
        ("fraction", "1.5", None),
        ("2^64", "18446744073709551616", None),
        ("invalid UTF-8", "%FF", None),
    ] {
        let c = case(format!("GetLayerVersion version {what}"), "GET", lv(n), Vec::new());
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(format!("GetLayerVersionPolicy version {what}"), "GET", format!("{}/policy", lv(n)), Vec::new());
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(
            format!("AddLayerVersionPermission version {what}"),
            "POST",
            format!("{}/policy", lv(n)),
            body(&json!({"StatementId": "new-sid", "Action": "lambda:GetLayerVersion", "Principal": "*"})),
        );
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(
            format!("RemoveLayerVersionPermission version {what}"),
            "DELETE",
            format!("{}/policy/seed-layer-sid", lv(n)),
            Vec::new(),
        );
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        // Deleting a version that does not exist succeeds on AWS: only unparsable numbers.
        if !matches!(what, "missing" | "zero" | "negative") {
            cases.push(case(format!("DeleteLayerVersion version {what}"), "DELETE", lv(n), Vec::new()));
        }
    }
    for (what, name, code) in [
        ("unknown", "nope", Some(NOT_FOUND)),
        ("with space", "bad%20name", Some(VALIDATION)),
        ("141 chars", &*"l".repeat(141), Some(VALIDATION)),
        ("unicode", "%C3%A4", Some(VALIDATION)),
        ("invalid UTF-8", "%FF%FE", Some(VALIDATION)),
        ("traversal", "..%2F..", Some(VALIDATION)),
    ] {
        let base = format!("{L}/{name}/versions/1");
        let c = case(format!("GetLayerVersion layer {what}"), "GET", base.clone(), Vec::new());
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(format!("GetLayerVersionPolicy layer {what}"), "GET", format!("{base}/policy"), Vec::new());
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(
            format!("AddLayerVersionPermission layer {what}"),
            "POST",
            format!("{base}/policy"),
            body(&json!({"StatementId": "new-sid", "Action": "lambda:GetLayerVersion", "Principal": "*"})),
        );
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        let c = case(
            format!("RemoveLayerVersionPermission layer {what}"),
            "DELETE",
            format!("{base}/policy/seed-layer-sid"),
            Vec::new(),
        );
        cases.push(match code {
            Some(code) => c.code(code),
            None => c,
        });
        if what != "unknown" {
            let c = case(
                format!("PublishLayerVersion layer {what}"),
                "POST",
                format!("{L}/{name}/versions"),
                body(&json!({"Content": {"ZipFile": b64(&good_zip())}})),
            );
            cases.push(match code {
                Some(code) => c.code(code),
                None => c,
            });
            let c = case(format!("DeleteLayerVersion layer {what}"), "DELETE", base.clone(), Vec::new());
            cases.push(match code {
                Some(code) => c.code(code),
                None => c,
            });
            let c = case(format!("ListLayerVersions layer {what}"), "GET", format!("{L}/{name}/versions"), Vec::new());
            cases.push(match code {
                Some(code) => c.code(code),
                None => c,
            });
        }
    }
    let plv = |label: &str, v: Value| {
        case(format!("PublishLayerVersion {label}"), "POST", format!("{L}/seedlayer/versions"), body(&v))
    };
    let zip = b64(&good_zip());
    cases.push(plv("no content source", json!({"Content": {}})).code(INVALID_PARAMETER));
    cases.push(
        plv("runtime unknown", json!({"Content": {"ZipFile": zip}, "CompatibleRuntimes": ["python9"]}))
            .code(VALIDATION),
    );
    cases.push(
        plv("16 runtimes", json!({"Content": {"ZipFile": zip}, "CompatibleRuntimes": vec!["python3.12"; 16]}))
            .code(VALIDATION),
    );
    cases.push(
        plv("architecture unknown", json!({"Content": {"ZipFile": zip}, "CompatibleArchitectures": ["arm"]}))
            .code(VALIDATION),
    );
    cases.push(
        plv(
            "3 architectures",
            json!({"Content": {"ZipFile": zip}, "CompatibleArchitectures": ["x86_64", "arm64", "x86_64"]}),
        )
        .code(VALIDATION),
    );
    cases.push(
        plv("license 513", json!({"Content": {"ZipFile": zip}, "LicenseInfo": "l".repeat(513)})).code(VALIDATION),
    );
    cases.push(
        plv("description 257", json!({"Content": {"ZipFile": zip}, "Description": "d".repeat(257)})).code(VALIDATION),
    );
    cases.push(plv("S3 bucket invalid", json!({"Content": {"S3Bucket": "B!", "S3Key": "k"}})).code(VALIDATION));
    let lp = format!("{}/policy", lv("1"));
    let alvp = |label: &str, v: Value| case(format!("AddLayerVersionPermission {label}"), "POST", lp.clone(), body(&v));
    let p = json!({"StatementId": "new-sid", "Action": "lambda:GetLayerVersion", "Principal": "*"});
    cases.push(alvp("existing statement", with(&p, "StatementId", json!("seed-layer-sid"))).exactly(409, CONFLICT));
    cases.push(alvp("action not GetLayerVersion", with(&p, "Action", json!("lambda:InvokeFunction"))).code(VALIDATION));
    cases.push(alvp("principal a service", with(&p, "Principal", json!("s3.amazonaws.com"))).code(VALIDATION));
    cases.push(alvp("org id bad", with(&p, "OrganizationId", json!("org"))).code(VALIDATION));
    cases.push(alvp("statement id with space", with(&p, "StatementId", json!("a b"))).code(VALIDATION));
    cases.push(
        case("AddLayerVersionPermission wrong revision", "POST", format!("{lp}?RevisionId=wrong"), body(&p))
            .exactly(412, PRECONDITION),
    );
    cases.push(
        case("RemoveLayerVersionPermission unknown statement", "DELETE", format!("{lp}/nope"), Vec::new())
            .code(NOT_FOUND),
    );
    cases.push(
        case(
            "RemoveLayerVersionPermission wrong revision",
            "DELETE",
            format!("{lp}/seed-layer-sid?RevisionId=wrong"),
            Vec::new(),
        )
        .exactly(412, PRECONDITION),
    );
    let by_arn = |arn: &str| format!("{L}?find=LayerVersion&Arn={}", path_escape(arn));
    cases.push(
        case("GetLayerVersionByArn no ARN", "GET", format!("{L}?find=LayerVersion"), Vec::new()).code(VALIDATION),
    );
    cases.push(case("GetLayerVersionByArn garbage", "GET", by_arn("garbage"), Vec::new()).code(VALIDATION));
    cases
        .push(case("GetLayerVersionByArn without version", "GET", by_arn(SEED_LAYER_ARN), Vec::new()).code(VALIDATION));
    cases.push(case("GetLayerVersionByArn function ARN", "GET", by_arn(SEED_ARN), Vec::new()).code(VALIDATION));
    cases.push(
        case("GetLayerVersionByArn missing version", "GET", by_arn(&format!("{SEED_LAYER_ARN}:99")), Vec::new())
            .code(NOT_FOUND),
    );
    cases.push(
        case(
            "GetLayerVersionByArn unknown layer",
            "GET",
            by_arn("arn:aws:lambda:us-east-1:000000000000:layer:nope:1"),
            Vec::new(),
        )
        .code(NOT_FOUND),
    );
    cases.push(case(
        "GetLayerVersionByArn huge version",
        "GET",
        by_arn(&format!("{SEED_LAYER_ARN}:99999999999999999999")),
        Vec::new(),
    ));
    // Layer version ARNs may be up to 2,048 characters (botocore 1.44.8).
    cases.push(
        case(
            "GetLayerVersionByArn 141 chars",
            "GET",
            by_arn(&format!("{SEED_LAYER_ARN}{}:1", "x".repeat(100))),
            Vec::new(),
        )
        .code(NOT_FOUND),
    );

    // Unknown paths and methods.
    for (method, path) in [
        ("GET", "/2015-03-31/nothing".to_string()),
        ("GET", "/2015-03-31/".to_string()),
        ("GET", "/".to_string()),
        ("GET", "/2099-01-01/functions".to_string()),
        ("GET", format!("{seed}/configuration/extra")),
        ("GET", format!("{seed}/nothing")),
        ("GET", format!("{F}//configuration")),
        ("PATCH", seed.clone()),
        ("POST", seed.clone()),
        ("PUT", F.to_string()),
        ("DELETE", F.to_string()),
        ("OPTIONS", F.to_string()),
        ("TRACE", F.to_string()),
        ("PATCH", format!("{L}/seedlayer/versions")),
        ("PUT", format!("{L}/seedlayer/versions/1")),
        ("POST", format!("{L}/seedlayer/versions/1")),
        ("GET", "/2015-03-31/functions%2Fseed".to_string()),
        ("GET", "/%2e%2e/%2e%2e/etc/passwd".to_string()),
        ("GET", "/2015-03-31/../2015-03-31/functions/seed/nothing".to_string()),
    ] {
        cases.push(case(format!("unknown route {method} {path}"), method, path, Vec::new()));
    }
    cases
}

// ------------------------------------------------------------------------------------------
// Running.

async fn seed(server: &Server) {
    let lambda = server.lambda();
    lambda
        .create_function()
        .function_name("seed")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .description("seeded")
        .environment(Environment::builder().variables("SEEDED", "yes").build())
        .tags("team", "seed")
        .code(
            FunctionCode::builder().zip_file(Blob::new(python_zip("def handler(e, c):\n    return 'seed'\n"))).build(),
        )
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "seed").await;
    lambda.publish_version().function_name("seed").description("v1").send().await.unwrap();
    lambda.create_alias().function_name("seed").name("live").function_version("1").send().await.unwrap();
    lambda
        .add_permission()
        .function_name("seed")
        .statement_id("seed-sid")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .send()
        .await
        .unwrap();
    lambda
        .publish_layer_version()
        .layer_name("seedlayer")
        .compatible_runtimes(Runtime::Python312)
        .content(
            LayerVersionContentInput::builder()
                .zip_file(Blob::new(zip_of(&[("python/seed.py", b"SEED = 1\n")])))
                .build(),
        )
        .send()
        .await
        .unwrap();
    lambda
        .add_layer_version_permission()
        .layer_name("seedlayer")
        .version_number(1)
        .statement_id("seed-layer-sid")
        .action("lambda:GetLayerVersion")
        .principal("*")
        .send()
        .await
        .unwrap();
}

/// The whole visible state: every function and version, aliases, policies, tags, layers.
async fn full_snapshot(server: &Server) -> Vec<(String, u16, String)> {
    lambda_snapshot(server, &["seed", "fresh", "nope"], &["seedlayer", "newlayer", "nope"]).await
}

/// A cheaper picture, taken after every mutating case.
async fn quick_snapshot(server: &Server) -> Vec<(String, u16, String)> {
    let mut out = Vec::new();
    for (label, path) in [
        ("ListFunctions ALL", format!("{F}?FunctionVersion=ALL")),
        ("ListLayers", L.to_string()),
        ("GetPolicy seed", format!("{F}/seed/policy")),
        ("ListAliases seed", format!("{F}/seed/aliases")),
        ("ListTags seed", format!("/2017-03-31/tags/{}", path_escape(SEED_ARN))),
        ("ListLayerVersions seedlayer", format!("{L}/seedlayer/versions")),
        ("GetLayerVersionPolicy seedlayer:1", format!("{L}/seedlayer/versions/1/policy")),
    ] {
        let r =
            server.raw_with("GET", &path, &[], Vec::new(), TIMEOUT).await.unwrap_or_else(|e| panic!("{label}: {e}"));
        out.push((label.to_string(), r.status, r.text()));
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…({} bytes)", &s[..end], s.len())
    }
}

/// Send one case; the ways it went wrong (empty when it was answered as it must be).
async fn check(server: &Server, c: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let started = Instant::now();
    let response = match server.raw_with(c.method, &c.path, &[], c.body.clone(), TIMEOUT).await {
        Ok(r) => r,
        Err(e) => return vec![format!("no answer after {:?}: {}", started.elapsed(), clip(&e, 300))],
    };
    let error_type = response.header("x-amzn-ErrorType").map(|t| t.split(':').next().unwrap_or("").to_string());
    if !(400..500).contains(&response.status) {
        problems.push(format!("status {}", response.status));
    }
    match &error_type {
        None => problems.push("no x-amzn-ErrorType header".into()),
        Some(t) if t.is_empty() => problems.push("empty x-amzn-ErrorType".into()),
        Some(_) => {}
    }
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(Value::Object(o)) => {
            let message = o.get("message").or_else(|| o.get("Message")).and_then(Value::as_str);
            if message.is_none_or(str::is_empty) {
                problems.push("JSON body without a message".into());
            }
        }
        _ => problems.push("body is not a JSON object".into()),
    }
    match c.expect {
        Expect::Any => {}
        Expect::Code(code) => {
            if error_type.as_deref() != Some(code) {
                problems.push(format!("expected {code}"));
            }
        }
        Expect::Exactly(status, code) => {
            if error_type.as_deref() != Some(code) || response.status != status {
                problems.push(format!("expected {status} {code}"));
            }
        }
    }
    if !problems.is_empty() {
        problems = vec![format!(
            "{} — got {} {:?} {}",
            problems.join(", "),
            response.status,
            error_type.unwrap_or_default(),
            clip(&response.text(), 300)
        )];
    }
    problems
}

fn describe(c: &Case) -> String {
    format!("[{}] {} {} body={}", c.label, c.method, clip(&c.path, 160), clip(&String::from_utf8_lossy(&c.body), 160))
}

#[tokio::test]
async fn bad_requests_are_refused_cleanly_and_change_nothing() {
    let server = Server::start();
    seed(&server).await;
    let model = Model::load();
    let cases = corpus(&model);
    let before = full_snapshot(&server).await;
    let mut quick = quick_snapshot(&server).await;
    let mut failures = Vec::new();
    for c in &cases {
        for problem in check(&server, c).await {
            failures.push(format!("{}\n    {problem}", describe(c)));
        }
        if c.method != "GET" {
            let now = quick_snapshot(&server).await;
            let diff = snapshot_diff(&quick, &now);
            if !diff.is_empty() {
                failures.push(format!("{}\n    CHANGED STATE:\n      {}", describe(c), diff.join("\n      ")));
                // A function created by mistake would turn later CreateFunction cases into
                // conflicts and hide their own answers: remove it.
                let _ = server.raw_with("DELETE", &format!("{F}/fresh"), &[], Vec::new(), TIMEOUT).await;
                quick = quick_snapshot(&server).await;
            }
        }
    }
    let after = full_snapshot(&server).await;
    let diff = snapshot_diff(&before, &after);
    if !diff.is_empty() {
        failures.push(format!("the corpus as a whole changed state:\n      {}", diff.join("\n      ")));
    }
    // The server still works.
    let lambda = server.lambda();
    lambda.get_function().function_name("seed").send().await.expect("server still answers");
    assert!(
        failures.is_empty(),
        "{} of {} bad requests were mishandled:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Bodies over Lambda's 70 MB request limit: 413, whatever they contain, before any parsing.
#[tokio::test]
async fn oversize_requests_are_413() {
    let server = Server::start();
    seed(&server).await;
    let before = full_snapshot(&server).await;
    // Just over AWS's limit for requests that carry code (70,167,211 bytes).
    let zip_b64 = b64(&noise(3, 52_700_000));
    // Bodies are built one at a time: together they would take half a gigabyte.
    let builds: Vec<(&str, &'static str, String)> = vec![
        ("CreateFunction 70.3 MB zip", "POST", F.to_string()),
        ("UpdateFunctionCode 70.3 MB zip", "PUT", format!("{F}/seed/code")),
        ("PublishLayerVersion 70.3 MB zip", "POST", format!("{L}/seedlayer/versions")),
        ("CreateFunction 71 MB of garbage", "POST", F.to_string()),
        ("UpdateFunctionConfiguration 71 MB description", "PUT", format!("{F}/seed/configuration")),
        ("AddPermission 71 MB of garbage", "POST", format!("{F}/seed/policy")),
        ("CreateFunction 85 MB", "POST", F.to_string()),
    ];
    let build = |i: usize| -> Vec<u8> {
        match i {
            0 => format!(
                r#"{{"FunctionName":"fresh","Runtime":"python3.12","Role":"{ROLE}","Handler":"index.handler","Code":{{"ZipFile":"{zip_b64}"}}}}"#
            )
            .into_bytes(),
            1 => format!(r#"{{"ZipFile":"{zip_b64}"}}"#).into_bytes(),
            2 => format!(r#"{{"Content":{{"ZipFile":"{zip_b64}"}}}}"#).into_bytes(),
            3 | 5 => vec![b'x'; 71_000_000],
            4 => format!(r#"{{"Description":"{}"}}"#, huge(71_000_000)).into_bytes(),
            _ => vec![b' '; 85 * 1024 * 1024],
        }
    };
    let total = builds.len();
    let mut failures = Vec::new();
    for (i, (label, method, path)) in builds.into_iter().enumerate() {
        let c = case(label, method, path, build(i)).exactly(413, TOO_LARGE);
        assert!(c.body.len() > 70_167_211, "{label}");
        for problem in check(&server, &c).await {
            failures.push(format!("{}\n    {problem}", describe(&c)));
        }
    }
    let after = full_snapshot(&server).await;
    let diff = snapshot_diff(&before, &after);
    if !diff.is_empty() {
        failures.push(format!("oversize requests changed state:\n      {}", diff.join("\n      ")));
    }
    server.lambda().get_function().function_name("seed").send().await.expect("server still answers");
    assert!(
        failures.is_empty(),
        "{} of {total} oversize requests were mishandled:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `{"Timeout": 5.0}`: AWS's deserializer takes an integral float for an integer. Either refuse
/// it and change nothing, or apply it; never answer success and keep the old value.
#[tokio::test]
async fn integral_floats_are_refused_or_applied() {
    let server = Server::start();
    seed(&server).await;
    for (member, value, read) in [("Timeout", json!(5.0), "Timeout"), ("MemorySize", json!(256.0), "MemorySize")] {
        let before = full_snapshot(&server).await;
        let r = server
            .raw_with("PUT", &format!("{F}/seed/configuration"), &[], body(&json!({member: value})), TIMEOUT)
            .await
            .unwrap();
        let now = server.raw_with("GET", &format!("{F}/seed/configuration"), &[], Vec::new(), TIMEOUT).await.unwrap();
        let config: Value = serde_json::from_slice(&now.body).unwrap();
        if (200..300).contains(&r.status) {
            assert_eq!(
                config[read].as_f64(),
                value.as_f64(),
                "{member}={value} answered {} but {read} is {}",
                r.status,
                config[read]
            );
            // The next update waits for this one to be applied, as on AWS.
            wait_updated(&server.lambda(), "seed").await;
        } else {
            assert!((400..500).contains(&r.status), "{member}={value}: {} {}", r.status, r.text());
            let diff = snapshot_diff(&before, &full_snapshot(&server).await);
            assert!(diff.is_empty(), "{member}={value} was refused but changed state:\n{}", diff.join("\n"));
        }
    }
}
