//! The cross-service interface "deliver this message to that ARN": Lambda destinations and
//! dead-letter queues, S3 notifications, SNS subscriptions, EventBridge targets and schedules.
//! Each service that can receive registers a [`Deliver`] under its ARN service name; the binary
//! wires them into one [`Targets`] that every service holds.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

/// Who is delivering, for the receiver's resource-policy check (a function invoked by S3 must
/// grant `s3.amazonaws.com`, as on AWS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The service principal, e.g. `s3.amazonaws.com`.
    pub principal: String,
    /// The resource delivering (`AWS:SourceArn`), e.g. the bucket's ARN.
    pub source_arn: Option<String>,
    /// The account owning the source (`AWS:SourceAccount`).
    pub source_account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// A target delivery waiting for its next attempt (EventBridge rule targets, Scheduler
/// targets): all a restart needs to go on with it. The delivering service journals it before
/// it acknowledges the event, records its progress through [`RetryJournal`], and forgets it
/// when it is delivered or dead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub id: String,
    pub delivery: Delivery,
    pub policy: RetryPolicy,
    /// What sent it, as the dead letter names it: (`RULE_ARN` or `SCHEDULE_ARN`, the ARN).
    pub origin: (String, String),
    /// The dead-letter queue's ARN and the message it gets (the event, the schedule's input).
    pub dead_letter: Option<(String, String)>,
    /// When the event was received (nimbus millis): `MaximumEventAgeInSeconds` counts from here.
    pub received_ms: i64,
    /// Retries made so far (the first attempt is not one).
    pub attempts: u32,
    /// When the next retry is due (nimbus millis).
    pub due_ms: i64,
    /// The last attempt's error.
    pub error: String,
}

impl Pending {
    /// Whether the retries are spent at `now` (the next would come too late or be one too many).
    fn exhausted(&self, now: i64) -> Option<&'static str> {
        if self.attempts >= self.policy.maximum_retry_attempts {
            return Some("MaximumRetryAttemptsExhausted");
        }
        let age = self.due_ms.max(now) - self.received_ms;
        (age > self.policy.maximum_event_age_seconds * 1000).then_some("MaximumEventAgeExhausted")
    }
}

/// Where a service keeps its [`Pending`] deliveries (a record kind of its journaled store).
pub trait RetryJournal: Send + Sync + 'static {
    /// Record a failed retry and the next due time; `false` when the delivery is no longer kept
    /// (reset away), so it stops.
    fn progress(&self, p: &Pending) -> bool;
    /// Forget a delivery that ended; `false` when it was not kept (then nothing more is sent).
    fn forget(&self, id: &str) -> bool;
}

/// The first attempt of a target delivery. `None` when that ended it: delivered, or dead at
/// once (an unreachable target is not retried, as on AWS; a policy of no retries). `Some` is the
/// retry to journal (with the caller's own changes, before it acknowledges), then [`retry`].
pub fn attempt(
    targets: &Targets,
    clock: &crate::clock::Clock,
    delivery: Delivery,
    policy: RetryPolicy,
    origin: (String, String),
    dead_letter: Option<(String, String)>,
    received_ms: i64,
) -> Option<Pending> {
    let Err(error) = targets.deliver(&delivery) else { return None };
    let p = Pending {
        id: uuid::Uuid::new_v4().to_string(),
        due_ms: clock.now_millis() + RetryPolicy::delay_ms(1),
        delivery,
        policy,
        origin,
        dead_letter,
        received_ms,
        attempts: 0,
        error,
    };
    if !targets.reachable(&p.delivery) {
        let error = p.error.clone();
        dead(targets, &p, Exhausted { error, condition: None, retry_attempts: 0 });
        return None;
    }
    if let Some(condition) = p.exhausted(clock.now_millis()) {
        dead(targets, &p, Exhausted { error: p.error.clone(), condition: Some(condition), retry_attempts: 0 });
        return None;
    }
    Some(p)
}

/// Run a journaled delivery's retries on a background task on nimbus's clock: exponential
/// backoff by [`RetryPolicy::delay_ms`], progress journaled after each failure, the record
/// forgotten when delivered, and the dead letter sent when the policy is spent. Also how a
/// restart resumes one (a delivery already too old goes to its dead-letter queue at once).
pub fn retry(targets: &Targets, clock: &crate::clock::Clock, journal: Weak<dyn RetryJournal>, p: Pending) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(target_arn = %p.delivery.target_arn, "no runtime to retry a delivery on; it stays journaled");
        return;
    };
    let (targets, clock) = (targets.clone(), clock.clone());
    runtime.spawn(async move {
        let mut p = p;
        let mut journaled = true;
        loop {
            let Some(j) = journal.upgrade() else { return };
            if let Some(condition) = p.exhausted(clock.now_millis()) {
                if j.forget(&p.id) {
                    let failed =
                        Exhausted { error: p.error.clone(), condition: Some(condition), retry_attempts: p.attempts };
                    dead(&targets, &p, failed);
                }
                return;
            }
            if !journaled && !j.progress(&p) {
                return;
            }
            drop(j);
            clock.wait_until(p.due_ms).await;
            let Some(j) = journal.upgrade() else { return };
            p.attempts += 1;
            match targets.deliver(&p.delivery) {
                Ok(()) => {
                    j.forget(&p.id);
                    return;
                }
                Err(error) if !targets.reachable(&p.delivery) => {
                    if j.forget(&p.id) {
                        dead(&targets, &p, Exhausted { error, condition: None, retry_attempts: p.attempts });
                    }
                    return;
                }
                Err(error) => {
                    p.error = error;
                    p.due_ms = clock.now_millis() + RetryPolicy::delay_ms(p.attempts + 1);
                    journaled = false;
                }
            }
        }
    });
}

/// Log a delivery whose retries ended, and send it to its dead-letter queue with the
/// attributes AWS sets (`RULE_ARN`/`SCHEDULE_ARN`, `TARGET_ARN`, `ERROR_CODE`, `ERROR_MESSAGE`,
/// and for spent retries `EXHAUSTED_RETRY_CONDITION`, `RETRY_ATTEMPTS`).
fn dead(targets: &Targets, p: &Pending, failed: Exhausted) {
    let (origin_name, origin) = &p.origin;
    tracing::warn!(%origin, target = %p.delivery.target_arn, error = %failed.error, "target delivery failed");
    let Some((dlq, message)) = &p.dead_letter else { return };
    let mut attributes = vec![
        (origin_name.clone(), origin.clone()),
        ("TARGET_ARN".into(), p.delivery.target_arn.clone()),
        ("ERROR_CODE".into(), "NIMBUS_DELIVERY_FAILED".into()),
        ("ERROR_MESSAGE".into(), failed.error),
    ];
    if let Some(condition) = failed.condition {
        attributes.push(("EXHAUSTED_RETRY_CONDITION".into(), condition.into()));
        attributes.push(("RETRY_ATTEMPTS".into(), failed.retry_attempts.to_string()));
    }
    let letter =
        Delivery::new(&p.delivery.account, &p.delivery.region, dlq, message.clone()).with_attributes(attributes);
    if let Err(e) = targets.deliver(&letter) {
        tracing::warn!(%origin, error = %e, "dead-letter delivery failed");
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
