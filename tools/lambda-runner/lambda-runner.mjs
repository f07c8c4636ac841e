#!/usr/bin/env node
// lambda-runner: runs Node.js Lambda handlers behind the subset of the AWS
// Lambda Invoke API that AWS SDKs use for synchronous calls, so that a
// client configured with AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:PORT
// invokes local code as it would invoke a deployed function.
//
//   node lambda-runner.mjs --port 9001 \
//     --function chat-onconnect=handlers/onconnect.mjs#handler ...
//
// POST /2015-03-31/functions/{FunctionName}/invocations, where FunctionName
// is a name, an ARN or a partial ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]),
// answers 200 with the handler's result as JSON, or, when the handler
// throws, 200 with X-Amz-Function-Error: Unhandled and
// {"errorMessage","errorType","stackTrace"}, as Lambda does (X-Amz-Invocation-Type
// Event answers 202 at once, DryRun 204). Handlers run in this process and
// see its environment. Signatures are not checked.
import http from "node:http";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const usage = `Usage: lambda-runner [--port N | --listen-fd FD] [--host H] --function NAME=FILE#EXPORT ...
  --port       TCP port (default $LAMBDA_RUNNER_PORT or 9001; 0 picks a free one)
  --host       address to listen on (default 127.0.0.1)
  --listen-fd  serve on an inherited, already listening socket instead
  --function   a function name and its handler, e.g. chat-onconnect=handlers/onconnect.mjs#handler
               (the export defaults to "handler"); repeat for each function`;

const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: process.env.LAMBDA_RUNNER_PORT ?? "9001" },
    host: { type: "string", default: "127.0.0.1" },
    "listen-fd": { type: "string" },
    function: { type: "string", multiple: true, default: [] },
    help: { type: "boolean", short: "h" },
  },
});
if (opts.help || opts.function.length === 0) {
  console.error(usage);
  process.exit(opts.help ? 0 : 2);
}

// Lambda always sets these; handlers' SDK clients read them.
process.env.AWS_REGION ??= process.env.AWS_DEFAULT_REGION ?? "us-east-1";
process.env.AWS_DEFAULT_REGION ??= process.env.AWS_REGION;

// Load every handler up front, so that a typo fails at start.
const handlers = new Map();
for (const spec of opts.function) {
  const m = /^([^=]+)=([^#]+)(?:#(.+))?$/.exec(spec);
  if (!m) {
    console.error(`lambda-runner: --function ${spec}: want NAME=FILE#EXPORT`);
    process.exit(2);
  }
  const [, name, file, exportName = "handler"] = m;
  const mod = await import(pathToFileURL(path.resolve(file)).href);
  const fn = mod[exportName] ?? mod.default?.[exportName];
  if (typeof fn !== "function") {
    console.error(`lambda-runner: ${file} exports no function ${exportName}`);
    process.exit(2);
  }
  handlers.set(name, fn);
}

// "arn:aws:lambda:us-east-1:000000000000:function:chat-onconnect:live" → "chat-onconnect"
function functionName(nameOrArn) {
  const m = /(?:^|:)function:([^:]+)/.exec(nameOrArn);
  return m ? m[1] : nameOrArn.split(":")[0];
}

function context(name, arn) {
  const deadline = Date.now() + 900_000;
  return {
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: arn.startsWith("arn:") ? arn : `arn:aws:lambda:${process.env.AWS_REGION}:000000000000:function:${name}`,
    memoryLimitInMB: "128",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "lambda-runner",
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

// Async handlers return their result; callback-style ones (3 parameters) call back.
function run(fn, event, ctx) {
  if (fn.length >= 3) {
    return new Promise((resolve, reject) => fn(event, ctx, (err, result) => (err ? reject(err) : resolve(result))));
  }
  return Promise.resolve().then(() => fn(event, ctx));
}

function send(res, status, headers, body) {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(body);
}

function userError(res, status, type, message) {
  send(res, status, { "X-Amzn-ErrorType": type }, JSON.stringify({ Type: "User", message }));
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://lambda");
  const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
  if (req.method !== "POST" || !m) {
    return userError(res, 404, "UnknownOperationException", `${req.method} ${url.pathname} is not supported`);
  }
  const arn = decodeURIComponent(m[1]);
  const name = functionName(arn);
  const fn = handlers.get(name);
  if (!fn) {
    return userError(res, 404, "ResourceNotFoundException", `Function not found: ${arn}`);
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  let event;
  try {
    const text = Buffer.concat(chunks).toString("utf8");
    event = text === "" ? {} : JSON.parse(text);
  } catch (err) {
    return userError(res, 400, "InvalidRequestContentException", `Could not parse request body into json: ${err.message}`);
  }
  const headers = { "X-Amz-Executed-Version": "$LATEST" };
  const invocationType = req.headers["x-amz-invocation-type"] ?? "RequestResponse";
  if (invocationType === "DryRun") return send(res, 204, headers, "");
  if (invocationType === "Event") {
    run(fn, event, context(name, arn)).catch((err) => console.error(`${name}: ${err?.stack ?? err}`));
    return send(res, 202, headers, "");
  }
  try {
    const result = await run(fn, event, context(name, arn));
    send(res, 200, headers, JSON.stringify(result ?? null));
  } catch (err) {
    console.error(`${name}: ${err?.stack ?? err}`);
    const error = {
      errorType: err?.name ?? typeof err,
      errorMessage: err?.message ?? String(err),
      stackTrace: String(err?.stack ?? "").split("\n").slice(1).map((l) => l.trim()),
    };
    send(res, 200, { ...headers, "X-Amz-Function-Error": "Unhandled" }, JSON.stringify(error));
  }
});

const listenOn = opts["listen-fd"] !== undefined ? { fd: Number(opts["listen-fd"]) } : { port: Number(opts.port), host: opts.host };
server.listen(listenOn, () => {
  const { address, port } = server.address();
  const host = address.includes(":") ? `[${address}]` : address;
  console.log(`lambda-runner listening on http://${host}:${port} (${[...handlers.keys()].join(", ")})`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
