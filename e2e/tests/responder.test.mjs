// The responder's UI on the demo organisation: the overview leads with what is broken, a page
// visibly arrives in the demo inbox, the incident action bar acknowledges and reassigns, a
// person on call without a contact method is warned; then every page at 390×844 with long data
// fits the screen, and axe-core finds no serious or critical problem in either theme.
//
// E2E_SCREENSHOTS=1 saves screenshots to e2e/screenshots/.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { walk } from '../lib/walk.mjs';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const DEMO = { username: 'admin', password: 'opsdeck-demo' };
const LIVE_TIMEOUT_MS = 20_000;

let server;
let page;
const w = walk({ screenshotPrefix: 'responder-', ready: (r) => ({ server, page } = r), serverOptions: async () => ({ args: ['--demo'] }) });
const { step, shot, go, submitTo, clickAndLoad, text } = w;
const squash = (s) => s.replace(/\s+/g, ' ').trim();

let incident = '';
let pingUrl = '';
const LONG = 'Payment authorisations through the EU card acquirer are timing out for a subset of merchants after the 14:02 failover';

async function signIn(p, user) {
  await p.goto(`${server.url}/login`);
  await p.fill('input[name=username]', user.username);
  await p.fill('input[name=password]', user.password);
  await Promise.all([p.waitForEvent('load'), p.click('button[type=submit]')]);
}

/** An API call with the page's session (the API takes the session cookie). */
async function api(method, path, data) {
  const res = await page.request.fetch(`${server.url}${path}`, { method, data });
  const body = await res.text();
  assert.ok(res.ok(), `${method} ${path}: ${res.status()} ${body}`);
  return body ? JSON.parse(body) : null;
}

step('sign in to the demo', async () => {
  await signIn(page, DEMO);
  assert.equal(await text('main h1'), 'Overview');
});

step('the overview lists a triggered incident and a down monitor first', async () => {
  const services = await api('GET', '/api/v1/services?limit=50');
  const checkout = services.items.find((s) => s.name === 'Checkout API');
  const m = await api('POST', '/api/v1/monitors', {
    name: 'Checkout nightly settlement', service_id: checkout.id, type: 'heartbeat',
    settings: { schedule: { period_seconds: 3600 }, grace_seconds: 600 },
  });
  pingUrl = m.ping_url;
  const res = await page.request.get(`${pingUrl}/fail`);
  assert.equal(res.status(), 200);

  await go('/');
  const row = page.locator('#open-incidents tbody tr').first();
  await row.waitFor({ timeout: LIVE_TIMEOUT_MS });
  assert.match(squash(await row.innerText()), /SEV1 triggered INC-\d+ Checkout nightly settlement is down/i);
  incident = (await row.locator('a.strong').textContent()).trim();
  assert.match(squash(await page.locator('#broken-monitors li').first().innerText()), /down Checkout nightly settlement Checkout API/i);
  // What is broken comes before everything else on the page.
  const headings = await page.locator('main h2').allTextContents();
  assert.deepEqual(headings.slice(0, 3), ['Open incidents', 'Monitors not up', 'On call']);
  assert.notEqual(await text('#stat-triggered .num'), '0');
  await shot('01-overview');
});

step('the demo inbox receives the page', async () => {
  await go('/demo/inbox');
  const msg = page.locator('#inbox li').filter({ hasText: incident });
  await msg.first().waitFor({ timeout: LIVE_TIMEOUT_MS });
  assert.match(squash(await msg.first().innerText()), /triggered: Checkout nightly settlement is down/);
  await shot('02-inbox');

  // One click sends yourself a test.
  await go('/settings/notifications');
  await submitTo('#test-mine', '/settings/notifications/test');
  assert.equal(await text('.flash.ok'), 'Test sent to 1 contact method');
  assert.match(await text('#test-results'), /Demo inbox \(webhook\): sent/);
  await go('/demo/inbox');
  assert.match(await text('#inbox li:first-child'), /Test notification for Alex Admin/);
});

step('the incident action bar acknowledges and reassigns', async () => {
  await go(`/incidents/${incident}`);
  assert.equal(await text('#incident-status'), 'triggered');
  await submitTo('#ack-btn', `/incidents/${incident}`);
  assert.equal(await text('.flash.ok'), 'Acknowledged');
  assert.equal(await text('#incident-status'), 'acknowledged');
  assert.equal(await text('#assignee'), 'Alex Admin', 'whoever acknowledges becomes the assignee');

  await page.click('#reassign-btn');
  await page.selectOption('#assign-form select[name=assignee_id]', { label: 'Riley Responder' });
  await submitTo('#assign-form button', `/incidents/${incident}`);
  assert.equal(await text('.flash.ok'), 'Assignment saved');
  assert.equal(await text('#assignee'), 'Riley Responder');

  await page.click('#responder-btn');
  await page.selectOption('#responder-form select[name=user_id]', { label: 'Sam Manager' });
  await submitTo('#responder-form button', `/incidents/${incident}`);
  assert.match(await text('main aside'), /Responders\s*Riley Responder, Sam Manager/);
  await shot('03-incident');

  // r resolves from the keyboard.
  await Promise.all([page.waitForEvent('load'), page.keyboard.press('r')]);
  assert.equal(await text('#incident-status'), 'resolved');
});

step('a person on call without a contact method is warned', async () => {
  const user = { username: 'nora', password: 'nora-password-1' };
  const nora = await api('POST', '/api/v1/users', { ...user, display_name: 'Nora Newcomer', role: 'responder' });
  const schedules = await api('GET', '/api/v1/schedules');
  const now = Date.now();
  await api('POST', `/api/v1/schedules/${schedules.items[0].id}/overrides`, {
    user_id: nora.id, start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString(),
  });
  const ctx = await page.context().browser().newContext({ viewport: { width: 390, height: 844 } });
  const p = await ctx.newPage();
  try {
    await signIn(p, user);
    assert.match(await p.locator('#unreachable-warning').innerText(), /You are on call, but Opsdeck has no way to reach you/);
    await p.goto(`${server.url}/oncall/${schedules.items[0].id}`);
    assert.match(await p.locator('#unreachable-warning').innerText(), /No contact method for Nora Newcomer/);
  } finally {
    await ctx.close();
  }
});

step('on-call editors: add a level, keep what was typed when refused, page the timeline', async () => {
  await go('/escalation-policies');
  await page.fill('#policy-form input[name=name]', 'Night shift');
  await page.selectOption('#policy-form select[name=level1] >> nth=0', { label: 'Schedule: Platform primary' });
  await clickAndLoad('#add-level');
  assert.equal(await page.locator('ol.level-editor > li').count(), 2, 'one more level, without JavaScript');
  assert.equal(await page.inputValue('#policy-form input[name=name]'), 'Night shift');
  await page.selectOption('#policy-form select[name=level2] >> nth=0', { label: 'Person: Sam Manager' });
  await page.fill('#policy-form input[name=delay1]', 'soon');
  await clickAndLoad('#save-policy');
  assert.match(await text('#form-error'), /level 1: the delay is a whole number of minutes/);
  assert.equal(await page.inputValue('#policy-form input[name=name]'), 'Night shift', 'the typed name is kept');
  assert.equal(await page.locator('.flash.ok').count(), 0);
  await page.fill('#policy-form input[name=delay1]', '10');
  await submitTo('#save-policy', '/escalation-policies');
  assert.equal(await text('.flash.ok'), 'Policy Night shift created');
  const card = page.locator('section.card').filter({ hasText: 'Night shift' }).first();
  assert.match(squash(await card.innerText()), /Schedule: Platform primary — after 10 min without acknowledgement, then: Person: Sam Manager Runs once/);

  const sched = (await api('GET', '/api/v1/schedules')).items[0].id;
  await go(`/oncall/${sched}`);
  assert.equal(await page.locator('#schedule-timeline svg g.now line').count(), 1, 'now is marked');
  assert.ok(await page.locator('#schedule-timeline svg text.who').count() > 0, 'blocks are named');
  await clickAndLoad('#tl-next');
  assert.equal(new URL(page.url()).searchParams.get('page'), '1');
  assert.equal(await page.locator('#schedule-timeline svg g.now').count(), 0);
  assert.match(await text('main section h2 >> nth=0'), /^\w{3} \d{2} \w{3} – \w{3} \d{2} \w{3} \d{4}$/);
  // A page number the user typed is bounded (a year either way), and nonsense shows now.
  for (const [q, status] of [['zzz', 200], ['99999999999', 200], ['-40', 200]]) {
    assert.equal((await go(`/oncall/${sched}?page=${q}`)).status(), status);
  }
  assert.equal(await page.locator('#schedule-timeline svg').count(), 1);
  await go('/oncall');
  assert.ok(await page.locator('datalist#time-zones option[value="Europe/Berlin"]').count() === 1, 'time zones are suggested');
});

step('a layer is edited in place: turns shown in order and moved earlier', async () => {
  const sched = (await api('GET', '/api/v1/schedules')).items.find((x) => x.layers.some((l) => l.users.length >= 2));
  assert.ok(sched, 'the demo has a rotation of two or more');
  const i = sched.layers.findIndex((l) => l.users.length >= 2);
  const users = sched.layers[i].users;
  await go(`/oncall/${sched.id}?edit_layer=${i}`);
  assert.equal(await text('#layer-form h3'), `Edit layer ${i + 1}`);
  const turns = page.locator('#turns select');
  assert.equal(await turns.nth(0).inputValue(), users[0]);
  assert.equal(await turns.nth(1).inputValue(), users[1]);
  await page.click('#turns li >> nth=1 >> button[data-turn-move="-1"]');
  assert.equal(await turns.nth(0).inputValue(), users[1], 'the second turn moved first');
  // Refused: the form comes back as typed, the reason beside the field.
  const count = await page.inputValue('#layer-form input[name=count]');
  await page.fill('#layer-form input[name=count]', '0');
  await clickAndLoad('#save-layer');
  assert.match(await text('#form-error'), /^Each turn: /);
  assert.equal(await page.getAttribute('#layer-form input[name=count]', 'aria-invalid'), 'true');
  assert.equal(await text('#layer-form h3'), `Edit layer ${i + 1}`, 'still editing the same layer');
  assert.equal(await turns.nth(0).inputValue(), users[1], 'the moved turn is kept');
  await page.fill('#layer-form input[name=count]', count);
  await submitTo('#save-layer', `/oncall/${sched.id}`);
  assert.equal(await text('.flash.ok'), 'Layer saved');
  const after = (await api('GET', `/api/v1/schedules/${sched.id}`)).layers;
  assert.equal(after.length, sched.layers.length, 'replaced, not added');
  assert.deepEqual(after[i].users, [users[1], users[0], ...users.slice(2)]);
  assert.equal(after[i].name, sched.layers[i].name);
});

step('a refused form marks every wrong field at once, beside the field, values kept', async () => {
  await go('/monitors/new?type=http');
  await page.fill('#monitor-form input[name=name]', '   ');
  await page.fill('#monitor-form input[name=url]', 'ftp://files.example.com/export');
  await page.fill('#monitor-form input[name=interval_seconds]', '0');
  await clickAndLoad('#monitor-form button.primary');
  const lines = (await text('#form-error')).split('\n').map((l) => l.trim()).filter(Boolean);
  assert.equal(lines.length, 3, lines.join(' | '));
  assert.match(lines[0], /^Name: must not be empty$/);
  assert.match(lines.join('\n'), /^URL: must start with http/m);
  assert.match(lines.join('\n'), /^Interval \(seconds\): must be 1 to/m);
  assert.equal(await page.locator('#monitor-form [aria-invalid=true]').count(), 3, 'every wrong field is marked');
  assert.equal(await page.locator('#monitor-form .field-error').count(), 3, 'each reason sits beside its field');
  assert.equal(await page.inputValue('#monitor-form input[name=url]'), 'ftp://files.example.com/export');
  assert.ok(!lines.join(' ').includes('settings.'), 'no internal field paths');
  // Fixed, and asked to connect anew for every check: saved as typed.
  await page.fill('#monitor-form input[name=name]', 'Status page, first visit');
  await page.fill('#monitor-form input[name=url]', `${server.url}/readyz`);
  await page.fill('#monitor-form input[name=interval_seconds]', '60');
  await page.check('#monitor-form input[name=fresh_connection]');
  await clickAndLoad('#monitor-form button.primary');
  const made = (await api('GET', '/api/v1/monitors?q=first%20visit')).items.find((m) => m.name === 'Status page, first visit');
  assert.equal(made?.settings.fresh_connection, true, JSON.stringify(made));
});

step('routing rules are built row by row: add, choose, reorder, refuse a bad row with values kept', async () => {
  const svc = (await api('GET', '/api/v1/services?q=checkout')).items.find((s) => s.slug === 'checkout-api');
  await go('/services/checkout-api/integrations');
  const before = await page.locator('#rules > li').count();
  await clickAndLoad('#add-rule');
  let n = before + 1;
  assert.equal(await page.locator('#rules > li').count(), n, 'a row is added without saving');
  await page.fill(`input[name="r${n}.labels"]`, 'env=staging');
  await page.selectOption(`select[name="r${n}.action"]`, 'set_severity');
  assert.ok(await page.locator(`#rule-${n} [data-when=route]`).isHidden(), 'only the chosen action\'s field shows');
  await page.selectOption(`select[name="r${n}.set_severity"]`, 'info');
  await clickAndLoad('#add-rule');
  n += 1;
  assert.equal(await page.inputValue(`input[name="r${n - 1}.labels"]`), 'env=staging', 'the unsaved row is kept');
  await page.check(`input[name="r${n}.severity"][value=info]`);
  await page.fill(`input[name="r${n}.summary"]`, 'heartbeat');
  await page.selectOption(`select[name="r${n}.action"]`, 'drop');
  await clickAndLoad(`button[name=up][value="${n}"]`);
  assert.equal(await page.inputValue(`input[name="r${n - 1}.summary"]`), 'heartbeat', 'moved up');
  await submitTo('#save-alert-settings', '/services/checkout-api/integrations');
  assert.equal(await text('.flash.ok'), 'Alert settings saved');
  const saved = (await api('GET', `/api/v1/services/${svc.id}/alert-settings`)).rules.slice(before);
  assert.deepEqual(saved, [
    { match: { severity: ['info'], summary_contains: 'heartbeat' }, action: 'drop' },
    { match: { labels: { env: 'staging' } }, action: 'set_severity', severity: 'info' },
  ]);

  await clickAndLoad('#add-rule');
  n += 1;
  await page.fill(`input[name="r${n}.labels"]`, 'staging');
  await clickAndLoad('#save-alert-settings');
  assert.match(await text('#form-error'), new RegExp(`Routing rules: rule ${n}: write labels as name=value`));
  assert.equal(await page.inputValue(`input[name="r${n}.labels"]`), 'staging', 'the typed row is kept');
  assert.equal((await api('GET', `/api/v1/services/${svc.id}/alert-settings`)).rules.length, before + 2, 'nothing was saved');
  await clickAndLoad(`button[name=remove][value="${n}"]`);
  assert.equal(await page.locator('#rules > li').count(), n - 1);
});

step('the services list says who is paged first', async () => {
  await go('/services');
  const row = page.locator('#services-table tbody tr').filter({ hasText: 'Checkout API' }).first();
  const cell = squash(await row.locator('td.on-call').innerText());
  assert.ok(cell.length > 0 && cell !== 'No escalation policy', `Checkout API pages someone: ${cell}`);
  assert.match(await text('#services-total'), /^\d+ services in the catalogue$/);
  await go('/teams');
  assert.match(await text('#teams-total'), /^\d+ teams?$/);
});

step('the KPI dashboard compares last month with the month before; an SLO has its page', async () => {
  await go('/reports');
  // Options: the last 30 days, this month, then last month.
  const last = await page.locator('select[name=period] option').nth(2).getAttribute('value');
  await page.selectOption('select[name=period]', last);
  await submitTo('.filters button[type=submit]', '/reports');
  assert.match(await page.locator('#kpi-period').innerText(), new RegExp(`^${last} compared with \\d{4}-\\d{2}`));
  const tiles = squash(await page.locator('#kpi-tiles').innerText());
  assert.match(tiles, /Availability \(SLA\) \d+(\.\d+)?\s%/, tiles);
  assert.match(tiles, /MTTA \d+ (s|min|h)/, tiles);
  assert.ok(await page.locator('#kpi-services tbody tr').count() >= 5, 'every checked service has a row');
  assert.equal(await page.locator('svg.chart.columns').count(), 1, 'incidents per week');
  await shot('kpi-dashboard');
  const csv = await (await page.request.get(`${server.url}${await page.getAttribute('#kpi-csv', 'href')}`)).text();
  assert.equal(csv.split('\n')[0], 'metric,scope,current,previous');
  assert.match(csv, /^availability_adjusted,all,0\.\d+,0\.\d+$/m);
  const printable = await page.request.get(`${server.url}${await page.getAttribute('#kpi-print', 'href')}`);
  assert.match(await printable.text(), new RegExp(`<h1>Operations report: ${last}</h1>`));

  const monitors = await api('GET', '/api/v1/monitors?limit=50');
  const mon = monitors.items.find((m) => m.service_id);
  const slo = await api('POST', '/api/v1/slos', {
    name: 'Checkout availability', service_id: mon.service_id, target: 0.999,
    sli: { type: 'availability', monitor_ids: [mon.id] }, window: { rolling_days: 28 },
  });
  await go(`/slos/${slo.id}`);
  assert.equal(await text('main h1'), 'Checkout availability');
  assert.equal(await page.locator('svg.chart.burn').count(), 1, 'the budget burn-down');
  await shot('slo');
  // Counts pushed by the shop itself; a Prometheus ratio whose server is down says so.
  const orders = await api('POST', '/api/v1/slos', {
    name: 'Orders placed', service_id: mon.service_id, target: 0.99,
    sli: { type: 'events' }, window: { rolling_days: 7 },
  });
  const at = new Date(Date.now() - 60_000).toISOString();
  await api('POST', `/api/v1/slos/${orders.id}/events`, { events: [{ at, good: 995, total: 1000 }] });
  await go(`/slos/${orders.id}`);
  assert.match(squash(await page.locator('main').innerText()), /995 of 1000 pushed events were good/);
  await shot('slo-events');
  const web = await api('POST', '/api/v1/slos', {
    name: 'Web requests', service_id: mon.service_id, target: 0.99, window: { rolling_days: 28 },
    sli: {
      type: 'prometheus', prometheus_url: 'http://127.0.0.1:9',
      bad_query: 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))',
      total_query: 'sum(rate(http_requests_total[{{.window}}]))',
    },
  });
  await go(`/slos/${web.id}`);
  assert.match(await text('#slo-source-error'), /cannot be read now/);
  assert.equal(await page.locator('.slo-queries dd').count(), 2, 'both queries are shown');
  await shot('slo-prometheus');
  await go(`/reports?period=${last}`);
  assert.match(squash(await page.locator('#kpi-slos').innerText()), /Checkout availability 99\.9\s%/);
});

step('a capacity forecast: pushed history, the band and when the disk is full', async () => {
  await go('/capacity');
  assert.match(await page.locator('#push-example').innerText(), /api\/v1\/series\/disk_used_bytes\/points/);
  const now = Date.now();
  const points = Array.from({ length: 14 * 24 }, (_, i) => {
    const hoursAgo = 14 * 24 - 1 - i;
    return { at: new Date(now - hoursAgo * 3600_000).toISOString(), value: 600 + 2 * (-hoursAgo / 24) + 4 * Math.sin(hoursAgo / 3.8) };
  });
  await api('POST', '/api/v1/series/db1.disk_used_gb/points', { points });
  await go('/capacity');
  assert.match(squash(await page.locator('#series-table').innerText()), /db1\.disk_used_gb/);
  await go('/capacity/db1.disk_used_gb?capacity=1000&training_days=14&horizon_days=60');
  assert.equal(await page.locator('svg.chart.forecast .band').count(), 1);
  assert.equal(await page.locator('svg.chart.forecast .capacity').count(), 1);
  assert.match(await page.locator('#verdict').innerText(), /^Reaches 1000 in (19\d|20\d)\.\d days/);
  assert.match(await page.locator('#no-anomalies').innerText(), /^None in the history shown/);
  assert.match(await page.title(), /^db1\.disk_used_gb · Capacity/);
  await shot('capacity-forecast');
  // A manager makes the forecast alert on a service; the form then shows the settings in force.
  const svcName = (await page.locator('#alert-form select[name=service_id] option').nth(1).innerText()).trim();
  await page.selectOption('#alert-form select[name=service_id]', { index: 1 });
  await page.fill('#alert-form input[name=within_days]', '365');
  await submitTo('#alert-form button[type=submit]', '/capacity/db1.disk_used_gb');
  const escaped = svcName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(squash(await page.locator('#series-alert').innerText()),
    new RegExp(`Alerts ${escaped} when it is forecast to reach 1000 within 365 days`));
  assert.equal(await page.inputValue('#alert-form input[name=within_days]'), '365');
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator('#series-alert').scrollIntoViewIfNeeded();
  await shot('capacity-alert-phone');
  await page.setViewportSize(size);
  await go('/capacity/db1.disk_used_gb?capacity=1000&training_days=14&horizon_days=60');
  await page.selectOption('select[name=method]', 'holt');
  await submitTo('#forecast-form button[type=submit]', '/capacity/db1.disk_used_gb');
  assert.match(await page.locator('#verdict').innerText(), /^Reaches 1000 in \d/);
});

step('long data: 100 services, long names and an incident with 40 alerts', async () => {
  const team = (await api('GET', '/api/v1/teams')).items[0];
  for (let i = 0; i < 90; i += 1) {
    const name = i % 10 === 0 ? `Service ${i} with an unusually long name that goes on and on for quite a while` : `svc-${String(i).padStart(3, '0')}`;
    await api('POST', '/api/v1/services', { name, team_id: team.id, tier: 1 + (i % 4) });
  }
  const svc = await api('POST', '/api/v1/services', { name: 'Card acquirer gateway for European merchants (primary region)' });
  const it = await api('POST', `/api/v1/services/${svc.id}/integrations`, { type: 'pagerduty' });
  for (let i = 0; i < 40; i += 1) {
    const res = await page.request.post(`${server.url}/v2/enqueue`, {
      data: { routing_key: it.key, event_action: 'trigger', dedup_key: `acq-${i}`,
        payload: { summary: i % 2 ? LONG : 'Authorisation latency p99 above 2 s', source: `acq-${i % 5}.eu-west-1.internal.example.com`, severity: 'critical' } },
    });
    assert.equal(res.status(), 202);
  }
  await go('/incidents');
  const row = page.locator('#incidents-table tbody tr').filter({ hasText: 'Card acquirer' }).first();
  await row.waitFor({ timeout: LIVE_TIMEOUT_MS });
});

/** Every page a person visits, with realistic ids. */
async function allPages() {
  const sched = (await api('GET', '/api/v1/schedules')).items[0].id;
  const mon = (await api('GET', '/api/v1/monitors?limit=1')).items[0].id;
  const incs = (await api('GET', '/api/v1/incidents?limit=1')).items;
  const pol = (await api('GET', '/api/v1/escalation-policies')).items[0].id;
  return ['/', '/?kiosk=1', '/incidents', `/incidents/${incs[0].number}`, '/incidents/INC-1/postmortem', '/alerts',
    '/monitors', `/monitors/${mon}`, '/monitors/new', `/monitors/${mon}/edit`, '/maintenance',
    '/services', '/services/checkout-api', '/services/checkout-api/integrations', '/services/new', '/teams', '/teams/platform',
    '/oncall', `/oncall/${sched}`, '/escalation-policies', `/escalation-policies?edit=${pol}`, '/channels', '/settings/notifications', '/demo/inbox',
    '/reports', '/reports/mttx', '/capacity', '/capacity/db1.disk_used_gb?capacity=1000', '/action-items', '/settings', '/settings/users', '/settings/tokens', '/settings/audit', '/nowhere'];
}

step('every page fits a 390 px phone screen', async () => {
  const pages = await allPages();
  const ctx = await page.context().browser().newContext({ viewport: { width: 390, height: 844 } });
  const p = await ctx.newPage();
  const wide = [];
  try {
    await signIn(p, DEMO);
    for (const path of pages) {
      await p.goto(server.url + path);
      const r = await p.evaluate(() => ({ vw: document.documentElement.clientWidth, sw: document.documentElement.scrollWidth }));
      if (r.sw > r.vw) wide.push(`${path}: ${r.sw} px`);
    }
    assert.deepEqual(wide, [], 'pages wider than the screen');

    // The incident with 40 long alerts: its main areas do not overlap, on the phone and on a desk.
    const inc = pages[3];
    for (const vp of [{ width: 390, height: 844 }, { width: 1366, height: 900 }]) {
      await p.setViewportSize(vp);
      await p.goto(server.url + inc);
      const boxes = await p.evaluate(() => {
        const sel = ['#incident-actions', '#timeline', '#note-form', '#alerts-table', 'main aside .card'];
        return sel.map((s) => { const b = document.querySelector(s)?.getBoundingClientRect(); return b && { s, x: b.x, y: b.y, r: b.right, b: b.bottom }; }).filter(Boolean);
      });
      assert.equal(boxes.length, 5, JSON.stringify(boxes));
      for (let i = 0; i < boxes.length; i += 1) {
        for (let j = i + 1; j < boxes.length; j += 1) {
          const [a, b] = [boxes[i], boxes[j]];
          const overlap = a.x < b.r - 1 && b.x < a.r - 1 && a.y < b.b - 1 && b.y < a.b - 1;
          assert.ok(!overlap, `${a.s} overlaps ${b.s} at ${vp.width} px`);
        }
      }
      assert.ok(await p.locator('#alerts-table tbody tr').count() <= 3, '40 look-alike alerts are grouped');
    }
  } finally {
    await ctx.close();
  }
});

// One step per colour scheme: each walks every page, and axe on the long pages takes seconds.
for (const scheme of ['light', 'dark']) {
  step(`axe-core finds no serious or critical problem on any page, ${scheme}`, async () => {
    const pages = await allPages();
    const found = [];
    const ctx = await page.context().browser().newContext({ viewport: { width: 1280, height: 900 }, colorScheme: scheme });
    const p = await ctx.newPage();
    try {
      await signIn(p, DEMO);
      for (const path of pages) {
        await p.goto(server.url + path);
        await p.addScriptTag({ path: AXE });
        const violations = await p.evaluate(async () => {
          const r = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'], resultTypes: ['violations'] });
          return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
        });
        for (const v of violations) found.push(`${path} ${v}`);
      }
    } finally {
      await ctx.close();
    }
    assert.deepEqual(found, []);
  }, { timeout: 180_000 });
}
