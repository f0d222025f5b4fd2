import os


def main(event, context):
    for record in event.get("Records", []):
        print(os.environ["GREETING"], record["body"])
    return os.environ["GREETING"]
