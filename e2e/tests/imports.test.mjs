// Imports in a real browser: the empty Import page, a PagerDuty read refused (unreachable, HTTP
// 422, the form kept without the key), a Gatus file uploaded and shown as a plan (nothing
// written yet), "Import now" and its report, the monitors it made, and the plan's rows on a
// phone. Desktop and phone screenshots with E2E_SCREENSHOTS=1.
//
//   cd e2e && OPSDECK_BIN=… node --test --test-concurrency=1 tests/imports.test.mjs

import assert from 'node:assert/strict';
import { pathIs, walk } from '../lib/walk.mjs';

const ADMIN = { username: 'admin', display_name: 'Alex Morgan', email: 'alex@example.com', password: 'correct-horse-battery' };
const GATUS = `endpoints:
  - name: front
    group: core
    url: "https://example.org/health"
    interval: 30s
    conditions: ["[STATUS] == 200", "[RESPONSE_TIME] < 300", "len([BODY].items) > 2"]
    alerts: [{type: slack, failure-threshold: 3}]
  - name: db
    url: tcp://db.internal:5432
  - name: shell
    url: ssh://box:22
`;

let server;
let page;
const w = walk({ screenshotPrefix: 'imports-', ready: (r) => ({ server, page } = r) });
const { step, shot, go, submitTo, text } = w;

/** The page as it is on a 390-px phone, then both sizes in the dark theme. */
async function phoneAndDark(name) {
  if (process.env.E2E_SCREENSHOTS !== '1') return;
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(`${name}-phone`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(`${name}-phone-dark`);
  await page.setViewportSize(size);
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

step('the import page starts empty and names an unreachable PagerDuty', async () => {
  await page.click('#nav a[href="/settings/import"]');
  await page.waitForURL(pathIs('/settings/import'));
  assert.equal(await text('main h1'), 'Import');
  assert.match(await text('#import-runs'), /Nothing imported yet/);
  await shot('01-empty');
  await page.fill('#import-vendor input[name=api_url]', 'http://127.0.0.1:9');
  await page.fill('#import-vendor input[name=token]', 'a-secret-key');
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/settings/import/vendor'),
    page.click('#import-vendor button[type=submit]'),
  ]);
  assert.equal(res.status(), 422);
  assert.match(await text('#form-error'), /PagerDuty at 127\.0\.0\.1 cannot be reached/);
  assert.equal(await page.inputValue('#import-vendor input[name=api_url]'), 'http://127.0.0.1:9');
  assert.equal(await page.inputValue('#import-vendor input[name=token]'), '', 'the key is not sent back');
  assert.ok(!(await page.content()).includes('a-secret-key'));
  await shot('02-unreachable');
  await phoneAndDark('02-unreachable');
});

step('a Gatus file is read into a plan that writes nothing', async () => {
  await page.selectOption('#import-file select[name=source]', 'gatus');
  await page.setInputFiles('#import-file input[name=file]', { name: 'config.yaml', mimeType: 'text/yaml', buffer: Buffer.from(GATUS) });
  await w.clickAndLoad('#import-file button[type=submit]');
  assert.match(new URL(page.url()).pathname, /^\/settings\/import\/[0-9a-f-]{36}$/);
  assert.equal(await text('#run-status'), 'planned');
  assert.match(await text('#import-counts'), /2\s*to create/);
  assert.match(await text('#steps-table'), /front/);
  assert.match(await text('#unmapped'), /ssh:\/\/ endpoints are not checked/);
  await shot('03-plan');
  await phoneAndDark('03-plan');
  await go('/monitors');
  assert.ok(!(await text('main')).includes('front'), 'a plan writes nothing');
  await page.goBack();
});

step('Import now applies the plan and shows the report', async () => {
  await w.clickAndLoad('#apply-import button[type=submit]');
  assert.equal(await text('#run-status'), 'applied');
  assert.match(await text('#import-counts'), /2\s*created/);
  assert.equal(await page.locator('#apply-import').count(), 0, 'applied once');
  await shot('04-report');
  await phoneAndDark('04-report');
  await go('/monitors');
  assert.match(await text('main'), /front/);
  await go('/settings/import');
  assert.match(await text('#runs-table'), /gatus\s*applied/);
  await shot('05-list');
  await phoneAndDark('05-list');
});
