// The newcomer journey, with JavaScript on and off (the two projects in playwright.config.ts):
// setup link → password → sign in → overview → access history shows the sign-in → sign out → back shows
// nothing private.
import { expect, test } from '@playwright/test';
import { expectAccessible } from './a11y';
import { hydrated } from './journey';
import { createTenant } from './server';

const PASSWORD = 'granite-puffin-orchestra-42';

test('an owner sets a password, signs in, checks the history and signs out', async ({ page, browserName }, info) => {
  const js = info.project.name === 'javascript';
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const tenant = `Newcomer ${info.project.name} ${stamp}`;
  const email = `owner-${stamp}@newcomer.example`;
  const link = createTenant(tenant, email);

  const ready = () => hydrated(page, js);

  // The setup page names the organisation and the account.
  await page.goto(link);
  await ready();
  await expect(page.getByRole('heading', { name: 'Set your password' })).toBeVisible();
  await expect(page.getByText(tenant)).toBeVisible();
  await expectAccessible(page);

  // A too-short password is refused with the reason, and nothing is set.
  await page.getByLabel('New password').fill('short-pass');
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByRole('alert')).toContainText('at least 15 characters');
  await expectAccessible(page);

  if (js) {
    // Show/hide works once the page is interactive.
    await page.getByLabel('New password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Show' }).click();
    await expect(page.getByLabel('New password')).toHaveAttribute('type', 'text');
    await page.getByRole('button', { name: 'Hide' }).click();
    await expect(page.getByLabel('New password')).toHaveAttribute('type', 'password');
  } else {
    await expect(page.getByRole('button', { name: 'Show' })).toHaveCount(0);
  }

  await page.getByLabel('New password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page).toHaveURL(/\/sign-in\?setup=done$/);
  await expect(page.getByRole('status')).toContainText('Your password is set');
  await ready();
  await expectAccessible(page);

  // A wrong password gets the uniform message.
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('definitely-not-my-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText('The email or password is incorrect.');
  await ready();
  await expectAccessible(page);

  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/overview$/);
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
  await expect(page.getByRole('banner')).toContainText(tenant);
  await expect(page.getByRole('banner')).toContainText(email);
  await ready();
  await expectAccessible(page);

  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Access history' }).click();
  await expect(page).toHaveURL(/\/access-history$/);
  const rows = page.getByRole('table').getByRole('row');
  await expect(rows.filter({ hasText: 'sign_in' }).filter({ hasText: 'success' }).first()).toBeVisible();
  await expect(rows.filter({ hasText: 'sign_in' }).filter({ hasText: 'failure' }).first()).toBeVisible();
  await expect(rows.filter({ hasText: 'password.set' })).toHaveCount(1);
  await ready();
  await expectAccessible(page);

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/sign-in\?signed_out=1$/);
  await expect(page.getByRole('status')).toContainText('You are signed out');
  await expectAccessible(page);

  // Back to the private page: nothing private is shown, only the sign-in form.
  await page.goBack();
  await expect(page).toHaveURL(/\/sign-in/);
  await expect(page.getByRole('heading', { name: 'Sign in to Rampart' })).toBeVisible();
  await expect(page.getByText(email)).toHaveCount(0);
  await expect(page.getByText(tenant)).toHaveCount(0);
  expect(browserName).toBe('chromium');
});
