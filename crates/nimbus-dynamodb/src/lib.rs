//! Nimbus's Amazon DynamoDB and DynamoDB Streams.
//!
//! The data model ([`value`], [`number`]) and the expression language ([`expr`]) are plain Rust
//! over plain data. [`ops`] holds one plain function per operation: it reads the state
//! ([`state::Db`]) and returns its answer plus the [`state::Change`]s to journal and then apply.
//! Items are kept packed ([`codec`]) so a million of them stay small.

pub mod codec;
pub mod errors;
pub mod expr;
pub mod key;
pub mod number;
pub mod ops;
pub mod persist;
pub mod service;
pub mod state;
pub mod table;
pub mod value;

pub use service::{Dynamo, DynamoService};
