#!/usr/bin/env bash
# The project's test command: Rust unit and integration tests (aws-sdk-rust against a real
# nimbus), then the boto3 / AWS CLI tests (each starts its own nimbus on an ephemeral port).
set -euo pipefail
cd "$(dirname "$0")/.."

if cargo fmt --version >/dev/null 2>&1; then cargo fmt --all --check; fi
python3 scripts/gen_lambda_model.py --check
python3 crates/nimbus-iam/model/gen_model.py --check
python3 crates/nimbus-logs/model/gen_model.py --check
python3 crates/nimbus-sqs/model/gen_model.py --check
cargo build --workspace --bins
cargo test --workspace
python3 -m pytest -q tests/python crates/nimbus-lambda/runtimes/python
node --test crates/nimbus-lambda/runtimes/node/test/
