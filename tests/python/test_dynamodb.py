"""DynamoDB and DynamoDB Streams through boto3 (client and resource APIs), PynamoDB models,
and a Lambda function that writes to a table on every invocation."""
import io
import json
import time
import uuid
import zipfile
from decimal import Decimal

import botocore.exceptions
import pytest
import requests
from boto3.dynamodb.conditions import Attr, Key

from conftest import client, start_nimbus

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


@pytest.fixture(scope="module")
def endpoint():
    """A server of this module's own: these tests advance its clock past TTLs and retention."""
    proc, url = start_nimbus()
    yield url
    proc.kill()
    proc.wait()


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def resource(endpoint):
    import boto3

    return boto3.resource(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def advance(endpoint, seconds):
    requests.post(f"{endpoint}/_nimbus/clock/advance", json={"seconds": seconds}).raise_for_status()


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        call()
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def make_table(endpoint, name=None, stream=None, **extra):
    ddb = resource(endpoint)
    name = name or unique("t")
    params = dict(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    if stream:
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    table = ddb.create_table(**params)
    table.wait_until_exists()
    return table


def test_resource_api_query_scan_and_batch_writer(endpoint):
    table = make_table(endpoint)
    with table.batch_writer() as batch:
        for i in range(60):
            batch.put_item(Item={"pk": "p" + str(i % 2), "sk": i, "price": Decimal("1.10") * i, "tags": {"a", "b"}})
    items = table.query(KeyConditionExpression=Key("pk").eq("p0") & Key("sk").between(10, 20))["Items"]
    assert [i["sk"] for i in items] == [10, 12, 14, 16, 18, 20]
    assert items[0]["price"] == Decimal("11")
    assert items[0]["tags"] == {"a", "b"}
    desc = table.query(KeyConditionExpression=Key("pk").eq("p1") & Key("sk").gt(50), ScanIndexForward=False)["Items"]
    assert [i["sk"] for i in desc] == [59, 57, 55, 53, 51]
    scanned = table.scan(FilterExpression=Attr("price").gte(Decimal("60")) & Attr("tags").contains("a"))
    assert scanned["Count"] == 5 and scanned["ScannedCount"] == 60
    table.update_item(
        Key={"pk": "p0", "sk": 0},
        UpdateExpression="SET visits = if_not_exists(visits, :zero) + :one ADD tags :c",
        ExpressionAttributeValues={":zero": 0, ":one": 1, ":c": {"c"}},
    )
    table.update_item(Key={"pk": "p0", "sk": 0}, UpdateExpression="DELETE tags :a", ExpressionAttributeValues={":a": {"a"}})
    item = table.get_item(Key={"pk": "p0", "sk": 0})["Item"]
    assert item["visits"] == 1 and item["tags"] == {"b", "c"}
    with table.batch_writer() as batch:
        for i in range(60):
            batch.delete_item(Key={"pk": "p" + str(i % 2), "sk": i})
    assert table.scan(Select="COUNT")["Count"] == 0


def test_numbers_are_decimals_with_38_digits(endpoint):
    table = make_table(endpoint)
    big = Decimal("1234567890123456789012345678901234567.8")
    table.put_item(Item={"pk": "n", "sk": 1, "v": big, "tiny": Decimal("1E-130")})
    item = table.get_item(Key={"pk": "n", "sk": 1})["Item"]
    assert item["v"] == big and item["tiny"] == Decimal("1E-130")
    ddb = client(endpoint, "dynamodb")
    code, message = error_of(lambda: ddb.put_item(TableName=table.name, Item={"pk": {"S": "n"}, "sk": {"N": "1E126"}}))
    assert (code, message) == ("ValidationException", "Number overflow. Attempting to store a number with magnitude larger than supported range")
    code, message = error_of(lambda: ddb.put_item(TableName=table.name, Item={"pk": {"S": "n"}, "sk": {"N": "1"}, "x": {"N": "1" * 39}}))
    assert message == "Attempting to store more than 38 significant digits in a Number"
    code, message = error_of(lambda: ddb.put_item(TableName=table.name, Item={"pk": {"S": "n"}, "sk": {"N": "1"}, "x": {"SS": []}}))
    assert message == "One or more parameter values were invalid: An string set  may not be empty"


def test_bad_input_gets_dynamodbs_errors(endpoint):
    table = make_table(endpoint)
    ddb = client(endpoint, "dynamodb")
    name = table.name
    cases = [
        (lambda: ddb.get_item(TableName="nope-table", Key={"pk": {"S": "a"}, "sk": {"N": "1"}}), "ResourceNotFoundException", "Requested resource not found"),
        (lambda: ddb.describe_table(TableName="nope-table"), "ResourceNotFoundException", "Requested resource not found: Table: nope-table not found"),
        (lambda: ddb.get_item(TableName=name, Key={"pk": {"S": "a"}}), "ValidationException", "The provided key element does not match the schema"),
        (lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"S": "x"}}), "ValidationException", "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"),
        (lambda: ddb.put_item(TableName=name, Item={"pk": {"S": ""}, "sk": {"N": "1"}}), "ValidationException", "One or more parameter values were invalid: One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"),
        (lambda: ddb.update_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}}, UpdateExpression="SET a = :v SET b = :v", ExpressionAttributeValues={":v": {"S": "x"}}), "ValidationException", 'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;'),
        (lambda: ddb.update_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}}, UpdateExpression="SET #n = :v"), "ValidationException", "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: #n"),
        (lambda: ddb.update_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}}, UpdateExpression="SET a = :v", ExpressionAttributeValues={":v": {"S": "x"}, ":w": {"S": "y"}}), "ValidationException", "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"),
        (lambda: ddb.scan(TableName=name, FilterExpression="status = :v", ExpressionAttributeValues={":v": {"S": "x"}}), "ValidationException", "Invalid FilterExpression: Attribute name is a reserved keyword; reserved keyword: status"),
        (lambda: ddb.query(TableName=name, KeyConditionExpression="sk = :v", ExpressionAttributeValues={":v": {"N": "1"}}), "ValidationException", "Query condition missed key schema element: pk"),
        (lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "a", "N": "1"}}), "ValidationException", "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"),
        (lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "big": {"S": "x" * (400 * 1024)}}), "ValidationException", "Item size has exceeded the maximum allowed size"),
        (lambda: ddb.create_table(TableName=unique("t"), KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST", ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}), "ValidationException", "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"),
        (lambda: ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST"), "ResourceInUseException", f"Table already exists: {name}"),
    ]
    for call, code, message in cases:
        assert error_of(call) == (code, message)
    # Nothing above changed anything.
    assert ddb.scan(TableName=name)["Count"] == 0
    # Malformed JSON and unknown operations answer in DynamoDB's protocol, never a 500.
    raw = requests.post(endpoint + "/", data=b"{not json", headers={"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0", "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
    assert raw.status_code == 400 and "SerializationException" in raw.json()["__type"]
    raw = requests.post(endpoint + "/", data=b"{}", headers={"X-Amz-Target": "DynamoDB_20120810.GetItem", "Content-Type": "application/x-amz-json-1.0", "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
    assert raw.status_code == 400 and raw.json()["__type"].endswith("ValidationException"), raw.text


def test_conditions_return_values_and_transactions(endpoint):
    table = make_table(endpoint)
    ddb = client(endpoint, "dynamodb")
    table.put_item(Item={"pk": "acct", "sk": 1, "balance": 100})
    err = None
    try:
        ddb.update_item(
            TableName=table.name, Key={"pk": {"S": "acct"}, "sk": {"N": "1"}},
            UpdateExpression="SET balance = balance - :amt", ConditionExpression="balance >= :amt",
            ExpressionAttributeValues={":amt": {"N": "150"}}, ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ddb.exceptions.ConditionalCheckFailedException as e:
        err = e
    assert err is not None and err.response["Item"]["balance"] == {"N": "100"}
    out = table.update_item(Key={"pk": "acct", "sk": 1}, UpdateExpression="SET balance = balance - :amt", ExpressionAttributeValues={":amt": 30}, ReturnValues="UPDATED_OLD")
    assert out["Attributes"] == {"balance": 100}

    with pytest.raises(ddb.exceptions.TransactionCanceledException) as exc:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table.name, "Item": {"pk": {"S": "acct"}, "sk": {"N": "2"}}}},
            {"Update": {"TableName": table.name, "Key": {"pk": {"S": "acct"}, "sk": {"N": "1"}}, "UpdateExpression": "SET balance = :z", "ConditionExpression": "balance = :z", "ExpressionAttributeValues": {":z": {"N": "0"}}}},
        ])
    reasons = exc.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert "Item" not in table.get_item(Key={"pk": "acct", "sk": 2})
    token = uuid.uuid4().hex
    request = dict(ClientRequestToken=token, TransactItems=[{"Update": {"TableName": table.name, "Key": {"pk": {"S": "acct"}, "sk": {"N": "1"}}, "UpdateExpression": "ADD balance :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
    ddb.transact_write_items(**request)
    ddb.transact_write_items(**request)
    assert table.get_item(Key={"pk": "acct", "sk": 1})["Item"]["balance"] == 71
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table.name, "Key": {"pk": {"S": "acct"}, "sk": {"N": "1"}}}}])
    assert got["Responses"][0]["Item"]["balance"] == {"N": "71"}


def records_of(endpoint, table_name, iterator_type="TRIM_HORIZON"):
    ddb = client(endpoint, "dynamodb")
    streams = client(endpoint, "dynamodbstreams")
    arn = ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=iterator_type)["ShardIterator"]
    return streams.get_records(ShardIterator=it)["Records"]


def test_streams_record_inserts_modifies_removes_and_ttl(endpoint):
    table = make_table(endpoint, stream="NEW_AND_OLD_IMAGES")
    ddb = client(endpoint, "dynamodb")
    table.put_item(Item={"pk": "a", "sk": 1, "v": 1})
    table.put_item(Item={"pk": "a", "sk": 1, "v": 1})  # changes nothing: no record
    table.update_item(Key={"pk": "a", "sk": 1}, UpdateExpression="SET v = :two", ExpressionAttributeValues={":two": 2})
    table.delete_item(Key={"pk": "a", "sk": 1})
    records = records_of(endpoint, table.name)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    modify = records[1]["dynamodb"]
    assert modify["OldImage"]["v"] == {"N": "1"} and modify["NewImage"]["v"] == {"N": "2"}
    assert modify["Keys"] == {"pk": {"S": "a"}, "sk": {"N": "1"}}
    assert records[0]["eventSource"] == "aws:dynamodb" and records[0]["eventVersion"] == "1.1"
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs)

    ddb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    now = int(time.time())
    table.put_item(Item={"pk": "ttl", "sk": 1, "expires": now + 3600})
    advance(endpoint, 7200)
    wait_for(lambda: "Item" not in table.get_item(Key={"pk": "ttl", "sk": 1}))
    removal = [r for r in records_of(endpoint, table.name) if r["eventName"] == "REMOVE"][-1]
    assert removal["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}

    # Records older than 24 hours are trimmed; iterators expire after 15 minutes.
    streams = client(endpoint, "dynamodbstreams")
    arn = ddb.describe_table(TableName=table.name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    advance(endpoint, 25 * 3600)
    assert error_of(lambda: streams.get_records(ShardIterator=it))[0] == "ExpiredIteratorException"

    def trimmed():
        try:
            return records_of(endpoint, table.name) == []
        except streams.exceptions.TrimmedDataAccessException:
            return False  # the trim ran between taking the iterator and reading: ask again

    wait_for(trimmed)
    code, _ = error_of(lambda: streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=records[0]["dynamodb"]["SequenceNumber"]))
    assert code == "TrimmedDataAccessException"


def test_stream_view_types(endpoint):
    for view, has_new, has_old in [("KEYS_ONLY", False, False), ("NEW_IMAGE", True, False), ("OLD_IMAGE", False, True)]:
        table = make_table(endpoint, stream=view)
        table.put_item(Item={"pk": "a", "sk": 1, "v": 1})
        table.put_item(Item={"pk": "a", "sk": 1, "v": 2})
        record = records_of(endpoint, table.name)[1]["dynamodb"]
        assert ("NewImage" in record, "OldImage" in record) == (has_new, has_old), view
        assert record["StreamViewType"] == view


def test_pynamodb_models_indexes_conditions_and_transactions(endpoint):
    from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
    from pynamodb.connection import Connection
    from pynamodb.exceptions import PutError, TransactWriteError
    from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
    from pynamodb.models import Model
    from pynamodb.transactions import TransactWrite

    table_name = unique("users")

    class ByEmail(GlobalSecondaryIndex):
        class Meta:
            index_name = "by-email"
            projection = AllProjection()

        email = UnicodeAttribute(hash_key=True)

    class User(Model):
        class Meta:
            host = endpoint
            region = "us-east-1"
            aws_access_key_id = "test"
            aws_secret_access_key = "test"

        user_id = UnicodeAttribute(hash_key=True)
        email = UnicodeAttribute()
        visits = NumberAttribute(default=0)
        roles = UnicodeSetAttribute(default=set)
        by_email = ByEmail()

    User.Meta.table_name = table_name
    User.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    User("u1", email="ann@example.com", roles={"admin"}).save()
    User("u2", email="bob@example.com").save()
    assert [u.user_id for u in User.by_email.query("bob@example.com")] == ["u2"]
    with pytest.raises(PutError):
        User("u1", email="dup@example.com").save(condition=User.user_id.does_not_exist())
    user = User.get("u1")
    user.update(actions=[User.visits.add(2), User.roles.add({"dev"})])
    assert User.get("u1").visits == 2 and User.get("u1").roles == {"admin", "dev"}
    connection = Connection(host=endpoint, region="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    with pytest.raises(TransactWriteError):
        with TransactWrite(connection=connection) as tx:
            tx.save(User("u3", email="c@example.com"))
            tx.update(User("u2"), actions=[User.visits.add(1)], condition=User.visits > 10)
    assert User.count() == 2
    with TransactWrite(connection=connection) as tx:
        tx.save(User("u3", email="c@example.com"))
        tx.delete(User("u2"))
    assert sorted(u.user_id for u in User.scan()) == ["u1", "u3"]


HANDLER = """
import os, boto3
def handler(event, context):
    table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
    out = table.update_item(Key={"pk": "counter", "sk": 0}, UpdateExpression="ADD invocations :one",
                            ExpressionAttributeValues={":one": 1}, ReturnValues="UPDATED_NEW")
    table.put_item(Item={"pk": "request", "sk": int(out["Attributes"]["invocations"]), "id": context.aws_request_id})
    return {"count": int(out["Attributes"]["invocations"])}
"""


def test_lambda_function_writes_to_a_table_on_every_invocation(endpoint):
    table = make_table(endpoint)
    lam = client(endpoint, "lambda")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", HANDLER)
    fn = unique("writer")
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": buf.getvalue()}, Timeout=30, Environment={"Variables": {"TABLE": table.name}})
    for i in range(1, 4):
        out = lam.invoke(FunctionName=fn, Payload=b"{}")
        assert "FunctionError" not in out, out["Payload"].read()
        assert json.loads(out["Payload"].read()) == {"count": i}
    requests_logged = table.query(KeyConditionExpression=Key("pk").eq("request"))["Items"]
    assert [r["sk"] for r in requests_logged] == [1, 2, 3]
