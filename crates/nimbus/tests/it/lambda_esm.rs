//! Event source mappings: configuration for every source type, and (with SQS) real polling.

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::types::EventSourcePosition;

use crate::harness::*;

#[tokio::test]
async fn stream_mappings_are_validated_stored_and_listed() {
    let server = Server::start();
    let lambda = server.lambda();
    create_python_function(&lambda, "consumer").await;
    let stream = "arn:aws:kinesis:us-east-1:000000000000:stream/orders";
    let err = lambda
        .create_event_source_mapping()
        .function_name("consumer")
        .event_source_arn(stream)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));

    let created = lambda
        .create_event_source_mapping()
        .function_name("consumer")
        .event_source_arn(stream)
        .starting_position(EventSourcePosition::TrimHorizon)
        .send()
        .await
        .unwrap();
    assert_eq!(created.state(), Some("Creating"));
    assert_eq!(created.batch_size(), Some(100));
    assert_eq!(created.maximum_retry_attempts(), Some(-1));
    assert_eq!(created.parallelization_factor(), Some(1));
    assert_eq!(created.function_arn(), Some("arn:aws:lambda:us-east-1:000000000000:function:consumer"));
    let uuid = created.uuid().unwrap().to_string();
    assert_eq!(
        created.event_source_mapping_arn(),
        Some(format!("arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{uuid}").as_str())
    );

    let got = lambda.get_event_source_mapping().uuid(&uuid).send().await.unwrap();
    assert_eq!(got.state(), Some("Enabled"));
    assert_eq!(got.starting_position(), Some(&EventSourcePosition::TrimHorizon));
    let updated = lambda.update_event_source_mapping().uuid(&uuid).batch_size(50).enabled(false).send().await.unwrap();
    // Turning a mapping off answers Disabling, on Enabling, other changes Updating (as AWS).
    assert_eq!(updated.state(), Some("Disabling"));
    let got = lambda.get_event_source_mapping().uuid(&uuid).send().await.unwrap();
    assert_eq!((got.state(), got.batch_size()), (Some("Disabled"), Some(50)));
    let updated = lambda.update_event_source_mapping().uuid(&uuid).batch_size(60).send().await.unwrap();
    assert_eq!(updated.state(), Some("Updating"));
    let updated = lambda.update_event_source_mapping().uuid(&uuid).enabled(true).send().await.unwrap();
    assert_eq!(updated.state(), Some("Enabling"));
    let got = lambda.get_event_source_mapping().uuid(&uuid).send().await.unwrap();
    assert_eq!((got.state(), got.batch_size()), (Some("Enabled"), Some(60)));
    // Created disabled: AWS answers Disabled, not Creating.
    let off = lambda
        .create_event_source_mapping()
        .function_name("consumer")
        .event_source_arn("arn:aws:kinesis:us-east-1:000000000000:stream/paused")
        .starting_position(EventSourcePosition::Latest)
        .enabled(false)
        .send()
        .await
        .unwrap();
    assert_eq!(off.state(), Some("Disabled"));
    let got = lambda.get_event_source_mapping().uuid(off.uuid().unwrap()).send().await.unwrap();
    assert_eq!(got.state(), Some("Disabled"));
    lambda.delete_event_source_mapping().uuid(off.uuid().unwrap()).send().await.unwrap();

    let listed = lambda.list_event_source_mappings().function_name("consumer").send().await.unwrap();
    assert_eq!(listed.event_source_mappings().len(), 1);
    assert!(lambda
        .list_event_source_mappings()
        .event_source_arn("arn:aws:kinesis:us-east-1:000000000000:stream/other")
        .send()
        .await
        .unwrap()
        .event_source_mappings()
        .is_empty());

    let deleted = lambda.delete_event_source_mapping().uuid(&uuid).send().await.unwrap();
    assert_eq!(deleted.state(), Some("Deleting"));
    let err = lambda.get_event_source_mapping().uuid(&uuid).send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception());
    let err = lambda
        .create_event_source_mapping()
        .function_name("missing")
        .event_source_arn(stream)
        .starting_position(EventSourcePosition::Latest)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception());
}
