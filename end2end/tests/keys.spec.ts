// The API key journey, with JavaScript on and off: an owner creates a read key and sees its secret once; the
// test calls the REST API with it; the owner rolls it with an hour of grace, sees the old secret still in use
// (by this test, with its own user agent) on the key page, revokes the key, and the API refuses it.
import { expect, request, test, type APIRequestContext } from '@playwright/test';
import { expectAccessible } from './a11y';
import { hydrated } from './journey';
import { BASE_URL, createTenant } from './server';

const OWNER_PASSWORD = 'copper-falcon-meadow-58';

async function api(userAgent: string): Promise<APIRequestContext> {
  return request.newContext({ baseURL: BASE_URL, ignoreHTTPSErrors: true, userAgent });
}

test('an owner creates, uses, rolls and revokes a read key', async ({ page }, info) => {
  const js = info.project.name === 'javascript';
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const ownerEmail = `owner-${stamp}@keys.example`;
  const ready = () => hydrated(page, js);

  // 1. The owner sets a password and signs in.
  await page.goto(createTenant(`Keys ${info.project.name} ${stamp}`, ownerEmail));
  await ready();
  await page.getByLabel('New password').fill(OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page).toHaveURL(/\/sign-in\?setup=done$/);
  await ready();
  await page.getByLabel('Email').fill(ownerEmail);
  await page.getByLabel('Password').fill(OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/overview$/);

  // 2. API keys, through the navigation; a read key for a reporting job.
  await ready();
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'API keys' }).click();
  await expect(page.getByRole('heading', { name: 'API keys', exact: true })).toBeVisible();
  const form = page.getByRole('form', { name: 'Create a key' });
  await ready();
  await form.getByLabel('Kind').selectOption('read');
  await form.getByLabel('Description').fill('Reporting job');
  await form.getByRole('button', { name: 'Create key' }).click();
  await expect(page).toHaveURL(/\/keys\?created=1$/);
  const shown = page.getByTestId('fresh-secret');
  await expect(shown).toBeVisible();
  const secret = (await shown.textContent())?.trim() ?? '';
  expect(secret).toMatch(/^rmp_read_[0-9A-Za-z]{12}_[0-9A-Za-z]{46}$/);
  if (js) await expect(page.getByRole('button', { name: 'Copy' })).toBeVisible();
  await expectAccessible(page);

  // 3. Shown once: a reload no longer has it, anywhere in the page.
  await page.reload();
  await expect(page.getByRole('table', { name: 'API keys' })).toContainText('Reporting job');
  await expect(page.getByTestId('fresh-secret')).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);

  // 4. The API answers the key.
  const oldClient = await api('e2e-old-client/1.0');
  const members = await oldClient.get('/api/v1/members', { headers: { Authorization: `Bearer ${secret}` } });
  expect(members.status()).toBe(200);
  expect(JSON.stringify(await members.json())).toContain(ownerEmail);

  // 5. Roll it with an hour of grace: a new secret, shown once, and the old one still works.
  await page.getByRole('link', { name: 'Reporting job' }).click();
  await expect(page.getByRole('heading', { name: /API key “Reporting job”/ })).toBeVisible();
  await ready();
  const roll = page.getByRole('form', { name: 'Roll the key' });
  await roll.getByLabel('Old secret keeps working for').selectOption({ label: '1 hour' });
  await roll.getByRole('button', { name: 'Roll key' }).click();
  await expect(page).toHaveURL(/\/keys\/[0-9a-f-]+\?rolled=1$/);
  const rolled = ((await page.getByTestId('fresh-secret').textContent()) ?? '').trim();
  expect(rolled).toMatch(/^rmp_read_/);
  expect(rolled).not.toBe(secret);
  await ready();
  await expectAccessible(page);
  const oldUse = await oldClient.get('/api/v1/members', { headers: { Authorization: `Bearer ${secret}` } });
  expect(oldUse.status()).toBe(200);
  const newClient = await api('e2e-new-client/2.0');
  const newUse = await newClient.get('/api/v1/members', { headers: { Authorization: `Bearer ${rolled}` } });
  expect(newUse.status()).toBe(200);

  // 6. The key page shows who still uses the old secret and who uses the new one (the access history is
  // written in batches: the old secret's row exists since step 4, so wait for the new one's too).
  await expect(async () => {
    await page.reload();
    await expect(page.getByRole('table', { name: 'Old secret use' })).toContainText('e2e-old-client/1.0');
    await expect(page.getByRole('table', { name: 'Current secret use' })).toContainText('e2e-new-client/2.0', {
      timeout: 1_000,
    });
  }).toPass({ timeout: 10_000 });
  await ready();
  await expectAccessible(page);

  // 7. Revoke: both secrets are refused at once.
  await ready();
  await page.getByRole('form', { name: 'Revoke the key' }).getByRole('button', { name: 'Revoke key' }).click();
  await expect(page.locator('.badge', { hasText: 'revoked' })).toBeVisible();
  for (const [client, key] of [[newClient, rolled], [oldClient, secret]] as const) {
    const refused = await client.get('/api/v1/members', { headers: { Authorization: `Bearer ${key}` } });
    expect(refused.status()).toBe(401);
    expect((await refused.json()).error.code).toBe('unauthenticated');
  }
  await oldClient.dispose();
  await newClient.dispose();
});
