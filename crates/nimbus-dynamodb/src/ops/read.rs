//! Query and Scan over a table or a secondary index: key conditions, `ExclusiveStartKey`,
//! `Limit` and the 1 MB page, filters, projections, `Select`, and parallel scan segments.

use std::ops::Bound;

use serde_json::{json, Value};

use super::expressions::{self, Param};
use super::{consumed_capacity, data_table, read_units, table_name, Ctx, Outcome};
use crate::errors::{invalid_parameter, validation, Result};
use crate::expr::ast::{Cmp, Path};
use crate::expr::eval;
use crate::key::{KeyCondition, KeySchema, PrimaryKey, RangeCondition, Scalar};
use crate::state::{Db, TableData};
use crate::table::{Index, ProjectionType};
use crate::value::{item_from_json, item_to_json, Item};

/// DynamoDB stops a page once it has read 1 MB.
const PAGE_BYTES: usize = 1024 * 1024;

/// One position in a table or index: (index key, table key) for indexes.
type Position = (Option<PrimaryKey>, PrimaryKey);

struct Target<'a> {
    table: &'a TableData,
    index: Option<&'a Index>,
}

impl<'a> Target<'a> {
    fn schema(&self) -> &'a KeySchema {
        match self.index {
            Some(i) => &i.key,
            None => &self.table.meta().key,
        }
    }

    /// The item as this target holds it (an index holds only its projection).
    fn project(&self, item: Item) -> Item {
        let Some(index) = self.index else { return item };
        let keep = |name: &str| self.table.meta().key.is_key(name) || index.key.is_key(name);
        match &index.projection {
            ProjectionType::All => item,
            ProjectionType::KeysOnly => {
                item.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.to_string(), v.clone())).collect()
            }
            ProjectionType::Include(attrs) => item
                .iter()
                .filter(|(k, _)| keep(k) || attrs.iter().any(|a| a == k))
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    fn last_evaluated_key(&self, pos: &Position) -> Value {
        let mut key = self.table.meta().key.key_item(&pos.1);
        if let (Some(index), Some(index_key)) = (self.index, &pos.0) {
            for (k, v) in index.key.key_item(index_key).iter() {
                key.insert(k, v.clone());
            }
        }
        item_to_json(&key)
    }

    /// `ExclusiveStartKey` as a position.
    fn start_position(&self, v: &Value) -> Result<Position> {
        let invalid =
            || validation("The provided starting key is invalid: The provided key element does not match the schema");
        let start = item_from_json(v)?;
        let table_schema = &self.table.meta().key;
        let table_key = table_schema.index_key_of(&start).ok_or_else(invalid)?;
        match self.index {
            None => {
                if start.len() != table_schema.attrs().count() {
                    return Err(invalid());
                }
                Ok((None, table_key))
            }
            Some(index) => Ok((Some(index.key.index_key_of(&start).ok_or_else(invalid)?), table_key)),
        }
    }

    /// Positions in order, from `after` (exclusive) or the first at or after `from`.
    fn positions(&self, from: Option<Position>, after: Option<Position>) -> Box<dyn Iterator<Item = Position> + 'a> {
        match self.index {
            None => {
                let lower = match (after, from) {
                    (Some(p), _) => Bound::Excluded(p.1),
                    (None, Some(p)) => Bound::Included(p.1),
                    (None, None) => Bound::Unbounded,
                };
                Box::new(self.table.items.range((lower, Bound::Unbounded)).map(|(k, _)| (None, k.clone())))
            }
            Some(index) => {
                let Some(data) = self.table.indexes.get(&index.name) else { return Box::new(std::iter::empty()) };
                let lower = match (after, from) {
                    (Some((Some(i), t)), _) => Bound::Excluded((i, t)),
                    (None, Some((Some(i), t))) => Bound::Included((i, t)),
                    _ => Bound::Unbounded,
                };
                Box::new(data.entries.range((lower, Bound::Unbounded)).map(|(i, t)| (Some(i.clone()), t.clone())))
            }
        }
    }
}

fn target<'a>(db: &'a Db, ctx: &Ctx, input: &Value) -> Result<Target<'a>> {
    let table = data_table(db, ctx, table_name(input))?;
    let index = match input["IndexName"].as_str() {
        None => None,
        Some(name) => Some(
            table
                .meta()
                .index(name)
                .ok_or_else(|| validation(format!("The table does not have the specified index: {name}")))?,
        ),
    };
    if index.is_some_and(|i| i.global) && input["ConsistentRead"].as_bool() == Some(true) {
        return Err(validation("Consistent reads are not supported on global secondary indexes"));
    }
    Ok(Target { table, index })
}

enum Select {
    All,
    Projected(Option<Vec<Path>>),
    Count,
}

fn choose_select(input: &Value, projection: Option<Vec<Path>>, target: &Target) -> Result<Select> {
    let given = input["Select"].as_str();
    let has_projection = projection.is_some();
    let projection_param = if input.get("AttributesToGet").is_some_and(|v| !v.is_null()) {
        "AttributesToGet"
    } else {
        "ProjectionExpression"
    };
    let select = given.unwrap_or(if has_projection {
        "SPECIFIC_ATTRIBUTES"
    } else if target.index.is_some() {
        "ALL_PROJECTED_ATTRIBUTES"
    } else {
        "ALL_ATTRIBUTES"
    });
    if has_projection && select != "SPECIFIC_ATTRIBUTES" {
        return Err(invalid_parameter(format!("Cannot specify the {projection_param} when choosing to get {select}")));
    }
    Ok(match select {
        "ALL_ATTRIBUTES" => {
            if let Some(index) = target.index.filter(|i| i.global && i.projection != ProjectionType::All) {
                return Err(invalid_parameter(format!(
                    "Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                    index.name
                )));
            }
            Select::All
        }
        "ALL_PROJECTED_ATTRIBUTES" => {
            if target.index.is_none() {
                return Err(invalid_parameter(
                    "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
                ));
            }
            Select::Projected(None)
        }
        "SPECIFIC_ATTRIBUTES" => {
            if !has_projection {
                return Err(invalid_parameter(
                    "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
                ));
            }
            Select::Projected(projection)
        }
        _ => Select::Count,
    })
}

/// Reads positions into a page: the shared tail of Query and Scan.
fn page(
    target: &Target,
    positions: impl Iterator<Item = Position>,
    input: &Value,
    filter: Option<&crate::expr::ast::Condition>,
    select: &Select,
) -> Value {
    let limit = input["Limit"].as_u64().map(|l| l as usize);
    let (mut items, mut count, mut scanned, mut bytes) = (Vec::new(), 0usize, 0usize, 0usize);
    let mut last = None;
    for pos in positions {
        let Some(stored) = target.table.items.get(&pos.1) else { continue };
        scanned += 1;
        bytes += stored.size as usize;
        let item = match (select, target.index) {
            // Local indexes and ALL_ATTRIBUTES read the table's whole item.
            (Select::All, _) => stored.item(),
            _ => target.project(stored.item()),
        };
        if filter.is_none_or(|f| eval::matches(&item, f)) {
            count += 1;
            match select {
                Select::Count => {}
                Select::Projected(Some(paths)) => items.push(item_to_json(&eval::project(&item, paths))),
                _ => items.push(item_to_json(&item)),
            }
        }
        if limit.is_some_and(|l| scanned >= l) || bytes >= PAGE_BYTES {
            last = Some(pos);
            break;
        }
    }
    let mut out = json!({"Count": count, "ScannedCount": scanned});
    if !matches!(select, Select::Count) {
        out["Items"] = Value::Array(items);
    }
    if let Some(pos) = last {
        out["LastEvaluatedKey"] = target.last_evaluated_key(&pos);
    }
    let consistent = input["ConsistentRead"].as_bool().unwrap_or(false);
    if let Some(c) = consumed_capacity(input, &target.table.meta().name, read_units(bytes, consistent)) {
        out["ConsumedCapacity"] = c;
    }
    out
}

pub fn query(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let exprs = expressions::parse(input, &[Param::Query, Param::Filter, Param::Projection])?;
    let target = target(db, ctx, input)?;
    let cond = exprs.key.as_ref().ok_or_else(|| {
        validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
    })?;
    let key_cond = KeyCondition::from_condition(cond, target.schema())?;
    let select = choose_select(input, exprs.projection, &target)?;
    let forward = input["ScanIndexForward"].as_bool().unwrap_or(true);
    let start =
        input.get("ExclusiveStartKey").filter(|v| !v.is_null()).map(|v| target.start_position(v)).transpose()?;

    let hash = key_cond.hash.clone();
    let at = |k: PrimaryKey| -> Position {
        match target.index {
            None => (None, k),
            Some(_) => (Some(k), Scalar::min_key()),
        }
    };
    let range = key_cond.range.clone();
    let in_range = move |k: &PrimaryKey| match (&range, &k.1) {
        (None, _) => true,
        (Some(cond), Some(v)) => cond.matches(v),
        (Some(_), None) => false,
    };
    let positions: Box<dyn Iterator<Item = Position>> = if forward {
        let (hash, range) = (hash.clone(), key_cond.range.clone());
        let from = start.is_none().then(|| at(lower_bound(&key_cond)));
        Box::new(
            target
                .positions(from, start)
                .take_while(move |p| {
                    let k = target_sort(p);
                    k.0 == hash && !matches!((&range, &k.1), (Some(r), Some(v)) if r.is_past(v))
                })
                .filter(move |p| in_range(target_sort(p))),
        )
    } else {
        let mut all: Vec<Position> = target
            .positions(Some(at((hash.clone(), None))), None)
            .take_while(|p| target_sort(p).0 == hash)
            .filter(|p| in_range(target_sort(p)))
            .collect();
        if let Some(start) = &start {
            all.retain(|p| p < start);
        }
        all.reverse();
        Box::new(all.into_iter())
    };
    let out = page(&target, positions, input, exprs.filter.as_ref(), &select);
    Ok(Outcome::read(out))
}

fn target_sort(p: &Position) -> &PrimaryKey {
    p.0.as_ref().unwrap_or(&p.1)
}

/// The first table-or-index key a key condition can match.
fn lower_bound(cond: &KeyCondition) -> PrimaryKey {
    let range = match &cond.range {
        Some(RangeCondition::Compare(Cmp::Eq | Cmp::Ge | Cmp::Gt, v)) => Some(v.clone()),
        Some(RangeCondition::Between(low, _)) => Some(low.clone()),
        Some(RangeCondition::BeginsWith(p)) => Some(p.clone()),
        _ => None,
    };
    (cond.hash.clone(), range)
}

/// FNV-1a over the partition key, so an item's scan segment never changes.
fn segment_of(hash: &Scalar, total: u64) -> u64 {
    let bytes: Vec<u8> = match hash {
        Scalar::S(s) => s.as_bytes().to_vec(),
        Scalar::B(b) => b.to_vec(),
        Scalar::N(n) => n.to_string().into_bytes(),
    };
    let h = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3));
    h % total
}

pub fn scan(db: &Db, ctx: &Ctx, input: &Value) -> Result<Outcome> {
    let exprs = expressions::parse(input, &[Param::Filter, Param::Projection])?;
    let segment = input["Segment"].as_u64();
    let total = input["TotalSegments"].as_u64();
    let segments = match (segment, total) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ))
        }
        (None, Some(_)) => {
            return Err(validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ))
        }
        (Some(s), Some(t)) if s >= t => {
            return Err(validation(format!(
                "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {t}"
            )))
        }
        (Some(s), Some(t)) => Some((s, t)),
    };
    let target = target(db, ctx, input)?;
    let select = choose_select(input, exprs.projection, &target)?;
    let start =
        input.get("ExclusiveStartKey").filter(|v| !v.is_null()).map(|v| target.start_position(v)).transpose()?;
    let positions = target
        .positions(None, start)
        .filter(move |p| segments.is_none_or(|(s, t)| segment_of(&target_sort(p).0, t) == s));
    let out = page(&target, positions, input, exprs.filter.as_ref(), &select);
    Ok(Outcome::read(out))
}

/// PartiQL's SELECT: a scan of the table or index (`input` carries `TableName`, `IndexName`,
/// `Limit` and `ExclusiveStartKey`) with an already-parsed filter and projection.
pub fn select(
    db: &Db,
    ctx: &Ctx,
    input: &Value,
    filter: Option<&crate::expr::ast::Condition>,
    projection: Option<Vec<Path>>,
) -> Result<Value> {
    let target = target(db, ctx, input)?;
    let select = match projection {
        Some(paths) => Select::Projected(Some(paths)),
        None if target.index.is_some() => Select::Projected(None),
        None => Select::All,
    };
    let start =
        input.get("ExclusiveStartKey").filter(|v| !v.is_null()).map(|v| target.start_position(v)).transpose()?;
    Ok(page(&target, target.positions(None, start), input, filter, &select))
}
