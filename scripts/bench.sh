#!/usr/bin/env bash
# Build nimbus and the benchmarks in release mode and print the figures: control plane
# (startup, idle RSS, GetFunction throughput/latency, ListFunctions over 10,000 functions, RSS)
# and invocation (cold start per runtime, warm latency and throughput with 1 and 4 clients).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p nimbus -p nimbus-bench -p nimbus-fixtures
target/release/nimbus-bench --nimbus target/release/nimbus
exec target/release/nimbus-bench-invoke --nimbus target/release/nimbus --bootstrap target/release/rust-echo-bootstrap
