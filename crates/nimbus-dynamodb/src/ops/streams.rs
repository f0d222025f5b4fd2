//! DynamoDB Streams.
