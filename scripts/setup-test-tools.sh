#!/usr/bin/env bash
# Install the test tools into the project (never the user's global Python): a virtualenv at
# .venv with the pinned packages of tests/requirements.txt. Re-running is cheap: it only
# installs again when the requirements changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing the Python test tools into .venv (tests/requirements.txt)" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    echo "$want" > "$stamp"
fi
