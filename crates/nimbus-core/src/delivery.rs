//! The cross-service interface "deliver this message to that ARN": Lambda destinations and
//! dead-letter queues, S3 notifications, SNS subscriptions, EventBridge targets and schedules.
//! Each service that can receive registers a [`Deliver`] under its ARN service name; the binary
//! wires them into one [`Targets`] that every service holds.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

/// Who is delivering, for the receiver's resource-policy check (a function invoked by S3 must
/// grant `s3.amazonaws.com`, as on AWS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The service principal, e.g. `s3.amazonaws.com`.
    pub principal: String,
    /// The resource delivering (`AWS:SourceArn`), e.g. the bucket's ARN.
    pub source_arn: Option<String>,
    /// The account owning the source (`AWS:SourceAccount`).
    pub source_account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The account and region the delivery is made for (the target's, when it names them).
    pub account: String,
    pub region: String,
    pub target_arn: String,
    pub message: String,
    /// Message attributes (e.g. a DLQ's `RequestID`, `ErrorCode`, `ErrorMessage`).
    pub attributes: Vec<(String, String)>,
    /// `None` for a service acting for the account itself (Lambda's own destinations).
    pub source: Option<Source>,
    /// Typed message attributes (SNS raw delivery): name, `DataType`, value (Binary in base64).
    pub typed_attributes: Vec<(String, String, String)>,
    /// For FIFO receivers (SQS FIFO queues, SNS FIFO topics): `MessageGroupId`.
    pub group_id: Option<String>,
    /// For FIFO receivers: `MessageDeduplicationId`.
    pub dedup_id: Option<String>,
}

impl Delivery {
    pub fn new(account: &str, region: &str, target_arn: &str, message: impl Into<String>) -> Delivery {
        Delivery {
            account: account.to_string(),
            region: region.to_string(),
            target_arn: target_arn.to_string(),
            message: message.into(),
            attributes: Vec::new(),
            source: None,
            typed_attributes: Vec::new(),
            group_id: None,
            dedup_id: None,
        }
    }

    pub fn from_source(mut self, source: Source) -> Delivery {
        self.source = Some(source);
        self
    }

    pub fn with_attributes(mut self, attributes: Vec<(String, String)>) -> Delivery {
        self.attributes = attributes;
        self
    }

    pub fn with_typed_attributes(mut self, attributes: Vec<(String, String, String)>) -> Delivery {
        self.typed_attributes = attributes;
        self
    }

    pub fn in_group(mut self, group_id: Option<String>, dedup_id: Option<String>) -> Delivery {
        self.group_id = group_id;
        self.dedup_id = dedup_id;
        self
    }
}

pub trait Deliver: Send + Sync + 'static {
    /// Accept `d` for delivery (queue it, invoke asynchronously…). An error says why not.
    fn deliver(&self, d: &Delivery) -> Result<(), String>;
}

/// Every registered receiver, by the service name in their ARNs (`lambda`, `sqs`, `sns`, …).
#[derive(Clone, Default)]
pub struct Targets {
    receivers: Arc<RwLock<HashMap<String, Arc<dyn Deliver>>>>,
}

impl Targets {
    pub fn register(&self, service: &str, receiver: Arc<dyn Deliver>) {
        self.receivers.write().insert(service.to_string(), receiver);
    }

    /// Whether something can receive deliveries for `arn`.
    pub fn accepts(&self, arn: &str) -> bool {
        service_of(arn).is_some_and(|s| self.receivers.read().contains_key(s))
    }

    pub fn deliver(&self, d: &Delivery) -> Result<(), String> {
        let service = service_of(&d.target_arn).ok_or_else(|| format!("not an ARN: {}", d.target_arn))?;
        let receiver = self.receivers.read().get(service).cloned();
        match receiver {
            Some(r) => r.deliver(d),
            None => Err(format!("nimbus does not emulate {service}, so it cannot deliver to {}", d.target_arn)),
        }
    }
}

impl Deliver for Targets {
    fn deliver(&self, d: &Delivery) -> Result<(), String> {
        Targets::deliver(self, d)
    }
}

fn service_of(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(4, ':');
    (parts.next() == Some("arn")).then_some(())?;
    parts.next()?;
    parts.next().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    struct Recorder(Mutex<Vec<String>>);
    impl Deliver for Recorder {
        fn deliver(&self, d: &Delivery) -> Result<(), String> {
            self.0.lock().push(format!("{} {}", d.target_arn, d.message));
            Ok(())
        }
    }

    #[test]
    fn routes_by_the_arn_service() {
        let targets = Targets::default();
        let sqs = Arc::new(Recorder(Mutex::default()));
        targets.register("sqs", sqs.clone());
        let arn = "arn:aws:sqs:us-east-1:000000000000:q";
        assert!(targets.accepts(arn));
        targets.deliver(&Delivery::new("000000000000", "us-east-1", arn, "hi")).unwrap();
        assert_eq!(sqs.0.lock().as_slice(), [format!("{arn} hi")]);
        let err = targets.deliver(&Delivery::new("a", "r", "arn:aws:kinesis:us-east-1:1:stream/s", "x")).unwrap_err();
        assert!(err.contains("kinesis"), "{err}");
        assert!(targets.deliver(&Delivery::new("a", "r", "nope", "x")).is_err());
    }
}
