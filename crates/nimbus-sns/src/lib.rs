//! Nimbus's Amazon SNS on the shared model-driven front (query protocol, XML answers).
//!
//! [`ops`] holds the management operations over the journaled [`state::Topics`];
//! [`publish`] validates, signs ([`sign`]) and fans messages out through
//! [`nimbus_core::delivery::Targets`] to SQS queues and Lambda functions. [`Sns`] is also a
//! delivery target itself (`sns` in `Targets`), for Lambda destinations and EventBridge targets.
//! [`SnsService`] serves the API plus the URLs SNS hands out: the signing certificate
//! (`SigningCertURL`), `UnsubscribeURL` and `SubscribeURL`.

pub mod endpoint;
pub mod errors;
pub mod ops;
pub mod pending;
pub mod publish;
pub mod sign;
pub mod state;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use nimbus_core::clock::Clock;
use nimbus_core::delivery::{Deliver, Delivery, Targets};
use nimbus_core::front::{unsupported, ModelService, OpResult, Operations};
use nimbus_core::model::ServiceModel;
use nimbus_core::service::BoxFuture;
use nimbus_core::state::Store;
use nimbus_core::{AwsError, HttpRequest, HttpResponse, RequestContext, Service};
use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};

use crate::errors::{invalid, no_topic};
use crate::ops::{str_of, Ctx};
use crate::publish::{Fanout, Message, Published};
use crate::sign::Signer;
use crate::state::Topics;

pub fn model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::parse(include_str!("../model/sns.json")))
}

/// Deduplication windows of FIFO topics: dedup id → (expiry, what the first publish got).
type DedupWindows = HashMap<String, HashMap<String, (i64, Published)>>;

pub struct Sns {
    store: Store<Topics>,
    clock: Clock,
    /// Where deliveries go (wired by the binary).
    pub targets: RwLock<Option<Targets>>,
    /// `http://127.0.0.1:PORT`, for URLs in messages published by other services.
    pub endpoint: RwLock<String>,
    signer: OnceLock<Signer>,
    fifo: Mutex<DedupWindows>,
    sequence: AtomicU64,
    /// Itself, for background deliveries that check their subscription is still there.
    me: std::sync::Weak<Sns>,
}

impl Sns {
    /// In memory without a data dir; otherwise persisted in `DIR/sns/state.journal`.
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<Arc<Sns>> {
        let store = Store::open(data_dir, "sns")?;
        Ok(Arc::new_cyclic(|me| Sns {
            store,
            clock,
            targets: RwLock::new(None),
            endpoint: RwLock::new("http://127.0.0.1:4566".into()),
            signer: OnceLock::new(),
            fifo: Mutex::default(),
            sequence: AtomicU64::new(1),
            me: me.clone(),
        }))
    }

    /// A check that the subscription `arn` still exists (and is confirmed, or still pending).
    pub(crate) fn alive(&self, arn: &str, confirmed: bool) -> endpoint::Alive {
        let (me, arn) = (self.me.clone(), arn.to_string());
        Arc::new(move || {
            me.upgrade().is_some_and(|sns| {
                sns.store.read(|db| db.subscriptions.get(&arn).is_some_and(|s| s.confirmed == confirmed))
            })
        })
    }

    fn signer(&self) -> &Signer {
        self.signer.get_or_init(Signer::default)
    }

    /// Publish one message to a topic: admit (FIFO dedup), then fan out.
    pub fn publish_to(&self, endpoint: &str, topic_arn: &str, mut m: Message) -> Result<Published, AwsError> {
        let fanout = self.store.read(|db| -> Result<Fanout, AwsError> {
            let topic = ops::topic(db, topic_arn)?.clone();
            let subscriptions = db.subscriptions_of(topic_arn).cloned().collect();
            Ok(Fanout { topic, subscriptions })
        })?;
        let (published, fresh) = self.admit(&fanout.topic, &mut m)?;
        if fresh {
            self.fan_out(endpoint, &fanout, &m, &published)?;
        }
        Ok(published)
    }

    fn publish(&self, ctx: &RequestContext, input: &Value) -> OpResult {
        let topic_arn = str_of(input, "TopicArn").or_else(|| str_of(input, "TargetArn"));
        let Some(topic_arn) = topic_arn else {
            if str_of(input, "PhoneNumber").is_some() {
                // SMS is stored-only: accepted, never sent.
                publish::parse(input)?;
                return Ok(json!({"MessageId": uuid::Uuid::new_v4().to_string()}));
            }
            return Err(invalid("TopicArn or TargetArn Reason: no value for required parameter"));
        };
        let m = publish::parse(input)?;
        let p = self.publish_to(&ctx.endpoint, topic_arn, m)?;
        let mut out = json!({"MessageId": p.message_id});
        if let Some(seq) = p.sequence_number {
            out["SequenceNumber"] = json!(seq);
        }
        Ok(out)
    }

    fn publish_batch(&self, ctx: &RequestContext, input: &Value) -> OpResult {
        let topic_arn = str_of(input, "TopicArn").unwrap_or_default();
        let entries = input.get("PublishBatchRequestEntries").and_then(Value::as_array).cloned().unwrap_or_default();
        if entries.is_empty() {
            return Err(AwsError::new(400, "EmptyBatchRequest", "The batch request doesn't contain any entries."));
        }
        if entries.len() > 10 {
            return Err(AwsError::new(
                400,
                "TooManyEntriesInBatchRequest",
                "The batch request contains more entries than permissible.",
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for e in &entries {
            if !ids.insert(str_of(e, "Id").unwrap_or_default()) {
                return Err(AwsError::new(
                    400,
                    "BatchEntryIdsNotDistinct",
                    "Two or more batch entries in the request have the same Id.",
                ));
            }
        }
        self.store.read(|db| ops::topic(db, topic_arn).map(|_| ()))?;
        let total: usize = entries.iter().map(|e| str_of(e, "Message").map_or(0, str::len)).sum();
        if total > publish::MAX_MESSAGE_BYTES {
            return Err(AwsError::new(
                400,
                "BatchRequestTooLong",
                "The length of all the messages put together is more than the limit.",
            ));
        }
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        for e in &entries {
            let id = str_of(e, "Id").unwrap_or_default();
            match publish::parse(e).and_then(|m| self.publish_to(&ctx.endpoint, topic_arn, m)) {
                Ok(p) => {
                    let mut entry = json!({"Id": id, "MessageId": p.message_id});
                    if let Some(seq) = p.sequence_number {
                        entry["SequenceNumber"] = json!(seq);
                    }
                    ok.push(entry);
                }
                Err(err) => failed.push(publish::batch_error(id, &err)),
            }
        }
        Ok(json!({"Successful": ok, "Failed": failed}))
    }

    /// After Subscribe: an `http`/`https` subscription still pending gets its
    /// `SubscriptionConfirmation` POSTed (in the background, retried by its delivery policy).
    fn confirm_endpoint(&self, endpoint: &str, input: &Value) {
        let (Some(topic_arn), Some(protocol @ ("http" | "https")), Some(url)) =
            (str_of(input, "TopicArn"), str_of(input, "Protocol"), str_of(input, "Endpoint"))
        else {
            return;
        };
        let found = self.store.read(|db| {
            let topic = db.topics.get(topic_arn)?.clone();
            let sub = db.subscriptions_of(topic_arn).find(|s| s.protocol == protocol && s.endpoint == url)?.clone();
            Some((topic, sub))
        });
        let Some((topic, sub)) = found else { return };
        if sub.confirmed {
            return;
        }
        let message = format!(
            "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
            topic.arn
        );
        self.handshake(endpoint, &topic, &sub, "SubscriptionConfirmation", message, Some(false));
    }

    /// After Unsubscribe of an `http`/`https` subscription: its `UnsubscribeConfirmation`,
    /// whose token (or `SubscribeURL`) restores it.
    fn confirm_unsubscribe(&self, endpoint: &str, input: &Value) {
        let arn = str_of(input, "SubscriptionArn").unwrap_or_default();
        let found = self.store.read(|db| {
            let sub = db.unsubscribed.get(arn)?.clone();
            Some((db.topics.get(&sub.topic_arn)?.clone(), sub))
        });
        let Some((topic, sub)) = found else { return };
        let message = format!(
            "You have chosen to deactivate subscription {}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.",
            sub.arn
        );
        self.handshake(endpoint, &topic, &sub, "UnsubscribeConfirmation", message, None);
    }

    /// POST a signed `SubscriptionConfirmation` / `UnsubscribeConfirmation` with the
    /// subscription's token and the `SubscribeURL` that confirms it.
    fn handshake(
        &self,
        endpoint: &str,
        topic: &state::Topic,
        sub: &state::Subscription,
        kind: &str,
        message: String,
        wants_confirmed: Option<bool>,
    ) {
        let Some(token) = sub.token.clone() else { return };
        let message_id = uuid::Uuid::new_v4().to_string();
        let timestamp = nimbus_core::shapes::Timestamp::from_millis(self.clock.now_millis()).to_iso8601();
        let subscribe_url = format!("{endpoint}/?Action=ConfirmSubscription&TopicArn={}&Token={token}", topic.arn);
        let version = topic.attributes.get("SignatureVersion").map(String::as_str).unwrap_or("1");
        let signature = self.signer().sign(
            version,
            &[
                ("Message", message.as_str()),
                ("MessageId", message_id.as_str()),
                ("SubscribeURL", subscribe_url.as_str()),
                ("Timestamp", timestamp.as_str()),
                ("Token", token.as_str()),
                ("TopicArn", topic.arn.as_str()),
                ("Type", kind),
            ],
        );
        let fields = [
            ("Type", json!(kind)),
            ("MessageId", json!(message_id)),
            ("Token", json!(token)),
            ("TopicArn", json!(topic.arn)),
            ("Message", json!(message)),
            ("SubscribeURL", json!(subscribe_url)),
            ("Timestamp", json!(timestamp)),
            ("SignatureVersion", json!(version)),
            ("Signature", json!(signature)),
            ("SigningCertURL", json!(format!("{endpoint}{}", sign::CERT_PATH))),
        ];
        let (policy, content_type) = endpoint::effective(topic, sub);
        let mut post = endpoint::Post::new(&sub.endpoint, kind, &message_id, &topic.arn, &content_type);
        if kind == "UnsubscribeConfirmation" {
            post = post.header("x-amz-sns-subscription-arn", &sub.arn);
        }
        post.body = publish::layout(&fields);
        post.delays = policy.delays();
        if let Err(err) = self.send(vec![Sns::delivery(&sub.arn, kind, wants_confirmed, post)]) {
            tracing::warn!(subscription = %sub.arn, error = %err.message, kind, "SNS could not record a confirmation message");
        }
    }

    fn run(&self, ctx: &RequestContext, op: &str, input: &Value) -> OpResult {
        let c = Ctx { account: &ctx.account, region: &ctx.region, endpoint: &ctx.endpoint };
        let write = |f: &dyn Fn(&Topics, &mut nimbus_core::state::Changes<state::Record>) -> OpResult| {
            self.store.write(|db, changes| f(db, changes))
        };
        match op {
            "CreateTopic" => write(&|db, ch| ops::create_topic(db, &c, input, ch)),
            "DeleteTopic" => write(&|db, ch| ops::delete_topic(db, input, ch)),
            "GetTopicAttributes" => self.store.read(|db| ops::get_topic_attributes(db, input)),
            "SetTopicAttributes" => write(&|db, ch| ops::set_topic_attributes(db, input, ch)),
            "ListTopics" => self.store.read(|db| ops::list_topics(db, &c, input)),
            "Subscribe" => {
                let out = write(&|db, ch| ops::subscribe(db, &c, input, ch))?;
                self.confirm_endpoint(&ctx.endpoint, input);
                Ok(out)
            }
            "ConfirmSubscription" => write(&|db, ch| ops::confirm_subscription(db, input, ch)),
            "Unsubscribe" => {
                let out = write(&|db, ch| ops::unsubscribe(db, input, ch))?;
                self.confirm_unsubscribe(&ctx.endpoint, input);
                Ok(out)
            }
            "GetSubscriptionAttributes" => self.store.read(|db| ops::get_subscription_attributes(db, input)),
            "SetSubscriptionAttributes" => write(&|db, ch| ops::set_subscription_attributes(db, input, ch)),
            "ListSubscriptions" => self.store.read(|db| ops::list_subscriptions(db, &c, input)),
            "ListSubscriptionsByTopic" => self.store.read(|db| ops::list_subscriptions_by_topic(db, input)),
            "TagResource" => write(&|db, ch| ops::tag_resource(db, input, ch)),
            "UntagResource" => write(&|db, ch| ops::untag_resource(db, input, ch)),
            "ListTagsForResource" => self.store.read(|db| ops::list_tags_for_resource(db, input)),
            "PutDataProtectionPolicy" => write(&|db, ch| ops::put_data_protection_policy(db, input, ch)),
            "GetDataProtectionPolicy" => self.store.read(|db| ops::get_data_protection_policy(db, input)),
            "AddPermission" => write(&|db, ch| ops::add_permission(db, input, ch)),
            "RemovePermission" => write(&|db, ch| ops::remove_permission(db, input, ch)),
            "Publish" => self.publish(ctx, input),
            "PublishBatch" => self.publish_batch(ctx, input),
            _ => Err(unsupported(op)),
        }
    }
}

impl Operations for Sns {
    fn model(&self) -> &'static ServiceModel {
        model()
    }

    fn call<'a>(&'a self, ctx: &'a RequestContext, op: &'a str, input: Value) -> BoxFuture<'a, OpResult> {
        Box::pin(async move { self.run(ctx, op, &input) })
    }

    fn reset(&self) {
        self.store.reset();
        self.fifo.lock().clear();
    }
}

/// SNS as a delivery target: publish the payload to the topic the ARN names (Lambda
/// destinations, EventBridge targets, Scheduler).
impl Deliver for Sns {
    fn deliver(&self, d: &Delivery) -> Result<(), String> {
        let policy = self.store.read(|db| db.topics.get(&d.target_arn).map(|t| t.attributes.get("Policy").cloned()));
        let Some(policy) = policy else {
            return Err(format!("{}: {}", no_topic().message, d.target_arn));
        };
        if let Some(source) = d.source.as_ref().filter(|s| s.principal == "s3.amazonaws.com") {
            // S3 publishes only where the topic policy lets it (the default policy does not).
            let allowed = policy
                .as_deref()
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                .is_some_and(|p| policy_allows(&p, source, &d.target_arn));
            if !allowed {
                return Err(format!("the policy of {} does not allow {} to publish", d.target_arn, source.principal));
            }
        }
        let m = Message {
            message: d.message.clone(),
            subject: d.subject.clone(),
            structure: None,
            attributes: d
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), publish::Attribute { data_type: "String".into(), value: v.clone() }))
                .chain(
                    d.typed_attributes
                        .iter()
                        .map(|(k, t, v)| (k.clone(), publish::Attribute { data_type: t.clone(), value: v.clone() })),
                )
                .collect(),
            group_id: d.group_id.clone(),
            dedup_id: d.dedup_id.clone().or_else(|| d.group_id.as_ref().map(|_| uuid::Uuid::new_v4().to_string())),
        };
        let endpoint = self.endpoint.read().clone();
        self.publish_to(&endpoint, &d.target_arn, m).map(|_| ()).map_err(|e| e.message)
    }

    fn reachable(&self, d: &Delivery) -> bool {
        let policy = self.store.read(|db| db.topics.get(&d.target_arn).map(|t| t.attributes.get("Policy").cloned()));
        match (policy, d.source.as_ref().filter(|s| s.principal == "s3.amazonaws.com")) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(policy), Some(source)) => policy
                .as_deref()
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                .is_some_and(|p| policy_allows(&p, source, &d.target_arn)),
        }
    }
}

/// Whether a topic policy lets a service (`source`) publish to `topic_arn`: an `Allow` for its
/// service principal (or everyone) with `SNS:Publish`, whose `aws:SourceArn` /
/// `aws:SourceAccount` conditions (if any) hold; a matching `Deny` wins.
fn policy_allows(policy: &Value, source: &nimbus_core::delivery::Source, topic_arn: &str) -> bool {
    let list = |v: &Value| -> Vec<Value> {
        match v {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        }
    };
    let glob = nimbus_core::policy::wildcard;
    let mut allowed = false;
    for st in list(&policy["Statement"]) {
        let principal = &st["Principal"];
        let principal_ok = principal == "*"
            || principal["AWS"] == "*"
            || list(&principal["Service"]).iter().any(|p| p.as_str() == Some(source.principal.as_str()));
        let action_ok = list(&st["Action"]).iter().filter_map(Value::as_str).any(|a| glob(a, "sns:Publish"));
        let resources = list(&st["Resource"]);
        let resource_ok =
            resources.is_empty() || resources.iter().filter_map(Value::as_str).any(|r| glob(r, topic_arn));
        if !principal_ok || !action_ok || !resource_ok {
            continue;
        }
        let mut conditions_ok = true;
        if let Some(condition) = st["Condition"].as_object() {
            for (operator, tests) in condition {
                let Some(tests) = tests.as_object() else { continue };
                for (key, expected) in tests {
                    let actual = match key.to_ascii_lowercase().as_str() {
                        "aws:sourcearn" => source.source_arn.as_deref(),
                        "aws:sourceaccount" | "aws:sourceowner" => source.source_account.as_deref(),
                        _ => continue,
                    };
                    let Some(actual) = actual else {
                        conditions_ok = false;
                        continue;
                    };
                    let like = operator.to_ascii_lowercase().contains("like");
                    let holds = list(expected).iter().filter_map(Value::as_str).any(|e| {
                        if like {
                            glob(e, actual)
                        } else {
                            e == actual
                        }
                    });
                    conditions_ok &= holds;
                }
            }
        }
        if !conditions_ok {
            continue;
        }
        match st["Effect"].as_str() {
            Some("Deny") => return false,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    allowed
}

/// The HTTP face: the model-driven API, plus the signing certificate and the
/// unsubscribe/confirm links SNS puts in messages (plain GETs without `Version`).
pub struct SnsService {
    front: ModelService<Sns>,
}

impl SnsService {
    pub fn open(data_dir: Option<&Path>, clock: Clock) -> std::io::Result<SnsService> {
        Ok(SnsService { front: ModelService::new("sns", &["sns"], Sns::open(data_dir, clock)?) })
    }

    pub fn handle(&self) -> Arc<Sns> {
        self.front.operations().clone()
    }
}

fn is_link(req: &HttpRequest) -> bool {
    req.method.as_str() == "GET"
        && req.query_param("Version").is_none()
        && matches!(req.query_param("Action"), Some("Unsubscribe" | "ConfirmSubscription"))
}

impl Service for SnsService {
    fn name(&self) -> &'static str {
        "sns"
    }

    fn signing_names(&self) -> &'static [&'static str] {
        &["sns"]
    }

    fn intercepts(&self, req: &HttpRequest) -> bool {
        req.path == sign::CERT_PATH || is_link(req)
    }

    fn claims(&self, req: &HttpRequest) -> bool {
        self.front.claims(req)
    }

    fn handle<'a>(&'a self, ctx: RequestContext, req: HttpRequest) -> BoxFuture<'a, HttpResponse> {
        Box::pin(async move {
            if req.path == sign::CERT_PATH {
                return HttpResponse::new(200, "application/x-x509-ca-cert", sign::CERT_PEM.as_bytes().to_vec());
            }
            self.front.respond(&ctx, &req).await
        })
    }

    fn reset(&self) {
        self.front.reset();
    }
}
