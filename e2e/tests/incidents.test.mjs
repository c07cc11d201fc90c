// Incidents walk-through in a real browser: add a PagerDuty integration to a service and see
// its key once with copy-paste examples; an event sent with curl makes an incident appear
// live on the incident list (no reload); acknowledge, add a note and resolve from the incident
// page; write a postmortem with an action item; the report and alert pages show the data.
//
//   cd e2e && OPSDECK_BIN=… node --test --test-concurrency=1 tests/
//
// E2E_SCREENSHOTS=1 saves screenshots of key pages to e2e/screenshots/.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { NAV_TIMEOUT_MS, pathIs, walk } from '../lib/walk.mjs';

const run = promisify(execFile);
const LIVE_TIMEOUT_MS = 15_000;
const ADMIN = { username: 'admin', display_name: 'Alex Morgan', email: 'alex@example.com', password: 'correct-horse-battery' };

let server;
let page;
const w = walk({ screenshotPrefix: 'incidents-', ready: (r) => ({ server, page } = r) });
const { step, shot, go, submitTo, clickAndLoad, text } = w;
const squash = (s) => s.replace(/\s+/g, ' ').trim();
let key = '';
let navigations = 0;

/** Sends a PagerDuty Events v2 event with curl, as a user would from a shell. */
async function curlEvent(body) {
  const { stdout } = await run('curl', ['-sS', '-X', 'POST', `${server.url}/v2/enqueue`,
    '-H', 'Content-Type: application/json', '-d', JSON.stringify(body), '-w', '\n%{http_code}']);
  const [json, status] = stdout.trim().split('\n');
  return { status: Number(status), body: JSON.parse(json) };
}

step('first-run setup and a service', async () => {
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigations += 1; });
  await go('/');
  await page.waitForURL(pathIs('/setup'));
  await page.fill('input[name=username]', ADMIN.username);
  await page.fill('input[name=display_name]', ADMIN.display_name);
  await page.fill('input[name=email]', ADMIN.email);
  await page.fill('input[name=password]', ADMIN.password);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await submitTo('form[action="/setup"] button[type=submit]', '/');

  await go('/services/new');
  await page.fill('input[name=name]', 'Payments API');
  await submitTo('form[action="/services"] button[type=submit]', '/services/payments-api');
  assert.equal(await text('.flash.ok'), 'Service created');
});

step('add a PagerDuty integration and see its key once', async () => {
  await page.click('#service-integrations');
  await page.waitForURL(pathIs('/services/payments-api/integrations'));
  assert.equal(await text('section.empty h2'), 'No integrations yet');
  await shot('01-integrations-empty');
  await page.selectOption('#new-integration select[name=kind]', 'pagerduty');
  await page.fill('#new-integration input[name=name]', 'Nagios bridge');
  await clickAndLoad('#new-integration button[type=submit]');
  key = await text('#integration-key');
  assert.match(key, /^[0-9a-f]{32}$/);
  assert.match(await text('#integration-url'), /\/v2\/enqueue$/);
  const examples = await page.locator('#fresh-key pre').allTextContents();
  assert.ok(examples.some((e) => e.includes(`routing_key: ${key}`) && e.includes('pagerduty_configs')), 'Alertmanager example carries the key');
  assert.ok(examples.some((e) => e.startsWith('curl')), 'a curl example');
  await shot('02-integration-key');

  // Reloading the page never shows the key again.
  await go('/services/payments-api/integrations');
  assert.equal(await page.locator('#integration-key').count(), 0);
  assert.ok((await page.content()).includes(`${key.slice(0, 6)}…`));
});

step('a fresh server has no incidents and says how they arrive', async () => {
  await go('/incidents');
  assert.equal(await text('main h1'), 'Incidents');
  assert.equal(await text('section.empty h2'), 'No open incidents — all quiet');
  await shot('03-incidents-empty');
});

step('an event sent with curl opens an incident live', async () => {
  await page.locator('#live-status.on').waitFor({ timeout: NAV_TIMEOUT_MS });
  await page.evaluate(() => { window.__marker = 1; });
  const navsBefore = navigations;
  const res = await curlEvent({ routing_key: key, event_action: 'trigger', dedup_key: 'db1/disk',
    payload: { summary: 'Disk 97% full on db1', source: 'db1', severity: 'critical' } });
  assert.equal(res.status, 202);
  assert.deepEqual(res.body, { status: 'success', message: 'Event processed', dedup_key: 'db1/disk' });

  const row = page.locator('#incidents-table tbody tr').filter({ hasText: 'Disk 97% full on db1' });
  await row.waitFor({ timeout: LIVE_TIMEOUT_MS });
  assert.equal(await page.evaluate(() => window.__marker), 1, 'the list updated without a reload');
  assert.equal(navigations, navsBefore);
  assert.match(squash(await row.innerText()), /triggered INC-1 Disk 97% full on db1 Payments API SEV1 1/i);
  assert.equal(await text('#count-triggered'), '1');
  await shot('04-incident-live');
});

step('acknowledge, add a note and resolve from the incident page', async () => {
  await submitTo('#incidents-table a[href="/incidents/INC-1"]', '/incidents/INC-1');
  assert.equal(await text('#incident-status'), 'triggered');
  assert.equal(await page.locator('#alerts-table tbody tr').count(), 1);
  await submitTo('#ack-btn', '/incidents/INC-1');
  assert.equal(await text('.flash.ok'), 'Acknowledged');
  assert.equal(await text('#incident-status'), 'acknowledged');

  await page.fill('#note-form textarea[name=note]', 'Rotating logs on db1');
  await submitTo('#add-note', '/incidents/INC-1');
  assert.equal(await text('.flash.ok'), 'Note added');
  const timeline = squash(await page.locator('#timeline').textContent());
  assert.match(timeline, /created Opened by an alert: Disk 97% full on db1/);
  assert.match(timeline, /status Acknowledged by admin/);
  assert.match(timeline, /note Rotating logs on db1/);
  await shot('05-incident-acknowledged');

  await submitTo('#resolve-btn', '/incidents/INC-1');
  assert.equal(await text('#incident-status'), 'resolved');
  assert.equal(await page.locator('#ack-btn').count(), 0);
  // The alert was resolved with its incident.
  assert.equal(await text('#alerts-table tbody tr .astatus'), 'resolved');
});

step('write a postmortem with an action item', async () => {
  await submitTo('#postmortem-btn', '/incidents/INC-1/postmortem');
  assert.match(await text('main h1'), /Postmortem: Disk 97% full on db1/);
  const prefilled = await page.inputValue('textarea[name=timeline]');
  assert.match(prefilled, /Opened by an alert/);
  assert.match(prefilled, /Rotating logs on db1/);
  await page.fill('textarea[name=summary]', 'Log rotation stopped and filled the disk.');
  await page.fill('textarea[name=root_cause]', 'A config change disabled logrotate.');
  await submitTo('#save-postmortem', '/incidents/INC-1/postmortem');
  assert.equal(await text('.flash.ok'), 'Postmortem saved');
  assert.equal(await page.inputValue('textarea[name=summary]'), 'Log rotation stopped and filled the disk.');

  await page.fill('#action-form input[name=title]', 'Alert when a disk is 80% full');
  await page.selectOption('#action-form select[name=owner_id]', { label: ADMIN.display_name });
  await page.fill('#action-form input[name=due_date]', '2030-01-31');
  await submitTo('#action-form button[type=submit]', '/incidents/INC-1/postmortem');
  const items = squash(await page.locator('#action-items').innerText());
  assert.match(items, /Alert when a disk is 80% full admin · due 2030-01-31 · open/);
  await shot('06-postmortem');

  // Open action items are listed until done.
  await go('/action-items');
  assert.equal(await page.locator('#action-items-table tbody tr').count(), 1);
  await submitTo('#action-items-table button[value=done]', '/action-items');
  assert.equal(await text('section.empty h2'), 'Nothing open');

  const md = await (await page.request.get(`${server.url}/api/v1/incidents/INC-1/postmortem.md`)).text();
  assert.match(md, /^# Postmortem: INC-1/);
  assert.match(md, /- \[x\] Alert when a disk is 80% full/);
});

step('alerts, reports and the incident list after the fact', async () => {
  await go('/alerts');
  assert.match(squash(await page.locator('#alerts-table').innerText()), /resolved Disk 97% full on db1/i);
  await shot('07-alerts');
  await go('/reports/mttx');
  assert.equal(await text('main h1'), 'Incident response (MTTx)');
  const mttx = squash(await page.locator('#mttx-table').innerText());
  assert.match(mttx, /MTTA acknowledged − detected 1/);
  assert.equal(await page.locator('svg.chart.columns').count(), 1);
  await shot('08-reports');
  const csv = await (await page.request.get(`${server.url}${await page.getAttribute('#csv-export', 'href')}`)).text();
  assert.match(csv.split('\n')[1], /^INC-1,Disk 97% full on db1,Payments API,SEV1,resolved,alert,1,/);
  await go('/incidents?status=resolved');
  assert.equal(await page.locator('#incidents-table tbody tr').count(), 1);
  await shot('09-incidents-resolved');
});
