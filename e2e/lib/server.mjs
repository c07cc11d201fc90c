// Shared helpers for the browser tests in e2e/tests/*.test.mjs.
//
//   import { startServer, launchBrowser } from '../lib/server.mjs';
//   const server = await startServer();          // { url, dataDir, logs(), stop() }
//   const browser = await launchBrowser();
//   const page = await browser.newPage();
//   await page.goto(server.url + '/');
//   ...
//   await browser.close();
//   await server.stop();
//
// Each startServer() call gets its own data dir and port, so tests never
// share state. The binary comes from $OPSDECK_BIN (scripts/test.sh builds it
// and sets it); the browser is Debian's chromium ($CHROMIUM), never one
// downloaded by playwright.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';

const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 50;
const STOP_TIMEOUT_MS = 10_000;
// Keep only the tail of the server's output: enough to explain a failure.
const MAX_LOG_CHARS = 64 * 1024;

// Servers still running, so they can be killed if the test process exits
// without calling stop() (a failed assertion before cleanup, say). Their data
// dirs are then left in the temp dir; that is harmless.
const running = new Set();
function killAll() {
  for (const child of running) child.kill('SIGKILL');
}
process.on('exit', killAll);
// 'exit' does not fire when a signal ends the process (node's test runner
// cancels a timed-out file with SIGTERM): kill the servers, then re-raise
// the signal so the process still dies of it as it would have.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAll();
    process.kill(process.pid, sig);
  });
}

// A port on 127.0.0.1 that is free right now (the OS picks it). There is a
// small race until the server binds it; startServer reports the server's own
// error if it loses that race.
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Start `$OPSDECK_BIN serve` on a fresh data dir and a free port, and wait
 * until GET /readyz answers 200.
 *
 * @param {object} [options]
 * @param {Record<string,string>} [options.env]  extra environment variables
 * @param {string[]} [options.args]             extra arguments after the defaults
 * @returns {Promise<{url: string, port: number, dataDir: string, logs: () => string, stop: () => Promise<void>}>}
 */
export async function startServer({ env = {}, args = [] } = {}) {
  const bin = process.env.OPSDECK_BIN;
  if (!bin) {
    throw new Error('OPSDECK_BIN is not set: run the browser tests through scripts/test.sh');
  }

  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'opsdeck-e2e-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;

  const child = spawn(
    bin,
    ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, ...args],
    {
      env: { ...process.env, OPSDECK_LOG: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(child);

  // Collect output (stdout and stderr interleaved) for error messages.
  let output = '';
  const collect = (chunk) => {
    output += chunk;
    if (output.length > MAX_LOG_CHARS) output = output.slice(-MAX_LOG_CHARS);
  };
  child.stdout.setEncoding('utf8').on('data', collect);
  child.stderr.setEncoding('utf8').on('data', collect);

  // Resolves with the exit code/signal once the process has ended.
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve(exited);
    });
    child.on('error', (err) => {
      // spawn failed (binary missing, not executable): no 'exit' follows.
      collect(`\nspawn error: ${err.message}\n`);
      exited = { code: null, signal: null, error: err };
      running.delete(child);
      resolve(exited);
    });
  });

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.ref();
      child.kill('SIGTERM');
      const timedOut = await Promise.race([
        exitPromise.then(() => false),
        // ref: false, or this pending timer alone would keep the test
        // process alive for STOP_TIMEOUT_MS after a clean stop.
        sleep(STOP_TIMEOUT_MS, true, { ref: false }),
      ]);
      if (timedOut) {
        child.kill('SIGKILL');
        await exitPromise;
      }
    }
    await rm(dataDir, { recursive: true, force: true });
  }

  // Poll the readiness endpoint until it answers 200, the process dies, or
  // the deadline passes.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = 'no answer yet';
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(
        `opsdeck exited before becoming ready (code ${exited.code}, signal ${exited.signal}). Output:\n${output}`,
      );
    }
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer(); // drain the body so the connection is released
      if (res.status === 200) break;
      lastError = `HTTP ${res.status}`;
    } catch (err) {
      lastError = err.cause?.code ?? err.message;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `opsdeck not ready at ${url}/readyz after ${READY_TIMEOUT_MS} ms (last: ${lastError}). Output:\n${output}`,
      );
    }
    await sleep(READY_POLL_MS);
  }

  // From here on the server must not keep the test process alive by itself:
  // a test that forgets stop() would otherwise hang its file instead of
  // finishing (the 'exit' handler above then kills the server). stop()
  // takes the reference back while it waits for the exit.
  child.unref();
  child.stdout.unref();
  child.stderr.unref();

  return { url, port, dataDir, logs: () => output, stop };
}

/**
 * Launch Debian's headless chromium through playwright-core.
 *
 * @param {import('playwright-core').LaunchOptions} [options] merged over the defaults
 */
export async function launchBrowser(options = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      // Running as root in a container: chromium's sandbox cannot start.
      '--no-sandbox',
      '--disable-gpu',
      // No network but loopback here: stop chromium phoning home.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    ...options,
  });
}
