import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../../local/dev.ts';
import {
  HAVE_CHROMIUM,
  IN_CI,
  launchChromium,
  NO_CHROMIUM,
  screenshot,
  unnamedControls,
  watchPage,
  type PageWatch,
} from '../support/browser.ts';
import { createKey, startTestDev } from '../support/dev.ts';

if (!HAVE_CHROMIUM && !IN_CI) process.stderr.write(`console.test.ts: skipped — ${NO_CHROMIUM}\n`);

/**
 * The web console in a real browser, on the real `gatepass dev` stack (DynamoDB Local, the
 * gateway, the admin API, the console server): what a new user does with it.
 */
describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('the web console in a browser', { timeout: 120_000 }, () => {
  let dev: DevServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let watch: PageWatch;
  const origin = () => new URL(dev.consoleUrl!).origin;
  /** The demo keys `gatepass dev` seeded (a fresh table: created, not found). */
  const seeded = () => {
    if (dev.seeded === undefined || 'existing' in dev.seeded) throw new Error('expected freshly seeded demo keys');
    return dev.seeded;
  };
  const demo = () => seeded().demo;
  const expired = () => seeded().expired;

  const admin = async (route: string, init: RequestInit = {}): Promise<any> => {
    const res = await fetch(dev.adminUrl + route, { ...init, headers: { 'content-type': 'application/json', ...init.headers } });
    return res.status === 204 ? undefined : res.json();
  };
  const expectNamedControls = async () => expect(await unnamedControls(page)).toEqual([]);

  beforeAll(async () => {
    browser = await launchChromium();
    dev = await startTestDev({}, { seed: true, console: { port: 0 } });
    context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    page = await context.newPage();
    watch = watchPage(page);
  });
  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  it('signs in with the printed URL: the token becomes an HttpOnly cookie and leaves the address bar', async () => {
    await page.goto(dev.consoleUrl!);
    expect(page.url()).toBe(`${origin()}/`);
    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict', domain: '127.0.0.1' });
    expect(await page.evaluate('document.cookie')).toBe('');
  });

  it('lists the keys with their limits in force, and opens the demo key from the keyboard', async () => {
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'demo', exact: true }) });
    await row.getByRole('cell', { name: '5 per 10 s' }).waitFor();
    await row.getByRole('cell', { name: '100 per 1 h' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'demo-expired' }).getByRole('cell', { name: 'expired', exact: true }).waitFor();
    await expectNamedControls();

    await page.getByRole('link', { name: 'demo', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: /^Key\W+demo\W+active$/ }).waitFor();
    expect(page.url()).toBe(`${origin()}/#/keys/${demo().keyId}`);
    // The view's heading takes the focus, so that keyboard users start at the top of it.
    expect(await page.evaluate('document.activeElement?.tagName')).toBe('H1');
  });

  it("shows the key's limits, where they come from, and today's usage after requests through the gateway", async () => {
    for (let i = 0; i < 7; i++) await fetch(`${dev.gatewayUrl}/hello`, { headers: { Authorization: demo().key } });
    // Usage is counted as the gateway answers, a moment after each request.
    await expect
      .poll(async () => (await admin(`/keys/${demo().keyId}/usage?days=1`)).totals, { timeout: 10_000 })
      .toEqual({
        allowed: 5,
        denied: { rate_limited: 2 },
      });
    await page.reload();
    await page.getByRole('row', { name: "rate limit 5 per 10 s this key's own settings" }).waitFor();
    await page.getByRole('row', { name: "quota 100 per 1 h this key's own settings" }).waitFor();
    const today = new Date().toISOString().slice(0, 10);
    await page.getByRole('row', { name: `${today} 5 2` }).waitFor();
    expect(await page.getByRole('columnheader', { name: 'Denied: rate_limited' }).count()).toBe(1);
    expect(await page.locator('.usage svg rect').count()).toBe(2);
    await expectNamedControls();
    await screenshot(page, 'key');

    // Reset quota: asked first, then a full window from now.
    expect(await page.getByText('Quota left:').textContent()).toMatch(/^Quota left: 95, renews/);
    await page.getByRole('button', { name: 'Reset quota' }).click();
    await page.getByRole('button', { name: 'Yes, reset quota' }).click();
    await page.getByRole('status').filter({ hasText: 'Quota reset.' }).waitFor();
    await expect.poll(() => page.getByText('Quota left:').textContent(), { timeout: 10_000 }).toMatch(/^Quota left: 100, renews/);
  });

  it('explains a denial check by check', async () => {
    await page.goto(`${origin()}/#/keys/${expired().keyId}/explain`);
    await page.getByLabel('Path').fill('/hello');
    await page.getByLabel('Method').selectOption('POST');
    await page.getByRole('button', { name: 'Explain' }).click();
    await page.getByRole('heading', { name: /Decision/ }).waitFor();
    expect(await page.getByRole('heading', { name: /Decision/ }).textContent()).toContain('Deny session_expired');
    expect(await page.getByRole('row', { name: /^expiry/ }).textContent()).toMatch(/^expiryfailexpired at .* s ago\)$/);
    expect(await page.getByRole('row', { name: /^access rights/ }).textContent()).toContain('skip');
    await expectNamedControls();
    await screenshot(page, 'explain');
  });

  it('creates a policy, and shows a bad value as a field error next to the field, saving nothing', async () => {
    await page.goto(`${origin()}/#/policies`);
    await page.getByRole('link', { name: 'New policy' }).click();
    await page.getByLabel('Id').fill('gold');
    await page.getByLabel('Name').fill('Gold plan');
    await page.getByLabel('Rate (requests)').fill('10');
    await page.getByLabel('Per (seconds)').fill('60');
    await page.getByLabel('Quota max').fill('1000');
    await page.getByLabel('Quota window (seconds)').fill('3600');
    await page.getByRole('button', { name: 'Create policy' }).click();
    await page.getByRole('heading', { name: 'Policy gold' }).waitFor();
    expect(await admin('/policies/gold')).toMatchObject({ rate: 10, per: 60, quotaMax: 1000, version: 1 });

    await page.getByLabel('Per (seconds)').fill('0');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const error = page.locator('#policy-per-error');
    await error.waitFor();
    expect(await error.textContent()).toBe('must be greater than 0 when rate is set');
    expect(await page.getByLabel('Per (seconds)').getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByRole('alert').first().textContent()).toContain('400 invalid_fields');
    expect(await admin('/policies/gold')).toMatchObject({ per: 60, version: 1 });
    await expectNamedControls();
    await screenshot(page, 'policy-field-error');

    await page.getByLabel('Per (seconds)').fill('30');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved: version 2.').waitFor();
    expect(await admin('/policies/gold')).toMatchObject({ per: 30, version: 2 });
  });

  it("shows a conflicting update plainly (409) and overwrites nobody's change", async () => {
    const { keyId } = await createKey(dev, { alias: 'conflict', rate: 1, per: 1 });
    await page.goto(`${origin()}/#/keys/${keyId}`);
    await page.getByLabel('Rate (requests)').fill('50');
    // Meanwhile, someone else changes the key.
    await admin(`/keys/${keyId}`, { method: 'PATCH', body: JSON.stringify({ rate: 7 }) });
    await page.getByRole('button', { name: 'Save changes' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Not saved' });
    await alert.waitFor();
    expect((await alert.textContent())?.replace(/\s+/g, ' ')).toContain(
      'this key was changed by someone else since this page read it (version 1; it is now at version 2). Your edits were not applied.',
    );
    expect(await admin(`/keys/${keyId}`)).toMatchObject({ rate: 7, version: 2 });
    await screenshot(page, 'key-conflict');

    await page.getByRole('button', { name: 'Load the current version' }).click();
    await expect.poll(() => page.getByLabel('Rate (requests)').inputValue(), { timeout: 10_000 }).toBe('7');

    // Saved on the current version, the edit goes through.
    await page.getByLabel('Rate (requests)').fill('8');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    expect(await admin(`/keys/${keyId}`)).toMatchObject({ rate: 8, version: 3 });
    expect(await page.getByLabel('Rate (requests)').inputValue()).toBe('8');
  });

  it('asks before deleting a key, and deletes it only when confirmed', async () => {
    const { keyId } = await createKey(dev, { alias: 'doomed' });
    await page.goto(`${origin()}/#/keys/${keyId}`);
    await page.getByRole('button', { name: 'Delete key' }).click();
    const group = page.getByRole('group', { name: /Delete this key\?/ });
    await group.waitFor();
    // The question takes the focus; Escape backs out.
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Delete key' }).waitFor();
    expect((await admin(`/keys/${keyId}`)).keyId).toBe(keyId);

    await page.getByRole('button', { name: 'Delete key' }).click();
    await page.getByRole('button', { name: 'Yes, delete key' }).click();
    await page.getByRole('heading', { name: 'Keys' }).waitFor();
    expect((await admin(`/keys/${keyId}`)).error.code).toBe('not_found');
  });

  it('rotates a key when asked: the new raw key is shown once, and both keys work during the grace', async () => {
    const { key: old, keyId } = await createKey(dev, { alias: 'rotating' });
    await page.goto(`${origin()}/#/keys/${keyId}`);
    await page.getByLabel('Grace for the old key').selectOption('3600');
    await page.getByRole('button', { name: 'Rotate key' }).click();
    await page.getByRole('button', { name: 'Yes, rotate key' }).click();

    const notice = page.getByRole('status').filter({ hasText: 'Rotated.' });
    await notice.waitFor();
    const rotated = /gp_[A-Za-z0-9_-]{43}/.exec((await notice.textContent()) ?? '')?.[0];
    expect(rotated).toBeDefined();
    for (const key of [old, rotated!]) {
      expect((await fetch(`${dev.gatewayUrl}/hello`, { headers: { Authorization: key } })).status).toBe(200);
    }
    expect((await admin(`/keys/${keyId}`)).keys).toHaveLength(2);
  });

  it('imports a Tyk policy and names the fields it ignored', async () => {
    const tyk = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../fixtures/tyk-policies.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    await page.goto(`${origin()}/#/policies/import`);
    await page.getByLabel('Policy id in gatepass').fill('tyk-p1');
    await page.getByLabel('Tyk policy (JSON)').fill(JSON.stringify(tyk.nonpart1, null, 2));
    await page.getByRole('button', { name: 'Import' }).click();
    const done = page.getByRole('status');
    await done.waitFor();
    expect(await done.textContent()).toContain('Imported policy tyk-p1 (version 1)');
    // Tyk's own `id` is not kept: the policy's id in gatepass is the one given.
    expect(await done.textContent()).toContain('Tyk fields gatepass does not use (ignored): id');
    await screenshot(page, 'tyk-import');

    await page.goto(`${origin()}/#/policies`);
    await page.getByRole('link', { name: 'tyk-p1' }).waitFor();
    await expectNamedControls();
    await screenshot(page, 'policies');
  });

  it('names the policy a limit in force comes from', async () => {
    const { keyId } = await createKey(dev, { alias: 'gold-customer', applyPolicies: ['gold'] });
    await page.goto(`${origin()}/#/keys/${keyId}`);
    await page.getByRole('row', { name: 'rate limit 10 per 30 s policy gold' }).waitFor();
    await page.getByRole('row', { name: 'quota 1000 per 1 h policy gold' }).waitFor();
    await page.getByRole('link', { name: 'gold' }).click();
    await page.getByRole('heading', { name: 'Policy gold' }).waitFor();

    // The list, with the keys made so far (the screenshot of the keys view).
    await page.goto(`${origin()}/#/keys`);
    await page.getByRole('row').filter({ hasText: 'gold-customer' }).getByRole('cell', { name: '10 per 30 s' }).waitFor();
    await page
      .getByRole('row')
      .filter({ hasText: /^demo[0-9a-f]/ })
      .getByRole('cell', { name: /allowed/ })
      .waitFor();
    await screenshot(page, 'keys');
  });

  it('pages through the keys as the admin API pages them, and searches by alias', async () => {
    await Promise.all(Array.from({ length: 21 }, () => createKey(dev, { alias: 'bulk' })));
    await page.goto(`${origin()}/#/keys`);
    await page.getByLabel('Alias').fill('bulk');
    await page.keyboard.press('Enter');
    const rows = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'bulk' }) });
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(20);
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Page 2', { exact: true }).waitFor();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(20);
  });

  it('had no script error and fetched nothing from a host other than 127.0.0.1', () => {
    expect(watch.errors).toEqual([]);
    expect(watch.foreignRequests).toEqual([]);
  });
});
