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
    /// For SNS topics: the `Subject` (S3 notifications publish "Amazon S3 Notification").
    pub subject: Option<String>,
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
            subject: None,
        }
    }

    pub fn with_subject(mut self, subject: &str) -> Delivery {
        self.subject = Some(subject.to_string());
        self
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

    /// Whether `d`'s target exists and its resource policy admits `d`'s source. A failed
    /// delivery to a reachable target is worth retrying; AWS does not retry one to a missing
    /// or refusing target (it goes to the dead-letter queue at once).
    fn reachable(&self, _d: &Delivery) -> bool {
        true
    }
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

    fn reachable(&self, d: &Delivery) -> bool {
        let receiver = service_of(&d.target_arn).and_then(|s| self.receivers.read().get(s).cloned());
        receiver.is_some_and(|r| r.reachable(d))
    }
}

/// A target's `RetryPolicy` (EventBridge rules, Scheduler schedules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_seconds: i64,
}

impl Default for RetryPolicy {
    /// AWS's default: 185 retries within 24 hours.
    fn default() -> Self {
        RetryPolicy { maximum_retry_attempts: 185, maximum_event_age_seconds: 86_400 }
    }
}

impl RetryPolicy {
    /// From a model-shaped `RetryPolicy` member (absent members keep the defaults).
    pub fn from_json(v: Option<&serde_json::Value>) -> RetryPolicy {
        let d = RetryPolicy::default();
        let Some(v) = v else { return d };
        RetryPolicy {
            maximum_retry_attempts: v
                .get("MaximumRetryAttempts")
                .and_then(serde_json::Value::as_u64)
                .map_or(d.maximum_retry_attempts, |n| n.min(185) as u32),
            maximum_event_age_seconds: v
                .get("MaximumEventAgeInSeconds")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(d.maximum_event_age_seconds),
        }
    }

    /// The wait before retry `n` (1-based): exponential from 1 second, capped at 8 minutes
    /// (185 retries then span about 24 hours, as AWS's default does; AWS adds jitter).
    pub fn delay_ms(n: u32) -> i64 {
        1000 * (1i64 << (n.saturating_sub(1)).min(9)).min(480)
    }
}

/// Why retries stopped (the `EXHAUSTED_RETRY_CONDITION` AWS puts on dead letters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    pub error: String,
    /// `MaximumRetryAttemptsExhausted` or `MaximumEventAgeExhausted`; `None` when the failure
    /// was not retried (a missing target, a refusing policy).
    pub condition: Option<&'static str>,
    pub retry_attempts: u32,
}

/// Deliver `d`; when that fails for a reachable target, retry it on a background task on
/// nimbus's clock by `policy` (counting the event's age from `received_ms`). `on_failed` gets
/// the final failure: at once for an unreachable target, else when the policy is spent.
pub fn deliver_with_retries(
    targets: &Targets,
    clock: &crate::clock::Clock,
    d: Delivery,
    policy: RetryPolicy,
    received_ms: i64,
    on_failed: impl FnOnce(Exhausted) + Send + 'static,
) {
    let Err(error) = targets.deliver(&d) else { return };
    if !targets.reachable(&d) {
        on_failed(Exhausted { error, condition: None, retry_attempts: 0 });
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        on_failed(Exhausted { error, condition: None, retry_attempts: 0 });
        return;
    };
    let (targets, clock) = (targets.clone(), clock.clone());
    runtime.spawn(async move {
        let mut error = error;
        let mut attempts = 0u32;
        loop {
            if attempts >= policy.maximum_retry_attempts {
                on_failed(Exhausted {
                    error,
                    condition: Some("MaximumRetryAttemptsExhausted"),
                    retry_attempts: attempts,
                });
                return;
            }
            let due = clock.now_millis() + RetryPolicy::delay_ms(attempts + 1);
            if due - received_ms > policy.maximum_event_age_seconds * 1000 {
                on_failed(Exhausted { error, condition: Some("MaximumEventAgeExhausted"), retry_attempts: attempts });
                return;
            }
            clock.wait_until(due).await;
            attempts += 1;
            match targets.deliver(&d) {
                Ok(()) => return,
                Err(e) if !targets.reachable(&d) => {
                    on_failed(Exhausted { error: e, condition: None, retry_attempts: attempts });
                    return;
                }
                Err(e) => error = e,
            }
        }
    });
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
        assert!(targets.reachable(&Delivery::new("a", "r", arn, "x")));
        assert!(!targets.reachable(&Delivery::new("a", "r", "arn:aws:kinesis:us-east-1:1:stream/s", "x")));
    }

    #[test]
    fn retry_policies_default_to_awss_and_back_off_exponentially() {
        assert_eq!(
            RetryPolicy::from_json(None),
            RetryPolicy { maximum_retry_attempts: 185, maximum_event_age_seconds: 86_400 }
        );
        let p = RetryPolicy::from_json(Some(&serde_json::json!({"MaximumRetryAttempts": 3})));
        assert_eq!((p.maximum_retry_attempts, p.maximum_event_age_seconds), (3, 86_400));
        let delays: Vec<i64> = (1..=11).map(RetryPolicy::delay_ms).collect();
        assert_eq!(delays, [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 480_000, 480_000]);
        let total: i64 = (1..=185).map(RetryPolicy::delay_ms).sum();
        assert!((80_000_000..=90_000_000).contains(&total), "185 retries span about a day: {total}");
    }
}
