#!/usr/bin/env bash
# The project's test command, complete on a fresh machine: it sets up what the tests need (a
# virtualenv under .venv with the pinned Python test tools), checks the generated models are
# current, then runs the Rust unit and integration tests (each starts a real nimbus on an
# ephemeral port and drives it with aws-sdk-rust), the boto3 / AWS CLI tests, the Python
# bootstrap's tests and the Node bootstrap's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-test-tools.sh
export PATH="$PWD/.venv/bin:$PATH"
# Where the machine has a compiler cache, use it: a clean checkout (CI's) then rebuilds in minutes.
if [ -z "${RUSTC_WRAPPER:-}" ] && command -v sccache >/dev/null 2>&1; then
    export RUSTC_WRAPPER=sccache CARGO_INCREMENTAL=0
fi

if cargo fmt --version >/dev/null 2>&1; then cargo fmt --all --check; fi
python scripts/gen_models.py --check
cargo build --workspace --bins
cargo test --workspace
python -m pytest -q tests/python crates/nimbus-lambda/runtimes/python
node --test crates/nimbus-lambda/runtimes/node/test/
