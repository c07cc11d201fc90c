// Foundation walk-through in a real browser: first-run setup, sign-out/in,
// teams, the service catalogue (create, list, search, edit, form errors),
// roles (a viewer cannot edit through the UI or the API), empty states and
// the phone layout.
//
//   cd e2e && OPSDECK_BIN=… node --test --test-concurrency=1 tests/
//
// The steps share one server, one browser page and its session, and run in
// order: each builds on the state the previous one left. Once a step fails
// the later ones are skipped rather than failing for the same reason.
// E2E_SCREENSHOTS=1 saves screenshots of key pages to e2e/screenshots/.

import assert from 'node:assert/strict';
import { pathIs, walk } from '../lib/walk.mjs';


const ADMIN = { username: 'admin', display_name: 'Alex Morgan', email: 'alex@example.com', password: 'correct-horse-battery' };
const VIEWER = { username: 'vera', display_name: 'Vera Viewer', email: 'vera@example.com', password: 'viewer-password-1' };
const SERVICE = {
  name: 'Checkout API',
  slug: 'checkout-api',
  description: 'Takes the money.',
  tags: 'pci, prod',
  runbook_url: 'https://wiki.example.com/runbooks/checkout',
};

let server;
let page;
const w = walk({ screenshotPrefix: '', ready: (r) => ({ server, page } = r) });
const { step, shot, go, submitTo, text } = w;
const squash = (s) => s.replace(/\s+/g, ' ').trim();

async function signOut() {
  await page.click('details.usermenu > summary');
  await page.locator('#logout').waitFor({ state: 'visible' });
  await submitTo('#logout', '/login');
  assert.equal(await page.locator('h1').textContent(), 'Sign in');
  assert.equal(await text('.flash.ok'), 'Signed out');
}

async function signIn({ username, password }) {
  await go('/login');
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await submitTo('form[action="/login"] button[type=submit]', '/');
}

async function assertSignedInAs(user, role) {
  assert.equal(await text('details.usermenu .uname'), user.display_name);
  assert.equal(await text('details.usermenu .badge.role'), role);
}

/** Runs fetch() inside the page (same origin, with the session cookie). */
function pageFetch(url, init = {}) {
  return page.evaluate(async ([url, init]) => {
    const res = await fetch(url, init);
    const body = await res.text();
    let json = null;
    try { json = JSON.parse(body); } catch { /* not JSON */ }
    return { status: res.status, type: res.type, location: res.headers.get('location'), json, body };
  }, [url, init]);
}

// ---- the walk ----------------------------------------------------------------------------

step('first-run setup creates the admin and signs in', async () => {
  await go('/');
  await page.waitForURL(pathIs('/setup'));
  assert.equal(await text('h1'), 'Welcome to Opsdeck');
  await shot('01-setup');

  await page.fill('input[name=username]', ADMIN.username);
  await page.fill('input[name=display_name]', ADMIN.display_name);
  await page.fill('input[name=email]', ADMIN.email);
  await page.fill('input[name=password]', ADMIN.password);
  await page.fill('input[name=password_confirm]', ADMIN.password);
  await submitTo('form[action="/setup"] button[type=submit]', '/');

  assert.equal(await text('main h1'), 'Overview');
  assert.equal(await text('.flash.ok'), 'Welcome! Your admin account is ready.');
  await assertSignedInAs(ADMIN, 'admin');
  // Admin-only navigation is there.
  assert.equal(await page.locator('#nav a[href="/settings/users"]').count(), 1);
  assert.equal(await page.locator('#nav a[href="/settings/audit"]').count(), 1);

  // Setup is a one-time thing: it now sends to sign-in.
  const again = await pageFetch('/setup', { redirect: 'manual' });
  assert.equal(again.type, 'opaqueredirect', 'GET /setup redirects once a user exists');
});

step('a fresh catalogue shows its empty states', async () => {
  await go('/');
  assert.equal(await text('section.empty h2'), 'Start by describing what you run');
  const steps = page.locator('section.empty ol.steps');
  assert.equal(await steps.locator('a[href="/teams"]').count(), 1);
  assert.equal(await steps.locator('a[href="/services/new"]').count(), 1, 'admin is offered to add a service');
  // The only changes so far are the setup itself and the sign-in it started.
  const activity = page.locator('main section:has(h2:text-is("Recent changes")) ul.activity li');
  assert.deepEqual((await activity.allTextContents()).map(squash), [
    'admin signed in just now',
    'setup Created user admin (admin) just now',
  ]);
  await shot('02-overview-empty');

  await go('/services');
  assert.equal(await text('section.empty h2'), 'No services yet');
  assert.equal(await page.locator('section.empty a[href="/services/new"]').count(), 1);
  assert.equal(await page.locator('#services-table').count(), 0);
  assert.equal(await page.locator('#new-service').count(), 1);
  await shot('03-services-empty');

  await go('/teams');
  assert.equal(await text('section.empty h2'), 'No teams yet');
});

step('a phone-sized viewport shows the nav toggle', async () => {
  await go('/');
  const toggle = page.locator('.nav-toggle');
  assert.equal(await toggle.isVisible(), false, 'no nav toggle on a desktop viewport');
  assert.equal(await page.locator('#nav').isVisible(), true);

  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await toggle.waitFor({ state: 'visible' });
    assert.equal(await page.locator('#nav').isVisible(), false, 'nav is folded away on a phone');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    await shot('04-phone-closed');
    await toggle.click();
    await page.locator('#nav').waitFor({ state: 'visible' });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await shot('05-phone-nav-open');
    await page.click('#nav a[href="/services"]');
    await page.waitForURL(pathIs('/services'));
    assert.equal(await text('main h1'), 'Services');
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
});

step('sign out leads to the login page; signing in again works', async () => {
  await go('/');
  await signOut();
  await shot('06-login');

  // Signed-out pages send to sign-in, remembering where to go back to.
  await go('/teams');
  await page.waitForURL((u) => u.pathname === '/login' && u.searchParams.get('next') === '/teams');

  await signIn(ADMIN);
  assert.equal(await text('main h1'), 'Overview');
  await assertSignedInAs(ADMIN, 'admin');
});

step('create team "Payments"', async () => {
  await go('/teams');
  await page.fill('#new-team input[name=name]', 'Payments');
  await page.fill('#new-team textarea[name=description]', 'Card and wallet payments');
  await submitTo('#new-team button[type=submit]', '/teams');

  assert.equal(await text('.flash.ok'), 'Team Payments created');
  const row = page.locator('#teams-table tbody tr', { hasText: 'Payments' });
  assert.equal(await row.count(), 1);
  assert.equal(await row.locator('a.strong').textContent(), 'Payments');
  assert.equal(await row.locator('a.strong').getAttribute('href'), '/teams/payments');
  assert.equal(squash(await row.locator('.sub').textContent()), 'payments');
  assert.equal(squash(await row.locator('td.num').textContent()), '0');
  await shot('07-teams');
});

step('create service "Checkout API" owned by Payments', async () => {
  await go('/services');
  await submitTo('#new-service', '/services/new');
  assert.equal(await text('main h1'), 'New service');

  await page.fill('input[name=name]', SERVICE.name);
  await page.fill('textarea[name=description]', SERVICE.description);
  await page.selectOption('select[name=team_id]', { label: 'Payments' });
  await page.selectOption('select[name=tier]', '1');
  await page.fill('input[name=tags]', SERVICE.tags);
  await page.fill('input[name=runbook_url]', SERVICE.runbook_url);
  await page.fill('textarea[name=links]', 'Dashboard | https://grafana.example.com/d/checkout');
  await submitTo('form.form button[type=submit]', `/services/${SERVICE.slug}`);

  assert.equal(await text('.flash.ok'), 'Service created');
  assert.equal(squash(await page.locator('main h1').textContent()), `${SERVICE.name} Tier 1`);
  const facts = page.locator('dl.facts');
  const fact = (name) => facts.locator(`dt:text-is("${name}") + dd`);
  assert.equal(squash(await fact('Slug').textContent()), SERVICE.slug);
  assert.equal(squash(await fact('Owner').textContent()), 'Payments');
  assert.deepEqual(await fact('Tags').locator('.tag').allTextContents(), ['pci', 'prod']);
  assert.equal(await fact('Runbook').locator('a').getAttribute('href'), SERVICE.runbook_url);
  assert.equal(squash(await fact('Links').textContent()), 'Dashboard');
  assert.equal(await text('p.prose'), SERVICE.description);
  assert.equal(await page.locator('#edit-service').count(), 1, 'admin can edit');
  await shot('08-service');

  // The owning team's page lists it.
  await page.click('dl.facts dt:text-is("Owner") + dd a');
  await page.waitForURL((u) => u.pathname.startsWith('/teams/'));
  assert.equal(await text('main h1'), 'Payments');
  assert.equal(await page.locator(`main table a[href="/services/${SERVICE.slug}"]`).textContent(), SERVICE.name);
});

step('the service is listed and searchable on /services', async () => {
  await go('/services');
  const rows = page.locator('#services-table tbody tr');
  assert.equal(await rows.count(), 1);
  assert.equal(await text('#services-total'), '1 service in the catalogue');
  const row = rows.first();
  assert.equal(await row.locator('a.strong').textContent(), SERVICE.name);
  assert.equal(squash(await row.locator('td').nth(1).textContent()), 'no monitors');
  assert.equal(squash(await row.locator('td').nth(2).textContent()), 'none', 'no open incidents');
  assert.equal(squash(await row.locator('td').nth(3).textContent()), 'No escalation policy', 'nobody is paged yet');
  assert.equal(squash(await row.locator('td').nth(4).textContent()), 'Payments');
  assert.equal(squash(await row.locator('.badge.tier').textContent()), 'T1');
  assert.deepEqual(await row.locator('.tag').allTextContents(), ['pci', 'prod']);
  assert.equal(await row.locator(`a[href="${SERVICE.runbook_url}"]`).count(), 1);
  await shot('09-services');

  // Search through the form, as a person would.
  await page.fill('form.filters input[name=q]', 'checkout');
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/services' && u.searchParams.get('q') === 'checkout'),
    page.click('form.filters button[type=submit]'),
  ]);
  assert.equal(await page.locator('#services-table tbody tr').count(), 1);
  assert.equal(await page.locator('#services-table a.strong').textContent(), SERVICE.name);
  assert.equal(await page.inputValue('form.filters input[name=q]'), 'checkout');

  await go('/services?q=zzz');
  assert.equal(await page.locator('#services-table').count(), 0);
  assert.equal(await text('section.empty h2'), 'No service matches');
  assert.equal(await page.locator('form.filters a[href="/services"]', { hasText: 'Clear' }).count(), 1);
  await shot('10-services-no-match');

  // The overview now counts it.
  await go('/');
  assert.equal(await page.locator('section.empty').count(), 0);
  assert.equal(squash(await page.locator('section[aria-labelledby=h-catalogue] p').textContent()), '1 service · 1 team');
});

step('edit the service description', async () => {
  await go(`/services/${SERVICE.slug}`);
  await submitTo('#edit-service', `/services/${SERVICE.slug}/edit`);
  assert.equal(await text('main h1'), 'Edit service');
  // The form is filled with the current values.
  assert.equal(await page.inputValue('input[name=name]'), SERVICE.name);
  assert.equal(await page.inputValue('input[name=tags]'), 'pci, prod');
  assert.equal(await page.inputValue('select[name=tier]'), '1');
  assert.equal(await page.locator('select[name=team_id] option:checked').textContent(), 'Payments');

  SERVICE.description = 'Takes the money, now with wallets.';
  await page.fill('textarea[name=description]', SERVICE.description);
  await submitTo('form.form button[type=submit]', `/services/${SERVICE.slug}`);

  assert.equal(await text('.flash.ok'), 'Service saved');
  assert.equal(await text('p.prose'), SERVICE.description);
  // Untouched fields are kept.
  assert.equal(squash(await page.locator('dl.facts dt:text-is("Owner") + dd').textContent()), 'Payments');
  assert.deepEqual(await page.locator('dl.facts .tag').allTextContents(), ['pci', 'prod']);

  // The API sees the same.
  const res = await pageFetch('/api/v1/services');
  assert.equal(res.status, 200);
  const svc = res.json.items.find((s) => s.slug === SERVICE.slug);
  assert.ok(svc, `service ${SERVICE.slug} in GET /api/v1/services: ${res.body}`);
  assert.equal(svc.description, SERVICE.description);
  assert.equal(svc.team_name, 'Payments');
  assert.equal(svc.tier, 1);
  assert.deepEqual(svc.tags, ['pci', 'prod']);
  assert.equal(svc.runbook_url, SERVICE.runbook_url);
});

step('a form error keeps what was typed (HTTP 422)', async () => {
  await go('/services/new');
  await page.$eval('form.form', (f) => { f.noValidate = true; });
  await page.fill('input[name=name]', 'Ledger');
  await page.fill('input[name=tags]', 'finance');
  await page.selectOption('select[name=tier]', '2');
  await page.fill('input[name=runbook_url]', 'not-a-url');

  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/services'),
    page.click('form.form button[type=submit]'),
  ]);
  assert.equal(res.status(), 422);
  await page.locator('#form-error').waitFor();
  const msg = await text('#form-error');
  assert.match(msg, /^Runbook URL: /, 'the field is named as the form names it');
  // The field itself is marked, with the reason beside it.
  assert.equal(await page.getAttribute('input[name=runbook_url]', 'aria-invalid'), 'true');
  assert.match(await text('#field-error'), /http:\/\/ or https:\/\//);
  assert.match(msg, /http:\/\/ or https:\/\//);
  assert.equal(await page.inputValue('input[name=name]'), 'Ledger');
  assert.equal(await page.inputValue('input[name=tags]'), 'finance');
  assert.equal(await page.inputValue('select[name=tier]'), '2');
  assert.equal(await page.inputValue('input[name=runbook_url]'), 'not-a-url');
  await shot('11-form-error');

  // Nothing was created.
  await go('/services');
  assert.equal(await page.locator('#services-table tbody tr').count(), 1);
});

step('admin adds a viewer', async () => {
  await go('/settings/users');
  await page.fill('#new-user input[name=username]', VIEWER.username);
  await page.fill('#new-user input[name=display_name]', VIEWER.display_name);
  await page.fill('#new-user input[name=email]', VIEWER.email);
  await page.selectOption('#new-user select[name=role]', 'viewer');
  await page.fill('#new-user input[name=password]', VIEWER.password);
  await submitTo('#new-user button[type=submit]', '/settings/users');

  assert.equal(await text('.flash.ok'), `User ${VIEWER.username} added as viewer`);
  const row = page.locator('#users-table tbody tr', { hasText: VIEWER.display_name });
  assert.equal(await row.count(), 1);
  assert.match(await row.locator('.sub').textContent(), new RegExp(`${VIEWER.username} · ${VIEWER.email}`));
  assert.equal(await row.locator('select[name=role]').inputValue(), 'viewer');
  await shot('12-users');
});

step('a viewer can read but not change services', async () => {
  await signOut();
  await signIn(VIEWER);
  await assertSignedInAs(VIEWER, 'viewer');
  assert.equal(await page.locator('#nav a[href="/settings/users"]').count(), 0, 'no admin nav for a viewer');

  await go(`/services/${SERVICE.slug}`);
  assert.equal(squash(await page.locator('main h1').textContent()), `${SERVICE.name} Tier 1`);
  assert.equal(await text('p.prose'), SERVICE.description);
  assert.equal(await page.locator('#edit-service').count(), 0, 'no Edit link for a viewer');
  assert.equal(await page.locator('form[action$="/delete"]').count(), 0, 'no Delete button for a viewer');
  await shot('13-service-as-viewer');

  await go('/services');
  assert.equal(await page.locator('#services-table tbody tr').count(), 1);
  assert.equal(await page.locator('#new-service').count(), 0);
  assert.equal(await page.getByText('New service').count(), 0, 'no "New service" button for a viewer');

  // The API refuses the change, even from Opsdeck's own page with the session cookie.
  const patch = await pageFetch(`/api/v1/services/${SERVICE.slug}`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ description: 'x' }),
  });
  assert.equal(patch.status, 403, patch.body);
  assert.equal(patch.json?.error?.code, 'forbidden', patch.body);
  const get = await pageFetch(`/api/v1/services/${SERVICE.slug}`);
  assert.equal(get.status, 200);
  assert.equal(get.json.description, SERVICE.description, 'the refused PATCH changed nothing');

  // So do the edit page and the form post behind it.
  const res = await go(`/services/${SERVICE.slug}/edit`);
  assert.equal(res.status(), 403);
  assert.equal(await text('h1'), 'Not allowed');
  assert.equal(await text('main code'), 'forbidden');
  await shot('14-edit-forbidden');
  const post = await pageFetch(`/services/${SERVICE.slug}/edit`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ name: 'Hacked', slug: '', description: 'x', team_id: '', tier: '4', tags: '', runbook_url: '', links: '' }).toString(),
  });
  assert.equal(post.status, 403);
});

step('the viewer signs out', async () => {
  await go('/');
  await signOut();
  // The session is gone: pages send to sign-in, the API answers 401.
  await go('/services');
  await page.waitForURL(pathIs('/login'));
  const api = await pageFetch('/api/v1/services');
  assert.equal(api.status, 401, api.body);
});
