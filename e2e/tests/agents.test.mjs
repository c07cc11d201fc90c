// Probe agents in a real browser: the empty Agents page, a registration refused (HTTP 422), an
// agent registered (its token shown once) and started as a real `opsdeck agent` process with
// that token, a monitor created through the form to run from the server and the agent's
// location, whose page shows each location's state, and the agent revoked from its page (the
// agent process then stops). Desktop and phone screenshots with E2E_SCREENSHOTS=1.
//
//   cd e2e && OPSDECK_BIN=… node --test --test-concurrency=1 tests/agents.test.mjs

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { after } from 'node:test';
import { pathIs, walk } from '../lib/walk.mjs';

const ADMIN = { username: 'admin', display_name: 'Alex Morgan', email: 'alex@example.com', password: 'correct-horse-battery' };
const LIVE_TIMEOUT_MS = 20_000;

let server;
let page;
const w = walk({ screenshotPrefix: 'agents-', ready: (r) => ({ server, page } = r) });
const { step, shot, go, submitTo, text } = w;
let target;
let agent;
let agentExit;
after(async () => {
  agent?.kill('SIGKILL');
  await new Promise((resolve) => (target ? target.close(resolve) : resolve()));
});
const squash = (s) => s.replace(/\s+/g, ' ').trim();

/** Reloads `path` until `check(page)` holds (the location rows are not live-updated). */
async function reloadUntil(path, what, check) {
  const until = Date.now() + LIVE_TIMEOUT_MS;
  for (;;) {
    await go(path);
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(300);
  }
}

step('first-run setup creates the admin', async () => {
  await go('/');
  await page.waitForURL(pathIs('/setup'));
  for (const [k, v] of Object.entries(ADMIN)) await page.fill(`input[name=${k}]`, v);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await submitTo('form[action="/setup"] button[type=submit]', '/');
  target = http.createServer((_, res) => { res.writeHead(200); res.end('ok'); });
  await new Promise((resolve) => target.listen(0, '127.0.0.1', resolve));
});

step('the agents page starts empty and refuses the reserved location', async () => {
  await go('/');
  await page.click('#nav a[href="/agents"]');
  await page.waitForURL(pathIs('/agents'));
  assert.equal(await text('main h1'), 'Agents');
  assert.equal(await text('#no-agents h2'), 'No agents yet');
  await shot('01-empty');
  await page.fill('#new-agent input[name=name]', 'Frankfurt probe');
  await page.fill('#new-agent input[name=location]', 'server');
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/agents'),
    page.click('#new-agent button[type=submit]'),
  ]);
  assert.equal(res.status(), 422);
  assert.match(await text('#form-error'), /^Location: .*server/);
  assert.equal(await page.inputValue('#new-agent input[name=name]'), 'Frankfurt probe');
  await shot('02-form-error');
});

step('a registered agent shows its token once, and runs with it', async () => {
  await page.fill('#new-agent input[name=location]', 'eu-central');
  await Promise.all([page.waitForEvent('load'), page.click('#new-agent button[type=submit]')]);
  const token = (await text('#agent-token')).trim();
  assert.match(token, /^opsa_[0-9a-f]{64}$/);
  assert.match(await text('#agent-command'), /opsdeck agent --server http:\/\/127\.0\.0\.1:\d+ --location eu-central/);
  await shot('03-registered');
  agent = spawn(process.env.OPSDECK_BIN, ['agent', '--server', server.url, '--location', 'eu-central', '--log', 'warn'], {
    env: { ...process.env, OPSDECK_TOKEN: token },
    stdio: 'ignore',
  });
  agentExit = new Promise((resolve) => agent.on('exit', (code) => resolve(code)));
  await go('/agents');
  assert.equal(await page.locator('#agent-token').count(), 0, 'the token is not shown again');
});

step('a monitor runs from the server and the agent, each location shown', async () => {
  await go('/monitors/new?type=http');
  await page.fill('input[name=name]', 'Storefront');
  await page.fill('input[name=url]', `http://127.0.0.1:${target.address().port}/`);
  await page.fill('input[name=interval_seconds]', '1');
  await page.fill('input[name=timeout_seconds]', '1');
  assert.equal(await page.inputValue('input[name=locations]'), 'server');
  await page.fill('input[name=locations]', 'server, eu-central');
  await page.fill('input[name=quorum]', '2');
  await Promise.all([page.waitForEvent('load'), page.click('#monitor-form button[type=submit]')]);
  const path = new URL(page.url()).pathname;
  assert.match(path, /^\/monitors\/[0-9a-f-]{36}$/);
  const state = (loc) => page.locator(`#locations-table tr[data-location="${loc}"] .state`).textContent();
  await reloadUntil(path, 'both locations up', async () =>
    squash(await state('server')) === 'up' && squash(await state('eu-central')) === 'up');
  assert.match(await text('#locations-table'), /100\.00 %/);
  assert.match(await text('main h2:has-text("Locations")'), /down when 2 of 2 fail/);
  await shot('04-monitor-locations');
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await shot('05-monitor-locations-phone');
    await go('/agents');
    await shot('06-agents-phone');
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
});

step('the agents page shows it online with its version, and revoking stops it', async () => {
  await go('/agents');
  const row = page.locator('#agents-table tr[data-agent="Frankfurt probe"]');
  assert.match(squash(await row.textContent()), /eu-central online/);
  await shot('07-online');
  page.once('dialog', (d) => d.accept());
  await Promise.all([page.waitForEvent('load'), row.locator('button:has-text("Revoke")').click()]);
  assert.match(await text('.flash.ok'), /Agent Frankfurt probe revoked/);
  assert.equal(await text('#no-agents h2'), 'No agents yet');
  const code = await Promise.race([agentExit, new Promise((r) => setTimeout(() => r('still running'), 20_000))]);
  assert.notEqual(code, 'still running', 'the revoked agent stops');
  assert.notEqual(code, 0);
});
