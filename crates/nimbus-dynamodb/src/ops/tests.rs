//! Operations end to end over an in-memory `Db`, without HTTP.

use serde_json::{json, Value};

use super::{dispatch, Ctx};
use crate::state::Db;

struct Harness {
    db: Db,
    ctx: Ctx,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            db: Db::default(),
            ctx: Ctx { account: "000000000000".into(), region: "us-east-1".into(), now_millis: 1_700_000_000_000 },
        }
    }

    fn call(&mut self, op: &str, input: Value) -> Result<Value, (String, String)> {
        let outcome = dispatch(&self.db, &self.ctx, op, &input)
            .expect("known operation")
            .map_err(|e| (e.code.rsplit('#').next().unwrap_or_default().to_string(), e.message))?;
        for change in outcome.changes {
            self.db.apply(change);
        }
        Ok(outcome.output)
    }

    fn ok(&mut self, op: &str, input: Value) -> Value {
        self.call(op, input.clone()).unwrap_or_else(|e| panic!("{op} {input}: {e:?}"))
    }

    fn err(&mut self, op: &str, input: Value) -> String {
        self.call(op, input).map(|v| panic!("{op} succeeded: {v}")).unwrap_err().1
    }

    fn composite_table(&mut self) {
        self.ok(
            "CreateTable",
            json!({
                "TableName": "t",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "N"},
                    {"AttributeName": "g", "AttributeType": "S"}
                ],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "GlobalSecondaryIndexes": [{"IndexName": "byG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}], "Projection": {"ProjectionType": "KEYS_ONLY"}}],
                "BillingMode": "PAY_PER_REQUEST",
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}
            }),
        );
        for i in 1..=5 {
            let mut item = json!({"pk": {"S": "a"}, "sk": {"N": i.to_string()}, "v": {"N": (i * 10).to_string()}});
            if i % 2 == 1 {
                item["g"] = json!({"S": "odd"});
            }
            self.ok("PutItem", json!({"TableName": "t", "Item": item}));
        }
        self.ok("PutItem", json!({"TableName": "t", "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}}}));
    }
}

fn sks(v: &Value) -> Vec<String> {
    v["Items"].as_array().unwrap().iter().map(|i| i["sk"]["N"].as_str().unwrap().to_string()).collect()
}

#[test]
fn item_crud_with_conditions_and_return_values() {
    let mut h = Harness::new();
    h.composite_table();
    let key = json!({"pk": {"S": "a"}, "sk": {"N": "1"}});
    let got = h.ok("GetItem", json!({"TableName": "t", "Key": key, "ProjectionExpression": "v"}));
    assert_eq!(got, json!({"Item": {"v": {"N": "10"}}}));
    assert_eq!(h.ok("GetItem", json!({"TableName": "t", "Key": {"pk": {"S": "zz"}, "sk": {"N": "1"}}})), json!({}));

    let updated = h.ok(
        "UpdateItem",
        json!({
            "TableName": "t", "Key": key, "UpdateExpression": "SET v = v + :d ADD tags :t",
            "ExpressionAttributeValues": {":d": {"N": "5"}, ":t": {"SS": ["x"]}}, "ReturnValues": "UPDATED_NEW"
        }),
    );
    assert_eq!(updated, json!({"Attributes": {"tags": {"SS": ["x"]}, "v": {"N": "15"}}}));

    let failed = h.call("PutItem", json!({
        "TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}, "ConditionExpression": "attribute_not_exists(pk)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"
    }));
    assert_eq!(
        failed.unwrap_err(),
        ("ConditionalCheckFailedException".into(), "The conditional request failed".into())
    );

    let old = h.ok(
        "DeleteItem",
        json!({"TableName": "t", "Key": key, "ReturnValues": "ALL_OLD", "ReturnConsumedCapacity": "TOTAL"}),
    );
    assert_eq!(old["Attributes"]["v"], json!({"N": "15"}));
    assert_eq!(old["ConsumedCapacity"], json!({"TableName": "t", "CapacityUnits": 1.0}));

    assert_eq!(h.err("UpdateItem", json!({"TableName": "t", "Key": key, "UpdateExpression": "SET pk = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}})),
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key");
    assert_eq!(
        h.err("PutItem", json!({"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"N": "9"}, "g": {"N": "1"}}})),
        "One or more parameter values were invalid: Type mismatch for Index Key g Expected: S Actual: N IndexName: byG"
    );
    assert_eq!(h.err("PutItem", json!({"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"N": "9"}, "big": {"S": "x".repeat(400 * 1024)}}})),
        "Item size has exceeded the maximum allowed size");
    assert_eq!(h.err("GetItem", json!({"TableName": "nope", "Key": key})), "Requested resource not found");
    assert_eq!(h.err("PutItem", json!({"TableName": "t", "Item": {"pk": {"S": "a"}, "sk": {"N": "9"}}, "ConditionExpression": "a = :v", "Expected": {"a": {"Exists": false}}})),
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}");
}

#[test]
fn legacy_parameters_behave_like_expressions() {
    let mut h = Harness::new();
    h.composite_table();
    let key = json!({"pk": {"S": "a"}, "sk": {"N": "2"}});
    assert_eq!(
        h.err("PutItem", json!({"TableName": "t", "Item": key, "Expected": {"pk": {"Exists": false}}})),
        "The conditional request failed"
    );
    h.ok("UpdateItem", json!({"TableName": "t", "Key": key, "AttributeUpdates": {"v": {"Action": "ADD", "Value": {"N": "1"}}, "l": {"Action": "ADD", "Value": {"L": [{"S": "x"}]}}}}));
    let got = h.ok("GetItem", json!({"TableName": "t", "Key": key, "AttributesToGet": ["v", "l"]}));
    assert_eq!(got["Item"], json!({"l": {"L": [{"S": "x"}]}, "v": {"N": "21"}}));
    let q = h.ok(
        "Query",
        json!({"TableName": "t", "KeyConditions": {
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
        "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "2"}, {"N": "4"}]}
    }, "QueryFilter": {"v": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "21"}]}}}),
    );
    assert_eq!(sks(&q), ["3", "4"]);
    assert_eq!(q["ScannedCount"], 3);
    let s = h.ok("Scan", json!({"TableName": "t", "ScanFilter": {"g": {"ComparisonOperator": "NULL"}}}));
    assert_eq!(s["Count"], 3);
}

#[test]
fn query_and_scan_pages() {
    let mut h = Harness::new();
    h.composite_table();
    let q = |extra: Value| {
        let mut input = json!({"TableName": "t", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a"}}});
        for (k, v) in extra.as_object().unwrap() {
            input[k] = v.clone();
        }
        input
    };
    assert_eq!(sks(&h.ok("Query", q(json!({})))), ["1", "2", "3", "4", "5"]);
    assert_eq!(sks(&h.ok("Query", q(json!({"ScanIndexForward": false})))), ["5", "4", "3", "2", "1"]);
    let first = h.ok("Query", q(json!({"Limit": 2})));
    assert_eq!(sks(&first), ["1", "2"]);
    assert_eq!(first["LastEvaluatedKey"], json!({"pk": {"S": "a"}, "sk": {"N": "2"}}));
    let second = h.ok("Query", q(json!({"Limit": 2, "ExclusiveStartKey": first["LastEvaluatedKey"]})));
    assert_eq!(sks(&second), ["3", "4"]);
    let back =
        h.ok("Query", q(json!({"ScanIndexForward": false, "ExclusiveStartKey": {"pk": {"S": "a"}, "sk": {"N": "3"}}})));
    assert_eq!(sks(&back), ["2", "1"]);
    let count = h.ok("Query", q(json!({"Select": "COUNT", "FilterExpression": "v >= :m", "ExpressionAttributeValues": {":p": {"S": "a"}, ":m": {"N": "30"}}})));
    assert_eq!(
        (count["Count"].clone(), count["ScannedCount"].clone(), count.get("Items").is_none()),
        (json!(3), json!(5), true)
    );

    let mut range = q(json!({}));
    range["KeyConditionExpression"] = json!("pk = :p AND sk < :m");
    range["ExpressionAttributeValues"][":m"] = json!({"N": "3"});
    assert_eq!(sks(&h.ok("Query", range)), ["1", "2"]);

    let index = h.ok("Query", json!({"TableName": "t", "IndexName": "byG", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "odd"}}, "Limit": 2}));
    assert_eq!(index["Items"][0], json!({"g": {"S": "odd"}, "pk": {"S": "a"}, "sk": {"N": "1"}}));
    assert_eq!(index["LastEvaluatedKey"], json!({"g": {"S": "odd"}, "pk": {"S": "a"}, "sk": {"N": "3"}}));
    let rest = h.ok("Query", json!({"TableName": "t", "IndexName": "byG", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "odd"}}, "ExclusiveStartKey": index["LastEvaluatedKey"]}));
    assert_eq!(sks(&rest), ["5"]);
    assert_eq!(
        h.err("Query", json!({"TableName": "t", "IndexName": "byG", "Select": "ALL_ATTRIBUTES", "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": {"S": "odd"}}})),
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index byG because its projection type is not ALL"
    );
    assert_eq!(h.err("Query", json!({"TableName": "t", "IndexName": "nope", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a"}}})),
        "The table does not have the specified index: nope");

    let scan = h.ok("Scan", json!({"TableName": "t"}));
    assert_eq!(scan["Count"], 6);
    let mut total = 0;
    for segment in 0..3 {
        total +=
            h.ok("Scan", json!({"TableName": "t", "Segment": segment, "TotalSegments": 3}))["Count"].as_u64().unwrap();
    }
    assert_eq!(total, 6);
    assert_eq!(h.err("Scan", json!({"TableName": "t", "Segment": 3, "TotalSegments": 3})),
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 3 is not less than TotalSegments: 3");
}

#[test]
fn one_megabyte_pages() {
    let mut h = Harness::new();
    h.ok("CreateTable", json!({"TableName": "big", "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}], "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}));
    let filler = "x".repeat(100 * 1024);
    for i in 0..25 {
        h.ok("PutItem", json!({"TableName": "big", "Item": {"id": {"N": i.to_string()}, "f": {"S": filler}}}));
    }
    let first = h.ok("Scan", json!({"TableName": "big", "Select": "COUNT"}));
    assert_eq!(first["ScannedCount"], 11);
    let second =
        h.ok("Scan", json!({"TableName": "big", "Select": "COUNT", "ExclusiveStartKey": first["LastEvaluatedKey"]}));
    let third =
        h.ok("Scan", json!({"TableName": "big", "Select": "COUNT", "ExclusiveStartKey": second["LastEvaluatedKey"]}));
    assert_eq!(
        first["ScannedCount"].as_u64().unwrap()
            + second["ScannedCount"].as_u64().unwrap()
            + third["ScannedCount"].as_u64().unwrap(),
        25
    );
    assert!(third.get("LastEvaluatedKey").is_none());
}

#[test]
fn batches_and_transactions() {
    let mut h = Harness::new();
    h.composite_table();
    let got = h.ok("BatchGetItem", json!({"RequestItems": {"t": {"Keys": [{"pk": {"S": "a"}, "sk": {"N": "1"}}, {"pk": {"S": "a"}, "sk": {"N": "99"}}]}}}));
    assert_eq!(got["Responses"]["t"].as_array().unwrap().len(), 1);
    assert_eq!(got["UnprocessedKeys"], json!({}));
    assert_eq!(
        h.err("BatchWriteItem", json!({"RequestItems": {"t": [{"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}}}, {"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}}}]}})),
        "Provided list of item keys contains duplicates"
    );
    h.ok("BatchWriteItem", json!({"RequestItems": {"t": [{"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}}}, {"PutRequest": {"Item": {"pk": {"S": "c"}, "sk": {"N": "1"}}}}]}}));
    assert_eq!(h.ok("Scan", json!({"TableName": "t"}))["Count"], 6);

    let cancel = h.call("TransactWriteItems", json!({"TransactItems": [
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "n"}, "sk": {"N": "1"}}}},
        {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}}, "ConditionExpression": "v = :x", "ExpressionAttributeValues": {":x": {"N": "0"}}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}
    ]}));
    let (code, message) = cancel.unwrap_err();
    assert_eq!(code, "TransactionCanceledException");
    assert_eq!(
        message,
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"
    );
    assert_eq!(h.ok("GetItem", json!({"TableName": "t", "Key": {"pk": {"S": "n"}, "sk": {"N": "1"}}})), json!({}));

    let tx = json!({"ClientRequestToken": "tok", "TransactItems": [
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}}, "UpdateExpression": "ADD v :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Delete": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"N": "3"}}}}
    ]});
    h.ok("TransactWriteItems", tx.clone());
    h.ok("TransactWriteItems", tx.clone());
    let v = h.ok("GetItem", json!({"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}}}));
    assert_eq!(v["Item"]["v"], json!({"N": "21"}), "a retried token applies once");
    let mut other = tx.clone();
    other["TransactItems"].as_array_mut().unwrap().pop();
    assert_eq!(h.call("TransactWriteItems", other).unwrap_err().0, "IdempotentParameterMismatchException");
    assert_eq!(
        h.err(
            "TransactWriteItems",
            json!({"TransactItems": [
                {"Delete": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"N": "4"}}}},
                {"Delete": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"N": "4"}}}}
            ]})
        ),
        "Transaction request cannot include multiple operations on one item"
    );
    let got = h.ok("TransactGetItems", json!({"TransactItems": [{"Get": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}}}}, {"Get": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"N": "3"}}}}]}));
    assert_eq!(got["Responses"][1], json!({}));
}

#[test]
fn tables_describe_update_list_delete() {
    let mut h = Harness::new();
    h.composite_table();
    let d = h.ok("DescribeTable", json!({"TableName": "t"}));
    assert_eq!(d["Table"]["TableStatus"], "ACTIVE");
    assert_eq!(d["Table"]["ItemCount"], 6);
    assert_eq!(d["Table"]["GlobalSecondaryIndexes"][0]["ItemCount"], 3);
    assert_eq!(h.err("CreateTable", json!({"TableName": "t", "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"})), "Table already exists: t");
    assert_eq!(h.err("DescribeTable", json!({"TableName": "zz"})), "Requested resource not found: Table: zz not found");

    let upd = h.ok("UpdateTable", json!({"TableName": "t", "AttributeDefinitions": [{"AttributeName": "v", "AttributeType": "N"}],
        "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "byV", "KeySchema": [{"AttributeName": "v", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}}]}));
    assert_eq!(upd["TableDescription"]["TableStatus"], "UPDATING");
    let d = h.ok("DescribeTable", json!({"TableName": "t"}));
    let by_v = d["Table"]["GlobalSecondaryIndexes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["IndexName"] == "byV")
        .unwrap()
        .clone();
    assert_eq!(by_v["IndexStatus"], "ACTIVE");
    assert_eq!(by_v["ItemCount"], 5, "the new index is backfilled");
    let q = h.ok("Query", json!({"TableName": "t", "IndexName": "byV", "KeyConditionExpression": "v = :v", "ExpressionAttributeValues": {":v": {"N": "30"}}}));
    assert_eq!(sks(&q), ["3"]);

    for name in ["b1", "b2", "b3"] {
        h.ok("CreateTable", json!({"TableName": name, "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST", "DeletionProtectionEnabled": name == "b2"}));
    }
    let page = h.ok("ListTables", json!({"Limit": 2}));
    assert_eq!(page, json!({"TableNames": ["b1", "b2"], "LastEvaluatedTableName": "b2"}));
    assert_eq!(h.ok("ListTables", json!({"ExclusiveStartTableName": "b2"})), json!({"TableNames": ["b3", "t"]}));
    assert_eq!(
        h.err("DeleteTable", json!({"TableName": "b2"})),
        "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first."
    );
    assert_eq!(h.ok("DeleteTable", json!({"TableName": "b1"}))["TableDescription"]["TableStatus"], "DELETING");
    assert_eq!(h.ok("ListTables", json!({}))["TableNames"], json!(["b2", "b3", "t"]));

    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/b3";
    h.ok("TagResource", json!({"ResourceArn": arn, "Tags": [{"Key": "k", "Value": "v"}, {"Key": "j", "Value": "w"}]}));
    h.ok("UntagResource", json!({"ResourceArn": arn, "TagKeys": ["j"]}));
    assert_eq!(h.ok("ListTagsOfResource", json!({"ResourceArn": arn})), json!({"Tags": [{"Key": "k", "Value": "v"}]}));

    h.ok(
        "UpdateTimeToLive",
        json!({"TableName": "b3", "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "exp"}}),
    );
    assert_eq!(
        h.ok("DescribeTimeToLive", json!({"TableName": "b3"})),
        json!({"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}})
    );
    assert_eq!(
        h.err(
            "UpdateTimeToLive",
            json!({"TableName": "b3", "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "exp"}})
        ),
        "TimeToLive is already enabled"
    );
}
