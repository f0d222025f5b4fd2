//! API Gateway's state: every REST API (v1) and HTTP/WebSocket API (v2) is one journal record
//! holding its whole configuration as the documents the API returns (model member names;
//! fields starting with `_` are nimbus's own and never encoded). Account-wide things (API keys,
//! usage plans, domain names, VPC links, tags) are one record each.

use std::collections::{BTreeMap, HashMap};

use nimbus_core::state::Persist;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub type Docs = BTreeMap<String, Value>;

/// A REST API: its resources (each with its `resourceMethods`), deployments (each a snapshot
/// of what it deployed) and the rest of its sub-collections.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RestApi {
    pub account: String,
    pub region: String,
    pub doc: Value,
    pub resources: Docs,
    pub deployments: BTreeMap<String, Deployment>,
    pub stages: Docs,
    pub authorizers: Docs,
    pub validators: Docs,
    pub models: Docs,
    pub gateway_responses: Docs,
}

/// What a deployment froze: the resources, authorizers, request validators and models as
/// they were.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Deployment {
    pub doc: Value,
    pub resources: Docs,
    pub authorizers: Docs,
    #[serde(default)]
    pub validators: Docs,
    #[serde(default)]
    pub models: Docs,
}

/// An HTTP or WebSocket API (v2).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HttpApi {
    pub account: String,
    pub region: String,
    pub doc: Value,
    pub routes: Docs,
    pub integrations: Docs,
    pub stages: Docs,
    pub deployments: Docs,
    pub authorizers: Docs,
    pub models: Docs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    Rest(Box<RestApi>),
    Http(Box<HttpApi>),
    Doc(Value),
}

#[derive(Default)]
pub struct Gateways {
    pub rest: BTreeMap<String, RestApi>,
    pub http: BTreeMap<String, HttpApi>,
    /// Account-wide documents by `kind/account/region/id`.
    pub docs: BTreeMap<String, Value>,
    /// API id → its key in `rest` or `http` (ids are unique across both, as on AWS).
    pub by_id: HashMap<String, String>,
}

pub fn rest_key(account: &str, region: &str, id: &str) -> String {
    format!("rest/{account}/{region}/{id}")
}

pub fn http_key(account: &str, region: &str, id: &str) -> String {
    format!("http/{account}/{region}/{id}")
}

pub fn doc_key(kind: &str, account: &str, region: &str, id: &str) -> String {
    format!("{kind}/{account}/{region}/{id}")
}

/// The prefix of every document of `kind` in one account and region.
pub fn doc_prefix(kind: &str, account: &str, region: &str) -> String {
    format!("{kind}/{account}/{region}/")
}

fn id_of(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

impl Persist for Gateways {
    type Record = Record;

    fn apply(&mut self, key: &str, record: Option<Record>) {
        match record {
            Some(Record::Rest(api)) => {
                self.by_id.insert(id_of(key).to_string(), key.to_string());
                self.rest.insert(key.to_string(), *api);
            }
            Some(Record::Http(api)) => {
                self.by_id.insert(id_of(key).to_string(), key.to_string());
                self.http.insert(key.to_string(), *api);
            }
            Some(Record::Doc(doc)) => {
                self.docs.insert(key.to_string(), doc);
            }
            None => {
                if self.rest.remove(key).is_some() || self.http.remove(key).is_some() {
                    self.by_id.remove(id_of(key));
                }
                self.docs.remove(key);
            }
        }
    }
}

impl Gateways {
    pub fn rest_by_id(&self, id: &str) -> Option<&RestApi> {
        self.by_id.get(id).and_then(|k| self.rest.get(k))
    }

    pub fn http_by_id(&self, id: &str) -> Option<&HttpApi> {
        self.by_id.get(id).and_then(|k| self.http.get(k))
    }
}
