// The CMDB in a real browser: the empty CMDB page, a CSV imported through the page (a dry run
// first, with the upload's progress, then for real), a bad file refused row by row, a CI opened
// with its impact graph and table, a monitor bound to it from its page, the monitor failing,
// and its incident showing the blast radius. Desktop, phone and dark screenshots with
// E2E_SCREENSHOTS=1.
//
//   cd e2e && OPSDECK_BIN=… node --test --test-concurrency=1 tests/cmdb.test.mjs

import assert from 'node:assert/strict';
import { pathIs, walk } from '../lib/walk.mjs';

const ADMIN = { username: 'admin', display_name: 'Alex Morgan', email: 'alex@example.com', password: 'correct-horse-battery' };
const LIVE_TIMEOUT_MS = 20_000;

let server;
let page;
const w = walk({ screenshotPrefix: 'cmdb-', ready: (r) => ({ server, page } = r) });
const { step, shot, go, submitTo, text } = w;
let ciUrl;

const CSV = [
  'identity,name,class,environment,tags,depends_on,runs_on,os',
  'db-1,orders-db,database,production,pci,,vm-1,debian 12',
  'vm-1,vm-1,vm,production,,,,debian 12',
  'api-1,orders-api,application,production,,db-1,,',
  'shop,Shop,business_service,production,,api-1,,',
  ...Array.from({ length: 40 }, (_, i) => `web-${i},web-${String(i).padStart(2, '0')}.example.com,server,staging,web,api-1,,debian 12`),
].join('\n');

/** Calls the API with the browser's session (same origin). */
async function api(method, path, body) {
  return page.evaluate(async ([m, p, b]) => {
    const r = await fetch(p, { method: m, headers: { 'content-type': 'application/json' }, body: b ? JSON.stringify(b) : undefined });
    return { status: r.status, body: await r.text() };
  }, [method, path, body]);
}

async function upload(name, content, dryRun) {
  await page.selectOption('#import-form select[name=format]', 'csv');
  await page.setInputFiles('#import-form input[name=file]', { name, mimeType: 'text/csv', buffer: Buffer.from(content) });
  await page.setChecked('#import-form input[name=dry_run]', dryRun);
  await page.click('#import-form button[type=submit]');
}

step('first-run setup creates the admin', async () => {
  await go('/');
  await page.waitForURL(pathIs('/setup'));
  for (const [k, v] of Object.entries(ADMIN)) await page.fill(`input[name=${k}]`, v);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await submitTo('form[action="/setup"] button[type=submit]', '/');
});

step('the CMDB starts empty', async () => {
  await page.click('#nav a[href="/cmdb"]');
  await page.waitForURL(pathIs('/cmdb'));
  assert.equal(await text('main h1'), 'CMDB');
  assert.equal(await text('#no-cis h2'), 'No configuration items yet');
  await shot('01-empty');
});

step('a bad CSV is refused row by row and nothing is imported', async () => {
  await upload('bad.csv', 'identity,name,class\nx-1,X,toaster\nx-2,Y,server\nx-2,Z,server\n', false);
  await page.waitForSelector('#import-errors');
  const errors = await text('#import-errors');
  assert.match(errors, /Row 2 \(x-1\): class/);
  assert.match(errors, /Row 4 \(x-2\): identity: also on row 3/);
  await shot('02-import-errors');
  await go('/cmdb');
  assert.equal(await text('#no-cis h2'), 'No configuration items yet');
});

step('a CSV is imported: a dry run first, then for real, with progress', async () => {
  await upload('cis.csv', CSV, true);
  await page.waitForFunction(() => document.querySelector('#import-status')?.textContent.startsWith('Dry run'));
  assert.match(await text('#import-status'), /44 to create/);
  assert.equal(await page.locator('#import-progress').evaluate((p) => p.value), 100);
  await shot('03-dry-run');
  await go('/cmdb');
  assert.equal(await text('#no-cis h2'), 'No configuration items yet', 'a dry run changes nothing');
  await upload('cis.csv', CSV, false);
  await page.waitForFunction(() => document.querySelector('#import-status')?.textContent.startsWith('Imported'));
  assert.match(await text('#import-status'), /44 created/);
  await go('/cmdb');
  assert.equal(await page.locator('#cis-table tbody tr').count(), 44);
  await shot('04-list');
  await page.fill('input[name=q]', 'pci');
  await page.press('input[name=q]', 'Enter');
  await page.waitForURL((u) => u.searchParams.get('q') === 'pci');
  assert.equal(await page.locator('#cis-table tbody tr').count(), 1);
});

step('a CI shows what breaks if it fails', async () => {
  await go('/cmdb?q=orders-db');
  await w.clickAndLoad('#cis-table a:text("orders-db")');
  assert.equal((await text('main h1')).split(' ')[0], 'orders-db');
  const impacted = await page.locator('#impact-table tbody tr').count();
  assert.equal(impacted, 42, 'the API, the service and the 40 web servers');
  assert.ok(await page.locator('#impact-graph svg .node').count() > 10);
  assert.ok(await page.locator('#impact-graph .node.service').count() === 1, 'the business service stands out');
  assert.match(await text('#depends'), /vm-1/);
  ciUrl = page.url();
  await shot('05-ci');
});

step('a monitor is bound to the CI and its failure shows the blast radius on the incident', async () => {
  const svc = await api('POST', '/api/v1/services', { name: 'Orders' });
  assert.equal(svc.status, 201, svc.body);
  const m = await api('POST', '/api/v1/monitors', { name: 'orders-db port', type: 'tcp', service_id: JSON.parse(svc.body).id,
    down_after: 1, interval_seconds: 30, settings: { host: '127.0.0.1', port: 1 } });
  assert.equal(m.status, 201, m.body);
  const monitor = JSON.parse(m.body);
  const url = page.url();
  await page.reload();
  await page.selectOption('#bind-monitor select[name=monitor_id]', monitor.id);
  await w.clickAndLoad('#bind-monitor button[type=submit]');
  assert.match(await text('#monitors'), /orders-db port/);
  assert.equal((await api('POST', `/api/v1/monitors/${monitor.id}/check`)).status, 202);
  const until = Date.now() + LIVE_TIMEOUT_MS;
  let incident;
  for (;;) {
    const list = JSON.parse((await api('GET', '/api/v1/incidents')).body);
    incident = list.items[0];
    if (incident) break;
    if (Date.now() > until) throw new Error('no incident from the failing monitor');
    await page.waitForTimeout(300);
  }
  await go(`/incidents/${incident.id}`);
  await page.waitForSelector('#blast-radius');
  assert.match(await text('#blast-radius'), /Failing: orders-db/);
  assert.match(await text('#blast-radius .impacted-service'), /Shop/);
  await shot('06-incident-blast-radius');
  await page.goto(url);
});

step('a warranty set on the CI page shows in the lifecycle report', async () => {
  await page.goto(ciUrl);
  await page.click('#edit summary');
  const soon = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  await page.fill('#edit-ci input[name=warranty_end]', soon);
  await page.fill('#edit-ci input[name=cost]', '12000');
  await w.clickAndLoad('#edit-ci button[type=submit]');
  assert.match(await text('#ci-fields'), new RegExp(`Warranty ends\\s*${soon}`));
  await go('/cmdb');
  await w.clickAndLoad('#lifecycle-link');
  assert.equal(await text('main h1'), 'Lifecycle report');
  assert.match(await text('#lifecycle-table'), /orders-db\s*Database\s*Warranty ends/);
  await shot('07-lifecycle');
});

step('an admin defines a typed attribute and the CI page edits it with its own field', async () => {
  await go('/cmdb');
  await w.clickAndLoad('#attributes-link');
  assert.equal(await text('#no-attributes h2'), 'No attributes defined');
  await page.selectOption('#new-attribute select[name=class]', 'database');
  await page.fill('#new-attribute input[name=key]', 'tier');
  await page.fill('#new-attribute input[name=label]', 'Support tier');
  await page.selectOption('#new-attribute select[name=kind]', 'enum');
  await page.fill('#new-attribute textarea[name=choices]', 'gold\nsilver');
  await w.clickAndLoad('#new-attribute button[type=submit]');
  assert.match(await text('#attributes-table'), /Database\s*Support tier\s*tier\s*One of a list\s*gold, silver/);
  await shot('17-attributes');
  await page.goto(ciUrl);
  await page.click('#edit summary');
  await page.selectOption('#edit-ci select[data-def=tier]', 'gold');
  await w.clickAndLoad('#edit-ci button[type=submit]');
  assert.match(await text('#ci-attributes'), /Support tier\s*gold/);
  await shot('18-ci-defined-attribute');
});

let contractUrl;
step('a contract covering the CI shows on its page and its notice deadline in the lifecycle report', async () => {
  await go('/cmdb/contracts');
  assert.equal(await text('main h1'), 'Contracts');
  assert.equal(await text('#no-contracts h2'), 'No contracts yet');
  await shot('11-contracts-empty');
  const end = new Date(Date.now() + 90 * 86_400_000).toISOString().slice(0, 10);
  await page.fill('#contract-form input[name=name]', 'Dell ProSupport');
  await page.fill('#contract-form input[name=vendor]', 'Dell');
  await page.fill('#contract-form input[name=end_date]', end);
  await page.check('#contract-form input[name=auto_renew]');
  await page.fill('#contract-form input[name=notice_days]', '60');
  await page.fill('#contract-form input[name=cost]', '4800');
  await page.fill('#contract-form textarea[name=cis]', 'orders-db\nno-such-ci');
  await w.clickAndLoad('#contract-form button[type=submit]');
  assert.match(await text('#form-error'), /line 2: no CI is named "no-such-ci"/);
  await shot('12-contract-refused');
  await page.fill('#contract-form textarea[name=cis]', 'orders-db\nvm-1');
  await w.clickAndLoad('#contract-form button[type=submit]');
  contractUrl = page.url();
  assert.match(await text('main h1'), /Dell ProSupport/);
  assert.match(await text('#contract-dates'), /Notice deadline/);
  assert.match(await text('#contract-dates'), /Contract renews/);
  assert.match(await text('#covered-table'), /orders-db/);
  await shot('13-contract');
  await page.click('#covered-table a:text("orders-db")');
  await page.waitForURL(/\/cmdb\/[0-9a-f-]{36}$/);
  assert.match(await text('#contracts'), /Dell ProSupport/);
  await go('/cmdb/lifecycle');
  assert.match(await text('#contract-dates-table'), /Dell ProSupport\s*Dell · Support\s*Notice deadline/);
});

step('lifecycle reminders are set on the report page', async () => {
  await page.fill('#reminders-form input[name=lead_days]', '90, 30, nope');
  await w.clickAndLoad('#reminders-form button[type=submit]');
  assert.match(await text('.flash'), /Not done: lead_days.*"nope" is not a whole number/);
  await page.fill('#reminders-form textarea[name=recipients]', 'it-assets@example.com');
  await page.fill('#reminders-form input[name=lead_days]', '90, 30, 7');
  await w.clickAndLoad('#reminders-form button[type=submit]');
  assert.match(await text('.flash'), /Reminders go to 1 recipient/);
  assert.equal(await page.inputValue('#reminders-form input[name=lead_days]'), '7, 30, 90');
  // The digest of what is already within a lead is queued at once (this server has no SMTP, so
  // the notifier marks it failed and says why).
  await page.waitForFunction(async () => {
    const r = await fetch('/api/v1/cmdb/reminders');
    return (await r.json()).deliveries.some((d) => d.status === 'failed');
  }, null, { timeout: LIVE_TIMEOUT_MS, polling: 250 });
  await page.reload();
  assert.match(await text('#reminder-deliveries'), /it-assets@example.com/);
  await shot('14-lifecycle-reminders');
});

step('the pages fit a phone and a desktop, light and dark', async () => {
  const cookies = await page.context().cookies();
  const pages = [['/cmdb', 'list'], [new URL(ciUrl).pathname, 'ci'], ['/cmdb/lifecycle', 'lifecycle'],
    ['/cmdb/contracts', 'contracts'], [new URL(contractUrl).pathname, 'contract'], ['/cmdb/attributes', 'attributes']];
  for (const [width, height, device] of [[390, 844, 'phone'], [1280, 900, 'desktop']]) {
    for (const scheme of ['light', 'dark']) {
      const ctx = await w.browser.newContext({ viewport: { width, height }, colorScheme: scheme });
      await ctx.addCookies(cookies);
      const view = await ctx.newPage();
      for (const [p, name] of pages) {
        await view.goto(server.url + p);
        const overflow = await view.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 0, `${p} scrolls sideways at ${width}px (${scheme}) by ${overflow}px`);
        if (process.env.E2E_SCREENSHOTS === '1') {
          await view.screenshot({ path: `screenshots/cmdb-${device}-${scheme}-${name}.png`, fullPage: true });
        }
      }
      await ctx.close();
    }
  }
});
