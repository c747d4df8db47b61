// The team journey, with JavaScript on and off (the two projects in playwright.config.ts): an owner invites an
// employee with only the access history; the employee accepts in a browser of their own, sees only what was
// granted, and is refused the members page; the owner deactivates them, which ends their session at once and
// keeps them from signing in again.
import { expect, test, type TestInfo } from '@playwright/test';
import { expectAccessible } from './a11y';
import { journey } from './journey';
import { BASE_URL, createTenant, readOutbox } from './server';

const OWNER_PASSWORD = 'granite-puffin-orchestra-42';
const EMPLOYEE_PASSWORD = 'ember-heron-quartz-63'; // 21 characters

/** Names unique to this run and project. */
function fresh(info: TestInfo, what: string) {
  const stamp = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  return { tenant: `Team ${what} ${info.project.name} ${stamp}`, stamp };
}

test('an admin invites an employee with only the access history, then offboards them', async ({ page, browser }, info) => {
  const js = info.project.name === 'javascript';
  const { tenant, stamp } = fresh(info, 'offboarding');
  const ownerEmail = `owner-${stamp}@team.example`;
  const employeeEmail = `employee-${stamp}@team.example`;
  const owner = journey(page, js);

  // 1. The owner sets a password and signs in.
  await owner.setPassword(createTenant(tenant, ownerEmail), OWNER_PASSWORD);
  await owner.signIn(ownerEmail, OWNER_PASSWORD);
  await expect(page).toHaveURL(/\/overview$/);
  await expect(page.getByRole('heading', { name: 'Overview' })).toBeVisible();

  // 2. Members, through the navigation; an invitation with the member role and only the access history.
  await owner.ready();
  await owner.nav().getByRole('link', { name: 'Members' }).click();
  await expect(page).toHaveURL(/\/members$/);
  await expect(page.getByRole('heading', { name: 'Members', exact: true })).toBeVisible();
  const invite = page.getByRole('form', { name: 'Invite someone' });
  await expect(invite).toBeVisible();
  await owner.ready();
  await invite.getByLabel('Email').fill(employeeEmail);
  await invite.getByLabel('Role').selectOption('member');
  const features = ['Team', 'API keys', 'SSH keys', 'Vault (read)', 'Vault (write)', 'Access history', 'Data export', 'Settings'];
  for (const f of features) await expect(invite.getByLabel(f, { exact: true })).not.toBeChecked();
  await invite.getByLabel('Access history', { exact: true }).check();
  for (const f of features) {
    if (f === 'Access history') await expect(invite.getByLabel(f, { exact: true })).toBeChecked();
    else await expect(invite.getByLabel(f, { exact: true })).not.toBeChecked();
  }
  await invite.getByRole('button', { name: 'Send invitation' }).click();
  await expect(page).toHaveURL(/[?&]invited=1/);
  await expect(page.getByRole('status').filter({ hasText: 'The invitation is on its way' })).toBeVisible();
  await expect(page.getByRole('table', { name: 'Pending invitations' })).toContainText(employeeEmail);
  await owner.ready();
  await expectAccessible(page);

  // 3. The employee, in a browser of their own, accepts the invitation from the email.
  const message = await readOutbox(employeeEmail, '/invite/');
  const origin = BASE_URL.replace(/[.]/g, '\\.');
  const found = message.match(new RegExp(`${origin}/invite/[A-Za-z0-9_-]+`));
  expect(found, `an invitation link in:\n${message}`).not.toBeNull();
  const link = (found as RegExpMatchArray)[0];

  const context = await browser.newContext({
    baseURL: BASE_URL,
    ignoreHTTPSErrors: true,
    javaScriptEnabled: info.project.use.javaScriptEnabled,
  });
  try {
    const other = await context.newPage();
    const employee = journey(other, js);

    await other.goto(link);
    await expect(other.getByRole('heading', { name: 'Join your organisation' })).toBeVisible();
    await expect(other.getByText(tenant)).toBeVisible();
    await employee.ready();
    await expectAccessible(other);
    await other.getByLabel('Choose a password').fill(EMPLOYEE_PASSWORD);
    await other.getByRole('button', { name: 'Accept and create my account' }).click();
    await expect(other).toHaveURL(/\/sign-in\?joined=1$/);
    await expect(other.getByRole('status')).toContainText('Your account is ready');

    await employee.signIn(employeeEmail, EMPLOYEE_PASSWORD);
    await expect(other).toHaveURL(/\/overview$/);
    await expect(other.getByRole('heading', { name: 'Overview' })).toBeVisible();
    await expect(other.getByRole('banner')).toContainText(employeeEmail);
    await expect(other.getByRole('banner')).toContainText(tenant);
    await employee.ready();
    await expectAccessible(other);

    // 4. Only what was granted: the access history, not the members.
    await expect(employee.nav().getByRole('link', { name: 'Access history' })).toBeVisible();
    await expect(employee.nav().getByRole('link', { name: 'Members' })).toHaveCount(0);
    await employee.ready();
    await employee.nav().getByRole('link', { name: 'Access history' }).click();
    await expect(other).toHaveURL(/\/access-history$/);
    await expect(other.getByRole('heading', { name: 'Access history' })).toBeVisible();
    await expect(other.getByRole('alert')).toHaveCount(0);
    await employee.ready();
    await expectAccessible(other);

    await other.goto('/members');
    await expect(other.getByRole('alert')).toContainText('You are not allowed to do this.');
    await expect(other.getByText(ownerEmail)).toHaveCount(0);
    await expectAccessible(other);

    // 5. The owner sees the employee among the members and deactivates them on the member's page.
    await page.goto('/members');
    await expect(page.getByRole('heading', { name: 'Members', exact: true })).toBeVisible();
    await expect(page.getByRole('table', { name: 'Members' })).toContainText(employeeEmail);
    await page.getByRole('link', { name: `Manage ${employeeEmail}` }).click();
    await expect(page.getByRole('heading', { name: 'Manage a member' })).toBeVisible();
    await owner.ready();
    await page.getByRole('button', { name: `Deactivate ${employeeEmail}` }).click();
    await expect(page).toHaveURL(/[?&]deactivated=1/);
    await expect(
      page.getByRole('status').filter({ hasText: 'The member was deactivated and signed out everywhere' }),
    ).toBeVisible();
    await owner.ready();
    await expectAccessible(page);

    // 6. The employee's session is gone: the next page is the sign-in, and the password no longer works.
    await employee.ready();
    await employee.nav().getByRole('link', { name: 'Overview' }).click();
    await expect(other).toHaveURL(/\/sign-in/);
    await expect(other.getByRole('heading', { name: 'Sign in to Rampart' })).toBeVisible();
    await expect(other.getByText(tenant)).toHaveCount(0);

    await employee.signIn(employeeEmail, EMPLOYEE_PASSWORD);
    await expect(other.getByRole('alert')).toHaveText('The email or password is incorrect.');
    await expect(other).toHaveURL(/\/sign-in/);
  } finally {
    await context.close();
  }
});
