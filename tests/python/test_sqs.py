"""SQS through boto3 (AWS JSON 1.0) and one raw query-protocol request."""

import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import client


def name(prefix="q"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sqs(endpoint):
    return client(endpoint, "sqs")


def advance(endpoint, seconds):
    requests.post(f"{endpoint}/_nimbus/clock/advance", json={"seconds": seconds}).raise_for_status()


def test_queue_lifecycle_and_errors(sqs):
    qn = name()
    url = sqs.create_queue(QueueName=qn, Attributes={"VisibilityTimeout": "10"}, tags={"team": "a"})["QueueUrl"]
    assert url.endswith(f"/000000000000/{qn}")
    # The path form on the host the client used: it resolves on every machine.
    assert url == f"{sqs.meta.endpoint_url}/000000000000/{qn}"
    # Idempotent with identical attributes, an error with different ones.
    assert sqs.create_queue(QueueName=qn, Attributes={"VisibilityTimeout": "10"})["QueueUrl"] == url
    with pytest.raises(ClientError) as e:
        sqs.create_queue(QueueName=qn, Attributes={"VisibilityTimeout": "11"})
    assert e.value.response["Error"]["Code"] == "QueueAlreadyExists"
    assert sqs.get_queue_url(QueueName=qn)["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix=qn)["QueueUrls"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "10"
    assert attrs["MaximumMessageSize"] == "1048576"
    assert attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{qn}"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    with pytest.raises(ClientError) as e:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})
    assert e.value.response["Error"]["Code"] == "InvalidAttributeValue"
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as e:
        sqs.get_queue_url(QueueName=qn)
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    # A path-style URL on any host resolves too.
    qn2 = name()
    sqs.create_queue(QueueName=qn2)
    sqs.send_message(QueueUrl=f"http://localhost:4566/000000000000/{qn2}", MessageBody="x")


def test_send_receive_md5_and_delete(sqs):
    url = sqs.create_queue(QueueName=name())["QueueUrl"]
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="hello",
        MessageAttributes={"SellerName": {"DataType": "String", "StringValue": "Example Store"}},
    )
    assert sent["MD5OfMessageBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert sent["MD5OfMessageAttributes"] == "cd28f3b68aeee4b2eac9c66f2f694b58"
    got = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["Body"] == "hello" and m["MessageId"] == sent["MessageId"]
    assert m["MD5OfMessageAttributes"] == "cd28f3b68aeee4b2eac9c66f2f694b58"
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert "SentTimestamp" in m["Attributes"]
    # In flight: nothing else to receive.
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    with pytest.raises(ClientError) as e:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert e.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"


def test_batches(sqs):
    url = sqs.create_queue(QueueName=name())["QueueUrl"]
    res = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2", "DelaySeconds": 901}],
    )
    assert [s["Id"] for s in res["Successful"]] == ["a"]
    assert res["Failed"][0]["Id"] == "b" and res["Failed"][0]["SenderFault"] is True
    with pytest.raises(ClientError) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}] * 2)
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    with pytest.raises(ClientError) as e:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"i{i}", "MessageBody": "x"} for i in range(11)])
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    res = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": "x", "ReceiptHandle": msgs[0]["ReceiptHandle"]}]
    )
    assert res["Successful"] == [{"Id": "x"}]


def test_visibility_and_clock(sqs, endpoint):
    url = sqs.create_queue(QueueName=name(), Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="v")
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    advance(endpoint, 31)
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert again["MessageId"] == first["MessageId"]
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0)
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["MessageId"] == first["MessageId"]


def test_long_poll_wakes_on_send(sqs):
    import threading

    url = sqs.create_queue(QueueName=name())["QueueUrl"]
    threading.Timer(0.5, lambda: sqs.send_message(QueueUrl=url, MessageBody="late")).start()
    start = time.time()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    assert got[0]["Body"] == "late"
    assert time.time() - start < 3


def test_fifo_order_dedup_and_groups(sqs):
    url = sqs.create_queue(
        QueueName=name() + ".fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    a = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="A")
    dup = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="A")
    assert dup["MessageId"] == a["MessageId"]
    b = sqs.send_message(QueueUrl=url, MessageBody="a2", MessageGroupId="A")
    assert len(a["SequenceNumber"]) == 20 and int(b["SequenceNumber"]) > int(a["SequenceNumber"])
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="B")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert first[0]["Body"] == "a1"
    # Group A is blocked while a1 is in flight; B is not.
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["b1"]
    with pytest.raises(ClientError) as e:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert e.value.response["Error"]["Code"] == "MissingParameter"


def test_dead_letter_queue_and_move_task(sqs, endpoint):
    dlq = sqs.create_queue(QueueName=name("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(
        QueueName=name("src"),
        Attributes={
            "VisibilityTimeout": "5",
            "RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}',
        },
    )["QueueUrl"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=src)["Messages"]
        advance(endpoint, 6)
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    moved = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0)["Messages"]
    assert moved[0]["Body"] == "poison"
    task = sqs.start_message_move_task(SourceArn=dlq_arn)
    assert task["TaskHandle"]
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert tasks[0]["Status"] == "COMPLETED"
    assert tasks[0]["ApproximateNumberOfMessagesMoved"] == 1
    assert sqs.receive_message(QueueUrl=src)["Messages"][0]["Body"] == "poison"


def test_purge_and_permissions(sqs):
    url = sqs.create_queue(QueueName=name())["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.purge_queue(QueueUrl=url)
    with pytest.raises(ClientError) as e:
        sqs.purge_queue(QueueUrl=url)
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.PurgeQueueInProgress"
    sqs.add_permission(QueueUrl=url, Label="l1", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    assert '"Sid":"l1"' in policy
    sqs.remove_permission(QueueUrl=url, Label="l1")


def test_query_protocol(sqs, endpoint):
    qn = name()
    url = sqs.create_queue(QueueName=qn)["QueueUrl"]
    ns = {"s": "http://queue.amazonaws.com/doc/2012-11-05/"}
    r = requests.post(
        f"{endpoint}/000000000000/{qn}",
        data={
            "Action": "SendMessage",
            "Version": "2012-11-05",
            "MessageBody": "via query",
            "MessageAttribute.1.Name": "SellerName",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "Example Store",
        },
    )
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    assert root.tag == "{http://queue.amazonaws.com/doc/2012-11-05/}SendMessageResponse"
    res = root.find("s:SendMessageResult", ns)
    assert res.find("s:MD5OfMessageAttributes", ns).text == "cd28f3b68aeee4b2eac9c66f2f694b58"
    r = requests.post(endpoint, data={"Action": "ReceiveMessage", "QueueUrl": url, "MessageAttributeName.1": "All"})
    msg = ET.fromstring(r.content).find("s:ReceiveMessageResult/s:Message", ns)
    assert msg.find("s:Body", ns).text == "via query"
    r = requests.post(endpoint, data={"Action": "GetQueueUrl", "QueueName": "nope-" + qn})
    assert r.status_code == 400
    err = ET.fromstring(r.content).find("s:Error", ns)
    assert err.find("s:Code", ns).text == "AWS.SimpleQueueService.NonExistentQueue"
