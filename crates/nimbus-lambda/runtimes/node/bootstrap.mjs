// nimbus's Node.js runtime bootstrap: the runtime side of the Lambda Runtime API, behaving as
// AWS's Node.js runtime interface client does for function code (handler loading, context,
// callback and async handlers, error shapes, console format, response streaming).
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [HOST, PORT] = (process.env.AWS_LAMBDA_RUNTIME_API || "127.0.0.1:9001").split(":");
const API = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HTTP_PRELUDE_TYPE = "application/vnd.awslambda.http-integration-response";

// ---- console, as AWS formats it --------------------------------------------------------
let currentRequestId = undefined;
const jsonLogs = process.env.AWS_LAMBDA_LOG_FORMAT === "JSON";
const LEVELS = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };
const minLevel = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || "TRACE").toUpperCase()] ?? 0;
function emit(stream, level, args) {
  if (jsonLogs && LEVELS[level] < minLevel) return;
  const timestamp = new Date().toISOString();
  let line;
  if (jsonLogs) {
    const record = { timestamp, level, requestId: currentRequestId };
    if (args.length === 1 && args[0] instanceof Error) {
      Object.assign(record, { message: args[0].message, errorType: args[0].name, errorMessage: args[0].message, stackTrace: String(args[0].stack || "").split("\n") });
    } else {
      record.message = util.format(...args);
    }
    line = JSON.stringify(record);
  } else {
    line = `${timestamp}\t${currentRequestId ?? "undefined"}\t${level}\t${util.format(...args)}`;
  }
  stream.write(line.replace(/\n(?=.)/g, "\r") + "\n");
}
console.log = (...a) => emit(process.stdout, "INFO", a);
console.info = (...a) => emit(process.stdout, "INFO", a);
console.debug = (...a) => emit(process.stdout, "DEBUG", a);
console.trace = (...a) => emit(process.stdout, "TRACE", a);
console.warn = (...a) => emit(process.stderr, "WARN", a);
console.error = (...a) => emit(process.stderr, "ERROR", a);
console.fatal = (...a) => emit(process.stderr, "FATAL", a);

// ---- Runtime API client -----------------------------------------------------------------
function request(method, pathName, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      { host: HOST, port: PORT, path: API + pathName, method, agent, headers: { ...headers, ...(data ? { "Content-Length": data.length } : {}) } },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

function errorPayload(err, fallbackType = "Error") {
  if (!(err instanceof Error)) {
    const message = typeof err === "string" ? err : JSON.stringify(err);
    return { errorType: fallbackType === "Error" ? "string" : fallbackType, errorMessage: message ?? String(err), trace: [] };
  }
  return { errorType: err.name || fallbackType, errorMessage: err.message, trace: String(err.stack || "").split("\n") };
}

async function postError(pathName, payload) {
  const type = String(payload.errorType).replace(/[^\x20-\x7e]/g, "");
  await request("POST", pathName, JSON.stringify(payload), { "Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": type });
}

class UserError extends Error {
  constructor(name, message, cause) {
    super(message);
    this.name = name;
    if (cause?.stack) this.stack = `${name}: ${message}\n${cause.stack.split("\n").slice(1).join("\n")}`;
  }
}

// ---- handler loading ----------------------------------------------------------------------
async function loadHandler() {
  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  const spec = process.env._HANDLER || "";
  const slash = spec.lastIndexOf("/");
  const dir = spec.slice(0, slash + 1);
  const rest = spec.slice(slash + 1);
  const dot = rest.indexOf(".");
  if (dot < 1 || dot === rest.length - 1) {
    throw new UserError("Runtime.MalformedHandlerName", `Bad handler ${spec}`);
  }
  const moduleName = dir + rest.slice(0, dot);
  const propertyPath = rest.slice(dot + 1).split(".");
  const base = path.resolve(taskRoot, moduleName);
  const file = [".js", ".mjs", ".cjs"].map((ext) => base + ext).find((f) => fs.existsSync(f));
  let mod;
  try {
    if (!file) {
      const err = new Error(`Cannot find module '${moduleName}'\nRequire stack:\n- ${path.join(process.env.LAMBDA_RUNTIME_DIR || "", "node/bootstrap.mjs")}`);
      err.code = "MODULE_NOT_FOUND";
      throw err;
    }
    if (file.endsWith(".mjs")) {
      mod = await import(pathToFileURL(file).href);
    } else {
      try {
        mod = createRequire(file)(file);
      } catch (e) {
        if (e && e.code === "ERR_REQUIRE_ESM") mod = await import(pathToFileURL(file).href);
        else throw e;
      }
    }
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserError("Runtime.UserCodeSyntaxError", `${e.name}: ${e.message}`, e);
    if (e && e.code === "MODULE_NOT_FOUND" && String(e.message).includes(`'${moduleName}'`)) {
      throw new UserError("Runtime.ImportModuleError", `Error: ${e.message}`, e);
    }
    if (e && e.code === "ERR_MODULE_NOT_FOUND") throw new UserError("Runtime.ImportModuleError", `Error: ${e.message}`, e);
    throw e;
  }
  let target = mod;
  for (const key of propertyPath) {
    target = target?.[key] ?? (target?.default && typeof target.default === "object" ? target.default[key] : undefined);
  }
  if (typeof target !== "function") {
    throw new UserError("Runtime.HandlerNotFound", `${rest} is undefined or not exported`);
  }
  return target;
}

// ---- response streaming -----------------------------------------------------------------
function responseStream(requestId) {
  let contentType = "application/octet-stream";
  let req;
  const open = () => {
    if (req) return req;
    req = http.request({
      host: HOST, port: PORT, path: `${API}/invocation/${requestId}/response`, method: "POST", agent,
      headers: { "Lambda-Runtime-Function-Response-Mode": "streaming", "Transfer-Encoding": "chunked", "Content-Type": contentType, Trailer: "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body" },
    });
    req.done = new Promise((resolve, reject) => {
      req.on("response", (res) => { res.resume(); res.on("end", resolve); });
      req.on("error", reject);
    });
    return req;
  };
  const stream = {
    setContentType(type) { contentType = type; },
    write(chunk, encoding, cb) { return open().write(typeof chunk === "string" ? Buffer.from(chunk, encoding) : chunk, cb); },
    end(chunk, encoding, cb) { if (chunk !== undefined && typeof chunk !== "function") stream.write(chunk, encoding); open().end(typeof chunk === "function" ? chunk : cb); stream.ended = true; },
    fail(err) { const r = open(); const p = errorPayload(err); r.addTrailers({ "Lambda-Runtime-Function-Error-Type": p.errorType, "Lambda-Runtime-Function-Error-Body": Buffer.from(JSON.stringify(p)).toString("base64") }); r.end(); stream.ended = true; },
    get done() { return open().done; },
    on() { return stream; }, once() { return stream; },
  };
  return stream;
}

globalThis.awslambda = {
  streamifyResponse(handler) { handler[STREAMING] = "response"; return handler; },
  HttpResponseStream: {
    from(stream, prelude) {
      stream.setContentType(HTTP_PRELUDE_TYPE);
      stream.write(JSON.stringify(prelude));
      stream.write(Buffer.alloc(8));
      return stream;
    },
  },
};

// ---- the loop ---------------------------------------------------------------------------
function makeContext(headers, finish) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] || 0);
  const parse = (h) => { try { return h ? JSON.parse(h) : undefined; } catch { return undefined; } };
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parse(headers["lambda-runtime-cognito-identity"]),
    clientContext: parse(headers["lambda-runtime-client-context"]),
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    succeed: (result) => finish(null, result),
    fail: (err) => finish(err ?? new Error("handled")),
    done: (err, result) => finish(err, result),
  };
  if (headers["lambda-runtime-aws-tenant-id"]) context.tenantId = headers["lambda-runtime-aws-tenant-id"];
  return context;
}

let inFlight = undefined;

async function invokeOnce(handler) {
  const next = await request("GET", "/invocation/next");
  if (next.status !== 200) throw new Error(`Runtime API /next answered ${next.status}`);
  const requestId = next.headers["lambda-runtime-aws-request-id"];
  currentRequestId = requestId;
  inFlight = requestId;
  if (next.headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"];
  else delete process.env._X_AMZN_TRACE_ID;
  let event;
  try {
    event = JSON.parse(next.body.toString("utf8") || "null");
  } catch (e) {
    await postError(`/invocation/${requestId}/error`, { errorType: "Runtime.UnmarshalError", errorMessage: `Unable to parse input as json: ${e.message}`, trace: [] });
    return;
  }
  if (handler[STREAMING] === "response") {
    const stream = responseStream(requestId);
    const context = makeContext(next.headers, () => {});
    try {
      await handler(event, stream, context);
      if (!stream.ended) stream.end();
    } catch (err) {
      console.error(err);
      stream.fail(err);
    }
    await stream.done.catch(() => {});
    inFlight = undefined;
    return;
  }
  const outcome = await new Promise((resolve) => {
    let settled = false;
    const finish = (err, result) => { if (!settled) { settled = true; resolve({ err, result }); } };
    const context = makeContext(next.headers, finish);
    try {
      const returned = handler.length >= 3 ? handler(event, context, finish) : handler(event, context);
      if (returned && typeof returned.then === "function") returned.then((r) => finish(null, r), (e) => finish(e ?? new Error("rejected")));
      else if (handler.length < 3) finish(null, returned);
    } catch (e) {
      finish(e);
    }
  });
  inFlight = undefined;
  if (outcome.err !== null && outcome.err !== undefined) {
    const payload = errorPayload(outcome.err);
    emit(process.stderr, "ERROR", [`Invoke Error \t${JSON.stringify(payload)}`]);
    await postError(`/invocation/${requestId}/error`, payload);
    return;
  }
  let body;
  try {
    body = JSON.stringify(outcome.result === undefined ? null : outcome.result);
  } catch (e) {
    await postError(`/invocation/${requestId}/error`, { errorType: "Runtime.MarshalError", errorMessage: `Unable to stringify response body: ${e.message}`, trace: [] });
    return;
  }
  await request("POST", `/invocation/${requestId}/response`, body, { "Content-Type": "application/json" });
}

async function crash(type, err) {
  const payload = { ...errorPayload(err), errorType: type };
  emit(process.stderr, "ERROR", [`${type} \t${JSON.stringify(payload)}`]);
  try {
    await postError(inFlight ? `/invocation/${inFlight}/error` : "/init/error", payload);
  } finally {
    process.exit(128);
  }
}
process.on("uncaughtException", (err) => crash("Runtime.UncaughtException", err));
process.on("unhandledRejection", (reason) => crash("Runtime.UnhandledPromiseRejection", reason instanceof Error ? reason : new Error(String(reason))));

let handler;
try {
  handler = await loadHandler();
} catch (err) {
  const payload = errorPayload(err, "Runtime.ImportModuleError");
  emit(process.stderr, "ERROR", [`${payload.errorType}: ${payload.errorMessage}`]);
  await postError("/init/error", payload).catch(() => {});
  process.exit(129);
}
for (;;) {
  await invokeOnce(handler);
}
