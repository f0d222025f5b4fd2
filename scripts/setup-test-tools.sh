#!/usr/bin/env bash
# Install the test tools into the project (never the user's global Python): a virtualenv at
# .venv with the pinned packages of tests/requirements.txt, and one at .venv-sam with the SAM CLI
# (tests/requirements-sam.txt; it pins an older botocore). Re-running is cheap: each only
# installs again when its requirements changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# install_venv DIR REQUIREMENTS
install_venv() {
    local dir=$1 requirements=$2
    if [ ! -x "$dir/bin/python" ]; then
        python3 -m venv "$dir"
    fi
    local stamp=$dir/.requirements.sha256 want
    want=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "installing the test tools into $dir ($requirements)" >&2
        "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
        echo "$want" > "$stamp"
    fi
}

install_venv .venv tests/requirements.txt
install_venv .venv-sam tests/requirements-sam.txt

# The Node deployment tools (CDK CLI and library, Serverless Framework v3 with the plugin that
# points it at a local endpoint), pinned by tests/deploy-tools/package-lock.json.
tools=tests/deploy-tools
want=$(sha256sum "$tools/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$tools/node_modules/.lock.sha256" 2>/dev/null)" != "$want" ]; then
    echo "installing the deployment tools into $tools/node_modules (npm ci)" >&2
    npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error
    echo "$want" > "$tools/node_modules/.lock.sha256"
fi
