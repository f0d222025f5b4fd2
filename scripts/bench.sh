#!/usr/bin/env bash
# Build nimbus and the benchmarks in release mode and print the figures: control plane
# (startup, idle RSS, GetFunction throughput/latency, ListFunctions over 10,000 functions, RSS)
# invocation (cold start per runtime, warm latency and throughput with 1 and 4 clients) and SQS
# (messages/s, queue-to-handler latency, 10,000 messages drained through a mapping) and durable
# executions (checkpoints/s over 1,000 steps, callback-to-resume latency).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p nimbus -p nimbus-bench -p nimbus-fixtures
target/release/nimbus-bench --nimbus target/release/nimbus
target/release/nimbus-bench-invoke --nimbus target/release/nimbus --bootstrap target/release/rust-echo-bootstrap
target/release/nimbus-bench-sqs --nimbus target/release/nimbus
target/release/nimbus-bench-durable --nimbus target/release/nimbus
