"""The JS SDK v3 against nimbus: tests/js/*.test.mjs (node:test) drive S3 through @aws-sdk/client-s3
and @aws-sdk/lib-storage's multipart Upload, and DynamoDB through @aws-sdk/lib-dynamodb's document
client. The SDK packages are pinned in tests/deploy-tools (npm ci in the test set-up); each file
reads nimbus's endpoint from AWS_ENDPOINT_URL, which run_tool sets."""
import pytest

from conftest import ROOT, run_tool

JS = ROOT / "tests" / "js"


@pytest.mark.parametrize("suite", ["s3.test.mjs", "dynamodb.test.mjs"])
def test_js_sdk(endpoint, suite):
    out = run_tool(["node", "--test", JS / suite], JS, endpoint, timeout=300)
    assert "# fail 0" in out, out
