//! Nimbus core: the pieces every emulated service shares.
//!
//! A request flows through an explicit pipeline (see [`server`]): read the HTTP request,
//! identify the caller ([`identity`]: SigV4 → account, region, service), pick the service
//! ([`server::Router`]), let the service decode/validate/handle/encode, and write the response.
//! Services implement [`service::Service`] and never touch each other's state.
//!
//! Shared infrastructure: [`error::AwsError`], ARNs ([`arn`]), a clock tests can advance
//! ([`clock`]), a crash-safe journal for `--data-dir` persistence ([`journal`]) and a
//! content-addressed blob store ([`blob`]).

pub mod arn;
pub mod blob;
pub mod clock;
pub mod crypto;
pub mod delivery;
pub mod error;
pub mod eventstream;
pub mod front;
pub mod http;
pub mod identity;
pub mod invoke;
pub mod journal;
pub mod logs;
pub mod members;
pub mod model;
pub mod objects;
pub mod outbound;
pub mod paging;
pub mod pattern;
pub mod policy;
pub mod query;
pub mod queue;
pub mod schedule;
pub mod scratch;
pub mod screen;
pub mod server;
pub mod service;
pub mod shapes;
pub mod sigv4;
pub mod state;
pub mod streams;
pub mod urls;
pub mod websocket;

pub use error::AwsError;
pub use http::{HttpRequest, HttpResponse, RequestBody};
pub use service::{RequestContext, Service};
