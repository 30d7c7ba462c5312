import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';

/**
 * A real browser for the console's end-to-end tests: Debian's `chromium` driven by
 * playwright-core (playwright's own browser download cannot run everywhere). Without it the
 * tests skip with a message on a developer's machine, and fail in CI (`CI` set), where
 * `.ci/run` installs it.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
export const NO_CHROMIUM = `chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH`;

/** Screenshots of each view go to docs/console/ when `GATEPASS_SCREENSHOTS=1`. */
const SHOTS = process.env.GATEPASS_SCREENSHOTS === '1' ? path.resolve(import.meta.dirname, '../../docs/console') : undefined;

export async function launchChromium(): Promise<Browser> {
  if (!HAVE_CHROMIUM) throw new Error(NO_CHROMIUM);
  const { chromium } = await import('playwright-core');
  // --no-sandbox: CI machines run the tests as root, where chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/**
 * What a page did that it should not: script errors, console errors, requests that failed
 * or that the console server answered with a 5xx, requests to hosts other than 127.0.0.1.
 * (Chromium also logs each 4xx answer as a console error, "Failed to load resource": the
 * admin API's 400 and 409 are answers the tests ask for, so those lines are not counted.)
 */
export interface PageWatch {
  readonly errors: string[];
  readonly foreignRequests: string[];
}

export function watchPage(page: Page): PageWatch {
  const watch: PageWatch = { errors: [], foreignRequests: [] };
  page.on('pageerror', (error) => watch.errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) {
      watch.errors.push(`console error: ${message.text()}`);
    }
  });
  page.on('requestfailed', (request) => watch.errors.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on('response', (response) => {
    if (response.status() >= 500) watch.errors.push(`answer ${response.status()}: ${response.url()}`);
  });
  page.on('request', (request) => {
    if (new URL(request.url()).hostname !== '127.0.0.1') watch.foreignRequests.push(request.url());
  });
  return watch;
}

/** Form controls on the page with no accessible name (no label, no aria-label, no text). */
export function unnamedControls(page: Page): Promise<string[]> {
  // Runs in the page (the DOM's types are not this project's: `any`).
  return page.locator('input, select, textarea, button').evaluateAll((controls: any[]) =>
    controls.flatMap((el) => {
      const named = el.labels?.length > 0 || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent?.trim());
      return named ? [] : [String(el.outerHTML).slice(0, 80)];
    }),
  );
}

/** Saves a screenshot of the page as docs/console/<name>.png, when screenshots are asked for. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (SHOTS === undefined) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}
