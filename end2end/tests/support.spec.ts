// Support access with the tenant's consent, with JavaScript on and off: the platform's operator asks from the
// command line; the owner sees the request under Consent, approves it for two hours after confirming it's them;
// the operator's one-time link opens a read-only, bannered console whose every page the owner's access history
// shows; the owner ends it and the operator's next page is the sign-in page.
import { expect, test } from '@playwright/test';
import { expectAccessible } from './a11y';
import { journey } from './journey';
import { BASE_URL, createTenant, openSupport, requestSupport } from './server';

const OWNER_PASSWORD = 'lantern-cobalt-meadow-64';

test('an owner approves a support request, sees what support viewed, and ends the access', async ({ page, browser }, info) => {
  const js = info.project.name === 'javascript';
  const { ready, setPassword, signIn, nav } = journey(page, js);
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const tenant = `Consent ${info.project.name} ${stamp}`;
  const email = `owner-${stamp}@consent.example`;
  await setPassword(createTenant(tenant, email), OWNER_PASSWORD);
  await signIn(email, OWNER_PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);
  const id = requestSupport(tenant, 'Sam from support', `ticket ${stamp}: keys page`, 4);

  // The request waits under Consent; approving needs a fresh confirmation.
  await ready();
  await nav().getByRole('link', { name: 'Consent' }).click();
  await expect(page.getByRole('heading', { name: 'Support access and consent' })).toBeVisible();
  await expect(page.getByText(`ticket ${stamp}: keys page`)).toBeVisible();
  await expectAccessible(page);
  await page.goto('/confirm-access?next=/settings/consent');
  await ready();
  const confirm = page.getByRole('form', { name: "Confirm it's you" });
  await confirm.getByLabel('Your password', { exact: true }).fill(OWNER_PASSWORD);
  await confirm.getByRole('button', { name: 'Confirm' }).click();
  await expect(page).toHaveURL(/\/settings\/consent$/);
  await ready();
  const approve = page.getByRole('form', { name: 'Approve Sam from support' });
  await approve.getByLabel('Hours of access').fill('2');
  await approve.getByRole('button', { name: 'Approve' }).click();
  await expect(page).toHaveURL(/\/settings\/consent\?approved=1$/);
  await expect(page.getByTestId('support-state')).toContainText('approved by');

  // The operator's browser: the link opens a bannered, read-only console.
  const context = await browser.newContext({ baseURL: BASE_URL, ignoreHTTPSErrors: true, javaScriptEnabled: js });
  try {
    const support = await context.newPage();
    await support.goto(openSupport(id));
    await expect(support).toHaveURL(/\/overview$/);
    await expect(support.getByTestId('support-banner')).toContainText('Support access by Sam from support until');
    await support.goto('/members');
    await expect(support.getByTestId('support-banner')).toBeVisible();
    await expect(support.getByText(email).first()).toBeVisible();
    const vault = await support.goto('/vault');
    expect(vault?.status()).toBe(403);

    // The owner sees every page support viewed, then ends the access.
    await page.goto('/access-history');
    await expect(page.getByText('Support: Sam from support').first()).toBeVisible();
    await expect(page.getByText('/members').first()).toBeVisible();
    await page.goto('/settings/consent');
    await ready();
    await page.getByRole('button', { name: 'End the support access of Sam from support' }).click();
    await expect(page).toHaveURL(/\/settings\/consent\?ended=1$/);
    await expect(page.getByTestId('support-state')).toContainText('revoked by');

    await support.goto('/members');
    await expect(support).toHaveURL(/\/sign-in$/);
  } finally {
    await context.close();
  }
});
