// The knowledge base and problems in a real browser: the empty states; an agent writes a public
// article in Markdown and an agents-only one; a requester searches, reads the rendered article
// (no script runs), and sees it suggested while typing a ticket's title; an agent opens a
// problem from an incident, writes the workaround, marks it a known error, finds it by search
// and resolves it together with its incident. Desktop, phone and dark screenshots with
// E2E_SCREENSHOTS=1.
//
//   cd e2e && OPSDECK_BIN=… node --test --test-concurrency=1 tests/knowledge.test.mjs

import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathIs, walk } from '../lib/walk.mjs';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');

const ADMIN = { username: 'admin', display_name: 'Alex Morgan', email: 'alex@example.com', password: 'correct-horse-battery' };

let server;
let page;
let browser;
const w = walk({ screenshotPrefix: 'knowledge-', ready: (r) => ({ server, page, browser } = r) });
const { step, shot, go, submitTo, clickAndLoad, text } = w;
let requester;

async function phoneAndDark(p, name) {
  if (process.env.E2E_SCREENSHOTS !== '1') return;
  await p.setViewportSize({ width: 390, height: 844 });
  await p.screenshot({ path: path.join(DIR, `knowledge-${name}-phone.png`), fullPage: true });
  await p.emulateMedia({ colorScheme: 'dark' });
  await p.screenshot({ path: path.join(DIR, `knowledge-${name}-phone-dark.png`), fullPage: true });
  await p.setViewportSize({ width: 1280, height: 900 });
  await p.emulateMedia({ colorScheme: 'light' });
}

const ARTICLE = `Your VPN token expires every 90 days.

## Steps

1. Open **Settings → Security** on the portal.
2. Press *Renew token* and scan the new QR code.

| Client | Where |
| --- | --- |
| macOS | Menu bar |
| Windows | System tray |

<script>document.title = 'pwned'</script>`;

step('first-run setup creates the admin', async () => {
  await go('/');
  await page.waitForURL(pathIs('/setup'));
  for (const [k, v] of Object.entries(ADMIN)) await page.fill(`input[name=${k}]`, v);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await submitTo('form[action="/setup"] button[type=submit]', '/');
});

step('the knowledge base and the problems start empty', async () => {
  await page.click('#nav a[href="/kb"]');
  await page.waitForURL(pathIs('/kb'));
  assert.equal(await text('#no-articles h2'), 'No articles yet');
  await shot('01-kb-empty');
  await page.click('#nav a[href="/problems"]');
  await page.waitForURL(pathIs('/problems'));
  assert.equal(await text('#no-problems h2'), 'No problems here');
  await shot('02-problems-empty');
});

step('an agent writes a public article and an agents-only one', async () => {
  await go('/kb/new');
  await page.fill('#article-form input[name=title]', 'Renew your VPN token');
  await page.fill('#article-form input[name=category]', 'Access');
  await page.selectOption('#article-form select[name=visibility]', 'public');
  await page.fill('#article-form textarea[name=body]', ARTICLE);
  await shot('03-editor');
  await clickAndLoad('#article-form button[type=submit]');
  assert.equal(await text('main h1'), 'Renew your VPN token');
  assert.equal(await page.locator('#article-body table td').first().textContent(), 'macOS');
  assert.match(await text('#article-body'), /<script>/, 'raw HTML shown as text');
  assert.notEqual(await page.title(), 'pwned');
  await shot('04-article');
  await go('/kb/new');
  await page.fill('#article-form input[name=title]', 'Rotate the VPN certificate authority');
  await page.fill('#article-form input[name=category]', 'Network');
  await page.fill('#article-form textarea[name=body]', 'Agents only: schedule it as a normal change.');
  await clickAndLoad('#article-form button[type=submit]');
  // A blank body is refused and named; what was typed stays.
  await go('/kb/new');
  await page.fill('#article-form input[name=title]', 'Half written');
  await page.fill('#article-form textarea[name=body]', ' ');
  await page.evaluate(() => document.querySelector('#article-form textarea').removeAttribute('required'));
  await clickAndLoad('#article-form button[type=submit]');
  assert.match(await text('#form-error'), /body/i);
  assert.equal(await page.inputValue('#article-form input[name=title]'), 'Half written');
  await shot('05-editor-error');
});

step('a requester searches, reads, and is offered the article while raising a ticket', async () => {
  const res = await page.request.post(`${server.url}/api/v1/users`,
    { data: { username: 'ana', password: 'password-of-ana', role: 'viewer', email: 'ana@example.com' } });
  assert.ok(res.ok(), await res.text());
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  requester = await ctx.newPage();
  await requester.goto(`${server.url}/login`);
  await requester.fill('input[name=username]', 'ana');
  await requester.fill('input[name=password]', 'password-of-ana');
  await Promise.all([requester.waitForEvent('load'), requester.click('button[type=submit]')]);
  await requester.goto(`${server.url}/kb?q=vpn`);
  const found = await requester.locator('#articles li').allTextContents();
  assert.equal(found.length, 1, 'agents-only articles stay hidden');
  assert.match(found[0], /Renew your VPN token/);
  if (process.env.E2E_SCREENSHOTS === '1') await requester.screenshot({ path: path.join(DIR, 'knowledge-06-search.png'), fullPage: true });
  await phoneAndDark(requester, '06-search');
  await requester.goto(`${server.url}/kb?q=printer`);
  assert.equal((await requester.locator('#no-articles h2').textContent()).trim(), 'No article matches');
  await requester.goto(`${server.url}/tickets/new`);
  await requester.fill('#ticket-form input[name=title]', 'My VPN token expired');
  await requester.waitForSelector('#kb-suggestions a');
  assert.equal((await requester.locator('#kb-suggestions a').first().textContent()).trim(), 'Renew your VPN token');
  if (process.env.E2E_SCREENSHOTS === '1') await requester.screenshot({ path: path.join(DIR, 'knowledge-07-suggested.png'), fullPage: true });
  await phoneAndDark(requester, '07-suggested');
  assert.equal(await requester.locator('#nav a[href="/problems"]').count(), 0, 'problems are for agents');
});

step('an agent opens a problem from an incident and records the known error', async () => {
  const svc = await page.request.post(`${server.url}/api/v1/services`, { data: { name: 'Checkout' } });
  const sid = (await svc.json()).id;
  for (const title of ['Checkout times out', 'Checkout times out again']) {
    const r = await page.request.post(`${server.url}/api/v1/incidents`, { data: { title, service_id: sid } });
    assert.ok(r.ok(), await r.text());
  }
  await go('/problems/new?incident=INC-1');
  assert.equal(await page.inputValue('#problem-form input[name=incidents]'), 'INC-1');
  await page.fill('#problem-form input[name=incidents]', 'INC-1, INC-7');
  await clickAndLoad('#problem-form button[type=submit]');
  assert.match(await text('#form-error'), /INC-7 is not an incident/);
  await page.fill('#problem-form input[name=incidents]', 'INC-1, INC-2');
  await page.fill('#problem-form input[name=title]', 'Checkout connection pool runs dry');
  await clickAndLoad('#problem-form button[type=submit]');
  assert.match(await text('main h1'), /^PRB-1 /);
  assert.equal(await page.locator('#move-known_error').count(), 0, 'no known error without a workaround');
  await page.fill('#problem-form textarea[name=root_cause]', 'Retries hold pool connections for 30 s.');
  await page.fill('#problem-form textarea[name=workaround]', 'Restart the checkout pods to free the pool.');
  await clickAndLoad('#problem-form button[type=submit]');
  await clickAndLoad('#move-known_error');
  assert.equal(await text('#problem-state'), 'known error');
  await shot('08-problem');
  await phoneAndDark(page, '08-problem');
  await go('/problems?view=known&q=restart%20pods');
  assert.equal(await page.locator('#problems-table tr[data-problem="PRB-1"]').count(), 1);
  await shot('09-known-errors');
});

step('resolving the problem resolves its incidents', async () => {
  await go('/problems/1');
  await page.check('#resolve-incidents');
  await clickAndLoad('#move-resolve');
  assert.match(await text('.flash'), /2 incident\(s\) resolved/);
  assert.equal(await text('#problem-state'), 'resolved');
  const inc = await (await page.request.get(`${server.url}/api/v1/incidents/INC-2`)).json();
  assert.equal(inc.status, 'resolved');
});
