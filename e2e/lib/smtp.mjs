// A real SMTP server for browser tests: Python's aiosmtpd writing a Maildir, and the config
// file that points Opsdeck at it.

import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

/**
 * Starts aiosmtpd; `args` go to `opsdeck serve` (`--config` with an `[smtp]` section).
 * `messages()` reads every message received (quoted-printable soft breaks undone), `waitFor`
 * polls until a predicate over them holds, `stop()` kills the server.
 */
export async function startSmtp() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'opsdeck-e2e-smtp-'));
  const port = await freePort();
  const maildir = path.join(dir, 'mail');
  const smtpd = spawn('python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir], { stdio: 'ignore' });
  for (let i = 0; i < 200; i += 1) {
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    await sleep(25);
  }
  const config = path.join(dir, 'opsdeck.toml');
  await writeFile(config, `[smtp]\nhost = "127.0.0.1"\nport = ${port}\ntls = "none"\nfrom = "Opsdeck <opsdeck@example.com>"\n`);
  async function messages() {
    const dir = path.join(maildir, 'new');
    const files = await readdir(dir).catch(() => []);
    // In the order they arrived (Maildir names are unique, not ordered).
    const dated = await Promise.all(files.map(async (f) => [(await stat(path.join(dir, f))).mtimeMs, f]));
    dated.sort((a, b) => a[0] - b[0]);
    const raw = await Promise.all(dated.map(([, f]) => readFile(path.join(dir, f), 'utf8')));
    return raw.map((r) => r.replace(/=\r?\n/g, '').replace(/=3D/g, '='));
  }
  async function waitFor(what, predicate, timeoutMs = 20_000) {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      const all = await messages();
      if (predicate(all)) return all;
      await sleep(100);
    }
    throw new Error(`timed out waiting for ${what}; got ${(await messages()).length} message(s)`);
  }
  return { args: ['--config', config], messages, waitFor, stop: () => smtpd.kill('SIGKILL') };
}

/** The messages sent to `address`. */
export const to = (all, address) => all.filter((m) => m.split(/\r?\n/).some((l) => l.trim() === `To: ${address}`));

/** The text after `prefix` on a line of `message`. */
export function lineAfter(message, prefix) {
  const line = message.split(/\r?\n/).find((l) => l.startsWith(prefix));
  if (!line) throw new Error(`no "${prefix}" line in:\n${message}`);
  return line.slice(prefix.length).trim();
}
