#!/usr/bin/env python3
"""Wall time of `sam deploy` of a sample application against nimbus, and how much of it is nimbus.

The application (issue 19's): a function behind an `Api` event, an SQS-triggered function, a
`Schedule` event and a `SimpleTable`. It is deployed twice with the real SAM CLI: first to a new
stack (with `--resolve-s3`, so SAM also creates its managed bucket stack), then after a code
change (an UPDATE change set). For each deploy the script prints:

- wall: what the user waits for, `sam deploy` start to exit;
- nimbus: the time nimbus spent on the deploy, as the sum of its answer times to every request SAM
  made (measured by a pass-through proxy between SAM and nimbus) plus the execution time of each
  stack SAM created or updated (first to last stack event). The two can overlap (SAM polls while
  a stack executes), so this is an upper bound. The rest is SAM's own work: Python start-up,
  packaging, and the seconds it sleeps between polls.

Usage: scripts/bench-sam-deploy.py --nimbus target/release/nimbus [--sam .venv-sam/bin/sam]
(the SAM CLI comes from tests/requirements-sam.txt; scripts/setup-test-tools.sh installs it).
"""

import argparse
import datetime
import http.client
import http.server
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

import boto3

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET_WALL_S = 10.0
TARGET_NIMBUS_S = 1.0
STACK = "bench-sam-app"

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: src/
    Timeout: 10
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.api
      Environment:
        Variables:
          TABLE: !Ref Items
      Policies:
        - DynamoDBCrudPolicy:
            TableName: !Ref Items
      Events:
        Get:
          Type: Api
          Properties:
            Path: /items
            Method: get
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.worker
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Jobs.Arn
            BatchSize: 10
  Ticker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.tick
      Events:
        Every:
          Type: Schedule
          Properties:
            Schedule: rate(5 minutes)
  Jobs:
    Type: AWS::SQS::Queue
  Items:
    Type: AWS::Serverless::SimpleTable
Outputs:
  ApiUrl:
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/items"
"""

HANDLER = """\
import json

VERSION = "{version}"

def api(event, context):
    return {{"statusCode": 200, "body": json.dumps({{"version": VERSION}})}}

def worker(event, context):
    return len(event["Records"])

def tick(event, context):
    return VERSION
"""


class Timings:
    """Answer times of the requests that passed through the proxy."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seconds = []

    def add(self, took, what):
        with self.lock:
            self.seconds.append((took, what))

    def take(self):
        with self.lock:
            taken, self.seconds = self.seconds, []
        return taken


def describe(method, path, headers, body):
    """A request's operation as far as the wire says it: the query Action, the JSON target, or the
    REST method and path."""
    target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), None)
    if target:
        return target
    if body and body[:7] == b"Action=":
        return body.split(b"&", 1)[0][7:].decode()
    return f"{method} {path.split('?', 1)[0]}"


def proxy_handler(upstream_port, timings):
    local = threading.local()
    hop_by_hop = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "upgrade"}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, and `Expect: 100-continue` answered here

        def log_message(self, *args):
            pass

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in hop_by_hop}
            started = time.perf_counter()
            for attempt in (1, 2):
                conn = getattr(local, "conn", None) or http.client.HTTPConnection("127.0.0.1", upstream_port)
                local.conn = conn
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    data = answer.read()
                    break
                except (http.client.HTTPException, ConnectionError):
                    # nimbus let an idle connection go; a new one (not counted twice).
                    conn.close()
                    local.conn = None
                    started = time.perf_counter()
                    if attempt == 2:
                        raise
            timings.add(time.perf_counter() - started, describe(self.command, self.path, headers, body))
            self.send_response(answer.status, answer.reason)
            for name, value in answer.getheaders():
                if name.lower() not in hop_by_hop and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = forward

    return Handler


def start_nimbus(binary, env):
    proc = subprocess.Popen([binary, "--port", "0", "--log", "warn"], stdout=subprocess.PIPE, text=True, env=env)
    banner = proc.stdout.readline()
    url = banner.strip().rsplit(" ", 1)[-1]
    if not url.startswith("http://"):
        sys.exit(f"nimbus did not start: {banner!r}")
    return proc, int(url.rsplit(":", 1)[1].strip("/"))


def execution(cfn, stack, since):
    """First to last stack-level event of `stack` at or after `since` (an operation's execution),
    and each resource's time from its first to its last event in that window."""
    events = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack):
        events += [e for e in page["StackEvents"] if e["Timestamp"] >= since]
    own = [e["Timestamp"] for e in events if e["LogicalResourceId"] == stack
           and e["ResourceStatus"] != "REVIEW_IN_PROGRESS"]
    spans = {}
    for e in events:
        if e["LogicalResourceId"] != stack:
            first, last = spans.get(e["LogicalResourceId"], (e["Timestamp"], e["Timestamp"]))
            spans[e["LogicalResourceId"]] = (min(first, e["Timestamp"]), max(last, e["Timestamp"]))
    resources = {name: (last - first).total_seconds() for name, (first, last) in spans.items()}
    return ((max(own) - min(own)).total_seconds() if own else 0.0), resources


def deploy(sam, project, proxy_url, cfn, label):
    env = dict(os.environ, AWS_ENDPOINT_URL=proxy_url, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1", SAM_CLI_TELEMETRY="0")
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    argv = [sam, "deploy", "--stack-name", STACK, "--resolve-s3", "--capabilities", "CAPABILITY_IAM",
            "--no-confirm-changeset", "--no-progressbar", "--region", "us-east-1"]
    started = time.perf_counter()
    out = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if out.returncode != 0 or f"Successfully created/updated stack - {STACK}" not in out.stdout + out.stderr:
        sys.exit(f"sam deploy failed:\n{out.stdout}\n{out.stderr}")
    executing, resources = 0.0, {}
    for stack in [STACK, "aws-sam-cli-managed-default"]:
        took, spans = execution(cfn, stack, since)
        executing += took
        resources.update(spans)
    return wall, executing, resources


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nimbus", default=str(ROOT / "target" / "release" / "nimbus"))
    parser.add_argument("--sam", default=str(ROOT / ".venv-sam" / "bin" / "sam"))
    args = parser.parse_args()

    env = dict(os.environ)
    env.setdefault("NIMBUS_CACHE_DIR", str(ROOT / "target" / "nimbus-cache"))
    nimbus, port = start_nimbus(args.nimbus, env)
    timings = Timings()
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), proxy_handler(port, timings))
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    proxy_url = f"http://127.0.0.1:{proxy.server_address[1]}"
    cfn = boto3.client("cloudformation", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    sam_version = subprocess.run([args.sam, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"bench-sam-deploy: {sam_version}, nimbus {args.nimbus}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            project = pathlib.Path(tmp)
            (project / "template.yaml").write_text(TEMPLATE)
            (project / "src").mkdir()
            for n, label in enumerate(["first deploy (new stack + SAM's managed bucket stack)",
                                       "second deploy after a code change (UPDATE change set)"], 1):
                (project / "src" / "app.py").write_text(HANDLER.format(version=f"v{n}"))
                wall, executing, resources = deploy(args.sam, project, proxy_url, cfn, label)
                requests = timings.take()
                answering = sum(t for t, _ in requests)
                ours = answering + executing
                print(f"{n}. {label}: wall {wall:.2f} s; nimbus {ours:.3f} s = {len(requests)} requests answered in "
                      f"{answering:.3f} s + stacks executing {executing:.3f} s   [targets: wall <= {TARGET_WALL_S:.0f} s: "
                      f"{'met' if wall <= TARGET_WALL_S else 'MISSED'}; nimbus <= {TARGET_NIMBUS_S:.0f} s: "
                      f"{'met' if ours <= TARGET_NIMBUS_S else 'MISSED'}]")
                slowest = sorted(requests, reverse=True)[:4]
                print("   slowest answers: " + ", ".join(f"{what} {took * 1000:.0f} ms" for took, what in slowest))
                slowest = sorted(resources.items(), key=lambda r: -r[1])[:4]
                print("   slowest resources: " + ", ".join(f"{name} {took * 1000:.0f} ms" for name, took in slowest))
        status = cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"]
        if status != "UPDATE_COMPLETE":
            sys.exit(f"the stack ended {status}")
    finally:
        proxy.shutdown()
        nimbus.kill()
        nimbus.wait()


if __name__ == "__main__":
    main()
