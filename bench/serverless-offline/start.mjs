#!/usr/bin/env node
// Starts the serverless-offline WebSocket echo baseline for switchboard-bench.
//
// Contract (used by cmd/switchboard-bench):
//   - run from anywhere: `node bench/serverless-offline/start.mjs`
//     (node_modules must already be installed: `npm ci` in this directory;
//     this script never installs anything)
//   - env PORT: websocket port (default: a free port on 127.0.0.1)
//     env HTTP_PORT, LAMBDA_PORT: the other ports serverless-offline opens
//     (default: free ports); env STARTUP_TIMEOUT_MS (default 60000)
//   - prints exactly one line to stdout, `READY ws://127.0.0.1:PORT/dev`,
//     once a WebSocket handshake on that URL succeeds; everything else
//     (including all serverless / serverless-offline output) goes to stderr
//     env SLS_LOG_LEVEL (default "warning": serverless-offline's banner and
//     per-invocation lines are hidden; "notice" shows them)
//   - on SIGTERM / SIGINT / SIGHUP: kills the serverless process group and
//     exits 0; if serverless exits on its own, exits non-zero.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";

const HOST = "127.0.0.1";
const STAGE = "dev";
const here = dirname(fileURLToPath(import.meta.url));
const slsBin = join(here, "node_modules", ".bin", "serverless");

const log = (...args) => process.stderr.write(`[start.mjs] ${args.join(" ")}\n`);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function portFromEnv(name, taken) {
  const v = process.env[name];
  if (v) {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0 || n > 65535) {
      throw new Error(`${name}=${v} is not a valid port`);
    }
    return n;
  }
  // Avoid handing out the same port twice (unlikely, but cheap to prevent).
  for (;;) {
    const p = await freePort();
    if (!taken.includes(p)) return p;
  }
}

function tcpProbe(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: HOST, port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

// One real WebSocket opening handshake (no dependency on `ws`): proves the
// upgrade path and the $connect route work, and warms the handler up.
function wsHandshake(port) {
  return new Promise((resolve) => {
    const req = http.request({
      host: HOST,
      port,
      path: `/${STAGE}`,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
      },
      timeout: 5000,
    });
    req.on("upgrade", (res, socket) => {
      // Close politely (close frame, masked, code 1000) so $disconnect runs.
      const mask = randomBytes(4);
      const payload = Buffer.from([0x03, 0xe8]);
      for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      socket.end(Buffer.concat([Buffer.from([0x88, 0x82]), mask, payload]));
      socket.on("error", () => {});
      resolve(res.statusCode === 101);
    });
    req.on("response", (res) => {
      res.resume();
      resolve(false);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  if (!existsSync(slsBin)) {
    log(`${slsBin} not found; run \`npm ci\` in ${here} first`);
    process.exit(2);
  }

  const taken = [];
  const wsPort = await portFromEnv("PORT", taken);
  taken.push(wsPort);
  const httpPort = await portFromEnv("HTTP_PORT", taken);
  taken.push(httpPort);
  const lambdaPort = await portFromEnv("LAMBDA_PORT", taken);
  const startupTimeout = Number(process.env.STARTUP_TIMEOUT_MS || 60000);

  const args = [
    slsBin,
    "offline",
    "start",
    "--stage", STAGE,
    "--host", HOST,
    "--httpPort", String(httpPort),
    "--websocketPort", String(wsPort),
    "--lambdaPort", String(lambdaPort),
    // Performance-minded choices (see README.md):
    "--useInProcess", // run the handler in the serverless-offline process (no worker thread per concurrent invocation)
    "--noTimeout", // no per-invocation timeout timer racing the handler
    // --webSocketIdleTimeout / --webSocketHardTimeout stay at their defaults,
    // 600 s / 7200 s, which are AWS's limits too.
  ];

  const env = {
    ...process.env,
    // Never touch the network (only the npm registry is reachable here, and a
    // benchmark baseline must not wait on anything remote).
    SLS_TELEMETRY_DISABLED: "1",
    SLS_TRACKING_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
    SLS_DEPRECATION_DISABLE: "*",
    SLS_DISABLE_AUTO_UPDATE: "1",
    SLS_INTERACTIVE_SETUP_DISABLE: "1",
    SLS_GEO_LOCATION: "no-cn",
    // No AWS calls are made offline, but make sure the SDK never goes looking
    // for credentials / region on a metadata endpoint.
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID || "offline",
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY || "offline",
    AWS_REGION: process.env.AWS_REGION || "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
    FORCE_COLOR: "0",
    // serverless-offline logs one "(λ: websocket) RequestId: ... Duration"
    // line per invocation at "notice" level; a benchmark should not pay for
    // that. Set SLS_LOG_LEVEL=notice (or info/debug) to see it again.
    SLS_LOG_LEVEL: process.env.SLS_LOG_LEVEL || "warning",
  };

  const started = Date.now();
  log(`spawning: node ${args.map((a) => (a === slsBin ? "node_modules/.bin/serverless" : a)).join(" ")}`);
  const child = spawn(process.execPath, args, {
    cwd: here,
    env,
    detached: true, // own process group, so we can kill the whole tree
    stdio: ["ignore", 2, 2], // all serverless output -> our stderr
  });

  let exited = false;
  let stopping = false;
  const exitPromise = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      exited = true;
      resolve({ code, signal });
    });
  });
  child.on("error", (err) => {
    log(`spawn failed: ${err.message}`);
    process.exit(1);
  });

  const killGroup = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // group already gone
    }
  };

  const shutdown = async (why) => {
    if (stopping) return;
    stopping = true;
    log(`${why}: stopping serverless offline (pgid ${child.pid})`);
    killGroup("SIGTERM");
    const t = setTimeout(() => killGroup("SIGKILL"), 5000);
    if (!exited) await exitPromise;
    clearTimeout(t);
    killGroup("SIGKILL"); // anything left behind in the group
    process.exit(0);
  };
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) {
    process.on(sig, () => shutdown(sig));
  }
  process.on("exit", () => {
    if (!exited) killGroup("SIGKILL");
  });
  exitPromise.then(({ code, signal }) => {
    if (stopping) return;
    log(`serverless offline exited unexpectedly (code ${code}, signal ${signal})`);
    killGroup("SIGKILL");
    process.exit(code || 1);
  });

  // Wait for the websocket port, then for a successful WebSocket handshake.
  const deadline = started + startupTimeout;
  for (;;) {
    if (exited || stopping) return;
    if (Date.now() > deadline) {
      log(`timed out after ${startupTimeout} ms waiting for ws://${HOST}:${wsPort}`);
      killGroup("SIGKILL");
      process.exit(1);
    }
    if ((await tcpProbe(wsPort)) && (await wsHandshake(wsPort))) break;
    await sleep(50);
  }
  if (exited || stopping) return;

  log(`ready in ${Date.now() - started} ms (pid ${child.pid}; http ${httpPort}, lambda ${lambdaPort})`);
  process.stdout.write(`READY ws://${HOST}:${wsPort}/${STAGE}\n`);
}

main().catch((err) => {
  log(err.stack || String(err));
  process.exit(1);
});
