//! The cross-service interface "deliver this message to that ARN" (Lambda destinations and
//! dead-letter queues → SQS, SNS, EventBridge). The binary wires the services that exist.

pub trait Deliver: Send + Sync + 'static {
    /// Deliver `message` to `target_arn` on behalf of `account`/`region`.
    /// `attributes` are message attributes (e.g. a DLQ's `RequestID`, `ErrorCode`, `ErrorMessage`).
    fn deliver(
        &self,
        account: &str,
        region: &str,
        target_arn: &str,
        message: &str,
        attributes: &[(String, String)],
    ) -> Result<(), String>;
}
