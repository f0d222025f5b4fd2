// Tests for the Node.js runtime bootstrap: a fake Runtime API (node http) queues invocations and
// records what the bootstrap posts; the bootstrap runs as a child process against handlers
// written to a temporary task root.   Run: node --test crates/nimbus-lambda/runtimes/node/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const BOOTSTRAP = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "bootstrap.mjs");
const API = "/2018-06-01/runtime";

/** A fake Runtime API: `invoke(event)` resolves with what the runtime posted for it. */
function fakeRuntimeApi() {
  const queue = [];
  const waitingNext = [];
  const pending = new Map();
  const state = { nextTimes: [], initError: null, initErrorWaiters: [], posts: [] };
  let counter = 0;

  const serve = (res, inv) => {
    const headers = {
      "Content-Type": "application/json",
      "Lambda-Runtime-Aws-Request-Id": inv.id,
      "Lambda-Runtime-Deadline-Ms": String(inv.deadline),
      "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
      "Lambda-Runtime-Trace-Id": `Root=1-00000000-${inv.id}`,
      ...inv.headers,
    };
    res.writeHead(200, headers);
    res.end(inv.payload);
  };

  const server = http.createServer((req, res) => {
    const chunks = [];
    const firstChunkAt = [];
    req.on("data", (c) => { chunks.push(c); firstChunkAt.push(Date.now()); });
    if (req.method === "GET" && req.url === `${API}/invocation/next`) {
      state.nextTimes.push(performance.now());
      const inv = queue.shift();
      if (state.gone) res.writeHead(410).end("{}");
      else if (inv) serve(res, inv);
      else waitingNext.push(res);
      return;
    }
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const record = { url: req.url, headers: req.headers, trailers: req.trailers, body, chunkTimes: firstChunkAt, at: Date.now() };
      state.posts.push(record);
      if (req.url === `${API}/init/error`) {
        state.initError = { ...record, json: JSON.parse(body.toString()) };
        state.initErrorWaiters.splice(0).forEach((w) => w(state.initError));
      } else {
        const m = req.url.match(/^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/);
        const waiter = m && pending.get(decodeURIComponent(m[1]));
        if (!waiter) {
          res.writeHead(400).end(JSON.stringify({ errorType: "InvalidRequestID" }));
          return;
        }
        pending.delete(decodeURIComponent(m[1]));
        waiter({ kind: m[2], ...record, text: body.toString() });
      }
      res.writeHead(202, { "Content-Type": "application/json" }).end('{"status":"OK"}');
    });
  });

  return {
    state,
    async listen() {
      await new Promise((r) => server.listen(0, "127.0.0.1", r));
      return `127.0.0.1:${server.address().port}`;
    },
    invoke(event, { headers = {}, timeoutMs = 30000, raw } = {}) {
      const id = `req-${++counter}`;
      const inv = { id, payload: raw ?? JSON.stringify(event), deadline: Date.now() + timeoutMs, headers, sentAt: Date.now() };
      const result = new Promise((resolve) => pending.set(id, resolve)).then((r) => ({ ...r, id, sentAt: inv.sentAt }));
      const res = waitingNext.shift();
      if (res) serve(res, inv);
      else queue.push(inv);
      return result;
    },
    /** Answer the waiting (and any later) /next with 410, as nimbus does when shutting down. */
    shutdown() {
      state.gone = true;
      waitingNext.splice(0).forEach((res) => res.writeHead(410).end('{"errorType":"EnvironmentShutdown"}'));
    },
    initError() {
      return state.initError ? Promise.resolve(state.initError) : new Promise((r) => state.initErrorWaiters.push(r));
    },
    close() {
      waitingNext.splice(0).forEach((res) => res.destroy());
      server.closeAllConnections?.();
      server.close();
    },
  };
}

/** Write `files` to a fresh task root, start the bootstrap against a fake API, run `fn`. */
async function withFunction({ files, handler, env = {} }, fn) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nimbus-node-"));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), text);
  }
  const api = fakeRuntimeApi();
  const address = await api.listen();
  const startedAt = performance.now();
  const child = spawn(process.execPath, [BOOTSTRAP], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      AWS_LAMBDA_RUNTIME_API: address,
      _HANDLER: handler,
      LAMBDA_TASK_ROOT: root,
      LAMBDA_RUNTIME_DIR: path.dirname(BOOTSTRAP),
      AWS_LAMBDA_FUNCTION_NAME: "fn",
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
      AWS_LAMBDA_LOG_GROUP_NAME: "/aws/lambda/fn",
      AWS_LAMBDA_LOG_STREAM_NAME: "2024/01/01/[$LATEST]abcdef",
      AWS_REGION: "us-east-1",
      AWS_EXECUTION_ENV: "AWS_Lambda_nodejs20.x",
      AWS_LAMBDA_LOG_FORMAT: "Text",
      NODE_PATH: path.join(root, "node_modules"),
      TZ: ":UTC",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const proc = { child, exited, startedAt, get stdout() { return stdout; }, get stderr() { return stderr; } };
  try {
    return await fn(api, proc);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    api.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

const json = (r) => JSON.parse(r.text);
const logLines = (out) => out.split("\n").filter(Boolean);

// ---- handler styles -------------------------------------------------------------------------------

test("async CommonJS handler: result, context fields, trace id", async () => {
  await withFunction({
    handler: "index.handler",
    files: {
      "index.js": `exports.handler = async (event, context) => ({
        event,
        functionName: context.functionName, functionVersion: context.functionVersion,
        invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB,
        awsRequestId: context.awsRequestId, logGroupName: context.logGroupName, logStreamName: context.logStreamName,
        identity: context.identity, clientContext: context.clientContext,
        remaining: context.getRemainingTimeInMillis(), waits: context.callbackWaitsForEmptyEventLoop,
        trace: process.env._X_AMZN_TRACE_ID, type: typeof context.succeed + typeof context.fail + typeof context.done,
      });`,
    },
  }, async (api) => {
    const r = await api.invoke({ hello: "world" }, {
      timeoutMs: 3000,
      headers: {
        "Lambda-Runtime-Client-Context": JSON.stringify({ custom: { a: 1 }, env: {}, client: {} }),
        "Lambda-Runtime-Cognito-Identity": JSON.stringify({ cognitoIdentityId: "id", cognitoIdentityPoolId: "pool" }),
      },
    });
    assert.equal(r.kind, "response");
    assert.equal(r.headers["content-type"], "application/json");
    const body = json(r);
    assert.deepEqual(body.event, { hello: "world" });
    assert.equal(body.functionName, "fn");
    assert.equal(body.functionVersion, "$LATEST");
    assert.equal(body.invokedFunctionArn, "arn:aws:lambda:us-east-1:123456789012:function:fn");
    assert.equal(body.memoryLimitInMB, "256");
    assert.equal(body.awsRequestId, r.id);
    assert.equal(body.logGroupName, "/aws/lambda/fn");
    assert.equal(body.logStreamName, "2024/01/01/[$LATEST]abcdef");
    assert.deepEqual(body.identity, { cognitoIdentityId: "id", cognitoIdentityPoolId: "pool" });
    assert.deepEqual(body.clientContext.custom, { a: 1 });
    assert.ok(body.remaining > 2000 && body.remaining <= 3000, `remaining ${body.remaining}`);
    assert.equal(body.waits, true);
    assert.equal(body.trace, `Root=1-00000000-${r.id}`);
    assert.equal(body.type, "functionfunctionfunction");
  });
});

test("environment is reused across invocations; undefined result is null", async () => {
  await withFunction({
    handler: "index.handler",
    files: { "index.js": `let n = 0; exports.handler = async (e) => { n++; return e.undef ? undefined : n; };` },
  }, async (api) => {
    assert.equal((await api.invoke({})).text, "1");
    assert.equal((await api.invoke({})).text, "2");
    assert.equal((await api.invoke({ undef: true })).text, "null");
    assert.equal((await api.invoke(null, { raw: "" })).text, "4"); // empty payload is {}
  });
});

test("ES module (.mjs) with nested handler path in a subdirectory", async () => {
  await withFunction({
    handler: "src/app.nested.fn",
    files: { "src/app.mjs": `export const nested = { fn: async (event) => ({ esm: typeof require === "undefined", got: event.x }) };` },
  }, async (api) => {
    assert.deepEqual(json(await api.invoke({ x: 7 })), { esm: true, got: 7 });
  });
});

test("package.json type=module makes index.js an ES module; .cjs is required", async () => {
  await withFunction({
    handler: "index.handler",
    files: { "package.json": `{"type":"module"}`, "index.js": `export const handler = async () => import.meta.url.startsWith("file:");` },
  }, async (api) => {
    assert.equal((await api.invoke({})).text, "true");
  });
  await withFunction({
    handler: "lib.handler",
    files: { "lib.cjs": `module.exports.handler = async () => typeof module;` },
  }, async (api) => {
    assert.equal((await api.invoke({})).text, '"object"');
  });
});

test("handler modules resolve packages through NODE_PATH (layers)", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nimbus-opt-"));
  fs.mkdirSync(path.join(root, "nodejs/node_modules/layerpkg"), { recursive: true });
  fs.writeFileSync(path.join(root, "nodejs/node_modules/layerpkg/index.js"), `module.exports = "from-layer";`);
  try {
    await withFunction({
      handler: "index.handler",
      files: { "index.js": `const v = require("layerpkg"); exports.handler = async () => v;` },
      env: { NODE_PATH: "", NIMBUS_LAMBDA_OPT_DIR: root },
    }, async (api) => {
      assert.equal((await api.invoke({})).text, '"from-layer"');
    });
    await withFunction({
      handler: "index.handler",
      files: { "index.js": `const v = require("layerpkg"); exports.handler = async () => v;` },
      env: { NODE_PATH: path.join(root, "nodejs/node_modules") },
    }, async (api) => {
      assert.equal((await api.invoke({})).text, '"from-layer"');
    });
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test("ES module handlers resolve packages through NODE_PATH too; the function's own node_modules win", async () => {
  const sdk = fs.mkdtempSync(path.join(os.tmpdir(), "nimbus-sdk-"));
  const pkg = path.join(sdk, "node_modules/@aws-sdk/client-fake");
  fs.mkdirSync(path.join(pkg, "dist-es"), { recursive: true });
  fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({
    name: "@aws-sdk/client-fake", exports: { ".": { import: "./dist-es/index.mjs", require: "./dist-cjs.js" } },
  }));
  fs.writeFileSync(path.join(pkg, "dist-es/index.mjs"), `export const origin = "runtime-esm";`);
  fs.writeFileSync(path.join(pkg, "dist-cjs.js"), `exports.origin = "runtime-cjs";`);
  const nodePath = path.join(sdk, "node_modules");
  try {
    await withFunction({
      handler: "index.handler",
      files: { "index.mjs": `import { origin } from "@aws-sdk/client-fake"; export const handler = async () => origin;` },
      env: { NODE_PATH: nodePath },
    }, async (api) => {
      assert.equal((await api.invoke({})).text, '"runtime-esm"');
    });
    await withFunction({
      handler: "index.handler",
      files: {
        "index.mjs": `import { origin } from "@aws-sdk/client-fake"; export const handler = async () => origin;`,
        "node_modules/@aws-sdk/client-fake/package.json": JSON.stringify({ name: "@aws-sdk/client-fake", type: "module", exports: "./own.js" }),
        "node_modules/@aws-sdk/client-fake/own.js": `export const origin = "bundled";`,
      },
      env: { NODE_PATH: nodePath },
    }, async (api) => {
      assert.equal((await api.invoke({})).text, '"bundled"');
    });
    await withFunction({
      handler: "index.handler",
      files: { "index.mjs": `import { nothing } from "@aws-sdk/client-missing"; export const handler = async () => nothing;` },
      env: { NODE_PATH: nodePath },
    }, async (api) => {
      const err = await api.initError();
      assert.equal(err.json.errorType, "Runtime.ImportModuleError");
      assert.match(err.json.errorMessage, /client-missing/);
    });
  } finally {
    fs.rmSync(sdk, { recursive: true, force: true });
  }
});

test("callback style waits for the empty event loop unless told not to", async () => {
  await withFunction({
    handler: "index.handler",
    files: {
      "index.js": `exports.handler = (event, context, callback) => {
        context.callbackWaitsForEmptyEventLoop = event.wait;
        setTimeout(() => {}, 400);
        callback(null, { ok: true });
      };`,
    },
  }, async (api) => {
    const waited = await api.invoke({ wait: true });
    assert.deepEqual(json(waited), { ok: true });
    assert.ok(waited.at - waited.sentAt >= 350, `answered after ${waited.at - waited.sentAt}ms`);
    await new Promise((r) => setTimeout(r, 450)); // let the previous timer drain
    const quick = await api.invoke({ wait: false });
    assert.deepEqual(json(quick), { ok: true });
    assert.ok(quick.at - quick.sentAt < 300, `answered after ${quick.at - quick.sentAt}ms`);
  });
});

test("callback errors, context.succeed/fail/done, only the first answer counts", async () => {
  await withFunction({
    handler: "index.handler",
    files: {
      "index.js": `exports.handler = (event, context, callback) => {
        switch (event.how) {
          case "cb-error": return callback(new TypeError("bad"));
          case "cb-string": return callback("plain string");
          case "succeed": context.succeed({ s: 1 }); return context.fail(new Error("ignored"));
          case "fail": return context.fail(new Error("failed"));
          case "fail-empty": return context.fail();
          case "done": return context.done(null, "done!");
          case "sync-return": return "ignored";
        }
      };`,
    },
  }, async (api) => {
    let r = await api.invoke({ how: "cb-error" });
    assert.equal(r.kind, "error");
    assert.equal(r.headers["lambda-runtime-function-error-type"], "TypeError");
    assert.equal(json(r).errorType, "TypeError");
    assert.equal(json(r).errorMessage, "bad");
    assert.equal(json(r).trace[0], "TypeError: bad");
    r = await api.invoke({ how: "cb-string" });
    assert.deepEqual(json(r), { errorType: "string", errorMessage: "plain string", trace: [] });
    r = await api.invoke({ how: "succeed" });
    assert.deepEqual([r.kind, json(r)], ["response", { s: 1 }]);
    r = await api.invoke({ how: "fail" });
    assert.deepEqual([r.kind, json(r).errorMessage], ["error", "failed"]);
    r = await api.invoke({ how: "fail-empty" });
    assert.deepEqual(json(r), { errorType: "string", errorMessage: "handled", trace: [] });
    r = await api.invoke({ how: "done" });
    assert.equal(r.text, '"done!"');
    // A sync handler that never calls back answers null once the event loop is empty.
    r = await api.invoke({ how: "sync-return" });
    assert.deepEqual([r.kind, r.text], ["response", "null"]);
  });
});

// ---- errors -------------------------------------------------------------------------------------

test("async handler errors: Error shape, custom classes, non-errors, rejections", async () => {
  await withFunction({
    handler: "index.handler",
    files: {
      "index.mjs": `class MyError extends Error { constructor(m) { super(m); this.name = "MyError"; this.extra = 1; } }
      export const handler = async (event) => {
        if (event.how === "throw") throw new Error("boom");
        if (event.how === "custom") throw new MyError("mine");
        if (event.how === "object") throw { a: 1 };
        if (event.how === "undefined") return Promise.reject(undefined);
        if (event.how === "circular") { const o = {}; o.o = o; return o; }
      };`,
    },
  }, async (api, proc) => {
    let r = await api.invoke({ how: "throw" });
    assert.equal(r.kind, "error");
    assert.equal(r.headers["lambda-runtime-function-error-type"], "Error");
    const body = json(r);
    assert.deepEqual(Object.keys(body), ["errorType", "errorMessage", "trace"]);
    assert.equal(body.errorType, "Error");
    assert.equal(body.errorMessage, "boom");
    assert.equal(body.trace[0], "Error: boom");
    assert.match(body.trace[1], /^ {4}at Runtime\.handler \(file:\/\/.*\/index\.mjs:\d+:\d+\)$/);
    r = await api.invoke({ how: "custom" });
    assert.equal(json(r).errorType, "MyError");
    assert.equal(r.headers["lambda-runtime-function-error-type"], "MyError");
    r = await api.invoke({ how: "object" });
    assert.deepEqual(json(r), { errorType: "object", errorMessage: "[object Object]", trace: [] });
    r = await api.invoke({ how: "undefined" });
    assert.deepEqual(json(r), { errorType: "string", errorMessage: "handled", trace: [] });
    r = await api.invoke({ how: "circular" });
    assert.equal(r.kind, "error");
    assert.equal(json(r).errorMessage, "Unable to stringify response body");
    // The process survives handled errors, and logged them as AWS does.
    assert.equal((await api.invoke({ how: "none" })).text, "null");
    const line = logLines(proc.stdout).find((l) => l.includes("Invoke Error") && l.includes("mine"));
    assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z\treq-2\tERROR\tInvoke Error \t\{"errorType":"MyError","errorMessage":"mine","name":"MyError","extra":1,"stack":\["MyError: mine",/);
  });
});

test("init errors: missing module, handler not found, malformed names, syntax errors, init throw", async () => {
  const cases = [
    {
      handler: "index.handler", files: { "other.js": "" },
      type: "Runtime.ImportModuleError",
      message: (m) => assert.match(m, /^Error: Cannot find module 'index'\nRequire stack:\n- .*bootstrap\.mjs$/),
    },
    {
      handler: "index.nope", files: { "index.js": "exports.handler = async () => 1;" },
      type: "Runtime.HandlerNotFound", message: (m) => assert.equal(m, "index.nope is undefined or not exported"),
    },
    {
      handler: "index.value", files: { "index.js": "exports.value = 3;" },
      type: "Runtime.HandlerNotFound", message: (m) => assert.equal(m, "index.value is not a function"),
    },
    {
      handler: "index", files: { "index.js": "" },
      type: "Runtime.MalformedHandlerName", message: (m) => assert.equal(m, "Bad handler"),
    },
    {
      handler: "../x/index.handler", files: { "index.js": "" },
      type: "Runtime.MalformedHandlerName",
      message: (m) => assert.equal(m, "'../x/index.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names."),
    },
    {
      handler: "index.handler", files: { "index.js": "exports.handler = async () => {;" },
      type: "Runtime.UserCodeSyntaxError", message: (m) => assert.match(m, /^SyntaxError: /),
    },
    {
      handler: "index.handler", files: { "index.mjs": "import x from 'no-such-package'; export const handler = async () => x;" },
      type: "Runtime.ImportModuleError", message: (m) => assert.match(m, /^Error: Cannot find package 'no-such-package' imported from /),
    },
    {
      handler: "index.handler", files: { "index.js": "throw new RangeError('init boom');" },
      type: "RangeError", message: (m) => assert.equal(m, "init boom"),
    },
  ];
  await Promise.all(cases.map((c) => withFunction(c, async (api, proc) => {
    const err = await api.initError();
    assert.equal(err.headers["lambda-runtime-function-error-type"], c.type, c.handler);
    assert.equal(err.json.errorType, c.type);
    c.message(err.json.errorMessage);
    assert.ok(Array.isArray(err.json.trace) && err.json.trace.length > 0, "trace is an array");
    assert.equal(err.json.trace[0].split("\n")[0], `${c.type}: ${err.json.errorMessage.split("\n")[0]}`);
    assert.equal((await proc.exited).code, 129);
    assert.equal(api.state.nextTimes.length, 0, "no /next after a failed init");
    const line = logLines(proc.stdout).find((l) => l.includes("Uncaught Exception"));
    assert.match(line, new RegExp(`\\tundefined\\tERROR\\tUncaught Exception \\t\\{"errorType":"${c.type.replace(".", "\\.")}"`));
  })));
});

test("unhandled rejection and uncaught exception during an invocation: reported, then exit", async () => {
  await withFunction({
    handler: "index.handler",
    files: { "index.js": `exports.handler = async () => { Promise.reject(new Error("floating")); await new Promise((r) => setTimeout(r, 200)); return 1; };` },
  }, async (api, proc) => {
    const r = await api.invoke({});
    assert.equal(r.kind, "error");
    assert.equal(r.headers["lambda-runtime-function-error-type"], "Runtime.UnhandledPromiseRejection");
    assert.equal(json(r).errorType, "Runtime.UnhandledPromiseRejection");
    assert.equal(json(r).errorMessage, "Error: floating");
    assert.equal(json(r).trace[0], "Runtime.UnhandledPromiseRejection: Error: floating");
    assert.equal((await proc.exited).code, 128);
    assert.match(proc.stdout, /\tERROR\tUnhandled Promise Rejection \t\{"errorType":"Runtime.UnhandledPromiseRejection","errorMessage":"Error: floating","reason":\{"errorType":"Error"/);
  });
  await withFunction({
    handler: "index.handler",
    files: { "index.js": `exports.handler = (e, ctx, cb) => { setTimeout(() => { throw new Error("async throw"); }, 10); };` },
  }, async (api, proc) => {
    const r = await api.invoke({});
    assert.deepEqual([r.kind, json(r).errorType, json(r).errorMessage], ["error", "Error", "async throw"]);
    assert.equal((await proc.exited).code, 129);
  });
});

test("an async handler whose promise never settles fails with Runtime.NodeJsExit", async () => {
  await withFunction({
    handler: "index.handler",
    files: { "index.js": `exports.handler = async () => new Promise(() => {});` },
  }, async (api) => {
    const r = await api.invoke({});
    assert.equal(r.kind, "error");
    assert.equal(json(r).errorType, "Runtime.NodeJsExit");
    assert.match(json(r).errorMessage, /^The Lambda runtime client detected an unexpected Node.js exit code/);
    assert.equal((await api.invoke({})).kind, "error"); // and the environment keeps serving
  });
});

// ---- logging ------------------------------------------------------------------------------------

test("Text logs: timestamp, request id, level, one line per record", async () => {
  await withFunction({
    handler: "index.handler",
    files: {
      "index.js": `console.log("at init");
      exports.handler = async () => {
        console.log("hello %s", "world", { a: 1 });
        console.info("multi\\nline");
        console.warn("warned"); console.error("errored"); console.debug("debugged"); console.trace("traced");
        console.fatal("fatal!");
        return 1;
      };`,
    },
  }, async (api, proc) => {
    const r = await api.invoke({});
    await new Promise((res) => setTimeout(res, 50));
    const lines = logLines(proc.stdout);
    const re = (id, level, msg) => new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\t${id}\\t${level}\\t${msg}$`);
    assert.match(lines[0], re("undefined", "INFO", "at init"));
    assert.match(lines[1], re(r.id, "INFO", "hello world \\{ a: 1 \\}"));
    assert.match(lines[2], re(r.id, "INFO", "multi\\rline"));
    assert.match(lines[3], re(r.id, "WARN", "warned"));
    assert.match(lines[4], re(r.id, "ERROR", "errored"));
    assert.match(lines[5], re(r.id, "DEBUG", "debugged"));
    assert.match(lines[6], re(r.id, "TRACE", "traced"));
    assert.match(lines[7], re(r.id, "FATAL", "fatal!"));
  });
});

test("JSON logs with level filtering", async () => {
  await withFunction({
    handler: "index.handler",
    env: { AWS_LAMBDA_LOG_FORMAT: "JSON", AWS_LAMBDA_LOG_LEVEL: "WARN" },
    files: {
      "index.js": `exports.handler = async () => {
        console.info("hidden"); console.debug("hidden");
        console.warn("careful", 42);
        console.error({ structured: true });
        console.error(new TypeError("typed"));
        throw new Error("fail");
      };`,
    },
  }, async (api, proc) => {
    const r = await api.invoke({});
    assert.equal(r.kind, "error");
    await new Promise((res) => setTimeout(res, 50));
    const records = logLines(proc.stdout).map((l) => JSON.parse(l));
    assert.ok(!records.some((x) => x.message === "hidden"));
    assert.deepEqual(Object.keys(records[0]), ["timestamp", "level", "requestId", "message"]);
    assert.match(records[0].timestamp, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.deepEqual([records[0].level, records[0].requestId, records[0].message], ["WARN", r.id, "careful 42"]);
    assert.deepEqual([records[1].level, records[1].message], ["ERROR", { structured: true }]);
    assert.equal(records[2].message.errorType, "TypeError");
    assert.equal(records[2].message.errorMessage, "typed");
    assert.ok(Array.isArray(records[2].message.stackTrace));
    assert.equal(records[3].message.errorMessage, "fail"); // the Invoke Error record
  });
});

// ---- streaming ----------------------------------------------------------------------------------

test("response streaming: chunked POST with streaming headers, chunks as written", async () => {
  await withFunction({
    handler: "index.handler",
    files: {
      "index.mjs": `export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
        responseStream.setContentType("text/plain");
        responseStream.write("one,");
        await new Promise((r) => setTimeout(r, 150));
        responseStream.write(Buffer.from("two,"));
        responseStream.write({ three: context.awsRequestId });
        responseStream.end();
      });`,
    },
  }, async (api) => {
    const r = await api.invoke({});
    assert.equal(r.kind, "response");
    assert.equal(r.headers["lambda-runtime-function-response-mode"], "streaming");
    assert.equal(r.headers["transfer-encoding"], "chunked");
    assert.equal(r.headers["content-type"], "text/plain");
    assert.match(r.headers.trailer, /Lambda-Runtime-Function-Error-Type/);
    assert.equal(r.text, `one,two,{"three":"${r.id}"}`);
    assert.ok(r.chunkTimes.length >= 2, "body arrived in several chunks");
    assert.ok(r.chunkTimes.at(-1) - r.chunkTimes[0] >= 100, "first chunk was sent before the handler finished");
    assert.deepEqual(r.trailers, {});
    assert.equal((await api.invoke({})).kind, "response"); // next invocation works
  });
});

test("response streaming: HttpResponseStream prelude, pipeline, mid-stream error trailers", async () => {
  await withFunction({
    handler: "index.handler",
    files: {
      "index.mjs": `import { pipeline } from "node:stream/promises";
      import { Readable } from "node:stream";
      export const handler = awslambda.streamifyResponse(async (event, stream) => {
        if (event.how === "http") {
          stream = awslambda.HttpResponseStream.from(stream, { statusCode: 201, headers: { "x-a": "b" } });
          stream.write("hello");
          stream.end();
        } else if (event.how === "http-end-only") {
          stream = awslambda.HttpResponseStream.from(stream, { statusCode: 204 });
          stream.end();
        } else if (event.how === "pipeline") {
          await pipeline(Readable.from(["a", "b", "c"]), stream);
        } else if (event.how === "fail") {
          stream.write("partial");
          throw new Error("mid-stream");
        }
      });`,
    },
  }, async (api) => {
    let r = await api.invoke({ how: "http" });
    assert.equal(r.headers["content-type"], "application/vnd.awslambda.http-integration-response");
    const nul = r.body.indexOf(Buffer.alloc(8));
    assert.deepEqual(JSON.parse(r.body.subarray(0, nul).toString()), { statusCode: 201, headers: { "x-a": "b" } });
    assert.equal(r.body.subarray(nul + 8).toString(), "hello");

    r = await api.invoke({ how: "http-end-only" });
    assert.equal(r.body.toString(), '{"statusCode":204}' + "\0".repeat(8));

    r = await api.invoke({ how: "pipeline" });
    assert.deepEqual([r.kind, r.text], ["response", "abc"]);

    r = await api.invoke({ how: "fail" });
    assert.equal(r.kind, "response");
    assert.equal(r.text, "partial");
    assert.equal(r.trailers["lambda-runtime-function-error-type"], "Error");
    const error = JSON.parse(Buffer.from(r.trailers["lambda-runtime-function-error-body"], "base64").toString());
    assert.equal(error.errorType, "Error");
    assert.equal(error.errorMessage, "mid-stream");
    assert.equal(error.trace[0], "Error: mid-stream");

    assert.equal((await api.invoke({ how: "pipeline" })).text, "abc"); // still serving
  });
});

test("a streaming handler that is not async is an error", async () => {
  await withFunction({
    handler: "index.handler",
    files: { "index.js": `exports.handler = awslambda.streamifyResponse((event, stream) => { stream.write("x"); });` },
  }, async (api) => {
    const r = await api.invoke({});
    assert.equal(r.trailers["lambda-runtime-function-error-type"], "string");
    const error = JSON.parse(Buffer.from(r.trailers["lambda-runtime-function-error-body"], "base64").toString());
    assert.deepEqual(error, { errorType: "string", errorMessage: "Streaming does not support non-async handlers.", trace: [] });
  });
});

test("the runtime exits quietly when /next answers 410 (environment shutdown)", async () => {
  await withFunction({ handler: "index.handler", files: { "index.js": "exports.handler = async () => 1;" } }, async (api, proc) => {
    assert.equal((await api.invoke({})).text, "1");
    while (api.state.nextTimes.length < 2) await new Promise((r) => setTimeout(r, 5));
    api.shutdown();
    assert.deepEqual(await proc.exited, { code: 0, signal: null });
  });
});

// ---- startup ------------------------------------------------------------------------------------

test("startup: time from process start to the first /next", async (t) => {
  const samples = [];
  for (let i = 0; i < 5; i++) {
    await withFunction({ handler: "index.handler", files: { "index.js": "exports.handler = async () => 1;" } }, async (api, proc) => {
      const r = api.invoke({});
      await r;
      samples.push(api.state.nextTimes[0] - proc.startedAt);
    });
  }
  samples.sort((a, b) => a - b);
  t.diagnostic(`process start → first /next: median ${samples[2].toFixed(1)} ms (min ${samples[0].toFixed(1)}, max ${samples[4].toFixed(1)})`);
  assert.ok(samples[2] < 1000, `startup took ${samples[2]} ms`);
});

// ---- nimbus's own https:// callbacks ---------------------------------------------------------------

test("https.request without a port to nimbus's /_nimbus/ paths reaches nimbus over http", async () => {
  // What CDK's custom-resource responders do with a ResponseURL: https.request({ hostname, path }).
  const seen = [];
  const nimbus = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => { seen.push({ method: req.method, url: req.url, body }); res.writeHead(200).end(); });
  });
  await new Promise((r) => nimbus.listen(0, "127.0.0.1", r));
  const endpoint = `http://127.0.0.1:${nimbus.address().port}`;
  try {
    await withFunction({
      handler: "index.handler",
      env: { AWS_ENDPOINT_URL: endpoint },
      files: {
        "index.js": `const https = require("https");
          const send = (options, body) => new Promise((resolve) => {
            const req = https.request(options, (res) => { res.resume(); resolve(res.statusCode); });
            req.on("error", (e) => resolve(e.code || e.message));
            req.end(body);
          });
          exports.handler = async () => ({
            response: await send({ hostname: "127.0.0.1", path: "/_nimbus/cloudformation/response/t1?x=1", method: "PUT",
              headers: { "content-type": "" } }, '{"Status":"SUCCESS"}'),
            other: await send({ hostname: "127.0.0.1", path: "/elsewhere", method: "PUT" }, "no"),
          });`,
      },
    }, async (api) => {
      const body = json(await api.invoke({}));
      assert.equal(body.response, 200);
      assert.notEqual(body.other, 200, "an https request to another path stays https");
    });
    assert.deepEqual(seen, [{ method: "PUT", url: "/_nimbus/cloudformation/response/t1?x=1", body: '{"Status":"SUCCESS"}' }]);
  } finally {
    nimbus.close();
  }
});
