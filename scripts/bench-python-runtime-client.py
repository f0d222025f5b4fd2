#!/usr/bin/env python3
"""CPU cost of the Python bootstrap's Runtime API client, per invocation.

Runs the `RuntimeClient` of each bootstrap.py given (default: the one in this checkout) against
a fake Runtime API (Node's http server) in another process, and prints the client process's CPU time per invocation
(one GET /invocation/next answer with Lambda's headers plus one POST of the response), the part
of a warm invoke the runtime client costs.

    python3 scripts/bench-python-runtime-client.py [--n 2000] [bootstrap.py ...]
    git show main:crates/nimbus-lambda/runtimes/python/bootstrap.py > /tmp/old.py
    python3 scripts/bench-python-runtime-client.py /tmp/old.py crates/nimbus-lambda/runtimes/python/bootstrap.py
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import time

# The fake Runtime API: Node's http server (keep-alive, no Nagle delay), in its own process so
# only the client's CPU is measured.
SERVER = r'''
const http = require("http");
const event = Buffer.from('{"key1": "value1", "key2": "value2"}');
const server = http.createServer((req, res) => {
  if (req.method === "GET") {
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Lambda-Runtime-Aws-Request-Id": "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
      "Lambda-Runtime-Deadline-Ms": "1542409706888",
      "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
      "Lambda-Runtime-Trace-Id": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
      "Content-Length": event.length,
    });
    res.end(event);
    return;
  }
  req.resume();
  req.on("end", () => {
    res.writeHead(202, { "Content-Type": "application/json", "Content-Length": 16 });
    res.end('{"status":"OK"}\n');
  });
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
'''


def load(path, index):
    spec = importlib.util.spec_from_file_location("bootstrap_%d" % index, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(module, address, n):
    client = module.RuntimeClient(address)
    for _ in range(200):  # warm up: connection, caches
        resp, body = client.call("GET", "/invocation/next")
        client.call("POST", "/invocation/x/response", b'{"ok": true}', {"Content-Type": "application/json"})
    start, wall = os.times(), time.perf_counter()
    for _ in range(n):
        resp, body = client.call("GET", "/invocation/next")
        request_id = resp.headers.get("Lambda-Runtime-Aws-Request-Id")
        resp.headers.get("Lambda-Runtime-Deadline-Ms")
        resp.headers.get("Lambda-Runtime-Trace-Id")
        client.call("POST", "/invocation/%s/response" % request_id, b'{"ok": true}',
                    {"Content-Type": "application/json"})
    end = os.times()
    per = lambda a, b: (b - a) / n * 1e6
    return per(start.user, end.user), per(start.system, end.system), per(wall, time.perf_counter())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "crates", "nimbus-lambda", "runtimes", "python", "bootstrap.py")
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("bootstraps", nargs="*", default=[default])
    args = parser.parse_args()
    server = subprocess.Popen(["node", "-e", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        address = "127.0.0.1:%s" % server.stdout.readline().strip()
        modules = [load(path, i) for i, path in enumerate(args.bootstraps)]
        for r in range(args.rounds):
            for path, module in zip(args.bootstraps, modules):
                user, system, wall = measure(module, address, args.n)
                print("round %d  %-50s client CPU per invocation: %6.1f us user + %6.1f us system   (wall %6.1f us)"
                      % (r + 1, path, user, system, wall))
    finally:
        server.kill()


if __name__ == "__main__":
    main()
