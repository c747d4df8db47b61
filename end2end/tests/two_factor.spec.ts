// Two-factor journeys, with JavaScript on and off (the two projects in playwright.config.ts):
// - an owner turns it on, signs in with a code and with a recovery code; a replayed code is refused and mailed;
// - the organisation's policy sends a new member straight into enrollment, and nothing else is reachable;
// - a password reset by email still asks for the second factor.
// Codes come from the secret shown on the page, as an authenticator app would make them. The server accepts a
// code only for a 30-s step later than the last accepted one (the current step ±1), so right after a code for
// the current step, the next sign-in uses the code for the next step: valid at once, no waiting.
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { expectAccessible } from './a11y';
import { Secret, TOTP } from 'otpauth';
import { journey as sharedJourney } from './journey';
import { addMember, BASE_URL, createTenant, readOutbox } from './server';

const OWNER_PASSWORD = 'granite-puffin-orchestra-42';
const NEW_PASSWORD = 'lantern-walrus-meadow-87';
const MEMBER_PASSWORD = 'copper-otter-lake-19'; // 20 characters
const RECOVERY_CODE = /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/;

/** Names unique to this run and project. */
function fresh(info: TestInfo, what: string) {
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  return { tenant: `Two-factor ${what} ${info.project.name} ${stamp}`, stamp };
}

/** The page helpers of one browser, with JavaScript on or off. */
function journey(page: Page, js: boolean) {
  const { ready, setPassword, signIn } = sharedJourney(page, js);

  async function secondFactor(code: string) {
    await expect(page).toHaveURL(/\/sign-in\/two-factor$/);
    await expect(page.getByRole('heading', { name: 'Two-factor authentication' })).toBeVisible();
    await ready();
    await page.getByLabel('Authentication code').fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
  }

  async function signOut() {
    await ready();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page).toHaveURL(/\/sign-in\?signed_out=1$/);
    await ready();
  }

  async function openSecurity() {
    await ready();
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Security' }).click();
    await expect(page).toHaveURL(/\/security$/);
    await expect(page.getByRole('heading', { name: 'Security', exact: true })).toBeVisible();
    await ready();
  }

  /**
   * On /two-factor/setup: reads the key, confirms with the current code, saves the recovery codes and goes on
   * to the overview. Returns the authenticator and the codes.
   */
  async function enroll() {
    await expect(page).toHaveURL(/\/two-factor\/setup$/);
    await expect(page.getByRole('heading', { name: 'Set up two-factor authentication' })).toBeVisible();
    await expect(page.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
    await ready();
    await expectAccessible(page);
    const shown = (await page.getByTestId('totp-secret').textContent()) ?? '';
    expect(shown).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
    const app = new TOTP({
      secret: Secret.fromBase32(shown.replace(/\s+/g, '')),
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
    });
    await ready();
    await page.getByLabel('Code from the app').fill(app.generate());
    await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();

    await expect(page).toHaveURL(/\/two-factor\/recovery-codes$/);
    await expect(page.getByRole('heading', { name: 'Recovery codes' })).toBeVisible();
    const items = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await expect(items).toHaveCount(10);
    const codes = (await items.allTextContents()).map((c) => c.trim());
    for (const c of codes) expect(c).toMatch(RECOVERY_CODE);
    expect(new Set(codes).size).toBe(10);
    const download = page.getByRole('link', { name: 'Download as .txt' });
    const href = (await download.getAttribute('href')) ?? '';
    const text = decodeURIComponent(href.slice(href.indexOf(',') + 1));
    for (const c of codes) expect(text).toContain(c);
    await ready();
    await expectAccessible(page);
    await page.getByRole('link', { name: 'I have saved them: continue to the console' }).click();
    await expect(page).toHaveURL(/\/overview$/);
    await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();
    return { app, codes };
  }

  return { ready, setPassword, signIn, secondFactor, signOut, openSecurity, enroll };
}

/** The code an authenticator shows in the next 30-s step: later than any code accepted so far, valid now. */
function nextStepCode(app: TOTP): string {
  return app.generate({ timestamp: Date.now() + 30_000 });
}

test('an owner turns on two-factor, signs in with a code and with a recovery code, and a replayed code is refused', async ({
  page,
}, info) => {
  const js = info.project.name === 'javascript';
  const { tenant, stamp } = fresh(info, 'owner');
  const email = `owner-${stamp}@two-factor.example`;
  const j = journey(page, js);

  await j.setPassword(createTenant(tenant, email), OWNER_PASSWORD);
  await j.signIn(email, OWNER_PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);

  await j.openSecurity();
  await page.getByRole('link', { name: 'Set up two-factor authentication' }).click();
  const { app, codes } = await j.enroll();
  await j.signOut();

  // The password alone is no longer enough; the next step's code is.
  await j.signIn(email, OWNER_PASSWORD);
  const code = nextStepCode(app);
  await expect(page.getByText(email)).toBeVisible();
  await j.secondFactor(code);
  await expect(page).toHaveURL(/\/overview$/);
  await expect(page.getByRole('banner')).toContainText(email);
  await j.signOut();

  // The same code again is refused, in the page, and the member stays on the second step.
  await j.signIn(email, OWNER_PASSWORD);
  await j.secondFactor(code);
  await expect(page.getByRole('alert')).toContainText('That code is not valid');
  await expect(page).toHaveURL(/\/sign-in\/two-factor/);
  await expect(page.getByRole('heading', { name: 'Two-factor authentication' })).toBeVisible();
  await j.ready();
  await expectAccessible(page);

  // A recovery code works instead, once.
  await j.ready();
  await page.getByLabel('Authentication code').fill(codes[0]);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page).toHaveURL(/\/overview$/);
  await expect(page.getByRole('banner')).toContainText(email);

  const alert = await readOutbox(email, 'code was used twice');
  expect(alert).toContain(tenant);

  await j.ready();
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Access history' }).click();
  await expect(page).toHaveURL(/\/access-history$/);
  const rows = page.getByRole('table').getByRole('row');
  await expect(rows.filter({ hasText: 'two_factor.replay' })).toHaveCount(1);
  await expect(rows.filter({ hasText: 'recovery_code.use' })).toHaveCount(1);
});

test('tenant policy sends a new member straight into enrollment', async ({ page, browser }, info) => {
  const js = info.project.name === 'javascript';
  const { tenant, stamp } = fresh(info, 'policy');
  const ownerEmail = `owner-${stamp}@two-factor.example`;
  const memberEmail = `member-${stamp}@two-factor.example`;
  const owner = journey(page, js);

  await owner.setPassword(createTenant(tenant, ownerEmail), OWNER_PASSWORD);
  await owner.signIn(ownerEmail, OWNER_PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);
  await owner.openSecurity();
  await page.getByRole('link', { name: 'Set up two-factor authentication' }).click();
  await owner.enroll();

  // Signed in minutes ago, so the policy needs no further confirmation.
  await owner.openSecurity();
  await page.getByLabel('Require two-factor authentication for every member').check();
  await page.getByRole('button', { name: 'Save policy' }).click();
  await expect(page).toHaveURL(/[?&]policy=saved/);
  await expect(page.getByRole('status').filter({ hasText: "The organisation's policy was saved." })).toBeVisible();
  await expect(page.getByLabel('Require two-factor authentication for every member')).toBeChecked();
  await owner.ready();
  await expectAccessible(page);

  // The member, in a browser of their own.
  const link = addMember(tenant, memberEmail);
  const context = await browser.newContext({
    baseURL: BASE_URL,
    ignoreHTTPSErrors: true,
    javaScriptEnabled: info.project.use.javaScriptEnabled,
  });
  try {
    const memberPage = await context.newPage();
    const member = journey(memberPage, js);
    // The organisation requires two-factor, so 8 characters would do; a longer one anyway.
    await member.setPassword(link, MEMBER_PASSWORD, /At least 8 characters/);
    await member.signIn(memberEmail, MEMBER_PASSWORD);
    await expect(memberPage).toHaveURL(/\/two-factor\/setup$/);
    await expect(memberPage.getByRole('heading', { name: 'Set up two-factor authentication' })).toBeVisible();

    // Nothing else is reachable before enrollment.
    await memberPage.goto('/overview');
    await expect(memberPage).toHaveURL(/\/sign-in$/);
    await expect(memberPage.getByRole('heading', { name: 'Sign in to Rampart' })).toBeVisible();
    await expect(memberPage.getByText(tenant)).toHaveCount(0);

    await memberPage.goto('/two-factor/setup');
    await member.enroll();
    await expect(memberPage.getByRole('banner')).toContainText(memberEmail);
    await expect(memberPage.getByRole('banner')).toContainText(tenant);
  } finally {
    await context.close();
  }
});

test('a password reset by email still asks for the second factor', async ({ page }, info) => {
  const js = info.project.name === 'javascript';
  const { tenant, stamp } = fresh(info, 'reset');
  const email = `owner-${stamp}@two-factor.example`;
  const j = journey(page, js);

  await j.setPassword(createTenant(tenant, email), OWNER_PASSWORD);
  await j.signIn(email, OWNER_PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);
  await j.openSecurity();
  await page.getByRole('link', { name: 'Set up two-factor authentication' }).click();
  const { app } = await j.enroll();
  await j.signOut();

  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page).toHaveURL(/\/forgot-password$/);
  await expect(page.getByRole('heading', { name: 'Reset your password' })).toBeVisible();
  await j.ready();
  await page.getByLabel('Email').fill(email);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await expect(page.getByRole('status')).toContainText('If an account uses that email, a reset link is on its way');
  await j.ready();
  await expectAccessible(page);

  const message = await readOutbox(email, '/reset-password/');
  const origin = BASE_URL.replace(/[.]/g, '\\.');
  const found = message.match(new RegExp(`${origin}/reset-password/[A-Za-z0-9_-]+`));
  expect(found, `a reset link in:\n${message}`).not.toBeNull();
  const link = (found as RegExpMatchArray)[0];

  await page.goto(link);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  await expect(page.getByText(email)).toBeVisible();
  await j.ready();
  await expectAccessible(page);
  await page.getByLabel('New password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Set new password' }).click();
  await expect(page).toHaveURL(/\/sign-in\?reset=done$/);
  await expect(page.getByRole('status')).toContainText('Your password is set');

  // The new password leads to the second factor, not into the console.
  await j.signIn(email, NEW_PASSWORD);
  await j.secondFactor(nextStepCode(app));
  await expect(page).toHaveURL(/\/overview$/);
  await expect(page.getByRole('banner')).toContainText(email);
});
