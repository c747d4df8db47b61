// The page helpers every journey shares: one browser's page, with JavaScript on or off.
import { expect, type Locator, type Page } from '@playwright/test';

/**
 * With JavaScript, waits until the page has hydrated (`Hydrated` marks it); without, there is nothing to wait for.
 * The signed-out pages load the app only once the visitor starts using them: like a person, this presses on
 * the page first.
 */
export async function hydrated(page: Page, js: boolean) {
  if (!js) return;
  const marker = page.locator('[data-hydrated="true"]').first();
  await expect(async () => {
    if (await page.locator('script[data-hydrate="on-intent"]').count()) {
      await page.locator('body').dispatchEvent('pointerdown');
    }
    await expect(marker).toBeAttached({ timeout: 1_000 });
  }).toPass();
}

export function journey(page: Page, js: boolean) {
  const ready = () => hydrated(page, js);

  /** The setup link, optionally checking the length the password hint asks for. */
  async function setPassword(link: string, password: string, hint?: RegExp) {
    await page.goto(link);
    await expect(page.getByRole('heading', { name: 'Set your password' })).toBeVisible();
    if (hint) await expect(page.getByLabel('New password')).toHaveAccessibleDescription(hint);
    await ready();
    await page.getByLabel('New password').fill(password);
    await page.getByRole('button', { name: 'Set password' }).click();
    await expect(page).toHaveURL(/\/sign-in\?setup=done$/);
    await ready();
  }

  /** Email and password; the caller checks where that leads. */
  async function signIn(email: string, password: string) {
    await expect(page.getByRole('heading', { name: 'Sign in to Rampart' })).toBeVisible();
    await ready();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  function nav(): Locator {
    return page.getByRole('navigation', { name: 'Console' });
  }

  return { ready, setPassword, signIn, nav };
}
