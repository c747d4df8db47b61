// `make bench`, first load: Debian's Chromium (through the end-to-end tests' Playwright) on Chromium's
// "Fast 3G" profile (562.5 ms round trip, 1.44 Mbit/s down, 675 kbit/s up). Prints the bytes transferred and the
// times for the sign-in page with a cold cache (usable, then hydrated once the visitor focuses a field), for it
// again, and for the overview after signing in (assets cached).
// Usage: node scripts/first_load.mjs BASE EMAIL PASSWORD
import { createRequire } from 'node:module';

const require = createRequire(new URL('../end2end/package.json', import.meta.url));
const { chromium } = require('playwright');
const [base, email, password] = process.argv.slice(2);

const FAST_3G = {
  offline: false,
  latency: 562.5,
  downloadThroughput: ((1.6 * 1024 * 1024) / 8) * 0.9,
  uploadThroughput: ((750 * 1024) / 8) * 0.9,
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-dev-shm-usage',
    // The bench server's certificate, trusted (not merely ignored: Chromium caches nothing from a doubted origin).
    `--ignore-certificate-errors-spki-list=${process.env.SPKI}`,
  ],
});
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`  page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && console.error(`  console: ${m.text()}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => {
    bytes += e.encodedDataLength;
  });
  await cdp.send('Network.emulateNetworkConditions', FAST_3G);

  // Time from the start of the navigation to the page's hydration marker (`Hydrated` sets it true).
  async function visit(path) {
    bytes = 0;
    const started = Date.now();
    await page.goto(`${base}${path}`, { waitUntil: 'commit' });
    await page.locator('[data-hydrated="true"]').first().waitFor({ state: 'attached', timeout: 60_000 });
    const interactive = Date.now() - started;
    await page.waitForLoadState('networkidle');
    return { interactive, bytes };
  }

  // The sign-in page is a plain form until the visitor starts using it: the time to its `load` event (the form
  // and its stylesheet are there and work) and every byte the page loads by itself, then the app it loads once
  // the visitor focuses the email field, and the time until that has hydrated.
  bytes = 0;
  let started = Date.now();
  await page.goto(`${base}/sign-in`, { waitUntil: 'load' });
  const usable = Date.now() - started;
  await page.waitForLoadState('networkidle');
  const pageBytes = bytes;
  console.log(
    `  first visit, /sign-in with everything it loads: ${(pageBytes / 1024).toFixed(1)} KiB transferred ` +
      `(target <= 250 KB), usable (load event) after ${usable} ms`,
  );
  bytes = 0;
  started = Date.now();
  await page.getByLabel('Email').focus();
  await page.locator('[data-hydrated="true"]').first().waitFor({ state: 'attached', timeout: 60_000 });
  const hydratedAfter = Date.now() - started;
  await page.waitForLoadState('networkidle');
  console.log(
    `  the visitor starts typing: the app loads, ${(bytes / 1024).toFixed(1)} KiB, hydrated ${hydratedAfter} ms ` +
      `after the first focus`,
  );
  bytes = 0;
  started = Date.now();
  await page.goto(`${base}/sign-in`, { waitUntil: 'load' });
  const againUsable = Date.now() - started;
  await page.getByLabel('Email').focus();
  await page.locator('[data-hydrated="true"]').first().waitFor({ state: 'attached', timeout: 60_000 });
  const againInteractive = Date.now() - started;
  await page.waitForLoadState('networkidle');
  console.log(
    `  repeat visit, /sign-in: ${(bytes / 1024).toFixed(1)} KiB transferred (target < 10 KB), ` +
      `usable after ${againUsable} ms, hydrated after ${againInteractive} ms`,
  );
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/overview$/);
  await cdp.send('Network.emulateNetworkConditions', FAST_3G);
  const overview = await visit('/overview');
  console.log(
    `  signed in, /overview (assets cached): ${(overview.bytes / 1024).toFixed(1)} KiB transferred, ` +
      `interactive after ${overview.interactive} ms (target <= 1000 ms)`,
  );
} finally {
  await browser.close();
}
