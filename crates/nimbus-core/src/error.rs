//! AWS errors: a code, an HTTP status and a message. Each protocol renders them its own way.

use std::fmt;

/// Whether AWS blames the caller or itself (`Type` in Lambda's error body, `Type` in query XML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Sender,
    Receiver,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub fault: Fault,
    /// Extra members some errors carry in their JSON body (e.g. Lambda's `Reason`).
    pub extra: Vec<(String, serde_json::Value)>,
}

impl AwsError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError {
            status,
            code: code.into(),
            message: message.into(),
            fault: if status >= 500 { Fault::Receiver } else { Fault::Sender },
            extra: Vec::new(),
        }
    }

    pub fn with_extra(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.push((key.to_string(), value.into()));
        self
    }

    pub fn internal(message: impl Into<String>) -> Self {
        AwsError::new(500, "ServiceException", message)
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AwsError {}
