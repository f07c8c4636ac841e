#!/usr/bin/env node
// Self-check of the baseline (not part of any test suite):
//   node check.mjs            (after `npm ci`)
// Starts start.mjs, checks the READY line, checks that each message is echoed
// exactly once (JSON with an unknown action, JSON without action, plain
// text, unicode), runs a rough closed-loop throughput test (CONNS connections
// x 1 message in flight for DURATION_S seconds), reports the RSS of the
// serverless process group, then stops it with SIGTERM and checks that the
// whole group is gone. Exits non-zero on any failure.
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const here = dirname(fileURLToPath(import.meta.url));
const CONNS = Number(process.env.CONNS || 50);
const DURATION_S = Number(process.env.DURATION_S || 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failures = 0;
const fail = (msg) => {
  failures++;
  console.log(`FAIL ${msg}`);
};
const ok = (msg) => console.log(`ok   ${msg}`);

function procStat(pid) {
  // fields after the ")" of comm: state ppid pgrp ...
  const s = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { ppid: Number(rest[1]), pgrp: Number(rest[2]) };
}
function pids() {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
}
function groupMembers(pgid) {
  const out = [];
  for (const pid of pids()) {
    try {
      if (procStat(pid).pgrp === pgid) out.push(pid);
    } catch {}
  }
  return out;
}
function rssKiB(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
function childrenOf(ppid) {
  return pids().filter((pid) => {
    try {
      return procStat(pid).ppid === ppid;
    } catch {
      return false;
    }
  });
}

function connect(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

// --- start ---------------------------------------------------------------
const t0 = performance.now();
const starter = spawn(process.execPath, [join(here, "start.mjs")], {
  stdio: ["ignore", "pipe", process.env.VERBOSE ? "inherit" : "ignore"],
});
const stdoutLines = [];
const rl = createInterface({ input: starter.stdout });
const readyLine = await new Promise((resolve, reject) => {
  rl.on("line", (l) => {
    stdoutLines.push(l);
    if (stdoutLines.length === 1) resolve(l);
  });
  starter.once("exit", (c) => reject(new Error(`start.mjs exited early (${c})`)));
  setTimeout(() => reject(new Error("no READY within 90 s")), 90000);
});
const startupMs = performance.now() - t0;
const m = readyLine.match(/^READY (ws:\/\/127\.0\.0\.1:(\d+)\/dev)$/);
if (!m) {
  fail(`bad READY line: ${JSON.stringify(readyLine)}`);
  starter.kill("SIGKILL");
  process.exit(1);
}
const url = m[1];
ok(`READY line "${readyLine}" after ${startupMs.toFixed(0)} ms`);

const slsPid = childrenOf(starter.pid)[0];
const pgid = procStat(slsPid).pgrp;
const groupRss = () => groupMembers(pgid).reduce((a, p) => a + rssKiB(p), 0);
ok(`serverless pid ${slsPid}, pgid ${pgid}, idle RSS ${(groupRss() / 1024).toFixed(1)} MiB (start.mjs itself ${(rssKiB(starter.pid) / 1024).toFixed(1)} MiB)`);

// --- functional: each message echoed exactly once --------------------------
{
  const ws = await connect(url);
  const got = [];
  ws.on("message", (data, isBinary) => got.push({ data: data.toString(), isBinary }));
  const cases = [
    JSON.stringify({ action: "x", data: "y" }),
    '{"action":"x","data":"y"}',
    JSON.stringify({ data: "no action" }),
    JSON.stringify({ action: "$default", n: 1 }),
    "plain text",
    "not json {",
    "héllo ✓ 😀",
    "x".repeat(32 * 1024),
  ];
  for (const msg of cases) {
    got.length = 0;
    ws.send(msg);
    const deadline = Date.now() + 2000;
    while (got.length === 0 && Date.now() < deadline) await sleep(5);
    await sleep(200); // any duplicate / extra frame would arrive by now
    const label = msg.length > 40 ? `${msg.slice(0, 20)}... (${msg.length} B)` : msg;
    if (got.length === 1 && got[0].data === msg && !got[0].isBinary) {
      ok(`echoed once: ${label}`);
    } else {
      fail(`${label}: got ${JSON.stringify(got.map((g) => g.data.slice(0, 80)))}`);
    }
  }
  // A burst of pipelined messages on one connection: all come back, in order?
  got.length = 0;
  const burst = Array.from({ length: 100 }, (_, i) => `burst-${i}`);
  for (const b of burst) ws.send(b);
  const deadline = Date.now() + 5000;
  while (got.length < burst.length && Date.now() < deadline) await sleep(5);
  await sleep(200);
  const inOrder = got.every((g, i) => g.data === burst[i]);
  if (got.length === burst.length) {
    ok(`pipelined burst of 100: all echoed once, ${inOrder ? "in order" : "NOT in order"}`);
  } else {
    fail(`pipelined burst: got ${got.length}/100`);
  }
  ws.close();
  await sleep(100);
}

// --- rough throughput -------------------------------------------------------
{
  const conns = await Promise.all(Array.from({ length: CONNS }, () => connect(url)));
  ok(`${CONNS} connections open, RSS ${(groupRss() / 1024).toFixed(1)} MiB`);
  let count = 0;
  let bad = 0;
  let running = true;
  const payload = JSON.stringify({ action: "bench", data: "x".repeat(64) });
  const lat = [];
  const sentAt = new Map();
  for (const ws of conns) {
    ws.on("message", (d) => {
      if (d.toString() !== payload) bad++;
      if (!running) return;
      count++;
      const now = performance.now();
      lat.push(now - sentAt.get(ws));
      sentAt.set(ws, now);
      ws.send(payload);
    });
  }
  const startedAt = performance.now();
  for (const ws of conns) {
    sentAt.set(ws, performance.now());
    ws.send(payload);
  }
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, groupRss())), 250);
  await sleep(DURATION_S * 1000);
  running = false;
  const elapsed = (performance.now() - startedAt) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, groupRss());
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]?.toFixed(2);
  console.log(
    `rate ${CONNS} conns x 1 in flight, ${elapsed.toFixed(1)} s: ${count} echoes, ${(count / elapsed).toFixed(0)} msg/s; ` +
      `latency p50 ${q(0.5)} ms p99 ${q(0.99)} ms; peak RSS ${(peak / 1024).toFixed(1)} MiB (${groupMembers(pgid).length} process(es))`,
  );
  if (bad) fail(`${bad} wrong echoes under load`);
  await sleep(300);
  for (const ws of conns) ws.close();
  await sleep(300);
}

// --- stop ------------------------------------------------------------------
const exitP = new Promise((r) => starter.once("exit", (code, sig) => r({ code, sig })));
const tStop = performance.now();
starter.kill("SIGTERM");
const { code } = await exitP;
await sleep(200);
const left = groupMembers(pgid);
if (code === 0 && left.length === 0) {
  ok(`SIGTERM: start.mjs exited 0 in ${(performance.now() - tStop).toFixed(0)} ms, process group gone`);
} else {
  fail(`SIGTERM: exit code ${code}, left in group: ${left.join(",")}`);
}
if (stdoutLines.length !== 1) fail(`stdout had ${stdoutLines.length} lines: ${JSON.stringify(stdoutLines)}`);
else ok("stdout carried exactly one line");

console.log(failures ? `${failures} check(s) failed` : "all checks passed");
process.exit(failures ? 1 : 0);
