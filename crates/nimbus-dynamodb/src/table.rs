//! Table definitions: what CreateTable accepts (with AWS's rules and messages), what is kept,
//! and how DescribeTable renders it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::errors::{invalid_parameter, validation, Result};
use crate::key::{KeyAttr, KeySchema, ScalarType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Creating,
    Updating,
    Active,
    Deleting,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "CREATING",
            Status::Updating => "UPDATING",
            Status::Active => "ACTIVE",
            Status::Deleting => "DELETING",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProjectionType {
    All,
    KeysOnly,
    Include(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub key: KeySchema,
    pub projection: ProjectionType,
    pub global: bool,
    /// Provisioned capacity (GSIs of provisioned tables only).
    pub throughput: Option<(u64, u64)>,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    pub view_type: String,
    pub label: String,
    pub arn: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    pub name: String,
    pub arn: String,
    pub id: String,
    /// Epoch seconds, with milliseconds.
    pub created: f64,
    pub key: KeySchema,
    pub attributes: Vec<KeyAttr>,
    pub pay_per_request: bool,
    pub throughput: (u64, u64),
    pub indexes: Vec<Index>,
    /// The current stream, and earlier streams still readable (disabled ones stay 24 h).
    pub streams: Vec<Stream>,
    pub sse: Option<Value>,
    pub tags: Vec<(String, String)>,
    pub deletion_protection: bool,
    pub table_class: String,
    pub status: Status,
    pub ttl: Option<(String, bool)>,
    pub point_in_time_recovery: Option<f64>,
    pub on_demand_throughput: Option<Value>,
    pub warm_throughput: Option<Value>,
}

fn field<'a>(input: &'a Value, name: &str) -> Option<&'a Value> {
    input.get(name).filter(|v| !v.is_null())
}

fn key_schema(list: &Value, attributes: &[KeyAttr], what: &str) -> Result<KeySchema> {
    let elements = list.as_array().cloned().unwrap_or_default();
    let name_of = |e: &Value| e["AttributeName"].as_str().unwrap_or_default().to_string();
    let kind_of = |e: &Value| e["KeyType"].as_str().unwrap_or_default().to_string();
    if elements.is_empty() || elements.len() > 2 {
        return Err(validation(format!(
            "1 validation error detected: Value '{list}' at '{what}' failed to satisfy constraint: Member must have length less than or equal to 2"
        )));
    }
    if kind_of(&elements[0]) != "HASH" {
        return Err(validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type"));
    }
    if elements.len() == 2 {
        if kind_of(&elements[1]) == "HASH" {
            return Err(validation(
                "Too many hash keys specified.  All Dynamo DB tables must have exactly one hash key",
            ));
        }
        if name_of(&elements[0]) == name_of(&elements[1]) {
            return Err(validation("Both the Hash Key and the Range Key element in the KeySchema have the same name"));
        }
    }
    let typed = |e: &Value| -> Option<KeyAttr> {
        let name = name_of(e);
        attributes.iter().find(|a| a.name == name).cloned()
    };
    let names: Vec<String> = elements.iter().map(name_of).collect();
    let missing = || {
        invalid_parameter(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            names.join(", "),
            attributes.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ")
        ))
    };
    let hash = typed(&elements[0]).ok_or_else(missing)?;
    let range = match elements.get(1) {
        Some(e) => Some(typed(e).ok_or_else(missing)?),
        None => None,
    };
    Ok(KeySchema { hash, range })
}

fn projection(v: Option<&Value>, index: &str) -> Result<ProjectionType> {
    let v = v.cloned().unwrap_or(Value::Null);
    let non_key: Option<Vec<String>> =
        v["NonKeyAttributes"].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect());
    let kind = v["ProjectionType"].as_str().unwrap_or("");
    Ok(match kind {
        "ALL" | "KEYS_ONLY" if non_key.is_some() => {
            return Err(invalid_parameter(format!("ProjectionType is {kind}, but NonKeyAttributes is specified")))
        }
        "ALL" => ProjectionType::All,
        "KEYS_ONLY" => ProjectionType::KeysOnly,
        "INCLUDE" => ProjectionType::Include(
            non_key
                .ok_or_else(|| invalid_parameter("ProjectionType is INCLUDE, but NonKeyAttributes is not specified"))?,
        ),
        _ => {
            return Err(invalid_parameter(format!(
                "Unknown ProjectionType: {} for index: {index}",
                if kind.is_empty() { "null" } else { kind }
            )))
        }
    })
}

fn throughput(v: Option<&Value>) -> Option<(u64, u64)> {
    let v = v?;
    Some((v["ReadCapacityUnits"].as_u64().unwrap_or(0), v["WriteCapacityUnits"].as_u64().unwrap_or(0)))
}

/// A secondary index of CreateTable or UpdateTable's `Create`.
pub fn parse_index(v: &Value, table: &TableMeta, global: bool) -> Result<Index> {
    let name = v["IndexName"].as_str().unwrap_or_default().to_string();
    let key = key_schema(&v["KeySchema"], &table.attributes, "keySchema")?;
    if !global {
        if table.key.range.is_none() {
            return Err(invalid_parameter(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        if key.hash.name != table.key.hash.name {
            return Err(invalid_parameter(format!(
                "Index KeySchema does not have the same leading hash key as table KeySchema for index: {name}. index hash key: {}, table hash key: {}",
                key.hash.name, table.key.hash.name
            )));
        }
        if key.range.is_none() {
            return Err(invalid_parameter(format!("Index KeySchema does not have a range key for index: {name}")));
        }
    }
    let projection = projection(field(v, "Projection"), &name)?;
    let throughput = throughput(field(v, "ProvisionedThroughput"));
    if global {
        match (table.pay_per_request, throughput) {
            (false, None) => {
                return Err(invalid_parameter(format!("ProvisionedThroughput must be specified for index: {name}")))
            }
            (true, Some(_)) => {
                return Err(invalid_parameter(format!(
                "ProvisionedThroughput should not be specified for index: {name} when BillingMode is PAY_PER_REQUEST"
            )))
            }
            _ => {}
        }
    }
    Ok(Index { name, key, projection, global, throughput, status: Status::Active })
}

pub fn parse_attribute_definitions(v: Option<&Value>) -> Result<Vec<KeyAttr>> {
    let mut out: Vec<KeyAttr> = Vec::new();
    for def in v.and_then(Value::as_array).cloned().unwrap_or_default() {
        let name = def["AttributeName"].as_str().unwrap_or_default().to_string();
        let kind = ScalarType::parse(def["AttributeType"].as_str().unwrap_or_default())
            .ok_or_else(|| invalid_parameter(format!("Invalid AttributeType for attribute: {name}")))?;
        if out.iter().any(|a| a.name == name) {
            return Err(invalid_parameter(format!("Duplicate AttributeName in AttributeDefinitions: {name}")));
        }
        out.push(KeyAttr { name, kind });
    }
    Ok(out)
}

pub fn stream_label(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
}

/// Parses `StreamSpecification`: `Some(view type)` to enable, `None` to disable.
pub fn parse_stream_specification(v: &Value) -> Result<Option<String>> {
    let enabled = v["StreamEnabled"].as_bool().unwrap_or(false);
    let view = v["StreamViewType"].as_str();
    match (enabled, view) {
        (true, Some(view)) => Ok(Some(view.to_string())),
        (true, None) => Err(invalid_parameter("StreamViewType must be specified when StreamEnabled is true")),
        (false, Some(_)) => Err(invalid_parameter("StreamViewType cannot be specified when StreamEnabled is false")),
        (false, None) => Ok(None),
    }
}

pub fn sse_description(spec: &Value, region: &str, account: &str) -> Option<Value> {
    if !spec["Enabled"].as_bool().unwrap_or(false) {
        return None;
    }
    let key = spec["KMSMasterKeyId"]
        .as_str()
        .map(|k| if k.starts_with("arn:") { k.to_string() } else { format!("arn:aws:kms:{region}:{account}:key/{k}") })
        .unwrap_or_else(|| format!("arn:aws:kms:{region}:{account}:key/{}", uuid::Uuid::new_v4()));
    Some(json!({"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key}))
}

/// Every CreateTable rule beyond the model's: key schema, attribute definitions, billing,
/// indexes and streams, with DynamoDB's messages.
pub fn create(input: &Value, account: &str, region: &str, now_millis: i64) -> Result<TableMeta> {
    let name = input["TableName"].as_str().unwrap_or_default().to_string();
    let attributes = parse_attribute_definitions(field(input, "AttributeDefinitions"))?;
    let key_list = field(input, "KeySchema").ok_or_else(|| {
        validation("1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null")
    })?;
    let key = key_schema(key_list, &attributes, "keySchema")?;
    let pay_per_request = input["BillingMode"].as_str() == Some("PAY_PER_REQUEST");
    let throughput =
        match (pay_per_request, throughput(field(input, "ProvisionedThroughput"))) {
            (true, Some(_)) => return Err(invalid_parameter(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            )),
            (true, None) => (0, 0),
            (false, None) => {
                return Err(invalid_parameter(
                    "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
                ))
            }
            (false, Some(t)) => t,
        };
    let arn = format!("arn:aws:dynamodb:{region}:{account}:table/{name}");
    let mut meta = TableMeta {
        name,
        arn,
        id: uuid::Uuid::new_v4().to_string(),
        created: now_millis as f64 / 1000.0,
        key,
        attributes,
        pay_per_request,
        throughput,
        indexes: Vec::new(),
        streams: Vec::new(),
        sse: field(input, "SSESpecification").and_then(|s| sse_description(s, region, account)),
        tags: field(input, "Tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .map(|t| {
                        (t["Key"].as_str().unwrap_or_default().into(), t["Value"].as_str().unwrap_or_default().into())
                    })
                    .collect()
            })
            .unwrap_or_default(),
        deletion_protection: input["DeletionProtectionEnabled"].as_bool().unwrap_or(false),
        table_class: input["TableClass"].as_str().unwrap_or("STANDARD").to_string(),
        status: Status::Creating,
        ttl: None,
        point_in_time_recovery: None,
        on_demand_throughput: field(input, "OnDemandThroughput").cloned(),
        warm_throughput: field(input, "WarmThroughput").cloned(),
    };
    for (list, global) in [("LocalSecondaryIndexes", false), ("GlobalSecondaryIndexes", true)] {
        for v in field(input, list).and_then(Value::as_array).cloned().unwrap_or_default() {
            let index = parse_index(&v, &meta, global)?;
            if meta.indexes.iter().any(|i| i.name == index.name) {
                return Err(invalid_parameter(format!("Duplicate index name: {}", index.name)));
            }
            meta.indexes.push(index);
        }
    }
    // Every defined attribute must be used by some key.
    let used = |name: &str| meta.key.is_key(name) || meta.indexes.iter().any(|i| i.key.is_key(name));
    if meta.attributes.iter().any(|a| !used(&a.name)) {
        let message = if meta.indexes.is_empty() {
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions"
        } else {
            "Some AttributeDefinitions are not used. AttributeDefinitions: [{defs}], keys used: [{keys}]"
        };
        let defs = meta.attributes.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(", ");
        let mut keys: Vec<&str> = meta.key.attrs().map(|a| a.name.as_str()).collect();
        for i in &meta.indexes {
            keys.extend(i.key.attrs().map(|a| a.name.as_str()).filter(|n| !keys.contains(n)).collect::<Vec<_>>());
        }
        return Err(invalid_parameter(message.replace("{defs}", &defs).replace("{keys}", &keys.join(", "))));
    }
    if let Some(spec) = field(input, "StreamSpecification") {
        if let Some(view_type) = parse_stream_specification(spec)? {
            meta.add_stream(view_type, now_millis);
        }
    }
    Ok(meta)
}

impl TableMeta {
    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| i.name == name)
    }

    pub fn current_stream(&self) -> Option<&Stream> {
        self.streams.last().filter(|s| s.enabled)
    }

    pub fn add_stream(&mut self, view_type: String, now_millis: i64) {
        let label = stream_label(now_millis);
        let arn = format!("{}/stream/{label}", self.arn);
        self.streams.push(Stream { view_type, label, arn, enabled: true });
    }

    /// `TableDescription` as DescribeTable (and the write operations) answer it.
    pub fn describe(
        &self,
        item_count: usize,
        size_bytes: usize,
        index_stats: &dyn Fn(&str) -> (usize, usize),
    ) -> Value {
        let key_schema = |k: &KeySchema| {
            let mut list = vec![json!({"AttributeName": k.hash.name, "KeyType": "HASH"})];
            if let Some(r) = &k.range {
                list.push(json!({"AttributeName": r.name, "KeyType": "RANGE"}));
            }
            Value::Array(list)
        };
        let throughput =
            |t: (u64, u64)| json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": t.0, "WriteCapacityUnits": t.1});
        let mut d = json!({
            "AttributeDefinitions": self.attributes.iter().map(|a| json!({"AttributeName": a.name, "AttributeType": a.kind.as_str()})).collect::<Vec<_>>(),
            "TableName": self.name,
            "KeySchema": key_schema(&self.key),
            "TableStatus": self.status.as_str(),
            "CreationDateTime": self.created,
            "ProvisionedThroughput": throughput(self.throughput),
            "TableSizeBytes": size_bytes,
            "ItemCount": item_count,
            "TableArn": self.arn,
            "TableId": self.id,
            "DeletionProtectionEnabled": self.deletion_protection,
        });
        if self.pay_per_request {
            d["BillingModeSummary"] =
                json!({"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": self.created});
        }
        if self.table_class != "STANDARD" {
            d["TableClassSummary"] = json!({"TableClass": self.table_class});
        }
        let describe_index = |i: &Index| {
            let (count, size) = index_stats(&i.name);
            let mut v = json!({
                "IndexName": i.name,
                "KeySchema": key_schema(&i.key),
                "Projection": match &i.projection {
                    ProjectionType::All => json!({"ProjectionType": "ALL"}),
                    ProjectionType::KeysOnly => json!({"ProjectionType": "KEYS_ONLY"}),
                    ProjectionType::Include(attrs) => json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": attrs}),
                },
                "IndexSizeBytes": size,
                "ItemCount": count,
                "IndexArn": format!("{}/index/{}", self.arn, i.name),
            });
            if i.global {
                v["IndexStatus"] = json!(i.status.as_str());
                v["ProvisionedThroughput"] = throughput(i.throughput.unwrap_or((0, 0)));
                if i.status == Status::Creating {
                    v["Backfilling"] = json!(true);
                }
            }
            v
        };
        let lsis: Vec<Value> = self.indexes.iter().filter(|i| !i.global).map(describe_index).collect();
        let gsis: Vec<Value> = self.indexes.iter().filter(|i| i.global).map(describe_index).collect();
        if !lsis.is_empty() {
            d["LocalSecondaryIndexes"] = Value::Array(lsis);
        }
        if !gsis.is_empty() {
            d["GlobalSecondaryIndexes"] = Value::Array(gsis);
        }
        if let Some(stream) = self.current_stream() {
            d["StreamSpecification"] = json!({"StreamEnabled": true, "StreamViewType": stream.view_type});
        }
        if let Some(stream) = self.streams.last() {
            d["LatestStreamLabel"] = json!(stream.label);
            d["LatestStreamArn"] = json!(stream.arn);
        }
        if let Some(sse) = &self.sse {
            d["SSEDescription"] = sse.clone();
        }
        if let Some(t) = &self.on_demand_throughput {
            d["OnDemandThroughput"] = t.clone();
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create_err(input: Value) -> String {
        create(&input, "000000000000", "us-east-1", 0).unwrap_err().message
    }

    fn base() -> Value {
        json!({
            "TableName": "t",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST"
        })
    }

    #[test]
    fn create_table_rules() {
        let meta = create(&base(), "000000000000", "us-east-1", 0).unwrap();
        assert_eq!(meta.arn, "arn:aws:dynamodb:us-east-1:000000000000:table/t");
        assert_eq!(meta.status, Status::Creating);

        let mut v = base();
        v["ProvisionedThroughput"] = json!({"ReadCapacityUnits": 1, "WriteCapacityUnits": 1});
        assert_eq!(create_err(v), "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
        let mut v = base();
        v.as_object_mut().unwrap().remove("BillingMode");
        assert_eq!(create_err(v), "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED");
        let mut v = base();
        v["KeySchema"] = json!([{"AttributeName": "pk", "KeyType": "RANGE"}]);
        assert_eq!(create_err(v), "Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
        let mut v = base();
        v["KeySchema"] =
            json!([{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "HASH"}]);
        assert_eq!(create_err(v), "Too many hash keys specified.  All Dynamo DB tables must have exactly one hash key");
        let mut v = base();
        v["KeySchema"] =
            json!([{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "pk", "KeyType": "RANGE"}]);
        assert_eq!(create_err(v), "Both the Hash Key and the Range Key element in the KeySchema have the same name");
        let mut v = base();
        v["KeySchema"] = json!([{"AttributeName": "id", "KeyType": "HASH"}]);
        assert_eq!(create_err(v), "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [id], AttributeDefinitions: [pk]");
        let mut v = base();
        v["AttributeDefinitions"] =
            json!([{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}]);
        assert_eq!(create_err(v), "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions");
        let mut v = base();
        v["AttributeDefinitions"] =
            json!([{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}]);
        v["LocalSecondaryIndexes"] = json!([{"IndexName": "lsi", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "x", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "ALL"}}]);
        assert_eq!(create_err(v), "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex");
        let mut v = base();
        v["AttributeDefinitions"] =
            json!([{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}]);
        v["GlobalSecondaryIndexes"] = json!([{"IndexName": "g", "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}], "Projection": {"ProjectionType": "INCLUDE"}}]);
        assert_eq!(create_err(v), "One or more parameter values were invalid: ProjectionType is INCLUDE, but NonKeyAttributes is not specified");
        let mut v = base();
        v["StreamSpecification"] = json!({"StreamEnabled": true});
        assert_eq!(
            create_err(v),
            "One or more parameter values were invalid: StreamViewType must be specified when StreamEnabled is true"
        );
    }

    #[test]
    fn describes_indexes_and_streams() {
        let mut v = base();
        v["AttributeDefinitions"] =
            json!([{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "N"}]);
        v["GlobalSecondaryIndexes"] = json!([{"IndexName": "byG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "KEYS_ONLY"}}]);
        v["StreamSpecification"] = json!({"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"});
        let meta = create(&v, "000000000000", "us-east-1", 1_700_000_000_123).unwrap();
        let d = meta.describe(2, 30, &|_| (1, 10));
        assert_eq!(
            d["GlobalSecondaryIndexes"][0]["IndexArn"],
            "arn:aws:dynamodb:us-east-1:000000000000:table/t/index/byG"
        );
        assert_eq!(d["GlobalSecondaryIndexes"][0]["ItemCount"], 1);
        assert_eq!(d["LatestStreamLabel"], "2023-11-14T22:13:20.123");
        assert_eq!(
            d["LatestStreamArn"],
            "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2023-11-14T22:13:20.123"
        );
        assert_eq!(d["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(d["ItemCount"], 2);
    }
}
