// The self-service portal in a real browser: a manager adds a request item (a form, an
// approver, fulfilment tasks); a requester raises it on the portal, the form marking each wrong
// answer; the approver approves it; an agent works it under its SLA timer, a pending state
// pausing the clock, ticks off its tasks and resolves it; the requester rates the help.
// Desktop, phone and dark screenshots with E2E_SCREENSHOTS=1.
//
//   cd e2e && OPSDECK_BIN=… node --test --test-concurrency=1 tests/portal.test.mjs

import assert from 'node:assert/strict';
import { pathIs, walk } from '../lib/walk.mjs';

const ADMIN = { username: 'admin', display_name: 'Alex Morgan', email: 'alex@example.com', password: 'correct-horse-battery' };

let server;
let page;
let browser;
const w = walk({ screenshotPrefix: 'portal-', ready: (r) => ({ server, page, browser } = r) });
const { step, shot, go, submitTo, clickAndLoad, text } = w;
let requester;
let number = '';

async function phoneAndDark(p, name) {
  if (process.env.E2E_SCREENSHOTS !== '1') return;
  const dir = process.env.E2E_SCREENSHOT_DIR ?? 'screenshots';
  await p.setViewportSize({ width: 390, height: 844 });
  await p.screenshot({ path: `${dir}/portal-${name}-phone.png`, fullPage: true });
  await p.emulateMedia({ colorScheme: 'dark' });
  await p.screenshot({ path: `${dir}/portal-${name}-phone-dark.png`, fullPage: true });
  await p.setViewportSize({ width: 1280, height: 900 });
  await p.emulateMedia({ colorScheme: 'light' });
}

async function requesterShot(name) {
  if (process.env.E2E_SCREENSHOTS !== '1') return;
  const dir = process.env.E2E_SCREENSHOT_DIR ?? 'screenshots';
  await requester.screenshot({ path: `${dir}/portal-${name}.png`, fullPage: true });
}

const load = (p, click) => Promise.all([p.waitForEvent('load'), p.click(click)]);

step('first-run setup creates the admin', async () => {
  await go('/');
  await page.waitForURL(pathIs('/setup'));
  for (const [k, v] of Object.entries(ADMIN)) await page.fill(`input[name=${k}]`, v);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await submitTo('form[action="/setup"] button[type=submit]', '/');
});

step('the portal starts empty and says how to fill it', async () => {
  await page.click('#nav a[href="/portal"]');
  await page.waitForURL(pathIs('/portal'));
  assert.equal(await text('#no-items h2'), 'Nothing to request yet');
  await shot('01-empty');
});

step('a manager adds a request item; a broken form line is named', async () => {
  await clickAndLoad('#manage-items');
  await clickAndLoad('#new-item');
  await page.fill('#item-form input[name=title]', 'New laptop');
  await page.fill('#item-form input[name=category]', 'Hardware');
  await page.fill('#item-form textarea[name=description]', 'A **standard** laptop, delivered in a week.');
  await page.fill('#item-form textarea[name=fields]', 'model | Which model? | colour');
  await clickAndLoad('#save-item');
  assert.match(await text('#form-error'), /line 1: the kind must be/);
  await page.fill('#item-form textarea[name=fields]',
    'model | Which model? | select | required | 13 inch; 15 inch\nneeded_by | Needed by | date\nreason | Why do you need it? | textarea | required');
  await page.selectOption('#item-form select[name=approver]', { label: 'Alex Morgan' });
  await page.fill('#item-form textarea[name=tasks]', 'Order the laptop\nEnrol and hand it over');
  await clickAndLoad('#save-item');
  await page.waitForURL(pathIs('/request-items'));
  assert.equal(await page.locator('#items-table tr[data-item="new-laptop"]').count(), 1);
  await shot('02-items');
});

step('a requester raises it on the portal; the form marks each wrong answer', async () => {
  const res = await page.request.post(`${server.url}/api/v1/users`,
    { data: { username: 'ana', password: 'password-of-ana', role: 'viewer', email: 'ana@example.com' } });
  assert.ok(res.ok(), await res.text());
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  requester = await ctx.newPage();
  await requester.goto(`${server.url}/login`);
  await requester.fill('input[name=username]', 'ana');
  await requester.fill('input[name=password]', 'password-of-ana');
  await load(requester, 'button[type=submit]');
  await requester.goto(`${server.url}/portal`);
  assert.equal(await requester.locator('#manage-items').count(), 0, 'requesters do not manage items');
  assert.equal(await requester.locator('#no-mine').count(), 1);
  await requesterShot('03-portal');
  await phoneAndDark(requester, '03-portal');
  await load(requester, '.catalog-item[data-item="new-laptop"] a');
  assert.match(await requester.locator('#needs-approval').textContent(), /Alex Morgan approves/);
  await load(requester, '#submit-request');
  assert.match(await requester.locator('#form-error').textContent(), /2 answers need fixing/);
  for (const key of ['model', 'reason']) {
    assert.equal(await requester.locator(`[data-error-for="${key}"]`).count(), 1, key);
  }
  await requesterShot('04-form-errors');
  await phoneAndDark(requester, '04-form-errors');
  await requester.selectOption('#request-form select[name=model]', '15 inch');
  await requester.fill('#request-form input[name=needed_by]', '2026-12-20');
  await requester.fill('#request-form textarea[name=reason]', 'Mine is seven years old and the battery is gone.');
  await load(requester, '#submit-request');
  number = (await requester.locator('main h1').textContent()).split(' ')[0];
  assert.match(number, /^REQ-\d+$/);
  assert.equal(await requester.locator('#approval').count(), 1);
  assert.equal(await requester.locator('#approve-form').count(), 0, 'the requester cannot approve');
  assert.match(await requester.locator('#sla-resolution').textContent(), /paused/);
  await requesterShot('05-awaiting');
});

step('the approver approves; the agent works it under its SLA timer, pausing while pending', async () => {
  await go(`/tickets/${number.split('-')[1]}`);
  assert.match(await text('#ticket-approval'), /pending/);
  await page.fill('#approve-form input[name=comment]', 'Go ahead, standard model.');
  await clickAndLoad('#approve');
  assert.match(await text('#ticket-approval'), /approved/);
  assert.match(await text('#sla-resolution'), /due in/);
  await clickAndLoad('#move-start');
  assert.equal(await text('#ticket-state'), 'in progress');
  await page.fill('#pend-form input[name=reason]', 'The supplier confirms stock');
  await clickAndLoad('#move-pend');
  assert.match(await text('#sla-resolution'), /paused/);
  await clickAndLoad('#move-start');
  await clickAndLoad('#move-resolve');
  assert.match(await text('main .flash'), /open fulfilment task/);
  await clickAndLoad('#task-0');
  await clickAndLoad('#task-1');
  assert.equal(await page.locator('#tasks .task.done').count(), 2);
  await shot('06-tasks-done');
  await phoneAndDark(page, '06-tasks-done');
  await clickAndLoad('#move-resolve');
  assert.equal(await text('#ticket-state'), 'resolved');
  assert.match(await text('#sla-resolution'), /met/);
});

step('the requester rates the help; the portal shows it resolved', async () => {
  await requester.goto(`${server.url}/tickets/${number.split('-')[1]}`);
  assert.match(await requester.locator('#conversation').textContent(), /Approved by Alex Morgan: Go ahead/);
  await requester.check('#rating-form input[name=rating][value="5"]');
  await requester.fill('#rating-form input[name=comment]', 'Fast and friendly');
  await load(requester, '#rate');
  assert.match(await requester.locator('#rated').textContent(), /5 of 5/);
  await requesterShot('07-rated');
  await requester.goto(`${server.url}/portal`);
  assert.match(await requester.locator(`#my-tickets li[data-ticket="${number}"]`).textContent(), /resolved/);
  await go('/reports');
  const tile = page.locator('.kpi-tiles > *', { hasText: 'Satisfaction' });
  assert.match((await tile.textContent()) ?? '', /5\.0 of 5/);
});
