//! Integration tests: a real nimbus process on an ephemeral port, driven by aws-sdk-rust.
//! One binary (modules per area) so the SDK crates are linked once.

mod apigateway;
mod bad_input;
mod cloudformation;
mod dynamodb;
mod ecr;
mod events;
mod every_operation;
mod front;
mod harness;
mod iam_sts;
mod kinesis;
mod kms;
mod lambda_capacity_providers;
mod lambda_durable;
mod lambda_esm;
mod lambda_functions;
mod lambda_invoke;
mod lambda_layers_policies;
mod lambda_node;
mod lambda_python;
mod lambda_sdk;
mod lambda_streaming;
mod lambda_urls;
mod persistence;
mod s3;
mod s3_lambda;
mod safety;
mod scheduler;
mod secretsmanager;
mod sns;
mod sqs_esm;
mod ssm;
mod stream_esm;
