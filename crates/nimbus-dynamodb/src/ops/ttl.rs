//! Time to live: expired items are deleted on nimbus's clock, each deletion a stream record
//! with DynamoDB's service identity; stream records older than 24 hours are trimmed.

use super::streams::RETENTION_MILLIS;
use super::{Ctx, Writes};
use crate::state::{Change, Db};

/// AWS leaves alone items whose expiry is more than five years in the past.
const TOO_OLD_SECONDS: i64 = 5 * 365 * 24 * 60 * 60;

/// Every change due at `now_millis`: TTL deletions and stream trimming, in all accounts.
pub fn sweep(db: &Db, now_millis: i64) -> Vec<Change> {
    let mut changes = Vec::new();
    let now = now_millis / 1000;
    let mut sequence = db.sequence;
    for ((account, region), r) in &db.regions {
        let ctx = Ctx { account: account.clone(), region: region.clone(), now_millis };
        let mut writes = Writes::new(db, &ctx).starting_at(sequence);
        for table in r.tables.values() {
            for (expiry, key) in table.expiries.range(..(now + 1, crate::key::Scalar::min_key())) {
                if *expiry <= now - TOO_OLD_SECONDS {
                    continue;
                }
                if let Some(stored) = table.items.get(key) {
                    writes.write(table, key, Some(&stored.item()), None, true);
                }
            }
            for (arn, log) in &table.streams {
                let cutoff = now_millis - RETENTION_MILLIS;
                let expired = log.records.iter().take_while(|r| r.created_millis < cutoff).last();
                if let Some(last) = expired {
                    changes.push(Change::Trim {
                        scope: ctx.scope(),
                        table: table.meta().name.clone(),
                        stream: arn.clone(),
                        before_sequence: last.sequence + 1,
                    });
                }
            }
        }
        sequence = writes.sequence();
        changes.extend(writes.changes);
    }
    changes
}
