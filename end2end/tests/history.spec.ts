// The access-history journey, with JavaScript on and off: an owner filters the history to one member, exports
// the filtered events as CSV (the downloaded file is parsed here: every row is that member's, with its chain
// values), opens one event, and checks the chain's integrity.
import { expect, test } from '@playwright/test';
import { expectAccessible } from './a11y';
import { hydrated } from './journey';
import { readFileSync } from 'node:fs';
import { addMember, createTenant } from './server';

const OWNER_PASSWORD = 'amber-lichen-harbour-64';
const MEMBER_PASSWORD = 'quartz-meadow-lantern-27';

/** RFC 4180 CSV: quoted fields may hold commas, quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; }
    else if (c !== '\r') field += c;
  }
  return rows;
}

test('an owner filters the history to one member and exports it as CSV', async ({ page, browser }, info) => {
  const js = info.project.name === 'javascript';
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const tenant = `History ${info.project.name} ${stamp}`;
  const ownerEmail = `owner-${stamp}@history.example`;
  const memberEmail = `analyst-${stamp}@history.example`;
  const ready = () => hydrated(page, js);

  // 1. The owner sets a password and signs in; a member joins and signs in from their own browser.
  await page.goto(createTenant(tenant, ownerEmail));
  await ready();
  await page.getByLabel('New password').fill(OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page).toHaveURL(/\/sign-in\?setup=done$/);
  const member = await browser.newContext({ javaScriptEnabled: js });
  const mpage = await member.newPage();
  await mpage.goto(addMember(tenant, memberEmail));
  await hydrated(mpage, js);
  await mpage.getByLabel('New password').fill(MEMBER_PASSWORD);
  await mpage.getByRole('button', { name: 'Set password' }).click();
  await expect(mpage).toHaveURL(/\/sign-in\?setup=done$/);
  await hydrated(mpage, js);
  await mpage.getByLabel('Email').fill(memberEmail);
  await mpage.getByLabel('Password').fill(MEMBER_PASSWORD);
  await mpage.getByRole('button', { name: 'Sign in' }).click();
  await expect(mpage).toHaveURL(/\/overview$/);
  await member.close();

  await ready();
  await page.getByLabel('Email').fill(ownerEmail);
  await page.getByLabel('Password').fill(OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/overview$/);

  // 2. The access history, filtered to the member.
  await ready();
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Access history' }).click();
  await expect(page.getByRole('heading', { name: 'Access history', exact: true })).toBeVisible();
  const filters = page.getByRole('form', { name: 'Filter events' });
  await filters.getByLabel('Member').selectOption({ label: memberEmail });
  await filters.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/member=/);
  const rows = page.getByRole('table').locator('tbody tr');
  await expect(rows.first()).toBeVisible();
  const shown = await rows.count();
  expect(shown).toBeGreaterThanOrEqual(3); // set password, link used, signed in
  for (let i = 0; i < shown; i++) await expect(rows.nth(i)).toContainText(memberEmail);
  await expect(page.getByRole('table')).not.toContainText(ownerEmail);
  await ready();
  await expectAccessible(page);

  // 3. Export the filtered set as CSV: a real download, parsed here.
  await ready();
  const downloading = page.waitForEvent('download');
  await page.getByRole('link', { name: 'CSV' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^access-history.*\.csv$/);
  const csv = parseCsv(readFileSync((await download.path()) as string, 'utf8'));
  const header = csv[0];
  expect(header.slice(0, 7)).toEqual(['id', 'seq', 'time_utc', 'created_at_ms', 'action', 'outcome', 'actor']);
  const body = csv.slice(1);
  expect(body.length).toBe(shown);
  for (const r of body) {
    expect(r[header.indexOf('actor')]).toBe(memberEmail);
    expect(r[header.indexOf('mac')]).toMatch(/^[0-9a-f]{64}$/);
    expect(r[header.indexOf('prev_mac')]).toMatch(/^[0-9a-f]{64}$/);
  }
  expect(body.map((r) => r[header.indexOf('action')])).toContain('sign_in');
  if (js) await expect(page.getByRole('status').filter({ hasText: 'Export ready' })).toBeVisible();

  // 4. One event in full, with its place in the chain.
  await page.getByRole('table').locator('tbody tr').first().getByRole('link').click();
  await expect(page.getByRole('heading', { name: 'Event', exact: true })).toBeVisible();
  await expect(page.getByText('Chain position')).toBeVisible();
  await expect(page.locator('dl')).toContainText(memberEmail);
  await ready();
  await expectAccessible(page);

  // 5. The integrity check.
  await page.getByRole('link', { name: '← Access history' }).click();
  await ready();
  await page.getByRole('button', { name: 'Verify integrity' }).click();
  await expect(page.getByRole('status').filter({ hasText: /^Intact: \d+ events verified/ })).toBeVisible();
  await expectAccessible(page);
});
