// `make screenshots`: fills a fresh organisation with plausible data through the console, the CLI and the REST
// API, then photographs the main pages in the light and the dark scheme at desktop (1280×800) and phone
// (390×844) widths into docs/screenshots/ (the README shows them). Each run starts from an empty database, so
// the pictures differ only in dates and times.
import { expect, test, type Browser, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { hydrated } from '../tests/journey';
import { addMember, BASE_URL, createTenant } from '../tests/server';

const OUT = path.resolve(__dirname, '../../docs/screenshots');
const TENANT = 'Northwind Logistics';
const OWNER = 'dana.kim@northwind.example';
const PASSWORD = 'harbour-lantern-meadow-41';

const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;
const SCHEMES = ['light', 'dark'] as const;

/** Hydrated, including the signed-out pages that hydrate only once the visitor starts using them. */
async function ready(page: Page) {
  await hydrated(page, true);
}

async function setPassword(page: Page, link: string, password: string) {
  await page.goto(link);
  await ready(page);
  await page.getByLabel('New password').fill(password);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page).toHaveURL(/\/sign-in\?setup=done$/);
}

async function signIn(page: Page, email: string, password: string) {
  await ready(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** A colleague who sets a password and signs in from a browser of their own (after one typo, if `typo`). */
async function colleague(browser: Browser, email: string, role: string, typo = false) {
  const context = await browser.newContext({ baseURL: BASE_URL, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await setPassword(page, addMember(TENANT, email, role), `${PASSWORD}-${role}`);
  if (typo) {
    await signIn(page, email, 'not-quite-my-password');
    await expect(page.getByRole('alert')).toBeVisible();
  }
  await signIn(page, email, `${PASSWORD}-${role}`);
  await expect(page).toHaveURL(/\/overview$/);
  await context.close();
}

async function createKey(page: Page, kind: string, description: string): Promise<string> {
  await page.goto('/keys');
  await ready(page);
  const form = page.getByRole('form', { name: 'Create a key' });
  await form.getByLabel('Kind').selectOption(kind);
  await form.getByLabel('Description').fill(description);
  await form.getByRole('button', { name: 'Create key' }).click();
  const secret = page.getByTestId('fresh-secret');
  await expect(secret).toBeVisible();
  return ((await secret.textContent()) ?? '').trim();
}

async function upload(page: Page, subfolder: string, names: string[]) {
  await page.goto('/vault');
  await ready(page);
  const form = page.getByRole('form', { name: 'Upload files' });
  await form.getByLabel('Into a new subfolder (optional)').fill(subfolder);
  await form.getByLabel('Files', { exact: true }).setInputFiles(
    names.map((name) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.alloc(2048 + name.length * 997, name) })),
  );
  await form.getByRole('button', { name: 'Upload' }).click();
  for (const name of names) {
    await expect(page.getByRole('progressbar', { name })).toHaveJSProperty('value', 100);
  }
}

test('screenshots of the main pages', async ({ page, browser }) => {
  mkdirSync(OUT, { recursive: true });

  // The organisation: an owner, three colleagues (one mistypes first), a pending invitation.
  await setPassword(page, createTenant(TENANT, OWNER), PASSWORD);
  await colleague(browser, 'li.wei@northwind.example', 'admin');
  await colleague(browser, 'sam.okafor@northwind.example', 'member', true);
  await colleague(browser, 'priya.nair@northwind.example', 'auditor');
  await signIn(page, OWNER, PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);

  await page.goto('/members');
  await ready(page);
  await page.getByRole('link', { name: 'Manage sam.okafor@northwind.example' }).click();
  const sam = page.getByRole('form', { name: 'Role of sam.okafor@northwind.example' });
  await sam.getByLabel('Access history', { exact: true }).check();
  await sam.getByLabel('Vault (read)', { exact: true }).check();
  await sam.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'saved' })).toBeVisible();
  const invite = page.getByRole('form', { name: 'Invite someone' });
  await invite.getByLabel('Email').fill('jordan.ellis@northwind.example');
  await invite.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page.getByRole('table', { name: 'Pending invitations' })).toBeVisible();

  // Keys, two of them used from the REST API.
  const billing = await createKey(page, 'read', 'Nightly billing export');
  const sync = await createKey(page, 'write', 'Warehouse inventory sync');
  await createKey(page, 'read', 'Partner portal (read-only)');
  for (const [secret, agent] of [[billing, 'billing-exporter/3.2'], [sync, 'wms-sync/1.14']]) {
    const res = await page.request.get('/api/v1/members', {
      headers: { Authorization: `Bearer ${secret}`, 'User-Agent': agent },
    });
    expect(res.status()).toBe(200);
  }

  // The vault: a few documents at the top and two folders.
  await upload(page, '', ['security-policy-2026.pdf', 'incident-response-runbook.md', 'soc2-bridge-letter.pdf']);
  await upload(page, 'contracts', ['dpa-acme-corp.pdf', 'msa-globex.pdf']);
  await upload(page, 'audits', ['pentest-report-q3.pdf']);

  const shots: [string, string, string][] = [
    ['overview', '/overview', 'Overview'],
    ['members', '/members', 'Members'],
    ['api-keys', '/keys', 'API keys'],
    ['access-history', '/access-history', 'Access history'],
    ['vault', '/vault', 'Vault'],
  ];
  for (const [viewport, size] of Object.entries(VIEWPORTS)) {
    await page.setViewportSize(size);
    for (const colorScheme of SCHEMES) {
      await page.emulateMedia({ colorScheme });
      for (const [name, href, heading] of shots) {
        await page.goto(href);
        await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible();
        await ready(page);
        await page.screenshot({ path: path.join(OUT, `${name}-${viewport}-${colorScheme}.png`) });
      }
    }
  }

  // Signed out: the sign-in page.
  const context = await browser.newContext({ baseURL: BASE_URL, ignoreHTTPSErrors: true });
  const out = await context.newPage();
  for (const [viewport, size] of Object.entries(VIEWPORTS)) {
    await out.setViewportSize(size);
    for (const colorScheme of SCHEMES) {
      await out.emulateMedia({ colorScheme });
      await out.goto('/sign-in');
      await expect(out.getByRole('heading', { name: 'Sign in to Rampart' })).toBeVisible();
      await ready(out);
      await out.screenshot({ path: path.join(OUT, `sign-in-${viewport}-${colorScheme}.png`) });
    }
  }
  await context.close();
});
