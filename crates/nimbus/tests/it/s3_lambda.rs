//! S3 with the services around it: Lambda code from S3 (functions and layers) and bucket
//! notifications to SQS (with `s3:TestEvent`) and to a Python function.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{DestinationConfig, FunctionCode, InvocationType, OnSuccess, Runtime};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
};

use crate::harness::*;
use crate::sqs_esm::{queue, sqs};

const ECHO: &str = "def handler(event, context):\n    return {'got': event}\n";

#[tokio::test]
async fn functions_and_layers_deploy_from_s3() {
    let server = Server::start();
    let (s3, lambda) = (server.s3(), server.lambda());
    s3.create_bucket().bucket("deploys").send().await.unwrap();
    s3.put_object().bucket("deploys").key("app.zip").body(ByteStream::from(python_zip(ECHO))).send().await.unwrap();
    lambda
        .create_function()
        .function_name("from-s3")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(FunctionCode::builder().s3_bucket("deploys").s3_key("app.zip").build())
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "from-s3").await;
    let out = lambda.invoke().function_name("from-s3").payload(Blob::new(r#"{"a":1}"#)).send().await.unwrap();
    let value: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(value, serde_json::json!({"got": {"a": 1}}));

    let err = lambda
        .create_function()
        .function_name("missing-key")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(FunctionCode::builder().s3_bucket("deploys").s3_key("nope.zip").build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
    assert_eq!(
        aws_sdk_lambda::error::ProvideErrorMetadata::message(&err),
        Some("Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist.")
    );
    let err = lambda
        .update_function_code()
        .function_name("from-s3")
        .s3_bucket("no-such-bucket")
        .s3_key("app.zip")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_lambda::error::ProvideErrorMetadata::message(&err),
        Some("Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist")
    );

    // New code from S3 replaces the old.
    let v2 = "def handler(event, context):\n    return 'v2'\n";
    s3.put_object().bucket("deploys").key("v2.zip").body(ByteStream::from(python_zip(v2))).send().await.unwrap();
    lambda.update_function_code().function_name("from-s3").s3_bucket("deploys").s3_key("v2.zip").send().await.unwrap();
    let out = lambda.invoke().function_name("from-s3").send().await.unwrap();
    assert_eq!(out.payload().unwrap().as_ref(), b"\"v2\"");

    let layer = zip_of(&[("python/helper.py", b"X = 1\n")]);
    s3.put_object().bucket("deploys").key("layer.zip").body(ByteStream::from(layer.clone())).send().await.unwrap();
    let published = lambda
        .publish_layer_version()
        .layer_name("helpers")
        .content(
            aws_sdk_lambda::types::LayerVersionContentInput::builder().s3_bucket("deploys").s3_key("layer.zip").build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(published.content().unwrap().code_size(), layer.len() as i64);
}

fn filter(prefix: &str, suffix: &str) -> NotificationConfigurationFilter {
    NotificationConfigurationFilter::builder()
        .key(
            S3KeyFilter::builder()
                .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value(prefix).build())
                .filter_rules(FilterRule::builder().name(FilterRuleName::Suffix).value(suffix).build())
                .build(),
        )
        .build()
}

async fn receive_one(sqs: &aws_sdk_sqs::Client, url: &str) -> serde_json::Value {
    for _ in 0..10 {
        let got = sqs.receive_message().queue_url(url).wait_time_seconds(5).send().await.unwrap();
        if let Some(m) = got.messages().first() {
            sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
            return serde_json::from_str(m.body().unwrap()).unwrap();
        }
    }
    panic!("no message arrived on {url}");
}

#[tokio::test]
async fn notifications_reach_sqs_with_a_test_event_and_records() {
    let server = Server::start();
    let (s3, sqs) = (server.s3(), sqs(&server));
    let (url, arn) = queue(&sqs, "s3-events", &[]).await;
    s3.create_bucket().bucket("notifying").send().await.unwrap();
    s3.put_bucket_notification_configuration()
        .bucket("notifying")
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .id("uploads")
                        .queue_arn(&arn)
                        .events(Event::S3ObjectCreated)
                        .events(Event::S3ObjectRemovedDelete)
                        .filter(filter("in/", ".txt"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let test = receive_one(&sqs, &url).await;
    assert_eq!(test["Event"], "s3:TestEvent");
    assert_eq!(test["Bucket"], "notifying");
    assert_eq!(test["Service"], "Amazon S3");

    s3.put_object().bucket("notifying").key("skip.bin").body(ByteStream::from_static(b"no")).send().await.unwrap();
    s3.put_object()
        .bucket("notifying")
        .key("in/a file.txt")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    let event = receive_one(&sqs, &url).await;
    let record = &event["Records"][0];
    assert_eq!(record["eventVersion"], "2.1");
    assert_eq!(record["eventSource"], "aws:s3");
    assert_eq!(record["awsRegion"], REGION);
    assert_eq!(record["eventName"], "ObjectCreated:Put");
    assert_eq!(record["s3"]["configurationId"], "uploads");
    assert_eq!(record["s3"]["bucket"]["name"], "notifying");
    assert_eq!(record["s3"]["bucket"]["arn"], "arn:aws:s3:::notifying");
    assert_eq!(record["s3"]["object"]["key"], "in/a+file.txt");
    assert_eq!(record["s3"]["object"]["size"], 5);
    assert_eq!(record["s3"]["object"]["eTag"], "5d41402abc4b2a76b9719d911017c592");
    assert!(record["s3"]["object"]["sequencer"].as_str().is_some_and(|s| !s.is_empty()));
    for field in ["eventTime", "userIdentity", "requestParameters", "responseElements"] {
        assert!(!record[field].is_null(), "{field} missing in {record}");
    }
    s3.delete_object().bucket("notifying").key("in/a file.txt").send().await.unwrap();
    let removed = receive_one(&sqs, &url).await;
    assert_eq!(removed["Records"][0]["eventName"], "ObjectRemoved:Delete");

    // A queue that does not exist cannot be validated.
    let err = s3
        .put_bucket_notification_configuration()
        .bucket("notifying")
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(
                    QueueConfiguration::builder()
                        .queue_arn("arn:aws:sqs:us-east-1:000000000000:nope")
                        .events(Event::S3ObjectCreated)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::code(&err), Some("InvalidArgument"));
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::message(&err),
        Some("Unable to validate the following destination configurations")
    );
}

#[tokio::test]
async fn notifications_invoke_a_python_function_allowed_by_its_policy() {
    let server = Server::start();
    let (s3, lambda, sqs) = (server.s3(), server.lambda(), sqs(&server));
    let (url, results) = queue(&sqs, "handled", &[]).await;
    let handler = "def handler(event, context):\n    r = event['Records'][0]\n    return {'key': r['s3']['object']['key'], 'name': r['eventName']}\n";
    lambda
        .create_function()
        .function_name("on-upload")
        .runtime(Runtime::Python312)
        .role(ROLE)
        .handler("index.handler")
        .code(FunctionCode::builder().zip_file(Blob::new(python_zip(handler))).build())
        .send()
        .await
        .unwrap();
    wait_updated(&lambda, "on-upload").await;
    lambda
        .put_function_event_invoke_config()
        .function_name("on-upload")
        .destination_config(
            DestinationConfig::builder().on_success(OnSuccess::builder().destination(&results).build()).build(),
        )
        .send()
        .await
        .unwrap();
    let function_arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:on-upload");
    s3.create_bucket().bucket("triggers").send().await.unwrap();
    let config = NotificationConfiguration::builder()
        .lambda_function_configurations(
            LambdaFunctionConfiguration::builder()
                .lambda_function_arn(&function_arn)
                .events(Event::S3ObjectCreatedPut)
                .build()
                .unwrap(),
        )
        .build();
    s3.put_bucket_notification_configuration()
        .bucket("triggers")
        .notification_configuration(config)
        .send()
        .await
        .unwrap();

    // Without a policy statement for s3.amazonaws.com, nothing is invoked.
    s3.put_object().bucket("triggers").key("first").body(ByteStream::from_static(b"1")).send().await.unwrap();
    lambda
        .add_permission()
        .function_name("on-upload")
        .statement_id("s3")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn("arn:aws:s3:::triggers")
        .send()
        .await
        .unwrap();
    s3.put_object().bucket("triggers").key("second").body(ByteStream::from_static(b"2")).send().await.unwrap();
    let done = receive_one(&sqs, &url).await;
    assert_eq!(done["responsePayload"], serde_json::json!({"key": "second", "name": "ObjectCreated:Put"}));
    assert_eq!(done["requestPayload"]["Records"][0]["eventSource"], "aws:s3");
    let _ = InvocationType::Event;
}

#[tokio::test]
async fn notifications_reach_an_sns_topic_its_policy_allows_and_the_default_event_bus() {
    use aws_sdk_s3::types::{EventBridgeConfiguration, TopicConfiguration};
    let server = Server::start();
    let (s3, sqs, sns) = (server.s3(), sqs(&server), crate::sns::sns(&server));
    let (url, queue_arn) = queue(&sqs, "via-topic", &[]).await;
    let topic = sns.create_topic().name("uploads").send().await.unwrap().topic_arn().unwrap().to_string();
    sns.subscribe().topic_arn(&topic).protocol("sqs").endpoint(&queue_arn).send().await.unwrap();
    s3.create_bucket().bucket("to-topic").send().await.unwrap();
    let config = NotificationConfiguration::builder()
        .topic_configurations(
            TopicConfiguration::builder().id("t").topic_arn(&topic).events(Event::S3ObjectCreated).build().unwrap(),
        )
        .build();
    // The default topic policy does not let S3 publish.
    let err = s3
        .put_bucket_notification_configuration()
        .bucket("to-topic")
        .notification_configuration(config.clone())
        .send()
        .await
        .unwrap_err();
    let err = err.into_service_error();
    assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::code(&err), Some("InvalidArgument"));
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "SNS:Publish",
        "Resource": topic, "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::to-*"}}}]});
    sns.set_topic_attributes()
        .topic_arn(&topic)
        .attribute_name("Policy")
        .attribute_value(policy.to_string())
        .send()
        .await
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket("to-topic")
        .notification_configuration(config)
        .send()
        .await
        .unwrap();
    let test = receive_one(&sqs, &url).await;
    assert_eq!(test["Type"], "Notification");
    assert_eq!(test["Subject"], "Amazon S3 Notification");
    let test_event: serde_json::Value = serde_json::from_str(test["Message"].as_str().unwrap()).unwrap();
    assert_eq!(test_event["Event"], "s3:TestEvent");
    assert_eq!(test_event["Bucket"], "to-topic");
    s3.put_object().bucket("to-topic").key("k 1").body(ByteStream::from_static(b"abc")).send().await.unwrap();
    let note = receive_one(&sqs, &url).await;
    assert_eq!(note["TopicArn"], topic.as_str());
    assert_eq!(note["Subject"], "Amazon S3 Notification");
    let records: serde_json::Value = serde_json::from_str(note["Message"].as_str().unwrap()).unwrap();
    let record = &records["Records"][0];
    assert_eq!(record["eventName"], "ObjectCreated:Put");
    assert_eq!(record["s3"]["configurationId"], "t");
    assert_eq!(record["s3"]["object"]["key"], "k+1");
    assert_eq!(record["s3"]["object"]["size"], 3);

    // EventBridge: every object event goes to the default bus, where a rule picks it up.
    let eb = crate::events::events(&server);
    let (eb_url, eb_queue) = queue(&sqs, "s3-on-bus", &[]).await;
    eb.put_rule().name("from-s3").event_pattern(r#"{"source": ["aws.s3"]}"#).send().await.unwrap();
    eb.put_targets()
        .rule("from-s3")
        .targets(aws_sdk_eventbridge::types::Target::builder().id("q").arn(&eb_queue).build().unwrap())
        .send()
        .await
        .unwrap();
    s3.create_bucket().bucket("to-bus").send().await.unwrap();
    s3.put_bucket_notification_configuration()
        .bucket("to-bus")
        .notification_configuration(
            NotificationConfiguration::builder()
                .event_bridge_configuration(EventBridgeConfiguration::builder().build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let put = s3.put_object().bucket("to-bus").key("dir/a b.txt").body(ByteStream::from_static(b"four")).send().await;
    let etag = put.unwrap().e_tag().unwrap().trim_matches('"').to_string();
    let created = receive_one(&sqs, &eb_url).await;
    assert_eq!(created["version"], "0");
    assert_eq!(created["source"], "aws.s3");
    assert_eq!(created["detail-type"], "Object Created");
    assert_eq!(created["account"], ACCOUNT);
    assert_eq!(created["region"], REGION);
    assert_eq!(created["resources"], serde_json::json!(["arn:aws:s3:::to-bus"]));
    let detail = &created["detail"];
    assert_eq!(detail["version"], "0");
    assert_eq!(detail["bucket"]["name"], "to-bus");
    assert_eq!(detail["object"]["key"], "dir/a b.txt");
    assert_eq!(detail["object"]["size"], 4);
    assert_eq!(detail["object"]["etag"], etag.as_str());
    assert!(detail["object"]["sequencer"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(detail["reason"], "PutObject");
    assert_eq!(detail["requester"], ACCOUNT);
    assert!(detail["request-id"].as_str().is_some_and(|s| !s.is_empty()));
    s3.delete_object().bucket("to-bus").key("dir/a b.txt").send().await.unwrap();
    let deleted = receive_one(&sqs, &eb_url).await;
    assert_eq!(deleted["detail-type"], "Object Deleted");
    assert_eq!(deleted["detail"]["reason"], "DeleteObject");
    assert_eq!(deleted["detail"]["deletion-type"], "Permanently Deleted");
    s3.put_object().bucket("to-bus").key("batch").body(ByteStream::from_static(b"x")).send().await.unwrap();
    assert_eq!(receive_one(&sqs, &eb_url).await["detail-type"], "Object Created");
    let batch = aws_sdk_s3::types::Delete::builder()
        .objects(aws_sdk_s3::types::ObjectIdentifier::builder().key("batch").build().unwrap())
        .build()
        .unwrap();
    s3.delete_objects().bucket("to-bus").delete(batch).send().await.unwrap();
    assert_eq!(receive_one(&sqs, &eb_url).await["detail"]["reason"], "DeleteObjects");
    let stored = s3.get_bucket_notification_configuration().bucket("to-bus").send().await.unwrap();
    assert!(stored.event_bridge_configuration().is_some());
}
