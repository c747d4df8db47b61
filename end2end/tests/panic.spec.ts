// The panic button journey, with JavaScript on and off: an owner is signed in in two browsers; in the first
// they confirm it's them (step-up) and press the panic button; the second browser is signed out on its next
// navigation, and signing in again now requires setting up two-factor authentication.
import { expect, test, type Page } from '@playwright/test';
import { expectAccessible } from './a11y';
import { hydrated } from './journey';
import { BASE_URL, createTenant } from './server';

const OWNER_PASSWORD = 'lantern-walrus-cobalt-37';

/** The page helpers of one browser, with JavaScript on or off. */
function journey(page: Page, js: boolean) {
  const ready = () => hydrated(page, js);

  async function signIn(email: string) {
    await expect(page.getByRole('heading', { name: 'Sign in to Rampart' })).toBeVisible();
    await ready();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(OWNER_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  function nav() {
    return page.getByRole('navigation', { name: 'Console' });
  }

  return { ready, signIn, nav };
}

test('the panic button signs out a second browser context', async ({ page, browser }, info) => {
  const js = info.project.name === 'javascript';
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const tenant = `Panic ${info.project.name} ${stamp}`;
  const ownerEmail = `owner-${stamp}@panic.example`;
  const first = journey(page, js);

  // 1. The owner sets a password and signs in in the first browser.
  await page.goto(createTenant(tenant, ownerEmail));
  await expect(page.getByRole('heading', { name: 'Set your password' })).toBeVisible();
  await first.ready();
  await page.getByLabel('New password').fill(OWNER_PASSWORD);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page).toHaveURL(/\/sign-in\?setup=done$/);
  await first.signIn(ownerEmail);
  await expect(page).toHaveURL(/\/overview$/);

  // 2. And in a second browser of their own.
  const context = await browser.newContext({
    baseURL: BASE_URL,
    ignoreHTTPSErrors: true,
    javaScriptEnabled: info.project.use.javaScriptEnabled,
  });
  try {
    const other = await context.newPage();
    const second = journey(other, js);
    await other.goto('/sign-in');
    await second.signIn(ownerEmail);
    await expect(other).toHaveURL(/\/overview$/);
    await expect(other.getByRole('banner')).toContainText(ownerEmail);

    // 3. In the first browser: the emergency page, through the navigation, after confirming it's them.
    await first.ready();
    await first.nav().getByRole('link', { name: 'Emergency' }).click();
    await expect(page).toHaveURL(/\/security\/emergency$/);
    await expect(page.getByRole('heading', { name: 'Emergency', exact: true })).toBeVisible();
    await first.ready();
    await expectAccessible(page);
    await page.goto('/confirm-access?next=/security/emergency');
    const confirm = page.getByRole('form', { name: "Confirm it's you" });
    await expect(confirm).toBeVisible();
    await first.ready();
    await expectAccessible(page);
    await confirm.getByLabel('Your password', { exact: true }).fill(OWNER_PASSWORD);
    await confirm.getByRole('button', { name: 'Confirm' }).click();
    await expect(page).toHaveURL(/\/security\/emergency$/);
    await expect(page.getByRole('status').filter({ hasText: 'Confirmed until' })).toBeVisible();

    // 4. Freeze the keys (the default), type PANIC, press.
    const panic = page.getByRole('form', { name: 'Panic button' });
    await expect(panic).toBeVisible();
    await first.ready();
    await expect(panic.getByLabel('Freeze them (you can unfreeze them later)')).toBeChecked();
    await panic.getByLabel('Type PANIC to confirm').fill('PANIC');
    await panic.getByRole('button', { name: 'Press the panic button' }).click();
    await expect(page).toHaveURL(/\/security\/emergency\?pressed=1$/);
    await expect(page.getByRole('status').filter({ hasText: 'Every other session is signed out' })).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Last pressed' })).toBeVisible();
    await first.ready();
    await expectAccessible(page);

    // 5. The second browser is signed out on its next navigation.
    await second.ready();
    await second.nav().getByRole('link', { name: 'Security' }).click();
    await expect(other).toHaveURL(/\/sign-in$/);
    await expect(other.getByRole('heading', { name: 'Sign in to Rampart' })).toBeVisible();
    await expect(other.getByText(tenant)).toHaveCount(0);

    // 6. Signing in again needs a second factor: the owner, who had none, enrolls first.
    await second.signIn(ownerEmail);
    await expect(other).toHaveURL(/\/two-factor\/setup$/);
    await expect(other.getByRole('heading', { name: 'Set up two-factor authentication' })).toBeVisible();
    await second.ready();
    await expectAccessible(other);

    // 7. The first browser, which pressed the button, is still signed in.
    await page.goto('/overview');
    await expect(page).toHaveURL(/\/overview$/);
    await expect(page.getByRole('banner')).toContainText(ownerEmail);
  } finally {
    await context.close();
  }
});
