// On-call walk-through in a real browser: build a two-layer schedule with an override and see
// its timeline; a policy pages the schedule; an incident sent with curl fills the delivery log
// live; the e-mail (delivered to a real SMTP server, Python's aiosmtpd) carries a link that
// acknowledges the incident.
//
// E2E_SCREENSHOTS=1 saves screenshots to e2e/screenshots/.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after } from 'node:test';
import { promisify } from 'node:util';
import { startSmtp } from '../lib/smtp.mjs';
import { pathIs, walk } from '../lib/walk.mjs';

const run = promisify(execFile);
const ADMIN = { username: 'admin', display_name: 'Alex Morgan', email: 'alex@example.com', password: 'correct-horse-battery' };
const LIVE_TIMEOUT_MS = 20_000;

let smtp;
after(() => smtp?.stop());

/** A real SMTP server writing a Maildir, and a config file pointing Opsdeck at it. */
async function withSmtp() {
  smtp = await startSmtp();
  return { args: smtp.args };
}

let server;
let page;
const w = walk({ screenshotPrefix: 'oncall-', ready: (r) => ({ server, page } = r), serverOptions: withSmtp });
const { step, shot, go, submitTo, clickAndLoad, text } = w;
const squash = (s) => s.replace(/\s+/g, ' ').trim();
let key = '';
let scheduleUrl = '';

step('first-run setup, a second person, and an e-mail contact method', async () => {
  await go('/');
  await page.waitForURL(pathIs('/setup'));
  await page.fill('input[name=username]', ADMIN.username);
  await page.fill('input[name=display_name]', ADMIN.display_name);
  await page.fill('input[name=email]', ADMIN.email);
  await page.fill('input[name=password]', ADMIN.password);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await submitTo('form[action="/setup"] button[type=submit]', '/');
  const res = await page.request.post(`${server.url}/api/v1/users`, { data: { username: 'bob', password: 'bob password 1', role: 'responder' } });
  assert.equal(res.status(), 201);

  await go('/settings/notifications');
  assert.match(await text('main'), /None yet/);
  await page.selectOption('#contact-form select[name=kind]', 'email');
  await page.fill('#contact-form input[name=address]', 'alex@example.com');
  await submitTo('#contact-form button[type=submit]', '/settings/notifications');
  assert.match(squash(await page.locator('#contact-methods').innerText()), /email alex@example.com/);
});

step('build a two-layer schedule with an override and see its timeline', async () => {
  await go('/oncall');
  assert.equal(await text('section.empty h2'), 'No schedules yet');
  await page.fill('#new-schedule input[name=name]', 'Primary');
  await page.fill('#new-schedule input[name=timezone]', 'Europe/Berlin');
  await Promise.all([page.waitForURL((u) => /^\/oncall\/[0-9a-f-]{36}$/.test(u.pathname)), page.click('#new-schedule button[type=submit]')]);
  scheduleUrl = new URL(page.url()).pathname;

  // Layer 1: the admin, weekly. Layer 2: bob on weekdays 09:00-17:00.
  await page.fill('#layer-form input[name=name]', 'Weekly');
  await page.selectOption('#layer-form select[name=users] >> nth=0', { label: ADMIN.display_name });
  await submitTo('#layer-form button[type=submit]', scheduleUrl);
  assert.equal(await text('.flash.ok'), 'Layer added');
  await page.fill('#layer-form input[name=name]', 'Business hours');
  await page.selectOption('#layer-form select[name=users] >> nth=0', { label: 'bob' });
  await page.selectOption('#layer-form select[name=unit]', 'days');
  for (const d of ['Mon', 'Tue', 'Wed', 'Thu', 'Fri']) await page.check(`#layer-form input[name=days][value=${d}]`);
  await page.fill('#layer-form input[name=from_time]', '09:00');
  await page.fill('#layer-form input[name=to_time]', '17:00');
  await submitTo('#layer-form button[type=submit]', scheduleUrl);
  assert.match(squash(await page.locator('#layers').innerText()), /Weekly — Alex Morgan.*Business hours — bob/);

  // The override dialog: bob covers tomorrow night.
  await page.click('#override-btn');
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  await page.selectOption('#override-form select[name=user_id]', { label: 'bob' });
  await page.fill('#override-form input[name=starts]', `${tomorrow}T20:00`);
  await page.fill('#override-form input[name=ends]', `${tomorrow}T23:00`);
  await submitTo('#override-form button[type=submit]', scheduleUrl);
  assert.equal(await text('.flash.ok'), 'Override added');
  assert.match(await text('#overrides'), /bob covers/);

  const svg = page.locator('#schedule-timeline svg');
  const rows = await svg.locator('text.rowlbl').allTextContents();
  assert.deepEqual(rows, ['Weekly', 'Business hours', 'Overrides', 'Final']);
  assert.ok(await svg.locator('rect.shift').count() >= 4, 'shifts are drawn');
  assert.match(await text('#oncall-now'), /^(Alex Morgan|bob)$/);
  await shot('01-schedule');
});

step('an escalation policy pages the schedule for a service', async () => {
  await go('/escalation-policies');
  await page.fill('#policy-form input[name=name]', 'Payments escalation');
  await page.selectOption('#policy-form select[name=level1] >> nth=0', { label: 'Schedule: Primary' });
  await submitTo('#save-policy', '/escalation-policies');
  assert.match(await text('.flash.ok'), /Policy Payments escalation created/);
  // Edit it: the form comes back filled in.
  await page.click('a[href*="?edit="]');
  await page.waitForURL((u) => u.pathname === '/escalation-policies' && u.searchParams.has('edit'));
  assert.equal(await page.inputValue('#policy-form input[name=name]'), 'Payments escalation');
  assert.equal(await page.inputValue('#policy-form input[name=delay1]'), '15');
  await page.fill('#policy-form input[name=delay1]', '20');
  await submitTo('#save-policy', '/escalation-policies');
  assert.match(await text('.flash.ok'), /Policy Payments escalation saved/);
  // One level run once: nothing follows it, so no dangling "then after 20 min".
  assert.equal(squash(await page.locator('ol.levels').first().innerText()), 'Schedule: Primary');
  await page.click('a[href*="?edit="]');
  await page.waitForURL((u) => u.pathname === '/escalation-policies' && u.searchParams.has('edit'));
  assert.equal(await page.inputValue('#policy-form input[name=delay1]'), '20');

  await go('/services/new');
  await page.fill('input[name=name]', 'Payments API');
  await submitTo('form[action="/services"] button[type=submit]', '/services/payments-api');
  await page.selectOption('#policy-select select[name=policy_id]', { label: 'Payments escalation' });
  await submitTo('#policy-select button[type=submit]', '/services/payments-api');
  assert.match(squash(await page.locator('#service-oncall').innerText()), /Level 1: (Alex Morgan|bob)/);

  await go('/services/payments-api/integrations');
  await page.selectOption('#new-integration select[name=kind]', 'pagerduty');
  await clickAndLoad('#new-integration button[type=submit]');
  key = await text('#integration-key');
  assert.match(key, /^[0-9a-f]{32}$/);
});

step('an incident fills the delivery log live; the e-mail link acknowledges it', async () => {
  // Make sure the admin is the one on call: an override covering now.
  const now = new Date();
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  const sched = scheduleUrl.split('/').pop();
  const users = await (await page.request.get(`${server.url}/api/v1/users`)).json();
  const admin = users.items.find((u) => u.username === 'admin');
  const res = await page.request.post(`${server.url}/api/v1/schedules/${sched}/overrides`, {
    data: { user_id: admin.id, start: new Date(now.getTime() - 60_000).toISOString(), end: new Date(now.getTime() + 3_600_000).toISOString() },
  });
  assert.equal(res.status(), 201, local(now));

  const { stdout } = await run('curl', ['-sS', '-X', 'POST', `${server.url}/v2/enqueue`, '-H', 'Content-Type: application/json',
    '-d', JSON.stringify({ routing_key: key, event_action: 'trigger', dedup_key: 'pay/5xx',
      payload: { summary: 'Payments 5xx above 5%', source: 'api-1', severity: 'critical' } })]);
  assert.equal(JSON.parse(stdout).status, 'success');

  await go('/incidents/INC-1');
  await page.locator('#live-status.on').waitFor();
  const sent = page.locator('#delivery-log tbody tr').filter({ hasText: 'sent' });
  await sent.first().waitFor({ timeout: LIVE_TIMEOUT_MS });
  assert.match(squash(await page.locator('#delivery-log').innerText()), /1 admin \(email\) sent 1/);
  assert.match(await page.locator('#timeline').textContent(), /Escalation level 1: notifying admin/);
  await shot('02-delivery-log');

  // Read the e-mail from the SMTP server's Maildir and follow its acknowledge link.
  const [raw] = await smtp.waitFor('the page e-mail', (all) => all.length > 0);
  assert.match(raw, /Subject: \[SEV1\] INC-1 triggered: Payments 5xx above 5%/);
  const body = raw;
  const link = body.split(/\r?\n/).find((l) => l.startsWith('Acknowledge: ')).slice('Acknowledge: '.length).trim();
  await page.goto(link);
  assert.match(await text('main h1'), /INC-1: Payments 5xx above 5%/);
  await shot('03-ack-link');
  await clickAndLoad('#link-action');
  assert.equal(await text('#link-status'), 'acknowledged');

  await go('/incidents/INC-1');
  assert.equal(await text('#incident-status'), 'acknowledged');
  assert.match(await page.locator('#timeline').textContent(), /Acknowledged by admin \(link in a notification\)/);
  await shot('04-acknowledged');
});
