//! `http`/`https` deliveries in flight, kept in the SNS journal: a delivery is recorded before
//! the Publish (or Subscribe) that caused it is answered, its progress after each failed
//! attempt, and it is removed when it ends, so a `kill -9` loses nothing acknowledged and a
//! restart resumes each retry schedule where it stood.

use nimbus_core::AwsError;

use crate::endpoint::{self, Outcome, Post};
use crate::state::{delivery_key, Delivery, Record};
use crate::Sns;

impl Sns {
    /// A delivery to journal and start: `wants_confirmed` is the subscription state it is for.
    pub(crate) fn delivery(sub_arn: &str, kind: &str, wants_confirmed: Option<bool>, post: Post) -> Delivery {
        Delivery {
            id: uuid::Uuid::new_v4().to_string(),
            subscription_arn: sub_arn.to_string(),
            kind: kind.to_string(),
            wants_confirmed,
            post,
        }
    }

    /// Journal the deliveries (one batch), then start each on its own task.
    pub(crate) fn send(&self, deliveries: Vec<Delivery>) -> Result<(), AwsError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        self.store.write(|_, changes| {
            for d in &deliveries {
                changes.put(delivery_key(&d.id), Record::Delivery(d.clone()));
            }
            Ok(())
        })?;
        for d in deliveries {
            self.start(d);
        }
        Ok(())
    }

    /// Resume the deliveries the last run had not finished (after the targets are wired).
    pub fn resume_deliveries(&self) {
        let pending: Vec<Delivery> = self.store.read(|db| db.deliveries.values().cloned().collect());
        for d in pending {
            let wanted = d.wants_confirmed.is_none_or(|confirmed| (self.alive(&d.subscription_arn, confirmed))());
            if wanted {
                self.start(d);
            } else {
                self.finish(&d, Outcome::Dropped);
            }
        }
    }

    fn start(&self, d: Delivery) {
        let alive = d.wants_confirmed.map(|confirmed| self.alive(&d.subscription_arn, confirmed));
        let (me, id) = (self.me.clone(), d.id.clone());
        let progress = move |post: &Post| {
            if let Some(sns) = me.upgrade() {
                sns.progress(&id, post);
            }
        };
        let me = self.me.clone();
        let post = d.post.clone();
        let done = move |outcome: Outcome| {
            if let Some(sns) = me.upgrade() {
                sns.finish(&d, outcome);
            }
        };
        endpoint::spawn(self.clock.clone(), post, alive, progress, done);
    }

    /// Record a failed attempt and when the next is due (unless the delivery was reset away).
    fn progress(&self, id: &str, post: &Post) {
        let saved = self.store.write(|db, changes| {
            if let Some(d) = db.deliveries.get(id) {
                changes.put(delivery_key(id), Record::Delivery(Delivery { post: post.clone(), ..d.clone() }));
            }
            Ok(())
        });
        if let Err(err) = saved {
            tracing::warn!(error = %err.message, "could not record an SNS delivery's retry");
        }
    }

    /// A delivery ended: forget it; a notification whose retries are spent goes to its
    /// subscription's dead-letter queue.
    fn finish(&self, d: &Delivery, outcome: Outcome) {
        let (removed, sub) = match self.store.write(|db, changes| {
            let known = db.deliveries.contains_key(&d.id);
            if known {
                changes.delete(delivery_key(&d.id));
            }
            Ok((known, db.subscriptions.get(&d.subscription_arn).cloned()))
        }) {
            Ok(found) => found,
            Err(err) => {
                tracing::warn!(error = %err.message, "could not record the end of an SNS delivery");
                (true, None)
            }
        };
        let Outcome::Failed(error) = outcome else { return };
        if d.kind != "Notification" {
            tracing::warn!(subscription = %d.subscription_arn, %error, kind = %d.kind, "SNS could not deliver a confirmation message");
            return;
        }
        tracing::warn!(subscription = %d.subscription_arn, %error, "SNS HTTP delivery failed after its retries");
        let (Some(sub), true) = (sub, removed) else { return };
        let Some(targets) = self.targets.read().clone() else { return };
        let arn = nimbus_core::arn::Arn::parse(&sub.topic_arn);
        let (account, region) = arn.map(|a| (a.account, a.region)).unwrap_or_default();
        let dead = nimbus_core::delivery::Delivery::new(&account, &region, &sub.endpoint, d.post.body.clone());
        crate::publish::redrive(&targets, &sub, dead, &error);
    }
}
