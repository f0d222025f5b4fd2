// Nimbus's Node.js runtime bootstrap: the runtime side of the Lambda Runtime API, behaving for
// function code as AWS's Node.js runtime interface client (the nodejs20.x runtime) does:
// handler loading (CommonJS and ES modules), the context object, async / callback / legacy
// context.succeed styles with callbackWaitsForEmptyEventLoop, AWS's error shapes and exit codes,
// the patched console (Text and JSON formats, level filtering) and response streaming.
//
// Single file, no dependencies: nimbus writes it out as <runtime dir>/node/bootstrap.mjs and runs
// `node bootstrap.mjs` with the function's code directory as cwd and AWS's environment.
import http from "node:http";
import https from "node:https";
import fs from "node:fs";
import path from "node:path";
import util from "node:util";
import Module, { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const env = process.env;

// ---- errors ---------------------------------------------------------------------------------
class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class MalformedStreamingHandler extends Error {}
class InvalidStreamingOperation extends Error {}
class NodeJsExit extends Error {
  constructor() {
    super(
      "The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes",
    );
  }
}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
for (const E of [ImportModuleError, HandlerNotFound, MalformedHandlerName, UserCodeSyntaxError,
  MalformedStreamingHandler, InvalidStreamingOperation, NodeJsExit, UnhandledPromiseRejection]) {
  E.prototype.name = `Runtime.${E.name}`;
}

const isErrorLike = (o) =>
  o && typeof o.name === "string" && o.name && typeof o.message === "string" && o.message &&
  typeof o.stack === "string" && o.stack;

/** The body posted to /error and /init/error: {errorType, errorMessage, trace}. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      const clean = (s) => (typeof s === "string" ? s.replaceAll("\x7F", "%7F") : s);
      return { errorType: clean(error.name), errorMessage: clean(error.message), trace: clean(error.stack).split("\n") };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: "handled",
      errorMessage: "callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack",
    };
  }
}

const intoError = (err) => (err instanceof Error ? err : new Error(err));

// Error name, message, code and stack are not enumerable; logs show them next to the user's own.
function withEnumerableProperties(value) {
  if (!(value instanceof Error)) return value;
  const out = Object.assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
  if (typeof value.stack === "string") out.stack = value.stack.split("\n");
  return out;
}

function toFormatted(error) {
  try {
    return "\t" + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch {
    return "\t" + JSON.stringify(toRapidResponse(error));
  }
}

// ---- console ----------------------------------------------------------------------------------
const REQUEST_ID = Symbol.for("aws.lambda.runtime.requestId");
const LEVELS = {
  TRACE: { name: "TRACE", priority: 1 },
  DEBUG: { name: "DEBUG", priority: 2 },
  INFO: { name: "INFO", priority: 3 },
  WARN: { name: "WARN", priority: 4 },
  ERROR: { name: "ERROR", priority: 5 },
  FATAL: { name: "FATAL", priority: 6 },
};
const JSON_LOGS = env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === "JSON";

function jsonErrorReplacer(_k, value) {
  if (value instanceof Error) {
    return Object.assign({
      errorType: value?.constructor?.name ?? "UnknownError",
      errorMessage: value.message,
      stackTrace: typeof value.stack === "string" ? value.stack.split("\n") : value.stack,
    }, value);
  }
  return value;
}

function jsonLine(timestamp, level, params) {
  const record = { timestamp, level: level.name, requestId: globalThis[REQUEST_ID] };
  if (params.length === 1) {
    record.message = params[0];
    try {
      return JSON.stringify(record, jsonErrorReplacer);
    } catch {
      record.message = util.format(record.message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(...params);
  const err = params.find((p) => p instanceof Error);
  if (err) {
    record.errorType = err?.constructor?.name ?? "UnknownError";
    record.errorMessage = err.message;
    record.stackTrace = typeof err.stack === "string" ? err.stack.split("\n") : [];
  }
  return JSON.stringify(record);
}

function log(level, message, ...params) {
  const timestamp = new Date().toISOString();
  const line = JSON_LOGS
    ? jsonLine(timestamp, level, [message, ...params])
    : `${timestamp}\t${globalThis[REQUEST_ID]}\t${level.name}\t${util.format(message, ...params)}`;
  // One record per line: embedded newlines become carriage returns, as on AWS.
  process.stdout.write(line.replace(/\n/g, "\r") + "\n");
}

(function patchConsole() {
  const min = LEVELS[env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.TRACE;
  const nop = () => {};
  const at = (level) => (level.priority >= min.priority ? (msg, ...params) => log(level, msg, ...params) : nop);
  console.trace = at(LEVELS.TRACE);
  console.debug = at(LEVELS.DEBUG);
  console.info = at(LEVELS.INFO);
  console.log = console.info;
  console.warn = at(LEVELS.WARN);
  console.error = at(LEVELS.ERROR);
  console.fatal = (msg, ...params) => log(LEVELS.FATAL, msg, ...params);
})();

const logError = JSON_LOGS
  ? (_msg, err) => console.error(intoError(err))
  : (msg, err) => console.error(msg, toFormatted(intoError(err)));

// ---- Runtime API client -------------------------------------------------------------------------
const [HOST, PORT] = (env.AWS_LAMBDA_RUNTIME_API || "127.0.0.1:9001").split(":");
const API = "/2018-06-01/runtime";
// Idle keep-alive sockets are unref'd by Node, so they never keep the event loop alive: an empty
// loop still fires 'beforeExit', which callbackWaitsForEmptyEventLoop relies on.
const agent = new http.Agent({ keepAlive: true });
const ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type";

function call(method, pathName, body, headers, retried = false) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body, "utf8");
    const req = http.request({
      host: HOST, port: PORT, path: API + pathName, method, agent,
      headers: data ? { ...headers, "Content-Length": data.length } : headers,
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("aborted", () => reject(new Error("Runtime API response aborted")));
    });
    req.on("error", (err) => {
      // A kept-alive socket the server closed while idle: the request never arrived; retry once.
      if (req.reusedSocket && err.code === "ECONNRESET" && !retried) {
        call(method, pathName, body, headers, true).then(resolve, reject);
      } else {
        reject(err);
      }
    });
    req.end(data);
  });
}

function serialize(result) {
  try {
    return JSON.stringify(result === undefined ? null : result);
  } catch {
    throw new Error("Unable to stringify response body");
  }
}

const errorHeader = (type) => String(type ?? "").replace(/[^\x20-\x7e]/g, "");

const client = {
  async next() {
    let res;
    try {
      res = await call("GET", "/invocation/next");
    } catch (err) {
      throw new Error(`Failed to get next invocation: ${err.message}`);
    }
    if (res.status === 410) process.exit(0); // the environment is shutting down
    if (res.status !== 200) throw new Error(`Failed to get next invocation, status ${res.status}: ${res.body}`);
    return res;
  },
  postResponse(result, id) {
    let body;
    try {
      body = serialize(result);
    } catch (err) {
      logError("Invoke Error", err);
      return client.postError(err, id);
    }
    return call("POST", `/invocation/${encodeURIComponent(id)}/response`, body, { "Content-Type": "application/json" });
  },
  postError(error, id) {
    const payload = toRapidResponse(error);
    return call("POST", `/invocation/${encodeURIComponent(id)}/error`, JSON.stringify(payload), {
      "Content-Type": "application/json", [ERROR_TYPE_HEADER]: errorHeader(payload.errorType),
    });
  },
  postInitError(error) {
    const payload = toRapidResponse(error);
    return call("POST", "/init/error", JSON.stringify(payload), {
      "Content-Type": "application/json", [ERROR_TYPE_HEADER]: errorHeader(payload.errorType),
    });
  },
  responseStream(id) {
    return createResponseStream(`${API}/invocation/${encodeURIComponent(id)}/response`);
  },
};

// ---- response streaming -----------------------------------------------------------------------
const STREAM_METHODS = ["cork", "destroy", "end", "uncork", "write", "addListener", "emit", "eventNames",
  "getMaxListeners", "listenerCount", "listeners", "off", "on", "once", "prependListener",
  "prependOnceListener", "rawListeners", "removeAllListeners", "removeListener", "setMaxListeners", "setContentType"];
const STREAM_PROPS_RW = ["destroyed", "_onBeforeFirstWrite"];
const STREAM_PROPS_RO = ["writable", "writableFinished", "writableObjectMode", "writableEnded", "writableNeedDrain",
  "writableHighWaterMark", "writableCorked", "writableLength"];

// The response stream is the chunked POST to /response itself, exposed as a writable-only view.
// A failure ends it with the error in trailers. Chunks are not guaranteed to map 1:1 to writes.
function createResponseStream(pathName) {
  let started = false;
  let resolveDone, rejectDone;
  const responseDone = new Promise((resolve, reject) => { resolveDone = resolve; rejectDone = reject; });
  responseDone.catch(() => {});
  const req = http.request({
    host: HOST, port: PORT, path: pathName, method: "POST", agent,
    headers: {
      "Lambda-Runtime-Function-Response-Mode": "streaming",
      "Transfer-Encoding": "chunked",
      Trailer: "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
      "Content-Type": "application/octet-stream",
    },
  }, (res) => {
    const chunks = [];
    res.on("data", (c) => chunks.push(c));
    res.on("aborted", (err) => { rejectDone(err); req.destroy(err); });
    res.on("end", () => resolveDone(Buffer.concat(chunks)));
  });
  req.on("error", (err) => { rejectDone(err); req.destroy(err); });

  req.setContentType = (contentType) => {
    if (started) throw new InvalidStreamingOperation("Cannot set content-type, too late.");
    req.setHeader("Content-Type", contentType);
  };
  const beforeFirstWrite = (origWrite) => {
    if (!started && typeof req._onBeforeFirstWrite === "function") req._onBeforeFirstWrite((chunk) => origWrite(chunk));
    started = true;
  };
  const origWrite = req.write.bind(req);
  req.write = (chunk, encoding, callback) => {
    if (typeof chunk !== "string" && !Buffer.isBuffer(chunk) && !(chunk instanceof Uint8Array)) chunk = JSON.stringify(chunk);
    beforeFirstWrite(origWrite);
    return origWrite(chunk, encoding, callback);
  };
  const origEnd = req.end.bind(req);
  req.end = (...args) => {
    // An HttpResponseStream ended without a write still sends its prelude.
    if (!req.writableEnded) beforeFirstWrite(origWrite);
    return origEnd(...args);
  };

  const stream = {};
  for (const m of STREAM_METHODS) stream[m] = req[m].bind(req);
  for (const p of STREAM_PROPS_RW) Object.defineProperty(stream, p, { get: () => req[p], set: (v) => { req[p] = v; } });
  for (const p of STREAM_PROPS_RO) Object.defineProperty(stream, p, { get: () => req[p] });

  const fail = (err, callback) => {
    const error = toRapidResponse(err);
    if (!req.writableEnded) {
      req.addTrailers({
        [ERROR_TYPE_HEADER]: errorHeader(error.errorType),
        "Lambda-Runtime-Function-Error-Body": Buffer.from(JSON.stringify(error)).toString("base64"),
      });
      started = true; // an error ends the stream without the HTTP prelude
      origEnd(() => callback?.());
    } else {
      callback?.();
    }
  };
  return { stream, responseDone, fail };
}

const HANDLER_STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HANDLER_HIGHWATERMARK = Symbol.for("aws.lambda.runtime.handler.streaming.highWaterMark");
const STREAM_RESPONSE = "response";

class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType("application/vnd.awslambda.http-integration-response");
    const metadata = JSON.stringify(prelude); // no NUL bytes can appear in JSON
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(8));
    };
    return underlyingStream;
  }
}

if (!(env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA === "1" || env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA === "true")) {
  globalThis.awslambda = {
    streamifyResponse(handler, options) {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (typeof options?.highWaterMark === "number") handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark);
      return handler;
    },
    HttpResponseStream,
  };
}

// ---- handler loading ----------------------------------------------------------------------------
function hasPackageJsonTypeModule(folder) {
  for (;;) {
    if (folder.endsWith("/node_modules")) return false;
    const pj = path.join(folder, "package.json");
    if (fs.existsSync(pj)) {
      try {
        return JSON.parse(fs.readFileSync(pj, "utf8"))?.type === "module";
      } catch (e) {
        console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
        return false;
      }
    }
    const parent = path.dirname(folder);
    if (parent === folder) return false;
    folder = parent;
  }
}

// ES modules ignore NODE_PATH; AWS's Node.js 18+ runtimes search it for them too (that is how an
// ES module handler imports the runtime's SDK or a layer's packages). A resolve hook does it:
// Node's own resolution first (the function's node_modules win), then each NODE_PATH folder.
function nodePathFallback(specifier, context, nextResolve, dirs) {
  const bare = /^[^./\\#]/.test(specifier) && !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(specifier);
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  const tries = [];
  if (bare) {
    for (const dir of dirs) {
      if (!fs.existsSync(path.join(dir, name))) continue;
      // From a file beside a node_modules folder, Node resolves the package with its "exports".
      if (path.basename(dir) === "node_modules") tries.push([specifier, pathToFileURL(path.join(path.dirname(dir), "[nimbus]")).href]);
      else tries.push([pathToFileURL(path.join(dir, specifier)).href, context.parentURL]);
    }
  }
  return { tries };
}
const NODE_PATH_HOOKS = `
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
let dirs = [];
const nodePathFallback = ${nodePathFallback.toString()};
export function initialize(data) { dirs = data?.dirs ?? []; }
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND") throw error;
    for (const [spec, parentURL] of nodePathFallback(specifier, context, nextResolve, dirs).tries) {
      try { return await nextResolve(spec, { ...context, parentURL }); } catch {}
    }
    throw error;
  }
}`;
let nodePathHooked = false;
function hookNodePathForEsm() {
  if (nodePathHooked) return;
  nodePathHooked = true;
  // nimbus says "0" when neither the runtime's SDK nor a layer is imported (the hook costs a
  // loader thread before Node 22.15).
  if (env.NIMBUS_LAMBDA_ESM_NODE_PATH === "0") return;
  const dirs = (env.NODE_PATH || "").split(":").filter(Boolean);
  if (!dirs.length) return;
  if (typeof Module.registerHooks === "function") {
    // Node 22.15+: synchronous hooks in this thread.
    Module.registerHooks({
      resolve(specifier, context, nextResolve) {
        try {
          return nextResolve(specifier, context);
        } catch (error) {
          if (error?.code !== "ERR_MODULE_NOT_FOUND") throw error;
          for (const [spec, parentURL] of nodePathFallback(specifier, context, nextResolve, dirs).tries) {
            try {
              return nextResolve(spec, { ...context, parentURL });
            } catch {}
          }
          throw error;
        }
      },
    });
  } else if (typeof Module.register === "function") {
    Module.register(`data:text/javascript,${encodeURIComponent(NODE_PATH_HOOKS)}`, { data: { dirs } });
  }
}

const tryRequire = (file) => (fs.existsSync(file) ? require(file) : undefined);
const tryImport = async (file) => {
  if (!fs.existsSync(file)) return undefined;
  hookNodePathForEsm();
  return await import(pathToFileURL(file).href);
};

async function loadModule(appRoot, moduleRoot, moduleName) {
  const base = path.resolve(appRoot, moduleRoot, moduleName);
  // Extensionless files and directories are required; `.js` follows the nearest package.json
  // "type"; then `.mjs` (import) and `.cjs` (require); then Node's own resolution from the root.
  const extensionless = tryRequire(base);
  if (extensionless) return extensionless;
  const esm = hasPackageJsonTypeModule(path.dirname(base));
  if (!esm) {
    const loaded = tryRequire(base + ".js");
    if (loaded) return loaded;
  }
  const loaded = (esm && (await tryImport(base + ".js"))) || (await tryImport(base + ".mjs")) || tryRequire(base + ".cjs");
  if (loaded) return loaded;
  return require(require.resolve(moduleName, { paths: [appRoot, path.join(appRoot, moduleRoot)] }));
}

async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes("..")) {
    throw new MalformedHandlerName(`'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`);
  }
  // 'dir/sub/module.nested.fn' → module root 'dir/sub/', module 'module', property path 'nested.fn'
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(handlerString));
  const match = handlerString.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName("Bad handler");
  const [, moduleName, propertyPath] = match;

  let app;
  try {
    app = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (e) {
    // Message as AWS shows it: "Error: Cannot find module 'index'\nRequire stack:\n- ...".
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(`${e.name}: ${e.message}`);
    if (e?.code === "MODULE_NOT_FOUND" || e?.code === "ERR_MODULE_NOT_FOUND") throw new ImportModuleError(`${e.name}: ${e.message}`);
    throw e;
  }
  const fn = propertyPath.split(".").reduce((obj, key) => obj && obj[key], app);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== "function") throw new HandlerNotFound(`${fullHandler} is not a function`);
  return fn;
}

function handlerMetadata(fn) {
  const mode = fn[HANDLER_STREAMING];
  if (mode !== undefined && mode !== null && mode !== false && mode !== STREAM_RESPONSE) {
    throw new MalformedStreamingHandler("Only response streaming is supported.");
  }
  let isAsync = false;
  try {
    isAsync = fn.constructor?.name === "AsyncFunction";
  } catch {}
  return { streaming: mode === STREAM_RESPONSE, isAsync };
}

// ---- invocation context --------------------------------------------------------------------------
function parseHeaderJson(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

function attachEnvironmentData(context, headers) {
  if (headers["lambda-runtime-trace-id"]) env._X_AMZN_TRACE_ID = headers["lambda-runtime-trace-id"];
  else delete env._X_AMZN_TRACE_ID;
  const deadline = headers["lambda-runtime-deadline-ms"];
  return Object.assign(context, {
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseHeaderJson(headers["lambda-runtime-client-context"], "ClientContext"),
    identity: parseHeaderJson(headers["lambda-runtime-cognito-identity"], "CognitoIdentity"),
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    tenantId: headers["lambda-runtime-aws-tenant-id"],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  });
}

// The single 'beforeExit' hook: runs when the event loop has nothing left to do.
let beforeExit = () => {};
const setBeforeExit = (fn) => { beforeExit = fn; };
const resetBeforeExit = () => { beforeExit = () => {}; };
process.on("beforeExit", () => beforeExit());

/** callback(err, result), context.succeed/fail/done and callbackWaitsForEmptyEventLoop. */
function callbackContext(id, scheduleNext, onPostFailure) {
  let completed = false;
  let waitForEmptyEventLoop = true;
  const postError = (err) => {
    logError("Invoke Error", err);
    client.postError(err, id).then(scheduleNext, onPostFailure);
  };
  const complete = (result) => {
    if (completed) {
      console.error("Invocation has already been reported as done. Cannot call complete more than once per invocation.");
      return;
    }
    completed = true;
    client.postResponse(result, id).then(scheduleNext, onPostFailure);
  };
  const callback = (err, result) => {
    resetBeforeExit();
    if (err !== undefined && err !== null) postError(err);
    else if (!waitForEmptyEventLoop) complete(result);
    else setBeforeExit(() => setImmediate(() => complete(result)));
  };
  const done = (err, result) => {
    resetBeforeExit();
    if (err !== undefined && err !== null) postError(err);
    else complete(result);
  };
  // Only the first of callback / succeed / fail / done counts.
  let finished = false;
  const once = (fn) => (...args) => {
    if (!finished) {
      fn(...args);
      finished = true;
    }
  };
  const context = {
    get callbackWaitsForEmptyEventLoop() { return waitForEmptyEventLoop; },
    set callbackWaitsForEmptyEventLoop(value) { waitForEmptyEventLoop = value; },
    succeed: once((result) => done(null, result)),
    fail: once((err) => (err === undefined || err === null ? done("handled") : done(err, null))),
    done: once(done),
  };
  return { callback: once(callback), context, markCompleted: () => { completed = true; } };
}

// ---- the loop ------------------------------------------------------------------------------------
const errorCallbacks = {
  uncaughtException: (error) => client.postInitError(error).finally(() => process.exit(129)),
  unhandledRejection: (error) => client.postInitError(error).finally(() => process.exit(128)),
};
let dying = false;
process.on("uncaughtException", (error) => {
  logError("Uncaught Exception", error);
  if (dying) return;
  dying = true;
  errorCallbacks.uncaughtException(error);
});
process.on("unhandledRejection", (reason, promise) => {
  const error = new UnhandledPromiseRejection(reason, promise);
  logError("Unhandled Promise Rejection", error);
  if (dying) return;
  dying = true;
  errorCallbacks.unhandledRejection(error);
});

// The Runtime API is gone or refused us: nothing left to report to.
function runtimeFailure(err) {
  process.stderr.write(`nimbus node bootstrap: ${err?.stack || err}\n`);
  process.exit(1);
}

function setErrorCallbacks(id) {
  errorCallbacks.uncaughtException = (error) => client.postError(error, id).finally(() => process.exit(129));
  errorCallbacks.unhandledRejection = (error) => client.postError(error, id).finally(() => process.exit(128));
}

const isPromise = (v) => v && typeof v.then === "function";
const parseEvent = (body) => JSON.parse(body === "" ? "{}" : body);

function startInvocation(headers) {
  const id = headers["lambda-runtime-aws-request-id"];
  if (!id) throw new Error("invocation id is missing or invalid");
  globalThis[REQUEST_ID] = id;
  return id;
}

// A class, so user stack frames read as on AWS: "at Runtime.handler (file:///.../index.mjs:..)".
class Runtime {
  constructor(handler, metadata) {
    this.handler = handler;
    this.metadata = metadata;
    this.handleOnce = metadata.streaming ? this.handleOnceStreaming : this.handleOnceNonStreaming;
  }

  scheduleIteration() {
    setImmediate(() => this.handleOnce().catch(runtimeFailure));
  }

  async handleOnceNonStreaming() {
    const { body, headers } = await client.next();
    const id = startInvocation(headers);
    const next = () => this.scheduleIteration();
    const { callback, context, markCompleted } = callbackContext(id, next, runtimeFailure);
    try {
      setErrorCallbacks(id);
      // Neither callback nor a settled promise by the time the loop empties: a sync handler
      // answers null; an async one failed to settle.
      setBeforeExit(() => {
        markCompleted();
        if (this.metadata.isAsync) {
          const error = new NodeJsExit();
          logError("Invoke Error", error);
          client.postError(error, id).then(next, runtimeFailure);
        } else {
          client.postResponse(null, id).then(next, runtimeFailure);
        }
      });
      const result = this.handler(parseEvent(body), attachEnvironmentData(context, headers), callback);
      if (isPromise(result)) result.then(context.succeed, context.fail).catch(context.fail);
    } catch (err) {
      callback(err);
    }
  }

  async handleOnceStreaming() {
    const { body, headers } = await client.next();
    const id = startInvocation(headers);
    const next = () => this.scheduleIteration();
    let waitForEmptyEventLoop = true;
    const context = {
      get callbackWaitsForEmptyEventLoop() { return waitForEmptyEventLoop; },
      set callbackWaitsForEmptyEventLoop(value) { waitForEmptyEventLoop = value; },
    };
    const scheduleNext = () => {
      resetBeforeExit();
      if (!waitForEmptyEventLoop) next();
      else setBeforeExit(() => setImmediate(next));
    };
    const { stream, responseDone, fail } = client.responseStream(id);
    const failStream = (err) => {
      logError("Invoke Error", err);
      fail(err, scheduleNext);
    };
    try {
      setErrorCallbacks(id);
      setBeforeExit(next);
      const ctx = attachEnvironmentData(context, headers);
      const result = this.handler(parseEvent(body), stream, ctx);
      if (!isPromise(result)) {
        failStream("Streaming does not support non-async handlers.");
        return;
      }
      if ((await result) !== undefined) console.warn("Streaming handlers ignore return values.");
      await responseDone;
      if (!stream.writableFinished) {
        failStream("Response stream is not finished.");
        return;
      }
      scheduleNext();
    } catch (err) {
      failStream(err);
    }
  }
}

// ---- nimbus's own https:// callbacks -------------------------------------------------------------
// On AWS a custom resource's ResponseURL is an https:// presigned S3 URL, and the responders CDK
// bundles into its handlers (the provider framework, CustomResourceProvider, AwsCustomResource)
// send it with https.request({ hostname, path }), keeping neither the scheme nor the port.
// Nimbus's ResponseURLs are plain http:// on nimbus's port, so a request that way for one of
// nimbus's own /_nimbus/ paths on https's default port goes to nimbus over http. Any other
// https request is untouched.
function nimbusCallbacks(endpointUrl) {
  let endpoint;
  try {
    endpoint = new URL(endpointUrl);
  } catch {
    return;
  }
  if (endpoint.protocol !== "http:") return;
  const local = new Set([endpoint.hostname, "localhost", "127.0.0.1", "::1", "[::1]"]);
  const port = endpoint.port || "80";
  const redirected = (options) => {
    if (!options || typeof options !== "object" || options instanceof URL) return undefined;
    const host = options.hostname ?? options.host?.replace(/:443$/, "");
    const path = typeof options.path === "string" ? options.path : "";
    if (!local.has(host) || ![undefined, null, 443, "443"].includes(options.port)) return undefined;
    if (!path.startsWith("/_nimbus/")) return undefined;
    const { agent: _agent, host: _host, ...rest } = options;
    return { ...rest, protocol: "http:", hostname: host.replace(/^\[|\]$/g, ""), port };
  };
  const original = https.request;
  https.request = function request(options, ...rest) {
    const plain = redirected(options);
    return plain ? http.request(plain, ...rest) : original.call(this, options, ...rest);
  };
  https.get = function get(...args) {
    const req = https.request(...args);
    req.end();
    return req;
  };
}
nimbusCallbacks(env.AWS_ENDPOINT_URL);

// ---- init ------------------------------------------------------------------------------------------
// NODE_PATH as AWS sets it, when the launcher did not: layers under /opt, then the task root.
if (!env.NODE_PATH && env.NIMBUS_LAMBDA_OPT_DIR) {
  const opt = env.NIMBUS_LAMBDA_OPT_DIR;
  const major = process.versions.node.split(".")[0];
  const root = env.LAMBDA_TASK_ROOT || process.cwd();
  env.NODE_PATH = [`${opt}/nodejs/node${major}/node_modules`, `${opt}/nodejs/node_modules`, `${root}/node_modules`, root].join(":");
  Module._initPaths?.();
}

try {
  const handler = await loadHandler(env.LAMBDA_TASK_ROOT || process.cwd(), env._HANDLER || "");
  new Runtime(handler, handlerMetadata(handler)).scheduleIteration();
} catch (error) {
  // As on AWS, init failures surface as uncaught exceptions: logged, posted to /init/error, exit 129.
  logError("Uncaught Exception", error);
  if (!dying) {
    dying = true;
    errorCallbacks.uncaughtException(error);
  }
}
