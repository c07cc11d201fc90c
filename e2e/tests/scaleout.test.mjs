// Two nodes on one PostgreSQL database: an incident acknowledged in a browser on node A
// updates the same incident's page open in another browser on node B, live, without a reload
// (PostgreSQL LISTEN/NOTIFY carries the event between the nodes).
//
// Needs OPSDECK_TEST_POSTGRES_URL (scripts/test.sh starts a private cluster and sets it).
// E2E_SCREENSHOTS=1 saves screenshots to e2e/screenshots/.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { launchBrowser, startServer } from '../lib/server.mjs';

const run = promisify(execFile);
const DEMO = { username: 'admin', password: 'opsdeck-demo' };
const LIVE_TIMEOUT_MS = 10_000;
const base = process.env.OPSDECK_TEST_POSTGRES_URL;

let nodeA;
let nodeB;
let browser;

/** A fresh database on the test cluster, its URL. */
async function freshDatabase() {
  const name = `opsdeck_e2e_${randomUUID().replaceAll('-', '')}`;
  await run('psql', [base, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`]);
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

async function signedIn(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${url}/login`);
  await page.fill('input[name=username]', DEMO.username);
  await page.fill('input[name=password]', DEMO.password);
  await Promise.all([page.waitForEvent('load'), page.click('button[type=submit]')]);
  return page;
}

async function shot(page, name) {
  if (!process.env.E2E_SCREENSHOTS) return;
  await mkdir('screenshots', { recursive: true });
  await page.screenshot({ path: `screenshots/scaleout-${name}.png`, fullPage: true });
}

before(async () => {
  if (!base) return;
  const db = await freshDatabase();
  // One after the other: the first seeds the demo, the second finds it there.
  nodeA = await startServer({ env: { OPSDECK_DATABASE_URL: db }, args: ['--demo'] });
  nodeB = await startServer({ env: { OPSDECK_DATABASE_URL: db }, args: ['--demo'] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await nodeA?.stop();
  await nodeB?.stop();
});

test('an incident acknowledged through node A updates its page open on node B', { skip: !base && 'OPSDECK_TEST_POSTGRES_URL is not set' }, async () => {
  const onA = await signedIn(nodeA.url);
  const services = await (await onA.request.get(`${nodeA.url}/api/v1/services?limit=50`)).json();
  const service = services.items.find((s) => s.name === 'Checkout API') ?? services.items[0];
  const created = await onA.request.post(`${nodeA.url}/api/v1/incidents`,
    { data: { title: 'Checkout latency over 2 s', service_id: service.id } });
  assert.equal(created.status(), 201, await created.text());
  const incident = await created.json();
  const path = `/incidents/${incident.number}`;

  const onB = await signedIn(nodeB.url);
  let navigations = 0;
  onB.on('framenavigated', (frame) => { if (frame === onB.mainFrame()) navigations += 1; });
  await onB.goto(`${nodeB.url}${path}`);
  await onB.locator('#live-status.on').waitFor({ timeout: LIVE_TIMEOUT_MS });
  assert.equal((await onB.locator('#incident-status').textContent()).trim(), 'triggered');
  const navsBefore = navigations;

  await onA.goto(`${nodeA.url}${path}`);
  await Promise.all([onA.waitForEvent('load'), onA.click('#ack-btn')]);
  assert.equal((await onA.locator('#incident-status').textContent()).trim(), 'acknowledged');

  const started = Date.now();
  await onB.locator('#incident-status', { hasText: 'acknowledged' }).waitFor({ timeout: LIVE_TIMEOUT_MS });
  const took = Date.now() - started;
  assert.equal(navigations, navsBefore, 'node B updated the page in place');
  assert.ok(took < 2_000, `the update reached node B in ${took} ms`);
  await shot(onB, 'node-b-acknowledged');
});
