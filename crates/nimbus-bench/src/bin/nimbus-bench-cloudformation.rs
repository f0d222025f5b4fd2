//! `nimbus-bench-cloudformation`: CloudFormation figures over the query protocol — a
//! 100-resource stack (SQS queues, log groups and DynamoDB tables, in dependency chains)
//! created and deleted, timed from the request to the terminal status (polled every 5 ms) and
//! by the stack's own first and last events; and a SAM application (function + SQS event +
//! SimpleTable, through AWS's translator in a subprocess) created the same way.
//!
//! A measurement, not a test: it exits 0 once it has measured.

use std::time::{Duration, Instant};

use nimbus_bench::{encode_query, verdict, Args, Conn, Res, Server};

const TARGET_CREATE_S: f64 = 2.0;

fn main() {
    let args = Args::parse("nimbus-bench-cloudformation", &[]);
    nimbus_bench::block_on("nimbus-bench-cloudformation", run(&args.nimbus));
}

async fn call(conn: &mut Conn, action: &str, params: &[(&str, &str)]) -> Res<String> {
    let mut body = format!("Action={action}&Version=2010-05-15");
    for (k, v) in params {
        body.push_str(&format!("&{k}={}", encode_query(v)));
    }
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/cloudformation/aws4_request, SignedHeaders=host, Signature=0"),
    ];
    let (status, out) = conn.request_with("POST", "/", &headers, body.as_bytes()).await?;
    let text = String::from_utf8_lossy(&out).into_owned();
    if status != 200 {
        return Err(format!("{action} answered {status}: {text}"));
    }
    Ok(text)
}

fn between<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// Poll until the stack leaves `*_IN_PROGRESS`; the status and the time it took.
async fn settle(conn: &mut Conn, stack: &str, started: Instant) -> Res<(String, Duration)> {
    loop {
        let xml = call(conn, "DescribeStacks", &[("StackName", stack)]).await?;
        let status = between(&xml, "StackStatus").unwrap_or_default().to_string();
        if !status.ends_with("_IN_PROGRESS") {
            return Ok((status, started.elapsed()));
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(format!("{stack} still {status} after 300 s"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The span between the stack's first and last events, as nimbus stamped them.
async fn event_span(conn: &mut Conn, stack: &str) -> Res<f64> {
    let xml = call(conn, "DescribeStackEvents", &[("StackName", stack)]).await?;
    let stamps: Vec<&str> = xml.split("<Timestamp>").skip(1).filter_map(|s| s.split("</Timestamp>").next()).collect();
    let parse = |s: &str| -> f64 {
        // 2026-01-01T00:00:00.123Z → seconds of the day (runs never cross midnight here).
        let time = s.split('T').nth(1).unwrap_or("0:0:0Z").trim_end_matches('Z');
        let parts: Vec<f64> = time.split(':').map(|p| p.parse().unwrap_or(0.0)).collect();
        parts.first().unwrap_or(&0.0) * 3600.0 + parts.get(1).unwrap_or(&0.0) * 60.0 + parts.get(2).unwrap_or(&0.0)
    };
    let times: Vec<f64> = stamps.iter().map(|s| parse(s)).collect();
    let max = times.iter().cloned().fold(f64::MIN, f64::max);
    let min = times.iter().cloned().fold(f64::MAX, f64::min);
    Ok(max - min)
}

/// 40 queues, 40 log groups named after them, 20 tables: 100 resources in 2–3 waves.
fn hundred_resources() -> String {
    let mut resources = serde_json::Map::new();
    for i in 0..40 {
        resources.insert(
            format!("Queue{i}"),
            serde_json::json!({"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30 + i}}),
        );
        resources.insert(
            format!("Logs{i}"),
            serde_json::json!({"Type": "AWS::Logs::LogGroup", "Properties": {
                "LogGroupName": {"Fn::Sub": format!("/bench/${{Queue{i}.QueueName}}")}, "RetentionInDays": 7}}),
        );
    }
    for i in 0..20 {
        resources.insert(
            format!("Table{i}"),
            serde_json::json!({"Type": "AWS::DynamoDB::Table", "DependsOn": format!("Logs{i}"), "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}}),
        );
    }
    serde_json::json!({"Resources": resources}).to_string()
}

const SAM_APP: &str = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Jobs:
    Type: AWS::SQS::Queue
  Items:
    Type: AWS::Serverless::SimpleTable
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: "def handler(event, context):\n    return 1\n"
      Environment: {Variables: {TABLE: !Ref Items}}
      Events:
        FromQueue: {Type: SQS, Properties: {Queue: !GetAtt Jobs.Arn}}
"#;

async fn run(nimbus: &str) -> Res<()> {
    let server = Server::start(nimbus).await?;
    let mut conn = Conn::connect(server.port).await?;

    let template = hundred_resources();
    let started = Instant::now();
    call(&mut conn, "CreateStack", &[("StackName", "bench100"), ("TemplateBody", &template)]).await?;
    let (status, took) = settle(&mut conn, "bench100", started).await?;
    let span = event_span(&mut conn, "bench100").await?;
    println!(
        "100-resource stack create: {status} in {:.3} s (events span {span:.3} s; target <= {TARGET_CREATE_S} s: {})",
        took.as_secs_f64(),
        verdict(took.as_secs_f64() <= TARGET_CREATE_S)
    );
    let xml = call(&mut conn, "DescribeStacks", &[("StackName", "bench100")]).await?;
    let id = between(&xml, "StackId").unwrap_or_default().to_string();
    let started = Instant::now();
    call(&mut conn, "DeleteStack", &[("StackName", "bench100")]).await?;
    let (status, took) = settle(&mut conn, &id, started).await?;
    println!("100-resource stack delete: {status} in {:.3} s", took.as_secs_f64());

    let started = Instant::now();
    call(
        &mut conn,
        "CreateStack",
        &[
            ("StackName", "samapp"),
            ("TemplateBody", SAM_APP),
            ("Capabilities.member.1", "CAPABILITY_IAM"),
            ("Capabilities.member.2", "CAPABILITY_AUTO_EXPAND"),
        ],
    )
    .await?;
    let transformed = started.elapsed();
    let (status, took) = settle(&mut conn, "samapp", started).await?;
    println!(
        "SAM app (function + SQS event + SimpleTable) create: {status} in {:.3} s server time (of which the SAM transform {:.3} s)",
        took.as_secs_f64(),
        transformed.as_secs_f64()
    );
    Ok(())
}
