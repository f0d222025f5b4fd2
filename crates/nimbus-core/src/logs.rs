//! The cross-service interface for writing log events (Lambda → CloudWatch Logs).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Milliseconds since the epoch, on nimbus's clock.
    pub timestamp: i64,
    pub message: String,
}

/// Something that stores log events, creating the group and stream if needed (as the Lambda
/// platform does for `/aws/lambda/<name>`).
pub trait LogSink: Send + Sync + 'static {
    fn put(&self, account: &str, region: &str, group: &str, stream: &str, events: Vec<LogEvent>);
}
