//! CloudFormation through aws-sdk-cloudformation: stacks provisioned through the other
//! services' public APIs, updates in place and by replacement, real rollback, change sets,
//! exports, bad input with AWS's messages, and persistence across `kill -9`.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter, StackStatus};
use aws_sdk_cloudformation::Client;

use crate::harness::*;

fn cfn(server: &Server) -> Client {
    let config = aws_sdk_cloudformation::Config::builder()
        .behavior_version(aws_sdk_cloudformation::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_cloudformation::config::Region::new(REGION))
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

fn sqs(server: &Server) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// Poll DescribeStacks until the status stops being `*_IN_PROGRESS` (as the SDK waiters do).
async fn settle(client: &Client, stack: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = client.describe_stacks().stack_name(stack).send().await.expect("describe stacks");
        let status = out.stacks()[0].stack_status().unwrap().as_str().to_string();
        if !status.ends_with("_IN_PROGRESS") || status == "REVIEW_IN_PROGRESS" {
            return status;
        }
        assert!(Instant::now() < deadline, "stack {stack} still {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn physical(client: &Client, stack: &str, logical: &str) -> String {
    let out = client.describe_stack_resource().stack_name(stack).logical_resource_id(logical).send().await.unwrap();
    out.stack_resource_detail().unwrap().physical_resource_id().unwrap().to_string()
}

fn output(stack: &aws_sdk_cloudformation::types::Stack, key: &str) -> String {
    stack
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value())
        .unwrap_or_default()
        .to_string()
}

const APP: &str = r#"
Parameters:
  Timeout:
    Type: Number
    Default: 45
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref Timeout
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Environment:
        Variables:
          TABLE: !Ref Table
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              return {"table": os.environ["TABLE"]}
  Mapping:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Fn
      EventSourceArn: !GetAtt Queue.Arn
      BatchSize: 5
Outputs:
  QueueUrl:
    Value: !Ref Queue
    Export:
      Name: !Sub '${AWS::StackName}-queue'
  FunctionArn:
    Value: !GetAtt Fn.Arn
"#;

#[tokio::test]
async fn a_stack_is_created_updated_in_place_and_deleted_through_the_services() {
    let server = Server::start();
    let client = cfn(&server);
    let stack_id = client
        .create_stack()
        .stack_name("app")
        .template_body(APP)
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .unwrap()
        .stack_id()
        .unwrap()
        .to_string();
    assert!(stack_id.starts_with("arn:aws:cloudformation:us-east-1:000000000000:stack/app/"), "{stack_id}");
    assert_eq!(settle(&client, "app").await, "CREATE_COMPLETE");

    let stack = client.describe_stacks().stack_name("app").send().await.unwrap().stacks()[0].clone();
    let queue_url = output(&stack, "QueueUrl");
    assert!(queue_url.contains("/000000000000/app-Queue-"), "{queue_url}");
    let attrs = sqs(&server)
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
        .send()
        .await
        .unwrap();
    assert_eq!(attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout], "45");

    // The function really exists and runs with the table name CloudFormation passed.
    let function = physical(&client, "app", "Fn").await;
    let table = physical(&client, "app", "Table").await;
    let out = server.lambda().invoke().function_name(&function).send().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(body["table"], table.as_str());
    server.dynamodb().describe_table().table_name(&table).send().await.expect("table exists");
    let exports = client.list_exports().send().await.unwrap();
    assert_eq!(exports.exports()[0].name(), Some("app-queue"));

    // An in-place update keeps the physical resource.
    client
        .update_stack()
        .stack_name("app")
        .use_previous_template(true)
        .parameters(Parameter::builder().parameter_key("Timeout").parameter_value("90").build())
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .unwrap();
    assert_eq!(settle(&client, "app").await, "UPDATE_COMPLETE");
    assert_eq!(physical(&client, "app", "Queue").await, queue_url);
    let attrs = sqs(&server)
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
        .send()
        .await
        .unwrap();
    assert_eq!(attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout], "90");

    // The same template and parameters again: AWS's "no updates" refusal.
    let err = client
        .update_stack()
        .stack_name("app")
        .use_previous_template(true)
        .parameters(Parameter::builder().parameter_key("Timeout").use_previous_value(true).build())
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.as_service_error().unwrap().meta().message(), Some("No updates are to be performed."));

    let events = client.describe_stack_events().stack_name("app").send().await.unwrap();
    let first = &events.stack_events()[0];
    assert_eq!(first.resource_status(), Some(&aws_sdk_cloudformation::types::ResourceStatus::UpdateComplete));
    assert_eq!(first.logical_resource_id(), Some("app"));

    client.delete_stack().stack_name("app").send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = client.describe_stacks().stack_name(&stack_id).send().await.unwrap();
        if out.stacks()[0].stack_status() == Some(&StackStatus::DeleteComplete) {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let err = client.describe_stacks().stack_name("app").send().await.unwrap_err();
    assert_eq!(err.as_service_error().unwrap().meta().message(), Some("Stack with id app does not exist"));
    assert!(server.lambda().get_function().function_name(&function).send().await.is_err(), "function deleted");
    assert!(sqs(&server).list_queues().send().await.unwrap().queue_urls().is_empty(), "queue deleted");
}

#[tokio::test]
async fn a_failed_create_rolls_back_and_leaves_nothing_behind() {
    let server = Server::start();
    let client = cfn(&server);
    let template = r#"{
      "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Broken": {"Type": "AWS::Lambda::Function", "DependsOn": "Queue", "Properties": {
          "Runtime": "python3.12", "Handler": "index.h", "Role": "arn:aws:iam::000000000000:role/r",
          "MemorySize": 1, "Code": {"ZipFile": "x = 1"}}}
      }
    }"#;
    client.create_stack().stack_name("broken").template_body(template).send().await.unwrap();
    assert_eq!(settle(&client, "broken").await, "ROLLBACK_COMPLETE");
    let stack = client.describe_stacks().stack_name("broken").send().await.unwrap().stacks()[0].clone();
    let events = client.describe_stack_events().stack_name("broken").send().await.unwrap();
    let failed = events
        .stack_events()
        .iter()
        .find(|e| e.resource_status() == Some(&aws_sdk_cloudformation::types::ResourceStatus::CreateFailed))
        .expect("a CREATE_FAILED event");
    assert_eq!(failed.logical_resource_id(), Some("Broken"));
    assert!(
        failed
            .resource_status_reason()
            .unwrap()
            .starts_with("Resource handler returned message: \"1 validation error detected"),
        "{:?}",
        failed.resource_status_reason()
    );
    let rollback = events
        .stack_events()
        .iter()
        .find(|e| e.resource_status() == Some(&aws_sdk_cloudformation::types::ResourceStatus::RollbackInProgress))
        .unwrap();
    assert_eq!(
        rollback.resource_status_reason(),
        Some("The following resource(s) failed to create: [Broken]. Rollback requested by user.")
    );
    assert_eq!(stack.stack_status(), Some(&StackStatus::RollbackComplete));
    assert!(sqs(&server).list_queues().send().await.unwrap().queue_urls().is_empty(), "the queue was rolled back");
}

#[tokio::test]
async fn bad_templates_are_refused_with_aws_messages() {
    let server = Server::start();
    let client = cfn(&server);
    let refuse = |body: &'static str| {
        let client = client.clone();
        async move {
            let err = client.create_stack().stack_name("bad").template_body(body).send().await.unwrap_err();
            let meta = err.as_service_error().unwrap().meta().clone();
            (meta.code().unwrap().to_string(), meta.message().unwrap().to_string())
        }
    };
    assert_eq!(
        refuse("Resources:\n  A: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAtt B.QueueName}}\n  B: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAtt A.QueueName}}\n").await,
        ("ValidationError".into(), "Circular dependency between resources: [A, B]".into())
    );
    assert_eq!(
        refuse("Resources:\n  A: {Type: AWS::Nope::Thing}\n").await,
        ("ValidationError".into(), "Template format error: Unrecognized resource types: [AWS::Nope::Thing]".into())
    );
    assert_eq!(
        refuse("Resources:\n  A: {Type: AWS::SQS::Queue, Properties: {QueueName: !Ref Missing}}\n").await,
        (
            "ValidationError".into(),
            "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template"
                .into()
        )
    );
    assert_eq!(
        refuse(
            "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties: {RoleName: r, AssumeRolePolicyDocument: {}}\n"
        )
        .await,
        ("InsufficientCapabilitiesException".into(), "Requires capabilities : [CAPABILITY_NAMED_IAM]".into())
    );
    let (code, message) = refuse("{\"Resources\": {").await;
    assert_eq!(code, "ValidationError");
    assert!(message.starts_with("Template format error: JSON not well-formed."), "{message}");
    let (_, message) = refuse("Resources:\n  A: {Type: AWS::SQS::Queue, Properties: {QueueName: !Foo x}}\n").await;
    assert!(message.starts_with("Template format error: Encountered unsupported function: Fn::Foo"), "{message}");
    assert_eq!(
        refuse("Parameters:\n  P: {Type: String, AllowedValues: [a, b], Default: c}\nResources:\n  A: {Type: AWS::SQS::Queue}\n").await,
        ("ValidationError".into(), "Parameter 'P' must be one of AllowedValues".into())
    );
    // Nothing was half-created.
    assert!(client.describe_stacks().send().await.unwrap().stacks().is_empty());
    assert!(sqs(&server).list_queues().send().await.unwrap().queue_urls().is_empty());
}

#[tokio::test]
async fn change_sets_preview_replacements_and_empty_ones_fail_as_tools_expect() {
    let server = Server::start();
    let client = cfn(&server);
    let v1 = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: cs-one}\nOutputs:\n  Url: {Value: !Ref Queue}\n";
    let created = client
        .create_change_set()
        .stack_name("cs")
        .change_set_name("first")
        .change_set_type(ChangeSetType::Create)
        .template_body(v1)
        .send()
        .await
        .unwrap();
    assert_eq!(settle(&client, "cs").await, "REVIEW_IN_PROGRESS");
    let described = client.describe_change_set().change_set_name(created.id().unwrap()).send().await.unwrap();
    assert_eq!(described.status().unwrap().as_str(), "CREATE_COMPLETE");
    let change = described.changes()[0].resource_change().unwrap();
    assert_eq!(change.action().unwrap().as_str(), "Add");
    assert_eq!(change.logical_resource_id(), Some("Queue"));
    client.execute_change_set().change_set_name("first").stack_name("cs").send().await.unwrap();
    assert_eq!(settle(&client, "cs").await, "CREATE_COMPLETE");
    let stack = client.describe_stacks().stack_name("cs").send().await.unwrap().stacks()[0].clone();
    assert!(output(&stack, "Url").ends_with("/cs-one"), "outputs after a change-set deploy");

    // The same template again: FAILED with the reason SAM and CDK look for.
    client.create_change_set().stack_name("cs").change_set_name("same").template_body(v1).send().await.unwrap();
    let same = client.describe_change_set().change_set_name("same").stack_name("cs").send().await.unwrap();
    assert_eq!(same.status().unwrap().as_str(), "FAILED");
    assert_eq!(same.execution_status().unwrap().as_str(), "UNAVAILABLE");
    assert_eq!(
        same.status_reason(),
        Some("The submitted information didn't contain changes. Submit different information to create a change set.")
    );

    // Renaming the queue replaces it.
    let v2 = v1.replace("cs-one", "cs-two");
    client.create_change_set().stack_name("cs").change_set_name("rename").template_body(&v2).send().await.unwrap();
    let rename = client.describe_change_set().change_set_name("rename").stack_name("cs").send().await.unwrap();
    let change = rename.changes()[0].resource_change().unwrap();
    assert_eq!(change.action().unwrap().as_str(), "Modify");
    assert_eq!(change.replacement().unwrap().as_str(), "True");
    let detail = &change.details()[0];
    assert_eq!(detail.target().unwrap().name(), Some("QueueName"));
    assert_eq!(detail.target().unwrap().requires_recreation().unwrap().as_str(), "Always");
    let listed = client.list_change_sets().stack_name("cs").send().await.unwrap();
    // The executed change set stays (EXECUTE_COMPLETE) beside the two new ones.
    let statuses: Vec<&str> = listed.summaries().iter().map(|c| c.execution_status().unwrap().as_str()).collect();
    assert_eq!(statuses.len(), 3, "{statuses:?}");
    assert!(
        statuses.contains(&"EXECUTE_COMPLETE") && statuses.contains(&"UNAVAILABLE") && statuses.contains(&"AVAILABLE")
    );
    client.execute_change_set().change_set_name("rename").stack_name("cs").send().await.unwrap();
    assert_eq!(settle(&client, "cs").await, "UPDATE_COMPLETE");
    let urls: Vec<String> = sqs(&server).list_queues().send().await.unwrap().queue_urls().to_vec();
    assert_eq!(urls.len(), 1, "the old queue was cleaned up: {urls:?}");
    assert!(urls[0].ends_with("/cs-two"));
    let template = client.get_template().stack_name("cs").send().await.unwrap();
    assert_eq!(template.template_body(), Some(v2.as_str()));
}

#[tokio::test]
async fn stacks_survive_kill_9() {
    let dir = TempDir::new("cfn-persist");
    let server = Server::start_with_data_dir(dir.path());
    let client = cfn(&server);
    client
        .create_stack()
        .stack_name("kept")
        .template_body("Resources:\n  Queue: {Type: AWS::SQS::Queue}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(settle(&client, "kept").await, "CREATE_COMPLETE");
    let queue = physical(&client, "kept", "Queue").await;
    server.kill();

    let server = Server::start_with_data_dir(dir.path());
    let client = cfn(&server);
    assert_eq!(settle(&client, "kept").await, "CREATE_COMPLETE");
    assert_eq!(physical(&client, "kept", "Queue").await, queue);
    client.delete_stack().stack_name("kept").send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sqs(&server).list_queues().send().await.unwrap().queue_urls().is_empty() {
        assert!(Instant::now() < deadline, "queue not deleted after restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_bucket_and_its_policy_are_created_through_s3_and_deleted_with_the_stack() {
    let server = Server::start();
    let client = cfn(&server);
    let template = |cors: bool, days: u32| {
        let cors = if cors {
            r#""CorsConfiguration": {"CorsRules": [{"AllowedOrigins": ["https://app.example"],
               "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"], "MaxAge": 300}]},"#
        } else {
            ""
        };
        format!(
            r#"{{
      "Resources": {{
        "Events": {{"Type": "AWS::SQS::Queue"}},
        "EventsPolicy": {{"Type": "AWS::SQS::QueuePolicy", "Properties": {{
          "Queues": [{{"Ref": "Events"}}],
          "PolicyDocument": {{"Statement": [{{"Effect": "Allow", "Principal": {{"Service": "s3.amazonaws.com"}},
            "Action": "sqs:SendMessage", "Resource": {{"Fn::GetAtt": ["Events", "Arn"]}}}}]}}}}}},
        "Bucket": {{"Type": "AWS::S3::Bucket", "DependsOn": "EventsPolicy", "Properties": {{
          "VersioningConfiguration": {{"Status": "Enabled"}},
          {cors}
          "LifecycleConfiguration": {{"Rules": [{{"Id": "expire-tmp", "Status": "Enabled", "Prefix": "tmp/",
             "ExpirationInDays": {days}, "AbortIncompleteMultipartUpload": {{"DaysAfterInitiation": 2}}}}]}},
          "BucketEncryption": {{"ServerSideEncryptionConfiguration": [
             {{"ServerSideEncryptionByDefault": {{"SSEAlgorithm": "AES256"}}, "BucketKeyEnabled": true}}]}},
          "PublicAccessBlockConfiguration": {{"BlockPublicAcls": true, "BlockPublicPolicy": false,
             "IgnorePublicAcls": true, "RestrictPublicBuckets": false}},
          "OwnershipControls": {{"Rules": [{{"ObjectOwnership": "BucketOwnerPreferred"}}]}},
          "NotificationConfiguration": {{"QueueConfigurations": [{{"Event": "s3:ObjectCreated:*",
             "Queue": {{"Fn::GetAtt": ["Events", "Arn"]}},
             "Filter": {{"S3Key": {{"Rules": [{{"Name": "prefix", "Value": "in/"}}]}}}}}}]}},
          "Tags": [{{"Key": "team", "Value": "core"}}]}}}},
        "Policy": {{"Type": "AWS::S3::BucketPolicy", "Properties": {{
          "Bucket": {{"Ref": "Bucket"}},
          "PolicyDocument": {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": {{"Fn::Sub": "${{Bucket.Arn}}/*"}}}}]}}}}}}
      }},
      "Outputs": {{"Arn": {{"Value": {{"Fn::GetAtt": ["Bucket", "Arn"]}}}},
                  "Domain": {{"Value": {{"Fn::GetAtt": ["Bucket", "RegionalDomainName"]}}}}}}
    }}"#
        )
    };
    let created = client.create_stack().stack_name("buckets").template_body(template(true, 7)).send().await.unwrap();
    let stack_id = created.stack_id().unwrap().to_string();
    assert_eq!(settle(&client, "buckets").await, "CREATE_COMPLETE");
    let name = physical(&client, "buckets", "Bucket").await;
    assert!(name.starts_with("buckets-bucket-"), "{name}");
    let stack = client.describe_stacks().stack_name("buckets").send().await.unwrap().stacks()[0].clone();
    assert_eq!(output(&stack, "Arn"), format!("arn:aws:s3:::{name}"));
    assert_eq!(output(&stack, "Domain"), format!("{name}.s3.{REGION}.amazonaws.com"));
    let s3 = server.s3();
    let versioning = s3.get_bucket_versioning().bucket(&name).send().await.unwrap();
    assert_eq!(versioning.status().map(|s| s.as_str()), Some("Enabled"));
    let tags = s3.get_bucket_tagging().bucket(&name).send().await.unwrap();
    assert!(tags.tag_set().iter().any(|t| t.key() == "team" && t.value() == "core"));
    let policy = s3.get_bucket_policy().bucket(&name).send().await.unwrap();
    assert!(policy.policy().unwrap().contains("s3:GetObject"));
    let cors = s3.get_bucket_cors().bucket(&name).send().await.unwrap();
    let rule = &cors.cors_rules()[0];
    assert_eq!(rule.allowed_origins(), ["https://app.example"]);
    assert_eq!(rule.allowed_methods(), ["GET", "PUT"]);
    assert_eq!(rule.max_age_seconds(), Some(300));
    let lifecycle = s3.get_bucket_lifecycle_configuration().bucket(&name).send().await.unwrap();
    let rule = &lifecycle.rules()[0];
    assert_eq!(rule.id(), Some("expire-tmp"));
    assert_eq!(rule.expiration().and_then(|e| e.days()), Some(7));
    assert_eq!(rule.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()), Some(2));
    let enc = s3.get_bucket_encryption().bucket(&name).send().await.unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm().as_str(), "AES256");
    assert_eq!(rule.bucket_key_enabled(), Some(true));
    let pab = s3.get_public_access_block().bucket(&name).send().await.unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!((pab.block_public_acls(), pab.block_public_policy()), (Some(true), Some(false)));
    let own = s3.get_bucket_ownership_controls().bucket(&name).send().await.unwrap();
    assert_eq!(own.ownership_controls().unwrap().rules()[0].object_ownership().as_str(), "BucketOwnerPreferred");

    // The notification really goes to the stack's queue.
    let queue = physical(&client, "buckets", "Events").await;
    let sqs = sqs(&server);
    s3.put_object().bucket(&name).key("in/a.txt").body(b"x".to_vec().into()).send().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = sqs.receive_message().queue_url(&queue).wait_time_seconds(2).send().await.unwrap();
        if got.messages().iter().any(|m| m.body().unwrap_or_default().contains("\"key\":\"in/a.txt\"")) {
            break;
        }
        assert!(Instant::now() < deadline, "no ObjectCreated record for in/a.txt");
    }
    s3.delete_object().bucket(&name).key("in/a.txt").send().await.unwrap();

    // Update in place: CORS removed from the template goes from the bucket, lifecycle changes.
    client.update_stack().stack_name("buckets").template_body(template(false, 30)).send().await.unwrap();
    assert_eq!(settle(&client, "buckets").await, "UPDATE_COMPLETE");
    assert_eq!(physical(&client, "buckets", "Bucket").await, name, "updated in place");
    let err = s3.get_bucket_cors().bucket(&name).send().await.unwrap_err();
    assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::code(&err), Some("NoSuchCORSConfiguration"));
    let lifecycle = s3.get_bucket_lifecycle_configuration().bucket(&name).send().await.unwrap();
    assert_eq!(lifecycle.rules()[0].expiration().and_then(|e| e.days()), Some(30));

    // A versioned bucket still holding versions cannot be deleted; empty it first, as AWS requires.
    let versions = s3.list_object_versions().bucket(&name).send().await.unwrap();
    for v in versions.versions() {
        s3.delete_object()
            .bucket(&name)
            .key(v.key().unwrap())
            .version_id(v.version_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    for m in versions.delete_markers() {
        s3.delete_object()
            .bucket(&name)
            .key(m.key().unwrap())
            .version_id(m.version_id().unwrap())
            .send()
            .await
            .unwrap();
    }
    client.delete_stack().stack_name("buckets").send().await.unwrap();
    assert_eq!(settle(&client, &stack_id).await, "DELETE_COMPLETE");
    assert!(s3.head_bucket().bucket(&name).send().await.is_err(), "bucket deleted");
}

#[tokio::test]
async fn an_ssm_parameter_is_put_updated_renamed_and_deleted_through_ssm() {
    let server = Server::start();
    let client = cfn(&server);
    let ssm = crate::ssm::ssm(&server);
    let template = |name: &str, value: &str| {
        format!(
            r#"{{"Resources": {{"Param": {{"Type": "AWS::SSM::Parameter", "Properties": {{
                 "Name": "{name}", "Type": "String", "Value": "{value}", "Description": "from a stack"}}}}}},
               "Outputs": {{"Ref": {{"Value": {{"Ref": "Param"}}}}, "Value": {{"Value": {{"Fn::GetAtt": ["Param", "Value"]}}}}}}}}"#
        )
    };
    let created = client.create_stack().stack_name("params").template_body(template("/app/a", "one")).send().await;
    let stack_id = created.unwrap().stack_id().unwrap().to_string();
    assert_eq!(settle(&client, "params").await, "CREATE_COMPLETE");
    let stack = client.describe_stacks().stack_name("params").send().await.unwrap().stacks()[0].clone();
    assert_eq!((output(&stack, "Ref"), output(&stack, "Value")), ("/app/a".to_string(), "one".to_string()));
    let p = ssm.get_parameter().name("/app/a").send().await.unwrap().parameter.unwrap();
    assert_eq!((p.value(), p.version()), (Some("one"), 1));

    client.update_stack().stack_name("params").template_body(template("/app/a", "two")).send().await.unwrap();
    assert_eq!(settle(&client, "params").await, "UPDATE_COMPLETE");
    let p = ssm.get_parameter().name("/app/a").send().await.unwrap().parameter.unwrap();
    assert_eq!((p.value(), p.version()), (Some("two"), 2), "updated in place");

    client.update_stack().stack_name("params").template_body(template("/app/b", "two")).send().await.unwrap();
    assert_eq!(settle(&client, "params").await, "UPDATE_COMPLETE");
    assert_eq!(physical(&client, "params", "Param").await, "/app/b");
    assert!(ssm.get_parameter().name("/app/a").send().await.is_err(), "the replaced parameter is deleted");
    assert_eq!(ssm.get_parameter().name("/app/b").send().await.unwrap().parameter.unwrap().value(), Some("two"));

    client.delete_stack().stack_name("params").send().await.unwrap();
    assert_eq!(settle(&client, &stack_id).await, "DELETE_COMPLETE");
    assert!(ssm.get_parameter().name("/app/b").send().await.is_err(), "deleted with the stack");
}

#[tokio::test]
async fn an_ecr_repository_is_created_updated_and_deleted_through_ecr() {
    let server = Server::start();
    let client = cfn(&server);
    let ecr = crate::ecr::ecr(&server);
    let template = |mutability: &str, scan: bool| {
        format!(
            r#"{{
          "Resources": {{
            "Repo": {{"Type": "AWS::ECR::Repository", "Properties": {{
              "ImageTagMutability": "{mutability}",
              "ImageScanningConfiguration": {{"ScanOnPush": {scan}}},
              "EmptyOnDelete": true,
              "LifecyclePolicy": {{"LifecyclePolicyText": "{{\"rules\":[{{\"rulePriority\":1,\"selection\":{{\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\",\"countNumber\":3}},\"action\":{{\"type\":\"expire\"}}}}]}}"}},
              "Tags": [{{"Key": "team", "Value": "core"}}]}}}}
          }},
          "Outputs": {{"Arn": {{"Value": {{"Fn::GetAtt": ["Repo", "Arn"]}}}},
                      "Uri": {{"Value": {{"Fn::GetAtt": ["Repo", "RepositoryUri"]}}}}}}
        }}"#
        )
    };
    let created =
        client.create_stack().stack_name("Images").template_body(template("MUTABLE", false)).send().await.unwrap();
    let stack_id = created.stack_id().unwrap().to_string();
    assert_eq!(settle(&client, "Images").await, "CREATE_COMPLETE");
    let name = physical(&client, "Images", "Repo").await;
    assert!(name.starts_with("images-repo-"), "{name}");
    let stack = client.describe_stacks().stack_name("Images").send().await.unwrap().stacks()[0].clone();
    assert_eq!(output(&stack, "Arn"), format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"));
    assert_eq!(output(&stack, "Uri"), format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"));
    let repo = ecr.describe_repositories().repository_names(&name).send().await.unwrap().repositories()[0].clone();
    assert_eq!(repo.image_tag_mutability().map(|m| m.as_str()), Some("MUTABLE"));
    assert!(ecr.get_lifecycle_policy().repository_name(&name).send().await.unwrap().lifecycle_policy_text().is_some());
    let tags = ecr.list_tags_for_resource().resource_arn(repo.repository_arn().unwrap()).send().await.unwrap();
    assert!(tags.tags().iter().any(|t| t.key() == "team" && t.value() == "core"));

    client.update_stack().stack_name("Images").template_body(template("IMMUTABLE", true)).send().await.unwrap();
    assert_eq!(settle(&client, "Images").await, "UPDATE_COMPLETE");
    assert_eq!(physical(&client, "Images", "Repo").await, name, "updated in place");
    let repo = ecr.describe_repositories().repository_names(&name).send().await.unwrap().repositories()[0].clone();
    assert_eq!(repo.image_tag_mutability().map(|m| m.as_str()), Some("IMMUTABLE"));
    assert!(repo.image_scanning_configuration().unwrap().scan_on_push());

    client.delete_stack().stack_name("Images").send().await.unwrap();
    assert_eq!(settle(&client, &stack_id).await, "DELETE_COMPLETE");
    let err = ecr.describe_repositories().repository_names(&name).send().await.unwrap_err();
    assert_eq!(
        aws_sdk_ecr::error::ProvideErrorMetadata::code(&err.into_service_error()),
        Some("RepositoryNotFoundException")
    );
}
