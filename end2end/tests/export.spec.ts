// The data export journey, with JavaScript on and off: an owner opens the data export page (signing in counts as
// a fresh step-up), starts an export, watches it being built (with JavaScript the page polls its progress;
// without, it refreshes itself), downloads the ZIP and checks it here: the central directory read by a small
// reader below (Node has none), every manifest entry's size and SHA-256, and the manifest's Ed25519 signature
// against the key published at /.well-known/rampart-export-key.
import { expect, test, type Page } from '@playwright/test';
import { expectAccessible } from './a11y';
import { hydrated } from './journey';
import { createHash, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createTenant } from './server';

const OWNER_PASSWORD = 'harbour-quokka-granite-58';

/** Entries of a stored (uncompressed) ZIP by name, read through its ZIP64 end records and central directory. */
function readZip(zip: Buffer): Map<string, Buffer> {
  const eocd = zip.length - 22;
  expect(zip.readUInt32LE(eocd), 'end of central directory').toBe(0x06054b50);
  const locator = eocd - 20;
  expect(zip.readUInt32LE(locator), 'ZIP64 locator').toBe(0x07064b50);
  const end64 = Number(zip.readBigUInt64LE(locator + 8));
  expect(zip.readUInt32LE(end64), 'ZIP64 end record').toBe(0x06064b50);
  const count = Number(zip.readBigUInt64LE(end64 + 32));
  let at = Number(zip.readBigUInt64LE(end64 + 48));
  const entries = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(at), 'central directory header').toBe(0x02014b50);
    expect(zip.readUInt16LE(at + 10), 'stored').toBe(0);
    let size = zip.readUInt32LE(at + 24);
    let offset = zip.readUInt32LE(at + 42);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLen);
    let extra = at + 46 + nameLen + 4; // past the ZIP64 extra's id and length
    if (size === 0xffffffff) {
      size = Number(zip.readBigUInt64LE(extra));
      extra += 16;
    }
    if (offset === 0xffffffff) offset = Number(zip.readBigUInt64LE(extra));
    at += 46 + nameLen + extraLen + commentLen;
    expect(zip.readUInt32LE(offset), `local header of ${name}`).toBe(0x04034b50);
    const start = offset + 30 + zip.readUInt16LE(offset + 26) + zip.readUInt16LE(offset + 28);
    const data = zip.subarray(start, start + size);
    expect(zip.readUInt32LE(start + size), `data descriptor of ${name}`).toBe(0x08074b50);
    expect(Number(zip.readBigUInt64LE(start + size + 16)), `size of ${name}`).toBe(size);
    entries.set(name, data);
  }
  return entries;
}

const ready = hydrated;

test('an owner exports all data and checks the signed manifest', async ({ page }, info) => {
  const js = info.project.name === 'javascript';
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const ownerEmail = `owner-${stamp}@export.example`;

  // 1. The owner sets a password and signs in (a fresh step-up).
  await page.goto(createTenant(`Export ${info.project.name} ${stamp}`, ownerEmail));
  await expect(page.getByRole('heading', { name: 'Set your password' })).toBeVisible();
  await ready(page, js);
  await page.getByLabel('New password').fill(OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page).toHaveURL(/\/sign-in\?setup=done$/);
  await ready(page, js);
  await page.getByLabel('Email').fill(ownerEmail);
  await page.getByLabel('Password').fill(OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/overview$/);

  // 2. The data export page, through the navigation.
  await ready(page, js);
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Data export' }).click();
  await expect(page).toHaveURL(/\/data-export$/);
  await expect(page.getByRole('heading', { name: 'Data export', exact: true })).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'Confirmed until' })).toBeVisible();
  await expect(page.getByText('No exports yet.')).toBeVisible();
  await ready(page, js);
  await expectAccessible(page);

  // 3. Start it; the list shows it being built (a progress bar) or already done (a small tenant is quick).
  const start = page.getByRole('form', { name: 'Start a data export' });
  await ready(page, js);
  await start.getByRole('button', { name: 'Export all data' }).click();
  await expect(page).toHaveURL(/\/data-export\?started=1$/);
  await expect(page.getByRole('status').filter({ hasText: 'The export has started' })).toBeVisible();
  const download = page.getByRole('link', { name: 'Download the ZIP' });
  const progress = page.getByRole('progressbar', { name: 'Export progress' });
  await expect(progress.or(download)).toBeVisible();
  if (await progress.isVisible()) {
    if (!js) await expect(page.getByRole('link', { name: 'Refresh' })).toBeVisible();
    await expect(progress).toHaveAttribute('max', /\d+/);
  }
  // With JavaScript the page polls the export's progress; without, it reloads itself every 5 seconds.
  await expect(download).toBeVisible({ timeout: 30_000 });
  await expect(progress).toHaveCount(0);
  await expectAccessible(page);

  // 4. Download it and read it.
  const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
  expect(file.suggestedFilename()).toMatch(/^rampart-export-\d{4}-\d{2}-\d{2}\.zip$/);
  const zip = readZip(readFileSync(await file.path()));
  for (const name of ['tenant.json', 'members.json', 'api-keys.json', 'access-history.jsonl', 'vault-index.json']) {
    expect(zip.has(name), name).toBe(true);
  }
  expect(zip.get('members.json')?.toString('utf8')).toContain(ownerEmail);
  const history = zip.get('access-history.jsonl')?.toString('utf8') ?? '';
  expect(history).toContain('"data_export.start"');

  // 5. The manifest lists every other entry with its size and SHA-256, and its signature verifies with the
  //    published key.
  const manifestBytes = zip.get('manifest.json') as Buffer;
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as {
    entries: { name: string; size: number; sha256: string }[];
  };
  expect(manifest.entries.length + 3).toBe(zip.size);
  for (const entry of manifest.entries) {
    const data = zip.get(entry.name);
    expect(data, entry.name).toBeDefined();
    expect(data?.length, entry.name).toBe(entry.size);
    expect(createHash('sha256').update(data as Buffer).digest('hex'), entry.name).toBe(entry.sha256);
  }
  const published = await page.request.get('/.well-known/rampart-export-key');
  expect(published.ok()).toBe(true);
  const pem = await published.text();
  expect(zip.get('signing-key.pub')?.toString('utf8')).toBe(pem);
  const signature = Buffer.from(zip.get('manifest.sig')?.toString('utf8') ?? '', 'base64');
  expect(verify(null, manifestBytes, pem, signature)).toBe(true);
  const forged = Buffer.from(manifestBytes);
  forged[5] ^= 1;
  expect(verify(null, forged, pem, signature)).toBe(false);
});
