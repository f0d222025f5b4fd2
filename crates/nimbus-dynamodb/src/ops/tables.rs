//! The control plane: tables, indexes, streams settings, TTL, tags, limits, endpoints and
//! (stored) backups.

use serde_json::{json, Value};

use super::{table_name, Ctx, Outcome};
use crate::errors::{
    invalid_parameter, resource_in_use, resource_not_found, service, table_not_found, validation, Result,
};
use crate::state::{Backup, Change, Db, TableData};
use crate::table::{self, Status, TableMeta};

fn describe(data: &TableData, meta: &TableMeta) -> Value {
    meta.describe(data.items.len(), data.size_bytes, &|name| {
        data.indexes.get(name).map_or((0, 0), |i| (i.entries.len(), i.size))
    })
}

fn control_table<'a>(db: &'a Db, ctx: &Ctx, name: &str) -> Result<&'a TableData> {
    db.table(&ctx.scope(), name).ok_or_else(|| table_not_found(name))
}

fn put_meta(ctx: &Ctx, meta: TableMeta) -> Change {
    Change::Table { scope: ctx.scope(), name: meta.name.clone(), meta: Some(Box::new(meta)) }
}

pub fn create_table(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let name = table_name(input);
    // The definition is checked before the name is looked up, as DynamoDB does.
    let meta = table::create(input, &ctx.account, &ctx.region, ctx.now_millis)?;
    if db.table(&ctx.scope(), name).is_some() {
        return Err(resource_in_use(format!("Table already exists: {name}")));
    }
    let output = json!({"TableDescription": meta.describe(0, 0, &|_| (0, 0))});
    Ok(Outcome { output, changes: vec![put_meta(ctx, meta)] })
}

/// DescribeTable answers what the table is now; a table (or index) still being created or
/// updated finishes as it is read, as it would have on AWS in the meantime.
pub fn describe_table(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let data = control_table(db, ctx, table_name(input))?;
    let mut meta = data.meta().clone();
    let settling = meta.status != Status::Active || meta.indexes.iter().any(|i| i.status != Status::Active);
    let mut changes = Vec::new();
    if settling {
        meta.status = Status::Active;
        for index in &mut meta.indexes {
            index.status = Status::Active;
        }
        changes.push(put_meta(ctx, meta.clone()));
    }
    Ok(Outcome { output: json!({"Table": describe(data, &meta)}), changes })
}

pub fn update_table(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let data = control_table(db, ctx, table_name(input))?;
    let mut meta = data.meta().clone();
    let given = |k: &str| input.get(k).is_some_and(|v| !v.is_null());
    if ![
        "ProvisionedThroughput",
        "BillingMode",
        "StreamSpecification",
        "GlobalSecondaryIndexUpdates",
        "SSESpecification",
        "ReplicaUpdates",
        "TableClass",
        "DeletionProtectionEnabled",
        "OnDemandThroughput",
        "WarmThroughput",
    ]
    .iter()
    .any(|k| given(k))
    {
        return Err(validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    if let Some(defs) = input.get("AttributeDefinitions").filter(|v| !v.is_null()) {
        for attr in table::parse_attribute_definitions(Some(defs))? {
            match meta.attributes.iter().find(|a| a.name == attr.name) {
                Some(existing) if existing.kind != attr.kind => {
                    return Err(invalid_parameter(format!(
                        "Cannot change the type of an existing attribute: {}",
                        attr.name
                    )))
                }
                Some(_) => {}
                None => meta.attributes.push(attr),
            }
        }
    }
    if let Some(mode) = input["BillingMode"].as_str() {
        meta.pay_per_request = mode == "PAY_PER_REQUEST";
        if meta.pay_per_request {
            meta.throughput = (0, 0);
        }
    }
    if let Some(t) = input.get("ProvisionedThroughput").filter(|v| !v.is_null()) {
        if meta.pay_per_request {
            return Err(invalid_parameter(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        meta.throughput = (t["ReadCapacityUnits"].as_u64().unwrap_or(0), t["WriteCapacityUnits"].as_u64().unwrap_or(0));
    } else if input["BillingMode"].as_str() == Some("PROVISIONED") && meta.throughput == (0, 0) {
        return Err(invalid_parameter(
            "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
        ));
    }
    for update in input["GlobalSecondaryIndexUpdates"].as_array().into_iter().flatten() {
        if let Some(create) = update.get("Create").filter(|v| !v.is_null()) {
            let mut index = table::parse_index(create, &meta, true)?;
            if meta.index(&index.name).is_some() {
                return Err(invalid_parameter(format!("Index already exists: {}", index.name)));
            }
            index.status = Status::Creating;
            meta.indexes.push(index);
        } else if let Some(delete) = update.get("Delete").filter(|v| !v.is_null()) {
            let name = delete["IndexName"].as_str().unwrap_or_default();
            let before = meta.indexes.len();
            meta.indexes.retain(|i| !(i.global && i.name == name));
            if meta.indexes.len() == before {
                return Err(resource_not_found(format!("Requested resource not found: Index: {name} not found")));
            }
        } else if let Some(upd) = update.get("Update").filter(|v| !v.is_null()) {
            let name = upd["IndexName"].as_str().unwrap_or_default();
            let index =
                meta.indexes.iter_mut().find(|i| i.global && i.name == name).ok_or_else(|| {
                    resource_not_found(format!("Requested resource not found: Index: {name} not found"))
                })?;
            let t = &upd["ProvisionedThroughput"];
            index.throughput =
                Some((t["ReadCapacityUnits"].as_u64().unwrap_or(0), t["WriteCapacityUnits"].as_u64().unwrap_or(0)));
        }
    }
    if let Some(spec) = input.get("StreamSpecification").filter(|v| !v.is_null()) {
        let current = meta.current_stream().cloned();
        match (table::parse_stream_specification(spec)?, current) {
            (Some(_), Some(stream)) => {
                return Err(validation(format!(
                    "Table already has an enabled stream: TableName: {}, StreamArn: {}",
                    meta.name, stream.arn
                )))
            }
            (Some(view), None) => meta.add_stream(view, ctx.now_millis),
            (None, Some(_)) => {
                if let Some(s) = meta.streams.last_mut() {
                    s.enabled = false;
                }
            }
            (None, None) => return Err(validation("Table already has no stream")),
        }
    }
    if let Some(sse) = input.get("SSESpecification").filter(|v| !v.is_null()) {
        meta.sse = table::sse_description(sse, &ctx.region, &ctx.account);
    }
    if let Some(class) = input["TableClass"].as_str() {
        meta.table_class = class.to_string();
    }
    if let Some(p) = input["DeletionProtectionEnabled"].as_bool() {
        meta.deletion_protection = p;
    }
    if let Some(t) = input.get("OnDemandThroughput").filter(|v| !v.is_null()) {
        meta.on_demand_throughput = Some(t.clone());
    }
    meta.status = Status::Updating;
    let output = json!({"TableDescription": describe(data, &meta)});
    Ok(Outcome { output, changes: vec![put_meta(ctx, meta)] })
}

pub fn delete_table(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let data = control_table(db, ctx, table_name(input))?;
    let mut meta = data.meta().clone();
    if meta.deletion_protection {
        return Err(validation(
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
        ));
    }
    meta.status = Status::Deleting;
    let output = json!({"TableDescription": describe(data, &meta)});
    let change = Change::Table { scope: ctx.scope(), name: meta.name.clone(), meta: None };
    Ok(Outcome { output, changes: vec![change] })
}

pub fn list_tables(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let limit = input["Limit"].as_u64().unwrap_or(100) as usize;
    let start = input["ExclusiveStartTableName"].as_str();
    let names: Vec<&String> = db
        .region(&ctx.scope())
        .map(|r| r.tables.keys().filter(|n| start.is_none_or(|s| n.as_str() > s)).collect())
        .unwrap_or_default();
    let page: Vec<&String> = names.iter().take(limit).copied().collect();
    let mut output = json!({"TableNames": page});
    if names.len() > limit {
        output["LastEvaluatedTableName"] = json!(page.last());
    }
    Ok(Outcome::read(output))
}

pub fn update_time_to_live(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let data = control_table(db, ctx, table_name(input))?;
    let mut meta = data.meta().clone();
    let spec = &input["TimeToLiveSpecification"];
    let enabled = spec["Enabled"].as_bool().unwrap_or(false);
    let attribute = spec["AttributeName"].as_str().unwrap_or_default().to_string();
    match (&meta.ttl, enabled) {
        (Some((_, true)), true) => return Err(validation("TimeToLive is already enabled")),
        (Some((current, true)), false) if *current != attribute => {
            return Err(validation(format!(
                "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
            )))
        }
        (None | Some((_, false)), false) => return Err(validation("TimeToLive is already disabled")),
        _ => {}
    }
    meta.ttl = Some((attribute.clone(), enabled));
    let output = json!({"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}});
    Ok(Outcome { output, changes: vec![put_meta(ctx, meta)] })
}

pub fn describe_time_to_live(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let data = control_table(db, ctx, table_name(input))?;
    let description = match &data.meta().ttl {
        Some((attribute, true)) => json!({"TimeToLiveStatus": "ENABLED", "AttributeName": attribute}),
        _ => json!({"TimeToLiveStatus": "DISABLED"}),
    };
    Ok(Outcome::read(json!({"TimeToLiveDescription": description})))
}

pub fn describe_limits() -> Outcome {
    Outcome::read(json!({
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000
    }))
}

pub fn describe_endpoints(ctx: &Ctx) -> Outcome {
    Outcome::read(
        json!({"Endpoints": [{"Address": format!("dynamodb.{}.amazonaws.com", ctx.region), "CachePeriodInMinutes": 1440}]}),
    )
}

/// The table a tagging call names by ARN.
fn tagged_table<'a>(db: &'a Db, ctx: &Ctx, arn: &str) -> Result<&'a TableData> {
    let not_found = || resource_not_found(format!("Requested resource not found: ResourcArn: {arn} not found"));
    let prefix = format!("arn:aws:dynamodb:{}:{}:table/", ctx.region, ctx.account);
    let name = arn.strip_prefix(&prefix).filter(|n| !n.contains('/')).ok_or_else(not_found)?;
    db.table(&ctx.scope(), name).ok_or_else(not_found)
}

pub fn tag_resource(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let data = tagged_table(db, ctx, input["ResourceArn"].as_str().unwrap_or_default())?;
    let mut meta = data.meta().clone();
    for tag in input["Tags"].as_array().into_iter().flatten() {
        let key = tag["Key"].as_str().unwrap_or_default().to_string();
        let value = tag["Value"].as_str().unwrap_or_default().to_string();
        match meta.tags.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = value,
            None => meta.tags.push((key, value)),
        }
    }
    if meta.tags.len() > 50 {
        return Err(validation("One or more parameter values were invalid: Too many tags"));
    }
    Ok(Outcome { output: json!({}), changes: vec![put_meta(ctx, meta)] })
}

pub fn untag_resource(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let data = tagged_table(db, ctx, input["ResourceArn"].as_str().unwrap_or_default())?;
    let mut meta = data.meta().clone();
    let keys: Vec<&str> = input["TagKeys"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    meta.tags.retain(|(k, _)| !keys.contains(&k.as_str()));
    Ok(Outcome { output: json!({}), changes: vec![put_meta(ctx, meta)] })
}

pub fn list_tags_of_resource(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let data = tagged_table(db, ctx, input["ResourceArn"].as_str().unwrap_or_default())?;
    let tags: Vec<Value> = data.meta().tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    Ok(Outcome::read(json!({"Tags": tags})))
}

fn backups_table<'a>(db: &'a Db, ctx: &Ctx, name: &str) -> Result<&'a TableData> {
    db.table(&ctx.scope(), name).ok_or_else(|| service("TableNotFoundException", format!("Table not found: {name}")))
}

fn continuous_backups(meta: &TableMeta, now: f64) -> Value {
    let pitr = match meta.point_in_time_recovery {
        Some(since) => json!({
            "PointInTimeRecoveryStatus": "ENABLED",
            "EarliestRestorableDateTime": since,
            "LatestRestorableDateTime": now,
            "RecoveryPeriodInDays": 35
        }),
        None => json!({"PointInTimeRecoveryStatus": "DISABLED"}),
    };
    json!({"ContinuousBackupsDescription": {"ContinuousBackupsStatus": "ENABLED", "PointInTimeRecoveryDescription": pitr}})
}

pub fn update_continuous_backups(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let data = backups_table(db, ctx, table_name(input))?;
    let mut meta = data.meta().clone();
    let enabled = input["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool().unwrap_or(false);
    meta.point_in_time_recovery = match (enabled, meta.point_in_time_recovery) {
        (true, Some(since)) => Some(since),
        (true, None) => Some(ctx.now_seconds()),
        (false, _) => None,
    };
    let output = continuous_backups(&meta, ctx.now_seconds());
    Ok(Outcome { output, changes: vec![put_meta(ctx, meta)] })
}

pub fn describe_continuous_backups(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let data = backups_table(db, ctx, table_name(input))?;
    Ok(Outcome::read(continuous_backups(data.meta(), ctx.now_seconds())))
}

fn backup_details(b: &Backup, status: &str) -> Value {
    json!({
        "BackupArn": b.arn,
        "BackupName": b.name,
        "BackupSizeBytes": b.size_bytes,
        "BackupStatus": status,
        "BackupType": "USER",
        "BackupCreationDateTime": b.created
    })
}

fn backup_description(b: &Backup, status: &str) -> Value {
    json!({"BackupDescription": {
        "BackupDetails": backup_details(b, status),
        "SourceTableDetails": {
            "TableName": b.table.name,
            "TableId": b.table.id,
            "TableArn": b.table.arn,
            "TableSizeBytes": b.size_bytes,
            "KeySchema": b.table.describe(0, 0, &|_| (0, 0))["KeySchema"],
            "TableCreationDateTime": b.table.created,
            "ProvisionedThroughput": {"ReadCapacityUnits": b.table.throughput.0, "WriteCapacityUnits": b.table.throughput.1},
            "ItemCount": b.item_count,
            "BillingMode": if b.table.pay_per_request { "PAY_PER_REQUEST" } else { "PROVISIONED" }
        },
        "SourceTableFeatureDetails": {}
    }})
}

pub fn create_backup(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let data = backups_table(db, ctx, table_name(input))?;
    let meta = data.meta();
    let name = input["BackupName"].as_str().unwrap_or_default().to_string();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let arn = format!("{}/backup/{:017}-{suffix}", meta.arn, ctx.now_millis);
    let backup = Backup {
        arn: arn.clone(),
        name,
        table: meta.clone(),
        created: ctx.now_seconds(),
        size_bytes: data.size_bytes,
        item_count: data.items.len(),
    };
    let output = json!({"BackupDetails": backup_details(&backup, "AVAILABLE")});
    Ok(Outcome { output, changes: vec![Change::Backup { scope: ctx.scope(), arn, backup: Some(Box::new(backup)) }] })
}

fn find_backup<'a>(db: &'a Db, ctx: &Ctx, arn: &str) -> Result<&'a Backup> {
    db.region(&ctx.scope())
        .and_then(|r| r.backups.get(arn))
        .ok_or_else(|| service("BackupNotFoundException", format!("Backup not found: {arn}")))
}

pub fn describe_backup(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let backup = find_backup(db, ctx, input["BackupArn"].as_str().unwrap_or_default())?;
    Ok(Outcome::read(backup_description(backup, "AVAILABLE")))
}

pub fn delete_backup(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let backup = find_backup(db, ctx, input["BackupArn"].as_str().unwrap_or_default())?;
    let output = backup_description(backup, "DELETED");
    let change = Change::Backup { scope: ctx.scope(), arn: backup.arn.clone(), backup: None };
    Ok(Outcome { output, changes: vec![change] })
}

pub fn list_backups(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let table = input["TableName"].as_str();
    let summaries: Vec<Value> = db
        .region(&ctx.scope())
        .into_iter()
        .flat_map(|r| r.backups.values())
        .filter(|b| table.is_none_or(|t| b.table.name == t))
        .map(|b| {
            json!({
                "TableName": b.table.name, "TableId": b.table.id, "TableArn": b.table.arn,
                "BackupArn": b.arn, "BackupName": b.name, "BackupCreationDateTime": b.created,
                "BackupStatus": "AVAILABLE", "BackupType": "USER", "BackupSizeBytes": b.size_bytes
            })
        })
        .collect();
    Ok(Outcome::read(json!({"BackupSummaries": summaries})))
}
