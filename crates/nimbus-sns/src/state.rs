//! SNS state: topics and subscriptions by ARN (the ARN names account and region), journaled
//! one record per topic and per subscription.

use std::collections::BTreeMap;

use nimbus_core::state::Persist;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Topic {
    pub arn: String,
    pub name: String,
    pub account: String,
    pub region: String,
    /// Settable attributes as the caller set them (`DisplayName`, `Policy`, `DeliveryPolicy`,
    /// `FifoTopic`, `ContentBasedDeduplication`, `KmsMasterKeyId`, …).
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub data_protection_policy: Option<String>,
}

impl Topic {
    pub fn fifo(&self) -> bool {
        self.attributes.get("FifoTopic").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn content_dedup(&self) -> bool {
        self.attributes.get("ContentBasedDeduplication").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Subscription {
    pub arn: String,
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub owner: String,
    /// `RawMessageDelivery`, `FilterPolicy`, `FilterPolicyScope`, `RedrivePolicy`, …
    pub attributes: BTreeMap<String, String>,
    pub confirmed: bool,
    /// The confirmation token a pending subscription is confirmed with.
    pub token: Option<String>,
}

impl Subscription {
    pub fn raw(&self) -> bool {
        self.attributes.get("RawMessageDelivery").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    Topic(Topic),
    Subscription(Subscription),
    /// An `http`/`https` subscription unsubscribed: its `UnsubscribeConfirmation` token can
    /// restore it (ConfirmSubscription or the message's `SubscribeURL`), as on AWS.
    Unsubscribed(Subscription),
    /// An `http`/`https` delivery not yet done: journaled before Publish (or Subscribe) answers,
    /// updated after each failed attempt, removed when it ends.
    Delivery(Delivery),
}

/// A pending POST to an `http`/`https` subscriber and what it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub subscription_arn: String,
    /// `Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`.
    pub kind: String,
    /// The subscription state the delivery is for (confirmed for notifications, pending for a
    /// confirmation); none: wanted whatever becomes of the subscription.
    pub wants_confirmed: Option<bool>,
    pub post: crate::endpoint::Post,
}

#[derive(Default)]
pub struct Topics {
    pub topics: BTreeMap<String, Topic>,
    pub subscriptions: BTreeMap<String, Subscription>,
    /// Unsubscribed `http`/`https` subscriptions that their token can still restore.
    pub unsubscribed: BTreeMap<String, Subscription>,
    /// Pending `http`/`https` deliveries by id.
    pub deliveries: BTreeMap<String, Delivery>,
}

impl Topics {
    pub fn subscriptions_of<'a>(&'a self, topic_arn: &'a str) -> impl Iterator<Item = &'a Subscription> + 'a {
        self.subscriptions.values().filter(move |s| s.topic_arn == topic_arn)
    }
}

pub fn topic_key(arn: &str) -> String {
    format!("t/{arn}")
}

pub fn subscription_key(arn: &str) -> String {
    format!("s/{arn}")
}

pub fn unsubscribed_key(arn: &str) -> String {
    format!("u/{arn}")
}

pub fn delivery_key(id: &str) -> String {
    format!("d/{id}")
}

impl Persist for Topics {
    type Record = Record;

    fn apply(&mut self, key: &str, record: Option<Record>) {
        match (key.split_once('/'), record) {
            (_, Some(Record::Topic(t))) => {
                self.topics.insert(t.arn.clone(), t);
            }
            (_, Some(Record::Subscription(s))) => {
                self.subscriptions.insert(s.arn.clone(), s);
            }
            (_, Some(Record::Unsubscribed(s))) => {
                self.unsubscribed.insert(s.arn.clone(), s);
            }
            (_, Some(Record::Delivery(d))) => {
                self.deliveries.insert(d.id.clone(), d);
            }
            (Some(("d", id)), None) => {
                self.deliveries.remove(id);
            }
            (Some(("u", arn)), None) => {
                self.unsubscribed.remove(arn);
            }
            (Some(("t", arn)), None) => {
                self.topics.remove(arn);
            }
            (Some(("s", arn)), None) => {
                self.subscriptions.remove(arn);
            }
            _ => {}
        }
    }
}
