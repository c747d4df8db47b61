// The vault journey, with JavaScript on and off: an owner uploads two files (with JavaScript each gets a
// progress bar that reaches 100%; without, the plain multipart form), downloads one and compares its bytes,
// uploads a new version of it, restores the older version and downloads the old bytes again, shares it with
// a single-use link (shown once; the link works once), then moves the other file to the bin and restores it.
import { expect, request, test, type Page } from '@playwright/test';
import { expectAccessible } from './a11y';
import { hydrated } from './journey';
import { BASE_URL, createTenant } from './server';

const OWNER_PASSWORD = 'ember-quarry-violet-39';

/** The bytes behind a link of the page, fetched with the page's own session. */
async function fetchBytes(page: Page, href: string | null): Promise<Buffer> {
  expect(href).toBeTruthy();
  const res = await page.request.get(href as string);
  expect(res.status()).toBe(200);
  return res.body();
}

test('an owner uploads, downloads, restores a version and uses the bin', async ({ page }, info) => {
  const js = info.project.name === 'javascript';
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const ownerEmail = `owner-${stamp}@vault.example`;
  const ready = () => hydrated(page, js);
  const plan = { name: 'plan.txt', mimeType: 'text/plain', buffer: Buffer.from(`the plan, first draft ${stamp}\n`) };
  const notes = { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(`meeting notes ${stamp}\n`) };
  const plan2 = { ...plan, buffer: Buffer.from(`the plan, second draft ${stamp} — longer\n`) };

  // 1. The owner sets a password and signs in.
  await page.goto(createTenant(`Vault ${info.project.name} ${stamp}`, ownerEmail));
  await ready();
  await page.getByLabel('New password').fill(OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page).toHaveURL(/\/sign-in\?setup=done$/);
  await ready();
  await page.getByLabel('Email').fill(ownerEmail);
  await page.getByLabel('Password').fill(OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/overview$/);

  // 2. The vault, through the navigation: empty.
  await ready();
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Vault' }).click();
  await expect(page.getByRole('heading', { name: 'Vault', exact: true })).toBeVisible();
  await expect(page.getByText('No files here yet.')).toBeVisible();
  await ready();
  await expectAccessible(page);

  // 3. Upload two files at once.
  const upload = async (files: (typeof plan)[]) => {
    await ready();
    const form = page.getByRole('form', { name: 'Upload files' });
    await form.getByLabel('Files', { exact: true }).setInputFiles(files);
    await form.getByRole('button', { name: 'Upload' }).click();
    if (js) {
      for (const f of files) {
        const bar = page.getByRole('progressbar', { name: f.name });
        await expect(bar).toHaveJSProperty('value', 100);
        await expect(page.getByRole('list', { name: 'Uploads' }).getByRole('listitem').filter({ has: bar }))
          .toContainText('100% — uploaded');
      }
    } else {
      const n = files.length;
      await expect(page.getByRole('status').filter({ hasText: `${n} file${n === 1 ? '' : 's'} uploaded` }))
        .toBeVisible();
    }
  };
  await upload([plan, notes]);
  const table = page.getByRole('table', { name: 'Files', exact: true });
  await expect(table.getByRole('link', { name: 'plan.txt' })).toBeVisible();
  await expect(table.getByRole('link', { name: 'notes.txt' })).toBeVisible();
  await expectAccessible(page);

  // 4. Download one: the same bytes come back.
  await table.getByRole('link', { name: 'plan.txt' }).click();
  await expect(page.getByRole('heading', { name: 'plan.txt', exact: true })).toBeVisible();
  const download = page.getByRole('link', { name: 'Download', exact: true });
  expect((await fetchBytes(page, await download.getAttribute('href'))).equals(plan.buffer)).toBe(true);

  // 5. A new version of it, uploaded into the same folder.
  await page.getByRole('navigation', { name: 'Folder' }).getByRole('link', { name: 'Vault' }).click();
  await expect(page.getByRole('heading', { name: 'Vault', exact: true })).toBeVisible();
  await upload([plan2]);
  await expect(table.getByRole('row').filter({ hasText: 'plan.txt' }).getByRole('cell').nth(2)).toHaveText('2');
  await table.getByRole('link', { name: 'plan.txt' }).click();
  await expect(page.getByRole('heading', { name: 'plan.txt', exact: true })).toBeVisible();
  const versions = page.getByRole('table', { name: 'Versions' });
  await expect(versions.locator('tbody tr')).toHaveCount(2);
  expect((await fetchBytes(page, await download.getAttribute('href'))).equals(plan2.buffer)).toBe(true);

  // 6. Restore the first version: it becomes current again (as version 3), and downloads give the old bytes.
  await ready();
  await versions.getByRole('button', { name: 'Restore version 1' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'The version was restored' })).toBeVisible();
  await expect(versions.locator('tbody tr')).toHaveCount(3);
  await expect(versions.locator('tbody tr').first()).toContainText('3 (current)');
  expect((await fetchBytes(page, await download.getAttribute('href'))).equals(plan.buffer)).toBe(true);
  const v2 = versions.getByRole('link', { name: 'Download version 2' });
  expect((await fetchBytes(page, await v2.getAttribute('href'))).equals(plan2.buffer)).toBe(true);
  await ready();
  await expectAccessible(page);

  // 7. A single-use link: its URL is shown once and works once, without a session.
  await ready();
  const linkForm = page.getByRole('form', { name: 'Create a link' });
  await linkForm.getByLabel('Lifetime').selectOption({ label: '15 minutes' });
  await linkForm.getByLabel('Single use').check();
  await linkForm.getByRole('button', { name: 'Create link' }).click();
  const fresh = page.getByTestId('fresh-link');
  await expect(fresh).toBeVisible();
  const url = (await fresh.textContent())?.trim() ?? '';
  expect(url).toMatch(/\/vault\/links\/[^/]+$/);
  await expect(page.getByRole('table', { name: 'Links' })).toContainText('active');
  await ready();
  await expectAccessible(page);
  const stranger = await request.newContext({ baseURL: BASE_URL, ignoreHTTPSErrors: true });
  const first = await stranger.get(url);
  expect(first.status()).toBe(200);
  expect((await first.body()).equals(plan.buffer)).toBe(true);
  expect((await stranger.get(url)).status()).toBe(410);
  await stranger.dispose();
  await page.reload();
  await expect(page.getByTestId('fresh-link')).toHaveCount(0);
  await expect(page.getByRole('table', { name: 'Links' })).toContainText('used');

  // 8. Move the other file to the bin, find it there, restore it.
  await page.getByRole('navigation', { name: 'Folder' }).getByRole('link', { name: 'Vault' }).click();
  await table.getByRole('link', { name: 'notes.txt' }).click();
  await expect(page.getByRole('heading', { name: 'notes.txt', exact: true })).toBeVisible();
  await ready();
  await page.getByText('Move this file to the bin…').click();
  await page.getByRole('button', { name: 'Yes, move it to the bin' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'notes.txt was moved to the bin.' })).toBeVisible();
  await expect(table.getByRole('link', { name: 'plan.txt' })).toBeVisible();
  await expect(table.getByRole('link', { name: 'notes.txt' })).toHaveCount(0);
  await page.getByRole('link', { name: 'Bin (deleted files)' }).click();
  const bin = page.getByRole('table', { name: 'Deleted files' });
  await expect(bin.getByRole('row').filter({ hasText: 'notes.txt' })).toContainText('UTC');
  await ready();
  await expectAccessible(page);
  await bin.getByRole('button', { name: 'Restore notes.txt' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'notes.txt was restored.' })).toBeVisible();
  await expect(table.getByRole('link', { name: 'notes.txt' })).toBeVisible();
  await table.getByRole('link', { name: 'notes.txt' }).click();
  await expect(page.getByRole('heading', { name: 'notes.txt', exact: true })).toBeVisible();
  expect((await fetchBytes(page, await download.getAttribute('href'))).equals(notes.buffer)).toBe(true);
});
