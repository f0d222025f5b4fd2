//! DynamoDB's expression language: [`lexer`] → [`parser`] (recursive descent, names and values
//! resolved through [`symbols`]) → [`ast`], evaluated by [`eval`] (conditions, filters,
//! projections) and [`update`] (update expressions).

pub mod ast;
pub mod eval;
pub mod lexer;
pub mod parser;
pub mod symbols;
pub mod update;

#[cfg(test)]
mod tests;

pub use parser::{parse_condition, parse_projection, parse_update, Kind};
pub use symbols::Symbols;
