//! The cross-service interface Lambda's stream pollers use ("read records from this stream's
//! shards"), implemented by DynamoDB Streams and Kinesis and wired by the binary, so a poller
//! never touches another service's state.

use serde_json::Value;

/// Where reading a shard starts, as an event source mapping's `StartingPosition` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
    AtSequence(String),
    AfterSequence(String),
    /// The first record that arrived at or after this time (epoch milliseconds; Kinesis only).
    AtTimestamp(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    pub shard_id: String,
    pub parent_shard_id: Option<String>,
    /// The second parent of a shard made by merging two (Kinesis).
    pub adjacent_parent_shard_id: Option<String>,
    /// A closed shard receives no more records.
    pub closed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamBatch {
    /// Records in the stream API's shape (`eventID`, `eventName`, `dynamodb`, …).
    pub records: Vec<Value>,
    /// The iterator to read on with; `None` once a closed shard is read to its end.
    pub next_iterator: Option<String>,
}

pub trait StreamReader: Send + Sync + 'static {
    fn shards(&self, account: &str, region: &str, stream_arn: &str) -> Result<Vec<Shard>, String>;
    /// An iterator for `shard_id` starting at `from` (valid for 15 minutes on nimbus's clock).
    fn iterator(
        &self,
        account: &str,
        region: &str,
        stream_arn: &str,
        shard_id: &str,
        from: &StartingPosition,
    ) -> Result<String, String>;
    /// Up to `max` records from `iterator`.
    fn read(&self, account: &str, region: &str, iterator: &str, max: usize) -> Result<StreamBatch, String>;

    /// A counter that moves whenever records are added anywhere in the service, so a caught-up
    /// poller can wait for it instead of polling; `None` when the service has none.
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}
