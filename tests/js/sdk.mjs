// What the JS SDK tests share: the SDK packages (installed under tests/deploy-tools by
// scripts/setup-test-tools.sh, so resolved from there rather than from this folder) and
// client settings pointing at the nimbus under test.
import assert from "node:assert/strict";
import { createRequire } from "node:module";

export const sdk = createRequire(new URL("../deploy-tools/package.json", import.meta.url));

const endpoint = process.env.AWS_ENDPOINT_URL;
if (!endpoint) {
    throw new Error("AWS_ENDPOINT_URL must name the nimbus under test (tests/python/test_js_sdk.py sets it)");
}

export const clientConfig = {
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
};

// A name no other test on the shared server uses.
export function unique(prefix) {
    return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

// Ask until `probe` resolves truthy; the machine is loaded, so the deadline is generous.
export async function waitFor(what, probe, deadlineMs = 60_000) {
    const until = Date.now() + deadlineMs;
    for (;;) {
        const value = await probe();
        if (value) return value;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

// The error a call is refused with (failing the test when it succeeds).
export async function errorOf(promise) {
    try {
        await promise;
    } catch (e) {
        return e;
    }
    assert.fail("the call succeeded");
}
