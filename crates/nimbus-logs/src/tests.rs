use serde_json::{json, Value};

use super::*;

const NOW: i64 = 1_700_000_000_000;

fn logs() -> Logs {
    Logs::open(None, Clock::new()).unwrap()
}

/// Validate like the HTTP front, then run.
fn run(logs: &Logs, op: &str, input: Value) -> Result<Value> {
    run_at(logs, op, input, NOW)
}

fn run_at(logs: &Logs, op: &str, input: Value, now: i64) -> Result<Value> {
    precheck(op, &input)?;
    let operation = model().operation(op).expect("an operation of the model");
    model().validate(operation, &input).map_err(|e| logs.model_error(e))?;
    logs.call("111111111111", "us-east-1", now, op, &input)
}

fn setup(logs: &Logs) {
    run(logs, "CreateLogGroup", json!({"logGroupName": "g"})).unwrap();
    run(logs, "CreateLogStream", json!({"logGroupName": "g", "logStreamName": "s"})).unwrap();
}

fn put(logs: &Logs, events: &[(i64, &str)]) -> Value {
    let events: Vec<Value> = events.iter().map(|(t, m)| json!({"timestamp": t, "message": m})).collect();
    run(logs, "PutLogEvents", json!({"logGroupName": "g", "logStreamName": "s", "logEvents": events})).unwrap()
}

fn messages(v: &Value) -> Vec<String> {
    v["events"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_string()).collect()
}

#[test]
fn groups_create_describe_delete() {
    let l = logs();
    setup(&l);
    let err = run(&l, "CreateLogGroup", json!({"logGroupName": "g"})).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("ResourceAlreadyExistsException", "The specified log group already exists")
    );
    let out = run(&l, "DescribeLogGroups", json!({})).unwrap();
    let g = &out["logGroups"][0];
    assert_eq!(g["arn"], "arn:aws:logs:us-east-1:111111111111:log-group:g:*");
    assert_eq!(g["logGroupArn"], "arn:aws:logs:us-east-1:111111111111:log-group:g");
    assert_eq!(g["logGroupClass"], "STANDARD");
    assert_eq!(g["creationTime"], NOW);
    run(&l, "DeleteLogGroup", json!({"logGroupName": "g"})).unwrap();
    let err = run(&l, "DeleteLogGroup", json!({"logGroupName": "g"})).unwrap_err();
    assert_eq!(err.message, "The specified log group does not exist.");
}

#[test]
fn validation_messages() {
    let l = logs();
    let err = run(&l, "CreateLogGroup", json!({"logGroupName": "a:b"})).unwrap_err();
    assert_eq!(err.code, "InvalidParameterException");
    assert_eq!(err.message, "1 validation error detected: Value 'a:b' at 'logGroupName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+");
    let err = run(&l, "DescribeLogGroups", json!({"logGroupNamePrefix": ""})).unwrap_err();
    assert!(err.message.starts_with("2 validation errors detected"), "{}", err.message);
    let err = run(&l, "CreateLogGroup", json!({})).unwrap_err();
    assert_eq!(err.message, "1 validation error detected: Value null at 'logGroupName' failed to satisfy constraint: Member must not be null");
    let err = run(&l, "CreateLogGroup", json!({"logGroupName": "x".repeat(513)})).unwrap_err();
    assert_eq!(err.message, "Invalid LogGroup or LogStream, both must have length less than or equal to 512.");
    let err = run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s", "limit": 10001})).unwrap_err();
    assert_eq!(err.message, "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000");
    let err = run(&l, "DescribeLogGroups", json!({"limit": "x"})).unwrap_err();
    assert_eq!(err.code, "SerializationException");
    let err = run(&l, "DescribeLogGroups", json!({"logGroupNamePrefix": "a", "logGroupNamePattern": "b"})).unwrap_err();
    assert_eq!(err.message, "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
}

#[test]
fn describe_groups_paginates_and_filters() {
    let l = logs();
    for name in ["a/1", "a/2", "b/1", "c/DataLogs"] {
        run(&l, "CreateLogGroup", json!({"logGroupName": name})).unwrap();
    }
    let page = run(&l, "DescribeLogGroups", json!({"limit": 2})).unwrap();
    assert_eq!(page["logGroups"].as_array().unwrap().len(), 2);
    let token = page["nextToken"].as_str().unwrap();
    let page2 = run(&l, "DescribeLogGroups", json!({"limit": 2, "nextToken": token})).unwrap();
    assert_eq!(page2["logGroups"][0]["logGroupName"], "b/1");
    assert!(page2.get("nextToken").is_none());
    let pre = run(&l, "DescribeLogGroups", json!({"logGroupNamePrefix": "a/"})).unwrap();
    assert_eq!(pre["logGroups"].as_array().unwrap().len(), 2);
    let pat = run(&l, "DescribeLogGroups", json!({"logGroupNamePattern": "Data"})).unwrap();
    assert_eq!(pat["logGroups"][0]["logGroupName"], "c/DataLogs");
    assert!(pat["logGroups"][0].get("storedBytes").is_none());
}

#[test]
fn streams() {
    let l = logs();
    setup(&l);
    let err = run(&l, "CreateLogStream", json!({"logGroupName": "g", "logStreamName": "s"})).unwrap_err();
    assert_eq!(err.message, "The specified log stream already exists");
    run(&l, "CreateLogStream", json!({"logGroupName": "g", "logStreamName": "t"})).unwrap();
    put(&l, &[(NOW - 10, "x")]);
    let out =
        run(&l, "DescribeLogStreams", json!({"logGroupName": "g", "orderBy": "LastEventTime", "descending": true}))
            .unwrap();
    assert_eq!(out["logStreams"][0]["logStreamName"], "s");
    assert_eq!(out["logStreams"][0]["lastEventTimestamp"], NOW - 10);
    assert_eq!(out["logStreams"][0]["arn"], "arn:aws:logs:us-east-1:111111111111:log-group:g:log-stream:s");
    let err = run(&l, "DescribeLogStreams", json!({"logGroupName": "g", "logGroupIdentifier": "g"})).unwrap_err();
    assert_eq!(err.code, "ValidationException");
    let err = run(
        &l,
        "DescribeLogStreams",
        json!({"logGroupName": "g", "orderBy": "LastEventTime", "logStreamNamePrefix": "s"}),
    )
    .unwrap_err();
    assert_eq!(err.code, "InvalidParameterException");
    let by_arn = run(
        &l,
        "DescribeLogStreams",
        json!({"logGroupIdentifier": "arn:aws:logs:us-east-1:111111111111:log-group:g", "limit": 1}),
    )
    .unwrap();
    assert_eq!(by_arn["logStreams"][0]["logStreamName"], "s");
    let next =
        run(&l, "DescribeLogStreams", json!({"logGroupName": "g", "limit": 1, "nextToken": by_arn["nextToken"]}))
            .unwrap();
    assert_eq!(next["logStreams"][0]["logStreamName"], "t");
    run(&l, "DeleteLogStream", json!({"logGroupName": "g", "logStreamName": "s"})).unwrap();
    let err = run(&l, "DeleteLogStream", json!({"logGroupName": "g", "logStreamName": "s"})).unwrap_err();
    assert_eq!(err.message, "The specified log stream does not exist.");
}

#[test]
fn put_rules() {
    let l = logs();
    setup(&l);
    let err = run(
        &l,
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "logEvents": [
        {"timestamp": NOW, "message": "b"}, {"timestamp": NOW - 1, "message": "a"}]}),
    )
    .unwrap_err();
    assert_eq!(err.message, "Log events in a single PutLogEvents request must be in chronological order.");
    let err = run(
        &l,
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "nope", "logEvents": [{"timestamp": NOW, "message": "a"}]}),
    )
    .unwrap_err();
    assert_eq!(err.message, "The specified log stream does not exist.");
    let big = "x".repeat(600_000);
    let err = run(
        &l,
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "logEvents": [
        {"timestamp": NOW, "message": big}, {"timestamp": NOW, "message": big}]}),
    )
    .unwrap_err();
    assert!(err.message.starts_with("Upload too large"), "{}", err.message);
    let out = put(&l, &[(NOW - 15 * 86_400_000 - 1000, "old"), (NOW - 15 * 86_400_000 + 1000, "old2")]);
    assert_eq!(out["rejectedLogEventsInfo"], json!({"tooOldLogEventEndIndex": 2}));
    let out = put(&l, &[(NOW, "ok"), (NOW + 3 * 3_600_000, "new")]);
    assert_eq!(out["rejectedLogEventsInfo"], json!({"tooNewLogEventStartIndex": 1}));
    let err = run(
        &l,
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "logEvents": [
        {"timestamp": NOW - 25 * 3_600_000, "message": "a"}, {"timestamp": NOW, "message": "b"}]}),
    )
    .unwrap_err();
    assert!(err.message.contains("cannot span more than 24 hours"));
    assert_eq!(out["nextSequenceToken"].as_str().unwrap().len(), 56);
    let got = run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s"})).unwrap();
    assert_eq!(messages(&got), vec!["ok"]);
}

#[test]
fn get_log_events_tokens() {
    let l = logs();
    setup(&l);
    put(&l, &[(NOW - 5, "1"), (NOW - 4, "2"), (NOW - 3, "3")]);
    put(&l, &[(NOW - 2, "4"), (NOW - 1, "5")]);
    let head =
        run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s", "startFromHead": true, "limit": 2}))
            .unwrap();
    assert_eq!(messages(&head), vec!["1", "2"]);
    let f = head["nextForwardToken"].as_str().unwrap();
    assert!(f.starts_with("f/") && f.ends_with("/s"));
    let p2 = run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s", "nextToken": f, "limit": 2}))
        .unwrap();
    assert_eq!(messages(&p2), vec!["3", "4"]);
    let p3 = run(
        &l,
        "GetLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "nextToken": p2["nextForwardToken"], "limit": 2}),
    )
    .unwrap();
    assert_eq!(messages(&p3), vec!["5"]);
    let end = p3["nextForwardToken"].clone();
    let p4 = run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s", "nextToken": end, "limit": 2}))
        .unwrap();
    assert!(messages(&p4).is_empty());
    assert_eq!(p4["nextForwardToken"], end, "same token at the end");
    // Default is the tail; backward pages go back in time.
    let tail = run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s", "limit": 2})).unwrap();
    assert_eq!(messages(&tail), vec!["4", "5"]);
    let back = run(
        &l,
        "GetLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "limit": 2, "nextToken": tail["nextBackwardToken"]}),
    )
    .unwrap();
    assert_eq!(messages(&back), vec!["2", "3"]);
    let window = run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s", "startTime": NOW - 4, "endTime": NOW - 2, "startFromHead": true})).unwrap();
    assert_eq!(messages(&window), vec!["2", "3"]);
    let err =
        run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s", "nextToken": "bogus"})).unwrap_err();
    assert_eq!(err.message, "The specified nextToken is invalid.");
}

#[test]
fn filter_log_events_patterns_and_pages() {
    let l = logs();
    setup(&l);
    run(&l, "CreateLogStream", json!({"logGroupName": "g", "logStreamName": "t"})).unwrap();
    put(
        &l,
        &[
            (NOW - 3, "ERROR disk full"),
            (NOW - 2, r#"{"level": "warn", "n": 7, "user": {"id": "abc-1"}}"#),
            (NOW - 1, "INFO ok"),
        ],
    );
    let f = |pattern: &str| {
        messages(&run(&l, "FilterLogEvents", json!({"logGroupName": "g", "filterPattern": pattern})).unwrap())
    };
    assert_eq!(f("ERROR"), vec!["ERROR disk full"]);
    assert_eq!(f("?ERROR ?INFO").len(), 2);
    assert_eq!(f("\"disk full\""), vec!["ERROR disk full"]);
    assert_eq!(f("-ERROR").len(), 2);
    assert_eq!(f("error"), Vec::<String>::new());
    assert_eq!(f("{ $.level = \"warn\" }").len(), 1);
    assert_eq!(f("{ $.n > 5 && $.user.id = abc* }").len(), 1);
    assert_eq!(f("{ $.n < 5 || $.missing NOT EXISTS }").len(), 1);
    assert_eq!(f("{ $.level IS NULL }").len(), 0);
    assert_eq!(f("[level, ...]").len(), 3);
    assert_eq!(f("[level=INFO, status]"), vec!["INFO ok"]);
    let err = run(&l, "FilterLogEvents", json!({"logGroupName": "g", "filterPattern": "a:b"})).unwrap_err();
    assert_eq!(err.message, "Invalid character(s) in term ':'");
    let p1 = run(&l, "FilterLogEvents", json!({"logGroupName": "g", "limit": 2})).unwrap();
    assert_eq!(p1["events"][0]["logStreamName"], "s");
    assert_eq!(p1["events"][0]["eventId"].as_str().unwrap().len(), 56);
    let p2 =
        run(&l, "FilterLogEvents", json!({"logGroupName": "g", "limit": 2, "nextToken": p1["nextToken"]})).unwrap();
    assert_eq!(messages(&p2), vec!["INFO ok"]);
    assert!(p2.get("nextToken").is_none());
    let none = run(&l, "FilterLogEvents", json!({"logGroupName": "g", "logStreamNames": ["t"]})).unwrap();
    assert!(messages(&none).is_empty());
}

#[test]
fn retention_hides_and_purges() {
    let l = logs();
    setup(&l);
    put(&l, &[(NOW - 2 * 86_400_000, "older")]);
    put(&l, &[(NOW, "fresh")]);
    let err = run(&l, "PutRetentionPolicy", json!({"logGroupName": "g", "retentionInDays": 2})).unwrap_err();
    assert!(err.message.contains("Member must satisfy enum value set: [1, 3, 5"), "{}", err.message);
    run(&l, "PutRetentionPolicy", json!({"logGroupName": "g", "retentionInDays": 1})).unwrap();
    let d = run(&l, "DescribeLogGroups", json!({})).unwrap();
    assert_eq!(d["logGroups"][0]["retentionInDays"], 1);
    let got = run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s"})).unwrap();
    assert_eq!(messages(&got), vec!["fresh"]);
    let out = put(&l, &[(NOW - 86_400_000 - 5, "expired"), (NOW - 10, "fine")]);
    assert_eq!(out["rejectedLogEventsInfo"]["expiredLogEventEndIndex"], 1);
    // Two days later on the clock, everything is gone.
    let later = run_at(&l, "FilterLogEvents", json!({"logGroupName": "g"}), NOW + 2 * 86_400_000).unwrap();
    assert!(messages(&later).is_empty());
    run(&l, "DeleteRetentionPolicy", json!({"logGroupName": "g"})).unwrap();
    let d = run(&l, "DescribeLogGroups", json!({})).unwrap();
    assert!(d["logGroups"][0].get("retentionInDays").is_none());
}

#[test]
fn tags_both_apis() {
    let l = logs();
    run(&l, "CreateLogGroup", json!({"logGroupName": "g", "tags": {"env": "t1"}})).unwrap();
    let arn = "arn:aws:logs:us-east-1:111111111111:log-group:g";
    run(&l, "TagResource", json!({"resourceArn": arn, "tags": {"a": "1"}})).unwrap();
    run(&l, "TagLogGroup", json!({"logGroupName": "g", "tags": {"b": "2"}})).unwrap();
    let t = run(&l, "ListTagsLogGroup", json!({"logGroupName": "g"})).unwrap();
    assert_eq!(t["tags"], json!({"a": "1", "b": "2", "env": "t1"}));
    run(&l, "UntagLogGroup", json!({"logGroupName": "g", "tags": ["a"]})).unwrap();
    run(&l, "UntagResource", json!({"resourceArn": arn, "tagKeys": ["env"]})).unwrap();
    let t = run(&l, "ListTagsForResource", json!({"resourceArn": arn})).unwrap();
    assert_eq!(t["tags"], json!({"b": "2"}));
    let err =
        run(&l, "ListTagsForResource", json!({"resourceArn": "arn:aws:logs:us-east-1:111111111111:log-group:nope"}))
            .unwrap_err();
    assert_eq!(err.code, "ResourceNotFoundException");
}

#[test]
fn sink_creates_and_caps() {
    let l = logs();
    let ev = |i: i64| LogEvent { timestamp: NOW + i, message: format!("m{i}") };
    l.put("111111111111", "us-east-1", "/aws/lambda/f", "2024/01/01/[$LATEST]abc", (0..3).map(ev).collect());
    let got =
        run(&l, "GetLogEvents", json!({"logGroupName": "/aws/lambda/f", "logStreamName": "2024/01/01/[$LATEST]abc"}))
            .unwrap();
    assert_eq!(messages(&got), vec!["m0", "m1", "m2"]);
    let big: Vec<LogEvent> = (0..state::MAX_EVENTS_PER_STREAM as i64 + 5).map(ev).collect();
    l.put("111111111111", "us-east-1", "/aws/lambda/f", "x", big);
    let store = l.store.lock();
    let s = &store.groups("111111111111", "us-east-1").unwrap()["/aws/lambda/f"].streams["x"];
    assert_eq!(s.events.len(), state::MAX_EVENTS_PER_STREAM);
    assert_eq!(s.events.front().unwrap().timestamp, NOW + 5);
}

#[test]
fn a_stream_keeps_at_most_its_byte_cap() {
    let l = logs();
    // 200 events of 1 MiB each: 200 MiB offered, the newest 64 MiB kept.
    let mib = "x".repeat(1024 * 1024);
    for batch in 0..20i64 {
        let events = (0..10).map(|i| LogEvent { timestamp: NOW + batch * 10 + i, message: mib.clone() }).collect();
        l.put("111111111111", "us-east-1", "/aws/lambda/f", "flood", events);
    }
    let store = l.store.lock();
    let s = &store.groups("111111111111", "us-east-1").unwrap()["/aws/lambda/f"].streams["flood"];
    assert!(s.stored_bytes() <= state::MAX_BYTES_PER_STREAM);
    assert_eq!(s.stored_bytes(), s.events.iter().map(|e| e.message.len() as u64).sum::<u64>());
    assert_eq!(s.events.len() as u64, state::MAX_BYTES_PER_STREAM / (1024 * 1024));
    assert_eq!(s.events.back().unwrap().timestamp, NOW + 199, "the newest events are kept");
}

#[test]
fn persistence_round_trip() {
    let dir = std::env::temp_dir().join(format!("nimbus-logs-test-{:016x}", rand::random::<u64>()));
    {
        let l = Logs::open(Some(&dir), Clock::new()).unwrap();
        setup(&l);
        run(&l, "CreateLogStream", json!({"logGroupName": "g", "logStreamName": "gone"})).unwrap();
        put(&l, &[(NOW - 1, "a"), (NOW, "b")]);
        run(&l, "TagLogGroup", json!({"logGroupName": "g", "tags": {"k": "v"}})).unwrap();
        run(&l, "DeleteLogStream", json!({"logGroupName": "g", "logStreamName": "gone"})).unwrap();
        l.put(
            "111111111111",
            "us-east-1",
            "/aws/lambda/f",
            "s",
            vec![LogEvent { timestamp: NOW, message: "hi".into() }],
        );
    }
    let l = Logs::open(Some(&dir), Clock::new()).unwrap();
    let got = run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s"})).unwrap();
    assert_eq!(messages(&got), vec!["a", "b"]);
    let streams = run(&l, "DescribeLogStreams", json!({"logGroupName": "g"})).unwrap();
    assert_eq!(streams["logStreams"].as_array().unwrap().len(), 1);
    assert_eq!(run(&l, "ListTagsLogGroup", json!({"logGroupName": "g"})).unwrap()["tags"], json!({"k": "v"}));
    let lam = run(&l, "GetLogEvents", json!({"logGroupName": "/aws/lambda/f", "logStreamName": "s"})).unwrap();
    assert_eq!(messages(&lam), vec!["hi"]);
    // New events after a restart continue the sequence.
    put(&l, &[(NOW + 1, "c")]);
    let got = run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s"})).unwrap();
    assert_eq!(messages(&got), vec!["a", "b", "c"]);
    drop(l);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn pages_hold_at_most_one_megabyte_of_events() {
    let l = logs();
    setup(&l);
    let big = "x".repeat(200 * 1024);
    for batch in 0..3 {
        let events: Vec<(i64, &str)> = (0..4).map(|i| (NOW - 10_000 + batch * 10 + i, big.as_str())).collect();
        put(&l, &events);
    }
    // 12 events of 200 KiB: 5 fit in 1 MB (5 × (204,800 + 26) ≤ 1,048,576 < 6 × …).
    let first =
        run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s", "startFromHead": true})).unwrap();
    assert_eq!(messages(&first).len(), 5);
    let token = first["nextForwardToken"].as_str().unwrap();
    let second =
        run(&l, "GetLogEvents", json!({"logGroupName": "g", "logStreamName": "s", "nextToken": token})).unwrap();
    assert_eq!(messages(&second).len(), 5);
    let filtered = run(&l, "FilterLogEvents", json!({"logGroupName": "g"})).unwrap();
    assert_eq!(messages(&filtered).len(), 5);
    assert!(filtered["nextToken"].is_string(), "a truncated page says there is more");
}
