// Change management in a real browser: a normal change raised on a tier-1 service's database
// shows its risk and a conflict with a change on a related CI before it is saved; the conflict
// is accepted with a reason; two CAB members approve it from their own sessions, which
// schedules it; its window silences the database's monitor; it is closed as unsuccessful and
// the change success rate on the KPI dashboard moves. Desktop, phone and dark screenshots with
// E2E_SCREENSHOTS=1.
//
//   cd e2e && OPSDECK_BIN=… node --test --test-concurrency=1 tests/changes.test.mjs

import assert from 'node:assert/strict';
import net from 'node:net';
import { pathIs, walk } from '../lib/walk.mjs';

const ADMIN = { username: 'admin', display_name: 'Alex Morgan', email: 'alex@example.com', password: 'correct-horse-battery' };
const CAB = ['cab-ana', 'cab-ben', 'cab-cho'];
const LIVE_TIMEOUT_MS = 30_000;

let server;
let page;
let browser;
const w = walk({ screenshotPrefix: 'changes-', ready: (r) => ({ server, page, browser } = r) });
const { step, shot, go, submitTo, clickAndLoad, text } = w;
const text_ = text;

let monitorId = '';
let other = '';
let number = '';

/** An API call with the page's session. */
async function api(method, path, data) {
  const res = await page.request.fetch(`${server.url}${path}`, { method, data });
  const body = await res.text();
  assert.ok(res.ok(), `${method} ${path}: ${res.status()} ${body}`);
  return body ? JSON.parse(body) : null;
}

/** A port nothing listens on: the monitor's checks fail. */
async function closedPort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** `YYYY-MM-DDTHH:MM` in UTC, `minutes` from now (the form's default time zone). */
function local(minutes) {
  return new Date(Date.now() + minutes * 60_000).toISOString().slice(0, 16);
}

/** A second browser session signed in as `username`. */
async function session(username) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const p = await ctx.newPage();
  await p.goto(`${server.url}/login`);
  await p.fill('input[name=username]', username);
  await p.fill('input[name=password]', `password-of-${username}`);
  await Promise.all([p.waitForEvent('load'), p.click('button[type=submit]')]);
  return { ctx, p };
}

async function phoneAndDark(name) {
  if (process.env.E2E_SCREENSHOTS !== '1') return;
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(`${name}-phone`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(`${name}-phone-dark`);
  await page.setViewportSize({ width: 1280, height: 900 });
  await shot(`${name}-dark`);
  await page.emulateMedia({ colorScheme: 'light' });
}

step('first-run setup creates the admin', async () => {
  await go('/');
  await page.waitForURL(pathIs('/setup'));
  for (const [k, v] of Object.entries(ADMIN)) await page.fill(`input[name=${k}]`, v);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await submitTo('form[action="/setup"] button[type=submit]', '/');
});

step('the changes page starts empty, and so does the calendar', async () => {
  await page.click('#nav a[href="/changes"]');
  await page.waitForURL(pathIs('/changes'));
  assert.equal(await text('#no-changes h2'), 'No changes here');
  await shot('01-empty');
  await go('/changes/calendar');
  assert.ok((await page.locator('#calendar td').count()) >= 28);
  assert.match(await page.inputValue('#feed-url'), /\/api\/v1\/changes\/calendar\.ics\?token=/);
  await shot('02-calendar-empty');
  await phoneAndDark('02-calendar-empty');
});

step('a tier-1 service, its CIs, a monitor, a CAB rule and a change on a related CI', async () => {
  const cab = [];
  for (const u of CAB) {
    const created = await api('POST', '/api/v1/users', { username: u, password: `password-of-${u}`, role: 'viewer' });
    cab.push(created.id);
  }
  const svc = await api('POST', '/api/v1/services', { name: 'Payments', tier: 1 });
  const svcCi = await api('POST', '/api/v1/cis', { name: 'Payments', class: 'business_service', service_id: svc.id });
  const db = await api('POST', '/api/v1/cis', { name: 'pay-db', class: 'database' });
  const app = await api('POST', '/api/v1/cis', { name: 'pay-app', class: 'application' });
  for (const from of [svcCi, app]) {
    await api('POST', '/api/v1/ci-relations', { source_id: from.id, target_id: db.id, type: 'depends_on' });
  }
  const port = await closedPort();
  const m = await api('POST', '/api/v1/monitors', { name: 'pay-db port', type: 'tcp', interval_seconds: 2, settings: { host: '127.0.0.1', port } });
  monitorId = m.id;
  await page.request.fetch(`${server.url}/api/v1/cis/${db.id}/monitors/${m.id}`, { method: 'PUT', data: {} });
  await api('POST', '/api/v1/change-rules', { name: 'CAB', min_risk: 'moderate', approvers: cab, required: 2 });
  const c = await api('POST', '/api/v1/changes', { title: 'Deploy pay-app 2.4', ci_ids: [app.id], planned_start: new Date(Date.now() + 60_000).toISOString(), planned_end: new Date(Date.now() + 20 * 60_000).toISOString() });
  other = c.number;
  for (const a of ['submit', 'submit', 'schedule']) await api('POST', `/api/v1/changes/${c.id}/${a}`, {});
  await go('/changes/rules');
  assert.match(await text('#rules-table'), /2 of cab-ana, cab-ben, cab-cho/);
  await shot('03-rules');
});

step('the form shows the risk and the conflict as it is typed, before anything is saved', async () => {
  await go('/changes');
  await submitTo('#new-change', '/changes/new');
  await page.fill('#change-form input[name=title]', 'Upgrade Postgres 15 to 16 on pay-db');
  await page.fill('#change-form textarea[name=cis]', 'pay-db');
  await page.fill('#change-form input[name=planned_start]', local(-1));
  await page.fill('#change-form input[name=planned_end]', local(30));
  await page.selectOption('#change-form select[name=answer_tested]', 'partly');
  await page.fill('#change-form textarea[name=backout_plan]', 'Restore the snapshot taken before the upgrade.');
  // No click: the check follows the typing.
  await page.waitForFunction((n) => document.getElementById('check-conflicts')?.textContent.includes(n), other,
    { timeout: LIVE_TIMEOUT_MS });
  assert.equal(new URL(page.url()).pathname, '/changes/new', 'nothing was submitted');
  assert.match(await text('#risk-check h2'), /moderate/);
  assert.match(await text('#risk-check'), /tier-1/);
  assert.match(await text('#check-conflicts'), new RegExp(`${other} is scheduled at the same time on pay-app`));
  await shot('04-risk-check');
  await phoneAndDark('04-risk-check');
  await page.click('#change-form button.primary');
  await page.waitForURL((u) => /^\/changes\/\d+$/.test(u.pathname));
  number = `CHG-${new URL(page.url()).pathname.split('/').pop()}`;
  assert.match(await text('main h1'), new RegExp(`${number} Upgrade Postgres`));
  assert.equal(await text('#change-state'), 'new');
  assert.match(await text('#change-cis'), /Payments/, 'the impacted service is filled in from the CMDB');
  await shot('05-raised');
});

step('submitted twice it awaits authorisation; the conflict is accepted with a reason', async () => {
  await clickAndLoad('#move-submit');
  assert.equal(await text('#change-state'), 'assess');
  await clickAndLoad('#move-submit');
  assert.equal(await text('#change-state'), 'authorize');
  await clickAndLoad('#move-schedule');
  assert.match(await text('.flash'), /approvals missing: CAB: 0 of 2 approvals/);
  await page.fill('#conflict-list input[name=reason]', 'The app deploy only reads from the database');
  await clickAndLoad('#conflict-list button[type=submit]');
  assert.match(await text('#conflict-list'), /Accepted by Alex Morgan: The app deploy only reads/);
  await shot('06-awaiting-approval');
  await phoneAndDark('06-awaiting-approval');
});

step('two CAB members approve from their own sessions, which schedules it', async () => {
  for (const [i, u] of CAB.slice(0, 2).entries()) {
    const { ctx, p } = await session(u);
    await p.goto(`${server.url}/changes?view=approvals`);
    assert.match((await p.locator('#changes-table').textContent()) ?? '', new RegExp(number));
    await Promise.all([p.waitForEvent('load'), p.click(`#changes-table a[href$="/${number.slice(4)}"]`)]);
    await p.fill('#decide-form input[name=comment]', i === 0 ? 'Backout plan is sound' : '');
    await Promise.all([p.waitForEvent('load'), p.click('#approve')]);
    const state = ((await p.locator('#change-state').textContent()) ?? '').trim();
    assert.equal(state, i === 0 ? 'authorize' : 'scheduled', `after ${u}`);
    if (i === 0 && process.env.E2E_SCREENSHOTS === '1') await p.screenshot({ path: 'screenshots/changes-07-approver.png', fullPage: true });
    await ctx.close();
  }
  await go(`/changes/${number.slice(4)}`);
  assert.equal(await text('#change-state'), 'scheduled');
  assert.match(await text('#approvals'), /Every approval its rules want is in/);
  await shot('08-scheduled');
});

step('its window silences the database monitor', async () => {
  await page.waitForFunction(async (id) => {
    const r = await fetch(`/api/v1/monitors/${id}`);
    return (await r.json()).state === 'maintenance';
  }, monitorId, { timeout: LIVE_TIMEOUT_MS, polling: 500 });
  await go(`/monitors/${monitorId}`);
  await shot('09-monitor-in-maintenance');
});

step('the calendar shows both changes', async () => {
  await go('/changes/calendar');
  assert.match(await text('#calendar'), new RegExp(number));
  assert.match(await text('#calendar'), new RegExp(other));
  await shot('10-calendar');
  await go('/changes/calendar?week=' + new Date().toISOString().slice(0, 10));
  assert.equal(await page.locator('#calendar td').count(), 7);
  await phoneAndDark('10-calendar-week');
});

step('closed as unsuccessful, the change success rate moves', async () => {
  const o = await api('GET', `/api/v1/changes/${other}`);
  for (const a of ['implement', 'review']) await api('POST', `/api/v1/changes/${o.id}/${a}`, {});
  await api('POST', `/api/v1/changes/${o.id}/close`, { close_code: 'successful' });
  await go('/reports');
  const tile = page.locator('.kpi-tiles > *', { hasText: 'Change success rate' });
  assert.match((await tile.textContent()) ?? '', /100\s%/);
  await go(`/changes/${number.slice(4)}`);
  await clickAndLoad('#move-implement');
  await clickAndLoad('#move-review');
  await page.selectOption('#close-form select[name=close_code]', 'unsuccessful');
  await page.fill('#close-form input[name=comment]', 'Replication lag; rolled forward after the window');
  await clickAndLoad('#close-form button[type=submit]');
  assert.equal(await text('#change-state'), 'closed');
  assert.match(await text('#close-code'), /Unsuccessful/);
  await shot('11-closed');
  await go('/reports');
  assert.match((await tile.textContent()) ?? '', /50\s%/);
  await shot('12-kpi');
  await go('/changes?view=closed');
  await shot('13-closed-list');
  await phoneAndDark('13-closed-list');
});

step('bad input is named on the form', async () => {
  await go('/changes/new');
  await page.fill('#change-form input[name=title]', 'Backwards');
  await page.fill('#change-form input[name=planned_start]', local(60));
  await page.fill('#change-form input[name=planned_end]', local(30));
  await clickAndLoad('#change-form button.primary');
  assert.match(await text('#form-error'), /Planned end: must be after the planned start/);
  await shot('14-form-error');
  await go('/changes/windows');
  assert.equal(await text('#no-windows h2'), 'No windows or freezes');
  await page.fill('#window-form input[name=name]', 'Year-end freeze');
  await page.selectOption('#window-form select[name=kind]', 'freeze');
  await page.fill('#window-form input[name=starts_at]', local(60 * 24 * 10));
  await page.fill('#window-form input[name=ends_at]', local(60 * 24 * 12));
  await clickAndLoad('#window-form button[type=submit]');
  assert.match(await text('#windows-table'), /Year-end freeze/);
  await shot('15-windows');
  await phoneAndDark('15-windows');
});

step('a standard change is raised from a pre-approved template', async () => {
  await go('/changes/templates');
  assert.equal(await text('#no-templates h2'), 'No templates yet');
  await shot('16-templates-empty');
  await page.fill('#template-form input[name=name]', 'Renew the status page certificate');
  await page.fill('#template-form input[name=duration_minutes]', '15');
  await page.fill('#template-form textarea[name=backout_plan]', 'Put the old certificate back');
  await clickAndLoad('#template-form button[type=submit]');
  assert.match(await text('#templates-table'), /Renew the status page certificate/);
  await shot('17-templates');
  await phoneAndDark('17-templates');
  await clickAndLoad('#templates-table a.btn');
  assert.equal(await page.inputValue('#change-form input[name=title]'), 'Renew the status page certificate');
  await page.fill('#change-form input[name=planned_start]', local(60 * 24 * 3));
  await page.click('#change-form button.primary');
  await page.waitForURL((u) => /^\/changes\/\d+$/.test(u.pathname));
  assert.match(await text('#change-template-name'), /Renew the status page certificate/);
  assert.equal(await text('#change-state'), 'new');
  await clickAndLoad('#move-submit');
  assert.equal(await text('#change-state'), 'scheduled', 'pre-approved: straight to the calendar');
  await shot('18-standard-change');
});

step('risk questions are edited as text, a bad line named by its number', async () => {
  await go('/changes/rules');
  await clickAndLoad('#risk-questions-link');
  const box = '#questionnaire-form textarea[name=questions]';
  const text = await page.inputValue(box);
  assert.match(text, /^tested: /m);
  await page.fill(box, `${text}rollback: Is the rollback automated?\n  yes = Yes | 0\n  no = No\n`);
  await clickAndLoad('#questionnaire-form button[type=submit]');
  assert.match(await text_('#form-error'), /line \d+: give the option's points after a \|/);
  await shot('21-questions-error');
  await page.fill(box, `${text}rollback: Is the rollback automated?\n  yes = Yes | 0\n  no = No | 20\n`);
  await clickAndLoad('#questionnaire-form button[type=submit]');
  assert.match(await page.inputValue(box), /no = No \| 20/);
  await shot('22-questions');
  await phoneAndDark('22-questions');
});

step('a lockdown puts changes on hold until it is lifted', async () => {
  await go('/changes/windows');
  await page.fill('#lockdown-form input[name=reason]', 'Major incident on payments');
  await clickAndLoad('#lockdown-form button[type=submit]');
  assert.match(await text('#lockdown-active'), /Major incident on payments/);
  await shot('19-lockdown');
  await go('/changes');
  assert.match(await text('#lockdown-banner'), /locked down: Major incident on payments/);
  await shot('20-lockdown-list');
  await phoneAndDark('20-lockdown-list');
  await go('/changes/windows');
  page.once('dialog', (d) => d.accept());
  await clickAndLoad('#lockdown-lift');
  assert.equal(await page.locator('#lockdown-active').count(), 0);
  assert.equal(await page.locator('#lockdown-form').count(), 1);
});
