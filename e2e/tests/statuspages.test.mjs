// Status pages in a real browser: a page built on the editor from a service whose HTTP monitor
// checks a real target started by this test. When the target stops, the public page (read by a
// visitor without a session, reloading as a browser does) must show the component down within
// 5 s of the monitor turning down; an update posted from the incident page must appear on the
// public page and in statuspage.io's summary.json, and reach by e-mail (a real SMTP server,
// Python's aiosmtpd) the visitor who subscribed to that component and not the one who chose
// another; the e-mail's unsubscribe link works.
//
//   cd e2e && OPSDECK_BIN=… node --test --test-concurrency=1 tests/
//
// The steps share one server and run in order. E2E_SCREENSHOTS=1 saves screenshots (desktop and
// phone) to e2e/screenshots/.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after } from 'node:test';
import { Statuspage } from 'statuspage.io';
import { lineAfter, startSmtp, to } from '../lib/smtp.mjs';
import { pathIs, walk } from '../lib/walk.mjs';

const ADMIN = { username: 'admin', display_name: 'Sam Lee', email: 'sam@example.com', password: 'correct-horse-battery' };
// The monitor checks every second; after it turns down the page may take its 2 s rendering
// reuse plus the browser's 2 s cache: the acceptance bound is 5 s.
const VISIBLE_WITHIN_MS = 5_000;
const DOWN_TIMEOUT_MS = 20_000;

let server;
let page;
let smtp;
async function withSmtp() {
  smtp = await startSmtp();
  return { args: smtp.args };
}
const w = walk({ screenshotPrefix: 'status-', ready: (r) => ({ server, page } = r), serverOptions: withSmtp });
const { step, shot, go, submitTo, text } = w;
let target;
let visitor;
const state = {};
/** Stops the target, kept-alive connections included (so checks get "connection refused"). */
async function stopTarget() {
  if (!target) return;
  const closing = new Promise((resolve) => target.close(() => resolve()));
  target.closeAllConnections();
  target = null;
  await closing;
}
after(async () => {
  smtp?.stop();
  await visitor?.close();
  await stopTarget();
});

/** A JSON API call from the signed-in page (same origin, session cookie). */
async function api(method, path, body) {
  return page.evaluate(async ([m, p, b]) => {
    const res = await fetch(p, { method: m, headers: { 'content-type': 'application/json' }, body: b && JSON.stringify(b) });
    return { status: res.status, body: await res.json().catch(() => null) };
  }, [method, path, body]);
}

step('setup, a service and an HTTP monitor against a real target', async () => {
  await go('/');
  await page.waitForURL(pathIs('/setup'));
  await page.fill('input[name=username]', ADMIN.username);
  await page.fill('input[name=display_name]', ADMIN.display_name);
  await page.fill('input[name=email]', ADMIN.email);
  await page.fill('input[name=password]', ADMIN.password);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await submitTo('form[action="/setup"] button[type=submit]', '/');

  target = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  await new Promise((resolve) => target.listen(0, '127.0.0.1', resolve));
  const svc = await api('POST', '/api/v1/services', { name: 'Checkout' });
  assert.equal(svc.status, 201, JSON.stringify(svc.body));
  const mon = await api('POST', '/api/v1/monitors', {
    name: 'Checkout health', service_id: svc.body.id, type: 'http', interval_seconds: 1, timeout_seconds: 1,
    down_after: 1, settings: { url: `http://127.0.0.1:${target.address().port}/` },
  });
  assert.equal(mon.status, 201, JSON.stringify(mon.body));
  state.monitor = mon.body.id;
});

step('a page is built on the editor', async () => {
  await go('/status-pages');
  assert.equal(await text('section.empty h2'), 'No status pages yet');
  await shot('01-empty');
  await page.fill('#new-status-page input[name=title]', 'Shop Status');
  await page.fill('#new-status-page input[name=slug]', 'shop');
  await w.clickAndLoad('#new-status-page button[type=submit]');
  assert.match(new URL(page.url()).pathname, /^\/status-pages\/[0-9a-f-]{36}$/);
  assert.equal(await text('.flash.ok'), 'Status page shop created');

  await page.fill('#add-component input[name=name]', 'Checkout');
  await page.fill('#add-component input[name=group]', 'Shop');
  await page.selectOption('#add-component select[name=service_id]', { label: 'Checkout' });
  await w.clickAndLoad('#add-component button[type=submit]');
  assert.equal(await text('.flash.ok'), 'Component Checkout added');
  assert.match(await text('#components-table'), /follows service Checkout/);
  await page.fill('#add-component input[name=name]', 'Search');
  await w.clickAndLoad('#add-component button[type=submit]');
  assert.equal(await text('.flash.ok'), 'Component Search added');
  await shot('02-editor');
});

step('visitors subscribe by e-mail, one to each component, and confirm', async () => {
  const ctx = await w.browser.newContext({ viewport: { width: 390, height: 844 } });
  const vpage = await ctx.newPage();
  for (const [email, component] of [['ana@example.com', 'Checkout'], ['ben@example.com', 'Search']]) {
    await vpage.goto(`${server.url}/status/shop`);
    await vpage.fill('#sub-email', email);
    await vpage.locator('.sp-subscribe summary').click();
    await vpage.locator('.sp-choice', { hasText: component }).locator('input').check();
    if (email.startsWith('ana') && process.env.E2E_SCREENSHOTS === '1') {
      await vpage.screenshot({ path: 'screenshots/status-02b-subscribe-phone.png', fullPage: true });
    }
    await Promise.all([vpage.waitForLoadState('load'), vpage.locator('.sp-subscribe button[type=submit]').click()]);
    assert.equal((await vpage.locator('h1').textContent()).trim(), 'Check your inbox');
  }
  const all = await smtp.waitFor('two confirmation messages', (m) => m.length >= 2);
  for (const address of ['ana@example.com', 'ben@example.com']) {
    const [mail] = to(all, address);
    assert.match(mail, /Subject: Confirm your subscription to Shop Status/);
    await vpage.goto(lineAfter(mail, 'Confirm the subscription: '));
    assert.equal((await vpage.locator('h1').textContent()).trim(), 'Subscribed');
  }
  if (process.env.E2E_SCREENSHOTS === '1') await vpage.screenshot({ path: 'screenshots/status-02c-confirmed-phone.png' });
  await ctx.close();
});

step('a visitor sees the component down within 5 s of its monitor failing', async () => {
  visitor = await w.browser.newContext({ viewport: { width: 390, height: 844 } });
  const vpage = await visitor.newPage();
  const res = await vpage.goto(`${server.url}/status/shop`);
  assert.equal(res.status(), 200);
  assert.equal((await vpage.locator('h1').textContent()).trim(), 'Shop Status');
  assert.match(await vpage.locator('.sp-components').textContent(), /Checkout/);

  await stopTarget();
  // The moment the monitor is down, as the API reports it.
  const started = Date.now();
  let downAt = null;
  while (Date.now() - started < DOWN_TIMEOUT_MS) {
    const m = await api('GET', `/api/v1/monitors/${state.monitor}`);
    if (m.body?.state === 'down') {
      downAt = Date.now();
      break;
    }
    await page.waitForTimeout(100);
  }
  assert.ok(downAt, 'the monitor went down');
  // The visitor reloads as a browser does (its cache and the ETag apply).
  let seen = null;
  while (Date.now() - downAt < VISIBLE_WITHIN_MS + 2_000) {
    await vpage.reload();
    if (/Major outage/.test(await vpage.locator('main').textContent())) {
      seen = Date.now();
      break;
    }
    await vpage.waitForTimeout(250);
  }
  assert.ok(seen, 'the public page showed the outage');
  assert.ok(seen - downAt <= VISIBLE_WITHIN_MS, `shown ${seen - downAt} ms after the monitor went down`);
  assert.equal((await vpage.locator('.sp-banner h2').textContent()).trim(), 'Major System Outage');
  if (process.env.E2E_SCREENSHOTS === '1') await vpage.screenshot({ path: 'screenshots/status-03-public-phone.png', fullPage: true });
  await vpage.close();
});

step('the uptime history opens from the page: today counts the checks, and it fits a phone', async () => {
  const ctx = await w.browser.newContext({ viewport: { width: 390, height: 844 } });
  const vpage = await ctx.newPage();
  await vpage.goto(`${server.url}/status/shop`);
  await Promise.all([vpage.waitForLoadState('load'), vpage.getByRole('link', { name: 'Uptime history by month' }).click()]);
  assert.match(await vpage.locator('.sp-pager h2').textContent(), /^Uptime, /);
  const checkout = vpage.locator('.sp-uptime-card', { hasText: 'Checkout' });
  // The monitor was checked today (up, then down): today's square has data, older ones none.
  const today = checkout.locator('.sp-month').last().locator('.sp-cal li:not(.blank)').last();
  assert.notEqual(await today.getAttribute('class'), 'c-empty');
  assert.match(await today.getAttribute('title'), /checks failed\)$/);
  assert.match(await checkout.locator('.sp-month').first().textContent(), /no data/);
  const sideways = await vpage.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(sideways, false, 'no sideways scroll at 390 px');
  if (process.env.E2E_SCREENSHOTS === '1') await vpage.screenshot({ path: 'screenshots/status-03b-uptime-phone.png' });
  await Promise.all([vpage.waitForLoadState('load'), vpage.getByRole('link', { name: '← Earlier' }).click()]);
  assert.match(vpage.url(), /uptime\?page=1$/);
  await ctx.close();
});

step('an update posted from the incident page reaches the public page', async () => {
  // The monitor's alert opened an incident on the service.
  let incident = null;
  const started = Date.now();
  while (!incident && Date.now() - started < DOWN_TIMEOUT_MS) {
    const list = await api('GET', '/api/v1/incidents?open=true');
    incident = list.body?.items?.[0] ?? null;
    if (!incident) await page.waitForTimeout(200);
  }
  assert.ok(incident, 'an incident was opened');
  await go(`/incidents/${incident.number}`);
  const form = page.locator('#public-update-shop');
  // Nothing is posted yet, so the page's form is folded away.
  assert.equal(await form.isVisible(), false);
  await page.locator('#public-updates details summary', { hasText: 'Shop Status' }).click();
  // The public title starts as the internal one; visitors get a plainer one.
  assert.equal(await form.locator('input[name=name]').inputValue(), incident.title);
  await form.locator('input[name=name]').fill('Card payments failing');
  await form.locator('select[name=status]').selectOption('identified');
  await form.locator('textarea[name=body]').fill('Card payments fail; a fix is rolling out.');
  await form.getByLabel('Checkout', { exact: false }).first().selectOption('partial_outage');
  await w.clickAndLoad('#public-update-shop button');
  assert.equal(await text('.flash.ok'), 'Posted to the status page: Identified');
  assert.match(await text('#timeline'), /On status page Shop Status \(identified\): Card payments fail/);
  await shot('04-incident');

  const vpage = await visitor.newPage();
  await vpage.setViewportSize({ width: 1280, height: 900 });
  let shown = false;
  const t0 = Date.now();
  while (!shown && Date.now() - t0 < VISIBLE_WITHIN_MS) {
    await vpage.goto(`${server.url}/status/shop`);
    shown = /Card payments fail; a fix is rolling out\./.test(await vpage.locator('main').textContent());
    if (!shown) await vpage.waitForTimeout(250);
  }
  assert.ok(shown, 'the update is on the public page');
  if (process.env.E2E_SCREENSHOTS === '1') await vpage.screenshot({ path: 'screenshots/status-05-public-desktop.png', fullPage: true });
  const summary = await (await vpage.request.get(`${server.url}/status/shop/api/v2/summary.json`)).json();
  assert.equal(summary.incidents[0].status, 'identified');
  assert.equal(summary.incidents[0].name, 'Card payments failing');
  assert.equal(summary.incidents[0].incident_updates[0].body, 'Card payments fail; a fix is rolling out.');
  assert.equal(summary.status.indicator, 'critical');
});

step('the update reaches the Checkout subscriber by e-mail, not the Search one; unsubscribe works', async () => {
  const all = await smtp.waitFor('the update e-mail', (m) => to(m, 'ana@example.com').length >= 2);
  const update = to(all, 'ana@example.com').find((m) => /Card payments fail; a fix/.test(m));
  assert.ok(update, 'the update e-mail');
  assert.match(update, /Subject: \[Shop Status\] Card payments failing/);
  assert.match(update, /Card payments fail; a fix is rolling out\./);
  assert.match(update, /List-Unsubscribe-Post: List-Unsubscribe=One-Click/);
  assert.equal(to(all, 'ben@example.com').length, 1, 'Ben follows Search: only his confirmation');

  const vpage = await visitor.newPage();
  await vpage.goto(lineAfter(update, 'Unsubscribe: '));
  assert.equal((await vpage.locator('h1').textContent()).trim(), 'Unsubscribe');
  await Promise.all([vpage.waitForLoadState('load'), vpage.locator('form button[type=submit]').click()]);
  assert.equal((await vpage.locator('h1').textContent()).trim(), 'Unsubscribed');
  if (process.env.E2E_SCREENSHOTS === '1') await vpage.screenshot({ path: 'screenshots/status-06-unsubscribed-phone.png' });
  const pages = await api('GET', '/api/v1/status-pages');
  const subs = await api('GET', `/api/v1/status-pages/${pages.body.items[0].id}/subscribers`);
  assert.deepEqual(subs.body.items.map((x) => x.address), ['ben@example.com']);
  await go(`/status-pages/${pages.body.items[0].id}`);
  assert.match(await text('#subscribers'), /1 subscriber\(s\), 1 confirmed/);
  await shot('07-editor-subscribers');
});

step('an existing statuspage.io client (npm statuspage.io) reads the page unchanged', async () => {
  const client = new Statuspage('shop');
  client.setApiUrl(`${server.url}/status/shop`);
  const summary = await client.api.getSummary();
  assert.equal(summary.page.name, 'Shop Status');
  assert.equal(summary.status.indicator, 'critical');
  const checkout = summary.components.find((c) => c.name === 'Checkout');
  assert.equal(checkout.status, 'major_outage');
  const status = await client.api.getStatus();
  assert.equal(status.status.description, 'Major System Outage');
  const { components } = await client.api.getComponents();
  assert.deepEqual(components.map((c) => c.name).sort(), ['Checkout', 'Search', 'Shop']);
  const unresolved = await client.api.incidents.getUnresolved();
  assert.equal(unresolved.incidents[0].name, 'Card payments failing');
  assert.equal(unresolved.incidents[0].incident_updates[0].status, 'identified');
  const all = await client.api.incidents.getAll();
  assert.ok(all.incidents.length >= 1);
  const maint = await client.api.scheduledMaintenances.getAll();
  assert.deepEqual(maint.scheduled_maintenances, []);
});

step('the page, added as a vendor, is read back by Opsdeck\'s own poller', async () => {
  await go('/vendors');
  assert.equal(await text('section.empty h2'), 'No vendors yet');
  await page.fill('#new-vendor input[name=name]', 'Shop (ourselves)');
  await page.fill('#new-vendor input[name=url]', `${server.url}/status/shop`);
  await w.clickAndLoad('#new-vendor button[type=submit]');
  assert.match(await text('.flash.ok'), /Vendor Shop \(ourselves\) added/);
  const vendorUrl = page.url();
  let status = '';
  for (let i = 0; i < 50 && !/Major outage/.test(status); i += 1) {
    await page.waitForTimeout(200);
    await page.goto(vendorUrl);
    status = await text('#vendor-status');
  }
  assert.match(status, /Major outage/);
  assert.match(await text('#vendor-components'), /Checkout\s*Shop\s*Major outage/);
  assert.match(await text('#vendor-incidents'), /Card payments failing/);
  await shot('09-vendor');
  await go('/vendors');
  assert.match(await text('#vendors-table'), /Shop \(ourselves\)/);
  await shot('10-vendors');
  // The overview lists the vendor in trouble and the public incident.
  await go('/');
  assert.match(await text('#home-outside'), /Shop \(ourselves\)/);
  assert.match(await text('#home-outside'), /Card payments failing/);
  await shot('11-overview');
});

step('a private page asks for its password', async () => {
  const pages = await api('GET', '/api/v1/status-pages');
  const made = await api('PUT', `/api/v1/status-pages/${pages.body.items[0].id}/access`, { password: 'staff only please' });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  const ctx = await w.browser.newContext({ viewport: { width: 390, height: 844 } });
  const vpage = await ctx.newPage();
  const res = await vpage.goto(`${server.url}/status/shop`);
  assert.equal(res.status(), 401);
  assert.doesNotMatch(await vpage.locator('main').textContent(), /Checkout/);
  await vpage.fill('#unlock input[name=password]', 'not it');
  await Promise.all([vpage.waitForLoadState('load'), vpage.locator('#unlock button').click()]);
  assert.match(await vpage.locator('main').textContent(), /That is not the password/);
  if (process.env.E2E_SCREENSHOTS === '1') await vpage.screenshot({ path: 'screenshots/status-08-private-phone.png' });
  await vpage.fill('#unlock input[name=password]', 'staff only please');
  await Promise.all([vpage.waitForURL(`${server.url}/status/shop`), vpage.locator('#unlock button').click()]);
  assert.match(await vpage.locator('.sp-components').textContent(), /Checkout/);
  await ctx.close();
});

step('a planned maintenance is announced on the page and to the subscriber of its component', async () => {
  const pages = await api('GET', '/api/v1/status-pages');
  const shop = pages.body.items[0];
  state.pageId = shop.id;
  assert.equal((await api('PUT', `/api/v1/status-pages/${shop.id}/access`, { password: null })).status, 200);
  const checkout = shop.components.find((c) => c.name === 'Checkout');
  const sub = await api('POST', `/api/v1/status-pages/${shop.id}/subscribers`,
    { email: 'cy@example.com', component_ids: [checkout.id], skip_confirmation: true });
  assert.equal(sub.status, 201, JSON.stringify(sub.body));
  const services = await api('GET', '/api/v1/services');
  const svc = services.body.items.find((s) => s.name === 'Checkout');
  const starts = new Date(Date.now() + 2 * 3600_000).toISOString();
  const win = await api('POST', '/api/v1/maintenance', {
    name: 'Database upgrade', description: 'Checkout may be slow for a few minutes.', starts_at: starts,
    duration_minutes: 60, service_ids: [svc.id],
  });
  assert.equal(win.status, 201, JSON.stringify(win.body));
  // Announced on the page at once (its rendering is reused for 2 s).
  const vpage = await visitor.newPage();
  await vpage.setViewportSize({ width: 390, height: 844 });
  let shown = false;
  const t0 = Date.now();
  while (!shown && Date.now() - t0 < VISIBLE_WITHIN_MS) {
    await vpage.goto(`${server.url}/status/shop`);
    shown = /Database upgrade/.test(await vpage.locator('main').textContent());
    if (!shown) await vpage.waitForTimeout(250);
  }
  assert.ok(shown, 'the maintenance is on the public page');
  assert.match(await vpage.locator('.sp-impact-maintenance').textContent(), /Scheduled[\s\S]*Checkout may be slow/);
  if (process.env.E2E_SCREENSHOTS === '1') await vpage.screenshot({ path: 'screenshots/status-09-maintenance-phone.png', fullPage: true });
  await vpage.close();
  const upcoming = await (await page.request.get(`${server.url}/status/shop/api/v2/scheduled-maintenances/upcoming.json`)).json();
  assert.equal(upcoming.scheduled_maintenances[0].name, 'Database upgrade');
  assert.equal(upcoming.scheduled_maintenances[0].status, 'scheduled');
  const all = await smtp.waitFor('the maintenance e-mail', (m) => to(m, 'cy@example.com').length >= 1);
  assert.match(to(all, 'cy@example.com')[0], /Subject: \[Shop Status\] Database upgrade: Scheduled/);
  assert.equal(to(all, 'ben@example.com').length, 1, 'Ben follows Search: still only his confirmation');
});

step('the editor previews settings as they are typed, before saving', async () => {
  await go(`/status-pages/${state.pageId}`);
  const frame = page.frameLocator('iframe[name=preview]');
  await frame.locator('h1').first().waitFor();
  assert.match(await frame.locator('main').textContent(), /Checkout/);
  await page.fill('#page-settings input[name=title]', 'Shop Status (draft)');
  await page.fill('#page-settings input[name=accent_color]', '#7b2cbf');
  await frame.locator('h1', { hasText: 'Shop Status (draft)' }).waitFor({ timeout: 5_000 });
  await shot('12-editor-preview');
  const saved = await api('GET', `/api/v1/status-pages/${state.pageId}`);
  assert.equal(saved.body.title, 'Shop Status', 'nothing is saved by the preview');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot('12b-editor-preview-phone');
  await page.setViewportSize({ width: 1280, height: 900 });
});

step('an incident template fills the update form on the incident page', async () => {
  await go(`/status-pages/${state.pageId}`);
  await page.fill('#add-template input[name=name]', 'Payments degraded');
  await page.fill('#add-template input[name=title]', 'Card payments are slow');
  await page.selectOption('#add-template select[name=status]', 'identified');
  await page.fill('#add-template textarea[name=body]', 'Our card processor is slow; payments take longer.');
  await page.locator('#add-template').getByLabel('Checkout', { exact: false }).first().selectOption('degraded_performance');
  await w.clickAndLoad('#add-template button[type=submit]');
  assert.equal(await text('.flash.ok'), 'Template Payments degraded added');
  assert.match(await text('#templates'), /Payments degraded/);
  await shot('13-templates');
  const list = await api('GET', '/api/v1/incidents?open=true');
  const incident = list.body.items[0];
  await go(`/incidents/${incident.number}`);
  await page.locator('.sp-template-pick select[name=template]').selectOption({ label: 'Payments degraded' });
  await w.clickAndLoad('.sp-template-pick button');
  const form = page.locator('#public-update-shop');
  assert.equal(await form.locator('textarea[name=body]').inputValue(), 'Our card processor is slow; payments take longer.');
  assert.equal(await form.locator('input[name=name]').inputValue(), 'Card payments are slow');
  assert.equal(await form.locator('select[name=status]').inputValue(), 'identified');
  await shot('14-incident-template');
});

step('a page for a team offers its members to sign in', async () => {
  const team = await api('POST', '/api/v1/teams', { name: 'Operations' });
  assert.equal(team.status, 201, JSON.stringify(team.body));
  const made = await api('PUT', `/api/v1/status-pages/${state.pageId}/access`, { team_ids: [team.body.id] });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  const ctx = await w.browser.newContext({ viewport: { width: 390, height: 844 } });
  const vpage = await ctx.newPage();
  const res = await vpage.goto(`${server.url}/status/shop`);
  assert.equal(res.status(), 401);
  assert.match(await vpage.locator('#members-only').textContent(), /sign in to see it/);
  if (process.env.E2E_SCREENSHOTS === '1') await vpage.screenshot({ path: 'screenshots/status-15-members-only-phone.png' });
  await ctx.close();
  // The admin (signed in) reads it.
  const own = await page.goto(`${server.url}/status/shop`);
  assert.equal(own.status(), 200);
  await api('PUT', `/api/v1/status-pages/${state.pageId}/access`, { team_ids: [] });
});

step('a scheduled operations report is sent now from the dashboard and arrives by e-mail', async () => {
  await go('/reports');
  await page.fill('#schedule-form input[name=name]', 'Monthly operations report');
  await page.selectOption('#schedule-form select[name=cadence]', 'monthly');
  await page.fill('#schedule-form textarea[name=recipients]', 'ops-lead@example.com');
  await submitTo('#schedule-form button[type=submit]', '/reports');
  assert.match(await text('.flash'), /Scheduled Monthly operations report/);
  const row = page.locator('#schedule-table tbody tr').filter({ hasText: 'Monthly operations report' });
  assert.match(await row.innerText(), /ops-lead@example\.com[\s\S]*not yet/);
  await shot('10-report-schedule');
  await Promise.all([page.waitForEvent('load'), row.locator('button', { hasText: 'Send now' }).click()]);
  assert.match(await text('.flash'), /Sending Monthly operations report to 1 recipient/);
  const all = await smtp.waitFor('the report e-mail', (m) => to(m, 'ops-lead@example.com').length >= 1);
  const mail = to(all, 'ops-lead@example.com')[0];
  assert.match(mail, /Subject: Operations report \d{4}-\d{2}/);
  assert.match(mail, /<h1>Operations report: \d{4}-\d{2}<\/h1>/);
  assert.match(mail, /Availability \(SLA\): /);
});
