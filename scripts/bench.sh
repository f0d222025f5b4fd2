#!/usr/bin/env bash
# Build nimbus and nimbus-bench in release mode and print the foundation issue's figures
# (startup, idle RSS, GetFunction throughput/latency, ListFunctions over 10,000 functions, RSS).
# Extra arguments go to nimbus-bench, e.g. --nimbus PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p nimbus -p nimbus-bench
exec target/release/nimbus-bench --nimbus target/release/nimbus "$@"
