//! The cross-service interface Lambda's SQS poller uses ("receive a batch from this queue"),
//! implemented by the SQS service and wired by the binary.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::service::BoxFuture;

/// A received message, with everything Lambda's SQS event carries.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// System attributes (`ApproximateReceiveCount`, `SentTimestamp`, `MessageGroupId`, …).
    pub attributes: BTreeMap<String, String>,
    /// Message attributes in Lambda's event shape (`stringValue`, `binaryValue`, `dataType`, …).
    pub message_attributes: serde_json::Value,
    pub md5_of_body: String,
    pub md5_of_message_attributes: Option<String>,
}

pub trait QueueSource: Send + Sync + 'static {
    /// Receive up to `max` messages, long-polling up to `wait`.
    fn receive(
        &self,
        account: &str,
        region: &str,
        queue_arn: &str,
        max: usize,
        wait: Duration,
    ) -> BoxFuture<'static, Result<Vec<QueueMessage>, String>>;
    fn delete(&self, account: &str, region: &str, queue_arn: &str, receipt_handles: Vec<String>) -> Result<(), String>;
    /// Whether the queue exists, and if so whether it is FIFO.
    fn queue_kind(&self, account: &str, region: &str, queue_arn: &str) -> Option<QueueKind>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueKind {
    pub fifo: bool,
    pub visibility_timeout: u32,
    /// Whether the queue has a redrive policy (a dead-letter queue).
    pub has_dead_letter_queue: bool,
}
