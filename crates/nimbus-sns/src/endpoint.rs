//! `http`/`https` subscriptions: the POSTs SNS sends to endpoints the user runs (the
//! `SubscriptionConfirmation` handshake and `Notification`s, with AWS's `x-amz-sns-*` headers),
//! each on a background task so Publish and Subscribe never wait for the endpoint, retried on
//! nimbus's clock by the HTTP delivery policy (the subscription's `DeliveryPolicy`, else the
//! topic's, else AWS's default: 3 retries 20 seconds apart), then handed to the caller's
//! `on_exhausted` (the subscription's dead-letter queue).

use std::time::Duration;

use nimbus_core::clock::Clock;
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

/// One POST to an endpoint, with the delays of its retries.
#[derive(Clone)]
pub struct Post {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delays: Vec<i64>,
    /// Checked before each retry: a delivery no longer wanted stops there.
    pub alive: Option<Alive>,
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
            alive: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Post {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Deliver `post` on a background task: an answer below 500 is a delivery (as SNS counts it);
/// a 5xx, a refused connection or a timeout is retried after each delay on nimbus's clock (while
/// the post is still `alive`), and when the retries are spent `on_exhausted` gets the last error.
pub fn spawn(clock: Clock, post: Post, on_exhausted: impl FnOnce(String) + Send + 'static) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        on_exhausted("no runtime to deliver on".into());
        return;
    };
    runtime.spawn(async move {
        let mut delays = post.delays.iter();
        loop {
            let error = match nimbus_core::outbound::http_call(
                "POST",
                &post.url,
                &post.headers,
                post.body.as_bytes(),
                ATTEMPT_TIMEOUT,
            )
            .await
            {
                Ok(answer) if answer.status < 500 => return,
                Ok(answer) => format!("the endpoint answered {}", answer.status),
                Err(e) => e,
            };
            tracing::debug!(url = %post.url, %error, "SNS HTTP delivery attempt failed");
            let Some(delay) = delays.next() else {
                on_exhausted(error);
                return;
            };
            clock.wait_until(clock.now_millis() + delay * 1000).await;
            if post.alive.as_ref().is_some_and(|alive| !alive()) {
                return;
            }
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
}
