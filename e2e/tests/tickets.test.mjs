// The service desk in a real browser: a manager adds a routing rule and an SLA agreement for
// the requester's domain; a requester raises a ticket from the form (counted under the
// agreement) and attaches a file, which the rule hands to the network team's agent; the agent sees it in the
// queue (theirs, with its team) with its SLA timers, replies, sets it pending (the resolution clock pauses),
// resumes and resolves it; the requester sees the public reply but not the internal note.
// Desktop, phone and dark screenshots with E2E_SCREENSHOTS=1.
//
//   cd e2e && OPSDECK_BIN=… node --test --test-concurrency=1 tests/tickets.test.mjs

import assert from 'node:assert/strict';
import { pathIs, walk } from '../lib/walk.mjs';

const ADMIN = { username: 'admin', display_name: 'Alex Morgan', email: 'alex@example.com', password: 'correct-horse-battery' };

let server;
let page;
let browser;
const w = walk({ screenshotPrefix: 'tickets-', ready: (r) => ({ server, page, browser } = r) });
const { step, shot, go, submitTo, clickAndLoad, text } = w;
let requester;
let number = '';

async function phoneAndDark(name) {
  if (process.env.E2E_SCREENSHOTS !== '1') return;
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(`${name}-phone`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(`${name}-phone-dark`);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.emulateMedia({ colorScheme: 'light' });
}

step('first-run setup creates the admin', async () => {
  await go('/');
  await page.waitForURL(pathIs('/setup'));
  for (const [k, v] of Object.entries(ADMIN)) await page.fill(`input[name=${k}]`, v);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await submitTo('form[action="/setup"] button[type=submit]', '/');
});

step('the queue starts empty', async () => {
  await page.click('#nav a[href="/tickets"]');
  await page.waitForURL(pathIs('/tickets'));
  assert.equal(await text('#no-tickets h2'), 'No tickets here');
  await shot('01-empty');
});

step('a manager routes VPN trouble to the network team, round robin', async () => {
  const res = await page.request.post(`${server.url}/api/v1/teams`, { data: { name: 'Network' } });
  assert.ok(res.ok(), await res.text());
  const team = await res.json();
  const me = await (await page.request.get(`${server.url}/api/v1/me`)).json();
  const joined = await page.request.put(`${server.url}/api/v1/teams/${team.id}/members/${me.id}`, { data: {} });
  assert.ok(joined.ok(), await joined.text());
  await go('/tickets');
  await clickAndLoad('#routing');
  assert.equal(await text('#no-rules h2'), 'No routing rules yet');
  await shot('01-routing-empty');
  await clickAndLoad('#new-rule');
  await page.fill('#rule-form input[name=name]', 'Network trouble');
  await page.fill('#rule-form input[name=keywords]', 'vpn, wifi');
  await page.selectOption('#rule-form select[name=team]', { label: 'Network' });
  await page.selectOption('#rule-form select[name=assign]', 'round_robin');
  await shot('01-routing-form');
  await clickAndLoad('#save-rule');
  const row = page.locator('#rules-table tr[data-rule="Network trouble"]');
  assert.match((await row.textContent()) ?? '', /words vpn, wifi[\s\S]*Network[\s\S]*round robin/);
  await shot('01-routing');
  await phoneAndDark('01-routing');
});

step('a manager reads the desk settings and gives P3 office hours', async () => {
  await go('/tickets');
  await clickAndLoad('#desk-settings');
  assert.equal(await page.locator('#priority-matrix tbody tr').count(), 4);
  await page.click('#policy-3 summary');
  await page.fill('#policy-3 input[name=timezone]', 'Europe/Berlin');
  for (const d of ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']) await page.fill(`#policy-3 input[name=${d}]`, '00:00-24:00');
  await page.fill('#policy-3 textarea[name=holidays]', '2027-01-01');
  await shot('01-settings-form');
  await clickAndLoad('#save-policy-3');
  assert.match(await text('.flash'), /P3 SLA policy saved/);
  const row = page.locator('#sla-policies tr[data-priority="3"]');
  assert.match((await row.textContent()) ?? '', /Europe\/Berlin · 1 holiday/);
  await shot('01-settings');
  await phoneAndDark('01-settings');
});

step('a manager promises example.com faster answers with an SLA agreement', async () => {
  assert.match(await text('#no-agreements'), /No agreements/);
  await clickAndLoad('#new-agreement');
  await page.fill('#agreement-form input[name=name]', 'Example Corp gold');
  await page.fill('#agreement-form textarea[name=requesters]', '@example.com');
  await page.fill('#agreement-form input[name=p3_fr]', '30');
  await shot('01-agreement-form');
  await phoneAndDark('01-agreement-form');
  await clickAndLoad('#save-agreement');
  assert.match(await text('.flash'), /SLA agreement Example Corp gold added/);
  const row = page.locator('#sla-agreements tr', { hasText: 'Example Corp gold' });
  assert.match((await row.textContent()) ?? '', /@example\.com/);
  await shot('01-agreements');
  await phoneAndDark('01-agreements');
});

step('a requester raises a ticket from the form', async () => {
  const res = await page.request.post(`${server.url}/api/v1/users`,
    { data: { username: 'ana', password: 'password-of-ana', role: 'viewer', email: 'ana@example.com' } });
  assert.ok(res.ok(), await res.text());
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  requester = await ctx.newPage();
  await requester.goto(`${server.url}/login`);
  await requester.fill('input[name=username]', 'ana');
  await requester.fill('input[name=password]', 'password-of-ana');
  await Promise.all([requester.waitForEvent('load'), requester.click('button[type=submit]')]);
  await requester.goto(`${server.url}/tickets`);
  assert.equal((await requester.locator('main h1').textContent()).trim(), 'My tickets');
  await Promise.all([requester.waitForEvent('load'), requester.click('#new-ticket')]);
  await requester.fill('#ticket-form input[name=title]', 'The VPN drops every few minutes');
  await requester.fill('#ticket-form textarea[name=description]', 'Since this morning, on the office Wi-Fi.');
  await requester.selectOption('#ticket-form select[name=impact]', '3');
  await requester.selectOption('#ticket-form select[name=urgency]', '2');
  await Promise.all([requester.waitForEvent('load'), requester.click('#ticket-form button[type=submit]')]);
  number = (await requester.locator('main h1').textContent()).split(' ')[0];
  assert.match(number, /^TKT-\d+$/);
  assert.equal((await requester.locator('#ticket-priority').textContent()).trim(), 'P3');
  assert.equal(await requester.locator('#sla-agreement').count(), 0, 'which agreement covers a ticket is the agents\'');
  await requester.setInputFiles('#upload-file', { name: 'vpn-log.txt', mimeType: 'text/plain', buffer: Buffer.from('disconnect 09:14\n') });
  await Promise.all([requester.waitForEvent('load'), requester.click('#upload')]);
  assert.match((await requester.locator('#attachments').textContent()) ?? '', /vpn-log\.txt/);
  await requester.goto(`${server.url}/tickets`);
  assert.equal(await requester.locator(`#tickets-table tr[data-ticket="${number}"]`).count(), 1, 'their own tickets');
});

step('the agent sees it in the queue with its SLA timers, routed to them', async () => {
  await go('/tickets?view=mine');
  const row = page.locator(`#tickets-table tr[data-ticket="${number}"]`);
  assert.match((await row.textContent()) ?? '', /due in/);
  assert.match((await row.textContent()) ?? '', /Network · Alex Morgan/);
  await shot('02-queue');
  await phoneAndDark('02-queue');
  await clickAndLoad(`#tickets-table tr[data-ticket="${number}"] a.strong`);
  assert.match(await text('#sla-first-response'), /due in/);
  assert.equal(await text('#ticket-team'), 'Network');
  assert.equal(await text('#ticket-assignee'), 'Alex Morgan');
  assert.match(await text('#attachments'), /vpn-log\.txt/);
  assert.equal(await text('#sla-agreement'), 'Example Corp gold');
  await shot('02-ticket-attachments');
});

step('a reply, an internal note, and a pending state that pauses the clock', async () => {
  await page.fill('#reply-form textarea[name=body]', 'Which VPN client version do you use?');
  await clickAndLoad('#reply-form button[type=submit]');
  assert.match(await text('#sla-first-response'), /met/);
  await page.fill('#reply-form textarea[name=body]', 'Probably the 5.2 rollout again.');
  await page.check('#reply-form input[name=internal]');
  await clickAndLoad('#reply-form button[type=submit]');
  await page.fill('#pend-form input[name=reason]', "Ana's answer");
  await clickAndLoad('#move-pend');
  assert.equal(await text('#ticket-state'), 'pending');
  assert.match(await text('#sla-resolution'), /paused/);
  await shot('03-pending');
  await phoneAndDark('03-pending');
});

step('resumed, taken by an agent, and resolved; the requester sees the reply, not the note', async () => {
  await page.selectOption('#assign-form select[name=assignee]', { label: 'Alex Morgan' });
  await clickAndLoad('#assign');
  assert.equal(await text('#ticket-assignee'), 'Alex Morgan');
  assert.equal(await page.locator('#assign-form select[name=assignee] option[selected]').textContent(), 'Alex Morgan');
  await clickAndLoad('#move-start');
  assert.equal(await text('#ticket-state'), 'in progress');
  await clickAndLoad('#move-resolve');
  assert.equal(await text('#ticket-state'), 'resolved');
  assert.match(await text('#sla-resolution'), /met/);
  await shot('04-resolved');
  await requester.goto(`${server.url}/tickets/${number.split('-')[1]}`);
  const convo = (await requester.locator('#conversation').textContent()) ?? '';
  assert.match(convo, /Which VPN client version/);
  assert.doesNotMatch(convo, /5\.2 rollout/);
  assert.equal(await requester.locator('#ticket-moves').count(), 0, 'requesters do not move tickets');
});

step('another report becomes a child of the first, and is promoted to an incident', async () => {
  const svc = await page.request.post(`${server.url}/api/v1/services`, { data: { name: 'VPN gateway' } });
  assert.ok(svc.ok(), await svc.text());
  const { id } = await svc.json();
  const res = await page.request.post(`${server.url}/api/v1/tickets`,
    { data: { title: 'VPN down on floor 2', service_id: id, impact: 2, urgency: 1 } });
  assert.ok(res.ok(), await res.text());
  const second = (await res.json()).number;
  await go(`/tickets/${second.split('-')[1]}`);
  await page.click('#ticket-links summary');
  await page.fill('#parent-form input[name=parent]', number);
  await clickAndLoad('#set-parent');
  assert.equal(await text('#ticket-parent'), number);
  await page.click('#ticket-links summary');
  await shot('06-links');
  await clickAndLoad('#promote');
  await page.waitForURL(/\/incidents\/\d+/);
  assert.match(await text('#incident-tickets'), new RegExp(`${second} VPN down on floor 2`));
  await shot('07-promoted');
  await go(`/tickets/${second.split('-')[1]}`);
  assert.match(await text('#ticket-incident'), /^INC-\d+ VPN down on floor 2$/);
  await phoneAndDark('08-linked');
});

step('the KPI dashboard shows the desk: SLA compliance and the reopen rate', async () => {
  await go('/reports');
  const tile = page.locator('.kpi-tiles > *', { hasText: 'SLA compliance' });
  assert.match((await tile.textContent()) ?? '', /100\s%/);
  const reopen = page.locator('.kpi-tiles > *', { hasText: 'Reopen rate' });
  assert.match((await reopen.textContent()) ?? '', /0\s%/);
  await shot('05-kpi');
});
