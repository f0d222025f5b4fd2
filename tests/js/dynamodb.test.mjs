// DynamoDB through the JS SDK v3's document client (@aws-sdk/lib-dynamodb: native JS values
// marshalled to attribute values) against nimbus. Run by tests/python/test_js_sdk.py.
import assert from "node:assert/strict";
import { before, test } from "node:test";

import { clientConfig, errorOf, sdk, unique } from "./sdk.mjs";

const { DynamoDBClient, CreateTableCommand, GetItemCommand, waitUntilTableExists } = sdk("@aws-sdk/client-dynamodb");
const {
    DynamoDBDocumentClient, PutCommand, GetCommand, UpdateCommand, QueryCommand, TransactWriteCommand,
    BatchWriteCommand, BatchGetCommand, paginateQuery,
} = sdk("@aws-sdk/lib-dynamodb");

const low = new DynamoDBClient(clientConfig);
const doc = DynamoDBDocumentClient.from(low, { marshallOptions: { removeUndefinedValues: true } });
const table = unique("js-orders");

before(async () => {
    // Orders by customer; the GSI finds them by status, newest first.
    await low.send(new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
            { AttributeName: "customer", AttributeType: "S" },
            { AttributeName: "order", AttributeType: "N" },
            { AttributeName: "status", AttributeType: "S" },
        ],
        KeySchema: [{ AttributeName: "customer", KeyType: "HASH" }, { AttributeName: "order", KeyType: "RANGE" }],
        GlobalSecondaryIndexes: [{
            IndexName: "byStatus",
            KeySchema: [{ AttributeName: "status", KeyType: "HASH" }, { AttributeName: "order", KeyType: "RANGE" }],
            Projection: { ProjectionType: "ALL" },
        }],
    }));
    await waitUntilTableExists({ client: low, maxWaitTime: 120 }, { TableName: table });
});

test("Put and Get marshal numbers, strings, maps, lists and sets; undefined values are dropped", async () => {
    const item = {
        customer: "ada", order: 1, status: "open", total: 19.99, paid: false, note: undefined, nothing: null,
        tags: new Set(["gift", "fragile"]), sizes: new Set([38, 40.5]),
        address: { city: "London", lines: ["1 Analytical Way", { flat: 2 }], geo: { lat: 51.5072, lon: -0.1276 } },
    };
    await doc.send(new PutCommand({ TableName: table, Item: item }));

    // On the wire: the sets are SS/NS, the object an M, the array an L, numbers N strings.
    const raw = (await low.send(new GetItemCommand({ TableName: table, Key: { customer: { S: "ada" }, order: { N: "1" } } }))).Item;
    assert.deepEqual(new Set(raw.tags.SS), new Set(["gift", "fragile"]));
    assert.deepEqual(new Set(raw.sizes.NS), new Set(["38", "40.5"]));
    assert.equal(raw.total.N, "19.99");
    assert.deepEqual(raw.nothing, { NULL: true });
    assert.deepEqual(raw.address.M.lines, { L: [{ S: "1 Analytical Way" }, { M: { flat: { N: "2" } } }] });
    assert.ok(!("note" in raw));

    const { Item } = await doc.send(new GetCommand({ TableName: table, Key: { customer: "ada", order: 1 } }));
    const { note, ...stored } = item;
    assert.deepEqual(Item, stored);
    const projected = await doc.send(new GetCommand({
        TableName: table, Key: { customer: "ada", order: 1 },
        ProjectionExpression: "address.geo.lat, tags", ConsistentRead: true,
    }));
    assert.deepEqual(projected.Item, { address: { geo: { lat: 51.5072 } }, tags: new Set(["gift", "fragile"]) });
});

test("Update with an UpdateExpression and a ConditionExpression; a failed condition is ConditionalCheckFailedException", async () => {
    const Key = { customer: "grace", order: 7 };
    await doc.send(new PutCommand({ TableName: table, Item: { ...Key, status: "open", total: 10, tags: new Set(["a", "b"]), sizes: new Set([1, 2]), address: { city: "Arlington" } } }));
    const updated = await doc.send(new UpdateCommand({
        TableName: table, Key,
        UpdateExpression: "SET #s = :shipped, #t = #t + :extra, address.city = :city, history = list_append(if_not_exists(history, :empty), :step) ADD tags :more DELETE sizes :less REMOVE paidAt",
        ConditionExpression: "#s = :open AND attribute_exists(address)",
        ExpressionAttributeNames: { "#s": "status", "#t": "total" },
        ExpressionAttributeValues: {
            ":shipped": "shipped", ":open": "open", ":extra": 2.5, ":city": "New York", ":empty": [],
            ":step": ["shipped"], ":more": new Set(["c"]), ":less": new Set([1]),
        },
        ReturnValues: "ALL_NEW",
    }));
    assert.deepEqual(updated.Attributes, {
        ...Key, status: "shipped", total: 12.5, tags: new Set(["a", "b", "c"]), sizes: new Set([2]), address: { city: "New York" }, history: ["shipped"],
    });

    const refused = await errorOf(doc.send(new UpdateCommand({
        TableName: table, Key, UpdateExpression: "SET #s = :open", ConditionExpression: "#s = :open",
        ExpressionAttributeNames: { "#s": "status" }, ExpressionAttributeValues: { ":open": "open" },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
    })));
    assert.equal(refused.name, "ConditionalCheckFailedException");
    assert.equal(refused.$metadata.httpStatusCode, 400);
    assert.equal(refused.message, "The conditional request failed");
    // The item as it was, in attribute values: the document client does not unmarshal errors.
    assert.deepEqual(refused.Item.status, { S: "shipped" });

    const duplicate = await errorOf(doc.send(new PutCommand({
        TableName: table, Item: { ...Key, status: "new" }, ConditionExpression: "attribute_not_exists(customer)",
    })));
    assert.equal(duplicate.name, "ConditionalCheckFailedException");
    assert.equal((await doc.send(new GetCommand({ TableName: table, Key }))).Item.status, "shipped");
});

test("BatchWrite and BatchGet", async () => {
    const items = Array.from({ length: 25 }, (_, i) => ({ customer: "bob", order: i + 1, status: i % 2 ? "open" : "closed", total: i * 1.5 }));
    const written = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) } }));
    assert.deepEqual(written.UnprocessedItems, {});

    const keys = [3, 11, 25, 99].map((order) => ({ customer: "bob", order }));
    const got = await doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys, ProjectionExpression: "#o, #s", ExpressionAttributeNames: { "#o": "order", "#s": "status" } } } }));
    assert.deepEqual(got.UnprocessedKeys, {});
    assert.deepEqual(got.Responses[table].sort((a, b) => a.order - b.order), [
        { order: 3, status: "closed" }, { order: 11, status: "closed" }, { order: 25, status: "closed" },
    ]);

    // Deleting in a batch, then the batch's limit: 26 requests are refused.
    await doc.send(new BatchWriteCommand({ RequestItems: { [table]: [{ DeleteRequest: { Key: { customer: "bob", order: 25 } } }] } }));
    assert.equal((await doc.send(new GetCommand({ TableName: table, Key: { customer: "bob", order: 25 } }))).Item, undefined);
    const tooMany = await errorOf(doc.send(new BatchWriteCommand({
        RequestItems: { [table]: Array.from({ length: 26 }, (_, i) => ({ PutRequest: { Item: { customer: "carl", order: i } } })) },
    })));
    assert.equal(tooMany.name, "ValidationException");
});

test("Query with a KeyConditionExpression on the table and its GSI; paginateQuery walks the pages", async () => {
    const items = Array.from({ length: 24 }, (_, i) => ({ customer: "dora", order: i + 1, status: i % 3 ? "open" : "closed" }));
    await doc.send(new BatchWriteCommand({ RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) } }));

    const between = await doc.send(new QueryCommand({
        TableName: table, KeyConditionExpression: "customer = :c AND #o BETWEEN :lo AND :hi",
        ExpressionAttributeNames: { "#o": "order" }, ExpressionAttributeValues: { ":c": "dora", ":lo": 5, ":hi": 8 },
        ScanIndexForward: false,
    }));
    assert.deepEqual(between.Items.map((i) => i.order), [8, 7, 6, 5]);
    assert.equal(between.Count, 4);
    assert.equal(between.LastEvaluatedKey, undefined);

    const filtered = await doc.send(new QueryCommand({
        TableName: table, KeyConditionExpression: "customer = :c AND #o <= :hi", FilterExpression: "#s = :closed",
        ExpressionAttributeNames: { "#o": "order", "#s": "status" }, ExpressionAttributeValues: { ":c": "dora", ":hi": 10, ":closed": "closed" },
    }));
    assert.deepEqual(filtered.Items.map((i) => i.order), [1, 4, 7, 10]);
    assert.equal(filtered.ScannedCount, 10);

    // The index holds dora's open orders (and bob's, from the batch test, kept apart by order > 100 below).
    const onIndex = await doc.send(new QueryCommand({
        TableName: table, IndexName: "byStatus", KeyConditionExpression: "#s = :open AND #o > :min",
        FilterExpression: "customer = :c",
        ExpressionAttributeNames: { "#s": "status", "#o": "order" }, ExpressionAttributeValues: { ":open": "open", ":min": 20, ":c": "dora" },
    }));
    assert.deepEqual(onIndex.Items.map((i) => i.order), [21, 23, 24]);

    const pages = [];
    for await (const page of paginateQuery({ client: doc, pageSize: 5 }, {
        TableName: table, KeyConditionExpression: "customer = :c", ExpressionAttributeValues: { ":c": "dora" },
    })) {
        pages.push(page.Items.map((i) => i.order));
    }
    // 24 items in pages of 5: the fifth holds 4, so it is the last (no LastEvaluatedKey).
    assert.deepEqual(pages.map((p) => p.length), [5, 5, 5, 5, 4]);
    assert.deepEqual(pages.flat(), items.map((i) => i.order));

    // Pages of an index query carry the index key and the table key in LastEvaluatedKey.
    const first = await doc.send(new QueryCommand({
        TableName: table, IndexName: "byStatus", KeyConditionExpression: "#s = :closed",
        ExpressionAttributeNames: { "#s": "status" }, ExpressionAttributeValues: { ":closed": "closed" }, Limit: 2,
    }));
    assert.equal(first.Items.length, 2);
    assert.deepEqual(Object.keys(first.LastEvaluatedKey).sort(), ["customer", "order", "status"]);
    const indexPages = [];
    for await (const page of paginateQuery({ client: doc, pageSize: 3 }, {
        TableName: table, IndexName: "byStatus", KeyConditionExpression: "#s = :closed",
        ExpressionAttributeNames: { "#s": "status" }, ExpressionAttributeValues: { ":closed": "closed" },
    })) {
        indexPages.push(...page.Items.map((i) => `${i.customer}/${i.order}`));
    }
    const closed = [...items, ...Array.from({ length: 24 }, (_, i) => ({ customer: "bob", order: i + 1, status: i % 2 ? "open" : "closed" }))]
        .filter((i) => i.status === "closed").sort((a, b) => a.order - b.order);
    assert.equal(indexPages.length, closed.length);
    assert.equal(new Set(indexPages).size, closed.length);
});

test("TransactWrite is all or nothing; a refused one names its reasons", async () => {
    await doc.send(new PutCommand({ TableName: table, Item: { customer: "eve", order: 1, status: "open", stock: 3 } }));
    await doc.send(new TransactWriteCommand({
        TransactItems: [
            { Put: { TableName: table, Item: { customer: "eve", order: 2, status: "open", lines: [{ sku: "x", qty: 2 }] }, ConditionExpression: "attribute_not_exists(customer)" } },
            { Update: { TableName: table, Key: { customer: "eve", order: 1 }, UpdateExpression: "SET stock = stock - :n", ConditionExpression: "stock >= :n", ExpressionAttributeValues: { ":n": 2 } } },
            { ConditionCheck: { TableName: table, Key: { customer: "grace", order: 7 }, ConditionExpression: "attribute_exists(customer)" } },
        ],
    }));
    assert.equal((await doc.send(new GetCommand({ TableName: table, Key: { customer: "eve", order: 1 } }))).Item.stock, 1);
    assert.deepEqual((await doc.send(new GetCommand({ TableName: table, Key: { customer: "eve", order: 2 } }))).Item.lines, [{ sku: "x", qty: 2 }]);

    const refused = await errorOf(doc.send(new TransactWriteCommand({
        TransactItems: [
            { Delete: { TableName: table, Key: { customer: "eve", order: 2 } } },
            { Update: { TableName: table, Key: { customer: "eve", order: 1 }, UpdateExpression: "SET stock = stock - :n", ConditionExpression: "stock >= :n", ExpressionAttributeValues: { ":n": 2 } } },
        ],
    })));
    assert.equal(refused.name, "TransactionCanceledException");
    assert.deepEqual(refused.CancellationReasons.map((r) => r.Code), ["None", "ConditionalCheckFailed"]);
    assert.match(refused.message, /Transaction cancelled, please refer cancellation reasons for specific reasons \[None, ConditionalCheckFailed\]/);
    // Nothing of it happened: the delete was rolled back with the failed update.
    assert.equal((await doc.send(new GetCommand({ TableName: table, Key: { customer: "eve", order: 2 } }))).Item.status, "open");
    assert.equal((await doc.send(new GetCommand({ TableName: table, Key: { customer: "eve", order: 1 } }))).Item.stock, 1);
});
