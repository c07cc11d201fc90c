// Monitors walk-through in a real browser: first-run setup, the empty monitor list, a form
// error that keeps what was typed, then an HTTP monitor created through the form against a
// real HTTP server started by this test. The detail page must follow the monitor live over
// Server-Sent Events (no reload) as it goes up and, once the target is stopped, down; the
// list shows it with its state pill and uptime bar; pausing and resuming work from the
// detail page.
//
//   cd e2e && OPSDECK_BIN=… node --test --test-concurrency=1 tests/
//
// The steps share one server, one browser page and its session, and run in order: each
// builds on the state the previous one left. Once a step fails the later ones are skipped
// rather than failing for the same reason. E2E_SCREENSHOTS=1 saves screenshots of key pages
// to e2e/screenshots/.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after } from 'node:test';
import { NAV_TIMEOUT_MS, pathIs, walk } from '../lib/walk.mjs';

// How long a state change may take to show: the scheduler ticks every 200 ms, the monitor
// runs every second with a 1 s timeout, and the page refreshes 150 ms after the event.
const LIVE_TIMEOUT_MS = 15_000;

const ADMIN = { username: 'admin', display_name: 'Alex Morgan', email: 'alex@example.com', password: 'correct-horse-battery' };
const MONITOR = { name: 'Checkout health' };
// What a check of the stopped target says. Practically always "connection refused"; a check
// caught mid-request by the stop sees its keep-alive connection close instead.
const REFUSED = /connection (refused|reset by peer|closed by peer)/;
const UUID = /^\/monitors\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let server;
let page;
const w = walk({ screenshotPrefix: 'monitors-', ready: (r) => ({ server, page } = r) });
const { step, shot, go, submitTo, text } = w;
let target;
after(async () => {
  await target?.stop();
});
const squash = (s) => s.replace(/\s+/g, ' ').trim();
/** A regexp matching exactly `word` (surrounding whitespace allowed). */
const exactly = (word) => new RegExp(`^\\s*${word}\\s*$`);

/** Waits until `selector` shows exactly `word` (Playwright polls; no sleeps). */
async function waitForText(selector, word, timeout = LIVE_TIMEOUT_MS) {
  try {
    await page.locator(selector).filter({ hasText: exactly(word) }).waitFor({ timeout });
  } catch (err) {
    const now = await page.locator(selector).textContent().catch(() => '(missing)');
    const live = await page.evaluate((s) => !!document.querySelector('#live-region')?.querySelector(s), selector);
    err.message = `${selector} did not show "${word}" within ${timeout} ms (it shows "${squash(now ?? '')}"; `
      + `it is ${live ? '' : 'NOT '}inside #live-region, the part of the page live updates refresh): ${err.message}`;
    throw err;
  }
}

// Main-frame navigations of the page: a live update must not add any.
let navigations = 0;

/** Marks the current document so that a reload (which would drop the mark) can be detected. */
async function markDocument() {
  await page.evaluate(() => { window.__marker = 1; });
  return navigations;
}

async function assertNotReloaded(navsBefore) {
  assert.equal(await page.evaluate(() => window.__marker), 1, 'the page was reloaded (window.__marker is gone)');
  assert.equal(navigations, navsBefore, 'the page navigated');
}

/** Waits for the page's Server-Sent Events stream to be open (app.js marks #live-status). */
async function waitForLive() {
  await page.locator('#live-status.on').waitFor({ timeout: NAV_TIMEOUT_MS });
  assert.equal(await text('#live-status .live-label'), 'live');
}

/**
 * A real HTTP target on 127.0.0.1:0 answering 200 {"status":"ok"} on /health.
 *
 * Its answers are held back until release() is called, so that no check can pass before the
 * browser is listening for the change. stop() closes the listener and destroys every open
 * socket (keep-alive ones included), so later checks get "connection refused".
 */
async function startTarget() {
  const sockets = new Set();
  let release;
  const released = new Promise((resolve) => { release = resolve; });
  let hits = 0;
  const srv = http.createServer(async (req, res) => {
    if (req.url !== '/health') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    hits += 1;
    await released;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
  srv.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  let stopped = false;
  return {
    url: `http://127.0.0.1:${port}/health`,
    hits: () => hits,
    release,
    stop() {
      if (stopped) return Promise.resolve();
      stopped = true;
      release();
      return new Promise((resolve) => {
        srv.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

// ---- the walk ----------------------------------------------------------------------------

step('first-run setup creates the admin and signs in', async () => {
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigations += 1; });
  await go('/');
  await page.waitForURL(pathIs('/setup'));
  assert.equal(await text('h1'), 'Welcome to Opsdeck');

  await page.fill('input[name=username]', ADMIN.username);
  await page.fill('input[name=display_name]', ADMIN.display_name);
  await page.fill('input[name=email]', ADMIN.email);
  await page.fill('input[name=password]', ADMIN.password);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await submitTo('form[action="/setup"] button[type=submit]', '/');

  assert.equal(await text('main h1'), 'Overview');
  assert.equal(await text('.flash.ok'), 'Welcome! Your admin account is ready.');
  assert.equal(await text('details.usermenu .uname'), ADMIN.display_name);
  assert.equal(await text('details.usermenu .badge.role'), 'admin');
});

step('a fresh server has no monitors and offers to add one', async () => {
  await go('/');
  await page.click('#nav a[href="/monitors"]');
  await page.waitForURL(pathIs('/monitors'));
  assert.equal(await text('main h1'), 'Monitors');
  assert.equal(await text('section.empty h2'), 'No monitors yet');
  assert.equal(await page.locator('#monitors-table').count(), 0);

  const newBtn = page.locator('#new-monitor');
  assert.equal(await newBtn.isVisible(), true, 'the "New monitor" button is shown');
  assert.equal(squash(await newBtn.textContent()), 'New monitor');
  assert.equal(await newBtn.getAttribute('href'), '/monitors/new');
  const first = page.locator('section.empty a[href="/monitors/new"]');
  assert.equal(squash(await first.textContent()), 'Add the first monitor');

  // Only the "All" pill, counting nothing.
  const pills = page.locator('nav.pills a');
  assert.equal(await pills.count(), 1);
  assert.equal(squash(await pills.first().innerText()), 'All 0');
  await shot('01-empty');
});

step('a form error keeps what was typed (HTTP 422)', async () => {
  await go('/monitors/new?type=http');
  assert.equal(await text('main h1'), 'New monitor');
  assert.equal(await page.locator('nav.pills a[aria-current]').getAttribute('href'), '/monitors/new?type=http');
  assert.equal(await page.locator('#form-error').count(), 0);
  // The form comes with sensible defaults.
  assert.equal(await page.inputValue('select[name=method]'), 'GET');
  assert.equal(await page.inputValue('input[name=expected_status]'), '200-299');
  assert.equal(await page.inputValue('input[name=interval_seconds]'), '60');

  await page.$eval('#monitor-form', (f) => { f.noValidate = true; });
  await page.fill('input[name=name]', 'Broken URL');
  await page.fill('input[name=url]', 'not-a-url');
  await page.fill('input[name=interval_seconds]', '30');
  await page.fill('input[name=tags]', 'prod, eu');

  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/monitors'),
    page.click('#monitor-form button[type=submit]'),
  ]);
  assert.equal(res.status(), 422);
  await page.locator('#form-error').waitFor();
  assert.match(await text('#form-error'), /^URL: /);
  assert.equal(await page.getAttribute('input[name=url]', 'aria-invalid'), 'true');
  assert.equal(await page.inputValue('input[name=name]'), 'Broken URL');
  assert.equal(await page.inputValue('input[name=url]'), 'not-a-url');
  assert.equal(await page.inputValue('input[name=interval_seconds]'), '30');
  assert.equal(await page.inputValue('input[name=tags]'), 'prod, eu');
  await shot('02-form-error');

  // Nothing was created.
  await go('/monitors');
  assert.equal(await text('section.empty h2'), 'No monitors yet');
});

step('create an HTTP monitor through the form against a real target', async () => {
  target = await startTarget();

  await go('/monitors');
  await submitTo('#new-monitor', '/monitors/new');
  assert.equal(await text('main h1'), 'New monitor');
  // HTTP is the default type.
  assert.equal(await page.locator('#monitor-form').getAttribute('action'), '/monitors?type=http');

  await page.fill('input[name=name]', MONITOR.name);
  await page.fill('input[name=url]', target.url);
  await page.fill('input[name=interval_seconds]', '1');
  await page.fill('input[name=timeout_seconds]', '1');
  await page.fill('input[name=down_after]', '1');
  await page.fill('input[name=tags]', 'checkout, e2e');
  await Promise.all([
    page.waitForURL((u) => UUID.test(u.pathname)),
    page.click('#monitor-form button[type=submit]'),
  ]);
  MONITOR.path = new URL(page.url()).pathname;

  assert.equal(await text('.flash.ok'), 'Monitor created; its first check runs within one interval');
  assert.match(squash(await page.locator('main h1').textContent()), new RegExp(`^${MONITOR.name} `));
  // The target holds its answers back, so no check can have passed yet.
  assert.match(await text('#monitor-state'), /^(pending|down)$/);
  const facts = page.locator('dl.facts');
  const fact = (name) => facts.locator(`dt:text-is("${name}") + dd`);
  assert.equal(squash(await fact('Interval').textContent()), 'every 1 s, timeout 1 s');
  assert.match(squash(await fact('Retries').textContent()), /^down after 1 failed check\(s\), up after 1 passed check\(s\)$/);
  assert.deepEqual(await fact('Tags').locator('.tag').allTextContents(), ['checkout', 'e2e']);
  const settings = JSON.parse(await fact('Settings').locator('pre').textContent());
  assert.equal(settings.url, target.url);
  assert.equal(settings.method, 'GET');
  await shot('03-created');
});

step('the detail page shows it going up live, without a reload', async () => {
  assert.equal(new URL(page.url()).pathname, MONITOR.path);
  await waitForLive();
  const navs = await markDocument();

  // Let the target answer now: the "up" change can only happen from here on.
  target.release();
  // The event arrives (the toast), and the page follows it in place.
  await page.locator('#toasts .toast', { hasText: `${MONITOR.name} is up` }).first().waitFor({ timeout: LIVE_TIMEOUT_MS });
  assert.ok(target.hits() >= 1, 'the target was called');
  // The live region (last result) and the state in the page head both follow.
  await page.locator('#last-reason').filter({ hasText: /HTTP 200/ }).waitFor({ timeout: LIVE_TIMEOUT_MS });
  assert.equal(await page.locator('section.lastresult.bad').count(), 0, 'the last result is not marked bad');
  assert.match(squash(await page.locator('section.lastresult').textContent()), /^Last check .*: up in [\d.]+ m?s — HTTP 200/);
  await waitForText('#monitor-state', 'up');
  await assertNotReloaded(navs);
  await shot('04-up');
});

step('stopping the target turns it down live, with the reason', async () => {
  await waitForLive();
  const navs = await markDocument();

  await target.stop();
  await page.locator('#toasts .toast', { hasText: `${MONITOR.name} is down` }).first().waitFor({ timeout: LIVE_TIMEOUT_MS });
  await page.locator('#last-reason').filter({ hasText: REFUSED }).waitFor({ timeout: LIVE_TIMEOUT_MS });
  assert.equal(await page.locator('section.lastresult.bad').count(), 1, 'the last result is marked bad');
  await waitForText('#monitor-state', 'down');
  // The state changes are listed, newest first.
  const changes = (await page.locator('#events li').allTextContents()).map(squash);
  assert.match(changes[0] ?? '', new RegExp(`^down from up — ${REFUSED.source}`), `state changes: ${JSON.stringify(changes)}`);
  assert.ok(changes.some((c) => /^up from (pending|down) — /.test(c)), `state changes: ${JSON.stringify(changes)}`);
  await assertNotReloaded(navs);
  await shot('05-down');
});

step('the monitor list shows it down with its uptime bar', async () => {
  await go('/monitors');
  assert.equal(await page.locator('section.empty').count(), 0);
  const rows = page.locator('#monitors-table tbody tr');
  assert.equal(await rows.count(), 1);
  const row = rows.first();
  assert.equal(await row.getAttribute('data-id'), MONITOR.path.split('/').pop());
  assert.equal(await row.locator('a.strong').textContent(), MONITOR.name);
  assert.equal(await row.locator('a.strong').getAttribute('href'), MONITOR.path);
  assert.equal(squash(await row.locator('.state').textContent()), 'down');
  assert.equal(await row.locator('.state').getAttribute('class'), 'state st-down');
  const sub = squash(await row.locator('.sub').first().textContent());
  assert.equal(sub, `HTTP(S) · GET ${target.url}`);
  assert.match(squash(await row.locator('.sub.why').textContent()), REFUSED);

  const bar = row.locator('svg.ubar');
  assert.equal(await bar.count(), 1);
  assert.ok(await bar.locator('rect.c-down').count() >= 1, 'the bar has a failed check');
  assert.ok(await bar.locator('rect.c-up').count() >= 1, 'the bar has a passed check');
  assert.equal(await bar.locator('rect').count(), 30, 'one slot per recent check');

  // State pills: All 1, Down 1, and no other state.
  const pills = page.locator('nav.pills a');
  assert.deepEqual((await pills.allInnerTexts()).map(squash), ['All 1', 'Down 1']);
  const downPill = page.locator('nav.pills a.st-down');
  assert.equal(await downPill.getAttribute('href'), '/monitors?state=down');
  assert.equal(squash(await downPill.locator('.num').textContent()), '1');
  await shot('06-list');

  // The pill filters to down monitors.
  await Promise.all([page.waitForURL((u) => u.searchParams.get('state') === 'down'), downPill.click()]);
  assert.equal(await page.locator('nav.pills a[aria-current]').getAttribute('href'), '/monitors?state=down');
  assert.equal(await page.locator('#monitors-table tbody tr').count(), 1);
  await go('/monitors?state=up');
  assert.equal(await page.locator('#monitors-table').count(), 0);
  assert.equal(await text('section.empty h2'), 'No monitor matches');
});

step('pause and resume from the detail page', async () => {
  await go('/monitors');
  await submitTo(`#monitors-table a[href="${MONITOR.path}"]`, MONITOR.path);
  assert.equal(await text('#monitor-state'), 'down');

  const toggle = page.locator('#pause-toggle');
  assert.equal(squash(await toggle.textContent()), 'Pause');
  await submitTo('#pause-toggle', MONITOR.path);
  assert.equal(await text('.flash.ok'), 'Monitor paused');
  assert.equal(await text('#monitor-state'), 'paused');
  assert.equal(squash(await toggle.textContent()), 'Resume');
  assert.equal(await page.locator('#check-now').count(), 0, 'no "Check now" while paused');
  await shot('07-paused');

  // Paused monitors stay paused while the target is still down.
  await go('/monitors');
  assert.deepEqual((await page.locator('nav.pills a').allInnerTexts()).map(squash), ['All 1', 'Paused 1']);
  assert.equal(squash(await page.locator('#monitors-table .state').textContent()), 'paused');

  await go(MONITOR.path);
  assert.equal(await text('#monitor-state'), 'paused');
  await submitTo('#pause-toggle', MONITOR.path);
  assert.equal(await text('.flash.ok'), 'Monitor resumed');
  // Resumed: pending until its next check, which (the target being gone) turns it down.
  assert.match(await text('#monitor-state'), /^(pending|down)$/);
  assert.equal(squash(await toggle.textContent()), 'Pause');
  assert.equal(await page.locator('#check-now').count(), 1);
  await shot('08-resumed');

  // Latency anomalies alert on a service: without one, the page says what to do instead.
  assert.match(squash(await page.locator('#anomaly-alert').innerText()), /Anomalies are shown, not alerted on/);
  assert.match(await text('#anomaly-needs-service'), /Give the monitor a service/);
  assert.equal(await page.locator('#anomaly-alert button').count(), 0);
});
