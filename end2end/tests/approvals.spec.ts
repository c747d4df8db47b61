// Four-eyes approval, with JavaScript on and off: an owner with a second admin turns it on; the owner's master
// key then waits for approval; the second admin, in a browser of their own, approves it after confirming it's
// them; the owner finds the key's secret shown once on the approvals page.
import { expect, test, type Page } from '@playwright/test';
import { expectAccessible } from './a11y';
import { journey } from './journey';
import { addMember, BASE_URL, createTenant } from './server';

const OWNER_PASSWORD = 'quartz-heron-valley-27';
const ADMIN_PASSWORD = 'ember-willow-canyon-83';

async function confirmIt(page: Page, ready: () => Promise<void>, next: string, password: string) {
  await page.goto(`/confirm-access?next=${next}`);
  await ready();
  const confirm = page.getByRole('form', { name: "Confirm it's you" });
  await confirm.getByLabel('Your password', { exact: true }).fill(password);
  await confirm.getByRole('button', { name: 'Confirm' }).click();
  await expect(page).toHaveURL(new RegExp(`${next.replace(/[/]/g, '\\/')}$`));
  await ready();
}

test('a master key waits for a second admin, who approves it; its secret goes to the owner once', async ({ page, browser }, info) => {
  const js = info.project.name === 'javascript';
  const owner = journey(page, js);
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const tenant = `Four eyes ${info.project.name} ${stamp}`;
  const ownerEmail = `owner-${stamp}@foureyes.example`;
  const adminEmail = `admin-${stamp}@foureyes.example`;
  await owner.setPassword(createTenant(tenant, ownerEmail), OWNER_PASSWORD);
  const adminLink = addMember(tenant, adminEmail, 'admin');
  await owner.signIn(ownerEmail, OWNER_PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);

  // On, after confirming it's the owner.
  await owner.ready();
  await owner.nav().getByRole('link', { name: 'Approvals' }).click();
  await expect(page.getByTestId('four-eyes')).toHaveText('off');
  await expectAccessible(page);
  await confirmIt(page, owner.ready, '/settings/approvals', OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page).toHaveURL(/\/settings\/approvals\?saved=1$/);
  await expect(page.getByTestId('four-eyes')).toHaveText('on');

  // The master key waits.
  await confirmIt(page, owner.ready, '/keys', OWNER_PASSWORD);
  const form = page.getByRole('form', { name: 'Create a key' });
  await form.getByLabel('Kind').selectOption('master');
  await form.getByLabel('Description').fill(`deploy ${stamp}`);
  await form.getByLabel(/^Reason/).fill('the release pipeline');
  await form.getByRole('button', { name: 'Create key' }).click();
  await expect(page).toHaveURL(/\/settings\/approvals\?requested=1$/);
  await expect(page.getByRole('table', { name: 'Requests' }).first()).toContainText(`create a master key “deploy ${stamp}”`);
  await expect(page.getByRole('button', { name: 'Cancel my request' })).toBeVisible();

  // The second admin approves it in a browser of their own.
  const context = await browser.newContext({ baseURL: BASE_URL, ignoreHTTPSErrors: true, javaScriptEnabled: js });
  try {
    const other = await context.newPage();
    const admin = journey(other, js);
    await admin.setPassword(adminLink, ADMIN_PASSWORD);
    await admin.signIn(adminEmail, ADMIN_PASSWORD);
    await expect(other).toHaveURL(/\/overview$/);
    await confirmIt(other, admin.ready, '/settings/approvals', ADMIN_PASSWORD);
    await expect(other.getByText('the release pipeline')).toBeVisible();
    await other.getByRole('button', { name: `Approve: create a master key “deploy ${stamp}”` }).click();
    await expect(other).toHaveURL(/\/settings\/approvals\?approved=1$/);
    await expect(other.getByText('approved by').first()).toBeVisible();
    await expect(other.getByTestId('fresh-secret')).toHaveCount(0);
  } finally {
    await context.close();
  }

  // The owner's secret, once.
  await page.goto('/settings/approvals');
  const secret = (await page.getByTestId('fresh-secret').textContent()) ?? '';
  expect(secret.length).toBeGreaterThan(20);
  await page.reload();
  await expect(page.getByTestId('fresh-secret')).toHaveCount(0);
  await page.goto('/keys');
  await expect(page.getByText(`deploy ${stamp}`)).toBeVisible();
});
