//! A service's state behind one lock, persisted through the journal in the only safe order:
//! an operation computes its changes from a read-only view, the store makes them durable
//! (one journal batch, fsynced, with `--data-dir`), and only then applies them to memory.
//! A write that cannot be journaled changes nothing, so the wrong order cannot be written.
//!
//! ```ignore
//! #[derive(Default)]
//! struct Tables { items: HashMap<String, Item> }
//! impl Persist for Tables {
//!     type Record = Item;
//!     fn apply(&mut self, key: &str, record: Option<Item>) {
//!         match record { Some(item) => { self.items.insert(key.into(), item); } None => { self.items.remove(key); } }
//!     }
//! }
//! let store: Store<Tables> = Store::open(data_dir, "dynamodb")?;
//! store.write(|tables, changes| { changes.put("t/pk1", item); Ok(()) })?;
//! ```

use std::io;
use std::path::Path;

use parking_lot::{Mutex, MutexGuard};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::AwsError;
use crate::journal::Journal;

/// State a [`Store`] keeps: built by replaying records, changed only by [`Persist::apply`].
pub trait Persist: Default + Send + 'static {
    /// What one key holds in the journal.
    type Record: Serialize + DeserializeOwned + Send;

    /// Apply one durable change: `Some` sets `key`, `None` removes it. Called on replay at
    /// start-up and after each acknowledged write, so it must not fail.
    fn apply(&mut self, key: &str, record: Option<Self::Record>);
}

/// The changes one operation makes, applied together or not at all.
pub struct Changes<R> {
    list: Vec<(String, Option<R>)>,
}

impl<R> Changes<R> {
    fn new() -> Self {
        Changes { list: Vec::new() }
    }

    pub fn put(&mut self, key: impl Into<String>, record: R) {
        self.list.push((key.into(), Some(record)));
    }

    pub fn delete(&mut self, key: impl Into<String>) {
        self.list.push((key.into(), None));
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }
}

pub struct Store<S: Persist> {
    state: Mutex<S>,
    journal: Option<Journal>,
}

impl<S: Persist> Store<S> {
    /// In memory without a data dir; otherwise replayed from and journaled to
    /// `DIR/<service>/state.journal`.
    pub fn open(data_dir: Option<&Path>, service: &str) -> io::Result<Store<S>> {
        Self::open_journal(data_dir, service, "state", false)
    }

    /// A store for secrets (key material): `DIR/<service>/<name>.journal`, owner-only (0600).
    pub fn open_private(data_dir: Option<&Path>, service: &str, name: &str) -> io::Result<Store<S>> {
        Self::open_journal(data_dir, service, name, true)
    }

    fn open_journal(data_dir: Option<&Path>, service: &str, name: &str, private: bool) -> io::Result<Store<S>> {
        let mut state = S::default();
        let journal = match data_dir {
            None => None,
            Some(dir) => {
                let (journal, records) = if private {
                    Journal::open_private(&dir.join(service), name)?
                } else {
                    Journal::open(&dir.join(service), name)?
                };
                for (key, value) in records {
                    match serde_json::from_value::<S::Record>(value) {
                        Ok(record) => state.apply(&key, Some(record)),
                        Err(err) => {
                            tracing::error!(service, key, error = %err, "journal record does not fit the state; dropped")
                        }
                    }
                }
                Some(journal)
            }
        };
        Ok(Store { state: Mutex::new(state), journal })
    }

    /// A consistent read of the state.
    pub fn read<T>(&self, f: impl FnOnce(&S) -> T) -> T {
        f(&self.state.lock())
    }

    /// Run an operation: `f` sees the state read-only and records its changes; they are made
    /// durable, then applied, before this returns. An error from `f` or from the journal leaves
    /// memory and disk as they were.
    pub fn write<T>(&self, f: impl FnOnce(&S, &mut Changes<S::Record>) -> Result<T, AwsError>) -> Result<T, AwsError> {
        let mut state = self.state.lock();
        let mut changes = Changes::new();
        let out = f(&state, &mut changes)?;
        self.commit(&mut state, changes)?;
        Ok(out)
    }

    fn commit(&self, state: &mut MutexGuard<'_, S>, changes: Changes<S::Record>) -> Result<(), AwsError> {
        if changes.is_empty() {
            return Ok(());
        }
        if let Some(journal) = &self.journal {
            let mut batch = Vec::with_capacity(changes.len());
            for (key, record) in &changes.list {
                let value = match record {
                    Some(r) => Some(serde_json::to_value(r).map_err(|e| AwsError::internal(e.to_string()))?),
                    None => None,
                };
                batch.push((key.clone(), value));
            }
            journal.write(&batch).map_err(|err| {
                tracing::error!(path = %journal.path().display(), error = %err, "journal write failed; nothing changed");
                AwsError::internal(format!("nimbus could not persist the change: {err}"))
            })?;
        }
        for (key, record) in changes.list {
            state.apply(&key, record);
        }
        Ok(())
    }

    /// Drop all state, in memory and on disk (`POST /_nimbus/reset`).
    pub fn reset(&self) {
        let mut state = self.state.lock();
        if let Some(journal) = &self.journal {
            if let Err(err) = journal.clear() {
                tracing::error!(path = %journal.path().display(), error = %err, "could not clear the journal");
            }
        }
        *state = S::default();
    }
}

/// State that is nothing but its records by key (each record a whole resource).
pub struct Keyed<R>(pub std::collections::BTreeMap<String, R>);

impl<R> Default for Keyed<R> {
    fn default() -> Self {
        Keyed(Default::default())
    }
}

impl<R: Serialize + DeserializeOwned + Send + 'static> Persist for Keyed<R> {
    type Record = R;

    fn apply(&mut self, key: &str, record: Option<R>) {
        match record {
            Some(r) => {
                self.0.insert(key.to_string(), r);
            }
            None => {
                self.0.remove(key);
            }
        }
    }
}

/// Journal records as plain JSON, for states that keep `serde_json::Value`s.
pub type Document = Value;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Default)]
    struct Counters(BTreeMap<String, i64>);

    impl Persist for Counters {
        type Record = i64;
        fn apply(&mut self, key: &str, record: Option<i64>) {
            match record {
                Some(n) => self.0.insert(key.to_string(), n),
                None => self.0.remove(key),
            };
        }
    }

    #[test]
    fn writes_apply_after_the_journal_and_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("nimbus-state-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store: Store<Counters> = Store::open(Some(&dir), "svc").unwrap();
            store
                .write(|_, c| {
                    c.put("a", 1);
                    c.put("b", 2);
                    Ok(())
                })
                .unwrap();
            let err = store.write(|_, c| {
                c.put("a", 99);
                Err::<(), _>(AwsError::new(400, "Nope", "refused"))
            });
            assert!(err.is_err());
            assert_eq!(store.read(|s| s.0.get("a").copied()), Some(1), "a failed operation changes nothing");
            store.write(|_, c| Ok(c.delete("b"))).unwrap();
        }
        let store: Store<Counters> = Store::open(Some(&dir), "svc").unwrap();
        assert_eq!(store.read(|s| s.0.clone()), BTreeMap::from([("a".to_string(), 1)]));
        store.reset();
        assert!(store.read(|s| s.0.is_empty()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
