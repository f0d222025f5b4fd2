//! Nimbus's Amazon DynamoDB and DynamoDB Streams.
//!
//! The data model ([`value`], [`number`]) and the expression language ([`expr`]) are plain Rust
//! over plain data; tables and items ([`table`], [`ops`]) are operations over that model.

pub mod errors;
pub mod expr;
pub mod number;
pub mod value;
