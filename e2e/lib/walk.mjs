// A browser walk-through: one server, one browser page and its session shared by ordered
// steps. Once a step fails, the later ones are skipped instead of failing for the same reason.
// E2E_SCREENSHOTS=1 saves screenshots to e2e/screenshots/.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launchBrowser, startServer } from './server.mjs';

export const NAV_TIMEOUT_MS = 15_000;
const STEP_TIMEOUT_MS = 60_000;
const SCREENSHOT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');

export const pathIs = (p) => (u) => u.pathname === p;

/** Registers the before/after hooks and returns the walk's state and helpers. */
export function walk({ screenshotPrefix = '', ready = () => {}, serverOptions = async () => ({}) } = {}) {
  const w = { server: null, browser: null, page: null, failed: null };

  before(async () => {
    w.server = await startServer(await serverOptions());
    w.browser = await launchBrowser();
    const context = await w.browser.newContext({ viewport: { width: 1280, height: 900 } });
    w.page = await context.newPage();
    w.page.setDefaultTimeout(NAV_TIMEOUT_MS);
    w.page.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
    ready(w);
  });

  after(async () => {
    await w.browser?.close();
    await w.server?.stop();
  });

  w.shot = async (name) => {
    if (process.env.E2E_SCREENSHOTS !== '1' || !w.page) return;
    await mkdir(SCREENSHOT_DIR, { recursive: true });
    await w.page.screenshot({ path: path.join(SCREENSHOT_DIR, `${screenshotPrefix}${name}.png`), fullPage: true });
  };

  /**
   * A test that is skipped once an earlier step has failed (they share state). A step that walks
   * every page may ask for a longer `timeout`: CI machines are slower than a workstation.
   */
  w.step = (name, fn, { timeout = STEP_TIMEOUT_MS } = {}) => {
    test(name, { timeout }, async (t) => {
      if (w.failed) {
        t.skip(`earlier step failed: ${w.failed}`);
        return;
      }
      try {
        await fn(t);
      } catch (err) {
        w.failed = name;
        await w.shot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => {});
        if (w.server) err.message += `\n--- server output (tail) ---\n${w.server.logs().slice(-4000)}`;
        throw err;
      }
    });
  };

  /** Navigates to a path of the server; returns the main response. */
  w.go = async (p) => {
    const res = await w.page.goto(w.server.url + p);
    assert.ok(res, `no response for ${p}`);
    return res;
  };

  /**
   * Clicks `selector` and waits until the page it navigates to has loaded. Waiting for the URL or
   * the load state alone is not enough: both already hold for the page a form posts back to.
   */
  w.clickAndLoad = async (selector) => {
    await Promise.all([w.page.waitForEvent('load'), w.page.click(selector)]);
  };

  /** Clicks `selector` and waits for the page it navigates to, which must be at `pathname`. */
  w.submitTo = async (selector, pathname) => {
    await w.clickAndLoad(selector);
    await w.page.waitForURL(pathIs(pathname));
  };

  w.text = async (selector) => ((await w.page.locator(selector).textContent()) ?? '').trim();

  return w;
}
