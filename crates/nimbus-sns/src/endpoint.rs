//! `http`/`https` subscriptions: the POSTs SNS sends to endpoints the user runs (the
//! `SubscriptionConfirmation` handshake and `Notification`s, with AWS's `x-amz-sns-*` headers),
//! each on a background task so Publish and Subscribe never wait for the endpoint, retried on
//! nimbus's clock by the HTTP delivery policy (the subscription's `DeliveryPolicy`, else the
//! topic's, else AWS's default: 3 retries 20 seconds apart), then handed back as an
//! [`Outcome`] (a spent notification goes to the subscription's dead-letter queue).

use std::time::Duration;

use nimbus_core::clock::Clock;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::state::{Subscription, Topic};

/// How long SNS waits for an HTTP endpoint to answer one attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
pub const USER_AGENT: &str = "Amazon Simple Notification Service Agent";
pub const DEFAULT_CONTENT_TYPE: &str = "text/plain; charset=UTF-8";

/// A `healthyRetryPolicy` (AWS's four phases), in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub min_delay: i64,
    pub max_delay: i64,
    pub num_retries: i64,
    pub num_no_delay_retries: i64,
    pub num_min_delay_retries: i64,
    pub num_max_delay_retries: i64,
    pub backoff: String,
}

impl Default for RetryPolicy {
    /// AWS's default for HTTP/S: three retries, 20 seconds apart.
    fn default() -> Self {
        RetryPolicy {
            min_delay: 20,
            max_delay: 20,
            num_retries: 3,
            num_no_delay_retries: 0,
            num_min_delay_retries: 0,
            num_max_delay_retries: 0,
            backoff: "linear".into(),
        }
    }
}

impl RetryPolicy {
    /// A `healthyRetryPolicy` object; members left out keep AWS's defaults.
    pub fn from_json(v: &Value) -> RetryPolicy {
        let d = RetryPolicy::default();
        let int = |name: &str, default: i64| v.get(name).and_then(Value::as_i64).unwrap_or(default);
        RetryPolicy {
            min_delay: int("minDelayTarget", d.min_delay),
            max_delay: int("maxDelayTarget", d.max_delay),
            num_retries: int("numRetries", d.num_retries),
            num_no_delay_retries: int("numNoDelayRetries", 0),
            num_min_delay_retries: int("numMinDelayRetries", 0),
            num_max_delay_retries: int("numMaxDelayRetries", 0),
            backoff: v.get("backoffFunction").and_then(Value::as_str).unwrap_or("linear").to_string(),
        }
    }

    /// The delay (seconds) before each retry, in order: the immediate phase, the pre-backoff
    /// phase at `minDelayTarget`, the backoff phase from min to max along the backoff function,
    /// the post-backoff phase at `maxDelayTarget`. SNS's jitter is left out.
    pub fn delays(&self) -> Vec<i64> {
        let total = self.num_retries.clamp(0, 100);
        let no_delay = self.num_no_delay_retries.clamp(0, total);
        let at_min = self.num_min_delay_retries.clamp(0, total - no_delay);
        let at_max = self.num_max_delay_retries.clamp(0, total - no_delay - at_min);
        let backoff = total - no_delay - at_min - at_max;
        let (min, max) = (self.min_delay.max(0), self.max_delay.max(self.min_delay.max(0)));
        let mut out = Vec::with_capacity(total as usize);
        out.extend(std::iter::repeat_n(0, no_delay as usize));
        out.extend(std::iter::repeat_n(min, at_min as usize));
        for i in 1..=backoff {
            let t = i as f64 / backoff as f64;
            let shape = match self.backoff.as_str() {
                "arithmetic" => t * t,
                "geometric" => t * t * t,
                "exponential" => (t * 5.0).exp_m1() / 5f64.exp_m1(),
                _ => t,
            };
            let delay = if backoff == 1 { min } else { min + ((max - min) as f64 * shape).round() as i64 };
            out.push(delay);
        }
        out.extend(std::iter::repeat_n(max, at_max as usize));
        out
    }
}

/// A `DeliveryPolicy` attribute value must be a JSON object whose retry policy is coherent.
pub fn check_delivery_policy(text: &str, topic_level: bool) -> Result<(), String> {
    let v: Value = serde_json::from_str(text).map_err(|_| "DeliveryPolicy: failed to parse JSON.".to_string())?;
    if !v.is_object() {
        return Err("DeliveryPolicy: failed to parse JSON.".into());
    }
    let policy = if topic_level { v.pointer("/http/defaultHealthyRetryPolicy") } else { v.get("healthyRetryPolicy") };
    let Some(policy) = policy else { return Ok(()) };
    let p = RetryPolicy::from_json(policy);
    if p.min_delay < 0 || p.max_delay < 0 {
        return Err("DeliveryPolicy: delay targets must be zero or more".into());
    }
    if p.min_delay > p.max_delay {
        return Err("DeliveryPolicy: minDelayTarget must be less than or equal to maxDelayTarget".into());
    }
    if !(0..=100).contains(&p.num_retries) {
        return Err("DeliveryPolicy: numRetries must be between 0 and 100".into());
    }
    if p.num_no_delay_retries + p.num_min_delay_retries + p.num_max_delay_retries > p.num_retries {
        return Err("DeliveryPolicy: the phases add up to more than numRetries".into());
    }
    if !matches!(p.backoff.as_str(), "linear" | "arithmetic" | "geometric" | "exponential") {
        return Err("DeliveryPolicy: backoffFunction must be linear, arithmetic, geometric or exponential".into());
    }
    if p.delays().iter().sum::<i64>() > 3600 {
        return Err("DeliveryPolicy: the total retry time must not exceed 3600 seconds".into());
    }
    Ok(())
}

/// The retry policy and `Content-Type` a subscription's deliveries use: the subscription's own
/// `DeliveryPolicy` unless the topic's says `disableSubscriptionOverrides`, then the topic's.
pub fn effective(topic: &Topic, sub: &Subscription) -> (RetryPolicy, String) {
    let parse = |text: Option<&String>| text.and_then(|t| serde_json::from_str::<Value>(t).ok());
    let topic_policy = parse(topic.attributes.get("DeliveryPolicy"));
    let sub_policy = parse(sub.attributes.get("DeliveryPolicy"));
    let overrides_allowed = !topic_policy
        .as_ref()
        .and_then(|p| p.pointer("/http/disableSubscriptionOverrides"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let sub_policy = sub_policy.filter(|_| overrides_allowed);
    let retry = sub_policy
        .as_ref()
        .and_then(|p| p.get("healthyRetryPolicy"))
        .or_else(|| topic_policy.as_ref().and_then(|p| p.pointer("/http/defaultHealthyRetryPolicy")))
        .map(RetryPolicy::from_json)
        .unwrap_or_default();
    let content_type = sub_policy
        .as_ref()
        .and_then(|p| p.pointer("/requestPolicy/headerContentType"))
        .or_else(|| topic_policy.as_ref().and_then(|p| p.pointer("/http/defaultRequestPolicy/headerContentType")))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_CONTENT_TYPE)
        .to_string();
    (retry, content_type)
}

/// Whether a delivery is still wanted (its subscription not deleted meanwhile).
pub type Alive = std::sync::Arc<dyn Fn() -> bool + Send + Sync>;

/// One POST to an endpoint with its retry schedule and its progress: journaled as it is
/// (with `--data-dir`), so a restart resumes the schedule where it stood.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The delay (seconds) before each retry.
    pub delays: Vec<i64>,
    /// Attempts made so far.
    #[serde(default)]
    pub attempts: usize,
    /// When the next attempt is due (nimbus's clock, ms); none: at once.
    #[serde(default)]
    pub due: Option<i64>,
}

impl Post {
    pub fn new(url: &str, kind: &str, message_id: &str, topic_arn: &str, content_type: &str) -> Post {
        Post {
            url: url.to_string(),
            headers: vec![
                ("x-amz-sns-message-type".into(), kind.into()),
                ("x-amz-sns-message-id".into(), message_id.into()),
                ("x-amz-sns-topic-arn".into(), topic_arn.into()),
                ("Content-Type".into(), content_type.into()),
                ("User-Agent".into(), USER_AGENT.into()),
            ],
            body: String::new(),
            delays: RetryPolicy::default().delays(),
            attempts: 0,
            due: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Post {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    /// No longer wanted (its subscription deleted): stopped before a retry.
    Dropped,
    /// The retries are spent; the last error.
    Failed(String),
}

/// Whether an endpoint's answer is retried: 5xx and 429, as SNS counts them; any other answer
/// ends the delivery.
pub fn retryable(status: u16) -> bool {
    status >= 500 || status == 429
}

/// Deliver `post` on a background task, resuming its schedule (`attempts`, `due`): a 5xx or
/// 429 answer, a refused connection, a failed TLS handshake (an untrusted certificate) or a
/// timeout is retried after the next delay on nimbus's clock, while `alive`. `progress` sees the
/// post after each failed attempt (to journal it); `done` gets the outcome.
pub fn spawn(
    clock: Clock,
    mut post: Post,
    alive: Option<Alive>,
    progress: impl Fn(&Post) + Send + 'static,
    done: impl FnOnce(Outcome) + Send + 'static,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        done(Outcome::Failed("no runtime to deliver on".into()));
        return;
    };
    runtime.spawn(async move {
        loop {
            if let Some(due) = post.due {
                clock.wait_until(due).await;
                if alive.as_ref().is_some_and(|alive| !alive()) {
                    return done(Outcome::Dropped);
                }
            }
            let call = nimbus_core::outbound::http_call(
                "POST",
                &post.url,
                &post.headers,
                post.body.as_bytes(),
                ATTEMPT_TIMEOUT,
            );
            let error = match call.await {
                Ok(answer) if !retryable(answer.status) => return done(Outcome::Delivered),
                Ok(answer) => format!("the endpoint answered {}", answer.status),
                Err(e) => e,
            };
            tracing::debug!(url = %post.url, %error, "SNS HTTP delivery attempt failed");
            post.attempts += 1;
            let Some(delay) = post.delays.get(post.attempts - 1) else {
                return done(Outcome::Failed(error));
            };
            post.due = Some(clock.now_millis() + delay * 1000);
            progress(&post);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retry_phases_follow_the_policy() {
        assert_eq!(RetryPolicy::default().delays(), [20, 20, 20]);
        let p = RetryPolicy::from_json(&json!({"minDelayTarget": 1, "maxDelayTarget": 9, "numRetries": 7,
            "numNoDelayRetries": 1, "numMinDelayRetries": 1, "numMaxDelayRetries": 1}));
        assert_eq!(p.delays(), [0, 1, 3, 5, 7, 9, 9]);
        assert!(check_delivery_policy(r#"{"healthyRetryPolicy": {"minDelayTarget": 5, "maxDelayTarget": 1}}"#, false)
            .is_err());
        assert!(check_delivery_policy(r#"{"healthyRetryPolicy": {"numRetries": 101}}"#, false).is_err());
        assert!(check_delivery_policy(r#"{"http": {"defaultHealthyRetryPolicy": {"numRetries": 5}}}"#, true).is_ok());
        assert!(check_delivery_policy("nope", false).is_err());
    }

    #[test]
    fn server_errors_and_throttling_are_retried_other_answers_end_the_delivery() {
        assert!(retryable(500) && retryable(503) && retryable(429));
        assert!(!retryable(200) && !retryable(204) && !retryable(302) && !retryable(404) && !retryable(410));
    }
}
