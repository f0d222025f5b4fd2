import json
import os


def main(event, context):
    for record in event.get("Records", []):
        print(os.environ["GREETING"], record["body"])
    return os.environ["GREETING"]


def api(event, context):
    """Behind the `http` event: API Gateway's Lambda proxy event in, a proxy answer out."""
    body = {"greeting": os.environ["GREETING"], "path": event["path"], "name": event["queryStringParameters"]["name"]}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
